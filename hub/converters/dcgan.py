"""DCGAN: pytorch/examples ``dcgan`` and csinva/gan-vae-pretrained-pytorch checkpoints.

Both keep ganzoo's own module layout (``main.{0,3,6,9,12}.weight`` for the transposed convs, BN at
``main.{1,4,7,10}.*``), saved as separate generator (netG) and discriminator (netD) files, or together as
``{"netG_state_dict": ..., "netD_state_dict": ...}`` (the PyTorch DCGAN tutorial; the detection framework
splits such pairs). The networks are told apart by ``main.1``: BatchNorm in G, a parameter-free LeakyReLU in D.

Hyper-parameters from shapes (:func:`dcgan_config`). Generator: the transposed convs ``main.{3i}.weight`` have
shape ``(in, out, 4, 4)``; the first is ``(nz, ngf * 2^(n-2), 4, 4)``, the last ``(ngf, nc, 4, 4)``, and n convs
make an image of side ``2^(n+1)`` (5 convs: 64x64). Discriminator: convs at ``main.0`` and ``main.{3i-1}``,
``(out, in, 4, 4)``; the first is ``(ndf, nc, 4, 4)``, the last ``(1, ndf * 2^(n-2), 4, 4)``, n convs read a
``2^(n+1)`` image. I/O convention: z ~ N(0, 1), images in [-1, 1] through a tanh, as ganzoo's DCGAN.
"""
from __future__ import annotations

import re
from typing import Any

import torch

from ganzoo.errors import UnknownCheckpointLayoutError

from . import register_converter, register_ganzoo_infer

_KEY = re.compile(r"main\.(\d+)\.(weight|bias|running_mean|running_var|num_batches_tracked)")


def _is_dcgan(keys: set[str]) -> bool:
    return "main.0.weight" in keys and all(k.startswith("main.") for k in keys)


def _match(key: str) -> bool:
    return _KEY.fullmatch(key) is not None


def _convs(sd: dict[str, torch.Tensor], prefix: str) -> list[torch.Tensor]:
    """4-d conv weights under ``prefix`` (``main.`` Sequential indices), in index order."""
    idx = sorted(int(m.group(1)) for k in sd if (m := re.fullmatch(re.escape(prefix) + r"(\d+)\.weight", k))
                 and sd[k].dim() == 4)
    return [sd[f"{prefix}{i}.weight"] for i in idx]


def _side(n_convs: int, what: str) -> int:
    size = 2 ** (n_convs + 1)
    if size not in (16, 32, 64, 128):
        raise UnknownCheckpointLayoutError(f"DCGAN {what} with {n_convs} convs ({size}x{size} images); ganzoo's DCGAN "
                                           f"has 3 to 6 (16 to 128 pixels)")
    return size


def dcgan_config(sd: dict[str, torch.Tensor]) -> tuple[str, dict[str, Any]]:
    """``(model name, config)`` of ganzoo-layout DCGAN weights (generator, discriminator or both), from shapes."""
    cfg: dict[str, Any] = {}
    g = _convs(sd, "generator.main.")
    if g:
        side = _side(len(g), "generator")
        cfg.update(nz=int(g[0].shape[0]), ngf=int(g[-1].shape[0]), nc=int(g[-1].shape[1]), image_size=side)
    d = _convs(sd, "discriminator.main.")
    if d:
        side = _side(len(d), "discriminator")
        if cfg.get("image_size", side) != side:
            raise UnknownCheckpointLayoutError(f"DCGAN generator makes {cfg['image_size']}px images but the "
                                               f"discriminator reads {side}px")
        if cfg.get("nc", int(d[0].shape[1])) != int(d[0].shape[1]):
            raise UnknownCheckpointLayoutError(f"DCGAN generator has {cfg['nc']} image channels, the discriminator "
                                               f"{int(d[0].shape[1])}")
        cfg.update(ndf=int(d[0].shape[0]), nc=int(d[0].shape[1]), image_size=side)
    if not cfg:
        raise UnknownCheckpointLayoutError("no DCGAN conv weights (main.<i>.weight) found")
    return ("dcgan_32" if cfg["image_size"] == 32 else "dcgan"), cfg


@register_ganzoo_infer("dcgan")
def _ganzoo_dcgan(sd: dict[str, torch.Tensor]) -> tuple[str, dict[str, Any]] | None:
    if not all(re.fullmatch(r"(generator|discriminator)\." + _KEY.pattern, k) for k in sd):
        return None
    return dcgan_config(sd)


def _infer(sd: dict[str, torch.Tensor]) -> tuple[str, dict[str, Any]]:
    return dcgan_config(convert_pytorch_examples(sd))


@register_converter("dcgan", "pytorch-examples", _is_dcgan,
                    "pytorch/examples dcgan netG/netD (also the PyTorch DCGAN tutorial and "
                    "csinva/gan-vae-pretrained-pytorch)", infer=_infer, match=_match)
def convert_pytorch_examples(sd: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    # The reference D ends with Sigmoid, which holds no weights, so its keys line up with ganzoo's logits-out D.
    # G has BatchNorm right after its first layer (main.1); D has a LeakyReLU there, so no main.1 tensors.
    part = "generator" if "main.1.running_mean" in sd else "discriminator"
    return {f"{part}.{k}": v for k, v in sd.items()}
