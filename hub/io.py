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
    "read_safetensors_metadata",
    "sniff_format",
    "save_safetensors",
    "check_state_dict",
    "load_into",
    "load_parts",
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


#: File names read as Keras HDF5 weights (any file starting with the HDF5 signature is, too).
H5_SUFFIXES = (".h5", ".hdf5")
#: File names that are pickled torch checkpoints (refused unless allow_pickle=True).
PICKLE_SUFFIXES = (".pth", ".pt", ".pth.tar", ".tar", ".ckpt", ".bin", ".pkl")
#: Every suffix a bare weights file may have; ``ganzoo.load("x.pth")`` treats such names as paths.
WEIGHTS_SUFFIXES = (".safetensors",) + H5_SUFFIXES + PICKLE_SUFFIXES
_HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"


def sniff_format(path: str | os.PathLike) -> str:
    """``"safetensors"``, ``"h5"`` or ``"pickle"``: by suffix first, then by content for files whose name says
    nothing (a safetensors file starts with an 8-byte little-endian header length and a JSON ``{``; an HDF5 file
    with its 8-byte signature). Anything else is treated as a pickled torch checkpoint."""
    p = Path(path)
    name = p.name.lower()
    if name.endswith(".safetensors"):
        return "safetensors"
    if name.endswith(H5_SUFFIXES):
        return "h5"
    try:
        with open(p, "rb") as f:
            head = f.read(9)
        size = p.stat().st_size
    except OSError:
        return "pickle"
    if head[:8] == _HDF5_MAGIC:
        return "h5"
    if len(head) == 9 and head[8:9] == b"{" and 0 < int.from_bytes(head[:8], "little") <= size - 8:
        return "safetensors"
    return "pickle"


def load_weights_file(path: str | os.PathLike, *, allow_pickle: bool = False,
                      map_location: str | torch.device = "cpu") -> dict[str, torch.Tensor]:
    """Load the tensors of a weights file, dispatching on :func:`sniff_format`:

    - ``.safetensors``: a flat ``{name: tensor}``;
    - Keras HDF5 (``.h5`` / ``.hdf5``): ``{"<layer>/<weight>:0": tensor}`` in the file's ``layer_names`` order, read
      with h5py (``pip install 'ganzoo[convert]'``) by :func:`ganzoo.hub.converters.krasserm.read_keras_h5`; nothing
      in the file is executed;
    - anything else (``.pth``, ``.pt``, ``.pth.tar``, ``.tar``, ``.ckpt`` ...): a pickled torch checkpoint, only when
      ``allow_pickle=True``, through ``torch.load(weights_only=True)``, which refuses arbitrary objects. Pickled
      checkpoints may nest the tensors (``{"state_dict": {...}}``); they are returned as loaded and flattened by
      :func:`ganzoo.hub.converters.find_state_dicts`.

    Raises FileNotFoundError, PickleNotAllowedError, CorruptWeightsError (unreadable file), ImportError (no h5py).
    """
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"weights file not found: {p}")
    fmt = sniff_format(p)
    if fmt == "h5":
        from .converters.krasserm import read_keras_h5

        return read_keras_h5(p)
    if fmt == "pickle":
        if not allow_pickle:
            raise PickleNotAllowedError(
                f"{p.name} is not a .safetensors or Keras .h5 file; pickled checkpoints can run code when loaded, so "
                f"ganzoo loads them only when you pass allow_pickle=True (--allow-pickle on the command line), and "
                f"then through torch.load(weights_only=True)."
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


def read_safetensors_metadata(path: str | os.PathLike) -> dict[str, str]:
    """The ``__metadata__`` of a safetensors file (``{}`` when it has none or is not a safetensors file).
    ganzoo's save_pretrained writes ``ganzoo_model`` and ``ganzoo_config`` there."""
    if sniff_format(path) != "safetensors":
        return {}
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(path), framework="pt") as f:
            return dict(f.metadata() or {})
    except (SafetensorError, OSError, ValueError, RuntimeError):
        return {}


def save_safetensors(state: Mapping[str, torch.Tensor], path: str | os.PathLike,
                     metadata: Mapping[str, str] | None = None) -> str:
    """Write ``state`` to ``path`` atomically (temporary name, then rename). Returns the file's sha256.

    The same tensors and metadata always give the same bytes, so a published sha256 can be reproduced."""
    from safetensors.torch import save

    data = _canonical_header(save({k: v.detach().contiguous().cpu() for k, v in state.items()},
                                  metadata=dict(metadata or {})))
    from ganzoo.utils import atomic_write

    atomic_write(path, data)
    return hashlib.sha256(data).hexdigest()


def _canonical_header(data: bytes) -> bytes:
    """Rewrite a safetensors file's JSON header with sorted keys. safetensors keeps ``__metadata__`` in a hash map
    whose order changes from process to process; the tensors' byte offsets do not depend on the header, which
    stays space-padded to a multiple of 8 bytes as the format asks."""
    import json

    n = int.from_bytes(data[:8], "little")
    header = json.dumps(json.loads(data[8:8 + n]), separators=(",", ":"), sort_keys=True).encode()
    header += b" " * (-len(header) % 8)
    return len(header).to_bytes(8, "little") + header + data[8 + n:]


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


NETS = ("generator", "discriminator")


def load_parts(model: nn.Module, state: Mapping[str, torch.Tensor], parts: tuple[str, ...] | None = None, *,
               what: str = "weights") -> tuple[str, ...]:
    """Check, then copy ``state`` (ganzoo names) into ``model``: the one weight loader of ganzoo.

    ``parts`` names the networks ``state`` holds (``("generator",)`` for a generator-only file), each of which
    must match completely (names and shapes), and nothing outside them may be in ``state``; None means the
    networks its keys name. Floating tensors are cast to the model's dtypes (stored weights may be half
    precision; integer buffers such as ``num_batches_tracked`` keep theirs). Nothing is copied unless everything
    matches: StateDictMismatchError names every missing, unexpected or misshapen tensor, IntegrityError a
    tensor outside ``parts``. Sets and returns ``model.pretrained_parts``.
    """
    declared = parts is not None
    if parts is None:
        present = tuple(n for n in NETS if any(k.startswith(n + ".") for k in state))
        outside = any(not k.startswith(tuple(n + "." for n in present)) for k in state)
        parts = NETS if outside or not present else present  # stray keys: check the whole model, name them
    parts = tuple(parts)
    if not parts or any(p not in NETS for p in parts):
        raise IntegrityError(f"{what}: weights.parts must be a non-empty subset of {list(NETS)}, got {list(parts)}")
    outside_keys = sorted(k for k in state if not k.startswith(tuple(p + "." for p in parts)))
    if declared and outside_keys and set(parts) != set(NETS):
        raise IntegrityError(f"{what}: the weights are declared to hold {list(parts)}, but they also have "
                             f"{len(outside_keys)} other tensors ({', '.join(outside_keys[:4])} ...)")
    ref = model.state_dict()
    state = {k: (v.to(ref[k].dtype) if k in ref and v.is_floating_point() else v) for k, v in state.items()}
    # one check over every part, so the error names every missing, unexpected or misshapen tensor at once
    check_state_dict(model, state, prefix="" if set(parts) == set(NETS) else parts[0] + ".")
    model.load_state_dict(state, strict=False)
    model.pretrained_parts = tuple(n for n in NETS if n in parts)
    return model.pretrained_parts


def load_into(model: nn.Module, state: Mapping[str, torch.Tensor]) -> nn.Module:
    """:func:`load_parts` for a state dict that must cover the whole model (generator and discriminator)."""
    load_parts(model, state, NETS)
    return model
