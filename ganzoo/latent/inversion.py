"""GAN inversion: find z with G(z) close to given images, by optimisation, by an encoder, or both.

* ``"optimize"``: Adam on z from random starts drawn from the prior (Zhu et al. 2016; Lipton & Tripathi 2017),
  minimising per image ``mse(G(z), x) + feature_weight * mse(D.features(G(z)), D.features(x)) +
  prior_weight * ||z||^2 / dim``. ``restarts`` starts run side by side in one batch; each image keeps the start
  with the lowest pixel MSE. A bounded uniform prior is kept by clamping z into its range after every step
  (projected Adam); its density is flat, so ``prior_weight`` has no effect there.
* ``"encoder"``: z = E(x) (an IcGAN-style encoder trained on generated pairs, :func:`train_encoder_on_samples`,
  or any callable x -> z), clamped into a bounded prior.
* ``"encoder+optimize"``: Adam from E(x) (Zhu et al.'s hybrid); with ``restarts`` > 1 the other starts are random.

Losses are per image (means over pixels), so an image's result does not depend on the rest of the batch. PSNR is
measured against the width of the output range (2 for [-1, 1]), i.e. the PSNR of the images mapped to [0, 1].
The model is in eval mode with ``requires_grad`` off on all its parameters during the call (both restored after):
nothing is written into its weights.
"""
from __future__ import annotations

import dataclasses
import logging
import time
from typing import Any, Callable, Mapping, Sequence

import torch
from torch import nn

from ..models.base import GANModel
from ._core import (LatentGenerator, bind, check_choice, check_float, check_int, frozen, has_features,
                    latent_spec, make_generator, per_sample_mse, progress_bar, psnr)

logger = logging.getLogger("ganzoo.latent")

__all__ = ["InversionResult", "invert", "INVERSION_METHODS", "LatentEncoder", "train_encoder_on_samples",
           "encode", "recalibrate_batchnorm"]

INVERSION_METHODS = ("optimize", "encoder", "encoder+optimize")

Encoder = Callable[[torch.Tensor], torch.Tensor]


@dataclasses.dataclass
class InversionResult:
    """What :func:`invert` found, per image.

    z: (B, dim) latent codes. reconstruction: G(z), (B, *output_shape) in the output range. mse: (B,) pixel MSE in
    the output range. psnr: (B,) dB (peak = the output range's width). time_s: wall time of the whole call.
    method / steps / restarts: as run. loss_history: the mean (over images) total loss of the best start after
    each step (empty for "encoder"). best_restart: (B,) the start each image kept (0 = the encoder's start for
    "encoder+optimize")."""

    z: torch.Tensor
    reconstruction: torch.Tensor
    mse: torch.Tensor
    psnr: torch.Tensor
    time_s: float
    method: str
    steps: int
    restarts: int = 1
    loss_history: list[float] = dataclasses.field(default_factory=list)
    best_restart: torch.Tensor | None = None

    def summary(self) -> str:
        return (f"{self.method}: {len(self.z)} image(s), PSNR mean {float(self.psnr.mean()):.2f} dB (min "
                f"{float(self.psnr.min()):.2f}), {self.time_s:.2f} s")


def encode(lg: LatentGenerator, encoder: Encoder, x: torch.Tensor) -> torch.Tensor:
    """z = encoder(x) as (B, dim) floats on the model's device, clamped into a bounded prior; ValueError for an
    encoder output of another size."""
    if isinstance(encoder, nn.Module):
        flags = [(m, m.training) for m in encoder.modules()]
        for m, _ in flags:  # not eval(): torch.export modules refuse it
            m.training = False
    else:
        flags = []
    try:
        with torch.no_grad():
            z = encoder(x)
    finally:
        for m, t in flags:
            m.training = t
    if not isinstance(z, torch.Tensor):
        raise TypeError(f"encoder: expected it to return a torch.Tensor (B, {lg.dim}), got {type(z).__name__}")
    if z.dim() > 2 and all(s == 1 for s in z.shape[2:]):
        z = z.reshape(z.shape[0], -1)
    if z.dim() != 2 or z.shape != (x.shape[0], lg.dim):
        raise ValueError(f"encoder: returned shape {tuple(z.shape)}, expected ({x.shape[0]}, {lg.dim}) (the latent "
                         f"size of {lg.label})")
    return lg.project(z.detach().to(lg.device, lg.dtype))


def _features(lg: LatentGenerator, x: torch.Tensor) -> list[torch.Tensor]:
    return list(lg.model.discriminator.features(x))


def _optimise(lg: LatentGenerator, x: torch.Tensor, z_init: torch.Tensor, *, steps: int, lr: float,
              prior_weight: float, feature_weight: float, progress: bool | None, desc: str
              ) -> tuple[torch.Tensor, torch.Tensor, list[float]]:
    """Adam on z (N, dim) towards targets x (N, ...); returns (z, per-sample pixel MSE, mean-loss history)."""
    z = z_init.clone().requires_grad_(True)
    opt = torch.optim.Adam([z], lr=lr)
    feats_x = None
    if feature_weight > 0:
        with torch.no_grad():
            feats_x = [f.detach() for f in _features(lg, x)]
    history: list[float] = []
    with torch.enable_grad(), progress_bar(steps, desc, progress) as bar:  # also under a caller's no_grad
        for _ in range(steps):
            opt.zero_grad(set_to_none=True)
            y = lg(z)
            loss = per_sample_mse(y, x)
            if feats_x is not None:
                fy = _features(lg, y)
                loss = loss + feature_weight * sum(per_sample_mse(a, b) for a, b in zip(fy, feats_x))
            if prior_weight > 0:
                loss = loss + prior_weight * lg.prior_penalty(z)
            loss.sum().backward()
            opt.step()
            lg.project_(z)
            history.append(float(loss.detach().mean()))
            bar.update(1)
    with torch.no_grad():
        mse = per_sample_mse(lg(z), x)
    return z.detach(), mse, history


def invert(model: GANModel | LatentGenerator, images: torch.Tensor, method: str = "optimize", *, steps: int = 500,
           lr: float = 0.05, restarts: int = 4, prior_weight: float = 0.0, feature_weight: float = 0.0,
           encoder: Encoder | None = None, seed: int | None = 0,
           extra_inputs: Mapping[str, Any] | Sequence[Any] | None = None, progress: bool | None = None
           ) -> InversionResult:
    """Invert the generator on ``images``: latent codes z with G(z) ~ images (module docstring).

    images: (B, *output_shape) (or one sample without the batch axis) in the model's output range, e.g. DCGAN
        (B, C, H, W) in [-1, 1]; cast to the model's device and dtype. A channel count other than the model's is a
        ValueError.
    method: "optimize", "encoder" or "encoder+optimize" (the last two need ``encoder``: a module or callable
        images -> z (B, dim)). steps: Adam steps (>= 1 for the optimising methods; ignored by "encoder").
    lr: Adam step size on z. restarts: starts per image (>= 1); the best by pixel MSE is kept.
    prior_weight: weight of ||z||^2 / dim (Gaussian priors). feature_weight: weight of the discriminator-feature
        MSE (``model.discriminator.features``; ValueError when > 0 for a D without it).
    seed: seeds the random starts (None: nondeterministic). extra_inputs: DR-GAN's image and pose
        (:class:`~ganzoo.latent.LatentGenerator`). progress: a tqdm bar over steps (None: only on a terminal).
    Returns an :class:`InversionResult`."""
    lg = bind(model, extra_inputs)
    check_choice(method, "method", INVERSION_METHODS)
    restarts = check_int(restarts, "restarts", lo=1, hi=1024)
    lr = check_float(lr, "lr", lo_open=True)
    prior_weight = check_float(prior_weight, "prior_weight")
    feature_weight = check_float(feature_weight, "feature_weight")
    if method == "encoder":
        steps = 0
    else:
        steps = check_int(steps, "steps", lo=1)
    if method != "optimize" and encoder is None:
        raise ValueError(f"method {method!r} needs an encoder (a module or callable images -> z); train one with "
                         f"ganzoo.latent.train_encoder_on_samples, or use method='optimize'")
    if encoder is not None and not callable(encoder):
        raise TypeError(f"encoder: expected a callable images -> z, got {type(encoder).__name__}")
    if feature_weight > 0 and not has_features(lg):
        raise ValueError(f"feature_weight > 0 needs discriminator features, and {lg.label}'s discriminator has no "
                         f"features() method; use feature_weight=0")
    if lg.spec.bounded and prior_weight > 0:
        logger.info("%s has a uniform prior (flat density): prior_weight is not used; z is clamped into "
                    "[%g, %g] instead", lg.label, lg.spec.low, lg.spec.high)
    t0 = time.perf_counter()
    with frozen(lg.model):
        x = lg.check_outputs(images, "images")
        b = x.shape[0]
        if method == "encoder":
            z = encode(lg, encoder, x)  # type: ignore[arg-type]
            with torch.no_grad():
                rec = lg(z)
            mse = per_sample_mse(rec, x)
            res = InversionResult(z, rec, mse, psnr(mse, lg.spec.output_range), time.perf_counter() - t0, method, 0,
                                  1, [], torch.zeros(b, dtype=torch.long))
            logger.info("inverted %s", res.summary())
            return res
        gen = make_generator(seed)
        starts = [encode(lg, encoder, x)] if method == "encoder+optimize" else []  # type: ignore[arg-type]
        starts += [lg.sample(b, gen) for _ in range(restarts - len(starts))]
        z0 = torch.cat(starts)  # (R * B, dim): restart r of image i at r * B + i
        xr = x.repeat(restarts, *([1] * (x.dim() - 1)))
        with lg.repeated(restarts):  # DR-GAN: full-batch extra inputs follow the restarts
            z, mse_all, history = _optimise(lg, xr, z0, steps=steps, lr=lr, prior_weight=prior_weight,
                                            feature_weight=feature_weight, progress=progress,
                                            desc=f"invert ({method})")
        mse_all = mse_all.view(restarts, b)
        best = mse_all.argmin(dim=0)
        z = z.view(restarts, b, -1)[best, torch.arange(b, device=z.device)]
        with torch.no_grad():
            rec = lg(z)
        mse = per_sample_mse(rec, x)
    res = InversionResult(z, rec, mse, psnr(mse, lg.spec.output_range), time.perf_counter() - t0, method, steps,
                          restarts, history, best.cpu())
    logger.info("inverted %s", res.summary())
    return res


# ------------------------------------------------------------------------------------------------------ encoder


class LatentEncoder(nn.Module):
    """A small convolutional encoder x -> z for a model's outputs (IcGAN's E_z), to train with
    :func:`train_encoder_on_samples`.

    Stride-2 4x4 convs (2-D for images, 3-D for videos and volumes) with BN + LeakyReLU(0.2), doubling ``width``
    each time, until the spatial side is <= 4, then a linear layer to ``dim``. Input (B, *output_shape) in the
    model's output range; output (B, dim) unbounded (bounded priors clamp where it is used)."""

    def __init__(self, model: GANModel | LatentGenerator, width: int = 32, max_width: int = 256):
        super().__init__()
        spec = latent_spec(model)
        shape = spec.output_shape
        dims = len(shape) - 1
        conv = nn.Conv2d if dims == 2 else nn.Conv3d
        bn = nn.BatchNorm2d if dims == 2 else nn.BatchNorm3d
        layers: list[nn.Module] = []
        ch, side = shape[0], list(shape[1:])
        w = check_int(width, "width")
        while max(side) > 4:
            layers += [conv(ch, w, 4, 2, 1), bn(w), nn.LeakyReLU(0.2, True)]
            ch, side = w, [max(1, s // 2) for s in side]
            w = min(w * 2, max_width)
        self.features = nn.Sequential(*layers)
        n = ch
        for s in side:
            n *= s
        self.head = nn.Linear(n, spec.dim)
        self.dim = spec.dim

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x).flatten(1))


def train_encoder_on_samples(model: GANModel | LatentGenerator, encoder: nn.Module, steps: int = 1000,
                             batch_size: int = 64, lr: float = 1e-3, seed: int | None = 0, *,
                             extra_inputs: Mapping[str, Any] | Sequence[Any] | None = None,
                             recon_weight: float = 0.0, bn_batches: int = 16,
                             progress: bool | None = None) -> list[float]:
    """Train ``encoder`` in place, IcGAN-style (Perarnau et al. 2016): z ~ prior, x = G(z) (no gradient),
    minimise mse(E(x), z) (+ ``recon_weight * mse(G(E(x)), x)``, the image reconstruction through the frozen
    generator) with Adam (``lr``, betas (0.5, 0.999)) for ``steps`` batches of ``batch_size``.

    The generator is frozen (eval mode, no gradients into its weights) and left as it was. The encoder ends in
    eval mode; its BatchNorm running statistics (if any) are re-estimated after training over ``bn_batches``
    generated batches with the final weights (0: kept as training left them). Returns the latent MSE after each
    step (in latent units: a Gaussian prior's codes have variance 1), without the reconstruction term."""
    lg = bind(model, extra_inputs)
    steps = check_int(steps, "steps", lo=1)
    batch_size = check_int(batch_size, "batch_size", lo=2)
    lr = check_float(lr, "lr", lo_open=True)
    recon_weight = check_float(recon_weight, "recon_weight")
    bn_batches = check_int(bn_batches, "bn_batches", lo=0)
    if not isinstance(encoder, nn.Module):
        raise TypeError(f"encoder: expected a torch.nn.Module to train, got {type(encoder).__name__}")
    gen = make_generator(seed)
    params = [p for p in encoder.parameters() if p.requires_grad]
    if not params:
        raise ValueError("encoder: has no trainable parameters")
    opt = torch.optim.Adam(params, lr=lr, betas=(0.5, 0.999))
    encoder.train()
    history: list[float] = []
    with frozen(lg.model), torch.enable_grad(), progress_bar(steps, "train encoder", progress) as bar:
        for _ in range(steps):
            z = lg.sample(batch_size, gen)
            with torch.no_grad():
                x = lg(z)
            ze = encoder(x)
            zloss = (ze - z).pow(2).mean()
            loss = zloss + recon_weight * (lg(lg.project(ze)) - x).pow(2).mean() if recon_weight > 0 else zloss
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            history.append(float(zloss.detach()))
            bar.update(1)
        recalibrate_batchnorm(encoder, lambda: lg(lg.sample(batch_size, gen)), bn_batches)
    encoder.eval()
    logger.info("trained the encoder for %d steps: latent MSE %.4f -> %.4f", steps, history[0], history[-1])
    return history


@torch.no_grad()
def recalibrate_batchnorm(module: nn.Module, batch: Callable[[], torch.Tensor], batches: int) -> None:
    """Set the BatchNorm running statistics of ``module`` to their average over ``batches`` batches of
    ``batch()`` with the final weights (training moves the weights faster than the momentum-0.1 running averages
    follow; eval mode would then normalise with stale statistics). Nothing to do without BatchNorm layers."""
    bns = [m for m in module.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.track_running_stats]
    if not bns or batches < 1:
        return
    momenta = [m.momentum for m in bns]
    was = module.training
    try:
        module.train()
        for m in bns:
            m.reset_running_stats()
            m.momentum = None  # a cumulative average
        for _ in range(batches):
            module(batch())
    finally:
        for m, mom in zip(bns, momenta):
            m.momentum = mom
        module.train(was)
