"""Downloads through the real ``huggingface_hub`` client: its cache, revisions, HF_ENDPOINT mirrors and
HF_HUB_OFFLINE. Environment variables are read at call time (huggingface_hub reads them at import), so a
process can change them between calls.

A failed download never leaves a partial or corrupt file in the cache: ``*.incomplete`` blobs are removed on
failure, and a file whose sha256 does not match is removed together with its blob.
"""
from __future__ import annotations

import logging
import os
from pathlib import Path

from ganzoo._version import __version__
from ganzoo.errors import HubError, IntegrityError, OfflineError

from .io import sha256_file
from .validate import validate_filename, validate_repo_id, validate_revision

logger = logging.getLogger(__name__)

__all__ = ["is_offline", "hf_download", "remove_cached_file", "repo_cache_dir"]

_TRUE = {"1", "true", "yes", "on"}


def is_offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in _TRUE


def _endpoint() -> str | None:
    return os.environ.get("HF_ENDPOINT") or None


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


def _remove_incomplete(repo_id: str, cache_dir: str | os.PathLike | None) -> None:
    blobs = repo_cache_dir(repo_id, cache_dir) / "blobs"
    if blobs.is_dir():
        for f in blobs.glob("*.incomplete"):
            logger.debug("removing partial download %s", f)
            f.unlink(missing_ok=True)


def remove_cached_file(path: str | os.PathLike) -> None:
    """Remove a cached snapshot file and the blob it links to."""
    p = Path(path)
    blob = p.resolve() if p.is_symlink() else None
    p.unlink(missing_ok=True)
    if blob is not None:
        blob.unlink(missing_ok=True)


def hf_download(repo_id: str, filename: str, *, revision: str | None = None, cache_dir: str | os.PathLike | None = None,
                local_files_only: bool = False, sha256: str | None = None) -> Path:
    """Download one file (or find it in the cache) and return its local path.

    Offline (``local_files_only`` or HF_HUB_OFFLINE=1) only the cache is used. When ``sha256`` is given the file
    is verified and, on mismatch, removed from the cache before IntegrityError is raised.
    """
    from huggingface_hub import hf_hub_download
    from huggingface_hub import errors as hf_errors

    validate_repo_id(repo_id)
    validate_filename(filename)
    validate_revision(revision)
    offline = local_files_only or is_offline()
    where = f"{repo_id}@{revision or 'main'}/{filename}"
    try:
        path = hf_hub_download(
            repo_id, filename, revision=revision, cache_dir=_cache_root(cache_dir), local_files_only=offline,
            endpoint=_endpoint(), library_name="ganzoo", library_version=__version__,
        )
    except (hf_errors.LocalEntryNotFoundError, hf_errors.OfflineModeIsEnabled) as e:
        _remove_incomplete(repo_id, cache_dir)
        if offline:
            raise OfflineError(
                f"{where} is not in the cache ({_cache_root(cache_dir)}) and downloads are off "
                f"({'HF_HUB_OFFLINE=1' if is_offline() else 'local_files_only=True'}). To fix: run once with network "
                f"access (or with HF_ENDPOINT pointing at a reachable mirror) to fill the cache, e.g. "
                f"`ganzoo download <model>`; or pass a local folder with pretrained=PATH."
            ) from e
        raise HubError(f"cannot reach the hub for {where} ({_endpoint() or 'https://huggingface.co'}): {e}") from e
    except hf_errors.RevisionNotFoundError as e:
        _remove_incomplete(repo_id, cache_dir)
        raise HubError(f"revision {revision!r} not found in {repo_id}: {e}") from e
    except hf_errors.RepositoryNotFoundError as e:
        _remove_incomplete(repo_id, cache_dir)
        raise HubError(f"repo {repo_id!r} not found on {_endpoint() or 'https://huggingface.co'}: {e}") from e
    except hf_errors.EntryNotFoundError as e:
        _remove_incomplete(repo_id, cache_dir)
        raise HubError(f"file {filename!r} not found in {repo_id}@{revision or 'main'}: {e}") from e
    except BaseException as e:
        # network errors, truncated bodies, interrupts: never leave half a file behind
        _remove_incomplete(repo_id, cache_dir)
        if isinstance(e, Exception):
            raise HubError(f"download of {where} failed: {type(e).__name__}: {e}") from e
        raise
    path = Path(path)
    if sha256 is not None:
        got = sha256_file(path)
        if got != sha256.lower():
            remove_cached_file(path)
            raise IntegrityError(
                f"sha256 mismatch for {where}: expected {sha256}, got {got}. The corrupt file was removed from the "
                f"cache; try again, and report the mirror if it persists."
            )
    return path
