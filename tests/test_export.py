"""ganzoo.export: ONNX export of every registered generator, validation against PyTorch, typed errors.

Every registered name is exported once per session as ``to_onnx(ganzoo.create(name), path)`` (its default tag,
random weights, fp32) and the same files are checked for numerics (ONNX Runtime vs PyTorch at batch 1 and 3, two
spatial sizes where H/W are dynamic), symbolic dims, metadata and TensorRT-parser operators. Small models (a narrow dcgan_32) serve the error tests.
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch
from torch import nn

import ganzoo
from ganzoo.export import (
    ExportError,
    HalfPrecisionNotSupportedError,
    InvalidExportPathError,
    NonFiniteOutputError,
    NotAGanzooModelError,
    ShapeMismatchError,
    Tolerance,
    ToleranceExceededError,
    UnsupportedOpsetError,
    check_operators,
    to_onnx,
    validate_onnx,
)
from ganzoo.export.onnx_export import export_onnx_proto
from ganzoo.export.opsets import FLOOR_OPSET, default_opset, measured_min_opset, supported_opsets
from ganzoo.export.ops import TENSORRT_SUPPORTED_OPS, depth_to_space_nodes, list_op_types
from ganzoo.specs import parse_dim

GENERATORS = ganzoo.list_models()


def _default_name(name: str) -> str:
    info = ganzoo.model_info(name)
    return f"{info.name}.{info.tag}"


def _cfg(name: str):
    return ganzoo.model_info(name).pretrained_cfg


def _specs(name: str):
    return ganzoo.model_info(name).specs


def tiny(seed: int = 0):
    """A narrow dcgan_32 (a few thousand parameters): fast to export."""
    torch.manual_seed(seed)
    return ganzoo.create("dcgan_32.mnist", ngf=8, ndf=8).eval()


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir()) if folder.exists() else []


@pytest.fixture(scope="module")
def out_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("onnx")


_CACHE: dict[tuple[str, str], object] = {}


def exported(name: str, out_dir: Path, dtype: str = "fp32"):
    """``to_onnx(ganzoo.create(name), ...)`` (the bare name: its default tag, random weights), once per session
    and dtype, with the default validation; returns the ExportResult."""
    key = (name, dtype)
    if key not in _CACHE:
        torch.manual_seed(0)
        _CACHE[key] = to_onnx(ganzoo.create(name), out_dir / f"{name}.{dtype}.onnx", dtype=dtype)
    return _CACHE[key]


# ------------------------------------------------------------------------------------- every generator


@pytest.mark.slow
@pytest.mark.parametrize("name", GENERATORS)
def test_generator_exports_and_validates(name, out_dir):
    res = exported(name, out_dir)
    cfg = _specs(name)
    rep = res.validation
    assert res.path.is_file() and rep is not None and rep.passed
    batches = sorted({c.batch for c in rep.cases})
    assert batches == [1, 3]
    sizes = {c.size for c in rep.cases}
    if cfg.dynamic_spatial:
        assert len(sizes) == 2 and None not in sizes, sizes
    else:
        assert sizes == {None}
    for c in rep.cases:
        assert c.passed and np.isfinite(c.max_abs_err)
        assert abs(c.got - c.expected) <= c.atol + c.allowance + c.rtol * abs(c.expected) + 1e-12
    # the file on disk is the checked graph, and no temporary file is left next to it
    onnx.checker.check_model(onnx.load(str(res.path)), full_check=True)
    assert not [p for p in _leftovers(out_dir) if p.endswith(".tmp")]
    assert res.opset == default_opset(name) == max(17, measured_min_opset(name))
    assert res.timing["export_s"] > 0 and res.timing["validate_s"] > 0


@pytest.mark.slow
@pytest.mark.parametrize("name", GENERATORS)
def test_every_registered_name_exports_from_create(name, out_dir):
    """``to_onnx(ganzoo.create(name), path)`` works for every name ``ganzoo.list_models()`` gives: the model
    carries its default tag, the graph passed ONNX Runtime validation and is on disk."""
    res = exported(name, out_dir)
    assert res.model == _default_name(name) and res.component == "generator" and res.path.is_file()
    assert res.validation is not None and res.validation.passed and res.validation.backend == "onnxruntime"
    meta = {p.key: p.value for p in onnx.load(str(res.path)).metadata_props}
    assert (meta["ganzoo.model"], meta["ganzoo.tag"]) == (name, ganzoo.model_info(name).tag)


@pytest.mark.slow
@pytest.mark.parametrize("name", GENERATORS)
def test_graph_carries_declared_dynamic_axes(name, out_dir):
    res = exported(name, out_dir)
    cfg = _specs(name)
    proto = onnx.load(str(res.path))
    graph_in = [i for i in proto.graph.input]
    assert [i.name for i in graph_in] == [s.name for s in cfg.inputs]
    assert len(proto.graph.output) == len(cfg.outputs)
    for vi, spec in list(zip(graph_in, cfg.inputs)) + list(zip(proto.graph.output, cfg.outputs)):
        dims = vi.type.tensor_type.shape.dim
        assert len(dims) == len(spec.shape), (vi.name, spec.shape)
        for d, want in zip(dims, spec.shape):
            p = parse_dim(want)
            dynamic = not isinstance(p, int) and (p.symbol == "B" or cfg.dynamic_spatial)
            if dynamic:
                assert d.HasField("dim_param") and d.dim_param == str(want), (vi.name, d, want)
            else:
                assert d.HasField("dim_value") and d.dim_value == (p if isinstance(p, int) else d.dim_value), (
                    vi.name, d, want)
    assert res.dynamic_axes[cfg.inputs[0].name][0] == "B"


@pytest.mark.slow
@pytest.mark.parametrize("name", GENERATORS)
def test_metadata_and_tensorrt_operators(name, out_dir):
    res = exported(name, out_dir)
    cfg = _specs(name)
    proto = onnx.load(str(res.path))
    meta = {p.key: p.value for p in proto.metadata_props}
    assert meta["ganzoo.model"] == name and meta["ganzoo.tag"] == _cfg(name).tag
    assert meta["ganzoo.version"] == ganzoo.__version__ and meta["ganzoo.precision"] == "fp32"
    ranges = json.loads(meta["ganzoo.value_ranges"])
    for s in list(cfg.inputs) + list(cfg.outputs):
        assert ranges[s.name] == (list(s.range) if s.range else None)
    assert [o["name"] for o in json.loads(meta["ganzoo.outputs"])] == [s.name for s in cfg.outputs]
    # TensorRT's parser takes every op; nothing fell back to ATen or a custom domain
    issues = check_operators(res.path, target="tensorrt")
    assert [i for i in issues if i.kind != "opset"] == []
    ops = list_op_types(res.path)
    assert set(ops) <= TENSORRT_SUPPORTED_OPS and not any("::" in o for o in ops)
    assert not proto.functions


def test_export_by_name_with_published_weights(tmp_path):
    """A name whose tag has weights loads them (pretrained=None), so the graph holds the published weights."""
    assert _cfg("dcgan").has_weights, "dcgan's default tag lost its published weights: this test needs a tag with them"
    res = to_onnx("dcgan", tmp_path / "d.onnx", batch=1, validation_batches=(2,))
    model = ganzoo.load("dcgan")  # the default tag, dcgan.digiface
    w = model.generator.main[-2].weight.detach().numpy()  # the last conv: no BatchNorm folded into it
    inits = [onnx.numpy_helper.to_array(i) for i in onnx.load(str(res.path)).graph.initializer]
    assert any(a.shape == w.shape and np.allclose(a, w) for a in inits)
    assert res.validation.passed and {c.batch for c in res.validation.cases} == {2}


# ------------------------------------------------------------------------------------------------ fp16


def _half_variants() -> list[str]:
    """The smallest half-capable model of each family (fp16 validation is the same code for every variant)."""
    best: dict[str, tuple[int, str]] = {}
    for n in GENERATORS:
        info = ganzoo.model_info(n)
        if not info.pretrained_cfg.half_precision:
            continue
        with torch.device("meta"):
            size = sum(p.numel() for p in ganzoo.create(f"{n}.{info.tag}").generator.parameters())
        if info.family not in best or size < best[info.family][0]:
            best[info.family] = (size, n)
    return sorted(n for _, n in best.values())


@pytest.mark.slow
@pytest.mark.parametrize("name", _half_variants())
def test_fp16_export_validates(name, out_dir):
    res = exported(name, out_dir, "fp16")
    rep = res.validation
    assert rep.passed and rep.dtype == "fp16"
    assert rep.tolerance.atol > Tolerance(1e-4).atol  # the looser fp16 budget was applied
    proto = onnx.load(str(res.path))
    types = {i.data_type for i in proto.graph.initializer if i.dims and np.prod(i.dims) > 16}
    assert onnx.TensorProto.FLOAT16 in types  # weights are half...
    for vi in list(proto.graph.input) + list(proto.graph.output):  # ...the interface stays fp32 / int
        assert vi.type.tensor_type.elem_type in (onnx.TensorProto.FLOAT, onnx.TensorProto.INT64)
    assert {p.key: p.value for p in proto.metadata_props}["ganzoo.precision"] == "fp16"
    if any(isinstance(m, nn.modules.instancenorm._InstanceNorm) for m in ganzoo.create(_default_name(name)).modules()):
        assert res.fp32_layers  # instance norms stay fp32 behind casts
        norm_inputs = [n.input[0] for n in proto.graph.node if n.op_type == "InstanceNormalization"]
        casts_to_fp32 = {n.output[0] for n in proto.graph.node if n.op_type == "Cast"
                         and any(a.name == "to" and a.i == onnx.TensorProto.FLOAT for a in n.attribute)}
        assert norm_inputs and all(i in casts_to_fp32 for i in norm_inputs)


def test_fp16_keeps_instance_norm_in_fp32_and_survives_large_activations(tmp_path):
    """Activations whose variance overflows fp16 (x ~ 1e3 -> x^2 ~ 1e6 > 65504) still normalise correctly."""
    from ganzoo.export.fp16 import HalfWrapper, to_half

    net = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.InstanceNorm2d(8, affine=True), nn.Tanh())
    with torch.no_grad():
        net[0].weight.mul_(300.0)
    half, kept = to_half(net, ["InstanceNorm2d"])
    assert kept == ["1"] and net[0].weight.dtype == torch.float32  # the original is untouched
    assert half[0].weight.dtype == torch.float16 and half[1].weight.dtype == torch.float32
    x = torch.rand(2, 3, 12, 12) * 4
    with torch.no_grad():
        ref = net(x)
        assert float(net[0](x).abs().max()) > 300  # the variance really is beyond fp16's range
        got = HalfWrapper(half)(x)
    assert got.dtype == torch.float32 and torch.isfinite(got).all()
    torch.testing.assert_close(got, ref, atol=2e-2, rtol=0)


def test_fp16_with_half_interface(tmp_path):
    res = to_onnx(tiny(), tmp_path / "h.onnx", dtype="fp16", keep_io_types=False)
    proto = onnx.load(str(res.path))
    assert proto.graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT16
    assert proto.graph.output[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT16
    assert res.validation.passed and res.validation.dtype == "fp16"
    assert json.loads({p.key: p.value for p in proto.metadata_props}["ganzoo.inputs"])[0]["dtype"] == "float16"


def test_fp16_refused_for_models_without_half_support(tmp_path):
    no_half = [n for n in GENERATORS if not _cfg(n).half_precision]
    assert no_half, "no registered model declares half_precision=False (srgan_x2.paper did)"
    name = no_half[0]
    with pytest.raises(HalfPrecisionNotSupportedError, match=r"half_precision=False.*force=True"):
        to_onnx(name, tmp_path / "h.onnx", dtype="fp16", pretrained=False)
    assert _leftovers(tmp_path) == []


def test_unknown_dtype(tmp_path):
    with pytest.raises(ValueError, match=r"dtype must be one of \('fp32', 'fp16'\), got 'int8'"):
        to_onnx(tiny(), tmp_path / "x.onnx", dtype="int8")


# ----------------------------------------------------------------------------------- PixelShuffle / ops


def test_pixel_shuffle_exports_as_depth_to_space_crd(tmp_path):
    import onnxruntime as ort

    net = nn.Sequential(nn.Conv2d(3, 12, 3, padding=1), nn.PixelShuffle(2)).eval()
    x = torch.randn(2, 3, 5, 7)
    from torch.export import Dim

    prog = torch.onnx.export(net, (x,), None, input_names=["x"], output_names=["y"], dynamo=True, opset_version=17,
                             dynamic_shapes=({0: Dim("B"), 2: Dim("H"), 3: Dim("W")},), verbose=False)
    proto = prog.model_proto
    assert depth_to_space_nodes(proto) == [(depth_to_space_nodes(proto)[0][0], "CRD", 2)]
    assert check_operators(proto) == []
    sess = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    x2 = torch.randn(3, 3, 6, 4)
    np.testing.assert_allclose(sess.run(None, {"x": x2.numpy()})[0], net(x2).detach().numpy(), atol=1e-5)
    # the same node in DCR order would be a different permutation: the check must notice
    for n in proto.graph.node:
        if n.op_type == "DepthToSpace":
            for a in n.attribute:
                if a.name == "mode":
                    a.s = b"DCR"
    assert [i.kind for i in check_operators(proto, raise_on_error=False)] == ["pixel_shuffle"]
    assert not np.allclose(
        ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"]).run(
            None, {"x": x2.numpy()})[0], net(x2).detach().numpy(), atol=1e-3)


@pytest.mark.slow
@pytest.mark.parametrize("name", [n for n in GENERATORS if n.startswith(("srgan", "srresnet"))])
def test_sr_upsamplers_are_crd_depth_to_space(name, out_dir):
    res = exported(name, out_dir)
    nodes = depth_to_space_nodes(res.path)
    scale = _specs(name).scale or int(str(_specs(name).outputs[0].shape[2]).split("*")[1])
    assert len(nodes) == int(np.log2(scale)) and all(m == "CRD" and b == 2 for _, m, b in nodes)


def test_operator_check_flags_aten_custom_and_unsupported_ops():
    from onnx import TensorProto, helper

    from ganzoo.export import UnsupportedOperatorError

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4, 2, 2])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    w = helper.make_tensor("w", TensorProto.FLOAT, [4, 4, 1, 1], [0.0] * 16)
    nodes = [
        helper.make_node("ATen", ["x"], ["a"], name="aten_fallback", domain="org.pytorch.aten", operator="foo"),
        helper.make_node("Unique", ["a"], ["u"], name="uniq"),
        helper.make_node("Conv", ["u", "computed_w"], ["c"], name="conv_dynamic_w"),
        helper.make_node("Identity", ["w"], ["computed_w0"], name="idw"),
        helper.make_node("Relu", ["computed_w0"], ["computed_w"], name="relu_w"),
        helper.make_node("DepthToSpace", ["c"], ["y"], name="d2s", blocksize=2),  # default mode DCR
    ]
    model = helper.make_model(helper.make_graph(nodes, "g", [x], [y], [w]),
                              opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("org.pytorch.aten", 1)])
    issues = check_operators(model, raise_on_error=False)
    kinds = {(i.kind, i.node) for i in issues}
    assert kinds == {("custom_domain", "aten_fallback"), ("unsupported", "uniq"),
                     ("restriction", "conv_dynamic_w"), ("pixel_shuffle", "d2s")}
    with pytest.raises(UnsupportedOperatorError, match=r"4 operator issue\(s\) for tensorrt:(.|\n)*ATen fallback"):
        check_operators(model)
    assert "Unique" not in TENSORRT_SUPPORTED_OPS and "org.pytorch.aten::ATen" in list_op_types(model)


# ------------------------------------------------------------------------------------- export options


def test_static_batch_and_simplify_and_opset(tmp_path):
    res = to_onnx(tiny(), tmp_path / "s.onnx", dynamic_batch=False, batch=2, simplify=True, opset=18)
    proto = onnx.load(str(res.path))
    assert proto.opset_import[0].version == 18 and res.simplified
    assert proto.graph.input[0].type.tensor_type.shape.dim[0].dim_value == 2
    assert res.dynamic_axes == {} and {c.batch for c in res.validation.cases} == {2}


def test_discriminator_export(tmp_path):
    res = to_onnx(tiny(), tmp_path / "d.onnx", discriminator=True)
    assert res.component == "discriminator" and res.output_names == ("logits",)
    proto = onnx.load(str(res.path))
    assert [d.dim_param or d.dim_value for d in proto.graph.input[0].type.tensor_type.shape.dim] == ["B", 1, 32, 32]
    assert [d.dim_param for d in proto.graph.output[0].type.tensor_type.shape.dim] == ["B"]
    assert {p.key: p.value for p in proto.metadata_props}["ganzoo.component"] == "discriminator"
    assert res.validation.passed and {c.shape for c in res.validation.cases} == {(1,), (3,)}


@pytest.mark.slow
def test_static_spatial_size(tmp_path):
    sr = [n for n in GENERATORS if _specs(n).dynamic_spatial and _specs(n).outputs[0].shape[2] != "H"]
    assert sr, "no fully convolutional model with a scale factor registered (srgan, srresnet were)"
    name = min(sr, key=lambda n: sum(p.numel() for p in ganzoo.create(_default_name(n)).generator.parameters()))
    res = to_onnx(name, tmp_path / "fixed.onnx", pretrained=False, dynamic_spatial=False, size=(6, 10),
                  validation_batches=(1,))
    proto = onnx.load(str(res.path))
    dims = [d.dim_param or d.dim_value for d in proto.graph.input[0].type.tensor_type.shape.dim]
    assert dims == ["B", 3, 6, 10]
    out = [d.dim_param or d.dim_value for d in proto.graph.output[0].type.tensor_type.shape.dim]
    scale = _specs(name).outputs[0].resolve(B=1, H=1, W=1)[2]
    assert out == ["B", 3, 6 * scale, 10 * scale] and {c.size for c in res.validation.cases} == {(6, 10)}


def test_validate_onnx_on_its_own_reproducible_with_seed(tmp_path):
    model = tiny()
    res = to_onnx(model, tmp_path / "t.onnx", validate=False)
    assert res.validation is None and "validate_s" not in res.timing
    a = validate_onnx(res.path, model, batches=(2, 5), seed=123)
    b = validate_onnx(str(res.path), model, batches=(2, 5), seed=123)
    assert a.passed and [c.batch for c in a.cases] == [2, 5] and a.seed == 123
    assert [c.max_abs_err for c in a.cases] == [c.max_abs_err for c in b.cases]
    assert a.to_dict()["passed"] is True and json.loads(a.to_json())["cases"][0]["batch"] == 2


# ----------------------------------------------------------------------------------------- bad inputs


@pytest.fixture
def no_export(monkeypatch):
    """Fail the test if the exporter runs: argument errors must come before any heavy work."""

    def boom(*a, **k):
        raise AssertionError("torch.onnx.export ran although the arguments were invalid")

    monkeypatch.setattr(torch.onnx, "export", boom)


def test_path_is_a_directory(tmp_path, no_export):
    with pytest.raises(InvalidExportPathError, match=r"expected a file path, got the directory"):
        to_onnx(tiny(), tmp_path)
    with pytest.raises(InvalidExportPathError, match=r"expected a file path"):
        to_onnx(tiny(), str(tmp_path / "sub") + "/")
    assert _leftovers(tmp_path) == []


def test_parent_is_a_file(tmp_path, no_export):
    f = tmp_path / "file.txt"
    f.write_text("not a folder")
    with pytest.raises(InvalidExportPathError, match=r"file\.txt is a file, not a folder"):
        to_onnx(tiny(), f / "out.onnx")
    with pytest.raises(InvalidExportPathError, match=r"is a file, not a folder"):
        to_onnx(tiny(), f / "deeper" / "out.onnx")
    assert _leftovers(tmp_path) == ["file.txt"] and f.read_text() == "not a folder"


def test_unwritable_folder(tmp_path, no_export, monkeypatch):
    # root ignores chmod, so simulate a folder the OS refuses to write to
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda p, mode, **k: False if Path(p) == tmp_path else real_access(p, mode, **k))
    with pytest.raises(InvalidExportPathError, match=r"cannot write under .*permission denied"):
        to_onnx(tiny(), tmp_path / "x.onnx")


def test_bad_path_type(no_export):
    with pytest.raises(InvalidExportPathError, match=r"expected a file path \(str or os.PathLike\), got 3"):
        to_onnx(tiny(), 3)


@pytest.mark.parametrize("opset,match", [
    (99, r"opset 99 is not supported for dcgan_32\.mnist: expected 14 <= opset <= \d+"),
    (12, r"opset 12 is not supported .*expected 14 <= opset"),
    ("17", r"opset must be an int, got '17'"),
])
def test_unknown_opset(tmp_path, no_export, opset, match):
    with pytest.raises(UnsupportedOpsetError, match=match):
        to_onnx(tiny(), tmp_path / "x.onnx", opset=opset)
    with pytest.raises(UnsupportedOpsetError, match=match.replace("dcgan_32", "dcgan_32")):
        to_onnx("dcgan_32.mnist", tmp_path / "x.onnx", opset=opset, pretrained=False)
    assert _leftovers(tmp_path) == []


def test_opset_below_model_minimum(tmp_path, no_export):
    """The measured minimum (ganzoo.export.opsets) is what export enforces: a generator that needs more than the
    others (15 for drgan, drgan_multi and tgan) is refused the opset below before any work, naming its minimum."""
    name = max(GENERATORS, key=lambda n: (measured_min_opset(n), n))
    lo = measured_min_opset(name)
    assert lo > FLOOR_OPSET and lo > min(measured_min_opset(n) for n in GENERATORS)
    assert supported_opsets(name)[0] == supported_opsets(_cfg(name))[0] == lo
    with pytest.raises(UnsupportedOpsetError, match=rf"opset {lo - 1} is not supported for {name}\.\w+: expected "
                                                    rf"{lo} <= opset .*the generator exports at opset {lo} and above"):
        to_onnx(name, tmp_path / "x.onnx", opset=lo - 1, pretrained=False)
    assert _leftovers(tmp_path) == []


def test_not_a_ganzoo_model(tmp_path, no_export):
    with pytest.raises(NotAGanzooModelError, match=r"expected a ganzoo GANModel or a registered model name.*"
                                                    r"torch\.nn\.modules\.container\.Sequential"):
        to_onnx(nn.Sequential(nn.Linear(2, 2)), tmp_path / "x.onnx")
    with pytest.raises(TypeError, match=r"got builtins\.int"):
        to_onnx(5, tmp_path / "x.onnx")
    with pytest.raises(ganzoo.UnknownModelError, match=r"unknown model 'dcgann'.*Did you mean 'dcgan'"):
        to_onnx("dcgann", tmp_path / "x.onnx")
    m = tiny()
    m.discriminator = None
    with pytest.raises(ExportError, match=r"dcgan_32\.mnist has no discriminator"):
        to_onnx(m, tmp_path / "x.onnx", discriminator=True)
    assert _leftovers(tmp_path) == []


def test_model_without_pretrained_cfg_exports(tmp_path):
    """Specs come from the model's config, so a model built without a tag's metadata exports too; only fp16 needs
    ``force``, since nothing declares its half-precision support."""
    m = tiny()
    m.pretrained_cfg = None
    res = to_onnx(m, tmp_path / "x.onnx", validation_batches=(2,))
    assert res.model == "dcgan_32" and res.validation.passed and res.input_names == ("z",)
    meta = {p.key: p.value for p in onnx.load(str(res.path)).metadata_props}
    assert meta["ganzoo.model"] == "dcgan_32" and meta["ganzoo.tag"] == ""
    with pytest.raises(HalfPrecisionNotSupportedError, match=r"dcgan_32 has no pretrained_cfg.*force=True"):
        to_onnx(m, tmp_path / "h.onnx", dtype="fp16")
    assert to_onnx(m, tmp_path / "h.onnx", dtype="fp16", force=True, validate=False).dtype == "fp16"


def test_size_is_checked_against_the_spatial_symbols_before_any_work(tmp_path, no_export):
    with pytest.raises(ValueError, match=r"dcgan_32\.mnist has a fixed input size; size must be None, got \(8, 8\)"):
        to_onnx(tiny(), tmp_path / "x.onnx", size=(8, 8))
    torch.manual_seed(0)
    sr = ganzoo.create("srresnet_x2.paper", num_blocks=1, width=8)
    with pytest.raises(ValueError, match=r"size: expected 2 values \(H, W\), got \(8,\)"):
        to_onnx(sr, tmp_path / "x.onnx", size=(8,))
    with pytest.raises(ValueError, match=r"size: pggan_inpaint\.pool256 takes spatial sizes that are ints >= 32 "
                                         r"and multiples of 4, got \(32, 30\)"):
        to_onnx("pggan_inpaint", tmp_path / "x.onnx", size=(32, 30), pretrained=False)
    with pytest.raises(ValueError, match=r"batch_range must be \(min, max\) with 1 <= min <= max, got \(4, 2\)"):
        to_onnx(tiny(), tmp_path / "x.onnx", batch_range=(4, 2))
    assert _leftovers(tmp_path) == []


def test_dtype_aliases_of_the_one_dtype_table(tmp_path):
    res = to_onnx(tiny(), tmp_path / "h.onnx", dtype="float16", validate=False)
    assert res.dtype == "fp16" and {p.key: p.value for p in onnx.load(str(res.path)).metadata_props}[
        "ganzoo.precision"] == "fp16"


def test_pretrained_true_without_weights(tmp_path):
    no_w = [n for n in GENERATORS if not _cfg(n).has_weights]
    assert no_w, "every registered model has published weights (srgan_x2.paper had none)"
    with pytest.raises(ganzoo.NoPretrainedWeightsError, match=r"has no published weights"):
        to_onnx(no_w[0], tmp_path / "x.onnx", pretrained=True)


# ------------------------------------------------------------------------- validation failures are typed


def test_tolerance_exceeded_on_perturbed_model_leaves_no_file(tmp_path):
    model = tiny(1)
    good = to_onnx(model, tmp_path / "good.onnx", validate=False).path
    with torch.no_grad():  # the graph keeps the old weights; PyTorch now differs
        model.generator.main[-2].weight.mul_(1.5)
    with pytest.raises(ToleranceExceededError, match=r"output 'image' at batch 1: onnxruntime differs from PyTorch "
                                                     r"beyond tolerance .*max abs err .*max rel err .*worst at index "
                                                     r"\(0, 0, \d+, \d+\)") as ei:
        validate_onnx(good, model, tolerance=Tolerance(1e-4, 1e-4), seed=0)
    e = ei.value
    assert e.max_abs_err > 1e-4 and e.max_rel_err > 0 and len(e.index) == 4 and e.batch == 1
    assert abs(e.got - e.expected) > e.atol + e.rtol * abs(e.expected)  # the reported element does violate it
    # the report form records the failure without raising
    rep = validate_onnx(good, model, seed=0, raise_on_failure=False)
    assert not rep.passed and {c.error for c in rep.cases} == {"tolerance"}
    # and a full export of an inconsistent pair writes nothing (the sentinel file stays as it was)
    target = tmp_path / "out.onnx"
    target.write_bytes(b"previous")
    with pytest.raises(ToleranceExceededError):
        to_onnx(model, target, tolerance=Tolerance(0.0, 0.0, noise=0.0))
    assert target.read_bytes() == b"previous"
    assert sorted(_leftovers(tmp_path)) == ["good.onnx", "out.onnx"]


def test_tolerance_exceeded_on_perturbed_graph(tmp_path):
    model = tiny(2)
    proto, _ = export_onnx_proto(model, opset=17)
    big = max(proto.graph.initializer, key=lambda i: np.prod(i.dims))
    arr = onnx.numpy_helper.to_array(big).copy()
    arr.flat[0] += 5.0
    big.CopyFrom(onnx.numpy_helper.from_array(arr, big.name))
    with pytest.raises(ToleranceExceededError) as ei:
        validate_onnx(proto, model, seed=1)
    assert ei.value.max_abs_err > ei.value.atol and ei.value.output == "image"


def _nan_graph(model):
    from onnx import helper, numpy_helper

    proto, _ = export_onnx_proto(model, opset=17)
    out = proto.graph.output[0]
    for n in proto.graph.node:
        for i, o in enumerate(n.output):
            if o == out.name:
                n.output[i] = "pre"
    proto.graph.initializer.append(numpy_helper.from_array(np.zeros((1,), np.float32), "zero"))
    proto.graph.node.append(helper.make_node("Div", ["pre", "zero"], [out.name], name="poison"))
    return proto


def test_non_finite_output_of_the_graph(tmp_path):
    model = tiny(3)
    with pytest.raises(NonFiniteOutputError, match=r"onnxruntime produced \d+ NaN/Inf values \(first at index "
                                                   r"\(0, 0, 0, 0\)") as ei:
        validate_onnx(_nan_graph(model), model, seed=0)
    assert ei.value.source == "onnxruntime" and ei.value.count > 0 and ei.value.output == "image"


def test_non_finite_output_of_pytorch(tmp_path):
    model = tiny(4)
    with torch.no_grad():
        model.generator.main[0].weight[0, 0, 0, 0] = float("nan")
    with pytest.raises(NonFiniteOutputError, match=r"PyTorch itself produced \d+ NaN/Inf") as ei:
        to_onnx(model, tmp_path / "nan.onnx")
    assert ei.value.source == "pytorch"
    assert _leftovers(tmp_path) == []


def test_shape_mismatch_between_graph_and_model(tmp_path):
    small = to_onnx(tiny(), tmp_path / "g32.onnx", validate=False).path
    torch.manual_seed(0)
    bigger = ganzoo.create("dcgan.mnist", ngf=8, ndf=8)  # 64x64 output, same input
    with pytest.raises(ShapeMismatchError, match=r"output 'image' at batch 1: expected shape \(1, 1, 64, 64\) "
                                                 r"\(PyTorch\), onnxruntime gave \(1, 1, 32, 32\)"):
        validate_onnx(small, bigger)


def test_declared_spec_must_match_model_output(tmp_path, monkeypatch):
    import dataclasses

    from ganzoo.specs import TensorSpec

    m = tiny()
    wrong = dataclasses.replace(m.specs, outputs=(TensorSpec("image", ("B", 1, 64, 64)),))
    monkeypatch.setattr(type(m), "specs", property(lambda self: wrong))  # a config whose specs() lies
    with pytest.raises(ShapeMismatchError, match=r"output 'image': expected shape \(2, 1, 64, 64\).*PyTorch gave "
                                                 r"\(2, 1, 32, 32\)"):
        to_onnx(m, tmp_path / "x.onnx")
    assert _leftovers(tmp_path) == []


def test_import_is_light():
    import subprocess
    import sys

    code = ("import sys, ganzoo, ganzoo.export, ganzoo.export.cli, ganzoo.cli; ganzoo.cli.build_parser(); "
            "heavy = [m for m in ('onnx', 'onnxruntime', 'tensorrt', 'onnxslim', 'tritonclient') if m in sys.modules];"
            "print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
