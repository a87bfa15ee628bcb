"""Benchmark backends: one way each of running a generator, behind a small registry.

A backend is a class registered under a name. The runner makes one instance per (model, backend, dtype) and,
for every batch size, calls::

    ok, why = Backend.available(device)                 # classmethod: can it run here at all?
    backend.prepare(model, inputs_spec, dtype, device)  # build/compile/export for these example inputs
    feed = backend.adapt_inputs(inputs)                 # untimed conversion (layout, numpy, bindings)
    outputs = backend(feed)                             # the timed call: a tensor, array, or tuple of them

Tests and users can add their own with :func:`register_backend`. Heavy packages (onnxruntime, tensorrt,
triton, onnx, openvino) are imported only inside the backends that need them.
"""
from __future__ import annotations

import copy
import importlib
import importlib.util
import logging
import os
import shutil
import tempfile
from typing import Any, ClassVar, Sequence

import torch
from torch import nn

from ganzoo.utils import to_torch_dtype

__all__ = [
    "Backend",
    "BackendUnavailable",
    "Unsupported",
    "register_backend",
    "unregister_backend",
    "get_backend",
    "list_backends",
    "generator_module",
    "export_onnx",
    "EagerBackend",
    "ChannelsLastBackend",
    "CompileBackend",
    "TritonBackend",
    "OnnxRuntimeBackend",
    "TensorRTBackend",
    "OpenVINOBackend",
    "OpenVINOInt8Backend",
]

logger = logging.getLogger("ganzoo.bench")


class BackendUnavailable(RuntimeError):
    """Raised by ``prepare`` when a backend finds out late that it cannot run here (recorded as ``unavailable``)."""


class Unsupported(RuntimeError):
    """Raised by ``prepare`` when a backend cannot run this model or dtype (recorded as ``unsupported``)."""


def generator_module(model: nn.Module) -> nn.Module:
    """The module whose call ``module(*inputs)`` is ``model(*inputs)``: the generator, unless the model
    overrides ``forward`` (then the whole model)."""
    from ganzoo.models.base import GANModel

    if isinstance(model, GANModel) and type(model).forward is GANModel.forward:
        return model.generator
    return model


def _module_copy(model: nn.Module, dtype: str, device: str) -> nn.Module:
    module = copy.deepcopy(generator_module(model))
    return module.to(device=device, dtype=to_torch_dtype(dtype)).eval().requires_grad_(False)


class Backend:
    """Base class. Subclasses set ``name`` and implement ``prepare`` and ``__call__``.

    ``reference``: the eager backend is the reference at fp32 (no error column for it).
    ``dtypes``: dtype names the backend can run; others are reported ``unsupported``.
    ``memory_in_torch``: on CUDA, whether its allocations go through torch's allocator (else peak memory is
    not measured). ``info``: notes copied into the record's ``extra`` field (exporter used, providers, ...).
    """

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    reference: ClassVar[bool] = False
    dtypes: ClassVar[tuple[str, ...]] = ("fp32", "fp16", "bf16")
    memory_in_torch: ClassVar[bool] = True

    def __init__(self) -> None:
        self.info: dict[str, Any] = {}

    @classmethod
    def available(cls, device: str) -> tuple[bool, str]:
        """``(True, "")`` if the backend can run on ``device`` here, else ``(False, reason)``."""
        return True, ""

    def prepare(self, model: nn.Module, inputs_spec: tuple[torch.Tensor, ...], dtype: str, device: str) -> None:
        """Get ready to run ``model``'s generator on inputs shaped like ``inputs_spec`` (the example inputs of
        this batch, already in ``dtype`` on ``device``). Called once per batch size on the same instance, so
        work that does not depend on the batch (a deep copy, an ONNX export) can be cached."""
        raise NotImplementedError

    def adapt_inputs(self, inputs: tuple[torch.Tensor, ...]) -> Any:
        """Untimed conversion of the inputs into what ``__call__`` takes (default: unchanged)."""
        return inputs

    def __call__(self, inputs: Any) -> Any:
        raise NotImplementedError

    def close(self) -> None:
        """Release sessions, engines, temporary files."""


_BACKENDS: dict[str, type[Backend]] = {}


def register_backend(name: str, cls: type[Backend] | None = None, *, overwrite: bool = False) -> Any:
    """Register ``cls`` under ``name``; also usable as ``@register_backend("name")``.

    Raises ValueError if the name is taken (unless ``overwrite``) and TypeError if ``cls`` is not a Backend.
    """
    if not isinstance(name, str) or not name or "," in name:
        raise ValueError(f"backend name must be a non-empty string without commas, got {name!r}")

    def _register(c: type[Backend]) -> type[Backend]:
        if not (isinstance(c, type) and issubclass(c, Backend)):
            raise TypeError(f"backend {name!r} must be a subclass of ganzoo.bench.Backend, got {c!r}")
        if name in _BACKENDS and not overwrite and _BACKENDS[name] is not c:
            raise ValueError(f"backend {name!r} is already registered ({_BACKENDS[name].__name__}); "
                             "pass overwrite=True to replace it")
        c.name = name
        _BACKENDS[name] = c
        return c

    return _register if cls is None else _register(cls)


def unregister_backend(name: str) -> None:
    """Remove a registered backend (KeyError-free if it is not there)."""
    _BACKENDS.pop(name, None)


def get_backend(name: str) -> type[Backend]:
    if name not in _BACKENDS:
        raise ValueError(f"unknown backend {name!r}; expected one of {', '.join(_BACKENDS)}")
    return _BACKENDS[name]


def list_backends() -> list[str]:
    return list(_BACKENDS)


def _has_module(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        return False


def _device_index(device: str) -> int:
    d = torch.device(device)
    return d.index if d.index is not None else torch.cuda.current_device()


# --------------------------------------------------------------------------------------------------- eager
class EagerBackend(Backend):
    """PyTorch eager mode (the reference at fp32)."""

    description = "PyTorch eager"
    reference = True

    def __init__(self) -> None:
        super().__init__()
        self.module: nn.Module | None = None

    def _convert(self, module: nn.Module) -> nn.Module:
        return module

    def prepare(self, model, inputs_spec, dtype, device) -> None:
        if self.module is None:
            self.module = self._convert(_module_copy(model, dtype, device))

    @torch.no_grad()
    def __call__(self, inputs):
        return self.module(*inputs)


def _channels_last(t: torch.Tensor) -> torch.Tensor:
    if t.dim() == 4:
        return t.contiguous(memory_format=torch.channels_last)
    if t.dim() == 5:
        return t.contiguous(memory_format=torch.channels_last_3d)
    return t


class ChannelsLastBackend(EagerBackend):
    """PyTorch eager with channels-last (NHWC / NDHWC) weights and image inputs."""

    description = "PyTorch eager, channels_last"
    reference = False

    def _convert(self, module: nn.Module) -> nn.Module:
        with torch.no_grad():
            for t in list(module.parameters()) + list(module.buffers()):
                t.data = _channels_last(t.data)
        return module

    def adapt_inputs(self, inputs):
        return tuple(_channels_last(x) for x in inputs)


class CompileBackend(EagerBackend):
    """``torch.compile`` (Inductor), default mode, static shapes (recompiled for each batch size)."""

    description = "torch.compile (inductor, default mode)"
    reference = False
    mode: ClassVar[str | None] = None

    @classmethod
    def available(cls, device: str) -> tuple[bool, str]:
        if torch.device(device).type == "cuda" and not _has_module("triton"):
            return False, "torch.compile on CUDA needs triton (pip install triton)"
        if torch.device(device).type == "cpu" and not any(shutil.which(c) for c in ("c++", "g++", "clang++")):
            return False, "torch.compile on CPU needs a C++ compiler (none of c++, g++, clang++ on PATH)"
        return True, ""

    def prepare(self, model, inputs_spec, dtype, device) -> None:
        super().prepare(model, inputs_spec, dtype, device)
        import torch._dynamo

        # A fresh cache per batch: every compiled entry counts against dynamo's recompile limit, and a model run
        # at many shapes and dtypes would otherwise silently fall back to eager.
        torch._dynamo.reset()
        self.fn = torch.compile(self.module, mode=self.mode, dynamic=False)
        self.info["compile_mode"] = self.mode or "default"

    @torch.no_grad()
    def __call__(self, inputs):
        return self.fn(*inputs)


# --------------------------------------------------------------------------------------------------- triton
#: the fused-kernel hook: ``ganzoo.kernels.optimize(module, backend="triton", dtype=...) -> nn.Module``
TRITON_HOOK = "optimize"


class TritonBackend(EagerBackend):
    """The ganzoo.kernels fused Triton path (``ganzoo.optimize(..., backend="triton")``): CUDA, or the CPU with
    ``TRITON_INTERPRET=1`` (Triton's interpreter: correct but very slow, never a timing to report)."""

    description = "ganzoo.kernels fused Triton kernels"
    reference = False
    dtypes = ("fp32", "fp16", "bf16")

    @classmethod
    def available(cls, device: str) -> tuple[bool, str]:
        reasons = []
        if not _has_module("triton"):
            reasons.append("triton is not installed (pip install 'ganzoo[triton]')")
        try:
            kernels = importlib.import_module("ganzoo.kernels")
            if not callable(getattr(kernels, TRITON_HOOK, None)):
                reasons.append(f"ganzoo.kernels has no fused path (ganzoo.kernels.{TRITON_HOOK} is not defined)")
        except ImportError as e:
            reasons.append(f"ganzoo.kernels cannot be imported ({e})")
        dev = torch.device(device).type
        if dev == "cpu":
            if os.environ.get("TRITON_INTERPRET", "0").strip().lower() not in ("1", "true", "on", "yes"):
                reasons.append(f"the fused Triton path needs a CUDA device (device is {device}), or TRITON_INTERPRET=1 "
                               "to run its kernels on the CPU through Triton's interpreter")
        elif dev != "cuda":
            reasons.append(f"the fused Triton path needs a CUDA device (device is {device})")
        return (not reasons), "; ".join(reasons)

    def _convert(self, module: nn.Module) -> nn.Module:
        kernels = importlib.import_module("ganzoo.kernels")
        dtype = next(module.parameters()).dtype
        out, report = getattr(kernels, TRITON_HOOK)(module, backend="triton", dtype=dtype, inplace=True,
                                                    return_report=True)
        self.info["fused"] = len(report.fused)
        self.info["fallbacks"] = len(report.fallbacks)
        self.info["fused_ops"] = report.ops()
        return out


# --------------------------------------------------------------------------------------------------- onnx
def export_onnx(model: nn.Module, example_inputs: Sequence[torch.Tensor], path: str, dtype: str = "fp32") -> Any:
    """Write ``model``'s generator to ONNX at ``path`` with a dynamic batch axis, through ganzoo's export pipeline
    (:func:`ganzoo.export.to_onnx`): the one exporter of the benchmark. fp16 graphs take and return half tensors
    (what the benchmark feeds); fully convolutional models are traced at the benchmarked size. The graph is not
    validated here: the benchmark measures its error against eager fp32 itself.

    Returns the ExportResult. Raises :class:`Unsupported` with the exporter's message when the pipeline cannot
    export this model in ``dtype`` (any ``ganzoo.export.ExportError``, e.g. a model without half support or an
    ``nn.Module`` that is not a GANModel); other failures propagate (recorded as ``error``).
    """
    from ganzoo.export import ExportError, to_onnx

    m, size = _export_args(model, example_inputs)
    try:
        return to_onnx(m, path, dynamic_batch=True, validate=False, dtype=dtype, keep_io_types=False, size=size)
    except ExportError as e:
        raise Unsupported(f"ganzoo.export cannot export this model in {dtype}: {e}") from e


def _export_args(model: nn.Module, example_inputs: Sequence[torch.Tensor]) -> tuple[nn.Module, tuple | None]:
    """(the model as a float32 CPU model, the size to trace at: the benchmarked one for fully convolutional
    models, else None)."""
    m = model
    p = next(model.parameters(), None)
    if p is not None and (p.device.type != "cpu" or p.dtype != torch.float32):
        m = copy.deepcopy(model).to(device="cpu", dtype=torch.float32)  # the graph is the same; export on the CPU
    specs = getattr(model, "specs", None)
    dynamic = bool(specs is not None and specs.dynamic_spatial and specs.spatial_symbols)
    return m, (tuple(example_inputs[0].shape[2:]) if dynamic else None)


def _ort_error_status(e: BaseException) -> type[Exception] | None:
    """Map onnxruntime's exceptions: NOT_IMPLEMENTED kernels -> Unsupported."""
    text = f"{type(e).__name__}: {e}"
    if "NOT_IMPLEMENTED" in text or type(e).__name__ == "NotImplemented" or "Could not find an implementation" in text:
        return Unsupported
    return None


class _OnnxBackendBase(Backend):
    """Shared by the ONNX-based backends: exports once per (model, dtype) into a temporary folder."""

    memory_in_torch = False

    def __init__(self) -> None:
        super().__init__()
        self._tmp: tempfile.TemporaryDirectory | None = None
        self.onnx_path: str | None = None
        self._export_error: Exception | None = None

    def _export(self, model, inputs_spec, dtype) -> str:
        """The graph of ``model`` in ``dtype`` (exported once per instance; a failure is remembered and raised
        again for the other batch sizes instead of exporting again)."""
        if self._export_error is not None:
            raise self._export_error
        if self.onnx_path is None:
            if self._tmp is None:
                self._tmp = tempfile.TemporaryDirectory(prefix="ganzoo-bench-")
            path = os.path.join(self._tmp.name, "model.onnx")
            try:
                res = export_onnx(model, inputs_spec, path, dtype)
                why = _check_onnx_inputs(path, inputs_spec)
                if why:
                    raise Unsupported(f"the exported graph does not take the benchmark's inputs: {why}")
            except Exception as e:  # noqa: BLE001 - remembered, re-raised for every batch size
                self._export_error = e
                raise
            self.info["onnx_exporter"] = f"ganzoo.export.to_onnx (opset {res.opset})"
            self.onnx_path = path
        return self.onnx_path

    def close(self) -> None:
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None
            self.onnx_path = None


class OnnxRuntimeBackend(_OnnxBackendBase):
    """ONNX Runtime: CPUExecutionProvider on cpu, CUDAExecutionProvider (IO binding on torch tensors) on cuda."""

    description = "ONNX Runtime"
    dtypes = ("fp32", "fp16")

    @classmethod
    def available(cls, device: str) -> tuple[bool, str]:
        if not _has_module("onnxruntime"):
            return False, "onnxruntime is not installed (pip install 'ganzoo[bench]')"
        if torch.device(device).type == "cuda":
            import onnxruntime as ort

            if "CUDAExecutionProvider" not in ort.get_available_providers():
                return False, ("onnxruntime has no CUDAExecutionProvider (install onnxruntime-gpu); providers: "
                               + ", ".join(ort.get_available_providers()))
        return True, ""

    def __init__(self) -> None:
        super().__init__()
        self.session = None

    def prepare(self, model, inputs_spec, dtype, device) -> None:
        import onnxruntime as ort

        self.device = torch.device(device)
        if self.session is None:
            path = self._export(model, inputs_spec, dtype)
            so = ort.SessionOptions()
            so.intra_op_num_threads = torch.get_num_threads()
            so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
            so.log_severity_level = 3
            if self.device.type == "cuda":
                providers: list[Any] = [("CUDAExecutionProvider", {"device_id": _device_index(device)}),
                                        "CPUExecutionProvider"]
            else:
                providers = ["CPUExecutionProvider"]
            try:
                self.session = ort.InferenceSession(path, so, providers=providers)
            except Exception as e:  # noqa: BLE001
                cls = _ort_error_status(e)
                if cls is not None:
                    raise cls(f"onnxruntime cannot run this graph in {dtype}: {e}") from e
                raise
            self.info["providers"] = self.session.get_providers()
            if self.device.type == "cuda" and "CUDAExecutionProvider" not in self.info["providers"]:
                self.session = None
                raise BackendUnavailable("onnxruntime could not load its CUDAExecutionProvider (CUDA/cuDNN "
                                         "libraries missing?); it would run on the CPU")
            self.info["intra_op_threads"] = so.intra_op_num_threads
        self.in_names = [i.name for i in self.session.get_inputs()]
        self.out_names = [o.name for o in self.session.get_outputs()]
        if len(self.in_names) != len(inputs_spec):
            raise RuntimeError(f"the ONNX graph takes {len(self.in_names)} inputs, the model {len(inputs_spec)}")

    def adapt_inputs(self, inputs):
        if self.device.type != "cuda":
            return {n: x.detach().cpu().contiguous().numpy() for n, x in zip(self.in_names, inputs)}
        import numpy as np

        inputs = [x.contiguous() for x in inputs]
        # one untimed run on host copies gives the output shapes; then bind device buffers once
        host = self.session.run(None, {n: x.cpu().numpy() for n, x in zip(self.in_names, inputs)})
        idx = _device_index(str(self.device))
        binding = self.session.io_binding()
        for n, x in zip(self.in_names, inputs):
            binding.bind_input(n, "cuda", idx, _np_dtype(x.dtype, np), list(x.shape), x.data_ptr())
        outs = []
        for n, h in zip(self.out_names, host):
            t = torch.empty(h.shape, dtype=torch.from_numpy(h[:0].copy()).dtype, device=self.device)
            binding.bind_output(n, "cuda", idx, h.dtype, list(t.shape), t.data_ptr())
            outs.append(t)
        return ("iobinding", binding, tuple(inputs), tuple(outs))

    def __call__(self, inputs):
        if isinstance(inputs, tuple) and inputs and isinstance(inputs[0], str):
            _, binding, _, outs = inputs
            self.session.run_with_iobinding(binding)
            return outs
        return self.session.run(self.out_names, inputs)

    def close(self) -> None:
        self.session = None
        super().close()


def _np_dtype(dtype: torch.dtype, np):
    return {torch.float32: np.float32, torch.float16: np.float16, torch.int64: np.int64,
            torch.int32: np.int32, torch.float64: np.float64}[dtype]


def _check_onnx_inputs(path: str, inputs) -> str | None:
    """Why the graph at ``path`` cannot take ``inputs`` (a fixed dim or element type that differs), or None."""
    import onnx

    graph = onnx.load(path, load_external_data=False).graph
    inits = {i.name for i in graph.initializer}
    real = [i for i in graph.input if i.name not in inits]
    if len(real) != len(inputs):
        return f"graph has {len(real)} inputs, expected {len(inputs)}"
    elem = {torch.float32: onnx.TensorProto.FLOAT, torch.float16: onnx.TensorProto.FLOAT16,
            torch.bfloat16: onnx.TensorProto.BFLOAT16, torch.int64: onnx.TensorProto.INT64}
    for vi, x in zip(real, inputs):
        want = elem.get(x.dtype)
        if want is not None and vi.type.tensor_type.elem_type != want:
            return (f"input {vi.name!r} has ONNX element type {vi.type.tensor_type.elem_type}, "
                    f"the benchmark feeds {x.dtype}")
        dims = vi.type.tensor_type.shape.dim
        if len(dims) != x.dim():
            return f"input {vi.name!r} has rank {len(dims)}, expected {x.dim()}"
        for i, (d, s) in enumerate(zip(dims, x.shape)):
            if d.HasField("dim_value") and d.dim_value != s:
                return f"input {vi.name!r} dim {i} is fixed to {d.dim_value}, the benchmark needs {s}"
    return None


# --------------------------------------------------------------------------------------------------- tensorrt
class TensorRTBackend(_OnnxBackendBase):
    """TensorRT engine built from the ONNX export, one optimisation profile per batch size (CUDA only)."""

    description = "TensorRT"
    dtypes = ("fp32", "fp16")

    @classmethod
    def available(cls, device: str) -> tuple[bool, str]:
        reasons = []
        if torch.device(device).type != "cuda":
            reasons.append(f"TensorRT needs a CUDA device (device is {device})")
        if not _has_module("tensorrt"):
            reasons.append("tensorrt is not installed (pip install 'ganzoo[tensorrt]')")
        return (not reasons), "; ".join(reasons)

    def prepare(self, model, inputs_spec, dtype, device) -> None:
        import tensorrt as trt

        from ganzoo.export.tensorrt import graph_precision, has_weak_typing, network_flags

        path = self._export(model, inputs_spec, dtype)
        # strongly typed (the only mode of TensorRT 11): the graph's types decide; the fp16 export is already half
        weak_fp16 = dtype == "fp16" and graph_precision(path) != "fp16"
        if weak_fp16 and not has_weak_typing(trt):
            raise Unsupported(f"the ONNX graph is fp32 and TensorRT {trt.__version__} has no weak typing for fp16")
        log = trt.Logger(trt.Logger.WARNING)
        builder = trt.Builder(log)
        network = builder.create_network(network_flags(trt, strongly_typed=not weak_fp16))
        parser = trt.OnnxParser(network, log)
        with open(path, "rb") as f:
            if not parser.parse(f.read()):
                errs = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
                raise Unsupported(f"TensorRT cannot parse the ONNX graph: {errs}")
        config = builder.create_builder_config()
        if weak_fp16:
            config.set_flag(trt.BuilderFlag.FP16)
        profile = builder.create_optimization_profile()
        for i, x in enumerate(inputs_spec):
            shape = tuple(x.shape)
            profile.set_shape(network.get_input(i).name, shape, shape, shape)
        config.add_optimization_profile(profile)
        serialized = builder.build_serialized_network(network, config)
        if serialized is None:
            raise RuntimeError("TensorRT failed to build an engine (see the TensorRT log above)")
        self.engine = trt.Runtime(log).deserialize_cuda_engine(serialized)
        self.context = self.engine.create_execution_context()
        self.device = torch.device(device)
        names = [self.engine.get_tensor_name(i) for i in range(self.engine.num_io_tensors)]
        self.in_names = [n for n in names if self.engine.get_tensor_mode(n) == trt.TensorIOMode.INPUT]
        self.out_names = [n for n in names if self.engine.get_tensor_mode(n) == trt.TensorIOMode.OUTPUT]
        self.info["tensorrt"] = trt.__version__

    def adapt_inputs(self, inputs):
        import tensorrt as trt

        tmap = {trt.float32: torch.float32, trt.float16: torch.float16, trt.int32: torch.int32,
                trt.int64: torch.int64, trt.bfloat16: torch.bfloat16}
        inputs = tuple(x.contiguous() for x in inputs)
        for n, x in zip(self.in_names, inputs):
            self.context.set_input_shape(n, tuple(x.shape))
            self.context.set_tensor_address(n, x.data_ptr())
        outs = []
        for n in self.out_names:
            t = torch.empty(tuple(self.context.get_tensor_shape(n)), dtype=tmap[self.engine.get_tensor_dtype(n)],
                            device=self.device)
            self.context.set_tensor_address(n, t.data_ptr())
            outs.append(t)
        return inputs, tuple(outs)

    def __call__(self, inputs):
        _, outs = inputs
        if not self.context.execute_async_v3(torch.cuda.current_stream().cuda_stream):
            raise RuntimeError("TensorRT execute_async_v3 failed")
        return outs

    def close(self) -> None:
        self.context = self.engine = None
        super().close()


# --------------------------------------------------------------------------------------------------- openvino
class OpenVINOBackend(_OnnxBackendBase):
    """OpenVINO (CPU) on ganzoo's IR (:func:`ganzoo.export.openvino.to_openvino`, not validated here: the
    benchmark measures the error itself), compiled per batch size with static shapes and the inference precision
    hint set explicitly: f32 for fp32, bf16 for bf16 (the inputs are fed as float32 either way)."""

    description = "OpenVINO (CPU, explicit precision hint)"
    dtypes = ("fp32", "bf16")
    export_precision: ClassVar[str] = "fp32"

    @classmethod
    def available(cls, device: str) -> tuple[bool, str]:
        if torch.device(device).type != "cpu":
            return False, f"the OpenVINO backend runs on the CPU (device is {device})"
        if not _has_module("openvino"):
            return False, "openvino is not installed (pip install 'ganzoo[openvino]')"
        return True, ""

    def __init__(self) -> None:
        super().__init__()
        self.xml: str | None = None
        self.compiled = None

    def _export_ir(self, model, inputs_spec) -> str:
        if self._export_error is not None:
            raise self._export_error
        if self.xml is None:
            from ganzoo.export import ExportError
            from ganzoo.export.openvino import to_openvino

            if self._tmp is None:
                self._tmp = tempfile.TemporaryDirectory(prefix="ganzoo-bench-")
            m, size = _export_args(model, inputs_spec)
            try:
                res = to_openvino(m, os.path.join(self._tmp.name, "model.xml"), self.export_precision,
                                  validate=False, size=size)
            except ExportError as e:
                self._export_error = Unsupported(f"ganzoo.export cannot export this model to OpenVINO: {e}")
                raise self._export_error from e
            self.info["exporter"] = f"ganzoo.export.openvino.to_openvino ({self.export_precision})"
            if res.int8:
                self.info["int8"] = res.int8
            self.xml = str(res.path)
        return self.xml

    def prepare(self, model, inputs_spec, dtype, device) -> None:
        from ganzoo.export.openvino import compile_ir

        xml = self._export_ir(model, inputs_spec)
        precision = "int8" if self.export_precision == "int8" else dtype
        import openvino as ov

        names = [p.get_any_name() for p in ov.Core().read_model(xml).inputs]
        if len(names) != len(inputs_spec):
            raise RuntimeError(f"the IR takes {len(names)} inputs, the model {len(inputs_spec)}")
        self.compiled = compile_ir(xml, precision, threads=torch.get_num_threads(),
                                   static_shapes={n: tuple(x.shape) for n, x in zip(names, inputs_spec)})
        self.request = self.compiled.create_infer_request()
        self.info["inference_precision_hint"] = str(self.compiled.get_property("INFERENCE_PRECISION_HINT"))
        self.info["threads"] = torch.get_num_threads()

    def adapt_inputs(self, inputs):
        return [x.detach().cpu().float().contiguous().numpy() for x in inputs]

    def __call__(self, inputs):
        self.request.infer(inputs)
        return tuple(self.request.get_output_tensor(i).data for i in range(len(self.compiled.outputs)))

    def close(self) -> None:
        self.compiled = self.request = None
        self.xml = None
        super().close()


class OpenVINOInt8Backend(OpenVINOBackend):
    """OpenVINO on ganzoo's int8 IR (static QDQ quantisation, calibration inputs of
    :func:`ganzoo.export.openvino.calibration_inputs`); fed and compared in fp32 (dtype fp32 only)."""

    description = "OpenVINO int8 (QDQ static quantisation)"
    dtypes = ("fp32",)
    export_precision = "int8"


for _name, _cls in [("eager", EagerBackend), ("eager-cl", ChannelsLastBackend), ("compile", CompileBackend),
                    ("triton", TritonBackend), ("onnxruntime", OnnxRuntimeBackend), ("tensorrt", TensorRTBackend),
                    ("openvino", OpenVINOBackend),
                    ("openvino-int8", OpenVINOInt8Backend)]:
    register_backend(_name, _cls)
