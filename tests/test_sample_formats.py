"""``ganzoo sample``: the -o suffix picks the format per family (TGAN videos, 3D-GAN meshes / renders / arrays).

No trained TGAN or 3D-GAN weights exist: the tests sample tiny random models saved with save_pretrained, their
generator weights widened so the output varies (the default init gives a near-constant video / volume)."""
from __future__ import annotations

import struct

import numpy as np
import pytest
import torch
from PIL import Image, ImageSequence

import ganzoo
import ganzoo.factory
import ganzoo.utils
from ganzoo.cli import main
from ganzoo.data.voxels import read_mesh
from ganzoo.pipelines.samples import SAMPLE_SUFFIXES, plan_sample_output, write_samples
from ganzoo.pipelines.voxels import voxels_to_mesh, write_mesh
from ganzoo.utils import make_grid, to_uint8
from tests.test_cli_errors import assert_user_error


def widen(m, std: float):
    for p in m.generator.parameters():
        if p.dim() > 1:
            p.data.normal_(0, std)
    return m.eval()


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    d = tmp_path_factory.mktemp("models")
    torch.manual_seed(0)
    tgan = widen(ganzoo.create("tgan", temporal_widths=(8, 8, 8, 8), g_widths=(16, 8, 8, 8, 8), d_widths=(4, 4, 4, 4),
                               z_dim=8, frame_z_dim=8), 0.5)
    gan3d = widen(ganzoo.create("gan3d_32", volume_size=16, ngf=4, ndf=4, nz=8), 0.3)
    return {"tgan": (tgan, str(ganzoo.save_pretrained(tgan, d / "tgan"))),
            "gan3d": (gan3d, str(ganzoo.save_pretrained(gan3d, d / "gan3d")))}


def expected(model, n: int, seed: int = 0) -> torch.Tensor:
    """What ``ganzoo sample -n N --seed S`` draws."""
    with torch.no_grad():
        return model(*model.sample_inputs(n, generator=torch.Generator().manual_seed(seed)))


def sample(capsys, *argv) -> list[str]:
    assert main(["sample", *argv]) == 0
    return capsys.readouterr().out.split()


def gif_frames(path) -> list[np.ndarray]:
    with Image.open(path) as im:
        return [np.asarray(f.convert("RGB")) for f in ImageSequence.Iterator(im)]


# ------------------------------------------------------------------------------------------------ TGAN


def test_tgan_gif_grid_and_one_file_per_sample(models, tmp_path, capsys):
    model, path = models["tgan"]
    out = tmp_path / "grid.gif"
    assert sample(capsys, path, "-n", "4", "-o", str(out)) == [str(out)]
    frames = gif_frames(out)
    assert len(frames) == 16 and frames[0].shape == (2 * 64 + 2, 2 * 64 + 2, 3)  # 2 x 2 videos, 2 px gaps
    assert (frames[0][64:66] == 255).all()  # the white gap between the rows
    paths = sample(capsys, path, "-n", "2", "-o", str(tmp_path / "clip_{i:02d}.gif"))
    assert paths == [str(tmp_path / "clip_00.gif"), str(tmp_path / "clip_01.gif")]
    for p in paths:
        f = gif_frames(p)
        assert len(f) == 16 and f[0].shape == (64, 64, 3)
    assert not list(tmp_path.glob(".*.tmp"))


def test_tgan_mp4_decodes(models, tmp_path, capsys):
    av = pytest.importorskip("av")
    _, path = models["tgan"]
    out = tmp_path / "one.mp4"
    sample(capsys, path, "-n", "1", "-o", str(out), "--fps", "16")
    with av.open(str(out)) as c:
        frames = [f.to_ndarray(format="rgb24") for f in c.decode(video=0)]
        rate = c.streams.video[0].average_rate
    assert len(frames) == 16 and frames[0].shape == (256, 256, 3) and rate == 16  # 64 px x4


def test_tgan_png_is_a_grid_of_frames(models, tmp_path, capsys):
    model, path = models["tgan"]
    out = tmp_path / "frames.png"
    sample(capsys, path, "-n", "3", "-o", str(out), "--seed", "2")
    img = np.asarray(Image.open(out))
    assert img.shape == (3 * 66 + 2, 16 * 66 + 2, 3)  # rows = videos, columns = frames
    v = expected(model, 3, seed=2)  # (3, 3, 16, 64, 64)
    ref = to_uint8(make_grid(v.permute(0, 2, 1, 3, 4).reshape(48, 3, 64, 64), 16)).permute(1, 2, 0).numpy()
    assert np.array_equal(img, ref)
    assert not np.array_equal(img[2:66, 2:66], img[2:66, 68:132])  # frames differ


# ---------------------------------------------------------------------------------------------- 3D-GAN


def stl_triangles(path) -> np.ndarray:
    data = path.read_bytes()
    (n,) = struct.unpack("<I", data[80:84])
    assert len(data) == 84 + 50 * n
    rec = np.frombuffer(data[84:], dtype=[("n", "<f4", (3,)), ("v", "<f4", (3, 3)), ("a", "<u2")])
    return rec["v"]


def test_gan3d_meshes(models, tmp_path, capsys):
    model, path = models["gan3d"]
    vols = expected(model, 2)
    paths = sample(capsys, path, "-n", "2", "-o", str(tmp_path / "chair.obj"))
    assert paths == [str(tmp_path / "chair_000.obj"), str(tmp_path / "chair_001.obj")]
    for i, p in enumerate(paths):
        v, f = read_mesh(p)
        v0, f0 = voxels_to_mesh(vols[i, 0].numpy())
        assert len(f) == len(f0) > 0 and np.array_equal(f, f0) and np.allclose(v, v0, atol=1e-4)
    one = tmp_path / "one.ply"
    assert sample(capsys, path, "-n", "1", "-o", str(one)) == [str(one)]  # -n 1: the name itself
    assert len(read_mesh(one)[1]) == len(voxels_to_mesh(vols[0, 0].numpy())[1])
    stl = tmp_path / "one.stl"
    sample(capsys, path, "-n", "1", "-o", str(stl))
    v0, f0 = voxels_to_mesh(vols[0, 0].numpy())
    assert np.allclose(stl_triangles(stl), v0[f0], atol=1e-5)
    trimesh = pytest.importorskip("trimesh")
    for p in (paths[0], one, stl):
        mesh = trimesh.load(p, force="mesh")
        assert len(mesh.faces) == len(f0) > 0  # every file holds sample 0


def test_gan3d_npy_and_renders(models, tmp_path, capsys):
    model, path = models["gan3d"]
    npy = tmp_path / "occ.npy"
    sample(capsys, path, "-n", "3", "-o", str(npy), "--seed", "1")
    arr = np.load(npy)
    assert arr.shape == (3, 1, 16, 16, 16) and arr.dtype == np.float32
    assert np.array_equal(arr, expected(model, 3, seed=1).numpy())
    each = sample(capsys, path, "-n", "2", "-o", str(tmp_path / "occ_{i}.npy"), "--seed", "1")
    assert [np.load(p).shape for p in each] == [(1, 16, 16, 16)] * 2 and np.array_equal(np.load(each[1]), arr[1])
    png = tmp_path / "views.png"
    sample(capsys, path, "-n", "2", "-o", str(png))
    img = np.asarray(Image.open(png))
    assert img.shape == (2 * 130 + 2, 4 * 128 + 4, 3)  # rows = samples, columns = the 4 views of 128 px
    view = img[2:130, 2:130]
    assert (view == 255).all(axis=2).mean() > 0.05 and (view != 255).any(axis=2).mean() > 0.05  # shape on white


def test_empty_volume_writes_an_empty_mesh(tmp_path, caplog):
    plan = plan_sample_output(tmp_path / "e.obj", "gan3d", 1)
    with caplog.at_level("WARNING"):
        (p,) = write_samples(plan, torch.zeros(1, 1, 8, 8, 8), (0.0, 1.0))
    lines = p.read_text().splitlines()
    assert "no surface" in caplog.text and lines and not [ln for ln in lines if ln.startswith(("v ", "f "))]
    (q,) = write_samples(plan_sample_output(tmp_path / "e.png", "gan3d", 1), torch.zeros(1, 1, 8, 8, 8), (0.0, 1.0))
    assert (np.asarray(Image.open(q))[2:-2, 2:-2] == 255).all()  # blank renders


def test_stl_writer(tmp_path):
    vol = np.zeros((6, 6, 6), np.float32)
    vol[1:5, 2:4, 1:5] = 1
    v, f = voxels_to_mesh(vol)
    tri = stl_triangles(write_mesh(tmp_path / "box.stl", v, f))
    assert np.allclose(tri, v[f], atol=1e-6)
    rec = np.frombuffer((tmp_path / "box.stl").read_bytes()[84:], dtype=[("n", "<f4", (3,)), ("v", "<f4", (3, 3)),
                                                                        ("a", "<u2")])
    centre = v.mean(0)
    assert (np.einsum("ij,ij->i", rec["n"], tri.mean(1) - centre) > 0).mean() > 0.95  # normals point out


# ------------------------------------------------------------------------------------------------ errors


def test_suffix_errors_name_the_family_suffixes_before_loading(models, tmp_path, capsys, monkeypatch):
    def no_load(*a, **k):
        raise AssertionError("the model was loaded")

    monkeypatch.setattr(ganzoo, "load", no_load)
    monkeypatch.setattr(ganzoo.factory, "load", no_load)
    monkeypatch.chdir(tmp_path)
    tgan, gan3d = models["tgan"][1], models["gan3d"][1]
    assert_user_error(capsys, ["sample", gan3d, "-o", "x.gif"],
                      "'x.gif' has suffix '.gif'; 3D-GAN (volume) models write .obj, .ply, .stl, .npy, .png")
    assert_user_error(capsys, ["sample", tgan, "-o", "x.obj"],
                      "'x.obj' has suffix '.obj'; TGAN (video) models write .gif, .mp4, .png")
    assert_user_error(capsys, ["sample", "tgan", "-o", "x.npy"], "TGAN (video) models write .gif, .mp4")  # registry
    assert_user_error(capsys, ["sample", "gan3d", "-o", "x.mp4"], "3D-GAN (volume) models write .obj")
    assert_user_error(capsys, ["sample", "dcgan_32", "-o", "x.obj"], "expected one of .png, .jpg")  # unchanged
    assert_user_error(capsys, ["sample", tgan, "-o", "c_{n}.gif"], "may only use the field {i}")
    assert_user_error(capsys, ["sample", gan3d, "-n", "2", "-o", "c_{i:.0}.obj"], "format spec '.0'")
    assert_user_error(capsys, ["sample", tgan, "-o", "x.gif", "--fps", "0"], "--fps must be in (0, 100]")
    assert list(tmp_path.iterdir()) == []
    assert set(SAMPLE_SUFFIXES["image"]) < set(SAMPLE_SUFFIXES["video"])


def test_a_bare_weights_file_is_checked_once_loaded(models, tmp_path, capsys):
    """A weights file tells its family only when loaded: the suffix is checked against every family's first, then
    against the loaded model's."""
    from pathlib import Path

    weights = str(Path(models["tgan"][1]) / "model.safetensors")
    out_dir = tmp_path / "w"
    assert_user_error(capsys, ["sample", weights, "-o", str(out_dir / "x.zip")],
                      "expected one of .png, .jpg, .jpeg, .webp, .bmp, .tif, .tiff, .gif, .mp4, .obj")
    assert_user_error(capsys, ["sample", weights, "-o", str(out_dir / "x.obj")], "TGAN (video) models write")
    out = out_dir / "x.gif"
    assert sample(capsys, weights, "-n", "1", "-o", str(out)) == [str(out)] and len(gif_frames(out)) == 16
    assert SAMPLE_SUFFIXES["image"] == tuple(ganzoo.utils.IMAGE_FORMATS)
