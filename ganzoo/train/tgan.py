"""The TGAN recipe (Saito et al. 2017: WGAN with singular value clipping) on ganzoo's moving sprites
(:mod:`ganzoo.data.sprites`).

Paper settings, as :class:`~ganzoo.models.tgan.TGANConfig` records them (the recipe's defaults are read from it):
RMSProp with lr 5e-5 for G (G0 and G1) and D, batch 32, z0 ~ U(-1, 1), the WGAN losses
(:func:`~ganzoo.models.tgan.wgan_discriminator_loss`, :func:`~ganzoo.models.tgan.wgan_generator_loss`) and
**singular value clipping every 5 iterations** (:func:`~ganzoo.models.tgan.singular_value_clip_`: every D weight
reshaped to (out, -1) gets its singular values clipped to 1, every D BatchNorm gamma to [0.01 std, std]).

One step is the authors' updater (pfnet-research/tgan, ``TGANUpdaterWGANSVC``): one D update per G update, both
from the same batch and the same networks: G's gradient of -D(G(z)) and D's gradient of D(G(z)) - D(x) are taken
before either network moves. Both come from one backward pass of the critic loss (its gradient with respect to
G's parameters is minus the generator loss's, so G's gradients are negated before its step). ``--n-critic`` > 1
adds that many - 1 D-only updates per step (fresh real and generated batches), as the WGAN paper's 5 critic
iterations; ``--svc-every`` counts D updates (with the default ``--n-critic 1``, the authors' iterations).
The logged ``loss_d`` / ``wdist`` are the step's last D update's, ``loss_g`` and ``motion`` its G update's.

Data: the real videos are :func:`ganzoo.data.sprites.sprite_dataset` of ``--data-seed`` in order, each used once:
the D update ``k`` (from 0) takes samples ``k * batch .. (k + 1) * batch - 1``, rendered as they are needed (about
3 ms a video; nothing is kept), so a run of S steps has seen ``sprite_dataset(S * n_critic * batch, seed)``
exactly, on every machine and through --resume. The held-out seed
:data:`ganzoo.data.sprites.SPRITES_HELDOUT_SEED` is refused. ``--n-sprites`` sprites per video (1..3).

    python -m ganzoo.train.tgan --tag sprites --steps 3000 --out runs/tgan-sprites
    torchrun --nproc_per_node 2 -m ganzoo.train.tgan ... --out runs/ddp                        # data parallel

Under torchrun each process renders its slice of the global batch; clipping runs on every process on the same
(averaged-gradient) weights and the same global-batch BatchNorm statistics, so they stay equal.
``--config`` overrides the tag's config fields (JSON, e.g. narrower widths); the videos are RGB, so ``nc`` stays 3.

Sample grids: one generated video per row, 8 of its 16 frames (every other one) from left to right, 8 videos
(:func:`video_frames`).
``ganzoo.load("runs/tgan-sprites")`` loads the run.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..models.base import GANModel
from ..models.tgan import IMAGE_SIZE, NUM_FRAMES, TGANConfig
from .engine import GANTrainer, check_fields, common_checks, config_overrides, module_main, recipe_main

logger = logging.getLogger(__name__)

__all__ = ["TGANRecipe", "TGANTrainer", "train_tgan", "check_recipe", "sprite_batch", "video_frames"]

NUM = (int, float)
GRID_VIDEOS = 8  # rows of the sample grid
GRID_FRAMES = 8  # frames shown per video: 0, 2, ..., 14 of 16


@dataclass
class TGANRecipe:
    tag: str = "sprites"
    config: str = ""  # JSON object of config fields overriding the tag's, e.g. '{"d_widths": [16, 32, 64, 128]}'
    steps: int = 3000
    batch_size: int = TGANConfig.batch_size  # 32 (paper)
    lr: float = TGANConfig.lr  # 5e-5, RMSProp, G and D (paper)
    svc_every: int = TGANConfig.svc_every  # 5 D updates (paper)
    n_critic: int = 1  # D updates per G update (pfnet-research/tgan's updater: 1)
    n_sprites: int = 1  # sprites per video
    data_seed: int = 0  # the videos' seed (never ganzoo.data.sprites.SPRITES_HELDOUT_SEED)
    seed: int = 0
    threads: int = 0  # 0 = torch default


def check_recipe(recipe: TGANRecipe) -> None:
    """Raise ValueError naming the first field out of range (before anything is created or loaded); an
    InvalidConfigError for a ``--config`` the model refuses."""
    from ..data.sprites import MAX_SPRITES, SPRITES_HELDOUT_SEED
    from ..registry import resolve_pretrained_cfg

    r = recipe
    check_fields(r, [*common_checks(r),
        ("lr", isinstance(r.lr, NUM) and 0 < r.lr < 1, "a float in (0, 1)"),
        ("svc_every", isinstance(r.svc_every, int) and r.svc_every >= 1, "an int >= 1"),
        ("n_critic", isinstance(r.n_critic, int) and 1 <= r.n_critic <= 100, "an int in [1, 100]"),
        ("n_sprites", isinstance(r.n_sprites, int) and 1 <= r.n_sprites <= MAX_SPRITES,
         f"an int in [1, {MAX_SPRITES}]"),
        ("data_seed", isinstance(r.data_seed, int) and r.data_seed >= 0 and r.data_seed != SPRITES_HELDOUT_SEED,
         f"an int >= 0 other than the held-out seed {SPRITES_HELDOUT_SEED}"),
    ])
    cfg = resolve_pretrained_cfg(f"tgan.{r.tag}")  # UnknownTagError for a tag that does not exist
    config = TGANConfig.from_dict({**cfg.config, **config_overrides(r)})  # InvalidConfigError for a bad field
    if config.nc != 3:
        raise ValueError(f"--config: nc must be 3 (the sprite videos are RGB), got {config.nc!r}")


def sprite_batch(indices, seed: int, n_sprites: int = 1) -> torch.Tensor:
    """Samples ``indices`` of ``sprite_dataset(..., seed=seed, n_sprites=n_sprites)`` (16 frames of 64x64) as one
    float32 tensor (B, 3, 16, 64, 64) in [-1, 1], equal to the data set's, rendered without the others."""
    from ..data.sprites import SPRITES_HELDOUT_SEED, make_video

    if seed == SPRITES_HELDOUT_SEED:
        raise ValueError(f"seed {seed} is SPRITES_HELDOUT_SEED, the held-out videos that are never trained on")
    idx = [int(i) for i in indices]
    out = np.empty((len(idx), 3, NUM_FRAMES, IMAGE_SIZE, IMAGE_SIZE), dtype=np.uint8)
    for k, i in enumerate(idx):
        video, _ = make_video(np.random.default_rng((seed, i)), NUM_FRAMES, IMAGE_SIZE, n_sprites=n_sprites)
        out[k] = video.transpose(3, 0, 1, 2)  # (T, H, W, 3) -> (3, T, H, W)
    # the data set's float32 arithmetic (uint8 / 127.5 - 1), so the values are bit-equal
    return torch.from_numpy(out).float().div_(127.5).sub_(1.0)


class TGANTrainer(GANTrainer):
    """One step: G and D updated together from one batch (the authors' updater), then ``n_critic - 1`` D-only
    updates; singular value clipping of D after every ``svc_every``-th D update."""

    module = "ganzoo.train.tgan"
    log_every = 25
    sample_every = 250
    grid_nrow = GRID_FRAMES

    def check(self) -> None:
        check_recipe(self.recipe)

    def build(self) -> GANModel:
        from .. import create

        return create(f"tgan.{self.recipe.tag}", **config_overrides(self.recipe))

    def make_optimizers(self, model: GANModel) -> dict[str, torch.optim.Optimizer]:
        r = self.recipe
        return {"g": torch.optim.RMSprop(model.generator.parameters(), r.lr),
                "d": torch.optim.RMSprop(model.discriminator.parameters(), r.lr)}

    def prepare(self) -> None:
        r, cfg = self.recipe, self.model.config
        self.z_dim = cfg.z_dim
        z = torch.rand(GRID_VIDEOS, cfg.z_dim, generator=torch.Generator().manual_seed(r.seed))
        self.fixed_z = z * 2 - 1
        self.clips = 0  # clippings in this process's run (resumed runs count from the resume)

    def _real(self, d_update: int) -> torch.Tensor:
        """This process's slice of the real batch of D update ``d_update`` (from 0)."""
        r = self.recipe
        idx = self.ctx.shard(torch.arange(d_update * r.batch_size, (d_update + 1) * r.batch_size))
        return sprite_batch(idx.tolist(), r.data_seed, r.n_sprites).to(self.ctx.device)

    def _z(self) -> torch.Tensor:
        z = torch.rand(self.recipe.batch_size, self.z_dim, generator=self.gen) * 2 - 1  # U(-1, 1)
        return self.ctx.shard(z).to(self.ctx.device)

    def train_step(self) -> dict[str, torch.Tensor]:
        from ..models.tgan import singular_value_clip_, wgan_discriminator_loss, wgan_generator_loss

        r = self.recipe
        opt_g, opt_d = self.optimizers["g"], self.optimizers["d"]
        clipped = False
        for j in range(r.n_critic):
            d_update = self.step * r.n_critic + j  # from the step, so --resume continues the count
            real, z = self._real(d_update), self._z()
            if j == 0:
                fake = self.G(z)
            else:
                with torch.no_grad():
                    fake = self.G(z)
            fake_scores, real_scores = self.D(fake), self.D(real)
            loss_d = wgan_discriminator_loss(real_scores, fake_scores)
            opt_d.zero_grad(set_to_none=True)
            if j == 0:
                opt_g.zero_grad(set_to_none=True)
            loss_d.backward()  # D's gradient; and for G minus that of wgan_generator_loss(fake_scores)
            if j == 0:
                for p in self.model.generator.parameters():
                    if p.grad is not None:
                        p.grad.neg_()
                opt_g.step()
                loss_g = wgan_generator_loss(fake_scores.detach())
                # frame-to-frame change of the generated videos in [0, 1] units (sprites: about 0.005-0.03)
                motion = (fake[:, :, 1:] - fake[:, :, :-1]).detach().abs().mean() / 2
            opt_d.step()
            if (d_update + 1) % r.svc_every == 0:
                singular_value_clip_(self.model.discriminator)
                self.clips += 1
                clipped = True
        return {"loss_d": loss_d.detach(), "loss_g": loss_g, "wdist": -loss_d.detach(), "motion": motion,
                "svc": torch.tensor(float(clipped))}

    def sample_grid(self) -> tuple[torch.Tensor, tuple[float, float]]:
        return video_frames(self.model.generator(self.fixed_z.to(self.ctx.device))), (0.0, 1.0)


def video_frames(videos: torch.Tensor, frames: int = GRID_FRAMES) -> torch.Tensor:
    """Videos (B, C, T, H, W) in [-1, 1] -> every (T // frames)-th frame of each from the first, ``frames`` of them,
    as (B * frames, C, H, W) in [0, 1], video by video: with ``nrow=frames`` a grid shows one video per row, time
    running left to right (for 16 frames: 0, 2, ..., 14)."""
    v = videos.detach().float().cpu()
    picked = v[:, :, ::max(1, v.shape[2] // frames)][:, :, :frames]  # (B, C, frames, H, W)
    return ((picked.transpose(1, 2).reshape(-1, v.shape[1], *v.shape[3:]) + 1) / 2).clamp_(0, 1)


def train_tgan(recipe: TGANRecipe, out_dir: str | Path, *, resume: bool = False,
               device: str | None = None) -> GANModel:
    """Train (or, with ``resume``, continue) a TGAN; the run folder is a save_pretrained folder
    (:mod:`ganzoo.train.engine`). The recipe is checked first (ValueError). Returns the model in eval mode."""
    return TGANTrainer(recipe, out_dir, resume=resume, device=device).run()


def main(argv: list[str] | None = None) -> None:
    recipe_main(TGANTrainer, TGANRecipe, argv, prog="ganzoo train tgan", doc=__doc__)


if __name__ == "__main__":
    module_main(main, "ganzoo.train.tgan")
