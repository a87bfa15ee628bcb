"""ONNX decompositions of the fused ops: the exported graph of an optimised model holds standard ops only.

:func:`translation_table` maps each ``torch.ops.ganzoo.*`` overload to an onnxscript function for
``torch.onnx.export(..., dynamo=True, custom_translation_table=...)``; ``ganzoo.export`` passes it whenever the
module being exported contains fused modules (:func:`needs_translation`). The packed weights are turned back into
ONNX's layouts with a ``Transpose`` of the initializer, which the exporter's optimiser constant-folds.

* ``conv2d_act``        -> [Pad-free] Conv(pads) -> activation [-> Add residual]
* ``conv2d_shuffle_act`` -> Conv -> DepthToSpace(mode="CRD") -> activation (PRelu with (C, 1, 1) slopes)
* ``conv_transpose_act`` -> ConvTranspose(output_padding) [-> Slice (crop)] -> activation
* ``upsample2x_conv3x3_act`` -> ConvTranspose(k4, s2, p1) with the pre-summed weights -> activation
  (exact: the same arithmetic as the fused kernel, 4 instead of 9 taps per output pixel)

Activations: Relu, PRelu, LeakyRelu(alpha), Elu(alpha), Tanh, Sigmoid.
"""
from __future__ import annotations

from typing import Any, Callable

from torch import nn

__all__ = ["translation_table", "needs_translation"]


def needs_translation(module: nn.Module) -> bool:
    """True when ``module`` contains a fused module of :mod:`ganzoo.kernels.fuse`."""
    from .fuse import FUSED_TYPES

    return any(isinstance(m, FUSED_TYPES) for m in module.modules())


def translation_table() -> dict[Any, Callable[..., Any]]:
    """{torch.ops.ganzoo.<op>.default: onnxscript function} for torch.onnx's dynamo exporter."""
    import torch
    from onnxscript import opset18 as op

    from . import ops  # noqa: F401 - the overloads must exist

    def _act(y, act: str, alpha, act_param: float):
        if act == "none":
            return y
        if act == "relu":
            return op.Relu(y)
        if act == "prelu":
            return op.PRelu(y, op.Reshape(alpha, op.Constant(value_ints=[-1, 1, 1])))
        if act == "leaky_relu":
            return op.LeakyRelu(y, alpha=float(act_param))
        if act == "elu":
            return op.Elu(y, alpha=float(act_param))
        if act == "tanh":
            return op.Tanh(y)
        if act == "sigmoid":
            return op.Sigmoid(y)
        raise ValueError(f"ganzoo.kernels.onnx: unknown activation {act!r}")

    def _prelu_3d(y, alpha):  # 5-D: slopes (C, 1, 1, 1)
        return op.PRelu(y, op.Reshape(alpha, op.Constant(value_ints=[-1, 1, 1, 1])))

    def conv2d_act(x, weight, bias, alpha, residual, stride, padding, dilation, act, act_param):
        pt, pb, pl, pr = (int(p) for p in padding)
        y = op.Conv(x, op.Transpose(weight, perm=[3, 2, 0, 1]), bias, strides=[int(s) for s in stride],
                    pads=[pt, pl, pb, pr], dilations=[int(d) for d in dilation])
        y = _act(y, act, alpha, act_param)
        if residual is not None:
            y = op.Add(y, residual)
        return y

    def conv2d_shuffle_act(x, weight, bias, alpha, upscale, act, act_param):
        kh, kw = (int(k) for k in weight.shape[:2])
        y = op.Conv(x, op.Transpose(weight, perm=[3, 2, 0, 1]), bias, strides=[1, 1],
                    pads=[kh // 2, kw // 2, kh // 2, kw // 2])
        y = op.DepthToSpace(y, blocksize=int(upscale), mode="CRD")
        return _act(y, act, alpha, act_param)

    def conv_transpose_act(x, weight, bias, alpha, stride, padding, output_padding, crop, act, act_param):
        nd = len(stride)
        perm = [nd, nd + 1, *range(nd)]
        pads = [int(p) for p in padding]
        y = op.ConvTranspose(x, op.Transpose(weight, perm=perm), bias, strides=[int(s) for s in stride],
                             pads=pads + pads, output_padding=[int(p) for p in output_padding])
        if any(int(c) for c in crop):
            axes = [2 + i for i in range(nd) if int(crop[i])]
            ends = [-int(crop[i]) for i in range(nd) if int(crop[i])]
            y = op.Slice(y, op.Constant(value_ints=[0] * len(axes)), op.Constant(value_ints=ends),
                         op.Constant(value_ints=axes))
        if act == "prelu" and nd == 3:
            return _prelu_3d(y, alpha)
        return _act(y, act, alpha, act_param)

    def upsample2x_conv3x3_act(x, weight, bias, alpha, act, act_param):
        y = op.ConvTranspose(x, op.Transpose(weight, perm=[2, 3, 0, 1]), bias, strides=[2, 2], pads=[1, 1, 1, 1])
        return _act(y, act, alpha, act_param)

    g = torch.ops.ganzoo
    return {g.conv2d_act.default: conv2d_act, g.conv2d_shuffle_act.default: conv2d_shuffle_act,
            g.conv_transpose_act.default: conv_transpose_act,
            g.upsample2x_conv3x3_act.default: upsample2x_conv3x3_act}
