"""``optimize``: swap a built generator's blocks for fused modules, from outside the model files.

The model files never import this module. :func:`optimize` walks a (copy of a) generator, matches module
*structure* (an ``nn.Sequential``'s run of children, a :class:`ganzoo.layers.ResidualBlock`, a lone transposed
conv), folds eval-mode BatchNorm into the conv, pre-packs the weights once and replaces the matched modules
(the first by the fused module, the rest by ``nn.Identity`` so indices stay put). Anything it does not match is
left as is and listed, with the reason, in the returned :class:`FusionReport`.

Patterns (each optional part in brackets):

* ``[ZeroPad2d] Conv2d [BatchNorm2d] [act]`` -> :class:`FusedConv2d` (``conv2d_act``)
* ``ResidualBlock`` (x + body(x), body = two such convs) -> :class:`FusedResidualBlock` (the second conv adds x in
  its epilogue)
* ``Conv2d PixelShuffle(r) [act]`` -> :class:`FusedConvShuffle` (``conv2d_shuffle_act``; 'same' padding)
* ``ConvTranspose2d|3d [bottom/right crop] [BatchNorm] [act]`` -> :class:`FusedConvTranspose`
  (``conv_transpose_act``, sub-pixel phase convs)
* ``Upsample(scale_factor=2, mode="nearest") Conv2d 3x3/s1/p1 [BatchNorm2d] [act]`` (the conv may sit in a nested
  ``nn.Sequential``) -> :class:`FusedUpsampleConv` (``upsample2x_conv3x3_act``)

act: Identity, ReLU, PReLU (shared or per channel), LeakyReLU, ELU, Tanh, Sigmoid. A conv followed by a norm that
cannot be folded (InstanceNorm, or BatchNorm without running statistics) is left alone, and so is a plain
biased ``Conv2d`` with nothing to absorb (cuDNN adds its bias itself; the fused kernel would save no traffic).

Backends: ``"triton"`` (CUDA tensors run the Triton kernels through the ``torch.ops.ganzoo`` ops; CPU tensors need
``TRITON_INTERPRET=1`` and then run the same kernels through Triton's interpreter, eagerly) and ``"reference"``
(the plain-PyTorch implementations: through the ops on the CPU, directly on CUDA).
"""
from __future__ import annotations

import copy
import dataclasses
import fnmatch
import logging
from typing import Any, Sequence

import torch
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm
from torch.nn.modules.instancenorm import _InstanceNorm

from . import pack, reference

__all__ = ["optimize", "FusionReport", "FusedLayer", "Fallback", "FusedConv2d", "FusedResidualBlock",
           "FusedConvShuffle", "FusedConvTranspose", "FusedUpsampleConv", "FUSED_TYPES", "BACKENDS",
           "fusion_report", "check_backend"]

logger = logging.getLogger("ganzoo.kernels")

BACKENDS = ("triton", "reference")
_DTYPES = (torch.float32, torch.float16, torch.bfloat16)


# ----------------------------------------------------------------------------------------------------- report
@dataclasses.dataclass
class FusedLayer:
    """One fused block: where (path in the model), which op, what it replaced (``consumed``: the paths of the
    original modules) and a one-line description."""

    name: str
    op: str
    detail: str
    consumed: tuple[str, ...]


@dataclasses.dataclass
class Fallback:
    """A layer left to PyTorch, and why."""

    name: str
    module: str
    reason: str


@dataclasses.dataclass
class FusionReport:
    """What :func:`optimize` did. ``str(report)`` is a table; ``to_dict()`` a JSON-able summary."""

    backend: str
    dtype: str
    fused: list[FusedLayer] = dataclasses.field(default_factory=list)
    fallbacks: list[Fallback] = dataclasses.field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"backend": self.backend, "dtype": self.dtype,
                "fused": [dataclasses.asdict(f) for f in self.fused],
                "fallbacks": [dataclasses.asdict(f) for f in self.fallbacks]}

    def ops(self) -> dict[str, int]:
        """Fused blocks per op name."""
        out: dict[str, int] = {}
        for f in self.fused:
            out[f.op] = out.get(f.op, 0) + 1
        return out

    def __str__(self) -> str:
        lines = [f"ganzoo.optimize: backend={self.backend}, dtype={self.dtype}: {len(self.fused)} fused, "
                 f"{len(self.fallbacks)} left to PyTorch"]
        lines += [f"  fused     {f.name}: {f.op} ({f.detail})" for f in self.fused]
        lines += [f"  fallback  {f.name} [{f.module}]: {f.reason}" for f in self.fallbacks]
        return "\n".join(lines)


def fusion_report(model: nn.Module) -> FusionReport | None:
    """The report :func:`optimize` attached to the model it returned (None for other models)."""
    return getattr(model, "fusion_report", None)


# --------------------------------------------------------------------------------------------------- dispatch
def _call(name: str, backend: str, x: torch.Tensor, *args: Any) -> torch.Tensor:
    """Run op ``name`` for ``backend`` on ``x``'s device (see the module docstring)."""
    from . import ops  # noqa: F401 - registers torch.ops.ganzoo.* on first use

    if backend == "reference" and x.device.type != "cpu":
        return getattr(reference, name)(x, *args)
    if backend == "triton" and x.device.type == "cpu":
        tracing = torch.compiler.is_compiling() or type(x) is not torch.Tensor  # fake / functional tensors
        if not tracing:
            from . import triton_impl

            triton_impl.check_triton_device(x, name)
            return getattr(triton_impl, name)(x, *args)
    return getattr(torch.ops.ganzoo, name)(x, *args)


class _Fused(nn.Module):
    """Base of the fused modules: frozen parameters (so ``.to(dtype)`` and ``first_param`` work), a backend."""

    op: str = ""

    def __init__(self, backend: str):
        super().__init__()
        self.backend = backend
        self.folded_norm = False  # whether a BatchNorm was folded in (for the roofline's unfused-traffic count)

    def _param(self, name: str, t: torch.Tensor | None) -> None:
        if t is None:
            self.register_parameter(name, None)
        else:
            self.register_parameter(name, nn.Parameter(t.detach().clone(), requires_grad=False))

    def _params(self, weight: torch.Tensor, bias: torch.Tensor | None, alpha: torch.Tensor | None) -> None:
        """Register the packed weight, the (folded) bias and the PReLU slopes (None where absent)."""
        for name, t in (("weight", weight), ("bias", bias), ("alpha", alpha)):
            self._param(name, t)


class FusedConv2d(_Fused):
    """act(conv2d(x) + folded bias) [+ residual]: x (N, Cin, H, W) -> (N, Cout, OH, OW), channels-last.

    weight: packed (KH, KW, Cin, Cout); padding (top, bottom, left, right) includes a preceding ZeroPad2d."""

    op = "conv2d_act"

    def __init__(self, weight: torch.Tensor, bias: torch.Tensor, alpha: torch.Tensor | None, stride, padding,
                 dilation, act: str, act_param: float, backend: str):
        super().__init__(backend)
        self._params(weight, bias, alpha)
        self.stride, self.padding, self.dilation = list(stride), list(padding), list(dilation)
        self.act, self.act_param = act, float(act_param)

    def forward(self, x: torch.Tensor, residual: torch.Tensor | None = None) -> torch.Tensor:
        return _call("conv2d_act", self.backend, x, self.weight, self.bias, self.alpha, residual, self.stride,
                     self.padding, self.dilation, self.act, self.act_param)

    def extra_repr(self) -> str:
        kh, kw, cin, cout = self.weight.shape
        return (f"{cin}->{cout}, kernel={kh}x{kw}, stride={self.stride}, padding={self.padding}, "
                f"dilation={self.dilation}, act={self.act}, backend={self.backend}")


class FusedResidualBlock(_Fused):
    """x + body(x) with body = conv1 -> conv2; the add happens in conv2's epilogue."""

    op = "conv2d_act"

    def __init__(self, conv1: FusedConv2d, conv2: FusedConv2d, backend: str):
        super().__init__(backend)
        self.conv1, self.conv2 = conv1, conv2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv2(self.conv1(x), residual=x)


class FusedConvShuffle(_Fused):
    """act(PixelShuffle(r)(conv2d_same(x) + bias)): (N, Cin, H, W) -> (N, C, rH, rW), stored straight into the
    shuffled layout. weight (KH, KW, Cin, C*r^2) in PixelShuffle's channel order; alpha: PReLU slopes (C,)."""

    op = "conv2d_shuffle_act"

    def __init__(self, weight, bias, alpha, upscale: int, act: str, act_param: float, backend: str):
        super().__init__(backend)
        self._params(weight, bias, alpha)
        self.upscale, self.act, self.act_param = int(upscale), act, float(act_param)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _call("conv2d_shuffle_act", self.backend, x, self.weight, self.bias, self.alpha, self.upscale,
                     self.act, self.act_param)

    def extra_repr(self) -> str:
        kh, kw, cin, cc = self.weight.shape
        return (f"{cin}->{cc}->PixelShuffle({self.upscale})->{cc // self.upscale ** 2}, kernel={kh}x{kw}, "
                f"act={self.act}, backend={self.backend}")


class FusedConvTranspose(_Fused):
    """act(conv_transpose(x) + folded bias) [cropped]: 2D or 3D, as sub-pixel phase convs."""

    op = "conv_transpose_act"

    def __init__(self, weight, bias, alpha, stride, padding, output_padding, crop, act: str, act_param: float,
                 backend: str):
        super().__init__(backend)
        self._params(weight, bias, alpha)
        self.stride, self.padding = list(stride), list(padding)
        self.output_padding, self.crop = list(output_padding), list(crop)
        self.act, self.act_param = act, float(act_param)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _call("conv_transpose_act", self.backend, x, self.weight, self.bias, self.alpha, self.stride,
                     self.padding, self.output_padding, self.crop, self.act, self.act_param)

    def extra_repr(self) -> str:
        nd = self.weight.dim() - 2
        k = "x".join(str(s) for s in self.weight.shape[:nd])
        return (f"{self.weight.shape[nd]}->{self.weight.shape[-1]}, kernel={k}, stride={self.stride}, "
                f"padding={self.padding}, output_padding={self.output_padding}, crop={self.crop}, act={self.act}, "
                f"backend={self.backend}")


class FusedUpsampleConv(_Fused):
    """act(conv3x3_same(nearest_2x(x)) + folded bias) as 4 phase convs with pre-summed 2x2 weights:
    (N, Cin, H, W) -> (N, Cout, 2H, 2W); weight (4, 4, Cin, Cout) (:func:`pack.upsample_conv3x3_weight`)."""

    op = "upsample2x_conv3x3_act"

    def __init__(self, weight, bias, alpha, act: str, act_param: float, backend: str):
        super().__init__(backend)
        self._params(weight, bias, alpha)
        self.act, self.act_param = act, float(act_param)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _call("upsample2x_conv3x3_act", self.backend, x, self.weight, self.bias, self.alpha, self.act,
                     self.act_param)

    def extra_repr(self) -> str:
        return (f"{self.weight.shape[2]}->{self.weight.shape[3]}, nearest 2x + 3x3, act={self.act}, "
                f"backend={self.backend}")


FUSED_TYPES = (FusedConv2d, FusedResidualBlock, FusedConvShuffle, FusedConvTranspose, FusedUpsampleConv)


# -------------------------------------------------------------------------------------------------- matching
class _NoMatch(Exception):
    """A pattern does not apply here (the message says why)."""


_ACT_TYPES = (nn.ReLU, nn.PReLU, nn.LeakyReLU, nn.ELU, nn.Tanh, nn.Sigmoid)


def _act_of(m: nn.Module, channels: int) -> tuple[str, torch.Tensor | None, float] | None:
    """(act name, PReLU slopes (channels,) in float64 or None, act_param) for a supported activation module."""
    t = type(m)
    if t is nn.ReLU:
        return "relu", None, 0.0
    if t is nn.LeakyReLU:
        return "leaky_relu", None, float(m.negative_slope)
    if t is nn.ELU:
        return "elu", None, float(m.alpha)
    if t is nn.Tanh:
        return "tanh", None, 0.0
    if t is nn.Sigmoid:
        return "sigmoid", None, 0.0
    if t is nn.PReLU:
        w = m.weight.detach().double().reshape(-1)
        if w.numel() == 1:
            return "prelu", w.expand(channels).clone(), 0.0
        if w.numel() == channels:
            return "prelu", w.clone(), 0.0
    return None


def _describe(m: nn.Module) -> str:
    t = type(m).__name__
    if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.ConvTranspose3d, nn.Conv3d, nn.Conv1d, nn.ConvTranspose1d)):
        k = "x".join(str(v) for v in m.kernel_size)
        return f"{t} {k} {m.in_channels}->{m.out_channels} s{tuple(m.stride)} p{m.padding}"
    if t == "PReLU":
        return f"PReLU({m.num_parameters})"
    return t


def _probe_crop(m: nn.Module) -> tuple[int, int] | None:
    """(rows, cols) when ``m`` is a parameter-free module that drops the last rows/columns (x[..., :-a, :-b]),
    checked on two probe sizes; else None."""
    if any(True for _ in m.parameters()) or any(True for _ in m.buffers()) or isinstance(m, _ACT_TYPES + (
            nn.Identity, _BatchNorm, nn.Sequential)):
        return None
    found = None
    try:
        for h, w in ((5, 7), (8, 6)):
            x = torch.arange(h * w * 2, dtype=torch.float64).view(1, 2, h, w)
            with torch.no_grad():
                y = m(x)
            if not isinstance(y, torch.Tensor) or y.dim() != 4 or y.shape[:2] != x.shape[:2]:
                return None
            a, b = h - y.shape[2], w - y.shape[3]
            if a < 0 or b < 0 or (found is not None and found != (a, b)) or (a, b) == (0, 0):
                return None
            if not torch.equal(y, x[:, :, : h - a, : w - b]):
                return None
            found = (a, b)
    except Exception:  # noqa: BLE001 - anything that does not behave like a crop is not one
        return None
    return found


def _fold_tail(mods: list[tuple[str, nn.Module]], j: int, cout: int, norm_types: tuple[type, ...]
               ) -> tuple[int, nn.Module | None, tuple[str, torch.Tensor | None, float], list[str]]:
    """After a conv at mods[j - 1]: take [norm] [act] (and Identities). Returns (next index, the BN to fold or None,
    (act, alpha, act_param), descriptions). Raises _NoMatch for a norm that cannot be folded."""
    bn: nn.Module | None = None
    act: tuple[str, torch.Tensor | None, float] = ("none", None, 0.0)
    desc: list[str] = []
    while j < len(mods):
        m = mods[j][1]
        if type(m) is nn.Identity:
            j += 1
            continue
        if bn is None and act[0] == "none" and isinstance(m, norm_types) and type(m) in norm_types:
            if m.num_features != cout:
                raise _NoMatch(f"{type(m).__name__}({m.num_features}) after a conv with {cout} channels")
            if m.running_mean is None or m.running_var is None:
                raise _NoMatch(f"{type(m).__name__} without running statistics (track_running_stats=False) "
                               "normalises with each batch's own statistics: it cannot be folded")
            bn = m
            desc.append(type(m).__name__)
            j += 1
            continue
        if bn is None and act[0] == "none" and isinstance(m, (_InstanceNorm, nn.GroupNorm, nn.LayerNorm)):
            raise _NoMatch(f"followed by {type(m).__name__}, which normalises with each input's own statistics and "
                           "cannot be folded into the conv (a fused kernel would save no traffic)")
        if act[0] == "none":
            a = _act_of(m, cout)
            if a is not None:
                act = a
                desc.append(_describe(m))
                j += 1
        break
    return j, bn, act, desc


def _conv2d_padding(conv: nn.Conv2d) -> tuple[int, int, int, int]:
    if isinstance(conv.padding, str):
        if conv.padding == "valid":
            return (0, 0, 0, 0)
        pads = []
        for k, d in zip(conv.kernel_size, conv.dilation):  # 'same' (stride 1): PyTorch puts the odd pixel after
            total = d * (k - 1)
            pads += [total // 2, total - total // 2]
        return tuple(pads)  # type: ignore[return-value]
    ph, pw = conv.padding
    return (ph, ph, pw, pw)


def _check_conv2d(conv: nn.Module) -> None:
    if type(conv) is not nn.Conv2d:
        raise _NoMatch(f"{type(conv).__name__} is not a plain nn.Conv2d")
    if conv.groups != 1:
        raise _NoMatch(f"grouped conv (groups={conv.groups}): no fused kernel")
    if conv.padding_mode != "zeros":
        raise _NoMatch(f"padding_mode={conv.padding_mode!r}: the kernel pads with zeros only")


class _Matcher:
    """State of one :func:`optimize` run: backend, exclusions, the report."""

    def __init__(self, backend: str, exclude: Sequence[str], report: FusionReport):
        self.backend, self.exclude, self.report = backend, tuple(exclude), report
        self.seen: set[str] = set()

    # ------------------------------------------------------------------ helpers
    def excluded(self, path: str) -> bool:
        return any(fnmatch.fnmatchcase(path, p) for p in self.exclude)

    def fused(self, path: str, module: _Fused, detail: str, consumed: Sequence[str]) -> None:
        self.report.fused.append(FusedLayer(path, module.op, detail, tuple(consumed)))
        self.seen.update(consumed)
        logger.debug("fused %s: %s (%s)", path, module.op, detail)

    def fallback(self, path: str, module: nn.Module, reason: str) -> None:
        if path in self.seen:
            return
        self.seen.add(path)
        self.report.fallbacks.append(Fallback(path, _describe(module), reason))
        logger.debug("fallback %s: %s", path, reason)

    # ------------------------------------------------------------------ builders
    def conv2d(self, mods: list[tuple[str, nn.Module]], i: int, pad_before: tuple[int, int, int, int] | None
               ) -> tuple[FusedConv2d, int, str]:
        conv = mods[i][1]
        _check_conv2d(conv)
        j, bn, (act, alpha, p), desc = _fold_tail(mods, i + 1, conv.out_channels, (nn.BatchNorm2d,))
        if bn is None and act == "none" and pad_before is None:
            raise _NoMatch("a plain conv with nothing to fuse (no folded norm, activation, padding or residual): "
                           "left to cuDNN, which adds its bias itself")
        w, b = pack.fold_bn(conv.weight, conv.bias, bn, 0)
        pt, pb, pl, pr = _conv2d_padding(conv)
        if pad_before is not None:  # ZeroPad2d (left, right, top, bottom)
            pl, pr, pt, pb = pl + pad_before[0], pr + pad_before[1], pt + pad_before[2], pb + pad_before[3]
        fused = FusedConv2d(pack.pack_conv_weight(w), b, alpha, conv.stride, (pt, pb, pl, pr), conv.dilation, act, p,
                            self.backend)
        fused.folded_norm = bn is not None
        return fused, j, " + ".join([_describe(conv)] + desc)

    def shuffle(self, mods, i) -> tuple[FusedConvShuffle, int, str]:
        conv, ps = mods[i][1], mods[i + 1][1]
        _check_conv2d(conv)
        r = int(ps.upscale_factor)
        k = conv.kernel_size
        if conv.stride != (1, 1) or conv.dilation != (1, 1) or any(kk % 2 == 0 for kk in k) or \
                _conv2d_padding(conv) != (k[0] // 2, k[0] // 2, k[1] // 2, k[1] // 2):
            raise _NoMatch("the conv before PixelShuffle must be stride 1, dilation 1, odd kernel, 'same' padding")
        c = conv.out_channels // (r * r)
        j, bn, (act, alpha, p), desc = _fold_tail(mods, i + 2, c, ())
        w, b = pack.fold_bn(conv.weight, conv.bias, None, 0)
        fused = FusedConvShuffle(pack.pack_conv_weight(w), b, alpha, r, act, p, self.backend)
        return fused, j, " + ".join([_describe(conv), f"PixelShuffle({r})"] + desc)

    def conv_transpose(self, mods, i) -> tuple[FusedConvTranspose, int, str]:
        conv = mods[i][1]
        nd = 2 if type(conv) is nn.ConvTranspose2d else 3
        if conv.groups != 1 or any(d != 1 for d in conv.dilation) or conv.padding_mode != "zeros":
            raise _NoMatch("grouped or dilated transposed conv: no fused kernel")
        crop = [0] * nd
        j = i + 1
        desc = [_describe(conv)]
        if nd == 2 and j < len(mods):
            c = _probe_crop(mods[j][1])
            if c is not None:
                crop = list(c)
                desc.append(f"crop bottom/right {c}")
                j += 1
        norm = (nn.BatchNorm2d,) if nd == 2 else (nn.BatchNorm3d,)
        j, bn, (act, alpha, p), more = _fold_tail(mods, j, conv.out_channels, norm)
        w, b = pack.fold_bn(conv.weight, conv.bias, bn, 1)
        fused = FusedConvTranspose(pack.pack_conv_transpose_weight(w), b, alpha, conv.stride, conv.padding,
                                   conv.output_padding, crop, act, p, self.backend)
        fused.folded_norm = bn is not None
        return fused, j, " + ".join(desc + more)

    def upsample_conv(self, mods, i, path: str) -> tuple[FusedUpsampleConv, int, str, list[str]]:
        up = mods[i][1]
        sf = up.scale_factor
        sf = tuple(sf) if isinstance(sf, (tuple, list)) else (sf, sf)
        if up.mode != "nearest" or up.size is not None or any(float(s) != 2.0 for s in sf):
            raise _NoMatch("only nearest 2x upsampling is fused")
        if i + 1 >= len(mods):
            raise _NoMatch("nothing follows the upsample")
        nxt_name, nxt = mods[i + 1]
        inner, inner_prefix, j_outer = mods, path, i + 1
        if type(nxt) is not nn.Conv2d:
            if not (isinstance(nxt, nn.Sequential) and type(nxt).forward is nn.Sequential.forward):
                raise _NoMatch(f"the upsample is followed by {type(nxt).__name__}, not a 3x3 conv")
            inner, inner_prefix, j_outer = list(nxt._modules.items()), f"{path}.{nxt_name}" if path else nxt_name, -1
        k = 0 if j_outer == -1 else j_outer
        conv = inner[k][1]
        _check_conv2d(conv)
        if conv.kernel_size != (3, 3) or conv.stride != (1, 1) or conv.dilation != (1, 1) or \
                _conv2d_padding(conv) != (1, 1, 1, 1):
            raise _NoMatch("the conv after the upsample must be 3x3, stride 1, padding 1")
        j, bn, (act, alpha, p), desc = _fold_tail(inner, k + 1, conv.out_channels, (nn.BatchNorm2d,))
        if j_outer == -1 and j != len(inner):
            raise _NoMatch(f"{type(inner[j][1]).__name__} after the conv's activation inside {inner_prefix}")
        w, b = pack.fold_bn(conv.weight, conv.bias, bn, 0)
        fused = FusedUpsampleConv(pack.upsample_conv3x3_weight(w), b, alpha, act, p, self.backend)
        fused.folded_norm = bn is not None
        detail = " + ".join(["Upsample(nearest, 2)", _describe(conv)] + desc)
        if j_outer == -1:
            return fused, i + 2, detail, [f"{inner_prefix}.{n}" for n, _ in inner]
        return fused, j, detail, []

    # ------------------------------------------------------------------ walk
    def visit(self, parent: nn.Module, name: str, child: nn.Module, path: str) -> None:
        from ganzoo.layers import ResidualBlock

        if self.excluded(path):
            for n, m in child.named_modules():
                if not list(m.children()):
                    self.fallback(f"{path}.{n}" if n else path, m, "excluded by the caller (exclude=...)")
            return
        if type(child) is ResidualBlock:
            try:
                parent._modules[name] = self.resblock(child, path)
                return
            except _NoMatch as e:
                logger.debug("ResidualBlock %s not fused: %s", path, e)
        if isinstance(child, nn.Sequential) and type(child).forward is nn.Sequential.forward:
            self.sequential(child, path)
            return
        if type(child) in (nn.ConvTranspose2d, nn.ConvTranspose3d):
            try:
                fused, _, detail = self.conv_transpose([(name, child)], 0)
                parent._modules[name] = fused
                self.fused(path, fused, detail, [path])
            except _NoMatch as e:
                self.fallback(path, child, str(e))
            return
        if type(child) is nn.Conv2d:
            try:
                fused, _, detail = self.conv2d([(name, child)], 0, None)
                parent._modules[name] = fused
                self.fused(path, fused, detail, [path])
            except _NoMatch as e:
                self.fallback(path, child, str(e))
            return
        for n, c in list(child.named_children()):
            self.visit(child, n, c, f"{path}.{n}" if path else n)

    def resblock(self, block: nn.Module, path: str) -> FusedResidualBlock:
        body = block.body
        if not (isinstance(body, nn.Sequential) and len(body) == 2):
            raise _NoMatch("unexpected ResidualBlock body")
        convs = []
        for k, sub in enumerate(body):
            if not (isinstance(sub, nn.Sequential) and type(sub).forward is nn.Sequential.forward):
                raise _NoMatch("ResidualBlock body entries are not Sequentials")
            mods = list(sub._modules.items())
            pad = None
            i = 0
            if mods and type(mods[0][1]) is nn.ZeroPad2d:
                pad, i = tuple(mods[0][1].padding), 1
            try:
                fused, j, _ = self.conv2d(mods, i, pad)
            except _NoMatch as e:
                if "nothing to fuse" not in str(e):
                    raise
                conv = mods[i][1]  # a bare conv inside a residual block still absorbs the add
                w, b = pack.fold_bn(conv.weight, conv.bias, None, 0)
                fused = FusedConv2d(pack.pack_conv_weight(w), b, None, conv.stride, _conv2d_padding(conv),
                                    conv.dilation, "none", 0.0, self.backend)
                j = i + 1
            if j != len(mods):
                raise _NoMatch(f"{type(mods[j][1]).__name__} left over in body.{k}")
            convs.append(fused)
        c1, c2 = convs
        if c2.stride != [1, 1] or c2.weight.shape[3] != c1.weight.shape[2] or c1.stride != [1, 1]:
            raise _NoMatch("the residual block changes the shape")
        fused = FusedResidualBlock(c1, c2, self.backend)
        detail = (f"2 x conv {c1.weight.shape[0]}x{c1.weight.shape[1]} {c1.weight.shape[2]}->{c1.weight.shape[3]} "
                  f"(dilation {c1.dilation[0]}) + folded norm, {c1.act} between, + identity in the second epilogue")
        self.fused(path, fused, detail, [path] + [f"{path}.{n}" for n, _ in block.named_modules() if n])
        return fused

    def sequential(self, seq: nn.Sequential, path: str) -> None:
        mods = list(seq._modules.items())
        i = 0
        while i < len(mods):
            name, m = mods[i]
            sub = f"{path}.{name}" if path else name
            if self.excluded(sub):
                self.visit(seq, name, m, sub)
                i += 1
                continue
            t = type(m)
            try:
                extra: list[str] = []
                if t is nn.ZeroPad2d and i + 1 < len(mods) and type(mods[i + 1][1]) is nn.Conv2d:
                    fused, j, detail = self.conv2d(mods, i + 1, tuple(m.padding))
                    detail = f"ZeroPad2d{tuple(m.padding)} + {detail}"
                elif t is nn.Conv2d and i + 1 < len(mods) and type(mods[i + 1][1]) is nn.PixelShuffle:
                    fused, j, detail = self.shuffle(mods, i)
                elif t is nn.Conv2d:
                    fused, j, detail = self.conv2d(mods, i, None)
                elif t in (nn.ConvTranspose2d, nn.ConvTranspose3d):
                    fused, j, detail = self.conv_transpose(mods, i)
                elif t in (nn.Upsample, nn.UpsamplingNearest2d):
                    fused, j, detail, extra = self.upsample_conv(mods, i, path)
                else:
                    self.visit(seq, name, m, sub)
                    i += 1
                    continue
            except _NoMatch as e:
                if t is nn.ZeroPad2d:
                    i += 1
                    continue
                self.fallback(sub, m, str(e))
                i += 1
                continue
            consumed = [f"{path}.{n}" if path else n for n, _ in mods[i:j]] + extra
            if any(self.excluded(c) for c in consumed):
                self.visit(seq, name, m, sub)
                i += 1
                continue
            seq._modules[name] = fused
            for n, _ in mods[i + 1:j]:
                seq._modules[n] = nn.Identity()
            self.fused(sub, fused, detail, consumed)
            i = j

    def leftovers(self, root: nn.Module, prefix: str) -> None:
        """Record the weighted layers nothing absorbed, with a reason by type."""
        for n, m in root.named_modules():
            path = f"{prefix}{n}" if n else prefix.rstrip(".")
            if isinstance(m, FUSED_TYPES) or list(m.children()) or path in self.seen:
                continue
            if isinstance(m, nn.Linear):
                why = "no fused kernel for Linear (a plain GEMM: cuBLAS already fuses its bias)"
            elif isinstance(m, (nn.Conv1d, nn.ConvTranspose1d)):
                why = "1-D convolutions have no fused kernel"
            elif isinstance(m, nn.Conv3d):
                why = "3-D (non-transposed) convolutions have no fused kernel"
            elif isinstance(m, _BatchNorm):
                why = "not after a fused conv (e.g. after a Linear or 1-D conv): left unfolded"
            elif isinstance(m, (_InstanceNorm, nn.GroupNorm, nn.LayerNorm)):
                why = "normalises with each input's own statistics: cannot be folded"
            elif isinstance(m, nn.PReLU):
                why = "not after a fused conv"
            elif any(True for _ in m.parameters(recurse=False)):
                why = f"no pattern for {type(m).__name__}"
            else:
                continue
            self.fallback(path, m, why)


# -------------------------------------------------------------------------------------------------- optimize
def check_backend(backend: str, device: torch.device | None = None) -> None:
    """Raise ValueError for an unknown backend, RuntimeError when ``backend="triton"`` cannot run on ``device``
    here (no triton package; a CPU device without TRITON_INTERPRET=1; another device type)."""
    if backend not in BACKENDS:
        raise ValueError(f"ganzoo.optimize: backend: expected one of {BACKENDS}, got {backend!r}")
    if backend != "triton":
        return
    from .ops import HAVE_TRITON

    if not HAVE_TRITON:
        raise RuntimeError("ganzoo.optimize(backend='triton') needs the triton package (pip install "
                           "'ganzoo[triton]'); backend='reference' runs without it")
    if device is not None:
        from . import triton_impl

        triton_impl.check_triton_device(torch.empty(0, device=device), "optimize")


def _dtype(dtype: Any) -> torch.dtype | None:
    if dtype is None:
        return None
    if isinstance(dtype, str):
        from ganzoo.utils import to_torch_dtype

        dtype = to_torch_dtype(dtype)
    if dtype not in _DTYPES:
        raise TypeError(f"ganzoo.optimize: dtype: expected torch.float32, torch.float16 or torch.bfloat16 "
                        f"(or 'fp32', 'fp16', 'bf16'), got {dtype!r}")
    return dtype


def optimize(model: nn.Module, backend: str = "triton", dtype: torch.dtype | str | None = None, *,
             inplace: bool = False, exclude: Sequence[str] = (), return_report: bool = False) -> Any:
    """An inference copy of ``model`` whose generator blocks run as fused kernels.

    model: a ganzoo GANModel (its ``generator`` is optimised; the discriminator is left as is) or any nn.Module.
    backend: ``"triton"`` (CUDA, or CPU with TRITON_INTERPRET=1: Triton's interpreter, for checks) or
        ``"reference"`` (the plain-PyTorch implementations of the same ops; no GPU or triton needed).
    dtype: torch.float32 / float16 / bfloat16 (or "fp32" / "fp16" / "bf16"): the whole model is cast to it after
        folding (folds run in float64, so each weight is rounded once); None keeps the model's dtype. The kernels
        accumulate in fp32; the fp32 path multiplies in full IEEE fp32 (no TF32).
    inplace: modify ``model`` itself instead of a deep copy. exclude: fnmatch patterns of module paths (as in
        the report, e.g. ``"generator.tail"``) to leave unfused.
    return_report: return ``(model, report)`` instead of the model; the report is also at ``model.fusion_report``.

    Outputs match the unoptimised model (fp32: within ~1e-4 relative, from BN folding and summation order;
    fp16/bf16: within twice the unoptimised model's own error against float64, plus a small atol). Fused modules
    return channels-last (NHWC-strided) tensors of the usual NCHW shape. The result is in eval mode, has frozen
    parameters and a different state_dict: save the original model, not the optimised one.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"ganzoo.optimize: model: expected a torch.nn.Module (a ganzoo model), got "
                        f"{type(model).__name__}")
    want = _dtype(dtype)
    p = next((t for t in model.parameters() if t.is_floating_point()), None)
    device = p.device if p is not None else torch.device("cpu")
    check_backend(backend, device)
    if want is None:
        want = p.dtype if p is not None else torch.float32
        if want not in _DTYPES:
            raise TypeError(f"ganzoo.optimize: the model is in {want}; pass dtype=torch.float32, float16 or bfloat16")
    target = model if inplace else copy.deepcopy(model)
    target.eval()
    from ganzoo.models.base import GANModel

    if isinstance(target, GANModel):
        root, prefix = target.generator, "generator."
    else:
        root, prefix = target, ""
    report = FusionReport(backend=backend, dtype=str(want).replace("torch.", ""))
    matcher = _Matcher(backend, exclude, report)
    with torch.no_grad():
        holder = nn.Module()
        holder.add_module("root", root)
        matcher.visit(holder, "root", root, prefix.rstrip("."))
        new_root = holder._modules["root"]
        if new_root is not root:
            if isinstance(target, GANModel):
                target.generator = new_root
            else:
                target = new_root
            root = new_root
        matcher.leftovers(root, prefix)
        target.to(dtype=want)
    target.eval().requires_grad_(False)
    target.fusion_report = report
    logger.info("%s", report)
    return (target, report) if return_report else target

