"""ganzoo.pipelines.upscale and `ganzoo upscale`: tiling and seam blending, receptive field, type / alpha / grey /
16-bit round trips, image I/O, the onnxruntime backend and the CLI. Tiny random models and small images only."""
from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image, ImageOps

import ganzoo
from ganzoo.cli import main as ganzoo_main
from ganzoo.pipelines import Upscaler, receptive_radius, tiled_apply, upscale
from ganzoo.pipelines.images import apply_orientation, encode_png16, read_image, write_image
from ganzoo.pipelines.tiling import axis_weights, plan_axis
from ganzoo.pipelines.upscaling import LUMA, _export_key

TINY = dict(num_blocks=1, width=8, head_kernel=3, output_range=(0.0, 1.0), output_act="tanh")


@pytest.fixture(autouse=True)
def _no_user_onnx_cache(tmp_path_factory, monkeypatch):
    """No test writes exported graphs into the user's ~/.cache."""
    monkeypatch.setenv("GANZOO_ONNX_CACHE", str(tmp_path_factory.mktemp("onnx-cache")))


def test_imports_stay_light():
    """The CLI builds every subcommand's parser on each run: ganzoo.pipelines(.cli) must not pull in torch,
    numpy or Pillow; and importing the implementation module never hides the package's upscale function."""
    import subprocess
    import sys

    code = ("import sys, ganzoo.pipelines, ganzoo.pipelines.cli; "
            "print(sorted(m for m in ('torch', 'numpy', 'PIL', 'onnx', 'onnxruntime') if m in sys.modules)); "
            "import ganzoo.pipelines.upscaling; from ganzoo.pipelines import upscale; print(callable(upscale))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert out == ["[]", "True"]


def tiny_sr(seed: int = 0, **kw) -> ganzoo.models.GANModel:
    """A small random SRResNet x4 (receptive radius 6) whose output is mostly unsaturated: the tail conv is rescaled
    so its pre-activation has unit std on uniform inputs (a random net otherwise saturates the tanh)."""
    torch.manual_seed(seed)
    m = ganzoo.create("srresnet", **{**TINY, **kw}).eval()
    feat = {}
    h = m.generator.tail.register_forward_hook(lambda mod, i, o: feat.__setitem__("t", o))
    with torch.no_grad():
        m(torch.rand(2, m.config.in_channels, 24, 24, generator=torch.Generator().manual_seed(1)))
        h.remove()
        m.generator.tail.weight /= feat["t"].std()
        m.generator.tail.bias.zero_()
    return m


@pytest.fixture(scope="module")
def model():
    return tiny_sr()


@pytest.fixture(scope="module")
def photo() -> np.ndarray:
    """A real photo crop (skimage astronaut, 72x88 from (100, 150)), uint8 RGB."""
    from skimage import data

    return np.ascontiguousarray(data.astronaut()[100:172, 150:238])


def rand_img(h, w, c=3, dtype=np.uint8, seed=0):
    r = np.random.default_rng(seed).random((h, w, c) if c else (h, w))
    if dtype == np.uint8:
        return (r * 255).round().astype(np.uint8)
    if dtype == np.uint16:
        return (r * 65535).round().astype(np.uint16)
    return r.astype(dtype)


def run_model(model, x: np.ndarray) -> np.ndarray:
    """Reference: the whole (H, W, 3) float image through the generator at once, [0, 1] in and out."""
    with torch.no_grad():
        y = model.generator(torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32)).permute(2, 0, 1)[None])
    return y[0].permute(1, 2, 0).clamp(0, 1).numpy()


# --------------------------------------------------------------------------------------------- receptive field


@pytest.mark.parametrize("kw", [dict(scale=4, num_blocks=16, head_kernel=9),  # the paper's x4 layout (width 4)
                                dict(scale=4, num_blocks=2, head_kernel=3),
                                dict(scale=2, num_blocks=1, head_kernel=5),
                                dict(scale=8, num_blocks=1, head_kernel=3)])
def test_receptive_radius_matches_gradient_support(kw):
    name = {2: "srresnet_x2", 4: "srresnet", 8: "srresnet_x8"}[kw.pop("scale")]
    torch.manual_seed(0)
    m = ganzoo.create(name, width=4, **kw).eval()
    s = m.config.scale
    r = receptive_radius(m.config)
    n = 2 * r + 5
    c = n // 2
    # batch element b asks for the output pixel of phase b inside LR pixel (c, c); one backward gives them all
    x = torch.rand(s, 3, n, n, requires_grad=True)
    feats = {}
    m.generator.tail.register_forward_hook(lambda mod, i, o: feats.__setitem__("t", o))
    m.generator(x)
    t = feats["t"]
    (g,) = torch.autograd.grad(sum(t[b, :, c * s + b, c * s + b].sum() for b in range(s)), x)
    worst = 0
    for b in range(s):
        rows = torch.nonzero(g[b].abs().sum(dim=(0, 2)))[:, 0]
        cols = torch.nonzero(g[b].abs().sum(dim=(0, 1)))[:, 0]
        worst = max(worst, c - int(rows.min()), int(rows.max()) - c, c - int(cols.min()), int(cols.max()) - c)
    assert 0 < int(rows.min()) and int(rows.max()) < n - 1  # the support is inside the input: not clipped
    assert worst == r
    if (name, kw["num_blocks"], kw["head_kernel"]) == ("srresnet", 16, 9):
        assert r == 40  # the value the README states for SRResNet x4


# ------------------------------------------------------------------------------------------------ tile geometry


@pytest.mark.parametrize("size,tile,overlap", [(100, 32, 8), (33, 32, 8), (32, 32, 8), (500, 64, 0), (97, 40, 39),
                                               (10, 64, 8), (1000, 256, 32)])
def test_plan_axis_covers_with_at_least_the_overlap(size, tile, overlap):
    length, starts = plan_axis(size, tile, overlap)
    assert length == min(tile, size)
    assert starts[0] == 0 and starts[-1] + length == size
    assert all(b - a >= 1 for a, b in zip(starts, starts[1:]))
    assert all(a + length - b >= overlap for a, b in zip(starts, starts[1:]))
    k = len(starts)
    assert k == 1 or k == -(-(size - overlap) // (tile - overlap))  # the fewest tiles that give the overlap


def test_plan_axis_rejects_bad_arguments():
    with pytest.raises(ValueError, match="overlap must be smaller than the tile, got overlap 32 >= tile 32"):
        plan_axis(100, 32, 32)
    with pytest.raises(ValueError, match="overlap must be an int >= 0"):
        plan_axis(100, 32, -1)
    assert plan_axis(100, None, 8) == (100, [0]) and plan_axis(100, 0, 8) == (100, [0])


@pytest.mark.parametrize("blend", [0.0, 0.25, 0.5, 1.0])
def test_axis_weights_partition_unity_and_ramp_shape(blend):
    length, starts = plan_axis(150, 40, 12)
    ws = axis_weights(150, length, starts, scale=3, blend=blend)
    total = np.zeros(450)
    for s, w in zip(starts, ws):
        total[s * 3:(s + length) * 3] += w
    np.testing.assert_allclose(total, 1.0, atol=1e-6)
    # image borders get no ramp; each tile is 0 on the first quarter of the overlap by its cut edge (blend 0.5)
    assert ws[0][0] == 1.0 and ws[-1][-1] == 1.0
    if blend == 0.5:
        ov = (starts[0] + length - starts[1]) * 3
        assert np.all(ws[1][:round(ov / 4)] == 0) and ws[1][round(ov / 4)] > 0
    with pytest.raises(ValueError, match="blend must be in"):
        axis_weights(150, length, starts, blend=1.5)


@pytest.mark.parametrize("tile,overlap,batch", [(16, 4, 1), (16, 4, 3), (24, 0, 2), (7, 3, 5), (None, 0, 1)])
def test_tiled_apply_is_exact_for_a_pointwise_network_and_streams_rows(tile, overlap, batch):
    """Nearest-neighbour x3 has no spatial context: any tiling must reproduce it (up to float rounding of the
    normalised weights), and the sink sees each output row once, in order, in bounded bands."""
    img = rand_img(45, 61, 2, np.float32, seed=3)
    calls = []

    def fn(x):
        calls.append(x.shape[0])
        return x.repeat_interleave(3, dim=2).repeat_interleave(3, dim=3) * 2.0

    out = np.full((135, 183, 2), np.nan, np.float32)
    bands = []

    def sink(y0, y1, rows):
        assert rows.shape == (y1 - y0, 183, 2)
        bands.append((y0, y1))
        out[y0:y1] = rows

    plan = tiled_apply(img, fn, sink, scale=3, out_channels=2, tile=tile, overlap=overlap, batch_size=batch,
                       progress=False)
    np.testing.assert_allclose(out, np.repeat(np.repeat(img, 3, 0), 3, 1) * 2.0, atol=1e-6)
    assert bands[0][0] == 0 and bands[-1][1] == 135 and all(a[1] == b[0] for a, b in zip(bands, bands[1:]))
    assert sum(calls) == len(plan) and max(calls) <= batch
    if tile:
        assert max(b - a for a, b in bands) <= 3 * (2 * tile)  # a band is about a tile row, never the image


def test_tiled_apply_checks_the_tile_function_output():
    with pytest.raises(ValueError, match=r"tile function returned shape \(1, 3, 8, 8\), expected \(1, 3, 16, 16\)"):
        tiled_apply(np.zeros((8, 8, 3), np.float32), lambda x: x, lambda *a: None, scale=2, out_channels=3,
                    tile=None, progress=False)


# ------------------------------------------------------------------------------------- tiled vs untiled (model)


def _levels(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.abs(a.astype(np.float64) - b.astype(np.float64)).max())


@pytest.mark.parametrize("source", ["random", "photo"])
def test_tiled_equals_untiled_once_the_overlap_covers_the_receptive_field(model, photo, source):
    img = rand_img(72, 88, seed=5) if source == "random" else photo
    r = receptive_radius(model.config)
    assert r == 6
    ref = upscale(img, model, tile=None)
    assert ref.std() > 20 and ((ref == 0) | (ref == 255)).mean() < 0.1  # a varied, mostly unsaturated output
    ref_f = upscale(img.astype(np.float32) / 255, model, tile=None)
    # overlap 4R: every blended contribution has >= R pixels of real context on each cut side -> exact
    tiled_f = upscale(img.astype(np.float32) / 255, model, tile=40, tile_overlap=4 * r, tile_batch=3)
    assert _levels(tiled_f, ref_f) < 1e-5
    tiled = upscale(img, model, tile=40, tile_overlap=4 * r)
    assert _levels(tiled, ref) <= 1.0  # within 1/255 (uint8 rounding of equal floats can differ by one level)
    # a small overlap is NOT equal: zero padding at the cut edges shows through
    small = upscale(img, model, tile=40, tile_overlap=2)
    assert _levels(small, ref) > 1.0
    # and the error falls as the overlap grows
    errs = [_levels(upscale(img.astype(np.float32) / 255, model, tile=40, tile_overlap=ov), ref_f)
            for ov in (2, 12)]
    assert errs[0] > errs[1] > 1e-5


def test_untiled_matches_the_model_itself(model, photo):
    x = photo.astype(np.float32) / 255
    np.testing.assert_allclose(upscale(x, model, tile=None), run_model(model, x), atol=1e-6)


# --------------------------------------------------------------------------------------------- type round trips


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float16, np.float32, np.float64])
@pytest.mark.parametrize("channels", [0, 1, 2, 3, 4])
def test_numpy_round_trip_keeps_dtype_layout_and_scales_size(model, dtype, channels):
    img = rand_img(9, 13, channels, dtype, seed=channels)
    out = upscale(img, model, tile=None)
    assert out.dtype == dtype
    assert out.shape == (36, 52) + img.shape[2:]
    if dtype in (np.float16, np.float32, np.float64):
        assert 0.0 <= out.min() and out.max() <= 1.0


def test_rgb_values_follow_the_model_and_dtypes_agree(model):
    img8 = rand_img(12, 10, 3, np.uint8, seed=2)
    ref = run_model(model, img8 / 255.0)
    np.testing.assert_array_equal(upscale(img8, model, tile=None), np.rint(ref * 255).astype(np.uint8))
    img16 = img8.astype(np.uint16) * 257  # the same picture at 16 bits
    np.testing.assert_array_equal(upscale(img16, model, tile=None), np.rint(ref * 65535).astype(np.uint16))


def test_greyscale_is_processed_as_rgb_and_returned_as_luma(model):
    g = rand_img(11, 14, 0, np.uint8, seed=4)
    rgb = run_model(model, np.repeat(g[:, :, None], 3, axis=2) / 255.0)
    luma = rgb @ np.array(LUMA)
    out = upscale(g, model, tile=None)
    assert out.shape == (44, 56) and out.dtype == np.uint8
    assert _levels(out, np.rint(luma * 255)) <= 1.0
    out1 = upscale(g[:, :, None], model, tile=None)
    np.testing.assert_array_equal(out1[:, :, 0], out)


def test_alpha_is_upscaled_bicubically_and_colour_is_unchanged(model):
    rgba = rand_img(10, 12, 4, np.uint8, seed=6)
    out = upscale(rgba, model, tile=None)
    np.testing.assert_array_equal(out[..., :3], upscale(np.ascontiguousarray(rgba[..., :3]), model, tile=None))
    a = torch.from_numpy(rgba[..., 3].astype(np.float32) / 255)[None, None]
    ref = F.interpolate(a, scale_factor=4, mode="bicubic", align_corners=False).clamp(0, 1)[0, 0].numpy()
    np.testing.assert_array_equal(out[..., 3], np.rint(ref * 255).astype(np.uint8))
    la = upscale(rgba[..., [0, 3]], model, tile=None)
    np.testing.assert_array_equal(la[..., 1], out[..., 3])
    # tiled, the alpha channel is blended like the colour (bicubic needs 2 pixels of context)
    big = rand_img(50, 64, 4, np.uint8, seed=7)
    assert _levels(upscale(big, model, tile=32, tile_overlap=24), upscale(big, model, tile=None)) <= 1.0


@pytest.mark.parametrize("mode", ["RGB", "RGBA", "L", "LA", "I;16", "I", "F", "P", "1", "CMYK"])
def test_pil_round_trip_and_numpy_agree(model, mode):
    base = Image.fromarray(rand_img(9, 11, 3, np.uint8, seed=8))
    if mode == "I;16":
        im = Image.fromarray(rand_img(9, 11, 0, np.uint16, seed=9))
    elif mode == "I":
        im = Image.fromarray(rand_img(9, 11, 0, np.uint16, seed=9).astype(np.int32))
    elif mode == "F":
        im = Image.fromarray(rand_img(9, 11, 0, np.float32, seed=9))
    elif mode == "RGBA":
        im = Image.fromarray(rand_img(9, 11, 4, np.uint8, seed=9))
    else:
        im = base.convert(mode)
    im.info["icc_profile"] = b"fake-icc"
    out = upscale(im, model, tile=None)
    expected_mode = {"P": "RGB", "1": "L", "CMYK": "RGB"}.get(mode, mode)
    assert isinstance(out, Image.Image) and out.mode == expected_mode and out.size == (44, 36)
    assert out.info.get("icc_profile") == b"fake-icc"
    if mode in ("RGB", "RGBA", "L", "LA", "I;16", "F"):
        np.testing.assert_array_equal(np.asarray(out), upscale(np.asarray(im), model, tile=None))


def test_bad_images_and_arguments_raise_clear_errors(model):
    with pytest.raises(ValueError, match=r"float arrays must hold finite values in \[0, 1\], got min 0, max 2"):
        upscale(np.array([[0.0, 2.0]], np.float32), model)
    with pytest.raises(TypeError, match="expected uint8, uint16 or float .* got dtype int64"):
        upscale(np.zeros((4, 4, 3), np.int64), model)
    with pytest.raises(ValueError, match=r"shape \(H, W\) or \(H, W, C\) with C in 1..4 .* got shape \(4, 4, 5\)"):
        upscale(np.zeros((4, 4, 5), np.uint8), model)
    with pytest.raises(TypeError, match="expected a PIL Image or a numpy array, got list"):
        upscale([[0]], model)
    with pytest.raises(ValueError, match="tile_overlap must be smaller than tile, got tile_overlap=32 >= tile=16"):
        upscale(np.zeros((4, 4, 3), np.uint8), model, tile=16, tile_overlap=32)
    with pytest.raises(ValueError, match="tile_batch must be an int >= 1, got 0"):
        upscale(np.zeros((4, 4, 3), np.uint8), model, tile_batch=0)
    with pytest.raises(ValueError, match="backend must be one of"):
        upscale(np.zeros((4, 4, 3), np.uint8), model, backend="tensorrt")
    with pytest.raises(ValueError, match="dtype must be one of"):
        upscale(np.zeros((4, 4, 3), np.uint8), model, dtype="int8")


def test_non_sr_model_is_refused():
    with pytest.raises(ganzoo.NotASuperResolutionModelError, match="dcgan.mnist is not a super-resolution model: .* integer 'scale'"):
        Upscaler(ganzoo.create("dcgan.mnist"))
    with pytest.raises(TypeError, match="model: expected a registry name, a path or a ganzoo GANModel, got int"):
        Upscaler(3)


def test_reduced_precision_rules_and_bfloat16(model):
    img = rand_img(10, 10, 3, np.float32, seed=10)
    ref = upscale(img, model, tile=None)
    bf = upscale(img, model, tile=None, dtype="bfloat16")
    assert bf.dtype == np.float32 and 0 < np.abs(bf - ref).max() < 0.05  # bf16 really ran, and stays close
    import dataclasses

    tagged = tiny_sr()  # a tag whose metadata declares no half precision
    tagged.pretrained_cfg = dataclasses.replace(ganzoo.model_info("srresnet").pretrained_cfg, half_precision=False)
    name = tagged.pretrained_cfg.name
    for dt in ("float16", "bfloat16"):
        with pytest.raises(ValueError, match=rf"{name} is not validated in {dt} \(half_precision=False"):
            Upscaler(tagged, dtype=dt)
    Upscaler(tagged, dtype="float32")
    with pytest.raises(ValueError, match="onnxruntime backend runs float32 or float16 graphs, not bfloat16"):
        Upscaler(model, dtype="bfloat16", backend="onnxruntime")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="device 'cuda' requested but CUDA is not available"):
            Upscaler(model, device="cuda")


def test_callers_model_is_left_alone(model):
    m = tiny_sr(seed=1)
    m.train()
    before = {k: v.clone() for k, v in m.state_dict().items()}
    upscale(rand_img(8, 8), m, tile=None, dtype="bfloat16")
    upscale(rand_img(8, 8), m, tile=None)
    assert m.training and m.generator.training and m.generator.head.training
    after = m.state_dict()
    assert all(torch.equal(before[k], after[k]) for k in before)  # BN statistics not updated, dtype not changed


# ------------------------------------------------------------------------------------------ onnxruntime backend


def test_onnxruntime_backend_matches_eager_and_caches_the_export(model, tmp_path, monkeypatch):
    pytest.importorskip("onnxruntime")
    import ganzoo.export.onnx_export as onnx_export

    calls = []
    real = onnx_export.to_onnx
    spy = lambda *a, **k: calls.append(a[1]) or real(*a, **k)  # noqa: E731
    monkeypatch.setattr(onnx_export, "to_onnx", spy)
    # ganzoo.export resolves to_onnx lazily and keeps it once an earlier test asked for it: patch both
    monkeypatch.setattr(ganzoo.export, "to_onnx", spy, raising=False)
    img = rand_img(30, 26, 3, np.float32, seed=11)
    eager = upscale(img, model, tile=16, tile_overlap=8)
    ort1 = upscale(img, model, tile=16, tile_overlap=8, backend="onnxruntime", cache_dir=tmp_path)
    # stated tolerance: 1e-4 on the [0, 1] scale (fp32 graph vs PyTorch; the export validates at 2e-4)
    assert np.abs(ort1 - eager).max() < 1e-4
    files = sorted(tmp_path.glob("*.onnx"))
    assert len(files) == 1 and len(calls) == 1 and "fp32" in files[0].name
    ort2 = upscale(img, model, tile=None, backend="onnxruntime", cache_dir=tmp_path)  # dynamic H/W: whole image
    assert len(calls) == 1  # reused from the cache, not exported again
    assert np.abs(ort2 - upscale(img, model, tile=None)).max() < 1e-4
    assert not list(tmp_path.glob(".*"))  # no temporary files left behind
    # the cache key follows the weights, the config and the dtype
    other = tiny_sr(seed=2)
    keys = {_export_key(model, "float32"), _export_key(other, "float32"), _export_key(model, "float16"),
            _export_key(tiny_sr(seed=0, output_act="clamp"), "float32")}
    assert len(keys) == 4 and _export_key(tiny_sr(seed=0), "float32") == _export_key(model, "float32")


# --------------------------------------------------------------------------------------------------- image I/O


def _png_raw16(arr: np.ndarray, exif: bytes | None = None) -> bytes:
    """An independent 16-bit PNG writer (filter 0, no library code), optionally with an eXIf chunk."""
    h, w, c = arr.shape

    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xFFFFFFFF)

    raw = b"".join(b"\x00" + arr[y].astype(">u2").tobytes() for y in range(h))
    ihdr = struct.pack(">IIBBBBB", w, h, 16, {1: 0, 2: 4, 3: 2, 4: 6}[c], 0, 0, 0)
    extra = chunk(b"eXIf", exif) if exif else b""
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + extra + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b"")


def _png_decode16(data: bytes) -> np.ndarray:
    """An independent 16-bit PNG reader (all five filters, pure Python loops; small images only)."""
    pos, chunks = 8, {}
    while pos < len(data):
        (n,) = struct.unpack(">I", data[pos:pos + 4])
        kind = data[pos + 4:pos + 8]
        chunks.setdefault(kind, b"")
        chunks[kind] += data[pos + 8:pos + 8 + n]
        pos += 12 + n
    w, h, depth, ct = struct.unpack(">IIBB", chunks[b"IHDR"][:10])
    assert depth == 16
    c = {0: 1, 4: 2, 2: 3, 6: 4}[ct]
    bpp, stride = 2 * c, w * 2 * c
    raw = zlib.decompress(chunks[b"IDAT"])
    prev = bytearray(stride)
    rows = []
    for y in range(h):
        f, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b = prev[i]
            cc = prev[i - bpp] if i >= bpp else 0
            if f == 1:
                line[i] = (line[i] + a) & 255
            elif f == 2:
                line[i] = (line[i] + b) & 255
            elif f == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif f == 4:
                p = a + b - cc
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - cc)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else cc)) & 255
        rows.append(bytes(line))
        prev = line
    return np.frombuffer(b"".join(rows), dtype=">u2").reshape(h, w, c).astype(np.uint16)


@pytest.mark.parametrize("channels", [1, 2, 3, 4])
def test_16bit_png_read_and_write_are_lossless(tmp_path, channels):
    arr = rand_img(7, 9, channels, np.uint16, seed=channels)
    arr[0, 0] = 0
    arr[-1, -1] = 65535
    p = tmp_path / "in.png"
    p.write_bytes(_png_raw16(arr))
    got = read_image(p)
    assert got.bits == 16 and got.array.dtype == np.uint16
    np.testing.assert_array_equal(got.array, arr)
    out = tmp_path / "out.png"
    write_image(out, arr, format="png")
    np.testing.assert_array_equal(_png_decode16(out.read_bytes()), arr)  # Paeth-filtered, read independently
    np.testing.assert_array_equal(read_image(out).array, arr)


def test_png16_encoder_streams_in_row_bands():
    arr = rand_img(70, 5, 3, np.uint16, seed=1)
    buf = io.BytesIO()
    encode_png16(arr, buf, rows_per_chunk=8, icc_profile=b"icc")
    np.testing.assert_array_equal(_png_decode16(buf.getvalue()), arr)
    assert Image.open(io.BytesIO(buf.getvalue())).info["icc_profile"] == b"icc"


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_is_applied_like_pil(tmp_path, orientation):
    arr = rand_img(5, 8, 3, np.uint8, seed=orientation)
    exif = Image.Exif()
    exif[0x0112] = orientation
    p = tmp_path / "o.png"
    Image.fromarray(arr).save(p, exif=exif.tobytes())
    expected = np.asarray(ImageOps.exif_transpose(Image.open(p)))
    np.testing.assert_array_equal(read_image(p).array, expected)
    np.testing.assert_array_equal(apply_orientation(arr, orientation), expected)
    # the 16-bit colour path (numpy orientation) agrees
    p16 = tmp_path / "o16.png"
    p16.write_bytes(_png_raw16(arr.astype(np.uint16) * 257, exif=exif.tobytes()[6:]))  # eXIf holds the TIFF data
    np.testing.assert_array_equal(read_image(p16).array, expected.astype(np.uint16) * 257)


def test_read_image_errors_name_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.png: no such file"):
        read_image(tmp_path / "nope.png")
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"definitely not an image")
    with pytest.raises(ganzoo.ImageReadError, match=r"bad.png: cannot read as an image \(UnidentifiedImageError"):
        read_image(bad)
    good = io.BytesIO()
    Image.fromarray(rand_img(40, 40)).save(good, format="PNG")
    cut = tmp_path / "cut.png"
    cut.write_bytes(good.getvalue()[:200])
    with pytest.raises(ganzoo.ImageReadError, match="cut.png: cannot read as an image"):
        read_image(cut)


def test_write_image_formats_and_atomicity(tmp_path, monkeypatch):
    rgba = rand_img(6, 7, 4, np.uint8)
    write_image(tmp_path / "a.jpg", rgba, format="jpeg", quality=90)
    assert Image.open(tmp_path / "a.jpg").mode == "RGB"  # JPEG: alpha dropped
    write_image(tmp_path / "a.webp", rgba, format="webp")
    assert Image.open(tmp_path / "a.webp").mode == "RGBA"
    write_image(tmp_path / "g16.jpg", rand_img(6, 7, 1, np.uint16), format="jpeg")
    assert Image.open(tmp_path / "g16.jpg").mode == "L"
    with pytest.raises(ValueError, match="quality must be an int in 1..100, got 0"):
        write_image(tmp_path / "q.jpg", rgba, format="jpeg", quality=0)
    # a failing encoder leaves the old file intact and no temporary file behind
    target = tmp_path / "keep.png"
    target.write_bytes(b"old")
    import ganzoo.pipelines.images as images

    def boom(*a, **k):
        raise RuntimeError("disk full")

    monkeypatch.setattr(images, "encode_png16", boom)
    with pytest.raises(RuntimeError, match="disk full"):
        write_image(target, rand_img(4, 4, 3, np.uint16), format="png")
    assert target.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


# --------------------------------------------------------------------------------------------------------- CLI


@pytest.fixture(scope="module")
def saved_model(tmp_path_factory) -> Path:
    return ganzoo.save_pretrained(tiny_sr(), tmp_path_factory.mktemp("m") / "tiny-sr")


def cli(*args) -> int:
    return ganzoo_main(["upscale", *map(str, args), "--no-progress"])


def test_cli_single_file(tmp_path, saved_model, capsys, model):
    src = tmp_path / "photo.png"
    arr = rand_img(20, 24)
    Image.fromarray(arr).save(src)
    out = tmp_path / "big.png"
    assert cli(src, "-o", out, "--model", saved_model, "--tile", 16, "--tile-overlap", 8) == 0
    assert capsys.readouterr().out.strip() == str(out)
    got = np.asarray(Image.open(out))
    assert got.shape == (80, 96, 3)
    np.testing.assert_array_equal(got, upscale(arr, model, tile=16, tile_overlap=8))
    # exists -> refused without --overwrite, left untouched; replaced with it
    before = out.read_bytes()
    assert cli(src, "-o", out, "--model", saved_model) == 1
    err = capsys.readouterr().err
    assert "1 of 1 input(s) failed" in err and "exists (pass --overwrite to replace it)" in err
    assert out.read_bytes() == before
    assert cli(src, "-o", out, "--model", saved_model, "--overwrite", "--tile", 0) == 0
    # the output format follows the suffix; an unknown suffix is refused
    assert cli(src, "-o", tmp_path / "big.webp", "--model", saved_model) == 0
    assert Image.open(tmp_path / "big.webp").format == "WEBP"
    assert cli(src, "-o", tmp_path / "big.tiff", "--model", saved_model) == 1
    assert "cannot tell the output format from" in capsys.readouterr().err
    assert cli(src, "-o", tmp_path / "x.png", "--format", "jpeg", "--model", saved_model) == 1
    assert "--format jpeg contradicts the output name" in capsys.readouterr().err


def test_cli_folders_recursive_formats_and_failures(tmp_path, saved_model, capsys):
    d = tmp_path / "in"
    (d / "sub").mkdir(parents=True)
    Image.fromarray(rand_img(8, 10)).save(d / "a.png")
    Image.fromarray(rand_img(9, 7, 4)).save(d / "b.webp")
    Image.fromarray(rand_img(6, 6)).save(d / "c.JPG")
    Image.fromarray(rand_img(5, 5)).save(d / "sub" / "deep.png")
    (d / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
    (d / "notes.txt").write_text("ignored")
    out = tmp_path / "out"
    assert cli(d, "-o", out, "--model", saved_model) == 1  # broken.png fails, the others are written
    cap = capsys.readouterr()
    assert "1 of 4 input(s) failed" in cap.err and "broken.png: cannot read as an image" in cap.err
    assert sorted(p.name for p in out.iterdir()) == ["a.png", "b.webp", "c.JPG"]
    assert Image.open(out / "b.webp").mode == "RGBA" and Image.open(out / "b.webp").size == (28, 36)
    assert Image.open(out / "c.JPG").format == "JPEG"
    out2 = tmp_path / "out2"
    (d / "broken.png").unlink()
    assert cli(d, d / "a.png", "-o", out2, "--model", saved_model, "--recursive", "--format", "png") == 1
    err = capsys.readouterr().err  # a.png twice: the second would write the same output
    assert "would write the same output" in err
    assert sorted(str(p.relative_to(out2)) for p in out2.rglob("*.png")) == ["a.png", "b.png", "c.png",
                                                                             "sub/deep.png"]
    assert cli(tmp_path / "missing.png", d / "a.png", "-o", tmp_path / "out3", "--model", saved_model) == 1
    assert "missing.png: no such file or folder" in capsys.readouterr().err
    assert (tmp_path / "out3" / "a.png").exists()
    empty = tmp_path / "empty"
    empty.mkdir()
    assert cli(empty, "-o", tmp_path / "out4", "--model", saved_model) == 1
    assert "no .png/.jpg/.jpeg/.webp images in this folder" in capsys.readouterr().err


def test_cli_keeps_16bit_png_and_respects_exif(tmp_path, saved_model):
    arr16 = rand_img(6, 9, 3, np.uint16, seed=4)
    (tmp_path / "deep.png").write_bytes(_png_raw16(arr16))
    assert cli(tmp_path / "deep.png", "-o", tmp_path / "deep4.png", "--model", saved_model) == 0
    got = read_image(tmp_path / "deep4.png")
    assert got.bits == 16 and got.array.shape == (24, 36, 3)
    assert len(np.unique(got.array)) > 256  # really 16-bit values, not 8-bit ones scaled up
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 clockwise for display
    Image.fromarray(rand_img(6, 10)).save(tmp_path / "rot.jpg", exif=exif.tobytes())
    assert cli(tmp_path / "rot.jpg", "-o", tmp_path / "rot4.png", "--model", saved_model) == 0
    assert Image.open(tmp_path / "rot4.png").size == (24, 40)  # (W, H) of the upright 10x6 image, x4


def test_cli_refuses_a_non_sr_model_and_unknown_models(tmp_path, capsys):
    Image.fromarray(rand_img(8, 8)).save(tmp_path / "a.png")
    assert cli(tmp_path / "a.png", "-o", tmp_path / "b.png", "--model", "dcgan") == 1
    assert "is not a super-resolution model" in capsys.readouterr().err
    assert cli(tmp_path / "a.png", "-o", tmp_path / "b.png", "--model", "nosuchmodel") == 1
    assert "unknown model 'nosuchmodel'" in capsys.readouterr().err
    assert not (tmp_path / "b.png").exists()
    with pytest.raises(SystemExit) as e:  # usage errors: argparse's exit status 2
        cli(tmp_path / "a.png", "-o", tmp_path / "b.png", "--tile", "-3")
    assert e.value.code == 2


def test_progress_bar_over_tiles(model, capsys):
    img = rand_img(20, 20)
    upscale(img, model, tile=8, tile_overlap=2, progress=True)
    err = capsys.readouterr().err
    assert "tile" in err and "/9" in err  # a tqdm bar counting the 3 x 3 tiles
    upscale(img, model, tile=8, tile_overlap=2, progress=False)
    upscale(img, model, tile=8, tile_overlap=2)  # None: stderr is not a terminal under pytest
    assert capsys.readouterr().err == ""
