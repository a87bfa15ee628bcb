"""Exact inference rewrites applied to a generator before it is exported.

Each pass replaces a piece of the network by one that computes the same function (up to the order of fp
summation) but runs faster in a deployment runtime. ``to_onnx`` applies them by default (``optimize=True``) to a
copy of the model and then validates the exported graph against the *original* PyTorch model, so a wrong rewrite
cannot pass unnoticed. ``optimize_for_inference`` is public so the same module can run in eager PyTorch.

Passes (in order):

``shared_prelu_to_leaky_relu``
    ``nn.PReLU()`` with one shared slope ``a`` is ``LeakyReLU(a)`` for every ``a``. ONNX Runtime and TensorRT fuse
    ``LeakyRelu`` into the preceding convolution; they do not fuse ``PRelu``, which then costs one more pass over
    every activation tensor (19 passes in SRResNet).

``pack_subpixel_conv``
    ``PixelShuffle(r) -> pointwise activation -> Conv2d(Cout small, k x k, stride 1, "same" padding)`` becomes
    ``activation -> Conv2d(Cin*r^2 -> Cout*r^2, K x K) -> PixelShuffle(r)`` on the low-resolution tensor, with
    ``K = floor((k - 1 - p + r - 1) / r) + ceil(p / r) + 1`` taps per axis (5 for the 9x9 SRGAN tail at r=2).
    The r^2 output phases of each output channel become channels (output pixels packed into the channel
    dimension, the standard remedy for small-Cout output convs), so a conv with Cout=3, which wastes most of every
    8/16-wide SIMD or tensor-core tile, becomes one with Cout*r^2=12, and the largest tensor of the network (the
    64-channel HR activation) is never shuffled. The multiply-adds grow by ``r^2 K^2 / k^2`` (1.23x for the SRGAN
    tail), so the pass only applies where that ratio is at most ``max_cost_ratio`` and ``Cout <= max_out_channels``.

Derivation, one axis: output pixel ``r*i + a`` (phase ``a``) of a conv with taps ``d in [0, k)`` and padding ``p``
reads shuffled pixel ``r*i + a + d - p = r*(i + P) + s`` with ``P = floor((a + d - p) / r)`` and ``s`` its remainder,
i.e. low-resolution pixel ``i + P`` of sub-pixel channel phase ``s``. So the packed weight is
``W'[c*r^2 + a*r + b, c'*r^2 + s*r + t, P - lo, Q - lo] = w[c, c', d_y, d_x]`` (channel order of DepthToSpace
mode CRD, which is what ``PixelShuffle`` is), zero where no tap lands.
"""
from __future__ import annotations

import copy
import inspect
import logging
from dataclasses import dataclass
from typing import Any, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ganzoo.utils import flatten_outputs

from .errors import RewriteError

__all__ = ["PASSES", "PackedSubPixelConv", "Rewrite", "check_rewrite", "optimize_for_inference",
           "pack_subpixel_conv_weights", "summarize"]

logger = logging.getLogger(__name__)

PASSES: tuple[str, ...] = ("shared_prelu_to_leaky_relu", "pack_subpixel_conv")

# activations that act on each element alone with no per-channel parameter (PReLU is handled apart)
_POINTWISE = (nn.Identity, nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.ELU, nn.SELU, nn.CELU, nn.GELU, nn.SiLU, nn.Mish,
              nn.Tanh, nn.Sigmoid, nn.Hardtanh, nn.Hardswish, nn.Hardsigmoid, nn.Softplus)


@dataclass(frozen=True)
class Rewrite:
    """One applied rewrite: the pass, where in the module (qualified name), and what it did."""

    name: str
    where: str
    detail: str

    def __str__(self) -> str:
        return f"{self.name} @ {self.where}: {self.detail}"

    def to_dict(self) -> dict[str, str]:
        return {"pass": self.name, "where": self.where, "detail": self.detail}


def optimize_for_inference(module: nn.Module, passes: Sequence[str] = PASSES, *, max_out_channels: int = 8,
                           max_cost_ratio: float = 2.0,
                           example_inputs: Sequence[torch.Tensor] | None = None) -> tuple[nn.Module, list[Rewrite]]:
    """A copy of ``module`` (eval mode, same device and dtype) with the exact rewrites of ``passes`` applied.

    Inputs and outputs are unchanged: same shapes, dtypes and value ranges as ``module``. The copy is an
    ``nn.Module`` of the same class, or a ``torch.fx.GraphModule`` when ``pack_subpixel_conv`` changed the
    dataflow. Returns (module, applied rewrites); the list is empty when no pattern matched. ``module`` itself
    is not modified. Inference only: the rewritten module is not meant for training.

    example_inputs: when given and a rewrite applied, both modules run on them in float64 and must agree to
        ``1e-9 * (1 + max|output|)`` (fp32 rounding cannot hide a wrong rewrite there); else RewriteError.
    """
    if isinstance(passes, str):
        raise TypeError(f"passes must be a sequence of pass names, got the string {passes!r}")
    unknown = [p for p in passes if p not in PASSES]
    if unknown:
        raise ValueError(f"unknown rewrite pass(es) {unknown}; expected some of {list(PASSES)}")
    out = copy.deepcopy(module).eval()
    applied: list[Rewrite] = []
    for name in PASSES:  # fixed order: PReLUs become LeakyReLUs before the sub-pixel pass moves them
        if name not in passes:
            continue
        if name == "shared_prelu_to_leaky_relu":
            applied += _shared_prelu_to_leaky_relu(out)
        else:
            out, done = _pack_subpixel_convs(out, max_out_channels, max_cost_ratio)
            applied += done
    for r in applied:
        logger.debug("rewrite %s", r)
    if applied and example_inputs is not None:
        check_rewrite(module, out, example_inputs, applied)
    return out, applied


def summarize(rewrites: Sequence[Rewrite], max_places: int = 3) -> str:
    """One line per pass: ``name xN (where, where, ...)``, or ``none``; for logs and the CLI."""
    by_pass: dict[str, list[Rewrite]] = {}
    for r in rewrites:
        by_pass.setdefault(r.name, []).append(r)
    if not by_pass:
        return "none"
    lines = []
    for name, rs in by_pass.items():
        if len(rs) == 1:
            lines.append(str(rs[0]))
            continue
        places = ", ".join(r.where for r in rs[:max_places]) + (", ..." if len(rs) > max_places else "")
        lines.append(f"{name} x{len(rs)} ({places})")
    return "\n".join(lines)


def check_rewrite(original: nn.Module, rewritten: nn.Module, inputs: Sequence[torch.Tensor],
                  applied: Sequence[Rewrite] = (), rel: float = 1e-9) -> float:
    """Run ``original`` and ``rewritten`` on ``inputs`` in float64 (copies; eval mode) and return the largest
    absolute difference of their outputs. Raises RewriteError when it exceeds ``rel * (1 + max|output|)`` or
    the outputs differ in number or shape. Modules that cannot run in float64 are not checked (returns nan):
    the export's validation against the original model still covers them.
    """
    names = [r.name for r in applied]
    xs = [x.detach().to(torch.float64) if x.is_floating_point() else x for x in inputs]
    try:
        with torch.no_grad():
            ref = flatten_outputs(copy.deepcopy(original).eval().to(torch.float64)(*xs))
            got = flatten_outputs(copy.deepcopy(rewritten).eval().to(torch.float64)(*xs))
    except (RuntimeError, TypeError) as e:  # e.g. a forward that builds float32 constants
        logger.info("rewrite check skipped: %s does not run in float64 (%s)", type(original).__name__, e)
        return float("nan")
    if len(ref) != len(got) or any(a.shape != b.shape for a, b in zip(ref, got)):
        raise RewriteError(f"rewrites {names} changed the outputs: expected shapes {[tuple(t.shape) for t in ref]}, "
                           f"got {[tuple(t.shape) for t in got]}", passes=names)
    worst = 0.0
    for k, (a, b) in enumerate(zip(ref, got)):
        if not a.is_floating_point():
            if not torch.equal(a, b):
                raise RewriteError(f"rewrites {names} changed integer output {k}", passes=names)
            continue
        err = float((a - b).abs().max()) if a.numel() else 0.0
        bound = rel * (1.0 + float(a.abs().max()) if a.numel() else 1.0)
        worst = max(worst, err)
        if not err <= bound:  # also catches NaN
            raise RewriteError(f"rewrites {names} do not compute the original function: output {k} differs by "
                               f"{err:.3g} in float64 (allowed {bound:.3g})", max_abs_err=err, passes=names)
    return worst


# --- shared PReLU -> LeakyReLU -------------------------------------------------------------------------------


def _shared_prelu_to_leaky_relu(root: nn.Module) -> list[Rewrite]:
    done: list[Rewrite] = []
    for parent_name, parent in list(root.named_modules()):
        for child_name, child in list(parent.named_children()):
            if type(child) is nn.PReLU and child.num_parameters == 1:
                slope = float(child.weight.detach().reshape(()))
                setattr(parent, child_name, nn.LeakyReLU(slope))
                where = f"{parent_name}.{child_name}" if parent_name else child_name
                done.append(Rewrite("shared_prelu_to_leaky_relu", where, f"slope {slope:.6g}"))
    return done


# --- PixelShuffle -> activation -> small conv  ==>  activation -> packed conv -> PixelShuffle ----------------


def _taps(k: int, p: int, r: int) -> tuple[int, int]:
    """(lo, hi): the low-resolution offsets ``floor((a + d - p) / r)`` over phases a < r and taps d < k."""
    return (-p) // r, (r - 1 + k - 1 - p) // r


def pack_subpixel_conv_weights(weight: torch.Tensor, bias: torch.Tensor | None, r: int,
                               padding: tuple[int, int]) -> tuple[torch.Tensor, torch.Tensor | None, tuple[int, ...]]:
    """Weights of the conv on the *unshuffled* tensor equal to ``conv(pixel_shuffle(x, r))``.

    weight: (Cout, Cin, kh, kw) of a stride-1, dilation-1, ungrouped conv with zero ``padding`` (ph, pw) and
    ``2 * p == k - 1`` per axis (output size = input size). Returns (W' of shape (Cout*r^2, Cin*r^2, Kh, Kw),
    bias' of shape (Cout*r^2,) or None, pad (left, right, top, bottom) for ``F.pad`` before W'). Then
    ``pixel_shuffle(conv2d(F.pad(x, pad), W', bias'), r) == conv2d(pixel_shuffle(x, r), weight, bias, padding)``.
    Computed in float64 and returned in ``weight``'s dtype.
    """
    cout, cin, kh, kw = weight.shape
    (ph, pw), rr = padding, r * r
    lo_y, hi_y = _taps(kh, ph, r)
    lo_x, hi_x = _taps(kw, pw, r)
    packed = torch.zeros(cout * rr, cin * rr, hi_y - lo_y + 1, hi_x - lo_x + 1, dtype=torch.float64,
                         device=weight.device)
    w = weight.detach().to(torch.float64)
    oc, ic = torch.arange(cout, device=weight.device) * rr, torch.arange(cin, device=weight.device) * rr
    for a in range(r):
        for dy in range(kh):
            big_p, s = divmod(a + dy - ph, r)
            for b in range(r):
                for dx in range(kw):
                    big_q, t = divmod(b + dx - pw, r)
                    packed[(oc + a * r + b)[:, None], (ic + s * r + t)[None, :], big_p - lo_y, big_q - lo_x] = w[:, :, dy, dx]
    new_bias = bias.detach().repeat_interleave(rr) if bias is not None else None
    return packed.to(weight.dtype), new_bias, (-lo_x, hi_x, -lo_y, hi_y)


class PackedSubPixelConv(nn.Module):
    """``pixel_shuffle(conv(pad(act(x))), r)``: a conv over ``pixel_shuffle(x, r)`` computed on ``x``.

    x: (B, Cin*r^2, H, W) -> (B, Cout, r*H, r*W). Built by :func:`optimize_for_inference`; ``act`` is the
    pointwise activation that sat between the shuffle and the conv (per-channel PReLU slopes repeated r^2 times).
    """

    def __init__(self, act: nn.Module, weight: torch.Tensor, bias: torch.Tensor | None, r: int,
                 pad: tuple[int, int, int, int]):
        super().__init__()
        self.act = act
        self.r = r
        left, right, top, bottom = pad
        symmetric = left == right and top == bottom
        self.pad = nn.Identity() if symmetric else nn.ZeroPad2d(pad)
        self.conv = nn.Conv2d(weight.shape[1], weight.shape[0], tuple(weight.shape[2:]), 1,
                              (top, left) if symmetric else 0, bias=bias is not None,
                              device=weight.device, dtype=weight.dtype)
        with torch.no_grad():
            self.conv.weight.copy_(weight)
            if bias is not None:
                self.conv.bias.copy_(bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.pixel_shuffle(self.conv(self.pad(self.act(x))), self.r)


def _pixel_shuffle_factor(node: Any, gm: Any) -> int | None:
    if node.op == "call_module" and type(gm.get_submodule(node.target)) is nn.PixelShuffle:
        return int(gm.get_submodule(node.target).upscale_factor)
    if node.op == "call_function" and node.target in (F.pixel_shuffle, torch.pixel_shuffle):
        r = node.args[1] if len(node.args) > 1 else node.kwargs.get("upscale_factor")
        return int(r) if isinstance(r, int) else None
    return None


def _unshuffled_act(act: nn.Module, rr: int) -> nn.Module | None:
    """The activation to apply before the shuffle instead of after it, or None when it does not commute."""
    if type(act) is nn.PReLU:
        new = copy.deepcopy(act)
        if act.num_parameters > 1:  # channel c of the shuffled tensor is channels c*r^2 .. c*r^2 + r^2 - 1 before
            new = nn.PReLU(act.num_parameters * rr, device=act.weight.device, dtype=act.weight.dtype)
            with torch.no_grad():
                new.weight.copy_(act.weight.repeat_interleave(rr))
        return new
    if type(act) in _POINTWISE:
        return copy.deepcopy(act)
    return None


def _conv_ok(conv: nn.Module, max_out_channels: int) -> bool:
    return (type(conv) is nn.Conv2d and conv.stride == (1, 1) and conv.dilation == (1, 1) and conv.groups == 1
            and conv.padding_mode == "zeros" and not isinstance(conv.padding, str)
            and all(2 * p == k - 1 for p, k in zip(conv.padding, conv.kernel_size))
            and conv.out_channels <= max_out_channels)


def _needs_trace(root: nn.Module) -> bool:
    return any(type(m) is nn.PixelShuffle for m in root.modules()) or "pixel_shuffle" in _source(root)


def _source(root: nn.Module) -> str:
    try:
        return inspect.getsource(type(root).forward)
    except (OSError, TypeError):
        return ""


def _trace(root: nn.Module) -> Any:
    """torch.fx trace of ``root``; the ganzoo input checks (``check_*`` functions in the model's module) are
    kept as opaque calls, since they branch on shapes."""
    import torch.fx as fx

    mod = inspect.getmodule(type(root))
    wrap = tuple(v for k, v in vars(mod).items() if k.startswith("check_") and inspect.isfunction(v)) if mod else ()
    tracer = fx.Tracer(autowrap_functions=wrap)
    graph = tracer.trace(root)
    return fx.GraphModule(tracer.root, graph, type(root).__name__)


def _pack_subpixel_convs(root: nn.Module, max_out_channels: int, max_cost_ratio: float) -> tuple[nn.Module, list[Rewrite]]:
    if not _needs_trace(root):
        return root, []
    try:
        gm = _trace(root)
    except Exception as e:  # data-dependent forward: this pass cannot see its dataflow, the others still apply
        logger.debug("pack_subpixel_conv skipped for %s: torch.fx cannot trace it (%s: %s)", type(root).__name__,
                     type(e).__name__, e)
        return root, []
    done: list[Rewrite] = []
    for conv_node in list(gm.graph.nodes):
        if conv_node.op != "call_module" or not _conv_ok(gm.get_submodule(conv_node.target), max_out_channels):
            continue
        conv = gm.get_submodule(conv_node.target)
        prev = conv_node.args[0] if len(conv_node.args) == 1 and not conv_node.kwargs else None
        act_node, act = None, nn.Identity()
        if prev is not None and prev.op == "call_module" and _unshuffled_act(gm.get_submodule(prev.target), 1) is not None:
            act_node, act = prev, gm.get_submodule(prev.target)
            prev = prev.args[0] if len(prev.args) == 1 and not prev.kwargs else None
        r = _pixel_shuffle_factor(prev, gm) if prev is not None and hasattr(prev, "op") else None
        if r is None or r < 2:
            continue
        chain = [n for n in (prev, act_node) if n is not None]
        if any(len(n.users) != 1 for n in chain):
            continue  # an intermediate result is used elsewhere: it must still be computed
        (kh, kw), lo_hi = conv.kernel_size, [_taps(k, p, r) for k, p in zip(conv.kernel_size, conv.padding)]
        taps = [hi - lo + 1 for lo, hi in lo_hi]
        ratio = r * r * taps[0] * taps[1] / (kh * kw)
        if ratio > max_cost_ratio:
            continue
        new_act = _unshuffled_act(act, r * r)
        weight, bias, pad = pack_subpixel_conv_weights(conv.weight, conv.bias, r, conv.padding)
        packed = PackedSubPixelConv(new_act, weight, bias, r, pad)
        target = f"{conv_node.target.replace('.', '_')}_packed"
        gm.add_submodule(target, packed)
        with gm.graph.inserting_before(conv_node):
            new_node = gm.graph.call_module(target, (prev.args[0],))
        conv_node.replace_all_uses_with(new_node)
        for n in (conv_node, act_node, prev):
            if n is not None:
                gm.graph.erase_node(n)
        done.append(Rewrite(
            "pack_subpixel_conv", str(conv_node.target),
            f"PixelShuffle({r}) -> {type(act).__name__} -> Conv {kh}x{kw} {conv.in_channels}->{conv.out_channels} "
            f"became {type(new_act).__name__} -> Conv {taps[0]}x{taps[1]} {weight.shape[1]}->{weight.shape[0]} -> "
            f"PixelShuffle({r}) ({ratio:.2f}x the multiply-adds, Cout {conv.out_channels} -> {weight.shape[0]})"))
    if not done:
        return root, []
    gm.graph.eliminate_dead_code()
    gm.delete_all_unused_submodules()
    gm.graph.lint()
    gm.recompile()
    return gm, done
