"""TGAN: layer arithmetic, frame geometry, weight sharing across frames, singular value clipping, WGAN losses,
training, compile, and the converter for the Zasder3 PyTorch port checked against modules rebuilt from its source."""
from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

import ganzoo
from ganzoo.errors import UnknownCheckpointLayoutError
from ganzoo.hub.converters import convert_state_dict, load_converted
from ganzoo.hub.converters.tgan import convert_zasder3_tgan, load_zasder3_checkpoint
from ganzoo.models.tgan import (
    TGAN,
    TGANConfig,
    singular_value_clip_,
    wgan_discriminator_loss,
    wgan_generator_loss,
)

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def model() -> TGAN:
    torch.manual_seed(0)
    return ganzoo.create("tgan").eval()


# ---------------------------------------------------------------------------------------------------------------
# parameter counts from the layer table (independent of the model code)
# ---------------------------------------------------------------------------------------------------------------
def test_parameter_counts() -> None:
    g0 = (100 * 512 * 1 + 512) + 2 * 512  # ConvT1d k1 (with bias, as both references) + BN
    g0 += (512 * 256 * 4 + 256) + 2 * 256
    g0 += (256 * 128 * 4 + 128) + 2 * 128
    g0 += (128 * 128 * 4 + 128) + 2 * 128
    g0 += 128 * 100 * 4 + 100  # last: tanh, no BN
    g1 = 2 * (100 * 4096 + 2 * 4096)  # slow and fast Linear (no bias) + BN1d
    for cin, cout in ((512, 256), (256, 128), (128, 64), (64, 32)):
        g1 += cin * cout * 16 + 2 * cout  # ConvT2d 4x4 bias-free + BN
    g1 += 32 * 3 * 9 + 3  # 3x3 conv with bias
    d = 3 * 64 * 64 + 64  # Conv3d 4x4x4 with bias, no BN
    for cin, cout in ((64, 128), (128, 256), (256, 512)):
        d += cin * cout * 64 + cout + 2 * cout
    d += 512 * 16 + 1  # Conv2d k4 -> 1
    with torch.device("meta"):
        m = ganzoo.create("tgan")
    assert m.num_parameters() == {"generator": g0 + g1, "discriminator": d}
    assert (g0 + g1, d) == (4_449_159, 11_033_281)


# ---------------------------------------------------------------------------------------------------------------
# shapes, frame geometry, weight sharing
# ---------------------------------------------------------------------------------------------------------------
def test_shapes_and_range(model: TGAN) -> None:
    (z,) = model.sample_inputs(2, generator=torch.Generator().manual_seed(0))
    assert z.shape == (2, 100) and z.min() >= -1 and z.max() <= 1 and z.min() < 0 < z.max()
    with torch.no_grad():
        codes = model.generator.frame_codes(z)
        video = model(z)
        scores = model.discriminator(video)
    assert codes.shape == (2, 16, 100) and codes.abs().max() <= 1
    assert video.shape == (2, 3, 16, 64, 64) and video.abs().max() <= 1
    assert scores.shape == (2,)


def test_temporal_lengths() -> None:
    """k1 on length 1 keeps length 1; each 4/2/1 transposed conv doubles it: 1, 1, 2, 4, 8, 16."""
    m = ganzoo.create("tgan").eval()
    lengths: list[int] = []
    hooks = [layer.register_forward_hook(lambda mod, i, o: lengths.append(o.shape[-1]))
             for layer in m.generator.temporal.main if isinstance(layer, nn.ConvTranspose1d)]
    with torch.no_grad():
        m.generator.frame_codes(torch.zeros(1, 100))
    for h in hooks:
        h.remove()
    assert lengths == [1, 2, 4, 8, 16]


def test_frames_share_the_image_generator() -> None:
    """In eval mode frame t depends only on (z0, z1^t): rendering one frame code alone gives the same frame."""
    torch.manual_seed(0)
    m = _randomize_(ganzoo.create("tgan"))
    (z,) = m.sample_inputs(2, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        z1 = m.generator.frame_codes(z)
        video = m(z)
        for t in (0, 7, 15):
            torch.testing.assert_close(m.generator.render(z, z1[:, t:t + 1])[:, :, 0], video[:, :, t])
        assert (video[:, :, 0] - video[:, :, 15]).abs().max() > 1e-3  # frames do differ over time


def test_output_saturates_within_range() -> None:
    torch.manual_seed(0)
    m = ganzoo.create("tgan").train()
    with torch.no_grad():
        m.generator.image.main[-2].weight.mul_(1000)
        video = m(*m.sample_inputs(2))
    assert video.abs().max() <= 1 and video.abs().max() > 0.99


def test_registry_entry(model: TGAN) -> None:
    assert ganzoo.list_models(family="tgan") == ["tgan"]
    info = ganzoo.model_info("tgan")
    cfg, sp = info.pretrained_cfg, info.specs
    assert cfg.hub_id is None and sp.latent_dim == 100
    (z,) = model.sample_inputs(2)
    assert tuple(z.shape) == sp.inputs[0].resolve(B=2)
    with torch.no_grad():
        assert tuple(model(z).shape) == sp.outputs[0].resolve(B=2)
    assert info.config["lr"] == 5e-5 and info.config["batch_size"] == 32 and info.config["svc_every"] == 5


# ---------------------------------------------------------------------------------------------------------------
# bad input
# ---------------------------------------------------------------------------------------------------------------
def test_bad_inputs(model: TGAN) -> None:
    with pytest.raises(ValueError, match=r"z: expected shape \(B, 100\).*\(2, 99\)"):
        model(torch.zeros(2, 99))
    with pytest.raises(TypeError, match="floating-point"):
        model(torch.zeros(2, 100, dtype=torch.long))
    with pytest.raises(TypeError, match="torch.Tensor"):
        model([0.0] * 100)
    with pytest.raises(ValueError, match=r"spatial size \(16, 64, 64\).*\(8, 64, 64\)"):
        model.discriminator(torch.zeros(1, 3, 8, 64, 64))
    with pytest.raises(ValueError, match="expected a 5-d tensor"):
        model.discriminator(torch.zeros(1, 3, 64, 64))
    with pytest.raises(ValueError, match=r"z1: expected frame codes \(2, T, 100\)"):
        model.generator.render(torch.zeros(2, 100), torch.zeros(2, 16, 50))
    with pytest.raises(ValueError, match="size must be None"):
        model.sample_inputs(1, size=(32, 32))


def test_bad_config() -> None:
    with pytest.raises(ValueError, match=r"temporal_widths must be 4 positive ints.*\(512, 256\)"):
        TGANConfig(temporal_widths=(512, 256))
    with pytest.raises(ValueError, match="g_widths\\[0\\].*even, got 511"):
        TGANConfig(g_widths=(511, 256, 128, 64, 32))
    with pytest.raises(ValueError, match="z_dim must be >= 1, got 0"):
        ganzoo.create("tgan", z_dim=0)


# ---------------------------------------------------------------------------------------------------------------
# singular value clipping and WGAN training
# ---------------------------------------------------------------------------------------------------------------
def _weights(d: nn.Module) -> dict[str, torch.Tensor]:
    return {n: p for n, p in d.named_parameters() if p.dim() >= 2}


def _sigmas(w: torch.Tensor) -> torch.Tensor:
    return torch.linalg.svdvals(w.detach().reshape(w.shape[0], -1).double())


def test_singular_value_clipping() -> None:
    torch.manual_seed(0)
    d = ganzoo.create("tgan", d_widths=(8, 16, 32, 64)).discriminator
    with torch.no_grad():
        for p in _weights(d).values():
            p.mul_(30)
        d.main[0].weight[:4].mul_(1e-3)  # some singular values stay below 1
        bns = [m for m in d.modules() if isinstance(m, nn.BatchNorm3d)]
        for bn in bns:
            bn.running_var.uniform_(0.25, 4.0)
            bn.weight.copy_(torch.randn(bn.weight.shape) * 3)
    before = {n: _sigmas(p) for n, p in _weights(d).items()}
    assert len(before) == 5 and all(s.max() > 1 for s in before.values())
    gammas = [bn.weight.detach().clone() for bn in bns]

    singular_value_clip_(d)

    for n, p in _weights(d).items():
        after = _sigmas(p)
        assert after.max() <= 1 + 1e-5, n
        # Clipping, not rescaling: singular values below 1 are kept, those above become exactly 1.
        torch.testing.assert_close(after, before[n].clamp(max=1), atol=1e-5, rtol=1e-5)
    assert (before["main.0.weight"] < 0.9).any()
    for bn, g in zip(bns, gammas):
        std = bn.running_var.sqrt()
        assert (bn.weight >= 0.01 * std - 1e-7).all() and (bn.weight <= std + 1e-7).all()
        inside = (g >= 0.01 * std) & (g <= std)
        assert inside.any() and (~inside).any()
        assert torch.equal(bn.weight[inside], g[inside])  # gammas already in range are untouched
    # Idempotent: a second pass changes nothing beyond rounding.
    snapshot = copy.deepcopy(d.state_dict())
    singular_value_clip_(d)
    for k, v in d.state_dict().items():
        torch.testing.assert_close(v, snapshot[k], atol=1e-5, rtol=1e-5)


def test_wgan_losses_on_tiny_tensors() -> None:
    real, fake = torch.tensor([1.0, 3.0]), torch.tensor([-2.0, 0.5, 0.0])
    assert wgan_discriminator_loss(real, fake).item() == pytest.approx((-2.0 + 0.5 + 0.0) / 3 - 2.0)
    assert wgan_generator_loss(fake).item() == pytest.approx(0.5)


def test_training_step_updates_both_networks() -> None:
    torch.manual_seed(0)
    # Narrow widths keep this fast on CPU; every layer type and code path is the full model's.
    m = ganzoo.create("tgan", temporal_widths=(64, 32, 16, 16), g_widths=(64, 32, 16, 8, 8),
                      d_widths=(8, 16, 32, 64)).train()
    cfg = m.config
    opt_d = torch.optim.RMSprop(m.discriminator.parameters(), lr=cfg.lr)
    opt_g = torch.optim.RMSprop(m.generator.parameters(), lr=cfg.lr)
    real = torch.rand(2, 3, 16, 64, 64) * 2 - 1
    (z,) = m.sample_inputs(2)

    d_before = copy.deepcopy(m.discriminator.state_dict())
    with torch.no_grad():
        fake = m(z)
    loss_d = wgan_discriminator_loss(m.discriminator(real), m.discriminator(fake))
    opt_d.zero_grad()
    loss_d.backward()
    opt_d.step()
    singular_value_clip_(m.discriminator)
    after = m.discriminator.state_dict()
    for k in ("main.0.weight", "main.8.weight", "head.weight"):
        assert not torch.equal(after[k], d_before[k]), k

    g_before = copy.deepcopy(m.generator.state_dict())
    loss_g = wgan_generator_loss(m.discriminator(m(z)))
    opt_g.zero_grad()
    loss_g.backward()
    grads = {n: p.grad for n, p in m.generator.named_parameters()}
    assert all(g is not None and torch.isfinite(g).all() for g in grads.values())
    assert grads["temporal.main.0.weight"].abs().sum() > 0  # the loss reaches G0 through the frame codes
    opt_g.step()
    after = m.generator.state_dict()
    for k in ("temporal.main.0.weight", "image.slow.0.weight", "image.fast.0.weight", "image.main.12.weight"):
        assert not torch.equal(after[k], g_before[k]), k


@pytest.mark.slow
def test_torch_compile_matches_eager() -> None:
    torch._dynamo.reset()
    m = _randomize_(ganzoo.create("tgan"))
    (z,) = m.sample_inputs(1, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        eager = m.generator(z)
        compiled = torch.compile(m.generator, fullgraph=True)(z)
    assert eager.std() > 0.05
    torch.testing.assert_close(compiled, eager, atol=1e-4, rtol=1e-4)


# ---------------------------------------------------------------------------------------------------------------
# Zasder3 port converter, against modules rebuilt from models/tgan.py of that repository
# ---------------------------------------------------------------------------------------------------------------
class _TemporalGenerator(nn.Module):
    def __init__(self):
        super().__init__()
        self.model = nn.Sequential(
            nn.ConvTranspose1d(100, 512, kernel_size=1, stride=1, padding=0), nn.BatchNorm1d(512), nn.ReLU(),
            nn.ConvTranspose1d(512, 256, kernel_size=4, stride=2, padding=1), nn.BatchNorm1d(256), nn.ReLU(),
            nn.ConvTranspose1d(256, 128, kernel_size=4, stride=2, padding=1), nn.BatchNorm1d(128), nn.ReLU(),
            nn.ConvTranspose1d(128, 128, kernel_size=4, stride=2, padding=1), nn.BatchNorm1d(128), nn.ReLU(),
            nn.ConvTranspose1d(128, 100, kernel_size=4, stride=2, padding=1), nn.Tanh())

    def forward(self, x):
        return self.model(x.view(-1, 100, 1)).transpose(1, 2)


class _VideoGenerator(nn.Module):
    def __init__(self):
        super().__init__()
        self.temp = _TemporalGenerator()
        self.fast = nn.Sequential(nn.Linear(100, 256 * 16, bias=False), nn.BatchNorm1d(256 * 16), nn.ReLU())
        self.slow = nn.Sequential(nn.Linear(100, 256 * 16, bias=False), nn.BatchNorm1d(256 * 16), nn.ReLU())
        layers: list[nn.Module] = []
        for cin, cout in ((512, 256), (256, 128), (128, 64), (64, 32)):
            layers += [nn.ConvTranspose2d(cin, cout, 4, 2, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU()]
        layers += [nn.ConvTranspose2d(32, 3, kernel_size=3, stride=1, padding=1), nn.Tanh()]
        self.model = nn.Sequential(*layers)

    def forward(self, x):
        z_fast = self.temp(x).contiguous().view(-1, 100)
        z_fast = self.fast(z_fast).view(-1, 256, 4, 4)
        z_slow = self.slow(x).view(-1, 256, 4, 4).unsqueeze(1)
        z_slow = torch.cat([z_slow] * 16, dim=1).view(-1, 256, 4, 4)
        out = self.model(torch.cat([z_slow, z_fast], dim=1))
        return out.view(-1, 16, 3, 64, 64).transpose(1, 2)


class _VideoDiscriminator(nn.Module):
    def __init__(self):
        super().__init__()
        self.model3d = nn.Sequential(
            nn.Conv3d(3, 64, kernel_size=4, padding=1, stride=2), nn.LeakyReLU(0.2),
            nn.Conv3d(64, 128, kernel_size=4, padding=1, stride=2), nn.BatchNorm3d(128), nn.LeakyReLU(0.2),
            nn.Conv3d(128, 256, kernel_size=4, padding=1, stride=2), nn.BatchNorm3d(256), nn.LeakyReLU(0.2),
            nn.Conv3d(256, 512, kernel_size=4, padding=1, stride=2), nn.BatchNorm3d(512), nn.LeakyReLU(0.2))
        self.conv2d = nn.Conv2d(512, 1, kernel_size=4, stride=1, padding=0)

    def forward(self, x):
        h = self.model3d(x)
        return self.conv2d(torch.reshape(h, (x.shape[0], 512, 4, 4)))  # the port hard-codes a batch of 32


def _randomize_(module: nn.Module) -> nn.Module:
    """Kaiming-normal weights, random BN statistics/affine and biases, eval mode: a strong, input-dependent signal
    through every layer (the small reference inits would make comparisons weak)."""
    g = torch.Generator().manual_seed(7)
    with torch.no_grad():
        for m in module.modules():
            if isinstance(m, (nn.Linear, nn.Conv2d, nn.Conv3d, nn.ConvTranspose1d, nn.ConvTranspose2d)):
                nn.init.kaiming_normal_(m.weight, generator=g)
                if m.bias is not None:
                    m.bias.copy_(0.1 * torch.randn(m.bias.shape, generator=g))
            elif isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d)):
                m.weight.copy_(1 + 0.2 * torch.randn(m.weight.shape, generator=g))
                m.bias.copy_(0.1 * torch.randn(m.bias.shape, generator=g))
                m.running_mean.copy_(0.1 * torch.randn(m.running_mean.shape, generator=g))
                m.running_var.copy_(0.5 + torch.rand(m.running_var.shape, generator=g))
                m.num_batches_tracked.fill_(11)
    return module.eval()


def test_zasder3_checkpoint_round_trip(tmp_path) -> None:
    ref_g, ref_d = _randomize_(_VideoGenerator()), _randomize_(_VideoDiscriminator())
    # The port's training script format: model_state_dict is a list [G, D].
    path = tmp_path / "state_normal99999.ckpt"
    torch.save({"epoch": 99999, "model_state_dict": [ref_g.state_dict(), ref_d.state_dict()],
                "optimizer_state_dict": [torch.optim.RMSprop(ref_g.parameters()).state_dict(),
                                         torch.optim.RMSprop(ref_d.parameters()).state_dict()]}, path)
    sd = load_zasder3_checkpoint(path, allow_pickle=True)
    m = ganzoo.create("tgan")
    load_converted(m, sd)
    assert set(sd) == set(m.state_dict())  # both networks, every tensor
    m = m.double().eval()
    ref_g, ref_d = ref_g.double(), ref_d.double()
    (z,) = m.sample_inputs(2, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    with torch.no_grad():
        want = ref_g(z)
        got = m(z)
        assert want.std() > 0.05
        torch.testing.assert_close(got, want, atol=1e-10, rtol=1e-9)
        torch.testing.assert_close(m.discriminator(got), ref_d(got).flatten(), atol=1e-10, rtol=1e-9)
    # Training mode too: both normalise the slow path over B codes and the fast path over B * 16 frame codes.
    m.train()
    ref_g.train()
    with torch.no_grad():
        torch.testing.assert_close(m(z), ref_g(z), atol=1e-10, rtol=1e-9)


def test_zasder3_detection_and_last_layer() -> None:
    sd_g = _VideoGenerator().state_dict()
    converted, layout = convert_state_dict(sd_g)
    assert layout == "tgan/zasder3"
    assert all(k.startswith("generator.") for k in converted)
    # ConvTranspose2d (in=32, out=3) becomes Conv2d (out=3, in=32) with the kernel rotated by 180 degrees.
    w = sd_g["model.12.weight"]
    assert converted["generator.image.main.12.weight"].shape == (3, 32, 3, 3)
    assert torch.equal(converted["generator.image.main.12.weight"][1, 5], w[5, 1].flip(0, 1))
    d_only, layout = convert_state_dict(_VideoDiscriminator().state_dict(), family="tgan")
    assert layout == "tgan/zasder3" and all(k.startswith("discriminator.") for k in d_only)
    with pytest.raises(UnknownCheckpointLayoutError, match="not a Zasder3 TGAN state dict"):
        convert_zasder3_tgan({"main.0.weight": torch.zeros(1)})
