"""DR-GAN: Disentangled Representation learning GAN (Tran, Yin, Liu, CVPR 2017).

An encoder-decoder generator rotates a face to a target pose: the encoder maps a 96x96 face to a 320-d identity
feature f(x); the decoder renders f(x) concatenated with a one-hot pose code c (Np poses) and noise z (Nz = 50,
U(-1, 1)). The discriminator has the same convolutional trunk (its own weights) and two heads: Nd + 1 identity
logits (the Nd training identities plus one "fake" class, at index Nd) and Np pose logits.

Layout (the paper's table, which kayamin/DR-GAN reproduces; all kernels 3x3, convs bias-free, BN + ELU after each):

    encoder  conv11 C->32, conv12 32->64                          96x96
             conv21 64->64 s2, conv22 64->64, conv23 64->128      48x48
             conv31 128->128 s2, conv32 128->96, conv33 96->192   24x24
             conv41 192->192 s2, conv42 192->128, conv43 128->256 12x12
             conv51 256->256 s2, conv52 256->160, conv53 160->320  6x6  -> average pool -> f(x), 320-d
    decoder  FC (320 + Np + Nz) -> 320x6x6 (with bias, no norm/activation, as in kayamin/DR-GAN), then 3x3
             transposed convs 160, 256, [s2] 256, 128, 192, [s2] 192, 96, 128, [s2] 128, 64, 64, [s2] 64, 32, C
             (BN + ELU after each but the last, Tanh last)  6 -> 12 -> 24 -> 48 -> 96

Stride-2 geometry. The paper's TensorFlow code uses padding "SAME". For a stride-2 3x3 conv on an even side n
that pads 0 before and 1 after (right/bottom), giving n/2: implemented as ``nn.ZeroPad2d((0, 1, 0, 1))`` followed
by a conv with padding 0. For the stride-2 3x3 transposed conv, "SAME" gives 2n by cropping the full (2n + 1)
output's last row and column: implemented as ``ConvTranspose2d(k=3, s=2, p=0)`` followed by a bottom/right crop
(no ``output_padding``, which some ONNX/TensorRT converters mis-shape). kayamin/DR-GAN crops after BN + ELU; ganzoo
crops right after the transposed conv, as TF does. Both give identical outputs in eval mode (BN is then a
per-channel affine map); in training mode only the batch statistics of those four BN layers differ slightly.

Multi-image DR-GAN (``drgan_multi``): conv53 has 320 + 1 output channels (BN + ELU on all of them, as in
kayamin/DR-GAN); after pooling, the extra channel through a sigmoid is the confidence w_i of image i, and the fused
identity feature of N images of one person is f = sum_i w_i f_i / sum_i w_i.

Defaults: Np = 13 poses and Nd = 200 identities, the paper's Multi-PIE setting (the first 200 subjects train, 13
poses within +-90 degrees). Training (paper): Adam lr 2e-4, beta1 0.5; faces resized to 110 and randomly cropped
to 96; images in [-1, 1].

Tags: ``.multipie`` (the paper's setting, no weights) and ``.heads`` (ganzoo's procedural heads,
:mod:`ganzoo.data.heads`: Nd = 50, Np = 9 yaws, a quarter of the paper's widths for CPU training with
:mod:`ganzoo.train.drgan`).
"""
from __future__ import annotations

import dataclasses
from collections import OrderedDict
from typing import ClassVar, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ..errors import InvalidConfigError
from ..layers import dcgan_init_
from ..registry import PretrainedCfg, register_model
from ..specs import ModelSpecs, TensorSpec
from .base import (MAX_CLASSES, GANModel, ModelConfig, check_batch_size, check_bool, check_choice, check_finite,
                   check_float, check_int, check_int_tuple, check_latent, check_tensor, first_param, is_tracing)

__all__ = [
    "DRGANConfig",
    "DRGANEncoder",
    "DRGANGenerator",
    "DRGANDiscriminator",
    "DRGAN",
    "pose_to_onehot",
    "discriminator_loss",
    "generator_loss",
    "IMAGE_SIZE",
    "FEATURE_SIZE",
]

_family = "drgan"

IMAGE_SIZE = 96
FEATURE_SIZE = 6  # spatial side at the bottleneck: 96 / 2**4
STRIDE2 = frozenset({2, 5, 8, 11})  # conv21, conv31, conv41, conv51 and their mirrors in the decoder

PAPER = "Disentangled Representation Learning GAN for Pose-Invariant Face Recognition"
PAPER_URL = ("https://openaccess.thecvf.com/content_cvpr_2017/html/"
             "Tran_Disentangled_Representation_Learning_CVPR_2017_paper.html")
CITATION = (
    "@inproceedings{tran2017drgan, title={" + PAPER + "}, author={Tran, Luan and Yin, Xi and Liu, Xiaoming},"
    " booktitle={IEEE Conference on Computer Vision and Pattern Recognition (CVPR)}, pages={1415--1424},"
    " year={2017}}"
)


@dataclasses.dataclass
class DRGANConfig(ModelConfig):
    """DR-GAN hyper-parameters; defaults are the paper's Multi-PIE values.

    nc: image channels (1 or 3). num_identities: Nd, identities the discriminator classifies (plus one "fake"
    class). num_poses: Np, discrete pose classes (the one-hot pose code's size). nz: noise size, z ~ U(-1, 1).
    widths: output channels of the 14 encoder convs conv11 ... conv53 (the last is the identity feature size);
    the decoder mirrors them. multi_image: the multi-image variant (conv53 gets one more channel, the confidence).
    num_images: N, images per person drawn by ``sample_inputs`` for the multi-image model (any N works at run time).
    lr, beta1: the paper's Adam settings (documentation for training recipes).
    """

    nc: int = 3
    num_identities: int = 200
    num_poses: int = 13
    nz: int = 50
    widths: tuple[int, ...] = (32, 64, 64, 64, 128, 128, 96, 192, 192, 128, 256, 256, 160, 320)
    multi_image: bool = False
    num_images: int = 3
    lr: float = 2e-4
    beta1: float = 0.5

    _label: ClassVar[str] = "DR-GAN"

    def validate(self) -> None:
        check_choice(self, "nc", (1, 3))
        check_int(self, "num_identities", 1, MAX_CLASSES)
        check_int(self, "num_poses", 1, MAX_CLASSES)
        check_int(self, "nz")
        check_int(self, "num_images", 1, 1024)
        check_int_tuple(self, "widths", length=14, expected="14 positive ints <= 65536 (conv11 ... conv53)")
        check_bool(self, "multi_image")
        check_float(self, "lr", 0.0, lo_open=True)
        check_float(self, "beta1", 0.0, 1.0, hi_open=True)

    def specs(self) -> ModelSpecs:
        nc, np_, nz, s = self.nc, self.num_poses, self.nz, IMAGE_SIZE
        img_shape: tuple[int | str, ...] = ("B", nc, s, s)
        img_desc = "input face, in [-1, 1]"
        if self.multi_image:
            n = self.num_images
            img_shape = ("B", n, nc, s, s)
            img_desc = f"N = {n} faces of one person per row (any N >= 1 works), in [-1, 1]"
        return ModelSpecs(
            inputs=(
                TensorSpec("image", img_shape, (-1.0, 1.0), description=img_desc),
                TensorSpec("pose", ("B",), (0.0, float(np_ - 1)), dtype="int64",
                           description=f"target pose class in [0, {np_}) (a float one-hot (B, {np_}) also works)"),
                TensorSpec("z", ("B", nz), (-1.0, 1.0), description="noise, U(-1, 1)"),
            ),
            outputs=(TensorSpec("generated", ("B", nc, s, s), (-1.0, 1.0),
                                description="the input identity rendered at the target pose"),),
            latent_dim=nz, image_size=(s, s), min_size=s)

    @property
    def feature_dim(self) -> int:
        """Size of the identity feature f(x) (320 in the paper)."""
        return int(self.widths[-1])

    @property
    def decoder_channels(self) -> list[tuple[int, int]]:
        """(in, out) of the 14 decoder transposed convs: the encoder's widths mirrored, ending in ``nc``."""
        outs = [int(w) for w in self.widths[::-1][1:]] + [self.nc]
        ins = [self.feature_dim] + outs[:-1]
        return list(zip(ins, outs))


def _tracing() -> bool:
    """True under torch.compile / torch.export / jit tracing, where data-dependent checks cannot run."""
    return is_tracing()


class _CropBottomRight(nn.Module):
    """Drop the last row and column: the TF "SAME" crop of a stride-2 3x3 transposed conv (2n + 1 -> 2n)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x[..., :-1, :-1]


class _EncoderBlock(nn.Sequential):
    """[pad right/bottom by 1 if stride 2] -> Conv 3x3 (bias-free) -> BN -> ELU."""

    def __init__(self, cin: int, cout: int, stride: int):
        layers: list[tuple[str, nn.Module]] = []
        if stride == 2:
            layers.append(("pad", nn.ZeroPad2d((0, 1, 0, 1))))
        layers += [
            ("conv", nn.Conv2d(cin, cout, 3, stride, 1 if stride == 1 else 0, bias=False)),
            ("bn", nn.BatchNorm2d(cout)),
            ("act", nn.ELU(inplace=True)),
        ]
        super().__init__(OrderedDict(layers))


class _DecoderBlock(nn.Sequential):
    """ConvTranspose 3x3 (bias-free) -> [crop bottom/right if stride 2] -> BN -> ELU, or -> Tanh when last."""

    def __init__(self, cin: int, cout: int, stride: int, last: bool = False):
        layers: list[tuple[str, nn.Module]] = [
            ("conv", nn.ConvTranspose2d(cin, cout, 3, stride, 1 if stride == 1 else 0, bias=False)),
        ]
        if stride == 2:
            layers.append(("crop", _CropBottomRight()))
        if last:
            layers.append(("act", nn.Tanh()))
        else:
            layers += [("bn", nn.BatchNorm2d(cout)), ("act", nn.ELU(inplace=True))]
        super().__init__(OrderedDict(layers))


class DRGANEncoder(nn.Module):
    """image (B, C, 96, 96) in [-1, 1] -> pooled conv53 activations (B, widths[-1] + extra).

    ``extra`` = 1 for the multi-image generator (the confidence channel, before its sigmoid), else 0.
    """

    def __init__(self, cfg: DRGANConfig, extra: int = 0):
        super().__init__()
        self.nc = cfg.nc
        ins = [cfg.nc] + [int(w) for w in cfg.widths[:-1]]
        outs = [int(w) for w in cfg.widths]
        outs[-1] += extra
        self.layers = nn.Sequential(*[_EncoderBlock(i, o, 2 if k in STRIDE2 else 1)
                                      for k, (i, o) in enumerate(zip(ins, outs))])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_tensor(x, "image", ndim=4, channels=self.nc, size=(IMAGE_SIZE, IMAGE_SIZE), like=first_param(self))
        return self.layers(x).mean(dim=(2, 3))


def pose_to_onehot(pose: torch.Tensor, num_poses: int, batch_size: int | None = None,
                   dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Pose code as a (B, Np) float tensor.

    ``pose`` is either integer class indices (B,) in [0, Np) or a float code (B, Np) (one-hot, or a soft mix of
    poses for interpolation), which is returned unchanged. Raises TypeError/ValueError (expected vs given) otherwise.
    """
    if not isinstance(pose, torch.Tensor):
        raise TypeError(f"pose: expected a torch.Tensor of int64 class indices (B,) in [0, {num_poses}) or a float "
                        f"one-hot code (B, {num_poses}), got {type(pose).__name__}")
    if pose.dtype == torch.bool or pose.is_complex():
        raise TypeError(f"pose: expected integer indices or a float one-hot code, got dtype {pose.dtype}")
    if torch.is_floating_point(pose):
        if pose.dim() != 2 or pose.shape[1] != num_poses:
            raise ValueError(f"pose: a float pose code must have shape (B, {num_poses}) (one-hot over the "
                             f"{num_poses} poses), got {tuple(pose.shape)}")
        if batch_size is not None and pose.shape[0] != batch_size:
            raise ValueError(f"pose: expected batch size {batch_size}, got {pose.shape[0]}")
        check_finite(pose, "pose")
        # A pose code is one-hot (or a mix of a few poses), so it is cast to the model's dtype, not refused.
        return pose.to(dtype)
    if pose.dim() != 1:
        raise ValueError(f"pose: integer pose class indices must have shape (B,), got {tuple(pose.shape)}")
    if batch_size is not None and pose.shape[0] != batch_size:
        raise ValueError(f"pose: expected batch size {batch_size}, got {pose.shape[0]}")
    if not _tracing() and pose.numel() and (int(pose.min()) < 0 or int(pose.max()) >= num_poses):
        raise ValueError(f"pose: class indices must be in [0, {num_poses}) (valid range 0..{num_poses - 1}), "
                         f"got values from {int(pose.min())} to {int(pose.max())}")
    # Equal + Cast rather than F.one_hot: exports to ONNX without a OneHot op.
    return (pose.unsqueeze(1) == torch.arange(num_poses, device=pose.device)).to(dtype)


class DRGANGenerator(nn.Module):
    """Encoder-decoder generator.

    ``forward(image, pose, z)`` -> image (B, C, 96, 96) in [-1, 1]: ``generate(encode(image), pose, z)``, or for the
    multi-image model ``generate(fuse(images), pose, z)`` with images (B, N, C, 96, 96).
    image: faces in [-1, 1]. pose: int64 class indices (B,) in [0, Np) or a float one-hot code (B, Np).
    z: noise (B, Nz), U(-1, 1).
    """

    def __init__(self, cfg: DRGANConfig):
        super().__init__()
        self.nc, self.nz, self.num_poses = cfg.nc, cfg.nz, cfg.num_poses
        self.feature_dim = cfg.feature_dim
        self.multi_image = cfg.multi_image
        self.encoder = DRGANEncoder(cfg, extra=1 if cfg.multi_image else 0)
        self.fc = nn.Linear(cfg.feature_dim + cfg.num_poses + cfg.nz, cfg.feature_dim * FEATURE_SIZE ** 2)
        chans = cfg.decoder_channels
        self.decoder = nn.Sequential(*[_DecoderBlock(i, o, 2 if k in STRIDE2 else 1, last=k == len(chans) - 1)
                                       for k, (i, o) in enumerate(chans)])

    # -- encoder side -------------------------------------------------------------------------------------------
    def encode_with_confidence(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """image (B, C, 96, 96) -> (f (B, 320), confidence w (B,) in (0, 1)).

        The single-image model has no confidence output; it returns w = 1 for every image.
        """
        h = self.encoder(x)
        if not self.multi_image:
            return h, torch.ones(h.shape[0], dtype=h.dtype, device=h.device)
        return h[:, : self.feature_dim], torch.sigmoid(h[:, self.feature_dim])

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """image (B, C, 96, 96) in [-1, 1] -> identity feature f(x) (B, 320)."""
        return self.encode_with_confidence(x)[0]

    def fuse(self, x: torch.Tensor) -> torch.Tensor:
        """images (B, N, C, 96, 96) of one person per row -> fused identity feature (B, 320).

        Multi-image model: f = sum_i w_i f_i / sum_i w_i with the learned confidences w_i. The single-image model
        has no confidences and averages the N features (the paper's single-image baseline on image sets).
        """
        self._check_images(x)
        b, n = x.shape[:2]
        f, w = self.encode_with_confidence(x.reshape(b * n, *x.shape[2:]))
        f, w = f.reshape(b, n, -1), w.reshape(b, n, 1)
        return (f * w).sum(1) / w.sum(1)

    def _check_images(self, x: torch.Tensor, name: str = "images") -> None:
        layout = f"(B, N, {self.nc}, {IMAGE_SIZE}, {IMAGE_SIZE})"
        check_tensor(x, name, ndim=5, layout=layout, like=first_param(self))
        if tuple(x.shape[2:]) != (self.nc, IMAGE_SIZE, IMAGE_SIZE) or x.shape[1] < 1:
            raise ValueError(f"{name}: expected N >= 1 images per person {layout}, got shape {tuple(x.shape)}")

    # -- decoder side -------------------------------------------------------------------------------------------
    def generate(self, f: torch.Tensor, pose: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        """Decode identity feature f (B, 320), pose (B,) int64 or (B, Np) one-hot and z (B, Nz) in U(-1, 1)
        -> image (B, C, 96, 96) in [-1, 1]."""
        if not isinstance(f, torch.Tensor) or not torch.is_floating_point(f):
            raise TypeError(f"f: expected a floating-point torch.Tensor (B, {self.feature_dim}), "
                            f"got {type(f).__name__ if not isinstance(f, torch.Tensor) else f.dtype}")
        if f.dim() != 2 or f.shape[1] != self.feature_dim:
            raise ValueError(f"f: expected an identity feature of shape (B, {self.feature_dim}), got {tuple(f.shape)}")
        f = check_latent(f, self.feature_dim, "f", like=first_param(self))  # dtype, empty batch, NaN/Inf
        b = f.shape[0]
        c = pose_to_onehot(pose, self.num_poses, b, dtype=f.dtype)
        z = check_latent(z, self.nz, "z", like=first_param(self))
        if z.shape[0] != b:
            raise ValueError(f"z: expected batch size {b} (the image batch), got {z.shape[0]}")
        h = self.fc(torch.cat([f, c, z.to(f.dtype)], dim=1))
        return self.decoder(h.view(b, self.feature_dim, FEATURE_SIZE, FEATURE_SIZE))

    def forward(self, image: torch.Tensor, pose: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        # Argument names match the specs' input names (exported graphs take their input names from them).
        x = image
        # Validate everything before the encoder runs.
        if self.multi_image:
            self._check_images(x, "image")
        else:
            check_tensor(x, "image", ndim=4, channels=self.nc, size=(IMAGE_SIZE, IMAGE_SIZE),
                         layout=f"(B, {self.nc}, {IMAGE_SIZE}, {IMAGE_SIZE})", like=first_param(self))
        b = x.shape[0]
        pose_to_onehot(pose, self.num_poses, b)
        z = check_latent(z, self.nz, "z", like=first_param(self))
        if z.shape[0] != b:
            raise ValueError(f"z: expected batch size {b} (the image batch), got {z.shape[0]}")
        f = self.fuse(x) if self.multi_image else self.encode(x)
        return self.generate(f, pose, z)


class DRGANDiscriminator(nn.Module):
    """image (B, C, 96, 96) in [-1, 1] -> (identity logits (B, Nd + 1), pose logits (B, Np)).

    Identity class Nd (the last) is "fake". Softmax belongs to the loss.
    """

    def __init__(self, cfg: DRGANConfig):
        super().__init__()
        self.num_identities, self.num_poses = cfg.num_identities, cfg.num_poses
        self.encoder = DRGANEncoder(cfg)
        self.identity_head = nn.Linear(cfg.feature_dim, cfg.num_identities + 1)
        self.pose_head = nn.Linear(cfg.feature_dim, cfg.num_poses)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.encoder(x)
        return self.identity_head(h), self.pose_head(h)


def _check_labels(labels: torch.Tensor, n: int, name: str, batch: int) -> None:
    if not isinstance(labels, torch.Tensor) or torch.is_floating_point(labels) or labels.dtype == torch.bool:
        raise TypeError(f"{name}: expected an integer class-index tensor (B,), got "
                        f"{labels.dtype if isinstance(labels, torch.Tensor) else type(labels).__name__}")
    if labels.dim() != 1 or labels.shape[0] != batch:
        raise ValueError(f"{name}: expected shape ({batch},), got {tuple(labels.shape)}")
    if labels.numel() and (int(labels.min()) < 0 or int(labels.max()) >= n):
        raise ValueError(f"{name}: class indices must be in [0, {n}), got values from {int(labels.min())} "
                         f"to {int(labels.max())}")


def discriminator_loss(real_identity_logits: torch.Tensor, real_pose_logits: torch.Tensor,
                       fake_identity_logits: torch.Tensor, identity: torch.Tensor, pose: torch.Tensor) -> torch.Tensor:
    """The paper's D loss (mean over the batch):
    CE(identity of real) + CE(pose of real) + CE("fake" class Nd for G(x, c, z)).

    real_identity_logits (B, Nd + 1), real_pose_logits (B, Np): D on real faces; fake_identity_logits (B', Nd + 1):
    D on generated faces; identity (B,) in [0, Nd), pose (B,) in [0, Np): the real faces' labels.
    """
    nd = real_identity_logits.shape[1] - 1
    _check_labels(identity, nd, "identity", real_identity_logits.shape[0])
    _check_labels(pose, real_pose_logits.shape[1], "pose", real_pose_logits.shape[0])
    if fake_identity_logits.dim() != 2 or fake_identity_logits.shape[1] != nd + 1:
        raise ValueError(f"fake_identity_logits: expected (B, {nd + 1}), got {tuple(fake_identity_logits.shape)}")
    fake = torch.full((fake_identity_logits.shape[0],), nd, dtype=torch.long, device=fake_identity_logits.device)
    return (F.cross_entropy(real_identity_logits, identity) + F.cross_entropy(real_pose_logits, pose)
            + F.cross_entropy(fake_identity_logits, fake))


def generator_loss(fake_identity_logits: torch.Tensor, fake_pose_logits: torch.Tensor, identity: torch.Tensor,
                   target_pose: torch.Tensor) -> torch.Tensor:
    """The paper's G loss (mean over the batch): CE(true identity of G(x, c, z)) + CE(target pose c of G(x, c, z)).

    fake_identity_logits (B, Nd + 1), fake_pose_logits (B, Np): D on generated faces; identity (B,) in [0, Nd):
    the input faces' identities; target_pose (B,) in [0, Np): the pose code G was asked for.
    """
    nd = fake_identity_logits.shape[1] - 1
    _check_labels(identity, nd, "identity", fake_identity_logits.shape[0])
    _check_labels(target_pose, fake_pose_logits.shape[1], "target_pose", fake_pose_logits.shape[0])
    return F.cross_entropy(fake_identity_logits, identity) + F.cross_entropy(fake_pose_logits, target_pose)


class DRGAN(GANModel):
    """DR-GAN generator + discriminator. ``model(image, pose, z)`` -> rotated face (B, C, 96, 96) in [-1, 1]
    (``drgan_multi``: ``model(images (B, N, C, 96, 96), pose, z)``)."""

    config_class: ClassVar[type[ModelConfig]] = DRGANConfig
    noise_input = False

    def __init__(self, config: DRGANConfig):
        super().__init__(config)
        self.generator = DRGANGenerator(config)
        self.discriminator = DRGANDiscriminator(config)
        dcgan_init_(self)  # N(0, 0.02) as in kayamin/DR-GAN; BN weight N(1, 0.02)

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.generator.encode(x)

    def fuse(self, x: torch.Tensor) -> torch.Tensor:
        return self.generator.fuse(x)

    def generate(self, f: torch.Tensor, pose: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
        return self.generator.generate(f, pose, z)

    def sample_inputs(self, batch_size: int = 1, *, generator: torch.Generator | None = None,
                      device=None, dtype=None, size: Sequence[int] | None = None) -> tuple[torch.Tensor, ...]:
        """(image in [-1, 1] (B, C, 96, 96) or (B, N, C, 96, 96), pose int64 (B,) in [0, Np), z U(-1, 1) (B, Nz))."""
        if size is not None:
            raise ValueError(f"DR-GAN has a fixed {IMAGE_SIZE}x{IMAGE_SIZE} input size; size must be None")
        batch_size = check_batch_size(batch_size, "batch_size")
        cfg: DRGANConfig = self.config  # type: ignore[assignment]
        lead = (batch_size, cfg.num_images) if cfg.multi_image else (batch_size,)
        image = torch.rand(*lead, cfg.nc, IMAGE_SIZE, IMAGE_SIZE, generator=generator, device=device,
                           dtype=dtype) * 2 - 1
        pose = torch.randint(0, cfg.num_poses, (batch_size,), generator=generator, device=device, dtype=torch.int64)
        z = torch.rand(batch_size, cfg.nz, generator=generator, device=device, dtype=dtype) * 2 - 1
        return image, pose, z


def _cfg(**kwargs) -> PretrainedCfg:
    kwargs.setdefault("half_precision", True)
    return PretrainedCfg(paper=PAPER, paper_url=PAPER_URL, citation=CITATION, **kwargs)


#: The ``.heads`` tags' widths: a quarter of the paper's (conv11 ... conv53), an 80-d identity feature.
HEADS_WIDTHS = (8, 16, 16, 16, 32, 32, 24, 48, 48, 32, 64, 64, 40, 80)
HEADS_DATASET = ("ganzoo procedural heads (ganzoo.data.heads: seeded 3D heads ray-cast at 96x96, 9 yaws from -60 to 60 "
                 "degrees, identity and pose labels; the held-out seed's identities are never trained on)")

# No public weights exist for the CVPR model; the .multipie tags describe the paper's setting.
default_cfgs = {
    "drgan.multipie": _cfg(
        dataset="Multi-PIE (setting of the paper: 200 training identities, 13 poses within +-90 degrees)",
        description="single-image DR-GAN, Multi-PIE configuration (Nd=200, Np=13, Nz=50); no published weights",
    ),
    "drgan_multi.multipie": _cfg(
        dataset="Multi-PIE (setting of the paper: 200 training identities, 13 poses within +-90 degrees)",
        description="multi-image DR-GAN with learned confidence fusion, Multi-PIE configuration; no published weights",
    ),
    # trained by ganzoo on the CPU (python -m ganzoo.train.drgan) at a quarter of the paper's widths. The recipe's
    # step at batch 32 (D on the real + generated batch, then G), measured on one core with torch 2.13: full width
    # 21.1 s, half 7.0, 3/8 4.6, quarter 2.6 s/step. With the usual 1.6-1.8x of a second core (estimated: the shared
    # machine gave no clean 2-thread figure), 2000 steps take ~1.5 h at 3/8 and ~55 min at a quarter
    "drgan.heads": _cfg(
        hub_id="ganzoo/drgan-heads", revision="8119b191eedbf02f9256f9dfdaf621bbd54f1c64",
        sha256="e7f1e533756c8b5751198109db1c31627b3cfcb9a8b3a6f094a110653625067f",
        config={"num_identities": 50, "num_poses": 9, "widths": HEADS_WIDTHS},
        dataset=HEADS_DATASET, license="apache-2.0", half_precision=False,  # fp16 not validated
        description="single-image DR-GAN at a quarter of the paper's widths (80-d identity feature) for ganzoo's "
                    "procedural heads: Nd = 50 training identities, Np = 9 yaws (-60..60 degrees). Trained by ganzoo "
                    "(ganzoo.train.drgan, 1250 steps at batch 32 on one CPU core, the paper's losses plus an L1 "
                    "term to the true render at the target pose). Held out: identity rank-1 of f(x) across pose "
                    "0.912 vs raw pixels 0.654; its rotated outputs reach the target pose 91% of the time (pose "
                    "classifier); outputs are blurred (glasses and eye detail mostly lost). fp32 only.",
    ),
    "drgan_multi.heads": _cfg(
        hub_id="ganzoo/drgan-multi-heads", revision="9b72ef38b3e5ca6920189f258e2177c804f20ddf",
        sha256="0b48eb27c86032095b0fc49d3c514ecf6734a6a0511c3d48183e336c51721a1a",
        config={"num_identities": 50, "num_poses": 9, "widths": HEADS_WIDTHS},
        dataset=HEADS_DATASET, license="apache-2.0", half_precision=False,  # fp16 not validated
        description="multi-image DR-GAN (learned confidences, fused identity feature) at a quarter of the paper's "
                    "widths for ganzoo's procedural heads: Nd = 50 training identities, Np = 9 yaws, N = 3 images "
                    "per person. Trained by ganzoo from drgan.heads (600 more steps at 8 people x 3 images on one "
                    "CPU core, 1.2-1.8 s/step). Held out: f(x) rank-1 across pose 0.944 vs raw pixels 0.654; "
                    "rotated outputs at the target pose 0.999; 3 images at -60/-45/-30 fused: rank-1 0.980 vs 0.950 "
                    "for single images (the learned confidences hardly vary, so fusion equals the mean). fp32 only.",
    ),
}


@register_model
def drgan(**kwargs) -> DRGAN:
    """Single-image DR-GAN (96x96, Nd=200, Np=13, Nz=50 by default)."""
    if kwargs.get("multi_image"):
        raise InvalidConfigError(f"drgan is the single-image model, got multi_image={kwargs['multi_image']!r}; use "
                                 f"drgan_multi for the multi-image variant")
    return DRGAN(DRGANConfig.from_dict(kwargs))


@register_model
def drgan_multi(**kwargs) -> DRGAN:
    """Multi-image DR-GAN: conv53 predicts a confidence per image; forward takes (B, N, C, 96, 96)."""
    if kwargs.get("multi_image") is False:
        raise InvalidConfigError("drgan_multi is the multi-image model; use drgan for the single-image variant")
    kwargs["multi_image"] = True
    return DRGAN(DRGANConfig.from_dict(kwargs))
