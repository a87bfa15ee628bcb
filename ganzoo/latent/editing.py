"""Constrained latent editing, iGAN (Zhu, Kraehenbuehl, Shechtman, Efros 2016, "Generative Visual Manipulation on
the Natural Image Manifold"): starting from z0, find

    z* = argmin_z  sum_g w_g * || f_g(G(z)) - v_g ||^2  +  lambda_s * ||z - z0||^2 / dim  -  lambda_d * D(G(z))

by Adam on z (clamped into a bounded prior after every step). A constraint is a pair ``(f, v)`` (f: a callable
on the generated batch in the model's output range -> a tensor (B, ...); v: a target broadcastable to it; the
norm is a mean of squares over the elements, so the weights do not depend on image size), or a built-in:
:class:`ColorConstraint` (colour brush: the pixels of a mask take a colour) and :class:`EdgeConstraint`
(sketch brush: the edge strength of the pixels of a mask matches an edge map). ``D(G(z))`` is the
discriminator's probability sigmoid(logit) (DCGAN, 3D-GAN; DR-GAN: of "not fake"), or the WGAN critic score
itself for TGAN.
"""
from __future__ import annotations

import dataclasses
import logging
from typing import Any, Callable, Mapping, Sequence, Union

import torch
import torch.nn.functional as F

from ..models.base import GANModel
from ._core import (LatentGenerator, binary_mask, bind, check_float, check_int, frozen, is_critic, progress_bar,
                    realness)

logger = logging.getLogger("ganzoo.latent")

__all__ = ["constrained_edit", "ConstrainedEditResult", "FunctionConstraint", "ColorConstraint", "EdgeConstraint"]


@dataclasses.dataclass
class FunctionConstraint:
    """``weight * mean((f(x) - v)^2)`` per sample: f maps the generated batch (B, ...) (output range) to a tensor
    (B, ...); v is broadcast against it."""

    f: Callable[[torch.Tensor], torch.Tensor]
    v: Any
    weight: float = 1.0

    def loss(self, x: torch.Tensor) -> torch.Tensor:
        y = self.f(x)
        if not isinstance(y, torch.Tensor) or y.dim() < 1 or y.shape[0] != x.shape[0]:
            raise ValueError(f"constraint f: expected a tensor with the batch ({x.shape[0]}) first, got "
                             f"{getattr(y, 'shape', type(y).__name__)}")
        v = torch.as_tensor(self.v, dtype=y.dtype, device=y.device)
        d = (y - v).pow(2)
        return self.weight * d.reshape(d.shape[0], -1).mean(dim=1)


@dataclasses.dataclass
class ColorConstraint:
    """Colour brush: the pixels where ``mask`` is True should have colour ``rgb``.

    mask: (H, W) binary (bool or 0/1), the image's size. rgb: one value per channel in [0, 1] (three for RGB, one
    for grey; a single value is used for every channel). value_range: the model's output range (None: filled in by
    :func:`constrained_edit`). loss: mean squared difference over the masked pixels in [0, 1] units, times
    ``weight``."""

    mask: Any
    rgb: Sequence[float] | float
    weight: float = 1.0
    value_range: tuple[float, float] | None = None

    def _prepared(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        m = binary_mask(self.mask, x.shape[-2:], "ColorConstraint mask").to(x.device)
        if not bool(m.any()):
            raise ValueError("ColorConstraint mask: selects no pixel")
        c = torch.as_tensor(self.rgb, dtype=x.dtype, device=x.device).reshape(-1)
        if c.numel() == 1:
            c = c.expand(x.shape[1])
        if c.numel() != x.shape[1]:
            raise ValueError(f"ColorConstraint rgb: expected {x.shape[1]} value(s) (one per channel), got {c.numel()}")
        if bool(((c < 0) | (c > 1)).any()):
            raise ValueError(f"ColorConstraint rgb: expected values in [0, 1], got {c.tolist()}")
        return m, c

    def unit(self, x: torch.Tensor) -> torch.Tensor:
        lo, hi = self.value_range or (-1.0, 1.0)
        return (x - lo) / (hi - lo)

    def error(self, x: torch.Tensor) -> torch.Tensor:
        """(B,) mean absolute colour difference over the masked pixels, in [0, 1] units (for reporting)."""
        m, c = self._prepared(x)
        return (self.unit(x)[:, :, m] - c[None, :, None]).abs().mean(dim=(1, 2))

    def loss(self, x: torch.Tensor) -> torch.Tensor:
        m, c = self._prepared(x)
        return self.weight * (self.unit(x)[:, :, m] - c[None, :, None]).pow(2).mean(dim=(1, 2))


@dataclasses.dataclass
class EdgeConstraint:
    """Sketch brush: the edge strength of the image where ``mask`` is True should match ``edges``.

    edges: (H, W) target edge strength in [0, 1] (1 on a sketched line, 0 for a smooth area). mask: (H, W) binary
    region where the constraint holds (None: everywhere). Edge strength: tanh(|Sobel gradient| / 0.25) of the
    image's luma (channel mean) in [0, 1]. loss: mean squared difference over the region, times ``weight``."""

    edges: Any
    mask: Any = None
    weight: float = 1.0
    value_range: tuple[float, float] | None = None
    scale: float = 0.25

    def strength(self, x: torch.Tensor) -> torch.Tensor:
        """(B, H, W) edge strength in [0, 1)."""
        lo, hi = self.value_range or (-1.0, 1.0)
        g = ((x - lo) / (hi - lo)).mean(dim=1, keepdim=True)
        kx = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]], dtype=x.dtype, device=x.device) / 8
        gx = F.conv2d(F.pad(g, (1, 1, 1, 1), mode="replicate"), kx[None, None])
        gy = F.conv2d(F.pad(g, (1, 1, 1, 1), mode="replicate"), kx.t()[None, None])
        return torch.tanh((gx.pow(2) + gy.pow(2) + 1e-12).sqrt() / self.scale)[:, 0]

    def loss(self, x: torch.Tensor) -> torch.Tensor:
        e = torch.as_tensor(self.edges, dtype=x.dtype, device=x.device)
        if e.shape != x.shape[-2:]:
            raise ValueError(f"EdgeConstraint edges: expected shape {tuple(x.shape[-2:])}, got {tuple(e.shape)}")
        m = (binary_mask(self.mask, x.shape[-2:], "EdgeConstraint mask").to(x.device) if self.mask is not None
             else torch.ones(x.shape[-2:], dtype=torch.bool, device=x.device))
        d = (self.strength(x) - e)[:, m]
        return self.weight * d.pow(2).mean(dim=1)


ConstraintLike = Union[FunctionConstraint, ColorConstraint, EdgeConstraint, tuple]


@dataclasses.dataclass
class ConstrainedEditResult:
    """z: (B, dim) edited codes. outputs: G(z) (B, *output_shape). initial: G(z0). loss_history: mean total loss
    after each step. constraint_losses: (B,) final loss of each constraint, in order. distance: (B,) ||z - z0||."""

    z: torch.Tensor
    outputs: torch.Tensor
    initial: torch.Tensor
    loss_history: list[float]
    constraint_losses: list[torch.Tensor]
    distance: torch.Tensor


def _prepare(c: Any, lg: LatentGenerator, i: int) -> Any:
    if isinstance(c, tuple):
        if len(c) not in (2, 3) or not callable(c[0]):
            raise TypeError(f"constraints[{i}]: a tuple constraint is (f, v) or (f, v, weight) with f callable")
        return FunctionConstraint(*c)
    if not callable(getattr(c, "loss", None)):
        raise TypeError(f"constraints[{i}]: expected (f, v), a ColorConstraint / EdgeConstraint or an object with "
                        f"loss(images) -> (B,), got {type(c).__name__}")
    if dataclasses.is_dataclass(c) and hasattr(c, "value_range") and c.value_range is None:
        c = dataclasses.replace(c, value_range=lg.spec.output_range)
    return c


def _d_term(lg: LatentGenerator, y: torch.Tensor) -> torch.Tensor:
    r = realness(lg, y)
    return r if is_critic(lg) else torch.sigmoid(r)


def constrained_edit(model: GANModel | LatentGenerator, z0: torch.Tensor, constraints: Sequence[ConstraintLike], *,
                     lambda_s: float = 0.1, lambda_d: float = 0.0, steps: int = 200, lr: float = 0.05,
                     extra_inputs: Mapping[str, Any] | Sequence[Any] | None = None,
                     progress: bool | None = None) -> ConstrainedEditResult:
    """iGAN's constrained edit of the codes z0 (B, dim) (or (dim,)): see the module docstring for the objective.

    constraints: a non-empty sequence of (f, v), (f, v, weight), :class:`ColorConstraint`, :class:`EdgeConstraint`
    or objects with ``loss(images) -> (B,)``; they see G(z) in the model's output range. lambda_s: weight of the
    distance to z0 (keeps the edit near the start). lambda_d: weight of the realism term (0: not used; needs a
    discriminator with a real/fake score). steps / lr: Adam. The model is frozen during the call."""
    lg = bind(model, extra_inputs)
    z_start = lg.check_z(z0, "z0")
    lambda_s = check_float(lambda_s, "lambda_s")
    lambda_d = check_float(lambda_d, "lambda_d")
    steps = check_int(steps, "steps", lo=1)
    lr = check_float(lr, "lr", lo_open=True)
    if lg.spec.kind != "image":
        logger.info("constrained_edit on %s outputs: built-in constraints expect images (B, C, H, W)", lg.spec.kind)
    if isinstance(constraints, (tuple, list)) and len(constraints) == 2 and callable(constraints[0]) \
            and not callable(getattr(constraints[0], "loss", None)):
        constraints = [tuple(constraints)]  # one (f, v) pair given bare
    if not isinstance(constraints, (list, tuple)) or not constraints:
        raise ValueError("constraints: expected a non-empty list of constraints")
    cons = [_prepare(c, lg, i) for i, c in enumerate(constraints)]
    history: list[float] = []
    with frozen(lg.model):
        with torch.no_grad():
            initial = lg(z_start)
        z = z_start.clone().requires_grad_(True)
        opt = torch.optim.Adam([z], lr=lr)
        with torch.enable_grad(), progress_bar(steps, "constrained edit", progress) as bar:
            for _ in range(steps):
                opt.zero_grad(set_to_none=True)
                y = lg(z)
                loss = sum(c.loss(y) for c in cons)
                if lambda_s > 0:
                    loss = loss + lambda_s * (z - z_start).pow(2).mean(dim=1)
                if lambda_d > 0:
                    loss = loss - lambda_d * _d_term(lg, y)
                loss.sum().backward()
                opt.step()
                lg.project_(z)
                history.append(float(loss.detach().mean()))
                bar.update(1)
        z = z.detach()
        with torch.no_grad():
            out = lg(z)
            closs = [c.loss(out).detach() for c in cons]
    dist = (z - z_start).norm(dim=1)
    logger.info("constrained edit: loss %.4g -> %.4g, ||z - z0|| mean %.3g", history[0], history[-1],
                float(dist.mean()))
    return ConstrainedEditResult(z, out, initial, history, closs, dist)
