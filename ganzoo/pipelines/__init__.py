"""Image pipelines on top of ganzoo models: ``upscale`` (super-resolution of whole images, tiled and
memory-bounded), ``inpaint`` (fill holes), ``rotate`` (DR-GAN: turn faces to another pose, module ``rotation``).
:mod:`ganzoo.pipelines.tiling` holds the tiling and seam blending they share.

Importing this package is light; torch, numpy and Pillow are imported when a pipeline runs. Modules are named
for what they hold (``upscaling``, ``tiling``), functions for what they do (``upscale``), so a submodule import
never shadows a function of the package.

    >>> from ganzoo.pipelines import upscale
    >>> big = upscale(image)                  # PIL Image or numpy array in, the same type out, x4
"""
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__all__ = ["upscale", "inpaint", "Upscaler", "receptive_radius", "tiled_apply", "voxels_to_mesh", "write_mesh",
           "render_views", "write_views", "video_grid", "write_gif", "write_mp4", "write_video", "video_to_uint8",
           "rotate", "Rotator", "pose_yaws"]

_LAZY = {"upscale": "upscaling", "Upscaler": "upscaling", "receptive_radius": "upscaling", "tiled_apply": "tiling",
         "inpaint": "inpainting", "voxels_to_mesh": "voxels", "write_mesh": "voxels", "render_views": "voxels",
         "write_views": "voxels", "video_grid": "video", "write_gif": "video", "write_mp4": "video",
         "write_video": "video", "video_to_uint8": "video", "rotate": "rotation", "Rotator": "rotation",
         "pose_yaws": "rotation"}

if TYPE_CHECKING:  # pragma: no cover
    from .inpainting import inpaint
    from .rotation import Rotator, pose_yaws, rotate
    from .tiling import tiled_apply
    from .upscaling import Upscaler, receptive_radius, upscale
    from .video import video_grid, video_to_uint8, write_gif, write_mp4, write_video
    from .voxels import render_views, voxels_to_mesh, write_mesh, write_views


def __getattr__(name: str) -> Any:
    mod = _LAZY.get(name)
    if mod is None:
        raise AttributeError(f"module 'ganzoo.pipelines' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{mod}", __name__), name)
    globals()[name] = value
    return value
