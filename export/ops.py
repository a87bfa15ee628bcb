"""Operator checks that need no GPU: which ONNX ops a graph uses, and whether TensorRT's ONNX parser takes them.

The supported set below is data, written from the onnx-tensorrt operator support matrix (TensorRT 10): every
op ganzoo's exporters emit is in it, plus the common neighbours. Ops that parser rejects (Sequence*, String*,
*Integer, RoiAlign...) are simply absent. A few ops carry restrictions that matter for GANs; those are checked
per node. Custom-domain nodes (ATen fallbacks, onnxscript functions, ``com.microsoft`` contrib ops) are never
accepted: they mean the exporter could not lower something to standard ONNX.
"""
from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass
from typing import Any, Iterator

__all__ = [
    "TENSORRT_SUPPORTED_OPS",
    "TENSORRT_OPSET_RANGE",
    "GANZOO_OPS",
    "OpIssue",
    "op_counts",
    "list_op_types",
    "depth_to_space_nodes",
    "check_operators",
]

# TensorRT 10 ONNX parser: ops it imports (restrictions in _RESTRICTIONS / checked below).
TENSORRT_SUPPORTED_OPS: frozenset[str] = frozenset("""
Abs Acos Acosh Add And ArgMax ArgMin Asin Asinh Atan Atanh AveragePool BatchNormalization Cast CastLike Ceil Celu
Clip Concat Constant ConstantOfShape Conv ConvTranspose Cos Cosh CumSum DepthToSpace DequantizeLinear Div Dropout
Einsum Elu Equal Erf Exp Expand EyeLike Flatten Floor Gather GatherElements GatherND Gelu Gemm GlobalAveragePool
GlobalLpPool GlobalMaxPool Greater GreaterOrEqual GridSample GroupNormalization GRU HardSigmoid HardSwish Identity If
InstanceNormalization IsInf IsNaN LayerNormalization LeakyRelu Less LessOrEqual Log LogSoftmax Loop LpNormalization
LpPool LRN LSTM MatMul Max MaxPool Mean Min Mish Mod Mul Neg NonMaxSuppression NonZero Not OneHot Or Pad
ParametricSoftplus Pow PRelu QuantizeLinear RandomNormal RandomNormalLike RandomUniform RandomUniformLike Range
Reciprocal ReduceL1 ReduceL2 ReduceLogSum ReduceLogSumExp ReduceMax ReduceMean ReduceMin ReduceProd ReduceSum
ReduceSumSquare Relu Reshape Resize ReverseSequence RNN Round ScaledTanh Scatter ScatterElements ScatterND Selu
Shape Shrink Sigmoid Sign Sin Sinh Size Slice Softmax Softplus Softsign SpaceToDepth Split Sqrt Squeeze Sub Sum Tan
Tanh ThresholdedRelu Tile TopK Transpose Trilu Unsqueeze Upsample Where Xor
""".split())

# Opsets the TensorRT 10.0 parser documents (later 10.x parse newer ones); outside -> a warning-level issue.
TENSORRT_OPSET_RANGE = (9, 20)

# What ganzoo's generators and discriminators export to (checked in tests to stay inside the TensorRT set).
GANZOO_OPS: frozenset[str] = frozenset("""
Conv ConvTranspose BatchNormalization InstanceNormalization Relu LeakyRelu PRelu Elu Tanh Sigmoid Add Sub Mul Div
DepthToSpace Concat Reshape Flatten Squeeze Unsqueeze Gemm MatMul Cast Resize Pad Slice Transpose Expand Shape Gather
Constant ConstantOfShape Identity ReduceMean Sqrt Pow Clip Max Min Where Split Tile Softmax Neg Exp Log Sum
AveragePool MaxPool GlobalAveragePool Erf
""".split())

_RESTRICTIONS = {
    "Conv": "2D or 3D only; weights must be an initializer",
    "ConvTranspose": "2D or 3D only; weights must be an initializer",
    "InstanceNormalization": "scale and bias must be initializers; input rank 3 to 5",
    "Resize": "modes nearest/linear/cubic; no 'tf_crop_and_resize'",
    "DepthToSpace": "PixelShuffle must export as mode='CRD'",
}

_RESIZE_MODES = {b"nearest", b"linear", b"cubic"}
_RESIZE_COORD = {b"half_pixel", b"pytorch_half_pixel", b"tf_half_pixel_for_nn", b"asymmetric", b"align_corners"}


@dataclass(frozen=True)
class OpIssue:
    """One problem found in a graph: ``kind`` is "unsupported", "custom_domain", "restriction", "pixel_shuffle"
    or "opset"."""

    kind: str
    op_type: str
    node: str
    detail: str

    def __str__(self) -> str:
        return f"{self.kind}: {self.op_type} {self.node!r}: {self.detail}"


def _load(model: Any) -> Any:
    import onnx

    if isinstance(model, (str, os.PathLike)):
        return onnx.load(os.fspath(model))
    if isinstance(model, bytes):
        return onnx.load_from_string(model)
    if isinstance(model, onnx.ModelProto):
        return model
    raise TypeError(f"expected an ONNX path, bytes or onnx.ModelProto, got {type(model).__name__}")


def _nodes(graph: Any) -> Iterator[Any]:
    """Every node of ``graph`` and of its subgraphs (If/Loop/Scan bodies)."""
    import onnx

    for node in graph.node:
        yield node
        for attr in node.attribute:
            if attr.type == onnx.AttributeProto.GRAPH:
                yield from _nodes(attr.g)
            elif attr.type == onnx.AttributeProto.GRAPHS:
                for g in attr.graphs:
                    yield from _nodes(g)


def op_counts(model: Any) -> Counter:
    """``Counter`` of ``op_type`` (prefixed ``domain::`` outside the default domain) over the whole graph."""
    proto = _load(model)
    out: Counter = Counter()
    for n in _nodes(proto.graph):
        out[n.op_type if n.domain in ("", "ai.onnx") else f"{n.domain}::{n.op_type}"] += 1
    for f in proto.functions:  # local functions (inlined by ganzoo's exporter, but a foreign file may have them)
        for n in f.node:
            out[n.op_type if n.domain in ("", "ai.onnx") else f"{n.domain}::{n.op_type}"] += 1
    return out


def list_op_types(model: Any) -> list[str]:
    """Sorted distinct op types of an ONNX model (path, bytes or ModelProto)."""
    return sorted(op_counts(model))


def depth_to_space_nodes(model: Any) -> list[tuple[str, str, int]]:
    """(node name, mode, blocksize) of every DepthToSpace node; ONNX's default mode is "DCR"."""
    out = []
    for n in _nodes(_load(model).graph):
        if n.op_type == "DepthToSpace" and n.domain in ("", "ai.onnx"):
            attrs = {a.name: a for a in n.attribute}
            mode = attrs["mode"].s.decode() if "mode" in attrs else "DCR"
            out.append((n.name, mode, int(attrs["blocksize"].i) if "blocksize" in attrs else 0))
    return out


def check_operators(model: Any, *, target: str = "tensorrt", raise_on_error: bool = True,
                    pixel_shuffle_mode: str | None = "CRD") -> list[OpIssue]:
    """Check an ONNX graph's operators for ``target`` ("tensorrt", or "onnx" for the standard-domain checks only).

    Flags ops outside TENSORRT_SUPPORTED_OPS, custom-domain / ATen fallback nodes, local functions, Conv /
    ConvTranspose / InstanceNormalization whose weights are not initializers, unsupported Resize modes, an opset
    outside TENSORRT_OPSET_RANGE (reported, never fatal), and DepthToSpace nodes whose mode is not
    ``pixel_shuffle_mode`` (torch's PixelShuffle is "CRD"; None skips that check).
    Raises UnsupportedOperatorError listing every fatal issue when ``raise_on_error``; returns all issues.
    """
    from .errors import UnsupportedOperatorError

    if target not in ("tensorrt", "onnx"):
        raise ValueError(f"target must be 'tensorrt' or 'onnx', got {target!r}")
    proto = _load(model)
    issues: list[OpIssue] = []
    consts = {i.name for i in proto.graph.initializer}
    for n in proto.graph.node:
        if n.op_type == "Constant":
            consts.update(n.output)
    # Cast/Identity of a constant is folded by TensorRT's parser
    for n in proto.graph.node:
        if n.op_type in ("Cast", "Identity", "DequantizeLinear") and n.input and n.input[0] in consts:
            consts.update(n.output)
    for f in proto.functions:
        issues.append(OpIssue("custom_domain", f.name, f.domain, "local function: inline it before TensorRT"))
    for n in _nodes(proto.graph):
        name = n.name or (n.output[0] if n.output else "")
        if n.domain not in ("", "ai.onnx"):
            what = "ATen fallback" if n.op_type == "ATen" or "aten" in n.domain else "custom-domain op"
            issues.append(OpIssue("custom_domain", n.op_type, name, f"{what} in domain {n.domain!r}"))
            continue
        if n.op_type in ("ATen", "PythonOp"):
            issues.append(OpIssue("custom_domain", n.op_type, name, "PyTorch fallback op"))
            continue
        if target == "tensorrt" and n.op_type not in TENSORRT_SUPPORTED_OPS:
            issues.append(OpIssue("unsupported", n.op_type, name, "not in TensorRT's ONNX parser support matrix"))
            continue
        attrs = {a.name: a for a in n.attribute}
        if target == "tensorrt" and n.op_type in ("Conv", "ConvTranspose"):
            if len(n.input) > 1 and n.input[1] not in consts:
                issues.append(OpIssue("restriction", n.op_type, name, "weights are computed, not an initializer"))
            ks = attrs.get("kernel_shape")
            if ks is not None and len(ks.ints) not in (1, 2, 3):
                issues.append(OpIssue("restriction", n.op_type, name, f"{len(ks.ints)}-D kernel; TensorRT takes 1-3D"))
        if target == "tensorrt" and n.op_type == "InstanceNormalization":
            if any(i not in consts for i in n.input[1:3]):
                issues.append(OpIssue("restriction", n.op_type, name, "scale/bias are not initializers"))
        if target == "tensorrt" and n.op_type == "Resize":
            mode = attrs["mode"].s if "mode" in attrs else b"nearest"
            coord = attrs["coordinate_transformation_mode"].s if "coordinate_transformation_mode" in attrs else b"half_pixel"
            if mode not in _RESIZE_MODES or coord not in _RESIZE_COORD:
                issues.append(OpIssue("restriction", n.op_type, name,
                                      f"mode={mode.decode()}, coordinate_transformation_mode={coord.decode()}"))
        if n.op_type == "DepthToSpace" and pixel_shuffle_mode is not None:
            mode = attrs["mode"].s.decode() if "mode" in attrs else "DCR"
            if mode != pixel_shuffle_mode:
                issues.append(OpIssue("pixel_shuffle", n.op_type, name,
                                      f"mode={mode}, expected {pixel_shuffle_mode} (torch PixelShuffle order)"))
    opset = next((o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")), None)
    if target == "tensorrt" and opset is not None and not TENSORRT_OPSET_RANGE[0] <= opset <= TENSORRT_OPSET_RANGE[1]:
        issues.append(OpIssue("opset", "", "", f"opset {opset} outside the range TensorRT 10.0 documents "
                                                f"{TENSORRT_OPSET_RANGE}; newer TensorRT may still parse it"))
    fatal = [i for i in issues if i.kind != "opset"]
    if fatal and raise_on_error:
        raise UnsupportedOperatorError(
            f"{len(fatal)} operator issue(s) for {target}:\n  " + "\n  ".join(map(str, fatal)), issues=fatal)
    return issues
