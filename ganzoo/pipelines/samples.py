"""What ``ganzoo sample`` writes: the file format follows the ``-o`` suffix and the model family's output.

* **Image models**: .png .jpg .jpeg .webp .bmp .tif .tiff, one grid picture (as ever).
* **TGAN** (videos, B x C x T x H x W): .gif / .mp4, the videos tiled into one grid video
  (:func:`~ganzoo.pipelines.video.video_grid`: ``ceil(sqrt(n))`` videos per row, 2 px white gaps) at ``--fps``
  (default 8); an MP4 is enlarged by nearest neighbour (x1..x4, to about 512 px on its longer side), a GIF is not.
  A picture suffix (.png ...) writes a grid of frames: one row per video, one column per frame.
* **3D-GAN** (volumes, B x 1 x D x H x W in [0, 1]): .obj / .ply / .stl, the surface at occupancy 0.5 (marching
  cubes, :func:`~ganzoo.pipelines.voxels.voxels_to_mesh`; OBJ and PLY with vertex normals), one mesh file per sample
  (below). A picture suffix (.png ...) writes shaded renders: one row per sample, one column per view of
  :data:`~ganzoo.pipelines.voxels.DEFAULT_VIEWS` (128 px each). .npy writes the raw occupancy, float32
  (n, 1, D, H, W).

**One file per sample.** For videos and volumes, an ``-o`` name holding ``{i}`` (Python format syntax:
``clip_{i}.gif``, ``chair_{i:03d}.obj``) writes one file per sample, ``i`` = 0 .. n - 1: one video, one frame strip,
one mesh, one row of renders or one (1, D, H, W) array each. Without ``{i}``, a mesh suffix with ``-n`` > 1 writes
``NAME_000.obj``, ``NAME_001.obj``, ... (as ``NAME_{i:03d}.obj``; more digits past 1000 samples), and ``-n 1`` writes
``NAME.obj`` itself; every other suffix writes the whole batch into the one named file. Image models take the name
as it is (braces included).

A volume with no voxel above 0.5 has no surface: its mesh file is written empty (no vertices, no faces) and its
renders blank, with a warning. Every file is written atomically (a temporary name, then a rename). An unsupported
suffix raises :class:`~ganzoo.errors.InvalidOutputPathError` (a ValueError) naming the suffixes of that family.
The family comes from the registry (names) or ``config.json`` (save_pretrained folders) before the model loads; for
``hf-hub:`` names and bare weights files it is known only once the model is loaded, so the suffix is checked first
against every family's suffixes and again after loading.
"""
from __future__ import annotations

import json
import logging
import math
import os
import string
from dataclasses import dataclass
from pathlib import Path

logger = logging.getLogger("ganzoo")

__all__ = ["SAMPLE_SUFFIXES", "SamplePlan", "output_kind", "peek_model", "family_of", "plan_sample_output",
           "check_any_sample_output", "write_samples"]

#: picture suffixes (= ganzoo.utils.IMAGE_FORMATS, kept here so this module stays light to import)
_PICTURES = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff")
#: output kind -> the ``-o`` suffixes ``ganzoo sample`` writes for it
SAMPLE_SUFFIXES: dict[str, tuple[str, ...]] = {
    "image": _PICTURES,
    "video": (".gif", ".mp4") + _PICTURES,
    "volume": (".obj", ".ply", ".stl", ".npy") + _PICTURES,
}
_KINDS = {"tgan": "video", "gan3d": "volume"}  # family -> output kind; every other family writes pictures
_LABELS = {"image": "image models", "video": "TGAN (video) models", "volume": "3D-GAN (volume) models"}
_MESHES = (".obj", ".ply", ".stl")
VIEW_SIZE = 128  # pixels per rendered view of a volume


def output_kind(family: str | None) -> str:
    """"video" (TGAN), "volume" (3D-GAN) or "image" (every other family)."""
    return _KINDS.get(family or "", "image")


def peek_model(name: str) -> tuple[str | None, dict] | None:
    """(family, config dict) of a model name or save_pretrained folder without building or loading it; None when
    only loading can tell (``hf-hub:`` names, weights files, unknown names: loading reports those)."""
    from ..errors import GanzooError
    from ..factory import _parse_source
    from ..registry import model_info

    try:
        kind, s = _parse_source(name)
    except (GanzooError, ValueError, TypeError):
        return None
    if kind == "name":
        try:
            info = model_info(s)
        except (GanzooError, ValueError, LookupError):
            return None
        return info.family, dict(info.config)
    if kind == "path":
        cfg = Path(s).expanduser() / "config.json"
        if cfg.is_file():
            try:
                d = json.loads(cfg.read_text(encoding="utf-8"))
            except (OSError, ValueError):
                return None
            if isinstance(d, dict):
                fam = d.get("family")
                conf = d.get("config")
                return (fam if isinstance(fam, str) else None), (conf if isinstance(conf, dict) else {})
    return None


def family_of(model) -> str | None:
    """The registry family of a built model (None for a class outside the registry)."""
    import importlib

    from ..registry import get_entry

    if model.model_name:
        try:
            return get_entry(model.model_name).family
        except LookupError:
            pass
    return getattr(importlib.import_module(type(model).__module__), "_family", None)


@dataclass
class SamplePlan:
    """Where ``ganzoo sample`` writes: ``paths`` (one, or one per sample when ``per_sample``), for ``kind``."""

    kind: str
    suffix: str
    paths: list[Path]
    per_sample: bool


def _pattern_fields(text: str, what: str) -> bool:
    """True when ``text`` holds replacement fields; each must be ``{i}`` (with any int format spec)."""
    from ..errors import InvalidOutputPathError

    try:
        parts = list(string.Formatter().parse(text))
    except ValueError as e:
        raise InvalidOutputPathError(f"{what}: {text!r} is not a valid name pattern ({e}); write {{i}} for the "
                                     f"sample index and {{{{ }}}} for literal braces") from None
    fields = [(f, spec, conv) for _, f, spec, conv in parts if f is not None]
    for f, spec, conv in fields:
        if f != "i" or conv:
            got = "{" + f + (f"!{conv}" if conv else "") + "}"
            raise InvalidOutputPathError(f"{what}: {text!r}: a name pattern may only use the field {{i}} (the "
                                         f"sample index, e.g. clip_{{i:03d}}.gif), got {got}")
        try:
            format(0, spec)
        except ValueError as e:
            raise InvalidOutputPathError(f"{what}: {text!r}: the format spec {spec!r} of {{i}} does not format an "
                                         f"int ({e})") from None
    return bool(fields)


def check_any_sample_output(output: str | os.PathLike, *, what: str = "-o") -> Path:
    """The check of ``-o`` while the family is not known yet (``hf-hub:`` names, weights files): a path
    ``check_output_file`` accepts, with a suffix some family writes. Plan again once the model has loaded."""
    from ..utils import check_output_file

    allowed = tuple(dict.fromkeys(s for v in SAMPLE_SUFFIXES.values() for s in v))
    return check_output_file(output, what=what, suffixes=allowed)


def plan_sample_output(output: str | os.PathLike, family: str | None, n: int, *, what: str = "-o") -> SamplePlan:
    """Check ``-o`` for a model of ``family`` drawing ``n`` samples, before anything runs; returns the plan.

    Raises InvalidOutputPathError (a ValueError) for an unsupported suffix (naming the family's suffixes), a bad
    ``{i}`` pattern, or any path ``check_output_file`` refuses."""
    from ..errors import InvalidOutputPathError
    from ..utils import check_output_file

    kind = output_kind(family)
    raw = os.fspath(output) if isinstance(output, (str, os.PathLike)) else output
    suffixes = SAMPLE_SUFFIXES[kind]
    if kind == "image":
        return SamplePlan(kind, Path(raw).suffix.lower(), [check_output_file(raw, what=what, suffixes=suffixes)],
                          False)
    p = check_output_file(raw, what=what)  # the path rules; the suffix is checked per family below
    suffix = p.suffix.lower()
    if suffix not in suffixes:
        raise InvalidOutputPathError(
            f"{what}: {p.name!r} has suffix {p.suffix or '(none)'!r}; {_LABELS[kind]} write {', '.join(suffixes)}"
            + (f" ({family})" if family else ""))
    pattern = _pattern_fields(os.fspath(raw), what)
    if not pattern and suffix in _MESHES and n > 1:
        digits = max(3, len(str(n - 1)))
        stem = Path(raw).name[:-len(Path(raw).suffix)]
        raw = os.path.join(os.path.dirname(os.fspath(raw)), f"{stem.replace('{', '{{').replace('}', '}}')}"
                                                               f"_{{i:0{digits}d}}{Path(raw).suffix}")
        pattern = True
    if not pattern:
        return SamplePlan(kind, suffix, [p], False)
    names = [os.fspath(raw).format(i=i) for i in range(n)]
    paths = [check_output_file(s, what=what) for s in names]
    for q in paths:
        if q.suffix.lower() != suffix:
            raise InvalidOutputPathError(f"{what}: the pattern {os.fspath(output)!r} gives {q.name!r}, whose suffix "
                                         f"is not {suffix}")
    if len(set(paths)) != n:
        raise InvalidOutputPathError(f"{what}: the pattern {os.fspath(output)!r} gives the same file name to "
                                     f"several samples; use {{i}} in it (e.g. {{i:03d}})")
    return SamplePlan(kind, suffix, paths, True)


def _to_unit_pm1(x, value_range):
    lo, hi = value_range
    return (x.detach().float().cpu() - lo) / (hi - lo) * 2 - 1


def _mp4_scale(h: int, w: int) -> int:
    return max(1, min(4, 512 // max(h, w)))


def _write_videos(plan: SamplePlan, out, value_range, fps: float) -> list[Path]:
    from ..utils import save_image_grid
    from .video import video_grid, write_video

    b, c, t, h, w = out.shape
    if plan.suffix in (".gif", ".mp4"):
        videos = _to_unit_pm1(out, value_range)  # TGAN layout (B, C, T, H, W), floats in [-1, 1]
        if plan.per_sample:
            return [write_video(p, videos[i], fps, scale=_mp4_scale(h, w) if plan.suffix == ".mp4" else 1)
                    for i, p in enumerate(plan.paths)]
        grid = video_grid(videos, nrow=max(1, math.ceil(math.sqrt(b))))
        gh, gw = grid.shape[1:3]
        return [write_video(plan.paths[0], grid, fps, scale=_mp4_scale(gh, gw) if plan.suffix == ".mp4" else 1)]
    frames = out.detach().float().cpu().permute(0, 2, 1, 3, 4)  # (B, T, C, H, W): rows = videos, columns = frames
    if plan.per_sample:
        return [save_image_grid(frames[i], p, nrow=t, value_range=value_range) for i, p in enumerate(plan.paths)]
    return [save_image_grid(frames.reshape(b * t, c, h, w), plan.paths[0], nrow=t, value_range=value_range)]


def _empty(vol, threshold: float) -> bool:
    return float(vol.max()) <= threshold


def _write_volumes(plan: SamplePlan, out, value_range) -> list[Path]:
    import numpy as np
    import torch

    from ..utils import save_image_grid
    from .images import atomic_save
    from .voxels import DEFAULT_VIEWS, render_views, voxels_to_mesh, write_mesh

    vols = out.detach().float().cpu().numpy()  # (B, 1, D, H, W)
    lo, hi = value_range
    thr = (lo + hi) / 2
    b = vols.shape[0]
    if plan.suffix == ".npy":
        def save(p: Path, arr: np.ndarray) -> Path:
            return atomic_save(p, lambda f: np.save(f, np.ascontiguousarray(arr, dtype=np.float32)))

        if plan.per_sample:
            return [save(p, vols[i]) for i, p in enumerate(plan.paths)]
        return [save(plan.paths[0], vols)]
    if plan.suffix in _MESHES:
        written = []
        for i, p in enumerate(plan.paths):
            if _empty(vols[i], thr):
                logger.warning("sample %d: no voxel is above %g, so it has no surface; %s is an empty mesh", i, thr,
                               p.name)
                v, f = np.zeros((0, 3), np.float32), np.zeros((0, 3), np.int64)
            else:
                v, f = voxels_to_mesh(vols[i], thr)
            written.append(write_mesh(p, v, f, normals=plan.suffix != ".stl"))
        return written
    strips = []
    for i in range(b):
        if _empty(vols[i], thr):
            logger.warning("sample %d: no voxel is above %g; its renders are blank", i, thr)
            strips.append(np.full((VIEW_SIZE, VIEW_SIZE * len(DEFAULT_VIEWS), 3), 255, np.uint8))
        else:
            strips.append(render_views(vols[i], DEFAULT_VIEWS, VIEW_SIZE, thr))
    rows = torch.from_numpy(np.stack(strips)).permute(0, 3, 1, 2).float()  # (B, 3, S, S * views), 0..255
    if plan.per_sample:
        return [save_image_grid(rows[i:i + 1], p, nrow=1, value_range=(0.0, 255.0)) for i, p in enumerate(plan.paths)]
    return [save_image_grid(rows, plan.paths[0], nrow=1, value_range=(0.0, 255.0))]


def write_samples(plan: SamplePlan, out, value_range: tuple[float, float], *, fps: float = 8) -> list[Path]:
    """Write a batch of generated samples (a torch tensor: images (B, C, H, W), videos (B, C, T, H, W) or volumes
    (B, 1, D, H, W)) as ``plan`` says; returns the paths written."""
    from ..utils import save_image_grid

    if plan.kind == "video":
        if out.dim() != 5:
            raise ValueError(f"expected videos (B, C, T, H, W) from a TGAN model, got shape {tuple(out.shape)}")
        return _write_videos(plan, out, value_range, fps)
    if plan.kind == "volume":
        if out.dim() != 5 or out.shape[1] != 1:
            raise ValueError(f"expected volumes (B, 1, D, H, W) from a 3D-GAN model, got shape {tuple(out.shape)}")
        return _write_volumes(plan, out, value_range)
    if out.dim() == 5:  # a 5-D model outside the video / volume families: first frames, as before
        out = out[:, :, 0]
    return [save_image_grid(out, plan.paths[0], value_range=value_range)]
