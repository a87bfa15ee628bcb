"""Helpers shared by the ONNX, TensorRT and Triton exporters: model resolution, symbolic dims, sizes, paths,
atomic writes. Only torch and the standard library at import time."""
from __future__ import annotations

import contextlib
import logging
import math
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator, Sequence

import torch

from ganzoo.utils import _umask, check_output_file

from .errors import ExportError, InvalidExportPathError, NotAGanzooModelError, ShapeMismatchError

logger = logging.getLogger("ganzoo.export")

EXPORT_BATCH = 2  # example batch for tracing: torch.export specialises sizes 0 and 1
MAX_BATCH = 4096
MAX_SPATIAL = 16384
BATCH_SYMBOL = "B"


# ---------------------------------------------------------------------------------------------------- models


def resolve_model(model_or_name: Any, pretrained: bool | None = None):
    """A GANModel from a model or a registry name (``"dcgan"``, ``"dcgan.mnist"``).

    For a name, ``pretrained=None`` loads the tag's weights when it has published ones (``ganzoo.load``) and
    builds random weights otherwise (``ganzoo.create``); True insists on weights, False always builds random ones.
    The model comes back with its ``pretrained_cfg`` (input/output TensorSpecs), which export needs.
    """
    from ganzoo.models.base import GANModel

    if isinstance(model_or_name, str):
        import ganzoo
        from ganzoo.errors import NoPretrainedWeightsError
        from ganzoo.registry import resolve_pretrained_cfg

        cfg = resolve_pretrained_cfg(model_or_name)  # UnknownModelError / UnknownTagError
        full = f"{cfg.architecture}.{cfg.tag}"
        if pretrained and not cfg.has_weights:
            raise NoPretrainedWeightsError(f"{full} has no published weights; pass pretrained=False for random ones")
        use_weights = cfg.has_weights if pretrained is None else bool(pretrained)
        model = ganzoo.load(full) if use_weights else ganzoo.create(full)
        if model.pretrained_cfg is None:  # create() keeps it for tagged names; be explicit anyway
            model.pretrained_cfg = cfg
        return model
    if isinstance(model_or_name, GANModel):
        if model_or_name.pretrained_cfg is None:
            name = model_or_name.model_name or type(model_or_name).__name__
            raise ExportError(
                f"{name} has no pretrained_cfg, so its input/output TensorSpecs are unknown; build it with a tag, "
                f"e.g. ganzoo.create('{model_or_name.model_name or 'name'}.<tag>'), or set model.pretrained_cfg"
            )
        if not model_or_name.pretrained_cfg.inputs or not model_or_name.pretrained_cfg.outputs:
            raise ExportError(f"{model_or_name.pretrained_cfg.name} declares no input/output TensorSpecs")
        return model_or_name
    raise NotAGanzooModelError(
        f"expected a ganzoo GANModel or a registered model name (see ganzoo.list_models()), "
        f"got {type(model_or_name).__module__}.{type(model_or_name).__qualname__}"
    )


def model_label(model) -> str:
    cfg = model.pretrained_cfg
    if cfg is not None and cfg.architecture:
        return cfg.name
    return model.model_name or type(model).__name__


def model_family(model) -> str | None:
    cfg = model.pretrained_cfg
    arch = (cfg.architecture if cfg is not None else None) or model.model_name
    if not arch:
        return None
    try:
        from ganzoo.registry import get_entry

        return get_entry(arch).family
    except Exception:  # an unregistered model: no family-specific tolerances
        return None




def as_tuple(out: Any, names: Sequence[str] = ()) -> tuple[torch.Tensor, ...]:
    """A module's output as a flat tuple of tensors (dicts ordered by ``names`` when given)."""
    if isinstance(out, torch.Tensor):
        return (out,)
    if isinstance(out, dict):
        keys = [k for k in names if k in out] or list(out)
        return tuple(out[k] for k in keys)
    if isinstance(out, (tuple, list)) and all(isinstance(t, torch.Tensor) for t in out):
        return tuple(out)
    raise ExportError(f"expected the module to return a tensor, a tuple of tensors or a dict, got {type(out).__name__}")


# ---------------------------------------------------------------------------------------------- symbolic dims


@dataclass(frozen=True)
class DimExpr:
    """A parsed TensorSpec dimension: ``"H*4"`` -> symbol H, factor 4; ``"H/2"`` -> symbol H, divisor 2."""

    symbol: str
    mul: int = 1
    div: int = 1

    def value(self, dims: dict[str, int]) -> int:
        return dims[self.symbol] * self.mul // self.div

    def invert(self, size: int) -> int:
        return size * self.div // self.mul


def parse_dim(d: int | str) -> int | DimExpr:
    from ganzoo.registry import _DIM_RE

    if isinstance(d, int):
        return d
    m = _DIM_RE.match(d)
    if not m:
        raise ExportError(f"cannot parse TensorSpec dimension {d!r}: expected an int, 'B', 'H' or 'H*4'-style")
    if m.group(2) == "*":
        return DimExpr(m.group(1), mul=int(m.group(3)))
    if m.group(2) == "/":
        return DimExpr(m.group(1), div=int(m.group(3)))
    return DimExpr(m.group(1))


def spatial_symbols(specs: Sequence[Any]) -> tuple[str, ...]:
    """Symbols other than the batch one, in order of first appearance over ``specs``."""
    out: list[str] = []
    for s in specs:
        for d in s.shape:
            p = parse_dim(d)
            if isinstance(p, DimExpr) and p.symbol != BATCH_SYMBOL and p.symbol not in out:
                out.append(p.symbol)
    return tuple(out)


def has_batch_dim(specs: Sequence[Any]) -> bool:
    return all(s.shape and isinstance(parse_dim(s.shape[0]), DimExpr) and parse_dim(s.shape[0]).symbol == BATCH_SYMBOL
               for s in specs)


def infer_dims(specs: Sequence[Any], tensors: Sequence[torch.Tensor], what: str = "input") -> dict[str, int]:
    """Values of the symbolic dims from concrete tensors: ``(B, 3, H, W)`` and a (2, 3, 24, 32) tensor give
    ``{"B": 2, "H": 24, "W": 32}``. Raises ShapeMismatchError when ranks, fixed sizes or symbols disagree."""
    if len(specs) != len(tensors):
        raise ShapeMismatchError(f"expected {len(specs)} {what}(s) ({', '.join(s.name for s in specs)}), "
                                 f"got {len(tensors)}")
    dims: dict[str, int] = {}
    for spec, t in zip(specs, tensors):
        if t.dim() != len(spec.shape):
            raise ShapeMismatchError(f"{what} {spec.name!r}: spec shape {tuple(spec.shape)} has rank {len(spec.shape)}, "
                                     f"the tensor has shape {tuple(t.shape)}")
        for i, (d, n) in enumerate(zip(spec.shape, t.shape)):
            p = parse_dim(d)
            if isinstance(p, int):
                if p != n:
                    raise ShapeMismatchError(f"{what} {spec.name!r}: expected size {p} at dim {i} (spec "
                                             f"{tuple(spec.shape)}), got shape {tuple(t.shape)}")
                continue
            v = p.invert(int(n))
            if p.symbol in dims and dims[p.symbol] != v:
                raise ShapeMismatchError(f"{what} {spec.name!r}: dim {i} ({d}) implies {p.symbol}={v}, but another "
                                         f"dim set {p.symbol}={dims[p.symbol]} (shape {tuple(t.shape)})")
            dims[p.symbol] = v
    return dims


def check_against_specs(specs: Sequence[Any], tensors: Sequence[torch.Tensor], dims: dict[str, int],
                        what: str = "output", source: str = "PyTorch") -> None:
    """Raise ShapeMismatchError unless each tensor has the spec's shape resolved with ``dims``."""
    if len(specs) != len(tensors):
        raise ShapeMismatchError(f"{source} returned {len(tensors)} {what}(s), the model's spec declares "
                                 f"{len(specs)} ({', '.join(s.name for s in specs)})")
    for spec, t in zip(specs, tensors):
        try:
            want = tuple(p if isinstance(p, int) else p.value(dims) for p in map(parse_dim, spec.shape))
        except KeyError as e:
            raise ShapeMismatchError(f"{what} {spec.name!r}: spec {tuple(spec.shape)} uses {e} which no input "
                                     f"defines") from None
        if tuple(t.shape) != want:
            raise ShapeMismatchError(f"{what} {spec.name!r}: expected shape {want} (spec {tuple(spec.shape)} with "
                                     f"{dims}), {source} gave {tuple(t.shape)}")


def round_up(x: int, m: int) -> int:
    return int(math.ceil(x / m) * m)


def pick_sizes(cfg: Any, n_symbols: int) -> tuple[tuple[int, ...], list[tuple[int, ...]]]:
    """(size to trace the export at, two different sizes to validate at) for a model with ``n_symbols`` spatial
    dims, honouring ``cfg.min_size`` and ``cfg.size_multiple``. Sizes are small (about 16-32) to keep it fast,
    never square where it can be avoided, and the trace size differs from both validation sizes."""
    m = max(int(cfg.size_multiple or 1), 1)
    lo = max(int(cfg.min_size or 1), 1)
    a = round_up(max(lo, 8), m)
    step = m if m >= 4 else 4 * m  # distinct sizes that stay multiples of m
    trace = tuple(a + step * k for k in (1, 2, 0, 3)[:n_symbols])
    v1 = tuple(a + step * k for k in (0, 1, 2, 3)[:n_symbols])
    v2 = tuple(a + step * k for k in (3, 0, 1, 2)[:n_symbols])
    if n_symbols == 1:
        trace, v1, v2 = (a + step,), (a,), (a + 2 * step,)
    return trace, [v1, v2]


def sample(model, batch: int, size: Sequence[int] | None, seed: int | None = None) -> tuple[torch.Tensor, ...]:
    """``model.sample_inputs(batch, size=...)`` with a seeded generator; size is omitted when None."""
    g = torch.Generator().manual_seed(seed) if seed is not None else None
    kwargs: dict[str, Any] = {"generator": g}
    if size is not None:
        kwargs["size"] = tuple(size)
    out = model.sample_inputs(batch, **kwargs)
    return tuple(out) if isinstance(out, (tuple, list)) else (out,)


# ---------------------------------------------------------------------------------------------------- paths


def check_path_chars(path: Any, what: str) -> str:
    """``path`` as a str, refusing (InvalidExportPathError) bytes, control characters (a NUL fails only when the
    file is opened, after the export's work; a newline is never meant) and names the file system cannot encode."""
    raw = os.fspath(path)
    if not isinstance(raw, str):
        raise InvalidExportPathError(f"{what}: expected a str path, got {type(raw).__name__} {raw!r}")
    bad = next((c for c in raw if ord(c) < 32 or ord(c) == 127), None)
    if bad is not None:
        raise InvalidExportPathError(f"{what}: {raw!r} contains the control character {bad!r}; expected a plain "
                                     f"file path")
    try:
        os.fsencode(raw)
    except UnicodeError as e:
        raise InvalidExportPathError(f"{what}: {raw!r} cannot be encoded as a file name here ({e})") from None
    return raw


def check_output_path(path: Any, *, what: str = "output file", overwrite: bool = True) -> Path:
    """Validate an output file path before any heavy work; returns it as an absolute Path
    (:func:`ganzoo.utils.check_output_file`, raising InvalidExportPathError).

    Refused: not a str/PathLike, empty, a control character (NUL, newline) or a name the file system cannot encode,
    a directory, a path whose nearest existing ancestor is a file, an ancestor without write permission, or an
    existing file when ``overwrite=False``. Missing parent folders are fine: they are created when the file is written.
    """
    return check_output_file(path, what=what, overwrite=overwrite, error=InvalidExportPathError)


def _make_parents(p: Path) -> list[Path]:
    created: list[Path] = []
    missing = []
    d = p.parent
    while not d.exists():
        missing.append(d)
        d = d.parent
    for d in reversed(missing):
        try:
            d.mkdir()
        except FileExistsError:
            continue
        except OSError as e:
            _remove_dirs(created)
            raise InvalidExportPathError(f"cannot create folder {d} for {p.name}: {e}") from e
        created.append(d)
    return created


def _remove_dirs(dirs: list[Path]) -> None:
    for d in reversed(dirs):
        with contextlib.suppress(OSError):
            d.rmdir()


def atomic_write(path: Path, data: bytes | Any) -> None:
    """Write ``data`` (bytes, or a callable taking a binary file object) to ``path`` through a temporary file
    in the same folder, fsync, then rename. On any failure neither the temporary file nor ``path`` (nor any
    folder this call created) is left behind; an existing ``path`` is untouched."""
    created = _make_parents(path)
    fd = None
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        with os.fdopen(fd, "wb") as f:
            fd = None
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
        if fd is not None:
            with contextlib.suppress(OSError):
                os.close(fd)
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
        _remove_dirs(created)
        if isinstance(e, OSError):
            raise InvalidExportPathError(f"cannot write {path}: {e}") from e
        raise


@contextlib.contextmanager
def quiet_exporter() -> Iterator[None]:
    """Silence torch.onnx's progress prints and chatty warnings for the block (they go to the debug log)."""
    import io
    import warnings

    names = ["torch.onnx", "torch.export", "torch._export", "torch.fx.experimental.symbolic_shapes",
             "onnxscript", "onnx_ir", "torch._dynamo", "onnxslim"]
    saved = [(logging.getLogger(n), logging.getLogger(n).level) for n in names]
    for lg, _ in saved:
        lg.setLevel(logging.ERROR)
    buf = io.StringIO()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with contextlib.redirect_stdout(buf):
                yield
    finally:
        for lg, lvl in saved:
            lg.setLevel(lvl)
        if buf.getvalue().strip():
            logger.debug("torch.onnx: %s", buf.getvalue().strip())
