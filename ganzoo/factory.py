"""The one place where registry, hub and models meet: load, from_pretrained, save_pretrained, download."""
from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

import torch

from ._version import __version__
from .errors import HubError, IntegrityError, NoPretrainedWeightsError
from .models.base import GANModel
from .registry import PretrainedCfg, create, get_entry, resolve_pretrained_cfg

logger = logging.getLogger(__name__)

__all__ = ["load", "from_pretrained", "save_pretrained", "download"]

PathLike = str | os.PathLike


def _is_path_like(x: Any) -> bool:
    return isinstance(x, os.PathLike) or (isinstance(x, str) and (os.sep in x or x.startswith(".") or os.path.exists(x)))


def _dtype(dtype: torch.dtype | str | None) -> torch.dtype | None:
    if dtype is None or isinstance(dtype, torch.dtype):
        return dtype
    table = {"fp32": torch.float32, "float32": torch.float32, "fp16": torch.float16, "float16": torch.float16,
             "half": torch.float16, "bf16": torch.bfloat16, "bfloat16": torch.bfloat16}
    if dtype not in table:
        raise ValueError(f"dtype must be a torch.dtype or one of {sorted(table)}, got {dtype!r}")
    return table[dtype]


def _finish(model: GANModel, device: Any, dtype: Any) -> GANModel:
    dt = _dtype(dtype)
    if dt in (torch.float16, torch.bfloat16) and model.pretrained_cfg is not None \
            and not model.pretrained_cfg.half_precision:
        raise ValueError(f"{model.pretrained_cfg.name} does not support {dt} (half_precision=False in its "
                         f"metadata: outputs overflow); use float32")
    if device is not None or dt is not None:
        model.to(device=device, dtype=dt)
    return model.eval()


def _build_from_config(cfg_json: dict[str, Any]) -> GANModel:
    """Build the registered architecture a config.json names. Only registered builders run: nothing from a hub
    is ever executed."""
    name = cfg_json["model_name"]
    entry = get_entry(name)  # UnknownModelError for names this ganzoo does not know
    model = entry.builder(**dict(cfg_json.get("config", {})))
    model.model_name = entry.name
    tag = cfg_json.get("tag")
    if tag and tag in entry.cfgs:
        model.pretrained_cfg = entry.cfgs[tag]
    return model


def _load_weights(model: GANModel, weights: Path, *, expected_sha256: str | None, verify: bool,
                  allow_pickle: bool, what: str, parts: tuple[str, ...] | None = None) -> None:
    """Verify, read and load a weights file. ``parts`` (from config.json's ``weights.parts``) names the networks the
    file holds, e.g. ``("generator",)`` when a discriminator was not published; each of them must match completely,
    and nothing else may be in the file. None means the whole model."""
    from .hub.io import load_into, load_weights_file, verify_sha256

    if verify and expected_sha256:
        verify_sha256(weights, expected_sha256, what=what)
    elif verify:
        logger.warning("no sha256 known for %s: integrity not checked", what)
    state = load_weights_file(weights, allow_pickle=allow_pickle)
    if not weights.name.endswith(".safetensors"):
        from .hub.converters import convert_state_dict, unwrap_state_dict

        state, layout = convert_state_dict(unwrap_state_dict(state))
        logger.info("converted %s from layout %s", what, layout)
    # Stored weights may be half precision; buffers like num_batches_tracked keep their integer dtype.
    ref = model.state_dict()
    state = {k: (v.to(ref[k].dtype) if k in ref and v.is_floating_point() else v) for k, v in state.items()}
    if parts is None:
        load_into(model, state)
        model.pretrained_parts = ("generator", "discriminator")
    else:
        _load_parts(model, state, parts, what=what)


def _load_parts(model: GANModel, state: dict[str, torch.Tensor], parts: tuple[str, ...], *, what: str) -> None:
    from .hub.io import check_state_dict

    known = ("generator", "discriminator")
    if not parts or any(p not in known for p in parts):
        raise IntegrityError(f"{what}: weights.parts must be a non-empty subset of {list(known)}, got {list(parts)}")
    outside = sorted(k for k in state if not k.startswith(tuple(p + "." for p in parts)))
    if outside:
        raise IntegrityError(f"{what}: config.json says the file holds {list(parts)}, but it also has "
                             f"{len(outside)} other tensors ({', '.join(outside[:4])} ...)")
    for p in parts:
        check_state_dict(model, {k: v for k, v in state.items() if k.startswith(p + ".")}, prefix=p + ".")
    model.load_state_dict(state, strict=False)
    model.pretrained_parts = tuple(parts)


def load(
    name: str,
    pretrained: bool | PathLike = True,
    revision: str | None = None,
    device: torch.device | str | None = None,
    dtype: torch.dtype | str | None = None,
    local_files_only: bool = False,
    *,
    source: str = "auto",
    cache_dir: PathLike | None = None,
    verify: bool = True,
    allow_pickle: bool = False,
) -> GANModel:
    """A model with weights, in eval mode.

    ``name``: ``"dcgan"`` (default tag), ``"dcgan.mnist"``, ``"hf-hub:org/name@rev"`` or a save_pretrained folder.
    ``pretrained``: True (the tag's published weights), False (random init, same as :func:`ganzoo.create`), or a
    local folder / weights file / ``hf-hub:`` spec to take the weights from.
    ``revision``: pin a hub revision (branch, tag or commit); the embedded copy is used only at its own revision.
    ``source``: ``"auto"`` (embedded hub, then remote), ``"embedded"`` or ``"remote"``.
    ``local_files_only`` (or HF_HUB_OFFLINE=1): never touch the network.
    ``verify``: check sha256 (on by default). ``allow_pickle``: accept a pickled ``.pth`` given as ``pretrained``,
    read through ``torch.load(weights_only=True)``.
    """
    if name.startswith("hf-hub:") or _is_path_like(name):
        return from_pretrained(name, revision=revision, device=device, dtype=dtype, local_files_only=local_files_only,
                               cache_dir=cache_dir, verify=verify)
    cfg = resolve_pretrained_cfg(name)
    full = cfg.name
    if pretrained is False:
        return _finish(create(full), device, dtype)
    from .hub.resolve import resolve_spec

    if pretrained is not True:
        spec = os.fspath(pretrained)
        res = resolve_spec(spec, cache_dir=cache_dir, local_files_only=local_files_only)
        if res.config is not None:
            return _from_resolved(res, device=device, dtype=dtype, verify=verify, allow_pickle=allow_pickle)
        model = create(full)
        _load_weights(model, res.weights, expected_sha256=None, verify=False, allow_pickle=allow_pickle,
                      what=str(res.weights))
        return _finish(model, device, dtype)
    res, pinned = _resolve_published(cfg, revision=revision, source=source, cache_dir=cache_dir,
                                     local_files_only=local_files_only, verify=verify)
    return _from_resolved(res, device=device, dtype=dtype, verify=verify, allow_pickle=allow_pickle,
                          registry_cfg=cfg, registry_sha=cfg.sha256 if pinned else None)


def _resolve_published(cfg: PretrainedCfg, *, revision: str | None, source: str, cache_dir: PathLike | None,
                       local_files_only: bool, verify: bool):
    """Resolve a tag's published weights; returns ``(Resolved, pinned)``. ``pinned``: the revision is the registry's
    own, so the registry's sha256 applies (other revisions are checked against their own config.json)."""
    from .hub.resolve import resolve_repo

    if not cfg.has_weights:
        raise NoPretrainedWeightsError(
            f"no weights are published for {cfg.name} yet. Use ganzoo.create({cfg.name!r}) or pretrained=False for "
            f"random weights, or pass pretrained=PATH to load your own (a save_pretrained folder or a .safetensors "
            f"file)."
        )
    pinned = revision is None or revision == cfg.revision
    res = resolve_repo(cfg.hub_id, revision=revision or cfg.revision, filename=cfg.filename, source=source,
                       cache_dir=cache_dir, local_files_only=local_files_only,
                       sha256=cfg.sha256 if (verify and pinned) else None)
    return res, pinned


def _from_resolved(res, *, device, dtype, verify: bool, allow_pickle: bool = False,
                   registry_cfg: PretrainedCfg | None = None, registry_sha: str | None = None) -> GANModel:
    from .hub.resolve import read_config

    what = f"{res.repo_id}@{res.revision}" if res.repo_id else str(res.folder)
    if res.config is not None:
        cfg_json = read_config(res.config)
        model = _build_from_config(cfg_json)
        card_sha = cfg_json.get("weights", {}).get("sha256")
        if registry_sha and card_sha and card_sha != registry_sha:
            raise IntegrityError(f"{what}: config.json pins sha256 {card_sha} but the registry pins {registry_sha}")
        expected = registry_sha or card_sha
    elif registry_cfg is not None:
        model, expected = create(registry_cfg.name), registry_sha
    else:
        raise HubError(f"{what} has no config.json; load it with ganzoo.load(NAME, pretrained=PATH)")
    if registry_cfg is not None:
        model.pretrained_cfg = registry_cfg
        model.model_name = registry_cfg.architecture
    parts = cfg_json.get("weights", {}).get("parts") if res.config is not None else None
    _load_weights(model, res.weights, expected_sha256=expected, verify=verify, allow_pickle=allow_pickle,
                  what=f"{what}/{res.weights.name}", parts=tuple(parts) if parts is not None else None)
    logger.info("loaded %s from %s (%s)", model.model_name, what, res.origin)
    return _finish(model, device, dtype)


def from_pretrained(
    source: PathLike,
    *,
    revision: str | None = None,
    device: torch.device | str | None = None,
    dtype: torch.dtype | str | None = None,
    local_files_only: bool = False,
    cache_dir: PathLike | None = None,
    verify: bool = True,
) -> GANModel:
    """Load a folder written by :func:`save_pretrained`, or ``"hf-hub:org/name@rev"`` from a hub.

    The architecture comes from config.json (``model_name`` must be registered); the weights' sha256 pinned in
    config.json is verified unless ``verify=False``.
    """
    from .hub.resolve import resolve_spec

    res = resolve_spec(os.fspath(source), revision=revision, cache_dir=cache_dir, local_files_only=local_files_only)
    return _from_resolved(res, device=device, dtype=dtype, verify=verify)


def save_pretrained(model: GANModel, save_directory: PathLike, *, dtype: torch.dtype | None = None,
                    training: dict[str, Any] | None = None, notes: str = "",
                    parts: tuple[str, ...] = ("generator", "discriminator")) -> Path:
    """Write ``config.json``, ``model.safetensors`` (generator + discriminator) and a ``README.md`` model card.

    ``dtype`` stores floating tensors in another precision (e.g. float16 to halve the size); ``training`` records
    how the weights were made, for the card. ``parts`` limits the weights to some networks, e.g. ``("generator",)``
    when the discriminator's weights are not to be published; config.json records it, and loading then leaves the
    other networks at their initialisation (``model.pretrained_parts`` says which were loaded). Each file is written
    atomically. Returns the folder.
    """
    parts = tuple(parts)
    if not parts or any(p not in ("generator", "discriminator") for p in parts):
        raise ValueError(f"parts must be a non-empty subset of ('generator', 'discriminator'), got {parts!r}")
    from .hub.card import render_model_card
    from .hub.io import save_safetensors
    from .hub.resolve import CARD_NAME, CONFIG_NAME, WEIGHTS_NAME
    from .utils import atomic_write_bytes

    if not isinstance(model, GANModel):
        raise TypeError(f"save_pretrained expects a ganzoo model (GANModel), got {type(model).__name__}")
    if model.model_name is None:
        raise ValueError("model has no registry name; build it with ganzoo.create or ganzoo.load")
    out = Path(save_directory)
    if out.exists() and not out.is_dir():
        raise NotADirectoryError(f"{out} exists and is not a folder")
    out.mkdir(parents=True, exist_ok=True)
    state = {k: (v.to(dtype) if dtype is not None and v.is_floating_point() else v)
             for k, v in model.state_dict().items() if k.split(".", 1)[0] in parts}
    pc = model.pretrained_cfg
    sha = save_safetensors(state, out / WEIGHTS_NAME,
                           metadata={"format": "pt", "ganzoo_model": model.model_name})
    stored = {str(v.dtype).replace("torch.", "") for v in state.values() if v.is_floating_point()}
    cfg_json = {
        "library_name": "ganzoo",
        "ganzoo_version": __version__,
        "model_name": model.model_name,
        "family": get_entry(model.model_name).family,
        "tag": pc.tag if pc is not None else None,
        "config": model.config.to_dict(),
        "weights": {"filename": WEIGHTS_NAME, "format": "safetensors", "sha256": sha,
                    "dtype": ",".join(sorted(stored)), "parts": list(parts)},
        "pretrained_cfg": pc.to_dict() if pc is not None else None,
    }
    atomic_write_bytes(out / CONFIG_NAME, (json.dumps(cfg_json, indent=2) + "\n").encode())
    atomic_write_bytes(out / CARD_NAME, render_model_card(cfg_json, training=training, notes=notes).encode())
    return out


def download(name: str, *, revision: str | None = None, source: str = "auto", cache_dir: PathLike | None = None,
             local_files_only: bool = False) -> Path:
    """Fetch and verify a tag's files; returns the local folder holding them."""
    from .hub.io import verify_sha256

    cfg = resolve_pretrained_cfg(name)
    res, pinned = _resolve_published(cfg, revision=revision, source=source, cache_dir=cache_dir,
                                     local_files_only=local_files_only, verify=True)
    if pinned:  # the embedded copy is not checked by the downloader
        verify_sha256(res.weights, cfg.sha256, what=cfg.name)
    return res.folder
