"""DR-GAN: kayamin/DR-GAN (PyTorch, CVPR 2017 layout) checkpoints.

Layout assumed. It was read from the repository's ``model/single_DR_GAN_model.py`` (commit 0cfe8d1e) and
``model/multiple_DR_GAN_model.py`` (commit 04b4970b); no kayamin checkpoint was available to check it against, and
the repository publishes none, so the tests exercise it on a module rebuilt from that source with random weights.

Generator (``Generator(Np, Nz, channel_num)``):

* ``G_enc_convLayers.{i}``: an ``nn.Sequential`` of 14 x [Conv2d 3x3 bias-free, BatchNorm2d, ELU], with an
  ``nn.ZeroPad2d((0, 1, 0, 1))`` before each of the four stride-2 convs and an ``AvgPool2d(6)`` at the end, so the
  convs sit at indices 0, 3, 7, 10, 13, 17, ... and each BN right after its conv. The multi-image generator's last
  conv and BN have 321 channels (320 + the confidence).
* ``G_dec_fc``: ``nn.Linear(320 + Np + Nz, 320 * 6 * 6)``, input order [f(x), pose one-hot, noise].
* ``G_dec_convLayers.{i}``: 14 ConvTranspose2d 3x3 bias-free, each but the last followed by BatchNorm2d + ELU; the
  four stride-2 ones (padding 0) are followed by ``Crop([0, 1, 0, 1])`` (after the ELU); Tanh last (ELU in the
  multi-image file, a slip ganzoo does not copy: its output is Tanh in both variants).

Discriminator (``Discriminator(Nd, Np, channel_num)``): ``convLayers.{i}`` exactly like ``G_enc_convLayers`` (320
channels), and one ``fc = nn.Linear(320, Nd + 1 + Np)`` whose rows are [Nd identities, the real/fake unit, Np
poses]. ganzoo has two heads, ``identity_head`` (Nd + 1: the identities, then "fake" at index Nd) and
``pose_head`` (Np), so the rows are split after Nd + 1. kayamin trains that unit as a sigmoid real/fake logit
(BCE) rather than the paper's (Nd + 1)-th softmax class; the weights map one to one either way.

Tensors are matched by order, not by index arithmetic: the i-th conv weight (4-d) of a Sequential goes to the
i-th conv of ganzoo's, the i-th BatchNorm (the index group with ``running_mean``) to the i-th BN.

Splitting ``fc`` needs Np, which the key names do not give. It is taken from the generator's ``G_dec_fc`` when the
checkpoint holds both networks (Np = in_features - F - Nz, Nz = 50, F = out_features / 36 = 320 in the paper's
widths), else it defaults to 13 (Multi-PIE); call
:func:`convert_kayamin_drgan` with ``num_poses=`` for other data. A wrong guess cannot load silently: the split
shapes then disagree with the model's and loading raises StateDictMismatchError.

Later kayamin commits add an illumination code (fc rows Nd + 1 + Np + Ni, G_dec_fc input 320 + Np + Ni + Nz);
that layout is not the paper's and is not supported. kayamin saved whole pickled modules (``torch.save(model)``);
re-save them as ``model.state_dict()`` with its code on the path before converting.

Hyper-parameters from shapes (:func:`drgan_config`, on ganzoo keys): ``widths`` = the 14 encoder convs' output
channels (G's or D's), ``nc`` = the first conv's input channels; ``multi_image`` when G's last encoder conv has one
channel more than the feature size F = fc out_features / 36 (the confidence); ``num_identities`` / ``num_poses``
from D's heads (Nd + 1 and Np rows); ``nz`` = G's fc in_features - F - Np, with Np from D's pose head when present,
else Nz = 50 (kayamin's value) and Np the rest. I/O convention: faces in [-1, 1], tanh output, as in ganzoo.
"""
from __future__ import annotations

import logging
import re
from collections import defaultdict
from typing import Any

import torch

from ganzoo.errors import UnknownCheckpointLayoutError

from . import register_converter, register_ganzoo_infer

logger = logging.getLogger(__name__)

__all__ = ["convert_kayamin_drgan"]

_G_PREFIXES = ("G_enc_convLayers.", "G_dec_convLayers.", "G_dec_fc.")
_D_PREFIXES = ("convLayers.", "fc.")
_BN_PARAMS = ("weight", "bias", "running_mean", "running_var", "num_batches_tracked")
_N_ENC, _N_DEC = 14, 14  # convs in the encoder / transposed convs in the decoder (the last without BN)
_KEY_RE = re.compile(r"^(\d+)\.(\w+)$")
DEFAULT_NUM_POSES, DEFAULT_NZ, FEATURE_DIM = 13, 50, 320
FEATURE_SIZE = 6  # side of the decoder's first feature map: fc out_features = F * 6 * 6


def _is_kayamin(keys: set[str]) -> bool:
    if not keys or not all(k.startswith(_G_PREFIXES + _D_PREFIXES) for k in keys):
        return False
    has_g = "G_dec_fc.weight" in keys and any(k.startswith("G_enc_convLayers.") for k in keys)
    has_d = "fc.weight" in keys and any(k.startswith("convLayers.") for k in keys)
    return has_g or has_d


def _split_sequential(sd: dict[str, torch.Tensor],
                      prefix: str) -> tuple[list[torch.Tensor], list[dict[str, torch.Tensor]]]:
    """The convs (4-d weights) and BatchNorms (groups with running_mean) of ``prefix``'s Sequential, in index order."""
    groups: dict[int, dict[str, torch.Tensor]] = defaultdict(dict)
    for k, v in sd.items():
        if not k.startswith(prefix):
            continue
        m = _KEY_RE.match(k[len(prefix):])
        if not m:
            raise UnknownCheckpointLayoutError(f"unexpected key {k!r} in a kayamin/DR-GAN checkpoint; expected "
                                               f"'{prefix}<index>.<param>'")
        groups[int(m.group(1))][m.group(2)] = v
    convs, bns = [], []
    for i in sorted(groups):
        g = groups[i]
        if "running_mean" in g:
            bns.append(g)
        elif set(g) == {"weight"} and g["weight"].dim() == 4:
            convs.append(g["weight"])
        else:
            raise UnknownCheckpointLayoutError(f"{prefix}{i} holds {sorted(g)}; expected a bias-free conv (weight "
                                               f"only) or a BatchNorm2d")
    return convs, bns


def _map_trunk(sd: dict[str, torch.Tensor], src: str, dst: str, n_conv: int, n_bn: int) -> dict[str, torch.Tensor]:
    convs, bns = _split_sequential(sd, src)
    if len(convs) != n_conv or len(bns) != n_bn:
        raise UnknownCheckpointLayoutError(f"{src}* has {len(convs)} convs and {len(bns)} BatchNorms; the DR-GAN "
                                           f"CVPR layout has {n_conv} and {n_bn}")
    out: dict[str, torch.Tensor] = {}
    for i, w in enumerate(convs):
        out[f"{dst}.{i}.conv.weight"] = w
    for i, bn in enumerate(bns):
        for p in _BN_PARAMS:
            if p in bn:
                out[f"{dst}.{i}.bn.{p}"] = bn[p]
    return out


def convert_kayamin_drgan(sd: dict[str, torch.Tensor], num_poses: int | None = None,
                          nz: int = DEFAULT_NZ) -> dict[str, torch.Tensor]:
    """kayamin/DR-GAN ``Generator`` and/or ``Discriminator`` state dict -> ganzoo ``drgan``/``drgan_multi`` keys.

    ``num_poses`` (Np) is only needed to split the discriminator's ``fc``; by default it is read from the
    generator's ``G_dec_fc`` when present (with noise size ``nz``), else 13.
    """
    keys = set(sd)
    if not _is_kayamin(keys):
        raise UnknownCheckpointLayoutError(
            f"not a kayamin/DR-GAN state dict: first keys {sorted(keys)[:6]}; expected G_enc_convLayers.* / "
            f"G_dec_convLayers.* / G_dec_fc.* or convLayers.* / fc.*")
    out: dict[str, torch.Tensor] = {}
    if "G_dec_fc.weight" in keys:
        out.update(_map_trunk(sd, "G_enc_convLayers.", "generator.encoder.layers", _N_ENC, _N_ENC))
        out.update(_map_trunk(sd, "G_dec_convLayers.", "generator.decoder", _N_DEC, _N_DEC - 1))
        out["generator.fc.weight"] = sd["G_dec_fc.weight"]
        if "G_dec_fc.bias" in sd:
            out["generator.fc.bias"] = sd["G_dec_fc.bias"]
    if "fc.weight" in keys:
        out.update(_map_trunk(sd, "convLayers.", "discriminator.encoder.layers", _N_ENC, _N_ENC))
        if num_poses is None:
            if "G_dec_fc.weight" in keys:
                feature = sd["G_dec_fc.weight"].shape[0] // FEATURE_SIZE ** 2
                num_poses = sd["G_dec_fc.weight"].shape[1] - feature - nz
                logger.info("kayamin/DR-GAN: Np = %d read from G_dec_fc (assuming Nz = %d)", num_poses, nz)
            else:
                num_poses = DEFAULT_NUM_POSES
                logger.info("kayamin/DR-GAN: discriminator alone, assuming Np = %d (Multi-PIE); pass num_poses= "
                            "to convert_kayamin_drgan otherwise", num_poses)
        w, b = sd["fc.weight"], sd.get("fc.bias")
        n_id = w.shape[0] - num_poses  # Nd + 1
        if n_id < 2:
            raise UnknownCheckpointLayoutError(f"fc has {w.shape[0]} outputs, too few for Np = {num_poses} poses plus "
                                               f"identities and the fake class")
        # Clones, not views: safetensors refuses tensors that share storage.
        out["discriminator.identity_head.weight"] = w[:n_id].clone()
        out["discriminator.pose_head.weight"] = w[n_id:].clone()
        if b is not None:
            out["discriminator.identity_head.bias"] = b[:n_id].clone()
            out["discriminator.pose_head.bias"] = b[n_id:].clone()
    return out


def _enc_widths(sd: dict[str, torch.Tensor], prefix: str) -> list[int]:
    pat = re.compile(re.escape(prefix) + r"(\d+)\.conv\.weight$")
    idx = sorted(int(m.group(1)) for k in sd if (m := pat.match(k)))
    if idx != list(range(_N_ENC)):
        raise UnknownCheckpointLayoutError(f"DR-GAN encoder {prefix}* has convs {idx}; expected 0..{_N_ENC - 1}")
    return [int(sd[f"{prefix}{i}.conv.weight"].shape[0]) for i in idx]


def drgan_config(sd: dict[str, torch.Tensor]) -> tuple[str, dict[str, Any]]:
    """``(model name, config)`` of ganzoo-layout DR-GAN weights (generator, discriminator or both), from shapes."""
    cfg: dict[str, Any] = {}
    has_g, has_d = "generator.fc.weight" in sd, "discriminator.pose_head.weight" in sd
    if has_d:
        widths = _enc_widths(sd, "discriminator.encoder.layers.")
        cfg.update(widths=tuple(widths), nc=int(sd["discriminator.encoder.layers.0.conv.weight"].shape[1]),
                   num_identities=int(sd["discriminator.identity_head.weight"].shape[0]) - 1,
                   num_poses=int(sd["discriminator.pose_head.weight"].shape[0]))
    if has_g:
        fc = sd["generator.fc.weight"]
        feature = int(fc.shape[0]) // FEATURE_SIZE ** 2
        enc = _enc_widths(sd, "generator.encoder.layers.")
        multi = enc[-1] == feature + 1
        if not multi and enc[-1] != feature:
            raise UnknownCheckpointLayoutError(f"DR-GAN generator: fc makes {feature} x 6 x 6 features but the encoder "
                                               f"ends with {enc[-1]} channels (expected {feature} or {feature + 1})")
        widths = enc[:-1] + [feature]
        nc = int(sd["generator.encoder.layers.0.conv.weight"].shape[1])
        for k, v in (("widths", tuple(widths)), ("nc", nc)):
            if cfg.get(k, v) != v:
                raise UnknownCheckpointLayoutError(f"DR-GAN generator and discriminator disagree on {k}: "
                                                   f"{cfg[k]} vs {v}")
        rest = int(fc.shape[1]) - feature
        num_poses = cfg.get("num_poses", rest - DEFAULT_NZ)
        nz = rest - num_poses
        if num_poses < 1 or nz < 1:
            raise UnknownCheckpointLayoutError(f"DR-GAN generator fc takes {fc.shape[1]} inputs: {feature} features "
                                               f"leave {rest} for the pose code and the noise, too few")
        cfg.update(widths=tuple(widths), nc=nc, num_poses=num_poses, nz=nz, multi_image=multi)
    if not cfg:
        raise UnknownCheckpointLayoutError("no DR-GAN generator (fc.weight) or discriminator (pose_head.weight) found")
    name = "drgan_multi" if cfg.get("multi_image") else "drgan"
    cfg.pop("multi_image", None)  # implied by the model name
    return name, cfg


@register_ganzoo_infer("drgan")
def _ganzoo_drgan(sd: dict[str, torch.Tensor]) -> tuple[str, dict[str, Any]] | None:
    if not any(k in sd for k in ("generator.fc.weight", "discriminator.pose_head.weight")) or not all(
            k.startswith(("generator.encoder.", "generator.decoder.", "generator.fc.", "discriminator.encoder.",
                          "discriminator.identity_head.", "discriminator.pose_head.")) for k in sd):
        return None
    return drgan_config(sd)


def _infer_kayamin(sd: dict[str, torch.Tensor]) -> tuple[str, dict[str, Any]]:
    return drgan_config(convert_kayamin_drgan(sd))


_MATCH = re.compile(r"^(G_enc_convLayers|G_dec_convLayers|convLayers)\.\d+\.(weight|bias|running_mean|running_var|"
                    r"num_batches_tracked)$|^(G_dec_fc|fc)\.(weight|bias)$")


def _match_kayamin(key: str) -> bool:
    return _MATCH.match(key) is not None


@register_converter("drgan", "kayamin", _is_kayamin,
                    "kayamin/DR-GAN Generator (G_enc_convLayers/G_dec_convLayers/G_dec_fc) and Discriminator "
                    "(convLayers/fc), single- and multi-image, CVPR layout without illumination code",
                    infer=_infer_kayamin, match=_match_kayamin)
def convert_kayamin(sd: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return convert_kayamin_drgan(sd)
