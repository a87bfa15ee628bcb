"""The TGAN recipe: a short run and its run folder, singular value clipping, resume, the sprite videos it trains
on, 2 processes against 1, and the recipe's checks."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

import ganzoo
from ganzoo.data.sprites import SPRITES_HELDOUT_SEED, sprite_dataset
from ganzoo.errors import InvalidConfigError, UnknownTagError
from ganzoo.models.tgan import TGANConfig
from ganzoo.train.distributed import DistContext
from ganzoo.train.tgan import TGANRecipe, TGANTrainer, check_recipe, sprite_batch, train_tgan

#: a narrow TGAN (the tag's geometry: 16 frames of 64x64 RGB), so that a step takes a fraction of a second
TINY = {"z_dim": 8, "frame_z_dim": 8, "temporal_widths": [16, 16, 8, 8], "g_widths": [16, 16, 8, 8, 8],
        "d_widths": [8, 8, 16, 16]}


def _tiny(**kw) -> TGANRecipe:
    base = dict(config=json.dumps(TINY), steps=2, batch_size=2, threads=1)
    base.update(kw)
    return TGANRecipe(**base)


def _last_log(out) -> dict:
    return json.loads((out / "train" / "log.jsonl").read_text().splitlines()[-1])


def test_recipe_defaults_are_the_papers():
    r, paper = TGANRecipe(), TGANConfig()
    assert (r.lr, r.batch_size, r.svc_every) == (paper.lr, paper.batch_size, paper.svc_every) == (5e-5, 32, 5)
    assert r.n_critic == 1 and r.tag == "sprites" and r.data_seed != SPRITES_HELDOUT_SEED
    cfg = ganzoo.create("tgan.sprites").config
    assert (cfg.nc, cfg.z_dim, cfg.g_widths, cfg.d_widths) == (3, 100, (256, 128, 64, 32, 16), (32, 64, 128, 256))


def test_short_run_clips_samples_and_loads(tmp_path):
    """svc_every 1: after every D update each D weight has spectral norm <= 1 and each D BatchNorm gamma lies in
    [0.01 std, std]; the sample grid is 8 videos x 8 frames; the run folder loads as the trained model."""
    out = tmp_path / "run"
    trainer = TGANTrainer(_tiny(svc_every=1), out)
    model = trainer.run()
    assert trainer.clips == 2
    rec = _last_log(out)
    assert rec["step"] == 2 and rec["svc"] == 1.0 and rec["wdist"] == pytest.approx(-rec["loss_d"])
    assert {"loss_g", "motion"} <= set(rec) and 0 < rec["motion"] < 1
    for name, m in model.discriminator.named_modules():
        if isinstance(m, (torch.nn.Conv2d, torch.nn.Conv3d)):
            assert torch.linalg.matrix_norm(m.weight.detach().flatten(1).double(), ord=2) <= 1 + 1e-6, name
        elif isinstance(m, torch.nn.BatchNorm3d):
            std = m.running_var.sqrt()
            assert (m.weight <= std * (1 + 1e-6)).all() and (m.weight >= 0.01 * std * (1 - 1e-6)).all(), name
    torch.manual_seed(0)  # the recipe's seed: the trainer built its model after the same call
    fresh = ganzoo.create("tgan.sprites", **TINY)
    for part in ("generator", "discriminator"):
        a, b = getattr(model, part).parameters(), getattr(fresh, part).parameters()
        assert any(not torch.equal(x, y) for x, y in zip(a, b)), f"{part} did not train"

    from PIL import Image

    with Image.open(out / "train" / "samples_00002.png") as im:
        assert im.size == (8 * 66 + 2, 8 * 66 + 2)  # 8 frames across, 8 videos down, 2 px padding
    loaded = ganzoo.load(str(out))
    assert loaded.config.g_widths == (16, 16, 8, 8, 8) and loaded.pretrained_cfg.tag == "sprites"
    z = loaded.sample_inputs(2, generator=torch.Generator().manual_seed(1))[0]
    with torch.no_grad():
        torch.testing.assert_close(loaded.generator(z), model.generator(z), rtol=0, atol=0)


def test_resume_equals_the_uninterrupted_run(tmp_path):
    """Two critic updates a step, clipping every third D update (updates 3 and 6, the second after the resume):
    2 steps then --resume to 3 give bit-identical weights and losses to 3 steps in one go."""
    train_tgan(_tiny(steps=3, n_critic=2, svc_every=3), tmp_path / "straight")
    train_tgan(_tiny(steps=2, n_critic=2, svc_every=3), tmp_path / "resumed")
    trainer = TGANTrainer(_tiny(steps=3, n_critic=2, svc_every=3), tmp_path / "resumed", resume=True)
    trainer.run()
    assert trainer.clips == 1
    a, b = load_file(tmp_path / "straight" / "model.safetensors"), load_file(tmp_path / "resumed" / "model.safetensors")
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k
    one, two = _last_log(tmp_path / "straight"), _last_log(tmp_path / "resumed")
    assert one.pop("elapsed_s") >= 0 and two.pop("elapsed_s") >= 0
    assert one == two and one["svc"] == 1.0


def test_real_batches_are_the_data_set_in_order():
    """D update k takes samples k*B .. (k+1)*B - 1 of sprite_dataset(seed), each process its slice."""
    videos, _ = sprite_dataset(8, seed=5)
    assert torch.equal(sprite_batch([6, 1], 5), torch.from_numpy(videos[[6, 1]]))
    two, _ = sprite_dataset(3, seed=5, n_sprites=2)
    assert torch.equal(sprite_batch([2], 5, n_sprites=2), torch.from_numpy(two[[2]]))
    trainer = TGANTrainer(_tiny(batch_size=4, data_seed=5), "unused")
    trainer.ctx = DistContext(rank=1, world_size=2)
    assert torch.equal(trainer._real(1), torch.from_numpy(videos[6:8]))  # update 1 is samples 4..7; rank 1: 6, 7


def _biases_before_batchnorm(model: torch.nn.Module) -> set[str]:
    """State-dict keys of the biases a BatchNorm follows (TGAN's D convs and G0's transposed convs carry them, as
    both references): BN removes a per-channel constant, so their gradient is zero up to rounding."""
    from torch.nn.modules.batchnorm import _BatchNorm

    keys = set()
    for name, seq in model.named_modules():
        if isinstance(seq, torch.nn.Sequential):
            kids = list(seq.named_children())
            for (i, m), (_, nxt) in zip(kids, kids[1:]):
                if getattr(m, "bias", None) is not None and isinstance(nxt, _BatchNorm):
                    keys.add(f"{name}.{i}.bias")
    return keys


@pytest.mark.slow
def test_two_processes_match_one(tmp_path):
    """torchrun with 2 gloo processes against 1 process on the same global batch, one step with clipping, within
    tests/test_distributed.py's tolerance, except that RMSProp's first step moves an element by up to
    lr / sqrt(1 - alpha) = 10 lr (Adam's: lr), so the biases before a BatchNorm, whose gradient is rounding noise,
    may move 10 lr either way in each run (not counted in the 99.99% share; within 2 * 10 lr). The logged losses
    are the global batch's. Then a 2-process run with a D-only update too (--n-critic 2: G's forward without
    gradients under DistributedDataParallel)."""
    import sys

    from tests.test_distributed import ATOL, SHARE, _run, _torchrun

    def args(out):
        return ["--config", json.dumps(TINY), "--steps", "1", "--batch-size", "4", "--svc-every", "1", "--seed", "3",
                "--device", "cpu", "--out", str(out)]

    _run([sys.executable, "-m", "ganzoo.train.tgan", *args(tmp_path / "one")], tmp_path)
    _torchrun("ganzoo.train.tgan", args(tmp_path / "two"), tmp_path)
    torch.manual_seed(3)  # the recipe's seed: the initial weights of both runs
    fresh = ganzoo.create("tgan.sprites", **TINY)
    init, noise = fresh.state_dict(), _biases_before_batchnorm(fresh)
    assert "discriminator.main.2.bias" in noise and "generator.temporal.main.0.bias" in noise
    one, two = load_file(tmp_path / "one" / "model.safetensors"), load_file(tmp_path / "two" / "model.safetensors")
    assert one.keys() == two.keys() == init.keys()
    floats = [k for k in one if one[k].is_floating_point()]
    diff = {k: (one[k].double() - two[k].double()).abs() / one[k].double().abs().clamp_min(1) for k in floats}
    counted = [diff[k] for k in floats if k not in noise]
    close, total = sum(int((d <= ATOL).sum()) for d in counted), sum(d.numel() for d in counted)
    assert close / total >= SHARE, f"only {close} of {total} parameter elements agree within {ATOL}"
    assert max(float(d.max()) for d in diff.values()) <= 2 * 10 * TGANRecipe.lr
    assert max(float(diff[k].max()) for k in floats if "running_" in k) <= 1e-5
    assert max(float((one[k] - init[k]).abs().max()) for k in floats) > 100 * ATOL  # the runs really trained
    for k in one:
        if not one[k].is_floating_point():
            assert torch.equal(one[k], two[k]), k
    log_one, log_two = _last_log(tmp_path / "one"), _last_log(tmp_path / "two")
    assert log_one.keys() == log_two.keys()
    for k in ("loss_d", "loss_g", "wdist", "motion", "svc"):
        assert log_two[k] == pytest.approx(log_one[k], abs=2e-5), k

    _torchrun("ganzoo.train.tgan", [*args(tmp_path / "critic2"), "--n-critic", "2"], tmp_path)
    rec = _last_log(tmp_path / "critic2")
    assert rec["step"] == 1 and rec["svc"] == 1.0 and np.isfinite([rec["loss_d"], rec["loss_g"]]).all()
    assert ganzoo.load(str(tmp_path / "critic2")).config.d_widths == (8, 8, 16, 16)


@pytest.mark.parametrize("field, value, match", [
    ("lr", 0.0, r"--lr must be a float in \(0, 1\), got 0.0"),
    ("svc_every", 0, r"--svc-every must be an int >= 1, got 0"),
    ("n_critic", 0, r"--n-critic must be an int in \[1, 100\], got 0"),
    ("n_sprites", 4, r"--n-sprites must be an int in \[1, 3\], got 4"),
    ("batch_size", 0, r"--batch-size must be an int in \[1, 4096\], got 0"),
    ("data_seed", SPRITES_HELDOUT_SEED, f"other than the held-out seed {SPRITES_HELDOUT_SEED}"),
    ("config", '{"nc": 1}', r"--config: nc must be 3 \(the sprite videos are RGB\), got 1"),
    ("config", "[8]", r"--config must be a JSON object of config fields"),
])
def test_bad_recipe(field, value, match):
    with pytest.raises(ValueError, match=match):
        check_recipe(_tiny(**{field: value}))


def test_unknown_tag_and_heldout_videos_refused(tmp_path):
    with pytest.raises(UnknownTagError, match="tgan.sprites"):
        check_recipe(_tiny(tag="nope"))
    with pytest.raises(InvalidConfigError, match="unknown field"):  # the model's own check, before any build
        check_recipe(_tiny(config='{"ngf": 8}'))
    with pytest.raises(ValueError, match="SPRITES_HELDOUT_SEED"):
        sprite_batch([0], SPRITES_HELDOUT_SEED)
    with pytest.raises(ValueError, match="held-out seed"):
        train_tgan(_tiny(data_seed=SPRITES_HELDOUT_SEED), tmp_path / "x")
    assert not (tmp_path / "x").exists()
