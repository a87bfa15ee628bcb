"""A small Hugging Face-compatible hub server.

Implements what ``hf_hub_download`` and ``snapshot_download`` need: ``HEAD``/``GET
/{repo}/resolve/{revision}/{path}`` (X-Repo-Commit, ETag, X-Linked-Etag/Size, Content-Length, X-Error-Code on
404), ``/api/models/{repo}/revision/{revision}`` and ``/api/models/{repo}/tree/{revision}``.

Uses: the test suite runs the real huggingface_hub client against it on 127.0.0.1, and an air-gapped site can
serve the embedded hub to its machines (``python -m ganzoo.hub.server --port 8000``; clients set
``HF_ENDPOINT=http://host:8000``). Fault injection (:class:`Fault`: corrupt, truncated, stalled or slow bodies,
HTTP 500, sizes and ETags that lie) exercises the client's error paths; every delay is bounded
(:data:`MAX_FAULT_SECONDS`).
"""
from __future__ import annotations

import argparse
import hashlib
import json
import logging
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlparse

from .embedded import EMBEDDED_ROOT, content_revision, embedded_index

logger = logging.getLogger(__name__)

__all__ = ["RepoStore", "HubServer", "Fault", "FAULT_KINDS", "MAX_FAULT_SECONDS"]

#: What a fault can do to ``GET /{repo}/resolve/{rev}/{file}`` (HEAD answers truthfully unless said otherwise):
#: ``error`` HTTP 500 on HEAD and GET; ``error-get`` 500 on GET only; ``corrupt`` the same length, other bytes, same
#: ETag; ``truncate`` half the body, then the connection closes; ``stall`` half the body, a pause of ``seconds``,
#: then the connection closes; ``slow`` the whole body spread over ``seconds``; ``lie-size`` HEAD advertises a size
#: 100 bytes too large; ``lie-length`` GET's Content-Length is half the body's; ``lie-etag`` HEAD and GET serve
#: ``payload`` (other bytes, with their own size) under the true file's ETag.
FAULT_KINDS = ("error", "error-get", "corrupt", "truncate", "stall", "slow", "lie-size", "lie-length", "lie-etag")
#: Upper bound on any injected delay, so no test can hang on the server.
MAX_FAULT_SECONDS = 30.0


@dataclass
class Fault:
    """A fault for one file. ``times``: how many GET requests it applies to before the file is served normally
    again (None: every request). ``seconds``: the pause of ``stall`` / duration of ``slow`` (bounded by
    MAX_FAULT_SECONDS). ``payload``: the bytes ``lie-etag`` sends."""

    kind: str
    times: int | None = None
    seconds: float = 0.0
    payload: bytes | None = None

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise ValueError(f"fault kind must be one of {FAULT_KINDS}, got {self.kind!r}")
        if self.times is not None and self.times < 0:
            raise ValueError(f"times must be None or >= 0, got {self.times}")
        if not 0 <= self.seconds <= MAX_FAULT_SECONDS:
            raise ValueError(f"seconds must be in [0, {MAX_FAULT_SECONDS}], got {self.seconds}")


@dataclass
class RepoStore:
    """repo_id -> commit -> {filename: bytes}; refs map branch names to commits."""

    commits: dict[str, dict[str, dict[str, bytes]]] = field(default_factory=dict)
    refs: dict[str, dict[str, str]] = field(default_factory=dict)

    def add(self, repo_id: str, files: dict[str, bytes], ref: str | None = "main") -> str:
        """Add a commit holding ``files``; move ``ref`` to it. Returns the commit id."""
        meta = {k: {"sha256": hashlib.sha256(v).hexdigest()} for k, v in files.items()}
        commit = content_revision(meta)
        self.commits.setdefault(repo_id, {})[commit] = dict(files)
        if ref:
            self.refs.setdefault(repo_id, {})[ref] = commit
        return commit

    @classmethod
    def from_embedded(cls, root: Path = EMBEDDED_ROOT) -> "RepoStore":
        store = cls()
        for repo_id, entry in embedded_index(root).items():
            files = {name: (root / repo_id / name).read_bytes() for name in entry["files"]}
            commit = store.add(repo_id, files)
            assert commit == entry["revision"], f"index.json revision of {repo_id} is stale"
        return store

    def lookup(self, repo_id: str, revision: str) -> tuple[str | None, dict[str, bytes] | None]:
        if repo_id not in self.commits:
            return None, None
        commit = self.refs.get(repo_id, {}).get(revision, revision)
        return commit, self.commits[repo_id].get(commit)


class HubServer:
    """Serve a RepoStore on ``host:port`` (port 0 = any free port) in a background thread.

    ``faults[(repo_id, filename)]`` = a :class:`Fault` or the name of one of :data:`FAULT_KINDS` (every request).
    ``requests`` logs (method, path). Binds 127.0.0.1 by default; stop with :meth:`stop` (or use it as a context
    manager).
    """

    def __init__(self, store: RepoStore, host: str = "127.0.0.1", port: int = 0):
        self.store = store
        self.faults: dict[tuple[str, str], Fault | str] = {}
        self._lock = threading.Lock()
        self.requests: list[tuple[str, str]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, fmt, *args):  # route the stdlib's stderr logging to logging
                logger.debug("hub %s", fmt % args)

            def do_HEAD(self):
                server._handle(self, head=True)

            def do_GET(self):
                server._handle(self, head=False)

        self._httpd = ThreadingHTTPServer((host, port), Handler)
        self._httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> "HubServer":
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="ganzoo-hub", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> "HubServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # --- request handling -------------------------------------------------------------------------------------
    def _send(self, h: BaseHTTPRequestHandler, status: int, body: bytes = b"", headers: dict[str, str] | None = None,
              head: bool = False, ctype: str = "application/json") -> None:
        h.send_response(status)
        h.send_header("Content-Type", ctype)
        h.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            h.send_header(k, v)
        h.end_headers()
        if not head:
            h.wfile.write(body)

    def _error(self, h, status: int, code: str, msg: str, head: bool, commit: str | None = None) -> None:
        headers = {"X-Error-Code": code, "X-Error-Message": msg}
        if commit:
            headers["X-Repo-Commit"] = commit
        self._send(h, status, json.dumps({"error": msg}).encode(), headers, head)

    def _handle(self, h: BaseHTTPRequestHandler, head: bool) -> None:
        path = unquote(urlparse(h.path).path)
        self.requests.append((h.command, path))
        parts = [p for p in path.split("/") if p]
        try:
            if len(parts) >= 5 and parts[:2] == ["api", "models"] and parts[4] in ("revision", "tree"):
                return self._api(h, f"{parts[2]}/{parts[3]}", parts[4], parts[5] if len(parts) > 5 else "main", head)
            if len(parts) >= 5 and parts[2] == "resolve":
                return self._resolve(h, f"{parts[0]}/{parts[1]}", parts[3], "/".join(parts[4:]), head)
            self._error(h, 404, "EntryNotFound", f"no route for {path}", head)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def _api(self, h, repo_id: str, kind: str, revision: str, head: bool) -> None:
        commit, files = self.store.lookup(repo_id, revision)
        if commit is None:
            return self._error(h, 404, "RepoNotFound", f"repository {repo_id} not found", head)
        if files is None:
            return self._error(h, 404, "RevisionNotFound", f"revision {revision} not found in {repo_id}", head)
        if kind == "revision":
            body = {"id": repo_id, "modelId": repo_id, "sha": commit,
                    "siblings": [{"rfilename": n, "size": len(b)} for n, b in sorted(files.items())]}
        else:
            body = [{"type": "file", "path": n, "size": len(b), "oid": hashlib.sha1(b).hexdigest(),
                     "lfs": {"oid": hashlib.sha256(b).hexdigest(), "size": len(b), "pointerSize": 134}} for n, b in sorted(files.items())]
        self._send(h, 200, json.dumps(body).encode(), {"X-Repo-Commit": commit}, head)

    def _resolve(self, h, repo_id: str, revision: str, filename: str, head: bool) -> None:
        commit, files = self.store.lookup(repo_id, revision)
        if commit is None:
            return self._error(h, 404, "RepoNotFound", f"repository {repo_id} not found", head)
        if files is None:
            return self._error(h, 404, "RevisionNotFound", f"revision {revision} not found in {repo_id}", head)
        if filename not in files:
            return self._error(h, 404, "EntryNotFound", f"{filename} not found in {repo_id}@{revision}", head, commit)
        data = files[filename]
        fault = self._take_fault(repo_id, filename, head)
        kind = fault.kind if fault is not None else None
        if kind == "error" or (kind == "error-get" and not head):
            return self._error(h, 500, "ServerError", "injected server error", head)
        etag = f'"{hashlib.sha256(data).hexdigest()}"'
        size = len(data) + (100 if kind == "lie-size" and head else 0)
        if kind == "lie-etag":  # other bytes under the true file's ETag; the sizes agree with the bytes sent
            data = fault.payload if fault.payload is not None else data[::-1]
            size = len(data)
        headers = {"X-Repo-Commit": commit, "ETag": etag, "X-Linked-Etag": etag, "X-Linked-Size": str(size),
                   "Accept-Ranges": "none"}
        if head:
            h.send_response(200)
            h.send_header("Content-Type", "application/octet-stream")
            h.send_header("Content-Length", str(size))
            for k, v in headers.items():
                h.send_header(k, v)
            h.end_headers()
            return
        if kind == "corrupt":
            data = bytes(b ^ 0xFF for b in data[:64]) + data[64:]
        if kind in ("truncate", "stall", "lie-length", "slow"):
            length = len(data) // 2 if kind == "lie-length" else len(data)
            h.send_response(200)
            h.send_header("Content-Type", "application/octet-stream")
            h.send_header("Content-Length", str(length))
            for k, v in headers.items():
                h.send_header(k, v)
            h.end_headers()
            if kind == "slow":
                pieces = 16
                for i in range(pieces):  # bounded: 16 pieces over fault.seconds
                    h.wfile.write(data[i * len(data) // pieces:(i + 1) * len(data) // pieces])
                    h.wfile.flush()
                    time.sleep(fault.seconds / pieces)
                return
            h.wfile.write(data[: len(data) // 2])
            h.wfile.flush()
            if kind == "stall":
                time.sleep(min(fault.seconds, MAX_FAULT_SECONDS))
            h.close_connection = True
            return
        self._send(h, 200, data, headers, head=False, ctype="application/octet-stream")

    def _take_fault(self, repo_id: str, filename: str, head: bool) -> Fault | None:
        """The fault for this request; a GET uses up one of its ``times``."""
        with self._lock:
            f = self.faults.get((repo_id, filename))
            if f is None:
                return None
            if isinstance(f, str):
                f = self.faults[(repo_id, filename)] = Fault(f)
            if f.times is not None and not head:
                if f.times <= 0:
                    del self.faults[(repo_id, filename)]
                    return None
                f.times -= 1
            return f

def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description="Serve ganzoo's embedded hub over HTTP (Hugging Face API subset).")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO)
    srv = HubServer(RepoStore.from_embedded(), args.host, args.port)
    logger.info("serving %d repos at %s (set HF_ENDPOINT=%s)", len(srv.store.commits), srv.url, srv.url)
    try:
        srv._httpd.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
