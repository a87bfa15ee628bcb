"""Image files in and out for the pipelines: PNG (8- and 16-bit), JPEG and WebP, EXIF orientation, atomic writes.

Pillow decodes 16-bit grey PNGs losslessly (mode ``I;16``) but reduces 16-bit colour PNGs (RGB, RGBA, grey+alpha) to
8 bits. :func:`read_image` reads those at full precision with Pillow's own PNG decoder (which undoes the PNG
filters and interlacing): decoded once keeping the high byte of each sample and once keeping the low byte (RGB and
RGBA), or as raw 8-bit RGBA bytes, which is bit-for-bit the 4-byte grey+alpha pixel (LA). :func:`write_image` writes
16-bit PNGs with its own encoder (Paeth filter, zlib, in bands of rows), since Pillow cannot write 16-bit colour.

Arrays here are (H, W) or (H, W, C) uint8/uint16 with C = 1 (grey), 2 (grey + alpha), 3 (RGB) or 4 (RGBA).
"""
from __future__ import annotations

import logging
import os
import struct
import tempfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Callable

import numpy as np

from ..errors import ImageReadError

logger = logging.getLogger("ganzoo.pipelines")

__all__ = ["ImageData", "read_image", "write_image", "encode_png16", "FORMATS", "SUFFIXES", "format_for_suffix",
           "apply_orientation", "atomic_save"]

#: writable formats -> the suffix used for new files
FORMATS = {"png": ".png", "jpeg": ".jpg", "webp": ".webp"}
#: suffixes read from folders (any file Pillow opens is accepted when named explicitly)
SUFFIXES = {".png": "png", ".jpg": "jpeg", ".jpeg": "jpeg", ".jpe": "jpeg", ".webp": "webp"}

_EXIF_ORIENTATION = 0x0112
_PNG_SIG = b"\x89PNG\r\n\x1a\n"


def format_for_suffix(suffix: str) -> str | None:
    """``".JPG"`` -> ``"jpeg"``; None for suffixes this module does not write."""
    return SUFFIXES.get(suffix.lower())


@dataclass
class ImageData:
    """A decoded image: ``array`` (H, W, C) uint8 or uint16, C in 1..4 (L, LA, RGB, RGBA), orientation applied."""

    array: np.ndarray
    bits: int
    format: str  # what the file was ("PNG", "JPEG", "WEBP", ...)
    icc_profile: bytes | None = None

    @property
    def channels(self) -> int:
        return self.array.shape[2]


def apply_orientation(arr: np.ndarray, orientation: int | None) -> np.ndarray:
    """Undo an EXIF orientation (1..8) on an (H, W[, C]) array, as ``PIL.ImageOps.exif_transpose`` does."""
    o = orientation or 1
    if o == 2:
        return arr[:, ::-1]
    if o == 3:
        return arr[::-1, ::-1]
    if o == 4:
        return arr[::-1]
    if o == 5:  # transpose
        return arr.swapaxes(0, 1)
    if o == 6:  # rotate 270 (clockwise 90)
        return np.rot90(arr, -1)
    if o == 7:  # transverse
        return arr[::-1, ::-1].swapaxes(0, 1)
    if o == 8:  # rotate 90 (anticlockwise)
        return np.rot90(arr, 1)
    return arr


def _tile_rawmode(im) -> str | None:
    if not getattr(im, "tile", None):
        return None
    args = im.tile[0].args
    return args if isinstance(args, str) else (args[0] if args else None)


def _decode_with_rawmode(path: Path, rawmode: str) -> np.ndarray:
    from PIL import Image

    with Image.open(path) as im:
        t = im.tile[0]
        args = t.args if isinstance(t.args, str) else (rawmode,) + tuple(t.args[1:])
        im.tile = [t._replace(args=rawmode if isinstance(t.args, str) else args)]
        im.load()
        return np.asarray(im)


def _read_png16_colour(path: Path, rawmode: str) -> np.ndarray:
    """A 16-bit RGB / RGBA / grey+alpha PNG at full precision, (H, W, C) uint16 (see the module docstring)."""
    if rawmode == "LA;16B":
        b = _decode_with_rawmode(path, "RGBA").astype(np.uint16)  # (L hi, L lo, A hi, A lo) per pixel
        return np.stack([b[..., 0] << 8 | b[..., 1], b[..., 2] << 8 | b[..., 3]], axis=-1)
    hi = _decode_with_rawmode(path, rawmode).astype(np.uint16)
    lo = _decode_with_rawmode(path, rawmode.replace(";16B", ";16L")).astype(np.uint16)
    return hi << 8 | lo


def to_plain_mode(im):
    """An 8-bit PIL image in one of L, LA, RGB, RGBA: palette images become RGB(A) (RGBA when they carry
    transparency), 1-bit ones L, and other modes (CMYK, YCbCr, RGBa, La, ...) RGB or RGBA by whether they hold alpha."""
    mode = im.mode
    if mode in ("P", "PA"):
        return im.convert("RGBA" if (mode == "PA" or "transparency" in im.info) else "RGB")
    if mode == "1":
        return im.convert("L")
    if mode not in ("L", "LA", "RGB", "RGBA"):
        return im.convert("RGBA" if "A" in mode or mode.endswith("a") else "RGB")
    return im


def read_image(path: str | os.PathLike) -> ImageData:
    """Decode an image file to an (H, W, C) uint8 / uint16 array, with its EXIF orientation applied.

    16-bit PNGs (grey, grey+alpha, RGB, RGBA) come back as uint16 at full precision; 32-bit integer grey (mode
    ``I``) as uint16 when its values fit. Palette images become RGB or RGBA (RGBA when they carry transparency),
    1-bit images grey, CMYK / YCbCr and other modes RGB. Raises FileNotFoundError for a missing file and ValueError
    naming the file for anything that is not a readable image.
    """
    from PIL import Image, ImageOps, UnidentifiedImageError

    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"{p}: no such file")
    if p.is_dir():
        raise ImageReadError(f"{p}: is a folder, not an image file")
    try:
        with Image.open(p) as im:
            fmt = im.format or "?"
            icc = im.info.get("icc_profile")
            rawmode = _tile_rawmode(im)  # before getexif(), which may decode a PNG (to reach a late eXIf chunk)
            if fmt == "PNG" and rawmode in ("RGB;16B", "RGBA;16B", "LA;16B"):
                orientation = im.getexif().get(_EXIF_ORIENTATION)
                arr = apply_orientation(_read_png16_colour(p, rawmode), orientation)
                return ImageData(np.ascontiguousarray(arr), 16, fmt, icc)
            im.load()
            im = ImageOps.exif_transpose(im)
            mode = im.mode
            if mode in ("I;16", "I;16L", "I;16B", "I;16N"):
                arr = np.asarray(im).astype(np.uint16)
                bits = 16
            elif mode == "I":
                a = np.asarray(im)
                if a.size and (a.min() < 0 or a.max() > 65535):
                    raise ValueError(f"32-bit integer pixels outside 0..65535 (min {a.min()}, max {a.max()})")
                arr, bits = a.astype(np.uint16), 16
            else:
                arr, bits = np.asarray(to_plain_mode(im)), 8
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, struct.error, zlib.error, EOFError,
            Image.DecompressionBombError) as e:
        if isinstance(e, FileNotFoundError):
            raise
        raise ImageReadError(f"{p}: cannot read as an image ({type(e).__name__}: {e})") from e
    if arr.ndim == 2:
        arr = arr[:, :, None]
    return ImageData(np.ascontiguousarray(arr), bits, fmt, icc)


# ------------------------------------------------------------------------------------------------------- write


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_save(path: str | os.PathLike, write: Callable[[IO[bytes]], None]) -> Path:
    """Call ``write(f)`` on a temporary file next to ``path``, then rename it to ``path``: nobody ever sees a half
    written file, and nothing is left behind on failure. Missing folders are created."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _chunk(f: IO[bytes], kind: bytes, data: bytes) -> None:
    f.write(struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))


def _paeth_filter(rows: np.ndarray, prev: np.ndarray, bpp: int) -> np.ndarray:
    """PNG filter type 4 (Paeth) of ``rows`` (n, stride) uint8 given the row above the first (``prev``), as
    (n, 1 + stride) uint8 with the filter-type byte first."""
    x = rows.astype(np.int16)
    b = np.concatenate([prev[None].astype(np.int16), x[:-1]], axis=0)  # up
    a = np.zeros_like(x)
    a[:, bpp:] = x[:, :-bpp]  # left
    c = np.zeros_like(x)
    c[:, bpp:] = b[:, :-bpp]  # up-left
    p = a + b - c
    pa, pb, pc = np.abs(p - a), np.abs(p - b), np.abs(p - c)
    pred = np.where((pa <= pb) & (pa <= pc), a, np.where(pb <= pc, b, c))
    out = np.empty((x.shape[0], x.shape[1] + 1), dtype=np.uint8)
    out[:, 0] = 4
    out[:, 1:] = (x - pred).astype(np.uint8)  # wraps modulo 256
    return out


def encode_png16(arr: np.ndarray, f: IO[bytes], *, icc_profile: bytes | None = None, level: int = 6,
                 rows_per_chunk: int = 64) -> None:
    """Write (H, W, C) uint16 (C = 1 grey, 2 grey+alpha, 3 RGB, 4 RGBA) to ``f`` as a 16-bit PNG: Paeth-filtered
    rows, zlib ``level``, encoded ``rows_per_chunk`` rows at a time (memory stays O(width))."""
    if arr.ndim == 2:
        arr = arr[:, :, None]
    if arr.dtype != np.uint16 or arr.ndim != 3 or arr.shape[2] not in (1, 2, 3, 4):
        raise ValueError(f"expected an (H, W, 1..4) uint16 array, got {arr.shape} {arr.dtype}")
    h, w, c = arr.shape
    colour_type = {1: 0, 2: 4, 3: 2, 4: 6}[c]
    f.write(_PNG_SIG)
    _chunk(f, b"IHDR", struct.pack(">IIBBBBB", w, h, 16, colour_type, 0, 0, 0))
    if icc_profile:
        _chunk(f, b"iCCP", b"ICC profile\x00\x00" + zlib.compress(icc_profile))
    comp = zlib.compressobj(level)
    stride = w * c * 2
    prev = np.zeros(stride, dtype=np.uint8)
    pending = bytearray()
    for y in range(0, h, rows_per_chunk):
        rows = np.ascontiguousarray(arr[y:y + rows_per_chunk]).astype(">u2").view(np.uint8).reshape(-1, stride)
        pending += comp.compress(_paeth_filter(rows, prev, 2 * c).tobytes())
        prev = rows[-1].copy()
        if len(pending) >= 1 << 20:
            _chunk(f, b"IDAT", bytes(pending))
            pending.clear()
    pending += comp.flush()
    _chunk(f, b"IDAT", bytes(pending))
    _chunk(f, b"IEND", b"")


_MODES = {1: "L", 2: "LA", 3: "RGB", 4: "RGBA"}


def _to8(arr: np.ndarray) -> np.ndarray:
    if arr.dtype == np.uint8:
        return arr
    return ((arr.astype(np.uint32) * 255 + 32767) // 65535).astype(np.uint8)  # round(v * 255 / 65535)


def write_image(path: str | os.PathLike, arr: np.ndarray, *, format: str, quality: int = 95,
                icc_profile: bytes | None = None) -> Path:
    """Write an (H, W[, C]) uint8 / uint16 array atomically as ``format`` ("png", "jpeg", "webp").

    PNG keeps 16 bits and alpha. JPEG and WebP are 8-bit: 16-bit arrays are rounded to 8 bits, and JPEG has no
    alpha channel, so alpha is dropped there (both logged as warnings). ``quality`` (1..100) applies to JPEG and
    WebP. The ICC profile, when given, is embedded. Returns the path.
    """
    from PIL import Image

    if format not in FORMATS:
        raise ValueError(f"format must be one of {sorted(FORMATS)}, got {format!r}")
    if isinstance(quality, bool) or not isinstance(quality, int) or not 1 <= quality <= 100:
        raise ValueError(f"quality must be an int in 1..100, got {quality!r}")
    if arr.ndim == 2:
        arr = arr[:, :, None]
    if arr.ndim != 3 or arr.shape[2] not in _MODES or arr.dtype not in (np.uint8, np.uint16):
        raise ValueError(f"expected an (H, W[, 1..4]) uint8 or uint16 array, got {arr.shape} {arr.dtype}")
    path = Path(path)
    if format == "png" and arr.dtype == np.uint16:
        return atomic_save(path, lambda f: encode_png16(arr, f, icc_profile=icc_profile))
    if arr.dtype == np.uint16:
        logger.warning("%s: %s is 8-bit; rounding the 16-bit result to 8 bits", path, format.upper())
        arr = _to8(arr)
    c = arr.shape[2]
    if format == "jpeg" and c in (2, 4):
        logger.warning("%s: JPEG has no alpha channel; the alpha channel is dropped", path)
        arr, c = arr[..., :c - 1], c - 1
    im = Image.fromarray(np.ascontiguousarray(arr[..., 0] if c == 1 else arr))  # mode from shape: L/LA/RGB/RGBA
    if format == "webp" and c in (1, 2):  # WebP stores colour only
        im = im.convert("RGB" if c == 1 else "RGBA")
    kwargs: dict = {}
    if icc_profile:
        kwargs["icc_profile"] = icc_profile
    if format in ("jpeg", "webp"):
        kwargs["quality"] = quality
    pil_format = {"png": "PNG", "jpeg": "JPEG", "webp": "WEBP"}[format]

    return atomic_save(path, lambda f: im.save(f, format=pil_format, **kwargs))
