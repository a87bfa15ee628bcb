"""Seeded colour augmentation for image-to-image training crops (numpy only).

Why: the offline photo pool is mostly grey (:mod:`ganzoo.data.inpainting`), and its colour material is a few
video clips of low saturation, so a model fine-tuned on it learns a grey prior: on a saturated photo (a red fundus
image, an orange flower) it pulls the colours toward grey by several 8-bit levels. Super-resolution is (to first
order) equivariant to permuting the colour channels and to changing saturation, so these transforms make new,
valid training pairs out of the same crops:

- a uniformly drawn permutation of the three channels;
- a colour crop's saturation scaled by a factor drawn uniformly from ``saturation`` about its per-pixel
  BT.601 luma (values clipped to [0, 255], which gives the flat saturated areas real photos have);
- a grey crop (three equal channels) tinted by per-channel gains drawn uniformly from ``tint`` (so it becomes a
  colour image whose channels are not equal).

The LR input must be made from the augmented HR crop (as :func:`ganzoo.train.sr.make_sr_batch` does), so the pair
stays a true degradation pair.
"""
from __future__ import annotations

import numpy as np

__all__ = ["colour_augment"]

_LUMA = np.array([0.299, 0.587, 0.114], dtype=np.float32)


def colour_augment(images: np.ndarray, *, seed: int, saturation: tuple[float, float] = (0.8, 1.8),
                   tint: tuple[float, float] = (0.55, 1.0)) -> np.ndarray:
    """Colour-augment a batch of crops.

    Args:
        images: uint8 (N, H, W, 3).
        seed: the draws come from ``numpy.random.default_rng(seed)`` (same seed, same output).
        saturation: (low, high) range of the saturation factor for colour crops (1 = unchanged).
        tint: (low, high) range of the per-channel gains for grey crops.

    Returns:
        a new uint8 (N, H, W, 3) array; ``images`` is not modified.
    """
    if not isinstance(images, np.ndarray) or images.dtype != np.uint8 or images.ndim != 4 or images.shape[-1] != 3:
        raise ValueError("images must be a uint8 array (N, H, W, 3), got "
                         f"{getattr(images, 'dtype', type(images).__name__)} {getattr(images, 'shape', '')}")
    for name, (lo, hi) in (("saturation", saturation), ("tint", tint)):
        if not 0 <= lo <= hi:
            raise ValueError(f"{name} must be a range (low, high) with 0 <= low <= high, got {(lo, hi)!r}")
    rng = np.random.default_rng(seed)
    out = np.empty_like(images)
    for k, img in enumerate(images):
        perm = rng.permutation(3)
        s = rng.uniform(*saturation)
        gains = rng.uniform(*tint, size=3).astype(np.float32)
        x = img.astype(np.float32)
        if (img[..., 0] == img[..., 1]).all() and (img[..., 1] == img[..., 2]).all():
            x = x * gains
        else:
            y = x @ _LUMA
            x = y[..., None] + s * (x - y[..., None])
        out[k] = np.clip(np.rint(x[..., perm]), 0, 255).astype(np.uint8)
    return out
