"""The SRResNet x2 / x8 recipe: fine-tune from the converted x4 weights on ganzoo's photo pool with the MSE loss.

No public x2 or x8 weights exist for the SRGAN paper's generator, so ganzoo makes them from ``srresnet.div2k``
(krasserm's DIV2K x4 SRResNet, Apache-2.0). Every generator tensor whose name and shape match is copied: the head,
the 16 residual blocks, the trunk's tail, the first sub-pixel block and the 9x9 output conv. An x8 generator has a
third sub-pixel block that x4 lacks; it starts as a copy of x4's second one (``upsample.1`` -> ``upsample.2``), so
training starts from an x4 model followed by one more learned x2 step rather than from noise. For the
SRResNet models the discriminator is not trained (MSE only).

**SRGAN** (``--model srgan_x2`` / ``srgan_x8``, as the paper: initialise from the SRResNet of the same scale, e.g.
``--init runs/srresnet-x2``): each step trains the discriminator on a ``d_image_size`` (96) crop of HR and SR
(BCE; real and fake in one forward), then the generator on ``pixel_weight * MSE + feat_weight * MSE(phi(SR),
phi(HR)) + adv_weight * BCE(D(SR), real)``. phi is the discriminator's last feature map
(:meth:`SRGANDiscriminator.forward_with_features`): it replaces the paper's VGG54 content loss, because no VGG
weights can be downloaded here; a learned feature-matching loss of this kind is Larsen et al. 2016's "learned
similarity". The pixel term (not in the paper) keeps colours anchored while the randomly initialised
discriminator's features mean little.

``freeze_steps``: for that many first steps only the sub-pixel blocks and the output conv train (the copied trunk
is held fixed, in eval mode, and runs without gradients), which is ~2.5x cheaper per step on a CPU and lets the new
up-sampler settle before the trunk moves. Adam (``lr``, betas 0.9 / 0.999, as the SRGAN paper).

``bn="frozen"`` (the default) keeps every BatchNorm in eval mode with the statistics the init came with, so the
model trains exactly as it is evaluated; ``"batch"`` normalises by the statistics of each (small) batch and moves
the running averages toward them. Measured: a first x2 run with ``"batch"`` and no colour augmentation (800 steps)
lifted dark areas and shifted saturated colours by up to 8 levels (PSNR-RGB 28.99 vs bicubic 31.37 on the held-out
photos), while the x4 model it started from shifts no channel by more than 0.8 levels.

Data: random ``hr_size`` crops (horizontal flips) of :class:`ganzoo.data.inpainting.TrainingPool`, whose sources
exclude every held-out photo of :data:`ganzoo.data.SR_HELDOUT`, colour-augmented when ``colour_aug``
(:func:`ganzoo.data.augment.colour_augment`: channel permutations, saturation, tints of the grey crops; the pool
is mostly grey); the LR input is the augmented crop down-sampled with PIL BICUBIC (:func:`ganzoo.data.make_lr`,
the evaluation protocol's degradation).

    python -m ganzoo.train.sr --model srresnet_x2 --steps 400 --freeze-steps 400 --out runs/srresnet-x2
    ganzoo train sr --model srresnet_x8 --hr-size 192 --steps 300 --out runs/srresnet-x8
    ganzoo train sr --model srgan_x2 --init runs/srresnet-x2 --steps 500 --out runs/srgan-x2
    torchrun --nproc_per_node 2 -m ganzoo.train.sr ... --out runs/ddp                     # data parallel

``python tools/eval_sr.py --models runs/srresnet-x2`` measures a run on the held-out photos against bicubic.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..models.base import GANModel
from .engine import GANTrainer, check_fields, common_checks, module_main, recipe_main

logger = logging.getLogger(__name__)

__all__ = ["SRRecipe", "SRTrainer", "train_sr", "make_sr_batch", "init_from"]

SCALES = {"srresnet_x2": 2, "srresnet_x8": 8, "srgan_x2": 2, "srgan_x8": 8}
MODELS = tuple(SCALES)
#: the models trained adversarially (the SRGAN phase); the others are MSE-only SRResNets
ADVERSARIAL = frozenset({"srgan_x2", "srgan_x8"})
BN_MODES = ("frozen", "batch")
NUM = (int, float)


@dataclass
class SRRecipe:
    model: str = "srresnet_x2"
    tag: str = "pool"
    init: str = "srresnet.div2k"  # weights to start from (a name, name.tag or folder ganzoo.load accepts); "" = none
    steps: int = 400
    batch_size: int = 16
    hr_size: int = 96
    lr: float = 2e-4
    freeze_steps: int = 0
    colour_share: float = 0.75
    colour_aug: bool = True  # channel permutation, saturation, tints of grey crops (ganzoo.data.augment)
    bn: str = "frozen"  # "frozen": BatchNorm in eval mode with the init's statistics; "batch": batch statistics
    # the SRGAN models only (srgan_x2 / srgan_x8): the generator loss is
    # pixel_weight * MSE + feat_weight * MSE(D features) + adv_weight * BCE(D(SR), real)
    lr_d: float = 1e-4
    pixel_weight: float = 1.0
    feat_weight: float = 1.0
    adv_weight: float = 1e-3
    seed: int = 0
    threads: int = 0  # 0 = torch default


def check_recipe(recipe: SRRecipe) -> None:
    """Raise ValueError naming the first field out of range (before anything is created or loaded)."""
    from ..models.srgan import SRGANConfig
    from ..registry import resolve_pretrained_cfg

    r = recipe
    scale = SCALES.get(r.model)
    d_size = SRGANConfig.d_image_size  # no .pool tag overrides it
    check_fields(r, [*common_checks(r),
        ("model", scale is not None, f"one of {list(MODELS)}"),
        ("hr_size", isinstance(r.hr_size, int) and 16 <= r.hr_size <= 1024 and r.hr_size % (scale or 1) == 0,
         f"an int in [16, 1024] divisible by the scale ({scale})"),
        ("lr", isinstance(r.lr, NUM) and 0 < r.lr < 1, "a float in (0, 1)"),
        ("freeze_steps", isinstance(r.freeze_steps, int) and r.freeze_steps >= 0, "an int >= 0"),
        ("colour_share", isinstance(r.colour_share, NUM) and 0 <= r.colour_share <= 1, "a float in [0, 1]"),
        ("colour_aug", isinstance(r.colour_aug, bool), "a bool"),
        ("bn", r.bn in BN_MODES, f"one of {list(BN_MODES)}"),
        ("lr_d", isinstance(r.lr_d, NUM) and 0 < r.lr_d < 1, "a float in (0, 1)"),
        ("pixel_weight", isinstance(r.pixel_weight, NUM) and r.pixel_weight >= 0, "a float >= 0"),
        ("feat_weight", isinstance(r.feat_weight, NUM) and r.feat_weight >= 0, "a float >= 0"),
        ("adv_weight", isinstance(r.adv_weight, NUM) and r.adv_weight >= 0, "a float >= 0"),
    ])
    if r.model in ADVERSARIAL:
        check_fields(r, [
            ("hr_size", r.hr_size >= d_size, f"at least the discriminator's input side ({d_size}) for an SRGAN model"),
            ("pixel_weight", r.pixel_weight + r.feat_weight > 0, "> 0 where --feat-weight is 0 (no content loss)"),
        ])
    resolve_pretrained_cfg(f"{r.model}.{r.tag}")  # UnknownTagError for a tag that does not exist


@torch.no_grad()
def init_from(generator: torch.nn.Module, source: torch.nn.Module) -> list[str]:
    """Copy ``source``'s generator tensors into ``generator`` where name and shape match; a sub-pixel block the
    source lacks starts as a copy of the source's last one. Returns the names that were not copied (empty when
    everything matched). Raises ValueError when the two share no tensor at all."""
    src = source.state_dict()
    n_src = 1 + max((int(k.split(".")[1]) for k in src if k.startswith("upsample.")), default=-1)
    missing = []
    copied = 0
    for name, t in generator.state_dict().items():
        key = name
        if name.startswith("upsample.") and n_src and int(name.split(".")[1]) >= n_src:
            key = ".".join(["upsample", str(n_src - 1), *name.split(".")[2:]])
        if key in src and src[key].shape == t.shape:
            t.copy_(src[key])
            copied += 1
        else:
            missing.append(name)
    if not copied:
        raise ValueError("init: the source generator shares no tensor (name and shape) with this one")
    return missing


def make_sr_batch(pool, batch_size: int, hr_size: int, scale: int, seed: int,
                  colour_share: float | None = None, colour_aug: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """A seeded batch: (LR (B, 3, hr/scale, hr/scale), HR (B, 3, hr, hr)), both float in [0, 1]; LR is the HR crop
    (colour-augmented by :func:`ganzoo.data.augment.colour_augment` when ``colour_aug``) down-sampled with PIL
    BICUBIC."""
    from ..data import make_lr
    from ..data.augment import colour_augment

    hr = pool.sample(batch_size, hr_size, seed=seed, colour_share=colour_share)
    if colour_aug:
        hr = colour_augment(hr, seed=seed + 1)
    lr = np.stack([make_lr(h, scale) for h in hr])

    def to_t(a: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(a)).permute(0, 3, 1, 2).float().div_(255.0)

    return to_t(lr), to_t(hr)


class SRTrainer(GANTrainer):
    """One step: MSE between G(LR) and HR in [0, 1] (the generator's output range)."""

    module = "ganzoo.train.sr"
    grid_nrow = 3  # bicubic | SR | HR
    log_every = 10
    sample_every = 100

    def check(self) -> None:
        check_recipe(self.recipe)

    def build(self) -> GANModel:
        from .. import create, load

        r = self.recipe
        model = create(f"{r.model}.{r.tag}")
        if r.init and not self.resume:
            missing = init_from(model.generator, load(r.init).generator)
            logger.info("initialised %s from %s; not copied: %s", r.model, r.init, missing or "none")
        return model

    @property
    def adversarial(self) -> bool:
        return self.recipe.model in ADVERSARIAL

    def make_optimizers(self, model: GANModel) -> dict[str, torch.optim.Optimizer]:
        r = self.recipe
        opts = {"g": torch.optim.Adam(model.generator.parameters(), r.lr, betas=(0.9, 0.999))}
        if self.adversarial:
            opts["d"] = torch.optim.Adam(model.discriminator.parameters(), r.lr_d, betas=(0.9, 0.999))
        return opts

    def prepare(self) -> None:
        from ..data.inpainting import TrainingPool

        r = self.recipe
        self.scale = self.model.config.scale
        self.pool = TrainingPool(min_side=r.hr_size)
        self.fixed = make_sr_batch(self.pool, 4, r.hr_size, self.scale, r.seed + 10_000, r.colour_share,
                                   r.colour_aug)

    def _frozen(self) -> bool:
        return self.step < self.recipe.freeze_steps

    def train_step(self) -> dict[str, torch.Tensor]:
        r, ctx = self.recipe, self.ctx
        seed = int(torch.randint(2 ** 62, (1,), generator=self.gen))  # the same on every process
        lr, hr = (ctx.shard(t).to(ctx.device) for t in make_sr_batch(self.pool, r.batch_size, r.hr_size,
                                                                      self.scale, seed, r.colour_share,
                                                                      r.colour_aug))
        g = self.model.generator
        if self._frozen():
            # head + trunk fixed (eval-mode BN, no graph); DDP is bypassed: only rank-identical frozen parts
            # run outside it and the trainable tail is averaged by hand below
            with torch.no_grad():
                g.head.eval(), g.trunk.eval(), g.trunk_tail.eval()
                x = g.features(lr)
            sr = g.reconstruct(x)
        else:
            g.train()
            if r.bn == "frozen":
                for m in g.modules():
                    if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
                        m.eval()
            sr = self.G(lr)
        mse = torch.nn.functional.mse_loss(sr, hr)
        out: dict[str, torch.Tensor] = {"mse": mse.detach()}
        loss = mse if not self.adversarial else self._gan_losses(sr, hr, mse, out)
        opt = self.optimizers["g"]
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if self._frozen() and ctx.distributed:
            self._allreduce_grads(list(g.upsample.parameters()) + list(g.tail.parameters()))
        opt.step()
        with torch.no_grad():
            out["psnr"] = -10 * torch.log10(((sr.clamp(0, 1) - hr) ** 2).mean().clamp_min(1e-10))
        return out

    def _gan_losses(self, sr: torch.Tensor, hr: torch.Tensor, mse: torch.Tensor,
                    out: dict[str, torch.Tensor]) -> torch.Tensor:
        """One discriminator step on a ``d_image_size`` crop of (HR, SR), then the generator's loss on the same
        crop: pixel MSE (whole image) + MSE between the discriminator's last feature maps of SR and HR (the
        stand-in for the paper's VGG54 content loss: no downloaded VGG weights) + the adversarial BCE."""
        import torch.nn.functional as F

        r, model = self.recipe, self.model
        side = model.config.d_image_size
        # one crop offset per step from the trainer's generator: the same on every process
        t, l = (int(torch.randint(hr.shape[-1] - side + 1, (1,), generator=self.gen)) for _ in range(2))
        hr_c, sr_c = hr[..., t:t + side, l:l + side], sr[..., t:t + side, l:l + side]
        # real and fake in one forward (as BigGAN's D step), so BN normalises them with the same statistics
        real, fake = self.D(torch.cat([hr_c, sr_c.detach()])).chunk(2)
        loss_d = (F.binary_cross_entropy_with_logits(real, torch.ones_like(real))
                  + F.binary_cross_entropy_with_logits(fake, torch.zeros_like(fake)))
        self.optimizers["d"].zero_grad(set_to_none=True)
        loss_d.backward()
        self.optimizers["d"].step()
        # the generator's view: the discriminator as it is now, its gradients discarded at its next zero_grad
        disc = model.discriminator
        disc.requires_grad_(False)  # its gradients are not needed (and its DDP hooks stay out of G's backward)
        try:
            with torch.no_grad():
                _, f_hr = disc.forward_with_features(hr_c)
            logit, f_sr = disc.forward_with_features(sr_c)
        finally:
            disc.requires_grad_(True)
        feat = F.mse_loss(f_sr, f_hr)
        adv = F.binary_cross_entropy_with_logits(logit, torch.ones_like(logit))
        out.update(loss_d=loss_d.detach(), d_real=torch.sigmoid(real).mean().detach(),
                   d_fake=torch.sigmoid(fake).mean().detach(), feat=feat.detach(), adv=adv.detach())
        return r.pixel_weight * mse + r.feat_weight * feat + r.adv_weight * adv

    def _allreduce_grads(self, params: list[torch.nn.Parameter]) -> None:
        import torch.distributed as dist

        for p in params:
            if p.grad is not None:
                dist.all_reduce(p.grad)
                p.grad /= self.ctx.world_size

    def sample_grid(self) -> tuple[torch.Tensor, tuple[float, float]]:
        lr, hr = (t.to(self.ctx.device) for t in self.fixed)
        up = torch.nn.functional.interpolate(lr, scale_factor=self.scale, mode="bicubic").clamp(0, 1)
        sr = self.model.generator(lr)
        return torch.stack([up, sr, hr], dim=1).flatten(0, 1), (0.0, 1.0)


def train_sr(recipe: SRRecipe, out_dir: str | Path, *, resume: bool = False, device: str | None = None) -> GANModel:
    """Train (or, with ``resume``, continue) an SRResNet x2/x8; the run folder is a save_pretrained folder
    (:mod:`ganzoo.train.engine`). The recipe is checked first (ValueError). Returns the model in eval mode."""
    return SRTrainer(recipe, out_dir, resume=resume, device=device).run()


def main(argv: list[str] | None = None) -> None:
    recipe_main(SRTrainer, SRRecipe, argv, prog="ganzoo train sr", doc=__doc__)


if __name__ == "__main__":
    module_main(main, "ganzoo.train.sr")
