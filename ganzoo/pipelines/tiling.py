"""Tiled, memory-bounded application of an image-to-image network, with blended seams.

Reusable by every image pipeline (super-resolution now, inpainting later): :func:`tiled_apply` cuts an (H, W, C)
image into overlapping tiles, runs them through ``fn`` in batches, blends the results with feathered weights, and
hands finished output rows to a ``sink`` as soon as no later tile can touch them, so the working memory is one band
of tile rows at output resolution (``O(tile * scale * W * scale)``), not the whole output.

Geometry. Along each axis of ``n`` pixels, tiles of ``t = min(tile, n)`` pixels start at
``round(i * (n - t) / (k - 1))`` for ``i < k = ceil((n - overlap) / (t - overlap))``: the fewest tiles whose
neighbours overlap by at least ``overlap`` pixels, spread evenly, the first flush with the start and the last flush
with the end (so every tile has the same size and tiles batch). An image no larger than ``tile`` is one tile.

Blending. Where two neighbouring tiles overlap by ``v`` input pixels (``v * scale`` output pixels), each tile's
weight along that axis is 0 on the quarter of the overlap next to its own cut edge, rises linearly to 1 across the
middle half, and is 1 beyond (``blend=0.5``: the ramp is that fraction of the overlap, centred; ``blend=0`` is a
hard seam in the middle, ``blend=1`` a linear feather over the whole overlap). The two weights sum to 1 everywhere
in the overlap; the image borders get no ramp (a tile flush with the border sees the same zero padding the untiled
network sees). 2-D weights are the product of the two 1-D ones, normalised along each axis so they sum to 1 over all
tiles at every output pixel. Hence: a tile's output at a pixel where it has non-zero weight is exact whenever the
pixel lies at least the network's receptive-field radius ``R`` (input pixels) from that tile's cut edges, which holds
everywhere once ``(1 - blend) / 2 * overlap >= R``; the blended result then equals the untiled one up to float
rounding. Below that the error is a weighted mix of each tile's edge error, which falls quickly with the overlap.
"""
from __future__ import annotations

import logging
import math
import sys
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
import torch

logger = logging.getLogger("ganzoo.pipelines")

__all__ = ["TilePlan", "plan_axis", "plan_tiles", "axis_weights", "tiled_apply"]

#: fn(batch (B, C, h, w) float32) -> (B, C_out, h * scale, w * scale), any float dtype, any device
TileFn = Callable[[torch.Tensor], torch.Tensor]
#: sink(y0, y1, rows) with rows (y1 - y0, W * scale, C_out) float32: output rows [y0, y1), final
Sink = Callable[[int, int, np.ndarray], None]


def _check_int(name: str, v: object, lo: int) -> int:
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < lo:
        raise ValueError(f"{name} must be an int >= {lo}, got {v!r}")
    return int(v)


def plan_axis(size: int, tile: int | None, overlap: int) -> tuple[int, list[int]]:
    """``(tile length, starts)`` along one axis of ``size`` pixels: see the module docstring.

    ``tile`` None or 0 means one tile covering the axis. Every pair of neighbouring tiles overlaps by at least
    ``overlap`` pixels (by more where the spread rounds so). ``overlap`` must be smaller than ``tile``.
    """
    size = _check_int("size", size, 1)
    overlap = _check_int("overlap", overlap, 0)
    if tile is None or tile == 0:
        return size, [0]
    tile = _check_int("tile", tile, 1)
    if overlap >= tile:
        raise ValueError(f"tile overlap must be smaller than the tile, got overlap {overlap} >= tile {tile}")
    if tile >= size:
        return size, [0]
    k = math.ceil((size - overlap) / (tile - overlap))
    return tile, [round(i * (size - tile) / (k - 1)) for i in range(k)]


@dataclass(frozen=True)
class TilePlan:
    """Tiles of an (H, W) image: all ``tile_h x tile_w``, at ``ys x xs`` (row-major order)."""

    height: int
    width: int
    tile_h: int
    tile_w: int
    ys: tuple[int, ...]
    xs: tuple[int, ...]

    def __len__(self) -> int:
        return len(self.ys) * len(self.xs)

    def boxes(self) -> list[tuple[int, int, int, int]]:
        """``(y0, y1, x0, x1)`` of every tile, row-major."""
        return [(y, y + self.tile_h, x, x + self.tile_w) for y in self.ys for x in self.xs]


def plan_tiles(height: int, width: int, tile: int | None, overlap: int) -> TilePlan:
    """The tiles of an (H, W) image for square tiles of side ``tile`` (None/0: untiled)."""
    th, ys = plan_axis(height, tile, overlap)
    tw, xs = plan_axis(width, tile, overlap)
    return TilePlan(height, width, th, tw, tuple(ys), tuple(xs))


def _ramp(n: int, ov: int, blend: float) -> np.ndarray:
    """Weights (n,) of a tile along an interior edge at index 0, for an overlap of ``ov`` (output) pixels:
    0 for the first ``m`` pixels, a linear ramp over the next ``ov - 2m``, then 1; ``m = round(ov (1 - blend) / 2)``.
    Mirrored (``1 - ramp``) for the neighbour, the two sum to 1 inside the overlap."""
    u = np.arange(n, dtype=np.float64) + 0.5  # pixel centres, distance from the cut edge
    m = round(ov * (1.0 - blend) / 2.0)
    width = ov - 2 * m
    if width <= 0:  # hard seam: the half of the overlap nearer the tile's own edge gets nothing
        return (u > ov / 2.0).astype(np.float64) + (np.abs(u - ov / 2.0) < 1e-9) * 0.5
    return np.clip((u - m) / width, 0.0, 1.0)


def axis_weights(size: int, tile: int, starts: Sequence[int], scale: int = 1, blend: float = 0.5) -> list[np.ndarray]:
    """1-D blending weights, one (tile * scale,) float32 array per tile, at output resolution (``scale`` output
    pixels per input pixel), normalised to sum to 1 over the tiles at every output position."""
    if not 0.0 <= blend <= 1.0:
        raise ValueError(f"blend must be in [0, 1], got {blend!r}")
    n = tile * scale
    ws = []
    for i, s in enumerate(starts):
        w = np.ones(n, dtype=np.float64)
        if i > 0:  # interior edge on the left/top: overlap with the previous tile
            ov = (starts[i - 1] + tile - s) * scale
            if ov > 0:
                w *= _ramp(n, ov, blend)
        if i + 1 < len(starts):
            ov = (s + tile - starts[i + 1]) * scale
            if ov > 0:
                w *= _ramp(n, ov, blend)[::-1]
        ws.append(w)
    total = np.zeros(size * scale, dtype=np.float64)
    for s, w in zip(starts, ws):
        total[s * scale:s * scale + n] += w
    if (total <= 0).any():  # cannot happen for overlap < tile; kept as a guard against a bad plan
        raise AssertionError("tile weights leave output pixels uncovered")
    return [(w / total[s * scale:s * scale + n]).astype(np.float32) for s, w in zip(starts, ws)]


def _default_to_tensor(crop: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(crop, dtype=np.float32)).permute(2, 0, 1)


def _progress_enabled(progress: bool | None) -> bool:
    if progress is None:
        return bool(getattr(sys.stderr, "isatty", lambda: False)())
    return bool(progress)


def tiled_apply(
    image: np.ndarray,
    fn: TileFn,
    sink: Sink,
    *,
    scale: int,
    out_channels: int,
    tile: int | None = 256,
    overlap: int = 32,
    batch_size: int = 1,
    blend: float = 0.5,
    to_tensor: Callable[[np.ndarray], torch.Tensor] | None = None,
    progress: bool | None = None,
    desc: str = "tiles",
) -> TilePlan:
    """Run ``fn`` over overlapping tiles of ``image`` and stream the blended output, finished rows first, to ``sink``.

    image: (H, W, C) array of any dtype (tiles are cut from it lazily, so uint8 input stays uint8 in memory).
    fn: (B, C', h, w) float32 CPU tensor -> (B, out_channels, h * scale, w * scale) tensor; called with up to
        ``batch_size`` tiles of equal size at a time.
    sink: called as ``sink(y0, y1, rows)`` with each band of final output rows, in order, covering
        ``[0, H * scale)`` exactly once; ``rows`` is (y1 - y0, W * scale, out_channels) float32, a view of the
        accumulation band: the sink may modify it in place, and must copy what it keeps (it is overwritten after
        the call returns).
    to_tensor: turns a crop (h, w, C) into the (C', h, w) float32 tensor ``fn`` takes (default: cast, no scaling).
    tile / overlap / blend: see the module docstring; ``tile`` None or 0 runs the whole image as one tile.
    progress: a tqdm bar over tiles; None shows it only when stderr is a terminal.

    Peak working memory beyond ``image`` and what ``sink`` keeps: the accumulation band,
    ``(tile + tiles spanned by one batch) * scale * W * scale * out_channels * 4`` bytes, plus ``fn``'s own.
    Returns the :class:`TilePlan` used.
    """
    if not isinstance(image, np.ndarray) or image.ndim != 3:
        raise ValueError(f"image: expected an (H, W, C) numpy array, got "
                         f"{getattr(image, 'shape', type(image).__name__)}")
    scale = _check_int("scale", scale, 1)
    out_channels = _check_int("out_channels", out_channels, 1)
    batch_size = _check_int("batch_size", batch_size, 1)
    h, w = image.shape[:2]
    plan = plan_tiles(h, w, tile, overlap)
    to_tensor = to_tensor or _default_to_tensor
    wy = axis_weights(h, plan.tile_h, plan.ys, scale, blend)
    wx = axis_weights(w, plan.tile_w, plan.xs, scale, blend)
    tiles = [(r, c) for r in range(len(plan.ys)) for c in range(len(plan.xs))]
    batches = [tiles[i:i + batch_size] for i in range(0, len(tiles), batch_size)]
    th, tw = plan.tile_h * scale, plan.tile_w * scale
    # The band starts at the first tile row of the batch being run (all rows above it are final by then) and must
    # reach the bottom of the batch's last tile row.
    cap = max((plan.ys[b[-1][0]] - plan.ys[b[0][0]]) * scale + th for b in batches)
    acc = np.zeros((cap, w * scale, out_channels), dtype=np.float32)
    base = 0  # output row held in acc[0]
    from tqdm.auto import tqdm

    logger.debug("%s: %dx%d image, %d tiles of %dx%d (overlap >= %d), band of %d output rows", desc, h, w,
                 len(plan), plan.tile_h, plan.tile_w, overlap, cap)
    with tqdm(total=len(tiles), desc=desc, unit="tile", disable=not _progress_enabled(progress),
              leave=False) as bar:
        for bi, batch in enumerate(batches):
            crops = [to_tensor(image[plan.ys[r]:plan.ys[r] + plan.tile_h, plan.xs[c]:plan.xs[c] + plan.tile_w])
                     for r, c in batch]
            out = fn(torch.stack(crops))
            expected = (len(batch), out_channels, th, tw)
            if tuple(out.shape) != expected:
                raise ValueError(f"tile function returned shape {tuple(out.shape)}, expected {expected} "
                                 f"(scale {scale}, {out_channels} channels)")
            out = out.detach().to("cpu", torch.float32).permute(0, 2, 3, 1).numpy()
            for (r, c), o in zip(batch, out):
                y0 = plan.ys[r] * scale - base
                x0 = plan.xs[c] * scale
                weight = wy[r][:, None, None] * wx[c][None, :, None]
                acc[y0:y0 + th, x0:x0 + tw] += o * weight
            bar.update(len(batch))
            # Rows above the next tile's top are final: no later tile covers them.
            nxt = plan.ys[batches[bi + 1][0][0]] * scale if bi + 1 < len(batches) else h * scale
            if nxt > base:
                n = nxt - base
                sink(base, nxt, acc[:n])
                keep = cap - n
                for i in range(0, keep, n):  # shift the band up in non-overlapping chunks: no band-sized copy
                    j = min(i + n, keep)
                    acc[i:j] = acc[n + i:n + j]
                acc[keep:] = 0.0
                base = nxt
    return plan
