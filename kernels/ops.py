"""The fused ops as torch custom ops: ``torch.ops.ganzoo.<name>``.

Each op is registered with ``torch.library.triton_op`` (its body launches the Triton kernel through ``wrap_triton``,
so torch.compile sees the kernel and torch.export keeps one ``ganzoo::<name>`` node), with a CPU kernel (the
plain-PyTorch reference of :mod:`ganzoo.kernels.reference`: the op works without a GPU) and a fake impl (shapes and
channels-last strides, for torch.compile / torch.export). Without the ``triton`` package the same ops are plain
``torch.library.custom_op`` with the reference as their only implementation, so the reference backend needs no
Triton.

Dispatch: CUDA tensors run the Triton kernel; CPU tensors run the reference. (Running the Triton kernels on CPU
tensors through Triton's interpreter is a test mode: the fused modules call :mod:`ganzoo.kernels.triton_impl`
directly for it, see :mod:`ganzoo.kernels.fuse`.)

Schemas::

    conv2d_act(Tensor x, Tensor weight, Tensor bias, Tensor? alpha, Tensor? residual, int[] stride,
               int[] padding, int[] dilation, str act, float act_param) -> Tensor
    conv2d_shuffle_act(Tensor x, Tensor weight, Tensor bias, Tensor? alpha, int upscale, str act,
                       float act_param) -> Tensor
    conv_transpose_act(Tensor x, Tensor weight, Tensor bias, Tensor? alpha, int[] stride, int[] padding,
                       int[] output_padding, int[] crop, str act, float act_param) -> Tensor
    upsample2x_conv3x3_act(Tensor x, Tensor weight, Tensor bias, Tensor? alpha, str act, float act_param) -> Tensor
"""
from __future__ import annotations

import importlib.util
from typing import Callable, Optional

import torch

from . import reference

__all__ = ["HAVE_TRITON", "OPS", "conv2d_act", "conv2d_shuffle_act", "conv_transpose_act", "upsample2x_conv3x3_act"]

HAVE_TRITON = importlib.util.find_spec("triton") is not None
Tensor = torch.Tensor


def _on_gpu(x: Tensor) -> bool:
    return x.device.type == "cuda"


def _empty_cl(shape, like: Tensor) -> Tensor:
    fmt = torch.channels_last if len(shape) == 4 else torch.channels_last_3d
    return torch.empty(tuple(shape), dtype=like.dtype, device=like.device, memory_format=fmt)


# ------------------------------------------------------------------------------------------- implementations
def _conv2d_act(x: Tensor, weight: Tensor, bias: Tensor, alpha: Optional[Tensor], residual: Optional[Tensor],
                stride: list[int], padding: list[int], dilation: list[int], act: str, act_param: float) -> Tensor:
    if _on_gpu(x):
        from . import triton_impl

        return triton_impl.conv2d_act(x, weight, bias, alpha, residual, stride, padding, dilation, act, act_param)
    return reference.conv2d_act(x, weight, bias, alpha, residual, stride, padding, dilation, act, act_param)


def _conv2d_shuffle_act(x: Tensor, weight: Tensor, bias: Tensor, alpha: Optional[Tensor], upscale: int, act: str,
                        act_param: float) -> Tensor:
    if _on_gpu(x):
        from . import triton_impl

        return triton_impl.conv2d_shuffle_act(x, weight, bias, alpha, upscale, act, act_param)
    return reference.conv2d_shuffle_act(x, weight, bias, alpha, upscale, act, act_param)


def _conv_transpose_act(x: Tensor, weight: Tensor, bias: Tensor, alpha: Optional[Tensor], stride: list[int],
                        padding: list[int], output_padding: list[int], crop: list[int], act: str,
                        act_param: float) -> Tensor:
    if _on_gpu(x):
        from . import triton_impl

        return triton_impl.conv_transpose_act(x, weight, bias, alpha, stride, padding, output_padding, crop, act,
                                              act_param)
    return reference.conv_transpose_act(x, weight, bias, alpha, stride, padding, output_padding, crop, act,
                                        act_param)


def _upsample2x_conv3x3_act(x: Tensor, weight: Tensor, bias: Tensor, alpha: Optional[Tensor], act: str,
                            act_param: float) -> Tensor:
    if _on_gpu(x):
        from . import triton_impl

        return triton_impl.upsample2x_conv3x3_act(x, weight, bias, alpha, act, act_param)
    return reference.upsample2x_conv3x3_act(x, weight, bias, alpha, act, act_param)


# ------------------------------------------------------------------------------------------------ fake impls
def _fake_conv2d_act(x, weight, bias, alpha, residual, stride, padding, dilation, act, act_param):
    oh, ow = reference.check_conv2d_act(x, weight, bias, alpha, residual, stride, padding, dilation, act)
    return _empty_cl((x.shape[0], weight.shape[3], oh, ow), x)


def _fake_conv2d_shuffle_act(x, weight, bias, alpha, upscale, act, act_param):
    c = reference.check_conv2d_shuffle_act(x, weight, bias, alpha, upscale, act)
    return _empty_cl((x.shape[0], c, x.shape[2] * upscale, x.shape[3] * upscale), x)


def _fake_conv_transpose_act(x, weight, bias, alpha, stride, padding, output_padding, crop, act, act_param):
    size = reference.check_conv_transpose_act(x, weight, bias, alpha, stride, padding, output_padding, crop, act)
    return _empty_cl((x.shape[0], weight.shape[-1], *size), x)


def _fake_upsample2x_conv3x3_act(x, weight, bias, alpha, act, act_param):
    reference.check_upsample2x_conv3x3_act(x, weight, bias, alpha, act)
    return _empty_cl((x.shape[0], weight.shape[3], 2 * x.shape[2], 2 * x.shape[3]), x)


# -------------------------------------------------------------------------------------------------- register
def _register(name: str, impl: Callable, ref: Callable, fake: Callable):
    qualname = f"ganzoo::{name}"
    if HAVE_TRITON:
        op = torch.library.triton_op(qualname, impl, mutates_args=())
    else:
        op = torch.library.custom_op(qualname, impl, mutates_args=())
    op.register_kernel("cpu")(ref)
    op.register_fake(fake)  # replaces triton_op's default (tracing the launcher): shapes + channels-last strides
    return op


conv2d_act = _register("conv2d_act", _conv2d_act, reference.conv2d_act, _fake_conv2d_act)
conv2d_shuffle_act = _register("conv2d_shuffle_act", _conv2d_shuffle_act, reference.conv2d_shuffle_act,
                               _fake_conv2d_shuffle_act)
conv_transpose_act = _register("conv_transpose_act", _conv_transpose_act, reference.conv_transpose_act,
                               _fake_conv_transpose_act)
upsample2x_conv3x3_act = _register("upsample2x_conv3x3_act", _upsample2x_conv3x3_act,
                                   reference.upsample2x_conv3x3_act, _fake_upsample2x_conv3x3_act)

#: op name -> (CustomOpDef, torch.ops overload packet)
OPS = {
    "conv2d_act": conv2d_act,
    "conv2d_shuffle_act": conv2d_shuffle_act,
    "conv_transpose_act": conv_transpose_act,
    "upsample2x_conv3x3_act": upsample2x_conv3x3_act,
}
