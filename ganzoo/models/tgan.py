"""TGAN: Temporal Generative Adversarial Nets with Singular Value Clipping (Saito, Matsumoto, Saito, ICCV 2017).

A temporal generator G0 turns one latent z0 (100-d, U(-1, 1)) into 16 frame codes z1^1..z1^16; an image generator
G1, shared across frames, renders frame t from (z0, z1^t). The discriminator is a 3D conv net on the whole video.

Temporal generator G0 (z0 viewed as 100 channels x length 1):

    ConvT1d 100 -> 512, k1 s1 p0   length 1 -> 1     BN, ReLU
    ConvT1d 512 -> 256, 4/2/1      length 1 -> 2     BN, ReLU
    ConvT1d 256 -> 128, 4/2/1      length 2 -> 4     BN, ReLU
    ConvT1d 128 -> 128, 4/2/1      length 4 -> 8     BN, ReLU
    ConvT1d 128 -> 100, 4/2/1      length 8 -> 16    tanh       -> 16 frame codes of 100-d

A 4/2/1 transposed conv maps length L to (L - 1) * 2 - 2 * 1 + 4 = 2L, so the four of them give 1 * 2**4 = 16
frames; the kernel-1 first layer only widens the channels. The spec's kernel list yields 16 frames as written.

Image generator G1 (per frame): Linear z0 -> 4096 and Linear z1^t -> 4096 (no bias, BN1d, ReLU), each viewed as
256x4x4 and concatenated to 512x4x4; ConvT2d 4/2/1 to 256 (8^2), 128 (16^2), 64 (32^2), 32 (64^2) with BN + ReLU
(bias-free); then a 3x3 stride-1 pad-1 conv 32 -> 3 with bias, tanh. Output video (B, 3, 16, 64, 64) in [-1, 1].
Both reference implementations (pfnet-research/tgan in Chainer, and the PyTorch port
Zasder3/Latent-Neural-Differential-Equations-for-Video-Generation) write that last layer as a 3x3 stride-1 pad-1
*transposed* conv; that is the same function as the conv used here with the kernel flipped spatially and its
in/out axes swapped (the converter in ganzoo.hub.converters.tgan does exactly that). A plain conv exports to
ONNX/TensorRT more reliably than a transposed one.

Discriminator: Conv3d 3 -> 64 (4/2/1, LeakyReLU 0.2, no BN), 64 -> 128 -> 256 -> 512 (4/2/1, BN3d, LeakyReLU 0.2)
to 512x1x4x4, viewed as 512x4x4, then Conv2d 512 -> 1 (k4) -> one critic score per video (B,). All D convs
carry a bias, as in both references (Chainer's default).

Training (paper): WGAN loss, RMSProp lr 5e-5, batch 32; every 5 D iterations, singular value clipping
(:func:`singular_value_clip_`): every D conv weight reshaped to (out, -1) gets its singular values clipped to 1,
and every BN gamma is clipped to [0.01 * std, std] with std = sqrt(running_var), as pfnet-research/tgan does.
BatchNorm layers keep their beta (the PyTorch port's choice; some of the Chainer configs drop beta in G0 and D).
"""
from __future__ import annotations

import dataclasses
from typing import ClassVar, Sequence

import torch
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm

from ..layers import is_meta
from ..registry import PretrainedCfg, register_model
from ..specs import ModelSpecs, TensorSpec
from ..errors import InvalidConfigError
from .base import (MAX_TRAIN_INT, MAX_WIDTH, GANModel, ModelConfig, check_batch_size, check_dtype, check_finite,
                   check_float, check_int, check_int_tuple, check_latent, check_tensor, first_param)

__all__ = [
    "TGANConfig",
    "TGANTemporalGenerator",
    "TGANImageGenerator",
    "TGANGenerator",
    "TGANDiscriminator",
    "TGAN",
    "singular_value_clip_",
    "wgan_discriminator_loss",
    "wgan_generator_loss",
    "NUM_FRAMES",
    "IMAGE_SIZE",
]

_family = "tgan"

NUM_FRAMES = 16
IMAGE_SIZE = 64
BOTTOM = 4  # G1's starting side and D's final side (64 / 2**4)

PAPER = "Temporal Generative Adversarial Nets with Singular Value Clipping"
CITATION = (
    "@inproceedings{saito2017tgan, title={" + PAPER + "}, author={Saito, Masaki and Matsumoto, Eiichi and Saito,"
    " Shunta}, booktitle={IEEE International Conference on Computer Vision (ICCV)}, pages={2830--2839}, year={2017}}"
)


@dataclasses.dataclass
class TGANConfig(ModelConfig):
    """TGAN hyper-parameters; defaults are the paper's values.

    z_dim: size of z0 (U(-1, 1)). frame_z_dim: size of each frame code z1^t. temporal_widths: output channels of
    G0's first four transposed convs (the last outputs ``frame_z_dim``). g_widths: G1's channels at 4x4 (the two
    concatenated halves, so even), 8x8, 16x16, 32x32, 64x64. d_widths: D's 3D conv widths. nc: video channels.
    leaky_slope: D's LeakyReLU slope. lr, batch_size, svc_every: the paper's RMSProp learning rate, batch size and
    singular-value-clipping period (documentation for training recipes).
    The depths are fixed by the paper's geometry: 16 frames of 64x64.
    """

    z_dim: int = 100
    frame_z_dim: int = 100
    temporal_widths: tuple[int, ...] = (512, 256, 128, 128)
    g_widths: tuple[int, ...] = (512, 256, 128, 64, 32)
    d_widths: tuple[int, ...] = (64, 128, 256, 512)
    nc: int = 3
    leaky_slope: float = 0.2
    lr: float = 5e-5
    batch_size: int = 32
    svc_every: int = 5

    _label: ClassVar[str] = "TGAN"

    def validate(self) -> None:
        for f in ("z_dim", "frame_z_dim"):
            check_int(self, f)
        check_int(self, "nc", 1, 1024)
        check_int(self, "batch_size", 1, MAX_TRAIN_INT)
        check_int(self, "svc_every", 1, MAX_TRAIN_INT)
        for f, n in (("temporal_widths", 4), ("g_widths", 5), ("d_widths", 4)):
            check_int_tuple(self, f, length=n,
                            expected=f"{n} positive ints <= {MAX_WIDTH} (fixed depth for 16 frames of 64x64)")
        if self.g_widths[0] % 2:
            raise InvalidConfigError(f"TGAN g_widths[0] is the concatenation of the z0 and z1 paths and must be "
                                     f"even, got {self.g_widths[0]}")
        check_float(self, "leaky_slope", 0.0, 1.0, hi_open=True)
        check_float(self, "lr", 0.0, lo_open=True)

    def specs(self) -> ModelSpecs:
        t, s = NUM_FRAMES, IMAGE_SIZE
        return ModelSpecs(
            inputs=(TensorSpec("z", ("B", self.z_dim), (-1.0, 1.0), description="latent code z0, U(-1, 1)"),),
            outputs=(TensorSpec("video", ("B", self.nc, t, s, s), (-1.0, 1.0),
                                description="generated video, (channels, frames, height, width)"),),
            latent_dim=self.z_dim, image_size=(t, s, s))


class TGANTemporalGenerator(nn.Module):
    """G0: z0 (B, z_dim) -> frame codes z1 (B, 16, frame_z_dim) in [-1, 1]."""

    def __init__(self, cfg: TGANConfig):
        super().__init__()
        self.z_dim = cfg.z_dim
        w = [int(c) for c in cfg.temporal_widths]
        layers: list[nn.Module] = [nn.ConvTranspose1d(cfg.z_dim, w[0], 1, 1, 0), nn.BatchNorm1d(w[0]), nn.ReLU(True)]
        for cin, cout in zip(w[:-1], w[1:]):
            layers += [nn.ConvTranspose1d(cin, cout, 4, 2, 1), nn.BatchNorm1d(cout), nn.ReLU(True)]
        layers += [nn.ConvTranspose1d(w[-1], cfg.frame_z_dim, 4, 2, 1), nn.Tanh()]
        self.main = nn.Sequential(*layers)

    def forward(self, z0: torch.Tensor) -> torch.Tensor:
        z0 = check_latent(z0, self.z_dim, "z", like=first_param(self))
        return self.main(z0.unsqueeze(2)).transpose(1, 2)


class TGANImageGenerator(nn.Module):
    """G1: (z0 (B, z_dim), z1 (B, T, frame_z_dim)) -> frames (B, T, nc, 64, 64) in [-1, 1], weights shared over t."""

    def __init__(self, cfg: TGANConfig):
        super().__init__()
        self.z_dim, self.frame_z_dim = cfg.z_dim, cfg.frame_z_dim
        w = [int(c) for c in cfg.g_widths]
        self.half = w[0] // 2
        mid = self.half * BOTTOM * BOTTOM
        self.slow = nn.Sequential(nn.Linear(cfg.z_dim, mid, bias=False), nn.BatchNorm1d(mid), nn.ReLU(True))
        self.fast = nn.Sequential(nn.Linear(cfg.frame_z_dim, mid, bias=False), nn.BatchNorm1d(mid), nn.ReLU(True))
        layers: list[nn.Module] = []
        for cin, cout in zip(w[:-1], w[1:]):
            layers += [nn.ConvTranspose2d(cin, cout, 4, 2, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(True)]
        layers += [nn.Conv2d(w[-1], cfg.nc, 3, 1, 1), nn.Tanh()]
        self.main = nn.Sequential(*layers)

    def forward(self, z0: torch.Tensor, z1: torch.Tensor) -> torch.Tensor:
        z0 = check_latent(z0, self.z_dim, "z", like=first_param(self))
        if not isinstance(z1, torch.Tensor) or not torch.is_floating_point(z1):
            raise TypeError(f"z1: expected a floating-point torch.Tensor (B, T, {self.frame_z_dim}), "
                            f"got {type(z1).__name__ if not isinstance(z1, torch.Tensor) else z1.dtype}")
        check_dtype(z1, "z1", first_param(self))
        if z1.dim() != 3 or z1.shape[0] != z0.shape[0] or z1.shape[2] != self.frame_z_dim:
            raise ValueError(f"z1: expected frame codes ({z0.shape[0]}, T, {self.frame_z_dim}), got {tuple(z1.shape)}")
        check_finite(z1, "z1")
        b, t = z1.shape[:2]
        # BN over the B slow codes (before repeating them) and over the B*T frame codes, as both references do.
        slow = self.slow(z0).view(b, 1, self.half, BOTTOM, BOTTOM).expand(b, t, self.half, BOTTOM, BOTTOM)
        fast = self.fast(z1.reshape(b * t, self.frame_z_dim)).view(b, t, self.half, BOTTOM, BOTTOM)
        h = torch.cat([slow, fast], dim=2).reshape(b * t, 2 * self.half, BOTTOM, BOTTOM)
        out = self.main(h)
        return out.view(b, t, *out.shape[1:])


class TGANGenerator(nn.Module):
    """z0 (B, 100) in U(-1, 1) -> video (B, 3, 16, 64, 64) in [-1, 1] (channels, time, height, width)."""

    def __init__(self, cfg: TGANConfig):
        super().__init__()
        self.z_dim = cfg.z_dim
        self.temporal = TGANTemporalGenerator(cfg)
        self.image = TGANImageGenerator(cfg)

    def frame_codes(self, z0: torch.Tensor) -> torch.Tensor:
        """G0 alone: z0 (B, 100) -> z1 (B, 16, 100)."""
        return self.temporal(z0)

    def render(self, z0: torch.Tensor, z1: torch.Tensor) -> torch.Tensor:
        """G1 alone: z0 (B, 100), z1 (B, T, 100) -> video (B, 3, T, 64, 64) (e.g. for edited frame codes)."""
        return self.image(z0, z1).transpose(1, 2)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        # The argument is named like its input spec ("z"); it is the paper's z0.
        z0 = check_latent(z, self.z_dim, "z", like=first_param(self))
        return self.render(z0, self.temporal(z0))


class TGANDiscriminator(nn.Module):
    """video (B, 3, 16, 64, 64) in [-1, 1] -> critic scores (B,) (WGAN: unbounded, no sigmoid)."""

    def __init__(self, cfg: TGANConfig):
        super().__init__()
        self.nc = cfg.nc
        w = [int(c) for c in cfg.d_widths]
        layers: list[nn.Module] = [nn.Conv3d(cfg.nc, w[0], 4, 2, 1), nn.LeakyReLU(cfg.leaky_slope, True)]
        for cin, cout in zip(w[:-1], w[1:]):
            layers += [nn.Conv3d(cin, cout, 4, 2, 1), nn.BatchNorm3d(cout), nn.LeakyReLU(cfg.leaky_slope, True)]
        self.main = nn.Sequential(*layers)
        self.head = nn.Conv2d(w[-1], 1, BOTTOM, 1, 0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_tensor(x, "video", ndim=5, channels=self.nc, size=(NUM_FRAMES, IMAGE_SIZE, IMAGE_SIZE),
                     layout=f"(B, {self.nc}, {NUM_FRAMES}, {IMAGE_SIZE}, {IMAGE_SIZE})", like=first_param(self))
        h = self.main(x)  # (B, 512, 1, 4, 4)
        return self.head(h.flatten(1, 2)).flatten(0)


@torch.no_grad()
def singular_value_clip_(module: nn.Module, *, gamma_min_ratio: float = 0.01) -> nn.Module:
    """Singular value clipping, in place (TGAN section 4): every Conv/Linear weight of ``module``, reshaped to
    (out, -1), gets its singular values clipped to at most 1; every affine BatchNorm's gamma is clipped to
    [gamma_min_ratio * std, std] with std = sqrt(running_var) (pfnet-research/tgan's rule), so each BN scales by
    at most 1. Weights whose singular values are all <= 1 are left untouched. Returns ``module``.

    Call it on the discriminator every ``svc_every`` (5) iterations of WGAN training.
    """
    for m in module.modules():
        if isinstance(m, (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.Linear)):
            w = m.weight
            mat = w.detach().reshape(w.shape[0], -1).to(torch.float64)
            u, s, vh = torch.linalg.svd(mat, full_matrices=False)
            if bool(s.max() > 1):
                w.copy_(((u * s.clamp(max=1.0)) @ vh).reshape(w.shape).to(w.dtype))
        elif isinstance(m, _BatchNorm) and m.affine and m.running_var is not None:
            std = m.running_var.sqrt()
            m.weight.copy_(torch.clamp(m.weight, min=gamma_min_ratio * std, max=std))
    return module


def wgan_discriminator_loss(real_scores: torch.Tensor, fake_scores: torch.Tensor) -> torch.Tensor:
    """WGAN critic loss: mean(D(fake)) - mean(D(real)); scores (B,)."""
    return fake_scores.mean() - real_scores.mean()


def wgan_generator_loss(fake_scores: torch.Tensor) -> torch.Tensor:
    """WGAN generator loss: -mean(D(G(z)))."""
    return -fake_scores.mean()


class TGAN(GANModel):
    """TGAN generator + discriminator. ``model(z0)`` -> video (B, 3, 16, 64, 64) in [-1, 1]."""

    config_class: ClassVar[type[ModelConfig]] = TGANConfig

    def __init__(self, config: TGANConfig):
        super().__init__(config)
        self.generator = TGANGenerator(config)
        self.discriminator = TGANDiscriminator(config)
        self._init_weights()

    @torch.no_grad()
    def _init_weights(self) -> None:
        # pfnet-research/tgan's "init-uniform" configs draw G weights from U(-0.01, 0.01) (the PyTorch port does so
        # for G1 and uses Xavier for G0); biases zero, BN at its defaults. D convs keep PyTorch's default init:
        # singular value clipping bounds them during training anyway.
        if is_meta(self):
            return
        for m in self.generator.modules():
            if isinstance(m, (nn.Linear, nn.Conv2d, nn.ConvTranspose1d, nn.ConvTranspose2d)):
                nn.init.uniform_(m.weight, -0.01, 0.01)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)

    def sample_inputs(self, batch_size: int = 1, *, generator: torch.Generator | None = None,
                      device=None, dtype=None, size: Sequence[int] | None = None) -> tuple[torch.Tensor, ...]:
        """(z0,) with z0 (B, 100) drawn from U(-1, 1)."""
        if size is not None:
            raise ValueError("TGAN has a fixed output size (16 frames of 64x64); size must be None")
        batch_size = check_batch_size(batch_size, "batch_size")
        cfg: TGANConfig = self.config  # type: ignore[assignment]
        z = torch.rand(batch_size, cfg.z_dim, generator=generator, device=device, dtype=dtype)
        return (z * 2 - 1,)


def _cfg(**kwargs) -> PretrainedCfg:
    return PretrainedCfg(half_precision=True, paper=PAPER, paper_url="https://arxiv.org/abs/1611.06624",
                         citation=CITATION, **kwargs)


# No public generator weights exist; tgan.ucf101 describes the paper's UCF-101 setting.
default_cfgs = {
    "tgan.ucf101": _cfg(
        dataset="UCF-101 (16-frame clips at 64x64)",
        description="TGAN with singular value clipping, UCF-101 configuration; no published weights",
    ),
    # trained by ganzoo on the CPU (python -m ganzoo.train.tgan): half the paper's widths, which single moving
    # sprites on a plain background do not need and a 2-core CPU cannot afford (9-10 s a step at batch 32 there)
    "tgan.sprites": _cfg(
        hub_id=None, config={"temporal_widths": (256, 128, 64, 64), "g_widths": (256, 128, 64, 32, 16),
                             "d_widths": (32, 64, 128, 256)},
        dataset="ganzoo procedural moving sprites (ganzoo.data.sprites: 16 frames of 64x64 RGB, 1-3 shapes moving "
                "in straight lines and bouncing off the walls, with factor labels)",
        description="TGAN (SVC) at half the paper's widths (G0 256-128-64-64, G1 256-128-64-32-16, D 32-64-128-256) "
                    "for ganzoo's moving sprites; no weights published yet (recipe: ganzoo/train/tgan.py).",
    ),
}


@register_model
def tgan(**kwargs) -> TGAN:
    """TGAN (SVC): z0 (B, 100) -> video (B, 3, 16, 64, 64)."""
    return TGAN(TGANConfig.from_dict(kwargs))
