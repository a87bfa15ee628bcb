"""ganzoo.kernels: fused Triton kernels for the generators' hot conv / upsampling paths, as torch custom ops.

    >>> import ganzoo
    >>> fast = ganzoo.optimize(ganzoo.load("srresnet.div2k", device="cuda"), backend="triton", dtype=torch.float16)
    >>> print(fast.fusion_report)          # which blocks were fused, which fell back and why

Ops (``torch.ops.ganzoo.*``, registered by ``import ganzoo.kernels.ops``, which the fused modules do on their first
call; CUDA: Triton, CPU: plain PyTorch):
``conv2d_act`` (conv + folded BN + activation [+ residual]), ``conv2d_shuffle_act`` (conv + PixelShuffle + PReLU,
stored straight into the shuffled layout), ``conv_transpose_act`` (2D/3D transposed conv as sub-pixel phase convs +
folded BN + activation), ``upsample2x_conv3x3_act`` (nearest 2x upsample + 3x3 conv as 4 phase convs with
pre-summed weights). See :mod:`ganzoo.kernels.ops` for the schemas, :mod:`ganzoo.kernels.reference` for the
layouts, :mod:`ganzoo.kernels.fuse` for the patterns, :mod:`ganzoo.kernels.onnx` for the ONNX decompositions and
:mod:`ganzoo.kernels.roofline` for FLOP / byte counts.

``import ganzoo`` does not import this package; ``ganzoo.optimize`` does, on first use. The ``triton`` package is
needed only for ``backend="triton"``. To load a saved ``torch.export`` program that uses the ops, import
``ganzoo.kernels.ops`` first.
"""
from __future__ import annotations

import importlib
from typing import Any

from .fuse import (
    BACKENDS,
    Fallback,
    FusedConv2d,
    FusedConvShuffle,
    FusedConvTranspose,
    FusedLayer,
    FusedResidualBlock,
    FusedUpsampleConv,
    FusionReport,
    fusion_report,
    optimize,
)

__all__ = [
    "optimize",
    "fusion_report",
    "FusionReport",
    "FusedLayer",
    "Fallback",
    "FusedConv2d",
    "FusedResidualBlock",
    "FusedConvShuffle",
    "FusedConvTranspose",
    "FusedUpsampleConv",
    "BACKENDS",
    "ops",
]


def __getattr__(name: str) -> Any:
    # the op registration imports triton and torch._inductor (seconds): only when something needs the ops
    if name in ("ops", "onnx", "roofline", "triton_impl", "reference", "pack"):
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'ganzoo.kernels' has no attribute {name!r}")
