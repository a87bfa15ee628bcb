"""Launchers of the Triton kernels: layout, grid, block configs. Needs the ``triton`` package.

The kernels run on CUDA tensors, or on CPU tensors through Triton's interpreter when ``TRITON_INTERPRET=1`` is set
(numpy, for correctness checks only: slow, and ``num_warps`` / ``num_stages`` mean nothing there). The kernels are
loaded once per interpreter setting (see ``_triton_kernels.py``), so the variable may be set at any time before the
first launch.

Every launcher takes the op's logical NCHW / NCDHW operands in any memory format, runs NHWC / NDHWC inside and
returns a channels-last tensor. ``config`` picks the tile sizes (default: :func:`default_config`); ``out`` lets a
caller pass the output buffer (tests poison it with NaN so an element the kernel forgot shows).
"""
from __future__ import annotations

import dataclasses
import importlib.util
import os
import sys
from pathlib import Path
from types import ModuleType
from typing import Sequence

import torch

from . import reference

__all__ = ["BlockConfig", "default_config", "interpret_mode", "check_triton_device", "kernels", "conv2d_act",
           "conv2d_shuffle_act", "conv_transpose_act", "upsample2x_conv3x3_act", "INTERPRET_VAR"]

INTERPRET_VAR = "TRITON_INTERPRET"
_SRC = Path(__file__).with_name("_triton_kernels.py")
_LOADED: dict[bool, ModuleType] = {}


@dataclasses.dataclass(frozen=True)
class BlockConfig:
    """Tile sizes of one launch: BLOCK_M output pixels x BLOCK_N output channels, BLOCK_K reduction steps
    (each >= 16, powers of two), plus the GPU's ``num_warps`` / ``num_stages`` (ignored by the interpreter)."""

    block_m: int = 64
    block_n: int = 64
    block_k: int = 32
    num_warps: int = 4
    num_stages: int = 3

    def __post_init__(self) -> None:
        for f in ("block_m", "block_n", "block_k"):
            v = getattr(self, f)
            if not isinstance(v, int) or v < 16 or v & (v - 1):
                raise ValueError(f"BlockConfig.{f}: expected a power of two >= 16, got {v!r}")


def _pow2(n: int, lo: int, hi: int) -> int:
    p = 1 << max(0, int(n) - 1).bit_length()
    return max(lo, min(hi, p))


def default_config(m: int, n: int, k: int, dtype: torch.dtype) -> BlockConfig:
    """A tile for an (m x k) @ (k x n) implicit GEMM (k: the reduction length of one tap, or of the whole flat K).
    Half types take bigger tiles (tensor cores, fp32 accumulators); fp32 keeps the register footprint of the
    IEEE path small. Not autotuned: ``tools/bench_kernels.py --sweep`` times the alternatives on a GPU."""
    half = dtype in (torch.float16, torch.bfloat16)
    bn = _pow2(n, 16, 128 if half else 64)
    bk = _pow2(k, 16, 64 if half else 32)
    bm = _pow2(m, 16, 128 if half and m >= 16384 else 64)
    warps = 8 if bm * bn >= 128 * 64 else 4
    return BlockConfig(bm, bn, bk, warps, 3 if half else 2)


def interpret_mode() -> bool:
    """True when ``TRITON_INTERPRET=1``: the kernels run on CPU tensors through Triton's interpreter."""
    return os.environ.get(INTERPRET_VAR, "0").strip().lower() in ("1", "true", "on", "yes")


def check_triton_device(x: torch.Tensor, op: str = "kernel") -> None:
    """Raise unless the Triton kernels can run on ``x``'s device here: CUDA, or CPU with TRITON_INTERPRET=1."""
    if x.device.type == "cuda":
        return
    if x.device.type == "cpu":
        if interpret_mode():
            return
        raise RuntimeError(
            f"ganzoo.kernels.{op}: the Triton kernels need a CUDA tensor, or {INTERPRET_VAR}=1 in the environment "
            f"to run them on the CPU through Triton's interpreter (slow, for correctness checks; got a CPU tensor "
            f"and {INTERPRET_VAR}={os.environ.get(INTERPRET_VAR, '<unset>')!r}). Use backend='reference' to run the "
            f"plain-PyTorch implementation instead.")
    raise RuntimeError(f"ganzoo.kernels.{op}: the Triton kernels run on CUDA (or the CPU interpreter), "
                       f"got a tensor on {x.device}")


def kernels() -> ModuleType:
    """The kernel module for the current ``TRITON_INTERPRET`` setting (loaded on first use)."""
    mode = interpret_mode()
    mod = _LOADED.get(mode)
    if mod is None:
        name = f"ganzoo.kernels._triton_kernels_{'interpreted' if mode else 'jit'}"
        spec = importlib.util.spec_from_file_location(name, _SRC)
        assert spec is not None and spec.loader is not None
        mod = importlib.util.module_from_spec(spec)
        sys.modules[name] = mod  # inspect.getsource (used by @triton.jit) looks modules up here
        spec.loader.exec_module(mod)
        _LOADED[mode] = mod
        _register_for_caches(mod)
    return mod


def _register_for_caches(mod: ModuleType) -> None:
    """Tell AOTAutograd's cache which Triton kernels the ops launch (triton_op finds them by scanning the op's
    function, which here reaches them only at run time); best effort, private API."""
    try:
        from torch._library import triton as tlib

        for op in ("conv2d_act", "conv2d_shuffle_act", "conv_transpose_act", "upsample2x_conv3x3_act"):
            lst = tlib.triton_ops_to_kernels.setdefault(f"ganzoo::{op}", [])
            for k in (mod.conv2d_kernel, mod.phase_conv_kernel):
                if k not in lst:
                    lst.append(k)
    except Exception:  # noqa: BLE001 - only a cache key
        pass


def _launch(kernel, grid, *args, config: BlockConfig, **meta) -> None:
    from torch.library import wrap_triton

    dot_f32 = meta.pop("_dtype") == torch.bfloat16 and interpret_mode()
    wrap_triton(kernel)[grid](*args, DOT_F32=dot_f32, BLOCK_M=config.block_m, BLOCK_N=config.block_n,
                              BLOCK_K=config.block_k, num_warps=config.num_warps, num_stages=config.num_stages,
                              **meta)


def _precision(dtype: torch.dtype):
    if dtype == torch.float32:
        return "ieee"  # exact fp32 products (no TF32): the path tested against float64
    if dtype in (torch.float16, torch.bfloat16):
        return None  # Triton's default: fp16/bf16 operands, fp32 accumulation
    raise TypeError(f"ganzoo.kernels: the Triton kernels take float32, float16 or bfloat16 tensors, got {dtype} "
                    "(use backend='reference' for float64)")


def _cl(x: torch.Tensor) -> torch.Tensor:
    return x.contiguous(memory_format=torch.channels_last if x.dim() == 4 else torch.channels_last_3d)


def _out(shape: Sequence[int], like: torch.Tensor, out: torch.Tensor | None, op: str) -> torch.Tensor:
    fmt = torch.channels_last if len(shape) == 4 else torch.channels_last_3d
    if out is None:
        return torch.empty(tuple(shape), dtype=like.dtype, device=like.device, memory_format=fmt)
    if tuple(out.shape) != tuple(shape) or out.dtype != like.dtype or not out.is_contiguous(memory_format=fmt):
        raise ValueError(f"ganzoo.kernels.{op}: out: expected a channels-last {like.dtype} tensor of shape "
                         f"{tuple(shape)}, got {out.dtype} {tuple(out.shape)} with strides {out.stride()}")
    return out


def _act_code(act: str) -> int:
    return reference.ACTIVATIONS[act]


def _cdiv(a: int, b: int) -> int:
    return -(-a // b)


def conv2d_act(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor, alpha: torch.Tensor | None,
               residual: torch.Tensor | None, stride: Sequence[int], padding: Sequence[int],
               dilation: Sequence[int], act: str, act_param: float, *, config: BlockConfig | None = None,
               out: torch.Tensor | None = None) -> torch.Tensor:
    """Triton ``conv2d_act`` (see :mod:`ganzoo.kernels.reference` for the operands) -> (N, Cout, OH, OW)."""
    oh, ow = reference.check_conv2d_act(x, weight, bias, alpha, residual, stride, padding, dilation, act)
    check_triton_device(x, "conv2d_act")
    prec = _precision(x.dtype)
    n, cin, h, w = x.shape
    kh, kw, _, cout = weight.shape
    y = _out((n, cout, oh, ow), x, out, "conv2d_act")
    flat = cin < 16
    m = n * oh * ow
    config = config or default_config(m, cout, kh * kw * cin if flat else cin, x.dtype)
    res = _cl(residual) if residual is not None else bias
    grid = (_cdiv(m, config.block_m), _cdiv(cout, config.block_n))
    _launch(kernels().conv2d_kernel, grid, _cl(x), weight.contiguous(), bias.contiguous(),
            (alpha if alpha is not None else bias).contiguous(), res, n, h, w, cin, oh, ow, cout, y,
            config=config, KH=kh, KW=kw, SH=int(stride[0]), SW=int(stride[1]), PH=int(padding[0]),
            PW=int(padding[2]), DH=int(dilation[0]), DW=int(dilation[1]), R=1, ACT=_act_code(act),
            ACT_PARAM=float(act_param), HAS_RES=residual is not None, FLAT_K=flat, PRECISION=prec, _dtype=x.dtype)
    return y


def conv2d_shuffle_act(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor, alpha: torch.Tensor | None,
                       upscale: int, act: str, act_param: float, *, config: BlockConfig | None = None,
                       out: torch.Tensor | None = None) -> torch.Tensor:
    """Triton ``conv2d_shuffle_act``: the conv's output goes straight to the shuffled pixels -> (N, C, rH, rW)."""
    c = reference.check_conv2d_shuffle_act(x, weight, bias, alpha, upscale, act)
    check_triton_device(x, "conv2d_shuffle_act")
    prec = _precision(x.dtype)
    r = int(upscale)
    n, cin, h, w = x.shape
    kh, kw, _, cconv = weight.shape
    y = _out((n, c, h * r, w * r), x, out, "conv2d_shuffle_act")
    flat = cin < 16
    m = n * h * w
    config = config or default_config(m, cconv, kh * kw * cin if flat else cin, x.dtype)
    grid = (_cdiv(m, config.block_m), _cdiv(cconv, config.block_n))
    _launch(kernels().conv2d_kernel, grid, _cl(x), weight.contiguous(), bias.contiguous(),
            (alpha if alpha is not None else bias).contiguous(), bias, n, h, w, cin, h, w, cconv, y,
            config=config, KH=kh, KW=kw, SH=1, SW=1, PH=kh // 2, PW=kw // 2, DH=1, DW=1, R=r,
            ACT=_act_code(act), ACT_PARAM=float(act_param), HAS_RES=False, FLAT_K=flat, PRECISION=prec, _dtype=x.dtype)
    return y


def conv_transpose_act(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor, alpha: torch.Tensor | None,
                       stride: Sequence[int], padding: Sequence[int], output_padding: Sequence[int],
                       crop: Sequence[int], act: str, act_param: float, *, config: BlockConfig | None = None,
                       out: torch.Tensor | None = None) -> torch.Tensor:
    """Triton ``conv_transpose_act`` (2D or 3D) as sub-pixel phase convs -> (N, Cout, *output)."""
    size = reference.check_conv_transpose_act(x, weight, bias, alpha, stride, padding, output_padding, crop, act)
    check_triton_device(x, "conv_transpose_act")
    prec = _precision(x.dtype)
    nd = x.dim() - 2
    y = _out((x.shape[0], weight.shape[-1], *size), x, out, "conv_transpose_act")
    xs, ws, ss, ps, os_ = list(x.shape[2:]), list(weight.shape[:nd]), list(stride), list(padding), list(size)
    if nd == 2:  # 2D = 3D with a unit depth
        xs, ws, ss, ps, os_ = [1] + xs, [1] + ws, [1] + ss, [0] + ps, [1] + os_
    n, cin, cout = x.shape[0], x.shape[1], weight.shape[-1]
    js = [_cdiv(o, s) for o, s in zip(os_, ss)]
    m = n * js[0] * js[1] * js[2]
    config = config or default_config(m, cout, cin, x.dtype)
    grid = (_cdiv(m, config.block_m), _cdiv(cout, config.block_n), ss[0] * ss[1] * ss[2])
    _launch(kernels().phase_conv_kernel, grid, _cl(x), weight.contiguous(), bias.contiguous(),
            (alpha if alpha is not None else bias).contiguous(), n, *xs, cin, *os_, cout, *js, y,
            config=config, KD=ws[0], KH=ws[1], KW=ws[2], SD=int(ss[0]), SH=int(ss[1]), SW=int(ss[2]),
            PD=int(ps[0]), PH=int(ps[1]), PW=int(ps[2]), ACT=_act_code(act), ACT_PARAM=float(act_param),
            PRECISION=prec, _dtype=x.dtype)
    return y


def upsample2x_conv3x3_act(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor, alpha: torch.Tensor | None,
                           act: str, act_param: float, *, config: BlockConfig | None = None,
                           out: torch.Tensor | None = None) -> torch.Tensor:
    """Triton ``upsample2x_conv3x3_act``: the k4/s2/p1 phase conv with pre-summed weights -> (N, Cout, 2H, 2W)."""
    reference.check_upsample2x_conv3x3_act(x, weight, bias, alpha, act)
    return conv_transpose_act(x, weight, bias, alpha, (2, 2), (1, 1), (0, 0), (0, 0), act, act_param,
                              config=config, out=out)
