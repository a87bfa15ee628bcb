"""The sprite motion classifier (ganzoo.train.classifiers) and tools/eval_tgan.py, against direct computations.

One small classifier (2000 windows, 6 epochs, width 16: about 10 s on one core) is trained once for the module;
the end-to-end runs of the tool train an even smaller one (its scores are only checked for shape there).
"""
from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

import ganzoo
from ganzoo.data.sprites import frame_coherence, sprite_heldout
from ganzoo.train.classifiers import (DIRECTION_NAMES, MOTION_HEADS, MOTION_WINDOW, SPEED_NAMES, MotionClassifier,
                                      classify_motion, direction_bucket, score_motion_samples, speed_bucket,
                                      train_motion_classifier)
from tests.conftest import load_tool

TINY_TGAN = {"z_dim": 8, "frame_z_dim": 8, "temporal_widths": [16, 16, 8, 8], "g_widths": [16, 16, 8, 8, 8],
             "d_widths": [8, 8, 16, 16]}


eval_tgan = load_tool("eval_tgan")


@pytest.fixture(autouse=True)
def _one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def small_classifier():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return train_motion_classifier(2000, epochs=6, width=16, heldout=300, progress=False)
    finally:
        torch.set_num_threads(before)


def _noise_generator(n: int, seed: int = 3) -> np.ndarray:
    """A "generator" of Gaussian noise (std 0.5 about mid-grey; not the classifier's uniform training noise)."""
    g = torch.Generator().manual_seed(seed)
    return eval_tgan._to_uint8((torch.randn(n, 3, 16, 64, 64, generator=g) * 0.5).clamp(-1, 1))


def test_buckets():
    deg = np.radians([0, 22, 23, 90, 180, 270, 337, 338, -45, 405])
    assert direction_bucket(deg).tolist() == [0, 0, 1, 2, 4, 6, 7, 0, 7, 1]
    assert [DIRECTION_NAMES[i] for i in direction_bucket(np.radians([90, 270]))] == ["down", "up"]  # y down
    assert speed_bucket([0.0, 0.49, 1.0, 1.99, 2.0, 3.5, 4.0]).tolist() == [0, 0, 1, 1, 2, 3, 3]
    assert SPEED_NAMES[0] == "still"


def test_score_motion_samples_of_known_probabilities():
    b = 10
    probs = {h: torch.full((b, len(n)), 1.0 / len(n)) for h, n in MOTION_HEADS.items()}  # all unsure
    d, s = probs["direction"], probs["speed"]
    d[:6] = 0.0
    d[:4, 0] = 1.0                 # 4 confident "right"
    d[4:6, 2] = 0.93               # 2 confident "down"
    d[4:6, 3] = 0.07
    s[:3] = 0.0
    s[:3, 3] = 1.0                 # 3 confidently "fast" (all also confident in direction)
    s[5] = 0.0
    s[5, 0] = 1.0                  # 1 confidently "still"
    r = score_motion_samples(probs)
    assert r["samples"] == b and r["motion_confident_share"] == pytest.approx(0.3)
    assert r["still_share"] == pytest.approx(0.1)
    hd, hs = r["heads"]["direction"], r["heads"]["speed"]
    assert hd["confident_share"] == pytest.approx(0.6) and hd["coverage"] == 2 and hd["num_classes"] == 8
    assert hd["class_shares"]["right"] == pytest.approx(0.4) and hd["class_shares"]["down"] == pytest.approx(0.2)
    p = np.array([4, 2]) / 6
    assert hd["entropy"] == pytest.approx(float(-(p * np.log(p)).sum() / np.log(8)), abs=1e-4)
    # "still" is no recognised speed: apart from the shares, the coverage and the entropy (over the 3 speeds)
    assert hs["confident_share"] == pytest.approx(0.3) and hs["num_classes"] == 3 and hs["coverage"] == 1
    assert "still" not in hs["class_shares"] and hs["still_share"] == pytest.approx(0.1) and hs["entropy"] == 0
    assert r["heads"]["shape"]["confident_share"] == 0 and r["heads"]["colour"]["coverage"] == 0
    with pytest.raises(ValueError, match=r"probs\['speed'\]: expected \(10, 4\) probabilities, got \(10, 3\)"):
        score_motion_samples({**probs, "speed": torch.zeros(b, 3)})
    with pytest.raises(ValueError, match="missing \\['colour'\\]"):
        score_motion_samples({h: v for h, v in probs.items() if h != "colour"})


def test_classifier_input_errors():
    clf = MotionClassifier(width=4).eval()
    with pytest.raises(ValueError,
                       match=r"expected sprite videos of shape \(B, 3, T >= 4, 64, 64\).*\(2, 3, 3, 64, 64\)"):
        clf(torch.zeros(2, 3, 3, 64, 64))
    with pytest.raises(ValueError, match=r"got \(2, 3, 16, 32, 32\)"):
        clf(torch.zeros(2, 3, 16, 32, 32))
    with pytest.raises(ValueError, match=r"start must be an int in \[0, 12\]"):
        classify_motion(clf, torch.zeros(2, 3, 16, 64, 64), start=13)
    out = classify_motion(clf, np.zeros((3, 3, 16, 64, 64), np.uint8), start=12, batch_size=2)
    assert {h: tuple(p.shape) for h, p in out.items()} == {h: (3, len(n)) for h, n in MOTION_HEADS.items()}
    torch.testing.assert_close(out["speed"].sum(1), torch.ones(3))
    with pytest.raises(ValueError, match="seed must be an int >= 0 other than the held-out seed 161106624"):
        train_motion_classifier(10, seed=161106624)


def test_small_classifier_well_above_chance_on_heldout(small_classifier):
    clf, rep = small_classifier
    assert not clf.training and clf.window == MOTION_WINDOW
    # measured (1 thread): direction 0.85, speed 0.89, colour 1.0; chance 0.125, 0.333, 0.143
    acc = rep["heldout_accuracy"]
    assert acc["direction"] >= 0.6 and acc["speed"] >= 0.65 and acc["colour"] >= 0.95, acc
    assert rep["chance"]["direction"] == 0.125 and rep["chance"]["speed"] == pytest.approx(1 / 3, abs=1e-4)
    # held-out windows: the bounce-free first windows of the 300 held-out videos, never trained on
    hv, hl = sprite_heldout(300, frames=MOTION_WINDOW)
    assert rep["heldout_windows"] == int((hl["first_bounce"] >= MOTION_WINDOW).sum()) > 200
    assert rep["train_windows"] == 2000 and rep["train_videos_rendered"] > 2000 and rep["train_seed"] == 1
    # its predictions agree with the labels directly
    ok = hl["first_bounce"] >= MOTION_WINDOW
    pred = classify_motion(clf, torch.from_numpy(hv[ok]))["direction"].argmax(1).numpy()
    assert float((pred == direction_bucket(hl["direction"][ok])).mean()) == pytest.approx(acc["direction"], abs=1e-3)


def test_real_videos_score_high_noise_low(small_classifier):
    clf, _ = small_classifier
    real, _ = sprite_heldout(64, dtype=np.uint8)
    rr = eval_tgan.score_videos(clf, real)
    rn = eval_tgan.score_videos(clf, _noise_generator(64), real_mad=rr["frame_mad"])
    assert rr["windows"] == [0, 4, 8, 12] and rr["videos"] == 64
    # measured: real direction 0.15 / colour 0.91 recognised, noise 0 and 0
    assert rr["recognised"]["colour"] >= 0.6 and rr["recognised"]["direction"] >= 0.05
    assert rr["direction_coverage"] >= 3
    assert max(rn["recognised"].values()) <= 0.02 and rn["motion_recognised"] == 0 and rn["direction_coverage"] == 0
    # tracks: every real video has one trackable sprite at the data's speeds (1-4 px / frame, bounces shorten steps)
    assert rr["trackable_share"] == 1.0 and 1.5 < rr["track_speed"] < 3.5 and rr["track_coherence"] > 0.8
    assert rn["trackable_share"] == 0.0 and rn["track_speed"] is None
    # frame-to-frame change, against frame_coherence directly
    assert rr["frame_mad"] == pytest.approx(float(frame_coherence(real)["mad"].mean()), abs=1e-6)
    assert rn["frame_mad_vs_real"] > 5 and 0.95 < rn["frame_mad_ratio"] < 1.05 and rr["frame_mad_ratio"] < 0.5
    # a frozen real video: no motion recognised, no frame-to-frame change
    frozen = np.repeat(real[:, :, :1], 16, axis=2)
    rf = eval_tgan.score_videos(clf, frozen, real_mad=rr["frame_mad"])
    assert rf["frame_mad"] == 0 and rf["frame_mad_vs_real"] == 0 and rf["motion_recognised"] <= 0.02


def test_generate_refuses_other_geometry():
    class Small(torch.nn.Module):
        def forward(self, z):
            return torch.zeros(len(z), 3, 16, 32, 32)

    class Fake:
        generator = Small()

    with pytest.raises(ValueError, match=r"videos of shape \(3, 16, 32, 32\); the motion classifier needs "
                                         r"\(3, T >= 4, 64, 64\)"):
        eval_tgan.generate(Fake(), torch.zeros(2, 8))


@pytest.fixture
def tiny_tgan_run(tmp_path):
    torch.manual_seed(0)
    path = ganzoo.save_pretrained(ganzoo.create("tgan.sprites", **TINY_TGAN).eval(), tmp_path / "tgan")
    (path / "train").mkdir()
    (path / "train" / "recipe.json").write_text(json.dumps({"tag": "sprites", "steps": 10, "data_seed": 3,
                                                            "n_sprites": 1}))
    return path


def test_main_end_to_end(tiny_tgan_run, tmp_path, capsys):
    js, md = tmp_path / "out" / "tgan.json", tmp_path / "out" / "tgan.md"
    rc = eval_tgan.main(["--model", str(tiny_tgan_run), "--samples", "6", "--seed", "1", "--classifier-videos", "150",
                         "--classifier-epochs", "1", "--threads", "1", "--json", str(js), "--markdown", str(md)])
    assert rc == 0
    rep = json.loads(js.read_text())
    assert set(rep["rows"]) == {"held-out real videos (ceiling)", "model", "untrained (random init, floor)"}
    assert rep["run"]["data_seed"] == 3 and rep["samples"] == 6 and rep["seed"] == 1 and rep["frames"] == 16
    assert rep["config"]["g_widths"] == [16, 16, 8, 8, 8] and rep["architecture"] == "tgan"
    assert rep["classifier"]["train_windows"] == 150 and rep["classifier"]["epochs"] == 1
    assert {"cpu", "cpu_count", "torch_threads", "device"} <= set(rep["machine"])
    assert rep["machine"]["torch_threads"] == 1 and rep["versions"]["torch"] == torch.__version__
    keys = {"videos", "windows", "motion_recognised", "motion_recognised_by_window", "still_share", "recognised",
            "direction_coverage", "direction_entropy", "heads", "trackable_share", "track_speed",
            "track_straightness", "track_coherence", "frame_mad", "frame_mad_vs_real", "frame_mad_ratio"}
    for row in rep["rows"].values():
        assert keys <= set(row) and row["videos"] == 6 and set(row["recognised"]) == set(MOTION_HEADS)
    real = rep["rows"]["held-out real videos (ceiling)"]
    hv, _ = sprite_heldout(6, dtype=np.uint8)
    assert real["frame_mad"] == pytest.approx(float(frame_coherence(hv)["mad"].mean()), abs=1e-6)
    assert real["frame_mad_vs_real"] == 1.0 and real["trackable_share"] == 1.0
    # the untrained generator (U(-0.01, 0.01) weights) makes near-constant videos: nothing moves, nothing to track
    floor = rep["rows"]["untrained (random init, floor)"]
    assert floor["trackable_share"] == 0.0 and floor["frame_mad"] < 0.1 * real["frame_mad"]
    # the model row is this (untrained) model's own samples: z from its prior with --seed 1
    model = ganzoo.load(str(tiny_tgan_run)).eval()
    z = model.sample_inputs(6, generator=torch.Generator().manual_seed(1))[0]
    videos = eval_tgan.generate(model, z)
    assert rep["rows"]["model"]["frame_mad"] == pytest.approx(float(frame_coherence(videos)["mad"].mean()), abs=1e-6)
    text = md.read_text()
    assert "| held-out real videos (ceiling) |" in text and "| model |" in text and "held-out accuracy" in text
    assert "data seed 3" in text and text == capsys.readouterr().out
    assert all(math.isfinite(v) for v in (real["frame_mad"], real["track_speed"]))


@pytest.mark.parametrize("argv, msg", [
    (["--samples", "0"], "argument --samples: expected an int >= 1, got 0"),
    (["--samples", "many"], "argument --samples: expected an int >= 1, got 'many'"),
    (["--classifier-epochs", "0"], "argument --classifier-epochs: expected an int >= 1, got 0"),
    (["--seed", "-1"], "argument --seed: expected an int >= 0, got -1"),
])
def test_cli_option_errors(argv, msg, tmp_path, capsys):
    with pytest.raises(SystemExit) as e:
        eval_tgan.main(["--model", "tgan.sprites", "--json", str(tmp_path / "x.json"), *argv])
    assert e.value.code == 2 and msg in capsys.readouterr().err
    assert not (tmp_path / "x.json").exists()


def test_cli_refuses_non_tgan_and_multi_sprite_runs(saved_tiny, tiny_tgan_run, tmp_path, capsys):
    _, dcgan = saved_tiny
    with pytest.raises(SystemExit) as e:
        eval_tgan.main(["--model", str(dcgan), "--json", str(tmp_path / "x.json")])
    assert e.value.code == 2 and "expected a TGAN (tgan, tgan.<tag> or a tgan run folder), got dcgan_32" \
        in capsys.readouterr().err
    (tiny_tgan_run / "train" / "recipe.json").write_text(json.dumps({"n_sprites": 2, "data_seed": 0}))
    with pytest.raises(SystemExit) as e:
        eval_tgan.main(["--model", str(tiny_tgan_run), "--json", str(tmp_path / "x.json")])
    assert e.value.code == 2 and "trained on 2 sprites per video" in capsys.readouterr().err
    assert not (tmp_path / "x.json").exists()
