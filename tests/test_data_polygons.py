"""ganzoo.data.polygons: determinism, labels that match the pixels, the held-out seed refused."""
from __future__ import annotations

import numpy as np
import pytest

from ganzoo.data.polygons import (BACKGROUND, POLYGON_PALETTE, POLYGONS_HELDOUT_SEED, SIZE_BUCKETS, polygon_dataset,
                                  polygon_heldout, position_bucket)


def test_deterministic_and_prefix():
    a, la = polygon_dataset(16, seed=3)
    b, lb = polygon_dataset(8, seed=3)
    assert a.shape == (16, 3, 32, 32) and a.dtype == np.float32 and -1 <= a.min() and a.max() <= 1
    np.testing.assert_array_equal(a[:8], b)
    for k in lb:
        np.testing.assert_array_equal(la[k][:8], lb[k])
    c, _ = polygon_dataset(8, seed=4)
    assert not np.array_equal(b, c)


def test_labels_match_pixels():
    x, lab = polygon_dataset(64, seed=1)
    u8 = np.rint((x + 1) * 127.5).astype(np.int64).transpose(0, 2, 3, 1)  # (N, H, W, 3)
    bg = np.asarray(BACKGROUND)
    ys, xs = np.mgrid[0:32, 0:32] + 0.5
    for i in range(len(x)):
        w = np.abs(u8[i] - bg).sum(-1) / np.abs(POLYGON_PALETTE[lab["colour"][i]].astype(np.int64) - bg).sum()
        full = w > 0.999
        assert full.any()
        # colour: the interior pixels are exactly the labelled palette colour
        assert (u8[i][full] == POLYGON_PALETTE[lab["colour"][i]]).all()
        # position: the coverage-weighted centroid is the labelled centre
        cx, cy = (w * xs).sum() / w.sum(), (w * ys).sum() / w.sum()
        assert abs(cx - lab["cx"][i]) < 0.2 and abs(cy - lab["cy"][i]) < 0.2
        assert position_bucket(lab["cx"][i], lab["cy"][i]) == lab["pos"][i]
        lo, hi = SIZE_BUCKETS[lab["size"][i]]
        assert lo <= lab["radius"][i] <= hi
        # area of a regular n-gon of circumradius r
        n = (3, 4, 5, 6)[lab["sides"][i]]
        area = 0.5 * n * lab["radius"][i] ** 2 * np.sin(2 * np.pi / n)
        assert abs(w.sum() - area) / area < 0.05


def test_heldout_refused_everywhere():
    with pytest.raises(ValueError, match="POLYGONS_HELDOUT_SEED"):
        polygon_dataset(4, seed=POLYGONS_HELDOUT_SEED)
    from ganzoo.data.datasets import polygons

    with pytest.raises(ValueError, match="POLYGONS_HELDOUT_SEED"):
        polygons(image_size=32, n=4, seed=POLYGONS_HELDOUT_SEED)
    h, _ = polygon_heldout(4)
    t, _ = polygon_dataset(4, seed=0)
    assert not np.array_equal(h, t)


def test_recipe_accepts_polygons():
    from ganzoo.train.dcgan import DCGANRecipe, check_recipe

    check_recipe(DCGANRecipe(model="dcgan_32", dataset="polygons", steps=1))


def test_polygon_classifier_save_load_round_trip(tmp_path):
    import torch

    from ganzoo.errors import IntegrityError
    from ganzoo.train.classifiers import PolygonClassifier, load_polygon_classifier, save_polygon_classifier

    torch.manual_seed(0)
    clf = PolygonClassifier().eval()
    x = torch.rand(4, 3, 32, 32) * 2 - 1
    w = save_polygon_classifier(clf, tmp_path / "c", info={"epochs": 2})
    got, info = load_polygon_classifier(tmp_path / "c")
    assert info["epochs"] == 2 and info["kind"] == "PolygonClassifier" and len(info["sha256"]) == 64
    for k, v in clf(x).items():
        torch.testing.assert_close(got(x)[k], v, rtol=0, atol=0)
    # float16 storage: half the bytes, loads as float32 within fp16 rounding
    wh = save_polygon_classifier(clf, tmp_path / "h.safetensors", half=True)
    assert wh.stat().st_size < 0.6 * w.stat().st_size
    half, _ = load_polygon_classifier(wh)
    assert next(half.parameters()).dtype == torch.float32
    for k, v in clf(x).items():
        torch.testing.assert_close(half(x)[k], v, rtol=0, atol=5e-3)
    data = bytearray(w.read_bytes())
    data[-1] ^= 1
    w.write_bytes(bytes(data))
    with pytest.raises(IntegrityError, match="sha256 differs"):
        load_polygon_classifier(tmp_path / "c")
    with pytest.raises(FileNotFoundError, match="no polygon classifier"):
        load_polygon_classifier(tmp_path / "none")
