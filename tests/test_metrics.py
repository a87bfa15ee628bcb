"""ganzoo.metrics (PSNR / SSIM / BT.601 Y) against scikit-image and closed forms, and the held-out photo set."""
from __future__ import annotations

import math

import numpy as np
import pytest

from ganzoo.data.photos import SR_HELDOUT, bicubic_up, get_photo, list_photos, load_photo, make_lr
from ganzoo.metrics import (
    gaussian_window_1d,
    psnr,
    rgb_to_y,
    sr_forward,
    sr_postprocess,
    sr_preprocess,
    sr_scores,
    ssim,
)

skm = pytest.importorskip("skimage.metrics")
skcolor = pytest.importorskip("skimage.color")

PHOTOS = ["astronaut", "chelsea", "china", "grace_hopper"]  # one of each package, PNG and JPEG sources


def _pair(name: str) -> tuple[np.ndarray, np.ndarray]:
    """A real photo crop and its x4 bicubic round trip: a realistic distorted image."""
    hr = load_photo(name)
    return hr, bicubic_up(make_lr(hr, 4), 4)


def _sk_ssim(a, b, **kw):
    return skm.structural_similarity(a, b, gaussian_weights=True, sigma=1.5, use_sample_covariance=False, **kw)


# ------------------------------------------------------------------------------------------------- Y channel

def test_rgb_to_y_matches_skimage_rgb2ycbcr_on_photos():
    for name in PHOTOS:
        img = load_photo(name)
        ref = skcolor.rgb2ycbcr(img)[..., 0]  # skimage: Y in [16, 235], BT.601, from RGB scaled to [0, 1]
        np.testing.assert_allclose(rgb_to_y(img), ref, rtol=0, atol=1e-9)


def test_rgb_to_y_known_values_and_float_scale():
    img = np.array([[[0, 0, 0], [255, 255, 255], [255, 0, 0], [0, 255, 0], [0, 0, 255]]], dtype=np.uint8)
    np.testing.assert_allclose(rgb_to_y(img)[0], [16.0, 235.0, 16 + 65.481, 16 + 128.553, 16 + 24.966], atol=1e-9)
    f = img.astype(np.float32) / 255.0
    np.testing.assert_allclose(rgb_to_y(f, data_range=1.0), rgb_to_y(img) / 255.0, atol=1e-7)


def test_rgb_to_y_refuses_non_rgb():
    with pytest.raises(ValueError, match=r"expected an RGB image of shape \(H, W, 3\), got shape \(4, 4\)"):
        rgb_to_y(np.zeros((4, 4), np.uint8))
    with pytest.raises(ValueError, match="data_range is required for float32"):
        rgb_to_y(np.zeros((4, 4, 3), np.float32))


# ------------------------------------------------------------------------------------------------- PSNR

def test_psnr_matches_skimage_on_photos_rgb_and_y():
    for name in PHOTOS:
        hr, up = _pair(name)
        assert psnr(hr, up) == pytest.approx(skm.peak_signal_noise_ratio(hr, up, data_range=255), abs=1e-10)
        b = 4
        ref = skm.peak_signal_noise_ratio(hr[b:-b, b:-b], up[b:-b, b:-b], data_range=255)
        assert psnr(hr, up, border=b) == pytest.approx(ref, abs=1e-10)
        ya, yb = skcolor.rgb2ycbcr(hr)[..., 0], skcolor.rgb2ycbcr(up)[..., 0]
        ref_y = skm.peak_signal_noise_ratio(ya[b:-b, b:-b], yb[b:-b, b:-b], data_range=255)
        assert psnr(hr, up, border=b, y_channel=True) == pytest.approx(ref_y, abs=1e-9)
        assert 15 < ref_y < 50  # a real, finite comparison


def test_psnr_identical_is_inf_and_constant_offset_is_closed_form():
    hr = load_photo("coffee")
    assert psnr(hr, hr) == math.inf and psnr(hr, hr, y_channel=True, border=4) == math.inf
    d = 3
    a = np.clip(hr.astype(np.int16), d, 255 - d).astype(np.uint8)  # room for the offset without clipping
    b = (a.astype(np.int16) + d).astype(np.uint8)
    assert psnr(a, b) == pytest.approx(20 * math.log10(255 / d), abs=1e-10)
    # the same offset on R, G and B moves Y by d * (65.481 + 128.553 + 24.966) / 255 = d * 219 / 255
    assert psnr(a, b, y_channel=True) == pytest.approx(20 * math.log10(255 / (d * 219 / 255)), abs=1e-9)
    # float images in [0, 1]: the same value with data_range 1
    assert psnr(a / 255.0, b / 255.0, data_range=1.0) == pytest.approx(20 * math.log10(255 / d), abs=1e-9)


def test_psnr_border_removes_only_the_border():
    a = np.full((32, 32, 3), 100, np.uint8)
    b = a.copy()
    b[:2] = 0  # damage only the top two rows
    assert psnr(a, b, border=2) == math.inf
    assert psnr(a, b, border=1) < 30


@pytest.mark.parametrize("call,exc,msg", [
    (lambda: psnr(np.zeros((8, 8, 3), np.uint8), np.zeros((8, 9, 3), np.uint8)), ValueError,
     r"same shape, got \(8, 8, 3\) and \(8, 9, 3\)"),
    (lambda: psnr(np.zeros((8, 8), np.uint8), np.zeros((8, 8), np.float32)), TypeError, "same dtype"),
    (lambda: psnr(np.zeros((8, 8), np.float64), np.ones((8, 8), np.float64)), ValueError, "data_range is required"),
    (lambda: psnr(np.zeros((8, 8), np.uint8), np.zeros((8, 8), np.uint8), border=4), ValueError,
     "border 4 leaves nothing of a 8x8 image"),
    (lambda: psnr(np.zeros((8, 8), np.uint8), np.zeros((8, 8), np.uint8), border=-1), ValueError, "border must be"),
    (lambda: psnr([[1]], [[1]]), TypeError, "expected a numpy array"),
    (lambda: psnr(np.zeros((2, 8, 8, 3), np.uint8), np.zeros((2, 8, 8, 3), np.uint8)), ValueError,
     r"shape \(H, W\) or \(H, W, C\)"),
    (lambda: psnr(np.zeros((8, 8), bool), np.zeros((8, 8), bool)), TypeError, "uint8, uint16 or a float"),
    (lambda: psnr(np.zeros((8, 8), np.float32), np.zeros((8, 8), np.float32), data_range=0), ValueError,
     "data_range must be a finite number > 0"),
    (lambda: ssim(np.zeros((16, 16), np.uint8), np.zeros((16, 16), np.uint8), border=3), ValueError,
     "at least 11x11 after the border, got 10x10"),
])
def test_bad_input_is_refused_clearly(call, exc, msg):
    with pytest.raises(exc, match=msg):
        call()


# ------------------------------------------------------------------------------------------------- SSIM

def test_ssim_matches_skimage_on_photos_rgb_and_y():
    for name in PHOTOS:
        hr, up = _pair(name)
        ref = _sk_ssim(hr, up, data_range=255, channel_axis=2)
        assert ssim(hr, up) == pytest.approx(ref, abs=1e-9)
        b = 4
        ya, yb = skcolor.rgb2ycbcr(hr)[..., 0], skcolor.rgb2ycbcr(up)[..., 0]
        ref_y = _sk_ssim(ya[b:-b, b:-b], yb[b:-b, b:-b], data_range=255)
        got = ssim(hr, up, border=b, y_channel=True)
        assert got == pytest.approx(ref_y, abs=1e-9)
        assert 0.3 < got < 0.99


def test_ssim_matches_skimage_on_float_images():
    hr, up = _pair("flower")
    a, b = hr.astype(np.float32) / 255, up.astype(np.float32) / 255
    ref = _sk_ssim(a, b, data_range=1.0, channel_axis=2)
    assert ssim(a, b, data_range=1.0) == pytest.approx(ref, abs=1e-6)


def test_ssim_against_a_brute_force_window_loop():
    """Second, loop-based reference: each 11x11 window's weighted means, variances and covariance, directly."""
    rng = np.random.default_rng(0)
    a = rng.integers(0, 256, (17, 19), dtype=np.uint8)
    b = np.clip(a.astype(int) + rng.integers(-40, 41, a.shape), 0, 255).astype(np.uint8)
    g = gaussian_window_1d()
    w = np.outer(g, g)
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    vals = []
    for i in range(a.shape[0] - 10):
        for j in range(a.shape[1] - 10):
            x = a[i:i + 11, j:j + 11].astype(float)
            y = b[i:i + 11, j:j + 11].astype(float)
            mx, my = (w * x).sum(), (w * y).sum()
            vx, vy = (w * (x - mx) ** 2).sum(), (w * (y - my) ** 2).sum()
            cxy = (w * (x - mx) * (y - my)).sum()
            vals.append((2 * mx * my + c1) * (2 * cxy + c2) / ((mx ** 2 + my ** 2 + c1) * (vx + vy + c2)))
    assert ssim(a, b) == pytest.approx(float(np.mean(vals)), abs=1e-12)


def test_ssim_known_values():
    hr = load_photo("chelsea")
    assert ssim(hr, hr) == pytest.approx(1.0, abs=1e-12)
    assert ssim(hr, hr, y_channel=True, border=4) == pytest.approx(1.0, abs=1e-12)
    # an inverted image is anti-correlated: structure term negative
    assert ssim(hr, 255 - hr) < 0


def test_gaussian_window_is_the_standard_one():
    g = gaussian_window_1d()
    assert g.shape == (11,) and g.sum() == pytest.approx(1.0)
    t = np.arange(-5, 6)
    np.testing.assert_allclose(g / g[5], np.exp(-t ** 2 / (2 * 1.5 ** 2)))


def test_sr_scores_is_the_protocol():
    hr, up = _pair("rocket")
    s = sr_scores(hr, up, 4)
    assert s == {"psnr_y": psnr(hr, up, border=4, y_channel=True), "ssim_y": ssim(hr, up, border=4, y_channel=True),
                 "psnr_rgb": psnr(hr, up, border=4)}


# ------------------------------------------------------------------------------------------------- SR forward

@pytest.mark.parametrize("rng", [(0.0, 1.0), (-1.0, 1.0)])
def test_pre_and_post_processing_round_trip_exactly(rng):
    img = load_photo("astronaut")[:40, :48]
    x = sr_preprocess(img, rng)
    assert x.shape == (1, 3, 40, 48) and x.dtype == np.float32
    assert x.min() >= rng[0] and x.max() <= rng[1]
    np.testing.assert_array_equal(sr_postprocess(x, rng), img)


def test_postprocess_clips_and_rounds():
    out = np.array([-0.5, 0.0, 0.4 / 255, 1.6 / 255, 0.5, 1.0, 2.0], np.float32).reshape(1, 1, 1, 7).repeat(3, 1)
    got = sr_postprocess(out, (0.0, 1.0))[0, :, 0]
    # 0.5 * 255 = 127.5 exactly: rounded half to even, 128
    np.testing.assert_array_equal(got, [0, 0, 0, 2, 128, 255, 255])
    np.testing.assert_array_equal(sr_postprocess(out * 2 - 1, (-1.0, 1.0))[0, :, 0], [0, 0, 0, 2, 128, 255, 255])


def test_sr_forward_matches_a_direct_torch_computation():
    import torch

    import ganzoo

    torch.manual_seed(0)
    model = ganzoo.create("srresnet.imagenet", num_blocks=1, width=8).eval()  # [0, 1] in, clamp to [0, 1]
    lr = make_lr(load_photo("coffee"), 4)[:16, :20]
    got = sr_forward(model, lr)
    with torch.no_grad():
        x = torch.from_numpy(lr.astype(np.float32) / 255).permute(2, 0, 1)[None]
        y = model(x)[0].permute(1, 2, 0).numpy().astype(np.float64)
    ref = np.round(np.clip(y, 0, 1) * 255).astype(np.uint8)
    assert got.shape == (64, 80, 3) and got.dtype == np.uint8
    np.testing.assert_array_equal(got, ref)
    tanh = ganzoo.create("srresnet.paper", num_blocks=1, width=8).eval()  # tanh output in [-1, 1]
    with torch.no_grad():
        y = tanh(x)[0].permute(1, 2, 0).numpy().astype(np.float64)
    np.testing.assert_array_equal(sr_forward(tanh, lr), np.round(np.clip((y + 1) / 2, 0, 1) * 255).astype(np.uint8))


def test_sr_forward_refuses_non_sr_models_and_bad_images():
    import ganzoo

    with pytest.raises(ValueError, match="declares no input_range/output_range"):
        sr_forward(ganzoo.create("dcgan_32.mnist", ngf=8, ndf=8), np.zeros((8, 8, 3), np.uint8))
    with pytest.raises(ValueError, match=r"expected a uint8 RGB array \(H, W, 3\), got float64"):
        sr_preprocess(np.zeros((8, 8, 3)))


# ------------------------------------------------------------------------------------------------- photos

def test_heldout_set_is_named_cropped_and_divisible():
    assert len(SR_HELDOUT) == 10 and len(set(list_photos())) == 10
    assert {p.package for p in SR_HELDOUT} == {"scikit-image", "scikit-learn", "matplotlib"}
    for p in SR_HELDOUT:
        hr = p.load()
        t, l, h, w = p.box
        assert hr.dtype == np.uint8 and hr.shape == (h, w, 3) and h % 8 == 0 and w % 8 == 0
        np.testing.assert_array_equal(hr, p.load_full()[t:t + h, l:l + w])
        assert hr.std() > 5, f"{p.name}: the crop is nearly flat"
        d = p.to_dict()
        assert d["source"] and d["license"] and d["box_format"] == "top, left, height, width"


def test_get_photo_unknown_name():
    with pytest.raises(ValueError, match=r"unknown held-out photo 'lena'; expected one of \['astronaut'"):
        get_photo("lena")


def test_changed_package_image_is_detected(monkeypatch):
    import dataclasses

    p = get_photo("astronaut")
    small = dataclasses.replace(p, loader=lambda: np.zeros((100, 100, 3), np.uint8))
    with pytest.raises(ValueError, match="expected 512x512 pixels, got 100x100"):
        small.load()


def test_make_lr_and_bicubic_up_are_pil_bicubic_with_antialias():
    """Independent reference: torch's antialiased bicubic (Keys a = -0.5, the kernel widened by the factor when
    shrinking) is PIL's filter. PIL rounds to 8 bits between its horizontal and vertical passes, so a few pixels
    differ by more than one level."""
    import torch
    import torch.nn.functional as F

    for name in ("astronaut", "china"):
        hr = load_photo(name)
        lr = make_lr(hr, 4)
        assert lr.shape == (64, 64, 3) and lr.dtype == np.uint8
        for src, factor, got in ((hr, 0.25, lr), (lr, 4, bicubic_up(lr, 4))):
            t = torch.from_numpy(src.copy()).permute(2, 0, 1)[None].double()
            ref = F.interpolate(t, scale_factor=factor, mode="bicubic", antialias=True, align_corners=False)
            ref = ref.round().clamp(0, 255)[0].permute(1, 2, 0).numpy()
            diff = np.abs(ref - got)
            assert diff.max() <= 8 and (diff > 1).mean() < 0.005, (name, factor, diff.max(), (diff > 1).mean())


def test_make_lr_grey_and_errors():
    g = np.arange(64 * 64, dtype=np.uint32).reshape(64, 64).astype(np.uint8)
    assert make_lr(g, 2).shape == (32, 32) and bicubic_up(make_lr(g, 2), 2).shape == (64, 64)
    assert make_lr(np.full((16, 16, 3), 77, np.uint8), 4).tolist() == np.full((4, 4, 3), 77).tolist()
    with pytest.raises(ValueError, match="HR size 30x32 is not divisible by the scale 4"):
        make_lr(np.zeros((30, 32, 3), np.uint8), 4)
    with pytest.raises(ValueError, match=r"expected a uint8 array \(H, W\) or \(H, W, 3\), got float64"):
        make_lr(np.zeros((32, 32, 3)), 4)
    with pytest.raises(ValueError, match="scale must be an int >= 1, got 0"):
        bicubic_up(np.zeros((8, 8, 3), np.uint8), 0)
