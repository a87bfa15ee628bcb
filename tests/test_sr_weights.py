"""The published SR weights (srresnet.div2k, srgan.div2k, srresnet_x2.pool, srresnet_x8.pool, srgan_x2.pool) against their own metrics file, on one held-out photo."""
from __future__ import annotations

import json

import pytest

import ganzoo
from ganzoo.hub.embedded import find_embedded

pytest.importorskip("skimage")

from ganzoo.data.photos import bicubic_up, get_photo, make_lr  # noqa: E402
from ganzoo.metrics import sr_forward, sr_scores  # noqa: E402

PHOTO = "chelsea"


def _metrics(tag: str) -> dict:
    cfg = ganzoo.model_info(tag).pretrained_cfg
    repo = find_embedded(cfg.hub_id, cfg.revision)
    assert repo is not None, f"{tag} is not in the embedded hub at its pinned revision"
    assert "metrics.json" in repo.files and "LICENSE" in repo.files
    return json.loads((repo.path / "metrics.json").read_text())


@pytest.mark.parametrize("tag", ["srresnet.div2k", "srgan.div2k", "srresnet_x2.pool", "srresnet_x8.pool",
                                 "srgan_x2.pool"])
def test_loaded_weights_give_the_recorded_psnr(tag):
    metrics = _metrics(tag)
    run = next(r for r in metrics["runs"] if r["method"] == tag and r["backend"] == "eager"
               and r["dtype"] == "float32")
    bic = next(r for r in metrics["runs"] if r["method"] == "bicubic")
    model = ganzoo.load(tag)
    assert model.pretrained_parts == ("generator",)
    assert metrics["models"][tag]["weights_sha256"] == model.pretrained_cfg.sha256
    scale = model.config.scale
    assert metrics["protocol"]["scale"] == scale
    hr = get_photo(PHOTO).load()
    lr = make_lr(hr, scale)
    got = sr_scores(hr, sr_forward(model, lr), scale)
    want = run["per_image"][PHOTO]
    # uint8 outputs: a different thread count may flip a rounding here and there, never more than 0.01 dB
    assert got["psnr_y"] == pytest.approx(want["psnr_y"], abs=0.01)
    assert got["ssim_y"] == pytest.approx(want["ssim_y"], abs=1e-4)
    assert got["psnr_rgb"] == pytest.approx(want["psnr_rgb"], abs=0.01)
    base = sr_scores(hr, bicubic_up(lr, scale), scale)
    assert base["psnr_y"] == pytest.approx(bic["per_image"][PHOTO]["psnr_y"], abs=1e-9)
    if tag.startswith("srresnet"):  # the MSE model beats bicubic; SRGAN trades PSNR for texture
        assert got["psnr_y"] > base["psnr_y"] + 0.5

