"""Where weights come from, in order:

1. an explicit local directory (save_pretrained layout) or weights file;
2. an explicit ``hf-hub:org/name@revision``: the remote hub through huggingface_hub;
3. the hub embedded in the package (the default: works with no network);
4. the remote hub through huggingface_hub (cache, HF_ENDPOINT mirrors, HF_HUB_OFFLINE).

The result is a local folder (or file) plus where it came from; verification happens in ganzoo.factory.
"""
from __future__ import annotations

import json
import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ganzoo.errors import CorruptConfigError, HubError, InvalidRepoIdError, UnsafePathError

from .download import hf_download
from .embedded import find_embedded
from .validate import parse_hub_spec, validate_filename, validate_repo_id

logger = logging.getLogger(__name__)

__all__ = ["Resolved", "resolve_repo", "resolve_local", "resolve_extra_files", "resolve_named_repo", "read_config", "check_config", "check_inside", "CONFIG_NAME",
           "CARD_NAME", "WEIGHTS_NAME"]

CONFIG_NAME = "config.json"
CARD_NAME = "README.md"
WEIGHTS_NAME = "model.safetensors"
SOURCES = ("auto", "embedded", "remote")


@dataclass(frozen=True)
class Resolved:
    """Local paths of a resolved repo. ``config`` is None when only a bare weights file was given."""

    weights: Path
    config: Path | None
    origin: str  # "local", "embedded" or "remote"
    repo_id: str | None = None
    revision: str | None = None

    @property
    def folder(self) -> Path:
        return self.weights.parent


_SHA256_RE = re.compile(r"^[0-9a-f]{64}$")
_FIX = "delete it and download it again, or write the folder again with ganzoo.save_pretrained"


def check_config(cfg: Any, path: Path | str) -> dict[str, Any]:
    """Check the structure of a parsed config.json: a JSON object with a non-empty string ``model_name``; when
    present, ``config`` an object, ``tag`` a string or null, ``pretrained_cfg`` an object or null, and ``weights`` an
    object whose ``filename`` is a plain relative name, ``sha256`` 64 lowercase hex digits (or null), ``format`` and
    ``dtype`` strings and ``parts`` a list of strings. Raises CorruptConfigError naming the file and the field."""
    def bad(msg: str) -> CorruptConfigError:
        return CorruptConfigError(f"{path} is not a valid ganzoo config.json: {msg}; {_FIX}")

    if not isinstance(cfg, dict):
        raise bad(f"expected a JSON object, got {type(cfg).__name__}")
    name = cfg.get("model_name")
    if not isinstance(name, str) or not name.strip():
        raise bad(f"'model_name' must be a non-empty string, got {name!r}")
    for key, types, what in (("config", (dict,), "an object"), ("tag", (str, type(None)), "a string or null"),
                             ("pretrained_cfg", (dict, type(None)), "an object or null"),
                             ("weights", (dict,), "an object")):
        if key in cfg and not isinstance(cfg[key], types):
            raise bad(f"'{key}' must be {what}, got {type(cfg[key]).__name__}")
    w = cfg.get("weights", {})
    if "filename" in w:
        if not isinstance(w["filename"], str):
            raise bad(f"'weights.filename' must be a string, got {type(w['filename']).__name__}")
        try:
            validate_filename(w["filename"])
        except InvalidRepoIdError as e:
            raise bad(f"'weights.filename': {e}") from e
    sha = w.get("sha256")
    if sha is not None and (not isinstance(sha, str) or not _SHA256_RE.match(sha)):
        raise bad(f"'weights.sha256' must be 64 lowercase hex digits, got {sha!r}")
    for key in ("format", "dtype"):
        if key in w and not isinstance(w[key], str):
            raise bad(f"'weights.{key}' must be a string, got {type(w[key]).__name__}")
    if "parts" in w and (not isinstance(w["parts"], list) or not all(isinstance(x, str) for x in w["parts"])):
        raise bad(f"'weights.parts' must be a list of strings, got {w['parts']!r}")
    return cfg


def read_config(path: Path) -> dict[str, Any]:
    """Parse and check a config.json (see :func:`check_config`). Raises CorruptConfigError (a HubError) for a file
    that cannot be read, is not UTF-8, is not JSON or lacks required fields; never a raw decoding error."""
    try:
        raw = Path(path).read_bytes()
    except OSError as e:
        raise CorruptConfigError(f"cannot read {path}: {e}") from e
    try:
        cfg = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as e:
        raise CorruptConfigError(f"{path} is not UTF-8 text (byte {e.start}: {e.reason}); {_FIX}") from e
    except (json.JSONDecodeError, RecursionError) as e:
        raise CorruptConfigError(f"{path} is not valid JSON ({e}); {_FIX}") from e
    return check_config(cfg, path)


def _hf_cache_blobs(folder: Path) -> Path | None:
    """``models--org--name/blobs`` when ``folder`` is a huggingface_hub snapshot (``.../snapshots/<rev>``)."""
    if folder.parent.name == "snapshots" and folder.parent.parent.name.startswith("models--"):
        return folder.parent.parent / "blobs"
    return None


def check_inside(path: Path, folder: Path) -> Path:
    """Refuse ``path`` (UnsafePathError) when it is a symlink, or lies below one, that resolves outside ``folder``
    (resolved); files of a huggingface_hub snapshot may link into its repo's ``blobs``. Returns the resolved path.
    Nothing is opened or hashed."""
    root = folder.resolve()
    target = path.resolve()
    allowed = [root]
    blobs = _hf_cache_blobs(root)
    if blobs is not None:
        allowed.append(blobs.resolve())
    if not any(target == a or target.is_relative_to(a) for a in allowed):
        raise UnsafePathError(
            f"{path} resolves to {target}, outside its folder {root}: refusing a symlink that leaves the model "
            f"folder (it could read any file). Copy the real file into the folder instead."
        )
    return target


def resolve_local(path: str | os.PathLike, filename: str = WEIGHTS_NAME) -> Resolved:
    """A save_pretrained folder (config.json + weights) or a single weights file. Files in the folder that are
    symlinks resolving outside it (a bare file: outside the folder of the link) raise UnsafePathError before
    anything is read."""
    p = Path(path).expanduser()
    if p.is_dir():
        cfg = p / CONFIG_NAME
        weights_name = filename
        if cfg.is_file() or cfg.is_symlink():
            check_inside(cfg, p)
        if cfg.is_file():
            weights_name = read_config(cfg).get("weights", {}).get("filename", filename)
            validate_filename(weights_name)
        w = p / weights_name
        if w.is_symlink() or w.exists():
            check_inside(w, p)
        if not w.is_file():
            raise FileNotFoundError(f"no {weights_name} in {p} (expected a folder written by ganzoo.save_pretrained)")
        return Resolved(w, cfg if cfg.is_file() else None, "local")
    if p.is_file():
        if p.is_symlink():
            check_inside(p, p.parent)
        return Resolved(p, None, "local")
    raise FileNotFoundError(f"no such file or folder: {p}")


def resolve_repo(repo_id: str, *, revision: str | None = None, filename: str = WEIGHTS_NAME, source: str = "auto",
                 cache_dir: str | os.PathLike | None = None, local_files_only: bool = False,
                 sha256: str | None = None) -> Resolved:
    """Resolve ``repo_id@revision``: the embedded hub first (``source="auto"``), then the remote hub.

    ``sha256`` (when known) is checked by the downloader so a corrupt download never stays in the cache.
    """
    validate_repo_id(repo_id)
    validate_filename(filename)
    if source not in SOURCES:
        raise ValueError(f"source must be one of {SOURCES}, got {source!r}")
    if source in ("auto", "embedded"):
        emb = find_embedded(repo_id, revision)
        if emb is not None and filename in emb.files:
            logger.debug("using embedded %s@%s", repo_id, emb.revision)
            cfg = emb.path / CONFIG_NAME
            return Resolved(emb.path / filename, cfg if cfg.is_file() else None, "embedded", repo_id, emb.revision)
        if source == "embedded":
            raise HubError(
                f"{repo_id}" + (f"@{revision}" if revision else "")
                + " is not in the embedded hub; use source='remote' (or 'auto') to download it"
            )
    cfg_path: Path | None
    try:
        cfg_path = hf_download(repo_id, CONFIG_NAME, revision=revision, cache_dir=cache_dir,
                               local_files_only=local_files_only, check=read_config)
    except HubError as e:
        # A repo without config.json is still usable with the registry's config; anything else propagates.
        if "not found in" not in str(e) or "file" not in str(e) or isinstance(e, CorruptConfigError):
            raise
        cfg_path = None
    if sha256 is None and cfg_path is not None:
        # No registry pin (an hf-hub: spec, another revision): the verified config.json pins its weights.
        w = read_config(cfg_path).get("weights", {})
        if w.get("filename", WEIGHTS_NAME) == filename and w.get("sha256"):
            sha256 = w["sha256"]
    weights = hf_download(repo_id, filename, revision=revision, cache_dir=cache_dir,
                          local_files_only=local_files_only, sha256=sha256)
    # The snapshot folder name is the commit the revision resolved to.
    return Resolved(weights, cfg_path, "remote", repo_id, weights.parent.name if revision is None else revision)


def resolve_named_repo(name: str | os.PathLike) -> tuple[str, str, str | None, str] | None:
    """Where the files of what :func:`ganzoo.load` was given live: ``("folder", path, None, "local")`` for a
    folder, ``("repo", repo_id, revision, source)`` for a registry name/tag with published weights (its pinned
    revision, embedded first) or an ``hf-hub:org/name[@rev]`` spec (remote); None for a bare file, a missing
    path or a tag without weights. ``name`` is read as :func:`ganzoo.load` reads it (a bare name is a registry
    name even when a folder of that name exists here)."""
    from ganzoo.factory import _parse_source  # the same reading of ``name`` as ganzoo.load's
    from ganzoo.registry import resolve_pretrained_cfg

    kind, spec = _parse_source(name)
    if kind == "hub":
        repo_id, revision = parse_hub_spec(spec)
        return "repo", repo_id, revision, "remote"
    if kind == "path":
        path = Path(spec).expanduser()
        return ("folder", str(path), None, "local") if path.is_dir() else None
    cfg = resolve_pretrained_cfg(spec)
    if cfg.hub_id is None:
        return None
    return "repo", cfg.hub_id, cfg.revision, "auto"


def resolve_extra_files(name: str | os.PathLike, manifest: str, weights: str, *,
                        cache_dir: str | os.PathLike | None = None,
                        local_files_only: bool = False) -> tuple[Path, Path] | None:
    """A pair of files a model ships beside its weights (an encoder, a classifier): ``manifest``, a JSON file
    recording ``"sha256"`` of ``weights``, and the weights file, verified against it (IntegrityError otherwise; a
    remote download is checked before it enters the cache). ``name`` as :func:`resolve_named_repo`. None when the
    model ships no ``manifest`` (for an embedded repo, whose copy is the whole repo, without asking the network).
    """
    from ganzoo.errors import IntegrityError

    from .io import sha256_file

    validate_filename(manifest)
    validate_filename(weights)
    where = resolve_named_repo(name)
    if where is None:
        return None
    kind, ref, revision, source = where
    if kind == "folder":
        folder = Path(ref)
        m, w = folder / manifest, folder / weights
        for f in (m, w):
            if f.is_symlink() or f.exists():
                check_inside(f, folder)
        if not (m.is_file() and w.is_file()):
            return None
        label = str(folder)
    else:
        if source == "auto":
            emb = find_embedded(ref, revision)
            if emb is not None and manifest not in emb.files:
                return None
        kw = {"revision": revision, "source": source, "cache_dir": cache_dir, "local_files_only": local_files_only}
        try:
            m = resolve_repo(ref, filename=manifest, **kw).weights
        except HubError as e:
            if str(e).startswith(f"file {manifest!r} not found in"):
                return None
            raise
        label = ref
    try:
        want = json.loads(Path(m).read_text())["sha256"]
        if not (isinstance(want, str) and re.fullmatch(r"[0-9a-f]{64}", want)):
            raise TypeError(f"sha256 {want!r} is not 64 hex digits")
    except (OSError, json.JSONDecodeError, KeyError, TypeError) as e:
        raise CorruptConfigError(f"{label}: {manifest} is unreadable or records no sha256 of {weights} ({e})") from None
    if kind == "repo":
        w = resolve_repo(ref, filename=weights, sha256=want, **kw).weights
    got = sha256_file(w)
    if got != want:
        raise IntegrityError(f"{label}: {weights} has sha256 {got}, its {manifest} expects {want}")
    return Path(m), Path(w)


def resolve_spec(spec: str, **kwargs: Any) -> Resolved:
    """``hf-hub:org/name[@rev]`` -> remote (``kwargs`` go to :func:`resolve_repo`); anything else is a local path,
    for which the remote-only ``kwargs`` do not apply."""
    if spec.startswith("hf-hub:"):
        repo_id, rev = parse_hub_spec(spec)
        given = kwargs.get("revision")
        if rev is not None and given is not None and given != rev:
            raise ValueError(f"two revisions given: {rev!r} in {spec!r} and revision={given!r}")
        kwargs["revision"] = rev or given
        return resolve_repo(repo_id, source="remote", **kwargs)
    return resolve_local(spec)
