"""ganzoo.latent (interpolation, inversion, attribute vectors, iGAN constrained editing, semantic inpainting) and the
``ganzoo interpolate / invert / edit`` commands.

The models are tiny random DCGANs (32x32, ngf = ndf = 8, nz = 16) made lively: BN statistics measured on their own
samples and the last layer rescaled so the outputs span most of [-1, 1] (the default N(0, 0.02) init alone gives a
near-constant grey image). Numbers quoted in the tests were measured on this machine (torch 2.13 CPU)."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch
from PIL import Image, ImageSequence

import ganzoo
from ganzoo.cli import main
from ganzoo.latent import (ColorConstraint, InversionResult, LatentEncoder, LatentInputError, attribute_vector,
                           bind, constrained_edit, edit, importance_weights, interpolate, interpolation_grid, invert,
                           latent_path, latent_spec, latent_walk, lerp, semantic_inpaint, slerp,
                           train_encoder_on_samples, write_interpolation)

NZ = 16


def lively(m, *, seed: int = 0, out_std: float = 0.6, bn_shift: float | None = None):
    """Measure BN statistics on the model's own samples (G, then D on G's samples) and rescale G's last layer so
    the pre-tanh output has std ``out_std``. ``bn_shift``: set every G BatchNorm's bias to it (ReLUs mostly in
    their linear part, so the model is close to linear in z)."""
    g = torch.Generator().manual_seed(seed)
    bns = [b for b in m.modules() if isinstance(b, torch.nn.modules.batchnorm._BatchNorm)]
    last = [c for c in m.generator.modules() if isinstance(c, (torch.nn.ConvTranspose2d, torch.nn.ConvTranspose3d))][-1]
    with torch.no_grad():
        for b in bns:
            b.reset_running_stats()
            b.momentum = None  # cumulative average
        m.train()
        for _ in range(4):
            m.generator(*m.sample_inputs(256, generator=g))
        if bn_shift is not None:
            for b in m.generator.modules():
                if isinstance(b, torch.nn.BatchNorm2d):
                    b.bias.fill_(bn_shift)
        m.eval()
        pre = torch.atanh(m.generator(*m.sample_inputs(256, generator=g)).clamp(-0.999, 0.999))
        last.weight.mul_(out_std / pre.std())
        m.train()
        for _ in range(4):
            m.discriminator(m.generator(*m.sample_inputs(256, generator=g)))
        for b in bns:
            b.momentum = 0.1
    return m.eval()


def tiny_dcgan(nc: int = 1, seed: int = 0, **kw):
    torch.manual_seed(seed)
    return lively(ganzoo.create("dcgan_32", ngf=8, ndf=8, nz=NZ, nc=nc), seed=seed, **kw)


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """These tiny models run fastest on one thread, and far slower when torch's threads fight other work for the
    cores (150 encoder steps: 2.6 s on one thread, 23 s on two of a busy 2-core machine)."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


@pytest.fixture(scope="module")
def grey():
    return tiny_dcgan(1)


@pytest.fixture(scope="module")
def rgb():
    return tiny_dcgan(3)


@pytest.fixture(scope="module")
def encoder(grey):
    torch.manual_seed(0)
    enc = LatentEncoder(grey, width=16)
    hist = train_encoder_on_samples(grey, enc, steps=150, batch_size=64, lr=2e-3, seed=0, progress=False)
    assert hist[-1] < 0.2 * hist[0]  # measured: 1.15 -> 0.05
    return enc


@pytest.fixture(scope="module")
def saved(grey, tmp_path_factory):
    return ganzoo.save_pretrained(grey, tmp_path_factory.mktemp("latent") / "tiny")


def draw(model, n, seed):
    return bind(model).sample(n, torch.Generator().manual_seed(seed))


def G(model, z):
    with torch.no_grad():
        return model(z)


# ----------------------------------------------------------------------------------------------- interpolation


@pytest.mark.parametrize("method", ["slerp", "linear"])
def test_interpolation_endpoints_are_exactly_g_of_the_codes(grey, method):
    z0, z1 = draw(grey, 2, 1)
    out, zs = interpolate(grey, z0, z1, steps=7, method=method, return_latents=True)
    assert out.shape == (7, 1, 32, 32) and zs.shape == (7, NZ)
    assert torch.equal(zs[0], z0) and torch.equal(zs[-1], z1)
    torch.testing.assert_close(out[0], G(grey, z0[None])[0], atol=1e-6, rtol=0)
    torch.testing.assert_close(out[-1], G(grey, z1[None])[0], atol=1e-6, rtol=0)
    assert not torch.allclose(out[3], out[0])  # the middle is somewhere else


def test_slerp_keeps_the_norm_of_equal_norm_codes_and_handles_parallel_ones():
    g = torch.Generator().manual_seed(0)
    a, b = torch.randn(2, 64, generator=g)
    b = b / b.norm() * a.norm()
    t = torch.linspace(0, 1, 11)
    s = slerp(a, b, t)
    assert s.shape == (11, 64)
    torch.testing.assert_close(s.norm(dim=1), torch.full((11,), float(a.norm())), atol=1e-5, rtol=0)
    assert torch.equal(s[0], a) and torch.equal(s[-1], b)
    lin = lerp(a, b, t)
    assert lin[5].norm() < 0.9 * a.norm()  # linear interpolation cuts the corner: the midpoint is shorter
    for other in (3 * a, a.clone(), -a, torch.zeros(64)):  # parallel, identical, anti-parallel, zero: linear
        s = slerp(a, other, t)
        assert torch.isfinite(s).all()
        torch.testing.assert_close(s, lerp(a, other, t), atol=1e-5, rtol=1e-5)
    # scalars t and batches of vectors
    assert slerp(a, b, 0.5).shape == (64,)
    batch = slerp(torch.randn(3, 8, generator=g), torch.randn(3, 8, generator=g), [0.0, 0.5, 1.0])
    assert batch.shape == (3, 3, 8)


def test_latent_walk_loops_through_its_keyframes_and_the_grid_keeps_its_corners(grey):
    out, zs = latent_walk(grey, n_keyframes=3, steps_between=4, seed=5, return_latents=True)
    assert out.shape == (12, 1, 32, 32)
    keys = draw(grey, 3, 5)
    for i in range(3):
        assert torch.equal(zs[4 * i], keys[i])
    again = latent_walk(grey, n_keyframes=3, steps_between=4, seed=5)
    assert torch.equal(out, again)  # seeded
    corners = draw(grey, 4, 6)
    grid, zg = interpolation_grid(grey, corners, rows=3, cols=4, method="linear", return_latents=True)
    assert grid.shape == (12, 1, 32, 32)
    for cell, k in ((0, 0), (3, 1), (8, 2), (11, 3)):
        torch.testing.assert_close(zg[cell], corners[k], atol=1e-6, rtol=0)
    left, right = lerp(corners[0], corners[2], 0.5), lerp(corners[1], corners[3], 0.5)  # row 1 of 3
    torch.testing.assert_close(zg[5], lerp(left, right, 1 / 3), atol=1e-6, rtol=0)  # column 1 of 4: bilinear


def test_uniform_priors_come_from_the_specs_and_stay_in_range():
    torch.manual_seed(0)
    g3 = ganzoo.create("gan3d", ngf=4, ndf=4, nz=8, volume_size=16).eval()
    spec = latent_spec(g3)
    assert (spec.prior, spec.low, spec.high, spec.kind) == ("uniform", 0.0, 1.0, "volume")
    assert latent_spec(tiny_dcgan()).prior == "gaussian"
    a, b = torch.zeros(8), torch.ones(8)
    zs = latent_path(a, b, 5, centre=0.5)
    torch.testing.assert_close(zs[2], torch.full((8,), 0.5), atol=1e-6, rtol=0)  # slerp about the centre
    out, zs = interpolate(g3, torch.rand(8), torch.rand(8), steps=5, return_latents=True)
    assert out.shape == (5, 1, 16, 16, 16) and zs.min() >= 0 and zs.max() <= 1
    x = G(g3, torch.rand(2, 8))
    res = invert(g3, x, steps=5, restarts=2, progress=False)
    assert res.z.min() >= 0 and res.z.max() <= 1  # projected Adam keeps z in U(0, 1)
    with pytest.raises(ValueError, match="outside .*U\\(0, 1\\)"):
        interpolate(g3, torch.full((8,), 2.0), torch.rand(8))


def test_writers_follow_the_family(grey, tmp_path):
    out = interpolate(grey, *draw(grey, 2, 1), steps=5)
    (png,) = write_interpolation(tmp_path / "strip.png", out, model=grey)
    assert Image.open(png).size == (5 * 34 + 2, 36)
    (gif,) = write_interpolation(tmp_path / "morph.gif", out, model=grey)
    frames = list(ImageSequence.Iterator(Image.open(gif)))
    assert len(frames) == 5 and frames[0].size == (32, 32)
    torch.manual_seed(0)
    g3 = ganzoo.create("gan3d", ngf=4, ndf=4, nz=8, volume_size=16).eval()
    vols = interpolate(g3, torch.rand(8), torch.rand(8), steps=3)
    (renders,) = write_interpolation(tmp_path / "vols.png", vols, model=g3)  # the family's renders
    assert Image.open(renders).size[1] > 3 * 128
    with pytest.raises(ValueError, match="3D-GAN .* write .obj"):
        write_interpolation(tmp_path / "vols.gif", vols, model=g3)
    tg = ganzoo.create("tgan", z_dim=8, frame_z_dim=8, temporal_widths=(8, 8, 8, 8), g_widths=(8, 8, 8, 8, 8),
                       d_widths=(4, 4, 4, 4)).eval()
    assert latent_spec(tg).kind == "video" and latent_spec(tg).low == -1.0
    clips = interpolate(tg, *draw(tg, 2, 0), steps=4)
    assert clips.shape == (4, 3, 16, 64, 64)
    (grid,) = write_interpolation(tmp_path / "clips.gif", clips, model=tg)  # the 4 videos tiled 2 x 2
    assert Image.open(grid).size == (2 * 64 + 2, 2 * 64 + 2)  # (a random TGAN's frames are alike: GIF merges them)


# --------------------------------------------------------------------------------------------------- inversion


def test_inversion_recovers_a_known_code_of_the_model(grey):
    """z* drawn, x = G(z*), Adam from 4 random starts. Measured (8 images, 3 seeds, grey and RGB): 150 steps PSNR
    min 74-77 dB, mean 78-82 dB, |z - z*| / |z*| <= 1.2e-3 (0.7-1.0 s); 500 steps >= 143 dB. The tiny nz=16 model
    is injective enough for z itself to come back (the trained dcgan_32.mnist, nz=100, is not: 31 dB, z unrelated)."""
    z_true = draw(grey, 8, 1)
    x = G(grey, z_true)
    params = {k: v.clone() for k, v in grey.state_dict().items()}
    grey.generator.main[0].weight.requires_grad_(True)
    res = invert(grey, x, steps=150, restarts=4, lr=0.05, seed=0, progress=False)
    assert isinstance(res, InversionResult) and res.method == "optimize" and res.steps == 150
    assert res.z.shape == (8, NZ) and res.reconstruction.shape == x.shape and res.psnr.shape == (8,)
    assert float(res.psnr.min()) >= 45, res.psnr
    err = (res.z - z_true).norm(dim=1) / z_true.norm(dim=1)
    assert float(err.max()) < 1e-2, err
    torch.testing.assert_close(res.mse, ((res.reconstruction - x) ** 2).flatten(1).mean(1))
    assert res.time_s > 0 and len(res.loss_history) == 150 and res.loss_history[-1] < res.loss_history[0]
    # nothing reached the weights; flags restored
    assert all(torch.equal(v, grey.state_dict()[k]) for k, v in params.items())
    assert grey.generator.main[0].weight.requires_grad and not grey.generator.main[1].training
    grey.generator.main[0].weight.requires_grad_(True)
    grey.generator.main[0].weight.grad = None
    # restarts: the kept start is the best of each image
    one = invert(grey, x, steps=30, restarts=1, seed=0, progress=False)
    four = invert(grey, x, steps=30, restarts=4, seed=0, progress=False)
    assert (four.mse <= one.mse + 1e-7).all()  # start 0 of both is the same draw


def test_encoder_then_optimise_beats_random_starts_at_the_same_budget(grey, encoder):
    """Same 25 Adam steps, one start. Measured over 3 seeds x 16 images: random starts 19-20 dB mean, encoder
    starts 42-44 dB mean, better on every image; the encoder alone gives 26-27 dB."""
    z_true = draw(grey, 16, 2)
    x = G(grey, z_true)
    enc_only = invert(grey, x, "encoder", encoder=encoder)
    assert enc_only.steps == 0 and float(enc_only.psnr.mean()) > 20
    rnd = invert(grey, x, "optimize", steps=25, restarts=1, seed=0, progress=False)
    hyb = invert(grey, x, "encoder+optimize", steps=25, restarts=1, encoder=encoder, seed=0, progress=False)
    assert float(hyb.psnr.mean()) > float(rnd.psnr.mean()) + 10
    assert (hyb.psnr > rnd.psnr).float().mean() >= 0.9
    assert float(hyb.psnr.mean()) > float(enc_only.psnr.mean())
    # the feature loss runs on DCGAN's discriminator features and moves the result
    feat = invert(grey, x[:2], steps=5, restarts=1, feature_weight=1.0, seed=0, progress=False)
    plain = invert(grey, x[:2], steps=5, restarts=1, seed=0, progress=False)
    assert not torch.equal(feat.z, plain.z)


# ---------------------------------------------------------------------------------------------------- editing


def test_attribute_vector_of_brightness_edits_brightness():
    """The attribute is mean brightness, on a model whose ReLUs are mostly active (BN bias +1) so brightness is
    close to monotone along a latent direction. Vector = mean E(x) of the 200 brightest of 1000 samples minus that
    of the 200 darkest. Measured on 50 other images, 3 model seeds: +strength brightens 100%, -strength darkens
    100% (strengths 1 and 2). On the plain random model (no BN shift) the rates are 78-100%."""
    m = tiny_dcgan(1, seed=1, bn_shift=1.0)
    torch.manual_seed(0)
    enc = LatentEncoder(m, width=16)
    train_encoder_on_samples(m, enc, steps=150, batch_size=64, lr=2e-3, seed=0, progress=False)
    xs = G(m, draw(m, 1000, 5))
    order = xs.mean(dim=(1, 2, 3)).argsort()
    v = attribute_vector(enc, xs[order[-200:]], xs[order[:200]])
    assert v.shape == (NZ,)
    xt = G(m, draw(m, 50, 9))
    up = edit(m, xt, {"bright": 1.5}, {"bright": v}, encoder=enc)
    down = edit(m, xt, {"bright": -1.5}, {"bright": v}, encoder=enc)
    base = up.reconstruction.mean(dim=(1, 2, 3))
    assert torch.equal(up.z_original, down.z_original)
    assert (up.outputs.mean(dim=(1, 2, 3)) > base).float().mean() >= 0.8
    assert (down.outputs.mean(dim=(1, 2, 3)) < base).float().mean() >= 0.8
    torch.testing.assert_close(up.z - up.z_original, 1.5 * v.expand(50, -1), atol=1e-5, rtol=0)
    # an inversion config instead of an encoder (the callable form of attribute_vector too)
    inv = edit(m, xt[:2], {"bright": 1.0}, {"bright": v.numpy()}, inversion={"steps": 5, "restarts": 1})
    assert inv.inversion is not None and inv.outputs.shape == (2, 1, 32, 32)
    v2 = attribute_vector(lambda imgs: invert(m, imgs, steps=3, restarts=1, progress=False), xs[:2], xs[2:4])
    assert v2.shape == (NZ,)


def test_constrained_edit_moves_the_masked_colour_and_stays_near_z0(rgb):
    """The target is a colour the model can make (the square's mean colour in another sample). Measured (150
    steps, lambda_s 0.1): the mean |colour - target| in the square drops by 35-43% (e.g. 0.17 -> 0.10) with
    ||z - z0|| 0.8-1.9 for ||z0|| 2-4.8; lambda_s 10 keeps ||z - z0|| near 0.02."""
    mask = torch.zeros(32, 32, dtype=torch.bool)
    mask[8:16, 8:16] = True
    z0 = draw(rgb, 4, 3)
    target = ((G(rgb, draw(rgb, 1, 11))[0][:, mask].mean(dim=1) + 1) / 2).tolist()  # in [0, 1]
    paint = ColorConstraint(mask, target)
    res = constrained_edit(rgb, z0, [paint], lambda_s=0.1, steps=150, lr=0.05, progress=False)
    probe = ColorConstraint(mask, target, value_range=(-1.0, 1.0))
    before, after = probe.error(res.initial), probe.error(res.outputs)
    assert (after < 0.85 * before).all(), (before, after)
    assert torch.equal(res.initial, G(rgb, z0))
    assert res.loss_history[-1] < res.loss_history[0] and len(res.constraint_losses) == 1
    assert (res.distance < z0.norm(dim=1)).all()
    tight = constrained_edit(rgb, z0, [paint], lambda_s=10.0, steps=150, lr=0.05, progress=False)
    assert (tight.distance < 0.5 * res.distance).all() and float(tight.distance.max()) < 0.2, tight.distance
    # an (f, v) pair: the mean of the image towards +0.5; and the realism term runs
    res2 = constrained_edit(rgb, z0[:1], [(lambda x: x.mean(dim=(1, 2, 3)), 0.5)], lambda_d=0.1, steps=30)
    assert float(res2.outputs.mean()) > float(res2.initial.mean())


@pytest.mark.parametrize("blend", ["none", "alpha", "poisson"])
def test_semantic_inpainting_keeps_known_pixels_and_fills_the_hole(rgb, blend):
    """x = G(z*) with a 12x20 hole, 2 random starts, 150 steps: hole MSE from 0.35 (initial z) to ~1e-5."""
    x = G(rgb, draw(rgb, 2, 4))
    hole = torch.zeros(32, 32, dtype=torch.bool)
    hole[10:22, 6:26] = True
    damaged = torch.where(hole, torch.zeros_like(x), x)
    res = semantic_inpaint(rgb, damaged, hole, steps=150, lr=0.05, restarts=2, blend=blend, progress=False)
    assert res.blend == blend and res.composite.shape == x.shape
    assert torch.equal(res.composite[:, :, ~hole], damaged[:, :, ~hole])  # known pixels exactly
    err = ((res.generated - x) ** 2)[:, :, hole].mean(dim=1).mean(dim=1)
    err0 = ((res.initial - x) ** 2)[:, :, hole].mean(dim=1).mean(dim=1)
    assert (err < 0.1 * err0).all(), (err, err0)
    if blend == "none":
        assert torch.equal(res.composite[:, :, hole], res.generated[:, :, hole])
    comp_err = ((res.composite - x) ** 2)[:, :, hole].mean()
    # alpha mixes the border colours into the hole's outer 2 px: measured 0.044 against 0.26 at the start
    assert comp_err < (0.5 if blend == "alpha" else 0.01) * err0.mean(), comp_err


def test_importance_weights_follow_the_paper():
    hole = torch.zeros(1, 1, 20, 20, dtype=torch.bool)
    hole[..., 8:12, 8:12] = True
    w = importance_weights(hole, 7)
    assert (w[hole] == 0).all()  # hole pixels: 0
    assert w[0, 0, 0, 0] == 0 and w[0, 0, 7, 7] > w[0, 0, 5, 5] > 0  # far: 0; nearer the hole: heavier
    torch.testing.assert_close(w[0, 0, 7, 8], torch.tensor(12 / 49))  # its 7x7 window holds 3 x 4 hole pixels


def test_bad_inputs_raise_with_messages(grey, rgb):
    with pytest.raises(ValueError, match=r"\(1, 16\) or \(16,\) for dcgan_32 \(z \(16,\) ~ N\(0, 1\)\), got \(10,\)"):
        interpolate(grey, torch.zeros(10), torch.zeros(10))
    with pytest.raises(ValueError, match="1-channel outputs .* got 3 channels"):
        invert(grey, torch.zeros(2, 3, 32, 32))
    with pytest.raises(ValueError, match="spatial size"):
        invert(grey, torch.zeros(2, 1, 64, 64))
    with pytest.raises(ValueError, match="not binary"):
        semantic_inpaint(rgb, torch.zeros(1, 3, 32, 32), torch.full((32, 32), 0.5), steps=1)
    with pytest.raises(ValueError, match="every pixel .* is a hole"):
        semantic_inpaint(rgb, torch.zeros(1, 3, 32, 32), torch.ones(32, 32), steps=1)
    with pytest.raises(ValueError, match="size 16x16 differs"):
        semantic_inpaint(rgb, torch.zeros(1, 3, 32, 32), torch.ones(16, 16), steps=1)
    with pytest.raises(ValueError, match="method: expected one of 'optimize', 'encoder', 'encoder\\+optimize'"):
        invert(grey, torch.zeros(1, 1, 32, 32), method="gradient")
    with pytest.raises(ValueError, match="method: expected one of 'slerp', 'linear'"):
        interpolate(grey, torch.zeros(16), torch.ones(16), method="cubic")
    with pytest.raises(ValueError, match="needs an encoder"):
        invert(grey, torch.zeros(1, 1, 32, 32), method="encoder")
    with pytest.raises(ValueError, match="vectors\\['a'\\]: expected shape \\(16,\\)"):
        edit(grey, torch.zeros(1, 1, 32, 32), {"a": 1.0}, {"a": torch.zeros(5)}, z=torch.zeros(1, 16))
    with pytest.raises(ValueError, match="no vector for \\['b'\\]"):
        edit(grey, torch.zeros(1, 1, 32, 32), {"b": 1.0}, {"a": torch.zeros(16)}, z=torch.zeros(1, 16))
    with pytest.raises(ValueError, match="ColorConstraint rgb: expected 1 value"):
        constrained_edit(grey, torch.zeros(16), [ColorConstraint(torch.ones(32, 32), (1, 0, 0))], steps=1)
    with pytest.raises(LatentInputError, match="no latent input"):
        latent_spec(ganzoo.create("srresnet_x2", num_blocks=1, width=8))
    torch.manual_seed(0)
    dr = ganzoo.create("drgan", widths=(4, 4, 4, 4, 8, 8, 8, 8, 8, 8, 8, 8, 8, 16), num_identities=2,
                       num_poses=3).eval()
    with pytest.raises(LatentInputError, match=r"takes \(image, pose, z\).*extra_inputs"):
        interpolate(dr, torch.zeros(50), torch.zeros(50))
    img, pose, z = dr.sample_inputs(1)
    out = interpolate(dr, z[0], -z[0], steps=3, extra_inputs={"image": img, "pose": pose})  # fixed extras work
    assert out.shape == (3, 3, 96, 96)
    imgs, poses, _ = dr.sample_inputs(2)  # per-image extras follow the restarts
    res = invert(dr, out[:2], steps=2, restarts=3, extra_inputs=(imgs, poses), progress=False)
    assert res.z.shape == (2, 50) and res.z.abs().max() <= 1  # U(-1, 1) from DR-GAN's specs
    hole = torch.zeros(96, 96, dtype=torch.bool)
    hole[30:60, 30:60] = True
    inp = semantic_inpaint(dr, out[:2], hole, steps=2, restarts=2, blend="none", extra_inputs=(imgs, poses))
    assert torch.equal(inp.composite[:, :, ~hole], out[:2][:, :, ~hole])
    with pytest.raises(ValueError, match="no features\\(\\) method"):
        invert(dr, out[:1], feature_weight=1.0, extra_inputs={"image": img, "pose": pose})


# -------------------------------------------------------------------------------------------------------- CLI


def _png(path, arr):
    Image.fromarray(arr).save(path)
    return str(path)


@pytest.fixture(scope="module")
def digit_files(grey, tmp_path_factory):
    """Two generated images saved as 8-bit PNGs (one at another size: resized on reading) and an RGB noise image."""
    d = tmp_path_factory.mktemp("imgs")
    x = G(grey, draw(grey, 2, 7))
    u8 = ((x[:, 0].numpy() + 1) * 127.5).round().astype(np.uint8)
    a = _png(d / "a.png", u8[0])
    b = _png(d / "b.png", np.asarray(Image.fromarray(u8[1]).resize((48, 40), Image.Resampling.BICUBIC)))
    colour = _png(d / "colour.png", np.random.default_rng(0).integers(0, 256, (32, 32, 3), dtype=np.uint8))
    return a, b, colour


def test_cli_interpolate_writes_a_strip_and_an_animation(saved, tmp_path, capsys):
    out = tmp_path / "strip.png"
    assert main(["interpolate", str(saved), "-o", str(out), "--steps", "6", "--seeds", "3,7"]) == 0
    assert Image.open(out).size == (6 * 34 + 2, 36)
    assert capsys.readouterr().out.strip() == str(out)
    gif = tmp_path / "walk.gif"
    assert main(["interpolate", str(saved), "-o", str(gif), "--walk", "3", "--steps", "4", "--method", "linear"]) == 0
    assert len(list(ImageSequence.Iterator(Image.open(gif)))) == 12
    assert main(["interpolate", str(saved), "-o", str(out)]) == 1
    assert "exists (pass --overwrite" in capsys.readouterr().err
    assert main(["interpolate", str(saved), "-o", str(tmp_path / "x.obj")]) == 1
    assert "has suffix '.obj'; expected one of .png" in capsys.readouterr().err
    assert main(["interpolate", str(saved), "-o", str(tmp_path / "y.png"), "--walk", "3", "--seeds", "1,2"]) == 1
    err = capsys.readouterr().err
    assert err.startswith("ganzoo interpolate: error: give --seeds") and err.count("\n") == 1
    torch.manual_seed(0)
    dr = ganzoo.save_pretrained(ganzoo.create("drgan", widths=(4,) * 13 + (8,), num_identities=2, num_poses=3),
                                tmp_path / "drgan")
    assert main(["interpolate", str(dr), "-o", str(tmp_path / "dr.png")]) == 1
    assert "takes (image, pose, z); ganzoo interpolate drives models whose generator takes z alone" in \
        capsys.readouterr().err


def test_cli_invert_prints_psnr_and_saves_codes(saved, digit_files, tmp_path, capsys):
    a, b, colour = digit_files
    out, zf = tmp_path / "rec.png", tmp_path / "z.npy"
    assert main(["invert", str(saved), a, b, "-o", str(out), "--steps", "60", "--restarts", "2", "--save-z", str(zf),
                 "--no-progress"]) == 0
    assert Image.open(out).size == (2 * 34 + 2, 2 * 34 + 2)
    z = np.load(zf)
    assert z.shape == (2, NZ) and z.dtype == np.float32
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith(f"{a}: PSNR ") and " dB" in lines[0] and lines[1].startswith(f"{b}: PSNR ")
    assert float(lines[0].split("PSNR ")[1].split(" dB")[0]) > 30  # a G(z) image, 8-bit quantised
    # a colour image for a grey model: one line, exit 1
    assert main(["invert", str(saved), colour, "-o", str(tmp_path / "c.png")]) == 1
    err = capsys.readouterr().err
    assert "colour (RGB) image" in err and "1-channel (grey)" in err and err.count("\n") == 1
    assert main(["invert", str(saved), a, "-o", str(tmp_path / "d.png"), "--method", "encoder"]) == 1
    assert "needs an encoder" in capsys.readouterr().err
    assert main(["invert", str(saved), str(tmp_path / "missing.png"), "-o", str(tmp_path / "e.png")]) == 1
    assert "missing.png" in capsys.readouterr().err
    with pytest.raises(SystemExit) as e:
        main(["invert", str(saved), a, "-o", str(tmp_path / "f.png"), "--method", "magic"])
    assert e.value.code == 2


def test_cli_encoder_round_trip_and_edit(saved, digit_files, tmp_path, capsys):
    a, b, _ = digit_files
    enc = tmp_path / "enc.pt2"
    assert main(["invert", str(saved), a, "-o", str(tmp_path / "r.png"), "--method", "encoder+optimize",
                 "--train-encoder", "30", "--save-encoder", str(enc), "--steps", "10", "--no-progress"]) == 0
    assert enc.is_file()
    np.save(tmp_path / "v.npy", np.ones(NZ, np.float32))
    out = tmp_path / "edited.png"
    capsys.readouterr()
    assert main(["edit", str(saved), a, "-o", str(out), "--vector", f"up={tmp_path / 'v.npy'}", "--strength",
                 "up=1.5", "--method", "encoder", "--encoder", str(enc)]) == 0
    assert Image.open(out).size == (3 * 34 + 2, 36)  # input | reconstruction | edit
    assert "edited with up x 1.5" in capsys.readouterr().out
    # a vector from two folders of images, saved
    (tmp_path / "w").mkdir(), (tmp_path / "wo").mkdir()
    Image.open(a).save(tmp_path / "w" / "1.png")
    Image.open(b).save(tmp_path / "wo" / "1.png")
    vec = tmp_path / "attr.npy"
    assert main(["edit", str(saved), a, "-o", str(tmp_path / "e2.png"), "--attribute-images", str(tmp_path / "w"),
                 str(tmp_path / "wo"), "--save-vector", str(vec), "--method", "encoder", "--encoder", str(enc)]) == 0
    assert np.load(vec).shape == (NZ,)
    # errors
    assert main(["edit", str(saved), a, "-o", str(tmp_path / "e3.png"), "--vector", f"up={tmp_path / 'v.npy'}",
                 "--strength", "down=1"]) == 1
    assert "no vector named 'down'" in capsys.readouterr().err
    np.save(tmp_path / "short.npy", np.ones(5, np.float32))
    assert main(["edit", str(saved), a, "-o", str(tmp_path / "e4.png"), "--vector", f"s={tmp_path / 'short.npy'}",
                 "--method", "encoder", "--encoder", str(enc)]) == 1
    assert "expected (16,)" in capsys.readouterr().err


def test_cli_modules_and_package_stay_light():
    code = ("import sys, ganzoo, ganzoo.cli, ganzoo.latent, ganzoo.latent.interpolate_cli, "
            "ganzoo.latent.invert_cli, ganzoo.latent.edit_cli; ganzoo.cli.build_parser(); "
            "print(sorted(m for m in ('torch', 'numpy', 'PIL', 'ganzoo.models') if m in sys.modules)); "
            "from ganzoo.latent import interpolate, invert; import ganzoo.latent.interpolation; "
            "from ganzoo.latent import interpolate as i2; print(callable(interpolate), callable(i2), "
            "ganzoo.latent.invert is invert)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split("\n")
    assert out[0] == "[]" and out[1] == "True True True"
