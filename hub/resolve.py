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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ganzoo.errors import HubError

from .download import hf_download
from .embedded import find_embedded
from .validate import parse_hub_spec, validate_filename, validate_repo_id

logger = logging.getLogger(__name__)

__all__ = ["Resolved", "resolve_repo", "resolve_local", "read_config", "CONFIG_NAME", "CARD_NAME", "WEIGHTS_NAME"]

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


def read_config(path: Path) -> dict[str, Any]:
    try:
        cfg = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as e:
        raise HubError(f"cannot read {path}: {e}") from e
    if not isinstance(cfg, dict) or "model_name" not in cfg:
        raise HubError(f"{path} is not a ganzoo config.json (expected a JSON object with 'model_name')")
    return cfg


def resolve_local(path: str | os.PathLike, filename: str = WEIGHTS_NAME) -> Resolved:
    """A save_pretrained folder (config.json + weights) or a single weights file."""
    p = Path(path).expanduser()
    if p.is_dir():
        cfg = p / CONFIG_NAME
        weights_name = filename
        if cfg.is_file():
            weights_name = read_config(cfg).get("weights", {}).get("filename", filename)
            validate_filename(weights_name)
        w = p / weights_name
        if not w.is_file():
            raise FileNotFoundError(f"no {weights_name} in {p} (expected a folder written by ganzoo.save_pretrained)")
        return Resolved(w, cfg if cfg.is_file() else None, "local")
    if p.is_file():
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
                               local_files_only=local_files_only)
    except HubError as e:
        # A repo without config.json is still usable with the registry's config; anything else propagates.
        if "not found in" not in str(e) or "file" not in str(e):
            raise
        cfg_path = None
    weights = hf_download(repo_id, filename, revision=revision, cache_dir=cache_dir,
                          local_files_only=local_files_only, sha256=sha256)
    # The snapshot folder name is the commit the revision resolved to.
    return Resolved(weights, cfg_path, "remote", repo_id, weights.parent.name if revision is None else revision)


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
