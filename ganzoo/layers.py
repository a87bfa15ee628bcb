"""Layers shared by several architectures. Each one exists because at least two models use the same logic."""
from __future__ import annotations

from typing import Callable

import torch
from torch import nn

__all__ = ["make_norm", "make_act", "ConvNormAct", "ResidualBlock", "SubPixelUpsample", "dcgan_init_"]


def make_norm(kind: str | None, channels: int, dims: int = 2) -> nn.Module:
    """``"bn"``, ``"in"`` (instance norm, affine), ``"none"``/None; ``dims`` is 1, 2 or 3."""
    if kind in (None, "none"):
        return nn.Identity()
    if kind == "bn":
        return {1: nn.BatchNorm1d, 2: nn.BatchNorm2d, 3: nn.BatchNorm3d}[dims](channels)
    if kind == "in":
        return {1: nn.InstanceNorm1d, 2: nn.InstanceNorm2d, 3: nn.InstanceNorm3d}[dims](channels, affine=True)
    raise ValueError(f"unknown norm {kind!r}; expected 'bn', 'in' or 'none'")


def make_act(kind: str | None, channels: int | None = None, slope: float = 0.2) -> nn.Module:
    """``"relu"``, ``"lrelu"`` (slope), ``"prelu"`` (one shared slope), ``"prelu_c"`` (per channel), ``"elu"``,
    ``"tanh"``, ``"sigmoid"``, ``"none"``/None."""
    if kind in (None, "none"):
        return nn.Identity()
    factories: dict[str, Callable[[], nn.Module]] = {
        "relu": lambda: nn.ReLU(inplace=True),
        "lrelu": lambda: nn.LeakyReLU(slope, inplace=True),
        "prelu": lambda: nn.PReLU(),
        "prelu_c": lambda: nn.PReLU(channels or 1),
        "elu": lambda: nn.ELU(inplace=True),
        "tanh": nn.Tanh,
        "sigmoid": nn.Sigmoid,
    }
    if kind not in factories:
        raise ValueError(f"unknown activation {kind!r}; expected one of {sorted(factories)} or 'none'")
    return factories[kind]()


class ConvNormAct(nn.Sequential):
    """Conv (2d, 3d or transposed) -> norm -> activation. Bias defaults to off when a norm follows."""

    def __init__(
        self,
        cin: int,
        cout: int,
        kernel_size: int,
        stride: int = 1,
        padding: int = 0,
        *,
        norm: str | None = "bn",
        act: str | None = "relu",
        transposed: bool = False,
        dims: int = 2,
        bias: bool | None = None,
        dilation: int = 1,
        slope: float = 0.2,
    ):
        if bias is None:
            bias = norm in (None, "none")
        conv_cls = {
            (2, False): nn.Conv2d, (2, True): nn.ConvTranspose2d,
            (3, False): nn.Conv3d, (3, True): nn.ConvTranspose3d,
            (1, False): nn.Conv1d, (1, True): nn.ConvTranspose1d,
        }[(dims, transposed)]
        super().__init__(
            conv_cls(cin, cout, kernel_size, stride, padding, dilation=dilation, bias=bias),
            make_norm(norm, cout, dims),
            make_act(act, cout, slope),
        )


class ResidualBlock(nn.Module):
    """x + body(x), body = conv-norm-act-conv-norm (SRResNet, inpainting and other ResNet trunks).

    ``act`` sits between the two convs only (SRGAN). ``dilation`` widens both convs' receptive field with
    matching padding, so the spatial size is kept. Convs are bias-free when a norm follows them.
    """

    def __init__(self, channels: int, kernel_size: int = 3, *, norm: str | None = "bn", act: str | None = "prelu",
                 dilation: int = 1, bias: bool | None = None, slope: float = 0.2):
        super().__init__()
        pad = dilation * (kernel_size - 1) // 2
        self.body = nn.Sequential(
            ConvNormAct(channels, channels, kernel_size, 1, pad, norm=norm, act=act, bias=bias, dilation=dilation,
                        slope=slope),
            ConvNormAct(channels, channels, kernel_size, 1, pad, norm=norm, act=None, bias=bias, dilation=dilation),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class SubPixelUpsample(nn.Sequential):
    """Conv (cin -> cout * r^2) -> PixelShuffle(r) -> activation: the ESPCN/SRGAN upsampler.

    (B, cin, H, W) -> (B, cout, r*H, r*W). Exports to ONNX as Conv -> DepthToSpace(mode="CRD").
    """

    def __init__(self, cin: int, cout: int | None = None, scale: int = 2, kernel_size: int = 3, *,
                 act: str | None = "prelu", bias: bool = True):
        cout = cout or cin
        super().__init__(
            nn.Conv2d(cin, cout * scale * scale, kernel_size, 1, kernel_size // 2, bias=bias),
            nn.PixelShuffle(scale),
            make_act(act, cout),
        )


def is_meta(module: nn.Module) -> bool:
    """True for a model built on the meta device (parameter counting): initialising it would do nothing but cost
    time (``normal_`` on meta tensors goes through torch's Python references, which import torch._dynamo and with
    it triton when installed)."""
    return any(p.is_meta for p in module.parameters())


@torch.no_grad()
def dcgan_init_(module: nn.Module, std: float = 0.02) -> None:
    """The DCGAN initialisation: conv/linear weights N(0, std), norm weights N(1, std), biases 0."""
    if is_meta(module):
        return
    for m in module.modules():
        if isinstance(m, (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.ConvTranspose1d, nn.ConvTranspose2d,
                          nn.ConvTranspose3d, nn.Linear)):
            nn.init.normal_(m.weight, 0.0, std)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d, nn.InstanceNorm2d)) and m.affine:
            nn.init.normal_(m.weight, 1.0, std)
            nn.init.zeros_(m.bias)
