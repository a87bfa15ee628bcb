"""TGAN: the PyTorch port in Zasder3/Latent-Neural-Differential-Equations-for-Video-Generation.

Layout assumed, read from that repository's ``models/tgan.py`` (commit eeac20ce); it publishes no checkpoint, so
the tests exercise the mapping on modules rebuilt from that source with random weights.

``VideoGenerator`` (keys ``temp.model.*``, ``slow.*``, ``fast.*``, ``model.*``):

=============================================  ==================================================
port                                           ganzoo
=============================================  ==================================================
``temp.model.{0,3,6,9,12}`` ConvTranspose1d    ``generator.temporal.main.{same index}``
``temp.model.{1,4,7,10}`` BatchNorm1d          ``generator.temporal.main.{same index}``
``slow.{0,1}`` / ``fast.{0,1}`` Linear, BN1d   ``generator.image.slow.{0,1}`` / ``.fast.{0,1}``
``model.{0,3,6,9}`` ConvTranspose2d 4/2/1      ``generator.image.main.{same index}``
``model.{1,4,7,10}`` BatchNorm2d               ``generator.image.main.{same index}``
``model.12`` ConvTranspose2d 32->3, 3/1/1      ``generator.image.main.12`` Conv2d 32->3, 3/1/1:
                                               weight.transpose(0, 1).flip(2, 3), bias as is
=============================================  ==================================================

A stride-1 transposed conv with padding p = k - 1 - p equals a conv with the kernel rotated by 180 degrees and its
in/out axes swapped, so that last layer converts exactly.

``VideoDiscriminator`` (keys ``model3d.*``, ``conv2d.*``): ``model3d.{0,2,3,5,6,8,9}`` ->
``discriminator.main.{same index}``, ``conv2d`` -> ``discriminator.head``.

The port's training script saves ``{"epoch", "model_state_dict": [G, D], "optimizer_state_dict": [...]}``; the
state dicts sit in a list, which the generic unwrapper does not descend into, so use
:func:`load_zasder3_checkpoint` (or pass one of the two dicts). G's and D's key names do not collide, so a merged
dict of both converts too. (``ganzoo.load(PATH, allow_pickle=True)`` and ``ganzoo convert`` find the two dicts in
that list themselves.)

Hyper-parameters from shapes (:func:`tgan_config`, on ganzoo keys): ``z_dim`` and ``temporal_widths`` from G0's
transposed convs ``(in, out, k)``, ``frame_z_dim`` from its last; ``g_widths[0]`` = 2 x the slow Linear's
``out_features / 16`` (it is viewed as ``g_widths[0] / 2`` x 4 x 4), the rest from G1's transposed convs; ``nc``
from G1's last conv; ``d_widths`` and ``nc`` from D's 3D convs. I/O convention: z0 ~ U(-1, 1), videos in [-1, 1].
"""
from __future__ import annotations

import os
import re
from typing import Any, Mapping

import torch

from ganzoo.errors import UnknownCheckpointLayoutError

from . import register_converter, register_ganzoo_infer

__all__ = ["convert_zasder3_tgan", "merge_zasder3_checkpoint", "load_zasder3_checkpoint"]

# Longest prefixes first: "model3d." must win over "model.".
_PREFIX_MAP = (
    ("temp.model.", "generator.temporal.main."),
    ("slow.", "generator.image.slow."),
    ("fast.", "generator.image.fast."),
    ("model3d.", "discriminator.main."),
    ("conv2d.", "discriminator.head."),
    ("model.", "generator.image.main."),
)
_LAST_CONV = "model.12.weight"


def _is_zasder3(keys: set[str]) -> bool:
    if not keys or not all(k.startswith(tuple(p for p, _ in _PREFIX_MAP)) for k in keys):
        return False
    return "temp.model.0.weight" in keys or ("model3d.0.weight" in keys and "conv2d.weight" in keys)


def convert_zasder3_tgan(sd: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Port ``VideoGenerator`` and/or ``VideoDiscriminator`` state dict -> ganzoo ``tgan`` keys."""
    if not _is_zasder3(set(sd)):
        raise UnknownCheckpointLayoutError(f"not a Zasder3 TGAN state dict: first keys {sorted(sd)[:6]}; expected "
                                           f"temp.model.* / slow.* / fast.* / model.* or model3d.* / conv2d.*")
    out: dict[str, torch.Tensor] = {}
    for k, v in sd.items():
        src, dst = next((s, d) for s, d in _PREFIX_MAP if k.startswith(s))
        if k == _LAST_CONV:
            if v.dim() != 4:
                raise UnknownCheckpointLayoutError(f"{k} has shape {tuple(v.shape)}; expected a ConvTranspose2d "
                                                   f"weight (32, 3, 3, 3)")
            v = v.transpose(0, 1).flip(2, 3).contiguous()  # ConvTranspose2d (in, out, k, k) -> Conv2d (out, in, k, k)
        out[dst + k[len(src):]] = v
    return out


def merge_zasder3_checkpoint(obj: Any) -> dict[str, torch.Tensor]:
    """The port's training checkpoint (``model_state_dict`` = [G, D]) or a plain state dict -> one flat dict in
    the port's key names (G and D merged)."""
    if isinstance(obj, Mapping) and isinstance(obj.get("model_state_dict"), (list, tuple)):
        merged: dict[str, torch.Tensor] = {}
        for part in obj["model_state_dict"]:
            if not isinstance(part, Mapping):
                raise UnknownCheckpointLayoutError(f"model_state_dict holds a {type(part).__name__}; expected dicts")
            merged.update({str(k): v for k, v in part.items() if isinstance(v, torch.Tensor)})
        return merged
    from . import unwrap_state_dict

    return unwrap_state_dict(obj)


def load_zasder3_checkpoint(path: str | os.PathLike, *, allow_pickle: bool = False) -> dict[str, torch.Tensor]:
    """Load a port checkpoint file (pickles only with ``allow_pickle=True``, through ``weights_only=True``) and
    return ganzoo ``tgan`` keys."""
    from ..io import load_weights_file

    return convert_zasder3_tgan(merge_zasder3_checkpoint(load_weights_file(path, allow_pickle=allow_pickle)))


def _weights(sd: Mapping[str, torch.Tensor], prefix: str, dim: int) -> list[torch.Tensor]:
    pat = re.compile(re.escape(prefix) + r"(\d+)\.weight$")
    idx = sorted(int(m.group(1)) for k in sd if (m := pat.match(k)) and sd[k].dim() == dim)
    return [sd[f"{prefix}{i}.weight"] for i in idx]


def tgan_config(sd: Mapping[str, torch.Tensor]) -> tuple[str, dict[str, Any]]:
    """``(model name, config)`` of ganzoo-layout TGAN weights (generator, discriminator or both), from shapes."""
    cfg: dict[str, Any] = {}
    temporal = _weights(sd, "generator.temporal.main.", 3)
    if temporal:
        if len(temporal) != 5:
            raise UnknownCheckpointLayoutError(f"TGAN temporal generator with {len(temporal)} transposed convs; "
                                               f"expected 5 (16 frames)")
        image = _weights(sd, "generator.image.main.", 4)
        if len(image) != 5 or "generator.image.slow.0.weight" not in sd:
            raise UnknownCheckpointLayoutError(f"TGAN image generator with {len(image)} convs; expected 5 and the "
                                               f"slow/fast Linear layers")
        slow = sd["generator.image.slow.0.weight"]
        if slow.shape[0] % 16:
            raise UnknownCheckpointLayoutError(f"TGAN slow Linear has {slow.shape[0]} outputs, not C x 4 x 4")
        cfg.update(z_dim=int(temporal[0].shape[0]), temporal_widths=tuple(int(w.shape[1]) for w in temporal[:4]),
                   frame_z_dim=int(temporal[4].shape[1]),
                   g_widths=(2 * int(slow.shape[0]) // 16,) + tuple(int(w.shape[1]) for w in image[:4]),
                   nc=int(image[4].shape[0]))
    d = _weights(sd, "discriminator.main.", 5)
    if d:
        if len(d) != 4:
            raise UnknownCheckpointLayoutError(f"TGAN discriminator with {len(d)} 3D convs; expected 4")
        nc = int(d[0].shape[1])
        if cfg.get("nc", nc) != nc:
            raise UnknownCheckpointLayoutError(f"TGAN generator makes {cfg['nc']} channels, the discriminator reads "
                                               f"{nc}")
        cfg.update(d_widths=tuple(int(w.shape[0]) for w in d), nc=nc)
    if not cfg:
        raise UnknownCheckpointLayoutError("no TGAN generator (temporal.main.*) or discriminator (main.*) weights")
    return "tgan", cfg


@register_ganzoo_infer("tgan")
def _ganzoo_tgan(sd: dict[str, torch.Tensor]) -> tuple[str, dict[str, Any]] | None:
    if not all(k.startswith(("generator.temporal.", "generator.image.", "discriminator.main.",
                             "discriminator.head.")) for k in sd):
        return None
    return tgan_config(sd)


def _infer_zasder3(sd: dict[str, torch.Tensor]) -> tuple[str, dict[str, Any]]:
    return tgan_config(convert_zasder3_tgan(sd))


_MATCH = re.compile(r"^(temp\.model|slow|fast|model3d|model)\.\d+\.(weight|bias|running_mean|running_var|"
                    r"num_batches_tracked)$|^conv2d\.(weight|bias)$")


def _match_zasder3(key: str) -> bool:
    return _MATCH.match(key) is not None


@register_converter("tgan", "zasder3", _is_zasder3,
                    "Zasder3/Latent-Neural-Differential-Equations-for-Video-Generation TGAN port: VideoGenerator "
                    "(temp.model/slow/fast/model) and VideoDiscriminator (model3d/conv2d)",
                    infer=_infer_zasder3, match=_match_zasder3)
def convert_zasder3(sd: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return convert_zasder3_tgan(sd)
