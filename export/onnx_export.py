"""``to_onnx``: a ganzoo generator (or discriminator) to a validated ONNX file.

The graph comes from the torch.export-based exporter (``torch.onnx.export(..., dynamo=True)``), run on a copy of
the module with the exact inference rewrites of :mod:`ganzoo.export.rewrite` applied (``optimize=True``, checked
in float64 on a small input), with ``dynamic_shapes`` built from the model's TensorSpecs (``model.specs``): batch
``B`` and, for fully convolutional models, the spatial symbols (``H``, ``W``), as multiples of ``size_multiple``
where the config declares one. After export the graph's inputs and outputs are checked to really carry symbolic
dims where asked (shapes silently baked into a graph are a known exporter pitfall), renamed to the spec's symbols
(``B``, ``H``, ``H*4``), stamped with ganzoo metadata, checked with ``onnx.checker``, optionally simplified with
onnxslim, validated against the original PyTorch model with ONNX Runtime, and only then written (temporary file +
rename). The stages live in :mod:`ganzoo.export.pipeline`; this module is their public entry.
"""
from __future__ import annotations

from typing import Any, Sequence

from .opsets import default_opset, supported_opsets
from .pipeline import (
    DEFAULT_BATCHES,
    MAX_BATCH,
    ExportResult,
    plan_export,
    prepare,
    run_export,
    trace,
)
from .tolerances import Tolerance

__all__ = ["ExportResult", "to_onnx", "supported_opsets", "default_opset", "export_onnx_proto"]


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
    """Trace and convert to an in-memory ``onnx.ModelProto``: no metadata, no validation, nothing written.

    Unlike :func:`to_onnx` it lets the exporter try opsets below the measured minimum (that is how
    :mod:`ganzoo.export.opsets` is measured); the exporter then raises UnsupportedOpsetError itself.
    Returns (proto, info) with info keys: input_names, output_names, dynamic_axes, fp32_layers, trace_size,
    in_specs, out_specs, rewrites (the applied :class:`~ganzoo.export.rewrite.Rewrite` records).
    """
    plan = plan_export(model, None, opset=opset, dynamic_batch=dynamic_batch, dynamic_spatial=dynamic_spatial,
                       dtype=dtype, discriminator=discriminator, keep_io_types=keep_io_types, size=size,
                       batch=static_batch, batch_range=batch_range, optimize=optimize, validate=False,
                       force=True, enforce_min_opset=False)
    prep = prepare(plan)
    proto, axes = trace(plan, prep)
    info = {"input_names": prep.input_names, "output_names": prep.output_names, "dynamic_axes": axes,
            "fp32_layers": prep.fp32_layers, "trace_size": plan.trace_size, "in_specs": plan.in_specs,
            "out_specs": plan.out_specs, "rewrites": prep.rewrites}
    return proto, info


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

    model_or_name: a GANModel (its specs come from ``model.specs``; a ``pretrained_cfg`` is optional) or a
        registry name (``"srgan"``, ``"srresnet_x2"``, ``"dcgan.mnist"``); names load published weights when the
        tag has them (``pretrained=None``), else build random ones (``pretrained=False`` forces random, True
        insists on weights).
    path: the ``.onnx`` file to write. Missing folders are created; nothing is left on failure.
    opset: default ``max(17, lowest)``; accepted: the lowest opset the model's component really exports at
        (:mod:`ganzoo.export.opsets`) to the installed onnx's newest; others raise UnsupportedOpsetError before
        any work.
    dynamic_batch: symbolic batch dim ``B`` (else the graph is fixed at ``batch``).
    dynamic_spatial: symbolic H/W (default ``model.specs.dynamic_spatial``; ignored for fixed-size models).
    dtype: "fp32", or "fp16" (weights and activations in half, normalisation layers kept fp32; with
        ``keep_io_types`` the graph still takes and returns fp32). fp16 needs the tag's ``half_precision``
        unless ``force=True``.
    discriminator: export the discriminator instead (input: the generator's output; output ``logits``).
    simplify: run onnxslim on the graph (the result is validated like the rest).
    validate: compare with PyTorch in ONNX Runtime at ``validation_batches`` and, for dynamic H/W, two sizes
        (``validation_sizes``); tolerance defaults per family and dtype (:mod:`ganzoo.export.tolerances`).
    size: spatial size to trace at (e.g. ``(64, 64)``) and, for a static graph, its fixed size.
    optimize: apply the exact inference rewrites of :mod:`ganzoo.export.rewrite` before export (shared PReLU as
        LeakyRelu, which runtimes fuse into the conv; a small output conv after PixelShuffle moved before it with
        its output pixels packed into channels). The graph is still validated against the original model.

    Raises NotAGanzooModelError, InvalidExportPathError, UnsupportedOpsetError, HalfPrecisionNotSupportedError,
    ValueError before any heavy work (:func:`ganzoo.export.pipeline.plan_export`); ExportError when tracing fails
    (RewriteError when a rewrite does not reproduce the original); ShapeMismatchError, NonFiniteOutputError,
    ToleranceExceededError when validation fails. In every failure case no file is written.
    """
    plan = plan_export(model_or_name, path, opset=opset, dynamic_batch=dynamic_batch,
                       dynamic_spatial=dynamic_spatial, dtype=dtype, discriminator=discriminator, simplify=simplify,
                       validate=validate, tolerance=tolerance, pretrained=pretrained, force=force,
                       keep_io_types=keep_io_types, size=size, batch=batch, batch_range=batch_range,
                       validation_batches=validation_batches, validation_sizes=validation_sizes, seed=seed,
                       overwrite=overwrite, optimize=optimize)
    return run_export(plan)[0]
