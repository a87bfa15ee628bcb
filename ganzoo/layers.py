"""Layers shared by several architectures. Each one exists because at least two models use the same logic."""
from __future__ import annotations

from typing import Callable

import torch
from torch import nn

__all__ = ["make_norm", "make_act", "ConvNormAct", "dcgan_init_"]


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


@torch.no_grad()
def dcgan_init_(module: nn.Module, std: float = 0.02) -> None:
    """The DCGAN initialisation: conv/linear weights N(0, std), norm weights N(1, std), biases 0."""
    for m in module.modules():
        if isinstance(m, (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.ConvTranspose1d, nn.ConvTranspose2d,
                          nn.ConvTranspose3d, nn.Linear)):
            nn.init.normal_(m.weight, 0.0, std)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d, nn.InstanceNorm2d)) and m.affine:
            nn.init.normal_(m.weight, 1.0, std)
            nn.init.zeros_(m.bias)
