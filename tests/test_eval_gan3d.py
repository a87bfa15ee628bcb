"""The voxel factor classifier's scores and tools/eval_gan3d.py, against direct computations."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch

import ganzoo
from ganzoo.data.voxels import SHAPE_CLASSES, voxel_heldout
from ganzoo.train.classifiers import VoxelClassifier, score_voxel_samples
from tests.conftest import load_tool


eval_gan3d = load_tool("eval_gan3d")


def test_scores_of_known_probabilities():
    k = len(SHAPE_CLASSES)
    probs = torch.full((10, k), 0.0)
    probs[:4, 0] = 1.0           # 4 confident "box"
    probs[4:7, 3] = 0.95         # 3 confident "cone" (rest spread)
    probs[4:7, 4] = 0.05
    probs[7:, :] = 1.0 / k       # 3 unsure
    s = score_voxel_samples(probs)
    assert s["confident_share"] == pytest.approx(0.7)
    assert s["class_shares"]["box"] == pytest.approx(0.4) and s["class_shares"]["cone"] == pytest.approx(0.3)
    assert s["coverage"] == 2
    p = np.array([4, 3]) / 7
    assert s["entropy"] == pytest.approx(float(-(p * np.log(p)).sum() / np.log(k)), abs=1e-4)


def test_nearest_iou_matches_brute_force():
    g = torch.Generator().manual_seed(0)
    a = (torch.rand(5, 1, 8, 8, 8, generator=g) > 0.6).float()
    b = (torch.rand(7, 1, 8, 8, 8, generator=g) > 0.6).float()
    b[3] = a[2]  # an exact copy: IoU 1
    got = eval_gan3d.nearest_iou(a, b, chunk=3)
    want = [max(float((x * y).sum() / ((x + y) > 0).sum()) for y in b) for x in a]
    np.testing.assert_allclose(got, want, rtol=1e-6)
    assert got[2] == pytest.approx(1.0)


def test_classifier_shape_errors():
    with pytest.raises(ValueError, match=r"expected occupancy of shape \(B, 1, S, S, S\), got \(2, 32, 32, 32\)"):
        VoxelClassifier(10)(torch.zeros(2, 32, 32, 32))


def test_eval_tool_end_to_end(tmp_path):
    torch.manual_seed(0)
    model = ganzoo.create("gan3d_32.shapes").eval()
    rep = eval_gan3d.evaluate(model, samples=8, classifier_shapes=60, classifier_epochs=1, pool=40,
                              iou_samples=8, command="test")
    assert set(rep["rows"]) == {"held-out real shapes", "model", "untrained (random init)"}
    real = rep["rows"]["held-out real shapes"]
    hv, _ = voxel_heldout(size=32, dtype=bool)
    assert real["occupancy"] == pytest.approx(float(np.asarray(hv).mean()), abs=1e-4)
    assert real["samples"] == len(hv) and real["empty_samples"] == 0
    assert 0.0 <= rep["classifier"]["heldout_accuracy"] <= 1.0
    assert rep["rows"]["model"]["samples"] == 8
    md = eval_gan3d.markdown(rep)
    assert "| held-out real shapes |" in md and "held-out accuracy" in md
    json.dumps(rep)  # serialisable as written
