"""Reading and writing weights: safetensors by default, pickles only on request and only with weights_only=True."""
from __future__ import annotations

import hashlib
import logging
import os
from pathlib import Path
from typing import Mapping

import torch
from torch import nn

from ganzoo.errors import CorruptWeightsError, IntegrityError, PickleNotAllowedError, StateDictMismatchError

logger = logging.getLogger(__name__)

__all__ = [
    "sha256_file",
    "verify_sha256",
    "load_weights_file",
    "save_safetensors",
    "check_state_dict",
    "load_into",
]

def sha256_file(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while block := f.read(chunk):
            h.update(block)
    return h.hexdigest()


def verify_sha256(path: str | os.PathLike, expected: str | None, *, what: str = "") -> str:
    """Return the file's sha256; raise IntegrityError if ``expected`` is given and differs."""
    got = sha256_file(path)
    if expected is not None and got != expected.lower():
        raise IntegrityError(
            f"sha256 mismatch for {what or path}: expected {expected}, got {got}. The file is corrupt or was "
            f"replaced; delete it (and its cache entry) and download it again."
        )
    return got


def load_weights_file(path: str | os.PathLike, *, allow_pickle: bool = False,
                      map_location: str | torch.device = "cpu") -> dict[str, torch.Tensor]:
    """Load a flat ``{name: tensor}`` from a ``.safetensors`` file, or from a pickled checkpoint when
    ``allow_pickle=True`` (through ``torch.load(weights_only=True)``, which refuses arbitrary objects).

    Pickled checkpoints may nest the tensors (``{"state_dict": {...}}``); they are returned as loaded and
    flattened by :func:`ganzoo.hub.convert.unwrap_state_dict`.
    """
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"weights file not found: {p}")
    if not p.name.endswith(".safetensors"):
        if not allow_pickle:
            raise PickleNotAllowedError(
                f"{p.name} is not a .safetensors file; pickled checkpoints can run code when loaded, so ganzoo "
                f"loads them only when you pass allow_pickle=True (then through torch.load(weights_only=True))."
            )
        try:
            return torch.load(p, map_location=map_location, weights_only=True)
        except Exception as e:  # torch raises UnpicklingError, RuntimeError, EOFError...
            raise CorruptWeightsError(f"cannot load {p} with torch.load(weights_only=True): {e}") from e
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    try:
        return load_file(str(p), device=str(map_location))
    except (SafetensorError, OSError, ValueError, RuntimeError) as e:
        raise CorruptWeightsError(
            f"{p} is not a valid safetensors file (truncated or corrupt: {e}). Delete it and download it again."
        ) from e


def save_safetensors(state: Mapping[str, torch.Tensor], path: str | os.PathLike,
                     metadata: Mapping[str, str] | None = None) -> str:
    """Write ``state`` to ``path`` atomically (temporary name, then rename). Returns the file's sha256."""
    from safetensors.torch import save

    data = save({k: v.detach().contiguous().cpu() for k, v in state.items()}, metadata=dict(metadata or {}))
    from ganzoo.utils import atomic_write_bytes

    atomic_write_bytes(path, data)
    return hashlib.sha256(data).hexdigest()


def check_state_dict(model: nn.Module, state: Mapping[str, torch.Tensor], *, prefix: str = "",
                     partial: bool = False) -> None:
    """Raise StateDictMismatchError naming every missing, unexpected or wrongly shaped tensor.

    ``prefix`` restricts the check to the model's keys under it (e.g. ``"generator."``);
    ``partial=True`` allows ``state`` to cover only the prefixed part of the model.
    """
    expected = {k: v for k, v in model.state_dict().items() if k.startswith(prefix)}
    missing = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    mismatched = [(k, tuple(expected[k].shape), tuple(state[k].shape))
                  for k in sorted(set(expected) & set(state)) if tuple(expected[k].shape) != tuple(state[k].shape)]
    if partial:
        missing = []
    if missing or unexpected or mismatched:
        parts = []
        if missing:
            parts.append(f"missing {len(missing)}: {', '.join(missing[:8])}{' ...' if len(missing) > 8 else ''}")
        if unexpected:
            parts.append(f"unexpected {len(unexpected)}: {', '.join(unexpected[:8])}"
                         f"{' ...' if len(unexpected) > 8 else ''}")
        if mismatched:
            parts.append(f"wrong shape {len(mismatched)}: " + ", ".join(
                f"{k} expected {e} got {g}" for k, e, g in mismatched[:8]) + (" ..." if len(mismatched) > 8 else ""))
        raise StateDictMismatchError(f"weights do not match {type(model).__name__}: " + "; ".join(parts),
                                     missing=missing, unexpected=unexpected, mismatched=mismatched)


def load_into(model: nn.Module, state: Mapping[str, torch.Tensor], *, partial: bool = False) -> nn.Module:
    """Check, then copy ``state`` into ``model`` (dtype converted to the model's). Nothing is copied unless
    every tensor matches."""
    check_state_dict(model, state, partial=partial)
    model.load_state_dict(dict(state), strict=not partial)
    return model
