"""What every training recipe shares: the run folder, checkpoints and resume, the log, samples, the progress bar
and data-parallel execution (:mod:`ganzoo.train.distributed`).

A recipe subclasses :class:`GANTrainer` and implements :meth:`~GANTrainer.build` (the model),
:meth:`~GANTrainer.make_optimizers`, :meth:`~GANTrainer.train_step` (one step on the global batch it draws from
the trainer's seeded generator) and :meth:`~GANTrainer.sample_grid`. :meth:`GANTrainer.run` does the rest.

The run folder (``--out``) is a ``save_pretrained`` folder, so ``ganzoo.load("./run")`` loads the latest
checkpoint's model; the training state lives in ``run/train/``::

    run/config.json, model.safetensors, README.md   the model (fp32, generator + discriminator), its card
    run/train/recipe.json                           the recipe (resuming with another recipe is refused)
    run/train/checkpoint.pt                         model + optimizer states, step, RNG state (for --resume)
    run/train/log.jsonl                             one line of losses every ``log_every`` steps
    run/train/samples_<step>.png                    a sample grid every ``sample_every`` steps

Every file is written atomically. Checkpoints are read back with ``torch.load(weights_only=True)`` only.
If a fresh run fails before its first checkpoint, everything it wrote is removed.
"""
from __future__ import annotations

import copy
import dataclasses
import json
import logging
import shutil
import time
from pathlib import Path
from typing import Any, ClassVar

import torch

from ..models.base import GANModel
from .distributed import DistContext, setup, shutdown, unwrap

logger = logging.getLogger(__name__)

__all__ = ["GANTrainer", "TRAIN_DIR", "CHECKPOINT"]

TRAIN_DIR = "train"
CHECKPOINT = "checkpoint.pt"


class GANTrainer:
    """Base of the training recipes. ``recipe`` is the recipe's dataclass (its fields are the command-line options;
    it must have ``steps``, ``batch_size``, ``seed`` and ``threads``: :func:`common_checks`)."""

    #: the recipe module, for the command recorded in the model card (``python -m <module> ...``)
    module: ClassVar[str] = ""
    log_every: ClassVar[int] = 25
    sample_every: ClassVar[int] = 250
    #: pictures per row of the sample grid (None: a square grid)
    grid_nrow: ClassVar[int | None] = None

    def __init__(self, recipe: Any, out_dir: str | Path, *, resume: bool = False, device: str | None = None):
        self.recipe = recipe
        self.out = Path(out_dir).expanduser()
        self.resume = resume
        self.device_arg = device
        self.step = 0
        self.gen = torch.Generator().manual_seed(int(recipe.seed))
        self.ctx = DistContext()
        self.model: GANModel | None = None
        self.optimizers: dict[str, torch.optim.Optimizer] = {}
        self.last: dict[str, float] = {}

    # -- what recipes implement -------------------------------------------------------------------------------------

    def check(self) -> None:
        """Raise ValueError naming the first recipe field out of range (before anything is built or loaded)."""

    def build(self) -> GANModel:
        """The model to train, on the CPU (the trainer moves it to the device)."""
        raise NotImplementedError

    def make_optimizers(self, model: GANModel) -> dict[str, torch.optim.Optimizer]:
        raise NotImplementedError

    def prepare(self) -> None:
        """Load data and anything else the steps need (called once, after the model is built)."""

    def train_step(self) -> dict[str, torch.Tensor]:
        """One optimisation step; returns the losses (scalars, this process's values). Draw the global batch and
        noise from ``self.gen`` (the same on every process) and keep ``self.ctx.shard(...)`` of them; call the
        networks through ``self.G`` / ``self.D`` (DistributedDataParallel under torchrun)."""
        raise NotImplementedError

    def sample_grid(self) -> tuple[torch.Tensor, tuple[float, float]]:
        """A batch of images (N, C, H, W) to save as the step's sample grid, and their value range."""
        raise NotImplementedError

    def extra_modules(self) -> dict[str, torch.nn.Module]:
        """Trained networks outside the model (e.g. BiGAN's encoder and joint discriminator): their states go into
        the checkpoint beside the model's and are restored on resume. Default: none."""
        return {}

    def save_extras(self) -> None:
        """Write files beside the model into the run folder after each checkpoint (rank 0). Default: nothing."""

    def training_info(self) -> dict[str, Any]:
        """What the model card says about how the weights were made (recipe, command, steps, losses, wall time)."""
        import platform

        return {
            "recipe": f"{self.module.replace('.', '/')}.py",
            "command": recipe_command(self.module, dataclasses.asdict(self.recipe), self.out),
            "settings": dataclasses.asdict(self.recipe),
            "steps": self.step,
            "final losses": dict(self.last),
            "processes": self.ctx.world_size,
            "machine": f"{platform.machine()} {self.ctx.device.type}, torch {torch.__version__}",
        }

    # -- the loop ---------------------------------------------------------------------------------------------------

    @property
    def train_dir(self) -> Path:
        return self.out / TRAIN_DIR

    def run(self) -> GANModel:
        """Train to ``recipe.steps`` (from the checkpoint with ``resume``); returns the model in eval mode."""
        from tqdm.auto import tqdm

        self.check()
        if self.out.exists() and not self.out.is_dir():
            raise ValueError(f"--out {self.out}: exists and is not a folder")
        ckpt = self.train_dir / CHECKPOINT
        if self.resume and not ckpt.is_file():
            raise ValueError(f"--resume: no checkpoint at {ckpt}")
        if not self.resume and self.train_dir.exists():
            raise ValueError(f"--out {self.out} holds a training run ({TRAIN_DIR}/): pass --resume to continue it, "
                             f"or choose another folder")
        self.ctx = setup(self.device_arg)
        self.ctx.check_batch(int(self.recipe.batch_size))
        created = [d for d in (self.out, *self.out.parents) if not d.exists()]
        bar = None
        threads = torch.get_num_threads()
        try:
            if self.recipe.threads:  # common_checks: an int >= 0
                torch.set_num_threads(self.recipe.threads)  # restored below: a Python caller keeps its own
            torch.manual_seed(int(self.recipe.seed))  # the same initial weights on every process
            model = self.build()
            self.model = model.to(self.ctx.device).train()
            self.optimizers = self.make_optimizers(model)
            if self.resume:
                self._load_checkpoint(ckpt)
            elif self.ctx.is_main:
                self.train_dir.mkdir(parents=True, exist_ok=True)
                self._write(self.train_dir / "recipe.json", json.dumps(dataclasses.asdict(self.recipe), indent=2))
            self.G, self.D = self.ctx.wrap(model.generator), self.ctx.wrap(model.discriminator)
            self.prepare()
            t0 = time.perf_counter()
            bar = tqdm(total=int(self.recipe.steps), initial=self.step, desc=f"train {model.model_name}",
                       unit="step", disable=not self.ctx.is_main)
            while self.step < int(self.recipe.steps):
                losses = self.train_step()
                self.step += 1
                bar.update(1)
                if self.step % self.log_every == 0 or self.step == self.recipe.steps:
                    self.last = {k: round(self.ctx.mean(v), 5) for k, v in losses.items()}
                    bar.set_postfix(self.last)
                    self._log({"step": self.step, **self.last, "elapsed_s": round(time.perf_counter() - t0, 1)})
                if self.step % self.sample_every == 0 or self.step == self.recipe.steps:
                    self._checkpoint()
        except BaseException:
            if bar is not None:
                bar.close()  # ends the bar's line, so an error message starts on its own
                bar = None
            if self.ctx.is_main:
                if self.resume or (self.train_dir / CHECKPOINT).exists():
                    logger.warning("training stopped; the last checkpoint stays in %s", self.out)
                else:  # a fresh run without a checkpoint leaves nothing behind
                    shutil.rmtree(self.out if self.out in created else self.train_dir, ignore_errors=True)
                    for d in created[1:]:  # the parents this run made, innermost first, if empty
                        try:
                            d.rmdir()
                        except OSError:
                            break
            raise
        finally:
            if bar is not None:
                bar.close()
            shutdown(self.ctx)
            torch.set_num_threads(threads)
        logger.info("trained %s to step %d", model.model_name, self.step)
        return model.eval()

    # -- files ------------------------------------------------------------------------------------------------------

    def _write(self, path: Path, data: str | bytes) -> None:
        from ..utils import atomic_write

        atomic_write(path, data.encode() if isinstance(data, str) else data)

    def _log(self, rec: dict[str, Any]) -> None:
        if not self.ctx.is_main:
            return
        with (self.train_dir / "log.jsonl").open("a", encoding="utf-8") as f:
            f.write(json.dumps(rec) + "\n")

    def _checkpoint(self) -> None:
        """Sample grid, the save_pretrained folder and the resumable checkpoint (rank 0 writes; all wait)."""
        from .. import save_pretrained
        from ..utils import atomic_write, save_image_grid

        model = self.model
        assert model is not None
        if self.ctx.is_main:
            was = model.training
            model.eval()
            with torch.no_grad():
                images, value_range = self.sample_grid()
            model.train(was)
            save_image_grid(images, self.train_dir / f"samples_{self.step:05d}.png", nrow=self.grid_nrow,
                            value_range=value_range)
            state = {
                "step": self.step,
                "recipe": dataclasses.asdict(self.recipe),
                "model": {k: v.detach().cpu() for k, v in model.state_dict().items()},
                "optimizers": {k: o.state_dict() for k, o in self.optimizers.items()},
                "rng": self.gen.get_state(),
            }
            extras = self.extra_modules()
            if extras:
                state["extra"] = {n: {k: v.detach().cpu() for k, v in unwrap(m).state_dict().items()}
                                  for n, m in extras.items()}
            atomic_write(self.train_dir / CHECKPOINT, lambda f: torch.save(state, f))
            # the recipe of the checkpoint: a resumed run may have raised --steps (or changed --threads)
            self._write(self.train_dir / "recipe.json", json.dumps(dataclasses.asdict(self.recipe), indent=2))
            cpu = model if self.ctx.device.type == "cpu" else copy.deepcopy(unwrap(model)).cpu()
            save_pretrained(cpu, self.out, training=self.training_info(), overwrite=True)
            self.save_extras()
        self.ctx.barrier()

    def _load_checkpoint(self, path: Path) -> None:
        state = torch.load(path, map_location="cpu", weights_only=True)
        saved = state.get("recipe", {})
        now = dataclasses.asdict(self.recipe)
        # steps may grow and threads only changes speed; anything else would change what is trained
        differ = sorted(k for k in now if k not in ("steps", "threads") and saved.get(k) != now[k])
        if differ:
            changes = ", ".join(f"{k}: {saved.get(k)!r} -> {now[k]!r}" for k in differ)
            raise ValueError(f"--resume: the recipe differs from the run's ({changes}); only --steps (and --threads) may change")
        if int(state["step"]) > int(self.recipe.steps):
            raise ValueError(f"--resume: the run is at step {state['step']}, beyond --steps {self.recipe.steps}")
        assert self.model is not None
        self.model.load_state_dict(state["model"])
        for n, m in self.extra_modules().items():
            if n not in state.get("extra", {}):
                raise ValueError(f"--resume: the checkpoint has no state for {n!r}")
            unwrap(m).load_state_dict(state["extra"][n])
        for k, o in self.optimizers.items():
            o.load_state_dict(state["optimizers"][k])
        self.gen.set_state(state["rng"])
        self.step = int(state["step"])
        logger.info("resumed %s at step %d", self.out, self.step)


# -- what every recipe's command line shares ----------------------------------------------------------------------


def recipe_command(module: str, settings: dict[str, Any], out: str | Path) -> str:
    """The shell command that runs a recipe with ``settings`` into ``out`` (each word quoted where needed)."""
    import shlex

    words = ["python", "-m", module]
    for k, v in settings.items():
        words += [f"--{k.replace('_', '-')}", str(v)]
    return shlex.join([*words, "--out", str(out)])


def common_checks(recipe: Any) -> list[tuple[str, bool, str]]:
    """The :func:`check_fields` checks of the fields every recipe has: steps, batch_size, seed, threads."""
    r = recipe
    return [
        ("steps", _is_int(r.steps) and r.steps >= 1, "an int >= 1"),
        ("batch_size", _is_int(r.batch_size) and 1 <= r.batch_size <= 4096, "an int in [1, 4096]"),
        ("seed", _is_int(r.seed) and r.seed >= 0, "an int >= 0"),
        ("threads", _is_int(r.threads) and r.threads >= 0, "an int >= 0 (0: torch's default)"),
    ]


def _is_int(x: Any) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def config_overrides(recipe: Any) -> dict:
    """A recipe's ``--config`` as a dict (ValueError unless it is empty or a JSON object)."""
    if not recipe.config:
        return {}
    try:
        value = json.loads(recipe.config)
    except json.JSONDecodeError as e:
        raise ValueError(f"--config must be a JSON object of config fields, got {recipe.config!r} ({e})") from None
    if not isinstance(value, dict):
        raise ValueError(f"--config must be a JSON object of config fields, got {recipe.config!r}")
    return value


def check_fields(recipe: Any, checks: list[tuple[str, bool, str]]) -> None:
    """Raise ValueError for the first ``(field, ok, expected)`` of ``checks`` that is not ok, naming the option."""
    for name, ok, want in checks:
        if not ok:
            raise ValueError(f"--{name.replace('_', '-')} must be {want}, got {getattr(recipe, name)!r}")


def _parse_bool(text: str) -> bool:
    """A boolean option's value: true/false, yes/no, 1/0 (any case); ``bool("False")`` would be True."""
    import argparse

    t = text.strip().lower()
    if t in ("true", "yes", "1"):
        return True
    if t in ("false", "no", "0"):
        return False
    raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")


def recipe_main(trainer_cls: type[GANTrainer], recipe_cls: type, argv: list[str] | None, *, prog: str,
                doc: str | None) -> None:
    """The command line of a recipe: one option per recipe field, plus ``--out``, ``--resume`` and ``--device``."""
    import argparse

    p = argparse.ArgumentParser(prog=prog, description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    for k, v in dataclasses.asdict(recipe_cls()).items():
        p.add_argument(f"--{k.replace('_', '-')}", type=_parse_bool if isinstance(v, bool) else type(v), default=v,
                       metavar="{true,false}" if isinstance(v, bool) else None)
    p.add_argument("--out", required=True, help="the run folder")
    p.add_argument("--resume", action="store_true", help="continue the run in --out from its checkpoint")
    p.add_argument("--device", default=None, help="cpu or cuda (default: cuda when available)")
    args = vars(p.parse_args(argv))
    out, resume, device = args.pop("out"), args.pop("resume"), args.pop("device")
    logging.basicConfig(level=logging.INFO)
    trainer_cls(recipe_cls(**args), out, resume=resume, device=device).run()


def module_main(main: Any, prog: str) -> None:
    """``python -m <recipe>``: user errors as one line on stderr and exit status 1."""
    import sys

    from ..errors import GanzooError

    try:
        main()
    except (GanzooError, ValueError, OSError) as e:
        print(f"{prog}: error: {e}", file=sys.stderr)
        sys.exit(1)
