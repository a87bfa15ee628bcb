"""Image-quality metrics of the super-resolution literature: PSNR and SSIM, in RGB or on the BT.601 luma (Y).

The conventions are those of the standard SR evaluation code (the MATLAB scripts of the SRGAN/EDSR era and their
Python ports, e.g. BasicSR's ``calculate_psnr`` / ``calculate_ssim`` with ``test_y_channel=True``):

- **Y channel**: ITU-R BT.601 as in MATLAB's ``rgb2ycbcr``, ``Y = 16 + 65.481 R + 128.553 G + 24.966 B`` for
  R, G, B in [0, 1], giving Y in [16, 235] on a 0..255 scale. Y is kept in floating point (MATLAB rounds it to
  uint8 when its input is uint8; the Python ports do not, and neither does this module).
- **border**: ``border`` pixels are removed from every side before the metric (the SRGAN paper removes ``scale``
  pixels, e.g. 4 at x4).
- **PSNR**: ``10 log10(data_range^2 / MSE)`` over every remaining pixel and channel; ``inf`` for identical images.
  On the Y channel ``data_range`` stays the input's full range (255 for uint8), not 235 - 16, as in the literature.
- **SSIM** (Wang, Bovik, Sheikh, Simoncelli, IEEE TIP 2004): 11x11 Gaussian window with sigma 1.5 (normalised),
  K1 = 0.01, K2 = 0.03, C1 = (K1 L)^2, C2 = (K2 L)^2 with L = ``data_range``; local statistics with the biased
  (population) covariance; the SSIM map is taken only where the whole window fits inside the image ("valid"
  filtering, 5 pixels lost per side) and averaged; several channels are averaged channel by channel.
  This equals ``skimage.metrics.structural_similarity(..., gaussian_weights=True, sigma=1.5,
  use_sample_covariance=False, data_range=L)`` and BasicSR's ``_ssim``.

**Hole metrics** (inpainting; :func:`masked_psnr`, :func:`masked_ssim`, :func:`masked_l1`, :func:`inpaint_scores`):
the same quantities restricted to the hole of a bool mask (H, W), ``True`` = hole (the convention of
:mod:`ganzoo.data.inpainting`), every channel of every hole pixel counting alike. PSNR from the MSE over the hole;
L1 the mean absolute error over the hole divided by ``data_range`` (so in [0, 1]); SSIM the mean of the SSIM map
(:func:`ssim_map`, the one :func:`ssim` averages) over the hole pixels on which the whole 11x11 window fits
(hole pixels within 5 pixels of the image border are left out; the window itself sees known pixels too).

Inputs are numpy arrays (H, W) or (H, W, C): uint8 (range 0..255 unless ``data_range`` says otherwise) or float
(``data_range`` must be given: 1.0 for images in [0, 1], 255.0 for floats on the 0..255 scale). All arithmetic
is float64. Only numpy is needed.

The SR forward used by the evaluation (``tools/eval_sr.py``) and ``ganzoo demo`` is here too
(:func:`sr_forward`; torch is imported when it runs): uint8 image -> float in the model's ``input_range`` ->
model -> output mapped from ``output_range`` to [0, 1], clipped, rounded (half to even) and cast to uint8 before
any metric, as krasserm's SRGAN code does (``tf.round`` then a uint8 cast).
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

__all__ = ["rgb_to_y", "psnr", "ssim", "ssim_map", "sr_scores", "masked_psnr", "masked_l1", "masked_ssim",
           "inpaint_scores", "gaussian_window_1d", "sr_preprocess", "sr_postprocess",
           "sr_forward", "sr_value_ranges", "BT601_Y_WEIGHTS", "BT601_Y_OFFSET"]

#: MATLAB rgb2ycbcr: Y = 16 + 65.481 R + 128.553 G + 24.966 B, R, G, B in [0, 1], Y on the 0..255 scale.
BT601_Y_WEIGHTS = (65.481, 128.553, 24.966)
BT601_Y_OFFSET = 16.0

_SSIM_SIGMA = 1.5
_SSIM_WIN = 11
_SSIM_K1, _SSIM_K2 = 0.01, 0.03

_INT_RANGES = {np.dtype(np.uint8): 255.0, np.dtype(np.uint16): 65535.0}


def _as_image(x: Any, name: str) -> np.ndarray:
    if not isinstance(x, np.ndarray):
        raise TypeError(f"{name}: expected a numpy array (H, W) or (H, W, C), got {type(x).__name__}")
    if x.ndim not in (2, 3):
        raise ValueError(f"{name}: expected an image of shape (H, W) or (H, W, C), got shape {x.shape}")
    if not (x.dtype in _INT_RANGES or np.issubdtype(x.dtype, np.floating)):
        raise TypeError(f"{name}: expected dtype uint8, uint16 or a float dtype, got {x.dtype}")
    return x


def _data_range(x: np.ndarray, data_range: float | None, name: str) -> float:
    if data_range is None:
        if x.dtype in _INT_RANGES:
            return _INT_RANGES[x.dtype]
        raise ValueError(f"{name}: data_range is required for {x.dtype} images (1.0 for images in [0, 1], "
                         f"255.0 for the 0..255 scale)")
    if isinstance(data_range, bool) or not isinstance(data_range, (int, float)) or not data_range > 0 \
            or not math.isfinite(data_range):
        raise ValueError(f"data_range must be a finite number > 0, got {data_range!r}")
    return float(data_range)


def rgb_to_y(img: np.ndarray, *, data_range: float | None = None) -> np.ndarray:
    """BT.601 luma of an RGB image, MATLAB ``rgb2ycbcr`` convention, on the input's own scale.

    img: (H, W, 3) uint8 (0..255), uint16, or float with ``data_range`` (e.g. 1.0 for [0, 1]).
    Returns float64 (H, W): ``Y = L * (16 + 65.481 r + 128.553 g + 24.966 b) / 255`` with r, g, b = RGB / L and
    L = ``data_range``; so Y is in [16, 235] for uint8 input and in [16/255, 235/255] for float input in [0, 1].
    Not rounded.
    """
    img = _as_image(img, "img")
    if img.ndim != 3 or img.shape[2] != 3:
        raise ValueError(f"rgb_to_y: expected an RGB image of shape (H, W, 3), got shape {img.shape}")
    rng = _data_range(img, data_range, "rgb_to_y")
    rgb = img.astype(np.float64) / rng
    w = np.asarray(BT601_Y_WEIGHTS, dtype=np.float64)
    return (BT601_Y_OFFSET + rgb @ w) * (rng / 255.0)


def _prepare(a: np.ndarray, b: np.ndarray, data_range: float | None, border: int,
             y_channel: bool) -> tuple[np.ndarray, np.ndarray, float]:
    """Checked float64 copies of ``a`` and ``b`` (Y if asked, border removed, always (H, W, C)) and the range."""
    a = _as_image(a, "a")
    b = _as_image(b, "b")
    if a.shape != b.shape:
        raise ValueError(f"images must have the same shape, got {a.shape} and {b.shape}")
    if a.dtype != b.dtype:
        raise TypeError(f"images must have the same dtype, got {a.dtype} and {b.dtype}")
    if isinstance(border, bool) or not isinstance(border, (int, np.integer)) or border < 0:
        raise ValueError(f"border must be an int >= 0, got {border!r}")
    rng = _data_range(a, data_range, "psnr/ssim")
    if y_channel:
        a, b = rgb_to_y(a, data_range=rng), rgb_to_y(b, data_range=rng)
    else:
        a, b = a.astype(np.float64), b.astype(np.float64)
    if a.ndim == 2:
        a, b = a[..., None], b[..., None]
    h, w = a.shape[:2]
    if 2 * border >= h or 2 * border >= w:
        raise ValueError(f"border {border} leaves nothing of a {h}x{w} image")
    if border:
        a, b = a[border:h - border, border:w - border], b[border:h - border, border:w - border]
    return a, b, rng


def psnr(a: np.ndarray, b: np.ndarray, *, data_range: float | None = None, border: int = 0,
         y_channel: bool = False) -> float:
    """Peak signal-to-noise ratio in dB, ``10 log10(data_range^2 / MSE)``; ``inf`` when ``a == b``.

    a, b: images of the same shape (H, W) or (H, W, C) and dtype (see the module docstring for ranges).
    border: pixels removed from each side first. y_channel: compare the BT.601 luma of RGB images
    (:func:`rgb_to_y`); ``data_range`` stays the RGB range (255 for uint8).
    """
    x, y, rng = _prepare(a, b, data_range, border, y_channel)
    mse = float(np.mean((x - y) ** 2))
    if mse == 0.0:
        return math.inf
    return 10.0 * math.log10(rng * rng / mse)


def gaussian_window_1d(size: int = _SSIM_WIN, sigma: float = _SSIM_SIGMA) -> np.ndarray:
    """Normalised 1-D Gaussian of odd ``size`` (the SSIM window is its outer product), float64."""
    r = size // 2
    t = np.arange(-r, r + 1, dtype=np.float64)
    g = np.exp(-(t * t) / (2.0 * sigma * sigma))
    return g / g.sum()


def _filter_valid(x: np.ndarray, g: np.ndarray) -> np.ndarray:
    """Separable 'valid' correlation of (H, W, C) with the outer product g g^T: (H - k + 1, W - k + 1, C)."""
    k = g.shape[0]
    h, w = x.shape[:2]
    rows = sum(g[i] * x[i:h - k + 1 + i] for i in range(k))
    return sum(g[j] * rows[:, j:w - k + 1 + j] for j in range(k))


def ssim_map(a: np.ndarray, b: np.ndarray, *, data_range: float | None = None, border: int = 0,
             y_channel: bool = False) -> np.ndarray:
    """The local SSIM map that :func:`ssim` averages (same window, constants and arguments).

    Returns float64 (H - 2 border - 10, W - 2 border - 10, C), C = 1 for (H, W) input or ``y_channel``: only where
    the whole 11x11 window fits inside the image ("valid"); element (i, j) is the window centred on pixel
    (border + 5 + i, border + 5 + j). Values in [-1, 1]. Equals skimage's ``structural_similarity(..., full=True)``
    map (same Gaussian settings) cropped by 5 pixels per side.
    """
    x, y, rng = _prepare(a, b, data_range, border, y_channel)
    if x.shape[0] < _SSIM_WIN or x.shape[1] < _SSIM_WIN:
        raise ValueError(f"ssim needs images of at least {_SSIM_WIN}x{_SSIM_WIN} after the border, got "
                         f"{x.shape[0]}x{x.shape[1]}")
    g = gaussian_window_1d()
    c1, c2 = (_SSIM_K1 * rng) ** 2, (_SSIM_K2 * rng) ** 2
    mu_x, mu_y = _filter_valid(x, g), _filter_valid(y, g)
    sxx = _filter_valid(x * x, g) - mu_x * mu_x
    syy = _filter_valid(y * y, g) - mu_y * mu_y
    sxy = _filter_valid(x * y, g) - mu_x * mu_y
    num = (2.0 * mu_x * mu_y + c1) * (2.0 * sxy + c2)
    den = (mu_x * mu_x + mu_y * mu_y + c1) * (sxx + syy + c2)
    return num / den


def ssim(a: np.ndarray, b: np.ndarray, *, data_range: float | None = None, border: int = 0,
         y_channel: bool = False) -> float:
    """Mean structural similarity (Wang et al. 2004), 11x11 Gaussian window sigma 1.5, K1 0.01, K2 0.03.

    a, b: images of the same shape (H, W) or (H, W, C) and dtype, at least 11x11 after removing ``border``
    pixels per side. y_channel: on the BT.601 luma of RGB images. Several channels: the mean of the per-channel
    SSIMs. 1.0 for identical images; in [-1, 1]. The mean of :func:`ssim_map`.
    """
    smap = ssim_map(a, b, data_range=data_range, border=border, y_channel=y_channel)
    return float(np.mean(smap.mean(axis=(0, 1))))


def sr_scores(hr: np.ndarray, sr: np.ndarray, scale: int) -> dict[str, float]:
    """The SR protocol's three numbers for uint8 RGB images of the same shape: PSNR and SSIM on the Y channel
    with ``scale`` pixels of border removed, and PSNR in RGB (with the same border)."""
    return {"psnr_y": psnr(hr, sr, border=scale, y_channel=True),
            "ssim_y": ssim(hr, sr, border=scale, y_channel=True),
            "psnr_rgb": psnr(hr, sr, border=scale)}


# ------------------------------------------------------------------------------------------------ hole metrics


def _prepare_masked(a: np.ndarray, b: np.ndarray, mask: Any, data_range: float | None,
                    what: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """Checked float64 (H, W, C) copies of ``a`` and ``b``, the bool (H, W) hole mask and the range."""
    a = _as_image(a, "a")
    b = _as_image(b, "b")
    if a.shape != b.shape:
        raise ValueError(f"{what}: images must have the same shape, got {a.shape} and {b.shape}")
    if a.dtype != b.dtype:
        raise TypeError(f"{what}: images must have the same dtype, got {a.dtype} and {b.dtype}")
    if not isinstance(mask, np.ndarray) or mask.dtype != bool or mask.ndim != 2:
        raise ValueError(f"{what}: mask: expected a bool array (H, W) with True = hole, got "
                         f"{getattr(mask, 'dtype', type(mask).__name__)} {getattr(mask, 'shape', '')}".rstrip())
    if mask.shape != a.shape[:2]:
        raise ValueError(f"{what}: mask shape {mask.shape} does not match the images' (H, W) {a.shape[:2]}")
    if not mask.any():
        raise ValueError(f"{what}: the mask has no hole (no True pixel); hole metrics need at least one hole pixel")
    rng = _data_range(a, data_range, what)
    x, y = a.astype(np.float64), b.astype(np.float64)
    if x.ndim == 2:
        x, y = x[..., None], y[..., None]
    return x, y, mask, rng


def masked_psnr(a: np.ndarray, b: np.ndarray, mask: np.ndarray, *, data_range: float | None = 255.0) -> float:
    """PSNR in dB over the hole: ``10 log10(data_range^2 / MSE)``, the MSE over every channel of every pixel where
    ``mask`` is True; ``inf`` when ``a`` and ``b`` agree on the whole hole.

    a, b: images (H, W) or (H, W, C) of the same shape and dtype. mask: bool (H, W), True = hole.
    data_range: the images' value range (255 for uint8 on 0..255; 1.0 for floats in [0, 1]; None: from the dtype).
    ValueError for an empty mask or mismatched shapes.
    """
    x, y, m, rng = _prepare_masked(a, b, mask, data_range, "masked_psnr")
    mse = float(np.mean((x[m] - y[m]) ** 2))
    if mse == 0.0:
        return math.inf
    return 10.0 * math.log10(rng * rng / mse)


def masked_l1(a: np.ndarray, b: np.ndarray, mask: np.ndarray, *, data_range: float | None = 255.0) -> float:
    """Mean absolute error over the hole, in units of ``data_range``: ``mean(|a - b|) / data_range`` over every
    channel of every pixel where ``mask`` is True; in [0, 1] (0 = identical hole; 1/255 = one 8-bit level).

    a, b: images (H, W) or (H, W, C) of the same shape and dtype. mask: bool (H, W), True = hole.
    ValueError for an empty mask or mismatched shapes.
    """
    x, y, m, rng = _prepare_masked(a, b, mask, data_range, "masked_l1")
    return float(np.mean(np.abs(x[m] - y[m]))) / rng


def masked_ssim(a: np.ndarray, b: np.ndarray, mask: np.ndarray, *, data_range: float | None = 255.0) -> float:
    """Mean of the SSIM map (:func:`ssim_map`, the one :func:`ssim` averages) over the hole, in [-1, 1].

    Map element (i, j) belongs to pixel (i + 5, j + 5), the centre of its 11x11 window; only hole pixels whose
    whole window lies inside the image (at least 5 pixels from every border) count. Several channels: every channel's
    map value at every such pixel counts alike (= the mean of the per-channel hole means).
    a, b: images (H, W) or (H, W, C), at least 11x11, of the same shape and dtype. mask: bool (H, W), True = hole.
    ValueError for an empty mask, a hole that lies entirely within 5 pixels of the border, or mismatched shapes.
    """
    _, _, m, rng = _prepare_masked(a, b, mask, data_range, "masked_ssim")
    smap = ssim_map(a, b, data_range=rng)
    r = _SSIM_WIN // 2
    inner = m[r:m.shape[0] - r, r:m.shape[1] - r]
    if not inner.any():
        raise ValueError(f"masked_ssim: every hole pixel lies within {r} pixels of the image border, where the "
                         f"{_SSIM_WIN}x{_SSIM_WIN} SSIM window does not fit; no SSIM value for this hole")
    return float(np.mean(smap[inner]))


def inpaint_scores(gt: np.ndarray, out: np.ndarray, mask: np.ndarray) -> dict[str, float]:
    """The inpainting protocol's three hole numbers for uint8 images (H, W, 3) on 0..255 (``gt`` the ground
    truth, ``out`` the 8-bit result) and a bool (H, W) mask, True = hole:
    ``{"hole_psnr": dB, "hole_ssim": [-1, 1], "hole_l1": [0, 1]}`` (:func:`masked_psnr`, :func:`masked_ssim`,
    :func:`masked_l1` with data_range 255)."""
    for n, x in (("gt", gt), ("out", out)):
        if not isinstance(x, np.ndarray) or x.dtype != np.uint8:
            raise TypeError(f"inpaint_scores: {n}: expected a uint8 image (H, W, 3), got "
                            f"{getattr(x, 'dtype', type(x).__name__)}")
    return {"hole_psnr": masked_psnr(gt, out, mask, data_range=255.0),
            "hole_ssim": masked_ssim(gt, out, mask, data_range=255.0),
            "hole_l1": masked_l1(gt, out, mask, data_range=255.0)}


def sr_value_ranges(model: Any) -> tuple[tuple[float, float], tuple[float, float]]:
    """(input_range, output_range) of an SR model: the ranges of its first input and output spec
    (``model.specs``, which its config's ``input_range`` / ``output_range`` define). ValueError for a model
    without a scale factor or without both ranges."""
    specs = getattr(model, "specs", None)
    rin = specs.inputs[0].range if specs is not None and specs.scale and specs.inputs else None
    rout = specs.outputs[0].range if specs is not None and specs.scale and specs.outputs else None
    if rin is None or rout is None:
        raise ValueError(f"{type(model).__name__} declares no input_range/output_range: expected an SR model "
                         f"(e.g. ganzoo.load('srresnet'))")
    return (float(rin[0]), float(rin[1])), (float(rout[0]), float(rout[1]))


def sr_preprocess(lr: np.ndarray, input_range: tuple[float, float] = (0.0, 1.0)) -> np.ndarray:
    """uint8 RGB (H, W, 3) -> float32 (1, 3, H, W) in ``input_range`` (x / 255 mapped linearly)."""
    if not isinstance(lr, np.ndarray) or lr.dtype != np.uint8 or lr.ndim != 3 or lr.shape[2] != 3:
        raise ValueError(f"sr_preprocess: expected a uint8 RGB array (H, W, 3), got "
                         f"{getattr(lr, 'dtype', type(lr).__name__)} {getattr(lr, 'shape', '')}")
    lo, hi = input_range
    x = lr.astype(np.float32).transpose(2, 0, 1)[None] / np.float32(255.0)
    if (lo, hi) != (0.0, 1.0):
        x = x * np.float32(hi - lo) + np.float32(lo)
    return np.ascontiguousarray(x)


def sr_postprocess(out: np.ndarray, output_range: tuple[float, float] = (0.0, 1.0)) -> np.ndarray:
    """float (1, 3, H, W) in ``output_range`` -> uint8 (H, W, 3): mapped to [0, 1], clipped, x 255, rounded."""
    out = np.asarray(out)
    if out.ndim != 4 or out.shape[0] != 1 or out.shape[1] != 3:
        raise ValueError(f"sr_postprocess: expected an array (1, 3, H, W), got shape {out.shape}")
    lo, hi = output_range
    y = (out[0].astype(np.float64) - lo) / (hi - lo)
    y = np.round(np.clip(y, 0.0, 1.0) * 255.0)
    return np.ascontiguousarray(y.transpose(1, 2, 0).astype(np.uint8))


def sr_forward(model: Any, lr: np.ndarray, *, dtype: Any = None, device: Any = None,
               channels_last: bool = False) -> np.ndarray:
    """Super-resolve one uint8 RGB image (h, w, 3) with a ganzoo SR model; returns uint8 (scale*h, scale*w, 3).

    The model runs as it is (its own dtype and device unless ``dtype`` / ``device`` are given, in which case the
    input is cast/moved to match; the model must already be in that dtype and on that device), in eval mode and
    under ``torch.no_grad()``. ``channels_last`` feeds an NHWC-strided input (pair it with a model converted by
    ``model.to(memory_format=torch.channels_last)``; on CPU the float16 kernels are only fast that way).
    """
    import torch

    rin, rout = sr_value_ranges(model)
    x = torch.from_numpy(sr_preprocess(lr, rin))
    p = next(model.parameters())
    x = x.to(device=device if device is not None else p.device, dtype=dtype if dtype is not None else p.dtype)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            out = model(x)
    finally:
        model.train(was_training)
    if isinstance(out, (tuple, list)):
        out = out[0]
    return sr_postprocess(out.detach().float().cpu().numpy(), rout)
