"""TensorRT engines from ganzoo models or their ONNX files, with a portable-looking but honest cache key.

A TensorRT engine only runs on the GPU architecture (compute capability) and TensorRT version it was built
with, and only for the shapes of its optimisation profiles and its precision. ganzoo engine files therefore
start with a header that records exactly that::

    b"GANZOOTRT1\\n" | 8-byte little-endian header length | header JSON (utf-8) | serialized TensorRT plan

and a human-readable copy of the header sits next to the file (``<engine>.json``). Loading an engine whose
header does not match the current GPU / TensorRT (or the precision / shapes asked for) raises
EngineMismatchError instead of TensorRT's opaque deserialisation failure; ``to_tensorrt`` reuses a cached
engine only when its key matches, and rebuilds it otherwise.

The header logic is pure Python (tested without TensorRT). Building and running need the ``tensorrt`` package
and a CUDA GPU; without them the functions raise BackendUnavailableError saying which is missing.

Precision. TensorRT 11 removed weak typing (``BuilderFlag.FP16`` and the per-layer precision hints): every
network is strongly typed, so an engine computes in the types of its ONNX graph. ganzoo therefore builds fp16
engines from its fp16 ONNX export (half weights and activations, normalisation layers kept fp32 behind casts,
fp32 I/O), with the ``STRONGLY_TYPED`` network flag wherever it exists (TensorRT >= 9; ignored by 11). Only for a
user's fp32 ONNX file and ``precision="fp16"`` on a TensorRT that still has weak typing (< 11) does it fall back to
``BuilderFlag.FP16`` with normalisation layers pinned to fp32.
"""
from __future__ import annotations

import hashlib
import json
import logging
import os
import struct
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

from ganzoo.utils import atomic_write, check_output_file

from .errors import (
    BackendUnavailableError,
    EngineMismatchError,
    ExportError,
    InvalidExportPathError,
    ShapeMismatchError,
)

logger = logging.getLogger("ganzoo.export")

__all__ = [
    "ENGINE_MAGIC",
    "EngineKey",
    "EngineResult",
    "EngineRunner",
    "to_tensorrt",
    "write_engine",
    "read_engine",
    "read_engine_header",
    "check_engine_key",
    "resolve_profiles",
    "current_environment",
    "require_tensorrt",
]

ENGINE_MAGIC = b"GANZOOTRT1\n"
_LEN = struct.Struct("<Q")
PRECISIONS = ("fp32", "fp16")
DEFAULT_BATCH = (1, 1, 8)
Shape = tuple[int, ...]
Profile = tuple[Shape, Shape, Shape]


# ------------------------------------------------------------------------------------------ the cache key


@dataclass(frozen=True)
class EngineKey:
    """What an engine is valid for. ``digest`` hashes every field except ``gpu_name`` (informational: engines are
    keyed by compute capability, as TensorRT's own compatibility rules are)."""

    compute_capability: str
    tensorrt_version: str
    precision: str
    profiles: Mapping[str, Profile]
    onnx_sha256: str | None = None
    gpu_name: str = ""

    def __post_init__(self) -> None:
        if self.precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {PRECISIONS}, got {self.precision!r}")
        object.__setattr__(self, "profiles", _norm_profiles(self.profiles))

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["profiles"] = {k: [list(s) for s in v] for k, v in self.profiles.items()}
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "EngineKey":
        try:
            return cls(compute_capability=str(d["compute_capability"]), tensorrt_version=str(d["tensorrt_version"]),
                       precision=str(d["precision"]), profiles=d["profiles"], onnx_sha256=d.get("onnx_sha256"),
                       gpu_name=str(d.get("gpu_name", "")))
        except (KeyError, TypeError, ValueError) as e:
            raise EngineMismatchError(f"engine header has no valid cache key ({e}): {dict(d)}") from e

    @property
    def digest(self) -> str:
        d = self.to_dict()
        d.pop("gpu_name")
        return hashlib.sha256(json.dumps(d, sort_keys=True, separators=(",", ":")).encode()).hexdigest()[:32]


def _norm_profiles(profiles: Mapping[str, Any]) -> dict[str, Profile]:
    out: dict[str, Profile] = {}
    for name, p in dict(profiles).items():
        if len(p) != 3:
            raise ValueError(f"profile of {name!r}: expected (min, opt, max) shapes, got {p!r}")
        mn, op, mx = (tuple(int(v) for v in s) for s in p)
        if not len(mn) == len(op) == len(mx):
            raise ValueError(f"profile of {name!r}: min/opt/max have different ranks: {mn}, {op}, {mx}")
        if not all(a <= b <= c for a, b, c in zip(mn, op, mx)) or any(a < 1 for a in mn):
            raise ValueError(f"profile of {name!r}: expected 1 <= min <= opt <= max per dim, got {mn}, {op}, {mx}")
        out[str(name)] = (mn, op, mx)
    return dict(sorted(out.items()))


def write_engine(path: str | os.PathLike, plan: bytes, key: EngineKey, extra: Mapping[str, Any] | None = None) -> Path:
    """Write header + plan atomically to ``path`` and the header as JSON to ``<path>.json``."""
    p = check_output_file(path, what="engine file", error=InvalidExportPathError)
    header = {"format": "ganzoo-tensorrt-engine", "version": 1, "key": key.to_dict(), "digest": key.digest,
              **dict(extra or {})}
    blob = json.dumps(header, sort_keys=True).encode()

    def write(f: Any) -> None:
        f.write(ENGINE_MAGIC)
        f.write(_LEN.pack(len(blob)))
        f.write(blob)
        f.write(plan)

    atomic_write(p, write, error=InvalidExportPathError)
    atomic_write(Path(str(p) + ".json"), (json.dumps(header, indent=2, sort_keys=True) + "\n").encode(),
                 error=InvalidExportPathError)
    return p


def read_engine_header(path: str | os.PathLike) -> dict[str, Any]:
    """The JSON header of a ganzoo engine file (EngineMismatchError if the file has none)."""
    return _read(path, header_only=True)[0]


def read_engine(path: str | os.PathLike) -> tuple[dict[str, Any], bytes]:
    """(header, serialized plan) of a ganzoo engine file."""
    return _read(path, header_only=False)


def _read(path: str | os.PathLike, header_only: bool) -> tuple[dict[str, Any], bytes]:
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"engine file not found: {p}")
    with open(p, "rb") as f:
        magic = f.read(len(ENGINE_MAGIC))
        if magic != ENGINE_MAGIC:
            raise EngineMismatchError(
                f"{p} is not a ganzoo engine file (no {ENGINE_MAGIC!r} header): a raw TensorRT plan carries no record "
                f"of the GPU, TensorRT version, precision and shapes it was built for; rebuild it with "
                f"ganzoo.export.to_tensorrt")
        raw_len = f.read(_LEN.size)
        if len(raw_len) != _LEN.size:
            raise EngineMismatchError(f"{p}: truncated engine header")
        (n,) = _LEN.unpack(raw_len)
        if n > 1 << 24:
            raise EngineMismatchError(f"{p}: implausible header length {n}; the file is corrupt")
        blob = f.read(n)
        try:
            header = json.loads(blob.decode())
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            raise EngineMismatchError(f"{p}: corrupt engine header ({e})") from e
        if not isinstance(header, dict) or "key" not in header:
            raise EngineMismatchError(f"{p}: engine header without a cache key")
        plan = b"" if header_only else f.read()
    if not header_only and not plan:
        raise EngineMismatchError(f"{p}: the engine file has a header but no plan (truncated)")
    return header, plan


def check_engine_key(header: Mapping[str, Any], *, compute_capability: str, tensorrt_version: str,
                     precision: str | None = None, profiles: Mapping[str, Any] | None = None,
                     source: str = "engine") -> EngineKey:
    """Raise EngineMismatchError unless the engine described by ``header`` runs here (same compute capability
    and TensorRT version) and, when given, has the wanted precision and optimisation profiles."""
    key = EngineKey.from_dict(header["key"] if "key" in header else header)
    mism: dict[str, tuple[Any, Any]] = {}
    if key.compute_capability != str(compute_capability):
        mism["compute_capability"] = (key.compute_capability, str(compute_capability))
    if key.tensorrt_version != str(tensorrt_version):
        mism["tensorrt_version"] = (key.tensorrt_version, str(tensorrt_version))
    if precision is not None and key.precision != precision:
        mism["precision"] = (key.precision, precision)
    if profiles is not None:
        want = _norm_profiles(profiles)
        if want != key.profiles:
            mism["profiles"] = (key.profiles, want)
    if mism:
        detail = "; ".join(f"{k}: engine has {a!r}, wanted {b!r}" for k, (a, b) in mism.items())
        raise EngineMismatchError(
            f"{source} was built for another configuration ({detail}). TensorRT engines are not portable across "
            f"GPU architectures, TensorRT versions, precisions or shape profiles: rebuild it here with "
            f"ganzoo.export.to_tensorrt (or `ganzoo export NAME --format tensorrt`).", mism)
    return key


# ------------------------------------------------------------------------------------------------ profiles


def resolve_profiles(input_shapes: Mapping[str, Sequence[int | str | None]], *, batch: Sequence[int] | int | None = None,
                     size: Any = None, profiles: Any = None, batch_symbol: str = "B") -> dict[str, Profile]:
    """Optimisation profiles (min, opt, max) for every input of a graph.

    input_shapes: name -> dims as in the ONNX graph (ints, or symbol strings / None where dynamic).
    batch: ``(min, opt, max)`` or an int for the batch symbol (default (1, 1, 8)).
    size: other symbols: ``{"H": (min, opt, max) or int, ...}``, or a sequence ``(H, W)`` / ``((min H, min W),
        (opt H, opt W), (max H, max W))`` filling the non-batch symbols in order of appearance.
    profiles: explicit ``{name: (min, opt, max)}`` (or one ``(min, opt, max)`` for a single-input graph); they win.
    """
    explicit: dict[str, Any] = {}
    if profiles is not None:
        if isinstance(profiles, Mapping):
            explicit = dict(profiles)
        elif len(input_shapes) == 1:
            explicit = {next(iter(input_shapes)): profiles}
        else:
            raise ValueError(f"profiles: the graph has {len(input_shapes)} inputs ({', '.join(input_shapes)}); "
                             f"give a dict name -> (min, opt, max)")
        unknown = sorted(set(explicit) - set(input_shapes))
        if unknown:
            raise ValueError(f"profiles for unknown input(s) {unknown}; the graph's inputs are {list(input_shapes)}")
    b = _triple(batch if batch is not None else DEFAULT_BATCH, "batch")
    symbols: list[str] = []
    for dims in input_shapes.values():
        for d in dims:
            if isinstance(d, str) and d != batch_symbol and d not in symbols:
                symbols.append(d)
    sym: dict[str, tuple[int, int, int]] = {batch_symbol: b}
    if isinstance(size, Mapping):
        for k, v in size.items():
            sym[str(k)] = _triple(v, f"size[{k}]")
    elif size is not None:
        seq = list(size)
        if seq and all(isinstance(v, (tuple, list)) for v in seq):  # ((min...), (opt...), (max...))
            if len(seq) != 3:
                raise ValueError(f"size: expected (min, opt, max) sizes, got {size!r}")
            for i, s in enumerate(symbols[: len(seq[0])]):
                sym[s] = (int(seq[0][i]), int(seq[1][i]), int(seq[2][i]))
        else:
            for s, v in zip(symbols, seq):
                sym[s] = _triple(v, f"size {s}")
    out: dict[str, Profile] = {}
    for name, dims in input_shapes.items():
        if name in explicit:
            prof = _norm_profiles({name: explicit[name]})[name]
            if len(prof[0]) != len(dims):
                raise ShapeMismatchError(f"profile of {name!r} has rank {len(prof[0])}, the input has rank {len(dims)}")
            for i, d in enumerate(dims):
                if isinstance(d, int) and d > 0 and not prof[0][i] == prof[1][i] == prof[2][i] == d:
                    raise ShapeMismatchError(f"profile of {name!r}: dim {i} is fixed at {d} in the graph, the profile "
                                             f"gives {prof[0][i]}/{prof[1][i]}/{prof[2][i]}")
            out[name] = prof
            continue
        mn, op, mx = [], [], []
        for i, d in enumerate(dims):
            if isinstance(d, int) and d > 0:
                t = (d, d, d)
            elif isinstance(d, str) and d in sym:
                t = sym[d]
            else:
                raise ValueError(f"input {name!r} dim {i} ({d!r}) is dynamic: give its range with size= "
                                 f"(e.g. {{{d!r}: (min, opt, max)}}) or profiles=")
            mn.append(t[0])
            op.append(t[1])
            mx.append(t[2])
        out[name] = (tuple(mn), tuple(op), tuple(mx))
    return _norm_profiles(out)


def _triple(v: Any, what: str) -> tuple[int, int, int]:
    if isinstance(v, int) and not isinstance(v, bool):
        t = (v, v, v)
    else:
        try:
            t = tuple(int(x) for x in v)
        except TypeError:
            raise ValueError(f"{what}: expected an int or (min, opt, max), got {v!r}") from None
    if len(t) != 3 or not 1 <= t[0] <= t[1] <= t[2]:
        raise ValueError(f"{what}: expected (min, opt, max) with 1 <= min <= opt <= max, got {v!r}")
    return t  # type: ignore[return-value]


# ---------------------------------------------------------------------------------------- TensorRT runtime


def require_tensorrt(device: int | None = None) -> Any:
    """Import tensorrt and check for a CUDA GPU; raise BackendUnavailableError naming what is missing."""
    import torch

    try:
        import tensorrt as trt  # noqa: F401
    except ImportError as e:
        raise BackendUnavailableError(
            "TensorRT is not installed: the tensorrt Python package (pip install tensorrt, with a CUDA build of "
            "torch and an NVIDIA driver) is needed to build or run engines; ONNX export works without it") from e
    if not torch.cuda.is_available():
        raise BackendUnavailableError(
            f"TensorRT {trt.__version__} is installed but no CUDA GPU is visible to torch (torch {torch.__version__}, "
            f"CUDA build: {torch.version.cuda or 'no'}); engines are built and run on a GPU")
    if device is not None and not 0 <= device < torch.cuda.device_count():
        raise BackendUnavailableError(f"CUDA device {device} does not exist ({torch.cuda.device_count()} visible)")
    return trt


def current_environment(device: int = 0) -> dict[str, str]:
    """compute_capability, tensorrt_version and gpu_name of this machine (needs TensorRT and CUDA)."""
    import torch

    trt = require_tensorrt(device)
    major, minor = torch.cuda.get_device_capability(device)
    return {"compute_capability": f"{major}.{minor}", "tensorrt_version": str(trt.__version__),
            "gpu_name": torch.cuda.get_device_name(device)}


def _torch_dtype(trt: Any, dt: Any) -> Any:
    import torch

    table = {trt.float32: torch.float32, trt.float16: torch.float16, trt.int32: torch.int32, trt.int8: torch.int8,
             trt.bool: torch.bool}
    for name, tdt in (("int64", torch.int64), ("bfloat16", torch.bfloat16), ("uint8", torch.uint8)):
        if hasattr(trt, name):
            table[getattr(trt, name)] = tdt
    if dt not in table:
        raise ExportError(f"TensorRT tensor dtype {dt} has no torch equivalent")
    return table[dt]


class EngineRunner:
    """Runs a ganzoo engine file on torch CUDA tensors.

    >>> runner = EngineRunner("srgan.engine")          # EngineMismatchError if built for another GPU/TensorRT
    >>> (sr,) = runner(lr.cuda())                      # shapes must lie inside the engine's profile

    Inputs are bound in place (``set_tensor_address``) after a cast to the engine's input dtype and
    ``.contiguous()``; outputs are fresh torch tensors; ``execute_async_v3`` runs on torch's current stream.
    """

    def __init__(self, engine_path: str | os.PathLike, *, device: int = 0, precision: str | None = None,
                 profiles: Mapping[str, Any] | None = None):
        import torch

        trt = require_tensorrt(device)
        self._trt = trt
        self.path = Path(engine_path)
        self.header, plan = read_engine(self.path)
        env = current_environment(device)
        self.key = check_engine_key(self.header, compute_capability=env["compute_capability"],
                                    tensorrt_version=env["tensorrt_version"], precision=precision, profiles=profiles,
                                    source=str(self.path))
        self.device = torch.device("cuda", device)
        self._logger = trt.Logger(trt.Logger.WARNING)
        with torch.cuda.device(self.device):
            self.runtime = trt.Runtime(self._logger)
            self.engine = self.runtime.deserialize_cuda_engine(plan)
            if self.engine is None:
                raise EngineMismatchError(f"TensorRT could not deserialize {self.path} although its header matches "
                                          f"this machine; the file may be corrupt: rebuild it")
            self.context = self.engine.create_execution_context()
        names = [self.engine.get_tensor_name(i) for i in range(self.engine.num_io_tensors)]
        self.input_names = [n for n in names if self.engine.get_tensor_mode(n) == trt.TensorIOMode.INPUT]
        self.output_names = [n for n in names if self.engine.get_tensor_mode(n) == trt.TensorIOMode.OUTPUT]
        self.dtypes = {n: _torch_dtype(trt, self.engine.get_tensor_dtype(n)) for n in names}

    def profile(self, name: str) -> Profile:
        """(min, opt, max) shapes of an input in profile 0."""
        mn, op, mx = self.engine.get_tensor_profile_shape(name, 0)
        return tuple(mn), tuple(op), tuple(mx)  # type: ignore[return-value]

    def __call__(self, *inputs: Any, **named: Any) -> tuple[Any, ...]:
        import torch

        if inputs and named:
            raise TypeError("pass the inputs positionally or by name, not both")
        if inputs:
            if len(inputs) != len(self.input_names):
                raise ShapeMismatchError(f"the engine takes {len(self.input_names)} inputs "
                                         f"({', '.join(self.input_names)}), got {len(inputs)}")
            named = dict(zip(self.input_names, inputs))
        missing = [n for n in self.input_names if n not in named]
        if missing:
            raise ShapeMismatchError(f"missing engine input(s) {missing}; it takes {self.input_names}")
        keep = []
        for name in self.input_names:
            x = named[name]
            if not isinstance(x, torch.Tensor):
                raise TypeError(f"input {name!r}: expected a torch.Tensor, got {type(x).__name__}")
            x = x.to(self.device, self.dtypes[name]).contiguous()
            keep.append(x)
            if not self.context.set_input_shape(name, tuple(x.shape)):
                mn, op, mx = self.profile(name)
                raise ShapeMismatchError(f"input {name!r} of shape {tuple(x.shape)} is outside the engine's profile "
                                         f"(min {mn}, opt {op}, max {mx})")
            self.context.set_tensor_address(name, x.data_ptr())
        outs = []
        for name in self.output_names:
            shape = tuple(self.context.get_tensor_shape(name))
            if any(s < 0 for s in shape):
                raise ShapeMismatchError(f"output {name!r} has unresolved shape {shape}")
            y = torch.empty(shape, dtype=self.dtypes[name], device=self.device)
            outs.append(y)
            self.context.set_tensor_address(name, y.data_ptr())
        stream = torch.cuda.current_stream(self.device)
        if not self.context.execute_async_v3(stream.cuda_stream):
            raise ExportError(f"TensorRT execution of {self.path} failed")
        return tuple(outs)


# ------------------------------------------------------------------------------------------------- build


@dataclass
class EngineResult:
    """What :func:`to_tensorrt` built (or found cached)."""

    path: Path
    key: EngineKey
    onnx_path: Path | None
    cached: bool
    timing: dict[str, float] = field(default_factory=dict)
    validation: Any = None


def _onnx_input_shapes(onnx_path: Path) -> tuple[dict[str, list[int | str | None]], dict[str, str]]:
    import onnx

    proto = onnx.load(str(onnx_path), load_external_data=False)
    init = {i.name for i in proto.graph.initializer}
    shapes: dict[str, list[int | str | None]] = {}
    for vi in proto.graph.input:
        if vi.name in init:
            continue
        dims: list[int | str | None] = []
        for d in vi.type.tensor_type.shape.dim:
            dims.append(d.dim_param if d.HasField("dim_param") else (d.dim_value if d.HasField("dim_value") else None))
        shapes[vi.name] = dims
    return shapes, {p.key: p.value for p in proto.metadata_props}


def _is_onnx_path(x: Any) -> bool:
    if isinstance(x, os.PathLike):
        return True
    return isinstance(x, str) and (x.endswith(".onnx") or os.sep in x or Path(x).is_file())


def to_tensorrt(
    onnx_path_or_model: Any,
    engine_path: str | os.PathLike,
    *,
    precision: str = "fp32",
    profiles: Any = None,
    batch: Sequence[int] | int | None = None,
    size: Any = None,
    timing_cache: str | os.PathLike | None = None,
    workspace: int | None = None,
    opset: int | None = None,
    pretrained: bool | None = None,
    validate: bool = True,
    tolerance: Any = None,
    rebuild: bool = False,
    tf32: bool = False,
    fp32_norms: bool = True,
    device: int = 0,
    optimize: bool = True,
    force: bool = False,
) -> EngineResult:
    """Build a TensorRT engine file (header + plan, see module doc) from an ONNX file or a ganzoo model/name.

    precision: "fp32" (TF32 off unless ``tf32=True``) or "fp16". From a model or name, fp16 engines are built from
        the fp16 ONNX export (needs the model's half support, or ``force=True``), strongly typed. From an ONNX
        file the graph's own types decide: an fp16 graph for "fp16", an fp32 graph for "fp32"; an fp32 graph with
        "fp16" needs a TensorRT that still has weak typing (< 11: BuilderFlag.FP16, normalisation layers pinned
        to fp32 with ``fp32_norms``), else ExportError says how to get an fp16 graph.
    profiles / batch / size: optimisation profile, see :func:`resolve_profiles`; default batch (1, 1, 8) and,
        for dynamic H/W, ``size`` is required (e.g. ``size={"H": (16, 64, 256), "W": (16, 64, 256)}``).
    timing_cache: file to load the builder's timing cache from and save it back to (speeds up rebuilds).
    workspace: builder workspace limit in bytes (TensorRT's default otherwise).
    rebuild: ignore a cached engine at ``engine_path`` whose key matches.
    validate: compare the engine with PyTorch (CUDA, eval mode) at the profile's min, opt and max shapes.
    Models/names are first exported to ONNX in ``precision`` (validated on CPU) through the export pipeline
    (:func:`ganzoo.export.pipeline.plan_export`, planned once, its checks before any work), with the exact
    inference rewrites of :mod:`ganzoo.export.rewrite` unless ``optimize=False``.
    """
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
    out = check_output_file(engine_path, what="engine file", error=InvalidExportPathError)
    if timing_cache is not None:
        check_output_file(timing_cache, what="timing cache", error=InvalidExportPathError)
    trt = require_tensorrt(device)
    env = current_environment(device)
    timing: dict[str, float] = {}
    t_start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="ganzoo-trt-") as tmp:
        model = None
        if _is_onnx_path(onnx_path_or_model):
            onnx_path = Path(onnx_path_or_model)
            if not onnx_path.is_file():
                raise FileNotFoundError(f"ONNX file not found: {onnx_path}")
        else:
            from .pipeline import plan_export, run_export

            t0 = time.perf_counter()
            # the graph carries the precision (strong typing): fp16 engines come from the fp16 export
            plan = plan_export(onnx_path_or_model, Path(tmp) / "model.onnx", opset=opset, validate=validate,
                               optimize=optimize, dtype=precision, force=force, pretrained=pretrained)
            model = plan.model
            run_export(plan)
            timing["onnx_export_s"] = time.perf_counter() - t0
            onnx_path = plan.path
        shapes, meta = _onnx_input_shapes(onnx_path)
        weak_fp16 = _check_graph_precision(trt, onnx_path, meta, precision)
        prof = resolve_profiles(shapes, batch=batch, size=size, profiles=profiles)
        onnx_sha = hashlib.sha256(onnx_path.read_bytes()).hexdigest()
        key = EngineKey(compute_capability=env["compute_capability"], tensorrt_version=env["tensorrt_version"],
                        precision=precision, profiles=prof, onnx_sha256=onnx_sha, gpu_name=env["gpu_name"])
        if out.exists() and not rebuild:
            try:
                header = read_engine_header(out)
                if header.get("digest") == key.digest:
                    logger.info("reusing cached engine %s (key %s)", out, key.digest)
                    return EngineResult(out, key, None if model is not None else onnx_path, True,
                                        {"total_s": time.perf_counter() - t_start})
                logger.info("engine %s has another key (%s != %s): rebuilding", out, header.get("digest"), key.digest)
            except EngineMismatchError as e:
                logger.info("rebuilding %s: %s", out, e)
        t0 = time.perf_counter()
        plan, cache_blob = _build(trt, onnx_path, key, timing_cache, workspace, tf32, fp32_norms, device,
                                  weak_fp16=weak_fp16)
        timing["build_s"] = time.perf_counter() - t0
        extra = {"ganzoo_model": meta.get("ganzoo.model", ""), "ganzoo_tag": meta.get("ganzoo.tag", ""),
                 "onnx_metadata": meta, "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
        write_engine(out, plan, key, extra)
        if timing_cache is not None and cache_blob:
            atomic_write(Path(timing_cache), cache_blob, error=InvalidExportPathError)
    result = EngineResult(out, key, None if model is not None else onnx_path, False, timing)
    if validate:
        if model is None and meta.get("ganzoo.model"):
            from .pipeline import resolve_model

            name = meta["ganzoo.model"] + (f".{meta['ganzoo.tag']}" if meta.get("ganzoo.tag") else "")
            model = resolve_model(name, pretrained)
        if model is not None:
            t0 = time.perf_counter()
            result.validation = validate_engine(out, model, tolerance=tolerance, device=device,
                                                discriminator=meta.get("ganzoo.component") == "discriminator")
            timing["validate_s"] = time.perf_counter() - t0
    timing["total_s"] = time.perf_counter() - t_start
    return result


def _trt_major(trt: Any) -> int:
    return int(str(trt.__version__).split(".")[0])


def has_weak_typing(trt: Any) -> bool:
    """Whether this TensorRT still has the weak-typing precision flag (``BuilderFlag.FP16``; gone in 11)."""
    return hasattr(trt.BuilderFlag, "FP16")


def network_flags(trt: Any, strongly_typed: bool = True) -> int:
    """``create_network`` flags: EXPLICIT_BATCH below TensorRT 10 (the only mode from 10 on), STRONGLY_TYPED where
    the flag exists and ``strongly_typed`` (TensorRT 11 is always strongly typed and ignores it)."""
    flags = 0
    creation = trt.NetworkDefinitionCreationFlag
    if _trt_major(trt) < 10:
        flags |= 1 << int(creation.EXPLICIT_BATCH)
    if strongly_typed and hasattr(creation, "STRONGLY_TYPED"):
        flags |= 1 << int(creation.STRONGLY_TYPED)
    return flags


def graph_precision(onnx_path: str | os.PathLike, meta: Mapping[str, str] | None = None) -> str:
    """"fp16" or "fp32": the ``ganzoo.precision`` metadata of the graph, else whether any float initializer or
    graph input is float16."""
    if meta and meta.get("ganzoo.precision") in PRECISIONS:
        return meta["ganzoo.precision"]
    import onnx

    proto = onnx.load(str(onnx_path), load_external_data=False)
    half = onnx.TensorProto.FLOAT16
    if any(i.data_type == half for i in proto.graph.initializer) or any(
            v.type.tensor_type.elem_type == half for v in proto.graph.input):
        return "fp16"
    return "fp32"


def _check_graph_precision(trt: Any, onnx_path: Path, meta: Mapping[str, str], precision: str) -> bool:
    """Whether the build must use weak typing (fp32 graph, fp16 engine, TensorRT < 11); raise where the graph's
    types cannot give the asked precision."""
    have = graph_precision(onnx_path, meta)
    if have == precision:
        return False
    if have == "fp16":
        raise ExportError(f"{onnx_path} is an fp16 graph: TensorRT builds it in the graph's types, so ask for "
                          f"precision='fp16' (--fp16), or export an fp32 graph for an fp32 engine")
    if has_weak_typing(trt):
        logger.info("fp32 graph %s, fp16 engine: TensorRT %s weak typing (BuilderFlag.FP16)", onnx_path,
                    trt.__version__)
        return True
    raise ExportError(
        f"{onnx_path} is an fp32 graph and TensorRT {trt.__version__} builds every network strongly typed (no "
        f"BuilderFlag.FP16 since TensorRT 11), so it cannot make an fp16 engine of it: pass the model name instead "
        f"(ganzoo export NAME --format tensorrt --fp16), or an fp16 ONNX graph (ganzoo export NAME --fp16 -o x.onnx)")


def _build(trt: Any, onnx_path: Path, key: EngineKey, timing_cache: Any, workspace: int | None, tf32: bool,
           fp32_norms: bool, device: int, weak_fp16: bool = False) -> tuple[bytes, bytes | None]:
    import torch

    log = trt.Logger(trt.Logger.WARNING)
    with torch.cuda.device(device):
        builder = trt.Builder(log)
        network = builder.create_network(network_flags(trt, strongly_typed=not weak_fp16))
        parser = trt.OnnxParser(network, log)
        if not parser.parse_from_file(str(onnx_path)):
            errs = [str(parser.get_error(i).desc()) for i in range(parser.num_errors)]
            raise ExportError(f"TensorRT's ONNX parser rejected {onnx_path}:\n  " + "\n  ".join(errs))
        config = builder.create_builder_config()
        if workspace is not None:
            config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, int(workspace))
        if weak_fp16:  # TensorRT < 11 only (checked by _check_graph_precision)
            config.set_flag(trt.BuilderFlag.FP16)
            if fp32_norms:
                pinned = 0
                norm_types = {getattr(trt.LayerType, n) for n in ("NORMALIZATION", "REDUCE") if hasattr(trt.LayerType, n)}
                for i in range(network.num_layers):
                    layer = network.get_layer(i)
                    if layer.type in norm_types:
                        layer.precision = trt.float32
                        for j in range(layer.num_outputs):
                            layer.set_output_type(j, trt.float32)
                        pinned += 1
                if pinned:
                    config.set_flag(trt.BuilderFlag.PREFER_PRECISION_CONSTRAINTS)
                    logger.info("fp16 engine: %d normalisation/reduce layers kept in fp32", pinned)
        if not tf32 and hasattr(trt.BuilderFlag, "TF32"):
            config.clear_flag(trt.BuilderFlag.TF32)
        profile = builder.create_optimization_profile()
        for name, (mn, op, mx) in key.profiles.items():
            profile.set_shape(name, mn, op, mx)
        config.add_optimization_profile(profile)
        cache = None
        if timing_cache is not None:
            blob = Path(timing_cache).read_bytes() if Path(timing_cache).is_file() else b""
            cache = config.create_timing_cache(blob)
            config.set_timing_cache(cache, ignore_mismatch=False)
        plan = builder.build_serialized_network(network, config)
        if plan is None:
            raise ExportError(f"TensorRT failed to build an engine from {onnx_path} (see the TensorRT log above)")
        cache_blob = bytes(memoryview(config.get_timing_cache().serialize())) if cache is not None else None
        return bytes(memoryview(plan)), cache_blob


def validate_engine(engine_path: str | os.PathLike, model: Any, *, tolerance: Any = None, device: int = 0,
                    discriminator: bool = False, seed: int | None = None) -> Any:
    """Compare a ganzoo engine with PyTorch on CUDA at its profile's min, opt and max shapes."""
    import copy
    import random

    import torch

    from ganzoo.specs import BATCH_SYMBOL, parse_dim

    from .pipeline import component_inputs, component_specs, model_label
    from .validate import ValidationReport, _as_tolerance, compare_outputs, run_reference

    runner = EngineRunner(engine_path, device=device)
    tol = _as_tolerance(tolerance, runner.key.precision, model)
    seed = random.SystemRandom().randrange(2**31) if seed is None else int(seed)
    in_specs, _ = component_specs(model, discriminator)
    gen_symbols = model.specs.spatial_symbols
    ref_model = copy.deepcopy(model).float().to(runner.device)
    report = ValidationReport(model=model_label(model), backend="tensorrt", dtype=runner.key.precision,
                              tolerance=tol, seed=seed)
    first = runner.input_names[0]
    seen = set()
    for k, shape in enumerate(runner.profile(first)):
        dims: dict[str, int] = {}
        for d, n in zip(in_specs[0].shape, shape):
            p = parse_dim(d)
            if not isinstance(p, int):
                dims[p.symbol] = p.invert(int(n))
        b = dims.get(BATCH_SYMBOL, shape[0])
        size = tuple(dims[s] for s in gen_symbols) if gen_symbols and all(s in dims for s in gen_symbols) else None
        if (b, size) in seen:
            continue
        seen.add((b, size))
        xs = component_inputs(ref_model.cpu(), b, size, seed + k, discriminator)
        ref_model.to(runner.device)
        xs = tuple(x.to(runner.device) for x in xs)
        refs, scale = run_reference(ref_model, xs, discriminator)
        outs = runner(*xs)
        torch.cuda.synchronize(runner.device)
        if len(outs) != len(refs):
            raise ShapeMismatchError(f"the engine returns {len(outs)} outputs, PyTorch {len(refs)}")
        for name, got, ref in zip(runner.output_names, outs, refs):
            report.cases.append(compare_outputs(got.float().cpu().numpy(), ref.float().cpu().numpy(), tol,
                                                output=name, batch=b, size=size, backend="tensorrt",
                                                dtype=runner.key.precision, scale=scale))
    report.raise_for_failures()
    return report
