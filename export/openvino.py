"""``to_openvino``: a ganzoo generator to a validated OpenVINO IR (.xml + .bin), in fp32, bf16 or int8.

    >>> from ganzoo.export.openvino import to_openvino, compile_ir
    >>> res = to_openvino("srgan", "srgan.xml")                       # fp32: the f32 inference hint, validated
    >>> res = to_openvino("srresnet", "sr_int8.xml", precision="int8", calibration=64)
    >>> res = to_openvino("srresnet", "sr_mixed.xml", precision="int8", keep_float="auto")  # accuracy-aware
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
  they see the image itself and their quantisation is what the PSNR sees. ``keep_float="auto"`` (SR models)
  chooses them instead by accuracy-aware mixed precision (:func:`choose_float_layers`): per-unit int8 sensitivity
  and a greedy search on *tuning* crops of the training pool (a seed of their own; the held-out photos are never
  read), until the mean PSNR-Y drop vs fp32 is within a budget (default 0.03 dB) or a cap on float nodes is hit.

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
           "validate_openvino", "calibration_inputs", "quantize_int8", "check_precision", "require_openvino",
           "AUTO_BUDGET_DB", "FloatLayerChoice", "choose_float_layers", "int8_sensitivity", "parse_keep_float"]

PRECISIONS = ("fp32", "bf16", "int8")
#: precision -> the INFERENCE_PRECISION_HINT it is compiled (and validated) with
HINTS = {"fp32": "f32", "bf16": "bf16", "int8": "f32"}
#: int8: which convolutions stay in float ("first", "last": the ones that touch the image itself)
INT8_KEEP_FLOAT = ("first", "last")
#: keep_float="auto": the float convolutions are chosen by :func:`choose_float_layers`
AUTO = "auto"
CONV_OPS = ("Conv", "ConvTranspose")
#: keep_float="auto": largest mean PSNR-Y drop (dB) of the int8 graph vs the fp32 graph on the tuning crops
AUTO_BUDGET_DB = 0.03
#: keep_float="auto": tuning crops (training pool, this seed; calibration uses seed 0, validation 1_000_003 + k)
AUTO_TUNING = 16
AUTO_TUNING_SIZE = 48
AUTO_TUNING_SEED = 2_000_029
#: keep_float="auto": wall-clock limit of the search (s); the layer cap defaults to half of the convolutions
AUTO_TIME_LIMIT_S = 900.0
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


def _pool_pairs(model: Any, n: int, size: int, seed: int) -> tuple[np.ndarray, list[tuple[np.ndarray, ...]]]:
    """``n`` HR crops (uint8 (n, size * scale, size * scale, 3)) of the SR training pool (photo sources, never a
    held-out photo) and their LR feeds ((1, C, size, size) float32 in the model's input range, PIL-bicubic
    down-sampled by :func:`ganzoo.data.make_lr`, the SR protocol's LR)."""
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
    return hr, out


def _pool_lr(model: Any, n: int, size: int, seed: int) -> list[tuple[np.ndarray, ...]]:
    """``n`` LR crops (1, C, size, size) float32 in the model's input range (:func:`_pool_pairs`)."""
    return _pool_pairs(model, n, size, seed)[1]


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


def _conv_names(proto: Any) -> list[str]:
    """The Conv / ConvTranspose node names of an ONNX graph, in graph order."""
    return [n.name for n in proto.graph.node if n.op_type in CONV_OPS]


def parse_keep_float(keep: Any) -> str | tuple[str, ...]:
    """A ``keep_float`` value in canonical form: "auto", or a tuple of "first" / "last" / node names. Accepts a
    comma-separated string ("first,last", "none" or "" for nothing, "auto") or a sequence of names."""
    if isinstance(keep, str):
        text = keep.strip()
        if text == AUTO:
            return AUTO
        if text.lower() in ("", "none"):
            return ()
        return tuple(k.strip() for k in text.split(",") if k.strip())
    if keep is None:
        return ()
    out = tuple(keep)
    if not all(isinstance(k, str) for k in out):
        raise ValueError(f"keep_float: expected 'auto' or node names, got {keep!r}")
    return out


def _float_convs(proto: Any, keep: Sequence[str]) -> list[str]:
    """Names of the Conv / ConvTranspose nodes to leave in float: "first" / "last" in graph order, or names."""
    convs = _conv_names(proto)
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
                  percentile: float = 99.99, nodes_to_quantize: Sequence[str] | None = None,
                  calibration_cache: str | os.PathLike | None = None) -> tuple[bytes, dict]:
    """Static int8 quantisation of an fp32 ONNX graph with ONNX Runtime: QDQ format, per-channel symmetric int8
    weights, uint8 activations whose ranges come from the graph run on ``calibration`` (feeds in the graph's
    input order) by ``method``: "percentile" (the ``percentile``-th percentile of |activation|, default),
    "minmax" or "entropy". ``keep_float``: convolutions left unquantised ("first", "last" or node names).
    ``nodes_to_quantize``: quantise only these nodes (default: every node ONNX Runtime can quantise).
    ``calibration_cache``: a JSON file of the activation ranges (onnxruntime >= 1.32 ``calibration_cache_path``):
    written by the first call, read by the next ones (the ranges do not depend on which nodes are quantised);
    ignored by older onnxruntime, which then calibrates on every call.

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
    extra: dict[str, Any] = {}
    if calibration_cache is not None and _ort_has_calibration_cache():
        extra["calibration_cache_path"] = str(calibration_cache)
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
                                nodes_to_exclude=excluded, nodes_to_quantize=list(nodes_to_quantize or []),
                                extra_options={"WeightSymmetric": True, "ActivationSymmetric": False,
                                               "CalibPercentile": float(percentile)}, **extra)
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
    if nodes_to_quantize:
        excluded = [n for n in _conv_names(proto) if n not in set(nodes_to_quantize)]
    info = {"calibration": len(feeds), "float_nodes": excluded, "quantize_linear": ops.get("QuantizeLinear", 0),
            "dequantize_linear": ops.get("DequantizeLinear", 0), "method": "onnxruntime quantize_static, QDQ, "
            f"{'per-channel' if per_channel else 'per-tensor'} int8 weights, uint8 activations, {calib}"}
    return q.SerializeToString(), info


def _ort_has_calibration_cache() -> bool:
    import inspect

    from onnxruntime.quantization import quantize_static

    return "calibration_cache_path" in inspect.signature(quantize_static).parameters


# ------------------------------------------------------------------------------------- int8 mixed precision


def _conv_macs(proto: Any, feed: Sequence[np.ndarray]) -> dict[str, int]:
    """Multiply-accumulates of every Conv / ConvTranspose node for one input ``feed`` (ONNX shape inference on a
    copy of the graph with the inputs fixed to the feed's shapes); 0 where a shape is not inferred."""
    import onnx

    g = onnx.ModelProto()
    g.CopyFrom(proto)
    inits = {i.name: i for i in g.graph.initializer}
    real = [i for i in g.graph.input if i.name not in inits]
    for vi, arr in zip(real, feed):
        dims = vi.type.tensor_type.shape.dim
        for d, v in zip(dims, np.shape(arr)):
            d.ClearField("dim_param")
            d.dim_value = int(v)
    try:
        g = onnx.shape_inference.infer_shapes(g)
    except Exception:  # noqa: BLE001 - best effort: FLOP shares are a report, not a decision
        return {n: 0 for n in _conv_names(proto)}
    shapes = {}
    for vi in list(g.graph.value_info) + list(g.graph.output) + list(g.graph.input):
        dims = [d.dim_value if d.HasField("dim_value") else 0 for d in vi.type.tensor_type.shape.dim]
        shapes[vi.name] = dims
    out = {}
    for n in g.graph.node:
        if n.op_type not in CONV_OPS:
            continue
        w = inits.get(n.input[1]) if len(n.input) > 1 else None
        wdims = list(w.dims) if w is not None else shapes.get(n.input[1], [])
        if len(wdims) < 3:
            out[n.name] = 0
            continue
        kernel = int(np.prod(wdims[2:]))
        if n.op_type == "Conv":  # W (Cout, Cin / g, k...): per output element Cin / g * k MACs
            out[n.name] = int(np.prod(shapes.get(n.output[0], [0]))) * int(wdims[1]) * kernel
        else:  # ConvTranspose W (Cin, Cout / g, k...): per input element Cout / g * k MACs
            out[n.name] = int(np.prod(shapes.get(n.input[0], [0]))) * int(wdims[1]) * kernel
    return out


@dataclass
class FloatLayerChoice:
    """What :func:`choose_float_layers` chose and measured (all on training-pool crops).

    float_nodes: the ONNX nodes (convolutions, Add / Mul) to leave in float, in the order they were kept.
    reached: whether the int8 graph with them in float is within ``budget_db`` (``d_psnr_y``: its mean PSNR-Y
    minus the fp32 graph's on the tuning crops); stop_reason says why the search stopped. flop_share_float: the
    share of the convolutions' multiply-accumulates left in float. layers: the sensitivity of every unit
    (``nodes``, ``tensors``, ``gain_db``, ``psnr_vs_fp32``, ``d_psnr_y``, ``macs``, ``flop_share``, ``rank``);
    steps: every graph the search measured. onnx_bytes / info: the chosen int8 QDQ graph and
    :func:`quantize_int8`'s info. :meth:`to_dict` is JSON-serialisable (it goes into the IR's rt_info).
    """

    float_nodes: list[str]
    reached: bool
    stop_reason: str
    budget_db: float
    d_psnr_y: float
    flop_share_float: float
    layers: list[dict[str, Any]]
    steps: list[dict[str, Any]]
    tuning: dict[str, Any]
    seconds: float
    onnx_bytes: bytes = field(default=b"", repr=False)
    info: dict[str, Any] = field(default_factory=dict, repr=False)

    def to_dict(self) -> dict[str, Any]:
        return {"float_nodes": list(self.float_nodes), "reached": self.reached, "stop_reason": self.stop_reason,
                "budget_db": self.budget_db, "d_psnr_y": self.d_psnr_y, "flop_share_float": self.flop_share_float,
                "layers": self.layers, "steps": self.steps, "tuning": self.tuning, "seconds": self.seconds}


class _Int8Tuner:
    """One fp32 graph, its calibration (computed once: an ONNX Runtime calibration cache) and a tuning set of
    training-pool (HR, LR) pairs; quantises variants and scores them in ONNX Runtime (CPU)."""

    def __init__(self, model: Any, onnx_bytes: bytes, feeds: Sequence[Sequence[np.ndarray]], *, tuning: int,
                 tuning_size: int, tuning_seed: int, threads: int | None, method: str, percentile: float,
                 cache_dir: str):
        import onnx

        from ganzoo.metrics import sr_value_ranges

        if not _is_sr(model) or int(model.config.in_channels) != 3:
            raise ValueError("keep_float='auto' measures PSNR-Y on SR training-pool crops: it needs an RGB SR model "
                             f"(an integer config.scale, one image input), got {type(model).__name__}")
        self.model, self.fp32, self.feeds = model, onnx_bytes, list(feeds)
        self.scale = int(model.config.scale)
        self.rout = sr_value_ranges(model)[1]
        self.threads, self.method, self.percentile = threads, method, percentile
        self.cache = Path(cache_dir) / "calibration.json"
        self.proto = onnx.load_from_string(onnx_bytes)
        self.convs = _conv_names(self.proto)
        self.ops = {n.name: n.op_type for n in self.proto.graph.node}
        inits = {i.name for i in self.proto.graph.initializer}
        self.input_name = [i.name for i in self.proto.graph.input if i.name not in inits][0]
        self.hr, lr = _pool_pairs(model, tuning, tuning_size, tuning_seed)
        self.x = np.ascontiguousarray(np.concatenate([f[0] for f in lr]))
        self.ref = self._run(onnx_bytes)
        self.ref_psnr = self._psnr_y(self.ref)
        self.n_quantised = 0

    def _run(self, data: bytes) -> np.ndarray:
        import onnxruntime as ort

        so = ort.SessionOptions()
        if self.threads:
            so.intra_op_num_threads = int(self.threads)
        so.log_severity_level = 3
        sess = ort.InferenceSession(data, so, providers=["CPUExecutionProvider"])
        return np.asarray(sess.run(None, {self.input_name: self.x})[0])

    def _psnr_y(self, out: np.ndarray) -> list[float]:
        """PSNR-Y of each output vs its HR crop: the SR protocol (uint8 output, ``scale`` pixels of border)."""
        from ganzoo.metrics import psnr, sr_postprocess

        return [psnr(hr, sr_postprocess(o[None], self.rout), border=self.scale, y_channel=True)
                for hr, o in zip(self.hr, out)]

    def quantize(self, *, keep_float: Sequence[str] = (), nodes_to_quantize: Sequence[str] | None = None
                 ) -> tuple[bytes, dict]:
        self.n_quantised += 1
        return quantize_int8(self.fp32, self.feeds, keep_float=keep_float, nodes_to_quantize=nodes_to_quantize,
                             method=self.method, percentile=self.percentile, calibration_cache=self.cache)

    def score(self, data: bytes) -> dict[str, float]:
        """d_psnr_y: mean PSNR-Y (vs HR) of ``data`` minus the fp32 graph's; psnr_vs_fp32: PSNR-Y of the float
        output vs the fp32 graph's float output (one MSE over the set, [0, 1] scale, same border)."""
        from ganzoo.metrics import rgb_to_y

        out = self._run(data)
        lo, hi = self.rout
        b = self.scale
        mse = []
        for o, r in zip(out, self.ref):
            y1 = rgb_to_y(np.clip((o.transpose(1, 2, 0).astype(np.float64) - lo) / (hi - lo), 0, 1), data_range=1.0)
            y0 = rgb_to_y(np.clip((r.transpose(1, 2, 0).astype(np.float64) - lo) / (hi - lo), 0, 1), data_range=1.0)
            mse.append(float(np.mean((y1[b:-b, b:-b] - y0[b:-b, b:-b]) ** 2)))
        m = float(np.mean(mse))
        vs = float("inf") if m == 0.0 else float(10.0 * np.log10(1.0 / m))
        d = float(np.mean(self._psnr_y(out)) - np.mean(self.ref_psnr))
        return {"d_psnr_y": d, "psnr_vs_fp32": vs}


def _quantisable(proto: Any) -> set[str]:
    """The nodes ONNX Runtime's static quantiser quantises (Conv, Add, Mul, Gemm ...: each puts Q/DQ pairs on its
    activation inputs and its output)."""
    try:
        from onnxruntime.quantization.registry import QDQRegistry, QLinearOpsRegistry

        types = set(QDQRegistry) | set(QLinearOpsRegistry)
    except ImportError:  # pragma: no cover - the registry moved
        types = {*CONV_OPS, "Add", "Mul", "MatMul", "Gemm"}
    return {n.name for n in proto.graph.node if n.op_type in types and n.name}


def _float_units(proto: Any, qdq: Any, units: str) -> list[dict[str, Any]]:
    """The units of the sensitivity search, in graph order: {"name", "nodes" (what to exclude), "tensors"}.

    units="tensor": one unit per quantised activation tensor of the QDQ graph ``qdq`` (a QuantizeLinear reads it):
    the quantisable nodes that touch it (its producer and consumers). A tensor's Q/DQ pair goes away only when
    none of them is quantised: one node alone is not a unit (a residual sum stays quantised while the conv that
    reads it is). Units with the same nodes are merged. units="conv": one unit per convolution.
    """
    if units not in ("tensor", "conv"):
        raise ValueError(f"units must be 'tensor' or 'conv', got {units!r}")
    if units == "conv":
        return [{"name": n, "nodes": [n], "tensors": []} for n in _conv_names(proto)]
    quant = _quantisable(proto)
    order = {n.name: k for k, n in enumerate(proto.graph.node)}
    producer: dict[str, str] = {}
    consumers: dict[str, list[str]] = {}
    for n in proto.graph.node:
        for o in n.output:
            producer[o] = n.name
        for i in n.input:
            consumers.setdefault(i, []).append(n.name)
    inits = {i.name for i in qdq.graph.initializer}
    quantised = [n.input[0] for n in qdq.graph.node if n.op_type == "QuantizeLinear" and n.input[0] not in inits]
    groups: dict[tuple[str, ...], list[str]] = {}
    for t in dict.fromkeys(quantised):
        adj = [producer[t]] if t in producer else []
        adj += consumers.get(t, [])
        nodes = tuple(sorted({a for a in adj if a in quant}, key=order.__getitem__))
        if nodes:
            groups.setdefault(nodes, []).append(t)
    out = [{"name": ts[0], "nodes": list(ns), "tensors": ts} for ns, ts in groups.items()]
    return sorted(out, key=lambda u: order[u["nodes"][0]])


def _bar(total: int, desc: str, progress: bool | None) -> Any:
    import sys

    from tqdm.auto import tqdm

    enabled = bool(getattr(sys.stderr, "isatty", lambda: False)()) if progress is None else bool(progress)
    return tqdm(total=total, desc=desc, disable=not enabled, leave=False)


def int8_sensitivity(model: Any, onnx_bytes: bytes | None = None, **kwargs: Any) -> FloatLayerChoice:
    """Per-unit int8 sensitivity of an SR model, without the greedy search: :func:`choose_float_layers`
    with ``search=False`` (its ``layers`` is the report, ``float_nodes`` is empty, ``steps`` holds the all-int8
    graph only). Arguments as :func:`choose_float_layers`."""
    return choose_float_layers(model, onnx_bytes, search=False, **kwargs)


def choose_float_layers(model: Any, onnx_bytes: bytes | None = None, *, budget_db: float = AUTO_BUDGET_DB,
                        max_float: int | None = None, time_limit_s: float | None = AUTO_TIME_LIMIT_S,
                        units: str = "tensor", calibration: int | Iterable[Sequence[np.ndarray]] | None = None,
                        calibration_size: int | None = None, tuning: int = AUTO_TUNING,
                        tuning_size: int = AUTO_TUNING_SIZE, tuning_seed: int = AUTO_TUNING_SEED,
                        threads: int | None = None, method: str = "percentile", percentile: float = 99.99,
                        progress: bool | None = None, search: bool = True, passes: int = 2, prune: bool = True
                        ) -> FloatLayerChoice:
    """Accuracy-aware mixed precision for int8: which nodes of an SR model to leave in float so that the int8
    graph stays within ``budget_db`` of the fp32 graph's mean PSNR-Y, measured on training data only.

    The standard per-layer sensitivity method:

    1. the fp32 ONNX graph (``onnx_bytes``, default ganzoo's validated export of ``model``) is calibrated once
       (``calibration`` feeds or that many training-pool LR crops, as :func:`to_openvino`; the activation ranges
       are computed once and reused by every variant);
    2. a *tuning* set: ``tuning`` HR crops of ``tuning_size * scale`` pixels of the SR training pool
       (:class:`ganzoo.data.inpainting.TrainingPool`, seed ``tuning_seed``, not the calibration's), LR by
       :func:`ganzoo.data.make_lr` (the SR protocol's bicubic). The held-out photos are never read;
    3. sensitivity, **all quantised except one unit** (leave-one-out): a unit is, with ``units="tensor"``
       (default), one quantised activation tensor of the fully quantised graph and the quantisable nodes around it
       (its producer and consumers among Conv / Add / Mul ...: the tensor's Q/DQ pair goes away only when none of
       them is quantised, so the single-node view misses the residual sums and the output's range), with
       ``units="conv"`` one convolution. For each unit the graph with every node quantised but the unit's is run
       in ONNX Runtime (CPU) on the tuning set and scored by ``psnr_vs_fp32`` (PSNR-Y of its output vs the fp32
       graph's output) and ``d_psnr_y`` (its mean PSNR-Y vs the HR crops minus the fp32 graph's: the task
       metric); a unit's sensitivity is its ``gain_db``, the rise of ``psnr_vs_fp32`` over the all-int8 graph;
    4. greedy: from the fully quantised graph, the units are tried most sensitive first: a unit's nodes are left
       in float if that raises the graph's ``d_psnr_y`` (else they are quantised again: a "rejected" step), until
       ``d_psnr_y >= -budget_db``, or ``max_float`` nodes are float (default half of the quantisable nodes), or
       every unit was tried ``passes`` times (a unit rejected while a larger error masked it may help in the next
       pass; a pass that keeps nothing ends the search), or ``time_limit_s`` has passed (counted from the start:
       the sensitivity pass itself always measures every unit, one graph each);
    5. ``prune`` (when the budget was reached): the units kept before the last are re-quantised again, the most
       multiply-accumulates first, wherever the graph stays within the budget without them.

    Returns a :class:`FloatLayerChoice` (``reached`` False with the reason when the budget was not met: a warning
    is logged and the best graph found returned). ``flop_share_float``: the share of the convolutions'
    multiply-accumulates (at the tuning crop size) that stays float. ``search=False``: steps 1-3 only
    (:func:`int8_sensitivity`). Progress is logged (``ganzoo.export``) and shown as a tqdm bar (``progress``:
    None shows it on a terminal only).
    """
    import onnx

    t_start = time.perf_counter()
    if not isinstance(budget_db, (int, float)) or isinstance(budget_db, bool) or not np.isfinite(budget_db):
        raise ValueError(f"budget_db must be a finite number of dB, got {budget_db!r}")
    if max_float is not None and (isinstance(max_float, bool) or not isinstance(max_float, int) or max_float < 0):
        raise ValueError(f"max_float must be an int >= 0, got {max_float!r}")
    if units not in ("tensor", "conv"):
        raise ValueError(f"units must be 'tensor' or 'conv', got {units!r}")
    if isinstance(passes, bool) or not isinstance(passes, int) or passes < 1:
        raise ValueError(f"passes must be an int >= 1, got {passes!r}")
    if not _is_sr(model):
        raise ValueError("keep_float='auto' measures PSNR-Y on SR training-pool crops: it needs an SR model "
                         f"(an integer config.scale, one image input), got {type(model).__name__}")
    if onnx_bytes is None:
        plan = plan_export(model, None, dtype="fp32", validate=True, what="ONNX graph")
        _, onnx_bytes = run_export(plan)
    if calibration is None or isinstance(calibration, int):
        feeds = calibration_inputs(model, DEFAULT_CALIBRATION if calibration is None else calibration,
                                   size=calibration_size)
    else:
        feeds = [tuple(f) for f in calibration]
    with tempfile.TemporaryDirectory(prefix="ganzoo-int8-auto-") as tmp:
        tuner = _Int8Tuner(model, onnx_bytes, feeds, tuning=tuning, tuning_size=tuning_size, tuning_seed=tuning_seed,
                           threads=threads, method=method, percentile=percentile, cache_dir=tmp)
        n_quant = len(_quantisable(tuner.proto))
        cap = n_quant // 2 if max_float is None else min(max_float, n_quant)
        macs = _conv_macs(tuner.proto, [tuner.x[:1]])
        total = sum(macs.values()) or 1
        # the all-int8 graph first: it writes the calibration cache every variant reuses
        full, full_info = tuner.quantize()
        full_score = tuner.score(full)
        cands = _float_units(tuner.proto, onnx.load_from_string(full), units)
        logger.info("int8 sensitivity: %d units (%s) over %d quantisable nodes (%d convolutions), %d tuning crops "
                    "(LR %dx%d), fp32 PSNR-Y %.3f dB, all int8 %+.4f dB", len(cands), units, n_quant,
                    len(tuner.convs), tuning, tuning_size, tuning_size, float(np.mean(tuner.ref_psnr)),
                    full_score["d_psnr_y"])
        layers = []
        with _bar(len(cands), "int8 sensitivity", progress) as bar:
            for k, u in enumerate(cands):
                q, _ = tuner.quantize(keep_float=u["nodes"])
                sc = tuner.score(q)
                m = sum(macs.get(n, 0) for n in u["nodes"])
                layers.append({**u, "op_types": [tuner.ops[n] for n in u["nodes"]], "index": k, "macs": m,
                               "flop_share": m / total, **sc,
                               "gain_db": sc["psnr_vs_fp32"] - full_score["psnr_vs_fp32"]})
                logger.debug("int8 sensitivity %d/%d %s: +%.3f dB vs the all-int8 graph, dPSNR-Y %+.4f", k + 1,
                             len(cands), u["name"], layers[-1]["gain_db"], sc["d_psnr_y"])
                bar.update(1)
        ranked = sorted(layers, key=lambda r: (-r["gain_db"], -r["d_psnr_y"], r["index"]))
        for rank, r in enumerate(ranked):
            r["rank"] = rank
        logger.info("int8 sensitivity: all int8 dPSNR-Y %+.4f dB; most sensitive: %s (%.1f s)",
                    full_score["d_psnr_y"], ", ".join(f"{r['name']} (+{r['gain_db']:.2f} dB)" for r in ranked[:3]),
                    time.perf_counter() - t_start)
        kept: list[str] = []
        groups: list[list[str]] = []
        steps = [{"float": 0, "tried": None, "accepted": True, **full_score}]
        data, info, score = full, full_info, full_score
        reached, reason = score["d_psnr_y"] >= -budget_db, ""
        if not search:
            reason = "sensitivity only (search=False)"
        stop = False
        with _bar(len(ranked) * passes, "int8 float nodes", progress) as bar:
            for pass_ in range(passes if search else 0):
                tried_any = improved = False
                for r in ranked:
                    if reached:
                        stop = True
                        break
                    new = [n for n in r["nodes"] if n not in kept]
                    if not new:
                        continue
                    if len(kept) + len(new) > cap:
                        reason, stop = f"layer cap: {cap} of {n_quant} quantisable nodes in float (max_float)", True
                        break
                    if time_limit_s is not None and time.perf_counter() - t_start > time_limit_s:
                        reason, stop = f"time limit: {time_limit_s:g} s", True
                        break
                    tried_any = True
                    q, qi = tuner.quantize(keep_float=[*kept, *new])
                    sc = tuner.score(q)
                    ok = sc["d_psnr_y"] > score["d_psnr_y"]
                    steps.append({"float": len(kept) + ok * len(new), "tried": r["name"], "nodes": new,
                                  "accepted": ok, "pass": pass_ + 1, **sc})
                    logger.info("int8 pass %d: %s %s float (%s): dPSNR-Y %+.4f dB (%d float, budget -%g)", pass_ + 1,
                                "keep" if ok else "reject", r["name"], ", ".join(new), sc["d_psnr_y"],
                                len(kept) + ok * len(new), budget_db)
                    if ok:
                        kept.extend(new)
                        groups.append(new)
                        data, info, score = q, qi, sc
                        reached = score["d_psnr_y"] >= -budget_db
                        improved = True
                    bar.update(1)
                if stop or reached or not (tried_any and improved):
                    break
            if search and not reached and not reason:
                reason = (f"every unit tried, {pass_ + 1} pass(es) ({len(kept)} of {n_quant} quantisable nodes "
                          f"in float)")
        if search and reached and prune and len(groups) > 1:
            # backward pass: a unit kept early may be unneeded once a later one is float; re-quantise the costliest
            # first while the graph stays within the budget
            for g in sorted(groups[:-1], key=lambda g: -sum(macs.get(n, 0) for n in g)):
                if time_limit_s is not None and time.perf_counter() - t_start > time_limit_s:
                    break
                trial = [n for n in kept if n not in g]
                q, qi = tuner.quantize(keep_float=trial)
                sc = tuner.score(q)
                ok = sc["d_psnr_y"] >= -budget_db
                steps.append({"float": len(trial) if ok else len(kept), "requantised": g, "accepted": ok, **sc})
                logger.info("int8: %s re-quantising %s: dPSNR-Y %+.4f dB", "keep" if ok else "reject",
                            ", ".join(g), sc["d_psnr_y"])
                if ok:
                    kept, data, info, score = trial, q, qi, sc
        reason = reason or f"within budget with {len(kept)} nodes in float"
        share = sum(macs.get(n, 0) for n in kept) / total
        if search and not reached:
            logger.warning("int8 keep_float='auto': budget %g dB not reached (%s); dPSNR-Y %+.4f dB on the tuning "
                           "crops with %d nodes in float", budget_db, reason, score["d_psnr_y"], len(kept))
        tuning_info = {"n": tuning, "lr_size": tuning_size, "seed": tuning_seed, "source": "SR training pool (photos)",
                       "calibration": len(feeds), "fp32_psnr_y": float(np.mean(tuner.ref_psnr)),
                       "all_int8": full_score, "units": units, "variants_quantised": tuner.n_quantised,
                       "method": "sensitivity: all quantised but one unit (gain in PSNR-Y vs the fp32 output); "
                                 "greedy: most sensitive first, kept float when it raises dPSNR-Y, until within "
                                 "budget"}
    seconds = time.perf_counter() - t_start
    logger.info("int8 keep_float='auto': %s (%d convolutions, %.1f%% of the conv MACs in float), dPSNR-Y %+.4f dB, "
                "%.1f s", reason, sum(n in macs for n in kept), 100 * share, score["d_psnr_y"], seconds)
    return FloatLayerChoice(float_nodes=kept, reached=bool(reached), stop_reason=reason, budget_db=float(budget_db),
                            d_psnr_y=score["d_psnr_y"], flop_share_float=share, layers=layers, steps=steps,
                            tuning=tuning_info, seconds=seconds, onnx_bytes=data, info=info)


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
    keep_float: Sequence[str] | str = INT8_KEEP_FLOAT,
    int8_budget_db: float = AUTO_BUDGET_DB,
    int8_max_float: int | None = None,
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
        crops (default 64). keep_float: convolutions left in float by int8 (default the first and the last;
        node names, or a comma-separated string of them), or "auto" (SR models): chosen on training-pool tuning
        crops by :func:`choose_float_layers` so that the mean PSNR-Y drop stays within ``int8_budget_db`` (default
        0.03 dB) with at most ``int8_max_float`` nodes in float (default half of the quantisable ones); its report
        is in ``result.int8["auto"]`` (``reached`` False, with a warning, when the budget was not met: the IR is
        still written, validated elementwise as any int8 IR). ``threads`` also sets ONNX Runtime's for the search.
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
    keep_float = parse_keep_float(keep_float)
    if keep_float == AUTO and precision != "int8":
        raise ValueError(f"keep_float='auto' is for precision='int8', got precision={precision!r}")
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
        if keep_float == AUTO:
            choice = choose_float_layers(model, data, budget_db=int8_budget_db, max_float=int8_max_float,
                                         calibration=feeds, threads=threads)
            data, int8_info = choice.onnx_bytes, {**choice.info, "auto": choice.to_dict()}
        else:
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
