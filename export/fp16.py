"""Half-precision copies of a generator with overflow-prone layers kept in fp32.

fp16 tops out at 65504. Normalisation layers square and sum activations (variance), which overflows in half
for the large activations of deep generators and gives black or NaN images; they run in fp32 here, with a cast
up before and a cast back to half after, which the ONNX graph shows as Cast -> Op -> Cast.
"""
from __future__ import annotations

import copy
import fnmatch
from typing import Any, Sequence

import torch
from torch import nn

__all__ = ["to_half", "HalfWrapper"]


def _to_fp32(module: nn.Module, args: tuple[Any, ...]) -> tuple[Any, ...]:
    return tuple(a.float() if isinstance(a, torch.Tensor) and a.is_floating_point() else a for a in args)


def _to_half(module: nn.Module, args: tuple[Any, ...], out: Any) -> Any:
    if isinstance(out, torch.Tensor):
        return out.half() if out.is_floating_point() else out
    if isinstance(out, (tuple, list)):
        return type(out)(o.half() if isinstance(o, torch.Tensor) and o.is_floating_point() else o for o in out)
    return out


def to_half(module: nn.Module, keep_types: Sequence[str] = (), keep_names: Sequence[str] = ()) -> tuple[nn.Module, list[str]]:
    """A deep copy of ``module`` in fp16, except submodules whose class name is in ``keep_types`` or whose
    qualified name matches a pattern of ``keep_names`` (fnmatch), which stay fp32 behind casts.

    Returns (half module, qualified names of the fp32 islands). ``module`` itself is not modified.
    """
    half = copy.deepcopy(module).half()
    kept: list[str] = []
    for qname, sub in half.named_modules():
        if any(qname == k or qname.startswith(k + ".") for k in kept):
            continue  # already inside an fp32 island
        if type(sub).__name__ in keep_types or any(fnmatch.fnmatchcase(qname, p) for p in keep_names):
            if not qname:
                raise ValueError("keeping the whole module in fp32 is not an fp16 export")
            sub.float()
            sub.register_forward_pre_hook(_to_fp32)
            sub.register_forward_hook(_to_half)
            kept.append(qname)
    return half, kept


class HalfWrapper(nn.Module):
    """Runs a half module; casts floating inputs to half first and, with ``keep_io_types``, outputs back to
    float32, so the exported graph takes and returns fp32 like the fp32 one does."""

    def __init__(self, module: nn.Module, keep_io_types: bool = True):
        super().__init__()
        self.module = module
        self.keep_io_types = keep_io_types

    def forward(self, *xs: torch.Tensor) -> Any:
        xs = tuple(x.half() if x.is_floating_point() else x for x in xs)
        out = self.module(*xs)
        if not self.keep_io_types:
            return out
        if isinstance(out, torch.Tensor):
            return out.float()
        if isinstance(out, (tuple, list)):
            return tuple(o.float() if o.is_floating_point() else o for o in out)
        if isinstance(out, dict):
            return {k: (v.float() if v.is_floating_point() else v) for k, v in out.items()}
        return out
