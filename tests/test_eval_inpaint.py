"""Hole metrics (ganzoo.metrics) and tools/eval_inpaint.py: numbers equal direct computations, OpenCV and model
outputs keep the known pixels, the report / CLI are complete and errors say what is wrong."""
from __future__ import annotations

import json
import math
import subprocess
import sys

import numpy as np
import pytest
import torch

import ganzoo
from ganzoo.data.inpainting import heldout_pairs, mask_to_image
from ganzoo.metrics import (_SSIM_K1, _SSIM_K2, _filter_valid, _prepare, gaussian_window_1d, inpaint_scores,
                            masked_l1, masked_psnr, masked_ssim, psnr, ssim, ssim_map)
from tests.conftest import REPO_ROOT, load_tool

pytest.importorskip("skimage")
pytest.importorskip("sklearn")
cv2 = pytest.importorskip("cv2")


ev = load_tool("eval_inpaint")
RNG = np.random.default_rng(0)


def _pair_images(h: int = 40, w: int = 48, c: int = 3) -> tuple[np.ndarray, np.ndarray]:
    a = RNG.integers(0, 256, (h, w, c), dtype=np.uint8)
    noise = RNG.integers(-30, 31, a.shape)
    b = np.clip(a.astype(int) + noise, 0, 255).astype(np.uint8)
    return a, b


def _hole(h: int = 40, w: int = 48) -> np.ndarray:
    m = np.zeros((h, w), bool)
    m[8:30, 10:25] = True
    m[2, :] = True  # a row near the border: outside the SSIM window's reach
    return m


# ------------------------------------------------------------------------------------------------ metrics


def _ssim_before_refactor(a, b, *, data_range=None, border=0, y_channel=False) -> float:
    """ganzoo.metrics.ssim as it was before ssim_map existed (verbatim)."""
    x, y, rng = _prepare(a, b, data_range, border, y_channel)
    g = gaussian_window_1d()
    c1, c2 = (_SSIM_K1 * rng) ** 2, (_SSIM_K2 * rng) ** 2
    mu_x, mu_y = _filter_valid(x, g), _filter_valid(y, g)
    sxx = _filter_valid(x * x, g) - mu_x * mu_x
    syy = _filter_valid(y * y, g) - mu_y * mu_y
    sxy = _filter_valid(x * y, g) - mu_x * mu_y
    num = (2.0 * mu_x * mu_y + c1) * (2.0 * sxy + c2)
    den = (mu_x * mu_x + mu_y * mu_y + c1) * (sxx + syy + c2)
    smap = num / den
    return float(np.mean(smap.mean(axis=(0, 1))))


@pytest.mark.parametrize("kwargs", [{}, {"border": 3}, {"y_channel": True}, {"y_channel": True, "border": 4}])
def test_ssim_unchanged_by_the_ssim_map_refactor(kwargs):
    a, b = _pair_images()
    assert ssim(a, b, **kwargs) == _ssim_before_refactor(a, b, **kwargs)
    g1, g2 = a[..., 0].astype(np.float32) / 255, b[..., 0].astype(np.float32) / 255
    assert ssim(g1, g2, data_range=1.0, **{k: v for k, v in kwargs.items() if k == "border"}) == \
        _ssim_before_refactor(g1, g2, data_range=1.0, **{k: v for k, v in kwargs.items() if k == "border"})


def test_ssim_map_equals_skimage_full_map():
    from skimage.metrics import structural_similarity

    a, b = _pair_images()
    smap = ssim_map(a, b)
    assert smap.shape == (30, 38, 3) and smap.dtype == np.float64
    _, full = structural_similarity(a, b, gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
                                    data_range=255, channel_axis=2, full=True)
    np.testing.assert_allclose(smap, full[5:-5, 5:-5], rtol=0, atol=1e-10)
    assert ssim_map(a[..., 0], b[..., 0]).shape == (30, 38, 1)
    assert ssim_map(a, b, border=2).shape == (26, 34, 3)


def test_masked_psnr_and_l1_equal_direct_formulas():
    a, b = _pair_images()
    m = _hole()
    d = a.astype(np.float64)[m] - b.astype(np.float64)[m]  # (n, 3): every channel of every hole pixel
    assert d.shape == (m.sum(), 3)
    assert masked_psnr(a, b, m) == pytest.approx(10 * math.log10(255 ** 2 / np.mean(d ** 2)), rel=1e-12)
    assert masked_l1(a, b, m) == pytest.approx(np.mean(np.abs(d)) / 255, rel=1e-12)
    full = np.ones(m.shape, bool)
    assert masked_psnr(a, b, full) == pytest.approx(psnr(a, b), rel=1e-12)
    # only hole pixels count: known pixels may be anything
    b2 = b.copy()
    b2[~m] = 0
    assert masked_psnr(a, b2, m) == masked_psnr(a, b, m) and masked_l1(a, b2, m) == masked_l1(a, b, m)
    # an exact offset of 10 levels: L1 = 10/255, PSNR = 20 log10(255/10)
    c = np.full((16, 16, 3), 100, np.uint8)
    m2 = np.zeros((16, 16), bool)
    m2[4:9, 3:12] = True
    c2 = c.copy()
    c2[m2] += 10
    assert masked_l1(c, c2, m2) == pytest.approx(10 / 255)
    assert masked_psnr(c, c2, m2) == pytest.approx(20 * math.log10(25.5))
    assert masked_psnr(c, c, m2) == math.inf and masked_l1(c, c, m2) == 0.0
    # float images in [0, 1]
    f1, f2 = a / 255.0, b / 255.0
    assert masked_psnr(f1, f2, m, data_range=1.0) == pytest.approx(masked_psnr(a, b, m), rel=1e-9)
    assert masked_l1(f1, f2, m, data_range=1.0) == pytest.approx(masked_l1(a, b, m), rel=1e-9)


def test_masked_ssim_is_the_map_mean_over_the_inner_hole():
    from skimage.metrics import structural_similarity

    a, b = _pair_images()
    m = _hole()
    _, full = structural_similarity(a, b, gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
                                    data_range=255, channel_axis=2, full=True)
    inner = m.copy()
    inner[:5], inner[-5:], inner[:, :5], inner[:, -5:] = False, False, False, False
    assert inner.sum() == 22 * 15  # the border row is left out
    assert masked_ssim(a, b, m) == pytest.approx(float(full[inner].mean()), abs=1e-10)
    assert masked_ssim(a, b, np.ones(m.shape, bool)) == pytest.approx(ssim(a, b), abs=1e-12)
    assert masked_ssim(a, a, m) == pytest.approx(1.0)
    grey = masked_ssim(a[..., 1], b[..., 1], m)
    assert grey == pytest.approx(float(full[..., 1][inner].mean()), abs=1e-10)


def test_inpaint_scores():
    a, b = _pair_images()
    m = _hole()
    assert inpaint_scores(a, b, m) == {"hole_psnr": masked_psnr(a, b, m), "hole_ssim": masked_ssim(a, b, m),
                                       "hole_l1": masked_l1(a, b, m)}
    with pytest.raises(TypeError, match=r"inpaint_scores: out: expected a uint8 image \(H, W, 3\), got float64"):
        inpaint_scores(a, b / 255.0, m)


@pytest.mark.parametrize("fn", [masked_psnr, masked_l1, masked_ssim])
def test_hole_metric_errors(fn):
    a, b = _pair_images()
    m = _hole()
    name = fn.__name__
    with pytest.raises(ValueError, match=rf"{name}: the mask has no hole \(no True pixel\)"):
        fn(a, b, np.zeros(m.shape, bool))
    with pytest.raises(ValueError, match=rf"{name}: images must have the same shape, got \(40, 48, 3\) and "
                                         rf"\(40, 40, 3\)"):
        fn(a, b[:, :40], m)
    with pytest.raises(ValueError, match=rf"{name}: mask shape \(40, 40\) does not match the images' \(H, W\) "
                                         rf"\(40, 48\)"):
        fn(a, b, m[:, :40])
    with pytest.raises(ValueError, match=rf"{name}: mask: expected a bool array \(H, W\) with True = hole, got "
                                         rf"uint8 \(40, 48\)"):
        fn(a, b, mask_to_image(m))
    with pytest.raises(TypeError, match=r"images must have the same dtype, got uint8 and float64"):
        fn(a, b.astype(np.float64), m)


def test_masked_ssim_needs_a_hole_away_from_the_border():
    a, b = _pair_images()
    m = np.zeros((40, 48), bool)
    m[:4, :] = True
    with pytest.raises(ValueError, match=r"every hole pixel lies within 5 pixels of the image border"):
        masked_ssim(a, b, m)
    assert math.isfinite(masked_psnr(a, b, m))


# ------------------------------------------------------------------------------------------------ evaluation


@pytest.fixture(scope="module")
def pairs():
    return heldout_pairs((0.15, 0.30), photos=["coffee", "china"])  # 4 pairs: rect + stroke per photo


def _tiny_inpaint(seed: int = 0):
    torch.manual_seed(seed)
    return ganzoo.create("pggan_inpaint", g_widths=(8, 16, 32), n_blocks=1, image_size=64, d_widths=(8, 16),
                         d_patch_width=8, d_global_width=8).eval()


@pytest.fixture(scope="module")
def model_folder(tmp_path_factory):
    return ganzoo.save_pretrained(_tiny_inpaint(), tmp_path_factory.mktemp("models") / "tiny_inpaint")


@pytest.fixture(scope="module")
def report(pairs, model_folder):
    methods = ev.build_methods([model_folder], radius=5)
    return ev.evaluate(methods, pairs, keep_outputs=True, command="test")


def test_methods_and_structure(report, pairs):
    names = ["masked input", "OpenCV Telea", "OpenCV NS", "tiny_inpaint"]
    assert list(report["methods"]) == names == list(report["per_pair"]) == list(report["summary"])
    assert report["methods"]["OpenCV Telea"]["radius"] == 5 and report["protocol"]["opencv_radius"] == 5
    assert report["protocol"]["complete"] is False
    assert [(p["photo"], p["kind"]) for p in report["pairs"]] == [(p.photo, p.kind) for p in pairs]
    assert report["pairs"][0]["mask_sha256"] == ev.mask_sha256(pairs[0].mask)
    for name in names:
        assert len(report["_outputs"][name]) == len(pairs)
        assert set(report["summary"][name]["buckets"]) == {"0.15-0.3"}
        assert set(report["summary"][name]["kinds"]) == {"rect", "stroke"}


@pytest.mark.parametrize("name, flag", [("OpenCV Telea", cv2.INPAINT_TELEA), ("OpenCV NS", cv2.INPAINT_NS)])
def test_opencv_outputs_keep_known_pixels(report, pairs, name, flag):
    for p, out in zip(pairs, report["_outputs"][name]):
        assert out.dtype == np.uint8 and out.shape == (256, 256, 3)
        np.testing.assert_array_equal(out[~p.mask], p.image[~p.mask])
        assert not np.array_equal(out[p.mask], p.image[p.mask])  # the hole was filled, not copied
        hole = np.abs(out[p.mask].astype(int) - p.image[p.mask]).mean()
        assert hole < 40  # a plausible fill, not garbage
        direct = cv2.inpaint(np.ascontiguousarray(p.image[..., ::-1]), p.mask.astype(np.uint8) * 255, 5, flag)
        np.testing.assert_array_equal(out, direct[..., ::-1])


def test_baseline_fills_the_mean_of_the_known_pixels(report, pairs):
    for p, out in zip(pairs, report["_outputs"]["masked input"]):
        np.testing.assert_array_equal(out[~p.mask], p.image[~p.mask])
        mean = np.round(p.image[~p.mask].mean(axis=0)).astype(np.uint8)
        assert (out[p.mask] == mean).all()


def test_model_output_equals_a_direct_generator_forward(report, pairs, model_folder):
    model = ganzoo.load(str(model_folder))
    info = report["methods"]["tiny_inpaint"]
    from ganzoo.utils import state_sha256

    assert info["kind"] == "model" and info["state_sha256"] == state_sha256(_tiny_inpaint().generator)
    assert info["requested"] == str(model_folder) and info["config"]["g_widths"] == [8, 16, 32]
    for p, out in zip(pairs, report["_outputs"]["tiny_inpaint"]):
        x = torch.from_numpy(p.image).permute(2, 0, 1)[None].float() / 127.5 - 1
        known = torch.from_numpy(~p.mask)[None, None].float()
        with torch.no_grad():
            _, raw = model.generator(x * known, known, return_raw=True)
        raw8 = np.round(np.clip((raw[0].permute(1, 2, 0).numpy().astype(np.float64) + 1) / 2, 0, 1) * 255)
        expected = np.where(p.mask[..., None], raw8.astype(np.uint8), p.image)
        np.testing.assert_array_equal(out, expected)


def test_scores_equal_direct_computation(report, pairs):
    for name, rows in report["per_pair"].items():
        for p, row, out in zip(pairs, rows, report["_outputs"][name]):
            assert (row["photo"], row["bucket"], row["kind"]) == (p.photo, "0.15-0.3", p.kind)
            d = p.image[p.mask].astype(np.float64) - out[p.mask]
            assert row["hole_psnr"] == pytest.approx(10 * math.log10(255 ** 2 / np.mean(d ** 2)), rel=1e-12)
            assert row["hole_l1"] == pytest.approx(np.abs(d).mean() / 255, rel=1e-12)
            assert row["hole_ssim"] == masked_ssim(p.image, out, p.mask)
        s = report["summary"][name]
        for key in ("hole_psnr", "hole_ssim", "hole_l1"):
            assert s["overall"][key] == pytest.approx(np.mean([r[key] for r in rows]))
            assert s["kinds"]["rect"][key] == pytest.approx(np.mean([r[key] for r in rows if r["kind"] == "rect"]))
        assert s["overall"]["n"] == 4 and s["kinds"]["stroke"]["n"] == 2
    over = {n: report["summary"][n]["overall"]["hole_psnr"] for n in report["summary"]}
    assert over["OpenCV Telea"] > over["masked input"] + 2  # the diffusion fills beat the flat mean on these pairs


def test_markdown_and_strict_json(report, tmp_path):
    md = ev.markdown(report)
    assert "**Subset of the protocol's 60 pairs" in md
    assert "| method | 15-30 % | rect | stroke | overall |" in md
    t = report["summary"]["OpenCV NS"]
    assert f"| OpenCV NS | {t['buckets']['0.15-0.3']['hole_psnr']:.2f} | {t['kinds']['rect']['hole_psnr']:.2f} |" in md
    path = ev.write_json({**report, "inf": math.inf}, tmp_path / "r.json")

    def no_constants(x):
        raise AssertionError(f"non-standard JSON constant {x}")

    data = json.loads(path.read_text(), parse_constant=no_constants)
    assert "_outputs" not in data and data["inf"] == "inf"
    overall = report["summary"]["tiny_inpaint"]["overall"]
    assert data["summary"]["tiny_inpaint"]["overall"]["hole_l1"] == overall["hole_l1"]


def test_example_indices_rotate_photos():
    pairs = heldout_pairs(photos=["astronaut", "coffee", "chelsea"])  # 18 pairs, 6 groups of 3
    idx = ev.example_indices(pairs, 6)
    got = [(pairs[i].photo, pairs[i].bucket, pairs[i].kind) for i in idx]
    assert got == [("astronaut", (0.05, 0.15), "rect"), ("coffee", (0.05, 0.15), "stroke"),
                   ("chelsea", (0.15, 0.30), "rect"), ("astronaut", (0.15, 0.30), "stroke"),
                   ("coffee", (0.30, 0.40), "rect"), ("chelsea", (0.30, 0.40), "stroke")]
    assert len(set(ev.example_indices(pairs, 10))) == 10
    assert len(ev.example_indices(pairs[:2], 6)) == 2


def test_evaluate_errors(pairs):
    with pytest.raises(ev.EvalError, match="no pairs to evaluate"):
        ev.evaluate([ev.masked_input_method()], [])
    with pytest.raises(ev.EvalError, match="method names must be unique"):
        ev.evaluate([ev.masked_input_method(), ev.masked_input_method()], pairs[:1])
    bad = ev.Method("bad", "baseline", lambda img, hole: img.astype(np.float32))
    with pytest.raises(ev.EvalError, match=r"bad: expected a uint8 result of shape \(256, 256, 3\), got float32"):
        ev.evaluate([bad], pairs[:1])
    with pytest.raises(ValueError, match=r"radius must be an int >= 1 \(pixels\), got 0"):
        ev.opencv_method("telea", 0)


# ------------------------------------------------------------------------------------------------ CLI


def test_cli_writes_json_markdown_and_examples(model_folder, tmp_path, capsys):
    out, md, ex = tmp_path / "sub" / "r.json", tmp_path / "r.md", tmp_path / "ex"
    rc = ev.main(["--model", str(model_folder), "--photos", "china", "--radius", "3", "--json", str(out),
                  "--markdown", str(md), "--save-examples", str(ex), "--examples", "2"])
    printed = capsys.readouterr().out
    assert rc == 0
    data = json.loads(out.read_text())
    for key in ("protocol", "pairs", "masks_sha256", "methods", "per_pair", "summary", "versions", "command", "date",
                "wall_s"):
        assert key in data, key
    assert data["protocol"]["opencv_radius"] == 3 and len(data["pairs"]) == 6
    assert set(data["summary"]) == {"masked input", "OpenCV Telea", "OpenCV NS", "tiny_inpaint"}
    assert set(data["summary"]["tiny_inpaint"]["buckets"]) == {"0.05-0.15", "0.15-0.3", "0.3-0.4"}
    assert all(len(rows) == 6 for rows in data["per_pair"].values())
    assert data["command"].startswith("python tools/eval_inpaint.py --model")
    assert md.read_text() in printed
    index = json.loads((ex / "examples.json").read_text())["examples"]
    assert [e["file"] for e in index] == ["china_0.05-0.15_rect.png", "china_0.05-0.15_stroke.png"]
    assert index[0]["columns"] == ["input", "mask", "OpenCV Telea", "OpenCV NS", "tiny_inpaint", "ground truth"]
    from PIL import Image

    with Image.open(ex / index[0]["file"]) as im:
        assert im.size == (6 * 256 + 5 * 4, 256 + 18) and im.mode == "RGB"
        strip = np.asarray(im)
    pair = heldout_pairs((0.05, 0.15), photos=["china"])[0]
    np.testing.assert_array_equal(strip[18:, -256:], pair.image)  # the last tile is the ground truth
    np.testing.assert_array_equal(strip[18:, 260:516, 0], mask_to_image(pair.mask))


def test_cli_errors_are_clear(tmp_path, capsys, saved_tiny):
    cases = [
        (["--model", "no_such_model"], "--model 'no_such_model' is neither a registered model nor a save_pretrained "
                                       "folder: unknown model 'no_such_model'"),
        (["--model", str(tmp_path / "missing")], f"--model '{tmp_path / 'missing'}' could not be loaded: "
                                                 f"FileNotFoundError"),
        (["--model", "pggan_inpaint"], "no weights are published for pggan_inpaint"),
        (["--model", str(saved_tiny[1])], "not an inpainting model (expected a generator taking (image, mask)"),
        (["--photos", "lena"], "unknown held-out photo 'lena'"),
        (["--radius", "0"], "radius must be an int >= 1"),
    ]
    for argv, message in cases:
        out = tmp_path / "never.json"
        assert ev.main([*argv, "--json", str(out)]) == 2
        err = capsys.readouterr().err
        assert err.startswith("eval_inpaint: error: ") and message in err, (argv, err)
        assert err.count("\n") == 1 and not out.exists()


def test_cli_script_runs_as_a_program(tmp_path):
    proc = subprocess.run([sys.executable, str(REPO_ROOT / "tools" / "eval_inpaint.py"), "--model", "nope_model"],
                          capture_output=True, text=True, cwd=tmp_path)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.strip().startswith("eval_inpaint: error: --model 'nope_model' is neither a registered model")
