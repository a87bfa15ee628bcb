"""The DR-GAN recipe: a short run and its run folder, resume, the multi-image step, the shift augmentation, 2 processes
against 1, and the recipe's checks."""
from __future__ import annotations

import json
import sys

import pytest
import torch
from safetensors.torch import load_file

import ganzoo
from ganzoo.data.heads import HEADS_HELDOUT_SEED
from ganzoo.errors import UnknownTagError
from ganzoo.models.drgan import HEADS_WIDTHS, DRGANConfig
from ganzoo.train.drgan import DRGANRecipe, DRGANTrainer, check_recipe, shift_images, train_drgan

#: a narrow DR-GAN (the tags' geometry: 96x96 RGB, 9 poses), so that a step at batch 4 takes a fraction of a second
TINY = {"widths": [4, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 8, 16]}


def _tiny(**kw) -> DRGANRecipe:
    base = dict(config=json.dumps(TINY), identities=4, images_per_pose=1, steps=2, batch_size=4, threads=1)
    base.update(kw)
    return DRGANRecipe(**base)


def _last_log(out) -> dict:
    return json.loads((out / "train" / "log.jsonl").read_text().splitlines()[-1])


def _fresh(name: str, **kw):
    torch.manual_seed(0)  # the recipe's seed: the trainer built its model after the same call
    return ganzoo.create(f"{name}.heads", **TINY, num_identities=4, **kw)


def test_recipe_defaults_are_the_papers():
    r, paper = DRGANRecipe(), DRGANConfig()
    assert (r.lr, r.beta1) == (paper.lr, paper.beta1) == (2e-4, 0.5)
    assert paper.num_identities == 200 and r.identities == 50 and r.num_images == paper.num_images  # Nd: docstring
    assert r.shift == 0 and r.d_joint_batch and r.data_seed != HEADS_HELDOUT_SEED  # ganzoo's choices (docstring)
    for name in ("drgan", "drgan_multi"):
        cfg = ganzoo.create(f"{name}.heads").config
        assert (cfg.num_identities, cfg.num_poses, cfg.nc, cfg.nz) == (50, 9, 3, 50)
        assert cfg.widths == HEADS_WIDTHS and [w * 4 for w in cfg.widths] == list(paper.widths)


def test_short_run_samples_and_loads(tmp_path):
    """Both networks train; the log has the losses and D's accuracies; the sample grid is 8 identities x (input +
    9 yaws); the run folder loads as the trained model with the recipe's Nd and the heads' 9 poses."""
    out = tmp_path / "run"
    model = DRGANTrainer(_tiny(shift=7), out).run()
    rec = _last_log(out)
    assert rec["step"] == 2 and rec["loss_d"] > 0 and rec["loss_g"] > 0
    for k in ("real_id_acc", "real_pose_acc", "fake_acc", "gen_id_acc", "gen_pose_acc"):
        assert 0 <= rec[k] <= 1, k
    fresh = _fresh("drgan")
    for part in ("generator", "discriminator"):
        a, b = getattr(model, part).parameters(), getattr(fresh, part).parameters()
        assert any(not torch.equal(x, y) for x, y in zip(a, b)), f"{part} did not train"

    from PIL import Image

    with Image.open(out / "train" / "samples_00002.png") as im:
        assert im.size == (10 * 98 + 2, 8 * 98 + 2)  # input + 9 yaws across, 4 + 4 identities down, 2 px padding
    loaded = ganzoo.load(str(out))
    assert (loaded.config.num_identities, loaded.config.num_poses) == (4, 9)
    assert loaded.config.widths == tuple(TINY["widths"]) and loaded.pretrained_cfg.tag == "heads"
    inputs = loaded.sample_inputs(2, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        torch.testing.assert_close(loaded(*inputs), model(*inputs), rtol=0, atol=0)


@pytest.mark.parametrize("name", ["drgan", "drgan_multi"])
def test_resume_equals_the_uninterrupted_run(tmp_path, name):
    """2 steps then --resume to 3 give bit-identical weights and losses to 3 steps in one go."""
    kw = dict(model=name, batch_size=4 if name == "drgan" else 2, shift=3)
    train_drgan(_tiny(steps=3, **kw), tmp_path / "straight")
    train_drgan(_tiny(steps=2, **kw), tmp_path / "resumed")
    train_drgan(_tiny(steps=3, **kw), tmp_path / "resumed", resume=True)
    a, b = load_file(tmp_path / "straight" / "model.safetensors"), load_file(tmp_path / "resumed" / "model.safetensors")
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k
    one, two = _last_log(tmp_path / "straight"), _last_log(tmp_path / "resumed")
    assert one.pop("elapsed_s") >= 0 and two.pop("elapsed_s") >= 0
    assert one == two and one["step"] == 3


@pytest.mark.parametrize("joint", [True, False])
def test_multi_image_step_generates_from_every_image_and_the_fused_feature(tmp_path, joint):
    """B people x N images: D sees the B*N real images and B*(N+1) generated ones (one per single feature and
    one per fused feature), in one batch (--d-joint-batch) or two, for its own step; for G's, the same joint batch
    or the generated images alone. The confidences train; the grid shows the N inputs."""
    seen = []

    class Hooked(DRGANTrainer):
        def prepare(self):
            super().prepare()
            self.model.discriminator.register_forward_pre_hook(lambda m, args: seen.append(args[0].shape[0]))

    out = tmp_path / "multi"
    model = Hooked(_tiny(model="drgan_multi", batch_size=2, num_images=3, d_joint_batch=joint), out).run()
    assert seen == ([14, 14] if joint else [6, 8, 8]) * 2
    fresh = _fresh("drgan_multi", num_images=3)
    conf = lambda m: m.generator.encoder.layers[-1].conv.weight[-1]  # noqa: E731  conv53's confidence channel
    assert not torch.equal(conf(model), conf(fresh))
    assert 0 < _last_log(out)["confidence"] < 1
    assert model.config.num_images == 3 and model.config.multi_image

    from PIL import Image

    with Image.open(out / "train" / "samples_00002.png") as im:
        assert im.size == (12 * 98 + 2, 8 * 98 + 2)  # 3 inputs + 9 yaws


def test_shift_translates_with_the_border_replicated():
    x = torch.rand(2, 3, 10, 12)
    out = shift_images(x, torch.tensor([[2, -3], [0, 0]]), 3)
    assert torch.equal(out[1], x[1])
    assert torch.equal(out[0, :, :8, 3:], x[0, :, 2:, :9])  # out[y, x] = in[y + 2, x - 3]
    assert torch.equal(out[0, :, 8:, 3:], x[0, :, 9:, :9].expand(-1, 2, -1))  # below: the last row repeated
    assert torch.equal(out[0, :, :8, :3], x[0, :, 2:, :1].expand(-1, -1, 3))  # left: the first column repeated
    assert shift_images(x, torch.zeros(2, 2, dtype=torch.long), 0) is x


@pytest.mark.parametrize("name", ["drgan", "drgan_multi"])
def test_two_processes_match_one(tmp_path, name):
    """torchrun with 2 gloo processes against 1 process on the same global batch, one step, within the stated
    tolerance (tests/test_distributed.py); the logged losses are the global batch's. drgan_multi's generator runs
    outside DistributedDataParallel with its gradients averaged by hand."""
    from tests.test_distributed import _run, _torchrun, assert_two_processes_match_one

    def args(out):
        return ["--model", name, "--config", json.dumps(TINY), "--identities", "4", "--images-per-pose", "1",
                "--shift", "3", "--steps", "1", "--batch-size", "4" if name == "drgan" else "2", "--seed", "3",
                "--device", "cpu",
                "--out", str(out)]

    _run([sys.executable, "-m", "ganzoo.train.drgan", *args(tmp_path / "one")], tmp_path)
    _torchrun("ganzoo.train.drgan", args(tmp_path / "two"), tmp_path)
    torch.manual_seed(3)
    init = ganzoo.create(f"{name}.heads", **TINY, num_identities=4).state_dict()
    assert_two_processes_match_one(tmp_path / "one", tmp_path / "two", init)
    one, two = _last_log(tmp_path / "one"), _last_log(tmp_path / "two")
    assert one.keys() == two.keys()
    for k in ("loss_d", "loss_g"):
        assert two[k] == pytest.approx(one[k], abs=2e-5), k


@pytest.mark.parametrize("field, value, match", [
    ("model", "dcgan", r"--model must be one of \['drgan', 'drgan_multi'\], got 'dcgan'"),
    ("lr", 0.0, r"--lr must be a float in \(0, 1\), got 0.0"),
    ("identities", 0, r"--identities must be an int in \[1, 10000\], got 0"),
    ("num_images", 10, r"--num-images must be an int in \[1, 9\] \(the images of one identity"),
    ("yaw_jitter", 7.5, r"--yaw-jitter must be a float in \[0, 7.5\) degrees"),
    ("shift", 25, r"--shift must be an int in \[0, 24\] pixels, got 25"),
    ("d_joint_batch", 1, r"--d-joint-batch must be true or false, got 1"),
    ("batch_size", 0, r"--batch-size must be an int in \[1, 4096\], got 0"),
    ("data_seed", HEADS_HELDOUT_SEED, f"other than the held-out seed {HEADS_HELDOUT_SEED}"),
    ("config", '{"num_identities": 5}', r"--config: num_identities is set by --identities"),
    ("config", '{"nc": 1}', r"--config: nc is set by the data \(RGB\)"),
    ("config", "[1]", r"--config must be a JSON object of config fields"),
    ("tag", "multipie", r"--tag multipie: its num_poses is 13, the heads have 9 yaws"),
])
def test_bad_recipe(field, value, match):
    with pytest.raises(ValueError, match=match):
        check_recipe(_tiny(**{field: value}))


def test_unknown_tag_and_bad_config_field():
    from ganzoo.errors import InvalidConfigError

    with pytest.raises(UnknownTagError):
        check_recipe(_tiny(tag="nope"))
    with pytest.raises(InvalidConfigError):
        check_recipe(_tiny(config='{"widths": [8, 8]}'))


def test_a_bad_option_leaves_no_run_folder(tmp_path, capsys):
    from ganzoo.train.drgan import main

    out = tmp_path / "r"
    with pytest.raises(ValueError, match="--images-per-pose must be an int in"):
        main(["--images-per-pose", "0", "--out", str(out)])
    assert not out.exists()


@pytest.mark.parametrize("name", ["drgan", "drgan_multi"])
def test_pixel_weight_targets_are_renders_of_the_identity_at_the_target_pose(tmp_path, name):
    """--pixel-weight: G's L1 target for each generated image is a pool render of its input's identity at its target
    pose (singles and the fused image alike for drgan_multi); the log gains l1; without it no l1 is logged."""
    kw = dict(batch_size=2, num_images=2) if name == "drgan_multi" else {}
    trainer = DRGANTrainer(_tiny(model=name, pixel_weight=5.0, images_per_pose=2, **kw), tmp_path / "l1")
    seen = []
    targets = trainer._targets

    def spy(identity, pose):
        out = targets(identity, pose)
        seen.append((identity.clone(), pose.clone(), out))
        return out

    trainer._targets = spy
    trainer.run()
    assert len(seen) == 2 and "l1" in _last_log(tmp_path / "l1")
    pool = trainer.pool.float() / 127.5 - 1
    for identity, pose, out in seen:
        assert out.shape == (*identity.shape, 3, 96, 96)
        for i, p, img in zip(identity.flatten(), pose.flatten(), out.flatten(0, -4)):
            match = [j for j in range(len(pool)) if torch.equal(pool[j], img)]
            assert match and all(int(trainer.identity[j]) == int(i) and int(trainer.pose[j]) == int(p)
                                 for j in match)
    train_drgan(_tiny(model=name, **kw), tmp_path / "plain")
    assert "l1" not in _last_log(tmp_path / "plain")


def test_init_copies_both_networks_and_refuses_another_config(tmp_path):
    first = train_drgan(_tiny(), tmp_path / "a")
    model = DRGANTrainer(_tiny(init=str(tmp_path / "a")), tmp_path / "b").build()
    for (k, a), b in zip(model.state_dict().items(), first.state_dict().values()):
        torch.testing.assert_close(a, b, rtol=0, atol=0, msg=k)
    with pytest.raises(ValueError, match=r"--init .*a: its config differs from this run's"):
        DRGANTrainer(_tiny(init=str(tmp_path / "a"), identities=5), tmp_path / "c").build()


def test_init_multi_from_single_copies_all_but_the_confidence_channel(tmp_path):
    single = train_drgan(_tiny(), tmp_path / "a")
    multi = DRGANTrainer(_tiny(model="drgan_multi", init=str(tmp_path / "a")), tmp_path / "b").build()
    src, dst = single.state_dict(), multi.state_dict()
    assert set(src) == set(dst)
    widened = [k for k in src if src[k].shape != dst[k].shape]
    # conv53's conv weight and its BN's weight, bias, running mean and variance gain the confidence row
    assert len(widened) == 5 and all(k.startswith("generator.encoder.layers.") for k in widened), widened
    for k in src:
        n = src[k].shape[0] if src[k].dim() else None
        torch.testing.assert_close(dst[k][:n] if n is not None else dst[k], src[k], rtol=0, atol=0, msg=k)
    # the confidence works: f is the single model's feature, w in (0, 1)
    x = torch.rand(2, 3, 96, 96) * 2 - 1
    single.eval(), multi.eval()
    f, w = multi.generator.encode_with_confidence(x)
    torch.testing.assert_close(f, single.generator.encode(x))
    assert ((w > 0) & (w < 1)).all()
    # the other way (multi -> single) would drop the confidences: refused
    train_drgan(_tiny(model="drgan_multi", steps=1), tmp_path / "m")
    with pytest.raises(ValueError, match=r"--init .*m: its config differs from this run's"):
        DRGANTrainer(_tiny(init=str(tmp_path / "m")), tmp_path / "c").build()
