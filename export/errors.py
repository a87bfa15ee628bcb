"""Typed errors of ganzoo.export. Each one says what was expected and what was given.

All derive from :class:`ganzoo.errors.GanzooError` (so ``ganzoo export`` reports them as errors, not crashes);
the ones about bad arguments also derive from ValueError/TypeError.
"""
from __future__ import annotations

from typing import Any, Sequence

from ganzoo.errors import GanzooError

__all__ = [
    "ExportError",
    "NotAGanzooModelError",
    "InvalidExportPathError",
    "UnsupportedOpsetError",
    "HalfPrecisionNotSupportedError",
    "ValidationError",
    "ShapeMismatchError",
    "ToleranceExceededError",
    "NonFiniteOutputError",
    "UnsupportedOperatorError",
    "BackendUnavailableError",
    "EngineMismatchError",
    "RewriteError",
    "OpenVINONotInstalled",
]


class ExportError(GanzooError):
    """Base class of every export error; also raised when the exporter itself fails."""


class NotAGanzooModelError(ExportError, TypeError):
    """Something that is neither a ganzoo GANModel nor a registered model name."""


class InvalidExportPathError(ExportError, ValueError):
    """An output path that cannot be written: a directory, a parent that is a file, an unwritable folder."""


class UnsupportedOpsetError(ExportError, ValueError):
    """An ONNX opset outside what the installed onnx supports, or below the model's measured minimum
    (:mod:`ganzoo.export.opsets`)."""


class HalfPrecisionNotSupportedError(ExportError, ValueError):
    """fp16 requested for a model whose pretrained config declares ``half_precision=False``, or that has no
    pretrained config to declare it (``force=True`` exports it anyway)."""


class ValidationError(ExportError):
    """Base class of the numerical-validation failures (exported graph vs PyTorch)."""


class ShapeMismatchError(ValidationError, ValueError):
    """An output whose shape differs between the exported graph, PyTorch, or the model's declared TensorSpec."""


class ToleranceExceededError(ValidationError):
    """Exported-graph outputs that differ from PyTorch by more than the tolerance.

    Attributes: ``output`` (name), ``max_abs_err``, ``max_rel_err``, ``index`` (the element with the worst
    violation of ``|a - b| <= atol + rtol * |b|``), ``expected`` and ``got`` there, ``atol``, ``rtol``,
    ``batch`` and ``size`` of the failing case.
    """

    def __init__(self, message: str, *, output: str = "", max_abs_err: float = float("nan"),
                 max_rel_err: float = float("nan"), index: Sequence[int] = (), expected: float = float("nan"),
                 got: float = float("nan"), atol: float = float("nan"), rtol: float = float("nan"),
                 batch: int | None = None, size: Sequence[int] | None = None):
        super().__init__(message)
        self.output = output
        self.max_abs_err = max_abs_err
        self.max_rel_err = max_rel_err
        self.index = tuple(index)
        self.expected = expected
        self.got = got
        self.atol = atol
        self.rtol = rtol
        self.batch = batch
        self.size = tuple(size) if size is not None else None


class NonFiniteOutputError(ValidationError):
    """NaN or Inf in an output (of the exported graph, or of PyTorch itself). ``count`` and ``index`` (first
    non-finite element) tell where; ``source`` is "onnx", "tensorrt" or "pytorch"."""

    def __init__(self, message: str, *, output: str = "", count: int = 0, index: Sequence[int] = (),
                 source: str = "onnx"):
        super().__init__(message)
        self.output = output
        self.count = count
        self.index = tuple(index)
        self.source = source


class UnsupportedOperatorError(ExportError):
    """A graph with operators the target runtime (TensorRT's ONNX parser) cannot take. ``issues`` lists them."""

    def __init__(self, message: str, issues: Sequence[Any] = ()):
        super().__init__(message)
        self.issues = list(issues)


class BackendUnavailableError(ExportError, ImportError):
    """A backend (TensorRT, CUDA, onnxruntime, tritonclient) that is not installed or has no device."""


class OpenVINONotInstalled(BackendUnavailableError):
    """``--format openvino`` / ``backend="openvino"`` without the ``openvino`` package (``pip install
    'ganzoo[openvino]'``), or int8 quantisation without ``onnxruntime.quantization``."""


class EngineMismatchError(ExportError):
    """A TensorRT engine built for another GPU, TensorRT version, precision or shapes than the ones asked for.

    ``mismatches`` maps each differing field to ``(engine's value, wanted value)``.
    """

    def __init__(self, message: str, mismatches: dict[str, tuple[Any, Any]] | None = None):
        super().__init__(message)
        self.mismatches = dict(mismatches or {})


class RewriteError(ExportError):
    """An inference rewrite (:mod:`ganzoo.export.rewrite`) whose module does not compute what the original did.

    ``max_abs_err`` is the largest difference found (in float64) and ``passes`` the rewrites that were applied.
    """

    def __init__(self, message: str, *, max_abs_err: float = float("nan"), passes: Sequence[str] = ()):
        super().__init__(message)
        self.max_abs_err = max_abs_err
        self.passes = tuple(passes)
