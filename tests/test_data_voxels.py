"""ganzoo.data.voxels (procedural shapes with known factors, mesh voxelising) and ganzoo.pipelines.voxels (meshes
and pictures of voxel volumes)."""
from __future__ import annotations

import importlib.util
import math
import time

import numpy as np
import pytest

from ganzoo.data import voxels as vx
from ganzoo.data.voxels import (MARGIN, PACKAGE_MESHES, SHAPE_CLASSES, VOXEL_HELDOUT_SEED, PackageMesh,
                                load_package_mesh, make_shape, read_mesh, voxel_dataset, voxel_heldout,
                                voxelize_mesh)

pytest.importorskip("skimage")

from ganzoo.pipelines.voxels import (render_views, vertex_normals, voxels_to_mesh, write_mesh,  # noqa: E402
                                     write_views)


def shape(cls: str, seed: int = 0, size: int = 32, **kw):
    return make_shape(cls, np.random.default_rng(seed), size, **kw)


def margin_empty(vol: np.ndarray, m: int = MARGIN) -> bool:
    inner = np.zeros_like(vol)
    inner[m:-m, m:-m, m:-m] = True
    return not vol[~inner].any()


def edges(faces: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    e = np.sort(np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]]), axis=1)
    return np.unique(e, axis=0, return_counts=True)


def signed_volume(v: np.ndarray, f: np.ndarray) -> float:
    a, b, c = (v[f[:, k]].astype(np.float64) for k in range(3))
    return float(np.einsum("ij,ij->i", a, np.cross(b, c)).sum() / 6)


# ------------------------------------------------------------------------------------------------ data set


def test_dataset_is_deterministic_and_labelled():
    a, la = voxel_dataset(23, size=32, seed=3)
    b, lb = voxel_dataset(23, size=32, seed=3)
    assert a.shape == (23, 1, 32, 32, 32) and a.dtype == np.float32
    assert set(np.unique(a)) <= {0.0, 1.0}
    assert np.array_equal(a, b) and all(np.array_equal(la[k], lb[k]) for k in la)
    assert la["class"].dtype == np.int64 and la["size"].dtype == la["yaw"].dtype == np.float32
    assert la["position"].shape == (23, 3) and la["position"].dtype == np.float32
    assert list(la["class"]) == [i % len(SHAPE_CLASSES) for i in range(23)]  # classes cycle
    assert np.all((la["yaw"] >= 0) & (la["yaw"] < 2 * math.pi))
    assert np.all((la["size"] > 0.2) & (la["size"] <= 0.9))
    assert np.all((la["position"] > MARGIN) & (la["position"] < 32 - MARGIN))
    c, _ = voxel_dataset(23, size=32, seed=4)
    assert not np.array_equal(a, c)
    p, lp = voxel_dataset(5, size=32, seed=3, dtype=bool)  # a prefix of the longer one; bool on request
    assert p.dtype == bool and np.array_equal(p, a[:5].astype(bool)) and np.array_equal(lp["yaw"], la["yaw"][:5])
    sub, ls = voxel_dataset(4, size=32, seed=3, classes=("chair", "mug"))
    assert list(ls["class"]) == [SHAPE_CLASSES.index(c) for c in ("chair", "mug", "chair", "mug")]


def test_position_label_is_inside_the_shape_box():
    vol, f = shape("box", 2)
    d, h, w = (int(x) for x in f["position"])  # the centre of the (convex) box is inside it
    assert vol[d, h, w]
    occ = np.argwhere(vol)
    assert np.allclose(occ.mean(0) + 0.5, f["position"], atol=0.6)


def test_heldout_seed_is_refused_for_training():
    with pytest.raises(ValueError, match="held-out"):
        voxel_dataset(4, seed=VOXEL_HELDOUT_SEED)
    h, lh = voxel_heldout(4)
    a, _ = voxel_dataset(4, seed=0)
    assert h.shape == a.shape and not np.array_equal(h, a)
    assert np.array_equal(h, voxel_heldout(4)[0])


@pytest.mark.parametrize("size", [32, 64])
def test_every_class_is_non_empty_and_never_clipped(size):
    for i, cls in enumerate(SHAPE_CLASSES):
        for seed in range(3 if size == 32 else 1):
            vol, f = shape(cls, seed + 10 * i, size)
            assert vol.shape == (size,) * 3 and vol.dtype == bool
            assert vol.sum() > 0.002 * size ** 3, (cls, seed)
            assert margin_empty(vol), (cls, seed)  # the rotated shape fits: nothing touches the border
            assert f["class"] == cls and f["class_index"] == i
    big, f = shape("table", 1, 32, object_size=1.0, yaw=math.pi / 4)  # too big to fit: shrunk, not clipped
    assert margin_empty(big) and f["size"] < 1.0


def test_sphere_volume_matches_its_radius():
    for size in (32, 64):
        vol, f = shape("sphere", 0, size, object_size=0.8)
        r = f["params"]["radius"]
        assert r == pytest.approx(0.4 * size)
        assert vol.sum() == pytest.approx(4 / 3 * math.pi * r ** 3, rel=0.02)


def test_box_volume_matches_its_extents():
    for seed in range(3):
        vol, f = shape("box", seed, 32, object_size=0.6)
        assert vol.sum() == pytest.approx(np.prod(f["params"]["extents_xyz"]), rel=0.05)


def test_torus_has_a_hole_along_the_up_axis():
    for seed in range(3):
        vol, f = shape("torus", seed, 32)
        d, h, w = (int(x) for x in f["position"])
        assert not vol[d, :, w].any()  # the vertical column through the centre is empty
        ring = f["params"]["major_radius"]
        assert vol[d, h, int(f["position"][2] + ring)] or vol[d, h, int(f["position"][2] - ring)]


def test_up_is_the_h_axis():
    vol, _ = shape("cone", 0, 32, yaw=0.0)  # apex up: the layers shrink with h
    layers = vol.sum(axis=(0, 2))
    hs = np.nonzero(layers)[0]
    assert layers[hs[0]] > 4 * layers[hs[-1]]


def test_chair_has_a_back_above_its_seat_and_a_table_does_not():
    for seed in range(3):
        chair, fc = shape("chair", seed, 32)
        table, _ = shape("table", seed, 32)
        for vol, cls in ((chair, "chair"), (table, "table")):
            layers = vol.sum(axis=(0, 2))
            widest = int(np.argmax(layers))  # the seat / the top
            above = int(layers[widest + 2:].sum())
            if cls == "chair":
                assert above > 0.15 * vol.sum(), (seed, above)
            else:
                assert above == 0, (seed, above)
    chair, fc = shape("chair", 0, 32, yaw=0.0, jitter=False)  # at yaw 0 the back is on -z (low d)
    d, h, w = (int(x) for x in fc["position"])
    upper = chair[:, h + 3:, :]
    assert upper[:d].sum() > 10 * max(upper[d:].sum(), 1)


def test_yaw_turns_the_shape():
    a, _ = shape("chair", 0, 32, yaw=0.0, jitter=False)
    b, _ = shape("chair", 0, 32, yaw=math.pi / 2, jitter=False)
    assert not np.array_equal(a, b)
    assert abs(int(a.sum()) - int(b.sum())) < 0.05 * a.sum()


def test_make_shape_errors():
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="unknown shape class 'sofa'"):
        make_shape("sofa", rng)
    with pytest.raises(TypeError, match="numpy.random.Generator"):
        make_shape("box", 0)
    with pytest.raises(ValueError, match=r"grid side.*\[8, 256\]"):
        make_shape("box", rng, 4)
    with pytest.raises(ValueError, match="object_size"):
        make_shape("box", rng, object_size=1.5)
    with pytest.raises(ValueError, match="n must be an int >= 0"):
        voxel_dataset(-1)
    with pytest.raises(ValueError, match="dtype must be float32 or bool"):
        voxel_dataset(1, dtype=np.int64)


# ---------------------------------------------------------------------------------------------- meshes


@pytest.fixture(scope="module")
def sphere():
    vol, f = shape("sphere", 0, 32, object_size=0.8)
    return vol, f["params"]["radius"]


def test_marching_cubes_of_a_sphere_is_closed_and_the_right_size(sphere):
    vol, r = sphere
    v, f = voxels_to_mesh(vol)
    assert v.dtype == np.float32 and v.shape[1] == 3 and f.dtype == np.int64 and f.shape[1] == 3
    _, counts = edges(f)
    assert np.all(counts == 2)  # closed: every edge on exactly two faces
    assert len(v) - len(counts) + len(f) == 2  # a sphere's Euler characteristic
    from skimage.measure import mesh_surface_area

    assert signed_volume(v, f) == pytest.approx(4 / 3 * math.pi * r ** 3, rel=0.02)  # > 0: normals point out
    assert mesh_surface_area(v, f) == pytest.approx(4 * math.pi * r * r, rel=0.12)  # staircase: a few % more
    centre = np.argwhere(vol).mean(0)[::-1] + 0.5  # (d, h, w) -> (x, y, z), voxel centres at i + 0.5
    assert np.allclose((v.min(0) + v.max(0)) / 2, centre, atol=0.5)


def test_voxels_to_mesh_accepts_torch_and_batch_shapes(sphere):
    torch = pytest.importorskip("torch")
    vol, _ = sphere
    v, f = voxels_to_mesh(vol)
    for x in (torch.from_numpy(vol.astype(np.float32))[None, None], vol[None].astype(np.float64)):
        v2, f2 = voxels_to_mesh(x)
        assert np.array_equal(v, v2) and np.array_equal(f, f2)


def test_mesh_axes_are_x_w_y_h_z_d():
    vol = np.zeros((12, 16, 8), dtype=bool)  # D, H, W
    vol[2:5, 3:13, 2:6] = True
    v, _ = voxels_to_mesh(vol)
    lo, hi = v.min(0), v.max(0)
    # voxel i covers [i, i + 1): the surface lies on the faces of the occupied voxels
    assert np.allclose(lo, [2, 3, 2], atol=0.01) and np.allclose(hi, [6, 13, 5], atol=0.01)


def test_voxels_to_mesh_errors():
    with pytest.raises(ValueError, match=r"nothing is above the threshold 0.5 \(max value 0.3"):
        voxels_to_mesh(np.full((8, 8, 8), 0.3))
    with pytest.raises(ValueError, match=r"expected shape \(D, H, W\)"):
        voxels_to_mesh(np.zeros((2, 8, 8, 8)))
    with pytest.raises(TypeError, match="numpy array or torch tensor"):
        voxels_to_mesh([[[1.0]]])


def parse_obj(text: str) -> tuple[int, int, int]:
    lines = text.splitlines()
    return (sum(ln.startswith("v ") for ln in lines), sum(ln.startswith("vn ") for ln in lines),
            sum(ln.startswith("f ") for ln in lines))


def ply_header(data: bytes) -> dict:
    head = data[:data.index(b"end_header")].decode().splitlines()
    out = {"format": next(ln.split()[1] for ln in head if ln.startswith("format"))}
    for ln in head:
        if ln.startswith("element"):
            out[ln.split()[1]] = int(ln.split()[2])
    return out


def test_mesh_files_parse_back(sphere, tmp_path):
    v, f = voxels_to_mesh(sphere[0])
    p = write_mesh(tmp_path / "a" / "s.obj", v, f, normals=True)
    assert parse_obj(p.read_text()) == (len(v), len(v), len(f))
    assert parse_obj(write_mesh(tmp_path / "n.obj", v, f).read_text()) == (len(v), 0, len(f))
    for ascii in (False, True):
        q = write_mesh(tmp_path / f"s{int(ascii)}.ply", v, f, ascii=ascii)
        h = ply_header(q.read_bytes())
        assert h == {"format": "ascii" if ascii else "binary_little_endian", "vertex": len(v), "face": len(f)}
        v2, f2 = read_mesh(q)
        assert np.array_equal(f2, f) and np.allclose(v2, v, atol=1e-4)
    v3, f3 = read_mesh(p)
    assert np.array_equal(f3, f) and np.allclose(v3, v, atol=1e-4)
    assert not list(tmp_path.glob("**/.*.tmp"))  # atomic writes leave nothing behind
    with pytest.raises(ValueError, match=r"must end in \.obj, \.ply or \.stl, got suffix '\.off'"):
        write_mesh(tmp_path / "s.off", v, f)
    with pytest.raises(ValueError, match=r"faces: expected an \(F, 3\) integer array"):
        write_mesh(tmp_path / "s.obj", v, f.astype(np.float32))
    n = vertex_normals(v, f)
    centre = (v.min(0) + v.max(0)) / 2
    assert np.mean(np.einsum("ij,ij->i", n, v - centre) > 0) > 0.99  # outward


def cube_mesh(lo=(0, 0, 0), hi=(1, 1, 1)):
    lo, hi = np.array(lo, float), np.array(hi, float)
    c = np.array([[x, y, z] for x in (0, 1) for y in (0, 1) for z in (0, 1)], float)
    v = lo + c * (hi - lo)
    f = np.array([[0, 1, 3], [0, 3, 2], [4, 6, 7], [4, 7, 5], [0, 4, 5], [0, 5, 1], [2, 3, 7], [2, 7, 6],
                  [0, 2, 6], [0, 6, 4], [1, 5, 7], [1, 7, 3]])
    return v, f


def test_voxelize_mesh():
    v, f = cube_mesh()
    vol = voxelize_mesh(v, f, 16, surface=False)  # spans voxels 1..15 exactly: centres 1.5 .. 14.5 inside
    assert vol.sum() == 14 ** 3 and margin_empty(vol)
    v, f = cube_mesh(hi=(1, 1, 3))  # tall along z
    for up, axis in ((2, 1), (1, 0)):
        vol = voxelize_mesh(v, f, 16, up=up, surface=False)
        ext = [np.ptp(np.nonzero(vol.any(axis=tuple(a for a in range(3) if a != k)))[0]) for k in range(3)]
        assert int(np.argmax(ext)) == axis  # up=2: the long z edge becomes H
    sheet = (np.array([[0, 0, 0], [1, 0, 0], [0, 0, 1.0]]), np.array([[0, 1, 2]]))  # an open triangle
    assert not voxelize_mesh(*sheet, 16, surface=False).any()
    assert voxelize_mesh(*sheet, 16).sum() > 50  # surface voxels keep thin sheets
    with pytest.raises(ValueError, match="up must be 0, 1 or 2"):
        voxelize_mesh(v, f, up=3)


def test_voxelize_mesh_round_trip(sphere):
    vol, r = sphere
    v, f = voxels_to_mesh(vol)
    again = voxelize_mesh(v, f, 32, surface=False)  # rescaled: the longest bounding-box edge spans 30 voxels
    expected = signed_volume(v, f) * (30 / np.ptp(v, axis=0).max()) ** 3
    assert again.sum() == pytest.approx(expected, rel=0.02) and margin_empty(again)


def test_package_mesh_missing_package_names_it(monkeypatch):
    monkeypatch.setitem(PACKAGE_MESHES, "ghost", PackageMesh("ganzoo_no_such_pkg", "x.ply", 1))
    with pytest.raises(ImportError, match="pip install ganzoo_no_such_pkg"):
        load_package_mesh("ghost")
    with pytest.raises(ValueError, match="unknown package mesh 'teapot'"):
        load_package_mesh("teapot")
    with pytest.raises(ValueError, match=r"expected a \.ply or \.obj"):
        read_mesh("x.stl")


@pytest.mark.skipif(importlib.util.find_spec("pymeshfix") is None, reason="pymeshfix (ships the bunny) not installed")
def test_bunny_from_pymeshfix():
    v, f, up = load_package_mesh("bunny")
    assert v.shape == (50000, 3) and len(f) > 90000
    vol = vx.package_mesh_voxels("bunny", 32)
    assert 2000 < vol.sum() < 20000 and margin_empty(vol)


# -------------------------------------------------------------------------------------------- pictures


def test_render_views(tmp_path):
    vol, _ = shape("chair", 1, 32)
    t = time.perf_counter()
    img = render_views(vol)
    dt = time.perf_counter() - t
    assert img.shape == (256, 4 * 256, 3) and img.dtype == np.uint8
    assert dt < 3.0  # < 1 s on an idle core; slack for a loaded machine
    views = [img[:, k * 256:(k + 1) * 256] for k in range(4)]
    for view in views:
        fg = (view != 255).any(axis=2).mean()
        assert 0.03 < fg < 0.8
        assert np.all(view[0] == 255) and np.all(view[:, 0] == 255)  # framed with a margin
    assert not np.array_equal(views[0], views[2])  # an asymmetric shape looks different from the other side
    one = render_views(vol, views=((30.0, 25.0),), size=96)
    assert one.shape == (96, 96, 3)
    p = write_views(tmp_path / "v.png", vol)
    from PIL import Image

    assert np.array_equal(np.asarray(Image.open(p).convert("RGB")), img)


def test_render_views_up_is_up():
    vol, _ = shape("cone", 0, 32)  # apex up: the silhouette narrows towards the top of the picture
    img = render_views(vol, views=((0.0, 0.0),), size=128)
    rows = np.nonzero((img != 255).any(axis=2).any(axis=1))[0]
    width = (img != 255).any(axis=2).sum(axis=1)
    top, bottom = rows[0], rows[-1]
    assert width[top + 3] < 0.3 * width[bottom - 3]


def test_render_views_errors(tmp_path):
    vol, _ = shape("box", 0, 16)
    with pytest.raises(ValueError, match="nothing is above the threshold"):
        render_views(np.zeros((16, 16, 16)))
    with pytest.raises(ValueError, match=r"elevation must be in \(-90, 90\)"):
        render_views(vol, views=((0, 90),))
    with pytest.raises(TypeError, match=r"\(yaw, elevation\) pairs"):
        render_views(vol, views=(1, 2))
    with pytest.raises(ValueError, match="size must be an int"):
        render_views(vol, size=2)
    with pytest.raises(ValueError, match="expected a .png suffix"):
        write_views(tmp_path / "v.jpg", vol)
