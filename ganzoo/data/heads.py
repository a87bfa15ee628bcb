"""Procedural faces with identity and pose labels, for DR-GAN: seeded 3D heads rendered by a small numpy ray caster.

Everything is generated from a seed; nothing is downloaded and nothing but numpy is needed.

**Identity** (:func:`make_identity`): a dict of parameters drawn from a ``numpy.random.Generator``: 3D shape
(cranium, jaw and chin ellipsoid radii; nose length, width, protrusion, height and tilt; eye spacing, size and
height; ear size and how far they stick out; mouth width, height and smile), colours (skin, hair, iris, lips) and
style (hair: bald ring, short cap or long; hairline height; fringe; glasses; beard). Identity lives in the 3D shape
and the texture on it, so one person is recognisable across poses and two people differ at 96x96. Every identity is
mirror-symmetric about its own vertical mid-plane (the model has no asymmetric parts; only the light breaks the
symmetry of an image).

**Head model**: a union of ellipsoids in head-local coordinates (x to the subject's left = image right when
frontal, y up, z out of the face; the cranium is about 0.8 x 0.95 x 0.95 units): cranium, jaw, chin, nose
(tilted so its bottom sticks out), two ears, two eyeballs, a neck, a hair shell (the cranium grown by the hair
thickness, clipped to the hair region by a hairline that is higher at the front than at the back, lowered in the
middle by a fringe) and, for long hair, a second hair ellipsoid behind the head. Eyebrows, mouth, beard, glasses and
nostrils are textures on the surface, defined in head-local coordinates, so they rotate with the head. Irises and
eyelids are textures on the eyeballs.

**Renderer** (:func:`render_head`): orthographic camera looking along -z of the camera frame (x right, y up, z
towards the viewer), the view window fixed in head units (:data:`VIEW_HALF`, :data:`VIEW_CENTRE_Y`) so all
images share one scale. Each ellipsoid is intersected analytically with the rays of its screen bounding box; the
union's surface is the nearest hit (a z-buffer, exact for a union). Normals are the hit ellipsoid's gradient,
blended over the skin ellipsoids by a soft minimum of their distances (so the jaw, cranium and chin join without
a shading crease). Shading: Lambertian, one directional light fixed in the camera frame (:data:`LIGHT`, from the
upper left of the image and the front) plus ambient (:data:`AMBIENT`, :data:`DIFFUSE`). Anti-aliasing: 2x2
supersampling (box filter). Background: the plain colour :data:`BACKGROUND` (or one given per call / drawn per
sample by :class:`HeadDataset` with ``background_jitter``). About 5-10 ms per 96x96 image on one CPU core.

**Pose** (sign convention): the head turns about the vertical axis through its centre by ``yaw_deg``; *positive yaw
turns the face towards the image right* (the subject's left): the nose tip's image x grows with yaw, and the face
at ``+a`` is the mirror image of the face at ``-a`` (under a light on the camera's vertical mid-plane). Positive
``pitch_deg`` tilts the face up (the nose tip moves up in the image). The pose classes are :data:`YAWS`, nine
yaws from -60 to +60 degrees in 15-degree steps; class :data:`FRONTAL_POSE` (4) is frontal.

**Dataset** (:class:`HeadDataset`, :func:`heads_dataset`): identities ``0 .. n - 1`` of a seed, each rendered at
every pose ``images_per_pose`` times; images float32 (3, S, S) in [-1, 1] (uint8 / 127.5 - 1), labels identity
(int64, the index within the dataset), pose class (int64, the index into ``yaws``) and the exact yaw in degrees
(float32). Sample ``k`` is identity ``k // (P * images_per_pose)``, pose ``(k // images_per_pose) % P``. Optional
jitter per sample, off by default: yaw uniform in ``+-yaw_jitter`` degrees around the class yaw (keep it under 7.5
so the classes stay disjoint; the label keeps the class and records the exact angle), pitch uniform in
``+-pitch_jitter``, light direction turned by up to ``light_jitter`` radians (and its strength scaled by up to
``+-light_jitter / 2``), background grey level uniform in ``+-background_jitter``. Everything is deterministic by
seed: identity ``i`` of seed ``s`` comes from ``SeedSequence(s, spawn_key=(0, i))``, the jitter of a sample from
``SeedSequence(s, spawn_key=(1, i, pose, rep))``, so any sample can be rendered alone, in any order.

**Held out** (:data:`HEADS_HELDOUT_SEED`, :func:`heldout_dataset`): the :data:`HEADS_HELDOUT_SIZE` identities of
the held-out seed, never trained on (a training request with that seed raises ValueError), for rank-1 recognition
across poses (:func:`rank1_by_pose`: gallery = the frontal images, probes = the images at each other pose, nearest
by cosine similarity; :func:`pixel_features` is the raw-pixel baseline: on the 100 held-out identities at 96 px it
scores 1.00 at +-15 degrees, 0.83 / 0.79 at -30 / +30, 0.50 / 0.45 at -45 / +45, 0.41 / 0.25 at -60 / +60; the
default light from the upper left makes the two sides differ). Different seeds draw independent identities.

**DR-GAN**: the images are its 96x96 input and :data:`NUM_IDENTITIES` (200) its default Nd; its default Np is
the 13 Multi-PIE poses, so build the model with ``num_poses=len(YAWS)`` (:attr:`HeadDataset.num_poses`, 9).
:func:`heads_grid` tiles identities x yaws into one preview picture; :func:`to_uint8` turns the float images back
into uint8 pictures exactly.
"""
from __future__ import annotations

import dataclasses
import logging
import math
from typing import Any, Callable, Iterator, NamedTuple, Sequence

import numpy as np

logger = logging.getLogger(__name__)

__all__ = ["YAWS", "FRONTAL_POSE", "HEADS_HELDOUT_SEED", "HEADS_HELDOUT_SIZE", "IMAGE_SIZE", "BACKGROUND", "LIGHT",
           "make_identity", "identity_for", "render_head", "render_views", "HeadBatch", "HeadDataset",
           "heads_dataset", "heldout_dataset", "rank1_by_pose", "pixel_features", "heads_grid", "to_uint8",
           "NUM_IDENTITIES"]

#: The nine pose classes: yaw in degrees; positive = face turned towards the image right (the subject's left).
YAWS: tuple[int, ...] = (-60, -45, -30, -15, 0, 15, 30, 45, 60)
#: Index of the frontal pose (yaw 0) in :data:`YAWS`.
FRONTAL_POSE = 4
#: Seed of the held-out identities (:func:`heldout_dataset`); refused for training.
HEADS_HELDOUT_SEED = 2017_0721
#: Number of held-out identities.
HEADS_HELDOUT_SIZE = 100
#: Default image side (DR-GAN's input).
IMAGE_SIZE = 96
#: Background colour, RGB in [0, 1].
BACKGROUND: tuple[float, float, float] = (0.50, 0.52, 0.56)
#: Direction towards the light in camera coordinates (x right, y up, z towards the viewer); normalised on use.
LIGHT: tuple[float, float, float] = (-0.45, 0.55, 1.0)
AMBIENT = 0.38
DIFFUSE = 0.72
#: Half the side of the view window and its centre's height, in head units.
VIEW_HALF = 1.3
VIEW_CENTRE_Y = -0.05
_MAX_SIZE = 2048

# ------------------------------------------------------------------------------------------------- identities

_SKIN_LIGHT = np.array([0.96, 0.80, 0.68])
_SKIN_DARK = np.array([0.36, 0.23, 0.15])
_HAIR = np.array([[0.08, 0.07, 0.06],   # black
                  [0.25, 0.15, 0.08],   # dark brown
                  [0.45, 0.30, 0.16],   # brown
                  [0.85, 0.70, 0.40],   # blond
                  [0.62, 0.26, 0.10],   # red
                  [0.70, 0.70, 0.70]])  # grey
_IRIS = np.array([[0.30, 0.17, 0.07], [0.20, 0.40, 0.75], [0.25, 0.50, 0.25], [0.45, 0.50, 0.55],
                  [0.10, 0.07, 0.05]])
_GLASSES = np.array([[0.05, 0.05, 0.06], [0.45, 0.10, 0.08], [0.10, 0.15, 0.45], [0.75, 0.65, 0.30]])
HAIR_STYLES = ("bald", "short", "long")

_IDENTITY_KEYS = ("head_w", "head_h", "head_d", "jaw_w", "jaw_h", "jaw_d", "chin_w", "nose_len", "nose_w",
                  "nose_depth", "nose_y", "nose_tilt", "eye_sp", "eye_r", "eye_y", "ear_size", "ear_out",
                  "mouth_w", "mouth_h", "mouth_y", "smile", "brow_thick", "brow_arch", "skin", "lips", "hair",
                  "brow", "iris", "hair_style", "hair_thick", "hairline", "fringe", "glasses", "glasses_colour",
                  "beard")


_COLOUR_KEYS = frozenset({"skin", "lips", "hair", "brow", "iris", "glasses_colour"})
_POSITIVE_KEYS = frozenset({"head_w", "head_h", "head_d", "jaw_w", "jaw_h", "jaw_d", "chin_w", "nose_len", "nose_w",
                            "nose_depth", "eye_r", "ear_size", "mouth_w", "mouth_h"})


def _f(x: float) -> float:
    return round(float(x), 6)


def _rgb(c: np.ndarray) -> tuple[float, float, float]:
    c = np.clip(c, 0.0, 1.0)
    return (_f(c[0]), _f(c[1]), _f(c[2]))


def make_identity(rng: np.random.Generator | int) -> dict[str, Any]:
    """One random identity: a dict of floats (head units; colours RGB tuples in [0, 1]), a hair style name and two
    bools (``glasses``, ``beard``). ``rng``: a ``numpy.random.Generator`` (advanced) or an int seed.

    The keys are listed in the module's ``_IDENTITY_KEYS``; :func:`render_head` checks them. The same generator
    state gives the same identity on every platform."""
    if isinstance(rng, (int, np.integer)) and not isinstance(rng, bool):
        rng = np.random.default_rng(int(rng))
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng: expected a numpy.random.Generator or an int seed, got {type(rng).__name__}")
    u = rng.uniform
    tone = u(0.0, 1.0)
    skin = _SKIN_LIGHT * (1 - tone) + _SKIN_DARK * tone + u(-0.03, 0.03, 3)
    hair = _HAIR[rng.integers(len(_HAIR))] * u(0.85, 1.15) + u(-0.03, 0.03, 3)
    style = HAIR_STYLES[int(rng.choice(3, p=[0.12, 0.58, 0.30]))]
    ident: dict[str, Any] = {
        "head_w": u(0.72, 0.88), "head_h": u(0.88, 1.02), "head_d": u(0.90, 1.02),
        "jaw_w": u(0.54, 0.76), "jaw_h": u(0.62, 0.78), "jaw_d": u(0.62, 0.74), "chin_w": u(0.18, 0.34),
        "nose_len": u(0.17, 0.30), "nose_w": u(0.075, 0.14), "nose_depth": u(0.12, 0.26),
        "nose_y": u(-0.30, -0.20), "nose_tilt": u(0.1, 0.45),
        "eye_sp": u(0.23, 0.33), "eye_r": u(0.075, 0.105), "eye_y": u(0.02, 0.12),
        "ear_size": u(0.15, 0.25), "ear_out": u(0.0, 1.0),
        "mouth_w": u(0.12, 0.23), "mouth_h": u(0.025, 0.06), "mouth_y": u(-0.64, -0.54), "smile": u(-0.02, 0.05),
        "brow_thick": u(0.025, 0.055), "brow_arch": u(0.0, 0.05),
        "skin": _rgb(skin), "lips": _rgb(skin * np.array([0.80, 0.55, 0.55]) + np.array([0.08, 0.0, 0.0])),
        "hair": _rgb(hair), "brow": _rgb(hair * 0.75 if style != "bald" or rng.random() < 0.5 else skin * 0.5),
        "iris": _rgb(_IRIS[rng.integers(len(_IRIS))] + u(-0.04, 0.04, 3)),
        "hair_style": style, "hair_thick": u(0.04, 0.12), "hairline": u(0.30, 0.60),
        "fringe": u(0.0, 0.35) if rng.random() < 0.4 else 0.0,
        "glasses": bool(rng.random() < 0.25), "glasses_colour": _rgb(_GLASSES[rng.integers(len(_GLASSES))]),
        "beard": bool(rng.random() < 0.2),
    }
    return {k: (_f(v) if isinstance(v, float) else v) for k, v in ident.items()}


def identity_for(seed: int, index: int) -> dict[str, Any]:
    """Identity ``index`` of ``seed`` (as :class:`HeadDataset` draws it: ``SeedSequence(seed, spawn_key=(0, index))``).
    Both must be ints >= 0. Gives the held-out identities too (``seed=HEADS_HELDOUT_SEED``)."""
    _check_int("seed", seed, 0)
    _check_int("index", index, 0)
    return make_identity(np.random.default_rng(np.random.SeedSequence(int(seed), spawn_key=(0, int(index)))))


# ---------------------------------------------------------------------------------------------- head geometry

SKIN, HAIR, EYE = 0, 1, 2  # materials


@dataclasses.dataclass
class _Prim:
    """An ellipsoid: p_prim = rot @ (p_local - centre); surface |p_prim / radii| = 1."""

    name: str
    centre: np.ndarray
    radii: np.ndarray
    material: int
    rot: np.ndarray | None = None
    region: Callable[[np.ndarray, np.ndarray, np.ndarray], np.ndarray] | None = None  # unit coords -> bool
    smooth: bool = False  # joins the blended skin normals


def _rot_x(a: float) -> np.ndarray:
    c, s = math.cos(a), math.sin(a)
    return np.array([[1.0, 0.0, 0.0], [0.0, c, -s], [0.0, s, c]])


def _rot_y(a: float) -> np.ndarray:
    c, s = math.cos(a), math.sin(a)
    return np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])


def _surface_z(ell: Sequence[tuple[np.ndarray, np.ndarray]], x: float, y: float) -> float:
    """Front z of the union of axis-aligned ellipsoids (centre, radii) at (x, y); -inf where none is."""
    best = -math.inf
    for c, r in ell:
        s = 1.0 - ((x - c[0]) / r[0]) ** 2 - ((y - c[1]) / r[1]) ** 2
        if s > 0:
            best = max(best, c[2] + r[2] * math.sqrt(s))
    return best


def _build(idt: dict[str, Any]) -> tuple[list[_Prim], dict[str, float]]:
    """The ellipsoids of an identity, and the derived positions the textures need."""
    v = np.array
    cran_c, cran_r = v([0.0, 0.12, 0.0]), v([idt["head_w"], idt["head_h"], idt["head_d"]])
    jaw_c, jaw_r = v([0.0, -0.30, 0.12]), v([idt["jaw_w"], idt["jaw_h"], idt["jaw_d"]])
    chin_c = v([0.0, jaw_c[1] - idt["jaw_h"] + 0.24, 0.0])
    chin_r = v([idt["chin_w"], 0.24, 0.30])
    face = [(cran_c, cran_r), (jaw_c, jaw_r)]
    chin_c[2] = max(0.0, _surface_z(face, 0.0, chin_c[1]) - chin_r[2] * 0.92)
    prims = [_Prim("cranium", cran_c, cran_r, SKIN, smooth=True),
             _Prim("jaw", jaw_c, jaw_r, SKIN, smooth=True),
             _Prim("chin", chin_c, chin_r, SKIN, smooth=True)]
    face.append((chin_c, chin_r))
    # nose: an ellipsoid tilted about x (its bottom forward), sunk into the face so it sticks out nose_depth
    ny, nl, nw, nd = idt["nose_y"], idt["nose_len"], idt["nose_w"], idt["nose_depth"]
    nz = _surface_z(face, 0.0, ny) + nd * 0.55 - nd
    prims.append(_Prim("nose", v([0.0, ny, nz]), v([nw, nl, nd]), SKIN, rot=_rot_x(idt["nose_tilt"])))
    # eyes: spheres sunk to 40% of their radius into the face
    er, ey, es = idt["eye_r"], idt["eye_y"], idt["eye_sp"]
    for side in (-1.0, 1.0):
        ez = _surface_z(face, side * es, ey) - 0.55 * er
        prims.append(_Prim("eye", v([side * es, ey, ez]), v([er, er, er]), EYE))
    # ears: flat ellipsoids on the sides, rotated about y so they stand out by ear_out
    es_, eo = idt["ear_size"], idt["ear_out"]
    ear_y = 0.02
    half_w = cran_r[0] * math.sqrt(max(0.0, 1 - ((ear_y - cran_c[1]) / cran_r[1]) ** 2))
    for side in (-1.0, 1.0):
        prims.append(_Prim("ear", v([side * (half_w - 0.02), ear_y, -0.08]), v([0.07, es_, es_ * 0.55]), SKIN,
                           rot=_rot_y(-side * (0.15 + 0.45 * eo))))
    prims.append(_Prim("neck", v([0.0, -1.25, -0.12]), v([0.36, 0.75, 0.40]), SKIN))
    # hair
    style, thick, line, fringe = idt["hair_style"], idt["hair_thick"], idt["hairline"], idt["fringe"]
    back = -0.55
    shell_r = cran_r + thick

    def cap(ux: np.ndarray, uy: np.ndarray, uz: np.ndarray) -> np.ndarray:
        thr = (line + back) / 2 + (line - back) / 2 * uz
        thr = thr - 0.25 * np.exp(-((np.abs(uz) - 0.05) / 0.35) ** 2) * (line - back) / 2  # temples, lower
        if fringe > 0:
            thr = thr - fringe * np.exp(-(ux / 0.45) ** 2) * np.clip(uz, 0.0, 1.0)
        return uy > thr

    def ring(ux: np.ndarray, uy: np.ndarray, uz: np.ndarray) -> np.ndarray:  # a horseshoe round the back
        crown = 0.894 * uy + 0.447 * uz  # cosine from the bald crown's centre, up and forward
        return (uy > -0.5 + 0.3 * uz) & (crown < 0.5) & (uz < 0.12 - 0.2 * np.clip(uy, 0, 1))

    if style in ("short", "long"):
        prims.append(_Prim("hair", cran_c, shell_r, HAIR, region=cap))
    else:
        prims.append(_Prim("hair", cran_c, cran_r + 0.025, HAIR, region=ring))
    if style == "long":
        def long_back(ux: np.ndarray, uy: np.ndarray, uz: np.ndarray) -> np.ndarray:
            return uz < -0.05 - 0.3 * np.clip(uy, 0, 1)

        prims.append(_Prim("hair_long", v([0.0, -0.30, -0.18]), v([shell_r[0] + 0.03, 0.95, 0.80]), HAIR,
                           region=long_back))
    nose_bottom = ny - nl * math.cos(idt["nose_tilt"]) * 0.8
    derived = {"nose_bottom": nose_bottom, "jaw_cz": float(jaw_c[2]), "ear_z": -0.08}
    return prims, derived


def _check_identity(identity: Any) -> None:
    if not isinstance(identity, dict):
        raise TypeError(f"identity: expected a dict from make_identity, got {type(identity).__name__}")
    missing = [k for k in _IDENTITY_KEYS if k not in identity]
    if missing:
        raise ValueError(f"identity: expected the keys of make_identity, missing {missing}")
    if identity["hair_style"] not in HAIR_STYLES:
        raise ValueError(f"identity hair_style: expected one of {HAIR_STYLES}, got {identity['hair_style']!r}")
    for k in _IDENTITY_KEYS:
        v = identity[k]
        if k in _COLOUR_KEYS:
            try:
                c = np.asarray(v, dtype=np.float64)
            except (TypeError, ValueError):
                c = None
            if c is None or c.shape != (3,) or not np.isfinite(c).all() or c.min() < 0 or c.max() > 1:
                raise ValueError(f"identity {k}: expected an RGB colour, 3 numbers in [0, 1], got {v!r}")
        elif k in ("glasses", "beard"):
            if not isinstance(v, (bool, np.bool_)):
                raise ValueError(f"identity {k}: expected a bool, got {v!r}")
        elif k != "hair_style":
            if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, float, np.integer, np.floating)) \
                    or not math.isfinite(v) or (k in _POSITIVE_KEYS and not v > 0):
                what = "a finite number > 0" if k in _POSITIVE_KEYS else "a finite number"
                raise ValueError(f"identity {k}: expected {what} (head units), got {v!r}")


# ---------------------------------------------------------------------------------------------------- render


def _check_int(name: str, v: Any, lo: int, hi: int | None = None) -> int:
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < lo or (hi is not None and v > hi):
        rng = f"in [{lo}, {hi}]" if hi is not None else f">= {lo}"
        raise ValueError(f"{name}: expected an int {rng}, got {v!r}")
    return int(v)


def _check_angle(name: str, v: Any, bound: float = 180.0) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)) or not math.isfinite(v) \
            or abs(float(v)) > bound:
        raise ValueError(f"{name}: expected a finite number of degrees in [-{bound:g}, {bound:g}], got {v!r}")
    return float(v)


def _check_vec3(name: str, v: Any, lo: float | None = None, hi: float | None = None) -> np.ndarray:
    try:
        a = np.asarray(v, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{name}: expected 3 numbers, got {v!r}") from None
    if a.shape != (3,) or not np.isfinite(a).all() or (lo is not None and (a < lo).any()) \
            or (hi is not None and (a > hi).any()):
        rng = f" in [{lo:g}, {hi:g}]" if lo is not None and hi is not None else ""
        raise ValueError(f"{name}: expected 3 finite numbers{rng}, got {v!r}")
    return a


def _camera(yaw_deg: float, pitch_deg: float) -> np.ndarray:
    """Head-local -> camera rotation: p_cam = R @ p_local (pitch about the head's x first, then yaw)."""
    return _rot_y(math.radians(yaw_deg)) @ _rot_x(-math.radians(pitch_deg))


def _texture(idt: dict[str, Any], derived: dict[str, float], p: np.ndarray, mat: np.ndarray, names: np.ndarray,
             col: np.ndarray) -> None:
    """Paint the surface textures onto ``col`` (N, 3) in place; ``p`` (3, N) head-local hit points."""
    x, y, z = p
    ax = np.abs(x)
    skin = mat == SKIN
    front = z > 0.0
    es, ey, er = idt["eye_sp"], idt["eye_y"], idt["eye_r"]
    # eyebrows
    bl = 0.11 + 0.6 * er
    dx = ax - es
    brow_y = ey + 1.35 * er + 0.05 + idt["brow_arch"] * (1 - (dx / bl) ** 2) - 0.02 * dx / bl
    brows = skin & front & (np.abs(dx) < bl) & (np.abs(y - brow_y) < idt["brow_thick"] / 2)
    col[brows] = idt["brow"]
    # mouth
    mw, mh, my = idt["mouth_w"], idt["mouth_h"], idt["mouth_y"]
    line_y = my + idt["smile"] * (x / mw) ** 2
    lips = skin & front & ((x / mw) ** 2 + ((y - my) / mh) ** 2 < 1.0)
    col[lips] = idt["lips"]
    col[lips & (np.abs(y - line_y) < 0.010 + 0.1 * mh) & (ax < mw * 0.92)] *= 0.35
    # beard and moustache
    if idt["beard"]:
        nb = derived["nose_bottom"]
        around = (x / (mw * 1.15)) ** 2 + ((y - my) / (mh * 1.3)) ** 2 < 1.0
        low = (y < my - mh * 0.9) | ((y > my + mh * 0.9) & (y < nb - 0.02) & (ax < mw * 1.25))
        sides = (z > derived["ear_z"] + 0.12) & (y < my + 0.18 + 0.4 * np.clip(-z, 0, 1)) | low
        beard = skin & (names == 2) | skin & (names == 1) & sides & (y < nb) & (z > derived["ear_z"] + 0.05)
        beard = beard & ~around & (y > -1.25) & (names != 3)
        col[beard] = idt["hair"]
    # nostrils: on the nose's bottom
    # (names: 0 cranium, 1 jaw, 2 chin, 3 nose, 4 eye, 5 ear, 6 neck, 7 hair)
    # glasses: frames as a texture on everything in front
    if idt["glasses"]:
        rg, w = er * 1.9 + 0.03, 0.022
        d = np.sqrt((ax - es) ** 2 + ((y - ey) / 0.85) ** 2)
        rim = (d > rg) & (d < rg + w)
        bridge = (ax < es - rg + 0.005) & (np.abs(y - ey - 0.3 * rg) < w / 2)
        temple = (ax > es + rg) & (np.abs(y - ey - 0.2 * rg) < w / 2) & (z > derived["ear_z"] - 0.02)
        on = (front & (rim | bridge)) | (temple & (z < 0.5)) & (mat != HAIR)
        lens = front & (d <= rg)
        col[lens] = col[lens] * 0.85 + 0.15 * np.array(idt["glasses_colour"])
        col[on] = idt["glasses_colour"]


def render_head(identity: dict[str, Any], yaw_deg: float, size: int = IMAGE_SIZE, *, pitch_deg: float = 0.0,
                light: Sequence[float] | None = None, light_strength: float = 1.0,
                background: Sequence[float] | None = None, supersample: int = 2) -> np.ndarray:
    """Render one head: uint8 (size, size, 3) RGB.

    identity: a dict from :func:`make_identity`. yaw_deg: rotation about the vertical axis, degrees in [-180, 180]
    (positive: the face turns towards the image right). pitch_deg: tilt, degrees in [-90, 90] (positive: face up).
    light: direction towards the light in camera coordinates (x right, y up, z towards the viewer), default
    :data:`LIGHT`; light_strength scales the diffuse term (>= 0). background: RGB in [0, 1], default
    :data:`BACKGROUND`. supersample: rays per pixel side (1..4; 2 = 2x2 anti-aliasing).
    """
    _check_identity(identity)
    yaw = _check_angle("yaw_deg", yaw_deg)
    pitch = _check_angle("pitch_deg", pitch_deg, 90.0)
    size = _check_int("size", size, 4, _MAX_SIZE)
    ss = _check_int("supersample", supersample, 1, 4)
    ldir = _check_vec3("light", LIGHT if light is None else light)
    if not np.linalg.norm(ldir) > 0:
        raise ValueError(f"light: expected a non-zero direction, got {light!r}")
    ldir = ldir / np.linalg.norm(ldir)
    if isinstance(light_strength, bool) or not isinstance(light_strength, (int, float)) or \
            not math.isfinite(light_strength) or light_strength < 0:
        raise ValueError(f"light_strength: expected a finite number >= 0, got {light_strength!r}")
    bg = _check_vec3("background", BACKGROUND if background is None else background, 0.0, 1.0)

    prims, derived = _build(identity)
    R = _camera(yaw, pitch)
    n = size * ss
    step = 2.0 * VIEW_HALF / n
    xs = (-VIEW_HALF + (np.arange(n) + 0.5) * step).astype(np.float32)
    ys = (VIEW_CENTRE_Y + VIEW_HALF - (np.arange(n) + 0.5) * step).astype(np.float32)
    zbuf = np.full((n, n), -np.inf, dtype=np.float32)
    ids = np.full((n, n), -1, dtype=np.int16)
    mats: list[tuple[np.ndarray, np.ndarray]] = []  # per prim: A (3, 3), b (3,): unit coords = A @ p_cam + b
    for k, pr in enumerate(prims):
        M = pr.rot if pr.rot is not None else np.eye(3)
        A = (M @ R.T) / pr.radii[:, None]
        b = -(M @ pr.centre) / pr.radii
        mats.append((A, b))
        cc = R @ pr.centre
        rad = float(pr.radii.max())
        j0 = max(0, int(math.floor((cc[0] - rad - xs[0]) / step)))
        j1 = min(n, int(math.ceil((cc[0] + rad - xs[0]) / step)) + 1)
        i0 = max(0, int(math.floor((ys[0] - (cc[1] + rad)) / step)))
        i1 = min(n, int(math.ceil((ys[0] - (cc[1] - rad)) / step)) + 1)
        if j0 >= j1 or i0 >= i1:
            continue
        X, Y = xs[None, j0:j1], ys[i0:i1, None]
        # unit coords along the ray: q = Q @ (X, Y, 1) + e * z, so |q|^2 = 1 is a quadratic in z whose
        # coefficients are (bi)quadratic in X, Y: built from row and column vectors and one outer product
        Q = np.concatenate([A[:, :2], b[:, None]], axis=1)
        e = A[:, 2]
        G = Q.T @ Q
        qa = float(e @ e)
        eQ = e @ Q
        qb = (2.0 * float(eQ[0])) * X + ((2.0 * float(eQ[1])) * Y + 2.0 * float(eQ[2]))
        qc = (float(G[0, 0]) * X + 2.0 * float(G[0, 2])) * X + (
            (float(G[1, 1]) * Y + 2.0 * float(G[1, 2])) * Y + (float(G[2, 2]) - 1.0))
        qc += (2.0 * float(G[0, 1])) * (Y * X)
        disc = qb * qb - (4.0 * qa) * qc
        hit = disc > 0.0
        if not hit.any():
            continue
        sq = np.sqrt(np.maximum(disc, 0.0))
        z = (sq - qb) * (0.5 / qa)
        if pr.region is not None:
            qxy = [float(Q[c, 0]) * X + (float(Q[c, 1]) * Y + float(Q[c, 2])) for c in range(3)]
            ok = hit & pr.region(*(qxy[c] + float(e[c]) * z for c in range(3)))
            z2 = (-sq - qb) * (0.5 / qa)  # the inside of the far side, seen through a cut
            ok2 = hit & ~ok & pr.region(*(qxy[c] + float(e[c]) * z2 for c in range(3)))
            z = np.where(ok, z, np.where(ok2, z2, -np.inf))
        else:
            z = np.where(hit, z, -np.inf)
        zs, idsub = zbuf[i0:i1, j0:j1], ids[i0:i1, j0:j1]
        better = z > zs
        idsub[better] = k
        np.maximum(zs, z, out=zs)

    img = np.empty((n, n, 3))
    img[:] = bg
    mask = ids >= 0
    if mask.any():
        ii, jj = np.nonzero(mask)
        pid = ids[ii, jj].astype(np.intp)
        P = np.stack([xs[jj], ys[ii], zbuf[ii, jj]])  # (3, N) camera coordinates
        normal = np.zeros_like(P)
        in_smooth = np.array([pr.smooth for pr in prims])[pid]
        wsum = np.zeros(P.shape[1])
        for k, pr in enumerate(prims):
            A, b = mats[k]
            sel = in_smooth if pr.smooth else (pid == k)
            if not sel.any():
                continue
            Ps = P[:, sel]
            q = A @ Ps + b[:, None]
            g = A.T @ q
            g /= np.linalg.norm(g, axis=0) + 1e-12
            if pr.smooth:
                k0 = np.sqrt((q * q).sum(0))
                k1 = np.sqrt(((q / pr.radii[:, None]) ** 2).sum(0))
                d = np.maximum(k0 * (k0 - 1.0) / (k1 + 1e-12), 0.0)
                w = np.exp(-d / 0.05)
                normal[:, sel] += g * w
                wsum[sel] += w
            else:
                if pr.region is not None:  # the inside of a shell faces the other way
                    g = np.where((g[2] < 0)[None], -g, g)
                normal[:, sel] = g
        normal /= np.linalg.norm(normal, axis=0) + 1e-12
        lam = np.clip(ldir @ normal, 0.0, None)
        shade = AMBIENT + DIFFUSE * float(light_strength) * lam

        names = {"cranium": 0, "jaw": 1, "chin": 2, "nose": 3, "eye": 4, "ear": 5, "neck": 6}
        prim_name = np.array([names.get(pr.name, 7) for pr in prims])[pid]
        prim_mat = np.array([pr.material for pr in prims])[pid]
        palette = np.array([identity["skin"], identity["hair"], (0.93, 0.92, 0.88)])
        col = palette[prim_mat]
        pl = R.T @ P  # head-local
        # eyes: iris, pupil and lids on the eyeballs
        eye = prim_mat == EYE
        if eye.any():
            pe = pl[:, eye]
            side = np.sign(pe[0])
            cz = np.array([pr.centre[2] for pr in prims if pr.material == EYE]).max()
            qe = np.stack([(pe[0] - side * identity["eye_sp"]), pe[1] - identity["eye_y"], pe[2] - cz])
            qe /= identity["eye_r"]
            ce = col[eye]
            ce[qe[2] > 0.86] = identity["iris"]
            ce[qe[2] > 0.965] = (0.03, 0.03, 0.03)
            lid = (qe[1] > 0.42) | (qe[1] < -0.62)
            ce[lid] = np.array(identity["skin"]) * 0.92
            col[eye] = ce
        # nostrils
        nose = prim_name == 3
        if nose.any():
            k_nose = [k for k, pr in enumerate(prims) if pr.name == "nose"][0]
            A, b = mats[k_nose]
            qn = A @ P[:, nose] + b[:, None]
            cn = col[nose]
            cn[(qn[1] < -0.55) & (np.abs(qn[0]) > 0.25) & (np.abs(qn[0]) < 0.8) & (qn[2] > 0.1)] *= 0.45
            col[nose] = cn
        _texture(identity, derived, pl, prim_mat, prim_name, col)
        if prim_mat.size:
            hair = prim_mat == HAIR
            if hair.any():  # a faint strand texture, so hair is not a flat blob
                ph = pl[:, hair]
                col[hair] *= (0.93 + 0.07 * np.cos(45.0 * np.arctan2(ph[0], ph[2])))[:, None]
        img[ii, jj] = np.clip(col * shade[:, None], 0.0, 1.0)
    if ss > 1:
        img = img.reshape(size, ss, size, ss, 3).mean(axis=(1, 3))
    return np.rint(img * 255.0).astype(np.uint8)


def render_views(identity: dict[str, Any], yaws: Sequence[float] = YAWS, size: int = IMAGE_SIZE,
                 **kwargs: Any) -> np.ndarray:
    """One identity at several yaws: uint8 ``(len(yaws), size, size, 3)`` RGB, in the order of ``yaws`` (degrees,
    default the nine pose classes :data:`YAWS`). ``kwargs`` go to :func:`render_head` (``pitch_deg``, ``light``,
    ``light_strength``, ``background``, ``supersample``)."""
    yaws = _check_yaws(yaws, 180.0)
    return np.stack([render_head(identity, y, size, **kwargs) for y in yaws])


# ---------------------------------------------------------------------------------------------------- dataset

#: Default number of training identities: DR-GAN's Nd (:class:`ganzoo.models.drgan.DRGANConfig` ``num_identities``).
NUM_IDENTITIES = 200
_MAX_IDENTITIES = 1 << 24


class HeadBatch(NamedTuple):
    """A sample or a batch: ``image`` float32 (3, S, S) or (B, 3, S, S) in [-1, 1] (uint8 / 127.5 - 1; uint8 where
    asked for), ``identity`` int64 (the index within the data set), ``pose`` int64 (the index into the data set's
    ``yaws``), ``yaw`` float32 (the exact yaw, degrees). Torch tensors from :class:`HeadDataset` items and
    :meth:`HeadDataset.batch` (``torch.utils.data.default_collate`` stacks items into a HeadBatch of batches);
    numpy arrays from :meth:`HeadDataset.arrays`, :func:`heads_dataset` and :func:`heldout_dataset`."""

    image: Any
    identity: Any
    pose: Any
    yaw: Any


def _check_yaws(yaws: Any, bound: float = 180.0) -> tuple[float, ...]:
    if isinstance(yaws, (str, bytes)) or not isinstance(yaws, Sequence) or len(yaws) == 0:
        raise ValueError(f"yaws: expected a non-empty sequence of degrees in [-{bound:g}, {bound:g}], got {yaws!r}")
    out = tuple(_check_angle("yaws", y, bound) for y in yaws)
    return tuple(int(y) if float(y).is_integer() else y for y in out)


def _check_float(name: str, v: Any, lo: float, hi: float, hi_open: bool = False, unit: str = "") -> float:
    ok = not isinstance(v, (bool, np.bool_)) and isinstance(v, (int, float, np.integer, np.floating)) \
        and math.isfinite(v) and lo <= v and (v < hi if hi_open else v <= hi)
    if not ok:
        rng = f"[{lo:g}, {hi:g})" if hi_open else f"[{lo:g}, {hi:g}]"
        raise ValueError(f"{name}: expected a number in {rng}{unit}, got {v!r}")
    return float(v)


def _refuse_heldout(seed: int) -> None:
    if seed == HEADS_HELDOUT_SEED:
        raise ValueError(f"seed {seed} is HEADS_HELDOUT_SEED, the held-out identities that are never trained on; use "
                         f"heldout_dataset() or HeadDataset.heldout() to evaluate on them, or any other seed >= 0 "
                         f"for training")


def _turn(v: np.ndarray, phi: float, theta: float) -> np.ndarray:
    """Unit vector ``v`` turned by ``theta`` radians towards the direction at angle ``phi`` around it."""
    e = np.array([1.0, 0.0, 0.0]) if abs(v[0]) < 0.9 else np.array([0.0, 1.0, 0.0])
    u = np.cross(v, e)
    u /= np.linalg.norm(u)
    w = np.cross(v, u)
    d = math.cos(phi) * u + math.sin(phi) * w  # perpendicular to v
    return v * math.cos(theta) + d * math.sin(theta)


class HeadDataset:
    """A map-style data set of rendered heads for ``torch.utils.data.DataLoader``, rendered on the fly.

    ``HeadDataset(n_identities=200, size=96, seed=0, *, yaws=YAWS, images_per_pose=1, yaw_jitter=0,
    pitch_jitter=0, light_jitter=0, background_jitter=0, light=None, background=None, supersample=2,
    cache=False)``: identities ``0 .. n_identities - 1`` of ``seed`` (:func:`identity_for`), each at every yaw of
    ``yaws`` (the pose classes, strictly increasing degrees in [-90, 90]; default :data:`YAWS`) ``images_per_pose``
    times. ``len(ds) = n_identities * len(yaws) * images_per_pose``; sample ``k`` is identity
    ``k // (P * images_per_pose)``, pose ``(k // images_per_pose) % P``, repetition ``k % images_per_pose``
    (:meth:`locate`, :meth:`index`). The jitters are the module docstring's (off by default; ``yaw_jitter`` must
    stay under half the spacing of ``yaws``, 7.5 degrees for :data:`YAWS`, so the classes stay disjoint;
    ``pitch_jitter`` degrees in [0, 45], ``light_jitter`` radians in [0, 1], ``background_jitter`` grey levels in
    [0, 0.5]). ``light`` / ``background``: the light direction and background colour before jitter (defaults
    :data:`LIGHT`, :data:`BACKGROUND`).

    ``ds[k]``: a :class:`HeadBatch` of torch tensors (image (3, S, S) float32 in [-1, 1], identity / pose int64 and
    yaw float32 scalars); the same bytes for the same arguments, whatever order or process asks. :meth:`batch`
    stacks several; :meth:`arrays` gives numpy; :meth:`render` the uint8 (S, S, 3) picture; :meth:`params` what a
    sample is rendered with. ``cache=True`` keeps each rendered picture (uint8, 3 S^2 bytes) after its first
    use: 27 kB a sample at 96 px (each DataLoader worker keeps its own). The held-out seed is refused;
    :meth:`heldout` builds that set. ``num_poses`` (= len(yaws)) and ``num_identities`` are DR-GAN's Np and Nd:
    the model's defaults are the paper's Multi-PIE 13 poses, so build it with ``num_poses=ds.num_poses``.
    """

    def __init__(self, n_identities: int = NUM_IDENTITIES, size: int = IMAGE_SIZE, seed: int = 0, *,
                 yaws: Sequence[float] = YAWS, images_per_pose: int = 1, yaw_jitter: float = 0.0,
                 pitch_jitter: float = 0.0, light_jitter: float = 0.0, background_jitter: float = 0.0,
                 light: Sequence[float] | None = None, background: Sequence[float] | None = None,
                 supersample: int = 2, cache: bool = False, _heldout: bool = False) -> None:
        self.seed = _check_int("seed", seed, 0)
        if not _heldout:
            _refuse_heldout(self.seed)
        limit = HEADS_HELDOUT_SIZE if _heldout else _MAX_IDENTITIES
        self.num_identities = _check_int("n_identities", n_identities, 1, limit)
        self.size = _check_int("size", size, 4, _MAX_SIZE)
        self.yaws = _check_yaws(yaws, 90.0)
        if any(b <= a for a, b in zip(self.yaws, self.yaws[1:])):
            raise ValueError(f"yaws: expected strictly increasing degrees (one pose class each), got {yaws!r}")
        self.images_per_pose = _check_int("images_per_pose", images_per_pose, 1, 1 << 16)
        gap = min((b - a for a, b in zip(self.yaws, self.yaws[1:])), default=math.inf)
        half = min(gap / 2, 90.0)
        self.yaw_jitter = _check_float("yaw_jitter", yaw_jitter, 0.0, half, hi_open=True,
                                       unit=" degrees (under half the spacing of yaws, so the pose classes stay "
                                            "disjoint)")
        self.pitch_jitter = _check_float("pitch_jitter", pitch_jitter, 0.0, 45.0, unit=" degrees")
        self.light_jitter = _check_float("light_jitter", light_jitter, 0.0, 1.0, unit=" radians")
        self.background_jitter = _check_float("background_jitter", background_jitter, 0.0, 0.5,
                                              unit=" (grey levels, colours in [0, 1])")
        ldir = _check_vec3("light", LIGHT if light is None else light)
        if not np.linalg.norm(ldir) > 0:
            raise ValueError(f"light: expected a non-zero direction, got {light!r}")
        self.light = tuple(float(c) for c in ldir / np.linalg.norm(ldir))
        self.background = tuple(float(c) for c in
                                _check_vec3("background", BACKGROUND if background is None else background, 0.0, 1.0))
        self.supersample = _check_int("supersample", supersample, 1, 4)
        if not isinstance(cache, (bool, np.bool_)):
            raise ValueError(f"cache: expected a bool, got {cache!r}")
        self.cache = bool(cache)
        self.heldout_set = bool(_heldout)
        self._identities: dict[int, dict[str, Any]] = {}
        self._cache: dict[int, np.ndarray] = {}
        logger.debug("HeadDataset: %d identities x %d poses x %d (seed %d, %d px)", self.num_identities,
                     self.num_poses, self.images_per_pose, self.seed, self.size)

    @classmethod
    def heldout(cls, n_identities: int = HEADS_HELDOUT_SIZE, size: int = IMAGE_SIZE, **kwargs: Any) -> HeadDataset:
        """The held-out identities (seed :data:`HEADS_HELDOUT_SEED`, at most :data:`HEADS_HELDOUT_SIZE`), for
        evaluation only."""
        if "seed" in kwargs:
            raise TypeError("HeadDataset.heldout: the seed is HEADS_HELDOUT_SEED; seed is not an argument")
        return cls(n_identities, size, HEADS_HELDOUT_SEED, _heldout=True, **kwargs)

    # ---- layout
    @property
    def num_poses(self) -> int:
        """P, the number of pose classes (``len(yaws)``): DR-GAN's Np."""
        return len(self.yaws)

    @property
    def frontal_pose(self) -> int | None:
        """The pose class of yaw 0 (4 for :data:`YAWS`), None when ``yaws`` has no 0."""
        return self.yaws.index(0) if 0 in self.yaws else None

    def __len__(self) -> int:
        return self.num_identities * self.num_poses * self.images_per_pose

    def _k(self, k: Any) -> int:
        if isinstance(k, (bool, np.bool_)) or not isinstance(k, (int, np.integer)):
            raise TypeError(f"index: expected an int, got {type(k).__name__}")
        n = len(self)
        if not -n <= k < n:
            raise IndexError(f"index {k} out of range for a HeadDataset of {n} samples")
        return int(k) % n

    def _indices(self, indices: Any) -> Sequence[int]:
        if indices is None:
            return range(len(self))
        if isinstance(indices, slice):
            return range(len(self))[indices]
        arr = np.asarray(_numpy(indices, "indices"))
        if arr.size and not np.issubdtype(arr.dtype, np.integer):
            raise TypeError(f"indices: expected ints, a slice or None, got {arr.dtype} values")
        return arr.reshape(-1).tolist()

    def locate(self, k: int) -> tuple[int, int, int]:
        """``(identity, pose, rep)`` of sample ``k``."""
        k = self._k(k)
        r = self.images_per_pose
        return k // (self.num_poses * r), (k // r) % self.num_poses, k % r

    def index(self, identity: int, pose: int, rep: int = 0) -> int:
        """The sample index of ``identity`` at pose class ``pose``, repetition ``rep`` (inverse of :meth:`locate`)."""
        i = _check_int("identity", identity, 0, self.num_identities - 1)
        p = _check_int("pose", pose, 0, self.num_poses - 1)
        r = _check_int("rep", rep, 0, self.images_per_pose - 1)
        return (i * self.num_poses + p) * self.images_per_pose + r

    def indices_of(self, identity: int) -> np.ndarray:
        """All sample indices of one identity (P * images_per_pose of them, pose-major): e.g. the N images of one
        person for multi-image DR-GAN."""
        i = _check_int("identity", identity, 0, self.num_identities - 1)
        m = self.num_poses * self.images_per_pose
        return np.arange(i * m, (i + 1) * m)

    def identity(self, i: int) -> dict[str, Any]:
        """The identity dict of identity ``i`` (:func:`identity_for` of the data set's seed)."""
        i = _check_int("identity", i, 0, self.num_identities - 1)
        idt = self._identities.get(i)
        if idt is None:
            idt = self._identities[i] = identity_for(self.seed, i)
        return idt

    # ---- samples
    def params(self, k: int) -> dict[str, Any]:
        """What sample ``k`` is rendered with: ``identity``, ``pose``, ``rep`` (ints), ``yaw``, ``pitch`` (degrees),
        ``light`` (unit 3-vector, camera frame), ``light_strength``, ``background`` (RGB in [0, 1])."""
        i, p, r = self.locate(k)
        yaw, pitch, light, strength, bg = float(self.yaws[p]), 0.0, self.light, 1.0, self.background
        if self.yaw_jitter or self.pitch_jitter or self.light_jitter or self.background_jitter:
            rng = np.random.default_rng(np.random.SeedSequence(self.seed, spawn_key=(1, i, p, r)))
            u = rng.uniform(-1.0, 1.0, 6)  # yaw, pitch, light turn, light azimuth, strength, grey: always all six
            yaw += self.yaw_jitter * float(u[0])
            pitch = self.pitch_jitter * float(u[1])
            if self.light_jitter:
                v = _turn(np.asarray(self.light), math.pi * float(u[3]), self.light_jitter * abs(float(u[2])))
                light = tuple(float(c) for c in v / np.linalg.norm(v))
            strength = 1.0 + self.light_jitter / 2 * float(u[4])
            if self.background_jitter:
                bg = tuple(float(np.clip(c + self.background_jitter * float(u[5]), 0.0, 1.0)) for c in bg)
        return {"identity": i, "pose": p, "rep": r, "yaw": yaw, "pitch": pitch, "light": light,
                "light_strength": strength, "background": bg}

    def render(self, k: int) -> np.ndarray:
        """Sample ``k``'s picture: uint8 (S, S, 3) RGB (kept when ``cache``; do not write to it)."""
        k = self._k(k)
        img = self._cache.get(k)
        if img is not None:
            return img
        q = self.params(k)
        img = render_head(self.identity(q["identity"]), q["yaw"], self.size, pitch_deg=q["pitch"], light=q["light"],
                          light_strength=q["light_strength"], background=q["background"],
                          supersample=self.supersample)
        if self.cache:
            img.setflags(write=False)
            self._cache[k] = img
        return img

    def labels(self, indices: Sequence[int] | np.ndarray | None = None) -> dict[str, np.ndarray]:
        """``identity`` int64, ``pose`` int64 and ``yaw`` float32 arrays of the samples (all when None), without
        rendering."""
        qs = [self.params(k) for k in self._indices(indices)]
        return {"identity": np.array([q["identity"] for q in qs], np.int64).reshape(-1),
                "pose": np.array([q["pose"] for q in qs], np.int64).reshape(-1),
                "yaw": np.array([q["yaw"] for q in qs], np.float32).reshape(-1)}

    def arrays(self, indices: Sequence[int] | np.ndarray | slice | None = None, *,
               dtype: Any = np.float32) -> HeadBatch:
        """Samples as numpy: a :class:`HeadBatch` of image (B, 3, S, S) float32 in [-1, 1] (or uint8 0..255 with
        ``dtype=np.uint8``), identity / pose (B,) int64, yaw (B,) float32. All samples when ``indices`` is None."""
        dt = np.dtype(dtype)
        if dt not in (np.dtype(np.float32), np.dtype(np.uint8)):
            raise ValueError(f"dtype: expected float32 (values in [-1, 1]) or uint8 (0..255), got {dt}")
        idx = self._indices(indices)
        s = self.size
        images = np.empty((len(idx), 3, s, s), dtype=dt)
        for j, k in enumerate(idx):
            chw = self.render(k).transpose(2, 0, 1)
            images[j] = chw if dt == np.uint8 else chw.astype(np.float32) / np.float32(127.5) - np.float32(1.0)
        lab = self.labels(idx)
        return HeadBatch(images, lab["identity"], lab["pose"], lab["yaw"])

    def batch(self, indices: Sequence[int] | np.ndarray | slice | None = None) -> HeadBatch:
        """Samples as one :class:`HeadBatch` of torch tensors: image (B, 3, S, S) float32 in [-1, 1], identity /
        pose (B,) int64, yaw (B,) float32."""
        import torch

        a = self.arrays(indices)
        return HeadBatch(*(torch.from_numpy(x) for x in a))

    def __getitem__(self, k: int) -> HeadBatch:
        import torch

        q = self.params(k)
        img = self.render(k).transpose(2, 0, 1).astype(np.float32) / np.float32(127.5) - np.float32(1.0)
        return HeadBatch(torch.from_numpy(img), torch.tensor(q["identity"], dtype=torch.int64),
                         torch.tensor(q["pose"], dtype=torch.int64), torch.tensor(q["yaw"], dtype=torch.float32))

    def __iter__(self) -> Iterator[HeadBatch]:
        for k in range(len(self)):
            yield self[k]

    def __repr__(self) -> str:
        jit = ", ".join(f"{n}={getattr(self, n):g}" for n in ("yaw_jitter", "pitch_jitter", "light_jitter",
                                                               "background_jitter") if getattr(self, n))
        return (f"HeadDataset({self.num_identities} identities x {self.num_poses} poses x {self.images_per_pose}, "
                f"{self.size} px, seed {self.seed}{', held out' if self.heldout_set else ''}"
                f"{', ' + jit if jit else ''})")


def heads_dataset(n_identities: int = NUM_IDENTITIES, size: int = IMAGE_SIZE, seed: int = 0, *,
                  dtype: Any = np.float32, **kwargs: Any) -> HeadBatch:
    """Every sample of ``HeadDataset(n_identities, size, seed, **kwargs)`` rendered into numpy arrays: a
    :class:`HeadBatch` of image (N, 3, S, S) float32 in [-1, 1] (or uint8 with ``dtype=np.uint8``: a quarter of the
    memory), identity / pose (N,) int64, yaw (N,) float32, in the sample order of :class:`HeadDataset`. About 10 ms
    a sample at 96 px (200 identities x 9 poses: 20 s). The held-out seed :data:`HEADS_HELDOUT_SEED` is refused
    (ValueError): use :func:`heldout_dataset`."""
    return HeadDataset(n_identities, size, seed, **kwargs).arrays(dtype=dtype)


def heldout_dataset(n_identities: int = HEADS_HELDOUT_SIZE, size: int = IMAGE_SIZE, *, dtype: Any = np.float32,
                    **kwargs: Any) -> HeadBatch:
    """The held-out identities (seed :data:`HEADS_HELDOUT_SEED`, the first ``n_identities`` of the
    :data:`HEADS_HELDOUT_SIZE`), every pose: as :func:`heads_dataset`, for evaluation only."""
    return HeadDataset.heldout(n_identities, size, **kwargs).arrays(dtype=dtype)


# ---------------------------------------------------------------------------------------------- recognition


def pixel_features(images: Any) -> np.ndarray:
    """The raw-pixel baseline for :func:`rank1_by_pose`: images (B, 3, S, S) (numpy or torch) flattened to
    (B, 3 S^2) float32."""
    arr = _numpy(images, "images")
    if arr.ndim != 4:
        raise ValueError(f"images: expected a batch (B, C, H, W), got shape {tuple(arr.shape)}")
    return arr.reshape(len(arr), -1).astype(np.float32)


def _numpy(x: Any, name: str) -> np.ndarray:
    if hasattr(x, "detach") and hasattr(x, "cpu"):
        x = x.detach().cpu().numpy()
    try:
        return np.asarray(x)
    except (TypeError, ValueError):
        raise ValueError(f"{name}: expected a numpy array or torch tensor, got {type(x).__name__}") from None


def _unit_rows(f: np.ndarray) -> np.ndarray:
    n = np.linalg.norm(f, axis=1, keepdims=True)
    return f / np.where(n > 0, n, 1.0)


def rank1_by_pose(features: Callable[[Any], Any] | Any, data: HeadDataset | HeadBatch | None = None, *,
                  yaws: Sequence[float] | None = None, batch_size: int = 100,
                  as_tensor: bool = False) -> dict[float, float]:
    """Rank-1 face recognition across pose: ``{yaw: accuracy}`` for every non-frontal pose class, in [0, 1].

    Gallery: the frontal (yaw 0) images of ``data``, labelled by identity; probes: the images of every other pose
    class. Each probe takes the identity of the gallery image whose feature has the highest cosine similarity
    with its own (ties: the first); the accuracy of a pose is the share of its probes whose nearest gallery image
    is of the same identity. The frontal class itself is not scored (its probes would be the gallery).

    features: a function ``images -> features``, called on batches of ``batch_size`` images (B, 3, S, S) float32 in
    [-1, 1] (numpy; torch tensors with ``as_tensor=True``) and returning (B, D) (numpy or torch; more axes are
    flattened), e.g. :func:`pixel_features` (the raw-pixel baseline) or a DR-GAN encoder wrapped as
    ``lambda x: model.generator.encode(x)`` with ``as_tensor=True`` (under ``torch.no_grad()``, on the model's
    device). Or precomputed features, an array (N, D) over the samples of ``data`` in order.
    data: a :class:`HeadDataset` (rendered in batches; never all in memory), a :class:`HeadBatch` of arrays
    (image, identity, pose; as from :func:`heldout_dataset`), or None: ``HeadDataset.heldout()`` (the 100
    held-out identities at 96 px). yaws: the yaw of each pose class of a HeadBatch (default :data:`YAWS`; a
    HeadDataset knows its own); one must be 0. Keys of the result are these yaws (ints for :data:`YAWS`).
    """
    if data is None:
        data = HeadDataset.heldout()
    if isinstance(data, HeadDataset):
        if yaws is not None and tuple(yaws) != data.yaws:
            raise ValueError(f"yaws: a HeadDataset has its own yaws {data.yaws}, got {tuple(yaws)!r}")
        class_yaws = data.yaws
        lab = data.labels()
        ident, pose, n = lab["identity"], lab["pose"], len(data)
        images = None
    elif isinstance(data, HeadBatch):
        class_yaws = _check_yaws(YAWS if yaws is None else yaws)
        images = data.image
        ident = _numpy(data.identity, "data.identity").reshape(-1).astype(np.int64)
        pose = _numpy(data.pose, "data.pose").reshape(-1).astype(np.int64)
        n = len(ident)
        if len(pose) != n or (images is not None and len(images) != n):
            raise ValueError(f"data: image, identity and pose must have one length, got "
                             f"{None if images is None else len(images)}, {n} and {len(pose)}")
        if n and (pose.min() < 0 or pose.max() >= len(class_yaws)):
            raise ValueError(f"data.pose: expected classes in [0, {len(class_yaws)}) (one per yaw of {class_yaws}), "
                             f"got values from {pose.min()} to {pose.max()}")
    else:
        raise ValueError(f"data: expected a HeadDataset, a HeadBatch or None, got {type(data).__name__}")
    if 0 not in class_yaws:
        raise ValueError(f"yaws: the gallery is the frontal pose, so yaws must contain 0, got {class_yaws}")
    frontal = class_yaws.index(0)
    batch_size = _check_int("batch_size", batch_size, 1)

    if callable(features):
        feats = []
        for s in range(0, n, batch_size):
            if images is None:
                x: Any = data.arrays(slice(s, s + batch_size)).image  # type: ignore[union-attr]
            else:
                x = images[s:s + batch_size]
            if as_tensor:
                import torch

                x = torch.as_tensor(x)
            elif hasattr(x, "detach"):
                x = x.detach().cpu().numpy()
            f = _numpy(features(x), "features(images)")
            if f.ndim < 1 or len(f) != len(x):
                raise ValueError(f"features(images): expected one feature row per image, ({len(x)}, D), got shape "
                                 f"{tuple(f.shape)}")
            feats.append(f.reshape(len(x), -1).astype(np.float64))
        fmat = np.concatenate(feats) if feats else np.zeros((0, 1))
    else:
        fmat = _numpy(features, "features")
        if fmat.ndim < 2 or len(fmat) != n:
            raise ValueError(f"features: expected a callable or an array (N, D) with N = {n} (one row per sample of "
                             f"data), got shape {tuple(fmat.shape)}")
        fmat = fmat.reshape(n, -1).astype(np.float64)
    if not np.isfinite(fmat).all():
        raise ValueError("features: expected finite values, got NaN or inf")

    gal = pose == frontal
    if not gal.any():
        raise ValueError(f"data: no frontal (yaw 0, pose class {frontal}) images for the gallery")
    g, g_id = _unit_rows(fmat[gal]), ident[gal]
    out: dict[float, float] = {}
    for p, y in enumerate(class_yaws):
        sel = pose == p
        if p == frontal or not sel.any():
            continue
        best = np.argmax(_unit_rows(fmat[sel]) @ g.T, axis=1)
        out[y] = float(np.mean(g_id[best] == ident[sel]))
    return out


# ---------------------------------------------------------------------------------------------------- pictures


def to_uint8(images: Any) -> np.ndarray:
    """Images (3, S, S) or (B, 3, S, S), float in [-1, 1] (the data set's layout; clipped) or uint8, numpy or
    torch, to uint8 channels-last pictures (S, S, 3) or (B, S, S, 3): the exact inverse of the data set's
    ``uint8 / 127.5 - 1``."""
    arr = _numpy(images, "images")
    if arr.ndim not in (3, 4) or arr.shape[-3] not in (1, 3):
        raise ValueError(f"images: expected (3, S, S) or (B, 3, S, S) (channels first), got shape {tuple(arr.shape)}")
    if arr.dtype == np.uint8:
        out = arr
    elif np.issubdtype(arr.dtype, np.floating):
        out = np.rint((np.clip(np.nan_to_num(arr.astype(np.float32), nan=-1.0), -1.0, 1.0) + 1.0) * 127.5)
        out = out.astype(np.uint8)
    else:
        raise ValueError(f"images: expected float values in [-1, 1] or uint8, got dtype {arr.dtype}")
    out = np.moveaxis(out, -3, -1)
    if out.shape[-1] == 1:
        out = np.repeat(out, 3, axis=-1)
    return np.ascontiguousarray(out)


def heads_grid(identities: int | Sequence[int] = 4, yaws: Sequence[float] = YAWS, size: int = IMAGE_SIZE,
               seed: int = 0, *, gap: int = 2, gap_colour: Sequence[int] = (255, 255, 255),
               **kwargs: Any) -> np.ndarray:
    """A preview picture: uint8 ``(rows * S + (rows - 1) * gap, cols * S + (cols - 1) * gap, 3)``, one row per
    identity of ``seed`` (``identities``: a count, the first ones, or a sequence of indices), one column per yaw of
    ``yaws`` (left to right; default :data:`YAWS`, -60 to +60). ``kwargs`` go to :func:`render_head`. Any seed
    (the held-out one too: a picture is not training)."""
    seed = _check_int("seed", seed, 0)
    if isinstance(identities, (int, np.integer)) and not isinstance(identities, (bool, np.bool_)):
        ids = list(range(_check_int("identities", identities, 1, 1024)))
    elif isinstance(identities, Sequence) and not isinstance(identities, str) and len(identities) > 0:
        ids = [_check_int("identities", i, 0) for i in identities]
    else:
        raise ValueError(f"identities: expected an int >= 1 or a non-empty sequence of identity indices, got "
                         f"{identities!r}")
    yaws = _check_yaws(yaws)
    gap = _check_int("gap", gap, 0, 1024)
    colour = np.asarray(gap_colour)
    if colour.shape != (3,) or not np.issubdtype(colour.dtype, np.integer) or colour.min() < 0 or colour.max() > 255:
        raise ValueError(f"gap_colour: expected three ints in 0..255 (R, G, B), got {gap_colour!r}")
    size = _check_int("size", size, 4, _MAX_SIZE)
    rows, cols = len(ids), len(yaws)
    out = np.empty((rows * size + (rows - 1) * gap, cols * size + (cols - 1) * gap, 3), dtype=np.uint8)
    out[...] = colour.astype(np.uint8)
    for r, i in enumerate(ids):
        views = render_views(identity_for(seed, i), yaws, size, **kwargs)
        for c in range(cols):
            out[r * (size + gap):r * (size + gap) + size, c * (size + gap):c * (size + gap) + size] = views[c]
    return out
