"""ganzoo.export: validated ONNX export, OpenVINO IRs (fp32 / bf16 / int8), TensorRT engines and Triton model
repositories.

    >>> from ganzoo.export import to_onnx
    >>> res = to_onnx("srgan", "srgan.onnx")                # srgan.div2k; dynamic B/H/W, validated against PyTorch
    >>> res.validation.passed, res.dynamic_axes
    (True, {'lr': {0: 'B', 2: 'H', 3: 'W'}, 'sr': {0: 'B', 2: 'H*4', 3: 'W*4'}})

Every export runs the same pipeline (:mod:`ganzoo.export.pipeline`): the arguments are checked and the model
resolved once into an ExportPlan, then prepare, trace, finalize, validate and write run in turn; ``to_onnx``,
``to_tensorrt``, ``to_triton_repo`` and ``to_openvino`` (and ``ganzoo bench``) all go through it.

Importing this package is light: torch, onnx, onnxruntime, openvino and tensorrt are imported when a function needs
them.
"""
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .errors import (
    BackendUnavailableError,
    EngineMismatchError,
    ExportError,
    HalfPrecisionNotSupportedError,
    InvalidExportPathError,
    NonFiniteOutputError,
    NotAGanzooModelError,
    OpenVINONotInstalled,
    RewriteError,
    ShapeMismatchError,
    ToleranceExceededError,
    UnsupportedOperatorError,
    UnsupportedOpsetError,
    ValidationError,
)

_LAZY = {
    "to_onnx": "onnx_export",
    "ExportResult": "onnx_export",
    "supported_opsets": "opsets",
    "ExportPlan": "pipeline",
    "plan_export": "pipeline",
    "run_export": "pipeline",
    "validate_onnx": "validate",
    "ValidationReport": "validate",
    "CaseResult": "validate",
    "Tolerance": "tolerances",
    "get_tolerance": "tolerances",
    "list_op_types": "ops",
    "op_counts": "ops",
    "check_operators": "ops",
    "depth_to_space_nodes": "ops",
    "TENSORRT_SUPPORTED_OPS": "ops",
    "to_tensorrt": "tensorrt",
    "EngineRunner": "tensorrt",
    "EngineKey": "tensorrt",
    "validate_engine": "tensorrt",
    "to_triton_repo": "triton",
    "optimize_for_inference": "rewrite",
    "Rewrite": "rewrite",
    "parse_triton_config": ("triton", "parse_config"),
    "to_openvino": "openvino",
    "OpenVINOResult": "openvino",
    "validate_openvino": "openvino",
    "compile_openvino": ("openvino", "compile_ir"),
}

__all__ = [
    "BackendUnavailableError",
    "CaseResult",
    "EngineKey",
    "EngineMismatchError",
    "EngineRunner",
    "ExportError",
    "ExportPlan",
    "ExportResult",
    "HalfPrecisionNotSupportedError",
    "InvalidExportPathError",
    "NonFiniteOutputError",
    "NotAGanzooModelError",
    "OpenVINONotInstalled",
    "OpenVINOResult",
    "Rewrite",
    "RewriteError",
    "ShapeMismatchError",
    "TENSORRT_SUPPORTED_OPS",
    "Tolerance",
    "ToleranceExceededError",
    "UnsupportedOperatorError",
    "UnsupportedOpsetError",
    "ValidationError",
    "ValidationReport",
    "check_operators",
    "compile_openvino",
    "depth_to_space_nodes",
    "get_tolerance",
    "list_op_types",
    "op_counts",
    "optimize_for_inference",
    "parse_triton_config",
    "plan_export",
    "run_export",
    "supported_opsets",
    "to_onnx",
    "to_openvino",
    "to_tensorrt",
    "to_triton_repo",
    "validate_engine",
    "validate_onnx",
    "validate_openvino",
]

if TYPE_CHECKING:  # pragma: no cover
    from .onnx_export import ExportResult, to_onnx
    from .opsets import supported_opsets
    from .pipeline import ExportPlan, plan_export, run_export
    from .ops import TENSORRT_SUPPORTED_OPS, check_operators, depth_to_space_nodes, list_op_types, op_counts
    from .rewrite import Rewrite, optimize_for_inference
    from .openvino import OpenVINOResult, to_openvino, validate_openvino
    from .openvino import compile_ir as compile_openvino
    from .tensorrt import EngineKey, EngineRunner, to_tensorrt, validate_engine
    from .tolerances import Tolerance, get_tolerance
    from .triton import parse_config as parse_triton_config
    from .triton import to_triton_repo
    from .validate import CaseResult, ValidationReport, validate_onnx


def __getattr__(name: str) -> Any:
    target = _LAZY.get(name)
    if target is None:
        raise AttributeError(f"module 'ganzoo.export' has no attribute {name!r}")
    mod, attr = target if isinstance(target, tuple) else (target, name)
    value = getattr(importlib.import_module(f".{mod}", __name__), attr)
    globals()[name] = value
    return value
