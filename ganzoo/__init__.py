"""ganzoo: paper-faithful GANs with real weights, validated export and side-by-side benchmarks.

    >>> import ganzoo
    >>> model = ganzoo.load("dcgan")          # weights from the hub embedded in the package
    >>> images = model.sample(16)             # (16, 3, 64, 64) in [-1, 1]: dcgan.digiface faces

``import ganzoo`` stays light: the hub client, ONNX, TensorRT and Triton are imported only when used.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._version import __version__
from .errors import (
    CorruptConfigError,
    CorruptWeightsError,
    DeviceUnavailableError,
    GanzooError,
    HubError,
    ImageReadError,
    InputDtypeError,
    IntegrityError,
    InvalidConfigError,
    InvalidModelSpecError,
    InvalidOutputPathError,
    InvalidRepoIdError,
    ModelTooLargeError,
    NoPretrainedWeightsError,
    NonFiniteInputError,
    NotASuperResolutionModelError,
    OfflineError,
    PickleNotAllowedError,
    SaveDirectoryError,
    StateDictMismatchError,
    UnknownCheckpointLayoutError,
    UnknownModelError,
    UnknownTagError,
    UnsafePathError,
    UnsupportedDtypeError,
)
from .registry import list_families, list_models, model_info

__all__ = [
    "__version__",
    "create",
    "load",
    "optimize",
    "list_models",
    "list_families",
    "model_info",
    "save_pretrained",
    "from_pretrained",
    "CorruptConfigError",
    "CorruptWeightsError",
    "DeviceUnavailableError",
    "GanzooError",
    "HubError",
    "ImageReadError",
    "InputDtypeError",
    "IntegrityError",
    "InvalidConfigError",
    "InvalidModelSpecError",
    "InvalidOutputPathError",
    "InvalidRepoIdError",
    "ModelTooLargeError",
    "NoPretrainedWeightsError",
    "NonFiniteInputError",
    "NotASuperResolutionModelError",
    "OfflineError",
    "PickleNotAllowedError",
    "SaveDirectoryError",
    "StateDictMismatchError",
    "UnknownCheckpointLayoutError",
    "UnknownModelError",
    "UnknownTagError",
    "UnsafePathError",
    "UnsupportedDtypeError",
]

_LAZY = {"create": "factory", "load": "factory", "save_pretrained": "factory", "from_pretrained": "factory",
         "optimize": "kernels"}

if TYPE_CHECKING:  # pragma: no cover
    from .factory import create, from_pretrained, load, save_pretrained
    from .kernels import optimize


def __getattr__(name: str) -> Any:
    # create/load/save_pretrained/from_pretrained live in ganzoo.factory, the builder that joins registry, hub
    # and models; importing it lazily keeps `import ganzoo` free of torch, huggingface_hub and safetensors.
    # optimize lives in ganzoo.kernels (the fused-kernel path), imported on first use for the same reason.
    import importlib

    if name in _LAZY:
        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    if name in ("pipelines", "latent"):  # ganzoo.pipelines.upscale(...), ganzoo.latent.slerp(...)
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'ganzoo' has no attribute {name!r}")
