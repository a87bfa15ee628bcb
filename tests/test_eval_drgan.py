"""tools/eval_drgan.py on a tiny setting: the report's structure, the raw-pixel baseline against a direct
rank1_by_pose, the pose classifier's ceiling on real images, and the errors for bad options."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

import ganzoo
from ganzoo.data.heads import YAWS, HeadDataset, pixel_features, rank1_by_pose
from tests.conftest import load_tool


eval_drgan = load_tool("eval_drgan")
N = 6  # held-out identities
# 30 identities x 9 yaws at 32 px, 6 epochs at batch 16 (~1 s): measured held-out accuracy 0.99 on 20 identities
TINY_CLASSIFIER = {"classifier_identities": 30, "classifier_epochs": 6, "classifier_size": 32,
                   "classifier_batch_size": 16}


@pytest.fixture(scope="module")
def multi_report():
    torch.manual_seed(123)  # differs from the untrained floor's seed (0)
    model = ganzoo.create("drgan_multi.heads").eval()  # quarter width, 80-d feature, Np = 9
    return eval_drgan.evaluate(model, identities=N, seed=0, command="test", **TINY_CLASSIFIER)


def _finite(x):
    return isinstance(x, float) and math.isfinite(x) and 0.0 <= x <= 1.0


def test_report_structure(multi_report):
    rep = multi_report
    json.dumps(rep)  # serialisable as written
    assert rep["architecture"] == "drgan_multi" and rep["multi_image"] is True
    assert rep["heldout"]["identities"] == N and rep["heldout"]["size"] == 96
    assert {"platform", "torch_threads", "device"} <= set(rep["machine"]) and rep["versions"]["torch"]
    assert rep["date"] and rep["timing"]["total_s"] >= 0
    probe = [str(y) for y in YAWS if y != 0]
    assert set(rep["identity_rank1"]) == {"model f(x)", "raw pixels", "untrained f(x) (random init)"}
    for r in rep["identity_rank1"].values():
        assert list(r["by_yaw"]) == probe and all(_finite(v) for v in r["by_yaw"].values())
        assert r["mean"] == pytest.approx(np.mean(list(r["by_yaw"].values())), abs=1e-4)
    assert rep["identity_rank1"]["model f(x)"]["feature_dim"] == 80
    assert set(rep["outputs"]) == {"held-out real images (ceiling)", "model", "untrained (random init, floor)",
                                   "input copied (no rotation)"}
    for name, r in rep["outputs"].items():
        assert list(r["pose_by_yaw"]) == [str(y) for y in YAWS] and _finite(r["pose_accuracy"])
        if name != "held-out real images (ceiling)":
            assert all(_finite(v) for v in r["identity_by_yaw"].values()) and _finite(r["identity_mean"])
    copied = rep["outputs"]["input copied (no rotation)"]
    assert copied["identity_by_yaw"]["0"] == 1.0  # the frontal input is its own nearest frontal image
    assert copied["psnr_by_yaw"]["0"] == 100.0  # the frontal input against itself (MSE clamped at 1e-10)
    held = HeadDataset.heldout(N).arrays()
    imgs = held.image.reshape(N, len(YAWS), *held.image.shape[1:]).astype(np.float64)
    front, side = imgs[:, YAWS.index(0)], imgs[:, YAWS.index(-60)]
    want = np.mean(-10 * np.log10((((front - side) / 2) ** 2).reshape(N, -1).mean(1)))  # [-1, 1] images -> [0, 1]
    assert copied["psnr_by_yaw"]["-60"] == pytest.approx(want, abs=1e-3)
    assert copied["psnr_mean"] == pytest.approx(np.mean([v for k, v in copied["psnr_by_yaw"].items() if k != "0"]),
                                                abs=1e-3)
    assert rep["outputs"]["held-out real images (ceiling)"]["psnr_mean"] is None
    m = rep["multi_image_rank1"]
    assert m["yaws"] == [-60, -45, -30]
    for k in ("fused (learned confidences)", "mean of the 3 features", "single images (mean of the 3 rank-1s)",
              "untrained fused (floor)"):
        assert _finite(m[k])
    singles = [rep["identity_rank1"]["model f(x)"]["by_yaw"][str(y)] for y in (-60, -45, -30)]
    assert m["single images (mean of the 3 rank-1s)"] == pytest.approx(np.mean(singles), abs=1e-4)
    md = eval_drgan.markdown(rep)
    for s in ("| raw pixels |", "| held-out real images (ceiling) |", "| fused (learned confidences) |",
              "held-out accuracy", "PSNR (dB) of the outputs"):
        assert s in md


def test_pixel_baseline_matches_direct(multi_report):
    want = rank1_by_pose(pixel_features, HeadDataset.heldout(N))
    got = multi_report["identity_rank1"]["raw pixels"]["by_yaw"]
    assert got == {str(y): round(v, 4) for y, v in want.items()}


def test_classifier_ceiling_well_above_chance(multi_report):
    c = multi_report["classifier"]
    assert c["train_images"] == 30 * 9 and c["train_seed"] == eval_drgan.CLASSIFIER_SEED
    # measured 1.0 on these 54 held-out images (0.99 on 20 identities); chance is 1/9
    assert c["heldout_accuracy"] >= 0.8
    assert multi_report["outputs"]["held-out real images (ceiling)"]["pose_accuracy"] == c["heldout_accuracy"]


def test_single_image_model_has_no_multi_row():
    torch.manual_seed(0)
    model = ganzoo.create("drgan.heads").eval()
    rep = eval_drgan.evaluate(model, identities=3, classifier_identities=2, classifier_epochs=1,
                              classifier_size=16, classifier_batch_size=16)
    assert rep["multi_image_rank1"] is None and rep["multi_image"] is False
    assert "Multi-image" not in eval_drgan.markdown(rep)


def test_errors():
    with pytest.raises(ValueError, match=r"expected a DR-GAN \(drgan or drgan_multi\), got dcgan"):
        eval_drgan.evaluate(ganzoo.create("dcgan"), identities=3)
    with pytest.raises(ValueError, match=r"num_poses=9.*got num_poses=13"):
        eval_drgan.evaluate(ganzoo.create("drgan.multipie", widths=(4,) * 14), identities=3)
    model = ganzoo.create("drgan.heads")
    with pytest.raises(ValueError, match=r"identities: expected an int in \[2, 100\], got 101"):
        eval_drgan.evaluate(model, identities=101)
    with pytest.raises(ValueError, match=r"classifier_epochs: expected an int >= 1, got 0"):
        eval_drgan.evaluate(model, identities=3, classifier_epochs=0)


@pytest.mark.parametrize("argv,msg", [
    (["--identities", "0"], "--identities must be in [2, 100]"),
    (["--classifier-epochs", "0"], "--classifier-epochs must be >= 1"),
    (["--threads", "-1"], "--threads must be >= 0"),
])
def test_cli_option_errors(argv, msg, capsys):
    with pytest.raises(SystemExit) as e:
        eval_drgan.main(["--model", "drgan.heads", *argv])
    assert e.value.code == 2 and msg in capsys.readouterr().err


def test_cli_model_without_weights(capsys):
    with pytest.raises(SystemExit) as e:
        eval_drgan.main(["--model", "drgan_multi.multipie"])
    assert e.value.code == 2 and "no weights are published for drgan_multi.multipie" in capsys.readouterr().err


def test_sweep_picture_rows_are_outputs_then_truth():
    torch.manual_seed(0)
    model = ganzoo.create("drgan.heads", widths=(4, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 16)).eval()
    pic = eval_drgan.sweep_picture(model, identities=2, seed=3)
    assert pic.shape == (4 * 96 + 3 * 2, 9 * 96 + 8 * 2, 3) and pic.dtype == np.uint8
    truth = HeadDataset.heldout(2).arrays(dtype=np.uint8).image.reshape(2, 9, 3, 96, 96)
    tile = lambda r, c: pic[r * 98:r * 98 + 96, c * 98:c * 98 + 96]  # noqa: E731
    for i in range(2):
        for p in range(9):
            np.testing.assert_array_equal(tile(2 * i + 1, p), truth[i, p].transpose(1, 2, 0))
    z = torch.rand(2, model.config.nz, generator=torch.Generator().manual_seed(3)) * 2 - 1
    x = torch.from_numpy(truth[:, 4]).float() / 127.5 - 1
    with torch.no_grad():
        out = model.generate(model.encode(x), torch.full((2,), 8, dtype=torch.int64), z)
    want = ((out.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()
    np.testing.assert_array_equal(tile(2, 8), want[1])


def test_cli_refuses_a_non_drgan(tmp_path, capsys):
    torch.manual_seed(0)
    ganzoo.save_pretrained(ganzoo.create("dcgan_32"), tmp_path / "dcgan")
    with pytest.raises(SystemExit) as e:
        eval_drgan.main(["--model", str(tmp_path / "dcgan"), "--json", str(tmp_path / "x.json")])
    assert e.value.code == 2 and "expected a DR-GAN (drgan or drgan_multi), got dcgan_32" in capsys.readouterr().err
    assert not (tmp_path / "x.json").exists()
