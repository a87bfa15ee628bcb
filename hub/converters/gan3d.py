"""3D-GAN: checkpoints in the layout of the common PyTorch port (rimchang/3DGAN-Pytorch, ``3D_GAN/model.py``).

Assumed layout, one file per network (``G.pth`` / ``D.pth``, a plain ``state_dict``, possibly nested under
``state_dict`` / ``model`` or prefixed ``module.``, which the framework strips):

- generator ``_G``: ``layer{1..5}.0.weight`` (ConvTranspose3d, shape ``(in, out, 4, 4, 4)``; ``layer1`` takes z,
  ``(200, 512, 4, 4, 4)``), BatchNorm3d at ``layer{1..4}.1.{weight,bias,running_mean,running_var}``
  (+ ``num_batches_tracked`` in PyTorch >= 0.4), ``layer5`` ends with a Sigmoid (no weights);
- discriminator ``_D``: ``layer{1..5}.0.weight`` (Conv3d, ``(out, in, 4, 4, 4)``; ``layer1`` takes the 1-channel
  volume, ``(64, 1, 4, 4, 4)``), BatchNorm3d at ``layer{1..4}.1.*`` (including after the first conv), ``layer5`` a
  Conv3d 512->1 followed by a Sigmoid. ganzoo's D returns the logits before that Sigmoid, so the weights are the
  same and ``sigmoid(ganzoo_D(x))`` equals the port's output.
- ``layer{i}.0.bias`` is present only when the port was run with ``--bias True`` (default off); build the ganzoo
  model with ``conv_bias=True`` for such checkpoints.

G and D are told apart by weight shapes: D's first conv has one input channel (``layer1.0.weight.shape[1] == 1``),
G's first transposed conv has ``ngf * 8`` output channels. ``layer{i}.{0,1}`` maps to ``{generator,discriminator}
.main.{i-1}.{0,1}``. The port's D has BatchNorm after its first conv: load it into
``ganzoo.create("gan3d", d_first_norm=True)``.

Only the port's 64^3 configuration (``--cube_len 64``, the paper's) matches ganzoo's computation. With
``--cube_len 32`` the port keeps five layers, pads its first transposed conv by 1 (a 2^3 start) and halves every
width; those tensors have exactly the shapes of ``gan3d(ngf=32)`` but compute a different function, and no tensor
tells the two apart, so a warning is logged whenever a 256-wide first layer is converted.

Hyper-parameters from shapes (:func:`gan3d_config`, on ganzoo keys): G's first transposed conv
``(nz, ngf * 2^(n-2), 4, 4, 4)`` gives ``nz``, its last ``(ngf, 1, 4, 4, 4)`` gives ``ngf``; D's first conv
``(ndf, 1, 4, 4, 4)`` gives ``ndf``; n layers make a ``2^(n+1)`` volume (5: 64^3); ``conv_bias`` = whether the convs
carry biases; ``d_first_norm`` = whether D has a BatchNorm after its first conv. The port's layout always has
that BatchNorm, so a port generator alone also gets ``d_first_norm=True`` (its discriminator then loads into the
same model). Output: occupancy in [0, 1] through a sigmoid, as in ganzoo.
"""
from __future__ import annotations

import logging
import re
from typing import Any

import torch

from ganzoo.errors import UnknownCheckpointLayoutError

from . import register_converter, register_ganzoo_infer

logger = logging.getLogger(__name__)

_KEY_RE = re.compile(r"^layer(\d+)\.([01])\.(weight|bias|running_mean|running_var|num_batches_tracked)$")


def _layer_count(keys: set[str]) -> int | None:
    """Number of ``layerN`` blocks when every key fits the port's layout and the blocks are contiguous."""
    idx = set()
    for k in keys:
        m = _KEY_RE.match(k)
        if m is None:
            return None
        idx.add(int(m.group(1)))
    if not idx or idx != set(range(1, max(idx) + 1)):
        return None
    if any(f"layer{i}.0.weight" not in keys for i in idx):
        return None
    return max(idx)


def _is_rimchang(keys: set[str]) -> bool:
    n = _layer_count(keys)
    return n is not None and n >= 3


_GANZOO_KEY = re.compile(r"^(generator|discriminator)\.main\.(\d+)\.([01])\."
                         r"(weight|bias|running_mean|running_var|num_batches_tracked)$")


def _layers(sd: dict[str, torch.Tensor], part: str) -> list[torch.Tensor]:
    idx = sorted(int(m.group(2)) for k in sd if (m := _GANZOO_KEY.match(k)) and m.group(1) == part
                 and m.group(3) == "0" and m.group(4) == "weight")
    if idx != list(range(len(idx))):
        raise UnknownCheckpointLayoutError(f"3D-GAN {part} layers {idx}; expected 0..N-1")
    return [sd[f"{part}.main.{i}.0.weight"] for i in idx]


def _volume(n: int, part: str) -> int:
    size = 2 ** (n + 1)
    if size not in (16, 32, 64, 128):
        raise UnknownCheckpointLayoutError(f"3D-GAN {part} with {n} layers ({size}^3); ganzoo's has 3 to 6")
    return size


def gan3d_config(sd: dict[str, torch.Tensor]) -> tuple[str, dict[str, Any]]:
    """``(model name, config)`` of ganzoo-layout 3D-GAN weights (generator, discriminator or both), from shapes."""
    cfg: dict[str, Any] = {}
    g = _layers(sd, "generator")
    if g:
        if any(w.dim() != 5 for w in g):
            raise UnknownCheckpointLayoutError("3D-GAN generator weights must be 5-d ConvTranspose3d kernels")
        cfg.update(nz=int(g[0].shape[0]), ngf=int(g[-1].shape[0]), volume_size=_volume(len(g), "generator"),
                   conv_bias="generator.main.0.0.bias" in sd)
    d = _layers(sd, "discriminator")
    if d:
        if any(w.dim() != 5 for w in d) or d[0].shape[1] != 1:
            raise UnknownCheckpointLayoutError("3D-GAN discriminator weights must be 5-d Conv3d kernels reading "
                                               "one channel")
        vol, bias = _volume(len(d), "discriminator"), "discriminator.main.0.0.bias" in sd
        for k, v in (("volume_size", vol), ("conv_bias", bias)):
            if cfg.get(k, v) != v:
                raise UnknownCheckpointLayoutError(f"3D-GAN generator and discriminator disagree on {k}: "
                                                   f"{cfg[k]} vs {v}")
        cfg.update(ndf=int(d[0].shape[0]), volume_size=vol, conv_bias=bias,
                   d_first_norm="discriminator.main.0.1.running_mean" in sd)
    if not cfg:
        raise UnknownCheckpointLayoutError("no 3D-GAN main.<i>.0.weight tensors found")
    return ("gan3d_32" if cfg["volume_size"] == 32 else "gan3d"), cfg


@register_ganzoo_infer("gan3d")
def _ganzoo_gan3d(sd: dict[str, torch.Tensor]) -> tuple[str, dict[str, Any]] | None:
    if not all(_GANZOO_KEY.match(k) for k in sd):
        return None
    return gan3d_config(sd)


def _infer_rimchang(sd: dict[str, torch.Tensor]) -> tuple[str, dict[str, Any]]:
    name, cfg = gan3d_config(_map_rimchang(sd, warn=False))
    return name, {**cfg, "d_first_norm": True}


def _match_rimchang(key: str) -> bool:
    return _KEY_RE.match(key) is not None


@register_converter("gan3d", "rimchang-3dgan-pytorch", _is_rimchang,
                    "rimchang/3DGAN-Pytorch _G / _D state dicts (layer{1..5}.{0,1}.*), 64^3",
                    infer=_infer_rimchang, match=_match_rimchang)
def convert_rimchang(sd: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return _map_rimchang(sd, warn=True)


def _map_rimchang(sd: dict[str, torch.Tensor], *, warn: bool) -> dict[str, torch.Tensor]:
    n = _layer_count(set(sd))
    if n is None:
        raise UnknownCheckpointLayoutError(
            f"not a rimchang/3DGAN-Pytorch state dict: expected keys layer{{1..N}}.{{0,1}}.*, got {sorted(sd)[:8]}")
    for i in range(1, n + 1):
        w = sd[f"layer{i}.0.weight"]
        if w.dim() != 5:
            raise UnknownCheckpointLayoutError(
                f"layer{i}.0.weight: expected a 5-d Conv3d/ConvTranspose3d weight, got shape {tuple(w.shape)}")
    first = sd["layer1.0.weight"]
    part = "discriminator" if first.shape[1] == 1 else "generator"
    width = first.shape[0] if part == "discriminator" else first.shape[1]
    if warn and part == "generator" and n == 5 and width == 256:
        logger.warning("gan3d converter: this generator is 256 wide at its first layer; if it was trained with "
                       "rimchang/3DGAN-Pytorch --cube_len 32 it computes a different function from ganzoo's "
                       "gan3d(ngf=32) (see ganzoo/hub/converters/gan3d.py)")
    out: dict[str, torch.Tensor] = {}
    for k, v in sd.items():
        m = _KEY_RE.match(k)
        assert m is not None  # checked by _layer_count
        out[f"{part}.main.{int(m.group(1)) - 1}.{m.group(2)}.{m.group(3)}"] = v
    # Checkpoints saved by PyTorch < 0.4 have no BatchNorm step counter; ganzoo's modules expect one.
    for k in list(out):
        if k.endswith(".running_mean"):
            nbt = k[: -len("running_mean")] + "num_batches_tracked"
            out.setdefault(nbt, torch.tensor(0, dtype=torch.long))
    return out
