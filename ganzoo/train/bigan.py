"""BiGAN / ALI (Donahue, Kraehenbuehl, Darrell 2016; Dumoulin et al. 2016): a DCGAN generator G, an encoder E
(:class:`ganzoo.latent.encoders.DCGANEncoder`) and a joint discriminator D(x, z) trained together.

D separates the pairs (x, E(x)) of real images from the pairs (G(z), z) of generated ones, z ~ N(0, 1); G and E
fool it (the non-saturating losses with the labels swapped): at the optimum E inverts G. D(x, z) is the DCGAN
discriminator's conv trunk on x (:func:`ganzoo.latent.encoders.dcgan_trunk`, features (ndf * 4, 4, 4) at 32x32),
flattened and concatenated with a two-layer MLP of z (``z_width``), then a joint MLP head to one logit, with
dropout (``dropout``) in the MLPs as in the BiGAN paper.

``--init RUN`` starts G from a trained DCGAN run (a folder ``ganzoo.load`` accepts); E's trunk then starts from
that run's discriminator trunk (D starts fresh: a trained trunk lets it separate the pairs at once). G fine-tunes
with ``--g-lr`` (default lr / 10 with --init, lr without) or stays fixed with ``--freeze-g true`` (eval mode, its
BatchNorm statistics kept). Without --init all three start from the DCGAN initialisation (``--config`` overrides
the model config, e.g. '{"nz": 64}').

    python -m ganzoo.train.bigan --init runs/dcgan32-polygons --steps 1500 --out runs/bigan-polygons
    python -m ganzoo.train.bigan --model dcgan_32 --dataset polygons --steps 3000 --out runs/bigan-scratch
    python -m ganzoo.train.bigan ... --steps 3000 --out runs/bigan-polygons --resume       # continue a run

The run folder (:mod:`ganzoo.train.engine`) holds the model (``ganzoo.load(RUN)``: the generator, and the
DCGAN discriminator of --init (or its initialisation) unchanged, as BiGAN does not train it) and the encoder
``encoder.safetensors`` + ``encoder.json`` (:func:`ganzoo.latent.load_encoder`). ``train/checkpoint.pt`` also
holds E, the joint D and their optimizer states. The sample grids show 32 samples G(z), then pairs of a real
image and its reconstruction G(E(x)). One process only (no torchrun).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from ..models.base import GANModel, check_tensor, first_param
from .dcgan import DCGANTrainer
from .dcgan import check_recipe as check_dcgan_recipe
from .engine import check_fields, config_overrides, module_main, recipe_main
from .distributed import unwrap

logger = logging.getLogger(__name__)

__all__ = ["BiGANRecipe", "BiGANTrainer", "JointDiscriminator", "train_bigan", "check_recipe"]

NUM = (int, float)


@dataclass
class BiGANRecipe:
    model: str = "dcgan_32"
    dataset: str = "polygons"
    resize: str = "bilinear"
    init: str = ""  # a trained DCGAN run folder to start G (and the trunks of E and D) from; "" = from scratch
    freeze_g: bool = False  # with --init: keep G fixed (only E and D learn)
    config: str = ""  # JSON overrides of the model config, from scratch only
    steps: int = 1500
    batch_size: int = 64
    lr: float = 2e-4  # E and D
    g_lr: float = 0.0  # G; 0 = lr / 10 with --init, lr without
    beta1: float = 0.5
    beta2: float = 0.999
    z_width: int = 512  # the joint discriminator's z-MLP width
    dropout: float = 0.2  # dropout in the joint discriminator's MLPs
    seed: int = 0
    threads: int = 0  # 0 = torch default


def check_recipe(recipe: BiGANRecipe) -> None:
    """Raise ValueError naming the first field out of range (before anything is created or loaded)."""
    r = recipe
    check_dcgan_recipe(r)  # steps, batch_size, seed, threads, lr, betas, resize, model, dataset
    check_fields(r, [
        ("init", isinstance(r.init, str) and (not r.init or (Path(r.init).expanduser() / "config.json").is_file()),
         "'' or a run folder holding config.json (a trained DCGAN run)"),
        ("freeze_g", isinstance(r.freeze_g, bool) and (r.init or not r.freeze_g),
         "a bool, and true only with --init (a random generator cannot stay frozen)"),
        ("config", isinstance(r.config, str) and (not r.config or not r.init),
         "'' with --init (the config is the run's)"),
        ("g_lr", isinstance(r.g_lr, NUM) and not isinstance(r.g_lr, bool) and 0 <= r.g_lr < 1,
         "a float in [0, 1) (0: lr / 10 with --init, lr without)"),
        ("z_width", isinstance(r.z_width, int) and not isinstance(r.z_width, bool) and 1 <= r.z_width <= 8192,
         "an int in [1, 8192]"),
        ("dropout", isinstance(r.dropout, NUM) and not isinstance(r.dropout, bool) and 0 <= r.dropout < 1,
         "a float in [0, 1)"),
    ])
    config_overrides(r)  # ValueError for a --config that is not a JSON object


class JointDiscriminator(nn.Module):
    """D(x, z): image x (B, nc, S, S) in [-1, 1] and code z (B, nz) -> real/fake logits (B,) (the sigmoid belongs
    to the loss). x: the DCGAN discriminator trunk, flattened; z: Linear-LeakyReLU-Dropout twice (``z_width``);
    joint: Linear(1024)-LeakyReLU-Dropout-Linear(1). DCGAN initialisation."""

    def __init__(self, nc: int, image_size: int, nz: int, *, ndf: int = 64, z_width: int = 512,
                 dropout: float = 0.2, leaky_slope: float = 0.2):
        super().__init__()
        from ..latent.encoders import dcgan_trunk
        from ..layers import dcgan_init_

        self.nc, self.image_size, self.nz = nc, image_size, nz
        self.x_trunk, ch = dcgan_trunk(nc, image_size, ndf, leaky_slope)
        self.z_mlp = nn.Sequential(nn.Linear(nz, z_width), nn.LeakyReLU(leaky_slope, True), nn.Dropout(dropout),
                                   nn.Linear(z_width, z_width), nn.LeakyReLU(leaky_slope, True), nn.Dropout(dropout))
        self.joint = nn.Sequential(nn.Linear(ch * 16 + z_width, 1024), nn.LeakyReLU(leaky_slope, True),
                                   nn.Dropout(dropout), nn.Linear(1024, 1))
        dcgan_init_(self)

    def forward(self, x: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        s = self.image_size
        check_tensor(x, "image", ndim=4, channels=self.nc, size=(s, s), like=first_param(self))
        if not isinstance(z, torch.Tensor) or z.shape != (x.shape[0], self.nz):
            raise ValueError(f"z: expected shape ({x.shape[0]}, {self.nz}), got "
                             f"{tuple(z.shape) if isinstance(z, torch.Tensor) else type(z).__name__}")
        h = torch.cat([self.x_trunk(x).flatten(1), self.z_mlp(z)], dim=1)
        return self.joint(h).squeeze(1)


class BiGANTrainer(DCGANTrainer):
    """One step: D on (x, E(x)) vs (G(z), z); then G and E together on the swapped labels. Data, the fixed
    sample noise and the recipe checks of the model / dataset are the DCGAN recipe's."""

    module = "ganzoo.train.bigan"

    def check(self) -> None:
        check_recipe(self.recipe)

    @property
    def g_lr(self) -> float:
        r = self.recipe
        return float(r.g_lr) if r.g_lr else (r.lr / 10 if r.init else r.lr)

    def build(self) -> GANModel:
        from .. import create, load
        from ..latent.encoders import encoder_for
        from ..models.dcgan import DCGANConfig

        r = self.recipe
        if self.ctx.distributed:  # the x-only discriminator is not trained: DistributedDataParallel refuses it
            raise ValueError("the BiGAN recipe runs in one process; run it without torchrun")
        if r.init:
            model = load(r.init, device="cpu")
            if not isinstance(model.config, DCGANConfig):
                raise ValueError(f"--init {r.init}: not a DCGAN run (model {model.model_name})")
            if model.model_name != r.model:
                raise ValueError(f"--model must be the --init run's model {model.model_name!r}, got {r.model!r}")
        else:
            model = create(f"{r.model}.{r.dataset}", **config_overrides(r))
        cfg = model.config
        self.encoder = encoder_for(model, method="bigan", generator=str(r.init))
        self.joint = JointDiscriminator(cfg.nc, cfg.image_size, cfg.nz, ndf=cfg.ndf, z_width=r.z_width,
                                        dropout=float(r.dropout), leaky_slope=cfg.leaky_slope)
        if r.init:  # E's trunk starts from the trained discriminator's (D's would make D win at once)
            trunk = {k: v for k, v in model.discriminator.main.state_dict().items()
                     if int(k.split(".")[0]) < len(self.encoder.main)}
            self.encoder.main.load_state_dict(trunk)
            logger.info("BiGAN: G from %s (%s), E's trunk from its discriminator", r.init,
                        "frozen" if r.freeze_g else f"lr {self.g_lr:g}")
        for p in model.discriminator.parameters():  # BiGAN does not train the x-only discriminator
            p.requires_grad_(False)
        if r.freeze_g:
            for p in model.generator.parameters():
                p.requires_grad_(False)
        return model

    def extra_modules(self) -> dict[str, nn.Module]:
        return {"encoder": self.encoder, "joint_discriminator": self.joint}

    def make_optimizers(self, model: GANModel) -> dict[str, torch.optim.Optimizer]:
        r = self.recipe
        self.encoder.to(self.ctx.device)
        self.joint.to(self.ctx.device)
        groups = [{"params": list(self.encoder.parameters()), "lr": r.lr}]
        if not r.freeze_g:
            groups.append({"params": list(model.generator.parameters()), "lr": self.g_lr})
        return {"ge": torch.optim.Adam(groups, r.lr, betas=(r.beta1, r.beta2)),
                "d": torch.optim.Adam(self.joint.parameters(), r.lr, betas=(r.beta1, r.beta2))}

    def prepare(self) -> None:
        super().prepare()
        self.E, self.DJ = self.ctx.wrap(self.encoder), self.ctx.wrap(self.joint)
        self.shown = self.data[:16].clone()  # the real images of the sample grid's reconstructions

    def train_step(self) -> dict[str, torch.Tensor]:
        from ..utils import eval_mode

        r, ctx, nz = self.recipe, self.ctx, self.model.config.nz
        if r.freeze_g:
            self.model.generator.eval()  # keeps the init's BatchNorm statistics
        self.encoder.train()
        self.joint.train()
        idx = torch.randint(len(self.data), (r.batch_size,), generator=self.gen)
        real = ctx.shard(self.data[idx]).to(ctx.device)
        z = ctx.shard(torch.randn(r.batch_size, nz, generator=self.gen)).to(ctx.device)
        ex = self.E(real)
        with torch.set_grad_enabled(not r.freeze_g):
            fake = self.G(z)
        # D: (x, E(x)) is "real", (G(z), z) is "fake"
        d_real, d_fake = self.DJ(real, ex.detach()), self.DJ(fake.detach(), z)
        loss_d = F.softplus(-d_real).mean() + F.softplus(d_fake).mean()
        self.optimizers["d"].zero_grad(set_to_none=True)
        loss_d.backward()
        self.optimizers["d"].step()
        # G and E: the labels swapped (non-saturating)
        loss_ge = F.softplus(self.DJ(real, ex)).mean() + F.softplus(-self.DJ(fake, z)).mean()
        self.optimizers["ge"].zero_grad(set_to_none=True)
        loss_ge.backward()
        self.optimizers["ge"].step()
        out = {"loss_d": loss_d.detach(), "loss_ge": loss_ge.detach(),
               "d_real": torch.sigmoid(d_real.detach()).mean(), "d_fake": torch.sigmoid(d_fake.detach()).mean()}
        if (self.step + 1) % self.log_every == 0 or self.step + 1 == r.steps:
            with torch.no_grad(), eval_mode(self.model.generator):  # eval: the BatchNorm statistics stay as trained
                out["rec_mse"] = (self.G(ex.detach()) - real).pow(2).mean()
        return out

    def sample_grid(self) -> tuple[torch.Tensor, tuple[float, float]]:
        from ..utils import eval_mode

        dev = self.ctx.device
        with eval_mode(self.encoder):
            real = self.shown.to(dev)
            rec = self.model.generator(self.encoder(real))
        samples = self.model.generator(self.fixed_z[:32].to(dev))
        pairs = torch.stack([real, rec], dim=1).flatten(0, 1)  # real, G(E(real)), real, ...
        return torch.cat([samples, pairs]), (-1.0, 1.0)

    def save_extras(self) -> None:
        """The encoder file: a copy of E whose BatchNorm statistics are re-estimated with its current weights on
        16 fixed batches of real images (the checkpoint keeps E as training left it)."""
        import copy

        from ..latent.encoders import save_encoder
        from ..latent.inversion import recalibrate_batchnorm

        enc = copy.deepcopy(unwrap(self.encoder))
        bs = int(self.recipe.batch_size)
        batches = iter([self.data[i * bs:(i + 1) * bs].to(self.ctx.device) for i in range(16)
                        if (i + 1) * bs <= len(self.data)])
        n = min(16, len(self.data) // bs)
        recalibrate_batchnorm(enc, lambda: next(batches), n)
        save_encoder(enc.cpu(), self.out,
                     info={"recipe": "ganzoo/train/bigan.py", "steps": self.step, "init": self.recipe.init,
                           "freeze_g": self.recipe.freeze_g, "final losses": dict(self.last)})

    def training_info(self) -> dict:
        info = super().training_info()
        info["encoder"] = "encoder.safetensors (BiGAN encoder; ganzoo.latent.load_encoder(RUN))"
        info["discriminator"] = "not trained by BiGAN: the --init run's (or its initialisation)"
        return info


def train_bigan(recipe: BiGANRecipe, out_dir: str | Path, *, resume: bool = False,
                device: str | None = None) -> GANModel:
    """Train (or, with ``resume``, continue) a BiGAN; the run folder is a save_pretrained folder with the encoder
    beside the model (module docstring). The recipe is checked first (ValueError). Returns the model in eval
    mode (the trained encoder: :func:`ganzoo.latent.load_encoder` of the folder)."""
    return BiGANTrainer(recipe, out_dir, resume=resume, device=device).run()


def main(argv: list[str] | None = None) -> None:
    recipe_main(BiGANTrainer, BiGANRecipe, argv, prog="ganzoo train bigan", doc=__doc__)


if __name__ == "__main__":
    module_main(main, "ganzoo.train.bigan")
