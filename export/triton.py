"""Triton Inference Server model repositories: ``<repo>/<name>/config.pbtxt`` + ``<repo>/<name>/<version>/model.onnx``
(platform ``onnxruntime_onnx``) or ``model.plan`` (platform ``tensorrt_plan``), the variants for GPU servers; or,
for CPU servers, ``format="python-onnxruntime"``: ``backend: "python"`` with ``<version>/model.py`` (the fixed
:mod:`ganzoo.export.triton_python_model`) running the validated ``<version>/model.onnx`` beside it in ONNX Runtime,
``instance_group [{kind: KIND_CPU}]``. Triton's CPU-only builds (e.g. the ``nvidia-pytriton`` wheel's
``tritonserver``, see :mod:`ganzoo.export.triton_server`) ship the python backend but no onnxruntime backend.

The config is derived from the exported graph itself (names, element types, which dims are dynamic) and the
model's TensorSpecs: dims exclude the batch dim (Triton adds it: ``max_batch_size``), dynamic H/W are ``-1``,
and a ``dynamic_batching`` block lets Triton group requests. ``<repo>/<name>/ganzoo.json`` keeps the specs with
their value ranges (Triton ignores files it does not know).
"""
from __future__ import annotations

import dataclasses
import importlib.util
import json
import logging
import os
import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from ganzoo.utils import atomic_write, check_output_file

from .errors import ExportError, InvalidExportPathError
from .pipeline import plan_export, run_export

logger = logging.getLogger("ganzoo.export")

__all__ = ["TritonRepoResult", "to_triton_repo", "render_config", "parse_config", "TRITON_DTYPES", "FORMATS"]

# ONNX TensorProto element type -> Triton DataType
TRITON_DTYPES = {1: "TYPE_FP32", 10: "TYPE_FP16", 11: "TYPE_FP64", 16: "TYPE_BF16", 7: "TYPE_INT64", 6: "TYPE_INT32",
                 5: "TYPE_INT16", 3: "TYPE_INT8", 2: "TYPE_UINT8", 9: "TYPE_BOOL"}
_NAME_RE = re.compile(r"^[A-Za-z0-9_.\-]+$")
#: to_triton_repo's formats: (platform or None, backend or None, instance kind, model file name)
FORMATS = {"onnx": ("onnxruntime_onnx", None, None, "model.onnx"),
           "tensorrt": ("tensorrt_plan", None, "KIND_GPU", "model.plan"),
           "python-onnxruntime": (None, "python", "KIND_CPU", "model.onnx")}
PYTHON_MODEL_SOURCE = Path(__file__).with_name("triton_python_model.py")  # copied as <version>/model.py


@dataclass
class TritonRepoResult:
    """What :func:`to_triton_repo` wrote: the model folder, its config and model file (``model.onnx`` for
    ``python-onnxruntime``, whose ``model.py`` sits beside it), and the export result (an ExportResult for
    ``onnx`` and ``python-onnxruntime``, an EngineResult for ``tensorrt``)."""

    repo_dir: Path
    model_dir: Path
    config_path: Path
    model_path: Path
    model_name: str
    max_batch_size: int
    export: Any = None  # ExportResult or EngineResult


def _io_entries(proto: Any, max_batch: int) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    init = {i.name for i in proto.graph.initializer}

    def entry(vi: Any) -> dict[str, Any]:
        dims = []
        for d in vi.type.tensor_type.shape.dim:
            dims.append(int(d.dim_value) if d.HasField("dim_value") and d.dim_value > 0 else -1)
        elem = vi.type.tensor_type.elem_type
        if elem not in TRITON_DTYPES:
            raise ExportError(f"tensor {vi.name!r} has ONNX element type {elem}, which Triton has no type for")
        if max_batch > 0:
            if not dims or dims[0] != -1:
                raise ExportError(f"tensor {vi.name!r} has no dynamic batch dim (shape {dims}); export with "
                                  f"dynamic_batch=True or use max_batch=0")
            dims = dims[1:]
        if not dims:  # a per-item scalar ((B,) in the graph): Triton wants dims [1] reshaped to []
            return {"name": vi.name, "data_type": TRITON_DTYPES[elem], "dims": [1], "reshape": []}
        return {"name": vi.name, "data_type": TRITON_DTYPES[elem], "dims": dims}

    inputs = [entry(vi) for vi in proto.graph.input if vi.name not in init]
    outputs = [entry(vi) for vi in proto.graph.output]
    return inputs, outputs


def render_config(name: str, platform: str | None, max_batch_size: int, inputs: Sequence[dict[str, Any]],
                  outputs: Sequence[dict[str, Any]], *, preferred_batch_sizes: Sequence[int] = (),
                  max_queue_delay_us: int = 100, instance_kind: str | None = None, instance_count: int = 1,
                  backend: str | None = None, dynamic_batching: bool = True,
                  parameters: dict[str, str] | None = None) -> str:
    """config.pbtxt text (protobuf text format of Triton's ``inference.ModelConfig``).

    Exactly one of ``platform`` (``onnxruntime_onnx``, ``tensorrt_plan``) and ``backend`` (``python``) names
    what runs the model. ``dynamic_batching`` (with ``max_batch_size > 0``) adds the ``dynamic_batching`` block;
    ``parameters`` become ``parameters { key: ... value: { string_value: ... } }`` entries.
    """
    if (platform is None) == (backend is None):
        raise ValueError(f"render_config needs exactly one of platform and backend, got {platform!r}, {backend!r}")

    def tensor(e: dict[str, Any]) -> str:
        return ("  {\n"
                f"    name: {json.dumps(e['name'])}\n"
                f"    data_type: {e['data_type']}\n"
                f"    dims: [ {', '.join(str(int(d)) for d in e['dims'])} ]\n"
                + (f"    reshape: {{ shape: [ {', '.join(str(int(d)) for d in e['reshape'])} ] }}\n"
                   if "reshape" in e else "")
                + "  }")

    runner = f"platform: {json.dumps(platform)}" if platform is not None else f"backend: {json.dumps(backend)}"
    lines = [f"name: {json.dumps(name)}", runner, f"max_batch_size: {int(max_batch_size)}",
             "input [\n" + ",\n".join(tensor(e) for e in inputs) + "\n]",
             "output [\n" + ",\n".join(tensor(e) for e in outputs) + "\n]"]
    if max_batch_size > 0 and dynamic_batching:
        block = ["dynamic_batching {"]
        if preferred_batch_sizes:
            block.append(f"  preferred_batch_size: [ {', '.join(str(int(b)) for b in preferred_batch_sizes)} ]")
        block.append(f"  max_queue_delay_microseconds: {int(max_queue_delay_us)}")
        block.append("}")
        lines.append("\n".join(block))
    if instance_kind:
        lines.append(f"instance_group [\n  {{\n    count: {int(instance_count)}\n    kind: {instance_kind}\n  }}\n]")
    for key, value in (parameters or {}).items():
        lines.append(f"parameters {{\n  key: {json.dumps(str(key))}\n"
                     f"  value: {{ string_value: {json.dumps(str(value))} }}\n}}")
    return "\n".join(lines) + "\n"


def _model_config_pb2() -> Any:
    """Triton's ModelConfig protobuf module, loaded from tritonclient's file without importing tritonclient.grpc
    (whose __init__ needs grpcio)."""
    spec = importlib.util.find_spec("tritonclient")
    if spec is None or not spec.submodule_search_locations:
        from .errors import BackendUnavailableError

        raise BackendUnavailableError("parsing config.pbtxt needs tritonclient: pip install 'tritonclient[http]'")
    path = Path(list(spec.submodule_search_locations)[0]) / "grpc" / "model_config_pb2.py"
    import sys

    mod_name = "_ganzoo_triton_model_config_pb2"
    if mod_name in sys.modules:
        return sys.modules[mod_name]
    try:  # the generated module registers 'model_config.proto' in the default pool: import it only once
        from tritonclient.grpc import model_config_pb2  # type: ignore

        sys.modules[mod_name] = model_config_pb2
        return model_config_pb2
    except Exception:
        pass
    s = importlib.util.spec_from_file_location(mod_name, path)
    if s is None or s.loader is None or not path.is_file():
        from .errors import BackendUnavailableError

        raise BackendUnavailableError(f"tritonclient has no {path}")
    mod = importlib.util.module_from_spec(s)
    s.loader.exec_module(mod)
    sys.modules[mod_name] = mod
    return mod


def parse_config(path_or_text: str | os.PathLike) -> Any:
    """Parse config.pbtxt strictly into Triton's ``inference.ModelConfig`` message (unknown fields are errors)."""
    from google.protobuf import text_format

    text = Path(path_or_text).read_text() if isinstance(path_or_text, os.PathLike) or (
        isinstance(path_or_text, str) and "\n" not in path_or_text and Path(path_or_text).is_file()) else str(path_or_text)
    pb2 = _model_config_pb2()
    return text_format.Parse(text, pb2.ModelConfig())


def _repo_path(repo_dir: Any) -> Path:
    """``repo_dir`` as an absolute folder path, refusing (InvalidExportPathError) non-paths, empty ones, control
    characters (a NUL fails only when a file is opened, after the export's work), names the file system cannot
    encode, and an existing file."""
    if isinstance(repo_dir, (bytes, bytearray)) or not isinstance(repo_dir, (str, os.PathLike)) \
            or not os.fspath(repo_dir).strip():
        raise InvalidExportPathError(f"Triton repository: expected a folder path, got {repo_dir!r}")
    raw = os.fspath(repo_dir)
    bad = next((c for c in raw if ord(c) < 32 or ord(c) == 127), None)
    if bad is not None:
        raise InvalidExportPathError(f"Triton repository: {raw!r} contains the control character {bad!r}; "
                                     f"expected a plain folder path")
    try:
        os.fsencode(raw)
    except UnicodeError as e:
        raise InvalidExportPathError(f"Triton repository: {raw!r} cannot be encoded as a file name here ({e})") \
            from None
    repo = Path(raw).expanduser().absolute()
    if repo.exists() and not repo.is_dir():
        raise InvalidExportPathError(f"Triton repository: {repo} is a file, not a folder")
    return repo


def _missing_dirs(path: Path) -> list[Path]:
    """The folders above ``path`` that do not exist yet, innermost first."""
    out = []
    d = path.parent
    while not d.exists() and d.parent != d:
        out.append(d)
        d = d.parent
    return out


def _write_all(writes: Sequence[tuple[Path, bytes]]) -> None:
    """Write every (path, bytes) atomically; on any failure remove the files this call created and the folders
    it created (a file that existed before is left as the atomic writer left it: untouched or replaced whole)."""
    new_dirs: list[Path] = []
    for p, _ in writes:
        new_dirs += [d for d in _missing_dirs(p) if d not in new_dirs]
    created: list[Path] = []
    try:
        for p, data in writes:
            existed = p.exists()
            atomic_write(p, data, error=InvalidExportPathError)
            if not existed:
                created.append(p)
    except BaseException:
        for p in created:
            p.unlink(missing_ok=True)
        for d in sorted(new_dirs, key=lambda d: len(d.parts), reverse=True):  # innermost first
            try:
                d.rmdir()
            except OSError:
                continue
        raise


def to_triton_repo(
    model_or_name: Any,
    repo_dir: str | os.PathLike,
    *,
    format: str = "onnx",
    max_batch: int = 8,
    model_name: str | None = None,
    version: int = 1,
    dtype: str = "fp32",
    opset: int | None = None,
    dynamic_spatial: bool | None = None,
    preferred_batch_sizes: Sequence[int] | None = None,
    max_queue_delay_us: int = 100,
    dynamic_batching: bool = True,
    instance_count: int = 1,
    intra_op_threads: int = 0,
    pretrained: bool | None = None,
    validate: bool = True,
    simplify: bool = False,
    tolerance: Any = None,
    size: Any = None,
    profiles: Any = None,
    timing_cache: Any = None,
    force: bool = False,
    overwrite: bool = False,
    optimize: bool = True,
) -> TritonRepoResult:
    """Write a Triton model folder for a ganzoo generator into ``repo_dir``.

    format: "onnx" (``onnxruntime_onnx``) or "tensorrt" (``tensorrt_plan``: needs TensorRT and a GPU; batch
        profile (1, max_batch // 2, max_batch), ``size`` for dynamic H/W as in :func:`to_tensorrt`): for GPU
        servers. "python-onnxruntime": for CPU servers, Triton's python backend running the validated ONNX file
        in ONNX Runtime (``<version>/model.py`` + ``<version>/model.onnx``, ``KIND_CPU`` instances; the server's
        Python needs numpy and onnxruntime).
    max_batch: Triton's ``max_batch_size`` (> 0: the graph's batch dim must be dynamic; 0: no batching).
    dynamic_batching: with ``max_batch > 0``, let Triton group concurrent requests into one batch, waiting at most
        ``max_queue_delay_us`` for more (default on); off, each request runs on its own.
    instance_count: model instances (``python-onnxruntime`` only; ``onnx`` leaves Triton's default and
        ``tensorrt`` uses one per GPU).
    intra_op_threads: ONNX Runtime threads per instance (``python-onnxruntime`` only; 0: ONNX Runtime's default,
        one per physical core; with several instances, give each a share of the cores).
    model_name: folder/model name; default ``<arch>_<tag>``.
    overwrite: replace an existing ``<repo>/<model_name>/<version>`` model file and config.
    optimize: export with the exact inference rewrites of :mod:`ganzoo.export.rewrite` (default on).

    The export is planned once (:func:`ganzoo.export.pipeline.plan_export`: every argument checked before any
    work) and its graph written only when every check passed. On failure nothing this call created is left:
    no model file, config or ``ganzoo.json``, and no folder it made.
    """
    if format not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(map(repr, FORMATS))}, got {format!r}")
    if isinstance(max_batch, bool) or not isinstance(max_batch, int) or max_batch < 0:
        raise ValueError(f"max_batch must be an int >= 0, got {max_batch!r}")
    if isinstance(instance_count, bool) or not isinstance(instance_count, int) or instance_count < 1:
        raise ValueError(f"instance_count must be an int >= 1, got {instance_count!r}")
    if isinstance(intra_op_threads, bool) or not isinstance(intra_op_threads, int) or intra_op_threads < 0:
        raise ValueError(f"intra_op_threads must be an int >= 0, got {intra_op_threads!r}")
    if isinstance(max_queue_delay_us, bool) or not isinstance(max_queue_delay_us, int) or max_queue_delay_us < 0:
        raise ValueError(f"max_queue_delay_us must be an int >= 0, got {max_queue_delay_us!r}")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise ValueError(f"version must be an int >= 1, got {version!r}")
    if model_name is not None and not _NAME_RE.match(str(model_name)):
        raise ValueError(f"model_name must match {_NAME_RE.pattern}, got {model_name!r}")
    if format == "tensorrt":
        from .tensorrt import require_tensorrt

        require_tensorrt()  # fail before exporting anything
    repo = _repo_path(repo_dir)
    plan = plan_export(model_or_name, None, opset=opset, dtype=dtype, dynamic_batch=max_batch > 0,
                       dynamic_spatial=dynamic_spatial, simplify=simplify, validate=validate, tolerance=tolerance,
                       pretrained=pretrained, force=force, optimize=optimize,
                       size=size if (size is not None and format != "tensorrt") else None)
    cfg = plan.model.pretrained_cfg
    name = model_name or (f"{cfg.architecture}_{cfg.tag}" if cfg is not None else plan.label).strip("_")
    if not _NAME_RE.match(name):
        raise ValueError(f"model_name must match {_NAME_RE.pattern}, got {name!r}")
    model_dir = repo / name
    platform, backend, instance_kind, model_file = FORMATS[format]
    model_path = model_dir / str(version) / model_file
    config_path = model_dir / "config.pbtxt"
    check_output_file(model_path, what="Triton model file", overwrite=overwrite, error=InvalidExportPathError)
    check_output_file(config_path, what="Triton config", overwrite=overwrite, error=InvalidExportPathError)
    if backend == "python":
        check_output_file(model_path.with_name("model.py"), what="Triton python model", overwrite=overwrite,
                          error=InvalidExportPathError)

    import onnx

    res, data = run_export(plan)
    inputs, outputs = _io_entries(onnx.load_from_string(data), max_batch)
    export_result: Any = dataclasses.replace(res, path=model_path) if format != "tensorrt" else res
    writes: list[tuple[Path, bytes]] = []
    if format != "tensorrt":
        writes.append((model_path, data))
        if backend == "python":
            writes.append((model_path.with_name("model.py"), PYTHON_MODEL_SOURCE.read_bytes()))
    else:
        from .tensorrt import read_engine, to_tensorrt, validate_engine

        with tempfile.TemporaryDirectory(prefix="ganzoo-triton-") as tmp:
            onnx_tmp = Path(tmp) / "model.onnx"
            onnx_tmp.write_bytes(data)
            engine_tmp = Path(tmp) / "model.engine"
            batch = (1, max(1, max_batch // 2), max(1, max_batch)) if max_batch > 0 else None
            export_result = to_tensorrt(onnx_tmp, engine_tmp, precision=plan.dtype, batch=batch, size=size,
                                        profiles=profiles, timing_cache=timing_cache, validate=False)
            if validate:
                export_result.validation = validate_engine(engine_tmp, plan.model, tolerance=tolerance)
            header, engine_plan = read_engine(engine_tmp)
        writes.append((model_path, engine_plan))  # Triton wants the raw plan; the key goes next to the config
        writes.append((model_dir / "ganzoo_engine.json", (json.dumps(header, indent=2) + "\n").encode()))
    prefs = list(preferred_batch_sizes) if preferred_batch_sizes else sorted(
        {b for b in (max_batch // 2, max_batch) if b > 0})
    text = render_config(name, platform, max_batch, inputs, outputs, preferred_batch_sizes=prefs,
                         max_queue_delay_us=max_queue_delay_us, instance_kind=instance_kind,
                         instance_count=instance_count if backend == "python" else 1, backend=backend,
                         dynamic_batching=dynamic_batching,
                         parameters={"intra_op_num_threads": str(intra_op_threads)} if backend == "python" else None)
    try:
        parsed = parse_config(text)
        if parsed.name != name or len(parsed.input) != len(inputs):
            raise ExportError(f"config.pbtxt round trip lost fields: {parsed}")
    except ImportError:
        logger.debug("tritonclient not installed: config.pbtxt not parsed back")
    meta = {"model": plan.label, "format": format, "dtype": plan.dtype,
            "inputs": [s.to_dict() for s in plan.specs.inputs], "outputs": [s.to_dict() for s in plan.specs.outputs],
            "export": dict(res.to_dict(), path=str(model_path))}
    writes += [(config_path, text.encode()),
               (model_dir / "ganzoo.json", (json.dumps(meta, indent=2, default=str) + "\n").encode())]
    _write_all(writes)
    logger.info("wrote Triton model %s (%s) to %s", name, platform or f"{backend} backend", model_dir)
    return TritonRepoResult(repo, model_dir, config_path, model_path, name, max_batch, export_result)
