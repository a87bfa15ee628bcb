"""The DR-GAN recipe (Tran, Yin, Liu, CVPR 2017) on ganzoo's procedural heads (:mod:`ganzoo.data.heads`).

The objectives are the paper's, as :mod:`ganzoo.models.drgan` writes them. A real face x with identity y_d and
pose y_p; G encodes x and renders it at a random target pose c (one-hot of Np) with noise z ~ U(-1, 1):

    D: CE(identity of x, y_d) + CE(pose of x, y_p) + CE(identity of G(x, c, z), "fake" = Nd)
    G: CE(identity of G(x, c, z), y_d) + CE(pose of G(x, c, z), c)

(:func:`~ganzoo.models.drgan.discriminator_loss`, :func:`~ganzoo.models.drgan.generator_loss`); every step
updates D once, then G once against the updated D. Adam lr 2e-4, beta1 0.5 (the paper's, as
:class:`~ganzoo.models.drgan.DRGANConfig` records them; beta2 0.999, Adam's default).

D takes the real and the generated images **in one batch** (``--d-joint-batch``, default true; in G's step too,
where only the generated half's logits are used), so its BatchNorm layers normalise both with the same
statistics, as ganzoo's SRGAN recipe does; the paper does not say, and kayamin/DR-GAN calls D on two batches
(``--d-joint-batch false``). Measured on 10 identities at batch 16, 3/8 width: with two batches G's images were
pixel-noise textures at step 150 (D's pose accuracy on the real batch 0.94, G's target-pose accuracy 0.81); with
one batch they were smooth head-sized colour blobs on the right background by step 150 and hair/skin layouts by
step 300, but D's pose head learns more slowly (0.3 on the real batch at step 300) and the samples did not yet
change with the target pose. Both are early; the default is the one whose samples look like pictures.

**Pixel term** (``--pixel-weight W``, default 0 = the paper): G's loss gains ``W * L1(G(x, c, z), x_c)``, where x_c
is a render of x's identity at the target pose c from the pool (a random one of its ``--images-per-pose``). The
paper has no such term (Multi-PIE gives no pixel-aligned target), but the procedural heads render every identity
at every yaw, so the supervision exists. Measured with the paper's objective alone (Nd 50, quarter width, batch
32): by step 1500 D's "fake" accuracy was 1.0, G's images never passed as any identity (gen_id_acc 0) and the
+45/+60 columns of the sample grid were stripe textures that D's pose head read as those poses (gen_pose_acc
0.84), an adversarial pattern, not a face. With ``--pixel-weight 10`` (L1 ~0.2, so ~2 against G's ~7 of
cross-entropy) the grid at step 250 had the inputs' hair and skin at every pose, but by step 500 diagonal stripe
textures had come back over most faces; at 100 the L1 term leads and the step-250 grid was clean (blurred) faces
whose hair moves with the target pose. ``--init RUN`` starts G and D from another run's weights (same config; a single-image run may start a
``drgan_multi`` one, whose conv53 confidence channel then starts from its fresh init).

**Multi-image DR-GAN** (``--model drgan_multi``, paper Sec. 3.3): each of the ``--batch-size`` people of a step
brings ``--num-images`` N distinct images of one identity. G encodes all of them (features f_i and confidences
w_i), fuses them (f = sum_i w_i f_i / sum_i w_i) and generates n + 1 images per person, one from every single
feature and one from the fused feature, each at its own random target pose and noise; D's "fake" term and G's
loss take all of them (G's loss is the mean over the n + 1 images, the paper's sum up to a constant), and D's
real terms take the N real images. So a step sees B*N real and B*(N+1) generated images.

Data: the training pool is ``--identities`` identities of ``--data-seed`` x 9 yaws x ``--images-per-pose``
renders, drawn once into memory as uint8 (rendering takes 5-10 ms an image: 50 x 9 x 2 is about 8 s, 25 MB);
the held-out identities (:data:`ganzoo.data.heads.HEADS_HELDOUT_SEED`) are never in it. Each render has its own
yaw / light / background jitter (``--yaw-jitter`` degrees, ``--light-jitter`` radians, ``--background-jitter``
grey levels; :class:`~ganzoo.data.heads.HeadDataset`), so ``--images-per-pose`` > 1 is the augmentation the
renderer gives. Batches draw pool images uniformly. The paper's "resize to 110, random crop 96" is available as
its translation, ``--shift 7``: every image shifted by a random offset in +-7 pixels (half of 110 - 96), the
border replicated (the plain background), not zoomed, so the un-shifted images are what the model is fed
afterwards. It is off by default: the heads are rendered aligned (as the paper's crops of aligned faces are), and
the shift slows D's pose head, which is what teaches G the pose (measured, D alone on 40 identities: held-out
pose accuracy after 125 steps 0.87 without the shift, 0.23 with +-7 pixels).

    python -m ganzoo.train.drgan --model drgan --tag heads --steps 2000 --out runs/drgan-heads
    python -m ganzoo.train.drgan --model drgan_multi --batch-size 8 --out runs/drgan-multi-heads
    torchrun --nproc_per_node 2 -m ganzoo.train.drgan ... --out runs/ddp                     # data parallel

Under torchrun the single-image G runs through DistributedDataParallel. The multi-image G encodes each image once
and decodes singles and fused features in one call, which is not the generator's forward; it runs outside DDP
(its BatchNorm layers are SyncBatchNorm all the same) and its gradients are averaged over the processes by hand.

Sample grids: one row per fixed identity, four of the training pool and four held-out ones; columns: the input
image(s), then the identity rendered at each of the 9 yaws (-60 .. 60) with one fixed z per row.
``ganzoo.load("runs/drgan-heads")`` loads the run.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ..models.base import GANModel
from ..models.drgan import DRGANConfig
from .engine import GANTrainer, check_fields, common_checks, config_overrides, module_main, recipe_main

logger = logging.getLogger(__name__)

__all__ = ["DRGANRecipe", "DRGANTrainer", "train_drgan", "check_recipe", "shift_images"]

MODELS = ("drgan", "drgan_multi")
NUM = (int, float)
#: config fields the recipe sets itself (from --identities, --num-images, the heads' 9 yaws and RGB pictures)
RECIPE_SET = {"num_identities": "--identities", "num_images": "--num-images", "num_poses": "the data (9 yaws)",
              "multi_image": "--model", "nc": "the data (RGB)"}
#: the input poses of the sample rows: row r, input k shows pose class POSE_ORDER[(r + k) % 9] (-45, 45, -30, ...)
POSE_ORDER = (1, 7, 2, 6, 0, 8, 3, 5, 4)
SAMPLE_ROWS = 4  # training identities in the sample grid (and as many held-out ones)


@dataclass
class DRGANRecipe:
    model: str = "drgan"
    tag: str = "heads"
    config: str = ""  # JSON object of config fields overriding the tag's, e.g. '{"widths": [8, 16, ...]}'
    steps: int = 2000
    batch_size: int = 32  # images (drgan) or people of --num-images images each (drgan_multi)
    lr: float = DRGANConfig.lr  # 2e-4, G and D (paper)
    beta1: float = DRGANConfig.beta1  # 0.5 (paper)
    num_images: int = DRGANConfig.num_images  # N images per person for drgan_multi (3)
    # Nd, the training identities: 50, not the paper's 200 (Multi-PIE). Measured, D alone at quarter width, batch 32:
    # with 200 identities its identity CE stayed at chance (5.29 vs ln 200 = 5.30) after 400 steps; with 50 it
    # reached 2.02 (batch accuracy 0.59) by step 300, and only a D that tells identities apart teaches G identity
    identities: int = 50
    images_per_pose: int = 2  # renders per identity and yaw, each with its own jitter
    yaw_jitter: float = 3.0  # degrees around the class yaw (< 7.5 keeps the classes apart)
    light_jitter: float = 0.3  # radians the light turns (and +-half that in strength)
    background_jitter: float = 0.1  # grey levels
    shift: int = 0  # random translation in +-shift pixels (7: the paper's random 96 crop of 110)
    d_joint_batch: bool = True  # D takes real and generated images in one batch (False: two, as kayamin/DR-GAN)
    pixel_weight: float = 0.0  # L1 of G(x, c, z) to a render of x's identity at pose c (not in the paper: docstring)
    init: str = ""  # a run folder (or name) whose G and D weights the run starts from; "" = random init
    data_seed: int = 0  # the pool's seed (never ganzoo.data.heads.HEADS_HELDOUT_SEED)
    seed: int = 0
    threads: int = 0  # 0 = torch default


def check_recipe(recipe: DRGANRecipe) -> None:
    """Raise ValueError naming the first field out of range (before anything is created or loaded); an
    InvalidConfigError for a ``--config`` the model refuses."""
    from ..data.heads import HEADS_HELDOUT_SEED, YAWS
    from ..registry import resolve_pretrained_cfg

    r = recipe
    per_person = len(YAWS) * r.images_per_pose if isinstance(r.images_per_pose, int) else 0
    check_fields(r, [*common_checks(r),
        ("model", r.model in MODELS, f"one of {list(MODELS)}"),
        ("lr", isinstance(r.lr, NUM) and 0 < r.lr < 1, "a float in (0, 1)"),
        ("beta1", isinstance(r.beta1, NUM) and 0 <= r.beta1 < 1, "a float in [0, 1)"),
        ("identities", isinstance(r.identities, int) and 1 <= r.identities <= 10_000, "an int in [1, 10000]"),
        ("images_per_pose", isinstance(r.images_per_pose, int) and 1 <= r.images_per_pose <= 16,
         "an int in [1, 16]"),
        ("num_images", isinstance(r.num_images, int) and 1 <= r.num_images <= per_person,
         f"an int in [1, {per_person}] (the images of one identity: {len(YAWS)} yaws x --images-per-pose)"),
        ("yaw_jitter", isinstance(r.yaw_jitter, NUM) and 0 <= r.yaw_jitter < 7.5,
         "a float in [0, 7.5) degrees (under half the 15-degree spacing of the yaws)"),
        ("light_jitter", isinstance(r.light_jitter, NUM) and 0 <= r.light_jitter <= 1, "a float in [0, 1] radians"),
        ("background_jitter", isinstance(r.background_jitter, NUM) and 0 <= r.background_jitter <= 0.5,
         "a float in [0, 0.5]"),
        ("shift", isinstance(r.shift, int) and 0 <= r.shift <= 24, "an int in [0, 24] pixels"),
        ("d_joint_batch", isinstance(r.d_joint_batch, bool), "true or false"),
        ("pixel_weight", isinstance(r.pixel_weight, NUM) and 0 <= r.pixel_weight <= 1000, "a float in [0, 1000]"),
        ("init", isinstance(r.init, str), "a run folder or model name"),
        ("data_seed", isinstance(r.data_seed, int) and r.data_seed >= 0 and r.data_seed != HEADS_HELDOUT_SEED,
         f"an int >= 0 other than the held-out seed {HEADS_HELDOUT_SEED}"),
    ])
    cfg = resolve_pretrained_cfg(f"{r.model}.{r.tag}")  # UnknownTagError for a tag that does not exist
    overrides = config_overrides(r)
    for key, source in RECIPE_SET.items():
        if key in overrides:
            raise ValueError(f"--config: {key} is set by {source}, not by --config")
    DRGANConfig.from_dict({**cfg.config, **overrides})  # InvalidConfigError for a bad field
    if cfg.config.get("num_poses") != len(YAWS):
        raise ValueError(f"--tag {r.tag}: its num_poses is {cfg.config.get('num_poses', 13)}, the heads have "
                         f"{len(YAWS)} yaws; use a .heads tag")


def shift_images(images: torch.Tensor, offsets: torch.Tensor, shift: int) -> torch.Tensor:
    """Translate each image (B, C, H, W) by its offset (B, 2) = (dy, dx) in [-shift, shift], replicating the
    border: ``out[b, :, y, x] = images[b, :, clamp(y + dy), clamp(x + dx)]``."""
    if shift == 0:
        return images
    h, w = images.shape[-2:]
    padded = F.pad(images, (shift, shift, shift, shift), mode="replicate")
    out = torch.empty_like(images)
    for b, (dy, dx) in enumerate(offsets.tolist()):
        out[b] = padded[b, :, shift + dy:shift + dy + h, shift + dx:shift + dx + w]
    return out


def _init_from(model: GANModel, source: dict[str, torch.Tensor]) -> int:
    """Copy ``source`` into ``model``: tensors of equal shape whole; a tensor one row longer in ``model`` (the
    multi-image encoder's extra confidence output of conv53, its conv weight and BN entries) gets the source rows
    and keeps its own last row. Returns how many tensors were widened."""
    state, widened = model.state_dict(), 0
    if set(state) != set(source):
        raise ValueError(f"--init: parameter names differ: {sorted(set(state) ^ set(source))[:6]}")
    with torch.no_grad():
        for k, v in state.items():
            w = source[k]
            if v.shape == w.shape:
                v.copy_(w)
            elif v.dim() >= 1 and v.shape[0] == w.shape[0] + 1 and v.shape[1:] == w.shape[1:]:
                v[: w.shape[0]].copy_(w)
                widened += 1
            else:
                raise ValueError(f"--init: {k} has shape {tuple(w.shape)}, this run needs {tuple(v.shape)}")
    return widened


class DRGANTrainer(GANTrainer):
    """One step: D on the real and the generated images (identity + pose + fake class), then G on D's verdict."""

    module = "ganzoo.train.drgan"
    log_every = 25
    sample_every = 250

    @property
    def multi(self) -> bool:
        return self.recipe.model == "drgan_multi"

    def check(self) -> None:
        check_recipe(self.recipe)

    def build(self) -> GANModel:
        from .. import create

        r = self.recipe
        extra = {"num_images": r.num_images} if self.multi else {}
        model = create(f"{r.model}.{r.tag}", **config_overrides(r), num_identities=r.identities, **extra)
        if r.init and not self.resume:
            from .. import load

            source = load(r.init)
            mine, theirs = model.config.to_dict(), source.config.to_dict()
            # A single-image run may start a multi-image one (the multi model only adds conv53's confidence
            # channel); nothing else in the config may differ.
            upgrade = self.multi and not theirs.get("multi_image")
            skip = {"multi_image", "num_images"} if upgrade else set()
            if {k: v for k, v in theirs.items() if k not in skip} != {k: v for k, v in mine.items() if k not in skip}:
                raise ValueError(f"--init {r.init}: its config differs from this run's: {theirs} vs {mine}")
            copied = _init_from(model, source.state_dict())
            logger.info("initialised G and D from %s%s", r.init,
                        f" ({copied} tensors widened by conv53's confidence channel, left at its fresh init)"
                        if copied else "")
        return model

    def make_optimizers(self, model: GANModel) -> dict[str, torch.optim.Optimizer]:
        r = self.recipe
        return {"g": torch.optim.Adam(model.generator.parameters(), r.lr, betas=(r.beta1, 0.999)),
                "d": torch.optim.Adam(model.discriminator.parameters(), r.lr, betas=(r.beta1, 0.999))}

    def _heads(self, n: int, *, heldout: bool = False):
        from ..data.heads import HeadDataset

        r = self.recipe
        jitter = dict(images_per_pose=r.images_per_pose, yaw_jitter=float(r.yaw_jitter),
                      light_jitter=float(r.light_jitter), background_jitter=float(r.background_jitter))
        if heldout:
            return HeadDataset.heldout(n, **jitter)
        return HeadDataset(n, seed=r.data_seed, **jitter)

    def prepare(self) -> None:
        r, cfg = self.recipe, self.model.config
        ds = self._heads(r.identities)
        logger.info("rendering the training pool: %s", ds)
        batch = ds.arrays(dtype=np.uint8)
        self.pool = torch.from_numpy(batch.image)  # (identities * 9 * images_per_pose, 3, 96, 96) uint8
        self.identity = torch.from_numpy(batch.identity)
        self.pose = torch.from_numpy(batch.pose)
        self.num_poses = ds.num_poses
        self.per_person = ds.num_poses * ds.images_per_pose  # the pool is identity-major (HeadDataset's order)
        self.n_inputs = r.num_images if self.multi else 1
        self.grid_nrow = self.n_inputs + self.num_poses
        # the sample rows: SAMPLE_ROWS training identities spread over the pool, then as many held-out ones
        held = self._heads(SAMPLE_ROWS, heldout=True)
        rows = []
        for src, ids in ((ds, np.linspace(0, r.identities - 1, SAMPLE_ROWS).round().astype(int)),
                         (held, range(SAMPLE_ROWS))):
            for row, i in enumerate(ids):
                ks = [src.index(int(i), POSE_ORDER[(row + k) % ds.num_poses],
                                ((row + k) // ds.num_poses) % ds.images_per_pose) for k in range(self.n_inputs)]
                pics = self.pool[ks] if src is ds else torch.from_numpy(np.stack([src.render(k) for k in ks])
                                                                         ).permute(0, 3, 1, 2)
                rows.append(pics)
        self.fixed_inputs = torch.stack(rows).float() / 127.5 - 1  # (rows, N, 3, 96, 96)
        self.fixed_z = torch.rand(len(rows), cfg.nz, generator=torch.Generator().manual_seed(r.seed)) * 2 - 1

    def _real(self, idx: torch.Tensor, offsets: torch.Tensor) -> torch.Tensor:
        x = self.pool[idx].float().div_(127.5).sub_(1.0)
        return shift_images(x, offsets, self.recipe.shift)

    def train_step(self) -> dict[str, torch.Tensor]:
        return self._multi_step() if self.multi else self._single_step()

    def _draw(self, shape: tuple[int, ...]) -> tuple[torch.Tensor, torch.Tensor]:
        """Target poses (shape) and noise (shape + (Nz,)) U(-1, 1) from the trainer's generator."""
        c = torch.randint(self.num_poses, shape, generator=self.gen)
        z = torch.rand(*shape, self.model.config.nz, generator=self.gen) * 2 - 1
        return c, z

    def _single_step(self) -> dict[str, torch.Tensor]:
        from ..models.drgan import discriminator_loss, generator_loss

        r, ctx = self.recipe, self.ctx
        b = r.batch_size
        idx = torch.randint(len(self.pool), (b,), generator=self.gen)
        offsets = torch.randint(-r.shift, r.shift + 1, (b, 2), generator=self.gen)
        c, z = self._draw((b,))
        real = self._real(idx, offsets)
        target = self._targets(self.identity[idx], c)
        real, y_d, y_p, c, z, target = (ctx.shard(t).to(ctx.device) if t is not None else None
                                        for t in (real, self.identity[idx], self.pose[idx], c, z, target))
        fake = self.G(real, c, z)
        real_id, real_pose, fake_id, _ = self._discriminate(real, fake.detach())
        loss_d = discriminator_loss(real_id, real_pose, fake_id, y_d, y_p)
        self.optimizers["d"].zero_grad(set_to_none=True)
        loss_d.backward()
        self.optimizers["d"].step()
        g_id, g_pose = self._discriminate(real, fake, generator_step=True)[2:]
        loss_g = generator_loss(g_id, g_pose, y_d, c)
        l1 = self._pixel_loss(fake, target)
        self.optimizers["g"].zero_grad(set_to_none=True)
        (loss_g + r.pixel_weight * l1 if l1 is not None else loss_g).backward()
        self.optimizers["g"].step()
        return self._with_l1(self._metrics(loss_d, loss_g, real_id, real_pose, fake_id, g_id, g_pose, y_d, y_p, c),
                             l1)

    def _targets(self, identity: torch.Tensor, pose: torch.Tensor) -> torch.Tensor | None:
        """With ``pixel_weight``: a pool render of each ``identity`` at target pose class ``pose`` (a random one of
        its ``images_per_pose``, unshifted), [-1, 1]; None otherwise (and no random numbers drawn, so a run without
        the term draws what the paper recipe draws)."""
        if not self.recipe.pixel_weight:
            return None
        ipp = self.recipe.images_per_pose
        rep = torch.randint(ipp, pose.shape, generator=self.gen)
        idx = (identity * self.num_poses + pose) * ipp + rep  # HeadDataset.index, vectorised (identity-major)
        return self.pool[idx].float().div_(127.5).sub_(1.0)

    @staticmethod
    def _pixel_loss(fake: torch.Tensor, target: torch.Tensor | None) -> torch.Tensor | None:
        return None if target is None else (fake - target).abs().mean()

    @staticmethod
    def _with_l1(metrics: dict[str, torch.Tensor], l1: torch.Tensor | None) -> dict[str, torch.Tensor]:
        if l1 is not None:
            metrics["l1"] = l1.detach()
        return metrics

    def _multi_step(self) -> dict[str, torch.Tensor]:
        from ..models.drgan import discriminator_loss, generator_loss
        from .distributed import unwrap

        r, ctx, n = self.recipe, self.ctx, self.n_inputs
        b = r.batch_size
        people = torch.randint(r.identities, (b,), generator=self.gen)
        # N distinct images of each person: the first N of a random order of its images
        pick = torch.rand(b, self.per_person, generator=self.gen).argsort(dim=1)[:, :n]
        idx = people[:, None] * self.per_person + pick  # (B, N)
        offsets = torch.randint(-r.shift, r.shift + 1, (b * n, 2), generator=self.gen)
        c, z = self._draw((b, n + 1))  # one target pose and noise for each single image and the fused one
        real = self._real(idx.reshape(-1), offsets).reshape(b, n, *self.pool.shape[1:])
        tgt = self._targets(people[:, None].expand(b, n + 1), c)  # (B, N + 1, 3, 96, 96) or None
        real, people, y_p, c, z, tgt = (ctx.shard(t).to(ctx.device) if t is not None else None
                                        for t in (real, people, self.pose[idx], c, z, tgt))
        bs = real.shape[0]  # this process's people
        g = unwrap(self.G)
        f, w = g.encode_with_confidence(real.reshape(bs * n, *real.shape[2:]))
        fused = (f.reshape(bs, n, -1) * w.reshape(bs, n, 1)).sum(1) / w.reshape(bs, n, 1).sum(1)
        target = torch.cat([c[:, :n].reshape(-1), c[:, n]])
        fake = g.generate(torch.cat([f, fused]), target, torch.cat([z[:, :n].reshape(bs * n, -1), z[:, n]]))
        y_d = people.repeat_interleave(n)  # the real images' identities
        y_fake = torch.cat([y_d, people])  # the generated images': singles, then fused
        real = real.reshape(bs * n, *real.shape[2:])
        real_id, real_pose, fake_id, _ = self._discriminate(real, fake.detach())
        loss_d = discriminator_loss(real_id, real_pose, fake_id, y_d, y_p.reshape(-1))
        self.optimizers["d"].zero_grad(set_to_none=True)
        loss_d.backward()
        self.optimizers["d"].step()
        g_id, g_pose = self._discriminate(real, fake, generator_step=True)[2:]
        loss_g = generator_loss(g_id, g_pose, y_fake, target)
        l1 = None if tgt is None else self._pixel_loss(fake, torch.cat([tgt[:, :n].flatten(0, 1), tgt[:, n]]))
        self.optimizers["g"].zero_grad(set_to_none=True)
        (loss_g + r.pixel_weight * l1 if l1 is not None else loss_g).backward()
        if ctx.distributed:
            self._allreduce_grads(list(g.parameters()))
        self.optimizers["g"].step()
        out = self._metrics(loss_d, loss_g, real_id, real_pose, fake_id, g_id, g_pose, y_d, y_p.reshape(-1),
                            target, fake_labels=y_fake)
        out["confidence"] = w.detach().mean()
        return self._with_l1(out, l1)

    def _discriminate(self, real: torch.Tensor, fake: torch.Tensor, *,
                      generator_step: bool = False) -> tuple[torch.Tensor | None, ...]:
        """D's (identity, pose) logits of the real, then of the generated images. With ``d_joint_batch`` in one
        forward, so BatchNorm normalises both with the statistics of the joint batch (for D's step and G's alike);
        otherwise in two (the generated images alone in G's step)."""
        if not self.recipe.d_joint_batch:
            return (None, None, *self.D(fake)) if generator_step else (*self.D(real), *self.D(fake))
        ids, poses = self.D(torch.cat([real, fake]))
        n = real.shape[0]
        return ids[:n], poses[:n], ids[n:], poses[n:]

    def _allreduce_grads(self, params: list[torch.nn.Parameter]) -> None:
        import torch.distributed as dist

        for p in params:
            if p.grad is not None:
                dist.all_reduce(p.grad)
                p.grad /= self.ctx.world_size

    def _metrics(self, loss_d, loss_g, real_id, real_pose, fake_id, g_id, g_pose, y_d, y_p, target, *,
                 fake_labels=None) -> dict[str, torch.Tensor]:
        """The losses and D's accuracies: identity and pose of the real images, "fake" for the generated ones
        (before D's step), and, after it, the identity and target pose it reads in the generated images."""
        nd = real_id.shape[1] - 1
        y_g = y_d if fake_labels is None else fake_labels
        acc = lambda logits, y: (logits.detach().argmax(1) == y).float().mean()  # noqa: E731
        return {"loss_d": loss_d.detach(), "loss_g": loss_g.detach(),
                "real_id_acc": acc(real_id, y_d), "real_pose_acc": acc(real_pose, y_p),
                "fake_acc": acc(fake_id, torch.full_like(y_g, nd)),
                "gen_id_acc": acc(g_id, y_g), "gen_pose_acc": acc(g_pose, target)}

    def sample_grid(self) -> tuple[torch.Tensor, tuple[float, float]]:
        g, dev, p = self.model.generator, self.ctx.device, self.num_poses
        x = self.fixed_inputs.to(dev)
        rows = x.shape[0]
        f = g.fuse(x) if self.multi else g.encode(x[:, 0])
        poses = torch.arange(p, device=dev).repeat(rows)
        gen = g.generate(f.repeat_interleave(p, 0), poses, self.fixed_z.to(dev).repeat_interleave(p, 0))
        grid = torch.cat([x, gen.reshape(rows, p, *gen.shape[1:])], dim=1).flatten(0, 1)
        return ((grid.float().cpu() + 1) / 2).clamp(0, 1), (0.0, 1.0)


def train_drgan(recipe: DRGANRecipe, out_dir: str | Path, *, resume: bool = False,
                device: str | None = None) -> GANModel:
    """Train (or, with ``resume``, continue) a DR-GAN; the run folder is a save_pretrained folder
    (:mod:`ganzoo.train.engine`). The recipe is checked first (ValueError). Returns the model in eval mode."""
    return DRGANTrainer(recipe, out_dir, resume=resume, device=device).run()


def main(argv: list[str] | None = None) -> None:
    recipe_main(DRGANTrainer, DRGANRecipe, argv, prog="ganzoo train drgan", doc=__doc__)


if __name__ == "__main__":
    module_main(main, "ganzoo.train.drgan")
