"""The lowest ONNX opset each registered model really exports at, as data.

torch's exporter (``torch.onnx.export(..., dynamo=True)``) builds an opset-18 graph and converts it down; below
a model's minimum the conversion fails ("the exporter could only produce opset 18"). The numbers were measured by
exporting every registered model's generator and discriminator at opsets 13, 14, ... (random weights, the
exact inference rewrites on, the graph checked by ``onnx.checker`` and validated in ONNX Runtime) and taking the
first that worked: torch 2.13.0, onnx 1.23.2, onnxscript 0.7.2. ``tests/test_export_faults.py`` checks that each
minimum exports and that the opset below it fails (slow), and that ``to_onnx`` refuses it before any work.

This table (raised to the project floor :data:`FLOOR_OPSET`) is the only source of the opsets export accepts:
:func:`supported_opsets`, :func:`default_opset` and :func:`resolve_opset` read it.

Keys are registry model names; a component missing from an entry means the model has none. Models that are not
listed (registered later, or a model built outside the registry) fall back to :data:`FALLBACK_MIN_OPSET` until
measured.
"""
from __future__ import annotations

from typing import Any, Mapping

from .errors import UnsupportedOpsetError

__all__ = ["MIN_OPSETS", "FALLBACK_MIN_OPSET", "FLOOR_OPSET", "DEFAULT_OPSET", "measured_min_opset",
           "supported_opsets", "default_opset", "resolve_opset"]

#: Below this the exporter's version conversion and TensorRT's parser both fall short, whatever the model.
FLOOR_OPSET = 13
#: The minimum of a model that is not in :data:`MIN_OPSETS` (no measured ganzoo model exports below it).
FALLBACK_MIN_OPSET = 14
#: The opset export picks when none is asked for, unless the model's minimum is higher.
DEFAULT_OPSET = 17

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


def _model_name(model: Any) -> str | None:
    """A registry model name from a name (``"dcgan"``, ``"dcgan.mnist"``), a PretrainedCfg, or None."""
    if model is None:
        return None
    if isinstance(model, str):
        return model.split(".", 1)[0]
    return getattr(model, "architecture", None) or None


def supported_opsets(model: Any = None, component: str = "generator") -> tuple[int, int]:
    """(lowest, highest) opset export accepts for a model's ``component``: the lowest it really exports at
    (:data:`MIN_OPSETS`; :data:`FALLBACK_MIN_OPSET` for unmeasured models), at least :data:`FLOOR_OPSET`, up to
    the newest opset the installed onnx package knows. ``model``: a model name, a PretrainedCfg, or None."""
    import onnx

    measured = measured_min_opset(_model_name(model), component)
    lo = max(FLOOR_OPSET, measured if measured is not None else FALLBACK_MIN_OPSET)
    return lo, int(onnx.defs.onnx_opset_version())


def default_opset(model: Any = None, component: str = "generator") -> int:
    """``max(DEFAULT_OPSET, lowest supported)``."""
    return max(DEFAULT_OPSET, supported_opsets(model, component)[0])


def resolve_opset(opset: Any, model: Any, component: str, label: str, *, enforce_minimum: bool = True) -> int:
    """The opset to export at: ``opset``, or :func:`default_opset` when None. UnsupportedOpsetError for a
    non-int, one the installed onnx does not know, or (``enforce_minimum``) one below the measured minimum.
    ``enforce_minimum=False`` is for measuring the table itself (it lets the exporter try lower opsets)."""
    if opset is None:
        return default_opset(model, component)
    if isinstance(opset, bool) or not isinstance(opset, int):
        raise UnsupportedOpsetError(f"opset must be an int, got {opset!r}")
    lo, hi = supported_opsets(model, component)
    if not enforce_minimum:
        lo = 1
    if not lo <= opset <= hi:
        import onnx

        measured = measured_min_opset(_model_name(model), component)
        why = (f"the {component} exports at opset {measured} and above (ganzoo.export.opsets)"
               if measured is not None else
               f"no measured minimum for it in ganzoo.export.opsets: the fallback {FALLBACK_MIN_OPSET} applies")
        raise UnsupportedOpsetError(f"opset {opset} is not supported for {label}: expected {lo} <= opset <= {hi} "
                                    f"({why}; installed onnx {onnx.__version__} knows opsets up to {hi})")
    return opset
