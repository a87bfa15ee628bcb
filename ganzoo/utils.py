"""Helpers every part of ganzoo shares: the dtype table, output flattening, atomic file writes, output-path
checks, devices, and turning generator outputs into pictures."""
from __future__ import annotations

import contextlib
import hashlib
import logging
import math
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any, BinaryIO, Callable, Iterator

import torch

from .errors import DeviceUnavailableError, InvalidOutputPathError

logger = logging.getLogger(__name__)

__all__ = ["make_grid", "save_image_grid", "to_uint8", "atomic_write", "check_output_file", "resolve_device",
           "IMAGE_FORMATS", "FLOAT_DTYPES", "SHORT_DTYPE_NAMES", "to_torch_dtype", "short_dtype_name",
           "flatten_outputs", "state_sha256", "eval_mode", "atomic_folder", "FolderSwapError", "InvalidOutputPathError", "DeviceUnavailableError"]

#: The floating dtypes ganzoo runs and stores, by every name it accepts (canonical torch names and short aliases).
#: The one dtype table: load, save_pretrained, export, the pipelines, benchmarks and tools all read it.
FLOAT_DTYPES = {"float32": torch.float32, "fp32": torch.float32, "float16": torch.float16, "fp16": torch.float16,
                "half": torch.float16, "bfloat16": torch.bfloat16, "bf16": torch.bfloat16}
#: torch dtype -> the short name export, benchmarks and file names use ("fp32", "fp16", "bf16").
SHORT_DTYPE_NAMES = {torch.float32: "fp32", torch.float16: "fp16", torch.bfloat16: "bf16"}


def to_torch_dtype(dtype: "torch.dtype | str", *, allowed: "tuple[torch.dtype, ...] | None" = None) -> torch.dtype:
    """``"fp16"`` / ``"float16"`` / ``"half"`` / ``torch.float16`` -> ``torch.float16`` (every name of
    :data:`FLOAT_DTYPES`). ``allowed`` restricts the result. ValueError names what is accepted."""
    names = sorted(n for n, d in FLOAT_DTYPES.items() if allowed is None or d in allowed)
    dt = dtype if isinstance(dtype, torch.dtype) else FLOAT_DTYPES.get(dtype) if isinstance(dtype, str) else None
    if dt is None or dt not in FLOAT_DTYPES.values() or (allowed is not None and dt not in allowed):
        raise ValueError(f"dtype must be one of {names} (or the torch dtype), got {dtype!r}")
    return dt


def short_dtype_name(dtype: "torch.dtype | str") -> str:
    """``torch.float16`` / ``"float16"`` / ``"half"`` -> ``"fp16"``."""
    return SHORT_DTYPE_NAMES[to_torch_dtype(dtype)]


def flatten_outputs(out: Any, names: "tuple[str, ...] | list[str]" = ()) -> tuple[torch.Tensor, ...]:
    """A module's output as a flat tuple of tensors: a tensor, nested tuples/lists, or a dict (ordered by
    ``names`` where given, else by insertion). TypeError for anything else."""
    if isinstance(out, torch.Tensor):
        return (out,)
    if isinstance(out, dict):
        keys = [k for k in names if k in out] or list(out)
        return tuple(t for k in keys for t in flatten_outputs(out[k]))
    if isinstance(out, (tuple, list)):
        return tuple(t for o in out for t in flatten_outputs(o))
    raise TypeError(f"expected the module to return a tensor, a tuple of tensors or a dict, got {type(out).__name__}")

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


def state_sha256(module: torch.nn.Module) -> str:
    """sha256 over ``module``'s state dict as loaded: for each entry in order, its name, dtype, shape and raw bytes.
    Identifies weights in memory (the evaluated generator, a cached export's source), file or no file."""
    h = hashlib.sha256()
    for k, v in module.state_dict().items():
        t = v.detach().cpu().contiguous().reshape(-1)
        h.update(f"{k}|{t.dtype}|{tuple(v.shape)}|".encode())
        h.update(t.view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()


def atomic_write(path: str | os.PathLike, data: "bytes | Callable[[BinaryIO], None]", *,
                 error: "type[Exception] | None" = None) -> Path:
    """Write ``data`` (bytes, or a callable that writes to a binary file object) to ``path`` through a temporary
    file in the same folder, fsync, then rename: readers never see half a file. The file gets the mode the umask
    gives (not mkstemp's 0600); missing parent folders are created. On failure nothing is left: no temporary
    file, no folder this call created, an existing ``path`` untouched. ``error``: an exception class to raise
    (``from`` the OSError) when the system refuses the write, e.g. ``InvalidExportPathError``. Returns ``path``.

    The one atomic file writer of ganzoo (folders are swapped in whole by ``ganzoo.save_pretrained``)."""
    path = Path(path)
    created: list[Path] = []
    d = path.parent
    while not d.exists() and d.parent != d:
        created.append(d)
        d = d.parent
    tmp = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        with os.fdopen(fd, "wb") as f:
            if callable(data):
                data(f)
            else:
                f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp creates 0600; give the file the mode open() would
        os.replace(tmp, path)
        tmp = None
    except BaseException as e:
        if tmp is not None:
            Path(tmp).unlink(missing_ok=True)
        for c in created:  # innermost first
            try:
                c.rmdir()
            except OSError:
                break
        if error is not None and isinstance(e, OSError):
            raise error(f"cannot write {path}: {e}") from e
        raise
    return path


# -- atomic folders -------------------------------------------------------------------------------------------

def _tmp_prefix(out: Path) -> str:
    return f".{out.name}.ganzoo-tmp-"


def _reclaim_stale(out: Path) -> None:
    """Remove temporary folders that a killed :func:`atomic_folder` left beside ``out`` (their process is gone)."""
    prefix = _tmp_prefix(out)
    try:
        entries = list(os.scandir(out.parent))
    except OSError:
        return
    for e in entries:
        if not e.name.startswith(prefix) or not e.is_dir(follow_symlinks=False):
            continue
        try:
            pid = int(e.name[len(prefix):].split("-", 1)[0])
        except ValueError:
            continue
        if pid == os.getpid():
            continue
        try:
            os.kill(pid, 0)
            continue  # still running: a save in flight
        except ProcessLookupError:
            pass
        except PermissionError:
            continue  # someone else's live process
        logger.info("removing %s, left by a folder write that was interrupted (pid %d)", e.path, pid)
        shutil.rmtree(e.path, ignore_errors=True)


def _carry_over(src: Path, dst: Path, names: tuple[str, ...]) -> None:
    """Put the foreign entries of the old folder into the new one (hard links, copies where linking fails), so
    ``overwrite=True`` replaces only the files ganzoo writes."""
    def link(s: str, d: str) -> None:
        try:
            os.link(s, d, follow_symlinks=False)
        except OSError:
            shutil.copy2(s, d, follow_symlinks=False)

    for n in names:
        s, d = src / n, dst / n
        if s.is_dir() and not s.is_symlink():
            shutil.copytree(s, d, symlinks=True, copy_function=link)
        else:
            link(str(s), str(d))


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


_RENAME_EXCHANGE = 2


def _exchange(a: Path, b: Path) -> bool:
    """Atomically swap two folders (Linux renameat2 RENAME_EXCHANGE). False where the system cannot."""
    import ctypes
    import errno

    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        fn = libc.renameat2
    except (OSError, AttributeError):
        return False
    fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    at_fdcwd = -100
    if fn(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP):
        return False
    raise OSError(err, os.strerror(err), str(b))


def _swap_in(new: Path, out: Path) -> Path | None:
    """Put the finished folder ``new`` at ``out``. Returns where the old folder now is (to delete), or None.

    An existing ``out`` is exchanged with ``new`` in one atomic step where the system allows it, so at every
    moment ``out`` is the old folder or the new one. Elsewhere the old folder is renamed aside first and put
    back if the second rename fails (a kill between the two leaves it beside ``out`` under a ``.ganzoo-old``
    name)."""
    if not out.exists():
        os.rename(new, out)  # fails (ENOTEMPTY/EEXIST) if another process created ``out`` meanwhile
        return None
    if _exchange(new, out):
        return new
    old = out.with_name(f".{out.name}.ganzoo-old-{os.getpid()}")
    os.rename(out, old)
    try:
        os.rename(new, out)
    except BaseException:
        os.rename(old, out)
        raise
    return old


class FolderSwapError(OSError):
    """:func:`atomic_folder` could not put the finished folder in place (the OSError is its ``__cause__``)."""


@contextlib.contextmanager
def atomic_folder(out: Path, *, carry: "tuple[str, ...]" = ()) -> Iterator[Path]:
    """Write a whole folder atomically: yields an empty temporary folder beside ``out`` to fill; when the block
    ends without error it is swapped in for ``out`` (``out`` is at every moment the old folder or the new one,
    never a mix; the old one is deleted afterwards). ``carry``: entries of the old folder to keep, hard-linked
    (copied where linking fails) into the new one. On any failure the temporary folder and every parent folder
    this call created are removed and an existing ``out`` is untouched; a failure of the swap itself raises
    :class:`FolderSwapError`. The folder gets the mode mkdir would give. Temporary folders left by a killed
    process are reclaimed on the next call.

    The folder counterpart of :func:`atomic_write` (``ganzoo.save_pretrained`` writes through it)."""
    created: list[Path] = []
    d = out.parent
    while not d.exists():
        created.append(d)
        d = d.parent
    out.parent.mkdir(parents=True, exist_ok=True)
    _reclaim_stale(out)
    tmp = Path(tempfile.mkdtemp(prefix=f"{_tmp_prefix(out)}{os.getpid()}-", dir=out.parent))
    old: Path | None = None
    try:
        os.chmod(tmp, 0o777 & ~_umask())  # mkdtemp creates 0700; give the folder the mode mkdir would
        yield tmp
        if carry:
            _carry_over(out, tmp, carry)
        _fsync_dir(tmp)
        try:
            old = _swap_in(tmp, out)
        except OSError as e:
            raise FolderSwapError(str(e)) from e
        _fsync_dir(out.parent)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        for c in created:  # the parents this call made, innermost first, if still empty
            try:
                c.rmdir()
            except OSError:
                break
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


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
    atomic_write(path, buf.getvalue())
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
