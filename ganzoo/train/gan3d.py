"""The 3D-GAN recipe (Wu et al. 2016) on ganzoo's procedural voxel shapes (:mod:`ganzoo.data.voxels`).

Paper settings, as :class:`~ganzoo.models.gan3d.GAN3DConfig` records them: Adam with beta1 0.5, lr 2.5e-3 for G and
1e-5 for D, batch 100, z ~ U(0, 1) of size 200, and the balancing rule: **D is updated only when its accuracy on the
current batch is at most 80%** (:func:`~ganzoo.models.gan3d.should_update_discriminator`), so a D that already
wins does not run away from G. The losses are the GAN cross-entropies written with logits; G uses the
non-saturating form (maximise log D(G(z))), as the authors' Torch code does.

``--lr-g`` / ``--lr-d`` / ``--batch-size`` default to the paper's values and may be changed (the model card records
what was used). The training set is a fixed pool of ``--pool`` shapes drawn once from ``--data-seed`` (kept as bits:
32^3 x 4096 shapes is 16 MB), so the same recipe sees the same shapes on every machine; the held-out shapes of
:data:`ganzoo.data.voxels.VOXEL_HELDOUT_SEED` are never in it.

    python -m ganzoo.train.gan3d --model gan3d_32 --tag shapes --steps 3000 --out runs/gan3d32-shapes
    torchrun --nproc_per_node 2 -m ganzoo.train.gan3d ... --out runs/ddp                     # data parallel

Under torchrun the accuracy that gates D is the global batch's (averaged over the processes), so every process
takes the same decision. D always runs its backward pass (DistributedDataParallel needs the same collective
calls on every process); when the gate is closed its step is skipped and the gradients discarded.

Sample grids show each sample as a shaded rendering (:func:`ganzoo.pipelines.voxels.render_views`, one view).
``ganzoo.load("runs/gan3d32-shapes")`` loads the run.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ..models.base import GANModel
from .engine import GANTrainer, check_fields, common_checks, module_main, recipe_main

logger = logging.getLogger(__name__)

__all__ = ["GAN3DRecipe", "GAN3DTrainer", "train_gan3d", "check_recipe"]

MODELS = ("gan3d_32", "gan3d")
NUM = (int, float)


@dataclass
class GAN3DRecipe:
    model: str = "gan3d_32"
    tag: str = "shapes"
    steps: int = 3000
    batch_size: int = 100
    lr_g: float = 2.5e-3
    lr_d: float = 1e-5
    beta1: float = 0.5
    d_acc_threshold: float = 0.8
    # not in the paper (options for the collapse seen on the procedural shapes; defaults keep the paper's recipe):
    d_joint_batch: bool = False  # D takes the real and generated volumes in one batch (one set of BN statistics)
    instance_noise: float = 0.0  # std of Gaussian noise on D's inputs, real and generated, annealed to 0 over --steps
    pool: int = 4096  # shapes in the training pool
    data_seed: int = 0  # the pool's seed (never ganzoo.data.voxels.VOXEL_HELDOUT_SEED)
    seed: int = 0
    threads: int = 0  # 0 = torch default


def check_recipe(recipe: GAN3DRecipe) -> None:
    """Raise ValueError naming the first field out of range (before anything is created or loaded)."""
    from ..data.voxels import VOXEL_HELDOUT_SEED
    from ..registry import resolve_pretrained_cfg

    r = recipe
    check_fields(r, [*common_checks(r),
        ("model", r.model in MODELS, f"one of {list(MODELS)}"),
        ("lr_g", isinstance(r.lr_g, NUM) and 0 < r.lr_g < 1, "a float in (0, 1)"),
        ("lr_d", isinstance(r.lr_d, NUM) and 0 < r.lr_d < 1, "a float in (0, 1)"),
        ("beta1", isinstance(r.beta1, NUM) and 0 <= r.beta1 < 1, "a float in [0, 1)"),
        ("d_acc_threshold", isinstance(r.d_acc_threshold, NUM) and 0 <= r.d_acc_threshold <= 1,
         "a float in [0, 1]"),
        ("d_joint_batch", isinstance(r.d_joint_batch, bool), "true or false"),
        ("instance_noise", isinstance(r.instance_noise, NUM) and 0 <= r.instance_noise <= 1, "a float in [0, 1]"),
        ("pool", isinstance(r.pool, int) and 1 <= r.pool <= 1_000_000, "an int in [1, 1000000]"),
        ("data_seed", isinstance(r.data_seed, int) and r.data_seed >= 0 and r.data_seed != VOXEL_HELDOUT_SEED,
         f"an int >= 0 other than the held-out seed {VOXEL_HELDOUT_SEED}"),
    ])
    resolve_pretrained_cfg(f"{r.model}.{r.tag}")  # UnknownTagError for a tag that does not exist


class GAN3DTrainer(GANTrainer):
    """One step: D on a real and a generated batch (updated only when its accuracy is <= the threshold), then G."""

    module = "ganzoo.train.gan3d"
    log_every = 25
    sample_every = 250
    grid_nrow = 8

    def check(self) -> None:
        check_recipe(self.recipe)

    def build(self) -> GANModel:
        from .. import create

        return create(f"{self.recipe.model}.{self.recipe.tag}")

    def make_optimizers(self, model: GANModel) -> dict[str, torch.optim.Optimizer]:
        r = self.recipe
        return {"g": torch.optim.Adam(model.generator.parameters(), r.lr_g, betas=(r.beta1, 0.999)),
                "d": torch.optim.Adam(model.discriminator.parameters(), r.lr_d, betas=(r.beta1, 0.999))}

    def prepare(self) -> None:
        from ..data.voxels import voxel_dataset

        r, cfg = self.recipe, self.model.config
        vols, _ = voxel_dataset(r.pool, size=cfg.volume_size, seed=r.data_seed, dtype=bool)
        # bits, not float32: 4096 shapes at 32^3 are 16 MB packed and 512 MB as floats
        self.pool_bits = np.packbits(np.asarray(vols, dtype=bool).reshape(len(vols), -1), axis=1)
        self.side = cfg.volume_size
        self.fixed_z = torch.rand(32, cfg.nz, generator=torch.Generator().manual_seed(r.seed))
        self.d_updates = 0

    def _real(self, idx: torch.Tensor) -> torch.Tensor:
        s = self.side
        bits = np.unpackbits(self.pool_bits[idx.numpy()], axis=1, count=s ** 3)
        return torch.from_numpy(bits.astype(np.float32)).reshape(len(idx), 1, s, s, s)

    def _d(self, real: torch.Tensor, fake: torch.Tensor, sigma: float) -> tuple[torch.Tensor, torch.Tensor]:
        """D's logits of the real, then the generated volumes: in one batch with ``d_joint_batch`` (G's step too,
        so its BN statistics are the ones D was trained with), with instance noise of std ``sigma`` on both."""
        if sigma > 0:
            noise = torch.randn(2 * len(real), *real.shape[1:], generator=self.gen).to(real.device)
            real, fake = real + sigma * noise[:len(real)], fake + sigma * noise[len(real):]
        if self.recipe.d_joint_batch:
            return self.D(torch.cat([real, fake])).split([len(real), len(fake)])
        return self.D(real), self.D(fake)

    def train_step(self) -> dict[str, torch.Tensor]:
        from ..models.gan3d import discriminator_accuracy

        r, ctx, nz = self.recipe, self.ctx, self.model.config.nz
        idx = torch.randint(self.pool_bits.shape[0], (r.batch_size,), generator=self.gen)
        real = ctx.shard(self._real(idx)).to(ctx.device)
        z = ctx.shard(torch.rand(r.batch_size, nz, generator=self.gen)).to(ctx.device)
        fake = self.G(z)
        sigma = r.instance_noise * max(0.0, 1.0 - self.step / r.steps)  # linear anneal (self.step: steps done)
        real_logits, fake_logits = self._d(real, fake.detach(), sigma)
        loss_d = F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()
        acc = discriminator_accuracy(real_logits.detach(), fake_logits.detach())
        update_d = ctx.mean(acc) <= r.d_acc_threshold  # the global batch's accuracy: one decision everywhere
        self.optimizers["d"].zero_grad(set_to_none=True)
        loss_d.backward()
        if update_d:
            self.optimizers["d"].step()
            self.d_updates += 1
        loss_g = F.softplus(-self._d(real, fake, sigma)[1]).mean()
        self.optimizers["g"].zero_grad(set_to_none=True)
        loss_g.backward()
        self.optimizers["g"].step()
        return {"loss_d": loss_d.detach(), "loss_g": loss_g.detach(), "d_acc": acc,
                "d_update": torch.tensor(float(update_d)),
                "occupancy": fake.detach().gt(0.5).float().mean()}

    def sample_grid(self) -> tuple[torch.Tensor, tuple[float, float]]:
        from ..pipelines.voxels import render_views

        vols = self.model.generator(self.fixed_z.to(self.ctx.device)).float().cpu().numpy()
        pics = []
        for v in vols:
            if v.max() <= 0.5:  # nothing above the threshold: an empty (white) tile
                pics.append(np.full((96, 96, 3), 255, np.uint8))
            else:
                pics.append(render_views(v[0], views=((30.0, 25.0),), size=96))
        return torch.from_numpy(np.stack(pics)).permute(0, 3, 1, 2).float() / 255.0, (0.0, 1.0)


def train_gan3d(recipe: GAN3DRecipe, out_dir: str | Path, *, resume: bool = False,
                device: str | None = None) -> GANModel:
    """Train (or, with ``resume``, continue) a 3D-GAN; the run folder is a save_pretrained folder
    (:mod:`ganzoo.train.engine`). The recipe is checked first (ValueError). Returns the model in eval mode."""
    return GAN3DTrainer(recipe, out_dir, resume=resume, device=device).run()


def main(argv: list[str] | None = None) -> None:
    recipe_main(GAN3DTrainer, GAN3DRecipe, argv, prog="ganzoo train gan3d", doc=__doc__)


if __name__ == "__main__":
    module_main(main, "ganzoo.train.gan3d")
