"""DR-GAN: layer arithmetic, geometry, the pose/noise API, multi-image fusion, losses, training, compile, and the
kayamin/DR-GAN converter checked against a module rebuilt from that repository's source."""
from __future__ import annotations

import copy
import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import ganzoo
from ganzoo.errors import StateDictMismatchError, UnknownCheckpointLayoutError
from ganzoo.hub.converters import convert_checkpoint, convert_state_dict, load_converted
from ganzoo.hub.converters.drgan import convert_kayamin_drgan
from ganzoo.hub.io import save_safetensors
from ganzoo.models.drgan import (
    DRGAN,
    DRGANConfig,
    discriminator_loss,
    generator_loss,
    pose_to_onehot,
)

torch.set_num_threads(1)

ENC = [32, 64, 64, 64, 128, 128, 96, 192, 192, 128, 256, 256, 160, 320]  # conv11 ... conv53 (paper table)
DEC = [160, 256, 256, 128, 192, 192, 96, 128, 128, 64, 64, 64, 32]  # Fconv52 ... Fconv11, then C



@pytest.fixture(scope="module")
def single() -> DRGAN:
    torch.manual_seed(0)
    return ganzoo.create("drgan.multipie").eval()


@pytest.fixture(scope="module")
def multi() -> DRGAN:
    torch.manual_seed(1)
    return ganzoo.create("drgan_multi.multipie").eval()


# ---------------------------------------------------------------------------------------------------------------
# parameter counts from the layer table (independent of the model code)
# ---------------------------------------------------------------------------------------------------------------
def _expected_counts(c: int, nd: int, np_: int, nz: int, multi: bool) -> tuple[int, int]:
    def trunk(extra: int) -> int:
        ins = [c] + ENC[:-1]
        outs = ENC[:-1] + [ENC[-1] + extra]
        return sum(9 * i * o + 2 * o for i, o in zip(ins, outs))  # bias-free 3x3 conv + BN (gamma, beta)

    dec_ins = [320] + DEC
    dec_outs = DEC + [c]
    dec = sum(9 * i * o for i, o in zip(dec_ins, dec_outs)) + sum(2 * o for o in DEC)  # last ConvT has no BN
    fc = (320 + np_ + nz) * 320 * 36 + 320 * 36
    g = trunk(1 if multi else 0) + fc + dec
    d = trunk(0) + 320 * (nd + 1) + (nd + 1) + 320 * np_ + np_
    return g, d


@pytest.mark.parametrize("name,multi", [("drgan", False), ("drgan_multi", True)])
@pytest.mark.parametrize("nc", [1, 3])
def test_parameter_counts(name: str, multi: bool, nc: int) -> None:
    with torch.device("meta"):
        model = ganzoo.create(f"{name}.multipie", nc=nc)
    g, d = _expected_counts(nc, 200, 13, 50, multi)
    assert model.num_parameters() == {"generator": g, "discriminator": d}


def test_parameter_counts_other_sizes() -> None:
    with torch.device("meta"):
        model = ganzoo.create("drgan.multipie", num_identities=10, num_poses=2, nz=7)
    g, d = _expected_counts(3, 10, 2, 7, False)
    assert model.num_parameters() == {"generator": g, "discriminator": d}
    # The paper's Multi-PIE single-image numbers, written out once as plain figures.
    assert _expected_counts(3, 200, 13, 50, False) == (10_147_008, 2_930_678)


# ---------------------------------------------------------------------------------------------------------------
# geometry
# ---------------------------------------------------------------------------------------------------------------
def test_encoder_decoder_feature_map_sizes(single: DRGAN) -> None:
    sizes: list[tuple[int, int]] = []
    hooks = [m.register_forward_hook(lambda m, i, o: sizes.append(tuple(o.shape[1:3])))
             for m in list(single.generator.encoder.layers) + list(single.generator.decoder)]
    try:
        with torch.no_grad():
            single(*single.sample_inputs(1))
    finally:
        for h in hooks:
            h.remove()
    enc = [(w, s) for w, s in zip(ENC, [96, 96, 48, 48, 48, 24, 24, 24, 12, 12, 12, 6, 6, 6])]
    dec = [(w, s) for w, s in zip(DEC + [3], [6, 6, 12, 12, 12, 24, 24, 24, 48, 48, 48, 96, 96, 96])]
    assert sizes == enc + dec


def test_stride2_padding_is_tf_same(single: DRGAN) -> None:
    """Encoder stride-2 convs pad right/bottom only; the stride-2 transposed convs are their adjoints, which is
    how TF defines conv2d_transpose with padding SAME (output 2n, cropped at the bottom/right)."""
    torch.manual_seed(0)
    enc_block = single.generator.encoder.layers[2]
    w = enc_block.conv.weight
    x = torch.randn(1, 64, 96, 96)
    # TF SAME for k3 s2 on 96: total padding max((48-1)*2 + 3 - 96, 0) = 1, all of it after.
    ref = F.conv2d(F.pad(x, (0, 1, 0, 1)), w, stride=2)
    with torch.no_grad():
        got = enc_block.conv(enc_block.pad(x))
    torch.testing.assert_close(got, ref)
    assert got.shape[-2:] == (48, 48)

    dec_block = single.generator.decoder[2]  # 256 -> 256, 6 -> 12
    wt = dec_block.conv.weight  # (in, out, 3, 3)
    g = torch.randn(1, 256, 6, 6)
    y = torch.zeros(1, 256, 12, 12, requires_grad=True)
    # conv2d_transpose(g) == d/dy <conv2d_same(y, W), g> with W laid out (out=in_t, in=out_t).
    (F.conv2d(F.pad(y, (0, 1, 0, 1)), wt, stride=2) * g).sum().backward()
    with torch.no_grad():
        got = dec_block.crop(dec_block.conv(g))
    torch.testing.assert_close(got, y.grad)


# ---------------------------------------------------------------------------------------------------------------
# API: shapes, ranges, pose encodings
# ---------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("nc", [1, 3])
def test_shapes_and_range(nc: int) -> None:
    torch.manual_seed(0)
    model = ganzoo.create("drgan.multipie", nc=nc).eval()
    image, pose, z = model.sample_inputs(2)
    assert image.shape == (2, nc, 96, 96) and pose.dtype == torch.int64 and z.shape == (2, 50)
    assert image.min() >= -1 and image.max() <= 1 and z.abs().max() <= 1
    assert pose.min() >= 0 and pose.max() < 13
    with torch.no_grad():
        f = model.encode(image)
        out = model(image, pose, z)
        ids, poses = model.discriminator(out)
    assert f.shape == (2, 320)
    assert out.shape == (2, nc, 96, 96) and out.abs().max() <= 1
    assert ids.shape == (2, 201) and poses.shape == (2, 13)
    torch.testing.assert_close(out, model.generate(f, pose, z))


def test_output_uses_full_tanh_range() -> None:
    """Scale the last layer up: the output saturates near +-1 but never leaves [-1, 1] (training mode, so BN
    normalises the activations that the N(0, 0.02) init would otherwise shrink)."""
    torch.manual_seed(0)
    model = ganzoo.create("drgan.multipie").train()
    with torch.no_grad():
        model.generator.decoder[-1].conv.weight.mul_(100)
        out = model(*model.sample_inputs(2))
    assert out.abs().max() <= 1 and out.abs().max() > 0.99


def test_registry_entries(single: DRGAN) -> None:
    assert ganzoo.list_models(family="drgan") == ["drgan", "drgan_multi"]
    assert ganzoo.model_info("drgan").pretrained_cfg.name == "drgan.heads"  # the default: the first with weights
    for name in ("drgan", "drgan_multi"):
        info = ganzoo.model_info(f"{name}.multipie")
        cfg, sp = info.pretrained_cfg, info.specs
        assert info.family == "drgan" and cfg.hub_id is None
        assert [s.name for s in sp.inputs] == ["image", "pose", "z"]
        assert sp.inputs[1].dtype == "int64" and sp.inputs[1].shape == ("B",)
        model = ganzoo.create(f"{name}.multipie").eval()
        inputs = model.sample_inputs(2)
        for spec, t in zip(sp.inputs, inputs):
            assert tuple(t.shape) == spec.resolve(B=2)
            assert spec.range[0] <= t.min() and t.max() <= spec.range[1]
        with torch.no_grad():
            out = model(*inputs)
        assert tuple(out.shape) == sp.outputs[0].resolve(B=2)
    assert ganzoo.model_info("drgan_multi.multipie").config["multi_image"] is True
    assert ganzoo.model_info("drgan.multipie").config["multi_image"] is False


def test_integer_and_onehot_pose_agree(single: DRGAN) -> None:
    image, pose, z = single.sample_inputs(3, generator=torch.Generator().manual_seed(3))
    onehot = torch.zeros(3, 13)
    onehot[torch.arange(3), pose] = 1
    with torch.no_grad():
        a = single(image, pose, z)
        b = single(image, onehot, z)
        c = single(image, (pose + 1) % 13, z)
    torch.testing.assert_close(a, b)
    assert not torch.allclose(a, c)  # the pose code reaches the output
    torch.testing.assert_close(pose_to_onehot(pose, 13), onehot)


def test_noise_reaches_output(single: DRGAN) -> None:
    image, pose, z = single.sample_inputs(2, generator=torch.Generator().manual_seed(4))
    with torch.no_grad():
        assert not torch.allclose(single(image, pose, z), single(image, pose, -z))


# ---------------------------------------------------------------------------------------------------------------
# multi-image fusion
# ---------------------------------------------------------------------------------------------------------------
def test_multi_fuse_is_confidence_weighted_mean() -> None:
    torch.manual_seed(0)
    multi = _randomize_(ganzoo.create("drgan_multi.multipie"))  # random BN statistics: features and confidences spread out
    with torch.no_grad():
        # Four images of different brightness per row (pooled features of pure noise images barely differ).
        level = torch.tensor([-0.8, -0.2, 0.3, 0.8]).view(1, 4, 1, 1, 1)
        images = (level + 0.2 * torch.rand(2, 4, 3, 96, 96)).clamp(-1, 1)
        fused = multi.fuse(images)
        per = [multi.generator.encode_with_confidence(images[:, i]) for i in range(4)]
        f = torch.stack([p[0] for p in per], 1)  # (2, 4, 320)
        w = torch.stack([p[1] for p in per], 1)  # (2, 4)
    assert fused.shape == (2, 320)
    assert ((w > 0) & (w < 1)).all() and (w.std(1) > 0).all()
    torch.testing.assert_close(fused, (f * w[..., None]).sum(1) / w.sum(1, keepdim=True))
    assert (fused - f.mean(1)).abs().max() > 1e-3 * fused.abs().max()  # not a plain average
    with torch.no_grad():  # order of the images does not matter; one image gives its own feature
        torch.testing.assert_close(multi.fuse(images[:, [3, 1, 0, 2]]), fused)
        torch.testing.assert_close(multi.fuse(images[:, :1]), f[:, 0])


def test_multi_forward_shapes(multi: DRGAN) -> None:
    images, pose, z = multi.sample_inputs(2)
    assert images.shape == (2, 3, 3, 96, 96)
    with torch.no_grad():
        out = multi(images, pose, z)
        ref = multi.generate(multi.fuse(images), pose, z)
    assert out.shape == (2, 3, 96, 96) and out.abs().max() <= 1
    torch.testing.assert_close(out, ref)
    assert multi.generator.encoder.layers[-1].conv.out_channels == 321
    assert multi.discriminator.encoder.layers[-1].conv.out_channels == 320


def test_single_model_fuse_averages(single: DRGAN) -> None:
    images = torch.rand(2, 3, 3, 96, 96) * 2 - 1
    with torch.no_grad():
        fused = single.fuse(images)
        ref = torch.stack([single.encode(images[:, i]) for i in range(3)], 1).mean(1)
    torch.testing.assert_close(fused, ref)


# ---------------------------------------------------------------------------------------------------------------
# bad input
# ---------------------------------------------------------------------------------------------------------------
def test_bad_inputs(single: DRGAN, multi: DRGAN) -> None:
    image, pose, z = single.sample_inputs(2)
    with pytest.raises(ValueError, match=r"\[0, 13\)"):
        single(image, torch.tensor([0, 13]), z)
    with pytest.raises(ValueError, match=r"\[0, 13\).*-1"):
        single(image, torch.tensor([-1, 2]), z)
    with pytest.raises(ValueError, match=r"shape \(B, 13\)"):
        single(image, torch.zeros(2, 12), z)
    with pytest.raises(ValueError, match=r"shape \(B,\)"):
        single(image, pose[:, None], z)
    with pytest.raises(ValueError, match="batch size 2"):
        single(image, pose[:1], z)
    with pytest.raises(TypeError, match="pose: expected a torch.Tensor"):
        single(image, [0, 1], z)
    with pytest.raises(TypeError, match="dtype torch.bool"):
        single(image, torch.tensor([True, False]), z)
    with pytest.raises(ValueError, match=r"z: expected shape \(B, 50\).*\(2, 49\)"):
        single(image, pose, z[:, :49])
    with pytest.raises(ValueError, match="z: expected batch size 2"):
        single(image, pose, z[:1])
    with pytest.raises(ValueError, match=r"spatial size \(96, 96\).*\(64, 64\)"):
        single(image[..., :64, :64], pose, z)
    with pytest.raises(ValueError, match="expected 3 channels"):
        single(image[:, :1], pose, z)
    with pytest.raises(TypeError, match="floating-point"):
        single((image * 100).long(), pose, z)
    with pytest.raises(TypeError, match="torch.Tensor"):
        single(image.numpy(), pose, z)
    with pytest.raises(ValueError, match=r"\(B, N, 3, 96, 96\)"):
        multi(image, pose, z)  # the multi-image model wants (B, N, C, H, W)
    with pytest.raises(ValueError, match=r"N >= 1 images per person"):
        multi(torch.zeros(2, 3, 1, 96, 96), pose, z)
    with pytest.raises(ValueError, match=r"identity feature of shape \(B, 320\)"):
        single.generate(torch.zeros(2, 321), pose, z)
    with pytest.raises(ValueError, match="size must be None"):
        single.sample_inputs(1, size=(64, 64))
    with pytest.raises(TypeError, match="not from noise alone"):
        single.sample(2)


def test_bad_config() -> None:
    with pytest.raises(ValueError, match="nc must be 1 or 3, got 2"):
        DRGANConfig(nc=2)
    with pytest.raises(ValueError, match="num_poses must be >= 1, got 0"):
        ganzoo.create("drgan.multipie", num_poses=0)
    with pytest.raises(ValueError, match="widths must be 14 positive ints"):
        DRGANConfig(widths=(32, 64))
    with pytest.raises(ValueError, match="use drgan_multi"):
        ganzoo.create("drgan.multipie", multi_image=True)
    with pytest.raises(ValueError, match="unknown field"):
        DRGANConfig.from_dict({"nc": 3, "np": 13})


# ---------------------------------------------------------------------------------------------------------------
# losses and training
# ---------------------------------------------------------------------------------------------------------------
def _ce(logits: torch.Tensor, labels: torch.Tensor) -> float:
    """Cross-entropy written out: mean of log(sum exp) - logit of the label."""
    total = 0.0
    for row, y in zip(logits.tolist(), labels.tolist()):
        total += math.log(sum(math.exp(v) for v in row)) - row[y]
    return total / len(labels)


def test_loss_helpers_on_tiny_tensors() -> None:
    torch.manual_seed(0)
    nd, np_ = 3, 2
    real_id, real_pose = torch.randn(4, nd + 1), torch.randn(4, np_)
    fake_id, fake_pose = torch.randn(4, nd + 1), torch.randn(4, np_)
    identity, pose, target = torch.tensor([0, 2, 1, 2]), torch.tensor([1, 0, 0, 1]), torch.tensor([0, 0, 1, 1])
    d = discriminator_loss(real_id, real_pose, fake_id, identity, pose)
    want_d = _ce(real_id, identity) + _ce(real_pose, pose) + _ce(fake_id, torch.full((4,), nd))
    assert d.item() == pytest.approx(want_d, rel=1e-5)
    g = generator_loss(fake_id, fake_pose, identity, target)
    assert g.item() == pytest.approx(_ce(fake_id, identity) + _ce(fake_pose, target), rel=1e-5)
    # A D that is sure and right has a small loss; the "fake" class is the last one.
    sure_fake = torch.full((4, nd + 1), -20.0)
    sure_fake[:, nd] = 20
    assert discriminator_loss(real_id, real_pose, sure_fake, identity, pose).item() == pytest.approx(
        _ce(real_id, identity) + _ce(real_pose, pose), abs=1e-6)
    with pytest.raises(ValueError, match=r"identity: class indices must be in \[0, 3\)"):
        discriminator_loss(real_id, real_pose, fake_id, torch.tensor([0, 3, 1, 1]), pose)  # 3 is the fake class
    with pytest.raises(ValueError, match=r"target_pose: class indices must be in \[0, 2\)"):
        generator_loss(fake_id, fake_pose, identity, torch.tensor([0, 2, 1, 1]))
    with pytest.raises(TypeError, match="integer class-index"):
        generator_loss(fake_id, fake_pose, identity.float(), target)
    with pytest.raises(ValueError, match=r"expected shape \(4,\)"):
        generator_loss(fake_id, fake_pose, identity[:3], target)


@pytest.mark.parametrize("name", ["drgan", "drgan_multi"])
def test_training_step_updates_both_networks(name: str) -> None:
    torch.manual_seed(0)
    model = ganzoo.create(f"{name}.multipie", num_identities=5, num_poses=3).train()
    cfg = model.config
    opt_d = torch.optim.Adam(model.discriminator.parameters(), lr=cfg.lr, betas=(cfg.beta1, 0.999))
    opt_g = torch.optim.Adam(model.generator.parameters(), lr=cfg.lr, betas=(cfg.beta1, 0.999))
    image, target_pose, z = model.sample_inputs(2)
    identity, real_pose = torch.tensor([1, 4]), torch.tensor([0, 2])
    real = image if image.dim() == 4 else image[:, 0]

    d_before = copy.deepcopy(model.discriminator.state_dict())
    fake = model(image, target_pose, z)
    rid, rpose = model.discriminator(real)
    fid, _ = model.discriminator(fake.detach())
    loss_d = discriminator_loss(rid, rpose, fid, identity, real_pose)
    opt_d.zero_grad()
    loss_d.backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.discriminator.parameters())
    opt_d.step()
    changed = [k for k, v in model.discriminator.state_dict().items() if not torch.equal(v, d_before[k])]
    assert "encoder.layers.0.conv.weight" in changed and "identity_head.weight" in changed

    g_before = copy.deepcopy(model.generator.state_dict())
    fid, fpose = model.discriminator(fake)
    loss_g = generator_loss(fid, fpose, identity, target_pose)
    opt_g.zero_grad()
    loss_g.backward()
    grads = {n: p.grad for n, p in model.generator.named_parameters()}
    assert all(g is not None and torch.isfinite(g).all() for g in grads.values())
    assert grads["encoder.layers.0.conv.weight"].abs().sum() > 0  # the loss reaches the encoder
    opt_g.step()
    after = model.generator.state_dict()
    assert not torch.equal(after["encoder.layers.0.conv.weight"], g_before["encoder.layers.0.conv.weight"])
    assert not torch.equal(after["fc.weight"], g_before["fc.weight"])
    assert not torch.equal(after["decoder.13.conv.weight"], g_before["decoder.13.conv.weight"])


@pytest.mark.slow
@pytest.mark.parametrize("name", ["drgan", "drgan_multi"])
def test_torch_compile_matches_eager(name: str) -> None:
    """fullgraph=True: no graph breaks (the data-dependent pose range check is skipped while compiling).
    Whole-graph capture is the point, so the aot_eager backend runs the captured graph (Inductor's C++ code
    generation for this generator took ~45 s on two CPU cores; tests/test_tgan.py and test_pggan_inpaint.py
    compile with Inductor itself)."""
    backend = "aot_eager"
    torch._dynamo.reset()
    model = _randomize_(ganzoo.create(f"{name}.multipie"))
    inputs = model.sample_inputs(1, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        eager = model.generator(*inputs)
        compiled = torch.compile(model.generator, fullgraph=True, backend=backend)(*inputs)
    assert eager.std() > 0.05
    torch.testing.assert_close(compiled, eager, atol=1e-4, rtol=1e-4)


# ---------------------------------------------------------------------------------------------------------------
# kayamin/DR-GAN converter, against modules rebuilt from model/single_DR_GAN_model.py and
# model/multiple_DR_GAN_model.py of that repository
# ---------------------------------------------------------------------------------------------------------------
class _Crop(nn.Module):
    def __init__(self, crop_list):
        super().__init__()
        self.crop_list = crop_list

    def forward(self, x):
        _, _, h, w = x.size()
        return x[:, :, self.crop_list[0]: h - self.crop_list[1], self.crop_list[2]: w - self.crop_list[3]]


def _kayamin_trunk(c: int, last: int) -> list[nn.Module]:
    spec = [(c, 32, 1), (32, 64, 1), (64, 64, 2), (64, 64, 1), (64, 128, 1), (128, 128, 2), (128, 96, 1),
            (96, 192, 1), (192, 192, 2), (192, 128, 1), (128, 256, 1), (256, 256, 2), (256, 160, 1), (160, last, 1)]
    layers: list[nn.Module] = []
    for i, o, s in spec:
        if s == 2:
            layers += [nn.ZeroPad2d((0, 1, 0, 1)), nn.Conv2d(i, o, 3, 2, 0, bias=False)]
        else:
            layers.append(nn.Conv2d(i, o, 3, 1, 1, bias=False))
        layers += [nn.BatchNorm2d(o), nn.ELU()]
    return layers + [nn.AvgPool2d(6, stride=1)]


class _KayaminD(nn.Module):
    def __init__(self, nd: int, np_: int, c: int):
        super().__init__()
        self.convLayers = nn.Sequential(*_kayamin_trunk(c, 320))
        self.fc = nn.Linear(320, nd + 1 + np_)

    def forward(self, x):
        return self.fc(self.convLayers(x).squeeze(2).squeeze(2))


class _KayaminG(nn.Module):
    def __init__(self, np_: int, nz: int, c: int, images_per_id: int | None = None):
        super().__init__()
        self.n = images_per_id
        self.G_enc_convLayers = nn.Sequential(*_kayamin_trunk(c, 321 if images_per_id else 320))
        spec = [(320, 160, 1), (160, 256, 1), (256, 256, 2), (256, 128, 1), (128, 192, 1), (192, 192, 2),
                (192, 96, 1), (96, 128, 1), (128, 128, 2), (128, 64, 1), (64, 64, 1), (64, 64, 2), (64, 32, 1)]
        dec: list[nn.Module] = []
        for i, o, s in spec:
            dec += [nn.ConvTranspose2d(i, o, 3, s, 1 if s == 1 else 0, bias=False), nn.BatchNorm2d(o), nn.ELU()]
            if s == 2:
                dec.append(_Crop([0, 1, 0, 1]))
        dec += [nn.ConvTranspose2d(32, c, 3, 1, 1, bias=False), nn.Tanh()]
        self.G_dec_convLayers = nn.Sequential(*dec)
        self.G_dec_fc = nn.Linear(320 + np_ + nz, 320 * 6 * 6)

    def forward(self, x, pose, noise):
        x = self.G_enc_convLayers(x)
        if self.n:  # WSum_feature
            feats = x[:, :-1].split(self.n, 0)
            weights = x[:, -1].unsqueeze(1).sigmoid().split(self.n, 0)
            x = torch.cat([(f * w).sum(0, keepdim=True) / w.sum(0) for f, w in zip(feats, weights)])
        x = x.squeeze(2).squeeze(2)
        x = self.G_dec_fc(torch.cat([x, pose, noise], 1))
        return self.G_dec_convLayers(x.view(-1, 320, 6, 6))


def _randomize_(module: nn.Module) -> nn.Module:
    """Kaiming-normal convs, random BN statistics and affine, random biases; eval mode. (With the N(0, 0.02) init,
    or PyTorch's default one, eval-mode activations shrink layer after layer and the features barely depend on
    the input, which would make comparisons weak.)"""
    g = torch.Generator().manual_seed(123)
    with torch.no_grad():
        for m in module.modules():
            if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d)):
                nn.init.kaiming_normal_(m.weight, generator=g)
            elif isinstance(m, nn.BatchNorm2d):
                m.weight.copy_(1 + 0.2 * torch.randn(m.weight.shape, generator=g))
                m.bias.copy_(0.1 * torch.randn(m.bias.shape, generator=g))
                m.running_mean.copy_(0.1 * torch.randn(m.running_mean.shape, generator=g))
                m.running_var.copy_(0.5 + torch.rand(m.running_var.shape, generator=g))
                m.num_batches_tracked.fill_(7)
            elif isinstance(m, nn.Linear) and m.bias is not None:
                m.bias.copy_(0.1 * torch.randn(m.bias.shape, generator=g))
    return module.eval()


def _save(tmp_path, sd: dict, name: str):
    path = tmp_path / name
    torch.save(sd, path)
    return path


@pytest.mark.parametrize("nc", [1, 3])
def test_kayamin_single_converter(tmp_path, nc: int) -> None:
    torch.manual_seed(0)
    ref_g, ref_d = _randomize_(_KayaminG(13, 50, nc)), _randomize_(_KayaminD(200, 13, nc))
    # Separate G and D files, as kayamin saves them; round trip through torch.save + allow_pickle=True.
    sd_g = convert_checkpoint(_save(tmp_path, ref_g.state_dict(), "G.pt"), family="drgan", allow_pickle=True)
    sd_d = convert_checkpoint(_save(tmp_path, ref_d.state_dict(), "D.pt"), family="drgan", allow_pickle=True)
    assert all(k.startswith("generator.") for k in sd_g) and all(k.startswith("discriminator.") for k in sd_d)
    save_safetensors({**sd_g, **sd_d}, tmp_path / "converted.safetensors")  # no tensors sharing storage
    model = ganzoo.create("drgan.multipie", nc=nc)
    load_converted(model, sd_g)
    load_converted(model, sd_d)
    model.eval()
    for k, v in {**sd_g, **sd_d}.items():
        assert torch.equal(model.state_dict()[k], v), k

    # Compare in float64: 28 layers with Kaiming weights amplify float32 rounding (different memory layouts take
    # different conv kernels) to ~1e-4, which would hide nothing but would force a loose tolerance.
    model, ref_g, ref_d = model.double(), ref_g.double(), ref_d.double()
    image, pose, z = model.sample_inputs(2, generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    onehot = pose_to_onehot(pose, 13, dtype=torch.float64)
    with torch.no_grad():
        want = ref_g(image, onehot, z)
        got = model(image, pose, z)
        assert want.std() > 0.05  # a real signal, not a saturated or constant output
        torch.testing.assert_close(got, want, atol=1e-10, rtol=1e-9)
        ids, poses = model.discriminator(got)
        full = ref_d(got)
    torch.testing.assert_close(ids, full[:, :201], atol=1e-10, rtol=1e-9)
    torch.testing.assert_close(poses, full[:, 201:], atol=1e-10, rtol=1e-9)


def test_kayamin_multi_converter(tmp_path) -> None:
    torch.manual_seed(0)
    ref_g = _randomize_(_KayaminG(13, 50, 3, images_per_id=3))
    sd, layout = convert_state_dict(ref_g.state_dict())
    assert layout == "drgan/kayamin"
    model = ganzoo.create("drgan_multi.multipie")
    load_converted(model, sd)
    model, ref_g = model.eval().double(), ref_g.double()
    images, pose, z = model.sample_inputs(2, generator=torch.Generator().manual_seed(6), dtype=torch.float64)
    with torch.no_grad():
        want = ref_g(images.reshape(6, 3, 96, 96), pose_to_onehot(pose, 13, dtype=torch.float64), z)
        got = model(images, pose, z)
    assert want.std() > 0.05
    torch.testing.assert_close(got, want, atol=1e-10, rtol=1e-9)
    with pytest.raises(StateDictMismatchError, match="wrong shape"):  # 321-channel conv53 is not single-image
        load_converted(ganzoo.create("drgan.multipie"), sd)


def test_kayamin_discriminator_pose_count(tmp_path) -> None:
    ref_d = _randomize_(_KayaminD(20, 5, 3))
    sd = ref_d.state_dict()
    # Alone, Np defaults to 13 (Multi-PIE): the split then disagrees with a Np=5 model and cannot load silently.
    with pytest.raises(StateDictMismatchError, match="identity_head"):
        load_converted(ganzoo.create("drgan.multipie", num_identities=20, num_poses=5), convert_state_dict(sd)[0])
    model = ganzoo.create("drgan.multipie", num_identities=20, num_poses=5)
    load_converted(model, convert_kayamin_drgan(sd, num_poses=5))
    # With the generator in the same dict, Np comes from G_dec_fc (320 + Np + 50 inputs).
    both = {**_randomize_(_KayaminG(5, 50, 3)).state_dict(), **sd}
    merged = convert_state_dict(both)[0]
    assert merged["discriminator.pose_head.weight"].shape == (5, 320)
    load_converted(ganzoo.create("drgan.multipie", num_identities=20, num_poses=5), merged)
    x = torch.rand(2, 3, 96, 96, dtype=torch.float64) * 2 - 1
    with torch.no_grad():
        ids, poses = model.eval().double().discriminator(x)
        full = ref_d.double()(x)
    torch.testing.assert_close(torch.cat([ids, poses], 1), full, atol=1e-10, rtol=1e-9)


def test_kayamin_converter_rejects_other_layouts() -> None:
    sd = _KayaminG(13, 50, 3).state_dict()
    broken = {k: v for k, v in sd.items() if not k.startswith("G_enc_convLayers.3.")}  # drop conv12
    with pytest.raises(UnknownCheckpointLayoutError, match="13 convs and 14 BatchNorms; the DR-GAN CVPR layout"):
        convert_state_dict(broken, family="drgan")
    with pytest.raises(UnknownCheckpointLayoutError, match="not a kayamin/DR-GAN state dict"):
        convert_kayamin_drgan({"main.0.weight": torch.zeros(1)})
