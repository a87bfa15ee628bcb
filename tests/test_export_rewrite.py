"""ganzoo.export.rewrite: exact inference rewrites, checked against the original modules in float64.

Every rewrite must compute the same function as the module it replaces: the tests compare in float64, where a
wrong tap, phase or channel order shows up at O(1) and fp rounding at ~1e-12, on fresh random inputs each run.
"""
from __future__ import annotations

import json

import onnx
import pytest
import torch
import torch.nn.functional as F
from torch import nn

import ganzoo
from ganzoo.export import RewriteError, optimize_for_inference, to_onnx
from ganzoo.export.ops import depth_to_space_nodes, list_op_types
from ganzoo.export.rewrite import PASSES, Rewrite, check_rewrite, pack_subpixel_conv_weights, summarize

# the paper configs: one shared PReLU slope per activation (the default div2k tags of srgan/srresnet use per-channel
# slopes, which the LeakyReLU pass rightly leaves alone)
SR_NAMES = [f"{n}.paper" for n in ganzoo.list_models() if n.startswith(("srgan", "srresnet"))]


def _gen() -> torch.Generator:
    return torch.Generator().manual_seed(torch.seed() % 2**31)  # fresh each run; the failure message shows it


def _f64(module: nn.Module) -> nn.Module:
    return module.eval().to(torch.float64)


def _max_err(a: nn.Module, b: nn.Module, *xs: torch.Tensor) -> float:
    with torch.no_grad():
        return float((a(*xs) - b(*xs)).abs().max())


# ------------------------------------------------------------------------------ the weight packing itself


@pytest.mark.parametrize("r,k,cin,cout,bias", [
    (2, (9, 9), 5, 3, True),    # the SRGAN tail
    (2, (3, 3), 4, 2, False),
    (2, (1, 1), 3, 1, True),
    (3, (5, 5), 2, 3, True),
    (3, (3, 7), 3, 2, True),    # non-square kernel: the two axes pack independently
    (4, (5, 3), 2, 1, False),
])
def test_packed_weights_equal_conv_after_pixel_shuffle(r, k, cin, cout, bias):
    g = _gen()
    w = torch.randn(cout, cin, *k, dtype=torch.float64, generator=g)
    b = torch.randn(cout, dtype=torch.float64, generator=g) if bias else None
    pad = (k[0] // 2, k[1] // 2)
    x = torch.randn(2, cin * r * r, 7, 5, dtype=torch.float64, generator=g)
    ref = F.conv2d(F.pixel_shuffle(x, r), w, b, padding=pad)
    pw, pb, p4 = pack_subpixel_conv_weights(w, b, r, pad)
    taps = [-(-(kk + r - 1) // r) + 1 for kk in k]  # low-resolution taps per axis: at most ceil((k + r - 1) / r) + 1
    assert pw.shape[:2] == (cout * r * r, cin * r * r) and all(s <= t for s, t in zip(pw.shape[2:], taps))
    assert (pb is None) == (b is None) and pw.dtype == torch.float64
    got = F.pixel_shuffle(F.conv2d(F.pad(x, p4), pw, pb), r)
    assert got.shape == ref.shape
    assert float((got - ref).abs().max()) < 1e-12 * float(ref.abs().max())


def test_packed_weights_keep_dtype_and_taps_land_once():
    w = torch.randn(3, 64, 9, 9)
    pw, pb, pad = pack_subpixel_conv_weights(w, torch.zeros(3), 2, (4, 4))
    assert pw.shape == (12, 256, 5, 5) and pw.dtype == torch.float32 and pad == (2, 2, 2, 2)
    assert pb.shape == (12,)
    # every original tap lands exactly once per output phase: r^2 copies of each weight in all
    assert int((pw != 0).sum()) == 4 * int((w != 0).sum())
    assert torch.allclose(pw.sum(), 4 * w.sum(), rtol=1e-4)


# -------------------------------------------------------------------------- the passes on whole models


@pytest.mark.parametrize("name", SR_NAMES)
def test_sr_generators_rewrite_exactly(name):
    torch.manual_seed(torch.seed() % 2**31)
    model = ganzoo.create(name, num_blocks=2).eval()
    gen = model.generator
    before = {k: v.clone() for k, v in gen.state_dict().items()}
    opt, applied = optimize_for_inference(gen)
    packed = [r for r in applied if r.name == "pack_subpixel_conv"]
    prelus = [r for r in applied if r.name == "shared_prelu_to_leaky_relu"]
    scale = model.config.scale
    assert [r.where for r in packed] == ["tail"] and "Conv 9x9 64->3" in packed[0].detail
    assert "Conv 5x5 256->12" in packed[0].detail
    assert len(prelus) == 1 + 2 + (scale.bit_length() - 1)  # head, one per residual block, one per upsampler
    assert not any(type(m) is nn.PReLU for m in opt.modules())
    # the original is untouched
    assert all(torch.equal(before[k], v) for k, v in gen.state_dict().items())
    assert sum(type(m) is nn.PReLU for m in gen.modules()) == len(prelus)
    x = torch.rand(2, 3, 6, 9, dtype=torch.float64, generator=_gen())
    with torch.no_grad():
        ref, got = _f64(gen)(x), _f64(opt)(x)
    assert got.shape == ref.shape == (2, 3, 6 * scale, 9 * scale)
    assert float((got - ref).abs().max()) < 1e-9


def test_per_channel_prelu_is_kept_and_packed_with_repeated_slopes():
    torch.manual_seed(torch.seed() % 2**31)
    gen = ganzoo.create("srresnet_x2.paper", num_blocks=1, prelu="channel").generator.eval()
    with torch.no_grad():  # distinct slopes per channel, so a wrong repeat order shows
        for m in gen.modules():
            if type(m) is nn.PReLU:
                m.weight.uniform_(-0.5, 0.9)
    # the pass that matters here: put a per-channel PReLU between the last shuffle and the tail
    opt, applied = optimize_for_inference(gen, passes=("shared_prelu_to_leaky_relu", "pack_subpixel_conv"))
    assert [r.name for r in applied] == ["pack_subpixel_conv"]  # no shared PReLU to turn into LeakyReLU
    assert "PReLU -> Conv 5x5 256->12" in applied[0].detail
    packed = opt.get_submodule("tail_packed")
    assert type(packed.act) is nn.PReLU and packed.act.num_parameters == 256
    x = torch.rand(1, 3, 5, 7, dtype=torch.float64, generator=_gen())
    assert _max_err(_f64(gen), _f64(opt), x) < 1e-9


def test_models_without_the_patterns_come_back_unchanged():
    for name in ("dcgan.mnist", "pggan_inpaint.places365", "gan3d_32.chair"):
        gen = ganzoo.create(name).generator
        opt, applied = optimize_for_inference(gen)
        assert applied == [] and type(opt) is type(gen) and opt is not gen
        assert all(torch.equal(a, b) for a, b in zip(gen.state_dict().values(), opt.state_dict().values()))


class _Tail(nn.Module):
    """PixelShuffle -> act -> conv, with knobs that make the pattern (in)applicable."""

    def __init__(self, act: nn.Module, conv: nn.Conv2d, reuse: bool = False, r: int = 2):
        super().__init__()
        self.shuffle, self.act, self.conv, self.reuse = nn.PixelShuffle(r), act, conv, reuse

    def forward(self, x):
        y = self.shuffle(x)
        out = self.conv(self.act(y))
        return out + y[:, :1] if self.reuse else out


@pytest.mark.parametrize("case,why", [
    ("stride", "a stride-2 conv does not keep the size"),
    ("wide", "Cout 16 > max_out_channels 8"),
    ("reuse", "the shuffled tensor is used again"),
    ("norm", "BatchNorm is not pointwise"),
    ("cost", "max_cost_ratio below the 1.23x of a 9x9 tail"),
    ("padding", "padding that changes the size"),
])
def test_pattern_is_left_alone_where_it_does_not_apply(case, why):
    conv = nn.Conv2d(4, 16 if case == "wide" else 3, 9, 2 if case == "stride" else 1, 2 if case == "padding" else 4)
    act = nn.BatchNorm2d(4).eval() if case == "norm" else nn.ReLU()
    net = _Tail(act, conv, reuse=case == "reuse").eval()
    kw = {"max_cost_ratio": 1.1} if case == "cost" else {}
    opt, applied = optimize_for_inference(net, **kw)
    assert applied == [], why
    x = torch.randn(1, 16, 6, 6)
    assert _max_err(net, opt, x) == 0.0


def test_pattern_with_functional_shuffle_and_no_activation():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(2, 3, 5, 1, 2)

        def forward(self, x):
            return torch.tanh(self.conv(F.pixel_shuffle(x, 2)))

    net = Net().eval().double()
    opt, applied = optimize_for_inference(net, example_inputs=(torch.randn(1, 8, 4, 5),))
    assert len(applied) == 1 and "PixelShuffle(2) -> Identity -> Conv 5x5 2->3" in applied[0].detail
    assert "Conv 3x3 8->12" in applied[0].detail and "(1.44x the multiply-adds" in applied[0].detail
    x = torch.randn(2, 8, 5, 3, dtype=torch.float64, generator=_gen())
    assert _max_err(net, opt, x) < 1e-12


def test_bad_pass_names():
    with pytest.raises(ValueError, match=r"unknown rewrite pass\(es\) \['fold_everything'\]; expected some of "):
        optimize_for_inference(nn.ReLU(), passes=("fold_everything",))
    with pytest.raises(TypeError, match=r"passes must be a sequence of pass names, got the string"):
        optimize_for_inference(nn.ReLU(), passes="pack_subpixel_conv")
    assert set(PASSES) == {"shared_prelu_to_leaky_relu", "pack_subpixel_conv"}


def test_check_rewrite_catches_a_wrong_rewrite():
    net = _Tail(nn.ReLU(), nn.Conv2d(4, 3, 9, 1, 4)).eval()
    opt, applied = optimize_for_inference(net)
    x = (torch.randn(1, 16, 5, 6),)
    assert check_rewrite(net, opt, x, applied) < 1e-12
    with torch.no_grad():
        opt.get_submodule("conv_packed").conv.weight[0, 0, 2, 2] += 1e-3  # one tap of one phase slightly off
    with pytest.raises(RewriteError, match=r"rewrites \['pack_subpixel_conv'\] do not compute the original function: "
                                           r"output 0 differs by [0-9.e-]+ in float64") as ei:
        check_rewrite(net, opt, x, applied)
    assert ei.value.max_abs_err > 1e-6 and ei.value.passes == ("pack_subpixel_conv",)


def test_summarize():
    rs = [Rewrite("shared_prelu_to_leaky_relu", f"b{i}", "slope 0.25") for i in range(5)]
    rs.append(Rewrite("pack_subpixel_conv", "tail", "detail"))
    assert summarize(rs) == ("shared_prelu_to_leaky_relu x5 (b0, b1, b2, ...)\n"
                             "pack_subpixel_conv @ tail: detail")
    assert summarize([]) == "none"


# ----------------------------------------------------------------------------------------- in the export


@pytest.fixture(scope="module")
def small_sr():
    torch.manual_seed(0)
    return ganzoo.create("srresnet.imagenet", num_blocks=2).eval()


def test_export_applies_rewrites_and_still_validates(small_sr, tmp_path):
    res = to_onnx(small_sr, tmp_path / "opt.onnx", seed=3)
    assert res.validation.passed and len(res.validation.cases) == 4
    assert [r.name for r in res.rewrites].count("pack_subpixel_conv") == 1
    proto = onnx.load(str(res.path))
    ops = list_op_types(proto)
    assert "PRelu" not in ops and "LeakyRelu" in ops
    convs = {tuple(i.dims) for i in proto.graph.initializer if len(i.dims) == 4}
    assert (12, 256, 5, 5) in convs and (3, 64, 9, 9) not in convs
    assert [m for _, m, _ in depth_to_space_nodes(proto)] == ["CRD", "CRD"]
    meta = {p.key: p.value for p in proto.metadata_props}
    assert [r["pass"] for r in json.loads(meta["ganzoo.rewrites"])].count("shared_prelu_to_leaky_relu") == 5
    assert res.to_dict()["rewrites"][-1]["where"] == "tail"

    plain = to_onnx(small_sr, tmp_path / "plain.onnx", optimize=False, seed=3)
    assert plain.rewrites == () and plain.validation.passed
    pproto = onnx.load(str(plain.path))
    assert "PRelu" in list_op_types(pproto)
    assert (3, 64, 9, 9) in {tuple(i.dims) for i in pproto.graph.initializer if len(i.dims) == 4}
    assert json.loads({p.key: p.value for p in pproto.metadata_props}["ganzoo.rewrites"]) == []


def test_export_with_a_broken_rewrite_raises_and_writes_nothing(small_sr, tmp_path, monkeypatch):
    from ganzoo.export import rewrite

    real = rewrite.pack_subpixel_conv_weights

    def off_by_one_phase(weight, bias, r, padding):
        w, b, pad = real(weight, bias, r, padding)
        return torch.roll(w, 1, dims=0), b, pad  # output phases shifted: a plausible indexing bug

    monkeypatch.setattr(rewrite, "pack_subpixel_conv_weights", off_by_one_phase)
    target = tmp_path / "x.onnx"
    with pytest.raises(RewriteError, match=r"do not compute the original function"):
        to_onnx(small_sr, target, validate=False)
    assert not target.exists() and list(tmp_path.iterdir()) == []


def test_cli_no_optimize(tmp_path, capsys):
    from ganzoo.cli import main

    out = tmp_path / "s.onnx"
    assert main(["export", "srresnet_x2.paper", "--random-weights", "-o", str(out), "--no-optimize", "--no-validate"]) == 0
    assert "rewrites: none" in capsys.readouterr().out
    assert "PRelu" in list_op_types(out)
    assert main(["export", "srresnet_x2.paper", "--random-weights", "-o", str(out), "--no-validate"]) == 0
    text = capsys.readouterr().out.replace("\n", " ")
    assert "shared_prelu_to_leaky_relu x18" in text and "pack_subpixel_conv @ tail" in text
    assert "PRelu" not in list_op_types(out)
