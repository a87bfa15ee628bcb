"""Downloads through the real ``huggingface_hub`` client: its cache, revisions, HF_ENDPOINT mirrors and
HF_HUB_OFFLINE. Environment variables are read at call time (huggingface_hub reads them at import), so a
process can change them between calls.

Cache integrity: every file is verified each time it is handed out (sha256 when one is pinned, and the caller's
``check`` for files such as config.json); a file that fails is evicted (snapshot link and blob) before the typed
error is raised, so the next call downloads it again instead of failing forever.

Concurrency: huggingface_hub downloads into a process-unique ``<etag>.<id>.incomplete`` file under the lock
``.locks/models--org--name/<etag>.lock`` and removes it itself on failure, so a failing process never touches
another's temporaries. A SIGKILLed download leaves its temporary behind; :func:`reclaim_stale_incomplete` removes
it later, only while holding that lock (no live download of that blob) and only when it has not been written to
for :data:`STALE_INCOMPLETE_S` seconds (for filesystems whose locks silently succeed).

Failing fast: huggingface_hub retries an unreachable hub (or HTTP 5xx) for about 23 s before giving up when the
file is not cached. A single HEAD probe (``HF_HUB_ETAG_TIMEOUT``, default 10 s) decides first: unreachable means
the cache or an immediate HubError. A commit-hash revision already in the cache is served without any request.
"""
from __future__ import annotations

import logging
import os
import re
import time
from pathlib import Path
from typing import Callable

from ganzoo._version import __version__
from ganzoo.errors import GanzooError, HubError, IntegrityError, OfflineError

from .io import sha256_file
from .validate import validate_filename, validate_repo_id, validate_revision

logger = logging.getLogger(__name__)

__all__ = ["is_offline", "hf_download", "remove_cached_file", "repo_cache_dir", "reclaim_stale_incomplete",
           "STALE_INCOMPLETE_S"]

_TRUE = {"1", "true", "yes", "on"}
_COMMIT_RE = re.compile(r"^[0-9a-f]{40}$")
#: A ``*.incomplete`` blob not written to for this long, whose lock is free, is a dead download's leftover.
STALE_INCOMPLETE_S = 600.0


def is_offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in _TRUE


def _endpoint() -> str | None:
    return os.environ.get("HF_ENDPOINT") or None


def _etag_timeout() -> float:
    try:
        return max(0.1, float(os.environ.get("HF_HUB_ETAG_TIMEOUT", "10")))
    except ValueError:
        return 10.0


def _cache_root(cache_dir: str | os.PathLike | None) -> Path:
    if cache_dir is not None:
        return Path(cache_dir)
    env = os.environ.get("HF_HUB_CACHE")
    if env:
        return Path(env)
    home = os.environ.get("HF_HOME") or os.path.join(os.path.expanduser("~"), ".cache", "huggingface")
    return Path(home) / "hub"


def repo_cache_dir(repo_id: str, cache_dir: str | os.PathLike | None = None) -> Path:
    """The huggingface_hub cache folder of a model repo (``models--org--name``)."""
    return _cache_root(cache_dir) / ("models--" + repo_id.replace("/", "--"))


def reclaim_stale_incomplete(repo_id: str, cache_dir: str | os.PathLike | None = None, *,
                             older_than_s: float | None = None) -> list[Path]:
    """Remove ``*.incomplete`` blobs of ``repo_id`` left by killed downloads; returns the files removed.

    A temporary is removed only when the huggingface_hub lock of its blob can be taken at once (no process is
    downloading that blob) and it was last written more than ``older_than_s`` (default
    :data:`STALE_INCOMPLETE_S`) seconds ago. Live downloads of other processes are never touched."""
    from filelock import FileLock, Timeout

    limit = STALE_INCOMPLETE_S if older_than_s is None else older_than_s
    repo_dir = repo_cache_dir(repo_id, cache_dir)
    blobs = repo_dir / "blobs"
    removed: list[Path] = []
    if not blobs.is_dir():
        return removed
    locks = repo_dir.parent / ".locks" / repo_dir.name
    for f in sorted(blobs.glob("*.incomplete")):
        etag = f.name.split(".", 1)[0]
        try:
            if time.time() - f.stat().st_mtime < limit:
                continue
            locks.mkdir(parents=True, exist_ok=True)
            lock = FileLock(str(locks / f"{etag}.lock"), timeout=0)
            with lock:
                if time.time() - f.stat().st_mtime >= limit:
                    f.unlink()
                    removed.append(f)
                    logger.info("removed the stale partial download %s", f)
        except Timeout:
            logger.debug("%s is being downloaded by another process; left alone", f)
        except FileNotFoundError:
            pass
        except OSError as e:  # read-only cache, odd filesystem: reclaiming is best effort
            logger.debug("cannot reclaim %s: %s", f, e)
    return removed


def remove_cached_file(path: str | os.PathLike) -> None:
    """Remove a cached snapshot file and the blob it links to, and every other snapshot's link to that blob (two
    revisions holding the same bytes share it), so no dangling link is left behind."""
    p = Path(path)
    blob = p.resolve() if p.is_symlink() else None
    p.unlink(missing_ok=True)
    if blob is None:
        return
    blob.unlink(missing_ok=True)
    snapshots = blob.parent.parent / "snapshots"
    if blob.parent.name == "blobs" and snapshots.is_dir():
        for link in snapshots.rglob("*"):
            try:
                if link.is_symlink() and link.resolve() == blob:
                    link.unlink()
            except OSError:
                pass


def _unreachable(repo_id: str, filename: str, revision: str | None) -> Exception | None:
    """One HEAD request, no retries: the error if the hub cannot be reached or answers 5xx, else None (other
    answers, 404 included, are left to huggingface_hub to interpret)."""
    from huggingface_hub import get_hf_file_metadata, hf_hub_url
    from huggingface_hub.errors import HfHubHTTPError

    try:
        from huggingface_hub.file_download import _DEFAULT_RETRY_ON_EXCEPTIONS as transient
    except ImportError:  # other huggingface_hub versions
        transient = (OSError,)
    url = hf_hub_url(repo_id, filename, revision=revision, endpoint=_endpoint())
    try:
        get_hf_file_metadata(url, timeout=_etag_timeout(), library_name="ganzoo", library_version=__version__,
                             endpoint=_endpoint())
    except HfHubHTTPError as e:
        status = getattr(getattr(e, "response", None), "status_code", None)
        return e if status is not None and status >= 500 else None
    except transient as e:
        return e
    except OSError as e:
        return e
    except Exception:  # noqa: BLE001 - anything else is hf_hub_download's to report
        return None
    return None


def _cached(repo_id: str, filename: str, revision: str | None, cache_dir) -> Path | None:
    from huggingface_hub import hf_hub_download
    from huggingface_hub import errors as hf_errors

    try:
        return Path(hf_hub_download(repo_id, filename, revision=revision, cache_dir=_cache_root(cache_dir),
                                    local_files_only=True, library_name="ganzoo", library_version=__version__))
    except (hf_errors.LocalEntryNotFoundError, hf_errors.OfflineModeIsEnabled, hf_errors.EntryNotFoundError):
        return None
    except Exception as e:  # noqa: BLE001 - an unreadable cache entry: the normal download path reports it
        logger.debug("cache lookup of %s/%s failed: %s", repo_id, filename, e)
        return None


def _verify(path: Path, where: str, sha256: str | None, check: Callable[[Path], None] | None) -> Path:
    if sha256 is not None:
        got = sha256_file(path)
        if got != sha256.lower():
            remove_cached_file(path)
            raise IntegrityError(
                f"sha256 mismatch for {where} ({path.name}): expected {sha256}, got {got}. The corrupt file was "
                f"removed from the cache; try again, and report the mirror if it persists."
            )
    if check is not None:
        try:
            check(path)
        except GanzooError:
            remove_cached_file(path)
            raise
    return path


def hf_download(repo_id: str, filename: str, *, revision: str | None = None, cache_dir: str | os.PathLike | None = None,
                local_files_only: bool = False, sha256: str | None = None,
                check: Callable[[Path], None] | None = None) -> Path:
    """Download one file (or find it in the cache) and return its local path.

    Offline (``local_files_only`` or HF_HUB_OFFLINE=1) only the cache is used. When ``sha256`` is given the file
    is verified, and ``check(path)`` (raising a GanzooError) validates its content; a file failing either is
    removed from the cache (link and blob) before the error propagates. Raises OfflineError, HubError (unreachable
    hub, unknown repo / revision / file, failed transfer), IntegrityError.
    """
    from huggingface_hub import hf_hub_download
    from huggingface_hub import errors as hf_errors

    validate_repo_id(repo_id)
    validate_filename(filename)
    validate_revision(revision)
    offline = local_files_only or is_offline()
    where = f"{repo_id}@{revision or 'main'}/{filename}"
    endpoint = _endpoint() or "https://huggingface.co"
    if revision is not None and _COMMIT_RE.match(revision) and not offline:
        # A commit names exact bytes: a cached copy needs no request (and is verified like any other).
        hit = _cached(repo_id, filename, revision, cache_dir)
        if hit is not None:
            return _verify(hit, where, sha256, check)
    if not offline:
        reclaim_stale_incomplete(repo_id, cache_dir)
        err = _unreachable(repo_id, filename, revision)
        if err is not None:
            hit = _cached(repo_id, filename, revision, cache_dir)
            if hit is not None:
                logger.warning("the hub at %s cannot be reached (%s); using the cached %s", endpoint, err, where)
                return _verify(hit, where, sha256, check)
            raise HubError(
                f"cannot reach the hub for {where} ({endpoint}): {type(err).__name__}: {err}. To fix: check the "
                f"network or HF_ENDPOINT, or fill the cache elsewhere (`ganzoo download <model>`) and set "
                f"HF_HUB_OFFLINE=1."
            ) from err
    try:
        path = hf_hub_download(
            repo_id, filename, revision=revision, cache_dir=_cache_root(cache_dir), local_files_only=offline,
            endpoint=_endpoint(), library_name="ganzoo", library_version=__version__, etag_timeout=_etag_timeout(),
        )
    except (hf_errors.LocalEntryNotFoundError, hf_errors.OfflineModeIsEnabled) as e:
        if offline:
            raise OfflineError(
                f"{where} is not in the cache ({_cache_root(cache_dir)}) and downloads are off "
                f"({'HF_HUB_OFFLINE=1' if is_offline() else 'local_files_only=True'}). To fix: run once with network "
                f"access (or with HF_ENDPOINT pointing at a reachable mirror) to fill the cache, e.g. "
                f"`ganzoo download <model>`; or pass a local folder with pretrained=PATH."
            ) from e
        raise HubError(f"cannot reach the hub for {where} ({endpoint}): {e}") from e
    except hf_errors.RevisionNotFoundError as e:
        raise HubError(f"revision {revision!r} not found in {repo_id}: {e}") from e
    except hf_errors.RepositoryNotFoundError as e:
        raise HubError(f"repo {repo_id!r} not found on {endpoint}: {e}") from e
    except hf_errors.EntryNotFoundError as e:
        raise HubError(f"file {filename!r} not found in {repo_id}@{revision or 'main'}: {e}") from e
    except Exception as e:
        # Network errors, truncated bodies, size mismatches: huggingface_hub removed its own temporary file
        # (only its own: other processes' downloads in flight are untouched).
        raise HubError(f"download of {where} failed: {type(e).__name__}: {e}. Nothing was cached; try again.") from e
    return _verify(Path(path), where, sha256, check)
