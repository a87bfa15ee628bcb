"""Super-resolution of whole images with a ganzoo SR model: PIL or numpy in, the same type out.

    >>> from ganzoo.pipelines import upscale
    >>> big = upscale(Image.open("photo.png"))                       # x4 with the default srresnet weights
    >>> big = upscale(arr, model=ganzoo.load("srgan"), tile=192, tile_overlap=32, dtype="bfloat16")

What goes through the model. Colour channels, mapped from [0, 1] into the model's ``config.input_range`` and back
from its ``config.output_range`` (then clamped to [0, 1]). Greyscale images (PIL ``L``, ``I;16``, ``I``, ``F``;
2-D or 1-channel arrays) are replicated to RGB for an RGB model and turned back into grey with the ITU-R BT.601
luma ``0.299 R + 0.587 G + 0.114 B`` (what Pillow's ``convert("L")`` uses). An alpha channel (PIL ``RGBA``/``LA``,
2- or 4-channel arrays) does not go through the model: it is upscaled with PyTorch's bicubic interpolation
(``align_corners=False``, clamped to [0, 1]) and reattached.

Tiling (see :mod:`ganzoo.pipelines.tiling`): the LR image is cut into ``tile x tile`` tiles overlapping by at least
``tile_overlap`` pixels, run ``tile_batch`` at a time and blended with feathered weights; finished output rows are
written straight into the preallocated result, so memory beyond the input and the output is one band of tile rows
at output resolution. SRResNet x4's receptive field is 80 x 80 LR pixels: an output pixel depends on the LR pixels
up to 40 away (:func:`receptive_radius`). The blend gives a pixel only to tiles that have at least a quarter of
the overlap of context on each cut side, so ``tile_overlap >= 160`` is exact by construction; in practice the
influence of far pixels is tiny, and the measured error falls below 1/255 at much smaller overlaps (README).

Value types. uint8 and uint16 (16-bit PNG) are processed in float32 and rounded back to their own depth; float
arrays must hold values in [0, 1] and come back in the same float dtype.
"""
from __future__ import annotations

import copy
import hashlib
import json
import logging
import math
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Union

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import NotASuperResolutionModelError
from ..models.base import GANModel
from ..utils import FLOAT_DTYPES, eval_mode, to_torch_dtype
from .tiling import TilePlan, tiled_apply

if TYPE_CHECKING:  # pragma: no cover
    from PIL import Image as PILImage

logger = logging.getLogger("ganzoo.pipelines")

__all__ = ["upscale", "Upscaler", "receptive_radius", "resolve_sr_model", "onnx_cache_dir", "cached_onnx",
           "cached_openvino", "DTYPES", "BACKENDS",
           "DEFAULT_TILE", "DEFAULT_OVERLAP"]

#: canonical dtype name -> torch dtype, from the one table (every alias of ganzoo.utils.FLOAT_DTYPES is accepted)
DTYPES = {str(dt).replace("torch.", ""): dt for dt in FLOAT_DTYPES.values()}
BACKENDS = ("eager", "onnxruntime", "openvino")
DEFAULT_TILE = 256
DEFAULT_OVERLAP = 32
#: ITU-R BT.601 luma weights (Pillow's RGB -> L conversion)
LUMA = (0.299, 0.587, 0.114)

ImageLike = Union["PILImage.Image", np.ndarray]


# ------------------------------------------------------------------------------------------------------ models


def _label(model: GANModel) -> str:
    cfg = model.pretrained_cfg
    return cfg.name if cfg is not None and cfg.architecture else (model.model_name or type(model).__name__)


def resolve_sr_model(model: str | os.PathLike | GANModel, *, allow_pickle: bool = False) -> GANModel:
    """A super-resolution GANModel from a registry name / tag, a path (``ganzoo.load`` handles both) or a model.

    Raises ValueError for a model that is not super-resolution (no integer ``config.scale``, or a generator that
    samples from noise) and for channel layouts the pipeline cannot feed (only 1 or 3 channels in and out).
    """
    if isinstance(model, GANModel):
        m = model
    elif isinstance(model, (str, os.PathLike)):
        from ..factory import load

        m = load(os.fspath(model), allow_pickle=allow_pickle)
    else:
        raise TypeError(f"model: expected a registry name, a path or a ganzoo GANModel, got {type(model).__name__}")
    cfg = m.config
    scale = getattr(cfg, "scale", None)
    if m.noise_input or isinstance(scale, bool) or not isinstance(scale, int) or scale < 1:
        raise NotASuperResolutionModelError(
            f"{_label(m)} is not a super-resolution model: the upscale pipeline needs a model whose config has an "
            f"integer 'scale' and whose generator takes an image (got {type(cfg).__name__} with scale={scale!r}); "
            f"see ganzoo.list_models('sr*')")
    cin, cout = getattr(cfg, "in_channels", None), getattr(cfg, "out_channels", None)
    if cin not in (1, 3) or cout != cin:
        raise ValueError(f"{_label(m)}: the upscale pipeline handles models with 1 or 3 channels in and the same out, "
                         f"got in_channels={cin!r}, out_channels={cout!r}")
    _io_ranges(m)  # fails early when the model states no value ranges
    return m


def _io_ranges(model: GANModel) -> tuple[tuple[float, float], tuple[float, float]]:
    """(input_range, output_range) of an SR model (:func:`ganzoo.metrics.sr_value_ranges`)."""
    from ..metrics import sr_value_ranges

    try:
        return sr_value_ranges(model)
    except ValueError as e:
        raise ValueError(f"{_label(model)}: {e}") from None


def receptive_radius(config: Any) -> int:
    """Receptive-field radius, in LR pixels, of an SRResNet generator with this config (an ``SRGANConfig``): every
    output pixel depends only on LR pixels at most this far from the LR pixel it lies in (per axis).

    Backwards from an output pixel: the tail conv (``head_kernel``, at output resolution), then per sub-pixel
    upsample block a PixelShuffle (``floor(i / 2)``) and its 3x3 conv at that resolution, then at LR resolution the
    trunk tail 3x3 conv, ``num_blocks`` residual blocks of two 3x3 convs and the head conv. The worst of the
    ``scale`` output phases is taken. x4 with the paper's sizes: 40 (an 80 x 80 LR window).
    """
    k = int(config.head_kernel) // 2
    trunk = k + 2 * int(config.num_blocks) + 1
    worst = 0
    for phase in range(int(config.scale)):
        lo, hi = phase - k, phase + k  # output-resolution interval after the tail conv
        for _ in range(int(math.log2(config.scale))):
            lo, hi = lo // 2 - 1, hi // 2 + 1  # PixelShuffle to the lower resolution, then the block's 3x3 conv
        worst = max(worst, -(lo - trunk), hi + trunk)
    return worst




def _torch_device(device: str | torch.device | None, model: GANModel, own_device: bool) -> torch.device:
    """``own_device``: None means the model's own device (a GANModel the caller passed) rather than "auto"."""
    if device is None and own_device:
        p = next(model.parameters(), None)
        return p.device if p is not None else torch.device("cpu")
    if device is None or device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} requested but CUDA is not available to this PyTorch "
                         f"({torch.__version__}); use device='cpu'")
    if dev.type not in ("cpu", "cuda"):
        raise ValueError(f"device must be 'cpu', 'cuda', 'cuda:N' or 'auto', got {device!r}")
    return dev


def _dtype_name(dtype: str | torch.dtype) -> str:
    return str(to_torch_dtype(dtype)).replace("torch.", "")


def _check_dtype_validated(model: GANModel, dtype: str) -> None:
    """The same rule as ``ganzoo.load``: a tag whose metadata says ``half_precision=False`` runs in float32 only."""
    pc = model.pretrained_cfg
    if dtype != "float32" and pc is not None and not pc.half_precision:
        raise ValueError(f"{pc.name} is not validated in {dtype} (half_precision=False in its metadata: SR generators "
                         f"can overflow or lose visible precision in 16-bit floats); use dtype='float32'")


def _probe_dtype(dtype: str, device: torch.device) -> None:
    """Fail clearly when this PyTorch cannot run a convolution in ``dtype`` on ``device``."""
    if dtype == "float32":
        return
    dt = DTYPES[dtype]
    try:
        F.conv2d(torch.zeros(1, 1, 4, 4, dtype=dt, device=device), torch.zeros(1, 1, 3, 3, dtype=dt, device=device),
                 padding=1)
    except (RuntimeError, NotImplementedError) as e:
        raise ValueError(f"{dtype} convolutions are not supported on {device} by this PyTorch "
                         f"({torch.__version__}): {e}; use dtype='float32'") from e
    if device.type == "cpu" and dtype == "float16":
        logger.warning("float16 convolutions on CPU without fp16 arithmetic are slow in PyTorch (8-14x float32 "
                       "for SRResNet here, channels-last); bfloat16 is the fast reduced precision on CPU")


class _EagerRunner:
    """The generator in PyTorch: (B, C, h, w) float32 in the model's input range -> float32 CPU output."""

    def __init__(self, model: GANModel, device: torch.device, dtype: str):
        gen = model.generator
        p = next(gen.parameters(), None)
        dt = DTYPES[dtype]
        if p is not None and (p.device != device or p.dtype != dt):  # leave the caller's model where it is
            gen = copy.deepcopy(gen).to(device=device, dtype=dt)
            # oneDNN's 16-bit CPU convolutions are fast only on NHWC tensors (fp16: ~0.8 s instead of ~25 s per
            # 64x64 LR image for SRResNet x4 here; bf16: 1.3x); the copy is ours to re-layout.
            self.channels_last = device.type == "cpu" and dt != torch.float32
            if self.channels_last:
                gen = gen.to(memory_format=torch.channels_last)
        else:
            self.channels_last = False
        self.net, self.device, self.dtype = gen, device, dt
        self.info = {"backend": "eager", "device": str(device), "dtype": dtype}

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        with torch.inference_mode(), eval_mode(self.net):
            x = x.to(device=self.device, dtype=self.dtype)
            if self.channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
            y = self.net(x)
        return y.to("cpu", torch.float32)


def onnx_cache_dir(cache_dir: str | os.PathLike | None = None) -> Path:
    """Where exported graphs are kept: ``cache_dir``, else ``$GANZOO_ONNX_CACHE``, else
    ``$XDG_CACHE_HOME/ganzoo/onnx`` (``~/.cache/ganzoo/onnx``)."""
    if cache_dir is not None:
        return Path(cache_dir)
    env = os.environ.get("GANZOO_ONNX_CACHE")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "ganzoo" / "onnx"


def _export_key(model: GANModel, dtype: str) -> str:
    """sha256 of everything the exported graph depends on: the generator's weights and buffers
    (:func:`ganzoo.utils.state_sha256`), the model's config and name, the export dtype and the exporting versions."""
    import onnx

    from .._version import __version__
    from ..utils import state_sha256

    head = {"v": 2, "ganzoo": __version__, "torch": torch.__version__, "onnx": onnx.__version__,
            "model": model.model_name, "class": type(model).__qualname__, "config": model.config.to_dict(),
            "dtype": dtype, "weights": state_sha256(model.generator)}
    return hashlib.sha256(json.dumps(head, sort_keys=True, default=str).encode()).hexdigest()


def _export_ready(model: GANModel) -> tuple[GANModel, bool]:
    """``model`` as a float32 CPU model (itself when it already is one, else a copy), and whether it is the
    caller's own model (no registry pretrained_cfg, so no half-precision verdict). Its specs come from its config,
    which is all ``to_onnx`` needs."""
    p = next(model.generator.parameters(), None)
    m = model if p is None or (p.device.type == "cpu" and p.dtype == torch.float32) else copy.deepcopy(model).to(
        "cpu", torch.float32)
    return m, m.pretrained_cfg is None


def cached_onnx(model: GANModel, dtype: str, cache_dir: str | os.PathLike | None = None) -> Path:
    """The validated ONNX export (``ganzoo.export.to_onnx``, dynamic B/H/W) of ``model``'s generator in ``dtype``
    ("float32" / "float16"), from the cache when an identical model was exported before. The file name carries the
    sha256 of :func:`_export_key`; ``to_onnx`` writes it atomically, so concurrent users never see half a file."""
    from ..export import to_onnx

    export_dtype = {"float32": "fp32", "float16": "fp16"}.get(dtype)
    if export_dtype is None:
        raise ValueError(f"the onnxruntime backend runs float32 or float16 graphs (ganzoo.export.to_onnx), not "
                         f"{dtype}; use backend='eager' for {dtype}")
    m, own = _export_ready(model)
    key = _export_key(m, dtype)
    folder = onnx_cache_dir(cache_dir)
    path = folder / f"{(m.model_name or 'model').replace(os.sep, '_')}-{export_dtype}-{key[:32]}.onnx"
    if path.is_file():
        logger.info("using the cached ONNX export %s", path)
        return path
    logger.info("exporting %s to ONNX (%s) for the onnxruntime backend; cached as %s", _label(m), dtype, path)
    # force: the caller's own model (no metadata) has no half_precision verdict; tags were checked before.
    to_onnx(m, path, dtype=export_dtype, force=own, overwrite=True)
    return path


#: pipeline dtype -> OpenVINO precision (ganzoo.export.openvino.PRECISIONS): the inference precision hint
OPENVINO_DTYPES = {"float32": "fp32", "bfloat16": "bf16"}


def cached_openvino(model: GANModel, dtype: str, cache_dir: str | os.PathLike | None = None) -> Path:
    """The validated OpenVINO IR (``ganzoo.export.openvino.to_openvino``, dynamic B/H/W) of ``model``'s generator
    for ``dtype`` ("float32": hint f32, "bfloat16": hint bf16), from :func:`onnx_cache_dir` when an identical model
    was exported before (the name carries :func:`_export_key` and the OpenVINO version). Written atomically."""
    precision = OPENVINO_DTYPES.get(dtype)
    if precision is None:
        raise ValueError(f"the openvino backend runs float32 (f32 hint) or bfloat16 (bf16 hint), not {dtype}; "
                         f"use backend='eager' for {dtype}")
    from ..export.openvino import require_openvino, to_openvino

    ov = require_openvino()
    m, _ = _export_ready(model)
    key = hashlib.sha256(f"{_export_key(m, dtype)}:openvino={ov.__version__}".encode()).hexdigest()
    stem = (m.model_name or "model").replace(os.sep, "_")
    path = onnx_cache_dir(cache_dir) / f"{stem}-ov-{precision}-{key[:32]}.xml"
    if path.is_file() and path.with_suffix(".bin").is_file():
        logger.info("using the cached OpenVINO IR %s", path)
        return path
    logger.info("exporting %s to OpenVINO (%s) for the openvino backend; cached as %s", _label(m), precision, path)
    to_openvino(m, path, precision, overwrite=True)
    return path


class _OpenVINORunner:
    """The cached OpenVINO IR on the CPU, compiled with its precision hint set explicitly: (B, C, h, w) float32
    in -> float32 out (CPU tensors), for every input of the generator in spec order."""

    def __init__(self, model: GANModel, device: torch.device, dtype: str, cache_dir: str | os.PathLike | None):
        if device.type != "cpu":
            raise ValueError(f"backend='openvino' runs on the CPU, got device {device}")
        from ..export.openvino import compile_ir

        self.path = cached_openvino(model, dtype, cache_dir)
        self.compiled = compile_ir(self.path, OPENVINO_DTYPES[dtype], threads=torch.get_num_threads())
        self.info = {"backend": "openvino", "device": str(device), "dtype": dtype, "ir": str(self.path),
                     "inference_precision_hint": str(self.compiled.get_property("INFERENCE_PRECISION_HINT"))}

    def run(self, *xs: torch.Tensor) -> torch.Tensor:
        """The graph's first output for the inputs ``xs``."""
        res = self.compiled([x.detach().cpu().float().contiguous().numpy() for x in xs])
        return torch.from_numpy(np.array(res[self.compiled.outputs[0]], dtype=np.float32))

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return self.run(x)


class _OrtRunner:
    """The cached ONNX export in ONNX Runtime (CPU, or CUDA for a cuda device)."""

    def __init__(self, model: GANModel, device: torch.device, dtype: str, cache_dir: str | os.PathLike | None):
        try:
            import onnxruntime as ort
        except ImportError as e:
            raise ImportError("backend='onnxruntime' needs onnxruntime and onnx: pip install 'ganzoo[onnx]'") from e
        if device.type == "cuda":
            if "CUDAExecutionProvider" not in ort.get_available_providers():
                raise ValueError("backend='onnxruntime' on cuda needs onnxruntime-gpu (CUDAExecutionProvider); this "
                                 f"onnxruntime has {ort.get_available_providers()}")
            providers: list[Any] = [("CUDAExecutionProvider", {"device_id": device.index or 0})]
        else:
            providers = ["CPUExecutionProvider"]
        self.path = cached_onnx(model, dtype, cache_dir)
        so = ort.SessionOptions()
        so.intra_op_num_threads = torch.get_num_threads()
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        so.log_severity_level = 3
        try:
            self.session = ort.InferenceSession(str(self.path), so, providers=providers)
        except Exception as e:  # noqa: BLE001 - onnxruntime raises its own exception types
            raise ValueError(f"onnxruntime cannot run {self.path.name} ({dtype}) on {device}: {e}") from e
        if device.type == "cuda" and "CUDAExecutionProvider" not in self.session.get_providers():
            raise ValueError("onnxruntime could not load its CUDAExecutionProvider (CUDA/cuDNN libraries missing?)")
        self.in_name = self.session.get_inputs()[0].name
        self.info = {"backend": "onnxruntime", "device": str(device), "dtype": dtype, "onnx": str(self.path),
                     "providers": self.session.get_providers()}

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        out = self.session.run(None, {self.in_name: x.detach().cpu().contiguous().numpy().astype(np.float32)})[0]
        return torch.from_numpy(np.asarray(out, dtype=np.float32))


# ------------------------------------------------------------------------------------------------------ images


def _check_tiling(tile: int | None, tile_overlap: int, tile_batch: int) -> None:
    if tile is not None and (isinstance(tile, bool) or not isinstance(tile, int) or tile < 0):
        raise ValueError(f"tile must be None, 0 (no tiling) or a positive int, got {tile!r}")
    if isinstance(tile_overlap, bool) or not isinstance(tile_overlap, int) or tile_overlap < 0:
        raise ValueError(f"tile_overlap must be an int >= 0, got {tile_overlap!r}")
    if tile and tile_overlap >= tile:
        raise ValueError(f"tile_overlap must be smaller than tile, got tile_overlap={tile_overlap} >= tile={tile}")
    if isinstance(tile_batch, bool) or not isinstance(tile_batch, int) or tile_batch < 1:
        raise ValueError(f"tile_batch must be an int >= 1, got {tile_batch!r}")


def _as_hwc(arr: np.ndarray) -> np.ndarray:
    if not isinstance(arr, np.ndarray):
        raise TypeError(f"image: expected a PIL Image or a numpy array, got {type(arr).__name__}")
    if arr.ndim == 2:
        arr = arr[:, :, None]
    if arr.ndim != 3 or arr.shape[2] not in (1, 2, 3, 4):
        raise ValueError(f"image: expected an array of shape (H, W) or (H, W, C) with C in 1..4 (grey, grey+alpha, "
                         f"RGB, RGBA), got shape {arr.shape}")
    if arr.shape[0] < 1 or arr.shape[1] < 1:
        raise ValueError(f"image: expected at least one pixel, got shape {arr.shape}")
    if arr.dtype == np.uint8 or arr.dtype == np.uint16:
        return arr
    if arr.dtype.kind == "f":
        if arr.dtype not in (np.float16, np.float32, np.float64):
            raise TypeError(f"image: float arrays must be float16, float32 or float64, got {arr.dtype}")
        lo, hi = (float(arr.min()), float(arr.max())) if arr.size else (0.0, 0.0)
        if not (math.isfinite(lo) and math.isfinite(hi)) or lo < 0.0 or hi > 1.0:
            raise ValueError(f"image: float arrays must hold finite values in [0, 1], got min {lo:g}, max {hi:g}")
        return arr
    raise TypeError(f"image: expected uint8, uint16 or float (values in [0, 1]) pixels, got dtype {arr.dtype}")


def _unit_scale(dtype: np.dtype) -> float:
    return 255.0 if dtype == np.uint8 else 65535.0 if dtype == np.uint16 else 1.0


class Upscaler:
    """A resolved SR model and backend, reusable over many images (``upscale`` builds one per call).

    model: registry name / tag (``"srresnet"``, ``"srgan.div2k"``), a path ``ganzoo.load`` accepts, or a GANModel
        (it is not moved or modified: a copy is made when ``device``/``dtype`` differ from its own).
    dtype: "float32", "float16" or "bfloat16" (torch dtypes and fp32/fp16/bf16 accepted); reduced precisions only for
        models whose metadata validates them (``pretrained_cfg.half_precision``) or models without metadata.
    backend: "eager" (PyTorch), "onnxruntime" (float32/float16: the validated ``to_onnx`` export, cached in
        :func:`onnx_cache_dir` by the sha256 of the generator's weights, config and dtype) or "openvino" (CPU,
        float32 with the f32 precision hint or bfloat16 with the bf16 hint: the validated ``to_openvino`` IR,
        cached the same way, :func:`cached_openvino`).
    device: "cpu", "cuda", "cuda:N", "auto" (cuda when available) or None: a GANModel's own device, "auto" for a
        model given by name or path.
    """

    def __init__(self, model: str | os.PathLike | GANModel = "srresnet", *, dtype: str | torch.dtype = "float32",
                 backend: str = "eager", device: str | torch.device | None = None,
                 cache_dir: str | os.PathLike | None = None, allow_pickle: bool = False):
        dtype = _dtype_name(dtype)
        if backend not in BACKENDS:
            raise ValueError(f"backend must be one of {BACKENDS}, got {backend!r}")
        if backend == "onnxruntime" and dtype == "bfloat16":
            raise ValueError("the onnxruntime backend runs float32 or float16 graphs, not bfloat16; "
                             "use backend='eager' or 'openvino' for bfloat16")
        if backend == "openvino" and dtype not in OPENVINO_DTYPES:
            raise ValueError(f"the openvino backend runs float32 (f32 hint) or bfloat16 (bf16 hint), not {dtype}; "
                             f"use backend='eager' for {dtype}")
        self.model = resolve_sr_model(model, allow_pickle=allow_pickle)
        _check_dtype_validated(self.model, dtype)
        if backend == "openvino" and (device is None or device == "auto"):
            device = "cpu"  # OpenVINO runs on the CPU here; "auto" would pick a GPU for torch
        self.device = _torch_device(device, self.model, own_device=isinstance(model, GANModel))
        if backend == "eager":
            _probe_dtype(dtype, self.device)
        self.dtype, self.backend = dtype, backend
        self.scale: int = int(self.model.config.scale)
        self.channels: int = int(self.model.config.in_channels)
        self.input_range, self.output_range = _io_ranges(self.model)
        runners = {"eager": lambda: _EagerRunner(self.model, self.device, dtype),
                   "onnxruntime": lambda: _OrtRunner(self.model, self.device, dtype, cache_dir),
                   "openvino": lambda: _OpenVINORunner(self.model, self.device, dtype, cache_dir)}
        self.runner = runners[backend]()
        self.last_plan: TilePlan | None = None

    @property
    def receptive_radius(self) -> int | None:
        """The SRResNet receptive-field radius in LR pixels (:func:`receptive_radius`), None for other models."""
        try:
            return receptive_radius(self.model.config)
        except AttributeError:
            return None

    def _model_fn(self, x: torch.Tensor) -> torch.Tensor:
        """(B, C, h, w) float32 in [0, 1] -> (B, C, h*s, w*s) float32 in [0, 1]."""
        (ilo, ihi), (olo, ohi) = self.input_range, self.output_range
        if (ilo, ihi) != (0.0, 1.0):
            x = x * (ihi - ilo) + ilo
        y = self.runner(x)
        if not torch.isfinite(y).all():
            raise FloatingPointError(f"{_label(self.model)} produced non-finite values ({self.backend}, {self.dtype}); "
                                     f"use dtype='float32'")
        if (olo, ohi) != (0.0, 1.0):
            y = (y - olo) / (ohi - olo)
        return y.clamp(0.0, 1.0)

    def upscale_array(self, arr: np.ndarray, *, tile: int | None = DEFAULT_TILE, tile_overlap: int = DEFAULT_OVERLAP,
                      tile_batch: int = 1, progress: bool | None = None, desc: str | None = None) -> np.ndarray:
        """(H, W) or (H, W, C) uint8 / uint16 / float array (C: 1 grey, 2 grey+alpha, 3 RGB, 4 RGBA) ->
        (s*H, s*W[, C]) array of the same dtype and layout."""
        _check_tiling(tile, tile_overlap, tile_batch)
        squeeze = isinstance(arr, np.ndarray) and arr.ndim == 2
        arr = _as_hwc(arr)
        h, w, c = arr.shape
        colour = c - (1 if c in (2, 4) else 0)  # image colour channels: 1 or 3
        alpha = c in (2, 4)
        if self.channels == 1 and colour == 3:
            raise ValueError(f"{_label(self.model)} is a 1-channel (grey) model; got a colour image of shape {arr.shape}")
        replicate = self.channels == 3 and colour == 1
        unit = _unit_scale(arr.dtype)
        s = self.scale
        out = np.empty((h * s, w * s, c), dtype=arr.dtype)
        nin = self.channels + (1 if alpha else 0)  # channels of the tensors the tile function sees

        def to_tensor(crop: np.ndarray) -> torch.Tensor:
            t = torch.from_numpy(np.array(crop, dtype=np.float32)).permute(2, 0, 1)  # a writable copy
            if unit != 1.0:
                t = t / unit
            if replicate:
                t = torch.cat([t[:1].expand(3, -1, -1), t[1:]], dim=0)
            return t

        def fn(x: torch.Tensor) -> torch.Tensor:
            y = self._model_fn(x[:, :self.channels])
            if not alpha:
                return y
            a = F.interpolate(x[:, self.channels:], scale_factor=s, mode="bicubic", align_corners=False).clamp_(0, 1)
            return torch.cat([y, a], dim=1)

        def sink(y0: int, y1: int, rows: np.ndarray) -> None:
            if replicate:  # back to grey: BT.601 luma of the model's RGB
                grey = rows[..., 0] * LUMA[0] + rows[..., 1] * LUMA[1] + rows[..., 2] * LUMA[2]
                rows = np.concatenate([grey[..., None], rows[..., 3:]], axis=-1)
            # in place: these rows of the band are final and overwritten after the call, and a band is ~200 MB
            # for a 4000-pixel-wide x4 image, so no band-sized temporaries here
            np.clip(rows, 0.0, 1.0, out=rows)
            if unit != 1.0:
                rows *= unit
                np.rint(rows, out=rows)
            out[y0:y1] = rows  # numpy casts to the output dtype in small buffers

        self.last_plan = tiled_apply(arr, fn, sink, scale=s, out_channels=nin, tile=tile or None,
                                     overlap=tile_overlap, batch_size=tile_batch, to_tensor=to_tensor,
                                     progress=progress, desc=desc or f"upscale x{s}")
        return out[:, :, 0] if squeeze else out

    def __call__(self, image: ImageLike, *, tile: int | None = DEFAULT_TILE, tile_overlap: int = DEFAULT_OVERLAP,
                 tile_batch: int = 1, progress: bool | None = None, desc: str | None = None) -> ImageLike:
        """Upscale a PIL Image or a numpy array (see :func:`upscale`)."""
        kw = dict(tile=tile, tile_overlap=tile_overlap, tile_batch=tile_batch, progress=progress, desc=desc)
        if isinstance(image, np.ndarray):
            return self.upscale_array(image, **kw)
        from PIL import Image

        if not isinstance(image, Image.Image):
            raise TypeError(f"image: expected a PIL Image or a numpy array, got {type(image).__name__}")
        arr, restore = _from_pil(image)
        return restore(self.upscale_array(arr, **kw))


def _from_pil(im: "PILImage.Image"):
    """(array, restore): the pixels of a PIL image as an array the pipeline takes, and how to turn the result
    back into a PIL image. Palette images become RGB(A), 1-bit grey, CMYK/YCbCr/HSV/LAB RGB."""
    from PIL import Image

    mode = im.mode
    info = {k: v for k, v in im.info.items() if k in ("icc_profile", "dpi")}
    if mode in ("I;16", "I;16L", "I;16B", "I;16N"):
        arr = np.asarray(im).astype(np.uint16)
        new_mode = "I;16"
    elif mode == "I":
        a = np.asarray(im)
        if a.size and (a.min() < 0 or a.max() > 65535):
            raise ValueError(f"image: mode 'I' pixels must lie in 0..65535 to be upscaled (16-bit data), got "
                             f"min {a.min()}, max {a.max()}")
        arr, new_mode = a.astype(np.uint16), "I"
    elif mode == "F":
        arr, new_mode = np.asarray(im, dtype=np.float32), "F"
    else:
        from .images import to_plain_mode

        im = to_plain_mode(im)
        if im.mode != mode:
            logger.info("PIL mode %s is upscaled as %s (and returned as %s)", mode, im.mode, im.mode)
        arr, new_mode = np.asarray(im), im.mode

    def restore(out: np.ndarray) -> "PILImage.Image":
        if out.ndim == 3 and out.shape[2] == 1:
            out = out[:, :, 0]
        if new_mode == "I":
            res = Image.fromarray(out.astype(np.int32))
        else:
            res = Image.fromarray(np.ascontiguousarray(out))
        if res.mode != new_mode:
            raise AssertionError(f"restored mode {res.mode} != {new_mode}")
        res.info.update(info)
        return res

    return arr, restore


def upscale(image: ImageLike, model: str | os.PathLike | GANModel = "srresnet", *,
            tile: int | None = DEFAULT_TILE, tile_overlap: int = DEFAULT_OVERLAP, tile_batch: int = 1,
            dtype: str | torch.dtype = "float32", backend: str = "eager", device: str | torch.device | None = None,
            progress: bool | None = None, cache_dir: str | os.PathLike | None = None) -> ImageLike:
    """Super-resolve ``image`` with an SR model; returns the same type, ``model.config.scale`` times larger.

    image: a PIL Image (L, LA, RGB, RGBA, I;16, I, F; P/1/CMYK/YCbCr are converted and come back as RGB(A)/L) or a
        numpy array (H, W) / (H, W, C), C = 1 grey, 2 grey+alpha, 3 RGB, 4 RGBA, dtype uint8, uint16 or float in
        [0, 1]. Output: same type, mode / dtype / layout, size (s*H, s*W).
    model: registry name or tag (default ``"srresnet"``), a path (``ganzoo.load``), or a loaded GANModel with a
        ``config.scale``; its ``config.input_range`` / ``output_range`` set the value mapping.
    tile / tile_overlap / tile_batch: LR tile side (None or 0: the whole image at once), minimum overlap between
        neighbouring tiles in LR pixels, tiles per forward pass. See the module docstring for the exactness.
    dtype / backend / device / cache_dir: see :class:`Upscaler`. progress: a tqdm bar over tiles (None: only
        when stderr is a terminal).
    Greyscale comes back as BT.601 luma of the model's RGB output; alpha is upscaled bicubically.
    """
    up = Upscaler(model, dtype=dtype, backend=backend, device=device, cache_dir=cache_dir)
    return up(image, tile=tile, tile_overlap=tile_overlap, tile_batch=tile_batch, progress=progress)
