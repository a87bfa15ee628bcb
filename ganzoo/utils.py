"""Small helpers for turning generator outputs into pictures."""
from __future__ import annotations

import contextlib
import math
import os
import tempfile
from pathlib import Path
from typing import Iterator

import torch

from .errors import DeviceUnavailableError, InvalidOutputPathError

__all__ = ["make_grid", "save_image_grid", "to_uint8", "atomic_write_bytes", "check_output_file", "resolve_device",
           "IMAGE_FORMATS", "FLOAT_DTYPES", "InvalidOutputPathError", "DeviceUnavailableError"]

#: The floating dtypes ganzoo runs and stores, by every name it accepts (canonical torch names and short aliases).
FLOAT_DTYPES = {"float32": torch.float32, "fp32": torch.float32, "float16": torch.float16, "fp16": torch.float16,
                "half": torch.float16, "bfloat16": torch.bfloat16, "bf16": torch.bfloat16}

#: File suffix -> PIL format of the pictures ganzoo writes (save_image_grid, ``ganzoo sample -o``).
IMAGE_FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG", ".webp": "WEBP", ".bmp": "BMP", ".tif": "TIFF",
                 ".tiff": "TIFF"}


def resolve_device(device: "torch.device | str | None") -> "torch.device | None":
    """``device`` as a torch.device that exists here; DeviceUnavailableError naming what is available otherwise."""
    if device is None:
        return None
    if not isinstance(device, (str, torch.device)):
        raise TypeError(f"device must be a str or torch.device, got {type(device).__name__} {device!r}")
    try:
        dev = torch.device(device)
    except (RuntimeError, ValueError):
        raise DeviceUnavailableError(f"unknown device {device!r}: expected 'cpu', 'cuda', 'cuda:N' or 'mps'") \
            from None
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            why = "this torch build has no CUDA support" if torch.version.cuda is None else "no CUDA device is visible"
            raise DeviceUnavailableError(f"device {device!r} is not available: {why}; use 'cpu'")
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise DeviceUnavailableError(f"device {device!r} is not available: {torch.cuda.device_count()} CUDA "
                                         f"device(s) visible (cuda:0 .. cuda:{torch.cuda.device_count() - 1})")
    elif dev.type == "mps":
        if not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
            raise DeviceUnavailableError(f"device {device!r} is not available on this machine; use 'cpu'")
    return dev


def check_output_file(path: "str | os.PathLike", *, what: str = "output file",
                      suffixes: "tuple[str, ...] | None" = None, overwrite: bool = True,
                      error: type[Exception] = InvalidOutputPathError) -> Path:
    """Validate an output file path before any work; returns it as an absolute Path.

    Refused (InvalidOutputPathError): not a str/PathLike, empty, a control character (NUL, newline) or a name the
    file system cannot encode, an existing folder or a trailing separator, a nearest existing ancestor that is a
    file or is not writable, (with ``suffixes``) another suffix, and (with ``overwrite=False``) an existing file.
    Missing parent folders are fine. ``error`` is the exception class raised (export raises its own
    InvalidExportPathError).
    """
    if isinstance(path, (bytes, bytearray)) or not isinstance(path, (str, os.PathLike)):
        raise error(f"{what}: expected a file path (str or os.PathLike), got {path!r} ({type(path).__name__})")
    raw = os.fspath(path)
    if not raw.strip():
        raise error(f"{what}: the path is empty")
    bad = next((c for c in raw if ord(c) < 32 or ord(c) == 127), None)
    if bad is not None:
        raise error(f"{what}: {raw!r} contains the control character {bad!r}")
    try:
        os.fsencode(raw)
    except UnicodeError as e:
        raise error(f"{what}: {raw!r} cannot be encoded as a file name here ({e})") from None
    p = Path(raw).expanduser().absolute()
    if raw.endswith(("/", os.sep)) or p.is_dir():
        raise error(f"{what}: expected a file path, got the directory {p}")
    if p.exists() and not overwrite:
        raise error(f"{what}: {p} exists; pass overwrite=True to replace it")
    if suffixes is not None and p.suffix.lower() not in suffixes:
        raise error(f"{what}: {p.name!r} has suffix {p.suffix or '(none)'!r}; expected one of "
                                     f"{', '.join(suffixes)}")
    anc = p.parent
    while not anc.exists() and anc.parent != anc:
        anc = anc.parent
    if not anc.is_dir():
        raise error(f"{what}: cannot create {p}: {anc} is a file, not a folder")
    if not os.access(anc, os.W_OK | os.X_OK):
        raise error(f"{what}: cannot write under {anc}: permission denied")
    return p


def to_uint8(x: torch.Tensor, value_range: tuple[float, float] = (-1.0, 1.0)) -> torch.Tensor:
    """Map values in ``value_range`` to uint8 [0, 255] (clamping outside values)."""
    lo, hi = value_range
    x = (x.detach().float().cpu() - lo) / (hi - lo)
    return (x.clamp(0, 1) * 255 + 0.5).to(torch.uint8)


def make_grid(images: torch.Tensor, nrow: int | None = None, padding: int = 2) -> torch.Tensor:
    """(B, C, H, W) -> one (C, H', W') image with the batch laid out in rows of ``nrow``."""
    if images.dim() != 4:
        raise ValueError(f"expected images of shape (B, C, H, W), got {tuple(images.shape)}")
    b, c, h, w = images.shape
    nrow = nrow or max(1, int(math.ceil(math.sqrt(b))))
    ncol = int(math.ceil(b / nrow))
    grid = images.new_zeros(c, ncol * (h + padding) + padding, nrow * (w + padding) + padding)
    for i in range(b):
        r, q = divmod(i, nrow)
        y, x = r * (h + padding) + padding, q * (w + padding) + padding
        grid[:, y:y + h, x:x + w] = images[i]
    return grid


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write to a temporary file in the same folder, fsync, then rename: readers never see half a file. The file
    gets the mode the umask gives (not mkstemp's 0600). On failure nothing is left: no temporary file, no folder
    this call created, an existing ``path`` untouched."""
    path = Path(path)
    created: list[Path] = []
    d = path.parent
    while not d.exists() and d.parent != d:
        created.append(d)
        d = d.parent
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp creates 0600; give the file the mode open() would
        os.replace(tmp, path)
        tmp = None
    except BaseException:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
        for c in created:  # innermost first
            try:
                c.rmdir()
            except OSError:
                break
        raise


def save_image_grid(images: torch.Tensor, path: str | os.PathLike, nrow: int | None = None,
                    value_range: tuple[float, float] = (-1.0, 1.0)) -> Path:
    """Save a batch (B, C, H, W) with C in {1, 3} as one grid picture, atomically. The format comes from the
    suffix (:data:`IMAGE_FORMATS`: .png, .jpg/.jpeg (quality 95), .webp, .bmp, .tif); another suffix raises
    InvalidOutputPathError. Values in ``value_range`` map to 0..255."""
    import io

    from PIL import Image

    fmt = IMAGE_FORMATS.get(Path(path).suffix.lower())
    if fmt is None:
        raise InvalidOutputPathError(f"cannot tell the picture format of {os.fspath(path)!r} from its suffix; "
                                     f"expected one of {', '.join(IMAGE_FORMATS)}")
    if images.dim() != 4 or images.shape[1] not in (1, 3):
        raise ValueError(f"expected images of shape (B, 1 or 3, H, W), got {tuple(images.shape)}")
    grid = to_uint8(make_grid(images.detach().float().cpu(), nrow), value_range)
    arr = grid.permute(1, 2, 0).numpy()
    img = Image.fromarray(arr[..., 0] if arr.shape[2] == 1 else arr, mode=None)
    buf = io.BytesIO()
    img.save(buf, format=fmt, **({"quality": 95} if fmt in ("JPEG", "WEBP") else {}))
    atomic_write_bytes(path, buf.getvalue())
    return Path(path)


@contextlib.contextmanager
def eval_mode(module: torch.nn.Module) -> Iterator[torch.nn.Module]:
    """Put ``module`` in eval mode for the block, restoring every submodule's train/eval flag after."""
    flags = [(m, m.training) for m in module.modules()]
    module.eval()
    try:
        yield module
    finally:
        for m, t in flags:
            m.training = t
