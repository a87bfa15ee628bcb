"""Face rotation with DR-GAN: frontalise a face, render it at any pose of the model's grid, sweep every pose, or fuse
several images of one person into one identity first (``drgan_multi``).

    >>> from ganzoo.pipelines import rotate
    >>> front = rotate("face.jpg", 0)[0, 0]                      # (96, 96, 3) uint8: the face frontalised
    >>> sweep = rotate("face.jpg", "sweep")                      # (1, Np, 96, 96, 3): every pose, yaw ascending
    >>> fused = rotate(["a.jpg", "b.jpg", "c.jpg"], 30, model="drgan_multi")   # (1, 1, 96, 96, 3)

**Poses** are yaw angles in degrees, with the sign of :mod:`ganzoo.data.heads`: 0 = frontal, *positive = the face
turned towards the image right* (the subject's left). A DR-GAN has ``Np`` discrete pose classes; class ``k`` is at
``pose_yaws(model)[k]`` degrees: ``model.config.yaws`` when the config has that field, else
``15 * (k - (Np - 1) / 2)``: 15-degree steps centred on 0 (``Np = 13``: -90 .. 90, the Multi-PIE tags; ``Np = 9``:
-60 .. 60, the ``.heads`` tags). A degree value off that grid raises ValueError listing the model's poses (no
rounding to the nearest). ``"sweep"`` asks for every pose class, in ascending yaw (left to right in a strip).

**Input faces**: image files (EXIF orientation applied), PIL images or numpy arrays (H, W[, C]) of uint8, uint16
(rounded to 8 bits) or floats in [0, 1] (rounded to 8 bits), C = 1 grey, 2 grey + alpha, 3 RGB, 4 RGBA; alpha is
dropped. Any size: the shorter side is resized to 96 (Pillow bicubic, antialiased), then the centre 96 x 96 is
cropped (an odd excess loses its extra pixel at the bottom / right); a 96 x 96 face is taken as it is. Grey faces
are replicated to RGB for an RGB model; colour faces become grey (Pillow's ``convert("L")``) for a grey one. Pixels
map to the model's [-1, 1] as ``uint8 / 127.5 - 1``. DR-GAN expects a face filling the frame as in its training
data (for ``.heads`` models: ``ganzoo.data.heads.render_head``'s framing).

**Several faces**: a multi-image model (``drgan_multi``) fuses them by default (``fuse=None``): one identity feature
``model.fuse(faces)`` weighted by its learned confidences, so the output has one row. The single-image model
rotates each face on its own (one row per face); ``fuse=True`` averages their features instead (the single-image
model has no confidences: the paper's single-image baseline on image sets), ``fuse=False`` makes a multi-image
model encode each face on its own.

**Noise**: ``z`` (1, Nz), U(-1, 1), drawn from ``seed`` as ``torch.rand(1, Nz, generator=torch.Generator()
.manual_seed(seed)) * 2 - 1`` on the CPU (the same on every device), and shared by every output, so a sweep changes
the pose only. Or pass ``z`` yourself (Nz values).

**Output**: uint8 ``(M, P, 96, 96, C)``: M rows (1 when fused, else one per face), P poses (in the order asked; the
sweep in ascending yaw), C = the model's channels (3 RGB, 1 grey); the model's [-1, 1] output mapped by
``round((x + 1) * 127.5)``, clamped. :meth:`Rotator.render` returns the float output before that.
"""
from __future__ import annotations

import copy
import logging
import math
import os
from typing import TYPE_CHECKING, Any, Sequence, Union

import numpy as np
import torch

from ..errors import GanzooError
from ..models.base import GANModel
from ..utils import eval_mode, to_uint8
from .images import _to8
from .inpainting import _pixels  # array, PIL image (upscaling._from_pil) or file, as inpaint takes them
from .upscaling import _label, _torch_device

if TYPE_CHECKING:  # pragma: no cover
    from PIL import Image as PILImage

logger = logging.getLogger("ganzoo.pipelines")

__all__ = ["rotate", "Rotator", "resolve_drgan_model", "pose_yaws", "pose_classes", "prepare_face", "face_tensor",
           "draw_noise", "tile_poses", "NotADRGANModelError", "SWEEP", "FACE_SIZE", "YAW_STEP"]

#: The ``pose`` value that asks for every pose class.
SWEEP = "sweep"
#: DR-GAN's input and output side in pixels.
FACE_SIZE = 96
#: Degrees between neighbouring pose classes when the config has no ``yaws``.
YAW_STEP = 15.0
_TOL = 1e-6  # degrees: a pose matches a class within this

FaceInput = Union["PILImage.Image", np.ndarray, str, os.PathLike]


class NotADRGANModelError(GanzooError, ValueError):
    """A model given to the rotation pipeline that is not a DR-GAN (no pose-conditioned encoder-decoder)."""


def _is_drgan(model: GANModel) -> bool:
    from ..models.drgan import DRGAN

    return isinstance(model, DRGAN)


def _not_drgan(label: str, family: str | None) -> NotADRGANModelError:
    return NotADRGANModelError(
        f"{label} is not a DR-GAN model{f' (family {family!r})' if family else ''}: ganzoo rotate / "
        f"ganzoo.pipelines.rotate turn faces with a DR-GAN (drgan, or drgan_multi to fuse several images of one "
        f"person); see ganzoo.list_models('drgan*')")


def resolve_drgan_model(model: str | os.PathLike | GANModel, *, local_files_only: bool = False,
                        allow_pickle: bool = False) -> GANModel:
    """A DR-GAN from a registry name / tag, a path (``ganzoo.load`` handles both) or a model; NotADRGANModelError
    for any other model."""
    if isinstance(model, GANModel):
        m = model
    elif isinstance(model, (str, os.PathLike)):
        from ..factory import load

        m = load(os.fspath(model), local_files_only=local_files_only, allow_pickle=allow_pickle)
    else:
        raise TypeError(f"model: expected a registry name, a path or a ganzoo GANModel, got {type(model).__name__}")
    if not _is_drgan(m):
        raise _not_drgan(_label(m), None)
    return m


# ------------------------------------------------------------------------------------------------------- poses


def _config_get(config: Any, key: str) -> Any:
    if isinstance(config, dict):
        return config.get(key)
    return getattr(config, key, None)


def pose_yaws(model: Any) -> tuple[float, ...]:
    """The yaw in degrees of each pose class of a DR-GAN (a model, its config, or a config dict): ``config.yaws``
    when present, else ``15 * (k - (Np - 1) / 2)`` for k = 0 .. Np - 1 (module docstring)."""
    config = model.config if isinstance(model, GANModel) else model
    yaws = _config_get(config, "yaws")
    np_ = _config_get(config, "num_poses")
    if yaws is not None:
        out = tuple(float(y) for y in yaws)
        if np_ is not None and len(out) != int(np_):
            raise ValueError(f"config.yaws has {len(out)} values but num_poses is {np_}")
        return out
    if np_ is None:
        raise ValueError("not a DR-GAN config: it has neither yaws nor num_poses")
    n = int(np_)
    return tuple(YAW_STEP * (k - (n - 1) / 2) for k in range(n))


def _fmt(y: float) -> str:
    return f"{y:g}"


def pose_classes(model: Any, pose: Any) -> list[int]:
    """Pose class indices for ``pose``: a yaw in degrees (int or float), a sequence of them, or ``"sweep"`` (every
    class, ascending yaw). ``model``: a DR-GAN, its config or a config dict. ValueError for a yaw off the model's
    grid (listing its yaws), TypeError for anything else."""
    yaws = pose_yaws(model)
    if isinstance(pose, str):
        if pose.strip().lower() != SWEEP:
            raise ValueError(f"pose: expected a yaw in degrees or {SWEEP!r}, got {pose!r}")
        return sorted(range(len(yaws)), key=lambda k: yaws[k])
    values = list(pose) if isinstance(pose, (list, tuple)) else [pose]
    if not values:
        raise ValueError("pose: expected at least one yaw, got an empty sequence")
    out = []
    for v in values:
        if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)):
            raise TypeError(f"pose: expected yaws in degrees (numbers) or {SWEEP!r}, got {v!r}")
        d = float(v)
        hits = [k for k, y in enumerate(yaws) if math.isfinite(d) and abs(y - d) <= _TOL]
        if not hits:
            raise ValueError(f"pose {_fmt(d)} degrees: not a pose of this model; its {len(yaws)} pose classes are at "
                             f"{', '.join(_fmt(y) for y in yaws)} degrees (0 = frontal, positive = the face turned "
                             f"towards the image right), or {SWEEP!r} for all of them")
        out.append(hits[0])
    return out


# ------------------------------------------------------------------------------------------------------ faces


def prepare_face(image: FaceInput, channels: int = 3, *, what: str = "image") -> np.ndarray:
    """One face in any accepted form (module docstring) -> uint8 (96, 96, channels): alpha dropped, shorter side
    resized to 96 (bicubic), centre-cropped, converted to ``channels`` (1 grey or 3 RGB)."""
    from PIL import Image

    a = _pixels(image, what)
    if a.ndim == 2:
        a = a[:, :, None]
    if a.ndim != 3 or a.shape[2] not in (1, 2, 3, 4) or min(a.shape[:2]) < 1:
        raise ValueError(f"{what}: expected an image (H, W) or (H, W, C) with C in 1..4, got shape {a.shape}")
    if a.dtype == np.uint16:
        a = _to8(a)
    elif np.issubdtype(a.dtype, np.floating):
        if not np.isfinite(a).all():
            raise ValueError(f"{what}: contains NaN or infinite values")
        a = np.rint(np.clip(a, 0.0, 1.0) * 255.0).astype(np.uint8)
    elif a.dtype != np.uint8:
        raise TypeError(f"{what}: expected uint8, uint16 or float (in [0, 1]) pixels, got dtype {a.dtype}")
    colour = 3 if a.shape[2] >= 3 else 1
    a = np.ascontiguousarray(a[:, :, :colour])
    im = Image.fromarray(a[:, :, 0] if colour == 1 else a, mode="L" if colour == 1 else "RGB")
    w, h = im.size
    if (w, h) != (FACE_SIZE, FACE_SIZE):
        s = FACE_SIZE / min(w, h)
        nw, nh = max(FACE_SIZE, round(w * s)), max(FACE_SIZE, round(h * s))
        im = im.resize((nw, nh), Image.Resampling.BICUBIC)
        left, top = (nw - FACE_SIZE) // 2, (nh - FACE_SIZE) // 2
        im = im.crop((left, top, left + FACE_SIZE, top + FACE_SIZE))
    if channels == 3:
        im = im.convert("RGB")
    elif channels == 1:
        im = im.convert("L")
    else:
        raise ValueError(f"channels must be 1 or 3, got {channels!r}")
    out = np.asarray(im)
    return out[:, :, None] if out.ndim == 2 else out


def face_tensor(images: FaceInput | Sequence[FaceInput], channels: int = 3) -> torch.Tensor:
    """One face or a list of faces -> float32 (N, channels, 96, 96) in [-1, 1] (``uint8 / 127.5 - 1``)."""
    items = list(images) if isinstance(images, (list, tuple)) else [images]
    if not items:
        raise ValueError("images: expected at least one face, got an empty sequence")
    faces = [prepare_face(x, channels, what=f"images[{i}]" if len(items) > 1 else "image")
             for i, x in enumerate(items)]
    arr = np.stack(faces).astype(np.float32) / np.float32(127.5) - np.float32(1.0)
    return torch.from_numpy(arr).permute(0, 3, 1, 2).contiguous()


def draw_noise(nz: int, seed: int = 0) -> torch.Tensor:
    """z (1, nz) in U(-1, 1) from ``seed``, drawn on the CPU (module docstring)."""
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"seed: expected an int, got {seed!r}")
    g = torch.Generator().manual_seed(int(seed))
    return torch.rand(1, int(nz), generator=g) * 2 - 1


def tile_poses(faces: np.ndarray, *, gap: int = 2, gap_value: int = 255) -> np.ndarray:
    """uint8 (M, P, H, W, C) -> one picture (M * H + (M - 1) * gap, P * W + (P - 1) * gap, C): rows = faces,
    columns = poses, ``gap`` pixels of ``gap_value`` between tiles (none around the outside)."""
    m, p, h, w, c = faces.shape
    out = np.full((m * h + (m - 1) * gap, p * w + (p - 1) * gap, c), gap_value, dtype=np.uint8)
    for i in range(m):
        for j in range(p):
            out[i * (h + gap):i * (h + gap) + h, j * (w + gap):j * (w + gap) + w] = faces[i, j]
    return out


# ------------------------------------------------------------------------------------------------------ model


class Rotator:
    """A resolved DR-GAN on a device, reusable over many faces (:func:`rotate` builds one per call).

    model: registry name / tag (default ``"drgan"``), a save_pretrained folder or file ``ganzoo.load`` accepts, or
        a DR-GAN GANModel (not modified: a copy is moved when ``device`` differs from its own).
    device: "cpu", "cuda", "cuda:N", "auto" (cuda when available) or None: a GANModel's own device, "auto" for a
        model given by name or path. local_files_only / allow_pickle: see ``ganzoo.load``.
    """

    def __init__(self, model: str | os.PathLike | GANModel = "drgan", *, device: str | torch.device | None = None,
                 local_files_only: bool = False, allow_pickle: bool = False):
        m = resolve_drgan_model(model, local_files_only=local_files_only, allow_pickle=allow_pickle)
        self.device = _torch_device(device, m, own_device=isinstance(model, GANModel))
        p = next(m.parameters(), None)
        if p is not None and p.device != self.device:
            m = (copy.deepcopy(m) if isinstance(model, GANModel) else m).to(self.device)
        self.model = m
        cfg = m.config
        self.channels: int = int(cfg.nc)
        self.nz: int = int(cfg.nz)
        self.multi_image: bool = bool(cfg.multi_image)
        self.yaws: tuple[float, ...] = pose_yaws(m)

    def poses(self, pose: Any) -> list[int]:
        """:func:`pose_classes` of this model."""
        return pose_classes(self.model, pose)

    def features(self, faces: torch.Tensor, fuse: bool | None = None) -> torch.Tensor:
        """faces (N, C, 96, 96) in [-1, 1] -> identity features (M, F): fused into one row (``model.fuse``) when
        ``fuse`` (default: for a multi-image model), else one row per face (``model.encode``)."""
        fuse = self.multi_image if fuse is None else bool(fuse)
        x = faces.to(self.device, torch.float32)
        with torch.inference_mode(), eval_mode(self.model):
            return self.model.fuse(x[None]) if fuse else self.model.encode(x)

    def render(self, features: torch.Tensor, classes: Sequence[int], z: torch.Tensor) -> torch.Tensor:
        """features (M, F), pose classes (P of them), z (1, Nz) -> float (M, P, C, 96, 96) in [-1, 1]."""
        m, p = features.shape[0], len(classes)
        f = features.repeat_interleave(p, dim=0)
        pose = torch.tensor(list(classes), dtype=torch.int64, device=self.device).repeat(m)
        zz = z.to(self.device, torch.float32).reshape(1, -1).expand(m * p, -1)
        with torch.inference_mode(), eval_mode(self.model):
            y = self.model.generate(f, pose, zz)
        return y.reshape(m, p, *y.shape[1:])

    def noise(self, seed: int = 0, z: Any = None) -> torch.Tensor:
        """z (1, Nz): ``z`` as given (Nz values), else :func:`draw_noise` from ``seed``."""
        if z is None:
            return draw_noise(self.nz, seed)
        t = torch.as_tensor(z, dtype=torch.float32)
        if t.numel() != self.nz:
            raise ValueError(f"z: expected {self.nz} values (Nz of {_label(self.model)}), got shape {tuple(t.shape)}")
        return t.reshape(1, self.nz)

    def __call__(self, images: FaceInput | Sequence[FaceInput], pose: Any = 0.0, *, seed: int = 0, z: Any = None,
                 fuse: bool | None = None) -> np.ndarray:
        """Rotate faces (see :func:`rotate`): uint8 (M, P, 96, 96, C)."""
        classes = self.poses(pose)
        zz = self.noise(seed, z)
        faces = face_tensor(images, self.channels)
        y = self.render(self.features(faces, fuse), classes, zz)
        out = to_uint8(y.reshape(-1, *y.shape[2:]))  # (M * P, C, 96, 96) uint8
        logger.info("rendered %d face(s) at %d pose(s) with %s", y.shape[0], y.shape[1], _label(self.model))
        return out.permute(0, 2, 3, 1).reshape(*y.shape[:2], FACE_SIZE, FACE_SIZE, self.channels).numpy()


def rotate(images: FaceInput | Sequence[FaceInput], pose: Any = 0.0, model: str | os.PathLike | GANModel = "drgan",
           *, seed: int = 0, z: Any = None, fuse: bool | None = None, device: str | torch.device | None = None,
           local_files_only: bool = False, allow_pickle: bool = False) -> np.ndarray:
    """Render faces at other poses with a DR-GAN; returns uint8 (M, P, 96, 96, C) (module docstring).

    images: one face (a file path, a PIL Image or a numpy array, any size) or a list of faces of one person.
    pose: a yaw in degrees on the model's grid (0 = frontalise), a list of them, or ``"sweep"`` (every pose,
        ascending yaw). model / device / local_files_only / allow_pickle: see :class:`Rotator`.
    seed / z: the noise (shared by every output). fuse: None = fuse several faces with a multi-image model only;
        True / False force it (module docstring).
    """
    return Rotator(model, device=device, local_files_only=local_files_only,
                   allow_pickle=allow_pickle)(images, pose, seed=seed, z=z, fuse=fuse)
