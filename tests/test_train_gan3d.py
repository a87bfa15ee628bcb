"""The 3D-GAN recipe: a short run, its run folder, resume, and the paper's D-accuracy gate."""
from __future__ import annotations

import json

import pytest
import torch

import ganzoo
from ganzoo.train.gan3d import GAN3DRecipe, GAN3DTrainer, check_recipe, train_gan3d


def _tiny(**kw) -> GAN3DRecipe:
    base = dict(model="gan3d_32", tag="shapes", steps=2, batch_size=4, pool=12, threads=1)
    base.update(kw)
    return GAN3DRecipe(**base)


def test_short_run_gate_closed_then_resume(tmp_path):
    """A run folder that loads, and the gate: threshold 0 opens only for a D that misclassifies every sample,
    which this seeded run's D does not, so D's parameters stay exactly the initial ones (BN running statistics
    still move) while G trains. Then --resume continues to more steps."""
    out = tmp_path / "run"
    trainer = GAN3DTrainer(_tiny(steps=2, d_acc_threshold=0.0), out)
    model = trainer.run()
    assert trainer.d_updates == 0
    assert (out / "train" / "checkpoint.pt").is_file() and (out / "train" / "samples_00002.png").is_file()
    rec = json.loads((out / "train" / "log.jsonl").read_text().splitlines()[-1])
    assert rec["step"] == 2 and rec["d_update"] == 0.0 and rec["d_acc"] > 0.0
    assert {"loss_d", "loss_g", "occupancy"} <= set(rec)
    torch.manual_seed(0)  # the recipe's seed: the trainer built its model after the same call
    fresh = ganzoo.create("gan3d_32.shapes")
    for (k, a), b in zip(model.discriminator.named_parameters(), fresh.discriminator.parameters()):
        torch.testing.assert_close(a, b, rtol=0, atol=0, msg=k)
    assert any(not torch.equal(a, b) for a, b in zip(model.generator.parameters(), fresh.generator.parameters()))

    loaded = ganzoo.load(str(out))
    assert loaded.config.volume_size == 32 and loaded.config.ngf == 32
    z = torch.rand(2, loaded.config.nz, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        torch.testing.assert_close(loaded.generator(z), model.generator(z), rtol=0, atol=0)
    train_gan3d(_tiny(steps=3, d_acc_threshold=0.0), out, resume=True)
    assert json.loads((out / "train" / "log.jsonl").read_text().splitlines()[-1])["step"] == 3


def test_gate_open_updates_discriminator_every_step(tmp_path):
    trainer = GAN3DTrainer(_tiny(steps=2, d_acc_threshold=1.0), tmp_path / "open")
    model = trainer.run()
    assert trainer.d_updates == 2
    torch.manual_seed(0)
    fresh = ganzoo.create("gan3d_32.shapes")
    assert any(not torch.equal(a, b) for a, b in zip(model.discriminator.parameters(),
                                                      fresh.discriminator.parameters()))


@pytest.mark.parametrize("field, value, match", [
    ("model", "dcgan", r"--model must be one of \['gan3d_32', 'gan3d'\], got 'dcgan'"),
    ("lr_d", 0.0, r"--lr-d must be a float in \(0, 1\), got 0.0"),
    ("d_acc_threshold", 1.5, r"--d-acc-threshold must be a float in \[0, 1\], got 1.5"),
    ("pool", 0, r"--pool must be an int in \[1, 1000000\], got 0"),
])
def test_bad_recipe(field, value, match):
    with pytest.raises(ValueError, match=match):
        check_recipe(_tiny(**{field: value}))


def test_heldout_seed_refused():
    from ganzoo.data.voxels import VOXEL_HELDOUT_SEED

    with pytest.raises(ValueError, match=f"other than the held-out seed {VOXEL_HELDOUT_SEED}"):
        check_recipe(_tiny(data_seed=VOXEL_HELDOUT_SEED))


def test_joint_batch_and_instance_noise(tmp_path, monkeypatch):
    """--d-joint-batch: D sees real and generated volumes in one call (2B rows); --instance-noise: both get Gaussian
    noise whose std falls linearly from the given value at step 0 to 0 at --steps (measured on what D receives, with
    an all-empty real pool so the real half is the noise itself)."""
    from ganzoo.models.gan3d import GAN3DDiscriminator

    trainer = GAN3DTrainer(_tiny(steps=2, d_joint_batch=True, instance_noise=0.5, d_acc_threshold=1.0),
                           tmp_path / "joint")
    trainer._real = lambda idx: torch.zeros(len(idx), 1, 32, 32, 32)
    seen: list[tuple[int, float, int]] = []
    real_forward = GAN3DDiscriminator.forward

    def spy(self, x):
        seen.append((len(x), float(x[:len(x) // 2].detach().std()), trainer.step))
        return real_forward(self, x)

    monkeypatch.setattr(GAN3DDiscriminator, "forward", spy)
    trainer.run()
    calls = [c for c in seen if c[0] == 8]  # 4 real + 4 generated in one call
    assert [c[2] for c in calls] == [0, 0, 1, 1], seen  # D's and G's step at steps 0 and 1
    for n, sd, step in calls:
        assert abs(sd - 0.5 * (1 - step / 2)) < 0.01, (sd, step)
    check_recipe(_tiny(d_joint_batch=True, instance_noise=0.1))
    with pytest.raises(ValueError, match=r"--instance-noise must be a float in \[0, 1\], got 2"):
        check_recipe(_tiny(instance_noise=2))
    with pytest.raises(ValueError, match=r"--d-joint-batch must be true or false, got 1"):
        check_recipe(_tiny(d_joint_batch=1))
