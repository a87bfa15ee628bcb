"""The SRResNet x2 / x8 recipe (ganzoo.train.sr): initialisation from the x4 weights, seeded batches, frozen-trunk
steps, the run folder, and 2 processes under torchrun against 1 on the same global batch."""
from __future__ import annotations

import dataclasses
import sys

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

import ganzoo
from ganzoo.data import make_lr
from ganzoo.train.sr import SRRecipe, check_recipe, init_from, make_sr_batch


@pytest.fixture(scope="module")
def x4():
    return ganzoo.load("srresnet.div2k").eval()


@pytest.fixture(scope="module")
def pool():
    from ganzoo.data.inpainting import TrainingPool

    return TrainingPool(min_side=64)


def test_x2_takes_every_tensor_of_the_x4_generator_with_its_name(x4):
    m = ganzoo.create("srresnet_x2.pool")
    assert init_from(m.generator, x4.generator) == []
    src = x4.generator.state_dict()
    for k, v in m.generator.state_dict().items():
        assert torch.equal(v, src[k]), k
    assert not any(k.startswith("upsample.1.") for k in m.generator.state_dict())


def test_x8_third_upsample_block_starts_as_the_x4_second_one(x4):
    m = ganzoo.create("srresnet_x8.pool")
    assert init_from(m.generator, x4.generator) == []
    g, src = m.generator.state_dict(), x4.generator.state_dict()
    assert torch.equal(g["upsample.2.0.weight"], src["upsample.1.0.weight"])
    assert torch.equal(g["upsample.1.0.weight"], src["upsample.1.0.weight"])
    assert torch.equal(g["tail.weight"], src["tail.weight"])


def test_init_reports_the_tensors_it_could_not_copy(x4):
    m = ganzoo.create("srresnet_x2.pool", num_blocks=17)
    missing = init_from(m.generator, x4.generator)
    assert missing and all(k.startswith("trunk.16.") for k in missing)
    with pytest.raises(ValueError, match="shares no tensor"):
        init_from(m.generator, torch.nn.Linear(2, 2))


def test_sr_batch_is_seeded_and_its_lr_is_the_bicubic_downsampling(pool):
    lr, hr = make_sr_batch(pool, 3, 64, 2, seed=5)
    assert lr.shape == (3, 3, 32, 32) and hr.shape == (3, 3, 64, 64)
    assert 0 <= float(hr.min()) and float(hr.max()) <= 1 and float(hr.std()) > 0.02
    again = make_sr_batch(pool, 3, 64, 2, seed=5)
    assert torch.equal(lr, again[0]) and torch.equal(hr, again[1])
    assert not torch.equal(hr, make_sr_batch(pool, 3, 64, 2, seed=6)[1])
    hr8 = (hr[1].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
    assert np.array_equal((lr[1].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8), make_lr(hr8, 2))


@pytest.mark.parametrize("change, message", [
    ({"model": "srresnet"}, "--model must be one of"),
    ({"hr_size": 100, "model": "srresnet_x8"}, "--hr-size must be an int in \\[16, 1024\\] divisible by the scale \\(8\\)"),
    ({"lr": 0.0}, "--lr must be a float in \\(0, 1\\)"),
    ({"freeze_steps": -1}, "--freeze-steps must be an int >= 0"),
])
def test_check_recipe_names_the_option(change, message):
    with pytest.raises(ValueError, match=message):
        check_recipe(dataclasses.replace(SRRecipe(), **change))
    check_recipe(SRRecipe())


@pytest.fixture(scope="module")
def run(tmp_path_factory, x4):
    from ganzoo.train.sr import train_sr

    out = tmp_path_factory.mktemp("sr") / "run"
    torch.set_num_threads(1)
    train_sr(SRRecipe(steps=2, freeze_steps=1, batch_size=2, hr_size=32, seed=1), out, device="cpu")
    return out


def test_frozen_steps_train_only_the_upsampler_and_the_tail(tmp_path, x4):
    from ganzoo.train.sr import train_sr

    model = train_sr(SRRecipe(steps=1, freeze_steps=1, batch_size=2, hr_size=32), tmp_path / "f", device="cpu")
    src = x4.generator.state_dict()
    moved = {k for k, v in model.generator.state_dict().items() if not torch.equal(v, src[k])}
    assert moved and all(k.startswith(("upsample.", "tail.")) for k in moved), sorted(moved)
    assert "tail.weight" in moved  # BN running statistics of the frozen trunk did not move either


def test_the_run_folder_loads_and_upscales_by_two(run, x4):
    model = ganzoo.load(str(run)).eval()
    assert model.config.scale == 2
    lr = torch.rand(1, 3, 10, 12)
    with torch.no_grad():
        out = model(lr)
    assert out.shape == (1, 3, 20, 24) and 0 <= float(out.min()) and float(out.max()) <= 1
    weights = load_file(run / "model.safetensors")
    src = x4.generator.state_dict()
    assert not torch.equal(weights["generator.head.0.weight"], src["head.0.weight"])  # step 2 trained the head too
    assert (run / "train" / "samples_00002.png").is_file()


def test_ganzoo_train_sr_reports_a_bad_option_on_one_line(tmp_path, capsys):
    from ganzoo.cli import main

    out = tmp_path / "r"
    assert main(["train", "sr", "--model", "srgan", "--out", str(out)]) == 1
    assert capsys.readouterr().err == ("ganzoo train: error: --model must be one of ['srresnet_x2', 'srresnet_x8'], "
                                       "got 'srgan'\n")
    assert not out.exists()


def test_two_processes_match_one_for_sr(tmp_path, x4):
    from tests.test_distributed import _run, _torchrun, assert_two_processes_match_one

    # step 1 trains the upsampler alone (gradients all-reduced by hand), step 2 the whole generator through DDP
    args = lambda out: ["--steps", "2", "--freeze-steps", "1", "--batch-size", "4", "--hr-size", "32",  # noqa: E731
                        "--lr", "0.0002", "--seed", "3", "--device", "cpu", "--out", str(out)]
    _run([sys.executable, "-m", "ganzoo.train.sr", *args(tmp_path / "one")], tmp_path)
    _torchrun("ganzoo.train.sr", args(tmp_path / "two"), tmp_path)
    torch.manual_seed(3)
    m = ganzoo.create("srresnet_x2.pool")
    init_from(m.generator, x4.generator)
    assert_two_processes_match_one(tmp_path / "one", tmp_path / "two", m.state_dict(), steps=2)
