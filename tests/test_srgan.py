"""SRGAN / SRResNet: parameter counts, shapes, ranges, registry tags, port checkpoint conversion, compile, training."""
from __future__ import annotations

import math
import re

import pytest
import torch
from torch import nn

import ganzoo
from ganzoo.errors import PickleNotAllowedError, StateDictMismatchError, UnknownCheckpointLayoutError
from ganzoo.hub.converters import convert_checkpoint, convert_state_dict, load_converted
from ganzoo.hub.converters.srgan import to_port_layout
from ganzoo.models.srgan import SRGAN, SRGANConfig
from ganzoo.registry import list_models, resolve_pretrained_cfg

PORT_CFG = {"output_range": (0.0, 1.0), "output_act": "clamp"}


# --- an independent restatement of the Lornatang/SRGAN-PyTorch modules (model.py), used as the reference ---------

class _PortRCB(nn.Module):
    def __init__(self, c: int):
        super().__init__()
        self.rcb = nn.Sequential(nn.Conv2d(c, c, 3, 1, 1, bias=False), nn.BatchNorm2d(c), nn.PReLU(),
                                 nn.Conv2d(c, c, 3, 1, 1, bias=False), nn.BatchNorm2d(c))

    def forward(self, x):
        return x + self.rcb(x)


class _PortUp(nn.Module):
    def __init__(self, c: int):
        super().__init__()
        self.upsample_block = nn.Sequential(nn.Conv2d(c, c * 4, 3, 1, 1), nn.PixelShuffle(2), nn.PReLU())

    def forward(self, x):
        return self.upsample_block(x)


class PortSRResNet(nn.Module):
    def __init__(self, scale: int, c: int = 64, n: int = 16):
        super().__init__()
        self.conv1 = nn.Sequential(nn.Conv2d(3, c, 9, 1, 4), nn.PReLU())
        self.trunk = nn.Sequential(*(_PortRCB(c) for _ in range(n)))
        self.conv2 = nn.Sequential(nn.Conv2d(c, c, 3, 1, 1, bias=False), nn.BatchNorm2d(c))
        self.upsampling = nn.Sequential(*(_PortUp(c) for _ in range(int(math.log2(scale)))))
        self.conv3 = nn.Conv2d(c, 3, 9, 1, 4)

    def forward(self, x):
        out1 = self.conv1(x)
        out = out1 + self.conv2(self.trunk(out1))
        return torch.clamp(self.conv3(self.upsampling(out)), 0.0, 1.0)


class PortDiscriminator(nn.Module):
    def __init__(self):
        super().__init__()
        layers: list[nn.Module] = [nn.Conv2d(3, 64, 3, 1, 1, bias=True), nn.LeakyReLU(0.2, True)]
        spec = [(64, 64, 2), (64, 128, 1), (128, 128, 2), (128, 256, 1), (256, 256, 2), (256, 512, 1), (512, 512, 2)]
        for cin, cout, s in spec:
            layers += [nn.Conv2d(cin, cout, 3, s, 1, bias=False), nn.BatchNorm2d(cout), nn.LeakyReLU(0.2, True)]
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Sequential(nn.Linear(512 * 6 * 6, 1024), nn.LeakyReLU(0.2, True), nn.Linear(1024, 1))

    def forward(self, x):
        return self.classifier(torch.flatten(self.features(x), 1))


@torch.no_grad()
def _randomize(module: nn.Module, seed: int) -> nn.Module:
    """Fresh random weights, biases, PReLU slopes and BN statistics, so no tensor keeps a default value."""
    g = torch.Generator().manual_seed(seed)
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear)):
            m.weight.copy_(torch.randn(m.weight.shape, generator=g) * 0.7 / math.sqrt(m.weight[0].numel()))
            if m.bias is not None:
                m.bias.copy_(torch.randn(m.bias.shape, generator=g) * 0.05)
        elif isinstance(m, nn.BatchNorm2d):
            m.weight.copy_(1 + 0.1 * torch.randn(m.weight.shape, generator=g))
            m.bias.copy_(0.1 * torch.randn(m.bias.shape, generator=g))
            m.running_mean.copy_(0.1 * torch.randn(m.running_mean.shape, generator=g))
            m.running_var.copy_(0.5 + torch.rand(m.running_var.shape, generator=g))
            m.num_batches_tracked.fill_(7)
        elif isinstance(m, nn.PReLU):
            m.weight.copy_(torch.rand(m.weight.shape, generator=g) * 0.4)
    return module.eval()


def _save_port(tmp_path, sd: dict[str, torch.Tensor], prefix: str = "_orig_mod.", name: str = "ckpt.pth.tar"):
    path = tmp_path / name
    torch.save({"epoch": 12, "best_psnr": 27.5, "state_dict": {prefix + k: v for k, v in sd.items()}}, path)
    return path


TRAINED = {"srresnet_x2.pool", "srresnet_x8.pool", "srgan_x2.pool"}  # tags with weights trained by ganzoo.train.sr


# --- parameter counts ----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name, overrides, expected", [
    ("srgan.paper", {}, 1_547_350),
    ("srgan_x2.paper", {}, 1_399_637),
    ("srgan_x2", {}, 1_400_771),  # the default tag, pool: per-channel PReLU (krasserm layout)
    ("srgan_x8", {}, 1_695_063),
    ("srresnet.paper", {}, 1_547_350),
    ("srgan.paper", {"prelu": "channel"}, 1_548_547),
    ("srgan", {}, 1_548_547),  # the default tag, div2k: per-channel PReLU
])
def test_generator_parameter_counts(name, overrides, expected):
    with torch.device("meta"):
        model = ganzoo.create(name, **overrides)
    assert model.num_parameters()["generator"] == expected


def test_discriminator_and_block_parameter_counts():
    with torch.device("meta"):
        model = ganzoo.create("srgan.paper")
    assert model.num_parameters()["discriminator"] == 23_563_649
    assert sum(p.numel() for p in model.generator.trunk[0].parameters()) == 73_985
    assert len(model.generator.trunk) == 16 and len(model.generator.upsample) == 2
    # Only the first D conv (no BN after it) carries a bias.
    convs = [m for m in model.discriminator.features.modules() if isinstance(m, nn.Conv2d)]
    assert [c.bias is not None for c in convs] == [True] + [False] * 7
    assert [c.stride[0] for c in convs] == [1, 2, 1, 2, 1, 2, 1, 2]


# --- shapes and ranges ---------------------------------------------------------------------------------------------

@pytest.mark.parametrize("scale", [2, 4, 8])
@pytest.mark.parametrize("hw", [(7, 11), (1, 1)])
def test_output_is_exactly_scale_times_input(scale, hw):
    model = ganzoo.create(f"srgan_x{scale}" if scale != 4 else "srgan").eval()
    x = torch.rand(2, 3, *hw)
    with torch.no_grad():
        y = model(x)
    assert y.shape == (2, 3, scale * hw[0], scale * hw[1])
    assert torch.isfinite(y).all()


@pytest.mark.parametrize("output_act, output_range", [
    ("tanh", (-1.0, 1.0)), ("tanh", (0.0, 1.0)), ("clamp", (0.0, 1.0)), ("clamp", (-1.0, 1.0)),
])
def test_output_activation_maps_raw_tail_into_range(output_act, output_range):
    model = ganzoo.create("srgan_x2", num_blocks=2, output_act=output_act, output_range=output_range).eval()
    with torch.no_grad():
        model.generator.tail.bias.fill_(0.5)  # push part of the raw output past the upper bound
    raw = {}
    model.generator.tail.register_forward_hook(lambda m, i, o: raw.setdefault("y", o.detach().clone()))
    with torch.no_grad():
        y = model(torch.rand(1, 3, 9, 6))
    r, (lo, hi) = raw["y"], output_range
    if output_act == "clamp":
        expected = r.clamp(lo, hi)
        assert (r > hi).any() and (y == hi).any(), "test input should exercise the clamp"
    else:
        expected = lo + (hi - lo) * (torch.tanh(r) + 1) / 2
    torch.testing.assert_close(y, expected)
    assert y.min() >= lo and y.max() <= hi


# --- registry ------------------------------------------------------------------------------------------------------

def test_registered_names_and_family():
    names = list_models(family="srgan")
    assert names == sorted(["srgan", "srgan_x2", "srgan_x8", "srresnet", "srresnet_x2", "srresnet_x8"])


@pytest.mark.parametrize("name", ["srgan", "srgan_x2", "srgan_x8", "srresnet", "srresnet_x2", "srresnet_x8"])
def test_every_tag_builds_and_matches_its_specs(name):
    entry_cfgs = ganzoo.registry.get_entry(name).cfgs
    for tag, cfg in entry_cfgs.items():
        model = ganzoo.create(f"{name}.{tag}").eval()
        assert model.pretrained_cfg is not None and model.pretrained_cfg.tag == tag
        sp = model.specs
        assert sp.scale == model.config.scale and sp.dynamic_spatial and sp.min_size == 1
        assert cfg.paper_url == "https://arxiv.org/abs/1609.04802" and "ledig2017srgan" in cfg.citation
        if tag == "div2k":  # converted krasserm weights, embedded and pinned
            assert cfg.hub_id == f"ganzoo/{name}-div2k" and cfg.sha256 and "krasserm" in cfg.description
        elif f"{name}.{tag}" in TRAINED:  # ganzoo's own fine-tunes, embedded and pinned
            assert cfg.hub_id == f"ganzoo/{name.replace('_', '-')}-{tag}" and cfg.sha256 and "bicubic" in cfg.description
        else:  # no weights published, and the description says so
            assert cfg.hub_id is None and re.search(r"not published|no public weights", cfg.description)
        (x,) = model.sample_inputs(2, generator=torch.Generator().manual_seed(0))
        lo, hi = sp.inputs[0].range
        assert x.min() >= lo and x.max() <= hi
        with torch.no_grad():
            y = model(x)
        out = sp.outputs[0]
        assert y.shape == out.resolve(B=2, H=x.shape[2], W=x.shape[3])
        assert tuple(out.range) == model.config.output_range
        assert y.min() >= out.range[0] and y.max() <= out.range[1]


def test_imagenet_tags_use_the_port_convention_and_paper_tags_the_paper():
    for name in ("srgan", "srresnet"):
        assert resolve_pretrained_cfg(name).tag == "div2k"  # the default tag: the first with weights
        assert ganzoo.model_info(f"{name}.div2k").specs.outputs[0].range == (0.0, 1.0)
        assert ganzoo.model_info(f"{name}.imagenet").specs.outputs[0].range == (0.0, 1.0)
        assert ganzoo.model_info(f"{name}.paper").specs.outputs[0].range == (-1.0, 1.0)
    assert ganzoo.create("srgan.imagenet").config.output_act == "clamp"
    div2k = ganzoo.create("srgan.div2k").config
    assert (div2k.output_act, div2k.output_range, div2k.prelu, div2k.d_padding) == ("tanh", (0.0, 1.0), "channel", "same")
    assert ganzoo.create("srgan.paper").config.output_act == "tanh"  # the paper's defaults
    assert ganzoo.create("srgan").config == div2k  # no tag: the default tag, as ganzoo.load("srgan")
    assert ganzoo.model_info("srgan_x8").config["scale"] == 8


def test_sample_inputs_default_size_and_range():
    model = ganzoo.create("srgan_x2", num_blocks=1)
    (x,) = model.sample_inputs(3)
    assert x.shape == (3, 3, 48, 48) and x.min() >= 0 and x.max() <= 1
    assert x.std() > 0.2  # uniform on [0, 1] has std 0.289
    (x,) = model.sample_inputs(1, size=(5, 9), dtype=torch.float64)
    assert x.shape == (1, 3, 5, 9) and x.dtype == torch.float64
    with pytest.raises(ValueError, match=r"expected \(H, W\)"):
        model.sample_inputs(1, size=(0, 4))


# --- validation ----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("kwargs, match", [
    ({"scale": 3}, r"scale must be one of \(2, 4, 8\), got 3"),
    ({"prelu": "per-channel"}, "prelu must be 'shared' or 'channel'"),
    ({"output_range": (0, 255)}, "output_range must be one of"),
    ({"output_act": "sigmoid"}, "output_act must be 'tanh' or 'clamp'"),
    ({"head_kernel": 8}, "head_kernel must be an odd int"),
    ({"d_image_size": 8}, "d_image_size must be an int >= 16"),
])
def test_config_validation(kwargs, match):
    with pytest.raises(ValueError, match=match):
        SRGANConfig(**kwargs)


def test_builder_refuses_a_scale_that_contradicts_the_name():
    with pytest.raises(ValueError, match="expected scale=4, got 2"):
        ganzoo.create("srgan.paper", scale=2)


def test_bad_inputs_fail_before_compute():
    model = ganzoo.create("srgan_x2", num_blocks=1)
    with pytest.raises(ValueError, match=r"expected 3 channels .* got 1"):
        model(torch.rand(1, 1, 8, 8))
    with pytest.raises(ValueError, match=r"expected a 4-d tensor .* got shape \(1, 3, 2, 8, 8\)"):
        model(torch.rand(1, 3, 2, 8, 8))
    with pytest.raises(TypeError, match="expected a floating-point tensor"):
        model(torch.zeros(1, 3, 8, 8, dtype=torch.uint8))
    with pytest.raises(ValueError, match=r"expected spatial size \(96, 96\), got \(64, 64\)"):
        model.discriminator(torch.rand(1, 3, 64, 64))
    with pytest.raises(ValueError, match="expected 3 channels"):
        model.discriminator(torch.rand(1, 4, 96, 96))


def test_discriminator_other_input_size():
    model = ganzoo.create("srgan.paper", num_blocks=1, d_image_size=64, d_widths=(8, 16, 32, 32), d_dense=16).eval()
    assert model.discriminator.classifier[0].in_features == 32 * 4 * 4
    with torch.no_grad():
        assert model.discriminator(torch.rand(2, 3, 64, 64)).shape == (2,)


# --- converter: Lornatang/SRGAN-PyTorch checkpoints ----------------------------------------------------------------

@pytest.mark.parametrize("scale", [2, 4, 8])
def test_port_generator_checkpoint_round_trip(tmp_path, scale):
    port = _randomize(PortSRResNet(scale), seed=scale)
    path = _save_port(tmp_path, port.state_dict())
    sd = convert_checkpoint(path, family="srgan", allow_pickle=True)
    assert sd and all(k.startswith("generator.") for k in sd)
    model = load_converted(ganzoo.create("srgan.paper" if scale == 4 else f"srgan_x{scale}.paper", **PORT_CFG), sd).eval()
    x = torch.rand(2, 3, 7, 5, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        ref, got = port(x), model(x)
    inside = ((ref > 0) & (ref < 1)).float().mean()
    assert inside > 0.2, f"reference output mostly clamped ({inside:.2f} inside): the comparison would be weak"
    torch.testing.assert_close(got, ref, rtol=1e-5, atol=1e-5)


def test_port_discriminator_checkpoint_round_trip(tmp_path):
    port = _randomize(PortDiscriminator(), seed=3)
    path = _save_port(tmp_path, port.state_dict(), prefix="module.")
    sd = convert_checkpoint(path, family="srgan", allow_pickle=True)
    assert sd and all(k.startswith("discriminator.") for k in sd)
    model = ganzoo.create("srgan.imagenet", num_blocks=1)
    before = {k: v.clone() for k, v in model.generator.state_dict().items()}
    load_converted(model, sd).eval()
    x = torch.rand(2, 3, 96, 96, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        ref, got = port(x), model.discriminator(x)
    assert ref.shape == (2, 1) and got.shape == (2,)
    assert ref.std() > 0  # distinct logits per image
    torch.testing.assert_close(got, ref[:, 0], rtol=1e-4, atol=1e-4)
    # The generator was not touched by a discriminator-only checkpoint.
    for k, v in model.generator.state_dict().items():
        assert torch.equal(v, before[k])


def test_port_checkpoint_with_both_networks(tmp_path):
    g, d = PortSRResNet(4, n=2), PortDiscriminator()
    sd = convert_checkpoint({"state_dict": {**g.state_dict(), **d.state_dict()}}, family="srgan")
    model = load_converted(ganzoo.create("srgan.paper", num_blocks=2, **PORT_CFG), sd)
    assert torch.equal(model.generator.head[0].weight, g.conv1[0].weight)
    assert torch.equal(model.discriminator.classifier[2].bias, d.classifier[2].bias)


def test_to_port_layout_inverts_the_converter():
    model = ganzoo.create("srgan_x8", num_blocks=3)
    ours = model.state_dict()
    port = to_port_layout(ours)
    assert set(port) == set(PortSRResNet(8, n=3).state_dict()) | set(PortDiscriminator().state_dict())
    back, layout = convert_state_dict(port, family="srgan")
    assert layout == "srgan/lornatang" and set(back) == set(ours)
    assert all(back[k] is ours[k] for k in ours)
    with pytest.raises(UnknownCheckpointLayoutError, match="no counterpart"):
        to_port_layout({"generator.nope.weight": torch.zeros(1)})


def test_pickled_checkpoint_needs_allow_pickle(tmp_path):
    path = _save_port(tmp_path, PortSRResNet(4, n=1).state_dict())
    with pytest.raises(PickleNotAllowedError, match="allow_pickle=True"):
        convert_checkpoint(path, family="srgan")


@pytest.mark.parametrize("sd", [
    {"foo.weight": torch.zeros(3)},
    # torchvision-VGG-like features/classifier keys are not the port's discriminator
    {"features.0.weight": torch.zeros(64, 3, 3, 3), "features.0.bias": torch.zeros(64),
     "classifier.0.weight": torch.zeros(10, 4), "classifier.6.weight": torch.zeros(2, 2)},
    # a port generator with one stray key
    {**PortSRResNet(2, n=1).state_dict(), "extra_head.weight": torch.zeros(1)},
])
def test_unknown_layout_is_refused(sd):
    with pytest.raises(UnknownCheckpointLayoutError, match="unrecognised checkpoint layout for family 'srgan'"):
        convert_checkpoint({"state_dict": sd}, family="srgan")


def test_converted_weights_must_fit_the_model():
    sd = convert_checkpoint({"state_dict": PortSRResNet(4, n=2).state_dict()}, family="srgan")
    with pytest.raises(StateDictMismatchError, match=r"head\.2\.weight expected \(64,\) got \(1,\)"):
        load_converted(ganzoo.create("srgan.paper", num_blocks=2, prelu="channel"), sd)
    with pytest.raises(StateDictMismatchError, match=r"missing .*generator\.upsample\.2\.0\.weight"):
        load_converted(ganzoo.create("srgan_x8", num_blocks=2), sd)


# --- torch.compile and training ------------------------------------------------------------------------------------

@pytest.mark.slow
def test_torch_compile_fullgraph_matches_eager():
    torch._dynamo.reset()
    model = ganzoo.create("srgan_x2", num_blocks=2, width=16).eval()
    x = torch.rand(1, 3, 5, 7)
    with torch.no_grad():
        eager = model.generator(x)
        compiled = torch.compile(model.generator, fullgraph=True)(x)
    assert compiled.shape == (1, 3, 10, 14)
    torch.testing.assert_close(compiled, eager, rtol=1e-4, atol=1e-5)


def test_generator_training_step_updates_weights():
    torch.manual_seed(0)
    model = ganzoo.create("srgan_x2", num_blocks=2).train()
    g = model.generator
    opt = torch.optim.Adam(g.parameters(), lr=1e-4, betas=(0.9, 0.999))
    before = {k: v.detach().clone() for k, v in g.state_dict().items()}
    lr_img, hr = torch.rand(2, 3, 6, 6), torch.rand(2, 3, 12, 12) * 2 - 1
    loss = nn.functional.mse_loss(g(lr_img), hr)
    loss.backward()
    grads = {n: p.grad for n, p in g.named_parameters()}
    assert all(gr is not None and torch.isfinite(gr).all() for gr in grads.values())
    assert grads["head.2.weight"].abs().sum() > 0 and grads["upsample.0.2.weight"].abs().sum() > 0
    opt.step()
    after = g.state_dict()
    assert not torch.equal(after["head.0.weight"], before["head.0.weight"])
    assert not torch.equal(after["trunk.1.body.1.0.weight"], before["trunk.1.body.1.0.weight"])
    assert not torch.equal(after["trunk_tail.1.running_mean"], before["trunk_tail.1.running_mean"])  # BN in train mode


def test_discriminator_training_step_updates_weights():
    torch.manual_seed(0)
    model = ganzoo.create("srgan.paper", num_blocks=1).train()
    d = model.discriminator
    opt = torch.optim.Adam(d.parameters(), lr=1e-4)
    before = {k: v.detach().clone() for k, v in d.state_dict().items()}
    real, fake = torch.rand(2, 3, 96, 96) * 2 - 1, torch.rand(2, 3, 96, 96) * 2 - 1
    logits = d(torch.cat([real, fake]))
    assert logits.shape == (4,)
    loss = nn.functional.binary_cross_entropy_with_logits(logits, torch.tensor([1.0, 1.0, 0.0, 0.0]))
    loss.backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in d.parameters())
    opt.step()
    after = d.state_dict()
    for k in ("features.0.0.weight", "features.7.0.weight", "classifier.2.weight"):
        assert not torch.equal(after[k], before[k]), k
    assert not torch.equal(after["features.7.1.running_var"], before["features.7.1.running_var"])


def test_model_is_an_srgan_with_config_round_trip():
    model = ganzoo.create("srresnet_x8.paper", num_blocks=1)
    assert isinstance(model, SRGAN)
    cfg = SRGANConfig.from_dict(model.config.to_dict())
    assert cfg == model.config and cfg.output_range == (-1.0, 1.0) and cfg.d_widths == (64, 128, 256, 512)
