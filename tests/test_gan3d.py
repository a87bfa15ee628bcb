"""3D-GAN (Wu et al. 2016): layer-table parameter counts, shapes, input errors, training step, torch.compile and
the rimchang/3DGAN-Pytorch converter (checked against an independent re-implementation of that port's modules)."""
from __future__ import annotations

import logging

import pytest
import torch
from torch import nn

import ganzoo
from ganzoo.errors import PickleNotAllowedError, StateDictMismatchError, UnknownCheckpointLayoutError
from ganzoo.hub.converters import convert_checkpoint, convert_state_dict, load_converted
from ganzoo.models.gan3d import GAN3DConfig, discriminator_accuracy, should_update_discriminator

K3 = 4 ** 3  # every conv of the table is 4x4x4


def _meta(name: str, **kw):
    with torch.device("meta"):
        return ganzoo.create(name, **kw)


def _tiny(**kw):
    """gan3d_32 at 1/8 width: cheap enough for training and compile tests."""
    kw = {"ngf": 8, "ndf": 8, **kw}
    return ganzoo.create("gan3d_32", **kw)


# --- parameter counts from the layer table ----------------------------------------------------------------------

def test_param_counts_64_from_layer_table():
    # G: ConvT3d 200->512, 512->256, 256->128, 128->64, 64->1 (no biases); BN (gamma, beta) after the first four.
    g_convs = 200 * 512 * K3 + 512 * 256 * K3 + 256 * 128 * K3 + 128 * 64 * K3 + 64 * 1 * K3
    g_bn = 2 * (512 + 256 + 128 + 64)
    # D: Conv3d 1->64, 64->128, 128->256, 256->512, 512->1 (no biases); BN after all but the first conv and the last.
    d_convs = 1 * 64 * K3 + 64 * 128 * K3 + 128 * 256 * K3 + 256 * 512 * K3 + 512 * 1 * K3
    d_bn = 2 * (128 + 256 + 512)
    assert g_convs + g_bn == 17_569_664
    assert d_convs + d_bn == 11_048_704
    assert _meta("gan3d").num_parameters() == {"generator": g_convs + g_bn, "discriminator": d_convs + d_bn}


def test_param_counts_32_variant_and_options():
    # 32^3: one fewer stride-2 block: G 200->256->128->64->1, D 1->64->128->256->1.
    g = 200 * 256 * K3 + 256 * 128 * K3 + 128 * 64 * K3 + 64 * 1 * K3 + 2 * (256 + 128 + 64)
    d = 1 * 64 * K3 + 64 * 128 * K3 + 128 * 256 * K3 + 256 * 1 * K3 + 2 * (128 + 256)
    assert _meta("gan3d_32").num_parameters() == {"generator": g, "discriminator": d}
    # conv_bias adds one bias per output channel of every conv; d_first_norm adds BN(64) to D.
    m = _meta("gan3d", conv_bias=True, d_first_norm=True)
    g64 = 17_569_664 + (512 + 256 + 128 + 64 + 1)
    d64 = 11_048_704 + (64 + 128 + 256 + 512 + 1) + 2 * 64
    assert m.num_parameters() == {"generator": g64, "discriminator": d64}


def test_discriminator_norm_placement():
    d = _meta("gan3d").discriminator.main
    norms = [type(block[1]).__name__ for block in d]
    assert norms == ["Identity", "BatchNorm3d", "BatchNorm3d", "BatchNorm3d", "Identity"]
    slopes = [block[2].negative_slope for block in list(d)[:-1]]
    assert slopes == [0.2] * 4
    d2 = _meta("gan3d", d_first_norm=True).discriminator.main
    assert type(d2[0][1]).__name__ == "BatchNorm3d"
    # Generator: BN + ReLU on every layer but the last, Sigmoid last, kernel/stride/padding per the table.
    g = _meta("gan3d").generator.main
    assert [(b[0].kernel_size, b[0].stride, b[0].padding) for b in g] == \
        [((4, 4, 4), (1, 1, 1), (0, 0, 0))] + [((4, 4, 4), (2, 2, 2), (1, 1, 1))] * 4
    assert [b[0].out_channels for b in g] == [512, 256, 128, 64, 1]
    assert isinstance(g[-1][2], nn.Sigmoid) and all(isinstance(b[2], nn.ReLU) for b in list(g)[:-1])
    assert all(b[0].bias is None for b in g)


# --- shapes, ranges, inputs -------------------------------------------------------------------------------------

def test_64_forward_shape_and_range_once():
    torch.manual_seed(0)
    m = ganzoo.create("gan3d").eval()
    with torch.no_grad():
        out = m(torch.rand(1, 200))
        logits = m.discriminator(out)
    assert out.shape == (1, 1, 64, 64, 64)
    assert out.min() >= 0 and out.max() <= 1 and out.std() > 0
    assert logits.shape == (1,)


def test_32_shapes_and_latent_layouts():
    torch.manual_seed(0)
    m = _tiny().eval()
    z = torch.rand(2, 200)
    with torch.no_grad():
        a = m(z)
        b = m(z.view(2, 200, 1, 1, 1))
        logits = m.discriminator(a)
    assert a.shape == (2, 1, 32, 32, 32)
    torch.testing.assert_close(a, b, rtol=0, atol=0)
    assert logits.shape == (2,)
    assert not torch.equal(a[0], a[1])


def test_sample_inputs_is_uniform_01():
    m = _meta("gan3d_32")
    (z,) = m.sample_inputs(4000, generator=torch.Generator().manual_seed(0), device="cpu")
    assert z.shape == (4000, 200) and z.device.type == "cpu"
    assert z.min() >= 0 and z.max() < 1
    assert abs(z.mean().item() - 0.5) < 0.01 and abs(z.var().item() - 1 / 12) < 0.005
    (z2,) = m.sample_inputs(4000, generator=torch.Generator().manual_seed(0), device="cpu")
    assert torch.equal(z, z2)
    with pytest.raises(ValueError, match="fixed output size .*size must be None"):
        m.sample_inputs(1, size=(32, 32, 32))


def test_generator_input_errors():
    m = _tiny()
    with pytest.raises(ValueError, match=r"expected shape \(B, 200\).*got \(2, 100\)"):
        m(torch.rand(2, 100))
    with pytest.raises(ValueError, match=r"got \(2, 200, 2, 1, 1\)"):
        m(torch.rand(2, 200, 2, 1, 1))
    with pytest.raises(TypeError, match="expected a torch.Tensor.*got ndarray"):
        m(torch.rand(2, 200).numpy())
    with pytest.raises(TypeError, match="floating-point.*torch.int64"):
        m(torch.ones(2, 200, dtype=torch.long))


def test_discriminator_input_errors():
    d = _tiny().discriminator
    with pytest.raises(ValueError, match=r"expected spatial size \(32, 32, 32\), got \(64, 64, 64\)"):
        d(torch.rand(1, 1, 64, 64, 64))
    with pytest.raises(ValueError, match=r"expected 1 channels.*got 3"):
        d(torch.rand(1, 3, 32, 32, 32))
    with pytest.raises(ValueError, match=r"expected a 5-d tensor.*got shape \(1, 32, 32, 32\)"):
        d(torch.rand(1, 32, 32, 32))


def test_config_fields_and_validation():
    c = GAN3DConfig()
    assert (c.nz, c.ngf, c.ndf, c.volume_size, c.leaky_slope, c.conv_bias) == (200, 64, 64, 64, 0.2, False)
    assert (c.lr_g, c.lr_d, c.beta1, c.batch_size, c.d_acc_threshold) == (2.5e-3, 1e-5, 0.5, 100, 0.8)
    assert GAN3DConfig.from_dict(c.to_dict()) == c
    with pytest.raises(ValueError, match="volume_size must be one of 16, 32, 64, 128, got 48"):
        GAN3DConfig(volume_size=48)
    with pytest.raises(ValueError, match="d_acc_threshold must be in \\[0, 1\\], got 1.5"):
        GAN3DConfig(d_acc_threshold=1.5)
    with pytest.raises(ValueError, match="lr_d must be > 0, got 0"):
        GAN3DConfig(lr_d=0)


def test_discriminator_accuracy_rule():
    real = torch.tensor([2.0, 0.5, -1.0, 0.0])   # 3 of 4 classified real (logit >= 0)
    fake = torch.tensor([-3.0, 1.0, -0.1, -2.0])  # 3 of 4 classified fake (logit < 0)
    assert discriminator_accuracy(real, fake).item() == pytest.approx(6 / 8)
    assert should_update_discriminator(real, fake, 0.8) is True
    assert should_update_discriminator(real, fake, 0.7) is False
    assert should_update_discriminator(torch.ones(4), -torch.ones(4)) is False  # 100% > 80%: skip the D step
    with pytest.raises(ValueError, match=r"expected shape \(B,\), got \(4, 1\)"):
        discriminator_accuracy(real[:, None], fake)


def test_registry_metadata():
    assert ganzoo.list_models(family="gan3d") == ["gan3d", "gan3d_32"]
    info = ganzoo.model_info("gan3d")
    cfg, sp = info.pretrained_cfg, info.specs
    assert info.family == "gan3d" and info.tag == "chair"
    assert sp.outputs[0].resolve(B=2) == (2, 1, 64, 64, 64) and sp.outputs[0].range == (0.0, 1.0)
    assert sp.inputs[0].resolve(B=2) == (2, 200) and sp.inputs[0].range == (0.0, 1.0)
    assert sp.latent_dim == 200 and not cfg.has_weights
    assert ganzoo.model_info("gan3d_32").specs.outputs[0].resolve(B=1) == (1, 1, 32, 32, 32)
    assert info.config["lr_g"] == 2.5e-3 and info.config["volume_size"] == 64


# --- training ---------------------------------------------------------------------------------------------------

def test_training_step_updates_g_and_d():
    torch.manual_seed(0)
    m = _tiny().train()
    c = m.config
    opt_g = torch.optim.Adam(m.generator.parameters(), lr=c.lr_g, betas=(c.beta1, 0.999))
    opt_d = torch.optim.Adam(m.discriminator.parameters(), lr=c.lr_d, betas=(c.beta1, 0.999))
    bce = nn.functional.binary_cross_entropy_with_logits
    real = (torch.rand(2, 1, 32, 32, 32) > 0.7).float()
    (z,) = m.sample_inputs(2)

    d0 = [p.detach().clone() for p in m.discriminator.parameters()]
    fake = m(z)
    lr_, lf_ = m.discriminator(real), m.discriminator(fake.detach())
    d_loss = bce(lr_, torch.ones_like(lr_)) + bce(lf_, torch.zeros_like(lf_))
    opt_d.zero_grad()
    d_loss.backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in m.discriminator.parameters())
    opt_d.step()
    assert all(not torch.equal(a, p) for a, p in zip(d0, m.discriminator.parameters()))

    g0 = [p.detach().clone() for p in m.generator.parameters()]
    lf = m.discriminator(m(z))
    g_loss = bce(lf, torch.ones_like(lf))
    opt_g.zero_grad()
    g_loss.backward()
    assert torch.isfinite(g_loss)
    opt_g.step()
    assert all(not torch.equal(a, p) for a, p in zip(g0, m.generator.parameters()))


@pytest.mark.slow
def test_torch_compile_fullgraph_matches_eager():
    torch.manual_seed(0)
    m = _tiny(ngf=4, ndf=4).eval()
    z = torch.rand(2, 200)
    with torch.no_grad():
        ref = m(z)
        compiled = torch.compile(m.generator, fullgraph=True)
        out = compiled(z)
    torch.testing.assert_close(out, ref, rtol=1e-4, atol=1e-5)


# --- converter: rimchang/3DGAN-Pytorch --------------------------------------------------------------------------

class _PortG(nn.Module):
    """The port's _G (cube_len 64) re-written here, widths scaled by ``w`` (the port uses w = 64)."""

    def __init__(self, w: int, nz: int = 200):
        super().__init__()
        self.nz = nz

        def blk(cin, cout, s, p, last=False):
            mods = [nn.ConvTranspose3d(cin, cout, 4, s, p, bias=False)]
            mods += [nn.Sigmoid()] if last else [nn.BatchNorm3d(cout), nn.ReLU()]
            return nn.Sequential(*mods)

        self.layer1 = blk(nz, w * 8, 2, 0)  # the port uses stride 2 here; on a 1^3 input it equals stride 1
        self.layer2 = blk(w * 8, w * 4, 2, 1)
        self.layer3 = blk(w * 4, w * 2, 2, 1)
        self.layer4 = blk(w * 2, w, 2, 1)
        self.layer5 = blk(w, 1, 2, 1, last=True)

    def forward(self, z):
        x = z.view(-1, self.nz, 1, 1, 1)
        return self.layer5(self.layer4(self.layer3(self.layer2(self.layer1(x)))))


class _PortD(nn.Module):
    """The port's _D (cube_len 64): BN after every conv including the first, Sigmoid at the end."""

    def __init__(self, w: int):
        super().__init__()

        def blk(cin, cout):
            return nn.Sequential(nn.Conv3d(cin, cout, 4, 2, 1, bias=False), nn.BatchNorm3d(cout), nn.LeakyReLU(0.2))

        self.layer1 = blk(1, w)
        self.layer2 = blk(w, w * 2)
        self.layer3 = blk(w * 2, w * 4)
        self.layer4 = blk(w * 4, w * 8)
        self.layer5 = nn.Sequential(nn.Conv3d(w * 8, 1, 4, 2, 0, bias=False), nn.Sigmoid())

    def forward(self, x):
        return self.layer5(self.layer4(self.layer3(self.layer2(self.layer1(x)))))


def _randomise_bn(module: nn.Module) -> None:
    with torch.no_grad():
        for m in module.modules():
            if isinstance(m, nn.BatchNorm3d):
                m.running_mean.uniform_(-0.2, 0.2)
                m.running_var.uniform_(0.5, 1.5)
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.2, 0.2)


def test_converter_port_generator_and_discriminator_match(tmp_path):
    torch.manual_seed(0)
    w = 4
    port_g, port_d = _PortG(w).eval(), _PortD(w).eval()
    _randomise_bn(port_g)
    _randomise_bn(port_d)
    torch.save(port_g.state_dict(), tmp_path / "G.pth")
    torch.save({"epoch": 3, "state_dict": port_d.state_dict()}, tmp_path / "D.pth")

    with pytest.raises(PickleNotAllowedError, match="allow_pickle=True"):
        convert_checkpoint(tmp_path / "G.pth", family="gan3d")
    sd_g = convert_checkpoint(tmp_path / "G.pth", family="gan3d", allow_pickle=True)
    sd_d = convert_checkpoint(tmp_path / "D.pth", family="gan3d", allow_pickle=True)
    assert all(k.startswith("generator.main.") for k in sd_g)
    assert all(k.startswith("discriminator.main.") for k in sd_d)
    assert "generator.main.4.0.weight" in sd_g and "discriminator.main.0.1.running_var" in sd_d

    model = ganzoo.create("gan3d", ngf=w, ndf=w, d_first_norm=True)
    load_converted(model, {**sd_g, **sd_d})
    model.eval()
    z = torch.rand(2, 200)
    with torch.no_grad():
        ref = port_g(z)
        out = model(z)
        torch.testing.assert_close(out, ref, rtol=1e-5, atol=1e-6)
        vol = (torch.rand(2, 1, 64, 64, 64) > 0.6).float()
        torch.testing.assert_close(torch.sigmoid(model.discriminator(vol)), port_d(vol).flatten(), rtol=1e-5,
                                   atol=1e-6)


def test_converter_own_model_roundtrip_and_old_checkpoints(tmp_path):
    torch.manual_seed(1)
    src = ganzoo.create("gan3d", ngf=4, ndf=4).eval()
    _randomise_bn(src)
    # ganzoo's generator.main.{i}.{0,1}.* renamed to the port's layer{i+1}.{0,1}.*; old PyTorch had no BN counter.
    port = {f"layer{int(k.split('.')[2]) + 1}.{'.'.join(k.split('.')[3:])}": v
            for k, v in src.state_dict().items() if k.startswith("generator.") and "num_batches" not in k}
    torch.save({"module." + k: v for k, v in port.items()}, tmp_path / "G_old.pth")
    sd, layout = convert_state_dict(torch.load(tmp_path / "G_old.pth", weights_only=True))
    assert layout == "gan3d/rimchang-3dgan-pytorch"
    dst = ganzoo.create("gan3d", ngf=4, ndf=4)
    load_converted(dst, sd)
    dst.eval()
    z = torch.rand(1, 200)
    with torch.no_grad():
        torch.testing.assert_close(dst(z), src(z), rtol=0, atol=0)


def test_converter_errors(tmp_path):
    torch.manual_seed(0)
    port_d = _PortD(4)
    sd_d = convert_checkpoint(port_d.state_dict(), family="gan3d")
    # The port's D has BN after its first conv: without d_first_norm=True the model has no slot for it.
    with pytest.raises(StateDictMismatchError, match=r"unexpected .*discriminator\.main\.0\.1\.running_mean"):
        load_converted(ganzoo.create("gan3d", ngf=4, ndf=4), sd_d)
    # Keys that look like the layout but hold 2-d convs are refused by the converter.
    fake = {f"layer{i}.0.weight": torch.zeros(8, 8, 4, 4) for i in range(1, 6)}
    with pytest.raises(UnknownCheckpointLayoutError, match=r"layer1\.0\.weight: expected a 5-d"):
        convert_state_dict(fake, family="gan3d")
    # Not the layout at all (ResNet-like names).
    with pytest.raises(UnknownCheckpointLayoutError, match="unrecognised checkpoint layout"):
        convert_state_dict({"layer1.0.conv1.weight": torch.zeros(1)}, family="gan3d")


def test_converter_warns_about_cube_len_32_lookalike(caplog):
    sd = _PortG(32).state_dict()  # 256 wide first layer: same shapes as the port's --cube_len 32 generator
    with caplog.at_level(logging.WARNING, logger="ganzoo.hub.converters.gan3d"):
        out, _ = convert_state_dict(sd, family="gan3d")
    assert "cube_len 32" in caplog.text
    assert out["generator.main.0.0.weight"].shape == (200, 256, 4, 4, 4)
