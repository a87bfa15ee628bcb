"""The published polygon DCGAN (dcgan_32.polygons), the IcGAN encoder and the factor classifier it ships, against
the metrics file tools/eval_latent.py wrote for it, on the held-out polygons."""
from __future__ import annotations

import json

import pytest
import torch

import ganzoo
from ganzoo.data.polygons import FACTORS, polygon_heldout
from ganzoo.hub.embedded import find_embedded
from tests.conftest import load_tool

TAG = "dcgan_32.polygons"


@pytest.fixture(scope="module")
def repo():
    cfg = ganzoo.model_info(TAG).pretrained_cfg
    r = find_embedded(cfg.hub_id, cfg.revision)
    assert r is not None, f"{TAG} is not in the embedded hub at its pinned revision"
    assert {"model.safetensors", "encoder.safetensors", "encoder.json", "classifier.safetensors", "classifier.json",
            "metrics.json", "samples.png", "README.md"} <= set(r.files)
    return r


@pytest.fixture(scope="module")
def metrics(repo) -> dict:
    return json.loads((repo.path / "metrics.json").read_text())


@pytest.fixture(scope="module")
def shipped(repo):
    from ganzoo.latent.encoders import published_encoder
    from ganzoo.train.classifiers import load_polygon_classifier

    model = ganzoo.load(TAG).eval()
    enc = published_encoder(TAG, local_files_only=True)
    clf, _ = load_polygon_classifier(repo.path)
    return model, enc, clf


def test_tag_ships_what_the_card_measured(shipped, metrics):
    model, enc, clf = shipped
    assert model.pretrained_cfg.name == TAG and model.config.nz == 32 and model.config.nc == 3
    assert enc is not None and enc.config.method == "icgan" and enc.config.nz == 32
    assert metrics["model"] == TAG and metrics["config"]["nz"] == 32


def test_classifier_accuracy_reproduces_the_card(shipped, metrics):
    from ganzoo.train.classifiers import polygon_accuracy

    _, _, clf = shipped
    n = metrics["heldout"]["images"]
    xs, labs = polygon_heldout(n)
    with torch.no_grad():
        acc = polygon_accuracy(clf, torch.from_numpy(xs), labs)
    for k in FACTORS:
        # one image's flip allowed for another thread count's rounding
        assert acc[k] == pytest.approx(metrics["classifier"]["heldout_accuracy"][k], abs=1.01 / n), k


def test_encoder_inversion_reproduces_the_card(shipped, metrics):
    """IcGAN encoder alone (no optimisation, deterministic): the card's mean PSNR on the first held-out images."""
    from ganzoo.latent import invert

    model, enc, _ = shipped
    row = next(r for r in metrics["inversion"]["rows"] if r["method"] == "IcGAN encoder")
    xs, _ = polygon_heldout(metrics["heldout"]["images"])
    x = torch.from_numpy(xs[:row["images"]])
    res = invert(model, x, method="encoder", encoder=enc)
    assert float(res.psnr.mean()) == pytest.approx(row["psnr_mean"], abs=0.02)
    rand = next(r for r in metrics["inversion"]["rows"] if r["method"] == "optimize from random")
    assert row["psnr_mean"] > 0 and rand["psnr_mean"] > 0


def test_sample_readings_reproduce_the_card(shipped, metrics):
    """What the classifier reads on the card's seeded samples: the confident share and the TV distances."""
    ev = load_tool("eval_latent")
    model, _, clf = shipped
    sm = metrics["samples"]
    xs, labs = polygon_heldout(metrics["heldout"]["images"])
    lab = {k: torch.from_numpy(labs[k]) for k in FACTORS}
    with torch.no_grad():
        got = ev.run_samples(model, clf, torch.from_numpy(xs), lab, sm["n"], sm["seed"])
    for label in ("samples", "held-out real"):
        g, w = got["rows"][label], sm["rows"][label]
        assert g["confident"] == pytest.approx(w["confident"], abs=2.01 / sm["n"]), label
        for k in FACTORS:
            assert g["tv"][k] == pytest.approx(w["tv"][k], abs=2.01 / sm["n"]), (label, k)
    # the trained generator's factor histograms are nearer the data's than an untrained one's
    s, u = sm["rows"]["samples"], sm["rows"]["untrained G"]
    assert sum(s["tv"].values()) < sum(u["tv"].values())


def test_attribute_edits_change_the_classifier_reading_as_the_card_says(shipped, metrics):
    """z = E(x) plus the colour vector (means of E(x) over disjoint held-out images): the classifier reads the
    target colour on most edits, as measured for the card, and far more often than on the unedited reconstructions."""
    ev = load_tool("eval_latent")
    model, enc, clf = shipped
    n = metrics["heldout"]["images"]
    half = n // 2
    xs, labs = polygon_heldout(n)
    x = torch.from_numpy(xs)
    lab = {k: torch.from_numpy(labs[k]) for k in FACTORS}
    rows = ev.run_edits(clf, x[:half], {k: v[:half] for k, v in lab.items()}, x[half:], {k: v[half:] for k, v in
                        lab.items()}, {"IcGAN": (enc, model)}, [1.0])
    want = {r["edit"]: r for r in metrics["editing"]["rows"]
            if r["encoder"] == "IcGAN" and r["strength"] == 1.0 and r.get("codes", "E(x)") == "E(x)"}
    for row in rows:
        w = want[row["edit"]]
        assert row["images"] == w["images"]
        assert row["target"] == pytest.approx(w["target"], abs=1.01 / row["images"]), row["edit"]
    red_blue = next(r for r in rows if r["edit"] == "colour red -> blue")
    assert red_blue["target"] >= 0.7
