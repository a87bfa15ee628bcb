"""Offline datasets: everything here ships inside an installable package or is generated procedurally.

``import ganzoo.data`` needs only numpy: the torch-based :mod:`ganzoo.data.datasets` (``available_datasets``,
``load_dataset``) is imported on first use of one of its names.
"""
from __future__ import annotations

import importlib
from typing import Any

from .heads import YAWS as HEAD_YAWS
from .heads import (HEADS_HELDOUT_SEED, HEADS_HELDOUT_SIZE, HeadBatch, HeadDataset, heads_dataset, heads_grid,
                    identity_for, make_identity, pixel_features, rank1_by_pose, render_head)
from .heads import heldout_dataset as heads_heldout
from .inpainting import (BUCKETS, INPAINT_HELDOUT, MASK_KINDS, TRAIN_SOURCES, HeldOutPair, PoolSource, TrainingPool,
                         coverage, heldout_fingerprints, heldout_pairs, image_fingerprint, mask_in_bucket,
                         mask_to_image, rect_mask, stroke_mask)
from .photos import SR_HELDOUT, HeldOutPhoto, bicubic_up, get_photo, list_photos, load_photo, make_lr
from .sprites import BACKGROUND as SPRITE_BACKGROUND
from .sprites import (MAX_SPRITES, RADIUS_RANGE, SPEED_RANGE, SPRITE_COLOURS, SPRITE_PALETTE, SPRITE_SHAPES,
                      SPRITES_HELDOUT_N, SPRITES_HELDOUT_SEED, SpriteVideos, frame_coherence, make_video, motion_stats,
                      sprite_dataset, sprite_heldout, track_centroids)
from .voxels import (PACKAGE_MESHES, SHAPE_CLASSES, VOXEL_HELDOUT_N, VOXEL_HELDOUT_SEED, load_package_mesh,
                     make_shape, package_mesh_voxels, read_mesh, voxel_dataset, voxel_heldout, voxelize_mesh)

_LAZY = {"available_datasets": "datasets", "load_dataset": "datasets"}

__all__ = ["available_datasets", "load_dataset", "SR_HELDOUT", "HeldOutPhoto", "list_photos", "get_photo",
           "load_photo", "make_lr", "bicubic_up",
           "PoolSource", "TRAIN_SOURCES", "TrainingPool", "INPAINT_HELDOUT", "BUCKETS", "MASK_KINDS",
           "heldout_fingerprints", "heldout_pairs", "HeldOutPair", "rect_mask", "stroke_mask", "mask_in_bucket",
           "coverage", "mask_to_image", "image_fingerprint",
           "SHAPE_CLASSES", "VOXEL_HELDOUT_SEED", "VOXEL_HELDOUT_N", "make_shape", "voxel_dataset", "voxel_heldout",
           "read_mesh", "voxelize_mesh", "load_package_mesh", "package_mesh_voxels", "PACKAGE_MESHES",
           "SPRITE_BACKGROUND", "MAX_SPRITES", "RADIUS_RANGE", "SPEED_RANGE", "SPRITE_COLOURS", "SPRITE_PALETTE",
           "SPRITE_SHAPES", "SPRITES_HELDOUT_N", "SPRITES_HELDOUT_SEED", "SpriteVideos", "frame_coherence",
           "make_video", "motion_stats", "sprite_dataset", "sprite_heldout", "track_centroids",
           "HEAD_YAWS", "HEADS_HELDOUT_SEED", "HEADS_HELDOUT_SIZE", "HeadBatch", "HeadDataset", "heads_dataset",
           "heads_heldout", "heads_grid", "identity_for", "make_identity", "pixel_features", "rank1_by_pose",
           "render_head"]


def __getattr__(name: str) -> Any:
    """The torch-based names (and the ``datasets`` submodule) on first access (PEP 562)."""
    if name in _LAZY:
        value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
        globals()[name] = value
        return value
    if name == "datasets":
        return importlib.import_module(".datasets", __name__)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
