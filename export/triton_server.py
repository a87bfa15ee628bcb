"""Start and stop a local Triton Inference Server (for tests, benchmarks and trying a repository out).

    from ganzoo.export.triton import to_triton_repo
    from ganzoo.export.triton_server import TritonServer

    to_triton_repo("dcgan", "repo", format="python-onnxruntime")
    with TritonServer("repo") as srv:              # 127.0.0.1, free ports, waits until every model is ready
        print(srv.http_url, srv.grpc_url)          # for tritonclient.http / tritonclient.grpc
    # on exit: SIGTERM to the server's PID, a bounded wait, then SIGKILL to its process group

The server binary comes from the ``nvidia-pytriton`` wheel (``pip install --no-deps nvidia-pytriton==0.7.0``: its
own requirements pin numpy<2, and only its files are used here): ``pytriton/tritonserver/bin/tritonserver``
(Triton 2.51, CPU-capable), its shared libraries in ``site-packages/nvidia_pytriton.libs`` and the python
backend, whose stub interpreter must match this Python's version (the wheel ships stubs for 3.8-3.13). That build
has no onnxruntime or TensorRT backend: it serves ``python-onnxruntime`` repositories. A system install
(``/opt/tritonserver`` in NVIDIA's containers) is used with ``TritonInstall.from_root``.

The stub runs the model's ``model.py`` in an embedded interpreter that links this Python's ``libpython`` (its
``LIBDIR`` goes on ``LD_LIBRARY_PATH``) and imports numpy and onnxruntime from this environment's site-packages
(``PYTHONPATH``). Every wait is bounded; the server's output goes to a log file whose tail is in every error.
"""
from __future__ import annotations

import contextlib
import importlib.util
import logging
import os
import re
import shutil
import signal
import site
import socket
import subprocess
import sys
import sysconfig
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from .errors import BackendUnavailableError, ExportError

logger = logging.getLogger("ganzoo.export")

__all__ = ["TritonInstall", "TritonServer", "TritonServerError", "TritonServerNotFoundError", "find_tritonserver",
           "PYTRITON_REQUIREMENT"]

#: The wheel the server binary comes from; installed without its dependencies (they pin numpy<2).
PYTRITON_REQUIREMENT = "nvidia-pytriton==0.7.0"
_INSTALL_HINT = f"pip install --no-deps {PYTRITON_REQUIREMENT}"
_STUB = "triton_python_backend_stub"
_PORT_IN_USE = ("address already in use", "already in use", "failed to bind")
_GLOG_ERROR = re.compile(r"^E\d{4} ")
# errors tritonserver logs on every start on a machine without a CUDA driver
_BENIGN_ERRORS = ("CudaDriverHelper has not been initialized",)


class TritonServerNotFoundError(BackendUnavailableError):
    """No usable ``tritonserver``: the wheel is not installed, or a part of it (binary, libraries, python
    backend, the stub for this Python version) is missing."""


class TritonServerError(ExportError):
    """The server exited or did not become ready in time. ``log_tail`` is its log's summary (error lines, then
    the last lines: :meth:`TritonServer.log_summary`), ``returncode`` its exit status (None while it runs)."""

    def __init__(self, message: str, *, log_tail: str = "", returncode: int | None = None):
        super().__init__(message + (f"\n--- tritonserver log ---\n{log_tail}" if log_tail else ""))
        self.log_tail = log_tail
        self.returncode = returncode


@dataclass(frozen=True)
class TritonInstall:
    """Where the server's parts are: ``binary``, ``libs`` (for LD_LIBRARY_PATH, None for a system install),
    ``python_backend`` (folder with ``libtriton_python.so``) and ``stub`` (the python backend stub matching this
    Python; None when the backend folder already holds one)."""

    binary: Path
    libs: Path | None
    python_backend: Path
    stub: Path | None

    @classmethod
    def from_root(cls, root: str | os.PathLike) -> "TritonInstall":
        """A system install laid out like NVIDIA's containers: ``root/bin/tritonserver``,
        ``root/backends/python/{libtriton_python.so, triton_python_backend_stub}``, ``root/lib``."""
        root = Path(root)
        lib = root / "lib"
        install = cls(root / "bin" / "tritonserver", lib if lib.is_dir() else None, root / "backends" / "python", None)
        install.check()
        return install

    def check(self) -> None:
        """Raise TritonServerNotFoundError naming the first missing part."""
        parts = [("tritonserver binary", self.binary), ("python backend", self.python_backend / "libtriton_python.so"),
                 ("python backend stub", self.stub or self.python_backend / _STUB)]
        if self.libs is not None:
            parts.append(("tritonserver libraries", self.libs))
        for what, path in parts:
            if not path.exists():
                raise TritonServerNotFoundError(f"{what} not found at {path} (Python "
                                                f"{sys.version_info[0]}.{sys.version_info[1]}); {_INSTALL_HINT}")
        if not os.access(self.binary, os.X_OK):
            raise TritonServerNotFoundError(f"{self.binary} is not executable")


def find_tritonserver() -> TritonInstall:
    """The ``tritonserver`` of the installed ``nvidia-pytriton`` wheel, with the python backend stub for this
    Python version. Raises TritonServerNotFoundError (a BackendUnavailableError) when it is missing."""
    spec = importlib.util.find_spec("pytriton")
    if spec is None or not spec.submodule_search_locations:
        raise TritonServerNotFoundError(f"tritonserver is not installed: {_INSTALL_HINT}")
    pkg = Path(list(spec.submodule_search_locations)[0])
    dist = pkg / "tritonserver"
    version = f"{sys.version_info[0]}.{sys.version_info[1]}"
    libs = next((p for p in (pkg.parent / "nvidia_pytriton.libs", dist / "external_libs") if p.is_dir()),
                pkg.parent / "nvidia_pytriton.libs")
    install = TritonInstall(dist / "bin" / "tritonserver", libs, dist / "backends" / "python",
                            dist / "python_backend_stubs" / version / _STUB)
    install.check()
    return install


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port that was free on ``host`` a moment ago (the server retries when it was taken since)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def _stub_env(install: TritonInstall) -> dict[str, str]:
    """Environment for the server and its python stubs: the wheel's libraries and this Python's libpython on
    LD_LIBRARY_PATH, this environment's site-packages on PYTHONPATH (numpy, onnxruntime for model.py)."""
    env = dict(os.environ)
    libdirs = [str(install.libs)] if install.libs is not None else []
    libdir = sysconfig.get_config_var("LIBDIR")
    if libdir and Path(libdir).is_dir():
        libdirs.append(libdir)
    if env.get("LD_LIBRARY_PATH"):
        libdirs.append(env["LD_LIBRARY_PATH"])
    env["LD_LIBRARY_PATH"] = os.pathsep.join(libdirs)
    paths = [p for p in site.getsitepackages() + [site.getusersitepackages()] if Path(p).is_dir()]
    if env.get("PYTHONPATH"):
        paths.append(env["PYTHONPATH"])
    env["PYTHONPATH"] = os.pathsep.join(paths)
    env.pop("PYTHONHOME", None)
    return env


class TritonServer:
    """A ``tritonserver`` process serving ``repo``, bound to ``host`` (127.0.0.1) on free ports.

    models: load only these (``--model-control-mode=explicit``); None loads every model in the repository
        (``--model-control-mode=none``; the server exits when one fails to load, with the reason in the log).
    metrics: serve Prometheus metrics on ``host`` at a free port (default off).
    ready_timeout / stop_timeout: bounds, in seconds, on startup (until the server and every model are ready)
        and on shutdown (SIGTERM, then SIGKILL to the process group, the python stubs included).
    log_path: where the server's stdout/stderr go (default a file in a temporary folder removed on stop).
    backend_config: extra ``--backend-config=python,KEY=VALUE`` settings.

    Use as a context manager, or call :meth:`start` and :meth:`stop`.
    """

    def __init__(self, repo: str | os.PathLike, *, install: TritonInstall | None = None, host: str = "127.0.0.1",
                 models: Sequence[str] | None = None, metrics: bool = False, ready_timeout: float = 120.0,
                 stop_timeout: float = 20.0, log_path: str | os.PathLike | None = None, log_verbose: int = 0,
                 backend_config: dict[str, str] | None = None, start_attempts: int = 3):
        self.repo = Path(repo).expanduser().absolute()
        if not self.repo.is_dir():
            raise TritonServerError(f"model repository {self.repo} is not a folder")
        for what, v in (("ready_timeout", ready_timeout), ("stop_timeout", stop_timeout)):
            if not 0 < float(v) <= 3600:
                raise ValueError(f"{what} must be in (0, 3600] seconds, got {v!r}")
        if isinstance(start_attempts, bool) or not isinstance(start_attempts, int) or not 1 <= start_attempts <= 10:
            raise ValueError(f"start_attempts must be an int in [1, 10], got {start_attempts!r}")
        self.install = install or find_tritonserver()
        self.host = host
        self.models = list(models) if models is not None else None
        self.metrics = metrics
        self.ready_timeout = float(ready_timeout)
        self.stop_timeout = float(stop_timeout)
        self.log_verbose = int(log_verbose)
        self.backend_config = dict(backend_config or {})
        self.start_attempts = start_attempts
        self._log_path = Path(log_path).absolute() if log_path is not None else None
        self._workdir: Path | None = None
        self._proc: subprocess.Popen | None = None
        self._log_file = None
        self.http_port = self.grpc_port = self.metrics_port = 0
        self.returncode: int | None = None  # the exit status, once stopped

    # --- addresses ----------------------------------------------------------------------------------------
    @property
    def http_url(self) -> str:
        """``host:port`` of the HTTP/REST endpoint (the form tritonclient.http takes)."""
        return f"{self.host}:{self.http_port}"

    @property
    def grpc_url(self) -> str:
        """``host:port`` of the gRPC endpoint (the form tritonclient.grpc takes)."""
        return f"{self.host}:{self.grpc_port}"

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    @property
    def log_path(self) -> Path | None:
        return self._log_path

    def log_summary(self, max_lines: int = 12) -> str:
        """The server's error lines (glog ``E...`` lines and ``error:`` lines, the harmless CUDA ones of a
        CPU-only machine left out), then the last ``max_lines`` lines that are not part of its status tables."""
        if self._log_path is None or not self._log_path.is_file():
            return ""
        if self._log_file is not None:
            self._log_file.flush()
        lines = self._log_path.read_text(errors="replace").splitlines()[-2000:]
        errors = [ln[:600] for ln in lines if (_GLOG_ERROR.match(ln) or ln.startswith("error:"))
                  and not any(b in ln for b in _BENIGN_ERRORS)]
        tail = [ln[:600] for ln in lines if ln.strip() and not ln.startswith(("|", "+"))][-max_lines:]
        return "\n".join((["errors:"] + errors[:max_lines] + ["last lines:"] if errors else []) + tail)

    # --- lifecycle ----------------------------------------------------------------------------------------
    def _backend_dir(self) -> Path:
        """A backend folder with ``python/`` holding the backend library and the stub for this Python (the
        python backend looks for its stub next to its library)."""
        assert self._workdir is not None
        py = self._workdir / "backends" / "python"
        py.mkdir(parents=True, exist_ok=True)
        for f in self.install.python_backend.iterdir():
            if f.is_file():
                (py / f.name).symlink_to(f)
        if self.install.stub is not None:
            target = py / _STUB
            target.unlink(missing_ok=True)
            target.symlink_to(self.install.stub)
        return py.parent

    def _command(self, backends: Path) -> list[str]:
        self.http_port, self.grpc_port = free_port(self.host), free_port(self.host)
        cmd = [str(self.install.binary), f"--model-repository={self.repo}", f"--backend-directory={backends}",
               f"--http-address={self.host}", f"--http-port={self.http_port}",
               f"--grpc-address={self.host}", f"--grpc-port={self.grpc_port}",
               f"--exit-timeout-secs={max(1, int(self.stop_timeout / 2))}", f"--log-verbose={self.log_verbose}",
               # a region prefix of our own: two servers on one machine must not share python-backend memory
               f"--backend-config=python,shm-region-prefix-name=ganzoo{os.getpid()}_{id(self) & 0xFFFFFF}_"]
        cmd += [f"--backend-config=python,{k}={v}" for k, v in self.backend_config.items()]
        if self.metrics:
            self.metrics_port = free_port(self.host)
            cmd += ["--allow-metrics=true", f"--metrics-address={self.host}", f"--metrics-port={self.metrics_port}"]
        else:
            cmd += ["--allow-metrics=false"]
        if self.models is not None:
            cmd += ["--model-control-mode=explicit"] + [f"--load-model={m}" for m in self.models]
        else:
            cmd += ["--model-control-mode=none"]
        return cmd

    def start(self) -> "TritonServer":
        """Start the server and wait until it is ready; raises TritonServerError (with the log's tail)."""
        if self._proc is not None:
            raise TritonServerError(f"server already started (pid {self._proc.pid})")
        self._workdir = Path(tempfile.mkdtemp(prefix="ganzoo-tritonserver-"))
        if self._log_path is None:
            self._log_path = self._workdir / "tritonserver.log"
        backends = self._backend_dir()
        env = _stub_env(self.install)
        try:
            for attempt in range(1, self.start_attempts + 1):
                cmd = self._command(backends)
                logger.info("starting tritonserver (attempt %d): %s", attempt, " ".join(cmd))
                self._log_file = open(self._log_path, "ab")
                self._proc = subprocess.Popen(cmd, stdout=self._log_file, stderr=subprocess.STDOUT, env=env,
                                              cwd=self._workdir, start_new_session=True, stdin=subprocess.DEVNULL)
                try:
                    self._wait_ready()
                    logger.info("tritonserver pid %d ready: http %s grpc %s", self._proc.pid, self.http_url,
                                self.grpc_url)
                    return self
                except TritonServerError as e:
                    taken = e.returncode is not None and any(s in e.log_tail.lower() for s in _PORT_IN_USE)
                    self._terminate()
                    if not taken or attempt == self.start_attempts:
                        raise
                    logger.warning("tritonserver could not bind its ports; retrying on others")
        except BaseException:
            self._cleanup()
            raise
        raise AssertionError("unreachable")  # pragma: no cover

    def _http_status(self, path: str, timeout: float = 2.0) -> int:
        try:
            with urllib.request.urlopen(f"http://{self.http_url}{path}", timeout=timeout) as r:
                return int(r.status)
        except urllib.error.HTTPError as e:
            return int(e.code)
        except (urllib.error.URLError, OSError):
            return 0

    def _wait_ready(self) -> None:
        assert self._proc is not None
        deadline = time.monotonic() + self.ready_timeout
        names = self.models or []
        while True:
            rc = self._proc.poll()
            if rc is not None:
                raise TritonServerError(f"tritonserver exited with status {rc} while starting",
                                        log_tail=self.log_summary(), returncode=rc)
            if self._http_status("/v2/health/ready") == 200 and all(self.model_ready(m) for m in names):
                return
            if time.monotonic() > deadline:
                raise TritonServerError(f"tritonserver (pid {self._proc.pid}) not ready after "
                                        f"{self.ready_timeout:.0f} s", log_tail=self.log_summary())
            time.sleep(0.1)

    def model_ready(self, name: str, version: str = "") -> bool:
        """Whether the server reports model ``name`` (and ``version``, if given) ready."""
        path = f"/v2/models/{name}" + (f"/versions/{version}" if version else "") + "/ready"
        return self._http_status(path) == 200

    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def _signal_group(self, sig: int) -> None:
        """``sig`` to the server's process group (the server and the python stubs it started)."""
        assert self._proc is not None
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self._proc.pid, sig)

    def _terminate(self) -> int | None:
        """SIGTERM to the server's PID, a bounded wait, SIGKILL to its group if needed; returns its status."""
        proc = self._proc
        if proc is None:
            return None
        rc = proc.poll()
        if rc is None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(proc.pid, signal.SIGTERM)
            try:
                rc = proc.wait(timeout=self.stop_timeout)
            except subprocess.TimeoutExpired:
                logger.warning("tritonserver pid %d did not stop within %.0f s: killing its process group",
                               proc.pid, self.stop_timeout)
                self._signal_group(signal.SIGKILL)
                rc = proc.wait(timeout=10)
        self._signal_group(signal.SIGKILL)  # a stub left behind by the server, if any
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None
        self._proc = None
        self.returncode = rc
        logger.info("tritonserver pid %d stopped (status %s)", proc.pid, rc)
        return rc

    def _cleanup(self) -> None:
        self._terminate()
        if self._workdir is not None:
            if self._log_path is not None and self._log_path.parent == self._workdir:
                self._log_path = None  # removed with the folder
            shutil.rmtree(self._workdir, ignore_errors=True)
            self._workdir = None

    def stop(self) -> int | None:
        """Stop the server (see :meth:`_terminate`) and remove its temporary folder; returns its exit status."""
        rc = self._terminate()
        self._cleanup()
        return rc

    def __enter__(self) -> "TritonServer":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

