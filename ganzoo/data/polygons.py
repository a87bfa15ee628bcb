"""Procedural 32x32 images of one filled regular polygon on a dark background, with known factors (issue 14).

Everything is drawn from a seed with numpy; nothing is downloaded. ``import ganzoo.data.polygons`` needs only numpy.

**An image** (:func:`make_polygon`): ``size x size`` (32) RGB pixels, background :data:`BACKGROUND` (dark grey),
one regular polygon with

* ``colour``: index into :data:`POLYGON_COLOURS` (6 named hues),
* ``size``: bucket 0/1/2 (small / medium / large) of the circumradius, U(:data:`SIZE_BUCKETS` [k]) px at size 32,
* ``sides``: class 0..3 = 3, 4, 5, 6 sides (:data:`POLYGON_SIDES`),
* ``cx, cy``: centre (continuous pixel coordinates, x = column, y = row down, pixel (i, j)'s centre at
  (j + 0.5, i + 0.5)), uniform over the positions where the circumscribed circle fits with a 1 px margin,
* ``pos``: 3x3 bucket ``3 * row + col`` of the centre (thirds of the frame),
* ``rotation``: U(0, 2 pi) radians (not a classified factor).

The polygon's area centroid is its centre. **Rendering**: 4x4 supersampling (sample points at sub-pixel centres),
coverage in [0, 1] blended over the background; interior pixels are exactly the palette colour.

**Data set** (:func:`polygon_dataset`): sample ``i`` of seed ``s`` comes from ``numpy.random.default_rng((s, i))``
(a shorter set is a prefix of a longer one). Images are (N, 3, S, S) float32 in [-1, 1]. **Held out**: the images
of :data:`POLYGONS_HELDOUT_SEED` (:func:`polygon_heldout`) are never trained on; :func:`polygon_dataset` refuses it.
"""
from __future__ import annotations

import logging
import math
from typing import Any

import numpy as np

logger = logging.getLogger(__name__)

__all__ = ["POLYGON_COLOURS", "POLYGON_PALETTE", "POLYGON_SIDES", "SIZE_BUCKETS", "BACKGROUND", "FACTORS",
           "N_CLASSES", "POLYGONS_HELDOUT_SEED", "POLYGONS_HELDOUT_N", "make_polygon", "polygon_dataset",
           "polygon_heldout", "position_bucket"]

#: name -> RGB; the ``colour`` label is the index in this order
POLYGON_COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (230, 40, 40), "yellow": (235, 225, 45), "green": (45, 200, 70), "cyan": (40, 215, 230),
    "blue": (60, 95, 245), "magenta": (215, 60, 215)}
POLYGON_PALETTE: np.ndarray = np.array(list(POLYGON_COLOURS.values()), dtype=np.uint8)
POLYGON_PALETTE.setflags(write=False)
POLYGON_SIDES: tuple[int, ...] = (3, 4, 5, 6)
#: circumradius ranges (px at size 32; scaled by size / 32) of the small / medium / large buckets
SIZE_BUCKETS: tuple[tuple[float, float], ...] = ((4.0, 5.5), (6.5, 8.0), (9.0, 10.5))
BACKGROUND: tuple[int, int, int] = (24, 24, 24)
#: the classified factors and their class counts
FACTORS: tuple[str, ...] = ("colour", "size", "sides", "pos")
N_CLASSES: dict[str, int] = {"colour": len(POLYGON_COLOURS), "size": 3, "sides": 4, "pos": 9}
POLYGONS_HELDOUT_SEED = 151106434  # its images are never trained on
POLYGONS_HELDOUT_N = 512
_SS = 4  # supersampling factor per axis


def position_bucket(cx: np.ndarray | float, cy: np.ndarray | float, size: int = 32) -> np.ndarray:
    """3x3 bucket ``3 * row + col`` (0..8) of centres ``(cx, cy)`` in pixel coordinates of a ``size`` frame."""
    col = np.clip((np.asarray(cx) * 3 // size).astype(np.int64), 0, 2)
    row = np.clip((np.asarray(cy) * 3 // size).astype(np.int64), 0, 2)
    return 3 * row + col


def _check_seed(seed: object) -> int:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative int, got {seed!r}")
    return int(seed)


def _refuse_heldout(seed: int) -> None:
    if seed == POLYGONS_HELDOUT_SEED:
        raise ValueError(f"seed {seed} is POLYGONS_HELDOUT_SEED, the held-out images that are never trained on; use "
                         "polygon_heldout() for evaluation or another seed for training")


def make_polygon(rng: np.random.Generator, size: int = 32) -> tuple[np.ndarray, dict[str, Any]]:
    """One image ``(size, size, 3)`` uint8 and its labels (see the module docstring) from ``rng``."""
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 16:
        raise ValueError(f"size must be an int >= 16, got {size!r}")
    scale = size / 32.0
    colour = int(rng.integers(len(POLYGON_COLOURS)))
    size_b = int(rng.integers(3))
    sides_c = int(rng.integers(len(POLYGON_SIDES)))
    lo, hi = SIZE_BUCKETS[size_b]
    r = float(rng.uniform(lo, hi)) * scale
    cx, cy = (float(v) for v in rng.uniform(r + scale, size - r - scale, size=2))
    rot = float(rng.uniform(0, 2 * math.pi))
    n = POLYGON_SIDES[sides_c]
    g = (np.arange(size * _SS) + 0.5) / _SS
    u, v = g[None, :] - cx, g[:, None] - cy
    inside = np.ones((size * _SS, size * _SS), dtype=bool)
    apothem = r * math.cos(math.pi / n)
    for k in range(n):
        a = rot + (2 * k + 1) * math.pi / n
        inside &= u * math.cos(a) + v * math.sin(a) <= apothem
    cov = inside.reshape(size, _SS, size, _SS).mean(axis=(1, 3))[..., None]
    img = np.asarray(BACKGROUND, np.float64) * (1 - cov) + POLYGON_PALETTE[colour].astype(np.float64) * cov
    labels = {"colour": colour, "size": size_b, "sides": sides_c, "cx": cx, "cy": cy,
              "pos": int(position_bucket(cx, cy, size)), "radius": r, "rotation": rot}
    return np.rint(img).astype(np.uint8), labels


def _dataset(n: object, size: int, seed: int) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"n must be a positive int, got {n!r}")
    imgs = np.empty((int(n), 3, size, size), np.float32)
    labs: dict[str, list] = {}
    for i in range(int(n)):
        img, lab = make_polygon(np.random.default_rng((seed, i)), size)
        imgs[i] = img.transpose(2, 0, 1) / 127.5 - 1.0
        for k, val in lab.items():
            labs.setdefault(k, []).append(val)
    out = {k: np.asarray(val, np.int64 if k in FACTORS else np.float32) for k, val in labs.items()}
    return imgs, out


def polygon_dataset(n: int, size: int = 32, seed: int = 0) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """``n`` training images ``(n, 3, size, size)`` float32 in [-1, 1] and their labels (dict of (n,) arrays:
    colour/size/sides/pos int64, cx/cy/radius/rotation float32). :data:`POLYGONS_HELDOUT_SEED` is refused."""
    seed = _check_seed(seed)
    _refuse_heldout(seed)
    return _dataset(n, size, seed)


def polygon_heldout(n: int = POLYGONS_HELDOUT_N, size: int = 32) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """The held-out images (seed :data:`POLYGONS_HELDOUT_SEED`), for evaluation only; as :func:`polygon_dataset`."""
    return _dataset(n, size, POLYGONS_HELDOUT_SEED)
