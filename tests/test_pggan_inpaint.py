"""PGGAN patch-based inpainting (Demir & Unal 2018): ganzoo's documented design, its parameter arithmetic,
compositing, mask validation, both discriminator heads, the losses, a training step and torch.compile."""
from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

import ganzoo
from ganzoo.models.pggan_inpaint import (
    PGGANInpaintConfig,
    discriminator_loss,
    generator_loss,
    random_hole_mask,
    weighted_l1,
)

TINY = dict(g_widths=(8, 16, 32), n_blocks=2, d_widths=(8, 16, 32), d_patch_width=16, d_global_width=16,
            image_size=32)


def _meta(**kw):
    # the paper-scale design of the places365 tag (the bare name is the default tag, ganzoo's smaller pool256)
    with torch.device("meta"):
        return ganzoo.create("pggan_inpaint.places365", **kw)


def _tiny(**kw):
    return ganzoo.create("pggan_inpaint.places365", **{**TINY, **kw})


def conv(cin: int, cout: int, k: int, bias: bool) -> int:
    return cin * cout * k * k + (cout if bias else 0)


# --- parameter counts, written out layer by layer ---------------------------------------------------------------

def test_generator_param_count_default():
    norm = lambda c: 2 * c  # noqa: E731  affine instance norm: gamma + beta
    head = conv(3 + 1, 64, 7, False) + norm(64)                  # image + mask -> 64, 7x7
    down = conv(64, 128, 4, False) + norm(128) + conv(128, 256, 4, False) + norm(256)
    block = 2 * (conv(256, 256, 3, False) + norm(256))          # two dilated 3x3 convs per residual block
    up = conv(256, 128, 4, False) + norm(128) + conv(128, 64, 4, False) + norm(64)  # transposed 4/2/1
    tail = conv(64, 3, 7, True)                                 # 7x7 -> RGB, bias, tanh
    expected = head + down + 8 * block + up + tail
    assert expected == 10_779_331
    assert _meta().num_parameters()["generator"] == expected


def test_generator_param_count_nearest_and_bn():
    # nearest + 3x3 conv replaces each 4x4 transposed conv; BN has the same 2 parameters per channel as affine IN.
    up = conv(256, 128, 3, False) + 2 * 128 + conv(128, 64, 3, False) + 2 * 64
    up_t = conv(256, 128, 4, False) + 2 * 128 + conv(128, 64, 4, False) + 2 * 64
    m = _meta(upsample="nearest", norm="bn", n_blocks=4)
    expected = 10_779_331 - up_t + up - 4 * 2 * (conv(256, 256, 3, False) + 2 * 256)
    assert m.num_parameters()["generator"] == expected


def test_discriminator_param_count_default():
    bn = lambda c: 2 * c  # noqa: E731
    trunk = conv(3, 64, 4, True) + conv(64, 128, 4, False) + bn(128) + conv(128, 256, 4, False) + bn(256)
    patch = conv(256, 512, 4, False) + bn(512) + conv(512, 1, 4, True)
    # 256 -> trunk 32x32 -> global convs 16, 8, 4 -> flatten 512*4*4 -> 1
    n_global = int(math.log2(256 // 8 // 4))
    assert n_global == 3
    glob = conv(256, 512, 4, False) + bn(512) + 2 * (conv(512, 512, 4, False) + bn(512)) + (512 * 16 + 1)
    expected = trunk + patch + glob
    assert expected == 13_262_658
    assert _meta().num_parameters()["discriminator"] == expected


def test_generator_structure_dilations_and_receptive_layout():
    g = _meta().generator
    assert [blk.body[0][0].dilation for blk in g.blocks] == [(d, d) for d in (1, 2, 4, 8, 1, 2, 4, 8)]
    assert [blk.body[0][0].padding for blk in g.blocks] == [(d, d) for d in (1, 2, 4, 8, 1, 2, 4, 8)]
    assert type(g.head[1]).__name__ == "InstanceNorm2d" and type(g.tail[2]).__name__ == "Tanh"


# --- generator: shapes, compositing, validation -----------------------------------------------------------------

@pytest.mark.parametrize("upsample", ["transposed", "nearest"])
def test_forward_shapes_and_compositing(upsample):
    torch.manual_seed(0)
    m = _tiny(upsample=upsample).eval()
    img, mask = m.sample_inputs(2, size=(32, 48), generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        out, raw = m(img, mask, return_raw=True)
        out2 = m(img, mask)
    assert out.shape == raw.shape == (2, 3, 32, 48)
    torch.testing.assert_close(out, out2, rtol=0, atol=0)
    known, hole = mask.expand_as(img).bool(), ~mask.expand_as(img).bool()
    assert hole.any() and known.any()
    assert torch.equal(out[known], img[known])          # known pixels copied exactly
    assert torch.equal(out[hole], raw[hole])            # hole pixels from the generator
    assert raw.abs().max() <= 1 and raw.std() > 0


def test_hole_content_is_ignored_and_mask_layouts_agree():
    torch.manual_seed(0)
    m = _tiny().eval()
    img, mask = m.sample_inputs(2, generator=torch.Generator().manual_seed(3))
    garbage = img + (1 - mask) * torch.rand_like(img)  # junk in the hole instead of 0
    with torch.no_grad():
        a = m(img, mask)
        b = m(garbage, mask)
        c = m(img, mask[:, 0])            # (B, H, W)
        d = m(img, mask.bool())           # bool mask
    torch.testing.assert_close(a, b, rtol=0, atol=0)
    torch.testing.assert_close(a, c, rtol=0, atol=0)
    torch.testing.assert_close(a, d, rtol=0, atol=0)


def test_generator_input_errors():
    m = _tiny()
    img = torch.zeros(1, 3, 32, 32)
    mask = torch.ones(1, 1, 32, 32)
    with pytest.raises(ValueError, match=r"mask: expected a binary mask .* got other values such as \[0\.5"):
        m(img, torch.full((1, 1, 32, 32), 0.5))
    with pytest.raises(ValueError, match=r"mask: expected shape \(1, 1, 32, 32\).*got \(1, 1, 32, 36\)"):
        m(img, torch.ones(1, 1, 32, 36))
    with pytest.raises(ValueError, match=r"mask: expected shape \(1, 1, 32, 32\).*got \(1, 2, 32, 32\)"):
        m(img, torch.ones(1, 2, 32, 32))
    with pytest.raises(ValueError, match=r"image: expected 3 channels.*got 4"):
        m(torch.zeros(1, 4, 32, 32), mask)
    with pytest.raises(ValueError, match=r"image: expected spatial sizes that are multiples of 4, got \(34, 32\)"):
        m(torch.zeros(1, 3, 34, 32), torch.ones(1, 1, 34, 32))
    with pytest.raises(ValueError, match=r"image: expected every spatial size >= 32, got \(28, 32\)"):
        m(torch.zeros(1, 3, 28, 32), torch.ones(1, 1, 28, 32))
    with pytest.raises(TypeError, match="mask: expected a torch.Tensor.*got list"):
        m(img, [[1.0]])
    with pytest.raises(TypeError, match="mask: expected a floating-point or bool tensor, got dtype torch.int64"):
        m(img, torch.ones(1, 1, 32, 32, dtype=torch.long))
    with pytest.raises(TypeError, match="image: expected a torch.Tensor"):
        m(img.numpy(), mask)


def test_sample_inputs():
    m = _meta(**TINY)
    img, mask = m.sample_inputs(3, generator=torch.Generator().manual_seed(0), device="cpu")
    assert img.shape == (3, 3, 32, 32) and mask.shape == (3, 1, 32, 32)
    assert set(mask.unique().tolist()) == {0.0, 1.0}
    assert img.min() >= -1 and img.max() <= 1
    assert torch.all(img[(mask == 0).expand_as(img)] == 0)
    hole_px = (1 - mask).sum((1, 2, 3))
    assert torch.all(hole_px >= 8 * 8) and torch.all(hole_px <= 16 * 16)  # sides 1/4..1/2 of 32
    img2, mask2 = m.sample_inputs(3, generator=torch.Generator().manual_seed(0), device="cpu")
    assert torch.equal(img, img2) and torch.equal(mask, mask2)
    assert m.sample_inputs(1, size=64)[0].shape == (1, 3, 64, 64)
    with pytest.raises(ValueError, match=r"size: expected sides >= 32 and multiples of 4, got \(30, 32\)"):
        m.sample_inputs(1, size=(30, 32))


def test_random_hole_mask_is_one_rectangle():
    masks = random_hole_mask(16, 40, 64, generator=torch.Generator().manual_seed(0))
    for mk in masks[:, 0]:
        hole = mk == 0
        rows, cols = hole.any(1).nonzero().flatten(), hole.any(0).nonzero().flatten()
        h, w = rows.max() - rows.min() + 1, cols.max() - cols.min() + 1
        assert hole.sum() == h * w                        # a filled axis-aligned rectangle
        assert 10 <= h <= 20 and 16 <= w <= 32
    with pytest.raises(ValueError, match="0 < min_frac <= max_frac <= 1"):
        random_hole_mask(1, 32, 32, min_frac=0.6, max_frac=0.5)


# --- discriminator ----------------------------------------------------------------------------------------------

def test_discriminator_heads_shapes_and_errors():
    m = _tiny()
    g, p = m.discriminator(torch.zeros(2, 3, 32, 32))
    assert g.shape == (2,) and p.shape == (2, 1, 2, 2)  # 32 / 8 = 4, two 4/1/1 convs -> 2
    with pytest.raises(ValueError, match=r"image: expected spatial size \(32, 32\), got \(64, 64\)"):
        m.discriminator(torch.zeros(2, 3, 64, 64))
    g, p = _meta().discriminator(torch.zeros(1, 3, 256, 256, device="meta"))
    assert g.shape == (1,) and p.shape == (1, 1, 30, 30)


def test_patch_head_receptive_field_is_70():
    torch.manual_seed(0)
    m = _tiny(image_size=128).eval()
    x = torch.randn(1, 3, 128, 128, requires_grad=True)
    _, p = m.discriminator(x)
    assert p.shape == (1, 1, 14, 14)
    p[0, 0, 7, 7].backward()
    support = x.grad[0].abs().sum(0) > 0
    rows, cols = support.any(1).nonzero().flatten(), support.any(0).nonzero().flatten()
    assert (rows.max() - rows.min() + 1).item() == 70 and (cols.max() - cols.min() + 1).item() == 70


def test_global_head_sees_the_whole_image():
    torch.manual_seed(0)
    m = _tiny(image_size=64).eval()
    x = torch.randn(1, 3, 64, 64, requires_grad=True)
    g, _ = m.discriminator(x)
    g.sum().backward()
    assert (x.grad[0].abs().sum(0) > 0).all()


# --- losses -----------------------------------------------------------------------------------------------------

def test_generator_loss_formula():
    gf = torch.tensor([0.0, 2.0])                     # BCE(x, 1) = log(1 + exp(-x))
    pf = torch.tensor([[[[0.0, -1.0]]], [[[1.0, 3.0]]]])
    out = torch.zeros(2, 3, 2, 2)
    tgt = torch.full((2, 3, 2, 2), 0.5)
    adv_g = (math.log(2) + math.log1p(math.exp(-2))) / 2
    adv_p = (math.log(2) + math.log1p(math.exp(1)) + math.log1p(math.exp(-1)) + math.log1p(math.exp(-3))) / 4
    r = generator_loss(gf, pf, out, tgt, lambda_rec=10.0, lambda_g=2.0, lambda_p=3.0)
    assert r["rec"].item() == pytest.approx(0.5)
    assert r["adv_global"].item() == pytest.approx(adv_g, rel=1e-6)
    assert r["adv_patch"].item() == pytest.approx(adv_p, rel=1e-6)
    assert r["loss"].item() == pytest.approx(10 * 0.5 + 2 * adv_g + 3 * adv_p, rel=1e-6)
    d = generator_loss(gf, pf, out, tgt)  # defaults 100 / 1 / 1
    assert d["loss"].item() == pytest.approx(100 * 0.5 + adv_g + adv_p, rel=1e-6)
    with pytest.raises(ValueError, match=r"same shape, got \(2, 3, 2, 2\) and \(2, 3, 2, 1\)"):
        generator_loss(gf, pf, out, tgt[..., :1])


def test_weighted_l1_is_the_weighted_mean_of_the_absolute_error():
    out = torch.zeros(1, 3, 1, 2)
    tgt = torch.tensor([[[[1.0, 3.0]], [[1.0, 3.0]], [[1.0, 3.0]]]])  # |error| 1 in the first pixel, 3 in the second
    w = torch.tensor([[[[1.0, 6.0]]]])                                 # (B, 1, H, W): the second pixel is the hole
    assert weighted_l1(out, tgt).item() == pytest.approx(2.0)
    assert weighted_l1(out, tgt, w).item() == pytest.approx((1 * 1 + 6 * 3) / 7)
    assert weighted_l1(out, tgt, torch.ones(1, 1, 1, 2)).item() == pytest.approx(2.0)
    gf, pf = torch.zeros(1), torch.zeros(1, 1, 1, 1)
    r = generator_loss(gf, pf, out, tgt, lambda_rec=1.0, lambda_g=0.0, lambda_p=0.0, rec_weight=w)
    assert r["rec"].item() == pytest.approx(19 / 7) and r["loss"].item() == pytest.approx(19 / 7)


def test_discriminator_loss_formula_and_model_weights():
    gr, gf = torch.tensor([1.0]), torch.tensor([-1.0])
    pr, pf = torch.zeros(1, 1, 2, 2), torch.zeros(1, 1, 2, 2)
    lg = 2 * math.log1p(math.exp(-1))                 # BCE(1, 1) + BCE(-1, 0)
    lp = 2 * math.log(2)
    r = discriminator_loss(gr, pr, gf, pf, lambda_g=0.5, lambda_p=4.0)
    assert r["global"].item() == pytest.approx(lg, rel=1e-6)
    assert r["patch"].item() == pytest.approx(lp, rel=1e-6)
    assert r["loss"].item() == pytest.approx(0.5 * lg + 4 * lp, rel=1e-6)
    m = _meta(**TINY, lambda_g=0.5, lambda_p=4.0)
    assert m.discriminator_loss(gr, pr, gf, pf)["loss"].item() == pytest.approx(0.5 * lg + 4 * lp, rel=1e-6)
    m2 = _meta(**TINY, lambda_rec=1.0, lambda_g=0.0, lambda_p=0.0)
    assert m2.generator_loss(gf, pf, torch.zeros(1, 3, 2, 2), torch.ones(1, 3, 2, 2))["loss"].item() == 1.0
    with pytest.raises(TypeError, match="patch_fake: expected a floating-point torch.Tensor"):
        discriminator_loss(gr, pr, gf, [0.0])


# --- config, registry -------------------------------------------------------------------------------------------

def test_config_defaults_and_validation():
    c = PGGANInpaintConfig()
    assert c.g_widths == (64, 128, 256) and c.n_blocks == 8 and c.dilations == (1, 2, 4, 8)
    assert (c.norm, c.act, c.upsample, c.image_size, c.min_size, c.size_multiple) == ("in", "relu", "transposed",
                                                                                      256, 32, 4)
    assert (c.lambda_rec, c.lambda_g, c.lambda_p) == (100.0, 1.0, 1.0)
    assert PGGANInpaintConfig.from_dict(c.to_dict()) == c
    with pytest.raises(ValueError, match="norm must be 'in' or 'bn', got 'gn'"):
        PGGANInpaintConfig(norm="gn")
    with pytest.raises(ValueError, match="upsample must be 'transposed' or 'nearest', got 'bilinear'"):
        PGGANInpaintConfig(upsample="bilinear")
    with pytest.raises(ValueError, match=r"image_size must be 32 \* 2\^k .* got 96"):
        PGGANInpaintConfig(image_size=96)
    with pytest.raises(ValueError, match="min_size must be a positive multiple of 4, got 30"):
        PGGANInpaintConfig(min_size=30)
    with pytest.raises(ValueError, match="lambda_p must be >= 0, got -1"):
        PGGANInpaintConfig(lambda_p=-1)


def test_registry_metadata():
    assert ganzoo.list_models(family="pggan_inpaint") == ["pggan_inpaint"]
    assert ganzoo.model_info("pggan_inpaint").tag == "pool256"  # the first tag: ganzoo's trained design
    info = ganzoo.model_info("pggan_inpaint.places365")
    cfg, sp = info.pretrained_cfg, info.specs
    assert info.family == "pggan_inpaint" and info.tag == "places365"
    assert not cfg.has_weights and cfg.hub_id is None
    assert sp.dynamic_spatial and sp.size_multiple == 4 and sp.min_size == 32
    assert [s.name for s in sp.inputs] == ["image", "mask"]
    assert sp.inputs[0].resolve(B=2, H=32, W=48) == (2, 3, 32, 48) and sp.inputs[0].range == (-1.0, 1.0)
    assert sp.inputs[1].resolve(B=2, H=32, W=48) == (2, 1, 32, 48) and sp.inputs[1].range == (0.0, 1.0)
    assert sp.outputs[0].resolve(B=1, H=64, W=64) == (1, 3, 64, 64) and sp.outputs[0].range == (-1.0, 1.0)
    assert "not Progressive Growing" in cfg.description and "no weights are published yet" in cfg.dataset
    assert "1803.07422" in cfg.paper_url
    # The metadata's size rules are the generator's own.
    m = _meta()
    assert (m.config.size_multiple, m.config.min_size) == (sp.size_multiple, sp.min_size)


# --- training, compile ------------------------------------------------------------------------------------------

def test_training_step_updates_g_and_d():
    torch.manual_seed(0)
    m = _tiny().train()
    opt_g = torch.optim.Adam(m.generator.parameters(), lr=1e-3, betas=(0.5, 0.999))
    opt_d = torch.optim.Adam(m.discriminator.parameters(), lr=1e-3, betas=(0.5, 0.999))
    real = torch.rand(2, 3, 32, 32) * 2 - 1
    mask = random_hole_mask(2, 32, 32, generator=torch.Generator().manual_seed(0))

    d0 = [p.detach().clone() for p in m.discriminator.parameters()]
    fake = m(real * mask, mask).detach()
    ld = m.discriminator_loss(*m.discriminator(real), *m.discriminator(fake))["loss"]
    opt_d.zero_grad()
    ld.backward()
    opt_d.step()
    assert all(not torch.equal(a, p) for a, p in zip(d0, m.discriminator.parameters()))

    g0 = [p.detach().clone() for p in m.generator.parameters()]
    out, raw = m(real * mask, mask, return_raw=True)
    gl, pl = m.discriminator(out)
    lg = m.generator_loss(gl, pl, raw, real)
    opt_g.zero_grad()
    lg["loss"].backward()
    assert torch.isfinite(lg["loss"]) and lg["rec"] > 0
    opt_g.step()
    assert all(not torch.equal(a, p) for a, p in zip(g0, m.generator.parameters()))


@pytest.mark.slow
def test_torch_compile_fullgraph_matches_eager():
    torch.manual_seed(0)
    m = _tiny(g_widths=(4, 8, 16), n_blocks=1).eval()
    img, mask = m.sample_inputs(1, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        ref = m(img, mask)
        compiled = torch.compile(m.generator, fullgraph=True)
        out = compiled(img, mask)
    torch.testing.assert_close(out, ref, rtol=1e-4, atol=1e-5)
    assert F.l1_loss(out, ref).item() < 1e-5
