"""The lowest ONNX opset each registered model really exports at, as data.

torch's exporter (``torch.onnx.export(..., dynamo=True)``) builds an opset-18 graph and converts it down; below
a model's minimum the conversion fails ("the exporter could only produce opset 18"). The numbers were measured by
exporting every registered model's generator and discriminator at opsets 13, 14, ... (random weights, the
exact inference rewrites on, the graph checked by ``onnx.checker`` and validated in ONNX Runtime) and taking the
first that worked: torch 2.13.0, onnx 1.23.2, onnxscript 0.7.2. ``tests/test_export_faults.py`` checks that each
minimum exports and that the opset below it fails (slow), and that ``to_onnx`` refuses it before any work.

Keys are registry model names; a component missing from an entry means the model has none. Models that are not
listed (registered later) fall back to :data:`FALLBACK_MIN_OPSET` until measured.
"""
from __future__ import annotations

from typing import Mapping

__all__ = ["MIN_OPSETS", "FALLBACK_MIN_OPSET", "measured_min_opset"]

#: Below this no ganzoo model exports (nor does TensorRT's parser take the graphs).
FALLBACK_MIN_OPSET = 14

#: model name -> {"generator": opset, "discriminator": opset}
MIN_OPSETS: Mapping[str, Mapping[str, int]] = {
    "dcgan": {"generator": 14, "discriminator": 14},
    "dcgan_32": {"generator": 14, "discriminator": 14},
    "drgan": {"generator": 15, "discriminator": 13},
    "drgan_multi": {"generator": 15, "discriminator": 13},
    "gan3d": {"generator": 14, "discriminator": 14},
    "gan3d_32": {"generator": 14, "discriminator": 14},
    "pggan_inpaint": {"generator": 14, "discriminator": 14},
    "srgan": {"generator": 14, "discriminator": 14},
    "srgan_x2": {"generator": 14, "discriminator": 14},
    "srgan_x8": {"generator": 14, "discriminator": 14},
    "srresnet": {"generator": 14, "discriminator": 14},
    "srresnet_x2": {"generator": 14, "discriminator": 14},
    "srresnet_x8": {"generator": 14, "discriminator": 14},
    "tgan": {"generator": 15, "discriminator": 14},
}


def measured_min_opset(model_name: str | None, component: str = "generator") -> int | None:
    """The recorded minimum of ``model_name``'s ``component`` ("generator" or "discriminator"), or None when the
    model is not in :data:`MIN_OPSETS`."""
    if component not in ("generator", "discriminator"):
        raise ValueError(f"component must be 'generator' or 'discriminator', got {component!r}")
    entry = MIN_OPSETS.get(model_name or "")
    return None if entry is None else entry.get(component)
