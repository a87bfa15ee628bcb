"""The export pipeline: every argument resolved once into an :class:`ExportPlan`, then one function per stage.

    plan = plan_export("srgan", "srgan.onnx")      # every check, the model built or loaded once
    prep = prepare(plan)                            # trace inputs, reference run, rewrites, fp16 copy
    proto, axes = trace(plan, prep)                 # torch.onnx.export (dynamo) at the plan's opset
    proto, data = finalize(plan, prep, proto)       # optional onnxslim, metadata, onnx.checker, bytes
    report = check_numerics(plan, data)             # ONNX Runtime vs PyTorch (when plan.validate)
    write(plan, data)                               # temporary file + rename

:func:`run_export` runs them in that order. ``to_onnx`` is ``run_export(plan_export(...))``; ``to_tensorrt`` and
``to_triton_repo`` build their plan the same way and take the graph bytes. A plan's checks all run before any
heavy work (no trace, no export): the output path, dtype, opset (:mod:`ganzoo.export.opsets`), half-precision
support, batch arguments, the trace size against the model's spatial symbols, and the discriminator.

Tensor specs come from the model (``model.specs``, derived from its config), so a model exports with or without
a ``pretrained_cfg``; the tag's metadata (name, license, half support) is used where there is one.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import math
import re
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator, Sequence

import torch
from torch import nn

from ganzoo.specs import (
    BATCH_SYMBOL,
    DimExpr,
    ModelSpecs,
    TensorSpec,
    expected_shape,
    infer_dims,
    parse_dim,
    spatial_symbols,
)
from ganzoo.utils import atomic_write, check_output_file, eval_mode, flatten_outputs, short_dtype_name

from .errors import (
    ExportError,
    HalfPrecisionNotSupportedError,
    InvalidExportPathError,
    NotAGanzooModelError,
    ShapeMismatchError,
    UnsupportedOpsetError,
)
from .opsets import resolve_opset

logger = logging.getLogger("ganzoo.export")

__all__ = ["ExportPlan", "Prepared", "ExportResult", "plan_export", "prepare", "trace", "finalize", "check_numerics",
           "write", "run_export", "resolve_model", "model_label", "model_family", "component_specs",
           "component_inputs", "sample_inputs", "pick_sizes", "check_outputs", "quiet_exporter",
           "unique_output_names", "DTYPES", "DEFAULT_BATCHES", "EXPORT_BATCH", "MAX_BATCH", "MAX_SPATIAL"]

EXPORT_BATCH = 2  # example batch for tracing: torch.export specialises sizes 0 and 1
MAX_BATCH = 4096
MAX_SPATIAL = 16384
DEFAULT_BATCHES = (1, 3)  # batch sizes validation runs where the graph's batch is dynamic
DTYPES = ("fp32", "fp16")  # the precisions export writes (short names of ganzoo.utils.SHORT_DTYPE_NAMES)


# ---------------------------------------------------------------------------------------------------- models


def resolve_model(model_or_name: Any, pretrained: bool | None = None) -> Any:
    """A GANModel from a model (returned as is) or a registry name (``"dcgan"``, ``"dcgan.mnist"``).

    For a name, ``pretrained=None`` loads the tag's weights when it has published ones (``ganzoo.load``) and
    builds random weights otherwise (``ganzoo.create``); True insists on weights (NoPretrainedWeightsError),
    False always builds random ones. Anything else raises NotAGanzooModelError.
    """
    if isinstance(model_or_name, str):
        from ganzoo.registry import resolve_pretrained_cfg

        return _build_named(resolve_pretrained_cfg(model_or_name), pretrained)
    _check_ganzoo_model(model_or_name)
    return model_or_name


def _check_ganzoo_model(model: Any) -> None:
    from ganzoo.models.base import GANModel

    if not isinstance(model, GANModel):
        raise NotAGanzooModelError(
            f"expected a ganzoo GANModel or a registered model name (see ganzoo.list_models()), "
            f"got {type(model).__module__}.{type(model).__qualname__}")


def _build_named(cfg: Any, pretrained: bool | None) -> Any:
    """``ganzoo.load`` or ``ganzoo.create`` of a resolved tag (see :func:`resolve_model`)."""
    import ganzoo
    from ganzoo.errors import NoPretrainedWeightsError

    if pretrained and not cfg.has_weights:
        raise NoPretrainedWeightsError(f"{cfg.name} has no published weights; pass pretrained=False for random ones")
    use_weights = cfg.has_weights if pretrained is None else bool(pretrained)
    return ganzoo.load(cfg.name) if use_weights else ganzoo.create(cfg.name)


def model_label(model: Any) -> str:
    """``arch.tag`` of a model built from a tag, else its model name (or class name)."""
    cfg = model.pretrained_cfg
    if cfg is not None and cfg.architecture:
        return cfg.name
    return model.model_name or type(model).__name__


def _architecture(model: Any) -> str | None:
    cfg = model.pretrained_cfg
    return (cfg.architecture if cfg is not None else None) or model.model_name or None


def model_family(model: Any) -> str | None:
    """The registry family of the model's architecture; None for a model outside the registry."""
    arch = _architecture(model)
    if not arch:
        return None
    from ganzoo.errors import UnknownModelError
    from ganzoo.registry import get_entry

    try:
        return get_entry(arch).family
    except UnknownModelError:  # an unregistered model: no family-specific tolerances
        return None


def component_specs(model: Any,
                    discriminator: bool = False) -> tuple[tuple[TensorSpec, ...], tuple[TensorSpec, ...] | None]:
    """(input specs, output specs or None) of the generator, or of the discriminator (which takes the
    generator's outputs; its output shapes are not declared)."""
    specs = model.specs
    if not discriminator:
        return tuple(specs.inputs), tuple(specs.outputs)
    return tuple(specs.outputs), None


def sample_inputs(model: Any, batch: int, size: Sequence[int] | None,
                  seed: int | None = None) -> tuple[torch.Tensor, ...]:
    """``model.sample_inputs(batch, size=...)`` with a seeded generator (fresh when ``seed`` is None); size is
    omitted when None. Returns the generator's inputs as a tuple."""
    g = torch.Generator().manual_seed(seed) if seed is not None else None
    kwargs: dict[str, Any] = {"generator": g}
    if size is not None:
        kwargs["size"] = tuple(size)
    out = model.sample_inputs(batch, **kwargs)
    return tuple(out) if isinstance(out, (tuple, list)) else (out,)


def component_inputs(model: Any, batch: int, size: Sequence[int] | None, seed: int | None,
                     discriminator: bool = False) -> tuple[torch.Tensor, ...]:
    """Random inputs for the generator, or generated samples (the generator's outputs) for the discriminator."""
    xs = sample_inputs(model, batch, size, seed)
    if not discriminator:
        return xs
    with torch.no_grad(), eval_mode(model):
        return tuple(t.detach() for t in flatten_outputs(model.generator(*xs)))


def pick_sizes(specs: ModelSpecs, n_symbols: int) -> tuple[tuple[int, ...], list[tuple[int, ...]]]:
    """(size to trace the export at, two different sizes to validate at) for a model with ``n_symbols`` spatial
    dims, honouring ``specs.min_size`` and ``specs.size_multiple``. Sizes are small (about 16-32) to keep it fast,
    never square where it can be avoided, and the trace size differs from both validation sizes."""
    m = max(int(specs.size_multiple or 1), 1)
    lo = max(int(specs.min_size or 1), 1)
    a = int(math.ceil(max(lo, 8) / m) * m)
    step = m if m >= 4 else 4 * m  # distinct sizes that stay multiples of m
    if n_symbols == 1:
        return (a + step,), [(a,), (a + 2 * step,)]
    trace_size = tuple(a + step * k for k in (1, 2, 0, 3)[:n_symbols])
    v1 = tuple(a + step * k for k in (0, 1, 2, 3)[:n_symbols])
    v2 = tuple(a + step * k for k in (3, 0, 1, 2)[:n_symbols])
    return trace_size, [v1, v2]


def check_outputs(specs: Sequence[TensorSpec], tensors: Sequence[torch.Tensor], dims: dict[str, int],
                  what: str = "output", source: str = "PyTorch") -> None:
    """Raise ShapeMismatchError unless each tensor has its spec's shape resolved with ``dims``."""
    if len(specs) != len(tensors):
        raise ShapeMismatchError(f"{source} returned {len(tensors)} {what}(s), the model's spec declares "
                                 f"{len(specs)} ({', '.join(s.name for s in specs)})")
    for spec, t in zip(specs, tensors):
        want = expected_shape(spec, dims, what, error=ShapeMismatchError)
        if tuple(t.shape) != want:
            raise ShapeMismatchError(f"{what} {spec.name!r}: expected shape {want} (spec {tuple(spec.shape)} with "
                                     f"{dims}), {source} gave {tuple(t.shape)}")


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


# ------------------------------------------------------------------------------------------------------ plan


@dataclass(frozen=True)
class ExportPlan:
    """Everything an export will do, resolved and checked once by :func:`plan_export`.

    ``path`` is None when the caller takes the graph bytes itself (Triton, measuring opsets). ``trace_size`` is
    the spatial size traced at (None: the model's own size). ``load_s``: seconds spent building the model.
    """

    model: Any
    label: str
    component: str
    specs: ModelSpecs
    in_specs: tuple[TensorSpec, ...]
    out_specs: tuple[TensorSpec, ...] | None
    path: Path | None
    opset: int
    dtype: str
    dynamic_batch: bool
    dynamic_spatial: bool
    trace_size: tuple[int, ...] | None
    batch: int
    batch_range: tuple[int, int]
    keep_io_types: bool
    optimize: bool
    simplify: bool
    validate: bool
    tolerance: Any
    validation_batches: tuple[int, ...]
    validation_sizes: tuple[tuple[int, ...], ...] | None
    seed: int | None
    load_s: float = 0.0

    @property
    def discriminator(self) -> bool:
        return self.component == "discriminator"


def _check_dtype(dtype: Any) -> str:
    """``"fp32"`` / ``"fp16"`` (any alias of :data:`ganzoo.utils.FLOAT_DTYPES` for them) -> the short name."""
    try:
        short = short_dtype_name(dtype)
    except (ValueError, TypeError, KeyError):
        short = None
    if short not in DTYPES:
        raise ValueError(f"dtype must be one of {DTYPES}, got {dtype!r}")
    return short


def _positive_int(v: Any, what: str) -> int:
    if isinstance(v, bool) or not isinstance(v, int) or v < 1:
        raise ValueError(f"{what} must be a positive int, got {v!r}")
    return v


def _check_batches(batch: Any, batch_range: Any, validation_batches: Any) -> tuple[tuple[int, int], tuple[int, ...]]:
    _positive_int(batch, "batch")
    try:
        lo, hi = (int(v) for v in batch_range)
    except (TypeError, ValueError):
        raise ValueError(f"batch_range must be (min, max) with 1 <= min <= max, got {batch_range!r}") from None
    if not 1 <= lo <= hi:
        raise ValueError(f"batch_range must be (min, max) with 1 <= min <= max, got {tuple(batch_range)}")
    vb = tuple(validation_batches)
    if not vb or any(isinstance(b, bool) or not isinstance(b, int) or b < 1 for b in vb):
        raise ValueError(f"batches must be positive ints, got {list(vb)}")
    return (lo, hi), vb


def _check_half(dtype: str, half_precision: bool | None, force: bool, label: str) -> None:
    if dtype != "fp16" or force or half_precision:
        return
    if half_precision is None:
        raise HalfPrecisionNotSupportedError(
            f"{label} has no pretrained_cfg, so nothing says its activations stay in fp16 range; export it in fp32, "
            f"or pass force=True (--force) to try fp16 anyway")
    raise HalfPrecisionNotSupportedError(
        f"{label} declares half_precision=False (its activations overflow or lose too much in fp16); "
        f"export it in fp32, or pass force=True (--force) to try fp16 anyway")


def _check_size(size: Any, specs: ModelSpecs, label: str) -> tuple[int, ...] | None:
    if size is None:
        return None
    symbols = specs.spatial_symbols
    try:
        size_t = tuple(size)
    except TypeError:
        raise ValueError(f"size: expected a sequence of ints, got {size!r}") from None
    if not symbols:
        raise ValueError(f"{label} has a fixed input size; size must be None, got {size_t}")
    if len(size_t) != len(symbols):
        raise ValueError(f"size: expected {len(symbols)} values ({', '.join(symbols)}), got {size_t}")
    m, lo = max(int(specs.size_multiple or 1), 1), max(int(specs.min_size or 1), 1)
    for v in size_t:
        if isinstance(v, bool) or not isinstance(v, int) or v < lo or v % m:
            raise ValueError(f"size: {label} takes spatial sizes that are ints >= {lo}"
                             + (f" and multiples of {m}" if m > 1 else "") + f", got {size_t}")
    return size_t


def plan_export(
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
    tolerance: Any = None,
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
    what: str = "ONNX file",
    enforce_min_opset: bool = True,
) -> ExportPlan:
    """Check every argument of an export and build (or take) the model, once. The arguments are those of
    :func:`ganzoo.export.to_onnx`; ``path=None`` plans an export whose bytes the caller writes, ``what`` names
    the file in path errors, ``enforce_min_opset=False`` lets the exporter try opsets below the measured minimum
    (for measuring :mod:`ganzoo.export.opsets`).

    A name's tag is resolved once: the path, dtype, batch, opset and half-precision checks run on its metadata
    before the model is built; the model is built once (``ganzoo.load`` with published weights, else
    ``ganzoo.create``); the checks that need its specs (discriminator, trace size) follow. Nothing is traced.
    Raises InvalidExportPathError, ValueError, UnsupportedOpsetError, HalfPrecisionNotSupportedError,
    NotAGanzooModelError, UnknownModelError / NoPretrainedWeightsError, ExportError (no discriminator).
    """
    out_path = None if path is None else check_output_file(path, what=what, overwrite=overwrite,
                                                           error=InvalidExportPathError)
    dtype = _check_dtype(dtype)
    batch_range, validation_batches = _check_batches(batch, batch_range, validation_batches)
    component = "discriminator" if discriminator else "generator"
    named_cfg = None
    if isinstance(model_or_name, str):
        from ganzoo.registry import resolve_pretrained_cfg

        named_cfg = resolve_pretrained_cfg(model_or_name)  # UnknownModelError / UnknownTagError
        arch, label, half = named_cfg.architecture, named_cfg.name, named_cfg.half_precision
    else:
        _check_ganzoo_model(model_or_name)
        cfg = model_or_name.pretrained_cfg
        arch, label = _architecture(model_or_name), model_label(model_or_name)
        half = cfg.half_precision if cfg is not None else None
    opset = resolve_opset(opset, arch, component, label, enforce_minimum=enforce_min_opset)
    _check_half(dtype, half, force, label)

    # the model, built once for a name; the checks that need its specs follow (still before any trace)
    t0 = time.perf_counter()
    model = _build_named(named_cfg, pretrained) if named_cfg is not None else model_or_name
    load_s = time.perf_counter() - t0
    if discriminator and not isinstance(getattr(model, "discriminator", None), nn.Module):
        raise ExportError(f"{label} has no discriminator")
    specs = model.specs
    if not specs.inputs or not specs.outputs:
        raise ExportError(f"{label} declares no input/output TensorSpecs (model.specs)")
    in_specs, out_specs = component_specs(model, discriminator)
    trace_size = _check_size(size, specs, label)
    symbols = specs.spatial_symbols
    if dynamic_spatial is None:
        dyn_spatial = bool(specs.dynamic_spatial) and not discriminator
    else:
        dyn_spatial = bool(dynamic_spatial)
    if not spatial_symbols(in_specs if not discriminator else specs.inputs):
        dyn_spatial = False
    if trace_size is None and symbols and dyn_spatial:
        trace_size = pick_sizes(specs, len(symbols))[0]
    vsizes = tuple(tuple(int(v) for v in s) for s in validation_sizes) if validation_sizes else None
    return ExportPlan(
        model=model, label=label, component=component, specs=specs, in_specs=in_specs, out_specs=out_specs,
        path=out_path, opset=opset, dtype=dtype, dynamic_batch=bool(dynamic_batch), dynamic_spatial=dyn_spatial,
        trace_size=trace_size, batch=batch, batch_range=batch_range, keep_io_types=bool(keep_io_types),
        optimize=bool(optimize), simplify=bool(simplify), validate=bool(validate), tolerance=tolerance,
        validation_batches=validation_batches, validation_sizes=vsizes, seed=seed, load_s=load_s)


# --------------------------------------------------------------------------------------------------- prepare


class _Component(nn.Module):
    """The generator or discriminator as a module returning a flat tuple (ONNX outputs in spec order)."""

    def __init__(self, module: nn.Module, names: Sequence[str]):
        super().__init__()
        self.module = module
        self.names = tuple(names)

    def forward(self, *xs: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return flatten_outputs(self.module(*xs), self.names)


@dataclass
class Prepared:
    """What :func:`prepare` made for tracing: the module to export, its example inputs and the I/O naming."""

    module: nn.Module
    inputs: tuple[torch.Tensor, ...]
    dynamic_shapes: tuple[dict[int, Any] | None, ...]
    dynamic_axes: dict[str, dict[int, str]]
    input_names: tuple[str, ...]
    output_names: tuple[str, ...]
    fp32_layers: tuple[str, ...] = ()
    rewrites: tuple[Any, ...] = ()


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


def _dynamic_shapes(plan: ExportPlan) -> tuple[tuple[dict[int, Any] | None, ...], dict[str, dict[int, str]]]:
    """torch.export dynamic_shapes for the positional inputs, and the dynamic axes by input name."""
    from torch.export import Dim

    dims: dict[str, Any] = {}
    m = max(int(plan.specs.size_multiple or 1), 1)
    lo = max(int(plan.specs.min_size or 1), 1)
    shapes: list[dict[int, Any] | None] = []
    axes: dict[str, dict[int, str]] = {}
    for spec in plan.in_specs:
        entry: dict[int, Any] = {}
        for i, d in enumerate(spec.shape):
            p = parse_dim(d)
            if isinstance(p, int):
                continue
            is_batch = p.symbol == BATCH_SYMBOL
            if (is_batch and not plan.dynamic_batch) or (not is_batch and not plan.dynamic_spatial):
                continue
            if p.symbol not in dims:
                if is_batch:
                    dims[p.symbol] = Dim(p.symbol, min=plan.batch_range[0], max=plan.batch_range[1])
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


def prepare(plan: ExportPlan) -> Prepared:
    """Stage 1: example inputs at the trace size, a PyTorch run checked against the output specs, the output
    names, the dynamic shapes, the exact inference rewrites (``plan.optimize``, checked in float64) and, for
    fp16, the half copy with overflow-prone layers kept in fp32. The model itself is not modified."""
    model, label = plan.model, plan.label + (" discriminator" if plan.discriminator else "")
    batch = EXPORT_BATCH if plan.dynamic_batch else plan.batch
    xs = component_inputs(model, batch, plan.trace_size, 0, plan.discriminator)
    if len(xs) != len(plan.in_specs):
        raise ExportError(f"{label}: sample_inputs gave {len(xs)} tensors, the spec declares "
                          f"{len(plan.in_specs)} inputs")
    component = model.discriminator if plan.discriminator else model.generator
    spec_names = [s.name for s in plan.out_specs] if plan.out_specs is not None else []
    with torch.no_grad(), eval_mode(model):
        ref = flatten_outputs(component(*xs), spec_names)
    if plan.out_specs is not None:
        dims = infer_dims(plan.in_specs, [x.shape for x in xs], error=ShapeMismatchError)
        check_outputs(plan.out_specs, ref, dims, source="PyTorch")
        output_names = list(spec_names)
    else:
        output_names = ["logits"] if len(ref) == 1 else [f"logits_{i}" for i in range(len(ref))]
    input_names = [s.name for s in plan.in_specs]
    output_names = unique_output_names(input_names, output_names, label)
    shapes, axes = _dynamic_shapes(plan)

    rewrites: list[Any] = []
    if plan.optimize:
        from .rewrite import optimize_for_inference

        # checked in float64 (slow: no oneDNN), so on one small input; the rewrites are local, size does not matter
        symbols = plan.specs.spatial_symbols
        check_size = pick_sizes(plan.specs, len(symbols))[1][0] if (symbols and plan.dynamic_spatial) \
            else plan.trace_size
        check_xs = component_inputs(model, 1, check_size, 1, plan.discriminator)
        component, rewrites = optimize_for_inference(component, example_inputs=check_xs)
    fp32_layers: list[str] = []
    module: nn.Module = _Component(component, spec_names)
    if plan.dtype == "fp16":
        from .fp16 import HalfWrapper, to_half
        from .tolerances import fp32_modules_for

        types, names = fp32_modules_for(_architecture(model), model_family(model))
        half, fp32_layers = to_half(component, types, names)
        module = HalfWrapper(_Component(half, spec_names), keep_io_types=plan.keep_io_types)
        if not plan.keep_io_types:
            xs = tuple(x.half() if x.is_floating_point() else x for x in xs)
    module.eval()
    return Prepared(module=module, inputs=xs, dynamic_shapes=shapes, dynamic_axes=axes,
                    input_names=tuple(input_names), output_names=tuple(output_names),
                    fp32_layers=tuple(fp32_layers), rewrites=tuple(rewrites))


# ----------------------------------------------------------------------------------------------------- trace


def _opset_of(proto: Any) -> int | None:
    return next((o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")), None)


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
        for a in [a for a in node.attribute if a.name not in known]:
            if a.name == "noop_with_empty_axes" and a.i == 0:
                node.attribute.remove(a)
    return proto


def _clean(msg: str, limit: int = 2000) -> str:
    msg = re.sub(r"\x1b\[[0-9;]*m", "", msg).strip()
    summary = msg.find("## Exception summary")
    if summary >= 0:
        msg = msg[summary + len("## Exception summary"):].strip()
    return msg[:limit]


def _fix_io_dims(proto: Any, plan: ExportPlan, axes: dict[str, dict[int, str]],
                 label: str) -> dict[str, dict[int, str]]:
    """Check every requested dynamic axis is symbolic in the graph (not baked in), then rename the symbolic
    I/O dims to the spec's strings. Returns the dynamic axes of inputs and outputs, by tensor name."""
    rename: dict[str, str] = {}
    all_axes: dict[str, dict[int, str]] = {}
    dynamic_symbols = {parse_dim(d).symbol for a in axes.values() for d in a.values()}  # type: ignore[union-attr]
    for vi, spec in zip(proto.graph.input, plan.in_specs):
        dims = vi.type.tensor_type.shape.dim
        for i, want in axes.get(spec.name, {}).items():
            if not dims[i].HasField("dim_param"):
                raise ExportError(
                    f"{label}: input {spec.name!r} dim {i} ({want}) was baked into the graph as "
                    f"{dims[i].dim_value} instead of staying dynamic; the model's forward specialises on it")
            rename.setdefault(dims[i].dim_param, want)
            dims[i].dim_param = want
            all_axes.setdefault(spec.name, {})[i] = want
    out_specs = plan.out_specs
    for k, vi in enumerate(proto.graph.output):
        spec = out_specs[k] if out_specs is not None and k < len(out_specs) else None
        for i, d in enumerate(vi.type.tensor_type.shape.dim):
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


def trace(plan: ExportPlan, prep: Prepared) -> tuple[Any, dict[str, dict[int, str]]]:
    """Stage 2: ``torch.onnx.export(..., dynamo=True)`` of the prepared module at ``plan.opset`` (onnx's version
    converter where torch's own down-conversion gives up), local functions inlined, the requested dynamic axes
    checked and renamed to the spec's symbols. A model optimised by ``ganzoo.optimize`` exports its fused
    ``torch.ops.ganzoo.*`` ops as their standard-op decompositions (:mod:`ganzoo.kernels.onnx`).
    Returns (onnx.ModelProto, dynamic axes by tensor name)."""
    import onnx

    label = plan.label + (" discriminator" if plan.discriminator else "")
    dyn = (tuple(prep.dynamic_shapes),) if any(s is not None for s in prep.dynamic_shapes) else None  # *xs: one slot
    extra: dict[str, Any] = {}
    if "ganzoo.kernels" in sys.modules:  # a ganzoo.optimize'd model: its fused ops export as standard-op graphs
        from ganzoo.kernels.onnx import needs_translation, translation_table

        if needs_translation(prep.module):
            extra["custom_translation_table"] = translation_table()
    try:
        with torch.no_grad(), quiet_exporter():
            program = torch.onnx.export(
                prep.module, prep.inputs, None, input_names=list(prep.input_names),
                output_names=list(prep.output_names), opset_version=plan.opset, dynamo=True, dynamic_shapes=dyn,
                optimize=True, external_data=False, verbose=False, report=False, **extra)
    except Exception as e:  # the exporter raises many types; say which model and what
        raise ExportError(f"torch.onnx.export failed for {label} (opset {plan.opset}, dtype {plan.dtype}, dynamic "
                          f"batch {plan.dynamic_batch}, dynamic spatial {plan.dynamic_spatial}): "
                          f"{type(e).__name__}: {_clean(str(e))}") from e
    proto = program.model_proto
    got = _opset_of(proto)
    if got != plan.opset:  # torch's own down-conversion gave up: try onnx's version converter directly
        try:
            from onnx import version_converter

            proto = _drop_stale_attributes(version_converter.convert_version(proto, plan.opset), plan.opset)
            got = _opset_of(proto)
        except Exception as e:  # noqa: BLE001 - reported as the opset error below
            logger.debug("onnx version converter %s -> %s failed: %s", got, plan.opset, e)
    if got != plan.opset:
        raise UnsupportedOpsetError(f"{label}: asked for opset {plan.opset}, the exporter could only produce opset "
                                    f"{got} (its version conversion failed); use opset >= {got}")
    if proto.functions:
        proto = onnx.inliner.inline_local_functions(proto)
    return proto, _fix_io_dims(proto, plan, prep.dynamic_axes, label)


# -------------------------------------------------------------------------------------------------- finalize


def _metadata(plan: ExportPlan, prep: Prepared) -> dict[str, str]:
    import ganzoo

    model, cfg = plan.model, plan.model.pretrained_cfg

    def spec_dict(s: TensorSpec) -> dict[str, Any]:
        d = s.to_dict()
        if plan.dtype == "fp16" and not plan.keep_io_types and d.get("dtype") == "float32":
            d["dtype"] = "float16"
        return d

    outs = [spec_dict(s) for s in plan.out_specs] if plan.out_specs is not None else [
        {"name": n} for n in prep.output_names]
    for d, n in zip(outs, prep.output_names):
        d["onnx_name"] = n  # differs from the spec name only where it collided with an input name
    ranges = {s.name: (list(s.range) if s.range else None)
              for s in list(plan.in_specs) + list(plan.out_specs or [])}
    return {
        "ganzoo.model": _architecture(model) or "",
        "ganzoo.tag": (cfg.tag if cfg is not None else "") or "",
        "ganzoo.version": ganzoo.__version__,
        "ganzoo.component": plan.component,
        "ganzoo.precision": plan.dtype,
        "ganzoo.opset": str(plan.opset),
        "ganzoo.inputs": json.dumps([spec_dict(s) for s in plan.in_specs]),
        "ganzoo.outputs": json.dumps(outs),
        "ganzoo.value_ranges": json.dumps(ranges),
        "ganzoo.fp32_layers": json.dumps(list(prep.fp32_layers)),
        "ganzoo.rewrites": json.dumps([r.to_dict() for r in prep.rewrites]),
        "ganzoo.license": (cfg.license if cfg is not None else "") or "",
        "ganzoo.paper_url": (cfg.paper_url if cfg is not None else "") or "",
    }


def _simplify(proto: Any, label: str) -> Any:
    try:
        import onnxslim
    except ImportError as e:
        from .errors import BackendUnavailableError

        raise BackendUnavailableError("simplify=True needs onnxslim: pip install onnxslim") from e
    try:
        with quiet_exporter():
            out = onnxslim.slim(proto)
    except Exception as e:  # noqa: BLE001 - onnxslim raises many types
        raise ExportError(f"onnxslim failed on {label}: {type(e).__name__}: {e}") from e
    if out is None:
        raise ExportError(f"onnxslim returned nothing for {label}")
    return out


def finalize(plan: ExportPlan, prep: Prepared, proto: Any) -> tuple[Any, bytes]:
    """Stage 3: optional onnxslim (``plan.simplify``, dims renamed again), the ganzoo metadata, ``onnx.checker``
    (full check). Returns (the final onnx.ModelProto, its serialized bytes). ExportError when the checker
    refuses it."""
    import onnx

    if plan.simplify:
        proto = _simplify(proto, plan.label)
        _fix_io_dims(proto, plan, {}, plan.label)
    meta = _metadata(plan, prep)
    del proto.metadata_props[:]
    for k, v in meta.items():
        proto.metadata_props.add(key=k, value=v)
    proto.doc_string = f"{plan.label} {plan.component} exported by ganzoo {meta['ganzoo.version']}"
    try:
        onnx.checker.check_model(proto, full_check=True)
    except Exception as e:  # noqa: BLE001 - the checker raises ValidationError and others
        raise ExportError(f"the exported graph of {plan.label} fails onnx.checker: {e}") from e
    return proto, proto.SerializeToString()


# -------------------------------------------------------------------------------------------- validate, write


def check_numerics(plan: ExportPlan, data: bytes) -> Any:
    """Stage 4: the graph in ONNX Runtime against the PyTorch model (:func:`ganzoo.export.validate_onnx`) at the
    plan's validation batches and sizes; raises on the first failure. None when ``plan.validate`` is False."""
    if not plan.validate:
        return None
    from .validate import validate_onnx

    return validate_onnx(data, plan.model, batches=plan.validation_batches, sizes=plan.validation_sizes,
                         tolerance=plan.tolerance, discriminator=plan.discriminator, seed=plan.seed,
                         raise_on_failure=True)


def write(plan: ExportPlan, data: bytes) -> Path:
    """Stage 5: ``data`` to ``plan.path`` atomically (temporary file + rename; nothing left on failure)."""
    if plan.path is None:
        raise ValueError("this plan has no output path (path=None): the caller writes the graph")
    return atomic_write(plan.path, data, error=InvalidExportPathError)


@dataclass
class ExportResult:
    """What :func:`ganzoo.export.to_onnx` wrote (``path``; None where the caller wrote the bytes) and how it
    checked it."""

    path: Path | None
    model: str
    component: str
    opset: int
    dtype: str
    input_names: tuple[str, ...]
    output_names: tuple[str, ...]
    dynamic_axes: dict[str, dict[int, str]]
    validation: Any  # ValidationReport or None
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
            "path": str(self.path) if self.path is not None else None, "model": self.model,
            "component": self.component, "opset": self.opset, "dtype": self.dtype,
            "input_names": list(self.input_names), "output_names": list(self.output_names),
            "dynamic_axes": {k: {str(i): v for i, v in d.items()} for k, d in self.dynamic_axes.items()},
            "validation": self.validation.to_dict() if self.validation else None, "timing": self.timing,
            "simplified": self.simplified, "op_types": list(self.op_types), "fp32_layers": list(self.fp32_layers),
            "sha256": self.sha256, "size_bytes": self.size_bytes, "rewrites": [r.to_dict() for r in self.rewrites],
        }


def run_export(plan: ExportPlan) -> tuple[ExportResult, bytes]:
    """Run every stage of ``plan``: prepare, trace, finalize, check_numerics and (when ``plan.path`` is set)
    write. Returns the result and the serialized graph. Nothing is written unless every stage passed."""
    t_start = time.perf_counter()
    timing: dict[str, float] = {"load_s": plan.load_s}
    t0 = time.perf_counter()
    prep = prepare(plan)
    proto, axes = trace(plan, prep)
    timing["export_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    proto, data = finalize(plan, prep, proto)
    if plan.simplify:
        timing["simplify_s"] = time.perf_counter() - t0
    report = None
    if plan.validate:
        t0 = time.perf_counter()
        report = check_numerics(plan, data)
        timing["validate_s"] = time.perf_counter() - t0
    if plan.path is not None:
        t0 = time.perf_counter()
        write(plan, data)
        timing["write_s"] = time.perf_counter() - t0
    timing["total_s"] = time.perf_counter() - t_start + plan.load_s
    op_types = tuple(sorted({n.op_type for n in proto.graph.node}))
    result = ExportResult(
        path=plan.path, model=plan.label, component=plan.component, opset=plan.opset, dtype=plan.dtype,
        input_names=prep.input_names, output_names=prep.output_names, dynamic_axes=axes, validation=report,
        timing=timing, simplified=plan.simplify, op_types=op_types, fp32_layers=prep.fp32_layers,
        sha256=hashlib.sha256(data).hexdigest(), size_bytes=len(data), trace_size=plan.trace_size,
        rewrites=prep.rewrites)
    logger.info("exported %s %s%s (opset %d, %s, %.1f s)", plan.label, plan.component,
                f" to {plan.path}" if plan.path is not None else "", plan.opset, plan.dtype, timing["total_s"])
    return result, data
