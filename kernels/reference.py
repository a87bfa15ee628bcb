"""Plain-PyTorch reference implementations of the fused ops, their shape rules and argument checks.

These are the ``reference`` backend (what the ops run on the CPU) and what the Triton kernels are tested against.
Every function takes the op's pre-packed operands (see :mod:`ganzoo.kernels.pack`), computes in float32 (float64
for float64 inputs) and returns the input's dtype in channels-last memory format (NHWC / NDHWC strides on an
NCHW / NCDHW shape), like the Triton kernels.

Layouts (logical shapes; any memory format is accepted):

* ``conv2d_act``: x (N, Cin, H, W), weight (KH, KW, Cin, Cout), bias (Cout,), alpha (Cout,) or None,
  residual (N, Cout, OH, OW) or None -> (N, Cout, OH, OW); ``padding`` is (top, bottom, left, right).
* ``conv2d_shuffle_act``: weight (KH, KW, Cin, Cout * r^2) with PyTorch's PixelShuffle channel order
  (conv channel c * r^2 + i * r + j -> pixel (y * r + i, x * r + j), channel c), "same" padding (KH, KW odd),
  bias (Cout * r^2,), alpha (Cout,) or None -> (N, Cout, r*H, r*W).
* ``conv_transpose_act``: x (N, Cin, [D,] H, W), weight ([KD,] KH, KW, Cin, Cout), bias (Cout,) ->
  (N, Cout, *size), size = (in - 1) * stride - 2 * padding + k + output_padding - crop per spatial dim (``crop``
  drops the last rows/columns: TensorFlow's 'SAME' transposed convs).
* ``upsample2x_conv3x3_act``: x (N, Cin, H, W), weight (4, 4, Cin, Cout) = the k4/s2/p1 transposed-conv form of
  nearest-2x upsampling followed by a 3x3 'same' conv (:func:`ganzoo.kernels.pack.upsample_conv3x3_weight`) ->
  (N, Cout, 2H, 2W).

Activations: ``none``, ``relu``, ``prelu`` (alpha: one slope per output channel), ``leaky_relu``
(negative slope ``act_param``), ``elu`` (alpha ``act_param``), ``tanh``, ``sigmoid``. The residual is added after
the activation: ``act(conv(x) + bias) + residual``.
"""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F

__all__ = [
    "ACTIVATIONS",
    "conv2d_act",
    "conv2d_shuffle_act",
    "conv_transpose_act",
    "upsample2x_conv3x3_act",
    "activate",
    "conv2d_out_size",
    "conv_transpose_full_size",
    "to_channels_last",
]

#: activation name -> the kernels' ACT code
ACTIVATIONS = {"none": 0, "relu": 1, "prelu": 2, "leaky_relu": 3, "elu": 4, "tanh": 5, "sigmoid": 6}
_FLOATS = (torch.float32, torch.float16, torch.bfloat16, torch.float64)


# --------------------------------------------------------------------------------------------------- checks
def _fail(op: str, what: str, expected: str, got: object) -> ValueError:
    return ValueError(f"ganzoo.kernels.{op}: {what}: expected {expected}, got {got}")


def _check_float(op: str, name: str, t: torch.Tensor, like: torch.Tensor | None = None) -> None:
    if not isinstance(t, torch.Tensor):
        raise TypeError(f"ganzoo.kernels.{op}: {name}: expected a torch.Tensor, got {type(t).__name__}")
    if t.dtype not in _FLOATS:
        raise TypeError(f"ganzoo.kernels.{op}: {name}: expected float32, float16, bfloat16 or float64, got {t.dtype}")
    if like is not None:
        if t.dtype != like.dtype:
            raise TypeError(f"ganzoo.kernels.{op}: {name}: expected dtype {like.dtype} (the input's), got {t.dtype}")
        if t.device != like.device:
            raise ValueError(f"ganzoo.kernels.{op}: {name}: expected device {like.device} (the input's), "
                             f"got {t.device}")


def _check_vec(op: str, name: str, t: torch.Tensor | None, n: int, x: torch.Tensor, optional: bool = False) -> None:
    if t is None:
        if not optional:
            raise _fail(op, name, f"a tensor of shape ({n},)", None)
        return
    _check_float(op, name, t, x)
    if tuple(t.shape) != (n,):
        raise _fail(op, f"{name} shape", f"({n},)", tuple(t.shape))


def _check_act(op: str, act: str, alpha: torch.Tensor | None, n_alpha: int, x: torch.Tensor) -> None:
    if act not in ACTIVATIONS:
        raise _fail(op, "act", f"one of {sorted(ACTIVATIONS)}", repr(act))
    if act == "prelu":
        _check_vec(op, "alpha (PReLU slopes)", alpha, n_alpha, x)
    elif alpha is not None:
        _check_vec(op, "alpha", alpha, n_alpha, x)


def _ints(op: str, name: str, v: Sequence[int], n: int, lo: int) -> tuple[int, ...]:
    v = tuple(int(i) for i in v)
    if len(v) != n or any(i < lo for i in v):
        raise _fail(op, name, f"{n} ints >= {lo}", v)
    return v


def conv2d_out_size(size: int, k: int, stride: int, pad_lo: int, pad_hi: int, dilation: int) -> int:
    """Output side of a conv: floor((size + pad_lo + pad_hi - dilation * (k - 1) - 1) / stride) + 1."""
    return (size + pad_lo + pad_hi - dilation * (k - 1) - 1) // stride + 1


def conv_transpose_full_size(size: int, k: int, stride: int, pad: int) -> int:
    """Output side of a transposed conv without output_padding: (size - 1) * stride - 2 * pad + k."""
    return (size - 1) * stride - 2 * pad + k


def _check_x_and_packed_weight(op: str, x, weight, cout: str) -> None:
    """x: a float (N, Cin, H, W) tensor; weight: a packed (KH, KW, Cin, <cout>) tensor of a matching dtype."""
    _check_float(op, "x", x)
    if x.dim() != 4:
        raise _fail(op, "x", "a 4-D tensor (N, Cin, H, W)", f"shape {tuple(x.shape)}")
    _check_float(op, "weight", weight, x)
    if weight.dim() != 4 or weight.shape[2] != x.shape[1]:
        raise _fail(op, "weight", f"a packed (KH, KW, Cin={x.shape[1]}, {cout}) tensor", f"shape {tuple(weight.shape)}")


def check_conv2d_act(x, weight, bias, alpha, residual, stride, padding, dilation, act) -> tuple[int, int]:
    """Validate the operands of ``conv2d_act``; returns the output size (OH, OW)."""
    op = "conv2d_act"
    _check_x_and_packed_weight(op, x, weight, "Cout")
    kh, kw, _, cout = weight.shape
    sh, sw = _ints(op, "stride", stride, 2, 1)
    pt, pb, pl, pr = _ints(op, "padding (top, bottom, left, right)", padding, 4, 0)
    dh, dw = _ints(op, "dilation", dilation, 2, 1)
    oh = conv2d_out_size(x.shape[2], kh, sh, pt, pb, dh)
    ow = conv2d_out_size(x.shape[3], kw, sw, pl, pr, dw)
    if oh < 1 or ow < 1:
        raise _fail(op, "output size", "at least 1x1", f"{oh}x{ow} for input {tuple(x.shape[2:])}, kernel "
                    f"{kh}x{kw}, dilation {(dh, dw)}, padding {(pt, pb, pl, pr)}")
    _check_vec(op, "bias", bias, cout, x)
    _check_act(op, act, alpha, cout, x)
    if residual is not None:
        _check_float(op, "residual", residual, x)
        want = (x.shape[0], cout, oh, ow)
        if tuple(residual.shape) != want:
            raise _fail(op, "residual shape", str(want), tuple(residual.shape))
    return oh, ow


def check_conv2d_shuffle_act(x, weight, bias, alpha, upscale, act) -> int:
    """Validate the operands of ``conv2d_shuffle_act``; returns the channels after the shuffle."""
    op = "conv2d_shuffle_act"
    _check_x_and_packed_weight(op, x, weight, "Cout*r^2")
    if weight.shape[0] % 2 == 0 or weight.shape[1] % 2 == 0:
        raise _fail(op, "kernel size", "odd sizes ('same' padding k // 2)", tuple(weight.shape[:2]))
    r = int(upscale)
    if r < 1 or weight.shape[3] % (r * r):
        raise _fail(op, "upscale", f"an int >= 1 whose square divides Cout*r^2={weight.shape[3]}", upscale)
    c = weight.shape[3] // (r * r)
    _check_vec(op, "bias", bias, weight.shape[3], x)
    _check_act(op, act, alpha, c, x)
    return c


def check_conv_transpose_act(x, weight, bias, alpha, stride, padding, output_padding, crop, act) -> list[int]:
    """Validate the operands of ``conv_transpose_act``; returns the output's spatial size."""
    op = "conv_transpose_act"
    _check_float(op, "x", x)
    if x.dim() not in (4, 5):
        raise _fail(op, "x", "a 4-D (N, Cin, H, W) or 5-D (N, Cin, D, H, W) tensor", f"shape {tuple(x.shape)}")
    nd = x.dim() - 2
    _check_float(op, "weight", weight, x)
    if weight.dim() != nd + 2 or weight.shape[nd] != x.shape[1]:
        raise _fail(op, "weight", f"a packed ({'KD, ' if nd == 3 else ''}KH, KW, Cin={x.shape[1]}, Cout) tensor",
                    f"shape {tuple(weight.shape)}")
    s = _ints(op, "stride", stride, nd, 1)
    p = _ints(op, "padding", padding, nd, 0)
    op_ = _ints(op, "output_padding", output_padding, nd, 0)
    c = _ints(op, "crop", crop, nd, 0)
    size = []
    for i in range(nd):
        if op_[i] >= s[i]:
            raise _fail(op, f"output_padding[{i}]", f"< stride ({s[i]})", op_[i])
        o = conv_transpose_full_size(x.shape[2 + i], weight.shape[i], s[i], p[i]) + op_[i] - c[i]
        if o < 1:
            raise _fail(op, "output size", "at least 1 per spatial dim", f"{o} in dim {i} (input "
                        f"{tuple(x.shape[2:])}, kernel {tuple(weight.shape[:nd])}, padding {p}, crop {c})")
        size.append(o)
    _check_vec(op, "bias", bias, weight.shape[-1], x)
    _check_act(op, act, alpha, weight.shape[-1], x)
    return size


def check_upsample2x_conv3x3_act(x, weight, bias, alpha, act) -> None:
    op = "upsample2x_conv3x3_act"
    _check_float(op, "x", x)
    if x.dim() != 4:
        raise _fail(op, "x", "a 4-D tensor (N, Cin, H, W)", f"shape {tuple(x.shape)}")
    _check_float(op, "weight", weight, x)
    if weight.dim() != 4 or tuple(weight.shape[:3]) != (4, 4, x.shape[1]):
        raise _fail(op, "weight", f"a pre-summed (4, 4, Cin={x.shape[1]}, Cout) tensor", f"shape {tuple(weight.shape)}")
    _check_vec(op, "bias", bias, weight.shape[3], x)
    _check_act(op, act, alpha, weight.shape[3], x)


# --------------------------------------------------------------------------------------------------- helpers
def to_channels_last(y: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """``y`` cast to ``dtype`` in a freshly allocated channels-last tensor (the strides the Triton ops return)."""
    fmt = torch.channels_last if y.dim() == 4 else torch.channels_last_3d
    out = torch.empty(y.shape, dtype=dtype, device=y.device, memory_format=fmt)
    out.copy_(y)
    return out


def _compute_dtype(x: torch.Tensor) -> torch.dtype:
    return torch.float64 if x.dtype == torch.float64 else torch.float32


def activate(y: torch.Tensor, act: str, alpha: torch.Tensor | None, act_param: float) -> torch.Tensor:
    """The epilogue activation on (N, C, ...) ``y``; ``alpha``: PReLU slopes (C,)."""
    if act == "none":
        return y
    if act == "relu":
        return torch.relu(y)
    if act == "prelu":
        assert alpha is not None
        return torch.where(y >= 0, y, y * alpha.to(y.dtype).view(1, -1, *([1] * (y.dim() - 2))))
    if act == "leaky_relu":
        return F.leaky_relu(y, act_param)
    if act == "elu":
        return F.elu(y, act_param)
    if act == "tanh":
        return torch.tanh(y)
    if act == "sigmoid":
        return torch.sigmoid(y)
    raise ValueError(f"unknown activation {act!r}; expected one of {sorted(ACTIVATIONS)}")


# --------------------------------------------------------------------------------------------------- the ops
def conv2d_act(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor, alpha: torch.Tensor | None,
               residual: torch.Tensor | None, stride: Sequence[int], padding: Sequence[int],
               dilation: Sequence[int], act: str, act_param: float) -> torch.Tensor:
    """act(conv2d(x) + bias) [+ residual] -> (N, Cout, OH, OW), channels-last."""
    check_conv2d_act(x, weight, bias, alpha, residual, stride, padding, dilation, act)
    cdt = _compute_dtype(x)
    pt, pb, pl, pr = padding
    xp = F.pad(x.to(cdt), (pl, pr, pt, pb)) if any(padding) else x.to(cdt)
    y = F.conv2d(xp, weight.to(cdt).permute(3, 2, 0, 1), bias.to(cdt), tuple(stride), 0, tuple(dilation))
    y = activate(y, act, alpha, act_param)
    if residual is not None:
        y = y + residual.to(cdt)
    return to_channels_last(y, x.dtype)


def conv2d_shuffle_act(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor, alpha: torch.Tensor | None,
                       upscale: int, act: str, act_param: float) -> torch.Tensor:
    """act(PixelShuffle(r)(conv2d(x, 'same') + bias)) -> (N, Cout, r*H, r*W), channels-last."""
    check_conv2d_shuffle_act(x, weight, bias, alpha, upscale, act)
    cdt = _compute_dtype(x)
    kh, kw = weight.shape[:2]
    y = F.conv2d(x.to(cdt), weight.to(cdt).permute(3, 2, 0, 1), bias.to(cdt), 1, (kh // 2, kw // 2))
    y = activate(F.pixel_shuffle(y, int(upscale)), act, alpha, act_param)
    return to_channels_last(y, x.dtype)


def conv_transpose_act(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor, alpha: torch.Tensor | None,
                       stride: Sequence[int], padding: Sequence[int], output_padding: Sequence[int],
                       crop: Sequence[int], act: str, act_param: float) -> torch.Tensor:
    """act(conv_transpose(x, output_padding) + bias) without its last ``crop`` rows/columns (the bottom/right crop
    of TensorFlow's 'SAME' transposed convs) -> (N, Cout, *size)."""
    size = check_conv_transpose_act(x, weight, bias, alpha, stride, padding, output_padding, crop, act)
    nd = x.dim() - 2
    cdt = _compute_dtype(x)
    w = weight.to(cdt).permute(nd, nd + 1, *range(nd))  # (Cin, Cout, K...)
    fn = F.conv_transpose2d if nd == 2 else F.conv_transpose3d
    y = fn(x.to(cdt), w, bias.to(cdt), tuple(stride), tuple(padding), tuple(output_padding))
    if any(crop):
        y = y[(..., *[slice(0, o) for o in size])]
    return to_channels_last(activate(y, act, alpha, act_param), x.dtype)


def upsample2x_conv3x3_act(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor, alpha: torch.Tensor | None,
                           act: str, act_param: float) -> torch.Tensor:
    """act(conv3x3_same(nearest_2x(x)) + bias), computed as the equivalent k4/s2/p1 transposed conv."""
    check_upsample2x_conv3x3_act(x, weight, bias, alpha, act)
    return conv_transpose_act(x, weight, bias, alpha, (2, 2), (1, 1), (0, 0), (0, 0), act, act_param)

