"""``to_onnx``: a ganzoo generator (or discriminator) to a validated ONNX file.

The graph comes from the torch.export-based exporter (``torch.onnx.export(..., dynamo=True)``), run on a copy of
the module with the exact inference rewrites of :mod:`ganzoo.export.rewrite` applied (``optimize=True``, checked
in float64 on a small input), with ``dynamic_shapes`` built from the model's TensorSpecs: batch ``B`` and,
for fully convolutional models, the spatial symbols (``H``, ``W``), as multiples of ``size_multiple`` where the
config declares one. After export the graph's inputs and outputs are checked to really carry symbolic dims where
asked (shapes silently baked into a graph are a known exporter pitfall), renamed to the spec's symbols (``B``,
``H``, ``H*4``), stamped with ganzoo metadata, checked with ``onnx.checker``, optionally simplified with onnxslim,
validated against the original PyTorch model with ONNX Runtime, and only then written (temporary file + rename).
"""
from __future__ import annotations

import hashlib
import json
import logging
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import torch
from torch import nn

from ganzoo.utils import eval_mode

from ._common import (
    BATCH_SYMBOL,
    EXPORT_BATCH,
    MAX_BATCH,
    MAX_SPATIAL,
    DimExpr,
    as_tuple,
    atomic_write,
    check_against_specs,
    check_output_path,
    infer_dims,
    model_family,
    model_label,
    parse_dim,
    pick_sizes,
    quiet_exporter,
    resolve_model,
    spatial_symbols,
)
from .errors import ExportError, HalfPrecisionNotSupportedError, UnsupportedOpsetError
from .tolerances import Tolerance, fp32_modules_for
from .validate import DEFAULT_BATCHES, ValidationReport, component_inputs, component_specs, validate_onnx

logger = logging.getLogger("ganzoo.export")

__all__ = ["ExportResult", "to_onnx", "supported_opsets", "default_opset", "export_onnx_proto"]

MIN_OPSET = 13  # below this the exporter's version conversion and TensorRT's parser both fall short
DTYPES = ("fp32", "fp16")


@dataclass
class ExportResult:
    """What :func:`to_onnx` wrote and how it checked it."""

    path: Path
    model: str
    component: str
    opset: int
    dtype: str
    input_names: tuple[str, ...]
    output_names: tuple[str, ...]
    dynamic_axes: dict[str, dict[int, str]]
    validation: ValidationReport | None
    timing: dict[str, float] = field(default_factory=dict)
    simplified: bool = False
    op_types: tuple[str, ...] = ()
    fp32_layers: tuple[str, ...] = ()
    sha256: str = ""
    size_bytes: int = 0
    trace_size: tuple[int, ...] | None = None
    rewrites: tuple[Any, ...] = ()  # the applied ganzoo.export.rewrite.Rewrite records

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": str(self.path), "model": self.model, "component": self.component, "opset": self.opset,
            "dtype": self.dtype, "input_names": list(self.input_names), "output_names": list(self.output_names),
            "dynamic_axes": {k: {str(i): v for i, v in d.items()} for k, d in self.dynamic_axes.items()},
            "validation": self.validation.to_dict() if self.validation else None, "timing": self.timing,
            "simplified": self.simplified, "op_types": list(self.op_types), "fp32_layers": list(self.fp32_layers),
            "sha256": self.sha256, "size_bytes": self.size_bytes, "rewrites": [r.to_dict() for r in self.rewrites],
        }


def supported_opsets(cfg: Any = None, component: str = "generator") -> tuple[int, int]:
    """(lowest, highest) opset ``to_onnx`` accepts for a model's ``component``: the lowest it really exports at
    (measured, :data:`ganzoo.export.opsets.MIN_OPSETS`; unmeasured models
    :data:`~ganzoo.export.opsets.FALLBACK_MIN_OPSET`), raised to the model's own ``min_opset`` where that is
    higher, up to the newest opset the installed onnx package knows."""
    import onnx

    from .opsets import FALLBACK_MIN_OPSET, measured_min_opset

    measured = measured_min_opset(getattr(cfg, "architecture", None), component) if cfg is not None else None
    declared = int(getattr(cfg, "min_opset", MIN_OPSET) or MIN_OPSET)
    lo = max(MIN_OPSET, measured if measured is not None else FALLBACK_MIN_OPSET, declared)
    return lo, int(onnx.defs.onnx_opset_version())


def default_opset(cfg: Any = None, component: str = "generator") -> int:
    return max(17, supported_opsets(cfg, component)[0])


def _check_opset(opset: Any, cfg: Any, label: str, component: str = "generator") -> int:
    if opset is None:
        opset = default_opset(cfg, component)
    if isinstance(opset, bool) or not isinstance(opset, int):
        raise UnsupportedOpsetError(f"opset must be an int, got {opset!r}")
    lo, hi = supported_opsets(cfg, component)
    if not lo <= opset <= hi:
        import onnx

        from .opsets import measured_min_opset

        measured = measured_min_opset(getattr(cfg, "architecture", None), component)
        why = (f"the {component} exports at opset {measured} and above (ganzoo.export.opsets)"
               if measured is not None else "no measured minimum (ganzoo.export.opsets)")
        raise UnsupportedOpsetError(
            f"opset {opset} is not supported for {label}: expected {lo} <= opset <= {hi} ({why}; model min_opset "
            f"{getattr(cfg, 'min_opset', '?')}; installed onnx {onnx.__version__} knows opsets up to {hi})")
    return opset


def _dynamic_shapes(specs: Sequence[Any], dynamic_batch: bool, dynamic_spatial: bool, cfg: Any,
                    batch_range: tuple[int, int]) -> tuple[tuple[dict[int, Any] | None, ...], dict[str, dict[int, str]]]:
    """torch.export dynamic_shapes for the positional inputs, and the dynamic axes by input name."""
    from torch.export import Dim

    dims: dict[str, Any] = {}
    m = max(int(getattr(cfg, "size_multiple", None) or 1), 1)
    lo = max(int(getattr(cfg, "min_size", None) or 1), 1)
    shapes: list[dict[int, Any] | None] = []
    axes: dict[str, dict[int, str]] = {}
    for spec in specs:
        entry: dict[int, Any] = {}
        for i, d in enumerate(spec.shape):
            p = parse_dim(d)
            if isinstance(p, int):
                continue
            is_batch = p.symbol == BATCH_SYMBOL
            if (is_batch and not dynamic_batch) or (not is_batch and not dynamic_spatial):
                continue
            if p.symbol not in dims:
                if is_batch:
                    dims[p.symbol] = Dim(p.symbol, min=batch_range[0], max=batch_range[1])
                elif m > 1:
                    dims[p.symbol] = m * Dim(f"_{p.symbol}_{m}", min=max(1, math.ceil(lo / m)), max=MAX_SPATIAL // m)
                else:
                    dims[p.symbol] = Dim(p.symbol, min=lo, max=MAX_SPATIAL)
            if p.div != 1:
                raise ExportError(f"input {spec.name!r} dim {i} ({d}): a divided symbol cannot be dynamic; declare "
                                  f"the input's own symbol and derive the others from it")
            entry[i] = dims[p.symbol] * p.mul if p.mul != 1 else dims[p.symbol]  # "H*4": a derived dim
            axes.setdefault(spec.name, {})[i] = str(d)
        shapes.append(entry or None)
    return tuple(shapes), axes


def unique_output_names(input_names: Sequence[str], output_names: Sequence[str], label: str = "") -> list[str]:
    """ONNX names must be unique across inputs and outputs (SSA): an output named like an input (an inpainting
    model's ``image`` in, ``image`` out) becomes ``<name>_out``."""
    taken = set(input_names)
    out = []
    for n in output_names:
        new = n
        while new in taken:
            new = f"{new}_out"
        if new != n:
            logger.info("%s: output %r has an input's name; it is %r in the graph", label, n, new)
        taken.add(new)
        out.append(new)
    return out


class _Component(nn.Module):
    """The generator or discriminator as a module returning a flat tuple (ONNX outputs in spec order)."""

    def __init__(self, module: nn.Module, names: Sequence[str]):
        super().__init__()
        self.module = module
        self.names = tuple(names)

    def forward(self, *xs: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return as_tuple(self.module(*xs), self.names)


def _dim_strings(value_info: Any) -> list[str | int | None]:
    out: list[str | int | None] = []
    for d in value_info.type.tensor_type.shape.dim:
        out.append(d.dim_param if d.HasField("dim_param") else (d.dim_value if d.HasField("dim_value") else None))
    return out


def _fix_io_dims(proto: Any, in_specs: Sequence[Any], out_specs: Sequence[Any] | None, axes: dict[str, dict[int, str]],
                 label: str) -> dict[str, dict[int, str]]:
    """Check every requested dynamic axis is symbolic in the graph (not baked in), then rename the symbolic
    I/O dims to the spec's strings. Returns the dynamic axes of inputs and outputs, by tensor name."""
    rename: dict[str, str] = {}
    all_axes: dict[str, dict[int, str]] = {}
    dynamic_symbols = {parse_dim(d).symbol for a in axes.values() for d in a.values()}  # type: ignore[union-attr]
    for vi, spec in zip(proto.graph.input, in_specs):
        dims = vi.type.tensor_type.shape.dim
        for i, want in axes.get(spec.name, {}).items():
            if not dims[i].HasField("dim_param"):
                raise ExportError(
                    f"{label}: input {spec.name!r} dim {i} ({want}) was baked into the graph as "
                    f"{dims[i].dim_value} instead of staying dynamic; the model's forward specialises on it")
            rename.setdefault(dims[i].dim_param, want)
            dims[i].dim_param = want
            all_axes.setdefault(spec.name, {})[i] = want
    for k, vi in enumerate(proto.graph.output):
        spec = out_specs[k] if out_specs is not None and k < len(out_specs) else None
        dims = vi.type.tensor_type.shape.dim
        for i, d in enumerate(dims):
            want = None
            if spec is not None and i < len(spec.shape):
                p = parse_dim(spec.shape[i])
                if isinstance(p, DimExpr) and p.symbol in dynamic_symbols:
                    want = str(spec.shape[i])
                    if not d.HasField("dim_param"):
                        raise ExportError(f"{label}: output {vi.name!r} dim {i} ({want}) is fixed at {d.dim_value} "
                                          f"in the graph although {p.symbol} is dynamic")
            if d.HasField("dim_param"):
                new = want or rename.get(d.dim_param, d.dim_param)
                rename.setdefault(d.dim_param, new)
                d.dim_param = new
                all_axes.setdefault(vi.name, {})[i] = new
    for vi in proto.graph.value_info:
        for d in vi.type.tensor_type.shape.dim:
            if d.HasField("dim_param") and d.dim_param in rename:
                d.dim_param = rename[d.dim_param]
    return all_axes


def _metadata(model: Any, component: str, dtype: str, opset: int, in_specs: Sequence[Any],
              out_specs: Sequence[Any] | None, output_names: Sequence[str], fp32_layers: Sequence[str],
              keep_io_types: bool, rewrites: Sequence[Any] = ()) -> dict[str, str]:
    import ganzoo

    cfg = model.pretrained_cfg

    def spec_dict(s: Any) -> dict[str, Any]:
        d = s.to_dict()
        if dtype == "fp16" and not keep_io_types and d.get("dtype") == "float32":
            d["dtype"] = "float16"
        return d

    outs = [spec_dict(s) for s in out_specs] if out_specs is not None else [{"name": n} for n in output_names]
    for d, n in zip(outs, output_names):
        d["onnx_name"] = n  # differs from the spec name only where it collided with an input name
    ranges = {s.name: (list(s.range) if s.range else None) for s in (list(in_specs) + list(out_specs or []))}
    return {
        "ganzoo.model": cfg.architecture or (model.model_name or ""),
        "ganzoo.tag": cfg.tag or "",
        "ganzoo.version": ganzoo.__version__,
        "ganzoo.component": component,
        "ganzoo.precision": dtype,
        "ganzoo.opset": str(opset),
        "ganzoo.inputs": json.dumps([spec_dict(s) for s in in_specs]),
        "ganzoo.outputs": json.dumps(outs),
        "ganzoo.value_ranges": json.dumps(ranges),
        "ganzoo.fp32_layers": json.dumps(list(fp32_layers)),
        "ganzoo.rewrites": json.dumps([r.to_dict() for r in rewrites]),
        "ganzoo.license": cfg.license or "",
        "ganzoo.paper_url": cfg.paper_url or "",
    }


def export_onnx_proto(
    model: Any,
    *,
    opset: int,
    dynamic_batch: bool = True,
    dynamic_spatial: bool | None = None,
    dtype: str = "fp32",
    discriminator: bool = False,
    keep_io_types: bool = True,
    size: Sequence[int] | None = None,
    batch_range: tuple[int, int] = (1, MAX_BATCH),
    static_batch: int = 1,
    optimize: bool = True,
) -> tuple[Any, dict[str, Any]]:
    """Trace and convert to an in-memory ``onnx.ModelProto`` (no validation, nothing written).

    optimize: export a copy with the exact rewrites of :func:`ganzoo.export.rewrite.optimize_for_inference`
        (checked against the original in float64 on one small input; RewriteError if they disagree).
    Returns (proto, info) with info keys: input_names, output_names, dynamic_axes, fp32_layers, trace_size,
    rewrites (the applied :class:`~ganzoo.export.rewrite.Rewrite` records).
    """
    import onnx

    cfg = model.pretrained_cfg
    label = model_label(model) + (" discriminator" if discriminator else "")
    in_specs, out_specs = component_specs(model, discriminator)
    if dynamic_spatial is None:
        dynamic_spatial = bool(cfg.dynamic_spatial) and not discriminator
    if not spatial_symbols(in_specs if not discriminator else cfg.inputs):
        dynamic_spatial = False
    symbols = spatial_symbols(cfg.inputs)
    if size is not None and symbols and len(size) != len(symbols):
        raise ValueError(f"size: expected {len(symbols)} values ({', '.join(symbols)}), got {tuple(size)}")
    if size is not None and not symbols:
        raise ValueError(f"{model_label(model)} has a fixed input size; size must be None, got {tuple(size)}")
    if size is None and symbols and dynamic_spatial:
        size = pick_sizes(cfg, len(symbols))[0]
    batch = EXPORT_BATCH if dynamic_batch else static_batch
    xs = component_inputs(model, batch, size, 0, discriminator)
    component = model.discriminator if discriminator else model.generator
    with torch.no_grad(), eval_mode(model):
        ref = as_tuple(component(*xs))
    if out_specs is not None:
        check_against_specs(out_specs, ref, infer_dims(in_specs, xs), source="PyTorch")
        output_names = [s.name for s in out_specs]
    else:
        output_names = ["logits"] if len(ref) == 1 else [f"logits_{i}" for i in range(len(ref))]
    input_names = [s.name for s in in_specs]
    output_names = unique_output_names(input_names, output_names, label)
    if len(in_specs) != len(xs):
        raise ExportError(f"{label}: sample_inputs gave {len(xs)} tensors, the spec declares {len(in_specs)} inputs")
    shapes, axes = _dynamic_shapes(in_specs, dynamic_batch, dynamic_spatial, cfg, batch_range)

    rewrites: list[Any] = []
    if optimize:
        from .rewrite import optimize_for_inference

        # checked in float64 (slow: no oneDNN), so on one small input; the rewrites are local, size does not matter
        check_size = pick_sizes(cfg, len(symbols))[1][0] if (symbols and dynamic_spatial) else size
        check_xs = component_inputs(model, 1, check_size, 1, discriminator)
        component, rewrites = optimize_for_inference(component, example_inputs=check_xs)
    fp32_layers: list[str] = []
    module: nn.Module = _Component(component, output_names)
    if dtype == "fp16":
        from .fp16 import HalfWrapper, to_half

        types, names = fp32_modules_for(cfg.architecture or model.model_name, model_family(model))
        half, fp32_layers = to_half(component, types, names)
        module = HalfWrapper(_Component(half, output_names), keep_io_types=keep_io_types)
        if not keep_io_types:
            xs = tuple(x.half() if x.is_floating_point() else x for x in xs)
    module.eval()
    dyn = (tuple(shapes),) if any(s is not None for s in shapes) else None  # forward(*xs): one varargs slot
    try:
        with torch.no_grad(), quiet_exporter():
            program = torch.onnx.export(
                module, xs, None, input_names=input_names, output_names=output_names, opset_version=opset,
                dynamo=True, dynamic_shapes=dyn, optimize=True, external_data=False, verbose=False, report=False)
    except Exception as e:  # the exporter raises many types; say which model and what
        raise ExportError(f"torch.onnx.export failed for {label} (opset {opset}, dtype {dtype}, dynamic batch "
                          f"{dynamic_batch}, dynamic spatial {dynamic_spatial}): {type(e).__name__}: "
                          f"{_clean(str(e))}") from e
    proto = program.model_proto
    got_opset = next((o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")), None)
    if got_opset != opset:  # torch's own down-conversion gave up: try onnx's version converter directly
        try:
            from onnx import version_converter

            proto = _drop_stale_attributes(version_converter.convert_version(proto, opset), opset)
            got_opset = next((o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")), None)
        except Exception as e:
            logger.debug("onnx version converter %s -> %s failed: %s", got_opset, opset, e)
    if got_opset != opset:
        raise UnsupportedOpsetError(f"{label}: asked for opset {opset}, the exporter could only produce opset "
                                    f"{got_opset} (its version conversion failed); use opset >= {got_opset}")
    if proto.functions:
        proto = onnx.inliner.inline_local_functions(proto)
    all_axes = _fix_io_dims(proto, in_specs, out_specs, axes, label)
    info = {"input_names": tuple(input_names), "output_names": tuple(output_names), "dynamic_axes": all_axes,
            "fp32_layers": tuple(fp32_layers), "trace_size": tuple(size) if size is not None else None,
            "in_specs": in_specs, "out_specs": out_specs, "rewrites": tuple(rewrites)}
    return proto, info


def _drop_stale_attributes(proto: Any, opset: int) -> Any:
    """onnx's version converter moves Reduce* ``axes`` back to an attribute below opset 18 but leaves the
    opset-18 ``noop_with_empty_axes`` attribute behind (invalid there): drop it where it holds the default 0."""
    import onnx

    for node in proto.graph.node:
        if node.domain not in ("", "ai.onnx") or not node.op_type.startswith("Reduce"):
            continue
        try:
            known = onnx.defs.get_schema(node.op_type, opset).attributes
        except onnx.defs.SchemaError:
            continue
        stale = [a for a in node.attribute if a.name not in known]
        for a in stale:
            if a.name == "noop_with_empty_axes" and a.i == 0:
                node.attribute.remove(a)
    return proto


def _clean(msg: str, limit: int = 2000) -> str:
    import re

    msg = re.sub(r"\x1b\[[0-9;]*m", "", msg).strip()
    summary = msg.find("## Exception summary")
    if summary >= 0:
        msg = msg[summary + len("## Exception summary"):].strip()
    return msg[:limit]


def _simplify(proto: Any, label: str) -> Any:
    try:
        import onnxslim
    except ImportError as e:
        from .errors import BackendUnavailableError

        raise BackendUnavailableError("simplify=True needs onnxslim: pip install onnxslim") from e
    try:
        with quiet_exporter():
            out = onnxslim.slim(proto)
    except Exception as e:
        raise ExportError(f"onnxslim failed on {label}: {type(e).__name__}: {e}") from e
    if out is None:
        raise ExportError(f"onnxslim returned nothing for {label}")
    return out


def to_onnx(
    model_or_name: Any,
    path: Any,
    *,
    opset: int | None = None,
    dynamic_batch: bool = True,
    dynamic_spatial: bool | None = None,
    dtype: str = "fp32",
    discriminator: bool = False,
    simplify: bool = False,
    validate: bool = True,
    tolerance: Tolerance | tuple[float, float] | float | None = None,
    pretrained: bool | None = None,
    force: bool = False,
    keep_io_types: bool = True,
    size: Sequence[int] | None = None,
    batch: int = 1,
    batch_range: tuple[int, int] = (1, MAX_BATCH),
    validation_batches: Sequence[int] = DEFAULT_BATCHES,
    validation_sizes: Sequence[Sequence[int]] | None = None,
    seed: int | None = None,
    overwrite: bool = True,
    optimize: bool = True,
) -> ExportResult:
    """Export a ganzoo generator (or its discriminator) to ONNX, validate it, and write it atomically.

    model_or_name: a GANModel (with its ``pretrained_cfg``) or a registry name (``"srgan_x4"``,
        ``"dcgan.mnist"``); names load published weights when the tag has them (``pretrained=None``), else
        build random ones (``pretrained=False`` forces random, True insists on weights).
    path: the ``.onnx`` file to write. Missing folders are created; nothing is left on failure.
    opset: default ``max(17, lowest)``; accepted: the lowest opset the model's component really exports at
        (:mod:`ganzoo.export.opsets`, raised to ``cfg.min_opset`` where higher) to the installed onnx's newest;
        others raise UnsupportedOpsetError before any work.
    dynamic_batch: symbolic batch dim ``B`` (else the graph is fixed at ``batch``).
    dynamic_spatial: symbolic H/W (default ``cfg.dynamic_spatial``; ignored for fixed-size models).
    dtype: "fp32", or "fp16" (weights and activations in half, normalisation layers kept fp32; with
        ``keep_io_types`` the graph still takes and returns fp32). fp16 needs ``cfg.half_precision`` unless
        ``force=True``.
    discriminator: export the discriminator instead (input: the generator's output; output ``logits``).
    simplify: run onnxslim on the graph (the result is validated like the rest).
    validate: compare with PyTorch in ONNX Runtime at ``validation_batches`` and, for dynamic H/W, two sizes
        (``validation_sizes``); tolerance defaults per family and dtype (:mod:`ganzoo.export.tolerances`).
    size: spatial size to trace at (e.g. ``(64, 64)``) and, for a static graph, its fixed size.
    optimize: apply the exact inference rewrites of :mod:`ganzoo.export.rewrite` before export (shared PReLU as
        LeakyRelu, which runtimes fuse into the conv; a small output conv after PixelShuffle moved before it with
        its output pixels packed into channels). The graph is still validated against the original model.

    Raises NotAGanzooModelError, InvalidExportPathError, UnsupportedOpsetError, HalfPrecisionNotSupportedError
    before any heavy work; ExportError when tracing fails (RewriteError when a rewrite does not reproduce the
    original); ShapeMismatchError, NonFiniteOutputError, ToleranceExceededError when validation fails. In every
    failure case no file is written.
    """
    import onnx

    t_start = time.perf_counter()
    timing: dict[str, float] = {}
    out_path = check_output_path(path, what="ONNX file", overwrite=overwrite)
    component = "discriminator" if discriminator else "generator"
    if dtype not in DTYPES:
        raise ValueError(f"dtype must be one of {DTYPES}, got {dtype!r}")
    if isinstance(model_or_name, str):
        from ganzoo.registry import resolve_pretrained_cfg

        cfg0 = resolve_pretrained_cfg(model_or_name)
        _check_opset(opset, cfg0, cfg0.name, component)
        _check_half(cfg0, dtype, force, cfg0.name)
    if not isinstance(batch, int) or batch < 1:
        raise ValueError(f"batch must be a positive int, got {batch!r}")
    if not (1 <= batch_range[0] <= batch_range[1]):
        raise ValueError(f"batch_range must be (min, max) with 1 <= min <= max, got {batch_range}")
    t0 = time.perf_counter()
    model = resolve_model(model_or_name, pretrained)
    timing["load_s"] = time.perf_counter() - t0
    cfg = model.pretrained_cfg
    label = model_label(model)
    opset = _check_opset(opset, cfg, label, component)
    _check_half(cfg, dtype, force, label)
    if discriminator and not hasattr(model, "discriminator"):
        raise ExportError(f"{label} has no discriminator")

    t0 = time.perf_counter()
    proto, info = export_onnx_proto(model, opset=opset, dynamic_batch=dynamic_batch, dynamic_spatial=dynamic_spatial,
                                    dtype=dtype, discriminator=discriminator, keep_io_types=keep_io_types, size=size,
                                    batch_range=batch_range, static_batch=batch, optimize=optimize)
    timing["export_s"] = time.perf_counter() - t0
    meta = _metadata(model, component, dtype, opset, info["in_specs"], info["out_specs"], info["output_names"],
                     info["fp32_layers"], keep_io_types, info["rewrites"])
    if simplify:
        t0 = time.perf_counter()
        proto = _simplify(proto, label)
        _fix_io_dims(proto, info["in_specs"], info["out_specs"], {}, label)
        timing["simplify_s"] = time.perf_counter() - t0
    del proto.metadata_props[:]
    for k, v in meta.items():
        proto.metadata_props.add(key=k, value=v)
    proto.doc_string = f"{label} {component} exported by ganzoo {meta['ganzoo.version']}"
    try:
        onnx.checker.check_model(proto, full_check=True)
    except Exception as e:
        raise ExportError(f"the exported graph of {label} fails onnx.checker: {e}") from e
    data = proto.SerializeToString()

    report = None
    if validate:
        t0 = time.perf_counter()
        report = validate_onnx(data, model, batches=validation_batches, sizes=validation_sizes, tolerance=tolerance,
                               discriminator=discriminator, seed=seed, raise_on_failure=True)
        timing["validate_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    atomic_write(out_path, data)
    timing["write_s"] = time.perf_counter() - t0
    timing["total_s"] = time.perf_counter() - t_start
    result = ExportResult(
        path=out_path, model=label, component=component, opset=opset, dtype=dtype,
        input_names=info["input_names"], output_names=info["output_names"], dynamic_axes=info["dynamic_axes"],
        validation=report, timing=timing, simplified=simplify,
        op_types=tuple(sorted({n.op_type for n in proto.graph.node})), fp32_layers=info["fp32_layers"],
        sha256=hashlib.sha256(data).hexdigest(), size_bytes=len(data), trace_size=info["trace_size"],
        rewrites=tuple(info["rewrites"]))
    logger.info("exported %s %s to %s (opset %d, %s, %.1f s)", label, component, out_path, opset, dtype,
                timing["total_s"])
    return result


def _check_half(cfg: Any, dtype: str, force: bool, label: str) -> None:
    if dtype == "fp16" and not cfg.half_precision and not force:
        raise HalfPrecisionNotSupportedError(
            f"{label} declares half_precision=False (its activations overflow or lose too much in fp16); "
            f"export it in fp32, or pass force=True (--force) to try fp16 anyway")
