"""Procedural moving-sprite videos with known factors (for TGAN, Saito et al. 2017), and motion measures for scoring
real or generated videos.

Everything is generated from a seed with numpy; nothing is downloaded. ``import ganzoo.data.sprites`` needs only
numpy (torch only for :class:`SpriteVideos` items).

**Coordinates**: continuous pixel coordinates ``(x, y)``, x = column (right), y = row (**down**), pixel ``(i, j)``'s
centre at ``(j + 0.5, i + 0.5)``; a frame spans ``[0, size]`` on both axes. Directions are angles in these image
coordinates: velocity ``speed * (cos a, sin a)``, so ``a = 0`` moves right and ``a = pi / 2`` moves **down** (angles
turn clockwise on screen). Tracks and labels are ``(x, y)``.

**A video** (:func:`make_video`): ``frames`` frames (16) of ``size x size`` (64) pixels, RGB, a plain background of
:data:`BACKGROUND` (dark grey, 32/255: one fixed colour is the easiest thing for a generator to get right, and every
palette colour is far from it), and ``n_sprites`` (1..3) sprites. Each sprite has a shape of :data:`SPRITE_SHAPES`,
a colour of :data:`SPRITE_COLOURS` (different sprites of one video get different colours), a size ``r`` (px,
U(:data:`RADIUS_RANGE`)), a start position (uniform over the positions where it fits), a direction U(0, 2 pi) and a
speed (px / frame, U(:data:`SPEED_RANGE`)). It moves in a straight line at constant speed and bounces elastically
off the walls (the velocity component normal to a wall flips; the reflection happens at the exact sub-frame time,
so frame t is at the folded position ``fold(start + v t)``). The sprite is never clipped: its bounding box stays
in the frame. Later sprites are drawn over earlier ones (they may overlap).

**Shapes** all have the area of a disc of radius ``r`` (so ``sqrt(foreground area / pi)`` estimates the size
factor whatever the shape), and their area centroid is the labelled centre (so a tracked centroid is the labelled
position, triangles included). In units of ``r``:

==========  ==================================================================  =======================
shape       geometry                                                            bounding box (x; y)
==========  ==================================================================  =======================
circle      disc of radius 1                                                    +-1; +-1
square      axis-aligned, half-side sqrt(pi) / 2 = 0.886                        +-0.886; +-0.886
triangle    equilateral, apex up, side 2.693 (circumradius 1.555)               +-1.347; -1.555 .. 0.778
diamond     square turned 45 degrees, half-diagonal sqrt(pi / 2) = 1.253        +-1.253; +-1.253
cross       plus sign: two bars of half-length 1.189 and half-width 1.189 / 3   +-1.189; +-1.189
ring        annulus, inner radius half the outer, outer radius 1.155            +-1.155; +-1.155
==========  ==================================================================  =======================

**Rendering**: supersampling, 16 samples per pixel (inside-tests at the points of a 4x4 grid sheared so that each
sample has its own column and row of a 16x16 sub-grid: "N-rooks", so straight axis-aligned edges land to 1/16 px),
box-averaged to a coverage in [0, 1], over a window around each sprite only, vectorised over the frames; the sprite
colour is blended over the frame with that coverage. Pixels fully inside a sprite are exactly its palette colour.
About 3 ms per 16 x 64^2 video on one (busy) core: 1000 videos in about 3 s.

**Data set** (:func:`sprite_dataset`, :class:`SpriteVideos`): sample ``i`` of seed ``s`` is drawn from
``numpy.random.default_rng((s, i))``, so the same seed gives the same videos on every machine and a shorter set is a
prefix of a longer one. Videos are ``(N, 3, T, H, W)`` float32 in [-1, 1] (``uint8 / 127.5 - 1``), the layout of
:mod:`ganzoo.models.tgan`. **Held out**: the videos of :data:`SPRITES_HELDOUT_SEED` (:func:`sprite_heldout`) are
never trained on; :func:`sprite_dataset` and :class:`SpriteVideos` refuse that seed.

**Scoring motion** (real or generated videos, any layout :func:`ganzoo.pipelines.video.video_to_uint8` takes):
:func:`track_centroids` (per-frame centre of the foreground: pixels far from the background colour, which is
estimated as the per-channel median of the video), :func:`motion_stats` (speed, direction, straightness,
coherence of a track) and :func:`frame_coherence` (mean absolute / squared difference of consecutive frames).
"""
from __future__ import annotations

import logging
import math
from typing import Any, Sequence

import numpy as np

from ..pipelines.video import video_to_uint8

logger = logging.getLogger(__name__)

__all__ = ["SPRITE_SHAPES", "SPRITE_COLOURS", "SPRITE_PALETTE", "BACKGROUND", "RADIUS_RANGE", "SPEED_RANGE",
           "SPRITES_HELDOUT_SEED", "SPRITES_HELDOUT_N", "MAX_SPRITES", "make_video", "sprite_dataset",
           "sprite_heldout", "SpriteVideos", "track_centroids", "motion_stats", "frame_coherence"]

SPRITE_SHAPES: tuple[str, ...] = ("circle", "square", "triangle", "diamond", "cross", "ring")
#: name -> RGB; the ``colour`` label is the index in this order. Pairwise RGB distances >= 123, >= 173 from the
#: background.
SPRITE_COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (230, 40, 40), "yellow": (235, 225, 45), "green": (45, 200, 70), "cyan": (40, 215, 230),
    "blue": (60, 95, 245), "magenta": (215, 60, 215), "white": (240, 240, 240)}
#: :data:`SPRITE_COLOURS` as a read-only (K, 3) uint8 array, row = colour index
SPRITE_PALETTE: np.ndarray = np.array(list(SPRITE_COLOURS.values()), dtype=np.uint8)
SPRITE_PALETTE.setflags(write=False)
BACKGROUND: tuple[int, int, int] = (32, 32, 32)
RADIUS_RANGE: tuple[float, float] = (6.0, 14.0)  # px at size 64; scaled by size / 64 for other sizes
SPEED_RANGE: tuple[float, float] = (1.0, 4.0)  # px / frame at size 64; scaled by size / 64 for other sizes
SPRITES_HELDOUT_SEED = 161106624  # arXiv 1611.06624 (TGAN); its videos are never trained on
SPRITES_HELDOUT_N = 256  # the held-out set's default length
MAX_SPRITES = 3
_SS = 4  # supersampling: _SS^2 samples per pixel, on a sheared _SS x _SS grid (N-rooks: every sample has its own
_A, _B = np.divmod(np.arange(_SS * _SS), _SS)  # column and its own row of a 16x16 sub-grid, so axis-aligned edges
_SUB_X = (_SS * _A + _B + 0.5) / (_SS * _SS)  # are resolved to 1/16 px, not 1/4)
_SUB_Y = (_SS * _B + _A + 0.5) / (_SS * _SS)

_SQ = math.sqrt(math.pi) / 2  # square half-side
_DI = math.sqrt(math.pi / 2)  # diamond half-diagonal
_CR = math.sqrt(9 * math.pi / 20)  # cross half-length (arm half-width _CR / 3; area 20/9 _CR^2 = pi)
_RO = 1 / math.sqrt(0.75)  # ring outer radius (inner _RO / 2; area 3/4 pi _RO^2 = pi)
_TS = math.sqrt(4 * math.pi / math.sqrt(3))  # triangle side ((sqrt 3 / 4) side^2 = pi)
_TR = _TS / math.sqrt(3)  # triangle circumradius
#: shape -> bounding box in units of r: (left, right, top, bottom) extents from the centre
_EXTENT: dict[str, tuple[float, float, float, float]] = {
    "circle": (1.0, 1.0, 1.0, 1.0), "square": (_SQ,) * 4, "triangle": (_TS / 2, _TS / 2, _TR, _TR / 2),
    "diamond": (_DI,) * 4, "cross": (_CR,) * 4, "ring": (_RO,) * 4}


def _inside(shape: str, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Inside-test at offsets (u, v) from the centre, in units of r (v down); broadcasts."""
    if shape == "circle":
        return u * u + v * v <= 1.0
    if shape == "square":
        return np.maximum(np.abs(u), np.abs(v)) <= _SQ
    if shape == "triangle":  # apex (0, -R), base corners (+-side/2, R/2)
        return (v <= _TR / 2) & (math.sqrt(3) * np.abs(u) <= v + _TR)
    if shape == "diamond":
        return np.abs(u) + np.abs(v) <= _DI
    if shape == "cross":
        au, av = np.abs(u), np.abs(v)
        return (np.maximum(au, av) <= _CR) & (np.minimum(au, av) <= _CR / 3)
    if shape == "ring":
        d2 = u * u + v * v
        return (d2 <= _RO * _RO) & (d2 >= _RO * _RO / 4)
    raise AssertionError(shape)


def _fold(p: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Elastic bounces in [lo, hi]: the unbounded straight-line positions ``p`` folded back into the interval."""
    span = hi - lo
    u = np.mod(p - lo, 2 * span)
    return lo + np.where(u <= span, u, 2 * span - u)


def _render(canvas: np.ndarray, shape: str, colour: np.ndarray, r: float, track: np.ndarray) -> None:
    """Blend one sprite into ``canvas`` (T, H, W, 3) float32 in place; ``track`` (T, 2) centres (x, y)."""
    t_n, h, w, _ = canvas.shape
    el, er, et, eb = _EXTENT[shape]
    wx = min(w, int(math.ceil((el + er) * r)) + 2)
    wy = min(h, int(math.ceil((et + eb) * r)) + 2)
    cx, cy = track[:, 0], track[:, 1]
    x0 = np.clip(np.floor(cx - el * r).astype(np.int64), 0, w - wx)
    y0 = np.clip(np.floor(cy - et * r).astype(np.int64), 0, h - wy)
    # (T, wx, 1) + (N,) -> (T, wx, N) sample x offsets from the centre, in units of r; likewise y
    xs = ((x0[:, None] + np.arange(wx) - cx[:, None])[:, :, None] + _SUB_X) / r
    ys = ((y0[:, None] + np.arange(wy) - cy[:, None])[:, :, None] + _SUB_Y) / r
    inside = _inside(shape, xs.astype(np.float32)[:, None], ys.astype(np.float32)[:, :, None])  # (T, wy, wx, N)
    cov = inside.mean(axis=-1, dtype=np.float32)[..., None]  # (T, wy, wx, 1)
    ti = np.arange(t_n)[:, None, None]
    rows = (y0[:, None] + np.arange(wy))[:, :, None]
    cols = (x0[:, None] + np.arange(wx))[:, None, :]
    region = canvas[ti, rows, cols]
    canvas[ti, rows, cols] = region + cov * (colour - region)


# ---------------------------------------------------------------------------------------------- checks


def _check_int(value: object, name: str, lo: int, hi: int, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not lo <= value <= hi:
        raise ValueError(f"{name} ({what}) must be an int in [{lo}, {hi}], got {value!r}")
    return int(value)


def _check_range(value: object, name: str, what: str) -> tuple[float, float]:
    try:
        lo, hi = (float(v) for v in value)  # type: ignore[union-attr]
    except (TypeError, ValueError):
        raise ValueError(f"{name} ({what}) must be a pair (low, high) of numbers, got {value!r}") from None
    if not (math.isfinite(lo) and math.isfinite(hi) and 0 < lo <= hi):
        raise ValueError(f"{name} ({what}) must satisfy 0 < low <= high, got {value!r}")
    return lo, hi


def _check_names(names: object, allowed: Sequence[str], what: str) -> tuple[str, ...]:
    if isinstance(names, str) or not isinstance(names, Sequence) or len(names) == 0:
        raise TypeError(f"{what} must be a non-empty sequence of names from {list(allowed)}, got {names!r}")
    for n in names:
        if n not in allowed:
            raise ValueError(f"unknown {what[:-1]} {n!r}; expected one of {list(allowed)}")
    return tuple(names)


def _check_rgb(value: object, name: str) -> np.ndarray:
    arr = np.asarray(value)
    if arr.shape != (3,) or not np.issubdtype(arr.dtype, np.integer) or arr.min() < 0 or arr.max() > 255:
        raise ValueError(f"{name} must be three ints in 0..255 (R, G, B), got {value!r}")
    return arr.astype(np.float32)


def _check_seed(seed: object) -> int:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be an int >= 0, got {seed!r}")
    return int(seed)


def _refuse_heldout(seed: int) -> None:
    if seed == SPRITES_HELDOUT_SEED:
        raise ValueError(f"seed {seed} is SPRITES_HELDOUT_SEED, the held-out videos that are never trained on; use "
                         f"sprite_heldout() or SpriteVideos.heldout() to evaluate on them, or any other seed >= 0 "
                         f"for training")


# ---------------------------------------------------------------------------------------------- videos


def make_video(rng: np.random.Generator, frames: int = 16, size: int = 64, *, n_sprites: int = 1,
               shapes: Sequence[str] = SPRITE_SHAPES, colours: Sequence[str] = tuple(SPRITE_COLOURS),
               radius_range: tuple[float, float] | None = None, speed_range: tuple[float, float] | None = None,
               background: Sequence[int] = BACKGROUND, shape: str | None = None, colour: str | None = None,
               radius: float | None = None, start: tuple[float, float] | None = None,
               direction: float | None = None, speed: float | None = None) -> tuple[np.ndarray, dict[str, Any]]:
    """One random sprite video drawn from ``rng``: ``(video, factors)``.

    video: uint8 ``(frames, size, size, 3)`` RGB (channels last; :func:`sprite_dataset` gives the TGAN layout).
    factors (one sprite): ``shape`` (name), ``shape_index`` (in :data:`SPRITE_SHAPES`), ``colour`` (name),
    ``colour_index`` (in :data:`SPRITE_COLOURS`), ``size`` (r, px), ``start`` ((x, y) px, frame 0's centre),
    ``direction`` (radians in [0, 2 pi), image coordinates, y down), ``speed`` (px / frame), ``trajectory``
    ((frames, 2) float64 centres (x, y), bounces included), ``first_bounce`` (the first frame whose position is
    after a bounce; ``frames`` when there is none; frames before it lie on ``start + t * v``), ``bounds``
    ((x_lo, x_hi, y_lo, y_hi): where the centre can go) and ``background`` (RGB). With ``n_sprites`` > 1 every
    per-sprite factor is a list over the sprites (drawing order), ``trajectory`` an array (n_sprites, frames, 2).

    ``shapes`` / ``colours`` restrict what is drawn (uniformly); ``radius_range`` / ``speed_range`` default to
    :data:`RADIUS_RANGE` / :data:`SPEED_RANGE` scaled by ``size / 64``. With one sprite, ``shape``, ``colour``,
    ``radius``, ``start``, ``direction`` and ``speed`` fix that factor; the rng is still advanced the same way, so
    the other factors stay what they would have been. ``start`` is clamped to where the sprite fits.
    """
    if not isinstance(rng, np.random.Generator):
        raise TypeError(f"rng must be a numpy.random.Generator (numpy.random.default_rng(seed)), got "
                        f"{type(rng).__name__}")
    t_n = _check_int(frames, "frames", 1, 1024, "frames per video")
    side = _check_int(size, "size", 8, 1024, "frame side, px")
    k = _check_int(n_sprites, "n_sprites", 1, MAX_SPRITES, "sprites per video")
    shapes = _check_names(shapes, SPRITE_SHAPES, "shapes")
    colours = _check_names(colours, tuple(SPRITE_COLOURS), "colours")
    if len(colours) < k:
        raise ValueError(f"{k} sprites need {k} different colours, got colours={list(colours)}")
    r_lo, r_hi = _check_range(RADIUS_RANGE if radius_range is None else radius_range, "radius_range", "px")
    if radius_range is None:
        r_lo, r_hi = r_lo * side / 64, r_hi * side / 64
    v_lo, v_hi = _check_range(SPEED_RANGE if speed_range is None else speed_range, "speed_range", "px / frame")
    if speed_range is None:
        v_lo, v_hi = v_lo * side / 64, v_hi * side / 64
    bg = _check_rgb(background, "background")
    fixed = {"shape": shape, "colour": colour, "radius": radius, "start": start, "direction": direction,
             "speed": speed}
    if k > 1 and any(v is not None for v in fixed.values()):
        raise ValueError(f"fixed factors ({', '.join(n for n, v in fixed.items() if v is not None)}) need n_sprites=1, "
                         f"got n_sprites={k}")
    if shape is not None and shape not in SPRITE_SHAPES:
        raise ValueError(f"unknown shape {shape!r}; expected one of {list(SPRITE_SHAPES)}")
    if colour is not None and colour not in SPRITE_COLOURS:
        raise ValueError(f"unknown colour {colour!r}; expected one of {list(SPRITE_COLOURS)}")
    for name in ("radius", "speed"):
        v = fixed[name]
        if v is not None and not (isinstance(v, (int, float, np.number)) and not isinstance(v, bool)
                                  and math.isfinite(v) and v >= 0 and (v > 0 or name == "speed")):
            raise ValueError(f"{name} must be a finite number {'>= 0' if name == 'speed' else '> 0'}, got {v!r}")
    if direction is not None and not (isinstance(direction, (int, float, np.number)) and math.isfinite(direction)):
        raise ValueError(f"direction must be a finite angle in radians, got {direction!r}")

    # the draws, in a fixed order whatever is fixed
    shape_idx = rng.integers(len(shapes), size=k)
    colour_idx = rng.choice(len(colours), size=k, replace=False)
    radii = rng.uniform(r_lo, r_hi, size=k)
    starts = rng.uniform(0.0, 1.0, size=(k, 2))
    angles = rng.uniform(0.0, 2 * math.pi, size=k)
    speeds = rng.uniform(v_lo, v_hi, size=k)

    canvas = np.empty((t_n, side, side, 3), dtype=np.float32)
    canvas[...] = bg
    times = np.arange(t_n, dtype=np.float64)
    out: dict[str, list] = {key: [] for key in ("shape", "shape_index", "colour", "colour_index", "size", "start",
                                                "direction", "speed", "trajectory", "first_bounce", "bounds")}
    for s in range(k):
        sh = shape if shape is not None else shapes[shape_idx[s]]
        co = colour if colour is not None else colours[colour_idx[s]]
        r = float(radius if radius is not None else radii[s])
        el, er, et, eb = _EXTENT[sh]
        x_lo, x_hi, y_lo, y_hi = el * r, side - er * r, et * r, side - eb * r
        if x_hi <= x_lo or y_hi <= y_lo:
            raise ValueError(f"a {sh} of size {r:.3g} px does not fit a {side} px frame (it needs "
                             f"{max((el + er), (et + eb)) * r:.3g} px); lower radius_range / radius or raise size")
        if start is not None:
            try:
                sx, sy = (float(c) for c in start)
            except (TypeError, ValueError):
                raise ValueError(f"start must be a pair (x, y) of numbers (px), got {start!r}") from None
            sx, sy = min(max(sx, x_lo), x_hi), min(max(sy, y_lo), y_hi)
        else:
            sx, sy = x_lo + starts[s, 0] * (x_hi - x_lo), y_lo + starts[s, 1] * (y_hi - y_lo)
        a = float(direction if direction is not None else angles[s]) % (2 * math.pi)
        v = float(speed if speed is not None else speeds[s])
        ux, uy = sx + v * math.cos(a) * times, sy + v * math.sin(a) * times  # unbounded straight line
        track = np.stack([_fold(ux, x_lo, x_hi), _fold(uy, y_lo, y_hi)], axis=1)
        outside = (ux < x_lo) | (ux > x_hi) | (uy < y_lo) | (uy > y_hi)
        first = int(np.argmax(outside)) if outside.any() else t_n
        _render(canvas, sh, np.asarray(SPRITE_COLOURS[co], dtype=np.float32), r, track)
        for key, val in (("shape", sh), ("shape_index", SPRITE_SHAPES.index(sh)), ("colour", co),
                         ("colour_index", list(SPRITE_COLOURS).index(co)), ("size", r), ("start", (sx, sy)),
                         ("direction", a), ("speed", v), ("trajectory", track), ("first_bounce", first),
                         ("bounds", (x_lo, x_hi, y_lo, y_hi))):
            out[key].append(val)
    video = np.rint(canvas).astype(np.uint8)
    factors: dict[str, Any] = {key: (vals[0] if k == 1 else vals) for key, vals in out.items()}
    if k > 1:
        factors["trajectory"] = np.stack(out["trajectory"])
    factors["background"] = tuple(int(c) for c in bg)
    return video, factors


def _dataset(n: object, frames: int, size: int, seed: int, dtype: object,
             **kw: Any) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 0:
        raise ValueError(f"n (number of videos) must be an int >= 0, got {n!r}")
    dt = np.dtype(dtype)
    if dt not in (np.dtype(np.float32), np.dtype(np.uint8)):
        raise ValueError(f"dtype must be float32 (values in [-1, 1]) or uint8 (0..255), got {dt}")
    t_n = _check_int(frames, "frames", 1, 1024, "frames per video")
    side = _check_int(size, "size", 8, 1024, "frame side, px")
    k = _check_int(kw.get("n_sprites", 1), "n_sprites", 1, MAX_SPRITES, "sprites per video")
    n = int(n)
    per = (n,) if k == 1 else (n, k)
    videos = np.empty((n, 3, t_n, side, side), dtype=dt)
    labels = {"shape": np.zeros(per, np.int64), "colour": np.zeros(per, np.int64), "size": np.zeros(per, np.float32),
              "start": np.zeros(per + (2,), np.float32), "direction": np.zeros(per, np.float32),
              "speed": np.zeros(per, np.float32), "first_bounce": np.zeros(per, np.int64),
              "trajectory": np.zeros(per + (t_n, 2), np.float32)}
    keys = {"shape": "shape_index", "colour": "colour_index"}
    for i in range(n):
        video, f = make_video(np.random.default_rng((seed, i)), t_n, side, **kw)
        chw = video.transpose(3, 0, 1, 2)  # (T, H, W, 3) -> (3, T, H, W)
        videos[i] = chw if dt == np.uint8 else chw.astype(np.float32) / np.float32(127.5) - np.float32(1.0)
        for key, arr in labels.items():
            arr[i] = np.asarray(f[keys.get(key, key)])
    return videos, labels


def sprite_dataset(n: int, frames: int = 16, size: int = 64, seed: int = 0, *, n_sprites: int = 1,
                   shapes: Sequence[str] = SPRITE_SHAPES, colours: Sequence[str] = tuple(SPRITE_COLOURS),
                   radius_range: tuple[float, float] | None = None, speed_range: tuple[float, float] | None = None,
                   background: Sequence[int] = BACKGROUND,
                   dtype: type | str = np.float32) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """``n`` random sprite videos: ``(videos, labels)``, the same for the same arguments on every machine.

    videos: ``(n, 3, frames, size, size)`` float32 in [-1, 1] (``uint8 / 127.5 - 1``), the TGAN layout
    (B, C, T, H, W); or uint8 0..255 in the same layout with ``dtype=np.uint8`` (a quarter of the memory: 1000
    default videos are 786 MB as float32). labels (shape ``(n,)`` per sprite factor with one sprite, ``(n,
    n_sprites)`` with more): ``shape`` int64 (index in :data:`SPRITE_SHAPES`), ``colour`` int64 (index in
    :data:`SPRITE_COLOURS`), ``size`` float32 (r, px), ``start`` (.., 2) float32 ((x, y) px), ``direction``
    float32 (radians, [0, 2 pi), y down), ``speed`` float32 (px / frame), ``first_bounce`` int64, ``trajectory``
    (.., frames, 2) float32 (per-frame centres (x, y), px). See :func:`make_video` for the factors and the other
    arguments. Sample i is drawn from ``numpy.random.default_rng((seed, i))``. The held-out seed
    :data:`SPRITES_HELDOUT_SEED` is refused (ValueError): use :func:`sprite_heldout`.
    """
    seed = _check_seed(seed)
    _refuse_heldout(seed)
    return _dataset(n, frames, size, seed, dtype, n_sprites=n_sprites, shapes=shapes, colours=colours,
                    radius_range=radius_range, speed_range=speed_range, background=background)


def sprite_heldout(n: int = SPRITES_HELDOUT_N, frames: int = 16, size: int = 64, *, n_sprites: int = 1,
                   dtype: type | str = np.float32, **kwargs: Any) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """The held-out videos (seed :data:`SPRITES_HELDOUT_SEED`): as :func:`sprite_dataset`, for evaluation only."""
    return _dataset(n, frames, size, SPRITES_HELDOUT_SEED, dtype, n_sprites=n_sprites, **kwargs)


class SpriteVideos:
    """A map-style data set of sprite videos for ``torch.utils.data.DataLoader``.

    ``SpriteVideos(n, frames=16, size=64, seed=0, **kwargs)`` renders the videos of :func:`sprite_dataset` once
    (kept as uint8, ``videos`` (n, 3, T, H, W)); ``ds[i]`` is a torch float32 tensor (3, T, H, W) in [-1, 1], or
    ``(video, labels_i)`` with ``return_labels=True`` (labels_i: the :func:`sprite_dataset` labels of sample i, as
    numpy values). ``labels`` holds all of them. The held-out seed is refused; :meth:`heldout` builds that set.
    """

    def __init__(self, n: int, frames: int = 16, size: int = 64, seed: int = 0, *, return_labels: bool = False,
                 _heldout: bool = False, **kwargs: Any) -> None:
        seed = _check_seed(seed)
        if not _heldout:
            _refuse_heldout(seed)
        if "dtype" in kwargs:
            raise TypeError("SpriteVideos keeps the videos as uint8 and yields float32 tensors in [-1, 1]; dtype is "
                            "not an argument (use sprite_dataset(..., dtype=...) for arrays)")
        self.seed, self.return_labels = seed, bool(return_labels)
        self.videos, self.labels = _dataset(n, frames, size, seed, np.uint8, **kwargs)
        logger.debug("SpriteVideos: %d videos of %s (seed %d)", len(self.videos), self.videos.shape[1:], seed)

    @classmethod
    def heldout(cls, n: int = SPRITES_HELDOUT_N, frames: int = 16, size: int = 64, **kwargs: Any) -> SpriteVideos:
        """The held-out videos (seed :data:`SPRITES_HELDOUT_SEED`), for evaluation only."""
        return cls(n, frames, size, SPRITES_HELDOUT_SEED, _heldout=True, **kwargs)

    def __len__(self) -> int:
        return len(self.videos)

    def __getitem__(self, i: int):
        import torch

        video = torch.from_numpy(self.videos[i].astype(np.float32) / np.float32(127.5) - np.float32(1.0))
        if not self.return_labels:
            return video
        return video, {key: arr[i] for key, arr in self.labels.items()}

    def tensor(self, indices: Sequence[int] | slice | None = None):
        """A batch as one torch float32 tensor (B, 3, T, H, W) in [-1, 1] (all videos when ``indices`` is None)."""
        import torch

        sel = self.videos if indices is None else self.videos[indices]
        return torch.from_numpy(sel.astype(np.float32) / np.float32(127.5) - np.float32(1.0))


# ------------------------------------------------------------------------------------------------ scoring


def track_centroids(video, *, background: Sequence[int] | None = None, threshold: float = 48.0,
                    min_pixels: int = 3) -> np.ndarray:
    """The foreground's centre per frame: ``(T, 2)`` float64 ``(x, y)`` px (module docstring's coordinates), or
    ``(B, T, 2)`` for a batch; NaN where fewer than ``min_pixels`` pixels are foreground.

    ``video``: a video or batch in any layout :func:`ganzoo.pipelines.video.video_to_uint8` takes (TGAN
    (C, T, H, W) float in [-1, 1], (T, H, W, 3) uint8, ...). Foreground: pixels whose RGB distance (0..255 units)
    from the background colour exceeds ``threshold``; the centre is their centroid weighted by that distance (for
    one plain-coloured sprite, a coverage-weighted centroid; with several sprites, the centre of all of them).
    ``background``: RGB; by default estimated per video as the per-channel median of all its pixels (right while
    sprites cover under half the frame).
    """
    vids = video_to_uint8(video)
    single = vids.ndim == 4
    if single:
        vids = vids[None]
    if not (isinstance(threshold, (int, float)) and not isinstance(threshold, bool) and threshold >= 0):
        raise ValueError(f"threshold must be a number >= 0 (RGB distance, 0..255 units), got {threshold!r}")
    min_pixels = _check_int(min_pixels, "min_pixels", 1, 1 << 30, "foreground pixels for a centre")
    b, t_n, h, w, _ = vids.shape
    x = vids.astype(np.float32)
    if background is None:
        bg = np.median(x.reshape(b, -1, 3), axis=1)  # (B, 3)
    else:
        bg = np.broadcast_to(_check_rgb(background, "background"), (b, 3))
    dist = np.sqrt(((x - bg[:, None, None, None, :]) ** 2).sum(-1))  # (B, T, H, W)
    fg = dist > threshold
    wgt = np.where(fg, dist, 0.0).astype(np.float64)
    mass = wgt.sum(axis=(2, 3))
    cx = (wgt.sum(axis=2) * (np.arange(w) + 0.5)).sum(-1)
    cy = (wgt.sum(axis=3) * (np.arange(h) + 0.5)).sum(-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = np.stack([cx / mass, cy / mass], axis=-1)
    out[fg.sum(axis=(2, 3)) < min_pixels] = np.nan
    return out[0] if single else out


def _motion(track: np.ndarray, min_step: float) -> dict[str, float]:
    valid = np.isfinite(track).all(axis=1)
    steps = np.diff(track, axis=0)
    ok = valid[1:] & valid[:-1]
    s = steps[ok]
    nan = float("nan")
    res = {"visible": float(valid.mean()) if len(valid) else nan, "steps": int(ok.sum()), "speed": nan,
           "direction": nan, "straightness": nan, "coherence": nan}
    if len(s) == 0:
        return res
    lens = np.linalg.norm(s, axis=1)
    res["speed"] = float(lens.mean())
    mean = s.mean(axis=0)
    if np.linalg.norm(mean) > 1e-9:
        res["direction"] = float(math.atan2(mean[1], mean[0]) % (2 * math.pi))
    path = float(lens.sum())
    if path > 1e-9:
        res["straightness"] = float(np.linalg.norm(s.sum(axis=0)) / path)
    pair = ok[1:] & ok[:-1]  # consecutive steps, both valid
    a, c = steps[:-1][pair], steps[1:][pair]
    la, lc = np.linalg.norm(a, axis=1), np.linalg.norm(c, axis=1)
    moving = (la > min_step) & (lc > min_step)
    if moving.any():
        res["coherence"] = float(((a * c).sum(1)[moving] / (la * lc)[moving]).mean())
    return res


def motion_stats(track, *, min_step: float = 0.25) -> dict[str, Any]:
    """Motion of a centre track ``(T, 2)`` ``(x, y)`` px (NaN frames allowed, as :func:`track_centroids` gives):

    * ``speed``: mean length of the frame-to-frame steps, px / frame;
    * ``direction``: angle of the mean step, radians in [0, 2 pi), image coordinates (y down, as the labels);
    * ``straightness``: |sum of steps| / sum of |steps|, in [0, 1] (1: a straight line; bounces lower it);
    * ``coherence``: mean cosine between consecutive steps, in [-1, 1] (1: constant direction; a bounce costs one
      or two pairs; random jitter ~ 0), over step pairs both longer than ``min_step`` px;
    * ``visible``: fraction of frames with a centre; ``steps``: number of steps between visible frames.

    Steps touch only consecutive visible frames. Values are NaN when undefined (no steps, no motion). For a track
    batch ``(B, T, 2)`` every value is a (B,) array. Compare with the labels on frames before ``first_bounce``
    (``motion_stats(track[:first_bounce])``): after a bounce the mean step is no longer the labelled direction.
    """
    arr = np.asarray(track.detach().cpu().numpy() if hasattr(track, "detach") else track, dtype=np.float64)
    if arr.ndim not in (2, 3) or arr.shape[-1] != 2:
        raise ValueError(f"track: expected (T, 2) or (B, T, 2) centres (x, y), got shape {arr.shape}")
    if not (isinstance(min_step, (int, float)) and not isinstance(min_step, bool) and min_step >= 0):
        raise ValueError(f"min_step must be a number >= 0 (px), got {min_step!r}")
    if arr.ndim == 2:
        return _motion(arr, float(min_step))
    rows = [_motion(a, float(min_step)) for a in arr]
    keys = ("visible", "steps", "speed", "direction", "straightness", "coherence")
    return {k: np.array([r[k] for r in rows], dtype=np.int64 if k == "steps" else np.float64) for k in keys}


def frame_coherence(video) -> dict[str, Any]:
    """Frame-to-frame change of a video (real or generated), values scaled to [0, 1] (uint8 / 255):

    * ``mad``: mean absolute difference between consecutive frames (over pixels, channels and the T - 1 steps);
    * ``mse``: their mean squared difference;
    * ``mad_per_step``: (T - 1,) the mean absolute difference of each step;
    * ``mad_ratio``: ``mad`` over the mean absolute difference of frames ``T // 2`` apart: < 1 when the video
      changes smoothly (near frames are more alike than far ones), ~ 1 for flicker or noise, NaN for a still video.

    ``video``: any layout :func:`ganzoo.pipelines.video.video_to_uint8` takes; for a batch every value gets a
    leading (B,) axis. The sprite videos have ``mad`` around 0.005-0.03 (one small sprite moving 1-4 px a frame).
    """
    vids = video_to_uint8(video)
    single = vids.ndim == 4
    if single:
        vids = vids[None]
    t_n = vids.shape[1]
    if t_n < 2:
        raise ValueError(f"video: frame_coherence needs at least 2 frames, got {t_n}")
    x = vids.astype(np.float32) / np.float32(255.0)
    d = x[:, 1:] - x[:, :-1]
    per_step = np.abs(d).mean(axis=(2, 3, 4))  # (B, T-1)
    mad = per_step.mean(axis=1)
    mse = (d * d).mean(axis=(1, 2, 3, 4))
    lag = max(1, t_n // 2)
    far = np.abs(x[:, lag:] - x[:, :-lag]).mean(axis=(1, 2, 3, 4))
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = np.where(far > 0, mad / np.where(far > 0, far, 1.0), np.nan)
    res = {"mad": mad.astype(np.float64), "mse": mse.astype(np.float64), "mad_per_step": per_step.astype(np.float64),
           "mad_ratio": ratio.astype(np.float64)}
    if single:
        return {k: (v[0] if k == "mad_per_step" else float(v[0])) for k, v in res.items()}
    return res
