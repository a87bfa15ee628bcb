"""Attribute vectors and latent editing (Radford et al. 2015 vector arithmetic; Larsen et al. 2016; IcGAN,
Perarnau et al. 2016): z_attr = mean E(x) over images with the attribute - mean E(x) over images without it, and
an edit generates from the inverted code plus ``sum_a strength_a * z_attr``.

"E" is an encoder (any module or callable images -> z (B, dim)), or an inversion: pass
``functools.partial(invert, model, steps=...)`` (anything returning an :class:`~ganzoo.latent.InversionResult`
works), or give :func:`edit` an ``inversion`` dict of :func:`~ganzoo.latent.invert` options.
"""
from __future__ import annotations

import dataclasses
import logging
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import torch
from torch import nn

from ..models.base import GANModel
from ._core import LatentGenerator, bind, frozen
from .inversion import InversionResult, encode, invert

logger = logging.getLogger("ganzoo.latent")

__all__ = ["attribute_vector", "edit", "EditResult"]


def _codes(encoder_or_inverter: Callable[[torch.Tensor], Any], x: torch.Tensor, what: str) -> torch.Tensor:
    if not callable(encoder_or_inverter):
        raise TypeError(f"encoder_or_inverter: expected a module or callable images -> z (or -> InversionResult), "
                        f"got {type(encoder_or_inverter).__name__}")
    if not isinstance(x, torch.Tensor) or x.dim() < 2 or x.shape[0] < 1:
        raise ValueError(f"{what}: expected a non-empty batch of images (B, ...), got "
                         f"{getattr(x, 'shape', type(x).__name__)}")
    if isinstance(encoder_or_inverter, nn.Module):
        flags = [(m, m.training) for m in encoder_or_inverter.modules()]
        for m, _ in flags:  # not eval(): torch.export modules refuse it
            m.training = False
        p = next(encoder_or_inverter.parameters(), None)
        if p is not None:
            x = x.to(p.device, p.dtype)
    else:
        flags = []
    try:
        with torch.no_grad():
            out = encoder_or_inverter(x)
    finally:
        for m, t in flags:
            m.training = t
    z = out.z if isinstance(out, InversionResult) else out
    if not isinstance(z, torch.Tensor):
        raise TypeError(f"encoder_or_inverter: returned {type(out).__name__}; expected latent codes (B, dim) or an "
                        f"InversionResult")
    if z.dim() > 2 and all(s == 1 for s in z.shape[2:]):
        z = z.reshape(z.shape[0], -1)
    if z.dim() != 2 or z.shape[0] != x.shape[0]:
        raise ValueError(f"encoder_or_inverter: returned shape {tuple(z.shape)} for {x.shape[0]} {what}; expected "
                         f"({x.shape[0]}, dim)")
    return z.detach()


def attribute_vector(encoder_or_inverter: Callable[[torch.Tensor], Any], images_with: torch.Tensor,
                     images_without: torch.Tensor) -> torch.Tensor:
    """z_attr (dim,) = mean of E(images_with) - mean of E(images_without).

    encoder_or_inverter: a module or callable images -> z (B, dim), or -> an InversionResult (its ``z`` is used).
    A module is run in eval mode (its flags restored) without gradients, on its own device and dtype.
    images_with / images_without: (B1, ...) and (B2, ...) batches in the model's output range."""
    zw = _codes(encoder_or_inverter, images_with, "images_with")
    zo = _codes(encoder_or_inverter, images_without, "images_without")
    if zw.shape[1] != zo.shape[1]:
        raise ValueError(f"the codes of images_with ({zw.shape[1]}) and images_without ({zo.shape[1]}) differ in size")
    return zw.mean(dim=0) - zo.mean(dim=0)


@dataclasses.dataclass
class EditResult:
    """outputs: G(z_edited) (B, *output_shape) in the output range. z: (B, dim) edited codes. z_original: (B, dim)
    the inverted codes. reconstruction: G(z_original). inversion: the InversionResult when an inversion ran."""

    outputs: torch.Tensor
    z: torch.Tensor
    z_original: torch.Tensor
    reconstruction: torch.Tensor
    inversion: InversionResult | None = None


def _vector(v: Any, name: str, dim: int, like: torch.Tensor) -> torch.Tensor:
    if isinstance(v, np.ndarray):
        v = torch.from_numpy(np.asarray(v, dtype=np.float32))
    if not isinstance(v, torch.Tensor) or not torch.is_floating_point(v):
        raise TypeError(f"vectors[{name!r}]: expected a floating-point tensor or array ({dim},), got "
                        f"{v.dtype if isinstance(v, torch.Tensor) else type(v).__name__}")
    v = v.reshape(-1) if v.dim() == 2 and v.shape[0] == 1 else v
    if v.shape != (dim,):
        raise ValueError(f"vectors[{name!r}]: expected shape ({dim},) (the model's latent size), got "
                         f"{tuple(v.shape)}")
    if not bool(torch.isfinite(v).all()):
        raise ValueError(f"vectors[{name!r}]: contains NaN or infinite values")
    return v.to(like.device, like.dtype)


def edit(model: GANModel | LatentGenerator, x: torch.Tensor, strengths: Mapping[str, float],
         vectors: Mapping[str, Any], *, encoder: Callable[[torch.Tensor], torch.Tensor] | None = None,
         inversion: Mapping[str, Any] | None = None, z: torch.Tensor | None = None,
         extra_inputs: Mapping[str, Any] | Sequence[Any] | None = None) -> EditResult:
    """Edit images along attribute vectors: z = E(x) (or an inversion), then G(z + sum_a strengths[a] * vectors[a]).

    x: images (B, *output_shape) in the model's output range (one without the batch axis is accepted).
    strengths: attribute name -> strength (a finite number; negative removes the attribute). vectors: name ->
        (dim,) tensor or array (e.g. from :func:`attribute_vector`); every name in ``strengths`` must be there.
    encoder: z = encoder(x) (clamped into a bounded prior). inversion: options of :func:`~ganzoo.latent.invert`
        (method, steps, restarts, ...); with ``encoder`` and no ``method`` there, "encoder+optimize" is run.
        Neither: ``invert(model, x)`` with its defaults. z: skip the inversion and edit these codes (B, dim).
    The edited codes are clamped into a bounded prior's range. Returns an :class:`EditResult`."""
    lg = bind(model, extra_inputs)
    if not isinstance(strengths, Mapping) or not strengths:
        raise ValueError("strengths: expected a non-empty mapping of attribute name -> strength")
    if not isinstance(vectors, Mapping):
        raise TypeError(f"vectors: expected a mapping of attribute name -> vector, got {type(vectors).__name__}")
    missing = [n for n in strengths if n not in vectors]
    if missing:
        raise ValueError(f"strengths: no vector for {missing}; vectors has {sorted(vectors)}")
    for n, s in strengths.items():
        if isinstance(s, bool) or not isinstance(s, (int, float)) or not np.isfinite(float(s)):
            raise ValueError(f"strengths[{n!r}]: expected a finite number, got {s!r}")
    inv: InversionResult | None = None
    with frozen(lg.model):
        xt = lg.check_outputs(x, "x")
        if z is not None:
            z0 = lg.check_z(z, "z")
            if z0.shape[0] != xt.shape[0]:
                raise ValueError(f"z: batch {z0.shape[0]}, expected the image batch {xt.shape[0]}")
        elif inversion is None and encoder is not None:
            z0 = encode(lg, encoder, xt)
        else:
            opts = dict(inversion or {})
            if encoder is not None:
                opts.setdefault("encoder", encoder)
                opts.setdefault("method", "encoder+optimize")
            inv = invert(lg, xt, **opts)
            z0 = inv.z
        delta = torch.zeros_like(z0[0])
        for n, s in strengths.items():
            delta = delta + float(s) * _vector(vectors[n], n, lg.dim, z0)
        ze = lg.project(z0 + delta)
        with torch.no_grad():
            out = lg(ze)
            rec = inv.reconstruction if inv is not None else lg(z0)
    logger.info("edited %d image(s) along %s", xt.shape[0], ", ".join(f"{n} x {s:g}" for n, s in strengths.items()))
    return EditResult(out, ze, z0, rec, inv)
