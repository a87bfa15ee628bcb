"""The PGGAN patch-inpainting recipe (Demir & Unal 2018) that produces the shipped ``pggan_inpaint`` weights.

The objective is the paper's: ``lambda_rec * L1 + lambda_g * global adversarial + lambda_p * patch adversarial``
(:meth:`ganzoo.models.pggan_inpaint.PGGANInpaint.generator_loss`), with the discriminator's shared trunk and its
two heads as the model file defines them; the weights are the tag's config fields (100 / 1 / 1 by default).
L1 is taken on the raw generator output, so the known pixels train too; ``hole_weight`` > 1 weights the hole's
pixels more (as Liu et al. 2018 weight their hole term 6x the valid one), so that a small CPU budget goes to
the pixels that are scored rather than to copying the known ones. Everything else is ganzoo's choice and
a recipe field: Adam (2e-4, betas 0.5 / 0.999, as pix2pix), ``l1_warmup`` steps of reconstruction only before the
adversarial terms start (a short run on a CPU is dominated by learning to fill colours and edges first), and the
masks of :mod:`ganzoo.data.inpainting` (rectangles or free-form strokes with ``rect_share`` rectangles, hole
coverage uniform in [``min_hole``, ``max_hole``)), and ``colour_share`` of the crops from the pool's colour sources
(most of its photos are grey, the held-out photos are colour); ``sources`` picks the pool's sources (the shipped
weights leave out ``minduka``, a single 128x128 picture that a 128x128 crop showed whole, so it was memorised).

Data: random crops of :class:`ganzoo.data.inpainting.TrainingPool` at the tag's ``image_size``; the held-out
evaluation photos (:data:`ganzoo.data.INPAINT_HELDOUT`) are never in the pool.

    python -m ganzoo.train.pggan_inpaint --tag pool256 --steps 4000 --out runs/pggan-pool256
    ganzoo train pggan_inpaint --tag pool256 --steps 6000 --out runs/pggan-pool256 --resume   # continue
    torchrun --nproc_per_node 2 -m ganzoo.train.pggan_inpaint ... --out runs/ddp              # data parallel

The run folder is described in :mod:`ganzoo.train.engine`; ``ganzoo.load("runs/pggan-pool256")`` loads it and
``python tools/eval_inpaint.py --model runs/pggan-pool256`` measures it on the held-out pairs.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..models.base import GANModel
from ..models.pggan_inpaint import weighted_l1
from .engine import GANTrainer, check_fields, common_checks, config_overrides, module_main, recipe_main

logger = logging.getLogger(__name__)

__all__ = ["PGGANInpaintRecipe", "PGGANInpaintTrainer", "train_pggan_inpaint", "make_batch"]


@dataclass
class PGGANInpaintRecipe:
    tag: str = "pool256"
    config: str = ""  # JSON object of config fields overriding the tag's, e.g. '{"n_blocks": 4}'
    steps: int = 4000
    batch_size: int = 8
    lr_g: float = 2e-4
    lr_d: float = 2e-4
    beta1: float = 0.5
    beta2: float = 0.999
    l1_warmup: int = 0
    hole_weight: float = 1.0  # L1 weight of hole pixels relative to known ones (1 = the paper's plain mean)
    min_hole: float = 0.05
    max_hole: float = 0.40
    rect_share: float = 0.5
    colour_share: float = 0.75
    sources: str = ""  # comma-separated TRAIN_SOURCES names; empty = all
    seed: int = 0
    threads: int = 0  # 0 = torch default


def check_recipe(recipe: PGGANInpaintRecipe) -> None:
    """Raise ValueError naming the first field out of range (before anything is created or loaded)."""
    from ..registry import resolve_pretrained_cfg

    r = recipe
    num = (int, float)
    check_fields(r, [*common_checks(r),
        ("lr_g", isinstance(r.lr_g, num) and 0 < r.lr_g < 1, "a float in (0, 1)"),
        ("lr_d", isinstance(r.lr_d, num) and 0 < r.lr_d < 1, "a float in (0, 1)"),
        ("beta1", isinstance(r.beta1, num) and 0 <= r.beta1 < 1, "a float in [0, 1)"),
        ("beta2", isinstance(r.beta2, num) and 0 <= r.beta2 < 1, "a float in [0, 1)"),
        ("l1_warmup", isinstance(r.l1_warmup, int) and r.l1_warmup >= 0, "an int >= 0"),
        ("hole_weight", isinstance(r.hole_weight, num) and 0 < r.hole_weight <= 1000, "a float in (0, 1000]"),
        ("min_hole", isinstance(r.min_hole, num) and 0 < r.min_hole < 1, "a float in (0, 1)"),
        ("max_hole", isinstance(r.max_hole, num) and r.min_hole < r.max_hole <= 1, "a float in (--min-hole, 1]"),
        ("rect_share", isinstance(r.rect_share, num) and 0 <= r.rect_share <= 1, "a float in [0, 1]"),
        ("colour_share", isinstance(r.colour_share, num) and 0 <= r.colour_share <= 1, "a float in [0, 1]"),
    ])
    resolve_pretrained_cfg(f"pggan_inpaint.{r.tag}")  # UnknownTagError for a tag that does not exist
    config_overrides(r)
    pool_sources(r)


def pool_sources(recipe: PGGANInpaintRecipe) -> list[str] | None:
    """``--sources`` as a list of training-pool source names (None: all of them); ValueError for an unknown one."""
    from ..data.inpainting import TRAIN_SOURCES

    if not recipe.sources:
        return None
    names = [n.strip() for n in recipe.sources.split(",") if n.strip()]
    known = [s.name for s in TRAIN_SOURCES]
    for n in names:
        if n not in known:
            raise ValueError(f"--sources: unknown training source {n!r}; expected names from {known}")
    return names


def make_batch(pool, batch_size: int, size: int, seed: int, *, holes: tuple[float, float], rect_share: float,
               colour_share: float | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """A seeded training batch: (images (B, 3, size, size) in [-1, 1], known (B, 1, size, size), 1 = known pixel).
    Crops from ``pool.sample``; sample ``k``'s mask kind and mask come from the seed ``(seed, k)``."""
    from ..data.inpainting import _seed, mask_in_bucket

    crops = pool.sample(batch_size, size, seed=seed, colour_share=colour_share)
    holes_ = np.empty((batch_size, size, size), dtype=bool)
    for k in range(batch_size):
        rng = np.random.default_rng(_seed(seed, k))
        kind = "rect" if rng.random() < rect_share else "stroke"
        holes_[k] = mask_in_bucket(size, size, holes, kind=kind, seed=rng)
    images = torch.from_numpy(crops).permute(0, 3, 1, 2).float().div_(127.5).sub_(1.0)
    known = torch.from_numpy(~holes_).unsqueeze(1).float()
    return images, known


class PGGANInpaintTrainer(GANTrainer):
    """One step: D on the real batch and the detached composite (both heads), then G through D with the paper's
    three-term loss (only the L1 term during ``l1_warmup``)."""

    module = "ganzoo.train.pggan_inpaint"
    grid_nrow = 3  # masked input | output | ground truth

    def check(self) -> None:
        check_recipe(self.recipe)

    def build(self) -> GANModel:
        from .. import create

        return create(f"pggan_inpaint.{self.recipe.tag}", **config_overrides(self.recipe))

    def make_optimizers(self, model: GANModel) -> dict[str, torch.optim.Optimizer]:
        r = self.recipe
        return {"g": torch.optim.Adam(model.generator.parameters(), r.lr_g, betas=(r.beta1, r.beta2)),
                "d": torch.optim.Adam(model.discriminator.parameters(), r.lr_d, betas=(r.beta1, r.beta2))}

    def prepare(self) -> None:
        from ..data.inpainting import TrainingPool

        r = self.recipe
        self.size = self.model.config.image_size
        self.pool = TrainingPool(pool_sources(r), min_side=self.size)
        # a fixed sample grid from its own seed, so resuming does not change it
        self.fixed = make_batch(self.pool, 6, self.size, r.seed + 10_000, holes=(r.min_hole, r.max_hole),
                                rect_share=r.rect_share, colour_share=r.colour_share)

    def _batch(self) -> tuple[torch.Tensor, torch.Tensor]:
        r, ctx = self.recipe, self.ctx
        seed = int(torch.randint(2 ** 62, (1,), generator=self.gen))  # the same on every process
        images, known = make_batch(self.pool, r.batch_size, self.size, seed, holes=(r.min_hole, r.max_hole),
                                   rect_share=r.rect_share, colour_share=r.colour_share)
        return ctx.shard(images).to(ctx.device), ctx.shard(known).to(ctx.device)

    def train_step(self) -> dict[str, torch.Tensor]:
        model, opt = self.model, self.optimizers
        real, known = self._batch()
        out, raw = self.G(real * known, known, return_raw=True)
        adversarial = self.step >= self.recipe.l1_warmup
        hole = 1 - known
        weight = None if self.recipe.hole_weight == 1 else 1 + (self.recipe.hole_weight - 1) * hole
        losses: dict[str, torch.Tensor] = {}
        if adversarial:
            gr, pr = self.D(real)
            gf, pf = self.D(out.detach())
            d = model.discriminator_loss(gr, pr, gf, pf)
            opt["d"].zero_grad(set_to_none=True)
            d["loss"].backward()
            opt["d"].step()
            losses.update(loss_d=d["loss"].detach(), d_global=d["global"].detach(), d_patch=d["patch"].detach())
            gf, pf = self.D(out)
            g = model.generator_loss(gf, pf, raw, real, rec_weight=weight)
            loss_g = g["loss"]
            losses.update(adv_global=g["adv_global"].detach(), adv_patch=g["adv_patch"].detach())
        else:
            g = {"rec": weighted_l1(raw, real, weight)}
            loss_g = model.config.lambda_rec * g["rec"]
        opt["g"].zero_grad(set_to_none=True)
        loss_g.backward()
        opt["g"].step()
        hole_l1 = ((raw.detach() - real).abs() * hole).sum() / (hole.sum() * real.shape[1]).clamp_min(1)
        losses.update(loss_g=loss_g.detach(), l1=g["rec"].detach(), hole_l1=hole_l1)
        return losses

    def sample_grid(self) -> tuple[torch.Tensor, tuple[float, float]]:
        real, known = (t.to(self.ctx.device) for t in self.fixed)
        out = self.model.generator(real * known, known)
        shown = real * known + (1 - known) * 0.0  # the hole as the generator sees it (0 = mid grey)
        return torch.stack([shown, out, real], dim=1).flatten(0, 1), (-1.0, 1.0)


def train_pggan_inpaint(recipe: PGGANInpaintRecipe, out_dir: str | Path, *, resume: bool = False,
                        device: str | None = None) -> GANModel:
    """Train (or, with ``resume``, continue) a PGGAN inpainting model; the run folder is a save_pretrained folder
    (:mod:`ganzoo.train.engine`). The recipe is checked first (ValueError). Returns the model in eval mode."""
    return PGGANInpaintTrainer(recipe, out_dir, resume=resume, device=device).run()


def main(argv: list[str] | None = None) -> None:
    recipe_main(PGGANInpaintTrainer, PGGANInpaintRecipe, argv, prog="ganzoo train pggan_inpaint", doc=__doc__)


if __name__ == "__main__":
    module_main(main, "ganzoo.train.pggan_inpaint")
