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
from ganzoo import demo
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
            assert im.format == ("GIF" if src.endswith(".gif") else "PNG") and im.size[0] >= 16
    # every picture the demo wrote is on the page
    assert {p.name for p in [*out.glob("*.png"), *out.glob("*.gif")]} == set(_srcs(page))


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


# --- 3D-GAN, DR-GAN and TGAN sections ---------------------------------------------------------------------------

from ganzoo.demo import (DRGAN_DEMO_IDENTITY, DRGAN_INPUT_YAW, DRGAN_MULTI_INPUT_YAWS, DRGAN_MULTI_TAG,  # noqa: E402
                         DRGAN_TAG, GAN3D_DEMO_N, GAN3D_HELDOUT_INDICES, GAN3D_TAG, TGAN_DEMO_N, TGAN_TAG)

#: section id -> the tags it loads (shown when at least one has weights)
_NEW_SECTIONS = {"gan3d": (GAN3D_TAG,), "drgan": (DRGAN_TAG, DRGAN_MULTI_TAG), "tgan": (TGAN_TAG,),
                 "latent": (demo.LATENT_FACE_TAG,), "latent_edits": (demo.LATENT_POLYGON_TAG,)}
_DRGAN_WIDTHS = (4, 4, 4, 4, 8, 8, 8, 8, 8, 8, 8, 8, 8, 16)


def _no_weights(name):
    raise NoPretrainedWeightsError(f"no weights are published for {name} yet")


def _loader(models):
    """A run_demo(load=...) that returns the given models by tag and raises NoPretrainedWeightsError otherwise."""
    def load(name):
        if name in models:
            return models[name]
        return _no_weights(name)
    return load


def _widen(m, std):
    """Generator weights ~ N(0, std^2): the default init gives near-constant videos / volumes."""
    for p in m.generator.parameters():
        if p.dim() > 1:
            p.data.normal_(0, std)
    return m.eval()


def _lively(m, gain=1.4):
    """DR-GAN generator weights ~ N(0, gain^2 / fan_in): outputs that vary with the face and the pose."""
    for mod in m.generator.modules():
        if isinstance(mod, (torch.nn.Conv2d, torch.nn.ConvTranspose2d, torch.nn.Linear)):
            w = mod.weight
            fan = w.shape[0] * w.shape[2] * w.shape[3] if isinstance(mod, torch.nn.ConvTranspose2d) else w[0].numel()
            w.data.normal_(0, gain / fan ** 0.5)
    return m.eval()


def _png(path):
    with Image.open(path) as im:
        assert im.format == "PNG"
        return np.asarray(im.convert("RGB"))


def _gif_frames(path):
    from PIL import ImageSequence

    with Image.open(path) as im:
        assert im.format == "GIF"
        return [np.asarray(f.convert("RGB")) for f in ImageSequence.Iterator(im)]


def _strip(n, side, gap=2):
    return n * side + (n - 1) * gap


def test_new_sections_skip_with_the_reason_without_weights(tmp_path):
    res = run_demo(tmp_path, sections=["sr", *_NEW_SECTIONS, "registry"], load=_no_weights, export=False)
    assert res.ok
    page = _check_self_contained(res.index)
    sr = res.sections[0]  # without load_sr, the SR section loads through load= too
    assert sr.status == "skipped" and "no weights are published for srresnet yet" in sr.reason
    for sid, tags in _NEW_SECTIONS.items():
        s = next(s for s in res.sections if s.id == sid)
        assert s.status == "skipped" and "NoPretrainedWeightsError" in s.reason, (sid, s.reason)
        for tag in tags:
            assert f"ganzoo.load({tag!r}) raises NoPretrainedWeightsError" in s.reason
            assert f"no weights are published for {tag} yet" in page.section_text[sid]
        assert "Not shown" in page.section_text[sid]
        assert not list(tmp_path.glob(f"{sid}_*")), sid
    assert "no: no weights published" in page.section_text["registry"]


def test_new_sections_on_the_embedded_hub_follow_weight_availability(cli_demo):
    """The real hub: skipped with the NoPretrainedWeightsError message while a tag has no weights (all today),
    shown once weights are published (e.g. drgan.heads)."""
    _, out, _ = cli_demo
    page = _parse(out / "index.html")
    published = set(ganzoo.list_models(pretrained=True))
    for sid, tags in _NEW_SECTIONS.items():
        text = page.section_text[sid]
        if not published & set(tags):
            assert "Not shown:" in text and "NoPretrainedWeightsError" in text, sid
            for tag in tags:
                assert f"no weights are published for {tag} yet" in text
            assert not list(out.glob(f"{sid}_*")), sid
        else:
            assert "Not shown:" not in text and "This section failed" not in text, sid
            assert list(out.glob(f"{sid}_*.png")), sid


def test_gan3d_section_renders_samples_heldout_shapes_and_a_mesh(tmp_path):
    from ganzoo.data.voxels import read_mesh
    from ganzoo.pipelines.voxels import DEFAULT_VIEWS, render_views

    torch.manual_seed(0)
    model = _widen(ganzoo.create("gan3d_32.shapes", volume_size=16, ngf=4, ndf=4, nz=8), 0.3)
    res = run_demo(tmp_path, sections=["gan3d", "registry"], load=_loader({GAN3D_TAG: model}), export=False)
    assert res.ok and res.sections[0].status == "shown"
    page = _check_self_contained(res.index)
    assert {"gan3d_samples.png", "gan3d_heldout.png"} <= set(_srcs(page))
    views = len(DEFAULT_VIEWS)
    gen = _png(tmp_path / "gan3d_samples.png")
    assert gen.shape == (_strip(GAN3D_DEMO_N, 128), _strip(views, 128), 3)
    assert _png(tmp_path / "gan3d_heldout.png").shape == (_strip(len(GAN3D_HELDOUT_INDICES), 128),
                                                         _strip(views, 128), 3)
    with torch.no_grad():  # deterministic by seed: the first row is sample 0 of seed 0
        vols = model.sample(GAN3D_DEMO_N, generator=torch.Generator().manual_seed(0)).numpy()
    assert np.array_equal(gen[:128, :128], render_views(vols[0], DEFAULT_VIEWS, 128, 0.5)[:, :128])
    meshes = list(tmp_path.glob("gan3d_sample_*.obj"))
    assert len(meshes) == 1 and meshes[0] in res.files
    v, f = read_mesh(meshes[0])
    assert len(v) > 0 and len(f) > 0
    assert any(t == "a" and a.get("href") == meshes[0].name for t, a in page.tags)
    text = page.section_text["gan3d"]
    assert "gan3d_32.shapes" in text and "seed 0" in text and "voxel_heldout()" in text
    assert '<a href="#gan3d">yes</a>' in res.index.read_text()  # the registry section links to it


def test_gan3d_section_with_empty_samples_says_there_is_no_mesh(tmp_path):
    torch.manual_seed(0)
    model = ganzoo.create("gan3d_32.shapes", volume_size=16, ngf=4, ndf=4, nz=8).eval()
    for p in model.generator.parameters():
        p.data.zero_()  # sigmoid(0) = 0.5 everywhere: nothing above the threshold
    res = run_demo(tmp_path, sections=["gan3d"], load=_loader({GAN3D_TAG: model}), export=False)
    assert res.ok and res.sections[0].status == "shown"
    text = _check_self_contained(res.index).section_text["gan3d"]
    assert "empty: no surface" in text and "there is no mesh to write" in text
    assert not list(tmp_path.glob("*.obj"))
    assert (_png(tmp_path / "gan3d_samples.png") == 255).all()


@pytest.fixture(scope="module")
def tiny_drgans():
    torch.manual_seed(0)
    return (_lively(ganzoo.create("drgan.heads", widths=_DRGAN_WIDTHS, num_identities=4)),
            _lively(ganzoo.create("drgan_multi.heads", widths=_DRGAN_WIDTHS, num_identities=4)))


def test_drgan_section_sweeps_a_heldout_head_against_the_truth(tmp_path, tiny_drgans):
    from ganzoo.data.heads import HEADS_HELDOUT_SEED, YAWS, identity_for, render_head, render_views
    from ganzoo.pipelines.rotation import rotate, tile_poses

    single, multi = tiny_drgans
    res = run_demo(tmp_path, sections=["drgan"], load=_loader({DRGAN_TAG: single, DRGAN_MULTI_TAG: multi}),
                   export=False)
    assert res.ok and res.sections[0].status == "shown"
    page = _check_self_contained(res.index)
    names = ["drgan_input.png", "drgan_sweep.png", "drgan_multi_inputs.png", "drgan_multi_sweep.png",
             "drgan_truth.png"]
    assert set(names) <= set(_srcs(page))
    identity = identity_for(HEADS_HELDOUT_SEED, DRGAN_DEMO_IDENTITY)
    face = render_head(identity, DRGAN_INPUT_YAW)
    assert np.array_equal(_png(tmp_path / "drgan_input.png"), face)
    assert np.array_equal(_png(tmp_path / "drgan_truth.png"), tile_poses(render_views(identity, YAWS)[None]))
    assert np.array_equal(_png(tmp_path / "drgan_sweep.png"), tile_poses(rotate(face, "sweep", single, seed=0)))
    faces = [render_head(identity, y) for y in DRGAN_MULTI_INPUT_YAWS]
    assert _png(tmp_path / "drgan_multi_inputs.png").shape == (96, _strip(3, 96), 3)
    assert np.array_equal(_png(tmp_path / "drgan_multi_sweep.png"), tile_poses(rotate(faces, "sweep", multi, seed=0)))
    assert _png(tmp_path / "drgan_multi_sweep.png").shape == (96, _strip(len(YAWS), 96), 3)
    text = page.section_text["drgan"]
    assert "drgan.heads" in text and "drgan_multi.heads" in text and str(HEADS_HELDOUT_SEED) in text
    assert text.count("PSNR vs the true render") == 2


def test_drgan_section_without_multi_weights_shows_the_single_sweep(tmp_path, tiny_drgans):
    res = run_demo(tmp_path, sections=["drgan"], load=_loader({DRGAN_TAG: tiny_drgans[0]}), export=False)
    assert res.ok and res.sections[0].status == "shown"
    text = _check_self_contained(res.index).section_text["drgan"]
    assert f"ganzoo.load({DRGAN_MULTI_TAG!r}) raises NoPretrainedWeightsError" in text
    assert (tmp_path / "drgan_sweep.png").is_file() and not list(tmp_path.glob("drgan_multi_*"))


def test_tgan_section_writes_gifs_and_frame_strips(tmp_path):
    from ganzoo.data.sprites import sprite_heldout
    from ganzoo.pipelines.video import video_to_uint8

    torch.manual_seed(0)
    model = _widen(ganzoo.create("tgan.sprites", temporal_widths=(8, 8, 8, 8), g_widths=(16, 8, 8, 8, 8),
                                 d_widths=(4, 4, 4, 4), z_dim=8, frame_z_dim=8), 0.5)
    res = run_demo(tmp_path, sections=["tgan"], load=_loader({TGAN_TAG: model}), export=False)
    assert res.ok and res.sections[0].status == "shown"
    page = _check_self_contained(res.index)
    srcs = set(_srcs(page))
    assert {"tgan_samples.gif", "tgan_heldout.gif", "tgan_samples_frames.png", "tgan_heldout_frames.png"} <= srcs
    side = _strip(2, 64)  # 4 videos tiled 2 x 2
    for stem in ("tgan_samples", "tgan_heldout"):
        frames = _gif_frames(tmp_path / f"{stem}.gif")
        assert len(frames) == 16 and frames[0].shape == (side, side, 3), stem
        assert _png(tmp_path / f"{stem}_frames.png").shape == (_strip(TGAN_DEMO_N, 64), _strip(16, 64), 3)
    real, _ = sprite_heldout(TGAN_DEMO_N, dtype=np.uint8)
    strip = _png(tmp_path / "tgan_heldout_frames.png")
    assert np.array_equal(strip[:64, :64], video_to_uint8(real[0])[0])  # video 0, frame 0
    with torch.no_grad():  # deterministic by seed: the strip's first tile is frame 0 of sample 0 of seed 0
        video = model.sample(TGAN_DEMO_N, generator=torch.Generator().manual_seed(0))
    assert np.array_equal(_png(tmp_path / "tgan_samples_frames.png")[:64, :64], video_to_uint8(video[0])[0])
    text = page.section_text["tgan"]
    assert "tgan.sprites" in text and "seed 0" in text and "sprite_heldout(4)" in text


def test_latent_section_grid_corners_are_the_corner_codes(tmp_path):
    """The face grid is rows x cols tiles; its four corner tiles are G of the four seeded corner codes."""
    from ganzoo.utils import to_uint8

    torch.manual_seed(0)
    model = _widen(ganzoo.create("dcgan", ngf=8, ndf=8, nz=16), 0.5)
    res = run_demo(tmp_path, sections=["latent"], load=_loader({demo.LATENT_FACE_TAG: model}), export=False)
    assert res.ok and res.sections[0].status == "shown"
    page = _check_self_contained(res.index)
    assert {"latent_face_grid.png", "latent_face_linear.png", "latent_face_slerp.png"} <= set(_srcs(page))
    rows, cols = demo.LATENT_GRID
    grid = _png(tmp_path / "latent_face_grid.png")
    pad = 2  # make_grid's padding
    assert grid.shape == (rows * (64 + pad) + pad, cols * (64 + pad) + pad, 3)
    corners = torch.randn(4, 16, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        g = to_uint8(model.generator(corners), (-1.0, 1.0)).permute(0, 2, 3, 1).numpy()

    def tile(r, c):
        y, x = pad + r * (64 + pad), pad + c * (64 + pad)
        return grid[y:y + 64, x:x + 64].astype(int)

    for k, (r, c) in enumerate(((0, 0), (0, cols - 1), (rows - 1, 0), (rows - 1, cols - 1))):
        assert np.abs(tile(r, c) - g[k]).max() <= 1, k
    assert np.abs(tile(0, 0) - tile(rows - 1, cols - 1)).mean() > 1  # the corners differ
    text = page.section_text["latent"]
    assert "dcgan.digiface" in text and f"{rows} x {cols}" in text
    # the inversion figure: the astronaut's face (x2, nearest) beside G(z) of its inverted code
    inv = _png(tmp_path / "latent_face_inversion.png")
    assert inv.shape == (2 * (64 + 2 * pad), 2 * (2 * 64 + 3 * pad), 3)
    face = demo._astronaut_face(64)
    left = inv[2 * pad:2 * (pad + 64):2, 2 * pad:2 * (pad + 64):2].astype(int)
    assert np.abs(left - face).max() <= 1
    assert "skimage.data.astronaut()" in text and "PSNR" in text and "latent_face_inversion.png" in _srcs(page)


def test_latent_edits_section_tiles_and_readings(tmp_path):
    """Per edit: LATENT_EDIT_IMAGES rows of input | G(E(x)) | edit, the inputs being the first held-out images
    with the source value; the classifier's readings tabled; a tag that ships no encoder is skipped, saying so."""
    from ganzoo.data.polygons import polygon_heldout
    from ganzoo.latent.encoders import encoder_for
    from ganzoo.train.classifiers import PolygonClassifier

    torch.manual_seed(0)
    model = _widen(ganzoo.create("dcgan_32", ngf=8, ndf=8, nz=8, nc=3), 0.3)
    extras = {"encoder": encoder_for(model).eval(), "classifier": PolygonClassifier().eval()}
    load = _loader({demo.LATENT_POLYGON_TAG: model})
    res = run_demo(tmp_path, sections=["latent_edits"], load=load, load_extra=lambda tag, kind: extras[kind],
                   export=False)
    assert res.ok and res.sections[0].status == "shown", res.sections[0].reason
    page = _check_self_contained(res.index)
    xs, labs = polygon_heldout(demo.LATENT_VECTOR_IMAGES[0])
    n, side = demo.LATENT_EDIT_IMAGES, 32 * 3
    for factor, src, dst in demo.LATENT_EDITS:
        name = f"latent_edits_{factor}_{src}_{dst}.png"
        assert name in _srcs(page)
        pic = _png(tmp_path / name)
        assert pic.shape == (n * side + (n - 1) * 2, 3 * side + 2 * 2, 3)
        src_idx = {"red": 0, "small": 0}[src]
        first = int(np.flatnonzero(labs[factor] == src_idx)[0])
        want = ((xs[first].transpose(1, 2, 0) + 1) * 127.5).round().clip(0, 255).astype(np.uint8)
        assert np.array_equal(pic[:side:3, :side:3], want)  # the top-left tile is that held-out image, x3
    text = page.section_text["latent_edits"]
    assert text.count(f"of {n} edits reach") == len(demo.LATENT_EDITS) and "strength 2" in text
    res = run_demo(tmp_path / "b", sections=["latent_edits"], load=load, load_extra=lambda tag, kind: None,
                   export=False)
    assert res.sections[0].status == "skipped" and "ships no encoder" in res.sections[0].reason
