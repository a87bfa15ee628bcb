"""Voxel occupancy out as things people can look at: a surface mesh (.obj / .ply / .stl) and shaded multi-view
pictures.

Volumes follow :mod:`ganzoo.data.voxels`: ``vol[d, h, w]`` with **H up**, the layout of 3D-GAN's occupancy
(B, 1, D, H, W) in [0, 1]. Inputs may be numpy arrays or torch tensors of shape (D, H, W), (1, D, H, W) or
(1, 1, D, H, W), any real or bool dtype.

Meshes are in voxel units in the y-up frame that OBJ/PLY viewers expect: vertex ``(x, y, z) = (w, h, d)``
(voxel ``i``'s centre at ``i + 0.5``), faces wound counter-clockwise seen from outside (normals point out).

:func:`render_views` draws the marching-cubes surface with a small numpy z-buffer rasteriser: orthographic
cameras on a circle around the up axis, Lambert shading from a light above the camera plus an ambient term,
smooth (interpolated) vertex normals, on a white background; up is up in every view. About 0.1-0.3 s for a
32^3 shape at 256x256 per view on one core. Needs scikit-image (marching cubes).
"""
from __future__ import annotations

import logging
import math
import os
import struct
from pathlib import Path
from typing import IO, Sequence

import numpy as np

from .images import atomic_save, write_image

logger = logging.getLogger("ganzoo.pipelines")

__all__ = ["voxels_to_mesh", "vertex_normals", "write_mesh", "render_views", "write_views", "DEFAULT_VIEWS",
           "MESH_SUFFIXES"]

DEFAULT_VIEWS: tuple[tuple[float, float], ...] = ((30.0, 25.0), (120.0, 25.0), (210.0, 25.0), (300.0, 25.0))
MESH_SUFFIXES = (".obj", ".ply", ".stl")
BACKGROUND = (255, 255, 255)
COLOUR = np.array([0.62, 0.72, 0.90])  # the object's albedo (light steel blue)
AMBIENT = 0.28


def _as_volume(volume: object, name: str = "volume") -> np.ndarray:
    """numpy or torch, (D, H, W) / (1, D, H, W) / (1, 1, D, H, W) -> float32 (D, H, W)."""
    if type(volume).__module__.split(".")[0] == "torch":
        volume = volume.detach().cpu().float().numpy()  # type: ignore[union-attr]
    if not isinstance(volume, np.ndarray):
        raise TypeError(f"{name}: expected a numpy array or torch tensor of shape (D, H, W), (1, D, H, W) or "
                        f"(1, 1, D, H, W), got {type(volume).__name__}")
    if not (np.issubdtype(volume.dtype, np.number) or volume.dtype == bool) or np.iscomplexobj(volume):
        raise TypeError(f"{name}: expected a real or bool array, got dtype {volume.dtype}")
    v = volume
    while v.ndim > 3 and v.shape[0] == 1:
        v = v[0]
    if v.ndim != 3 or min(v.shape) < 1:
        raise ValueError(f"{name}: expected shape (D, H, W), (1, D, H, W) or (1, 1, D, H, W), got "
                         f"{tuple(volume.shape)}")
    v = v.astype(np.float32)
    if not np.all(np.isfinite(v)):
        raise ValueError(f"{name}: expected finite values, got NaN or inf")
    return v


def _check_threshold(threshold: object) -> float:
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not math.isfinite(threshold):
        raise ValueError(f"threshold must be a finite float, got {threshold!r}")
    return float(threshold)


def voxels_to_mesh(volume, threshold: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    """The surface ``volume == threshold`` by marching cubes: ``(vertices (V, 3) float32, faces (F, 3) int64)``.

    The volume is padded by one empty voxel on every side first, so shapes that touch the border still give a
    closed surface. Vertices are ``(x, y, z) = (w, h, d)`` in voxel units (y up, module docstring); faces point
    outwards. ValueError when no voxel is above ``threshold`` (an empty shape has no surface).
    """
    vol = _as_volume(volume)
    thr = _check_threshold(threshold)
    vmax = float(vol.max())
    if vmax <= thr:
        raise ValueError(f"volume: nothing is above the threshold {thr} (max value {vmax:.4g}); an empty shape has "
                         f"no surface")
    from skimage.measure import marching_cubes

    pad = np.pad(vol, 1, mode="constant", constant_values=min(float(vol.min()), thr) - 1.0)
    verts, faces, _, _ = marching_cubes(pad, level=thr, allow_degenerate=False)
    dhw = verts - 1.0 + 0.5  # padded index -> voxel units (centre of voxel i at i + 0.5)
    xyz = np.ascontiguousarray(dhw[:, ::-1], dtype=np.float32)
    faces = faces.astype(np.int64)
    # (d, h, w) -> (x, y, z) is a reflection, so the winding flips; marching_cubes' own orientation is then made
    # outward by checking the signed volume (positive for outward faces)
    faces = faces[:, ::-1]
    if _signed_volume(xyz, faces) < 0:
        faces = faces[:, ::-1]
    return xyz, np.ascontiguousarray(faces)


def _signed_volume(v: np.ndarray, f: np.ndarray) -> float:
    a, b, c = (v[f[:, k]].astype(np.float64) for k in range(3))
    return float(np.einsum("ij,ij->i", a, np.cross(b, c)).sum() / 6.0)


def vertex_normals(vertices: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Area-weighted unit vertex normals (V, 3) float32 (zero for vertices on no face)."""
    v, f = _check_mesh(vertices, faces)
    fn = np.cross(v[f[:, 1]] - v[f[:, 0]], v[f[:, 2]] - v[f[:, 0]])  # length = 2 * area
    n = np.zeros_like(v)
    for k in range(3):
        np.add.at(n, f[:, k], fn)
    ln = np.linalg.norm(n, axis=1, keepdims=True)
    return (n / np.where(ln == 0, 1.0, ln)).astype(np.float32)


def _check_mesh(vertices: object, faces: object) -> tuple[np.ndarray, np.ndarray]:
    v, f = np.asarray(vertices), np.asarray(faces)
    if v.ndim != 2 or v.shape[1] != 3 or not np.issubdtype(v.dtype, np.number):
        raise ValueError(f"vertices: expected a (V, 3) float array, got {v.shape} {v.dtype}")
    if f.ndim != 2 or f.shape[1] != 3 or not np.issubdtype(f.dtype, np.integer):
        raise ValueError(f"faces: expected an (F, 3) integer array, got {f.shape} {f.dtype}")
    if len(f) and (int(f.min()) < 0 or int(f.max()) >= len(v)):
        raise ValueError(f"faces: indices must be in [0, {len(v)}), got [{int(f.min())}, {int(f.max())}]")
    if not np.all(np.isfinite(v)):
        raise ValueError("vertices: expected finite coordinates, got NaN or inf")
    return v.astype(np.float64), f.astype(np.int64)


def _obj(f: IO[bytes], v: np.ndarray, faces: np.ndarray, n: np.ndarray | None) -> None:
    f.write(b"# ganzoo voxel mesh (y up, voxel units)\n")
    f.write("".join(f"v {a:.6g} {b:.6g} {c:.6g}\n" for a, b, c in v.tolist()).encode())
    if n is None:
        f.write("".join(f"f {a} {b} {c}\n" for a, b, c in (faces + 1).tolist()).encode())
    else:
        f.write("".join(f"vn {a:.5f} {b:.5f} {c:.5f}\n" for a, b, c in n.tolist()).encode())
        f.write("".join(f"f {a}//{a} {b}//{b} {c}//{c}\n" for a, b, c in (faces + 1).tolist()).encode())


def _ply(f: IO[bytes], v: np.ndarray, faces: np.ndarray, n: np.ndarray | None, ascii: bool) -> None:
    props = "property float x\nproperty float y\nproperty float z\n"
    if n is not None:
        props += "property float nx\nproperty float ny\nproperty float nz\n"
    fmt = "ascii" if ascii else "binary_little_endian"
    f.write((f"ply\nformat {fmt} 1.0\ncomment ganzoo voxel mesh (y up, voxel units)\nelement vertex {len(v)}\n"
             f"{props}element face {len(faces)}\nproperty list uchar int vertex_indices\nend_header\n").encode())
    vv = v.astype(np.float32) if n is None else np.concatenate([v, n], 1).astype(np.float32)
    if ascii:
        f.write("".join(" ".join(f"{x:.6g}" for x in row) + "\n" for row in vv.tolist()).encode())
        f.write("".join(f"3 {a} {b} {c}\n" for a, b, c in faces.tolist()).encode())
        return
    f.write(vv.astype("<f4").tobytes())
    rec = np.zeros(len(faces), dtype=[("n", "u1"), ("v", "<i4", (3,))])
    rec["n"], rec["v"] = 3, faces
    f.write(rec.tobytes())


def _stl(f: IO[bytes], v: np.ndarray, faces: np.ndarray) -> None:
    """Binary STL: an 80-byte header, the triangle count, then per triangle its unit normal (from the winding;
    zero for a degenerate triangle), its three corners and a zero attribute word."""
    tri = v[faces].astype(np.float64)  # (F, 3, 3)
    n = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    ln = np.linalg.norm(n, axis=1, keepdims=True)
    n = n / np.where(ln == 0, 1.0, ln)
    f.write(b"ganzoo voxel mesh (y up, voxel units)".ljust(80, b" "))
    f.write(struct.pack("<I", len(faces)))
    rec = np.zeros(len(faces), dtype=[("n", "<f4", (3,)), ("v", "<f4", (3, 3)), ("attr", "<u2")])
    rec["n"], rec["v"] = n, tri
    f.write(rec.tobytes())


def write_mesh(path: str | os.PathLike, vertices: np.ndarray, faces: np.ndarray, *,
               normals: bool | np.ndarray = False, ascii: bool = False) -> Path:
    """Write a triangle mesh atomically, the format by suffix: ``.obj`` (Wavefront, text), ``.ply`` (binary
    little-endian, or ASCII with ``ascii=True``) or ``.stl`` (binary; facet normals from the winding, so
    ``normals`` and ``ascii`` do not apply). ``normals``: True writes :func:`vertex_normals`, an array (V, 3)
    writes that. Returns the path. ValueError for any other suffix."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in MESH_SUFFIXES:
        raise ValueError(f"{path}: mesh files must end in {', '.join(MESH_SUFFIXES[:-1])} or {MESH_SUFFIXES[-1]}, "
                         f"got suffix {path.suffix!r}")
    v, f = _check_mesh(vertices, faces)
    if isinstance(normals, np.ndarray):
        n = np.asarray(normals, dtype=np.float64)
        if n.shape != v.shape:
            raise ValueError(f"normals: expected shape {v.shape} (one per vertex), got {n.shape}")
    elif normals is True:
        n = vertex_normals(v, f).astype(np.float64)
    elif normals is False or normals is None:
        n = None
    else:
        raise TypeError(f"normals must be a bool or a (V, 3) array, got {type(normals).__name__}")
    if suffix == ".ply" and len(v) >= 2 ** 31:
        raise ValueError(f"{path}: PLY indices are int32; {len(v)} vertices is too many")
    if suffix == ".stl" and len(f) >= 2 ** 32:
        raise ValueError(f"{path}: an STL file holds fewer than 2**32 triangles; {len(f)} is too many")
    if suffix == ".obj":
        out = atomic_save(path, lambda fh: _obj(fh, v, f, n))
    elif suffix == ".stl":
        out = atomic_save(path, lambda fh: _stl(fh, v, f))
    else:
        out = atomic_save(path, lambda fh: _ply(fh, v, f, n, ascii))
    logger.debug("wrote %s: %d vertices, %d faces", out, len(v), len(f))
    return out


# ---------------------------------------------------------------------------------------------- rendering


def _camera(yaw_deg: float, elev_deg: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Unit vectors (towards the camera, screen right, screen up) for a camera at azimuth ``yaw`` about +y
    (0 = on +z, 90 = on +x) and ``elevation`` above the horizon."""
    a, e = math.radians(yaw_deg), math.radians(elev_deg)
    back = np.array([math.cos(e) * math.sin(a), math.sin(e), math.cos(e) * math.cos(a)])
    right = np.cross([0.0, 1.0, 0.0], back)
    right /= np.linalg.norm(right)
    up = np.cross(back, right)
    return back, right, up


def _rasterise(v: np.ndarray, f: np.ndarray, vn: np.ndarray, view: tuple[float, float], centre: np.ndarray,
               radius: float, size: int) -> np.ndarray:
    """One view: (size, size, 3) uint8."""
    back, right, up = _camera(*view)
    rel = v - centre
    s = 0.5 * size / radius * 0.95
    px = size / 2 + (rel @ right) * s  # pixel x (column), continuous: pixel j covers [j, j + 1)
    py = size / 2 - (rel @ up) * s  # pixel y (row), downwards
    dep = rel @ back  # larger = nearer the camera
    x0, x1, x2 = px[f[:, 0]], px[f[:, 1]], px[f[:, 2]]
    y0, y1, y2 = py[f[:, 0]], py[f[:, 1]], py[f[:, 2]]
    area = (x1 - x0) * (y2 - y0) - (y1 - y0) * (x2 - x0)
    # outward faces seen from the camera are clockwise on screen (y down) -> area < 0; the rest are hidden
    keep = area < -1e-12
    fi_all = np.nonzero(keep)[0]
    xmin = np.clip(np.ceil(np.minimum(np.minimum(x0, x1), x2)[fi_all] - 0.5), 0, size).astype(np.int64)
    xmax = np.clip(np.floor(np.maximum(np.maximum(x0, x1), x2)[fi_all] - 0.5), -1, size - 1).astype(np.int64)
    ymin = np.clip(np.ceil(np.minimum(np.minimum(y0, y1), y2)[fi_all] - 0.5), 0, size).astype(np.int64)
    ymax = np.clip(np.floor(np.maximum(np.maximum(y0, y1), y2)[fi_all] - 0.5), -1, size - 1).astype(np.int64)
    nx, ny = np.maximum(xmax - xmin + 1, 0), np.maximum(ymax - ymin + 1, 0)
    cnt = nx * ny
    img = np.empty((size, size, 3), dtype=np.uint8)
    img[:] = BACKGROUND
    if cnt.sum() == 0:
        return img
    sel = cnt > 0
    fi_all, xmin, ymin, nx, cnt = fi_all[sel], xmin[sel], ymin[sel], nx[sel], cnt[sel]
    rep = np.repeat(np.arange(len(fi_all)), cnt)
    k = np.arange(len(rep)) - np.repeat(np.cumsum(cnt) - cnt, cnt)
    qx = xmin[rep] + k % nx[rep]
    qy = ymin[rep] + k // nx[rep]
    fi = fi_all[rep]
    cx, cy = qx + 0.5, qy + 0.5
    ax, ay, bx, by, ccx, ccy = x0[fi], y0[fi], x1[fi], y1[fi], x2[fi], y2[fi]
    w0 = (bx - cx) * (ccy - cy) - (by - cy) * (ccx - cx)
    w1 = (ccx - cx) * (ay - cy) - (ccy - cy) * (ax - cx)
    w2 = (ax - cx) * (by - cy) - (ay - cy) * (bx - cx)
    ar = area[fi]
    eps = 1e-9 * np.abs(ar)
    inside = (w0 <= eps) & (w1 <= eps) & (w2 <= eps)  # area < 0: all edge functions <= 0 inside
    if not inside.any():
        return img
    w0, w1, w2, fi, qx, qy, ar = w0[inside] / ar[inside], w1[inside] / ar[inside], w2[inside] / ar[inside], \
        fi[inside], qx[inside], qy[inside], ar[inside]
    d = w0 * dep[f[fi, 0]] + w1 * dep[f[fi, 1]] + w2 * dep[f[fi, 2]]
    pix = qy * size + qx
    order = np.lexsort((-d, pix))  # per pixel, nearest first
    pix_s = pix[order]
    first = np.ones(len(order), dtype=bool)
    first[1:] = pix_s[1:] != pix_s[:-1]
    win = order[first]
    n = (w0[win, None] * vn[f[fi[win], 0]] + w1[win, None] * vn[f[fi[win], 1]]
         + w2[win, None] * vn[f[fi[win], 2]])
    n /= np.maximum(np.linalg.norm(n, axis=1, keepdims=True), 1e-12)
    light = 0.5 * back + up - 0.6 * right  # mostly from above, a little left of the camera
    light /= np.linalg.norm(light)
    fill = back - 0.2 * up + 0.8 * right  # a weak fill light from the right
    fill /= np.linalg.norm(fill)
    shade = AMBIENT + (1 - AMBIENT) * (0.8 * np.clip(n @ light, 0, 1) + 0.2 * np.clip(n @ fill, 0, 1))
    rgb = np.clip(shade[:, None] * COLOUR[None] * 255.0 + 0.5, 0, 255).astype(np.uint8)
    img.reshape(-1, 3)[pix[win]] = rgb
    return img


def _check_views(views: object) -> tuple[tuple[float, float], ...]:
    try:
        out = tuple((float(a), float(e)) for a, e in views)  # type: ignore[union-attr]
    except (TypeError, ValueError):
        raise TypeError(f"views must be a sequence of (yaw, elevation) pairs in degrees, got {views!r}") from None
    if not out:
        raise ValueError("views: expected at least one (yaw, elevation) pair, got none")
    for a, e in out:
        if not (math.isfinite(a) and -90.0 < e < 90.0):
            raise ValueError(f"views: elevation must be in (-90, 90) degrees and yaw finite, got ({a}, {e})")
    return out


def render_views(volume, views: Sequence[tuple[float, float]] = DEFAULT_VIEWS, size: int = 256,
                 threshold: float = 0.5, *, fit: str = "object") -> np.ndarray:
    """Shaded pictures of the shape ``volume > threshold`` side by side: uint8 (size, size * len(views), 3).

    views: (yaw, elevation) pairs in degrees; the camera sits at azimuth ``yaw`` about the up axis (0 = on the
    +z = +D side, 90 = on +x = +W) and ``elevation`` above the horizon, looking at the centre; up (H) is up in
    the picture. Orthographic; white background. ``fit="object"`` frames the shape's bounding sphere (the same
    framing in every view), ``fit="grid"`` frames the whole grid, so sizes compare between pictures. ValueError
    for an empty volume (nothing above the threshold), as :func:`voxels_to_mesh`.
    """
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or not 8 <= size <= 4096:
        raise ValueError(f"size must be an int in [8, 4096] (pixels per view), got {size!r}")
    if fit not in ("object", "grid"):
        raise ValueError(f"fit must be 'object' or 'grid', got {fit!r}")
    views = _check_views(views)
    vol = _as_volume(volume)
    v, f = voxels_to_mesh(vol, threshold)
    v = v.astype(np.float64)
    vn = vertex_normals(v, f).astype(np.float64)
    if fit == "object":
        lo, hi = v.min(0), v.max(0)
        centre, radius = (lo + hi) / 2, max(float(np.linalg.norm(hi - lo)) / 2, 1.0)
    else:
        ext = np.array(vol.shape[::-1], dtype=np.float64)  # (x, y, z) = (W, H, D)
        centre, radius = ext / 2, float(np.linalg.norm(ext)) / 2
    return np.concatenate([_rasterise(v, f, vn, view, centre, radius, int(size)) for view in views], axis=1)


def write_views(path: str | os.PathLike, volume, views: Sequence[tuple[float, float]] = DEFAULT_VIEWS,
                size: int = 256, threshold: float = 0.5, *, fit: str = "object") -> Path:
    """:func:`render_views` saved as a PNG (atomically). Returns the path. ValueError unless ``path`` ends in
    ``.png``."""
    path = Path(path)
    if path.suffix.lower() != ".png":
        raise ValueError(f"{path}: write_views writes PNG files; expected a .png suffix, got {path.suffix!r}")
    img = render_views(volume, views, size, threshold, fit=fit)
    return write_image(path, img, format="png")
