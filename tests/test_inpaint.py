"""ganzoo.pipelines.inpaint and `ganzoo inpaint`: compositing, padding and cropping, mask conventions, grey / alpha,
model checks and the CLI. A small random pggan_inpaint model only (the registry tag may have no weights yet)."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

import ganzoo
from ganzoo.cli import main as ganzoo_main
from ganzoo.pipelines import inpaint
from ganzoo.pipelines.inpainting import Inpainter, NotAnInpaintingModelError, hole_mask, model_padding, rects_mask

SMALL = dict(g_widths=(8, 16, 32), n_blocks=1, image_size=64, d_widths=(8, 16), d_patch_width=8, d_global_width=8)


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return ganzoo.create("pggan_inpaint", **SMALL).eval()


def rand_img(h, w, c=3, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (h, w, c) if c else (h, w), dtype=np.uint8)


def box(h, w, y0, y1, x0, x1):
    m = np.zeros((h, w), dtype=bool)
    m[y0:y1, x0:x1] = True
    return m


def reference_raw(model, padded: np.ndarray, known: np.ndarray) -> np.ndarray:
    """The generator run by hand on an already padded uint8 RGB image -> raw output as uint8."""
    x = torch.from_numpy(padded.astype(np.float32) / 255).permute(2, 0, 1)[None] * 2 - 1
    with torch.no_grad():
        _, raw = model.generator(x, torch.from_numpy(known)[None, None].float(), return_raw=True)
    return np.rint(((raw[0] + 1) / 2).clamp(0, 1).permute(1, 2, 0).numpy() * 255).astype(np.uint8)


@pytest.mark.parametrize("size", [(37, 53), (5, 7), (32, 32)])
def test_composite_keeps_known_pixels_and_crops_back(model, size):
    h, w = size
    img, hole = rand_img(h, w), box(h, w, 1, h - 1, 2, w - 2)
    out = inpaint(img, hole, model)
    raw = inpaint(img, hole, model, raw=True)
    assert out.shape == raw.shape == img.shape and out.dtype == np.uint8
    np.testing.assert_array_equal(out[~hole], img[~hole])
    np.testing.assert_array_equal(out[hole], raw[hole])
    assert (raw[~hole] != img[~hole]).mean() > 0.5  # raw really is the model everywhere
    assert (out[hole] != img[hole]).mean() > 0.5


def test_padding_equals_running_the_model_on_the_padded_image(model):
    img, hole = rand_img(37, 53), box(37, 53, 10, 20, 5, 30)
    (t, b), (l, r) = model_padding(37, 53, 4, 32)
    assert ((t, b), (l, r)) == ((1, 2), (1, 2))
    padded = np.pad(img, ((t, b), (l, r), (0, 0)), mode="reflect")
    known = np.pad(~hole, ((t, b), (l, r)), constant_values=True)
    ref = reference_raw(model, padded, known)[t:t + 37, l:l + 53]
    np.testing.assert_array_equal(inpaint(img, hole, model, raw=True), ref)
    # tiny image: reflect impossible (pad 13 >= 5) -> edge replication
    tiny, th = rand_img(5, 7, seed=1), box(5, 7, 1, 3, 1, 4)
    (t, b), (l, r) = model_padding(5, 7, 4, 32)
    padded = np.pad(tiny, ((t, b), (l, r), (0, 0)), mode="edge")
    ref = reference_raw(model, padded, np.pad(~th, ((t, b), (l, r)), constant_values=True))[t:t + 5, l:l + 7]
    np.testing.assert_array_equal(inpaint(tiny, th, model, raw=True), ref)


def test_mask_conventions_and_threshold(model, tmp_path):
    img, hole = rand_img(40, 40), box(40, 40, 8, 24, 4, 30)
    want = inpaint(img, hole, model)
    grey = np.where(hole, np.uint8(200), np.uint8(127))  # 200 >= 128 -> hole; 127 -> known
    np.testing.assert_array_equal(inpaint(img, grey, model), want)
    assert (hole_mask(np.full((2, 2), 128, np.uint8)) == True).all()  # noqa: E712
    assert not hole_mask(np.full((2, 2), 127, np.uint8)).any()
    Image.fromarray(np.where(hole, np.uint8(255), np.uint8(0))).save(tmp_path / "m.png")
    np.testing.assert_array_equal(inpaint(img, tmp_path / "m.png", model), want)  # white = hole, from a file
    np.testing.assert_array_equal(inpaint(Image.fromarray(img), Image.fromarray(hole), model), want)  # PIL '1'
    rgba = np.zeros((40, 40, 4), np.uint8)
    rgba[..., :3] = 255  # white everywhere, opaque only inside the hole
    rgba[..., 3] = np.where(hole, 255, 0)
    np.testing.assert_array_equal(hole_mask(rgba), hole)
    rgb = np.stack([np.where(hole, 255, 10)] * 3, axis=-1).astype(np.uint8)
    np.testing.assert_array_equal(hole_mask(rgb), hole)
    np.testing.assert_array_equal(inpaint(img, np.zeros((40, 40), bool), model), img)  # no hole: unchanged


def test_mask_errors(model):
    img = rand_img(30, 40)
    with pytest.raises(ValueError, match=r"its size 41x30 differs from the image's 40x30 \(W x H\)"):
        inpaint(img, np.zeros((30, 41), bool), model)
    with pytest.raises(ValueError, match="every pixel of the 40x30 image is a hole"):
        inpaint(img, np.ones((30, 40), bool), model)
    with pytest.raises(TypeError, match="for a float mask pass"):
        inpaint(img, np.zeros((30, 40), np.float32), model)


def test_rects_mask_union_and_errors():
    m = rects_mask([(1, 0, 2, 2), (2, 1, 3, 2)], (4, 6))
    assert m.sum() == 4 + 6 - 1 and m[0, 1] and m[2, 4] and not m[3].any()
    with pytest.raises(ValueError, match=r"reaches outside the 6x4 \(W x H\) image \(x \+ w = 7"):
        rects_mask([(4, 0, 3, 1)], (4, 6))
    with pytest.raises(ValueError, match="w, h >= 1"):
        rects_mask([(0, 0, 0, 1)], (4, 6))


def test_grey_and_alpha_inputs(model):
    grey, hole = rand_img(36, 36, c=0), box(36, 36, 5, 20, 5, 20)
    out = inpaint(grey, hole, model)
    assert out.shape == (36, 36)
    np.testing.assert_array_equal(out[~hole], grey[~hole])
    raw3 = inpaint(np.repeat(grey[..., None], 3, axis=2), hole, model, raw=True).astype(np.float64)
    luma = raw3 @ np.array([0.299, 0.587, 0.114])
    assert np.abs(out[hole].astype(np.float64) - luma[hole]).max() <= 1.0  # luma of the RGB output
    rgba = rand_img(36, 36, c=4, seed=2)
    out4 = inpaint(rgba, hole, model)
    np.testing.assert_array_equal(out4[..., 3], rgba[..., 3])
    np.testing.assert_array_equal(out4[..., :3], inpaint(rgba[..., :3], hole, model))


def test_non_inpainting_models_are_refused():
    with pytest.raises(NotAnInpaintingModelError, match="is not an inpainting model"):
        Inpainter(ganzoo.create("srresnet", num_blocks=1, width=8))


# --------------------------------------------------------------------------------------------------------- CLI


@pytest.fixture(scope="module")
def saved(model, tmp_path_factory):
    return ganzoo.save_pretrained(model, tmp_path_factory.mktemp("m") / "tiny-inpaint")


def cli(*args) -> int:
    return ganzoo_main(["inpaint", *map(str, args)])


def test_cli_single_file_mask_and_rects(tmp_path, saved, model, capsys):
    img, hole = rand_img(30, 44), box(30, 44, 4, 12, 6, 20)
    Image.fromarray(img).save(tmp_path / "a.png")
    Image.fromarray(np.where(hole, np.uint8(255), np.uint8(0))).save(tmp_path / "m.png")
    out = tmp_path / "out.png"
    assert cli(tmp_path / "a.png", "--mask", tmp_path / "m.png", "-o", out, "--model", saved) == 0
    assert capsys.readouterr().out.strip() == str(out)
    want = inpaint(img, hole, model)
    np.testing.assert_array_equal(np.asarray(Image.open(out)), want)
    out2 = tmp_path / "rect.png"
    assert cli(tmp_path / "a.png", "--mask-rect", "6,4,10,8", "--mask-rect", "10,4,10,8", "-o", out2,
               "--model", saved) == 0
    np.testing.assert_array_equal(np.asarray(Image.open(out2)), want)  # the union of the two rects = hole
    # errors: one line, exit 1, nothing written
    bad = tmp_path / "bad.png"
    for args, msg in [(("--mask-rect", "1,2,3"), "expected x,y,w,h (four ints"),
                      (("--mask-rect", "0,0,0,5"), "w, h >= 1"),
                      ((), "no mask: give --mask"),
                      (("--mask", tmp_path / "m.png", "--mask-rect", "0,0,1,1"), "not both"),
                      (("--mask", tmp_path / "nope.png"), "no such file or folder")]:
        assert cli(tmp_path / "a.png", *args, "-o", bad, "--model", saved) == 1
        err = capsys.readouterr().err
        assert msg in err and err.count("\n") == 1, err
    assert cli(tmp_path / "a.png", "--mask-rect", "40,0,10,5", "-o", bad, "--model", saved) == 1
    assert "reaches outside the 44x30 (W x H) image" in capsys.readouterr().err
    assert cli(tmp_path / "a.png", "--mask-rect", "0,0,5,5", "-o", bad, "--model", "srresnet") == 1
    assert "is not an inpainting model" in capsys.readouterr().err
    assert not bad.exists() and not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_cli_folder_with_masks_matched_by_stem(tmp_path, saved, model, capsys):
    d, masks = tmp_path / "in", tmp_path / "masks"
    d.mkdir()
    masks.mkdir()
    imgs = {"a": rand_img(32, 40, seed=3), "b": rand_img(33, 35, seed=4), "c": rand_img(20, 20, seed=5)}
    holes = {"a": box(32, 40, 0, 10, 0, 10), "b": box(33, 35, 20, 30, 5, 25)}
    for k, v in imgs.items():
        Image.fromarray(v).save(d / f"{k}.png")
    for k, v in holes.items():
        Image.fromarray(np.where(v, np.uint8(255), np.uint8(0))).save(masks / f"{k}.png")
    out = tmp_path / "out"
    assert cli(d, "--mask", masks, "-o", out, "--model", saved) == 1  # c has no mask
    err = capsys.readouterr().err
    assert "1 of 3 input(s) failed" in err and "no mask named c.png/.jpg/.jpeg/.webp" in err
    assert sorted(p.name for p in out.iterdir()) == ["a.png", "b.png"]
    for k in holes:
        np.testing.assert_array_equal(np.asarray(Image.open(out / f"{k}.png")), inpaint(imgs[k], holes[k], model))
    assert cli(d, "--mask", masks / "a.png", "-o", tmp_path / "o2", "--model", saved) == 1
    assert "is one mask file, for one image" in capsys.readouterr().err
