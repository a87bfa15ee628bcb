"""tools/eval_sr.py: the SR evaluation's numbers equal direct computations, and its JSON and CLI are complete."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

import ganzoo
from ganzoo.data.photos import bicubic_up, load_photo, make_lr
from ganzoo.metrics import psnr, sr_forward, sr_scores, ssim
from tests.conftest import load_tool

pytest.importorskip("skimage")
pytest.importorskip("sklearn")


eval_sr = load_tool("eval_sr")
IMAGES = ["astronaut", "china"]


def _tiny(seed: int = 0):
    torch.manual_seed(seed)
    return ganzoo.create("srresnet.imagenet", num_blocks=1, width=8).eval()


@pytest.fixture(scope="module")
def report():
    return eval_sr.evaluate([_tiny()], images=IMAGES, dtypes=("float32", "bfloat16"), backends=("eager",),
                            keep_outputs=True, command="test")


def test_bicubic_numbers_equal_a_direct_computation(report):
    bic = report["runs"][0]
    assert bic["method"] == "bicubic" and set(bic["per_image"]) == set(IMAGES)
    for name in IMAGES:
        hr = load_photo(name)
        up = bicubic_up(make_lr(hr, 4), 4)
        row = bic["per_image"][name]
        assert row["psnr_y"] == psnr(hr, up, border=4, y_channel=True)
        assert row["ssim_y"] == ssim(hr, up, border=4, y_channel=True)
        assert row["psnr_rgb"] == psnr(hr, up, border=4)
        assert 18 < row["psnr_y"] < 35
    assert bic["mean"]["psnr_y"] == pytest.approx(np.mean([bic["per_image"][n]["psnr_y"] for n in IMAGES]))


def test_model_numbers_equal_a_direct_forward(report):
    model = _tiny()
    run = next(r for r in report["runs"] if r["backend"] == "eager" and r["dtype"] == "float32")
    assert run["weights"] == "given"
    for name in IMAGES:
        hr = load_photo(name)
        sr = sr_forward(model, make_lr(hr, 4))
        np.testing.assert_array_equal(report["_outputs"]["srresnet.imagenet eager float32"][name], sr)
        expected = sr_scores(hr, sr, 4)
        for k, v in expected.items():
            assert run["per_image"][name][k] == v


def test_reduced_precision_run_is_compared_with_fp32(report):
    bf = next(r for r in report["runs"] if r["dtype"] == "bfloat16")
    fp = next(r for r in report["runs"] if r["dtype"] == "float32" and r["method"] != "bicubic")
    outs = report["_outputs"]
    for name in IMAGES:
        a, b = outs["srresnet.imagenet eager float32"][name], outs["srresnet.imagenet eager bfloat16"][name]
        assert bf["per_image"][name]["psnr_vs_fp32"] == psnr(a, b)
        assert bf["per_image"][name]["max_diff_vs_fp32"] == int(np.abs(a.astype(int) - b).max())
    assert bf["mean"]["delta_psnr_y_vs_fp32"] == pytest.approx(bf["mean"]["psnr_y"] - fp["mean"]["psnr_y"])


def test_report_structure_and_strict_json(report, tmp_path):
    for key in ("protocol", "images", "models", "runs", "machine", "versions", "command", "date", "wall_s"):
        assert key in report
    assert report["protocol"]["scale"] == 4 and report["protocol"]["border"] == 4
    assert [i["name"] for i in report["images"]] == IMAGES
    assert report["images"][0]["box"] == [0, 112, 256, 256] and len(report["images"][0]["hr_sha256"]) == 64
    (desc,) = report["models"].values()
    assert desc["weights"] == "given" and len(desc["state_sha256"]) == 64 and desc["scale"] == 4
    assert torch.__version__.startswith(report["versions"]["torch"].split("+")[0])
    assert report["machine"]["torch_threads"] >= 1
    path = eval_sr.write_json(report, tmp_path / "r.json")

    def no_constants(x):
        raise AssertionError(f"non-standard JSON constant {x}")

    data = json.loads(path.read_text(), parse_constant=no_constants)
    assert "_outputs" not in data and len(data["runs"]) == 3
    assert data["runs"][1]["per_image"]["astronaut"]["psnr_y"] == report["runs"][1]["per_image"]["astronaut"]["psnr_y"]
    md = eval_sr.markdown(report)
    assert "| bicubic | PIL | uint8 |" in md and "| **mean** |" in md and "| astronaut |" in md
    assert "RANDOM WEIGHTS" not in md


def test_infinite_psnr_is_written_as_a_string(tmp_path):
    path = eval_sr.write_json({"x": math.inf, "y": [1.0, -math.inf], "_skip": 1}, tmp_path / "inf.json")
    assert json.loads(path.read_text()) == {"x": "inf", "y": [1.0, "-inf"]}


def test_state_sha256_tracks_the_weights():
    a, b = _tiny(0), _tiny(0)
    assert eval_sr.state_sha256(a) == eval_sr.state_sha256(b)
    with torch.no_grad():
        b.generator.tail.bias[0] += 1e-3
    assert eval_sr.state_sha256(a) != eval_sr.state_sha256(b)


def test_onnxruntime_backend_matches_eager():
    pytest.importorskip("onnxruntime")
    rep = eval_sr.evaluate([_tiny()], images=["coffee"], backends=("onnxruntime",), dtypes=("float32", "bfloat16"))
    ort32 = next(r for r in rep["runs"] if r["backend"] == "onnxruntime" and r["dtype"] == "float32")
    assert ort32["validation"]["passed"] and len(ort32["onnx_sha256"]) == 64
    assert ort32["per_image"]["coffee"]["max_diff_vs_fp32"] <= 1  # fp32 ORT vs fp32 eager: rounding ties only
    assert ort32["per_image"]["coffee"]["psnr_vs_fp32"] > 50
    skipped = next(r for r in rep["runs"] if r["backend"] == "onnxruntime" and r["dtype"] == "bfloat16")
    assert "no ONNX export path for bfloat16" in skipped["skipped"] and "per_image" not in skipped


def test_runs_pairs_make_exactly_those_runs():
    rep = eval_sr.evaluate([_tiny()], images=["coffee"], pairs=[("eager", "bfloat16")])
    assert [(r["backend"], r["dtype"]) for r in rep["runs"]] == [("PIL", "uint8"), ("eager", "float32"),
                                                                 ("eager", "bfloat16")]


def test_cli_refuses_random_weights_unless_asked(tmp_path, capsys):
    out = tmp_path / "e.json"
    assert eval_sr.main(["--models", "srresnet.paper", "--images", "coffee", "--json", str(out)]) == 2
    err = capsys.readouterr().err
    assert "no weights are published for srresnet.paper" in err and "--random-ok" in err and not out.exists()


def test_cli_random_ok_runs_and_says_so(tmp_path, capsys):
    out = tmp_path / "e.json"
    assert eval_sr.main(["--models", "srresnet.paper", "--random-ok", "--images", "coffee", "--json", str(out)]) == 0
    text = capsys.readouterr().out
    assert "RANDOM WEIGHTS" in text and "| coffee |" in text
    data = json.loads(out.read_text())
    assert data["any_random_weights"] is True and data["models"]["srresnet.paper"]["weights"] == "random"
    assert data["models"]["srresnet.paper"]["weights_sha256"] is None
    assert data["command"].startswith("python tools/eval_sr.py --models srresnet.paper --random-ok")


@pytest.mark.parametrize("argv,msg", [
    (["--dtype", "float64"], "unknown dtype 'float64'"),
    (["--backend", "tensorrt"], "unknown backend 'tensorrt'"),
    (["--images", "lena"], "unknown held-out photo 'lena'"),
    (["--models", "srresnet.paper,srresnet_x2.paper", "--random-ok"], "different scales [2, 4]"),
    (["--runs", "eager"], "--runs: expected backend:dtype items, got 'eager'"),
    (["--runs", "eager:int4"], "unknown dtype 'int4'"),
])
def test_cli_bad_options(argv, msg, tmp_path, capsys):
    args = ["--models", "srresnet.paper", "--random-ok", "--images", "coffee"] + argv + ["--json", str(tmp_path / "j")]
    assert eval_sr.main(args) == 2
    assert msg in capsys.readouterr().err
