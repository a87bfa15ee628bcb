"""Semantic inpainting by z-optimisation (Yeh, Chen, Lim, Schwing, Hasegawa-Johnson, Do 2016/2017, "Semantic Image
Inpainting with Deep Generative Models"): search the latent space for the generated image closest to the known
pixels, then blend it into the hole.

    z* = argmin_z  || W * (G(z) - y) ||_1  +  lambda_p * log(1 - D(G(z)))

The contextual loss is an L1 over the known pixels weighted by the paper's importance weights: for a known pixel
i, W_i = the fraction of hole pixels in its ``window`` x ``window`` neighbourhood (7 in the paper), 0 in the hole
(``weighted=False``: W = 1 on every known pixel). The perceptual loss is log(1 - D(G(z))) = -softplus(logit)
for a sigmoid discriminator (DCGAN, 3D-GAN; DR-GAN's "not fake" log-odds), or -score for TGAN's WGAN critic;
``lambda_p`` = 0.003 as in the paper (0 skips the discriminator). Adam on z (clamped into a bounded prior);
``restarts`` random starts per image, the one with the lowest contextual loss kept.

**Mask**: True / 1 / white = hole, as :mod:`ganzoo.pipelines.inpainting` (the models' own masks are the
opposite). A bool tensor / array, or numbers that are all 0 or 1 (anything else is refused as not binary); a PIL
image, an image file, or a uint8 / uint16 array with other values than 0 and 1 is read as a mask image by
:func:`ganzoo.pipelines.inpainting.hole_mask` (grey >= 128 and opaque = hole). (H, W) for every image, or one per
image (B, H, W) / (B, 1, H, W). A mask whose every pixel is a hole is refused.

**Blending** (``blend``): "poisson" (default): ``cv2.seamlessClone`` (NORMAL_CLONE, opencv-python-headless) of G(z)
into the image, which matches the known pixels' colours across the hole's border; the hole is quantised to 8 bits
(without OpenCV it raises ImportError naming the package). "alpha": the known border colours are propagated
``feather`` pixels into the hole and alpha-blended with G(z) (alpha rising from 0 at the border to 1 deeper in).
"none": G(z) pasted into the hole as it is. In every mode the composite's known pixels are the input's exactly.
"""
from __future__ import annotations

import dataclasses
import logging
import os
from typing import Any, Mapping, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from ..models.base import GANModel
from ._core import (LatentGenerator, binary_mask, bind, check_choice, check_float, check_int, frozen, is_critic,
                    make_generator, progress_bar, realness)

logger = logging.getLogger("ganzoo.latent")

__all__ = ["semantic_inpaint", "SemanticInpaintResult", "importance_weights", "BLENDS", "hole_masks"]

BLENDS = ("poisson", "alpha", "none")


@dataclasses.dataclass
class SemanticInpaintResult:
    """composite: (B, C, H, W) the image with the hole filled (known pixels the input's exactly). generated: raw
    G(z) (B, C, H, W). z: (B, dim). initial: G of the kept start's initial z. contextual_loss: (B,) final weighted
    L1. hole: (B, 1, H, W) bool, True = hole. blend: the blend used. loss_history: mean total loss per step."""

    composite: torch.Tensor
    generated: torch.Tensor
    z: torch.Tensor
    initial: torch.Tensor
    contextual_loss: torch.Tensor
    hole: torch.Tensor
    blend: str
    loss_history: list[float]


def importance_weights(hole: torch.Tensor, window: int = 7) -> torch.Tensor:
    """Yeh et al.'s weights of the contextual loss: hole (B, 1, H, W) bool (True = hole) -> (B, 1, H, W) float:
    for a known pixel, the fraction of hole pixels among its ``window`` x ``window`` neighbours (inside the image);
    0 in the hole. ``window``: an odd int >= 3."""
    window = check_int(window, "window", lo=3)
    if window % 2 == 0:
        raise ValueError(f"window: expected an odd size, got {window}")
    h = hole.float()
    frac = F.avg_pool2d(h, window, stride=1, padding=window // 2, count_include_pad=False)
    return frac * (1 - h)


def _is_mask_image(mask: Any) -> bool:
    if isinstance(mask, (str, os.PathLike)):
        return True
    try:
        from PIL import Image

        if isinstance(mask, Image.Image):
            return True
    except ImportError:  # pragma: no cover
        pass
    if isinstance(mask, np.ndarray) and mask.dtype in (np.uint8, np.uint16):
        return bool(((mask != 0) & (mask != 1)).any())
    return False


def hole_masks(mask: Any, batch: int, size: Sequence[int]) -> torch.Tensor:
    """Any accepted mask (module docstring) -> (batch, 1, H, W) bool, True = hole."""
    if _is_mask_image(mask):
        from ..pipelines.inpainting import hole_mask

        m = torch.from_numpy(hole_mask(mask, tuple(size)))
        return m[None, None].expand(batch, 1, *size).clone()
    if isinstance(mask, np.ndarray):
        mask = torch.from_numpy(np.ascontiguousarray(mask))
    if not isinstance(mask, torch.Tensor):
        raise TypeError(f"mask: expected a tensor / array (H, W), a PIL image or a mask file, got "
                        f"{type(mask).__name__}")
    m = mask
    if m.dim() == 4 and m.shape[1] == 1:
        m = m[:, 0]
    if m.dim() == 3 and m.shape[0] == 1:
        m = m[0]
    if m.dim() == 2:
        return binary_mask(m, size)[None, None].expand(batch, 1, *size).clone()
    if m.dim() == 3:
        if m.shape[0] != batch:
            raise ValueError(f"mask: {m.shape[0]} masks for {batch} images; give one (H, W) or one per image")
        return torch.stack([binary_mask(mi, size) for mi in m])[:, None]
    raise ValueError(f"mask: expected (H, W), (B, H, W) or (B, 1, H, W), got {tuple(mask.shape)}")


def _perceptual(lg: LatentGenerator, y: torch.Tensor) -> torch.Tensor:
    r = realness(lg, y)
    return -r if is_critic(lg) else -F.softplus(r)  # log(1 - sigmoid(r)) = -softplus(r)


def _to_uint8_hwc(x: torch.Tensor, value_range: tuple[float, float]) -> np.ndarray:
    lo, hi = value_range
    a = ((x.detach().float().cpu() - lo) / (hi - lo)).clamp(0, 1).mul(255).round().to(torch.uint8)
    a = a.permute(1, 2, 0).numpy()
    return np.ascontiguousarray(np.repeat(a, 3, axis=2) if a.shape[2] == 1 else a)


def _poisson(image: torch.Tensor, gen: torch.Tensor, hole: torch.Tensor, value_range: tuple[float, float]
             ) -> torch.Tensor:
    """seamlessClone of one image: image, gen (C, H, W), hole (H, W) bool -> (C, H, W) with the hole blended."""
    import cv2

    c = image.shape[0]
    pad = 2
    paste = torch.where(hole[None], gen, image)  # the border condition where the hole touches the image edge
    dst = cv2.copyMakeBorder(_to_uint8_hwc(paste, value_range), pad, pad, pad, pad, cv2.BORDER_REPLICATE)
    src = cv2.copyMakeBorder(_to_uint8_hwc(gen, value_range), pad, pad, pad, pad, cv2.BORDER_REPLICATE)
    m = np.pad(hole.cpu().numpy().astype(np.uint8) * 255, pad)
    x, y, w, h = cv2.boundingRect(m)
    out = cv2.seamlessClone(src, dst, m, (x + w // 2, y + h // 2), cv2.NORMAL_CLONE)
    out = out[pad:-pad, pad:-pad]
    t = torch.from_numpy(out.astype(np.float32) / 255.0).permute(2, 0, 1)
    if c == 1:
        t = t.mean(dim=0, keepdim=True)
    lo, hi = value_range
    t = (t * (hi - lo) + lo).to(image.device, image.dtype)
    return torch.where(hole[None], t, image)


def _alpha(image: torch.Tensor, gen: torch.Tensor, hole: torch.Tensor, feather: int) -> torch.Tensor:
    """Known border colours propagated ``feather`` px into the hole, alpha-blended with gen; (B, C, H, W)."""
    known = (~hole).to(image.dtype)  # (B, 1, H, W)
    ext = image * known
    dist = torch.zeros_like(known)
    kernel = torch.ones(1, 1, 3, 3, dtype=image.dtype, device=image.device)
    c = image.shape[1]
    filled = known.clone()
    for k in range(1, feather + 1):
        cnt = F.conv2d(filled, kernel, padding=1)
        s = F.conv2d((ext * filled).reshape(-1, 1, *ext.shape[2:]), kernel, padding=1).reshape(ext.shape)
        new = (cnt > 0) & (filled == 0)
        ext = torch.where(new, s / cnt.clamp_min(1), ext)
        dist = torch.where(new, torch.full_like(dist, float(k)), dist)
        filled = torch.where(new, torch.ones_like(filled), filled)
    alpha = torch.where(dist > 0, dist / (feather + 1), torch.ones_like(dist))
    alpha = torch.where(hole, alpha, torch.zeros_like(alpha)).expand(-1, c, -1, -1)
    blended = torch.where(filled.bool() & hole, (1 - alpha) * ext + alpha * gen, gen)
    return torch.where(hole, blended, image)


def semantic_inpaint(model: GANModel | LatentGenerator, image: torch.Tensor, mask: Any, *, steps: int = 500,
                     lr: float = 0.03, lambda_p: float = 0.003, restarts: int = 1, blend: str = "poisson",
                     weighted: bool = True, window: int = 7, feather: int = 2, seed: int | None = 0,
                     extra_inputs: Mapping[str, Any] | Sequence[Any] | None = None,
                     progress: bool | None = None) -> SemanticInpaintResult:
    """Fill the hole of ``image`` with the generated image that best matches its known pixels (module docstring).

    image: (B, C, H, W) or (C, H, W) in the model's output range (an image model's output shape; the hole's
        values are ignored). mask: True / 1 / white = hole (module docstring). steps / lr: Adam on z. lambda_p:
        weight of the perceptual (discriminator) loss. restarts: random starts per image (>= 1). blend: "poisson",
        "alpha" or "none". weighted: the paper's importance weights (else a plain masked L1). window: their
        neighbourhood (odd). feather: border width in pixels of the "alpha" blend (0 = a plain paste). seed: the
        random starts. Returns a :class:`SemanticInpaintResult`."""
    lg = bind(model, extra_inputs)
    if lg.spec.kind != "image" or len(lg.spec.output_shape) != 3:
        raise ValueError(f"semantic_inpaint works on image models (B, C, H, W); {lg.label} makes {lg.spec.kind}s "
                         f"{(None,) + lg.spec.output_shape}")
    steps = check_int(steps, "steps", lo=1)
    restarts = check_int(restarts, "restarts", lo=1, hi=1024)
    lr = check_float(lr, "lr", lo_open=True)
    lambda_p = check_float(lambda_p, "lambda_p")
    feather = check_int(feather, "feather", lo=0, hi=64)
    check_choice(blend, "blend", BLENDS)
    if not isinstance(weighted, bool):
        raise TypeError(f"weighted: expected True or False, got {weighted!r}")
    history: list[float] = []
    with frozen(lg.model):
        x = lg.check_outputs(image, "image")
        b = x.shape[0]
        hole = hole_masks(mask, b, x.shape[-2:]).to(x.device)
        full = hole.flatten(1).all(dim=1)
        if bool(full.any()):
            raise ValueError(f"mask: every pixel of image {int(full.nonzero()[0])} is a hole; semantic inpainting "
                             f"needs known pixels (True / 1 / white = hole)")
        known = (~hole).to(x.dtype)
        w = importance_weights(hole, window) if weighted else known
        empty_w = w.flatten(1).sum(dim=1) == 0  # no hole: the weights vanish; fall back to every known pixel
        w = torch.where(empty_w[:, None, None, None], known, w).expand_as(x)
        gen = make_generator(seed)
        z0 = torch.cat([lg.sample(b, gen) for _ in range(restarts)])
        xr = x.repeat(restarts, 1, 1, 1)
        wr = w.repeat(restarts, 1, 1, 1)
        z = z0.clone().requires_grad_(True)
        opt = torch.optim.Adam([z], lr=lr)

        def contextual(y: torch.Tensor) -> torch.Tensor:
            return (wr * (y - xr)).abs().flatten(1).sum(dim=1)

        with torch.enable_grad(), lg.repeated(restarts), progress_bar(steps, "semantic inpaint", progress) as bar:
            for _ in range(steps):
                opt.zero_grad(set_to_none=True)
                y = lg(z)
                loss = contextual(y)
                if lambda_p > 0:
                    loss = loss + lambda_p * _perceptual(lg, y)
                loss.sum().backward()
                opt.step()
                lg.project_(z)
                history.append(float(loss.detach().mean()))
                bar.update(1)
        with torch.no_grad():
            z = z.detach()
            with lg.repeated(restarts):
                ctx = contextual(lg(z)).view(restarts, b)
            best = ctx.argmin(dim=0)
            idx = best * b + torch.arange(b, device=best.device)
            z, zi = z[idx], z0[idx]
            g, init = lg(z), lg(zi)
            ctx = ctx[best, torch.arange(b, device=best.device)]
        used = blend
        if blend == "poisson":
            try:
                import cv2  # noqa: F401
            except ImportError:
                raise ImportError("blend='poisson' needs OpenCV (pip install opencv-python-headless); or pass "
                                  "blend='alpha' or 'none'") from None
        if used == "poisson":
            comp = torch.stack([_poisson(x[i], g[i], hole[i, 0], lg.spec.output_range) if bool(hole[i].any())
                                else x[i] for i in range(b)])
        elif used == "alpha":
            comp = _alpha(x, g, hole, feather)
        else:
            comp = torch.where(hole, g, x)
    logger.info("semantic inpainting of %d image(s): contextual loss %.4g (%s blend)", b, float(ctx.mean()), used)
    return SemanticInpaintResult(comp, g, z, init, ctx, hole, used, history)
