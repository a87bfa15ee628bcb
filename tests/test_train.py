"""Training recipes (ganzoo.train): exact resume, what --resume refuses, the clean-up of failed runs, the run folder
as a save_pretrained folder, the PG-GAN inpainting recipe (its seeded batches, its L1 warm-up, its option checks)
and the ``ganzoo train`` command line.

The runs are tiny (dcgan_32 at batch 8, PG-GAN inpainting at 32x32 with widths 8-32, batch 4) and shared between
the tests that only read them (module-scoped fixtures). Every test runs torch on one thread: the machine's cores are
shared, and two threads competing with other processes make a step several times slower, not more exact.
"""
from __future__ import annotations

import dataclasses
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import load_file

import ganzoo
from ganzoo.train import dcgan as dcgan_recipe
from ganzoo.train import pggan_inpaint as pggan_recipe
from ganzoo.train.pggan_inpaint import PGGANInpaintRecipe, PGGANInpaintTrainer, check_recipe, make_batch

#: A PG-GAN inpainting model small enough for a step in well under a second (D has BatchNorm: d_norm "bn").
TINY_PGGAN = {"g_widths": [8, 16, 32], "n_blocks": 1, "image_size": 32, "d_widths": [8, 16], "d_patch_width": 8,
              "d_global_width": 8}
TINY_CONFIG = json.dumps(TINY_PGGAN)
SIZE = TINY_PGGAN["image_size"]


def dcgan_args(out: Path, steps: int, *extra: str) -> list[str]:
    return ["--model", "dcgan_32", "--steps", str(steps), "--batch-size", "8", "--seed", "1", "--device", "cpu",
            *extra, "--out", str(out)]


def pggan_args(out: Path, steps: int, *extra: str) -> list[str]:
    return ["--config", TINY_CONFIG, "--steps", str(steps), "--batch-size", "4", "--l1-warmup", "1", "--seed", "2",
            "--device", "cpu", *extra, "--out", str(out)]


def log_of(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "train" / "log.jsonl").read_text().splitlines()]


def losses(record: dict) -> dict:
    """A log record without its wall time."""
    return {k: v for k, v in record.items() if k != "elapsed_s"}


def checkpoint_of(run: Path) -> dict:
    return torch.load(run / "train" / "checkpoint.pt", map_location="cpu", weights_only=True)


def files_of(run: Path) -> dict[str, bytes]:
    """Every file of a run folder (relative path -> bytes), to show that a refused command left it as it was."""
    return {str(p.relative_to(run)): p.read_bytes() for p in sorted(run.rglob("*")) if p.is_file()}


def assert_states_equal(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> None:
    assert a.keys() == b.keys()
    for k in a:
        assert a[k].dtype == b[k].dtype and torch.equal(a[k], b[k]), k


def assert_nested_equal(a, b, where: str = "") -> None:
    """Optimizer states and RNG states: the same structure, every tensor bit-equal."""
    if isinstance(a, torch.Tensor):
        assert isinstance(b, torch.Tensor) and a.dtype == b.dtype and torch.equal(a, b), where
    elif isinstance(a, dict):
        assert isinstance(b, dict) and a.keys() == b.keys(), where
        for k in a:
            assert_nested_equal(a[k], b[k], f"{where}.{k}")
    elif isinstance(a, (list, tuple)):
        assert isinstance(b, (list, tuple)) and len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            assert_nested_equal(x, y, f"{where}[{i}]")
    else:
        assert a == b, where


def tiny_pggan_init(seed: int = 2) -> dict[str, torch.Tensor]:
    """The initial weights of a tiny PG-GAN run with ``--seed seed`` (the trainer seeds torch, then builds)."""
    torch.manual_seed(seed)
    return ganzoo.create("pggan_inpaint.pool256", **TINY_PGGAN).state_dict()


# -- fixtures ----------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


_POOLS: dict = {}


@pytest.fixture(scope="module", autouse=True)
def _shared_pool():
    """Load the inpainting pool (photos and decoded video clips, seconds) once for the module: the trainers build
    ``TrainingPool(min_side=...)`` in ``prepare``; the pool is read-only, so sharing it changes no batch."""
    from ganzoo.data import inpainting

    real = inpainting.TrainingPool

    def cached(sources=None, *, min_side: int = 1):
        key = (None if sources is None else tuple(sources), min_side)
        if key not in _POOLS:
            _POOLS[key] = real(sources, min_side=min_side)
        return _POOLS[key]

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(inpainting, "TrainingPool", cached)
        yield


@pytest.fixture
def pool():
    from ganzoo.data import inpainting

    return inpainting.TrainingPool(min_side=SIZE)


@dataclasses.dataclass
class Runs:
    straight: Path  # trained to the last step in one command
    resumed: Path  # trained part of the way, then continued with --resume
    half: dict  # the resumed run's checkpoint before it was continued
    half_log: list[dict]


@pytest.fixture(scope="module")
def dcgan_runs(tmp_path_factory) -> Runs:
    """dcgan_32: 4 steps straight; 2 steps, then --resume --steps 4 (with another --threads, which may change)."""
    d = tmp_path_factory.mktemp("dcgan")
    dcgan_recipe.main(dcgan_args(d / "straight", 4))
    dcgan_recipe.main(dcgan_args(d / "resumed", 2))
    half, half_log = checkpoint_of(d / "resumed"), log_of(d / "resumed")
    dcgan_recipe.main(dcgan_args(d / "resumed", 4, "--threads", "1", "--resume"))
    return Runs(d / "straight", d / "resumed", half, half_log)


@pytest.fixture(scope="module")
def pggan_runs(tmp_path_factory) -> Runs:
    """Tiny PG-GAN, --l1-warmup 1: 2 steps straight (one L1-only step, one adversarial); 1 step, then --resume
    --steps 2 (so the resumed part is the adversarial step)."""
    d = tmp_path_factory.mktemp("pggan")
    pggan_recipe.main(pggan_args(d / "straight", 2))
    pggan_recipe.main(pggan_args(d / "resumed", 1))
    half, half_log = checkpoint_of(d / "resumed"), log_of(d / "resumed")
    pggan_recipe.main(pggan_args(d / "resumed", 2, "--threads", "1", "--resume"))
    return Runs(d / "straight", d / "resumed", half, half_log)


# -- 1. resume is exact --------------------------------------------------------------------------------------------

# On the CPU, one thread, the same ops in the same order: the resumed run is bit-identical to the straight one (the
# checkpoint holds the weights, both Adam states, the step and the batch generator's state; the sample grid in
# between runs in eval mode under no_grad, so it changes no BatchNorm statistics). Hence torch.equal, no tolerance.


def test_dcgan_resume_is_exact(dcgan_runs):
    straight, resumed = dcgan_runs.straight, dcgan_runs.resumed
    assert dcgan_runs.half["step"] == 2 and [r["step"] for r in dcgan_runs.half_log] == [2]
    assert_states_equal(load_file(straight / "model.safetensors"), load_file(resumed / "model.safetensors"))
    a, b = checkpoint_of(straight), checkpoint_of(resumed)
    assert a["step"] == b["step"] == 4
    assert_nested_equal(a["optimizers"], b["optimizers"], "optimizers")
    assert torch.equal(a["rng"], b["rng"])
    assert [r["step"] for r in log_of(straight)] == [4]
    assert [r["step"] for r in log_of(resumed)] == [2, 4]  # the resumed run appends to the log
    assert losses(log_of(straight)[-1]) == losses(log_of(resumed)[-1])
    assert sorted(p.name for p in (resumed / "train").glob("samples_*.png")) == ["samples_00002.png",
                                                                                 "samples_00004.png"]
    # the fixed sample grid: the same noise, the same weights, the same picture
    assert (straight / "train/samples_00004.png").read_bytes() == (resumed / "train/samples_00004.png").read_bytes()
    # the run really trained between the two halves
    half = dcgan_runs.half["model"]
    assert any(not torch.equal(half[k], v) for k, v in b["model"].items() if v.is_floating_point())


def test_pggan_resume_is_exact_across_the_end_of_the_warmup(pggan_runs):
    straight, resumed = pggan_runs.straight, pggan_runs.resumed
    assert pggan_runs.half["step"] == 1
    assert_states_equal(load_file(straight / "model.safetensors"), load_file(resumed / "model.safetensors"))
    a, b = checkpoint_of(straight), checkpoint_of(resumed)
    assert a["step"] == b["step"] == 2
    assert_nested_equal(a["optimizers"], b["optimizers"], "optimizers")
    assert torch.equal(a["rng"], b["rng"])
    assert [r["step"] for r in log_of(straight)] == [2]
    assert [r["step"] for r in log_of(resumed)] == [1, 2]
    assert losses(log_of(straight)[-1]) == losses(log_of(resumed)[-1])
    assert (straight / "train/samples_00002.png").read_bytes() == (resumed / "train/samples_00002.png").read_bytes()


# -- 2. what --resume accepts and refuses ----------------------------------------------------------------------


@pytest.mark.parametrize("recipe, option, value, message", [
    ("dcgan", "--lr", "0.001", r"the recipe differs from the run's \(lr: 0\.0002 -> 0\.001\); only --steps"),
    ("dcgan", "--seed", "5", r"\(seed: 1 -> 5\)"),
    ("pggan", "--l1-warmup", "0", r"\(l1_warmup: 1 -> 0\)"),
    ("pggan", "--config", json.dumps({**TINY_PGGAN, "n_blocks": 2}), r"\(config: '\{.*\}' -> '\{.*\}'\)"),
])
def test_resume_refuses_a_changed_recipe_field(dcgan_runs, pggan_runs, recipe, option, value, message):
    run = (dcgan_runs if recipe == "dcgan" else pggan_runs).straight
    before = files_of(run)
    # the option comes after the run's own value of it: argparse keeps the last
    args = (dcgan_args if recipe == "dcgan" else pggan_args)(run, 6, option, value, "--resume")
    with pytest.raises(ValueError, match=message):
        (dcgan_recipe if recipe == "dcgan" else pggan_recipe).main(args)
    assert files_of(run) == before  # a refused resume leaves the run as it was


def test_resume_refuses_steps_below_the_checkpoint(pggan_runs):
    run = pggan_runs.straight
    before = files_of(run)
    with pytest.raises(ValueError, match=r"--resume: the run is at step 2, beyond --steps 1"):
        pggan_recipe.main(pggan_args(run, 1, "--resume"))
    assert files_of(run) == before


def test_resume_without_a_checkpoint_is_an_error(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ValueError, match=r"--resume: no checkpoint at .*empty/train/checkpoint\.pt"):
        pggan_recipe.main(pggan_args(empty, 1, "--resume"))
    assert list(empty.iterdir()) == []
    with pytest.raises(ValueError, match=r"--resume: no checkpoint at .*missing/train/checkpoint\.pt"):
        pggan_recipe.main(pggan_args(tmp_path / "missing", 1, "--resume"))
    assert not (tmp_path / "missing").exists()


def test_a_fresh_run_into_a_training_run_is_refused(pggan_runs):
    run = pggan_runs.straight
    before = files_of(run)
    with pytest.raises(ValueError, match=r"holds a training run \(train/\): pass --resume to continue it, or choose "
                                         r"another folder"):
        pggan_recipe.main(pggan_args(run, 4))
    assert files_of(run) == before


def test_out_must_be_a_folder(tmp_path):
    f = tmp_path / "file"
    f.write_text("x")
    with pytest.raises(ValueError, match=r"--out .*file: exists and is not a folder"):
        pggan_recipe.main(pggan_args(f, 1))
    assert f.read_text() == "x"


# -- 3. clean-up of failed runs ------------------------------------------------------------------------------------


def fail_at(monkeypatch, step: int) -> None:
    """Make the PG-GAN trainer's train_step raise when it is about to take step ``step`` (0-based)."""
    real = PGGANInpaintTrainer.train_step

    def train_step(self):
        if self.step == step:
            raise RuntimeError(f"injected failure at step {step}")
        return real(self)

    monkeypatch.setattr(PGGANInpaintTrainer, "train_step", train_step)


def test_a_fresh_run_failing_before_its_first_checkpoint_leaves_nothing(tmp_path, monkeypatch):
    fail_at(monkeypatch, 1)
    out = tmp_path / "new" / "parents" / "run"
    with pytest.raises(RuntimeError, match="injected failure at step 1"):
        pggan_recipe.main(pggan_args(out, 3))
    assert list(tmp_path.iterdir()) == []  # not the run folder, nor the parents it created


def test_a_fresh_run_failing_in_an_existing_folder_removes_only_what_it_wrote(tmp_path, monkeypatch):
    fail_at(monkeypatch, 1)
    out = tmp_path / "run"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    with pytest.raises(RuntimeError, match="injected failure at step 1"):
        pggan_recipe.main(pggan_args(out, 3))
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt"] and (out / "notes.txt").read_text() == "mine"


def test_a_fresh_run_failing_after_a_checkpoint_keeps_it(tmp_path, monkeypatch):
    fail_at(monkeypatch, 2)
    monkeypatch.setattr(PGGANInpaintTrainer, "sample_every", 1)
    out = tmp_path / "run"
    with pytest.raises(RuntimeError, match="injected failure at step 2"):
        pggan_recipe.main(pggan_args(out, 3))
    assert checkpoint_of(out)["step"] == 2
    assert {p.name for p in (out / "train").glob("samples_*.png")} == {"samples_00001.png", "samples_00002.png"}
    assert ganzoo.load(str(out)).config.g_widths == tuple(TINY_PGGAN["g_widths"])


def test_a_model_config_the_model_refuses_fails_before_anything_is_written(tmp_path):
    out = tmp_path / "new" / "run"
    with pytest.raises(ganzoo.errors.InvalidConfigError, match=r"unknown field\(s\) \['n_blockz'\]"):
        pggan_recipe.main(pggan_args(out, 1) + ["--config", '{"n_blockz": 1}'])
    assert list(tmp_path.iterdir()) == []


def test_a_resumed_run_that_fails_keeps_its_checkpoint(pggan_runs, tmp_path, monkeypatch):
    run = tmp_path / "run"
    shutil.copytree(pggan_runs.straight, run)
    before = files_of(run)
    fail_at(monkeypatch, 3)  # step 2 (the third) is taken, not saved; the fourth fails
    with pytest.raises(RuntimeError, match="injected failure at step 3"):
        pggan_recipe.main(pggan_args(run, 6, "--resume"))
    after = files_of(run)
    assert checkpoint_of(run)["step"] == 2
    for name in ("train/checkpoint.pt", "model.safetensors", "config.json", "README.md", "train/recipe.json",
                 "train/log.jsonl", "train/samples_00002.png"):
        assert after[name] == before[name], name
    assert after.keys() == before.keys()


# -- 4. the run folder ---------------------------------------------------------------------------------------------


def test_the_run_folder_loads_as_the_checkpoints_model(pggan_runs):
    run = pggan_runs.straight
    model = ganzoo.load(str(run))
    assert model.model_name == "pggan_inpaint" and not model.training
    assert_states_equal(model.state_dict(), checkpoint_of(run)["model"])  # generator and discriminator
    for k, v in TINY_PGGAN.items():
        assert getattr(model.config, k) == (tuple(v) if isinstance(v, list) else v), k
    cfg = json.loads((run / "config.json").read_text())
    assert {k: cfg["config"][k] for k in TINY_PGGAN} == TINY_PGGAN
    recipe = json.loads((run / "train" / "recipe.json").read_text())
    assert recipe["config"] == TINY_CONFIG and recipe["steps"] == 2 and recipe["l1_warmup"] == 1
    card = (run / "README.md").read_text()
    assert "python -m ganzoo.train.pggan_inpaint --tag pool256 --config" in card
    assert "--steps 2 --batch-size 4" in card and "--l1-warmup 1" in card and f"--out {run}" in card
    assert "- **steps**: 2\n" in card and "- **recipe**: ganzoo/train/pggan_inpaint.py" in card
    final = {k: v for k, v in log_of(run)[-1].items() if k not in ("step", "elapsed_s")}
    assert f"- **final losses**: `{json.dumps(final)}`" in card


def test_the_sample_grid_shows_input_output_and_truth(pggan_runs, pool):
    import inspect

    from ganzoo.utils import make_grid

    png = pggan_runs.straight / "train" / "samples_00002.png"
    img = np.asarray(Image.open(png))
    pad = inspect.signature(make_grid).parameters["padding"].default  # 2, as save_image_grid uses it
    cell = SIZE + pad
    # 6 fixed samples, a row each: masked input | output | ground truth
    assert img.shape == (6 * cell + pad, 3 * cell + pad, 3)
    assert img.std() > 10
    # the ground-truth column is the fixed batch (seed + 10000), exactly; the input column is it with the hole grey
    real, known = make_batch(pool, 6, SIZE, 2 + 10_000, holes=(0.05, 0.40), rect_share=0.5, colour_share=0.75)
    truth = ((real.permute(0, 2, 3, 1) + 1) * 127.5).round().to(torch.uint8).numpy()
    hole = (known[:, 0] == 0).numpy()
    for r in range(6):
        y = pad + r * cell
        tile = lambda c: img[y:y + SIZE, pad + c * cell:pad + c * cell + SIZE]  # noqa: E731
        assert np.array_equal(tile(2), truth[r]), r
        assert np.array_equal(tile(0)[~hole[r]], truth[r][~hole[r]]) and (tile(0)[hole[r]] == 128).all(), r
        assert np.array_equal(tile(1)[~hole[r]], truth[r][~hole[r]]), r  # the output keeps the known pixels


# -- 5. the PG-GAN inpainting recipe ----------------------------------------------------------------------------


def test_during_the_l1_warmup_the_discriminator_does_not_change(pggan_runs):
    init = tiny_pggan_init()
    half, full = pggan_runs.half, checkpoint_of(pggan_runs.resumed)
    d_keys = [k for k in init if k.startswith("discriminator.")]
    g_keys = [k for k in init if k.startswith("generator.") and init[k].is_floating_point()]
    assert d_keys and g_keys
    # step 0 is L1 only: D (weights and BatchNorm statistics) as initialised, its optimizer without state; G moved
    assert all(torch.equal(half["model"][k], init[k]) for k in d_keys)
    assert half["optimizers"]["d"]["state"] == {}
    assert all(not torch.equal(half["model"][k], init[k]) for k in g_keys if "weight" in k)
    assert set(pggan_runs.half_log[0]) == {"step", "loss_g", "l1", "hole_l1", "elapsed_s"}
    assert pggan_runs.half_log[0]["loss_g"] == pytest.approx(100 * pggan_runs.half_log[0]["l1"], rel=1e-3)
    # step 1 is adversarial: every D weight moves, the BatchNorm statistics too
    moved = [k for k in d_keys if not torch.equal(full["model"][k], init[k])]
    assert moved == d_keys
    assert {"loss_d", "d_global", "d_patch", "adv_global", "adv_patch"} <= set(log_of(pggan_runs.resumed)[-1])


def test_hole_weight_moves_the_l1_term_towards_the_hole_error(pggan_runs, tmp_path):
    # Same seed, same first batch and initial weights: the logged L1 of step 0 is the plain mean over all pixels in
    # the default run and the hole-weighted mean with --hole-weight 6, so it lies closer to the hole's own L1.
    pggan_recipe.main(pggan_args(tmp_path / "weighted", 1, "--hole-weight", "6"))
    plain, weighted = pggan_runs.half_log[0], log_of(tmp_path / "weighted")[0]
    assert weighted["hole_l1"] == pytest.approx(plain["hole_l1"], rel=1e-6)
    h = plain["hole_l1"]
    assert abs(weighted["l1"] - h) < abs(plain["l1"] - h) and (weighted["l1"] - h) * (plain["l1"] - h) > 0
    assert weighted["loss_g"] == pytest.approx(100 * weighted["l1"], rel=1e-3)


def test_make_batch_is_seeded_and_in_range(pool):
    kw = dict(holes=(0.05, 0.4), rect_share=0.5, colour_share=0.75)
    images, known = make_batch(pool, 6, SIZE, 7, **kw)
    assert images.shape == (6, 3, SIZE, SIZE) and images.dtype == torch.float32
    assert known.shape == (6, 1, SIZE, SIZE) and known.dtype == torch.float32
    assert images.min() >= -1 and images.max() <= 1 and images.min() < -0.5 and images.max() > 0.5
    assert set(known.unique().tolist()) == {0.0, 1.0}
    # the images are the pool's crops for the seed, mapped from 0..255 to [-1, 1]
    crops = torch.from_numpy(pool.sample(6, SIZE, seed=7, colour_share=0.75)).permute(0, 3, 1, 2).float()
    assert torch.allclose(images, crops / 127.5 - 1, atol=1e-6)
    again = make_batch(pool, 6, SIZE, 7, **kw)
    assert torch.equal(again[0], images) and torch.equal(again[1], known)
    other = make_batch(pool, 6, SIZE, 8, **kw)
    assert not torch.equal(other[0], images) and not torch.equal(other[1], known)
    # sample k depends on (seed, k) only: a smaller batch is the first samples of a larger one
    first = make_batch(pool, 3, SIZE, 7, **kw)
    assert torch.equal(first[0], images[:3]) and torch.equal(first[1], known[:3])


@pytest.mark.parametrize("holes", [(0.05, 0.15), (0.3, 0.4)])
def test_make_batch_hole_coverage_is_in_the_bucket(pool, holes):
    _, known = make_batch(pool, 8, SIZE, 11, holes=holes, rect_share=0.5, colour_share=0.75)
    cover = 1 - known.mean(dim=(1, 2, 3))
    assert ((cover >= holes[0]) & (cover < holes[1])).all(), cover.tolist()


def _is_rectangle(hole: np.ndarray) -> bool:
    ys, xs = np.nonzero(hole)
    return bool(hole[ys.min():ys.max() + 1, xs.min():xs.max() + 1].all())


def test_make_batch_rect_share_picks_the_mask_kind(pool):
    _, rects = make_batch(pool, 8, SIZE, 5, holes=(0.1, 0.3), rect_share=1.0)
    _, strokes = make_batch(pool, 8, SIZE, 5, holes=(0.1, 0.3), rect_share=0.0)
    assert all(_is_rectangle(k[0].numpy() == 0) for k in rects)
    assert sum(_is_rectangle(k[0].numpy() == 0) for k in strokes) == 0


def test_make_batch_colour_share(pool):
    colour, _ = make_batch(pool, 8, SIZE, 3, holes=(0.1, 0.3), rect_share=0.5, colour_share=1.0)
    grey, _ = make_batch(pool, 8, SIZE, 3, holes=(0.1, 0.3), rect_share=0.5, colour_share=0.0)
    spread = lambda x: (x.amax(dim=1) - x.amin(dim=1)).flatten(1).amax(dim=1)  # noqa: E731  per sample
    assert (spread(colour) > 0).all(), spread(colour).tolist()
    assert (spread(grey) == 0).all(), spread(grey).tolist()


@pytest.mark.parametrize("change, error, message", [
    (dict(config="{bad"), ValueError, r"--config must be a JSON object of config fields, got '\{bad' \(Expecting "),
    (dict(config="[8, 16]"), ValueError, r"--config must be a JSON object of config fields, got '\[8, 16\]'$"),
    (dict(config="null"), ValueError, r"--config must be a JSON object of config fields, got 'null'$"),
    (dict(tag="nope"), ganzoo.errors.UnknownTagError, r"model 'pggan_inpaint' has no tag 'nope'; its tags are: "),
    (dict(min_hole=0.4, max_hole=0.4), ValueError, r"--max-hole must be a float in \(--min-hole, 1\], got 0\.4"),
    (dict(min_hole=0.5), ValueError, r"--max-hole must be a float in \(--min-hole, 1\], got 0\.4"),
    (dict(min_hole=0.0), ValueError, r"--min-hole must be a float in \(0, 1\), got 0\.0"),
    (dict(max_hole=1.5), ValueError, r"--max-hole must be a float in \(--min-hole, 1\], got 1\.5"),
    (dict(l1_warmup=-1), ValueError, r"--l1-warmup must be an int >= 0, got -1"),
    (dict(hole_weight=0), ValueError, r"--hole-weight must be a float in \(0, 1000\], got 0$"),
    (dict(colour_share=1.5), ValueError, r"--colour-share must be a float in \[0, 1\], got 1\.5"),
    (dict(rect_share=-0.1), ValueError, r"--rect-share must be a float in \[0, 1\], got -0\.1"),
    (dict(lr_d=0.0), ValueError, r"--lr-d must be a float in \(0, 1\), got 0\.0"),
    (dict(batch_size=0), ValueError, r"--batch-size must be an int in \[1, 4096\], got 0"),
    (dict(steps=0), ValueError, r"--steps must be an int >= 1, got 0"),
])
def test_check_recipe_names_the_option(change, error, message):
    with pytest.raises(error, match=message):
        check_recipe(PGGANInpaintRecipe(**change))


def test_check_recipe_accepts_the_defaults_and_a_config_object():
    check_recipe(PGGANInpaintRecipe())
    check_recipe(PGGANInpaintRecipe(config=TINY_CONFIG, min_hole=0.3, max_hole=1.0, colour_share=0.0))


# -- 6. the command line -------------------------------------------------------------------------------------------


def test_ganzoo_train_pggan_inpaint(tmp_path):
    from ganzoo.cli import main

    out = tmp_path / "run"
    assert main(["train", "pggan_inpaint", "--config", TINY_CONFIG, "--steps", "1", "--batch-size", "4",
                 "--device", "cpu", "--out", str(out)]) == 0
    recipe = json.loads((out / "train" / "recipe.json").read_text())
    assert recipe["config"] == TINY_CONFIG and recipe["steps"] == 1 and recipe["batch_size"] == 4
    assert recipe == {**dataclasses.asdict(PGGANInpaintRecipe()), "config": TINY_CONFIG, "steps": 1, "batch_size": 4}
    assert (out / "model.safetensors").is_file() and (out / "train" / "samples_00001.png").is_file()
    log = log_of(out)
    assert [r["step"] for r in log] == [1] and "loss_d" in log[0]  # --l1-warmup 0 by default: adversarial at once


def test_ganzoo_train_reports_a_bad_option_on_one_line(tmp_path, capsys):
    from ganzoo.cli import main

    out = tmp_path / "run"
    assert main(["train", "pggan_inpaint", "--min-hole", "0.5", "--out", str(out)]) == 1
    assert capsys.readouterr().err == "ganzoo train: error: --max-hole must be a float in (--min-hole, 1], got 0.4\n"
    assert main(["train", "pggan_inpaint", "--tag", "nope", "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("ganzoo train: error: model 'pggan_inpaint' has no tag 'nope'") and err.count("\n") == 1
    assert not out.exists()


def test_python_m_recipe_reports_a_bad_option_on_one_line(tmp_path):
    out = tmp_path / "run"
    p = subprocess.run([sys.executable, "-m", "ganzoo.train.pggan_inpaint", "--config", "[1]", "--out", str(out)],
                       capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert p.returncode == 1, p.stderr
    assert p.stderr == ("ganzoo.train.pggan_inpaint: error: --config must be a JSON object of config fields, "
                        "got '[1]'\n")
    assert p.stdout == "" and not out.exists()
