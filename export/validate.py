"""Numerical validation of an exported graph against the PyTorch model it came from.

ONNX Runtime (CPU) runs the graph on fresh random inputs from ``model.sample_inputs`` at several batch sizes
(and two spatial sizes when the graph's height/width are dynamic); PyTorch runs the fp32 model in eval mode on
the same inputs; every output must satisfy ``|onnx - torch| <= atol + rtol * |torch|`` elementwise.
"""
from __future__ import annotations

import json
import logging
import math
import os
import random
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch

from ganzoo.specs import BATCH_SYMBOL, infer_dims, parse_dim, spatial_symbols
from ganzoo.utils import eval_mode, flatten_outputs

from .errors import NonFiniteOutputError, ShapeMismatchError, ToleranceExceededError
from .pipeline import (
    DEFAULT_BATCHES,
    check_outputs,
    component_inputs,
    component_specs,
    model_family,
    model_label,
    pick_sizes,
    resolve_model,
)
from .tolerances import Tolerance, get_tolerance

logger = logging.getLogger("ganzoo.export")

__all__ = ["CaseResult", "ValidationReport", "compare_outputs", "validate_onnx", "check_graph", "run_reference"]


@dataclass
class CaseResult:
    """One output of one validation case (batch size, spatial size)."""

    batch: int
    size: tuple[int, ...] | None
    output: str
    shape: tuple[int, ...]
    max_abs_err: float
    max_rel_err: float
    index: tuple[int, ...]
    atol: float
    rtol: float
    passed: bool
    finite: bool = True
    error: str | None = None  # "tolerance" when failed (shape and NaN/Inf failures raise at once)
    allowance: float = 0.0  # noise-floor term of the bound (see Tolerance)
    scale: float = 0.0  # largest |activation| PyTorch computed for this case
    expected: float = float("nan")  # PyTorch's value at ``index``
    got: float = float("nan")  # the backend's value at ``index``


@dataclass
class ValidationReport:
    """What :func:`validate_onnx` found. ``passed`` is True when every case of every output passed.

    ``max_rel_err`` is ``max |a - b| / (|b| + atol)``, which stays finite where the reference is zero.
    """

    model: str
    backend: str
    dtype: str
    tolerance: Tolerance
    seed: int
    cases: list[CaseResult] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def passed(self) -> bool:
        return bool(self.cases) and all(c.passed for c in self.cases)

    @property
    def max_abs_err(self) -> float:
        return max((c.max_abs_err for c in self.cases), default=float("nan"))

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["passed"] = self.passed
        return d

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, default=str)

    def rich_table(self, title: str | None = None):
        """The report as a rich Table: batch, spatial size, output, max abs err, max rel err, tolerance, pass."""
        from rich.table import Table

        outputs = list(dict.fromkeys(c.output for c in self.cases))
        multi = len(outputs) > 1
        t = Table(title=title or f"{self.model} ({', '.join(outputs)}): {self.backend} vs PyTorch, {self.dtype}, "
                                 f"seed {self.seed}")
        cols = ["batch", "spatial size"] + (["output"] if multi else []) + [
            "max abs err", "max rel err", "tolerance", "pass"]
        for col in cols:
            t.add_column(col, justify="right" if col in ("batch", "max abs err", "max rel err") else "left",
                         no_wrap=True)
        for c in self.cases:
            row = [str(c.batch), "x".join(map(str, c.size)) if c.size else "-"] + ([c.output] if multi else []) + [
                f"{c.max_abs_err:.3g}", f"{c.max_rel_err:.3g}",
                f"{c.atol:.0e}/{c.rtol:.0e}" + (f" +{c.allowance:.0e}" if c.allowance >= 0.1 * c.atol else ""),
                "[green]yes[/green]" if c.passed else f"[red]NO ({c.error})[/red]"]
            t.add_row(*row)
        return t

    def raise_for_failures(self) -> None:
        """Raise ToleranceExceededError for the first failing case (shape and NaN/Inf failures raise at once)."""
        for c in self.cases:
            if c.passed:
                continue
            where = f"{self.model} output {c.output!r} at batch {c.batch}" + (
                f", size {'x'.join(map(str, c.size))}" if c.size else "")
            raise ToleranceExceededError(
                f"{where}: {self.backend} differs from PyTorch beyond tolerance (atol={c.atol:g}, rtol={c.rtol:g}, "
                f"noise allowance {c.allowance:.3g} for activations up to {c.scale:.3g}): "
                f"max abs err {c.max_abs_err:.4g}, max rel err {c.max_rel_err:.4g}, worst at index {c.index} "
                f"(PyTorch {c.expected:.6g}, {self.backend} {c.got:.6g})",
                output=c.output, max_abs_err=c.max_abs_err, max_rel_err=c.max_rel_err, index=c.index,
                expected=c.expected, got=c.got,
                atol=c.atol, rtol=c.rtol, batch=c.batch, size=c.size)


def compare_outputs(got: np.ndarray, ref: np.ndarray, tol: Tolerance, *, output: str = "output", batch: int = 0,
                    size: Sequence[int] | None = None, backend: str = "onnx", dtype: str = "fp32",
                    scale: float = 0.0) -> CaseResult:
    """Compare one output with its PyTorch reference. Raises ShapeMismatchError on a shape difference and
    NonFiniteOutputError when the reference (source "pytorch") or ``got`` has NaN/Inf; otherwise returns the
    case with ``passed`` telling whether ``|got - ref| <= atol + rtol * |ref| + tol.allowance(dtype, scale)``
    everywhere (``scale``: largest intermediate activation magnitude, 0 to leave the noise term out)."""
    size_t = tuple(size) if size is not None else None
    if tuple(got.shape) != tuple(ref.shape):
        raise ShapeMismatchError(f"output {output!r} at batch {batch}" + (f", size {size_t}" if size_t else "")
                                 + f": expected shape {tuple(ref.shape)} (PyTorch), {backend} gave {tuple(got.shape)}")
    a = np.asarray(got, dtype=np.float64)
    b = np.asarray(ref, dtype=np.float64)
    bad_ref = ~np.isfinite(b)
    if bad_ref.any():
        idx = tuple(int(i) for i in np.argwhere(bad_ref)[0])
        raise NonFiniteOutputError(f"output {output!r} at batch {batch}: PyTorch itself produced {int(bad_ref.sum())} "
                                   f"NaN/Inf values (first at {idx}); the model is broken for these inputs",
                                   output=output, count=int(bad_ref.sum()), index=idx, source="pytorch")
    bad = ~np.isfinite(a)
    if bad.any():
        idx = tuple(int(i) for i in np.argwhere(bad)[0])
        raise NonFiniteOutputError(
            f"output {output!r} at batch {batch}" + (f", size {size_t}" if size_t else "")
            + f": {backend} produced {int(bad.sum())} NaN/Inf values (first at index {idx}, PyTorch has "
            f"{b[idx]:.4g} there)" + ("; fp16 overflow? keep more layers in fp32" if got.dtype == np.float16 else ""),
            output=output, count=int(bad.sum()), index=idx, source=backend)
    diff = np.abs(a - b)
    allowance = tol.allowance(dtype, scale)
    if diff.size == 0:
        return CaseResult(batch, size_t, output, tuple(ref.shape), 0.0, 0.0, (), tol.atol, tol.rtol, True,
                          allowance=allowance, scale=scale)
    excess = diff - (tol.atol + allowance + tol.rtol * np.abs(b))
    flat = int(np.argmax(excess))
    idx = tuple(int(i) for i in np.unravel_index(flat, diff.shape))
    rel = diff / (np.abs(b) + max(tol.atol, 1e-12))
    passed = bool(excess.flat[flat] <= 0)
    return CaseResult(batch, size_t, output, tuple(ref.shape), float(diff.max()), float(rel.max()), idx,
                      tol.atol, tol.rtol, passed, True, None if passed else "tolerance", allowance, scale,
                      float(b.flat[flat]), float(a.flat[flat]))


_ORT_TYPES = {
    "tensor(float)": np.float32, "tensor(float16)": np.float16, "tensor(double)": np.float64,
    "tensor(int64)": np.int64, "tensor(int32)": np.int32, "tensor(bool)": np.bool_, "tensor(uint8)": np.uint8,
    "tensor(int8)": np.int8,
}


def _ort_session(model_bytes: bytes, providers: Sequence[str] = ("CPUExecutionProvider",), threads: int | None = None):
    try:
        import onnxruntime as ort
    except ImportError as e:
        from .errors import BackendUnavailableError

        raise BackendUnavailableError("validation needs onnxruntime: pip install onnxruntime") from e
    so = ort.SessionOptions()
    so.log_severity_level = 3
    if threads:
        so.intra_op_num_threads = threads
    return ort.InferenceSession(model_bytes, sess_options=so, providers=list(providers))


def _graph_dims(specs: Sequence[Any], ort_inputs: Sequence[Any]) -> tuple[bool, int | None, dict[str, int | None]]:
    """(batch dynamic?, static batch, {spatial symbol: static value or None when dynamic}) read off the graph."""
    batch_dynamic, static_batch = False, None
    sym: dict[str, int | None] = {}
    for spec, inp in zip(specs, ort_inputs):
        for d, g in zip(spec.shape, inp.shape):
            p = parse_dim(d)
            if isinstance(p, int):
                continue
            dynamic = not isinstance(g, int)
            if p.symbol == BATCH_SYMBOL:
                batch_dynamic = batch_dynamic or dynamic
                if not dynamic:
                    static_batch = g
            else:
                sym.setdefault(p.symbol, None if dynamic else p.invert(g))
    return batch_dynamic, static_batch, sym


def _load_model_bytes(onnx_model: Any) -> tuple[bytes, dict[str, str]]:
    """(serialized graph, ganzoo metadata) of a path, bytes or ModelProto."""
    import onnx

    if isinstance(onnx_model, (str, os.PathLike)):
        p = Path(onnx_model)
        if not p.is_file():
            raise FileNotFoundError(f"ONNX file not found: {p}")
        proto = onnx.load(str(p))  # with any external data
        data = proto.SerializeToString()
    elif isinstance(onnx_model, bytes):
        data, proto = onnx_model, onnx.load_from_string(onnx_model)
    elif isinstance(onnx_model, onnx.ModelProto):
        data, proto = onnx_model.SerializeToString(), onnx_model
    else:
        raise TypeError(f"expected an ONNX path, bytes or ModelProto, got {type(onnx_model).__name__}")
    return data, {m.key: m.value for m in proto.metadata_props}


def validate_onnx(
    onnx_model: str | os.PathLike | bytes | Any,
    model: Any,
    *,
    batches: Sequence[int] = DEFAULT_BATCHES,
    sizes: Sequence[Sequence[int]] | None = None,
    tolerance: Tolerance | tuple[float, float] | float | None = None,
    discriminator: bool | None = None,
    seed: int | None = None,
    raise_on_failure: bool = True,
    providers: Sequence[str] = ("CPUExecutionProvider",),
    threads: int | None = None,
) -> ValidationReport:
    """Run an exported graph with ONNX Runtime and compare it with ``model`` (a GANModel or registry name).

    onnx_model: path, serialized bytes or ``onnx.ModelProto``.
    model: the GANModel the graph came from (its specs: ``model.specs``), or a registry name (random weights).
    batches: batch sizes to try where the graph's batch is dynamic (a static batch is used as is).
    sizes: spatial sizes (e.g. ``[(16, 24), (24, 16)]``) where the graph's H/W are dynamic; default two small
        sizes that honour ``min_size``/``size_multiple``. Static H/W are read from the graph.
    tolerance: a Tolerance, ``(atol, rtol)``, or a float atol; default per family and precision
        (:mod:`ganzoo.export.tolerances`); the precision comes from the graph's ``ganzoo.precision`` metadata.
    discriminator: validate a discriminator graph; default from the ``ganzoo.component`` metadata.
    seed: inputs are drawn fresh each call; the seed used is in the report (pass it back to reproduce).
    raise_on_failure: raise ToleranceExceededError / NonFiniteOutputError / ShapeMismatchError on the first
        failing case; False records failures in the report instead (shape and NaN errors always raise).
    """
    t0 = time.perf_counter()
    model = resolve_model(model, pretrained=False if isinstance(model, str) else None)
    data, meta = _load_model_bytes(onnx_model)
    if discriminator is None:
        discriminator = meta.get("ganzoo.component") == "discriminator"
    sess = _ort_session(data, providers, threads)
    ort_in, ort_out = sess.get_inputs(), sess.get_outputs()

    def run(xs: Sequence[torch.Tensor]) -> list[np.ndarray]:
        feed = {i.name: x.detach().cpu().numpy().astype(_ORT_TYPES.get(i.type, np.float32))
                for i, x in zip(ort_in, xs)}
        return sess.run(None, feed)

    return check_graph(run, ort_in, [o.name for o in ort_out], model, backend="onnxruntime",
                       dtype=meta.get("ganzoo.precision", "fp32"), batches=batches, sizes=sizes, tolerance=tolerance,
                       discriminator=discriminator, seed=seed, raise_on_failure=raise_on_failure, started=t0)


def check_graph(
    run: Callable[[Sequence[torch.Tensor]], Sequence[np.ndarray]],
    graph_inputs: Sequence[Any],
    output_names: Sequence[str],
    model: Any,
    *,
    backend: str,
    dtype: str = "fp32",
    batches: Sequence[int] = DEFAULT_BATCHES,
    sizes: Sequence[Sequence[int]] | None = None,
    tolerance: Tolerance | tuple[float, float] | float | None = None,
    discriminator: bool = False,
    seed: int | None = None,
    raise_on_failure: bool = True,
    started: float | None = None,
    inputs: Callable[[Any, int, Any, int], tuple[torch.Tensor, ...]] | None = None,
) -> ValidationReport:
    """The validation loop shared by every runtime (:func:`validate_onnx`, ``ganzoo.export.openvino``).

    run: the compiled graph, ``run(inputs) -> outputs``: the model's inputs as torch tensors in spec order, the
        outputs as arrays in ``output_names`` order.
    graph_inputs: the graph's inputs in spec order, objects with ``.name`` and ``.shape`` (an int per static dim,
        anything else for a dynamic one): static batch / spatial dims are read off them.
    dtype: the precision the tolerance is looked up for (:func:`ganzoo.export.get_tolerance`).
    inputs: ``inputs(model, batch, size, seed) -> tensors`` draws a case's inputs (default
        :func:`ganzoo.export.pipeline.component_inputs`: ``model.sample_inputs``, or generated samples for a
        discriminator).
    The other arguments are those of :func:`validate_onnx`. Returns the report (raising on the first failure
    unless ``raise_on_failure`` is False).
    """
    t0 = time.perf_counter() if started is None else started
    model = resolve_model(model, pretrained=False if isinstance(model, str) else None)
    tol = _as_tolerance(tolerance, dtype, model)
    seed = random.SystemRandom().randrange(2**31) if seed is None else int(seed)
    in_specs, out_specs = component_specs(model, discriminator)
    if len(graph_inputs) != len(in_specs):
        raise ShapeMismatchError(f"the graph has {len(graph_inputs)} inputs "
                                 f"({', '.join(i.name for i in graph_inputs)}), {model_label(model)} takes "
                                 f"{len(in_specs)} ({', '.join(s.name for s in in_specs)})")
    batch_dynamic, static_batch, sym = _graph_dims(in_specs, graph_inputs)
    case_batches = list(batches) if batch_dynamic or static_batch is None else [static_batch]
    if any((not isinstance(b, int)) or b < 1 for b in case_batches):
        raise ValueError(f"batches must be positive ints, got {list(batches)}")
    symbols = spatial_symbols(in_specs)
    if not symbols:
        case_sizes: list[tuple[int, ...] | None] = [None]
    elif all(v is not None for v in sym.values()):
        case_sizes = [tuple(sym[s] for s in symbols)]  # type: ignore[misc]
    else:
        case_sizes = [tuple(s) for s in sizes] if sizes else list(pick_sizes(model.specs, len(symbols))[1])
        for s in case_sizes:
            if len(s) != len(symbols):
                raise ValueError(f"sizes must give {len(symbols)} values ({', '.join(symbols)}), got {s}")
    if discriminator:  # the discriminator takes generator outputs: ask the generator for its input size
        case_sizes = [None] if not model.specs.spatial_symbols else case_sizes

    report = ValidationReport(model=model_label(model) + (" (discriminator)" if discriminator else ""),
                              backend=backend, dtype=dtype, tolerance=tol, seed=seed)
    ref_model = model if next(model.parameters()).dtype == torch.float32 else _float_copy(model)
    k = 0
    for b in case_batches:
        for size in case_sizes:
            k += 1
            xs = (inputs(ref_model, b, size, seed + k) if inputs is not None
                  else component_inputs(ref_model, b, size, seed + k, discriminator))
            refs, scale = run_reference(ref_model, xs, discriminator, list(output_names))
            if out_specs is not None:
                dims = infer_dims(in_specs, [x.shape for x in xs], error=ShapeMismatchError)
                check_outputs(out_specs, refs, dims, source="PyTorch")
            outs = list(run(xs))
            if len(outs) != len(refs):
                raise ShapeMismatchError(f"the graph returns {len(outs)} outputs, PyTorch {len(refs)}")
            for name, got, ref in zip(output_names, outs, refs):
                case = compare_outputs(np.asarray(got), ref.detach().float().cpu().numpy(), tol, output=name,
                                       batch=b, size=size, backend=backend, dtype=dtype, scale=scale)
                report.cases.append(case)
                logger.debug("validate %s (%s) batch=%d size=%s %s: max abs %.3g, max rel %.3g", report.model,
                             backend, b, size, name, case.max_abs_err, case.max_rel_err)
    report.seconds = time.perf_counter() - t0
    if raise_on_failure:
        report.raise_for_failures()
    return report


def _as_tolerance(tolerance: Any, dtype: str, model: Any) -> Tolerance:
    if tolerance is None:
        cfg = model.pretrained_cfg
        return get_tolerance(dtype, (cfg.architecture if cfg is not None else None) or model.model_name,
                             model_family(model))
    if isinstance(tolerance, Tolerance):
        return tolerance
    if isinstance(tolerance, (int, float)):
        return Tolerance(atol=float(tolerance), rtol=0.0)
    if isinstance(tolerance, (tuple, list)) and len(tolerance) == 2:
        return Tolerance(atol=float(tolerance[0]), rtol=float(tolerance[1]))
    raise TypeError(f"tolerance: expected a Tolerance, (atol, rtol) or a float, got {tolerance!r}")


def _float_copy(model: Any) -> Any:
    import copy

    return copy.deepcopy(model).float()


def run_reference(model: Any, xs: Sequence[torch.Tensor], discriminator: bool = False,
                  names: Sequence[str] = ()) -> tuple[tuple[torch.Tensor, ...], float]:
    """PyTorch outputs of the generator (or discriminator) in eval mode without gradients, and the largest
    finite |activation| any of its leaf modules produced (the scale of its rounding noise)."""
    module = model.discriminator if discriminator else model.generator
    scale = [0.0]

    def hook(mod: Any, args: Any, out: Any) -> None:
        for t in (out if isinstance(out, (tuple, list)) else (out,)):
            if isinstance(t, torch.Tensor) and t.is_floating_point() and t.numel():
                m = float(t.detach().abs().amax())
                if not math.isfinite(m):  # rare: measure the finite part only
                    finite = t.detach()[torch.isfinite(t)]
                    m = float(finite.abs().amax()) if finite.numel() else 0.0
                scale[0] = max(scale[0], m)

    for x in xs:
        if isinstance(x, torch.Tensor) and x.is_floating_point() and x.numel():
            scale[0] = max(scale[0], float(x.abs().max()))
    handles = [m.register_forward_hook(hook) for m in module.modules() if not list(m.children())]
    try:
        with torch.no_grad(), eval_mode(model):
            outs = flatten_outputs(module(*xs), names)
    finally:
        for h in handles:
            h.remove()
    return outs, scale[0]

