"""3D-GAN (Wu, Zhang, Xue, Freeman, Tenenbaum, NeurIPS 2016, arXiv:1610.07584): voxel occupancy from a latent code.

Generator (64^3, the paper's layer table): z (200, U(0, 1)) viewed as 200x1x1x1 ->
ConvT3d 200->512 (4/1/0) -> 256 -> 128 -> 64 (each 4/2/1), BatchNorm + ReLU after each, -> ConvT3d 64->1 (4/2/1)
+ Sigmoid: an occupancy grid (B, 1, 64, 64, 64) in [0, 1]. All convs are bias-free.

Discriminator, mirroring it: Conv3d 1->64->128->256->512 (4/2/1, LeakyReLU 0.2), BatchNorm after every one of
them except the first, then Conv3d 512->1 (4/1/0) -> logits (B,). The sigmoid belongs to the loss.
``d_first_norm=True`` adds BatchNorm after the first conv too, the layout of the common PyTorch port
(rimchang/3DGAN-Pytorch), so its discriminators load (see ``ganzoo/hub/converters/gan3d.py``).

Training (paper): Adam, beta1 0.5, lr G 2.5e-3, lr D 1e-5, batch 100; D is updated only when its accuracy on the
last batch is at most 80% (:func:`discriminator_accuracy`, :func:`should_update_discriminator`). These settings
are config fields for training code; the networks do not use them.

The 32^3 variant (``gan3d_32``) drops one stride-2 block, the way ``dcgan_32`` does: widths 256-128-64 in G,
64-128-256 in D. Initialisation N(0, 0.02) (BN weights N(1, 0.02)) is ganzoo's choice, as for DCGAN.
Module names: ``generator.main.{i}.0`` is the i-th (transposed) conv and ``.1`` its BatchNorm, the same
numbering as the ``layer{i+1}.0`` / ``layer{i+1}.1`` of rimchang/3DGAN-Pytorch.
"""
from __future__ import annotations

import dataclasses
import math
from typing import ClassVar, Sequence

import torch
from torch import nn

from ..layers import ConvNormAct, dcgan_init_
from ..registry import PretrainedCfg, register_model
from ..specs import ModelSpecs, TensorSpec
from .base import (MAX_TRAIN_INT, GANModel, ModelConfig, check_batch_size, check_bool, check_choice, check_float,
                   check_int, check_latent, check_tensor, first_param)

__all__ = ["GAN3DConfig", "GAN3DGenerator", "GAN3DDiscriminator", "GAN3D", "discriminator_accuracy",
           "should_update_discriminator"]

_family = "gan3d"

PAPER = "Learning a Probabilistic Latent Space of Object Shapes via 3D Generative-Adversarial Modeling"
CITATION = (
    "@inproceedings{wu2016learning, title={" + PAPER + "}, author={Wu, Jiajun and Zhang, Chengkai and Xue, Tianfan"
    " and Freeman, William T and Tenenbaum, Joshua B}, booktitle={Advances in Neural Information Processing Systems},"
    " year={2016}}"
)


@dataclasses.dataclass
class GAN3DConfig(ModelConfig):
    """3D-GAN hyper-parameters; defaults are the paper's.

    nz: latent size (200). ngf/ndf: the narrowest width of G / D (64; G's first layer is ngf * 2^(blocks-1) wide).
    volume_size: output side, 16, 32, 64 (paper) or 128; each halving drops one stride-2 block.
    leaky_slope: D's LeakyReLU slope (0.2). conv_bias: biases on the convs (off in the paper).
    d_first_norm: BatchNorm after D's first conv too (off per the layer table; on in rimchang/3DGAN-Pytorch).
    Training settings, for training code (the networks ignore them): lr_g (2.5e-3), lr_d (1e-5), beta1 (0.5),
    batch_size (100), d_acc_threshold (0.8: D is updated only when its last-batch accuracy is <= this).
    """

    nz: int = 200
    ngf: int = 64
    ndf: int = 64
    volume_size: int = 64
    leaky_slope: float = 0.2
    conv_bias: bool = False
    d_first_norm: bool = False
    lr_g: float = 2.5e-3
    lr_d: float = 1e-5
    beta1: float = 0.5
    batch_size: int = 100
    d_acc_threshold: float = 0.8

    _label: ClassVar[str] = "3D-GAN"

    def validate(self) -> None:
        check_choice(self, "volume_size", (16, 32, 64, 128), expected="one of 16, 32, 64, 128")
        for f in ("nz", "ngf", "ndf"):
            check_int(self, f)
        check_int(self, "batch_size", 1, MAX_TRAIN_INT)
        check_float(self, "leaky_slope", 0.0, 1.0, hi_open=True)
        check_bool(self, "conv_bias")
        check_bool(self, "d_first_norm")
        for f in ("lr_g", "lr_d"):
            check_float(self, f, 0.0, lo_open=True)
        check_float(self, "beta1", 0.0, 1.0, hi_open=True)
        check_float(self, "d_acc_threshold", 0.0, 1.0)

    @property
    def num_blocks(self) -> int:
        """Stride-2 blocks after the 4^3 projection (4 for 64^3, 3 for 32^3)."""
        return int(math.log2(self.volume_size)) - 2

    def specs(self) -> ModelSpecs:
        s = self.volume_size
        return ModelSpecs(
            inputs=(TensorSpec("z", ("B", self.nz), (0.0, 1.0), description="latent code, U(0, 1)"),),
            outputs=(TensorSpec("occupancy", ("B", 1, s, s, s), (0.0, 1.0),
                                description="voxel occupancy probability (threshold at 0.5 for a binary shape)"),),
            latent_dim=self.nz, image_size=(s, s, s))


class GAN3DGenerator(nn.Module):
    """z (B, nz) or (B, nz, 1, 1, 1), U(0, 1) -> occupancy (B, 1, S, S, S) in [0, 1]."""

    def __init__(self, cfg: GAN3DConfig):
        super().__init__()
        self.nz = cfg.nz
        ch = cfg.ngf * 2 ** (cfg.num_blocks - 1)
        b = cfg.conv_bias
        layers: list[nn.Module] = [ConvNormAct(cfg.nz, ch, 4, 1, 0, norm="bn", act="relu", transposed=True, dims=3,
                                               bias=b)]
        for _ in range(cfg.num_blocks - 1):
            layers.append(ConvNormAct(ch, ch // 2, 4, 2, 1, norm="bn", act="relu", transposed=True, dims=3, bias=b))
            ch //= 2
        layers.append(ConvNormAct(ch, 1, 4, 2, 1, norm=None, act="sigmoid", transposed=True, dims=3, bias=b))
        self.main = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        z = check_latent(z, self.nz, like=first_param(self))
        return self.main(z[:, :, None, None, None])


class GAN3DDiscriminator(nn.Module):
    """occupancy (B, 1, S, S, S) in [0, 1] -> real/fake logits (B,). The sigmoid belongs to the loss."""

    def __init__(self, cfg: GAN3DConfig):
        super().__init__()
        self.volume_size = cfg.volume_size
        ch = cfg.ndf
        b = cfg.conv_bias
        s = cfg.leaky_slope
        layers: list[nn.Module] = [ConvNormAct(1, ch, 4, 2, 1, norm="bn" if cfg.d_first_norm else None, act="lrelu",
                                               dims=3, bias=b, slope=s)]
        for _ in range(cfg.num_blocks - 1):
            layers.append(ConvNormAct(ch, ch * 2, 4, 2, 1, norm="bn", act="lrelu", dims=3, bias=b, slope=s))
            ch *= 2
        layers.append(ConvNormAct(ch, 1, 4, 1, 0, norm=None, act=None, dims=3, bias=b))
        self.main = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = self.volume_size
        check_tensor(x, "occupancy", ndim=5, channels=1, size=(s, s, s), layout="(B, 1, D, H, W)",
                     like=first_param(self))
        return self.main(x).flatten(1).squeeze(1)

    def features(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Activations after every LeakyReLU (B, C, s, s, s): the features the paper pools and feeds to a
        linear SVM for ModelNet classification."""
        s = self.volume_size
        check_tensor(x, "occupancy", ndim=5, channels=1, size=(s, s, s), layout="(B, 1, D, H, W)",
                     like=first_param(self))
        feats = []
        for block in list(self.main)[:-1]:
            x = block(x)
            feats.append(x)
        return feats


def discriminator_accuracy(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """Fraction of a batch D classifies correctly: real logits >= 0 (p >= 0.5) and fake logits < 0.

    real_logits, fake_logits: (B,) each. Returns a 0-d tensor in [0, 1].
    """
    for name, t in (("real_logits", real_logits), ("fake_logits", fake_logits)):
        if not isinstance(t, torch.Tensor):
            raise TypeError(f"{name}: expected a torch.Tensor of shape (B,), got {type(t).__name__}")
        if t.dim() != 1:
            raise ValueError(f"{name}: expected shape (B,), got {tuple(t.shape)}")
    correct = torch.cat([(real_logits >= 0), (fake_logits < 0)]).float()
    return correct.mean()


def should_update_discriminator(real_logits: torch.Tensor, fake_logits: torch.Tensor,
                                threshold: float = 0.8) -> bool:
    """The paper's balancing rule: update D only when its accuracy on the last batch is at most ``threshold``."""
    return bool(discriminator_accuracy(real_logits, fake_logits) <= threshold)


class GAN3D(GANModel):
    """3D-GAN generator + discriminator. ``model(z)`` -> occupancy (B, 1, S, S, S) in [0, 1]."""

    config_class = GAN3DConfig

    def __init__(self, config: GAN3DConfig):
        super().__init__(config)
        self.generator = GAN3DGenerator(config)
        self.discriminator = GAN3DDiscriminator(config)
        dcgan_init_(self)

    def sample_inputs(self, batch_size: int = 1, *, generator: torch.Generator | None = None,
                      device=None, dtype=None, size: Sequence[int] | None = None) -> tuple[torch.Tensor, ...]:
        """z (batch_size, nz) drawn from U(0, 1), the official sampler's prior."""
        if size is not None:
            raise ValueError(f"3D-GAN has a fixed output size ({self.config.volume_size}^3); size must be None, "
                             f"got {size!r}")
        batch_size = check_batch_size(batch_size, "batch_size")
        return (torch.rand(batch_size, self.config.nz, generator=generator, device=device, dtype=dtype),)


def _cfg(**kwargs) -> PretrainedCfg:
    return PretrainedCfg(half_precision=True, paper=PAPER, paper_url="https://arxiv.org/abs/1610.07584",
                         citation=CITATION, license="apache-2.0", **kwargs)


# No weights are published by ganzoo yet. The authors' release (zck119/3dgan-release) holds one Torch7 (.t7)
# generator per class (car, chair, desk, gun, sofa); .t7 files are not converted by ganzoo.
default_cfgs = {
    "gan3d.chair": _cfg(
        hub_id=None, dataset="ShapeNet chairs (as the authors' chair generator); no weights published yet",
        description="64^3 3D-GAN (paper layout). No weights are published yet: ganzoo.create builds it with random "
                    "weights; rimchang/3DGAN-Pytorch 64^3 checkpoints load through the gan3d converter.",
    ),
    "gan3d_32.chair": _cfg(
        hub_id=None, dataset="ShapeNet chairs; no weights published yet",
        description="32^3 3D-GAN variant (one fewer stride-2 block; ganzoo configuration, not in the paper). "
                    "No weights are published yet.",
    ),
    # trained by ganzoo on the CPU (python -m ganzoo.train.gan3d): half the paper's widths, which procedural
    # primitives do not need and a 2-core CPU cannot afford
    "gan3d_32.shapes": _cfg(
        hub_id=None, config={"ngf": 32, "ndf": 32},
        dataset="ganzoo procedural voxel shapes (ganzoo.data.voxels: primitives and furniture-like compositions, "
                "32^3, with class labels)",
        description="32^3 3D-GAN at half width (ngf = ndf = 32) for ganzoo's procedural shapes; no weights "
                    "published yet (recipe: ganzoo/train/gan3d.py).",
    ),
}


@register_model
def gan3d(**kwargs) -> GAN3D:
    """3D-GAN, 64^3 (paper layout): G 17,569,664 / D 11,048,704 parameters."""
    return GAN3D(GAN3DConfig.from_dict(kwargs))


@register_model
def gan3d_32(**kwargs) -> GAN3D:
    """3D-GAN, 32^3 variant: one fewer stride-2 block in G and D."""
    kwargs.setdefault("volume_size", 32)
    return GAN3D(GAN3DConfig.from_dict(kwargs))
