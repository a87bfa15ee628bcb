"""Inpainting of whole images with a ganzoo inpainting model (``pggan_inpaint``): fill the holes a mask marks.

    >>> from ganzoo.pipelines import inpaint
    >>> filled = inpaint("photo.png", "holes.png")                    # white pixels of holes.png are filled
    >>> filled = inpaint(arr, arr_mask, model=ganzoo.load("./my-inpaint-model"), device="cuda")

**Mask convention** (the user-facing one of :mod:`ganzoo.data.inpainting`): ``True`` / white = hole. A mask is

- a bool array (H, W): ``True`` = hole, ``False`` = known pixel;
- a mask image (a uint8 / uint16 array (H, W) or (H, W, C), a PIL image of any mode, or a file path): a pixel is a
  hole when its grey value is >= 128 (on 0..255; 16-bit masks are rounded to 8 bits first). The grey value of a
  colour mask is Pillow's ``convert("L")`` (ITU-R 601-2 luma, integer-rounded). A mask with alpha (LA, RGBA) marks a
  hole only where it is also opaque (alpha >= 128): transparent pixels are known, so white strokes painted on a
  transparent layer mark the holes.

The models take the opposite (``1`` = known); :class:`Inpainter` converts. A mask of another size than the image,
or one whose every pixel is a hole, is refused; a mask without a hole returns the image unchanged (the model is
not run, unless ``raw=True``).

**What goes through the model.** Colour channels, mapped from [0, 1] into the model's image input range ([-1, 1])
and back from its output range (clamped). The generator uses instance norm, so the image is run whole, never tiled:
it is padded to sides that are multiples of ``config.size_multiple`` and at least ``config.min_size``
(:func:`model_padding`: split evenly between the two ends, the extra pixel at the bottom / right; reflected, or
edge-replicated on an axis whose padding is not smaller than the image's side), the padding counting as known
pixels, and the result is cropped back. Greyscale images are replicated to RGB for an RGB model and the output
turned back into grey with the BT.601 luma ``0.299 R + 0.587 G + 0.114 B`` (as ``ganzoo.pipelines.upscale``).
An alpha channel does not go through the model and comes back unchanged.

**Output**: an array of the input's shape, channels and dtype (uint8, uint16 or float in [0, 1]). By default the
composite: known pixels are the input's, byte for byte, and hole pixels the model's raw output, rounded to the
input's depth. ``raw=True`` returns the model's raw output everywhere (known pixels too).
"""
from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING, Any, Sequence, Union

import numpy as np
import torch

from ..errors import GanzooError
from ..models.base import GANModel
from ..utils import eval_mode
from .images import _to8, read_image
from .upscaling import (LUMA, OPENVINO_DTYPES, _as_hwc, _check_dtype_validated, _dtype_name, _EagerRunner,
                        _from_pil, _label, _OpenVINORunner, _probe_dtype, _torch_device, _unit_scale)

if TYPE_CHECKING:  # pragma: no cover
    from PIL import Image as PILImage

logger = logging.getLogger("ganzoo.pipelines")

#: the runtimes :class:`Inpainter` takes
BACKENDS = ("eager", "openvino")

__all__ = ["inpaint", "Inpainter", "BACKENDS", "resolve_inpaint_model", "hole_mask", "rects_mask", "model_padding",
           "NotAnInpaintingModelError", "opencv_inpaint", "OPENCV_ALGORITHMS", "OPENCV_RADIUS"]

#: The classical baselines of the inpainting evaluation: OpenCV's Telea and Navier-Stokes methods.
OPENCV_ALGORITHMS = ("telea", "ns")
#: Their inpainting radius in pixels, in the evaluation protocol and the demo.
OPENCV_RADIUS = 5

ImageInput = Union["PILImage.Image", np.ndarray, str, os.PathLike]


class NotAnInpaintingModelError(GanzooError, ValueError):
    """A model given to the inpainting pipeline whose generator does not take (image, mask)."""


def resolve_inpaint_model(model: str | os.PathLike | GANModel, *, local_files_only: bool = False,
                          allow_pickle: bool = False) -> GANModel:
    """An inpainting GANModel from a registry name / tag, a path (``ganzoo.load`` handles both) or a model.

    Raises NotAnInpaintingModelError for a model whose generator does not take ``(image, mask)`` or whose config
    states no ``size_multiple`` / ``min_size``, and ValueError for images of other than 1 or 3 channels.
    """
    if isinstance(model, GANModel):
        m = model
    elif isinstance(model, (str, os.PathLike)):
        from ..factory import load

        m = load(os.fspath(model), local_files_only=local_files_only, allow_pickle=allow_pickle)
    else:
        raise TypeError(f"model: expected a registry name, a path or a ganzoo GANModel, got {type(model).__name__}")
    sp = m.specs
    names = tuple(s.name for s in sp.inputs)
    if (m.noise_input or names != ("image", "mask") or not isinstance(getattr(m.config, "size_multiple", None), int)
            or not sp.min_size):
        raise NotAnInpaintingModelError(
            f"{_label(m)} is not an inpainting model: the inpaint pipeline needs a generator taking (image, mask) "
            f"and a config with size_multiple and min_size (got {type(m.config).__name__} with inputs {names}); "
            f"see ganzoo.list_models('*inpaint*')")
    nc = sp.inputs[0].shape[1]
    if nc not in (1, 3):
        raise ValueError(f"{_label(m)}: the inpaint pipeline handles models of 1 or 3 image channels, got {nc!r}")
    return m


# ------------------------------------------------------------------------------------------------------- masks


def _pixels(x: ImageInput, what: str) -> np.ndarray:
    """The pixels of an array, a PIL image (``upscaling._from_pil``) or an image file (``read_image``)."""
    if isinstance(x, np.ndarray):
        return x
    if isinstance(x, (str, os.PathLike)):
        return read_image(x).array
    from PIL import Image

    if isinstance(x, Image.Image):
        return _from_pil(x)[0]
    raise TypeError(f"{what}: expected a numpy array, a PIL Image or an image file path, got {type(x).__name__}")


def hole_mask(mask: ImageInput, size: tuple[int, int] | None = None) -> np.ndarray:
    """A mask in any accepted form (module docstring) -> bool (H, W), True = hole. ``size``: the image's (H, W);
    a mask of another size is refused (ValueError naming both, as W x H)."""
    m = _pixels(mask, "mask")
    if m.ndim == 3 and m.shape[2] == 1:
        m = m[:, :, 0]
    if m.dtype == bool:
        if m.ndim != 2:
            raise ValueError(f"mask: a bool mask must have shape (H, W), got {m.shape}")
        hole = m
    else:
        if m.dtype not in (np.uint8, np.uint16):
            raise TypeError(f"mask: expected a bool array (True = hole) or a uint8 / uint16 mask image (white = "
                            f"hole), got dtype {m.dtype}; for a float mask pass (mask > 0.5)")
        if m.ndim == 2:
            m = m[:, :, None]
        if m.ndim != 3 or m.shape[2] not in (1, 2, 3, 4):
            raise ValueError(f"mask: expected shape (H, W) or (H, W, C) with C in 1..4, got {m.shape}")
        m = _to8(m)
        c = m.shape[2]
        if c >= 3:  # Pillow's convert("L"): ITU-R 601-2 luma in 16-bit fixed point
            rgb = m[..., :3].astype(np.uint32)
            grey = (rgb[..., 0] * 19595 + rgb[..., 1] * 38470 + rgb[..., 2] * 7471 + 0x8000) >> 16
        else:
            grey = m[..., 0]
        hole = grey >= 128
        if c in (2, 4):
            hole &= m[..., -1] >= 128
    if size is not None and hole.shape != tuple(size):
        raise ValueError(f"mask: its size {hole.shape[1]}x{hole.shape[0]} differs from the image's "
                         f"{size[1]}x{size[0]} (W x H)")
    return hole


def rects_mask(rects: Sequence[tuple[int, int, int, int]], size: tuple[int, int]) -> np.ndarray:
    """bool (H, W) hole mask, True inside the union of the rectangles ``(x, y, w, h)`` (left column, top row, width,
    height in pixels; ints, w and h >= 1, inside the image of ``size`` = (H, W))."""
    height, width = size
    hole = np.zeros((height, width), dtype=bool)
    for r in rects:
        if (len(r) != 4 or any(isinstance(v, bool) or not isinstance(v, (int, np.integer)) for v in r)
                or r[0] < 0 or r[1] < 0 or r[2] < 1 or r[3] < 1):
            raise ValueError(f"mask rectangle {tuple(r)}: expected (x, y, w, h), ints with x, y >= 0 and w, h >= 1")
        x, y, w, h = r
        if x + w > width or y + h > height:
            raise ValueError(f"mask rectangle x={x}, y={y}, w={w}, h={h} reaches outside the {width}x{height} "
                             f"(W x H) image (x + w = {x + w}, y + h = {y + h})")
        hole[y:y + h, x:x + w] = True
    return hole


# ------------------------------------------------------------------------------------------------------ model


def model_padding(height: int, width: int, multiple: int, min_size: int) -> tuple[tuple[int, int], tuple[int, int]]:
    """((top, bottom), (left, right)) padding that takes an (height, width) image to sides that are multiples of
    ``multiple`` and >= ``min_size``, split evenly (the odd pixel at the bottom / right)."""
    pads = []
    for n in (height, width):
        total = max(min_size, -(-n // multiple) * multiple) - n
        pads.append((total // 2, total - total // 2))
    return pads[0], pads[1]


def _pad(a: np.ndarray, pads: tuple[tuple[int, int], tuple[int, int]]) -> np.ndarray:
    """Pad the first two axes: reflected where the padding is smaller than the side, else edge-replicated."""
    for axis, (p0, p1) in enumerate(pads):
        if p0 or p1:
            widths = [(0, 0)] * a.ndim
            widths[axis] = (p0, p1)
            a = np.pad(a, widths, mode="reflect" if max(p0, p1) < a.shape[axis] else "edge")
    return a


class Inpainter:
    """A resolved inpainting model on a device, reusable over many images (:func:`inpaint` builds one per call).

    model: registry name / tag (default ``"pggan_inpaint"``), a save_pretrained folder or file ``ganzoo.load``
        accepts, or a GANModel (not moved or modified: a copy is made when ``device`` / ``dtype`` differ).
    device: "cpu", "cuda", "cuda:N", "auto" (cuda when available) or None: a GANModel's own device, "auto" for a
        model given by name or path. dtype: None / "float32", "float16" or "bfloat16" (also fp16 / bf16 / torch
        dtypes). local_files_only: never touch the network when loading by name. allow_pickle: see ``ganzoo.load``.
    backend: "eager" (PyTorch) or "openvino" (CPU; float32 with the f32 precision hint or bfloat16 with the bf16
        hint: the validated ``ganzoo.export.openvino`` IR of the generator, cached like the upscale pipeline's,
        :func:`ganzoo.pipelines.upscaling.cached_openvino`). The IR returns the composite, so ``raw=True`` needs
        backend "eager". cache_dir: where the IR is cached (default :func:`~ganzoo.pipelines.onnx_cache_dir`).
    """

    def __init__(self, model: str | os.PathLike | GANModel = "pggan_inpaint", *,
                 device: str | torch.device | None = None, dtype: str | torch.dtype | None = None,
                 local_files_only: bool = False, allow_pickle: bool = False, backend: str = "eager",
                 cache_dir: str | os.PathLike | None = None):
        dtype = _dtype_name(dtype or "float32")
        if backend not in BACKENDS:
            raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
        if backend == "openvino" and dtype not in OPENVINO_DTYPES:
            raise ValueError(f"the openvino backend runs float32 (f32 hint) or bfloat16 (bf16 hint), not {dtype}; "
                             f"use backend='eager' for {dtype}")
        self.model = resolve_inpaint_model(model, local_files_only=local_files_only, allow_pickle=allow_pickle)
        _check_dtype_validated(self.model, dtype)
        if backend == "openvino" and (device is None or device == "auto"):
            device = "cpu"
        self.device = _torch_device(device, self.model, own_device=isinstance(model, GANModel))
        self.dtype, self.backend = dtype, backend
        if backend == "eager":
            _probe_dtype(dtype, self.device)
            self.runner: Any = _EagerRunner(self.model, self.device, dtype)  # the generator on device / dtype
        else:
            self.runner = _OpenVINORunner(self.model, self.device, dtype, cache_dir)
        sp = self.model.specs
        self.channels: int = int(sp.inputs[0].shape[1])
        self.multiple: int = int(sp.size_multiple)
        self.min_size: int = int(sp.min_size)
        self.input_range = sp.inputs[0].range or (-1.0, 1.0)
        self.output_range = sp.outputs[0].range or (-1.0, 1.0)

    def _raw(self, x: np.ndarray, known: np.ndarray) -> np.ndarray:
        """(H, W, C) float32 in [0, 1] and bool (H, W) known pixels -> the raw output (H, W, C) float32 in [0, 1]:
        padded for the model, run once, cropped back."""
        h, w = known.shape
        pads = model_padding(h, w, self.multiple, self.min_size)
        (top, _), (left, _) = pads
        (ilo, ihi), (olo, ohi) = self.input_range, self.output_range
        img = torch.from_numpy(np.ascontiguousarray(_pad(x, pads))).permute(2, 0, 1)[None] * (ihi - ilo) + ilo
        mask = torch.from_numpy(np.pad(known, pads, constant_values=True))[None, None]
        r = self.runner
        if self.backend == "openvino":  # the graph's output is the composite: the raw output in the holes
            raw = r.run(img, mask.float())
        else:
            with torch.inference_mode(), eval_mode(r.net):
                img, mask = img.to(device=r.device, dtype=r.dtype), mask.to(device=r.device, dtype=r.dtype)
                if r.channels_last:
                    img, mask = (t.contiguous(memory_format=torch.channels_last) for t in (img, mask))
                _, raw = r.net(img, mask, return_raw=True)
                raw = raw.to("cpu", torch.float32)
        if not torch.isfinite(raw).all():
            raise FloatingPointError(f"{_label(self.model)} produced non-finite values ({self.dtype}); "
                                     f"use dtype='float32'")
        y = ((raw[0] - olo) / (ohi - olo)).clamp_(0.0, 1.0).permute(1, 2, 0).numpy()
        return y[top:top + h, left:left + w]

    def __call__(self, image: ImageInput, mask: ImageInput, *, raw: bool = False) -> np.ndarray:
        """Inpaint one image (see :func:`inpaint`)."""
        if raw and self.backend != "eager":
            raise ValueError(f"raw=True needs backend='eager': the {self.backend} graph returns the composite "
                             f"(known pixels are the input's), not the raw output everywhere")
        arr = _pixels(image, "image")
        squeeze = arr.ndim == 2
        arr = _as_hwc(arr)
        h, w, c = arr.shape
        colour = 3 if c >= 3 else 1
        hole = hole_mask(mask, (h, w))
        if hole.all():
            raise ValueError(f"mask: every pixel of the {w}x{h} image is a hole; the model fills holes from known "
                             f"pixels (white / True = hole, black / False = known)")
        if self.channels == 1 and colour == 3:
            raise ValueError(f"{_label(self.model)} is a 1-channel (grey) model; got a colour image of shape "
                             f"{arr.shape}")
        out = arr.copy()
        if not hole.any() and not raw:
            logger.info("the mask has no hole: the image is returned unchanged")
        else:
            unit = _unit_scale(arr.dtype)
            x = arr[..., :colour].astype(np.float32) / np.float32(unit)
            replicate = self.channels == 3 and colour == 1
            y = self._raw(np.repeat(x, 3, axis=2) if replicate else x, ~hole)
            if replicate:  # back to grey: BT.601 luma of the model's RGB
                y = (y[..., 0] * LUMA[0] + y[..., 1] * LUMA[1] + y[..., 2] * LUMA[2])[..., None]
            if unit != 1.0:
                y = np.rint(y * unit)
            y = y.astype(arr.dtype)
            if raw:
                out[..., :colour] = y
            else:
                out[..., :colour][hole] = y[hole]
            logger.info("inpainted %d hole pixel(s) of a %dx%d image with %s", int(hole.sum()), w, h,
                        _label(self.model))
        return out[:, :, 0] if squeeze else out


def inpaint(image: ImageInput, mask: ImageInput, model: str | os.PathLike | GANModel = "pggan_inpaint", *,
            raw: bool = False, device: str | torch.device | None = None, dtype: str | torch.dtype | None = None,
            local_files_only: bool = False, allow_pickle: bool = False, backend: str = "eager",
            cache_dir: str | os.PathLike | None = None) -> np.ndarray:
    """Fill the holes of ``image`` that ``mask`` marks with an inpainting model; returns a numpy array.

    image: a numpy array (H, W) / (H, W, C), C = 1 grey, 2 grey+alpha, 3 RGB, 4 RGBA, dtype uint8, uint16 or float
        in [0, 1]; a PIL Image; or an image file path (EXIF orientation applied, 16-bit PNG kept).
    mask: bool (H, W) with True = hole, or a mask image / PIL image / path whose white (grey >= 128, opaque)
        pixels are holes (module docstring); its size must be the image's; not every pixel a hole.
    model / device / dtype / local_files_only / allow_pickle / backend / cache_dir: see :class:`Inpainter`.
    Returns an array of the input's shape, channels and dtype: the composite (known pixels the input's, holes from
    the model), or with ``raw=True`` the model's raw output everywhere. Alpha is kept; grey comes back as the luma
    of the model's RGB output.
    """
    return Inpainter(model, device=device, dtype=dtype, local_files_only=local_files_only,
                     allow_pickle=allow_pickle, backend=backend, cache_dir=cache_dir)(image, mask, raw=raw)


def opencv_inpaint(image: np.ndarray, hole: np.ndarray, algorithm: str = "telea", *,
                   radius: int = OPENCV_RADIUS) -> np.ndarray:
    """OpenCV ``cv2.inpaint`` (needs opencv-python-headless) of an RGB uint8 image (H, W, 3) where the bool mask
    ``hole`` (H, W) is True: ``algorithm`` "telea" (INPAINT_TELEA) or "ns" (INPAINT_NS), ``radius`` pixels.
    OpenCV works on BGR; the result is RGB uint8 (H, W, 3) with the known pixels unchanged."""
    try:
        import cv2
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError("the OpenCV baselines need opencv-python-headless: pip install 'ganzoo[eval]'") from e
    from ..data.inpainting import mask_to_image

    flags = {"telea": cv2.INPAINT_TELEA, "ns": cv2.INPAINT_NS}
    if algorithm not in flags:
        raise ValueError(f"algorithm must be one of {OPENCV_ALGORITHMS}, got {algorithm!r}")
    if isinstance(radius, bool) or not isinstance(radius, int) or radius < 1:
        raise ValueError(f"radius must be an int >= 1 (pixels), got {radius!r}")
    if not (isinstance(image, np.ndarray) and image.dtype == np.uint8 and image.ndim == 3 and image.shape[2] == 3):
        raise ValueError(f"image: expected a uint8 RGB array (H, W, 3), got {getattr(image, 'dtype', type(image))} "
                         f"{getattr(image, 'shape', '')}")
    bgr = cv2.cvtColor(np.ascontiguousarray(image), cv2.COLOR_RGB2BGR)
    out = cv2.inpaint(bgr, mask_to_image(hole), float(radius), flags[algorithm])
    return cv2.cvtColor(out, cv2.COLOR_BGR2RGB)
