"""The published DR-GAN weights (drgan.heads, drgan_multi.heads) against their own metrics files on the held-out
procedural heads."""
from __future__ import annotations

import json

import pytest
import torch

import ganzoo
from ganzoo.data.heads import FRONTAL_POSE, YAWS, HeadDataset, rank1_by_pose
from ganzoo.hub.embedded import find_embedded

TAG = "drgan.heads"


@pytest.fixture(scope="module")
def model():
    return ganzoo.load("drgan").eval()  # the default tag: the first with weights


def _metrics(tag: str) -> dict:
    cfg = ganzoo.model_info(tag).pretrained_cfg
    repo = find_embedded(cfg.hub_id, cfg.revision)
    assert repo is not None, f"{tag} is not in the embedded hub at its pinned revision"
    assert {"metrics.json", "samples.png", "README.md"} <= set(repo.files)
    return json.loads((repo.path / "metrics.json").read_text())


@pytest.fixture(scope="module")
def metrics() -> dict:
    return _metrics(TAG)


def test_default_tag_loads_both_networks(model, metrics):
    assert model.pretrained_cfg.name == TAG and model.pretrained_parts == ("generator", "discriminator")
    assert metrics["model"] == TAG and metrics["config"]["num_identities"] == model.config.num_identities == 50


def test_identity_rank1_reproduces_the_card(model, metrics):
    """f(x) rank-1 across pose on the 100 held-out identities, as tools/eval_drgan.py measured it (one identity's
    flip allowed for a different thread count), and well above raw pixels at the large yaws."""
    held = HeadDataset.heldout(metrics["heldout"]["identities"])
    with torch.no_grad():
        feats = torch.cat([model.encode(torch.from_numpy(held.arrays(range(i, min(i + 300, len(held)))).image))
                           for i in range(0, len(held), 300)]).numpy()
    got = rank1_by_pose(feats, held)
    want = metrics["identity_rank1"]["model f(x)"]["by_yaw"]
    for y, v in got.items():
        assert v == pytest.approx(want[str(y)], abs=0.011), y
    raw = metrics["identity_rank1"]["raw pixels"]["by_yaw"]
    assert all(got[y] > raw[str(y)] + 0.2 for y in (-60, -45, 45, 60))


def test_rotations_are_closer_to_the_truth_than_the_input(model):
    """From the frontal render of 10 held-out identities to +-45 / +-60 degrees: the output is nearer (PSNR) the true
    render at that yaw than the frontal input is (measured over 100 identities: 21.4-22.0 vs 17.9-19.5 dB)."""
    n = 10
    images = torch.from_numpy(HeadDataset.heldout(n).arrays().image).view(n, len(YAWS), 3, 96, 96)
    z = torch.rand(n, model.config.nz, generator=torch.Generator().manual_seed(0)) * 2 - 1
    frontal = images[:, FRONTAL_POSE]

    def psnr(a, b):
        return float((-10 * torch.log10(((a - b) / 2).square().flatten(1).mean(1))).mean())

    with torch.no_grad():
        f = model.encode(frontal)
        for yaw in (-60, -45, 45, 60):
            p = YAWS.index(yaw)
            out = model.generate(f, torch.full((n,), p, dtype=torch.int64), z)
            assert out.shape == frontal.shape and float(out.abs().max()) <= 1.0
            assert psnr(out, images[:, p]) > psnr(frontal, images[:, p]) + 1.5, yaw


def test_multi_image_fusion_reproduces_the_card():
    """drgan_multi.heads (the default of drgan_multi): fusing the -60/-45/-30 images of each held-out identity
    recognises it at the card's rank-1 (one identity's flip allowed), above the single images' mean rank-1."""
    model = ganzoo.load("drgan_multi").eval()
    m = _metrics("drgan_multi.heads")
    assert model.pretrained_cfg.name == "drgan_multi.heads" and m["multi_image"] is True
    mi = m["multi_image_rank1"]
    n = m["heldout"]["identities"]
    images = torch.from_numpy(HeadDataset.heldout(n).arrays().image).view(n, len(YAWS), 3, 96, 96)
    idx = [YAWS.index(y) for y in mi["yaws"]]
    with torch.no_grad():
        gallery = torch.cat([model.encode(images[i:i + 50, FRONTAL_POSE]) for i in range(0, n, 50)])
        fused = torch.cat([model.fuse(images[i:i + 25, idx]) for i in range(0, n, 25)])
    g = torch.nn.functional.normalize(gallery, dim=1)
    f = torch.nn.functional.normalize(fused, dim=1)
    rank1 = float(((f @ g.T).argmax(1) == torch.arange(n)).float().mean())
    assert rank1 == pytest.approx(mi["fused (learned confidences)"], abs=0.011)
    assert rank1 > mi["single images (mean of the 3 rank-1s)"] and rank1 > mi["untrained fused (floor)"] + 0.4
