"""``to_openvino``: a ganzoo generator to a validated OpenVINO IR (.xml + .bin), in fp32, bf16 or int8.

    >>> from ganzoo.export.openvino import to_openvino, compile_ir
    >>> res = to_openvino("srgan", "srgan.xml")                       # fp32: the f32 inference hint, validated
    >>> res = to_openvino("srresnet", "sr_int8.xml", precision="int8", calibration=64)
    >>> compiled = compile_ir("srgan.xml")                            # the hint the IR was validated with

How. The graph is ganzoo's validated ONNX export (:func:`ganzoo.export.pipeline.run_export`: the exact inference
rewrites, dynamic B/H/W, checked in ONNX Runtime against PyTorch), then

- **fp32**: converted with ``openvino.convert_model`` and compiled with ``INFERENCE_PRECISION_HINT=f32``. The hint
  is always set: on CPUs with AVX512-BF16 (or AMX) OpenVINO otherwise runs every model in bf16, silently.
- **bf16**: the same IR (fp32 weights in the .bin), compiled with ``INFERENCE_PRECISION_HINT=bf16``: OpenVINO
  rounds weights and activations to bf16 and accumulates in fp32. The hint is stored in the IR's rt_info and
  :func:`compile_ir` applies it.
- **int8**: static post-training quantisation with ONNX Runtime (``quantize_static``, QDQ format, per-channel
  int8 weights, uint8 activations whose ranges are the 99.99th percentiles of the activations of the
  ``calibration`` inputs: for SRResNet x4 ~6 dB closer to fp32 than MinMax on training-pool crops, 43 vs 37 dB
  PSNR against the fp32 output), converted by OpenVINO, which turns the Q/DQ pairs into FakeQuantize and runs
  the convolutions as int8 (VNNI); the ops left in float run in
  f32 (hint f32). Calibration inputs for SR models are LR crops of the SR training pool
  (:class:`ganzoo.data.inpainting.TrainingPool`, never the held-out photos), for other models
  ``model.sample_inputs``. By default the first and the last convolution stay in float (:data:`INT8_KEEP_FLOAT`):
  they see the image itself and their quantisation is what the PSNR sees.

Every precision is validated against the fp32 PyTorch model on fresh inputs (the shared loop of
:func:`ganzoo.export.validate.check_graph`) with the per-precision tolerances of :mod:`ganzoo.export.tolerances`
(int8 SR models on fresh pool crops, the distribution they were calibrated for), then written: both files are
saved into a temporary folder next to the target, validated from there, and moved into place with
``os.replace`` (the .bin first, then the .xml); nothing is left behind on failure. ganzoo's metadata (model, tag,
specs, input/output names, value ranges, precision, hint) is kept in the IR's rt_info under ``ganzoo``
(:func:`read_metadata`).

``openvino`` (and ``onnxruntime.quantization`` for int8) are imported inside the functions that need them:
importing this module is light.
"""
from __future__ import annotations

import contextlib
import hashlib
import io
import json
import logging
import os
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

import numpy as np
import torch

from ganzoo.utils import check_output_file

from .errors import ExportError, InvalidExportPathError, OpenVINONotInstalled
from .pipeline import DEFAULT_BATCHES, MAX_BATCH, ExportResult, plan_export, run_export, sample_inputs
from .tolerances import Tolerance

logger = logging.getLogger("ganzoo.export")

__all__ = ["PRECISIONS", "HINTS", "INT8_KEEP_FLOAT", "OpenVINOResult", "to_openvino", "compile_ir", "read_metadata",
           "validate_openvino", "calibration_inputs", "quantize_int8", "check_precision", "require_openvino"]

PRECISIONS = ("fp32", "bf16", "int8")
#: precision -> the INFERENCE_PRECISION_HINT it is compiled (and validated) with
HINTS = {"fp32": "f32", "bf16": "bf16", "int8": "f32"}
#: int8: which convolutions stay in float ("first", "last": the ones that touch the image itself)
INT8_KEEP_FLOAT = ("first", "last")
#: int8 activation-range calibration: name -> onnxruntime CalibrationMethod member
CALIBRATION_METHODS = {"minmax": "MinMax", "percentile": "Percentile", "entropy": "Entropy"}
DEFAULT_CALIBRATION = 32
RT_INFO_ROOT = "ganzoo"


def require_openvino() -> Any:
    """The ``openvino`` module; OpenVINONotInstalled (an ImportError) naming the extra when it is missing."""
    try:
        import openvino as ov
    except ImportError as e:
        raise OpenVINONotInstalled("the OpenVINO format needs the openvino package (>= 2024.0): "
                                   "pip install 'ganzoo[openvino]'") from e
    return ov


def check_precision(precision: Any) -> str:
    """``precision`` if it is one of :data:`PRECISIONS`, else ValueError naming the choices and what was given."""
    if not isinstance(precision, str) or precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    return precision


# ------------------------------------------------------------------------------------------------ calibration


def _is_sr(model: Any) -> bool:
    scale = getattr(model.config, "scale", None)
    return (not model.noise_input and isinstance(scale, int) and not isinstance(scale, bool)
            and len(model.specs.inputs) == 1)


def _pool_lr(model: Any, n: int, size: int, seed: int) -> list[tuple[np.ndarray, ...]]:
    """``n`` LR crops (1, C, size, size) float32 in the model's input range: HR crops of ``size * scale`` from the
    SR training pool (photo sources), PIL-bicubic down-sampled (:func:`ganzoo.data.make_lr`)."""
    from ganzoo.data import make_lr
    from ganzoo.data.inpainting import TRAIN_SOURCES, TrainingPool
    from ganzoo.metrics import sr_preprocess, sr_value_ranges

    scale = int(model.config.scale)
    rin, _ = sr_value_ranges(model)
    hr_side = size * scale
    # the photos (not the clips: decoding them takes longer than the calibration itself); none is held out
    pool = TrainingPool(sources=[s.name for s in TRAIN_SOURCES if s.kind == "photo"], min_side=hr_side)
    hr = pool.sample(n, hr_side, seed=seed)
    out = []
    for img in hr:
        x = sr_preprocess(make_lr(img, scale), rin)
        if model.config.in_channels == 1:
            x = x.mean(axis=1, keepdims=True)
        out.append((np.ascontiguousarray(x),))
    return out


def calibration_inputs(model: Any, n: int = DEFAULT_CALIBRATION, *, size: int | None = None,
                       seed: int = 0) -> list[tuple[np.ndarray, ...]]:
    """``n`` calibration feeds for int8 quantisation, each a tuple of float32 arrays in spec order, batch 1.

    SR models (an integer ``config.scale``, one image input): LR crops ``size x size`` (default 64) of the SR
    training pool, in the model's input range. Other models: ``model.sample_inputs`` at their own (or ``size``)
    size. Deterministic by ``seed``.
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"calibration: expected a number of inputs >= 1, got {n!r}")
    if _is_sr(model):
        return _pool_lr(model, n, int(size or 64), seed)
    symbols = model.specs.spatial_symbols
    sz = tuple([int(size)] * len(symbols)) if (size and symbols and model.specs.dynamic_spatial) else None
    return [tuple(x.numpy() for x in sample_inputs(model, 1, sz, seed=seed + k)) for k in range(n)]


def _float_convs(proto: Any, keep: Sequence[str]) -> list[str]:
    """Names of the Conv / ConvTranspose nodes to leave in float: "first" / "last" in graph order, or names."""
    convs = [n.name for n in proto.graph.node if n.op_type in ("Conv", "ConvTranspose")]
    out = []
    for k in keep:
        if k == "first" and convs:
            out.append(convs[0])
        elif k == "last" and convs:
            out.append(convs[-1])
        elif k not in ("first", "last"):
            out.append(k)
    return list(dict.fromkeys(out))


def quantize_int8(onnx_bytes: bytes, calibration: Sequence[Sequence[np.ndarray]], *,
                  keep_float: Sequence[str] = INT8_KEEP_FLOAT, per_channel: bool = True, method: str = "percentile",
                  percentile: float = 99.99) -> tuple[bytes, dict]:
    """Static int8 quantisation of an fp32 ONNX graph with ONNX Runtime: QDQ format, per-channel symmetric int8
    weights, uint8 activations whose ranges come from the graph run on ``calibration`` (feeds in the graph's
    input order) by ``method``: "percentile" (the ``percentile``-th percentile of |activation|, default),
    "minmax" or "entropy". ``keep_float``: convolutions left unquantised ("first", "last" or node names).

    Returns (the QDQ graph's bytes, info: calibration count, float nodes, quantised node counts). The ganzoo
    metadata of the input graph is kept (its ``ganzoo.precision`` becomes "int8").
    """
    try:
        import onnx
        from onnxruntime.quantization import (CalibrationDataReader, CalibrationMethod, QuantFormat, QuantType,
                                              quantize_static)
    except ImportError as e:
        raise OpenVINONotInstalled("int8 quantisation needs onnxruntime (onnxruntime.quantization) and onnx: "
                                   "pip install 'ganzoo[openvino]'") from e
    if not calibration:
        raise ValueError("calibration: expected at least one input feed, got none")
    if method not in CALIBRATION_METHODS:
        raise ValueError(f"method must be one of {', '.join(CALIBRATION_METHODS)}, got {method!r}")
    proto = onnx.load_from_string(onnx_bytes)
    inits = {i.name for i in proto.graph.initializer}
    names = [i.name for i in proto.graph.input if i.name not in inits]
    feeds = []
    for k, feed in enumerate(calibration):
        if len(feed) != len(names):
            raise ValueError(f"calibration feed {k}: expected {len(names)} arrays ({', '.join(names)}), "
                             f"got {len(feed)}")
        feeds.append({n: np.asarray(a, dtype=np.float32) for n, a in zip(names, feed)})

    class _Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self._it = iter(feeds)

        def get_next(self) -> dict[str, np.ndarray] | None:
            return next(self._it, None)

    excluded = _float_convs(proto, keep_float)
    with tempfile.TemporaryDirectory(prefix="ganzoo-int8-") as tmp:
        src, dst = Path(tmp) / "fp32.onnx", Path(tmp) / "int8.onnx"
        src.write_bytes(onnx_bytes)
        root = logging.getLogger()
        level = root.level
        root.setLevel(logging.ERROR)  # quantize_static logs "consider pre-processing" on the root logger
        try:
            with contextlib.redirect_stdout(io.StringIO()):  # the histogram calibrators print their progress
                quantize_static(str(src), str(dst), _Reader(), quant_format=QuantFormat.QDQ,
                                per_channel=per_channel, activation_type=QuantType.QUInt8,
                                weight_type=QuantType.QInt8,
                                calibrate_method=getattr(CalibrationMethod, CALIBRATION_METHODS[method]),
                                nodes_to_exclude=excluded,
                                extra_options={"WeightSymmetric": True, "ActivationSymmetric": False,
                                               "CalibPercentile": float(percentile)})
        except Exception as e:  # noqa: BLE001 - onnxruntime raises many types
            raise ExportError(f"int8 quantisation (onnxruntime quantize_static) failed: {type(e).__name__}: "
                              f"{e}") from e
        finally:
            root.setLevel(level)
        q = onnx.load(str(dst))
    meta = {m.key: m.value for m in proto.metadata_props}
    meta["ganzoo.precision"] = "int8"
    del q.metadata_props[:]
    for k, v in meta.items():
        q.metadata_props.add(key=k, value=v)
    ops: dict[str, int] = {}
    for n in q.graph.node:
        ops[n.op_type] = ops.get(n.op_type, 0) + 1
    calib = f"percentile {percentile:g}" if method == "percentile" else method
    info = {"calibration": len(feeds), "float_nodes": excluded, "quantize_linear": ops.get("QuantizeLinear", 0),
            "dequantize_linear": ops.get("DequantizeLinear", 0), "method": "onnxruntime quantize_static, QDQ, "
            f"{'per-channel' if per_channel else 'per-tensor'} int8 weights, uint8 activations, {calib}"}
    return q.SerializeToString(), info


# ---------------------------------------------------------------------------------------------------- runtime


def _read(ov: Any, model: Any) -> Any:
    if isinstance(model, (str, os.PathLike)):
        p = Path(model)
        if not p.is_file():
            raise FileNotFoundError(f"OpenVINO IR not found: {p}")
        return ov.Core().read_model(str(p))
    return model


def read_metadata(model: Any) -> dict[str, str]:
    """ganzoo's metadata of an IR (a .xml path or an ``openvino.Model``), keyed like the ONNX metadata
    (``ganzoo.model``, ``ganzoo.precision``, ``ganzoo.inputs`` ...); {} for an IR ganzoo did not write."""
    ov = require_openvino()
    m = _read(ov, model)
    if not m.has_rt_info([RT_INFO_ROOT, "keys"]):
        return {}
    keys = json.loads(m.get_rt_info([RT_INFO_ROOT, "keys"]).astype(str))
    return {f"ganzoo.{k}": m.get_rt_info([RT_INFO_ROOT, k]).astype(str) for k in keys}


def _set_metadata(m: Any, meta: dict[str, str]) -> None:
    keys = []
    for k, v in meta.items():
        short = k[len("ganzoo."):] if k.startswith("ganzoo.") else k
        m.set_rt_info(str(v), [RT_INFO_ROOT, short])
        keys.append(short)
    m.set_rt_info(json.dumps(keys), [RT_INFO_ROOT, "keys"])


def compile_ir(model: Any, precision: str | None = None, *, threads: int | None = None, device: str = "CPU",
               static_shapes: dict[str, Sequence[int]] | None = None, latency: bool = True) -> Any:
    """Compile an IR (.xml path or ``openvino.Model``) with its inference precision hint set explicitly.

    precision: "fp32" / "bf16" / "int8" (hint f32, bf16, f32); default the IR's ``ganzoo.precision`` rt_info,
        else fp32 (never OpenVINO's own default, which is bf16 on CPUs with AVX512-BF16).
    threads: INFERENCE_NUM_THREADS (default: OpenVINO's). static_shapes: input name -> shape to reshape the model
        to before compiling (a static graph compiles to faster kernels than a dynamic one). latency: the LATENCY
        performance hint (one stream, for batch-1 calls).
    Returns the ``openvino.CompiledModel``; ``compiled(inputs)`` takes a list/dict of float32 arrays.
    """
    ov = require_openvino()
    m = _read(ov, model)
    if precision is None:
        precision = read_metadata(m).get("ganzoo.precision") or "fp32"
    precision = check_precision(precision)
    if static_shapes:
        m = m.clone()
        m.reshape({k: ov.PartialShape(list(v)) for k, v in static_shapes.items()})
    config: dict[str, Any] = {"INFERENCE_PRECISION_HINT": HINTS[precision]}
    if latency:
        config["PERFORMANCE_HINT"] = "LATENCY"
    if threads:
        config["INFERENCE_NUM_THREADS"] = int(threads)
    try:
        return ov.Core().compile_model(m, device, config)
    except Exception as e:  # noqa: BLE001 - openvino raises RuntimeError with the plugin's message
        raise ExportError(f"OpenVINO cannot compile the model on {device} with {config}: {e}") from e


class _GraphInput:
    """``.name`` and ``.shape`` (int per static dim, None per dynamic one) of an OpenVINO input, as
    :func:`ganzoo.export.validate.check_graph` reads them."""

    def __init__(self, port: Any):
        self.name = port.get_any_name()
        self.shape = [d.get_length() if d.is_static else None for d in port.get_partial_shape()]


def validate_openvino(ir: Any, model: Any, *, precision: str | None = None,
                      batches: Sequence[int] = DEFAULT_BATCHES, sizes: Sequence[Sequence[int]] | None = None,
                      tolerance: Tolerance | tuple[float, float] | float | None = None, seed: int | None = None,
                      raise_on_failure: bool = True, threads: int | None = None,
                      inputs: Callable[[Any, int, Any, int], tuple[torch.Tensor, ...]] | None = None) -> Any:
    """Run an IR in OpenVINO (CPU, the precision's hint) and compare it with the fp32 PyTorch ``model`` on fresh
    inputs; returns the :class:`~ganzoo.export.validate.ValidationReport` (raising on the first failure unless
    ``raise_on_failure`` is False). ``precision`` defaults to the IR's metadata; the tolerance to the
    precision's entry in :mod:`ganzoo.export.tolerances`. ``inputs(model, batch, size, seed)``: how the inputs
    are drawn (default ``model.sample_inputs``). The other arguments are those of ``validate_onnx``."""
    from .validate import check_graph

    ov = require_openvino()
    m = _read(ov, ir)
    meta = read_metadata(m)
    precision = check_precision(precision or meta.get("ganzoo.precision") or "fp32")
    compiled = compile_ir(m, precision, threads=threads, latency=False)
    graph_inputs = [_GraphInput(p) for p in compiled.inputs]
    out_names = [p.get_any_name() for p in compiled.outputs]

    def run(xs: Sequence[torch.Tensor]) -> list[np.ndarray]:
        res = compiled([x.detach().cpu().float().numpy() for x in xs])
        return [np.asarray(res[p]) for p in compiled.outputs]

    return check_graph(run, graph_inputs, out_names, model, backend=f"openvino ({HINTS[precision]})",
                       dtype=precision, batches=batches, sizes=sizes, tolerance=tolerance,
                       discriminator=meta.get("ganzoo.component") == "discriminator", seed=seed,
                       raise_on_failure=raise_on_failure, inputs=inputs)


def _pool_inputs(model: Any, batch: int, size: Any, seed: int) -> tuple[torch.Tensor, ...]:
    """Validation inputs of an int8 SR model: fresh pool crops (seed offset from the calibration's)."""
    h, w = (int(size[0]), int(size[1])) if size else (32, 32)
    feeds = _pool_lr(model, batch, max(h, w), 1_000_003 + seed)
    return (torch.from_numpy(np.ascontiguousarray(np.concatenate([f[0] for f in feeds])[..., :h, :w])),)


# ------------------------------------------------------------------------------------------------------ write


def _write_ir(ov: Any, ov_model: Any, path: Path, check: Callable[[Path], Any]) -> Any:
    """Save ``ov_model`` as ``path`` (.xml) + ``path.with_suffix('.bin')``: into a temporary folder next to
    them, ``check(tmp_xml)`` (validation of what was written), fsync, then os.replace of the .bin and the .xml.
    On any failure nothing is left (no temporary, no folder this call created). Returns ``check``'s result."""
    created = []
    d = path.parent
    while not d.exists() and d.parent != d:
        created.append(d)
        d = d.parent
    tmp: str | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = tempfile.mkdtemp(prefix=f".{path.stem}.", suffix=".tmp", dir=path.parent)
        tmp_xml = Path(tmp) / path.name
        ov.save_model(ov_model, str(tmp_xml), compress_to_fp16=False)  # the default would halve the weights
        result = check(tmp_xml)
        umask = os.umask(0)
        os.umask(umask)
        for f in (tmp_xml.with_suffix(".bin"), tmp_xml):
            with open(f, "rb+") as fh:
                os.fsync(fh.fileno())
            os.chmod(f, 0o666 & ~umask)
        os.replace(tmp_xml.with_suffix(".bin"), path.with_suffix(".bin"))
        os.replace(tmp_xml, path)
        return result
    except BaseException as e:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)
            tmp = None
        for c in created:  # innermost first
            try:
                c.rmdir()
            except OSError:
                break
        if isinstance(e, OSError) and not isinstance(e, FileNotFoundError):
            raise InvalidExportPathError(f"cannot write {path}: {e}") from e
        raise
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)


@dataclass
class OpenVINOResult:
    """What :func:`to_openvino` wrote and how it checked it. ``onnx``: the ExportResult of the ONNX stage;
    ``onnx_bytes``: the graph OpenVINO converted (fp32, or the int8 QDQ graph); ``validation``: the OpenVINO
    report (None with ``validate=False``)."""

    path: Path
    bin_path: Path
    model: str
    precision: str
    inference_precision_hint: str
    input_names: tuple[str, ...]
    output_names: tuple[str, ...]
    onnx: ExportResult
    validation: Any
    metadata: dict[str, str]
    timing: dict[str, float] = field(default_factory=dict)
    int8: dict[str, Any] | None = None
    onnx_bytes: bytes = field(default=b"", repr=False)

    def to_dict(self) -> dict[str, Any]:
        return {"path": str(self.path), "bin_path": str(self.bin_path), "model": self.model,
                "precision": self.precision, "inference_precision_hint": self.inference_precision_hint,
                "input_names": list(self.input_names), "output_names": list(self.output_names),
                "onnx": self.onnx.to_dict(), "validation": self.validation.to_dict() if self.validation else None,
                "metadata": self.metadata, "timing": self.timing, "int8": self.int8}


def to_openvino(
    model_or_name: Any,
    output: Any,
    precision: str = "fp32",
    *,
    calibration: int | Iterable[Sequence[np.ndarray]] | None = None,
    calibration_size: int | None = None,
    keep_float: Sequence[str] = INT8_KEEP_FLOAT,
    opset: int | None = None,
    dynamic_batch: bool = True,
    dynamic_spatial: bool | None = None,
    size: Sequence[int] | None = None,
    batch: int = 1,
    batch_range: tuple[int, int] = (1, MAX_BATCH),
    validate: bool = True,
    tolerance: Tolerance | tuple[float, float] | float | None = None,
    validation_batches: Sequence[int] = DEFAULT_BATCHES,
    validation_sizes: Sequence[Sequence[int]] | None = None,
    pretrained: bool | None = None,
    seed: int | None = None,
    overwrite: bool = True,
    optimize: bool = True,
    threads: int | None = None,
) -> OpenVINOResult:
    """Export a ganzoo generator to an OpenVINO IR (``output`` .xml and its .bin), validated in ``precision``.

    model_or_name: a GANModel or a registry name (as :func:`ganzoo.export.to_onnx`).
    output: the ``.xml`` path; the ``.bin`` is written next to it with the same stem.
    precision: "fp32" (hint f32), "bf16" (hint bf16) or "int8" (static QDQ quantisation, hint f32); ValueError
        for anything else, before any work.
    calibration: int8 only: the number of calibration inputs (default 32; see :func:`calibration_inputs`) or an
        iterable of feeds (tuples of float32 arrays in spec order). calibration_size: LR side of SR calibration
        crops (default 64). keep_float: convolutions left in float by int8 (default the first and the last).
    validate: the ONNX graph in ONNX Runtime (fp32) and the IR in OpenVINO (``precision``) against PyTorch, at
        ``validation_batches`` and two spatial sizes; ``tolerance`` overrides the per-precision default.
    threads: OpenVINO threads for validation. The remaining arguments are those of ``to_onnx``.

    Raises ValueError / InvalidExportPathError (path, precision) before any work, OpenVINONotInstalled,
    ExportError, ToleranceExceededError / NonFiniteOutputError / ShapeMismatchError; nothing is written then.
    """
    t_start = time.perf_counter()
    precision = check_precision(precision)
    path = check_output_file(output, what="OpenVINO IR", suffixes=(".xml",), overwrite=overwrite,
                             error=InvalidExportPathError)
    if calibration is not None and precision != "int8":
        raise ValueError(f"calibration is for precision='int8', got precision={precision!r}")
    ov = require_openvino()
    plan = plan_export(model_or_name, None, opset=opset, dynamic_batch=dynamic_batch,
                       dynamic_spatial=dynamic_spatial, dtype="fp32", validate=validate, pretrained=pretrained,
                       size=size, batch=batch, batch_range=batch_range, validation_batches=validation_batches,
                       validation_sizes=validation_sizes, seed=seed, optimize=optimize, what="OpenVINO IR")
    onnx_res, data = run_export(plan)
    timing = {"onnx_s": onnx_res.timing.get("total_s", 0.0)}
    model = plan.model
    int8_info = None
    inputs_fn = None
    if precision == "int8":
        t0 = time.perf_counter()
        if calibration is None or isinstance(calibration, int):
            feeds = calibration_inputs(model, DEFAULT_CALIBRATION if calibration is None else calibration,
                                       size=calibration_size)
        else:
            feeds = [tuple(f) for f in calibration]
        data, int8_info = quantize_int8(data, feeds, keep_float=keep_float)
        timing["quantize_s"] = time.perf_counter() - t0
        if _is_sr(model) and (calibration is None or isinstance(calibration, int)):
            inputs_fn = _pool_inputs  # validated on the distribution it was calibrated for (fresh crops)
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="ganzoo-ov-") as tmp:
        src = Path(tmp) / "model.onnx"
        src.write_bytes(data)
        try:
            ov_model = ov.convert_model(str(src))
        except Exception as e:  # noqa: BLE001 - the ONNX frontend raises its own types
            raise ExportError(f"openvino.convert_model failed on the ONNX export of {plan.label}: {e}") from e
    timing["convert_s"] = time.perf_counter() - t0
    import onnx

    meta = {m.key: m.value for m in onnx.load_from_string(data).metadata_props}
    meta.update({"ganzoo.precision": precision, "ganzoo.inference_precision_hint": HINTS[precision],
                 "ganzoo.format": "openvino", "ganzoo.openvino": ov.__version__,
                 "ganzoo.onnx_sha256": hashlib.sha256(data).hexdigest()})
    if int8_info is not None:
        meta["ganzoo.int8"] = json.dumps(int8_info)
    _set_metadata(ov_model, meta)

    def check(tmp_xml: Path) -> Any:
        if not validate:
            return None
        t1 = time.perf_counter()
        rep = validate_openvino(tmp_xml, model, precision=precision, batches=plan.validation_batches,
                                sizes=plan.validation_sizes, tolerance=tolerance, seed=plan.seed, threads=threads,
                                inputs=inputs_fn)
        timing["validate_s"] = time.perf_counter() - t1
        return rep

    t0 = time.perf_counter()
    report = _write_ir(ov, ov_model, path, check)
    timing["write_s"] = time.perf_counter() - t0 - timing.get("validate_s", 0.0)
    timing["total_s"] = time.perf_counter() - t_start + plan.load_s
    logger.info("exported %s to OpenVINO IR %s (%s, hint %s, %.1f s)", plan.label, path, precision,
                HINTS[precision], timing["total_s"])
    return OpenVINOResult(path=path, bin_path=path.with_suffix(".bin"), model=plan.label, precision=precision,
                          inference_precision_hint=HINTS[precision], input_names=onnx_res.input_names,
                          output_names=onnx_res.output_names, onnx=onnx_res, validation=report, metadata=meta,
                          timing=timing, int8=int8_info, onnx_bytes=data)
