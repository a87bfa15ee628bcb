"""The DCGAN training recipe that produced the shipped ``dcgan.mnist`` and ``dcgan_32.mnist`` weights.

Paper settings: Adam lr 2e-4, betas (0.5, 0.999), batch 64-128, data in [-1, 1], N(0, 0.02) init, the
non-saturating generator loss. Runs on the CPU in minutes to tens of minutes.

    python -m ganzoo.train.dcgan --model dcgan --dataset mnist --steps 1500 --out runs/dcgan-mnist
    python -m ganzoo.train.dcgan ... --steps 3000 --out runs/dcgan-mnist --resume       # continue a run
    torchrun --nproc_per_node 2 -m ganzoo.train.dcgan ... --out runs/ddp                 # data parallel

The run folder is described in :mod:`ganzoo.train.engine`; ``ganzoo.load("runs/dcgan-mnist")`` loads it.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from ..models.base import GANModel
from .engine import GANTrainer, check_fields, common_checks, module_main, recipe_main

logger = logging.getLogger(__name__)

__all__ = ["DCGANRecipe", "DCGANTrainer", "train_dcgan", "check_recipe"]


@dataclass
class DCGANRecipe:
    model: str = "dcgan"
    dataset: str = "mnist"
    resize: str = "bilinear"
    steps: int = 1500
    batch_size: int = 64
    lr: float = 2e-4
    beta1: float = 0.5
    beta2: float = 0.999
    seed: int = 0
    threads: int = 0  # 0 = torch default


def check_recipe(recipe: DCGANRecipe) -> None:
    """Raise ValueError naming the first field out of range (before anything is created or loaded)."""
    from .. import list_models
    from ..registry import resolve_pretrained_cfg

    checks = [*common_checks(recipe),
        ("lr", isinstance(recipe.lr, (int, float)) and 0 < recipe.lr < 1, "a float in (0, 1)"),
        ("beta1", isinstance(recipe.beta1, (int, float)) and 0 <= recipe.beta1 < 1, "a float in [0, 1)"),
        ("beta2", isinstance(recipe.beta2, (int, float)) and 0 <= recipe.beta2 < 1, "a float in [0, 1)"),
        ("resize", recipe.resize in ("bilinear", "pad"), "'bilinear' or 'pad'"),
    ]
    check_fields(recipe, checks)
    from ..data import available_datasets

    if recipe.dataset not in available_datasets():
        raise ValueError(f"--dataset must be one of {available_datasets()}, got {recipe.dataset!r}")
    dcgans = list_models(family="dcgan")
    if recipe.model not in dcgans:
        raise ValueError(f"--model must be a DCGAN ({', '.join(dcgans)}), got {recipe.model!r}")
    resolve_pretrained_cfg(f"{recipe.model}.{recipe.dataset}")  # UnknownTagError for a dataset without a tag


class DCGANTrainer(GANTrainer):
    """One step: D on a real and a generated batch (two forward passes, as the reference implementation), then G
    with the non-saturating loss through D."""

    module = "ganzoo.train.dcgan"

    def check(self) -> None:
        check_recipe(self.recipe)

    def build(self) -> GANModel:
        from .. import create

        return create(f"{self.recipe.model}.{self.recipe.dataset}")

    def make_optimizers(self, model: GANModel) -> dict[str, torch.optim.Optimizer]:
        r = self.recipe
        return {"g": torch.optim.Adam(model.generator.parameters(), r.lr, betas=(r.beta1, r.beta2)),
                "d": torch.optim.Adam(model.discriminator.parameters(), r.lr, betas=(r.beta1, r.beta2))}

    def prepare(self) -> None:
        from ..data import load_dataset

        r, cfg = self.recipe, self.model.config
        self.data = load_dataset(r.dataset, image_size=cfg.image_size, resize=r.resize)
        if self.data.shape[1] != cfg.nc:
            raise ValueError(f"dataset has {self.data.shape[1]} channels, model expects nc={cfg.nc}")
        # a fixed grid, drawn from its own generator so resuming does not change it
        self.fixed_z = torch.randn(64, cfg.nz, generator=torch.Generator().manual_seed(r.seed))

    def train_step(self) -> dict[str, torch.Tensor]:
        r, ctx, nz = self.recipe, self.ctx, self.model.config.nz
        idx = torch.randint(len(self.data), (r.batch_size,), generator=self.gen)
        real = ctx.shard(self.data[idx]).to(ctx.device)
        z = ctx.shard(torch.randn(r.batch_size, nz, generator=self.gen)).to(ctx.device)
        fake = self.G(z)
        # D: maximise log D(x) + log(1 - D(G(z))), written with logits.
        loss_d = F.softplus(-self.D(real)).mean() + F.softplus(self.D(fake.detach())).mean()
        self.optimizers["d"].zero_grad(set_to_none=True)
        loss_d.backward()
        self.optimizers["d"].step()
        # G: the non-saturating loss, maximise log D(G(z)).
        loss_g = F.softplus(-self.D(fake)).mean()
        self.optimizers["g"].zero_grad(set_to_none=True)
        loss_g.backward()
        self.optimizers["g"].step()
        return {"loss_d": loss_d.detach(), "loss_g": loss_g.detach()}

    def sample_grid(self) -> tuple[torch.Tensor, tuple[float, float]]:
        return self.model.generator(self.fixed_z.to(self.ctx.device)), (-1.0, 1.0)


def train_dcgan(recipe: DCGANRecipe, out_dir: str | Path, *, resume: bool = False,
                device: str | None = None) -> GANModel:
    """Train (or, with ``resume``, continue) a DCGAN; the run folder is a save_pretrained folder
    (:mod:`ganzoo.train.engine`). The recipe is checked first (ValueError). Returns the model in eval mode."""
    return DCGANTrainer(recipe, out_dir, resume=resume, device=device).run()


def main(argv: list[str] | None = None) -> None:
    recipe_main(DCGANTrainer, DCGANRecipe, argv, prog="ganzoo train dcgan", doc=__doc__)


if __name__ == "__main__":
    module_main(main, "ganzoo.train.dcgan")
