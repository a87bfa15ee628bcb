"""Videos out as files people can play: animated GIF (Pillow) and H.264 MP4 (PyAV), plus a batch-to-grid tiler.

**Video layouts accepted** (numpy arrays or torch tensors; :func:`video_to_uint8` converts):

* the TGAN layout ``(C, T, H, W)``, channels first, as :mod:`ganzoo.models.tgan` outputs it per sample;
* channels last ``(T, H, W, C)``, what decoders and ``imageio`` give.

``C`` is 3 (RGB) or 1 (grey, copied to the three channels). The layout is read from where the channel axis is (the
axis of size 1 or 3 at the front or at the back); when both ends could be channels (e.g. ``(3, H, W, 3)``), floats
are taken as channels first and uint8 as channels last. A leading batch axis is allowed where a function says so.

**Values**: uint8 in 0..255 are used as they are; floats (any float dtype, or torch float) are in **[-1, 1]**
(the range of TGAN's tanh output) and map to ``round((x + 1) * 127.5)``, the exact inverse of
``uint8 / 127.5 - 1``. Floats outside [-1, 1] are **clamped**; when something lies more than 0.05 outside, a warning
is logged (likely a [0, 255] or otherwise mis-scaled input). NaN or infinite values raise ValueError. Other dtypes
(bool, integers other than uint8) raise TypeError.

**Files** are written atomically (:func:`ganzoo.pipelines.images.atomic_save`: a temporary file next to the target,
renamed on success, removed on failure), so no half-written video is ever visible under the target name.

* GIF (:func:`write_gif`): all frames, palette-quantised by Pillow per frame (exact for frames with at most 256
  colours), looping forever by default. GIF delays are whole hundredths of a second, so the frame delay is
  ``round(100 / fps)`` centiseconds (8 fps -> 0.12 s; browsers slow delays under 0.02 s down to 0.1 s, so keep
  fps <= 50). Pillow merges identical consecutive frames into one longer
  frame (timing kept), so a GIF of a still video may read back with fewer frames.
* MP4 (:func:`write_mp4`): H.264 (libx264) in yuv420p, the format every player reads. Frames are first enlarged by
  the integer ``scale`` with nearest-neighbour (default 4: 64x64 -> 256x256; players and browsers blur or refuse
  tiny videos, and 4:2:0 chroma would smear 64 px colours); an odd width or height after scaling is padded by one
  edge-replicated pixel (yuv420p needs even sizes). Colours come back within a few levels after the RGB ->
  YUV (BT.601, limited range) -> RGB round trip, except right at colour edges (chroma is halved in resolution).
"""
from __future__ import annotations

import fractions
import logging
import math
import os
from pathlib import Path
from typing import IO, Sequence

import numpy as np

from .images import atomic_save

logger = logging.getLogger("ganzoo.pipelines")

__all__ = ["video_to_uint8", "video_grid", "write_gif", "write_mp4", "write_video", "VIDEO_SUFFIXES"]

#: suffixes :func:`write_video` writes -> the writer's format name
VIDEO_SUFFIXES = {".gif": "gif", ".mp4": "mp4"}
_RANGE_WARN = 0.05  # floats this far outside [-1, 1] are logged when clamped


def _to_numpy(video: object, name: str) -> np.ndarray:
    if hasattr(video, "detach") and hasattr(video, "cpu"):  # a torch tensor (torch is not imported here)
        t = video.detach().cpu()
        if t.is_floating_point():
            t = t.float()  # bfloat16 / half have no (or a slow) numpy dtype
        return t.numpy()
    if isinstance(video, np.ndarray):
        return video
    raise TypeError(f"{name}: expected a numpy array or torch tensor, got {type(video).__name__}")


def _channel_axis(shape: tuple[int, ...], is_float: bool, name: str, batch: bool) -> int:
    """0 for (C, T, H, W), 3 for (T, H, W, C), on the last four dims."""
    first, last = shape[0] in (1, 3), shape[-1] in (1, 3)
    if first and last:
        return 0 if is_float else 3
    if first:
        return 0
    if last:
        return 3
    lead = "(B, " if batch else "("
    raise ValueError(f"{name}: expected a video {lead}C, T, H, W) or {lead}T, H, W, C) with C = 1 or 3 channels, got "
                     f"shape {tuple(shape)}")


def video_to_uint8(video, *, name: str = "video") -> np.ndarray:
    """A video, or a batch of them, as uint8 RGB channels last: ``(T, H, W, 3)``, or ``(B, T, H, W, 3)``.

    ``video``: numpy or torch, ``(C, T, H, W)`` (the TGAN layout) or ``(T, H, W, C)`` (4-D), or either with a leading
    batch axis (5-D); C = 1 or 3; uint8 (0..255) or float in [-1, 1] (clamped, see the module docstring). ``name``
    is used in error messages. Returns a new C-contiguous array (never a view of the input).
    """
    arr = _to_numpy(video, name)
    if arr.ndim not in (4, 5):
        raise ValueError(f"{name}: expected a 4-D video (C, T, H, W) / (T, H, W, C) or a 5-D batch of them, got "
                         f"{arr.ndim}-D shape {tuple(arr.shape)}")
    batch = arr.ndim == 5
    is_float = np.issubdtype(arr.dtype, np.floating)
    if not is_float and arr.dtype != np.uint8:
        raise TypeError(f"{name}: expected uint8 (0..255) or float (in [-1, 1]) values, got dtype {arr.dtype}")
    axis = _channel_axis(arr.shape[-4:], is_float, name, batch)
    if axis == 0:
        arr = np.moveaxis(arr, -4, -1)  # (.., C, T, H, W) -> (.., T, H, W, C)
    if min(arr.shape[-4:-1]) < 1:
        raise ValueError(f"{name}: empty video, (T, H, W) = {tuple(arr.shape[-4:-1])}")
    if is_float:
        x = arr.astype(np.float32, copy=False)
        if not np.isfinite(x).all():
            raise ValueError(f"{name}: contains NaN or infinite values")
        lo, hi = float(x.min()), float(x.max())
        if lo < -1 - _RANGE_WARN or hi > 1 + _RANGE_WARN:
            logger.warning("%s: float values span [%.3g, %.3g], expected [-1, 1]; clamping (a [0, 255] video should "
                           "be passed as uint8)", name, lo, hi)
        out = np.rint((np.clip(x, -1.0, 1.0) + 1.0) * 127.5).astype(np.uint8)
    else:
        out = np.array(arr, dtype=np.uint8, copy=True)
    if out.shape[-1] == 1:
        out = np.repeat(out, 3, axis=-1)
    return np.ascontiguousarray(out)


def video_grid(videos, nrow: int = 4, *, gap: int = 2, gap_colour: Sequence[int] = (255, 255, 255)) -> np.ndarray:
    """Tile a batch of videos into one video: ``(T, H', W', 3)`` uint8.

    ``videos``: a 5-D batch, numpy or torch, ``(B, C, T, H, W)`` (the TGAN batch layout) or ``(B, T, H, W, C)``,
    uint8 or float in [-1, 1] (see :func:`video_to_uint8`), or a sequence of single videos of one shape. ``nrow``
    videos per row (as ``torchvision.utils.make_grid``), ``ceil(B / nrow)`` rows, ``gap`` pixels of ``gap_colour``
    between tiles (none around the outside); cells after the last video are ``gap_colour``. So
    ``H' = rows * H + (rows - 1) * gap`` and ``W' = cols * W + (cols - 1) * gap`` with ``cols = min(nrow, B)``.
    """
    if isinstance(videos, (list, tuple)):
        if not videos:
            raise ValueError("videos: expected at least one video, got an empty sequence")
        singles = [video_to_uint8(v, name=f"videos[{i}]") for i, v in enumerate(videos)]
        if len({v.shape for v in singles}) != 1:
            raise ValueError(f"videos: all videos must have one shape, got {sorted({v.shape for v in singles})}")
        batch = np.stack(singles)
    else:
        arr = _to_numpy(videos, "videos")
        if arr.ndim != 5:
            raise ValueError(f"videos: expected a 5-D batch (B, C, T, H, W) or (B, T, H, W, C), got {arr.ndim}-D "
                             f"shape {tuple(arr.shape)}")
        batch = video_to_uint8(arr, name="videos")
    if isinstance(nrow, bool) or not isinstance(nrow, (int, np.integer)) or nrow < 1:
        raise ValueError(f"nrow must be an int >= 1 (videos per row), got {nrow!r}")
    if isinstance(gap, bool) or not isinstance(gap, (int, np.integer)) or gap < 0:
        raise ValueError(f"gap must be an int >= 0 (pixels between tiles), got {gap!r}")
    colour = np.asarray(gap_colour)
    if colour.shape != (3,) or not np.issubdtype(colour.dtype, np.integer) or colour.min() < 0 or colour.max() > 255:
        raise ValueError(f"gap_colour must be three ints in 0..255 (R, G, B), got {gap_colour!r}")
    b, t, h, w, _ = batch.shape
    cols = min(int(nrow), b)
    rows = math.ceil(b / cols)
    out = np.empty((t, rows * h + (rows - 1) * gap, cols * w + (cols - 1) * gap, 3), dtype=np.uint8)
    out[...] = colour.astype(np.uint8)
    for i in range(b):
        r, c = divmod(i, cols)
        out[:, r * (h + gap):r * (h + gap) + h, c * (w + gap):c * (w + gap) + w] = batch[i]
    return out


def _check_fps(fps: object, limit: float | None = None) -> float:
    if isinstance(fps, bool) or not isinstance(fps, (int, float, np.integer, np.floating, fractions.Fraction)) \
            or not math.isfinite(float(fps)) or float(fps) <= 0 or (limit is not None and float(fps) > limit):
        rng = f"(0, {limit:g}]" if limit is not None else "> 0"
        raise ValueError(f"fps must be a finite number {rng} (frames per second), got {fps!r}")
    return float(fps)


def _check_scale(scale: object) -> int:
    if isinstance(scale, bool) or not isinstance(scale, (int, np.integer)) or not 1 <= scale <= 64:
        raise ValueError(f"scale must be an int in 1..64 (nearest-neighbour enlargement), got {scale!r}")
    return int(scale)


def _enlarge(frames: np.ndarray, scale: int) -> np.ndarray:
    if scale == 1:
        return frames
    return np.repeat(np.repeat(frames, scale, axis=1), scale, axis=2)


def _check_suffix(path: Path, suffix: str, what: str) -> None:
    if path.suffix.lower() != suffix:
        raise ValueError(f"{path}: {what} writes {suffix} files, got suffix {path.suffix or '(none)'!r}")


def _single(video, name: str = "video") -> np.ndarray:
    arr = _to_numpy(video, name)
    if arr.ndim != 4:
        raise ValueError(f"{name}: expected one video, 4-D (C, T, H, W) or (T, H, W, C), got {arr.ndim}-D shape "
                         f"{tuple(arr.shape)} (tile a batch with video_grid first)")
    return video_to_uint8(arr, name=name)


def write_gif(path: str | os.PathLike, video, fps: float = 8, *, loop: int = 0, scale: int = 1) -> Path:
    """Write a video atomically as an animated GIF. Returns the path.

    ``video``: one video, numpy or torch, ``(C, T, H, W)`` or ``(T, H, W, C)``, uint8 or float in [-1, 1] (module
    docstring). ``fps`` in (0, 100]: the frame delay is ``round(100 / fps)`` hundredths of a second. ``loop``: 0 =
    forever, n = play n + 1 times (the GIF NETSCAPE loop count, 0..65535). ``scale``: integer nearest-neighbour
    enlargement (default 1). ``path`` must end in ``.gif``.
    """
    from PIL import Image

    path = Path(path)
    _check_suffix(path, ".gif", "write_gif")
    frames = _single(video)
    fps = _check_fps(fps, limit=100.0)
    if isinstance(loop, bool) or not isinstance(loop, (int, np.integer)) or not 0 <= loop <= 65535:
        raise ValueError(f"loop must be an int in 0..65535 (0 = forever), got {loop!r}")
    frames = _enlarge(frames, _check_scale(scale))
    delay_ms = 10 * max(1, round(100 / fps))
    images = [Image.fromarray(f, mode="RGB") for f in frames]

    def write(f: IO[bytes]) -> None:
        images[0].save(f, format="GIF", save_all=True, append_images=images[1:], duration=delay_ms,
                       loop=int(loop), optimize=False, disposal=1)

    atomic_save(path, write)
    logger.info("wrote %s (%d frames, %dx%d, %d ms per frame)", path, len(images), frames.shape[2],
                frames.shape[1], delay_ms)
    return path


def write_mp4(path: str | os.PathLike, video, fps: float = 8, *, crf: int = 18, scale: int = 4,
              codec: str = "libx264") -> Path:
    """Write a video atomically as an H.264 MP4 (yuv420p) with PyAV. Returns the path.

    ``video``: one video, numpy or torch, ``(C, T, H, W)`` or ``(T, H, W, C)``, uint8 or float in [-1, 1] (module
    docstring). ``fps`` > 0 (stored as a fraction, e.g. 30000/1001 for 29.97). ``crf``: x264 constant rate factor,
    0..51 (0 = lossless luma, 18 = visually lossless, 23 = x264's default). ``scale``: integer nearest-neighbour
    enlargement before encoding (default 4; the output is ``scale * H`` x ``scale * W``, plus one padded row / column
    when that is odd). ``codec``: an FFmpeg H.264 encoder known to PyAV (default libx264). ``path`` must end in
    ``.mp4``. Needs PyAV (``pip install av``).
    """
    path = Path(path)
    _check_suffix(path, ".mp4", "write_mp4")
    frames = _single(video)
    fps = _check_fps(fps)
    if isinstance(crf, bool) or not isinstance(crf, (int, np.integer)) or not 0 <= crf <= 51:
        raise ValueError(f"crf must be an int in 0..51 (x264 constant rate factor; lower = better), got {crf!r}")
    frames = _enlarge(frames, _check_scale(scale))
    try:
        import av
    except ImportError as e:
        raise ImportError("write_mp4 needs PyAV: pip install av") from e
    if not isinstance(codec, str) or codec not in av.codecs_available:
        raise ValueError(f"codec {codec!r} is not an encoder of this PyAV/FFmpeg build (for .mp4 use 'libx264'; "
                         f"or write a .gif)")
    t, h, w, _ = frames.shape
    ph, pw = h % 2, w % 2
    if ph or pw:  # yuv420p needs even sizes
        frames = np.pad(frames, ((0, 0), (0, ph), (0, pw), (0, 0)), mode="edge")
        logger.info("%s: padded %dx%d to %dx%d (yuv420p needs even sizes)", path, w, h, w + pw, h + ph)
    rate = fractions.Fraction(fps).limit_denominator(1001)

    def write(f: IO[bytes]) -> None:
        with av.open(f, mode="w", format="mp4") as container:
            stream = container.add_stream(codec, rate=rate)
            stream.width, stream.height = w + pw, h + ph
            stream.pix_fmt = "yuv420p"
            stream.options = {"crf": str(int(crf))}
            for frame in frames:
                for packet in stream.encode(av.VideoFrame.from_ndarray(np.ascontiguousarray(frame), format="rgb24")):
                    container.mux(packet)
            for packet in stream.encode():  # flush the encoder
                container.mux(packet)

    atomic_save(path, write)
    logger.info("wrote %s (%d frames, %dx%d, %s fps, crf %d)", path, t, w + pw, h + ph, rate, crf)
    return path


def write_video(path: str | os.PathLike, video, fps: float = 8, **kwargs) -> Path:
    """Write a video by the suffix of ``path``: ``.gif`` -> :func:`write_gif`, ``.mp4`` -> :func:`write_mp4`
    (``kwargs`` go to that writer: ``loop``/``scale`` for GIF, ``crf``/``scale``/``codec`` for MP4). Returns the
    path; ValueError for any other suffix."""
    path = Path(path)
    kind = VIDEO_SUFFIXES.get(path.suffix.lower())
    if kind is None:
        raise ValueError(f"{path}: cannot tell the video format from suffix {path.suffix or '(none)'!r}; expected "
                         f"one of {sorted(VIDEO_SUFFIXES)}")
    if kind == "gif":
        return write_gif(path, video, fps, **kwargs)
    return write_mp4(path, video, fps, **kwargs)
