"""ganzoo.kernels: the Triton kernels (through Triton's CPU interpreter), their reference implementations, the
custom-op registrations, ganzoo.optimize on every generator family, torch.compile / torch.export / ONNX of an
optimised model, the bench backend and the roofline counts.

Accuracy rule (docs/specs kernels.md): against a float64 reference computed from the same rounded inputs,
``max|ours - ref| <= 2 * max|torch_same_dtype - ref| + atol`` with ``atol = eps(dtype) * max(1, max|ref|)``, where
``torch_same_dtype`` is the unfused PyTorch computation in the kernel's dtype. Shapes and values are drawn fresh
every run (the seed is in every failure message); outputs are poisoned with NaN before each kernel call.

Triton is a test dependency (the ``test`` extra): without it this module fails to import instead of skipping.
"""
from __future__ import annotations

import copy
import importlib.util
import math
import os
import random
import subprocess
import sys

import pytest
import torch
import torch.nn.functional as F
import triton  # noqa: F401 - required: a kernel test that skips would pass silently
from torch import nn

import ganzoo
import ganzoo.kernels.ops  # noqa: F401 - registers torch.ops.ganzoo.*
from ganzoo.kernels import optimize, reference
from ganzoo.kernels import triton_impl as T
from ganzoo.kernels.pack import upsample_conv3x3_weight
from ganzoo.kernels.triton_impl import BlockConfig
from tests.conftest import REPO_ROOT

#: where the kernels run: "cpu" (Triton's interpreter, the default) or "cuda" (tools/gpu_check.sh sets
#: GANZOO_KERNEL_TEST_DEVICE=cuda); float64 references are always computed on the CPU
DEVICE = torch.device(os.environ.get("GANZOO_KERNEL_TEST_DEVICE", "cpu"))
SEED = int.from_bytes(os.urandom(4), "little")
RNG = random.Random(SEED)
EPS = {torch.float32: 2.0 ** -23, torch.float16: 2.0 ** -10, torch.bfloat16: 2.0 ** -7}
CONFIGS = (BlockConfig(16, 16, 16), BlockConfig(32, 16, 32), BlockConfig(16, 32, 16))
ACTS = ("none", "relu", "prelu", "leaky_relu", "elu", "tanh", "sigmoid")


@pytest.fixture(autouse=True, scope="module")
def _triton_interpreter():
    """TRITON_INTERPRET=1 for this module only. ganzoo.kernels loads its kernels lazily, once per setting, so it
    works whenever triton itself was imported; restored afterwards so other tests see the machine as it is."""
    old = os.environ.get("TRITON_INTERPRET")
    if DEVICE.type == "cpu":
        os.environ["TRITON_INTERPRET"] = "1"
    torch.manual_seed(SEED)
    yield
    if old is None:
        os.environ.pop("TRITON_INTERPRET", None)
    else:
        os.environ["TRITON_INTERPRET"] = old


def test_the_interpreter_is_what_runs_the_kernels():
    if DEVICE.type != "cpu":
        pytest.skip(f"the kernel tests run on {DEVICE} (GANZOO_KERNEL_TEST_DEVICE), not in the interpreter")
    k = T.kernels()
    assert type(k.conv2d_kernel).__name__ == "InterpretedFunction"
    assert type(k.phase_conv_kernel).__name__ == "InterpretedFunction"


# ------------------------------------------------------------------------------------------------ helpers
def _rule(ours: torch.Tensor, same: torch.Tensor, ref: torch.Tensor, dtype: torch.dtype, what: str) -> float:
    """Assert the spec's tolerance rule; returns max|ours - ref|."""
    assert ours.shape == ref.shape, f"{what}: shape {tuple(ours.shape)} != {tuple(ref.shape)} (seed {SEED})"
    assert torch.isfinite(ours).all(), f"{what}: NaN/Inf in the output (unwritten elements?) (seed {SEED})"
    err = (ours.double() - ref).abs().max().item()
    base = (same.double() - ref).abs().max().item()
    atol = EPS[dtype] * max(1.0, ref.abs().max().item())
    assert err <= 2 * base + atol, (f"{what} {dtype}: max|ours - ref| = {err:.3g} > 2 * {base:.3g} + {atol:.3g} "
                                    f"(seed {SEED})")
    return err


def _poison(shape, dtype, dims: int = 4) -> torch.Tensor:
    fmt = torch.channels_last if dims == 4 else torch.channels_last_3d
    return torch.empty(shape, dtype=dtype, device=DEVICE, memory_format=fmt).fill_(float("nan"))


def _k(fn, *args, **kwargs) -> torch.Tensor:
    """A Triton launcher run on DEVICE (tensor arguments moved there); the result back on the CPU."""
    def mv(a):
        return a.to(DEVICE) if isinstance(a, torch.Tensor) else a

    return fn(*[mv(a) for a in args], **{k: mv(v) for k, v in kwargs.items()}).cpu()


def _act64(y: torch.Tensor, act: str, alpha: torch.Tensor | None, p: float) -> torch.Tensor:
    return reference.activate(y, act, alpha, p)


def _alpha(act: str, c: int, dtype, shared: bool = False) -> torch.Tensor | None:
    if act != "prelu":
        return None
    a = torch.rand(1 if shared else c) * 0.4 + 0.05
    return a.expand(c).clone().to(dtype)


def _act_param(act: str) -> float:
    return {"leaky_relu": RNG.choice([0.01, 0.2]), "elu": RNG.choice([1.0, 0.7])}.get(act, 0.0)


def _odd(lo: int, hi: int) -> int:
    return RNG.choice([v for v in range(lo, hi + 1) if v % 2])


# ------------------------------------------------------------------------------------------------ conv2d_act
CONV_CASES = [  # (kernel, stride, dilation, residual) ; sizes / channels / padding / act drawn per run
    (3, 1, 1, True), (3, 1, 2, False), (3, 1, 4, True), (3, 2, 1, False), (4, 2, 1, False), (1, 1, 1, False),
    (9, 1, 1, False), (5, 3, 2, False),
]


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16])
@pytest.mark.parametrize("k,stride,dil,res", CONV_CASES)
def test_conv2d_act_kernel(k, stride, dil, res, dtype):
    n = RNG.choice([1, 2, 3])
    cin = RNG.choice([3, 5, 17, 20]) if k != 9 else 3  # cin < 16 takes the flat-K path
    cout = RNG.choice([3, 7, 19, 24])
    pads = [RNG.randint(0, 2) for _ in range(4)]
    span = dil * (k - 1) + 1
    h, w = span + RNG.randint(0, 6), span + RNG.randint(0, 7)
    act = RNG.choice(ACTS)
    p = _act_param(act)
    x = torch.randn(n, cin, h, w).to(dtype)
    wt = (torch.randn(cout, cin, k, k) / (cin * k * k) ** 0.5).to(dtype)
    b = (torch.randn(cout) * 0.1).to(dtype)
    a = _alpha(act, cout, dtype, shared=RNG.random() < 0.5)
    oh = reference.conv2d_out_size(h, k, stride, pads[0], pads[1], dil)
    ow = reference.conv2d_out_size(w, k, stride, pads[2], pads[3], dil)
    r = torch.randn(n, cout, oh, ow).to(dtype) if res else None
    wp = wt.permute(2, 3, 1, 0).contiguous()

    def unfused(t, w_, b_, r_, a_):
        y = F.conv2d(F.pad(t, (pads[2], pads[3], pads[0], pads[1])), w_, b_, stride, 0, dil)
        y = _act64(y, act, a_, p)
        return y + r_ if r_ is not None else y

    ref = unfused(x.double(), wt.double(), b.double(), r.double() if res else None,
                  a.double() if a is not None else None)
    same = unfused(x, wt, b, r, a)
    args = (x, wp, b, a, r, (stride, stride), pads, (dil, dil), act, p)
    what = f"conv2d_act k{k} s{stride} d{dil} pad{pads} {act} x{tuple(x.shape)}->{cout}"
    for cfg in CONFIGS[:2]:
        out = _k(T.conv2d_act, *args, config=cfg, out=_poison((n, cout, oh, ow), dtype))
        _rule(out, same, ref, dtype, f"{what} {cfg}")
    _rule(reference.conv2d_act(*args), same, ref, dtype, f"reference {what}")


# ------------------------------------------------------------------------------------------ conv2d_shuffle_act
@pytest.mark.parametrize("dtype", [torch.float32, torch.float16])
@pytest.mark.parametrize("r,k", [(2, 3), (3, 3), (2, 1)])
def test_conv2d_shuffle_act_kernel(r, k, dtype):
    n, cin, c = RNG.choice([1, 2]), RNG.choice([5, 16, 19]), RNG.choice([3, 5, 16])
    h, w = _odd(3, 9), RNG.randint(3, 8)
    act = RNG.choice(["prelu", "prelu", "none", "relu", "tanh"])
    shared = RNG.random() < 0.5
    x = torch.randn(n, cin, h, w).to(dtype)
    wt = (torch.randn(c * r * r, cin, k, k) / (cin * k * k) ** 0.5).to(dtype)
    b = (torch.randn(c * r * r) * 0.1).to(dtype)
    a = _alpha(act, c, dtype, shared)

    def unfused(t, w_, b_, a_):
        return _act64(F.pixel_shuffle(F.conv2d(t, w_, b_, 1, k // 2), r), act, a_, 0.0)

    ref = unfused(x.double(), wt.double(), b.double(), a.double() if a is not None else None)
    same = unfused(x, wt, b, a)
    args = (x, wt.permute(2, 3, 1, 0).contiguous(), b, a, r, act, 0.0)
    what = f"conv2d_shuffle_act r{r} k{k} {act} shared={shared} x{tuple(x.shape)}->{c}"
    for cfg in CONFIGS:
        out = _k(T.conv2d_shuffle_act, *args, config=cfg, out=_poison((n, c, h * r, w * r), dtype))
        _rule(out, same, ref, dtype, f"{what} {cfg}")
    _rule(reference.conv2d_shuffle_act(*args), same, ref, dtype, f"reference {what}")


# ------------------------------------------------------------------------------------------ conv_transpose_act
CONVT_CASES = [  # (dims, kernel, stride, padding, output_padding, crop, input side or None = random)
    (2, 4, 2, 1, 0, 0, None),  # DCGAN / TGAN
    (2, 4, 1, 0, 0, 0, 1),  # DCGAN's first layer on a 1x1 code
    (2, 3, 2, 0, 0, 1, None),  # DR-GAN: TF 'SAME' (crop the last row / column)
    (2, 3, 1, 1, 0, 0, None),  # DR-GAN stride 1
    (2, 3, 2, 1, 1, 0, None),  # output_padding
    (2, 5, 3, 2, 0, 0, None),  # a phase with fewer taps than the others
    (3, 4, 2, 1, 0, 0, None),  # 3D-GAN
    (3, 4, 1, 0, 0, 0, 1),  # 3D-GAN's first layer
]


@pytest.mark.parametrize("dtype", [torch.float32, torch.float16])
@pytest.mark.parametrize("nd,k,s,p,op_,crop,side", CONVT_CASES)
def test_conv_transpose_act_kernel(nd, k, s, p, op_, crop, side, dtype):
    n = RNG.choice([1, 2])
    cin, cout = RNG.choice([5, 16, 20]), RNG.choice([1, 3, 17])
    size = [side or RNG.randint(2, 5 if nd == 3 else 7) for _ in range(nd)]
    act = RNG.choice(["relu", "tanh", "sigmoid", "elu", "prelu", "none"])
    p_act = _act_param(act)
    x = torch.randn(n, cin, *size).to(dtype)
    wt = (torch.randn(cin, cout, *([k] * nd)) / (cin * k) ** 0.5).to(dtype)
    b = (torch.randn(cout) * 0.1).to(dtype)
    a = _alpha(act, cout, dtype)
    fn = F.conv_transpose2d if nd == 2 else F.conv_transpose3d
    full = [reference.conv_transpose_full_size(i, k, s, p) + op_ for i in size]
    osz = [f - crop for f in full]

    def unfused(t, w_, b_, a_):
        y = fn(t, w_, b_, s, p, op_)[(..., *[slice(0, o) for o in osz])]
        return _act64(y, act, a_, p_act)

    ref = unfused(x.double(), wt.double(), b.double(), a.double() if a is not None else None)
    same = unfused(x, wt, b, a)
    wp = wt.permute(*range(2, 2 + nd), 0, 1).contiguous()
    args = (x, wp, b, a, [s] * nd, [p] * nd, [op_] * nd, [crop] * nd, act, p_act)
    what = f"conv_transpose_act {nd}d k{k} s{s} p{p} op{op_} crop{crop} {act} x{tuple(x.shape)}->{cout}"
    for cfg in CONFIGS[:2] if nd == 2 else CONFIGS[1:2]:  # 3D: one config (the interpreter is slow)
        out = _k(T.conv_transpose_act, *args, config=cfg, out=_poison((n, cout, *osz), dtype, nd + 2))
        _rule(out, same, ref, dtype, f"{what} {cfg}")
    _rule(reference.conv_transpose_act(*args), same, ref, dtype, f"reference {what}")


# -------------------------------------------------------------------------------------- upsample2x_conv3x3
@pytest.mark.parametrize("dtype", [torch.float32, torch.float16])
def test_upsample2x_conv3x3_act_kernel(dtype):
    n, cin, cout = RNG.choice([1, 3]), RNG.choice([3, 17]), RNG.choice([5, 18])
    h, w = RNG.randint(1, 6), RNG.randint(2, 7)
    act = RNG.choice(ACTS)
    p = _act_param(act)
    x = torch.randn(n, cin, h, w).to(dtype)
    w3 = torch.randn(cout, cin, 3, 3) / (cin * 9) ** 0.5
    b = (torch.randn(cout) * 0.1).to(dtype)
    a = _alpha(act, cout, dtype)

    def unfused(t, w_, b_, a_):  # what the model does: upsample, then the 3x3 conv
        return _act64(F.conv2d(F.interpolate(t, scale_factor=2, mode="nearest"), w_, b_, 1, 1), act, a_, p)

    # the pre-summed weights are rounded once from float64: that is the kernel's input, and the reference's
    wp = upsample_conv3x3_weight(w3.double()).to(dtype)
    ref_model = unfused(x.double(), w3.to(dtype).double(), b.double(), a.double() if a is not None else None)
    same = unfused(x, w3.to(dtype), b, a)
    # against the model's own computation: presummed rounding adds at most a few eps per tap
    for cfg in CONFIGS[:2]:
        out = _k(T.upsample2x_conv3x3_act, x, wp, b, a, act, p, config=cfg, out=_poison((n, cout, 2 * h, 2 * w), dtype))
        err = (out.double() - ref_model).abs().max().item()
        tol = 2 * (same.double() - ref_model).abs().max().item() + 4 * EPS[dtype] * max(1, ref_model.abs().max())
        assert err <= tol, f"upsample2x_conv3x3 {dtype} {cfg}: {err:.3g} > {tol:.3g} (seed {SEED})"
    ref_packed = reference.upsample2x_conv3x3_act(x.double(), wp.double(), b.double(),
                                                  a.double() if a is not None else None, act, p)
    out = _k(T.upsample2x_conv3x3_act, x, wp, b, a, act, p, config=CONFIGS[2])
    _rule(out, reference.upsample2x_conv3x3_act(x, wp, b, a, act, p), ref_packed, dtype, "upsample2x (packed ref)")


def test_bf16_kernels():
    """bf16 (under the interpreter the dot operands are upcast to fp32 first: numpy has no bf16 matmul)."""
    dt = torch.bfloat16
    x = torch.randn(2, 17, 6, 7).to(dt)
    wt = (torch.randn(19, 17, 3, 3) / 12).to(dt)
    b = torch.randn(19).to(dt) * 0.1
    ref = F.elu(F.conv2d(x.double(), wt.double(), b.double(), 1, 1))
    same = F.elu(F.conv2d(x, wt, b, 1, 1))
    out = _k(T.conv2d_act, x, wt.permute(2, 3, 1, 0).contiguous(), b, None, None, (1, 1), (1, 1, 1, 1), (1, 1), "elu",
                       1.0, config=CONFIGS[0], out=_poison((2, 19, 6, 7), dt))
    _rule(out, same, ref, dt, "conv2d_act bf16")
    wt2 = (torch.randn(17, 5, 4, 4) / 8).to(dt)
    ref = torch.relu(F.conv_transpose2d(x.double(), wt2.double(), None, 2, 1))
    same = torch.relu(F.conv_transpose2d(x, wt2, None, 2, 1))
    out = _k(T.conv_transpose_act, x, wt2.permute(2, 3, 0, 1).contiguous(), torch.zeros(5, dtype=dt), None, (2, 2),
                               (1, 1), (0, 0), (0, 0), "relu", 0.0, config=CONFIGS[0])
    _rule(out, same, ref, dt, "conv_transpose_act bf16")


def test_kernel_argument_errors_say_expected_and_given():
    x = torch.randn(1, 4, 5, 5)
    with pytest.raises(ValueError, match=r"weight: expected a packed \(KH, KW, Cin=4, Cout\).*got shape"):
        reference.conv2d_act(x, torch.randn(3, 3, 5, 2), torch.zeros(2), None, None, (1, 1), (1, 1, 1, 1), (1, 1),
                             "none", 0.0)
    with pytest.raises(ValueError, match=r"act: expected one of .*got 'gelu'"):
        reference.conv2d_act(x, torch.randn(3, 3, 4, 2), torch.zeros(2), None, None, (1, 1), (1, 1, 1, 1), (1, 1),
                             "gelu", 0.0)
    with pytest.raises(ValueError, match=r"alpha \(PReLU slopes\): expected a tensor of shape \(2,\), got None"):
        reference.conv2d_act(x, torch.randn(3, 3, 4, 2), torch.zeros(2), None, None, (1, 1), (1, 1, 1, 1), (1, 1),
                             "prelu", 0.0)
    with pytest.raises(ValueError, match=r"output_padding\[0\]: expected < stride \(2\), got 2"):
        reference.conv_transpose_act(x, torch.randn(4, 4, 4, 3), torch.zeros(3), None, (2, 2), (1, 1), (2, 0),
                                     (0, 0), "relu", 0.0)
    with pytest.raises(TypeError, match="float32, float16 or bfloat16"):
        T.conv2d_act(x.double(), torch.randn(3, 3, 4, 2).double(), torch.zeros(2).double(), None, None, (1, 1),
                     (1, 1, 1, 1), (1, 1), "none", 0.0)
    with pytest.raises(ValueError, match="BlockConfig.block_m: expected a power of two >= 16, got 24"):
        BlockConfig(24, 16, 16)


def test_triton_on_cpu_without_the_interpreter_names_the_variable(monkeypatch):
    monkeypatch.setenv("TRITON_INTERPRET", "0")
    x = torch.randn(1, 4, 5, 5)
    with pytest.raises(RuntimeError, match="TRITON_INTERPRET=1"):
        T.conv2d_act(x, torch.randn(3, 3, 4, 2), torch.zeros(2), None, None, (1, 1), (1, 1, 1, 1), (1, 1), "none",
                     0.0)
    with pytest.raises(RuntimeError, match="TRITON_INTERPRET=1"):
        optimize(ganzoo.create("dcgan_32", ngf=8), backend="triton")
    with pytest.raises(ValueError, match=r"backend: expected one of \('triton', 'reference'\), got 'cuda'"):
        optimize(ganzoo.create("dcgan_32", ngf=8), backend="cuda")


# --------------------------------------------------------------------------------------------- the ops
def _op_samples():
    x = torch.randn(2, 5, 7, 6)
    yield "conv2d_act", (x, torch.randn(3, 3, 5, 6), torch.randn(6), torch.rand(6), torch.randn(2, 6, 7, 6),
                         [1, 1], [1, 1, 1, 1], [1, 1], "prelu", 0.0)
    yield "conv2d_act", (x, torch.randn(3, 3, 5, 4), torch.randn(4), None, None, [2, 2], [0, 1, 0, 1], [1, 1],
                         "elu", 1.0)
    yield "conv2d_shuffle_act", (x, torch.randn(3, 3, 5, 12), torch.randn(12), torch.rand(3), 2, "prelu", 0.0)
    yield "conv_transpose_act", (x, torch.randn(3, 3, 5, 4), torch.randn(4), None, [2, 2], [0, 0], [0, 0], [1, 1],
                                 "tanh", 0.0)
    yield "conv_transpose_act", (torch.randn(1, 5, 2, 3, 2), torch.randn(4, 4, 4, 5, 2), torch.randn(2), None,
                                 [2, 2, 2], [1, 1, 1], [0, 0, 0], [0, 0, 0], "sigmoid", 0.0)
    yield "upsample2x_conv3x3_act", (x, torch.randn(4, 4, 5, 3), torch.randn(3), None, "relu", 0.0)


@pytest.mark.parametrize("name,args", list(_op_samples()), ids=lambda v: v if isinstance(v, str) else "")
def test_opcheck(name, args):
    op = getattr(torch.ops.ganzoo, name).default
    torch.library.opcheck(op, args)
    out = op(*args)
    assert out.is_contiguous(memory_format=torch.channels_last if out.dim() == 4 else torch.channels_last_3d)
    assert torch.equal(out, getattr(reference, name)(*args))  # the CPU kernel is the reference


# ----------------------------------------------------------------------------------------------- models
def _realistic_(model: nn.Module) -> nn.Module:
    """Weights with O(1) activations (the DCGAN init gives outputs ~1e-3, which hides relative errors) and
    non-trivial BatchNorm statistics / PReLU slopes; eval mode."""
    g = torch.Generator().manual_seed(RNG.randrange(2 ** 31))
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.ConvTranspose3d, nn.Linear, nn.ConvTranspose1d)):
                if isinstance(m, (nn.ConvTranspose2d, nn.ConvTranspose3d, nn.ConvTranspose1d)):
                    fan = m.weight.shape[0] * m.weight[0, 0].numel() / math.prod(m.stride)  # taps per output
                else:
                    fan = m.weight[0].numel()
                m.weight.normal_(0, 1.0 / fan ** 0.5, generator=g)
                if m.bias is not None:
                    m.bias.normal_(0, 0.05, generator=g)
            elif isinstance(m, nn.modules.batchnorm._BatchNorm):
                m.running_mean.normal_(0, 0.1, generator=g)
                m.running_var.uniform_(0.5, 2.0, generator=g)
                m.weight.uniform_(0.7, 1.3, generator=g)
                m.bias.normal_(0, 0.1, generator=g)
            elif isinstance(m, nn.PReLU):
                m.weight.uniform_(0.05, 0.4, generator=g)
    return model.eval()


MODELS = {  # name: (create kwargs, sample_inputs kwargs, expected fused ops)
    "srresnet": (dict(num_blocks=2, width=16, prelu="channel"), dict(size=(5, 7)),
                 {"conv2d_act": 4, "conv2d_shuffle_act": 2}),
    "srgan": (dict(num_blocks=1, width=16), dict(size=(4, 3)), {"conv2d_act": 3, "conv2d_shuffle_act": 2}),
    "dcgan_32": (dict(ngf=8, nc=3), {}, {"conv_transpose_act": 4}),
    "tgan": (dict(g_widths=(16, 16, 8, 8, 8), temporal_widths=(16, 16, 8, 8), z_dim=8, frame_z_dim=8), {},
             {"conv_transpose_act": 4, "conv2d_act": 1}),
    "drgan": (dict(widths=(4, 4, 4, 4, 4, 8, 8, 8, 8, 8, 8, 8, 8, 16), nz=4, num_identities=3), {},
              {"conv2d_act": 14, "conv_transpose_act": 14}),
    "gan3d": (dict(ngf=4, volume_size=16, nz=8), {}, {"conv_transpose_act": 3}),
    "pggan_inpaint": (dict(g_widths=(8, 16), n_blocks=2, norm="bn", upsample="nearest", kernel_size=3, min_size=8),
                      dict(size=(16, 12)), {"conv2d_act": 5, "upsample2x_conv3x3_act": 1}),
}


def _model(name: str):
    kw, skw, ops = MODELS[name]
    m = _realistic_(ganzoo.create(name, **kw))
    return m, m.sample_inputs(RNG.choice([1, 2]), **skw), ops


def _rel(a: torch.Tensor, b: torch.Tensor) -> float:
    return ((a.double() - b.double()).abs().max() / b.double().abs().max().clamp_min(1e-12)).item()


@pytest.mark.parametrize("name", list(MODELS))
def test_reference_backend_matches_the_unoptimised_model_fp32(name):
    m, xs, ops = _model(name)
    fast, report = optimize(m, backend="reference", return_report=True)
    assert report.ops() == ops, str(report)
    assert fast.fusion_report is report and m is not fast
    assert not any(isinstance(mod, ganzoo.kernels.FusedConv2d) for mod in m.modules())  # the original is untouched
    with torch.no_grad():
        want, got = m(*xs), fast(*xs)
    assert _rel(got, want) <= 1e-4, f"{name}: relative error {_rel(got, want):.3g} (seed {SEED})\n{report}"


def _in(m: nn.Module, dt: torch.dtype, xs) -> torch.Tensor:
    """``m`` (a copy, cast to ``dt``) on ``xs`` cast to ``dt``."""
    with torch.no_grad():
        return copy.deepcopy(m).to(dt)(*[x.to(dt) for x in xs])


@pytest.mark.parametrize("name", ["srresnet", "dcgan_32", "pggan_inpaint"])
def test_reference_backend_half_precision_follows_the_rule(name):
    m, xs, _ = _model(name)
    ref = _in(m, torch.float64, xs)
    for dt in (torch.float16, torch.bfloat16):
        fast = optimize(m, backend="reference", dtype=dt)
        with torch.no_grad():
            got = fast(*[x.to(dt) for x in xs])
        _rule(got, _in(m, dt, xs), ref, dt, f"optimised {name}")


@pytest.mark.parametrize("name", ["srresnet", "dcgan_32"])
def test_triton_backend_matches_the_unoptimised_model(name):
    m, xs, ops = _model(name)
    dev = copy.deepcopy(m).to(DEVICE)
    fast, report = optimize(dev, backend="triton", return_report=True)
    assert report.ops() == ops and report.backend == "triton"
    with torch.no_grad():
        want, got = m(*xs), fast(*[x.to(DEVICE) for x in xs]).cpu()
    assert _rel(got, want) <= 1e-4, f"{name} triton fp32: {_rel(got, want):.3g} (seed {SEED})"
    fast16 = optimize(dev, backend="triton", dtype=torch.float16)
    with torch.no_grad():
        got16 = fast16(*[x.to(DEVICE).half() for x in xs]).cpu()
    _rule(got16, _in(m, torch.float16, xs), _in(m, torch.float64, xs), torch.float16, f"triton-optimised {name}")


def test_report_lists_fallbacks_with_reasons():
    m = ganzoo.create("srresnet", num_blocks=1, width=8)
    report = optimize(m, backend="reference", return_report=True)[1]
    (tail,) = [f for f in report.fallbacks if f.name == "generator.tail"]
    assert "nothing to fuse" in tail.reason
    tgan = optimize(ganzoo.create("tgan", **MODELS["tgan"][0]), backend="reference").fusion_report
    reasons = {f.name: f.reason for f in tgan.fallbacks}
    assert "1-D" in reasons["generator.temporal.main.0"] and "Linear" in reasons["generator.image.slow.0"]
    inp = optimize(ganzoo.create("pggan_inpaint", g_widths=(8, 16), n_blocks=1, min_size=8), backend="reference")
    # InstanceNorm (the default) cannot be folded: only the tail (conv + tanh, no norm) is fused
    assert [f.name for f in inp.fusion_report.fused] == ["generator.tail.0"]
    convs = [f for f in inp.fusion_report.fallbacks if "Conv" in f.module]
    assert len(convs) == 5 and all("cannot be folded" in f.reason for f in convs), convs
    ex = optimize(m, backend="reference", exclude=["generator.upsample*"], return_report=True)[1]
    assert "conv2d_shuffle_act" not in ex.ops() and any("excluded" in f.reason for f in ex.fallbacks)
    assert "fallback  generator.tail" in str(report) and report.to_dict()["backend"] == "reference"


def test_load_with_a_backend():
    m = ganzoo.load("dcgan.mnist", backend="reference")
    assert m.fusion_report.ops() == {"conv_transpose_act": 5}
    plain = ganzoo.load("dcgan.mnist")
    z = plain.sample_inputs(2)
    with torch.no_grad():
        assert _rel(m(*z), plain(*z)) <= 1e-4
    with pytest.raises(ValueError, match="backend: expected one of"):
        ganzoo.load("dcgan.mnist", backend="tensorrt")


# ------------------------------------------------------------------------------- compile / export / onnx
def _srresnet():
    m = _realistic_(ganzoo.create("srresnet", num_blocks=1, width=8))
    return m, optimize(m, backend="reference"), m.sample_inputs(2, size=(5, 6))


def test_torch_compile_of_an_optimised_srresnet():
    m, fast, xs = _srresnet()
    torch._dynamo.reset()
    compiled = torch.compile(fast.generator, backend="aot_eager", fullgraph=True)  # dynamo + AOT functionalisation
    with torch.no_grad():
        assert _rel(compiled(*xs), m(*xs)) <= 1e-4
    # Inductor (C++ codegen on the CPU) on one fused block: the whole model would take a minute to compile here
    block = fast.generator.upsample[0][0]
    x = torch.randn(2, 8, 5, 6)
    torch._dynamo.reset()
    with torch.no_grad():
        assert torch.allclose(torch.compile(block, fullgraph=True)(x), block(x), rtol=1e-5, atol=1e-6)


def test_torch_export_of_an_optimised_srresnet_keeps_one_node_per_fused_op():
    m, fast, xs = _srresnet()
    b = torch.export.Dim("B", min=1, max=8)
    ep = torch.export.export(fast.generator, xs, dynamic_shapes=({0: b},))
    targets = [str(n.target) for n in ep.graph.nodes if n.op == "call_function"]
    assert sum("ganzoo.conv2d_act" in t for t in targets) == 4
    assert sum("ganzoo.conv2d_shuffle_act" in t for t in targets) == 2
    x3 = m.sample_inputs(3, size=(5, 6))
    with torch.no_grad():
        assert _rel(ep.module()(*x3), m(*x3)) <= 1e-4


@pytest.mark.parametrize("name", ["srresnet", "dcgan_32"])
def test_onnx_export_of_an_optimised_model_has_standard_ops_and_validates(name, tmp_path):
    import onnx
    import onnxruntime as ort

    from ganzoo.export import to_onnx

    m, xs, _ = _model(name)
    fast = optimize(m, backend="reference")
    size = (6, 5) if name == "srresnet" else None
    res = to_onnx(fast, tmp_path / "m.onnx", size=size)  # validated in ONNX Runtime against PyTorch
    assert res.validation is not None and all(c.passed for c in res.validation.cases)
    proto = onnx.load(str(tmp_path / "m.onnx"))
    assert {n.domain for n in proto.graph.node} <= {"", "ai.onnx"}
    types = {n.op_type for n in proto.graph.node}
    if name == "srresnet":
        assert {"Conv", "DepthToSpace", "PRelu"} <= types
        modes = {a.s.decode() for n in proto.graph.node if n.op_type == "DepthToSpace" for a in n.attribute
                 if a.name == "mode"}
        assert modes == {"CRD"}
    else:
        assert "ConvTranspose" in types
    sess = ort.InferenceSession(proto.SerializeToString(), providers=["CPUExecutionProvider"])
    feed = {i.name: x.numpy() for i, x in zip(sess.get_inputs(), xs)}
    with torch.no_grad():
        want = m(*xs)
    assert _rel(torch.from_numpy(sess.run(None, feed)[0]), want) <= 1e-4  # against the *unoptimised* model


# ------------------------------------------------------------------------------------------ bench backend
def test_bench_triton_backend_uses_optimize(monkeypatch):
    from ganzoo.bench.backends import TritonBackend

    assert TritonBackend.available(str(DEVICE)) == (True, "")
    m, xs, _ = _model("dcgan_32")
    be = TritonBackend()
    be.prepare(m, tuple(x.to(DEVICE) for x in xs), "fp32", str(DEVICE))
    assert be.info["fused_ops"] == {"conv_transpose_act": 4}
    with torch.no_grad():
        assert _rel(be(be.adapt_inputs(tuple(x.to(DEVICE) for x in xs))).cpu(), m(*xs)) <= 1e-4
    monkeypatch.setenv("TRITON_INTERPRET", "0")
    ok, why = TritonBackend.available("cpu")
    assert not ok and "CUDA device" in why and "TRITON_INTERPRET=1" in why


# ---------------------------------------------------------------------------------------------- roofline
def test_roofline_counts():
    from ganzoo.kernels import roofline as R

    # 3x3 'same' conv: per axis 3*H - 2 taps land inside; k4/s2/p1 transposed conv: 4*I - 2
    assert R.conv_taps(10, 3, 1, 1, 1, 10) == 28 and R.conv_transpose_taps(7, 4, 2, 1, 14) == 26
    assert R.conv_taps(8, 3, 1, 2, 2, 8) == 3 * 8 - 4  # dilation 2, padding 2: 2 taps lost at each edge
    f, b = R.conv2d_cost(1, 64, 64, (32, 32), (32, 32), (3, 3), (1, 1), (1, 1), (1, 1), 2)
    assert f == 2 * 64 * 64 * 94 * 94 and b == 2 * (64 * 1024 * 2 + 9 * 64 * 64 + 64)
    # SRResNet x4 on 256x256 (the spec's example): ~290 GFLOP and ~1.06 GB with the unfused 9x9 tail conv
    m = ganzoo.create("srresnet")
    fast = optimize(m, backend="reference", dtype=torch.float16)
    costs = R.model_costs(fast, [torch.empty(1, 3, 256, 256, dtype=torch.float16)])
    tail_flops = 2 * 64 * 3 * R.conv_taps(1024, 9, 1, 4, 1, 1024) ** 2
    tail_bytes = 2 * (64 + 3) * 1024 * 1024
    total = sum(c.flops for c in costs) + tail_flops
    assert 280e9 < total < 300e9
    assert 1.0e9 < sum(c.bytes for c in costs) + tail_bytes < 1.1e9
    assert all(c.unfused_bytes > c.bytes for c in costs)
    assert R.peak_for("NVIDIA H100 80GB HBM3", "fp16") == (989e12, 3.35e12) and R.peak_for("Tesla T4", "fp16") is None
    assert R.floor_seconds(290e9, 1.06e9, 989e12, 3.35e12) == pytest.approx(3.16e-4, rel=0.01)


def test_bench_kernels_script_needs_cuda_and_its_cpu_parts_work():
    spec = importlib.util.spec_from_file_location("bench_kernels", REPO_ROOT / "tools" / "bench_kernels.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    rows = mod.roofline_rows(ganzoo.create("dcgan_32", ngf=8), "fp16", batch=8, gpu="NVIDIA H100 80GB HBM3")
    assert rows and all(r["floor_ms"] > 0 and r["flops"] > 0 for r in rows)
    if torch.cuda.is_available():
        return
    env = {**os.environ, "TRITON_INTERPRET": "0"}
    r = subprocess.run([sys.executable, str(REPO_ROOT / "tools" / "bench_kernels.py"), "--models", "dcgan_32"],
                       capture_output=True, text=True, timeout=300, env=env, cwd=REPO_ROOT)
    assert r.returncode == 2 and "needs a CUDA GPU" in r.stderr, r.stderr[-2000:]


def test_import_ganzoo_stays_light():
    code = ("import sys, ganzoo; assert callable(ganzoo.__getattr__); "
            "print(','.join(m for m in ('ganzoo.kernels', 'triton', 'torch') if m in sys.modules))")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=REPO_ROOT)
    assert r.returncode == 0 and r.stdout.strip() == "", (r.stdout, r.stderr[-2000:])


# ----------------------------------------------------------------------------------------- CUDA only
needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU (the CPU checks above run "
                                "the same kernels through Triton's interpreter)")


@pytest.mark.gpu
@needs_cuda
@pytest.mark.parametrize("name,args", list(_op_samples()), ids=lambda v: v if isinstance(v, str) else "")
def test_opcheck_cuda(name, args):
    """The triton_op registration itself: fake impl, functionalisation and the wrap_triton path on real kernels."""
    cuda = tuple(a.cuda() if isinstance(a, torch.Tensor) else a for a in args)
    op = getattr(torch.ops.ganzoo, name).default
    torch.library.opcheck(op, cuda)
    got = op(*cuda).cpu()
    assert _rel(got, getattr(reference, name)(*args)) <= 1e-5


@pytest.mark.gpu
@needs_cuda
def test_compile_export_and_cuda_graphs_of_the_triton_path():
    m = _realistic_(ganzoo.create("srresnet", num_blocks=2, width=32))
    xs = tuple(x.cuda().half() for x in m.sample_inputs(2, size=(24, 20)))
    fast = optimize(m.cuda(), backend="triton", dtype=torch.float16)
    with torch.no_grad():
        eager = fast(*xs)
        torch._dynamo.reset()
        compiled = torch.compile(fast.generator, fullgraph=True)(*xs)  # Inductor sees the user Triton kernels
        assert _rel(compiled, eager) <= 1e-3
        ep = torch.export.export(fast.generator, xs)
        assert sum("ganzoo." in str(n.target) for n in ep.graph.nodes) == 8
        assert _rel(ep.module()(*xs), eager) <= 1e-3
        g = torch.cuda.CUDAGraph()
        static = xs[0].clone()
        fast(static)
        with torch.cuda.graph(g):
            out = fast(static)
        static.copy_(xs[0])
        g.replay()
        assert torch.equal(out, eager)
