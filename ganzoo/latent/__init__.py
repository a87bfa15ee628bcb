"""Latent-space tools of the GAN literature for every ganzoo model with a latent input.

Interpolation (lerp, slerp, walks, grids), inversion (optimisation, encoders), attribute vectors and editing,
constrained editing (iGAN) and semantic inpainting by z-optimisation (Yeh et al.). Importing this package is
light (torch is imported when a function is first used)."""
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__all__ = [
    # the latent input and a generator bound to fixed extra inputs
    "LatentSpec", "LatentGenerator", "LatentInputError", "latent_spec", "bind",
    # interpolation
    "lerp", "slerp", "latent_path", "interpolate", "latent_walk", "interpolation_grid", "write_interpolation",
    # inversion
    "invert", "InversionResult", "LatentEncoder", "train_encoder_on_samples",
    # DCGAN encoders (IcGAN / BiGAN) and their files
    "DCGANEncoder", "EncoderConfig", "train_icgan_encoder", "save_encoder", "load_encoder",
    # attribute vectors
    "attribute_vector", "edit", "EditResult",
    # constrained editing (iGAN)
    "constrained_edit", "ConstrainedEditResult", "ColorConstraint", "EdgeConstraint", "FunctionConstraint",
    # semantic inpainting (Yeh et al.)
    "semantic_inpaint", "SemanticInpaintResult", "importance_weights",
]

_LAZY = {
    "LatentSpec": "_core", "LatentGenerator": "_core", "LatentInputError": "_core", "latent_spec": "_core",
    "bind": "_core",
    "lerp": "interpolation", "slerp": "interpolation", "latent_path": "interpolation",
    "interpolate": "interpolation",
    "latent_walk": "interpolation", "interpolation_grid": "interpolation", "write_interpolation": "interpolation",
    "invert": "inversion", "InversionResult": "inversion", "LatentEncoder": "inversion",
    "train_encoder_on_samples": "inversion",
    "DCGANEncoder": "encoders", "EncoderConfig": "encoders", "train_icgan_encoder": "encoders",
    "save_encoder": "encoders", "load_encoder": "encoders",
    "attribute_vector": "attributes", "edit": "attributes", "EditResult": "attributes",
    "constrained_edit": "editing", "ConstrainedEditResult": "editing", "ColorConstraint": "editing",
    "EdgeConstraint": "editing", "FunctionConstraint": "editing",
    "semantic_inpaint": "inpaint", "SemanticInpaintResult": "inpaint", "importance_weights": "inpaint",
}

if TYPE_CHECKING:  # pragma: no cover
    from ._core import LatentGenerator, LatentInputError, LatentSpec, bind, latent_spec
    from .attributes import EditResult, attribute_vector, edit
    from .encoders import DCGANEncoder, EncoderConfig, load_encoder, save_encoder, train_icgan_encoder
    from .editing import ColorConstraint, ConstrainedEditResult, EdgeConstraint, FunctionConstraint, constrained_edit
    from .inpaint import SemanticInpaintResult, importance_weights, semantic_inpaint
    from .interpolation import (interpolate, interpolation_grid, latent_path, latent_walk, lerp, slerp,
                              write_interpolation)
    from .inversion import InversionResult, LatentEncoder, invert, train_encoder_on_samples


def __getattr__(name: str) -> Any:
    mod = _LAZY.get(name)
    if mod is None:
        raise AttributeError(f"module 'ganzoo.latent' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{mod}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
