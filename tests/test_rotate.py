"""ganzoo.pipelines.rotate and ``ganzoo rotate``: DR-GAN face rotation (frontalise, pose sweep, fusion).

No trained DR-GAN weights exist: the tests use narrow random models whose generator weights are rescaled so the
output varies with the input and the pose (the default N(0, 0.02) init gives a near-constant grey face)."""
from __future__ import annotations

import re

import numpy as np
import pytest
import torch
from PIL import Image, ImageSequence

import ganzoo
import ganzoo.factory
from ganzoo.cli import main
from ganzoo.pipelines import Rotator, pose_yaws, rotate
from ganzoo.pipelines.rotation import (NotADRGANModelError, draw_noise, face_tensor, pose_classes, prepare_face,
                                       tile_poses)
from ganzoo.utils import to_uint8

WIDTHS = (4, 4, 4, 4, 8, 8, 8, 8, 8, 8, 8, 8, 8, 16)
HEADS_YAWS = (-60.0, -45.0, -30.0, -15.0, 0.0, 15.0, 30.0, 45.0, 60.0)


def lively(m, gain: float = 1.4):
    """Generator weights ~ N(0, gain^2 / fan_in): outputs that vary with the face and the pose."""
    for mod in m.generator.modules():
        if isinstance(mod, (torch.nn.Conv2d, torch.nn.ConvTranspose2d, torch.nn.Linear)):
            w = mod.weight
            fan = w.shape[0] * w.shape[2] * w.shape[3] if isinstance(mod, torch.nn.ConvTranspose2d) else w[0].numel()
            w.data.normal_(0, gain / fan ** 0.5)
    return m.eval()


@pytest.fixture(scope="module")
def models():
    torch.manual_seed(0)
    single = lively(ganzoo.create("drgan", widths=WIDTHS, num_identities=4, num_poses=9))
    multi = lively(ganzoo.create("drgan_multi", widths=WIDTHS, num_identities=4, num_poses=9))
    return single, multi


@pytest.fixture(scope="module")
def saved(models, tmp_path_factory):
    d = tmp_path_factory.mktemp("drgan")
    return ganzoo.save_pretrained(models[0], d / "single"), ganzoo.save_pretrained(models[1], d / "multi")


@pytest.fixture(scope="module")
def faces(tmp_path_factory):
    """Three faces of odd sizes (and one 96x96) as PNG files, plus their arrays."""
    d = tmp_path_factory.mktemp("faces")
    rng = np.random.default_rng(0)
    arrs = [rng.integers(0, 256, shape, dtype=np.uint8) for shape in ((120, 150, 3), (96, 96, 3), (200, 101, 3))]
    paths = []
    for i, a in enumerate(arrs):
        paths.append(d / f"face{i}.png")
        Image.fromarray(a).save(paths[-1])
    return paths, arrs


def direct(model, x, classes, z):
    """The model called directly: encode each face, decode at each class with z; uint8 (N, P, 96, 96, C)."""
    with torch.no_grad():
        f = model.encode(x)
        p = len(classes)
        y = model.generate(f.repeat_interleave(p, 0), torch.tensor(classes).repeat(len(x)), z.expand(len(x) * p, -1))
    return y.reshape(len(x), p, *y.shape[1:])


def as_uint8(y):
    return to_uint8(y.reshape(-1, *y.shape[2:])).permute(0, 2, 3, 1).reshape(*y.shape[:2], 96, 96, -1).numpy()


# ----------------------------------------------------------------------------------------------- poses


def test_pose_grid(models):
    single, _ = models
    assert pose_yaws(single) == HEADS_YAWS
    assert pose_yaws({"num_poses": 13}) == tuple(15.0 * (k - 6) for k in range(13))
    assert pose_yaws(ganzoo.model_info("drgan.multipie").config)[0] == -90.0  # the Multi-PIE tags: -90 .. 90
    assert pose_yaws({"num_poses": 3, "yaws": [-20, 0, 20]}) == (-20.0, 0.0, 20.0)  # config.yaws wins
    assert pose_classes(single, 0) == [4] and pose_classes(single, [-60, 60.0, 15]) == [0, 8, 5]
    assert pose_classes({"num_poses": 3, "yaws": [20, -20, 0]}, "sweep") == [1, 2, 0]  # ascending yaw
    with pytest.raises(ValueError, match=re.escape("pose 7 degrees: not a pose of this model; its 9 pose classes "
                                                   "are at -60, -45, -30, -15, 0, 15, 30, 45, 60 degrees")):
        pose_classes(single, 7)
    with pytest.raises(ValueError, match="pose 75 degrees"):
        pose_classes(single, 75)  # on the 15-degree grid, but outside this model's +-60
    with pytest.raises(TypeError, match="yaws in degrees"):
        pose_classes(single, True)
    with pytest.raises(ValueError, match="expected a yaw in degrees or 'sweep'"):
        pose_classes(single, "front")


def test_prepare_face_resizes_and_centre_crops():
    rng = np.random.default_rng(1)
    a = rng.integers(0, 256, (120, 150, 3), dtype=np.uint8)
    out = prepare_face(a)
    ref = Image.fromarray(a).resize((120, 96), Image.Resampling.BICUBIC).crop((12, 0, 108, 96))
    assert out.shape == (96, 96, 3) and out.dtype == np.uint8 and np.array_equal(out, np.asarray(ref))
    square = rng.integers(0, 256, (96, 96, 3), dtype=np.uint8)
    assert np.array_equal(prepare_face(square), square)  # taken as it is
    rgba = np.dstack([square, np.zeros((96, 96), np.uint8)])
    assert np.array_equal(prepare_face(rgba), square)  # alpha dropped
    grey = square[:, :, 0]
    assert np.array_equal(prepare_face(grey), np.repeat(grey[:, :, None], 3, 2))
    assert np.array_equal(prepare_face(square.astype(np.float32) / 255), square)
    assert prepare_face(square, 1).shape == (96, 96, 1)
    x = face_tensor([square, a])
    assert x.shape == (2, 3, 96, 96) and torch.equal(x[0], torch.from_numpy(square).permute(2, 0, 1) / 127.5 - 1)
    with pytest.raises(TypeError, match="uint8, uint16 or float"):
        prepare_face(square.astype(np.int32))


# --------------------------------------------------------------------------------------------- library


def test_rotate_equals_the_model(models, faces):
    single, _ = models
    _, arrs = faces
    z = draw_noise(single.config.nz, 5)
    assert torch.equal(z, torch.rand(1, single.config.nz, generator=torch.Generator().manual_seed(5)) * 2 - 1)
    out = rotate(arrs[0], [-30, 0], model=single, seed=5)
    assert out.shape == (1, 2, 96, 96, 3) and out.dtype == np.uint8
    y = direct(single, face_tensor(arrs[0]), [2, 4], z)
    assert np.abs(out.astype(int) - as_uint8(y)).max() <= 1
    r = Rotator(single, device="cpu")
    f = r.features(face_tensor(arrs[0]))
    torch.testing.assert_close(r.render(f, [2, 4], z), y, rtol=0, atol=1e-5)
    assert not np.array_equal(out[0, 0], out[0, 1])  # the pose changes the face
    front = rotate(arrs[0], 0, model=single, seed=5)
    assert np.abs(front.astype(int) - out[:, 1:]).max() <= 1
    assert not np.array_equal(rotate(arrs[0], 0, model=single, seed=6), front)  # the noise changes it too
    assert np.array_equal(rotate(arrs[0], 0, model=single, z=z.numpy()[0]), front)  # z given = z drawn


def test_sweep_has_every_pose_in_yaw_order(models, faces):
    single, _ = models
    _, arrs = faces
    sweep = rotate(arrs[1], "sweep", model=single, seed=1)
    assert sweep.shape == (1, 9, 96, 96, 3)
    for k in (0, 4, 8):
        assert np.abs(sweep[0, k].astype(int) - rotate(arrs[1], HEADS_YAWS[k], model=single, seed=1)[0, 0]).max() <= 1
    assert len({sweep[0, k].tobytes() for k in range(9)}) == 9


def test_fusion_equals_fuse_then_generate(models, faces):
    single, multi = models
    _, arrs = faces
    z = draw_noise(multi.config.nz, 0)
    x = face_tensor(arrs)
    out = rotate(arrs, 0, model=multi)  # drgan_multi fuses by default
    assert out.shape == (1, 1, 96, 96, 3)
    with torch.no_grad():
        y = multi.generate(multi.fuse(x[None]), torch.tensor([4]), z)
    assert np.abs(out[0, 0].astype(int) - as_uint8(y[None])[0, 0]).max() <= 1
    apart = rotate(arrs, 0, model=multi, fuse=False)  # each face on its own
    assert apart.shape == (3, 1, 96, 96, 3)
    assert np.abs(apart.astype(int) - as_uint8(direct(multi, x, [4], z))).max() <= 1
    each = rotate(arrs[:2], [0, 30], model=single)  # the single-image model: one row per face
    assert each.shape == (2, 2, 96, 96, 3)
    assert np.abs(each[1].astype(int) - rotate(arrs[1], [0, 30], model=single)[0]).max() <= 1
    mean = rotate(arrs[:2], 0, model=single, fuse=True)  # forced: the average of the two features
    with torch.no_grad():
        ym = single.generate(single.encode(x[:2]).mean(0, keepdim=True), torch.tensor([4]), z)
    assert np.abs(mean[0, 0].astype(int) - as_uint8(ym[None])[0, 0]).max() <= 1


def test_library_errors(models, tmp_path):
    single, _ = models
    with pytest.raises(NotADRGANModelError, match="is not a DR-GAN model"):
        Rotator(ganzoo.create("dcgan_32", ngf=8, ndf=8))
    with pytest.raises(FileNotFoundError, match="no such file"):
        rotate(tmp_path / "missing.png", 0, model=single)
    with pytest.raises(ValueError, match=r"z: expected 50 values"):
        rotate(np.zeros((96, 96, 3), np.uint8), 0, model=single, z=[0.0] * 3)


def test_tile_poses_layout():
    a = np.zeros((2, 3, 4, 5, 1), np.uint8)
    a[1, 2] = 7
    t = tile_poses(a)
    assert t.shape == (2 * 4 + 2, 3 * 5 + 2 * 2, 1) and (t[6:, 14:] == 7).all() and t[4, 0, 0] == 255


# ------------------------------------------------------------------------------------------------- CLI


def tiles(path, rows: int, cols: int) -> np.ndarray:
    img = np.asarray(Image.open(path).convert("RGB"))
    assert img.shape == (rows * 96 + (rows - 1) * 2, cols * 96 + (cols - 1) * 2, 3)
    return np.stack([np.stack([img[i * 98:i * 98 + 96, j * 98:j * 98 + 96] for j in range(cols)])
                     for i in range(rows)])


def test_cli_frontalise_and_sweep(models, saved, faces, tmp_path, capsys):
    single, _ = models
    paths, arrs = faces
    out = tmp_path / "front.png"
    assert main(["rotate", str(paths[0]), "-o", str(out), "--model", str(saved[0]), "--device", "cpu",
                 "--seed", "3"]) == 0
    assert capsys.readouterr().out.strip() == str(out)
    assert np.array_equal(tiles(out, 1, 1), rotate(arrs[0], 0, model=single, seed=3))
    strip = tmp_path / "sweep.png"
    assert main(["rotate", str(paths[0]), "--pose", "sweep", "-o", str(strip), "--model", str(saved[0])]) == 0
    assert np.array_equal(tiles(strip, 1, 9), rotate(arrs[0], "sweep", model=single))
    gif = tmp_path / "sweep.gif"
    assert main(["rotate", str(paths[0]), "--pose", "sweep", "-o", str(gif), "--model", str(saved[0])]) == 0
    with Image.open(gif) as im:
        assert im.size == (96, 96) and sum(1 for _ in ImageSequence.Iterator(im)) == 9
    three = tmp_path / "three.png"
    assert main(["rotate", str(paths[2]), "--pose=-30,0,30", "-o", str(three), "--model", str(saved[0])]) == 0
    assert np.array_equal(tiles(three, 1, 3), rotate(arrs[2], [-30, 0, 30], model=single))
    assert not list(tmp_path.glob(".*.tmp"))


def test_cli_several_images(models, saved, faces, tmp_path):
    single, multi = models
    paths, arrs = faces
    fused = tmp_path / "fused.png"
    assert main(["rotate", *map(str, paths), "-o", str(fused), "--model", str(saved[1])]) == 0
    assert np.array_equal(tiles(fused, 1, 1), rotate(arrs, 0, model=multi))
    rows = tmp_path / "rows.png"
    assert main(["rotate", *map(str, paths[:2]), "--pose", "15,45", "-o", str(rows), "--model", str(saved[0])]) == 0
    assert np.array_equal(tiles(rows, 2, 2), rotate(arrs[:2], [15, 45], model=single))
    gif = tmp_path / "rows.gif"
    assert main(["rotate", *map(str, paths[:2]), "--pose", "sweep", "-o", str(gif), "--model", str(saved[0])]) == 0
    with Image.open(gif) as im:
        assert im.size == (2 * 96 + 2, 96) and im.n_frames == 9


def test_cli_errors_before_the_model_loads(saved, faces, tmp_path, capsys, monkeypatch):
    from tests.test_cli_errors import assert_user_error

    paths, _ = faces
    face = str(paths[0])

    def no_load(*a, **k):
        raise AssertionError("the model was loaded")

    monkeypatch.setattr(ganzoo.factory, "load", no_load)
    monkeypatch.chdir(tmp_path)
    model = ["--model", str(saved[0])]
    assert_user_error(capsys, ["rotate", face, "--pose", "20", "-o", "x.png", *model],
                      "pose 20 degrees: not a pose of this model; its 9 pose classes are at -60, -45")
    assert_user_error(capsys, ["rotate", face, "-o", "x.png", "--pose", "100"], "its 9 pose classes are at -60")  # drgan.heads
    assert_user_error(capsys, ["rotate", face, "-o", "x.png", "--model", "dcgan"],
                      "dcgan is not a DR-GAN model (family 'dcgan')")
    assert_user_error(capsys, ["rotate", "nobody.png", "-o", "x.png", *model], "nobody.png: no such file")
    (tmp_path / "bad.png").write_bytes(b"not a png")
    assert_user_error(capsys, ["rotate", "bad.png", "-o", "x.png", *model], "bad.png: cannot read as an image")
    assert_user_error(capsys, ["rotate", face, "-o", "x.png", "--device", "bogus", *model], "unknown device 'bogus'")
    assert_user_error(capsys, ["rotate", face, "-o", "x.obj", *model],
                      "expected one of .png, .jpg, .jpeg, .webp, .gif, .mp4")
    assert_user_error(capsys, ["rotate", face, "-o", "x.png", "--pose", "left", *model],
                      "--pose 'left': expected yaws in degrees")
    (tmp_path / "taken.png").write_bytes(b"x")
    assert_user_error(capsys, ["rotate", face, "-o", "taken.png", *model], "exists (pass --overwrite")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.png", "taken.png"]



def test_imports_stay_light():
    """``ganzoo`` builds the rotate parser on every run: rotation_cli imports no torch, numpy or Pillow; and the
    implementation module (``rotation``) never hides the package's ``rotate`` function."""
    import subprocess
    import sys

    code = ("import sys, ganzoo.pipelines, ganzoo.pipelines.rotation_cli; "
            "print(sorted(m for m in ('torch', 'numpy', 'PIL') if m in sys.modules)); "
            "import ganzoo.pipelines.rotation; from ganzoo.pipelines import rotate; print(callable(rotate))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["[]", "True"]
