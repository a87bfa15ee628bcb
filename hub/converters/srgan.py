"""SRGAN / SRResNet: checkpoints of the Lornatang/SRGAN-PyTorch port (Hugging Face mirror ChangyuLiu/SRGAN-PyTorch).

The port saves ``{"state_dict": ..., ...}`` ``.pth.tar`` files, one per network, keys sometimes prefixed
``_orig_mod.`` (torch.compile); the framework unwraps and strips those before the converter runs.

Generator (``SRResNet`` in the port's ``model.py``) -> ganzoo ``SRResNetGenerator``::

    conv1.0.{weight,bias}                     head.0.*           9x9 conv
    conv1.1.weight                            head.2.weight      PReLU
    trunk.{i}.rcb.0.weight                    trunk.{i}.body.0.0.weight
    trunk.{i}.rcb.1.*  (BN)                   trunk.{i}.body.0.1.*
    trunk.{i}.rcb.2.weight  (PReLU)           trunk.{i}.body.0.2.weight
    trunk.{i}.rcb.3.weight                    trunk.{i}.body.1.0.weight
    trunk.{i}.rcb.4.*  (BN)                   trunk.{i}.body.1.1.*
    conv2.0.weight, conv2.1.* (BN)            trunk_tail.0.weight, trunk_tail.1.*
    upsampling.{j}.upsample_block.0.*         upsample.{j}.0.*   conv before PixelShuffle
    upsampling.{j}.upsample_block.2.weight    upsample.{j}.2.weight  PReLU
    conv3.{weight,bias}                       tail.*

Discriminator (the port's ``Discriminator``): a flat ``features`` Sequential of conv [BN] LeakyReLU triples
(``features.0`` biased conv, then ``features.{2,5,...,20}`` bias-free convs with BN at ``features.{3,6,...,21}``)
and ``classifier.{0,2}`` Linear layers. ganzoo groups each conv with its BN and activation (ConvNormAct), so
port ``features.{3k-1}`` / ``features.{3k}`` (k = 1..7) become ``features.{k}.0`` / ``features.{k}.1``; the
classifier keeps its names. This layout was read from the port's ``model.py`` (Discriminator for 96x96 input,
23,563,649 parameters); its key set is matched exactly, so other ``features.*``/``classifier.*`` models
(torchvision VGG, say) are not mistaken for it. The port returns logits of shape (B, 1); ganzoo returns (B,).

Older releases of the port (``srgan_pytorch/models/*.py``) used other module names and are not covered.

Hyper-parameters from shapes (:func:`srgan_config`, on ganzoo keys, shared by every SRGAN layout): ``width`` and
``in_channels`` / ``head_kernel`` from ``head.0.weight`` ``(width, in, k, k)``; ``num_blocks`` = the number of
``trunk.{i}``; ``scale`` = 2 ** the number of ``upsample.{j}``; ``out_channels`` from ``tail.weight``; ``prelu`` =
``"shared"`` when ``head.2.weight`` holds one slope, ``"channel"`` when it holds ``width``. Discriminator:
``d_widths`` = the output widths of the stride-2 convs ``features.{1,3,5,...}``, ``d_dense`` = rows of
``classifier.0.weight``, whose ``d_widths[-1] * s * s`` columns give the last feature side ``s`` and so
``d_image_size = s * 2 ** len(d_widths)`` (96 for the port: any side from 81 to 96 ends at 6x6; the largest is taken).
The port's I/O convention is ganzoo.models.srgan's ``_PORT``: [0, 1] in, output clamped to [0, 1]. SRResNet and
SRGAN weights share one architecture and cannot be told apart: detected x4 weights build ``srgan`` (name another
model of the family, e.g. ``ganzoo.load("srresnet", pretrained=PATH)``, to get that name).
"""
from __future__ import annotations

import re

import torch

from typing import Any

from ganzoo.errors import UnknownCheckpointLayoutError

from . import register_converter, register_ganzoo_infer

_BN = r"(weight|bias|running_mean|running_var|num_batches_tracked)"

# (port pattern, ganzoo template); every generator key must match exactly one of these.
_G_RULES: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"conv1\.0\.(weight|bias)"), r"head.0.\1"),
    (re.compile(r"conv1\.1\.weight"), r"head.2.weight"),
    (re.compile(r"trunk\.(\d+)\.rcb\.0\.weight"), r"trunk.\1.body.0.0.weight"),
    (re.compile(r"trunk\.(\d+)\.rcb\.1\." + _BN), r"trunk.\1.body.0.1.\2"),
    (re.compile(r"trunk\.(\d+)\.rcb\.2\.weight"), r"trunk.\1.body.0.2.weight"),
    (re.compile(r"trunk\.(\d+)\.rcb\.3\.weight"), r"trunk.\1.body.1.0.weight"),
    (re.compile(r"trunk\.(\d+)\.rcb\.4\." + _BN), r"trunk.\1.body.1.1.\2"),
    (re.compile(r"conv2\.0\.weight"), r"trunk_tail.0.weight"),
    (re.compile(r"conv2\.1\." + _BN), r"trunk_tail.1.\1"),
    (re.compile(r"upsampling\.(\d+)\.upsample_block\.0\.(weight|bias)"), r"upsample.\1.0.\2"),
    (re.compile(r"upsampling\.(\d+)\.upsample_block\.2\.weight"), r"upsample.\1.2.weight"),
    (re.compile(r"conv3\.(weight|bias)"), r"tail.\1"),
]
_G_REQUIRED = ("conv1.0.weight", "conv1.1.weight", "conv2.0.weight", "conv3.weight")

_BN_KEYS = ("weight", "bias", "running_mean", "running_var", "num_batches_tracked")
_D_CONVS = 8  # eight 3x3 convs; BN after all but the first


def _port_d_map() -> dict[str, str]:
    """Port discriminator key -> ganzoo key (``num_batches_tracked`` included; it is optional on load)."""
    m = {"features.0.weight": "features.0.0.weight", "features.0.bias": "features.0.0.bias"}
    for k in range(1, _D_CONVS):
        conv, bn = 3 * k - 1, 3 * k
        m[f"features.{conv}.weight"] = f"features.{k}.0.weight"
        for b in _BN_KEYS:
            m[f"features.{bn}.{b}"] = f"features.{k}.1.{b}"
    for i in (0, 2):
        for p in ("weight", "bias"):
            m[f"classifier.{i}.{p}"] = f"classifier.{i}.{p}"
    return m


_D_MAP = _port_d_map()
_D_REQUIRED = frozenset(k for k in _D_MAP if not k.endswith("num_batches_tracked"))


def _g_key(k: str) -> str | None:
    for pat, tmpl in _G_RULES:
        if pat.fullmatch(k):
            return pat.sub(tmpl, k)
    return None


def _is_port_g(keys: set[str]) -> bool:
    return all(r in keys for r in _G_REQUIRED) and all(_g_key(k) is not None for k in keys)


def _is_port_d(keys: set[str]) -> bool:
    return _D_REQUIRED <= keys <= set(_D_MAP)


def _is_port(keys: set[str]) -> bool:
    """A port generator, a port discriminator, or both in one dict (split at the ``features.``/``classifier.``
    keys, which the generator never uses)."""
    d_keys = {k for k in keys if k.startswith(("features.", "classifier."))}
    g_keys = keys - d_keys
    if not d_keys:
        return _is_port_g(g_keys)
    if not g_keys:
        return _is_port_d(d_keys)
    return _is_port_g(g_keys) and _is_port_d(d_keys)


def _match_port(key: str) -> bool:
    return key in _D_MAP or _g_key(key) is not None


_SCALE_NAMES = {2: "srgan_x2", 4: "srgan", 8: "srgan_x8"}


def srgan_model_name(config: dict[str, Any]) -> str:
    """The registered SRGAN model of a config's scale (``srgan``, ``srgan_x2``, ``srgan_x8``; x4 by default)."""
    scale = int(config.get("scale", 4))
    if scale not in _SCALE_NAMES:
        raise UnknownCheckpointLayoutError(f"SRGAN scale {scale} is not one of {sorted(_SCALE_NAMES)}")
    return _SCALE_NAMES[scale]


def _indices(sd: dict[str, torch.Tensor], prefix: str) -> list[int]:
    pat = re.compile(re.escape(prefix) + r"(\d+)\.")
    return sorted({int(m.group(1)) for k in sd if (m := pat.match(k))})


def srgan_config(sd: dict[str, torch.Tensor]) -> tuple[str, dict[str, Any]]:
    """``(model name, config)`` of ganzoo-layout SRGAN weights (generator, discriminator or both), from shapes only
    (no I/O convention: shapes do not show it)."""
    cfg: dict[str, Any] = {}
    if "generator.head.0.weight" in sd:
        head = sd["generator.head.0.weight"]
        width = int(head.shape[0])
        blocks = _indices(sd, "generator.trunk.")
        ups = _indices(sd, "generator.upsample.")
        if blocks != list(range(len(blocks))) or ups != list(range(len(ups))) or not 1 <= len(ups) <= 3:
            raise UnknownCheckpointLayoutError(f"SRGAN generator with residual blocks {blocks} and upsample blocks "
                                               f"{ups}; expected 0..N-1 and 1 to 3 upsample blocks")
        slopes = sd["generator.head.2.weight"].numel()
        if slopes not in (1, width):
            raise UnknownCheckpointLayoutError(f"SRGAN head PReLU has {slopes} slopes; expected 1 or {width}")
        cfg.update(scale=2 ** len(ups), num_blocks=len(blocks), width=width, in_channels=int(head.shape[1]),
                   head_kernel=int(head.shape[2]), out_channels=int(sd["generator.tail.weight"].shape[0]),
                   prelu="shared" if slopes == 1 else "channel")
    if "discriminator.classifier.0.weight" in sd:
        feats = _indices(sd, "discriminator.features.")
        if len(feats) < 2 or len(feats) % 2 or feats != list(range(len(feats))):
            raise UnknownCheckpointLayoutError(f"SRGAN discriminator with conv blocks {feats}; expected an even "
                                               f"number 0..N-1")
        widths = tuple(int(sd[f"discriminator.features.{i}.0.weight"].shape[0]) for i in feats[1::2])
        fc = sd["discriminator.classifier.0.weight"]
        side = int(round((fc.shape[1] / widths[-1]) ** 0.5))
        if side * side * widths[-1] != fc.shape[1]:
            raise UnknownCheckpointLayoutError(f"SRGAN classifier.0 has {fc.shape[1]} inputs, not {widths[-1]} x a "
                                               f"square feature map")
        d_out = int(sd["discriminator.features.0.0.weight"].shape[1])
        if cfg.get("out_channels", d_out) != d_out:
            raise UnknownCheckpointLayoutError(f"SRGAN generator makes {cfg['out_channels']} channels, the "
                                               f"discriminator reads {d_out}")
        cfg.update(d_widths=widths, d_dense=int(fc.shape[0]), d_image_size=side * 2 ** len(widths),
                   out_channels=d_out)
    if not cfg:
        raise UnknownCheckpointLayoutError("no SRGAN generator (head.0.weight) or discriminator "
                                           "(classifier.0.weight) weights found")
    return srgan_model_name(cfg), cfg


@register_ganzoo_infer("srgan", undetermined=("output_range", "output_act"))
def _ganzoo_srgan(sd: dict[str, torch.Tensor]) -> tuple[str, dict[str, Any]] | None:
    g = {k for k in sd if k.startswith("generator.")}
    d = {k for k in sd if k.startswith("discriminator.")}
    if g and "generator.head.0.weight" not in g or d and "discriminator.classifier.0.weight" not in d:
        return None
    return srgan_config(sd)


def _infer_port(sd: dict[str, torch.Tensor]) -> tuple[str, dict[str, Any]]:
    from ganzoo.models.srgan import _PORT

    name, cfg = srgan_config(convert_lornatang(sd))
    return name, {**cfg, **_PORT}


@register_converter("srgan", "lornatang", _is_port,
                    "Lornatang/SRGAN-PyTorch SRResNet generator and SRGAN discriminator "
                    "(.pth.tar; Hugging Face mirror ChangyuLiu/SRGAN-PyTorch)", infer=_infer_port, match=_match_port)
def convert_lornatang(sd: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Port keys (prefixes already stripped) -> ganzoo ``generator.*`` / ``discriminator.*`` keys, tensors shared."""
    out: dict[str, torch.Tensor] = {}
    for k, v in sd.items():
        if k in _D_MAP:
            out["discriminator." + _D_MAP[k]] = v
            continue
        g = _g_key(k)
        if g is None:  # detect() accepted the key set, so this only happens when called directly
            raise UnknownCheckpointLayoutError(f"key {k!r} is not part of the Lornatang/SRGAN-PyTorch layout")
        out["generator." + g] = v
    return out


_G_INV_RULES: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"head\.0\.(weight|bias)"), r"conv1.0.\1"),
    (re.compile(r"head\.2\.weight"), r"conv1.1.weight"),
    (re.compile(r"trunk\.(\d+)\.body\.0\.0\.weight"), r"trunk.\1.rcb.0.weight"),
    (re.compile(r"trunk\.(\d+)\.body\.0\.1\." + _BN), r"trunk.\1.rcb.1.\2"),
    (re.compile(r"trunk\.(\d+)\.body\.0\.2\.weight"), r"trunk.\1.rcb.2.weight"),
    (re.compile(r"trunk\.(\d+)\.body\.1\.0\.weight"), r"trunk.\1.rcb.3.weight"),
    (re.compile(r"trunk\.(\d+)\.body\.1\.1\." + _BN), r"trunk.\1.rcb.4.\2"),
    (re.compile(r"trunk_tail\.0\.weight"), r"conv2.0.weight"),
    (re.compile(r"trunk_tail\.1\." + _BN), r"conv2.1.\1"),
    (re.compile(r"upsample\.(\d+)\.0\.(weight|bias)"), r"upsampling.\1.upsample_block.0.\2"),
    (re.compile(r"upsample\.(\d+)\.2\.weight"), r"upsampling.\1.upsample_block.2.weight"),
    (re.compile(r"tail\.(weight|bias)"), r"conv3.\1"),
]


def _g_key_inverse(k: str) -> str | None:
    for pat, tmpl in _G_INV_RULES:
        if pat.fullmatch(k):
            return pat.sub(tmpl, k)
    return None


def to_port_layout(sd: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """The inverse: a ganzoo SRGAN state dict (``generator.*`` and/or ``discriminator.*``) in the port's key names,
    for use with the port's code. Keys of either network must all be known."""
    d_inv = {v: k for k, v in _D_MAP.items()}
    out: dict[str, torch.Tensor] = {}
    for k, v in sd.items():
        part, _, rest = k.partition(".")
        if part == "discriminator" and rest in d_inv:
            out[d_inv[rest]] = v
        elif part == "generator" and (p := _g_key_inverse(rest)) is not None:
            out[p] = v
        else:
            raise UnknownCheckpointLayoutError(f"key {k!r} has no counterpart in the Lornatang/SRGAN-PyTorch layout")
    return out
