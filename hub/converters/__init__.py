"""Converters from third-party checkpoint layouts to ganzoo state dicts.

A converter is registered per (family, layout) with a ``detect`` predicate on the checkpoint's key names, so a
checkpoint is recognised by its keys, never by its file name. One file per family lives in this package and
is discovered automatically. Converters return ganzoo keys with the ``generator.`` or ``discriminator.``
prefix; a checkpoint may hold either network or both.

    >>> sd = convert_checkpoint("SRGAN_x4-ImageNet.pth.tar", family="srgan", allow_pickle=True)
    >>> load_converted(model, sd)
"""
from __future__ import annotations

import importlib
import os
import pkgutil
from dataclasses import dataclass
from typing import Any, Callable, Mapping

import torch
from torch import nn

from ganzoo.errors import UnknownCheckpointLayoutError

__all__ = [
    "Converter",
    "register_converter",
    "list_converters",
    "unwrap_state_dict",
    "strip_prefixes",
    "convert_state_dict",
    "convert_checkpoint",
    "load_converted",
]

StateDict = dict[str, torch.Tensor]

# Keys under which training scripts commonly nest the weights, in the order they are tried.
NESTING_KEYS = ("state_dict", "model_state_dict", "model", "params_ema", "params", "net", "module")
STRIP_PREFIXES = ("_orig_mod.", "module.")


@dataclass(frozen=True)
class Converter:
    family: str
    layout: str
    detect: Callable[[set[str]], bool]
    convert: Callable[[StateDict], StateDict]
    description: str = ""


_CONVERTERS: list[Converter] = []
_DISCOVERED = False


def register_converter(family: str, layout: str, detect: Callable[[set[str]], bool], description: str = ""):
    """Decorator: ``convert(state_dict) -> ganzoo state dict`` for checkpoints whose key set ``detect`` accepts."""

    def deco(fn: Callable[[StateDict], StateDict]):
        _CONVERTERS.append(Converter(family, layout, detect, fn, description or (fn.__doc__ or "").strip()))
        return fn

    return deco


def _discover() -> None:
    global _DISCOVERED
    if not _DISCOVERED:
        _DISCOVERED = True
        for m in pkgutil.iter_modules(__path__):
            importlib.import_module(f"{__name__}.{m.name}")


def list_converters(family: str | None = None) -> list[Converter]:
    _discover()
    return [c for c in _CONVERTERS if family is None or c.family == family]


def unwrap_state_dict(obj: Any) -> StateDict:
    """Find the flat ``{name: tensor}`` inside a loaded checkpoint (``{"state_dict": ...}``, ``{"model": ...}``,
    ...). Raises UnknownCheckpointLayoutError when none is found."""
    seen = 0
    while isinstance(obj, Mapping) and seen < 4:
        if obj and all(isinstance(v, torch.Tensor) for v in obj.values()):
            return {str(k): v for k, v in obj.items()}
        nxt = next((obj[k] for k in NESTING_KEYS if k in obj and isinstance(obj[k], Mapping)), None)
        if nxt is None:
            break
        obj, seen = nxt, seen + 1
    if isinstance(obj, Mapping):
        # Mixed dicts ({"epoch": 3, "state_dict": {...}} handled above); here keep only tensors if any.
        tensors = {str(k): v for k, v in obj.items() if isinstance(v, torch.Tensor)}
        if tensors:
            return tensors
        keys = sorted(map(str, obj))[:10]
        raise UnknownCheckpointLayoutError(
            f"no tensors found in the checkpoint; top-level keys are {keys}; expected a state dict or one nested "
            f"under one of {list(NESTING_KEYS)}"
        )
    raise UnknownCheckpointLayoutError(f"expected a dict of tensors, got {type(obj).__name__}")


def strip_prefixes(sd: StateDict, prefixes: tuple[str, ...] = STRIP_PREFIXES) -> StateDict:
    """Remove wrapper prefixes (``_orig_mod.`` from torch.compile, ``module.`` from DataParallel), repeatedly."""
    out = {}
    for k, v in sd.items():
        changed = True
        while changed:
            changed = False
            for p in prefixes:
                if k.startswith(p):
                    k, changed = k[len(p):], True
        out[k] = v
    return out


def convert_state_dict(sd: StateDict, family: str | None = None, layout: str | None = None) -> tuple[StateDict, str]:
    """Convert a flat third-party state dict; returns ``(ganzoo_state_dict, layout_name)``.

    Keys already in ganzoo layout (``generator.*`` / ``discriminator.*``) pass through unchanged.
    """
    _discover()
    sd = strip_prefixes(sd)
    keys = set(sd)
    if keys and all(k.startswith(("generator.", "discriminator.")) for k in keys):
        return dict(sd), "ganzoo"
    candidates = [c for c in list_converters(family) if layout is None or c.layout == layout]
    if layout is not None and not candidates:
        raise UnknownCheckpointLayoutError(
            f"no converter named {layout!r}" + (f" for family {family!r}" if family else "")
            + f"; known: {[f'{c.family}/{c.layout}' for c in list_converters(family)]}"
        )
    for c in candidates:
        if c.detect(keys):
            return c.convert(sd), f"{c.family}/{c.layout}"
    sample = sorted(keys)[:8]
    raise UnknownCheckpointLayoutError(
        "unrecognised checkpoint layout" + (f" for family {family!r}" if family else "")
        + f": first keys {sample}; known layouts: {[f'{c.family}/{c.layout}' for c in candidates]}"
    )


def convert_checkpoint(path_or_obj: str | os.PathLike | Mapping, family: str | None = None, layout: str | None = None,
                       *, allow_pickle: bool = False) -> StateDict:
    """Load (safetensors, or a pickle when ``allow_pickle=True``), unwrap, strip prefixes and convert."""
    obj: Any = path_or_obj
    if isinstance(path_or_obj, (str, os.PathLike)):
        from ..io import load_weights_file

        obj = load_weights_file(path_or_obj, allow_pickle=allow_pickle)
    sd, _ = convert_state_dict(unwrap_state_dict(obj), family, layout)
    return sd


def load_converted(model: nn.Module, sd: StateDict) -> nn.Module:
    """Load a converted state dict that covers the generator, the discriminator, or both. Each part present
    must match completely (names and shapes); nothing is copied otherwise."""
    from ..io import check_state_dict

    parts = {k.split(".", 1)[0] for k in sd}
    for part in parts:
        sub = {k: v for k, v in sd.items() if k.startswith(part + ".")}
        full = {k for k in model.state_dict() if k.startswith(part + ".")}
        check_state_dict(model, sub, prefix=part + ".", partial=False) if full else check_state_dict(model, sub)
    model.load_state_dict(sd, strict=False)
    return model
