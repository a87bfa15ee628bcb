"""FLOP and byte counts of the fused ops, and the roofline floor they imply (CPU-only arithmetic).

Conventions:

* FLOPs = 2 x the multiply-adds actually needed: taps that fall on zero padding, or on the zeros a transposed conv
  inserts, are not counted (the phase kernels do not execute them either).
* Bytes = the minimum traffic of one fused call: input, weights, bias / slopes, residual read once, output written
  once. The floor of a call is ``max(FLOPs / peak FLOP/s, bytes / peak bytes/s)``.
* :func:`unfused_bytes` is the traffic of the same layer run unfused (eager: the conv writes its output, then BN,
  the activation, the residual add and PixelShuffle each read and write it again).

:func:`model_costs` runs an optimised model on the ``meta`` device (no memory, no arithmetic) and returns one
:class:`LayerCost` per fused call. ``tools/bench_kernels.py`` puts these next to the measured times.
"""
from __future__ import annotations

import copy
import dataclasses
from typing import Sequence

import torch
from torch import nn

__all__ = ["LayerCost", "conv_taps", "conv_transpose_taps", "conv2d_cost", "conv_transpose_cost", "module_cost",
           "model_costs", "unfused_bytes", "floor_seconds", "PEAKS", "peak_for", "dtype_bytes"]

#: dense peaks (FLOP/s by dtype, memory bytes/s): fp32 is the non-tensor-core IEEE rate the "ieee" path runs at
PEAKS: dict[str, dict[str, float]] = {
    "H200": {"fp16": 989e12, "bf16": 989e12, "fp32": 67e12, "bytes": 4.8e12},
    "H100": {"fp16": 989e12, "bf16": 989e12, "fp32": 67e12, "bytes": 3.35e12},  # SXM; PCIe: see peak_for
    "A100": {"fp16": 312e12, "bf16": 312e12, "fp32": 19.5e12, "bytes": 2.0e12},
    "L40S": {"fp16": 362e12, "bf16": 362e12, "fp32": 91.6e12, "bytes": 0.864e12},
    "L4": {"fp16": 121e12, "bf16": 121e12, "fp32": 30.3e12, "bytes": 0.3e12},
}


def peak_for(gpu_name: str, dtype: str) -> tuple[float, float] | None:
    """(peak FLOP/s, peak bytes/s) for a GPU name as torch.cuda.get_device_name reports it, or None."""
    name = gpu_name.upper()
    if "H100" in name and "PCIE" in name:
        return {"fp16": 756e12, "bf16": 756e12, "fp32": 51e12}[dtype], 2.0e12
    for key in PEAKS:  # H200 before H100, L40S before L4
        if key in name:
            return PEAKS[key][dtype], PEAKS[key]["bytes"]
    return None


def dtype_bytes(dtype: torch.dtype | str) -> int:
    if isinstance(dtype, str):
        return {"fp32": 4, "float32": 4, "fp16": 2, "float16": 2, "bf16": 2, "bfloat16": 2}[dtype]
    return torch.empty(0, dtype=dtype).element_size()


@dataclasses.dataclass
class LayerCost:
    """One fused call: ``flops`` (useful), ``bytes`` (minimum traffic), ``unfused_bytes`` (eager traffic)."""

    name: str
    op: str
    shape: str
    flops: int
    bytes: int
    unfused_bytes: int

    @property
    def intensity(self) -> float:
        """FLOP per byte."""
        return self.flops / max(self.bytes, 1)

    def floor_s(self, peak_flops: float, peak_bytes: float) -> float:
        return floor_seconds(self.flops, self.bytes, peak_flops, peak_bytes)


def floor_seconds(flops: float, nbytes: float, peak_flops: float, peak_bytes: float) -> float:
    """The roofline floor: max(flops / peak_flops, bytes / peak_bytes), in seconds."""
    return max(flops / peak_flops, nbytes / peak_bytes)


def conv_taps(size: int, k: int, stride: int, pad_lo: int, dilation: int, out: int) -> int:
    """(output position, tap) pairs of one axis of a conv whose tap lands inside the input (not on padding)."""
    return sum(1 for o in range(out) for t in range(k) if 0 <= o * stride - pad_lo + t * dilation < size)


def conv_transpose_taps(size: int, k: int, stride: int, pad: int, out: int) -> int:
    """(input position, tap) pairs of one axis of a transposed conv that land on a kept output position."""
    return sum(1 for i in range(size) for t in range(k) if 0 <= i * stride - pad + t < out)


def _prod(v: Sequence[int]) -> int:
    p = 1
    for x in v:
        p *= int(x)
    return p


def conv2d_cost(n: int, cin: int, cout: int, in_hw: Sequence[int], out_hw: Sequence[int], k: Sequence[int],
                stride: Sequence[int], pad_lo: Sequence[int], dilation: Sequence[int], elem: int, *,
                residual: bool = False, slopes: int = 0, out_elems: int | None = None) -> tuple[int, int]:
    """(FLOPs, bytes) of one conv2d_act / conv2d_shuffle_act call. ``out_elems``: elements written (default
    n * cout * OH * OW; the same after a PixelShuffle)."""
    taps = _prod(conv_taps(in_hw[i], k[i], stride[i], pad_lo[i], dilation[i], out_hw[i]) for i in range(2))
    flops = 2 * n * cin * cout * taps
    out_e = out_elems if out_elems is not None else n * cout * _prod(out_hw)
    nbytes = elem * (n * cin * _prod(in_hw) + out_e * (2 if residual else 1) + _prod(k) * cin * cout + cout + slopes)
    return flops, nbytes


def conv_transpose_cost(n: int, cin: int, cout: int, in_size: Sequence[int], out_size: Sequence[int],
                        k: Sequence[int], stride: Sequence[int], pad: Sequence[int], elem: int, *,
                        slopes: int = 0) -> tuple[int, int]:
    """(FLOPs, bytes) of one conv_transpose_act call (2D or 3D; inserted zeros and cropped outputs not counted)."""
    taps = _prod(conv_transpose_taps(in_size[i], k[i], stride[i], pad[i], out_size[i]) for i in range(len(k)))
    flops = 2 * n * cin * cout * taps
    nbytes = elem * (n * cin * _prod(in_size) + n * cout * _prod(out_size) + _prod(k) * cin * cout + cout + slopes)
    return flops, nbytes


def unfused_bytes(fused_bytes: int, out_elems: int, elem: int, *, norm: bool, act: bool, residual: bool,
                  shuffle: bool, upsample_in: int = 0) -> int:
    """Eager traffic of the same layer: every separate elementwise pass reads and writes the conv output once more
    (BN, activation, PixelShuffle), the residual add reads two tensors and writes one; a nearest upsample writes
    its 4x tensor and the conv reads it back (``upsample_in``: the input's elements)."""
    passes = int(norm) + int(act) + int(shuffle)
    extra = passes * 2 * out_elems + (2 * out_elems if residual else 0)
    if upsample_in:
        extra += (4 + 4) * upsample_in  # write the 4x tensor, read it back instead of the 1x input
    return fused_bytes + elem * extra


def module_cost(module: nn.Module, x: torch.Tensor, y: torch.Tensor, name: str = "",
                residual: torch.Tensor | None = None) -> LayerCost:
    """The cost of one call of a fused module (x: its input, y: its output)."""
    from .fuse import FusedConv2d, FusedConvShuffle, FusedConvTranspose, FusedUpsampleConv

    e = x.element_size()
    n, cin = x.shape[:2]
    slopes = module.alpha.numel() if getattr(module, "alpha", None) is not None else 0
    act = module.act != "none"
    if isinstance(module, FusedConv2d):
        kh, kw, _, cout = module.weight.shape
        pt, _, pl, _ = module.padding
        f, b = conv2d_cost(n, cin, cout, x.shape[2:], y.shape[2:], (kh, kw), module.stride, (pt, pl), module.dilation,
                           e, residual=residual is not None, slopes=slopes)
        ub = unfused_bytes(b, y.numel(), e, norm=module.folded_norm, act=act, residual=residual is not None,
                           shuffle=False)
        shape = f"{kh}x{kw} {cin}->{cout} s{module.stride[0]} d{module.dilation[0]} {tuple(x.shape[2:])}"
    elif isinstance(module, FusedConvShuffle):
        kh, kw, _, cc = module.weight.shape
        f, b = conv2d_cost(n, cin, cc, x.shape[2:], x.shape[2:], (kh, kw), (1, 1), (kh // 2, kw // 2), (1, 1), e,
                           slopes=slopes, out_elems=y.numel())
        ub = unfused_bytes(b, y.numel(), e, norm=False, act=act, residual=False, shuffle=True)
        shape = f"{kh}x{kw} {cin}->{cc} + shuffle({module.upscale}) {tuple(x.shape[2:])}"
    elif isinstance(module, FusedConvTranspose):
        nd = x.dim() - 2
        ks = tuple(module.weight.shape[:nd])
        cout = module.weight.shape[-1]
        f, b = conv_transpose_cost(n, cin, cout, x.shape[2:], y.shape[2:], ks, module.stride, module.padding, e,
                                   slopes=slopes)
        ub = unfused_bytes(b, y.numel(), e, norm=module.folded_norm, act=act, residual=False, shuffle=False)
        shape = f"T{'x'.join(map(str, ks))} {cin}->{cout} s{module.stride[0]} {tuple(x.shape[2:])}"
    elif isinstance(module, FusedUpsampleConv):
        cout = module.weight.shape[-1]
        f, b = conv_transpose_cost(n, cin, cout, x.shape[2:], y.shape[2:], (4, 4), (2, 2), (1, 1), e, slopes=slopes)
        ub = unfused_bytes(b, y.numel(), e, norm=module.folded_norm, act=act, residual=False, shuffle=False,
                           upsample_in=x.numel())
        shape = f"up2x+3x3 {cin}->{cout} {tuple(x.shape[2:])}"
    else:
        raise TypeError(f"module_cost: expected a ganzoo fused module, got {type(module).__name__}")
    return LayerCost(name, module.op, shape, int(f), int(b), int(ub))


def model_costs(model: nn.Module, inputs: Sequence[torch.Tensor]) -> list[LayerCost]:
    """One LayerCost per fused call of ``model(*inputs)`` (an optimised model), computed on the meta device:
    nothing is allocated or computed."""
    from .fuse import FusedConv2d, FusedConvShuffle, FusedConvTranspose, FusedUpsampleConv

    leaf_types = (FusedConv2d, FusedConvShuffle, FusedConvTranspose, FusedUpsampleConv)
    m = copy.deepcopy(model).to("meta")
    costs: list[LayerCost] = []
    handles = []
    for name, mod in m.named_modules():
        if isinstance(mod, leaf_types):
            def hook(mod, args, kwargs, out, name=name):
                res = kwargs.get("residual", args[1] if len(args) > 1 else None)
                costs.append(module_cost(mod, args[0], out, name, residual=res))

            handles.append(mod.register_forward_hook(hook, with_kwargs=True))
    xs = [x.to("meta") if isinstance(x, torch.Tensor) and x.is_floating_point() else x for x in inputs]
    try:
        with torch.no_grad():
            m(*xs)
    finally:
        for h in handles:
            h.remove()
    return costs
