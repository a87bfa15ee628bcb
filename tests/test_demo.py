"""``ganzoo demo``: the tour still does everything it did, and index.html is complete, self-contained and honest."""
from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import ganzoo
from ganzoo.cli import main
from ganzoo.data.photos import bicubic_up, load_photo, make_lr
from ganzoo.demo import SECTIONS, SR_DEMO_PHOTOS, SR_MODELS, run_demo
from ganzoo.errors import NoPretrainedWeightsError
from ganzoo.metrics import sr_forward, sr_scores

pytest.importorskip("skimage")
pytest.importorskip("sklearn")


class _Page(HTMLParser):
    """Every tag with its attributes, the ids, and the text of each <section> by id."""

    def __init__(self):
        super().__init__()
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.ids: set[str] = set()
        self.section_text: dict[str, str] = {}
        self._section: str | None = None

    def handle_starttag(self, tag, attrs):
        a = {k: (v or "") for k, v in attrs}
        self.tags.append((tag, a))
        if "id" in a:
            self.ids.add(a["id"])
        if tag == "section":
            self._section = a.get("id")
            self.section_text[self._section] = ""

    def handle_endtag(self, tag):
        if tag == "section":
            self._section = None

    def handle_data(self, data):
        if self._section:
            self.section_text[self._section] += data


def _parse(index: Path) -> _Page:
    p = _Page()
    p.feed(index.read_text(encoding="utf-8"))
    return p


def _check_self_contained(index: Path) -> _Page:
    """No network: no scripts, no external style sheets or fonts, every src/href local and present."""
    text = index.read_text(encoding="utf-8")
    page = _parse(index)
    assert not any(t in ("script", "link", "iframe", "object", "embed") for t, _ in page.tags)
    assert "@import" not in text and "url(" not in text
    for tag, a in page.tags:
        for attr in ("src", "href"):
            ref = a.get(attr)
            if ref is None:
                continue
            if ref.startswith("#"):
                assert ref[1:] in page.ids, f"{tag} {attr}={ref}: no such id"
                continue
            assert not re.match(r"^[a-z]+:", ref) and not ref.startswith("/"), f"{tag} {attr}={ref} is not relative"
            assert (index.parent / ref).is_file(), f"{tag} {attr}={ref} does not exist"
    return page


def _srcs(page: _Page) -> list[str]:
    return [a["src"] for t, a in page.tags if t == "img"]


@pytest.fixture(scope="module")
def cli_demo(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo") / "page"
    import contextlib
    import io

    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        rc = main(["demo", "-o", str(out)])
    return rc, out, buf.getvalue()


def test_cli_demo_keeps_the_tour(cli_demo):
    rc, out, stdout = cli_demo
    assert rc == 0
    assert "sha256 verified" in stdout and "outputs bit-identical = True" in stdout
    assert "ONNX export validated in ONNX Runtime" in stdout and str(out / "index.html") in stdout
    assert Image.open(out / "samples.png").size == (8 * 66 + 2, 8 * 66 + 2)  # 64 samples of 64 px
    assert (out / "saved" / "model.safetensors").is_file() and (out / "dcgan.onnx").is_file()


def test_page_is_self_contained_and_has_every_section(cli_demo):
    _, out, _ = cli_demo
    page = _check_self_contained(out / "index.html")
    assert [s for s in page.section_text] == [sid for sid, _, _ in SECTIONS]
    for src in _srcs(page):
        with Image.open(out / src) as im:
            assert im.format == "PNG" and im.size[0] >= 16
    # every picture the demo wrote is on the page
    assert {p.name for p in out.glob("*.png")} == set(_srcs(page))


def test_page_sr_section_follows_weight_availability(cli_demo):
    _, out, _ = cli_demo
    text = _parse(out / "index.html").section_text["sr"]
    published = set(ganzoo.list_models(pretrained=True))
    if not any(n.split(".")[0] in dict(SR_MODELS).values() for n in published):
        assert "Not shown: SR weights are not published yet" in text and "NoPretrainedWeightsError" in text
        assert not list(out.glob("sr_*.png"))
        return
    # published: the numbers on the page are the protocol's, recomputed here for the first photo
    photo, _ = SR_DEMO_PHOTOS[0]
    hr = load_photo(photo)
    lr = make_lr(hr, 4)
    bic = sr_scores(hr, bicubic_up(lr, 4), 4)
    assert f"PSNR-Y {bic['psnr_y']:.2f} dB · SSIM-Y {bic['ssim_y']:.4f}" in text
    for title, name in SR_MODELS:
        try:
            model = ganzoo.load(name, local_files_only=True)
        except NoPretrainedWeightsError:
            continue
        sc = sr_scores(hr, sr_forward(model, lr), 4)
        assert f"PSNR-Y {sc['psnr_y']:.2f} dB · SSIM-Y {sc['ssim_y']:.4f}" in text, title
        assert np.array_equal(np.asarray(Image.open(out / f"sr_{photo}_{title.lower()}.png")), sr_forward(model, lr))


def test_export_table_is_the_validation_report(cli_demo):
    _, out, _ = cli_demo
    html = (out / "index.html").read_text(encoding="utf-8")
    sec = html[html.index('<section id="export"'):]
    sec = sec[:sec.index("</section>")]
    from ganzoo.export import validate_onnx

    res = validate_onnx(out / "dcgan.onnx", ganzoo.load("dcgan", local_files_only=True))
    assert res.passed
    rows = re.findall(r"<tr><td>(\d+)</td>", sec)
    assert len(rows) == len(res.cases) >= 2 and "Result: <b>passed</b>" in sec
    assert sec.count('class="pass">yes') == len(rows)


def test_registry_section_lists_every_family(cli_demo):
    _, out, _ = cli_demo
    text = _parse(out / "index.html").section_text["registry"]
    for fam in ganzoo.list_families():
        assert fam in text
    for tag in ganzoo.list_models(pretrained=True):
        assert tag in text
    assert "no: no weights published" in text  # e.g. tgan has none today


def _tiny_sr(seed):
    torch.manual_seed(seed)
    return ganzoo.create("srresnet.imagenet", num_blocks=1, width=8).eval()


def test_sr_section_skips_cleanly_without_weights(tmp_path):
    def no_weights(name):
        raise NoPretrainedWeightsError(f"no weights are published for {name}.test yet")

    res = run_demo(tmp_path, sections=["sr", "registry"], load_sr=no_weights, export=False)
    assert res.ok
    sr = next(s for s in res.sections if s.id == "sr")
    assert sr.status == "skipped" and "SR weights are not published yet" in sr.reason
    page = _check_self_contained(res.index)
    assert "no weights are published for srresnet.test yet" in page.section_text["sr"]
    assert not list(tmp_path.glob("sr_*.png"))


def test_sr_section_shows_models_and_marks_a_missing_one(tmp_path):
    model = _tiny_sr(0)

    def one_model(name):
        if name == "srgan":
            raise NoPretrainedWeightsError("no weights are published for srgan.test yet")
        return model

    res = run_demo(tmp_path, sections=["sr"], load_sr=one_model, export=False)
    sr = res.sections[0]
    assert sr.status == "shown" and res.ok
    page = _check_self_contained(res.index)
    text = page.section_text["sr"]
    assert "no weights published" in text and "srgan.test" in text
    for photo, _ in SR_DEMO_PHOTOS:
        hr = load_photo(photo)
        sr_img = sr_forward(model, make_lr(hr, 4))
        sc = sr_scores(hr, sr_img, 4)
        assert f"PSNR-Y {sc['psnr_y']:.2f} dB · SSIM-Y {sc['ssim_y']:.4f}" in text
        assert np.array_equal(np.asarray(Image.open(tmp_path / f"sr_{photo}_srresnet.png")), sr_img)
        assert Image.open(tmp_path / f"sr_{photo}_srresnet_zoom.png").size == (256, 256)
        assert not (tmp_path / f"sr_{photo}_srgan.png").exists()


def test_a_failing_section_is_shown_and_fails_the_demo(tmp_path, monkeypatch):
    import ganzoo.demo as demo

    def broken(ctx, s):
        raise RuntimeError("boom")

    monkeypatch.setattr(demo, "SECTIONS", demo.SECTIONS + [("broken", "Broken", broken)])
    res = demo.run_demo(tmp_path, sections=["broken"], export=False)
    assert not res.ok and res.sections[0].status == "failed" and "RuntimeError: boom" in res.sections[0].reason
    assert "This section failed: RuntimeError: boom" in res.index.read_text()


def test_unknown_section_is_refused_before_any_work(tmp_path):
    with pytest.raises(ValueError, match=r"unknown demo sections \['nope'\]"):
        run_demo(tmp_path / "x", sections=["nope"])
    assert not (tmp_path / "x").exists()


def test_inpaint_section_skips_cleanly_without_weights(tmp_path, monkeypatch):
    real_list = ganzoo.list_models
    monkeypatch.setattr(ganzoo, "list_models", lambda *a, family=None, **k: (
        [] if family == "pggan_inpaint" else real_list(*a, family=family, **k)))
    res = run_demo(tmp_path, sections=["inpaint"], export=False)
    assert res.ok
    s = next(s for s in res.sections if s.id == "inpaint")
    assert s.status == "skipped" and "no inpainting weights are published" in s.reason
    assert not list(tmp_path.glob("inpaint_*.png"))


def test_inpaint_section_shows_opencv_ganzoo_and_truth_per_pair(tmp_path, monkeypatch):
    from ganzoo.demo import INPAINT_DEMO_PAIRS

    torch.manual_seed(0)
    model = ganzoo.create("pggan_inpaint.pool256", g_widths=(8, 16, 32), n_blocks=1, image_size=64,
                          d_widths=(8, 16), d_patch_width=8, d_global_width=8).eval()
    real_list, real_load = ganzoo.list_models, ganzoo.load
    monkeypatch.setattr(ganzoo, "list_models", lambda *a, family=None, **k: (
        ["pggan_inpaint.pool256"] if family == "pggan_inpaint" else real_list(*a, family=family, **k)))
    monkeypatch.setattr(ganzoo, "load", lambda name, **k: model if name.startswith("pggan") else real_load(name, **k))
    res = run_demo(tmp_path, sections=["inpaint"], export=False)
    assert res.ok
    s = next(s for s in res.sections if s.id == "inpaint")
    assert s.status == "shown"
    cols = ["input", "mask", "telea", "navier_stokes", "ganzoo", "gt"]
    for photo, _, kind in INPAINT_DEMO_PAIRS:
        for c in cols:
            assert (tmp_path / f"inpaint_{photo}_{kind}_{c}.png").is_file(), (photo, kind, c)
    page = _check_self_contained(res.index)
    text = page.section_text["inpaint"]
    assert text.count("PSNR") == 3 * len(INPAINT_DEMO_PAIRS) + 1  # three methods per pair + the intro
