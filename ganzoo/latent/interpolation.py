"""Latent interpolation: lerp / slerp, interpolations between two codes, looping latent walks, 2-D grids, writers.

Slerp (White 2016, "Sampling Generative Networks") follows the great circle between two codes:
``slerp(z0, z1, t) = sin((1 - t) W) / sin W * z0 + sin(t W) / sin W * z1`` with W the angle between them; it keeps
the norm of two equal-norm codes (a Gaussian code's norm concentrates near sqrt(dim), which linear interpolation
leaves at the midpoint). Near-parallel (or anti-parallel, or zero) codes, where sin W < 1e-6, fall back to linear
interpolation. For a bounded uniform prior (3D-GAN U(0, 1), TGAN U(-1, 1)) the model-level functions slerp
about the prior's centre ((lo + hi) / 2) and clamp into the range; the endpoints are always the given codes
exactly.

Writers (:func:`write_interpolation`): image models write a picture grid (.png .jpg .jpeg .webp .bmp .tif .tiff)
or an animation (.gif, .mp4: one frame per step); TGAN and 3D-GAN write what ``ganzoo sample`` writes for their
family (videos tiled into a .gif / .mp4 or a frame grid picture; volumes as shaded renders, one row per step,
meshes or .npy), see :mod:`ganzoo.pipelines.samples`.
"""
from __future__ import annotations

import logging
import math
import os
from pathlib import Path
from typing import Any, Mapping, Sequence

import torch

from ..models.base import GANModel
from ._core import LatentGenerator, bind, check_choice, check_int, frozen, make_generator

logger = logging.getLogger("ganzoo.latent")

__all__ = ["lerp", "slerp", "latent_path", "interpolate", "latent_walk", "interpolation_grid",
           "write_interpolation", "METHODS", "IMAGE_SUFFIXES", "ANIMATION_SUFFIXES"]

#: interpolation methods
METHODS = ("slerp", "linear")
#: picture suffixes of image-model grids
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff")
#: animation suffixes (one frame per step)
ANIMATION_SUFFIXES = (".gif", ".mp4")
_PARALLEL_EPS = 1e-6


def _weights(t: Any, like: torch.Tensor) -> tuple[torch.Tensor, bool]:
    """t as a float64 tensor shaped to broadcast against ``like`` with a leading (T,) axis; and whether t was a
    sequence / 1-D tensor (output gets that leading axis) rather than a scalar."""
    tt = torch.as_tensor(t, dtype=torch.float64, device=like.device)
    if tt.dim() > 1:
        raise ValueError(f"t: expected a number or a 1-D sequence of weights, got shape {tuple(tt.shape)}")
    if not bool(torch.isfinite(tt).all()):
        raise ValueError("t: expected finite interpolation weights")
    many = tt.dim() == 1
    return tt.reshape((-1,) + (1,) * like.dim()) if many else tt, many


def _check_pair(z0: torch.Tensor, z1: torch.Tensor) -> None:
    for n, z in (("z0", z0), ("z1", z1)):
        if not isinstance(z, torch.Tensor) or not torch.is_floating_point(z):
            raise TypeError(f"{n}: expected a floating-point torch.Tensor, got "
                            f"{z.dtype if isinstance(z, torch.Tensor) else type(z).__name__}")
    if z0.shape != z1.shape:
        raise ValueError(f"z0 and z1 must have one shape, got {tuple(z0.shape)} and {tuple(z1.shape)}")
    if z0.dim() == 0:
        raise ValueError("z0, z1: expected vectors (..., D), got scalars")


def lerp(z0: torch.Tensor, z1: torch.Tensor, t: float | Sequence[float] | torch.Tensor) -> torch.Tensor:
    """Linear interpolation ``z0 + t (z1 - z0)`` with exact endpoints (t = 0 gives z0, t = 1 gives z1 bit for bit).

    z0, z1: tensors of one shape (..., D). t: a number (result shaped like z0) or a 1-D sequence of T weights
    (result (T, ...)). Weights outside [0, 1] extrapolate."""
    _check_pair(z0, z1)
    w, _ = _weights(t, z0)
    a, b = z0.double(), z1.double()
    out = torch.lerp(a, b, w) if w.dim() == 0 else torch.lerp(a.expand(w.shape[:1] + a.shape),
                                                                b.expand(w.shape[:1] + b.shape), w)
    out = torch.where(w == 0, a, torch.where(w == 1, b, out))
    return out.to(z0.dtype)


def slerp(z0: torch.Tensor, z1: torch.Tensor, t: float | Sequence[float] | torch.Tensor) -> torch.Tensor:
    """Spherical interpolation along the last axis (White 2016), with exact endpoints.

    z0, z1: tensors of one shape (..., D): each (D,) vector pair is interpolated on its great circle. t: a number
    (result shaped like z0) or a 1-D sequence of T weights (result (T, ...)). Pairs whose angle W has
    sin W < 1e-6 (parallel, anti-parallel or a zero vector) are interpolated linearly. Two codes of equal norm keep
    that norm all along. Computed in float64, returned in z0's dtype."""
    _check_pair(z0, z1)
    w, _ = _weights(t, z0)
    a, b = z0.double(), z1.double()
    na, nb = a.norm(dim=-1, keepdim=True), b.norm(dim=-1, keepdim=True)
    ua, ub = a / na.clamp_min(1e-300), b / nb.clamp_min(1e-300)
    omega = 2 * torch.atan2((ua - ub).norm(dim=-1, keepdim=True), (ua + ub).norm(dim=-1, keepdim=True))
    so = torch.sin(omega)
    degenerate = (so < _PARALLEL_EPS) | (na == 0) | (nb == 0)
    safe = torch.where(degenerate, torch.ones_like(so), so)
    out = torch.sin((1 - w) * omega) / safe * a + torch.sin(w * omega) / safe * b
    lin = a + w * (b - a)
    out = torch.where(degenerate, lin, out)
    out = torch.where(w == 0, a, torch.where(w == 1, b, out))
    return out.to(z0.dtype)


def latent_path(z0: torch.Tensor, z1: torch.Tensor, steps: int = 8, method: str = "slerp", *,
                centre: float = 0.0) -> torch.Tensor:
    """``steps`` codes from z0 to z1 inclusive, evenly spaced in t: (steps, *z0.shape).

    method: "slerp" (about ``centre``: slerp(z0 - c, z1 - c) + c; the prior's mean) or "linear". The first and
    last codes are z0 and z1 exactly."""
    steps = check_int(steps, "steps", lo=2)
    check_choice(method, "method", METHODS)
    t = torch.linspace(0, 1, steps, dtype=torch.float64)
    if method == "linear":
        return lerp(z0, z1, t)
    if centre == 0:
        return slerp(z0, z1, t)
    out = slerp(z0 - centre, z1 - centre, t) + centre
    out[0], out[-1] = z0, z1
    return out


def _path(lg: LatentGenerator, z0: torch.Tensor, z1: torch.Tensor, steps: int, method: str) -> torch.Tensor:
    zs = latent_path(z0, z1, steps, method, centre=lg.spec.centre)
    if lg.spec.bounded:
        clamped = lg.project(zs)
        if not torch.equal(clamped, zs):
            logger.debug("slerp left the prior's range U(%g, %g); clamped", lg.spec.low, lg.spec.high)
        zs = clamped
    return zs


def _in_prior(lg: LatentGenerator, z: torch.Tensor, name: str) -> None:
    if lg.spec.bounded and (float(z.min()) < lg.spec.low or float(z.max()) > lg.spec.high):
        raise ValueError(f"{name}: values span [{float(z.min()):.3g}, {float(z.max()):.3g}], outside {lg.label}'s "
                         f"prior {lg.spec.describe()}")


def _generate(lg: LatentGenerator, zs: torch.Tensor, batch_size: int | None) -> torch.Tensor:
    with frozen(lg.model), torch.no_grad():
        return lg(zs, batch_size)


def interpolate(model: GANModel | LatentGenerator, z0: torch.Tensor, z1: torch.Tensor, steps: int = 8,
                method: str = "slerp", *, extra_inputs: Mapping[str, Any] | Sequence[Any] | None = None,
                batch_size: int | None = 64, return_latents: bool = False):
    """Generate along the path from z0 to z1: outputs (steps, *output_shape) in the model's output range
    (DCGAN (steps, C, H, W) in [-1, 1]; TGAN (steps, C, T, H, W); 3D-GAN (steps, 1, D, H, W) in [0, 1]).

    z0, z1: (dim,) or (1, dim) codes, inside a bounded prior's range. steps >= 2 (both endpoints included: the
    first output is G(z0), the last G(z1)). method: "slerp" or "linear" (:func:`latent_path`). extra_inputs: the
    generator's other inputs for DR-GAN (:class:`~ganzoo.latent.LatentGenerator`). batch_size: outputs per
    forward pass. return_latents: also return the codes, ``(outputs, z (steps, dim))``.
    The model runs in eval mode without gradients; its flags are restored after."""
    lg = bind(model, extra_inputs)
    z0 = lg.check_z(z0, "z0", single=True)[0]
    z1 = lg.check_z(z1, "z1", single=True)[0]
    _in_prior(lg, z0, "z0")
    _in_prior(lg, z1, "z1")
    zs = _path(lg, z0, z1, steps, method)
    out = _generate(lg, zs, batch_size)
    return (out, zs) if return_latents else out


def latent_walk(model: GANModel | LatentGenerator, n_keyframes: int = 4, steps_between: int = 8, seed: int = 0,
                method: str = "slerp", *, keyframes: torch.Tensor | None = None,
                extra_inputs: Mapping[str, Any] | Sequence[Any] | None = None, batch_size: int | None = 64,
                return_latents: bool = False):
    """A looping walk through ``n_keyframes`` random codes (drawn from the prior with ``seed``, or the given
    ``keyframes`` (K, dim)): K segments k0 -> k1 -> ... -> k_{K-1} -> k0 of ``steps_between`` frames each (a
    segment's last code is the next segment's first, counted once), so the frames loop seamlessly.

    Returns outputs (K * steps_between, *output_shape); frame ``i * steps_between`` is G(k_i) exactly.
    ``return_latents``: ``(outputs, z (K * steps_between, dim))``."""
    lg = bind(model, extra_inputs)
    steps_between = check_int(steps_between, "steps_between", lo=1)
    check_choice(method, "method", METHODS)
    if keyframes is None:
        k = check_int(n_keyframes, "n_keyframes", lo=2)
        keys = lg.sample(k, make_generator(seed))
    else:
        keys = lg.check_z(keyframes, "keyframes")
        if keys.shape[0] < 2:
            raise ValueError(f"keyframes: expected at least 2 codes, got {keys.shape[0]}")
        _in_prior(lg, keys, "keyframes")
    k = keys.shape[0]
    segs = [_path(lg, keys[i], keys[(i + 1) % k], steps_between + 1, method)[:-1] for i in range(k)]
    zs = torch.cat(segs)
    out = _generate(lg, zs, batch_size)
    return (out, zs) if return_latents else out


def interpolation_grid(model: GANModel | LatentGenerator, corners: torch.Tensor, rows: int = 8, cols: int = 8,
                       method: str = "slerp", *, extra_inputs: Mapping[str, Any] | Sequence[Any] | None = None,
                       batch_size: int | None = 64, return_latents: bool = False):
    """A 2-D interpolation between four corner codes: outputs (rows * cols, *output_shape), row-major.

    corners: (4, dim), in the order top-left, top-right, bottom-left, bottom-right. Each row r interpolates from
    the left edge's code (TL -> BL at r) to the right edge's (TR -> BR at r): bilinear for "linear", nested slerp
    for "slerp". The four corner cells are G(corner) exactly. rows, cols >= 2."""
    lg = bind(model, extra_inputs)
    rows, cols = check_int(rows, "rows", lo=2), check_int(cols, "cols", lo=2)
    c = lg.check_z(corners, "corners")
    if c.shape[0] != 4:
        raise ValueError(f"corners: expected 4 codes (top-left, top-right, bottom-left, bottom-right), got "
                         f"{c.shape[0]}")
    _in_prior(lg, c, "corners")
    left = _path(lg, c[0], c[2], rows, method)
    right = _path(lg, c[1], c[3], rows, method)
    zs = torch.cat([_path(lg, left[r], right[r], cols, method) for r in range(rows)])
    out = _generate(lg, zs, batch_size)
    return (out, zs) if return_latents else out


# -------------------------------------------------------------------------------------------------------- files


def _mp4_scale(h: int, w: int) -> int:
    return max(1, min(4, 512 // max(h, w)))


def write_interpolation(path: str | os.PathLike, outputs: torch.Tensor, *,
                        model: GANModel | LatentGenerator | None = None, kind: str | None = None,
                        value_range: tuple[float, float] | None = None, nrow: int | None = None,
                        fps: float = 8.0) -> list[Path]:
    """Write interpolation outputs (N, *output_shape) atomically; returns the paths written.

    kind / value_range default to ``model``'s ("image" and [-1, 1] without a model). Image models: a picture
    suffix writes one grid (``nrow`` outputs per row; default: all in one row), .gif / .mp4 one frame per output
    at ``fps``. TGAN ("video") and 3D-GAN ("volume"): the family's formats of ``ganzoo sample`` (module
    docstring). InvalidOutputPathError (a ValueError) for a suffix the kind does not write."""
    from ..errors import InvalidOutputPathError
    from ..utils import check_output_file, save_image_grid

    if model is not None:
        lg = bind(model)
        kind = kind or lg.spec.kind
        value_range = value_range or lg.spec.output_range
        family = lg.family
    else:
        family = None
    kind = kind or "image"
    value_range = value_range or (-1.0, 1.0)
    if not isinstance(outputs, torch.Tensor) or outputs.dim() < 4:
        raise ValueError(f"outputs: expected a batch of generated samples (N, C, ...), got "
                         f"{getattr(outputs, 'shape', type(outputs).__name__)}")
    n = outputs.shape[0]
    if kind != "image":
        from ..pipelines.samples import plan_sample_output, write_samples

        plan = plan_sample_output(path, family or {"video": "tgan", "volume": "gan3d"}[kind], n)
        return write_samples(plan, outputs, value_range, fps=fps)
    p = check_output_file(path, what="output", suffixes=IMAGE_SUFFIXES + ANIMATION_SUFFIXES)
    if outputs.dim() != 4 or outputs.shape[1] not in (1, 3):
        raise InvalidOutputPathError(f"{p.name}: pictures and animations take images (N, 1 or 3, H, W), got "
                                     f"{tuple(outputs.shape)}")
    if p.suffix.lower() in IMAGE_SUFFIXES:
        return [save_image_grid(outputs, p, nrow=nrow or n, value_range=value_range)]
    from ..pipelines.video import write_video

    lo, hi = value_range
    video = ((outputs.detach().float().cpu() - lo) / (hi - lo) * 2 - 1).permute(1, 0, 2, 3)  # (C, T, H, W)
    h, w = outputs.shape[2:]
    scale = {"scale": _mp4_scale(h, w)} if p.suffix.lower() == ".mp4" else {}
    if not math.isfinite(fps):
        raise ValueError(f"fps: expected a finite number, got {fps!r}")
    return [write_video(p, video, fps, **scale)]
