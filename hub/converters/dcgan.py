"""DCGAN: pytorch/examples ``dcgan`` and csinva/gan-vae-pretrained-pytorch checkpoints.

Both keep ganzoo's own module layout (``main.{0,3,6,9,12}.weight`` for the transposed convs, BN at
``main.{1,4,7,10}.*``), saved as separate generator (netG) and discriminator (netD) files. The networks are told
apart by ``main.1``: BatchNorm in G, a parameter-free LeakyReLU in D.
"""
from __future__ import annotations

import torch

from . import register_converter


def _is_dcgan(keys: set[str]) -> bool:
    return "main.0.weight" in keys and all(k.startswith("main.") for k in keys)


@register_converter("dcgan", "pytorch-examples", _is_dcgan,
                    "pytorch/examples dcgan netG/netD (also csinva/gan-vae-pretrained-pytorch)")
def convert_pytorch_examples(sd: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    # The reference D ends with Sigmoid, which holds no weights, so its keys line up with ganzoo's logits-out D.
    # G has BatchNorm right after its first layer (main.1); D has a LeakyReLU there, so no main.1 tensors.
    part = "generator" if "main.1.running_mean" in sd else "discriminator"
    return {f"{part}.{k}": v for k, v in sd.items()}
