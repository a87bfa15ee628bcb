"""ganzoo.export.openvino: validated OpenVINO IR export in fp32 / bf16 / int8, the explicit precision hint, rt_info
metadata, atomic writes, the bench backend and the pipelines' backend="openvino". Small random-weight models only."""
from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
import torch

import ganzoo
from ganzoo.export import InvalidExportPathError, Tolerance, ToleranceExceededError
from ganzoo.export.tolerances import get_tolerance

from .test_upscale import tiny_sr


def tiny(seed: int = 0):
    """A narrow dcgan_32 (a few thousand parameters): fast to export."""
    torch.manual_seed(seed)
    return ganzoo.create("dcgan_32.mnist", ngf=8, ndf=8).eval()


def test_import_is_light():
    code = ("import sys, ganzoo, ganzoo.export, ganzoo.export.openvino, ganzoo.export.cli, ganzoo.bench.backends; "
            "print('openvino' in sys.modules, 'onnxruntime.quantization' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["False", "False"]


def test_bad_precision_and_path_fail_before_work(tmp_path):
    from ganzoo.export.openvino import to_openvino

    with pytest.raises(ValueError, match=r"fp32, bf16, int8, got 'fp16'"):
        to_openvino("dcgan", tmp_path / "m.xml", "fp16")
    with pytest.raises(InvalidExportPathError, match=r"expected one of \.xml"):
        to_openvino("dcgan", tmp_path / "m.onnx")
    with pytest.raises(ValueError, match="calibration is for precision='int8'"):
        to_openvino("dcgan", tmp_path / "m.xml", "fp32", calibration=4)
    assert list(tmp_path.iterdir()) == []


def test_tolerances_per_precision():
    assert get_tolerance("bf16").atol > get_tolerance("fp32").atol
    assert get_tolerance("int8").atol >= get_tolerance("bf16").atol
    assert get_tolerance("int8", "srresnet", "srgan").noise == 0.0


@pytest.fixture(scope="module")
def fp32_ir(tmp_path_factory):
    pytest.importorskip("openvino")
    from ganzoo.export.openvino import to_openvino

    m = tiny()
    res = to_openvino(m, tmp_path_factory.mktemp("ov") / "sub" / "dcgan.xml", "fp32", seed=3)
    return m, res


def test_fp32_export_validated(fp32_ir):
    m, res = fp32_ir
    assert res.path.is_file() and res.bin_path.is_file() and res.bin_path.name == "dcgan.bin"
    assert res.validation.passed and res.validation.backend == "openvino (f32)"
    assert res.onnx.validation.passed  # the ONNX stage was validated in ONNX Runtime too
    assert [c.batch for c in res.validation.cases] == [1, 3]
    # no temporary left next to the IR
    assert sorted(p.name for p in res.path.parent.iterdir()) == ["dcgan.bin", "dcgan.xml"]


def test_precision_hint_is_set(fp32_ir):
    import openvino as ov

    from ganzoo.export.openvino import compile_ir

    _, res = fp32_ir
    assert compile_ir(res.path).get_property("INFERENCE_PRECISION_HINT") == ov.Type.f32  # from rt_info
    assert compile_ir(res.path, "bf16").get_property("INFERENCE_PRECISION_HINT") == ov.Type.bf16
    with pytest.raises(ValueError, match="precision must be one of"):
        compile_ir(res.path, "f16")


def test_rt_info_metadata_round_trip(fp32_ir):
    from ganzoo.export.openvino import read_metadata

    m, res = fp32_ir
    meta = read_metadata(res.path)
    assert meta["ganzoo.model"] == "dcgan_32" and meta["ganzoo.tag"] == "mnist"
    assert meta["ganzoo.precision"] == "fp32" and meta["ganzoo.inference_precision_hint"] == "f32"
    assert meta["ganzoo.format"] == "openvino"
    assert [d["name"] for d in json.loads(meta["ganzoo.inputs"])] == [s.name for s in m.specs.inputs]
    assert [d["onnx_name"] for d in json.loads(meta["ganzoo.outputs"])] == list(res.output_names)
    ranges = json.loads(meta["ganzoo.value_ranges"])
    assert ranges[m.specs.outputs[0].name] == list(m.specs.outputs[0].range)
    assert meta == res.metadata


def test_failed_validation_writes_nothing(tmp_path):
    pytest.importorskip("openvino")
    from ganzoo.export.openvino import to_openvino

    out = tmp_path / "new" / "m.xml"
    with pytest.raises(ToleranceExceededError, match="openvino"):
        to_openvino(tiny(), out, "bf16", tolerance=Tolerance(atol=0.0, rtol=0.0, noise=0.0), seed=0)
    assert not tmp_path.joinpath("new").exists()  # nor the folder it created
    # an existing IR is left as it was
    keep = tmp_path / "keep.xml"
    keep.write_text("old")
    keep.with_suffix(".bin").write_text("old bin")
    with pytest.raises(ToleranceExceededError):
        to_openvino(tiny(), keep, "bf16", tolerance=Tolerance(atol=0.0, rtol=0.0, noise=0.0), seed=0)
    assert keep.read_text() == "old" and keep.with_suffix(".bin").read_text() == "old bin"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.bin", "keep.xml"]


def test_int8_qdq_export_within_tolerance(tmp_path):
    pytest.importorskip("openvino")
    pytest.importorskip("onnxruntime.quantization")
    import onnx

    from ganzoo.export.openvino import read_metadata, to_openvino

    res = to_openvino(tiny(1), tmp_path / "q.xml", "int8", calibration=8, keep_float=(), seed=1)
    assert res.validation.passed and res.validation.dtype == "int8"
    assert res.validation.tolerance == get_tolerance("int8", "dcgan_32", "dcgan")
    assert res.int8["calibration"] == 8 and res.int8["quantize_linear"] > 0 and res.int8["float_nodes"] == []
    ops = {n.op_type for n in onnx.load_from_string(res.onnx_bytes).graph.node}
    assert {"QuantizeLinear", "DequantizeLinear"} <= ops
    import openvino as ov

    ir_ops = {op.get_type_name() for op in ov.Core().read_model(str(res.path)).get_ops()}
    assert "FakeQuantize" in ir_ops or "Convert" in ir_ops  # OpenVINO's form of Q/DQ
    assert read_metadata(res.path)["ganzoo.precision"] == "int8"


def test_sr_calibration_comes_from_the_training_pool():
    from ganzoo.export.openvino import calibration_inputs

    m = tiny_sr()
    feeds = calibration_inputs(m, 3, size=16, seed=0)
    assert len(feeds) == 3 and feeds[0][0].shape == (1, 3, 16, 16) and feeds[0][0].dtype == np.float32
    lo, hi = m.specs.inputs[0].range
    assert all(lo <= f[0].min() and f[0].max() <= hi for f in feeds)
    assert not np.array_equal(feeds[0][0], feeds[1][0])
    with pytest.raises(ValueError, match="calibration"):
        calibration_inputs(m, 0)


def test_bench_backend_runs():
    pytest.importorskip("openvino")
    from ganzoo.bench.backends import get_backend

    m = tiny()
    x = m.sample_inputs(2, generator=torch.Generator().manual_seed(0))
    xs = x if isinstance(x, tuple) else (x,)
    with torch.no_grad():
        ref = m.generator(*xs).numpy()
    for dtype, hint, tol in (("fp32", "float32", 1e-4), ("bf16", "bfloat16", 6e-2)):
        b = get_backend("openvino")()
        assert get_backend("openvino").available("cpu") == (True, "")
        b.prepare(m, tuple(t.to(getattr(torch, hint)) for t in xs), dtype, "cpu")
        out = b(b.adapt_inputs(tuple(t.to(getattr(torch, hint)) for t in xs)))
        assert hint in b.info["inference_precision_hint"]
        np.testing.assert_allclose(out[0], ref, atol=tol, rtol=tol)
        b.close()
    assert get_backend("openvino").available("cuda")[0] is False


def test_upscale_backend_openvino_matches_eager(tmp_path):
    pytest.importorskip("openvino")
    from ganzoo.pipelines.upscaling import Upscaler

    m = tiny_sr()
    img = np.random.default_rng(0).integers(0, 256, (20, 28, 3), dtype=np.uint8)
    eager = Upscaler(m, device="cpu")(img, tile=0)
    up = Upscaler(m, backend="openvino", cache_dir=tmp_path)
    assert up.runner.info["inference_precision_hint"] == "<Type: 'float32'>"
    out = up(img, tile=0)
    assert out.shape == eager.shape and np.abs(out.astype(int) - eager.astype(int)).max() <= 1
    xml = next(tmp_path.glob("*.xml"))
    mtime = xml.stat().st_mtime_ns
    Upscaler(m, backend="openvino", cache_dir=tmp_path)  # reuses the cached IR
    assert xml.stat().st_mtime_ns == mtime and len(list(tmp_path.glob("*.xml"))) == 1
    with pytest.raises(ValueError, match="float32 .* or bfloat16"):
        Upscaler(m, backend="openvino", dtype="float16", cache_dir=tmp_path)


def test_inpaint_backend_openvino_matches_eager(tmp_path):
    pytest.importorskip("openvino")
    from ganzoo.pipelines.inpainting import Inpainter

    from .test_inpaint import SMALL

    torch.manual_seed(0)
    m = ganzoo.create("pggan_inpaint", **SMALL).eval()
    img = np.random.default_rng(1).integers(0, 256, (32, 40, 3), dtype=np.uint8)
    hole = np.zeros((32, 40), dtype=bool)
    hole[8:20, 10:30] = True
    eager = Inpainter(m, device="cpu")(img, hole)
    inp = Inpainter(m, backend="openvino", cache_dir=tmp_path)
    out = inp(img, hole)
    assert np.array_equal(out[~hole], img[~hole])
    assert np.abs(out.astype(int) - eager.astype(int)).max() <= 1
    with pytest.raises(ValueError, match="raw=True needs backend='eager'"):
        inp(img, hole, raw=True)


def test_cli_export_openvino(tmp_path, capsys):
    pytest.importorskip("openvino")
    from ganzoo.export.cli import main

    out = tmp_path / "d.xml"
    assert main(["dcgan_32.mnist", "--format", "openvino", "--random-weights", "-o", str(out), "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["precision"] == "fp32" and d["inference_precision_hint"] == "f32" and d["validation"]["passed"]
    assert out.is_file() and out.with_suffix(".bin").is_file()
    assert main(["dcgan", "--format", "onnx", "--precision", "bf16", "-o", str(tmp_path / "x.onnx")]) == 1
    assert "--precision and --calibration are options of --format openvino" in capsys.readouterr().err
    assert main(["dcgan", "--format", "openvino", "--calibration", "8", "-o", str(tmp_path / "y.xml")]) == 1
    assert "needs --precision int8" in capsys.readouterr().err


# ------------------------------------------------------------------------ int8 mixed precision (keep_float="auto")


@pytest.fixture
def no_heldout(monkeypatch):
    """Every read of a held-out photo raises. The training pool's guard (no pool image equals a held-out source
    image) compares fingerprints: those are computed here, before the photos are locked."""
    from ganzoo.data import inpainting, photos

    prints = inpainting.heldout_fingerprints()

    def refuse(*a, **k):
        raise AssertionError("a held-out photo was read while choosing the int8 float layers")

    monkeypatch.setattr(inpainting, "heldout_fingerprints", lambda: dict(prints))
    monkeypatch.setattr(photos.HeldOutPhoto, "load", refuse)
    monkeypatch.setattr(photos.HeldOutPhoto, "load_full", refuse)
    monkeypatch.setattr(photos, "load_photo", refuse)


@pytest.fixture(scope="module")
def tiny_sr_onnx():
    """A tiny random SRResNet x4 and its fp32 ONNX graph (exported once for the module)."""
    pytest.importorskip("onnxruntime.quantization")
    from ganzoo.export.pipeline import plan_export, run_export

    m = tiny_sr()
    _, data = run_export(plan_export(m, None, dtype="fp32", validate=False, what="ONNX graph"))
    return m, data


AUTO_KW = dict(calibration=4, calibration_size=16, tuning=4, tuning_size=16, threads=1, progress=False)


def _quantised_convs(data: bytes) -> dict[str, bool]:
    """Conv name -> whether both its activation and its weight come through a DequantizeLinear."""
    import onnx

    g = onnx.load_from_string(data).graph
    dq = {o for n in g.node if n.op_type == "DequantizeLinear" for o in n.output}
    return {n.name: n.input[0] in dq and n.input[1] in dq for n in g.node if n.op_type == "Conv"}


def test_int8_auto_report_covers_every_conv_and_meets_budget(tiny_sr_onnx, no_heldout):
    import onnx

    from ganzoo.export.openvino import choose_float_layers

    m, data = tiny_sr_onnx
    convs = [n.name for n in onnx.load_from_string(data).graph.node if n.op_type == "Conv"]
    for units in ("conv", "tensor"):
        c = choose_float_layers(m, data, budget_db=0.03, max_float=len(convs) * 2, units=units, **AUTO_KW)
        covered = [n for r in c.layers for n in r["nodes"] if n in convs]
        assert set(covered) == set(convs)  # every convolution is in a unit of the sensitivity report
        if units == "conv":
            assert [r["name"] for r in c.layers] == convs  # one row per convolution, graph order
            assert all(r["macs"] > 0 for r in c.layers) and abs(sum(r["flop_share"] for r in c.layers) - 1) < 1e-9
        assert sorted(r["rank"] for r in c.layers) == list(range(len(c.layers)))
        assert all(np.isfinite(r["d_psnr_y"]) and np.isfinite(r["gain_db"]) for r in c.layers)
        assert c.reached and c.d_psnr_y >= -0.03 and "within budget" in c.stop_reason
        q = _quantised_convs(c.onnx_bytes)
        assert all(q[n] for n in convs if n not in c.float_nodes) and not any(q[n] for n in c.float_nodes)
        assert c.info["float_nodes"] == c.float_nodes
        json.dumps(c.to_dict())  # goes into the IR's rt_info


def test_int8_auto_unreachable_budget_stops_at_the_cap(tiny_sr_onnx, no_heldout, caplog):
    from ganzoo.export.openvino import choose_float_layers

    m, data = tiny_sr_onnx
    with caplog.at_level("WARNING", logger="ganzoo.export"):
        c = choose_float_layers(m, data, budget_db=-50.0, max_float=0, units="conv", **AUTO_KW)  # 50 dB better
    assert not c.reached and c.stop_reason.startswith("layer cap: 0") and "not reached" in caplog.text
    assert c.float_nodes == [] and len(c.steps) == 1
    assert all(_quantised_convs(c.onnx_bytes).values())
    c = choose_float_layers(m, data, budget_db=-50.0, max_float=2, units="conv", **AUTO_KW)
    assert not c.reached and len(c.float_nodes) <= 2
    assert c.stop_reason.startswith(("layer cap: 2", "every unit tried"))
    q = _quantised_convs(c.onnx_bytes)
    assert sorted(n for n, v in q.items() if not v) == sorted(c.float_nodes)
    assert [s["d_psnr_y"] for s in c.steps if s["accepted"]] == sorted(s["d_psnr_y"] for s in c.steps
                                                                         if s["accepted"])  # each keep helped
    with pytest.raises(ValueError, match="budget_db"):
        choose_float_layers(m, data, budget_db=float("nan"), **AUTO_KW)
    with pytest.raises(ValueError, match="units must be"):
        choose_float_layers(m, data, units="layer", **AUTO_KW)


def test_int8_sensitivity_only(tiny_sr_onnx, no_heldout):
    from ganzoo.export.openvino import int8_sensitivity

    m, data = tiny_sr_onnx
    s = int8_sensitivity(m, data, units="conv", **AUTO_KW)
    assert s.float_nodes == [] and len(s.steps) == 1 and "sensitivity only" in s.stop_reason
    assert len(s.layers) == 7 and s.tuning["seed"] != 0 and s.tuning["source"].startswith("SR training pool")


def test_int8_auto_needs_an_sr_model():
    from ganzoo.export.openvino import choose_float_layers, parse_keep_float

    with pytest.raises(ValueError, match="needs an SR model"):
        choose_float_layers(tiny(), b"")
    assert parse_keep_float("auto") == "auto" and parse_keep_float("first, last") == ("first", "last")
    assert parse_keep_float("none") == () and parse_keep_float(["a"]) == ("a",)


def test_to_openvino_int8_auto(tmp_path, no_heldout):
    pytest.importorskip("openvino")
    pytest.importorskip("onnxruntime.quantization")
    from ganzoo.export.openvino import read_metadata, to_openvino

    with pytest.raises(ValueError, match="keep_float='auto' is for precision='int8'"):
        to_openvino(tiny_sr(), tmp_path / "x.xml", "bf16", keep_float="auto")
    res = to_openvino(tiny_sr(), tmp_path / "a.xml", "int8", keep_float="auto", calibration=4, calibration_size=16,
                      int8_max_float=3, threads=1, seed=0)
    auto = res.int8["auto"]
    assert res.validation.passed and auto["budget_db"] == 0.03 and len(auto["float_nodes"]) <= 3
    assert res.int8["float_nodes"] == auto["float_nodes"]
    assert json.loads(read_metadata(res.path)["ganzoo.int8"])["auto"]["float_nodes"] == auto["float_nodes"]


def test_cli_int8_keep_float_option(tmp_path, capsys):
    from ganzoo.export.cli import main

    assert main(["dcgan", "--format", "openvino", "--int8-keep-float", "auto", "-o", str(tmp_path / "y.xml")]) == 1
    assert "need --precision int8" in capsys.readouterr().err
    assert main(["srresnet", "--format", "openvino", "--precision", "int8", "--int8-budget-db", "0.1", "-o",
                 str(tmp_path / "y.xml")]) == 1
    assert "--int8-budget-db is the budget of --int8-keep-float auto" in capsys.readouterr().err
    assert main(["dcgan", "--format", "onnx", "--int8-keep-float", "auto", "-o", str(tmp_path / "y.onnx")]) == 1
    assert "options of --format openvino" in capsys.readouterr().err


def test_cli_int8_keep_float_reaches_to_openvino(tmp_path, monkeypatch, capsys):
    import ganzoo.export.openvino as ovmod
    from ganzoo.export.cli import main

    seen = {}

    def fake(name, output, precision, **kw):
        seen.update(kw, precision=precision)
        raise ValueError("stop here")

    monkeypatch.setattr(ovmod, "to_openvino", fake)
    args = ["srresnet", "--format", "openvino", "--precision", "int8", "-o", str(tmp_path / "y.xml")]
    assert main([*args, "--int8-keep-float", "auto", "--int8-budget-db", "0.02"]) == 1
    assert seen["keep_float"] == "auto" and seen["int8_budget_db"] == 0.02 and seen["precision"] == "int8"
    seen.clear()
    assert main([*args, "--int8-keep-float", "first,node_Conv_7"]) == 1
    assert seen["keep_float"] == "first,node_Conv_7" and "int8_budget_db" not in seen
    assert "stop here" in capsys.readouterr().err
