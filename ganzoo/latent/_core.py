"""What the latent tools share: the latent input of a model read from its specs, a generator bound to fixed extra
inputs, frozen-model contexts, the discriminator's realness score, image checks and progress bars.

The latent prior comes from ``model.specs``: the generator input named ``z`` (or the one whose shape is
``("B", specs.latent_dim)``). A spec ``range`` of None is a standard Gaussian N(0, 1) (DCGAN: "latent code,
N(0, 1)"); a range ``(lo, hi)`` is the uniform prior U(lo, hi) (3D-GAN U(0, 1), TGAN and DR-GAN U(-1, 1)).
"""
from __future__ import annotations

import contextlib
import dataclasses
import logging
import math
import sys
from typing import Any, Iterator, Mapping, Sequence

import torch
from torch import nn

from ..errors import GanzooError
from ..models.base import GANModel, check_tensor

logger = logging.getLogger("ganzoo.latent")

__all__ = ["LatentInputError", "LatentSpec", "LatentGenerator", "latent_spec", "bind", "frozen", "realness",
           "PRIORS"]

#: the prior families a latent input may have
PRIORS = ("gaussian", "uniform")


class LatentInputError(GanzooError, TypeError):
    """A model the latent tools cannot drive: no latent input, or other generator inputs that were not given."""


@dataclasses.dataclass(frozen=True)
class LatentSpec:
    """The latent input of a generator, as its specs declare it.

    index: position of z among the generator's inputs. name: its spec name. dim: its size (z is (B, dim)).
    prior: "gaussian" (N(0, 1), spec range None) or "uniform" (U(low, high), the spec range).
    low / high: the uniform prior's bounds (None for a Gaussian). centre: the prior's mean (0 for a Gaussian).
    inputs: the names of every generator input, in call order. output_shape: one output sample's shape, e.g.
    (C, H, W). output_range: the output's closed value range. kind: "image" (B, C, H, W), "video" (TGAN,
    B x C x T x H x W) or "volume" (3D-GAN, B x 1 x D x H x W).
    """

    index: int
    name: str
    dim: int
    prior: str
    low: float | None
    high: float | None
    inputs: tuple[str, ...]
    output_shape: tuple[int, ...]
    output_range: tuple[float, float]
    kind: str

    @property
    def bounded(self) -> bool:
        return self.prior == "uniform"

    @property
    def centre(self) -> float:
        return 0.0 if self.low is None or self.high is None else (self.low + self.high) / 2

    @property
    def extra_names(self) -> tuple[str, ...]:
        """The generator inputs other than z (the ones a caller passes as ``extra_inputs``)."""
        return tuple(n for i, n in enumerate(self.inputs) if i != self.index)

    def describe(self) -> str:
        p = "N(0, 1)" if self.prior == "gaussian" else f"U({self.low:g}, {self.high:g})"
        return f"{self.name} ({self.dim},) ~ {p}"


def _label(model: Any) -> str:
    return getattr(model, "model_name", None) or type(model).__name__


def _family(model: GANModel) -> str | None:
    from ..pipelines.samples import family_of

    try:
        return family_of(model)
    except Exception:  # noqa: BLE001 - a model outside the registry
        return None


def latent_spec(model: GANModel) -> LatentSpec:
    """The :class:`LatentSpec` of ``model``'s generator, from ``model.specs``.

    Raises :class:`LatentInputError` (a TypeError) for a model without a latent input (SRGAN, inpainting models)
    and ValueError for specs that contradict themselves (a latent input that is not (B, dim) floats)."""
    if isinstance(model, LatentGenerator):
        return model.spec
    if not isinstance(model, GANModel):
        raise TypeError(f"model: expected a ganzoo GANModel (ganzoo.create / ganzoo.load), got {type(model).__name__}")
    sp = model.specs
    names = tuple(s.name for s in sp.inputs)
    if not sp.latent_dim:
        raise LatentInputError(f"{_label(model)} has no latent input (its generator takes {', '.join(names)}); the "
                               f"latent tools need a model with a noise input z (dcgan, gan3d, tgan, drgan)")
    cands = [i for i, s in enumerate(sp.inputs) if s.name == "z"]
    if not cands:
        cands = [i for i, s in enumerate(sp.inputs) if tuple(s.shape) == ("B", sp.latent_dim)]
    if len(cands) != 1:
        raise ValueError(f"{_label(model)}: cannot tell which generator input is the latent code among {names}")
    i = cands[0]
    s = sp.inputs[i]
    if tuple(s.shape) != ("B", sp.latent_dim) or not s.dtype.startswith("float"):
        raise ValueError(f"{_label(model)}: latent input {s.name!r} has shape {tuple(s.shape)} and dtype {s.dtype}; "
                         f"expected ('B', {sp.latent_dim}) floats")
    if s.range is None:
        prior, lo, hi = "gaussian", None, None
        if s.description and "N(" not in s.description:
            logger.debug("%s: latent %r has no range and no 'N(' in its description (%r); taking N(0, 1)",
                         _label(model), s.name, s.description)
    else:
        prior, lo, hi = "uniform", float(s.range[0]), float(s.range[1])
    out = sp.outputs[0]
    oshape = tuple(out.shape[1:])
    if any(not isinstance(d, int) for d in oshape):
        raise LatentInputError(f"{_label(model)}: its output {out.name!r} {tuple(out.shape)} has no fixed size")
    from ..pipelines.samples import output_kind

    kind = output_kind(_family(model)) if len(oshape) == 4 else "image"
    if len(oshape) not in (3, 4):
        raise LatentInputError(f"{_label(model)}: unsupported output shape {tuple(out.shape)}")
    return LatentSpec(index=i, name=s.name, dim=int(sp.latent_dim), prior=prior, low=lo, high=hi, inputs=names,
                      output_shape=tuple(int(d) for d in oshape),
                      output_range=tuple(out.range) if out.range else (-1.0, 1.0), kind=kind)  # type: ignore[arg-type]


class LatentGenerator:
    """``model``'s generator as a function of z alone: ``G(z)`` with the other generator inputs held fixed.

    model: a GANModel with a latent input (:func:`latent_spec`). extra_inputs: the generator's other inputs, a
    mapping by spec name (``{"image": faces, "pose": poses}`` for DR-GAN) or a sequence in call order without z;
    each of batch 1 (broadcast to every z) or of the z batch. Required exactly when the generator has other inputs.

    ``G(z)``: z (B, dim) -> outputs (B, *spec.output_shape) in ``spec.output_range``. :meth:`sample` draws z from
    the prior, :meth:`project` clamps z into a bounded prior's range, :meth:`prior_penalty` is ||z||^2 / dim for a
    Gaussian prior (0 for a uniform one, whose density is flat).
    """

    def __init__(self, model: GANModel, extra_inputs: Mapping[str, Any] | Sequence[Any] | None = None):
        self.model = model
        self.spec = latent_spec(model)
        self.label = _label(model)
        self.family = _family(model)
        extras = self.spec.extra_names
        if extras and extra_inputs is None:
            raise LatentInputError(
                f"{self.label}'s generator takes ({', '.join(self.spec.inputs)}), not z alone; pass the other "
                f"inputs as extra_inputs={{{', '.join(repr(n) + ': ...' for n in extras)}}} (batch 1 or the z batch)")
        if not extras and extra_inputs:
            raise ValueError(f"extra_inputs: {self.label}'s generator takes z alone, got extra inputs")
        fixed: dict[str, torch.Tensor] = {}
        if extras:
            if isinstance(extra_inputs, Mapping):
                unknown = sorted(set(extra_inputs) - set(extras))
                missing = [n for n in extras if n not in extra_inputs]
                if unknown or missing:
                    raise ValueError(f"extra_inputs: {self.label} needs {list(extras)}"
                                     + (f"; missing {missing}" if missing else "")
                                     + (f"; unknown {unknown}" if unknown else ""))
                vals = [extra_inputs[n] for n in extras]
            else:
                vals = list(extra_inputs)  # type: ignore[arg-type]
                if len(vals) != len(extras):
                    raise ValueError(f"extra_inputs: {self.label} needs {len(extras)} inputs {list(extras)} besides "
                                     f"z, got {len(vals)}")
            for n, v in zip(extras, vals):
                if not isinstance(v, torch.Tensor):
                    raise TypeError(f"extra_inputs[{n!r}]: expected a torch.Tensor, got {type(v).__name__}")
                if v.dim() == 0:
                    raise ValueError(f"extra_inputs[{n!r}]: expected a batch (leading axis), got a 0-d tensor")
                fixed[n] = v.to(self.device)
        self.extra = fixed

    # -- properties ---------------------------------------------------------------------------------------------
    @property
    def device(self) -> torch.device:
        return self.model._device()

    @property
    def dtype(self) -> torch.dtype:
        return self.model._dtype()

    @property
    def dim(self) -> int:
        return self.spec.dim

    # -- z -------------------------------------------------------------------------------------------------------
    def sample(self, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
        """n latent codes (n, dim) from the prior, drawn on the CPU (reproducible everywhere) then moved to the
        model's device and dtype. A model whose generator takes z alone draws them with its own
        ``sample_inputs`` (so a seed gives the codes ``ganzoo sample --seed`` draws)."""
        if not self.spec.extra_names:
            z = self.model.sample_inputs(n, generator=generator)[self.spec.index]
            return z.to(self.device, self.dtype)
        if self.spec.prior == "gaussian":
            z = torch.randn(n, self.dim, generator=generator)
        else:
            z = torch.rand(n, self.dim, generator=generator) * (self.spec.high - self.spec.low) + self.spec.low
        return z.to(self.device, self.dtype)

    def project(self, z: torch.Tensor) -> torch.Tensor:
        """z clamped into a bounded prior's range (unchanged for a Gaussian prior)."""
        if self.spec.bounded:
            return z.clamp(self.spec.low, self.spec.high)
        return z

    @torch.no_grad()
    def project_(self, z: torch.Tensor) -> torch.Tensor:
        """In-place :meth:`project` (for optimised leaf tensors)."""
        if self.spec.bounded:
            z.clamp_(self.spec.low, self.spec.high)
        return z

    def prior_penalty(self, z: torch.Tensor) -> torch.Tensor:
        """(B,) ||z||^2 / dim for a Gaussian prior (the negative log density up to constants and scale), zeros
        for a uniform prior."""
        if self.spec.prior == "gaussian":
            return z.pow(2).mean(dim=1)
        return z.new_zeros(z.shape[0])

    def check_z(self, z: Any, name: str = "z", *, single: bool = False) -> torch.Tensor:
        """``z`` as (B, dim) on the model's device (or (dim,) / (1, dim) -> (1, dim) with ``single``). Raises
        TypeError / ValueError naming the expected latent size."""
        if not isinstance(z, torch.Tensor):
            if hasattr(z, "__array__"):
                import numpy as np

                z = torch.from_numpy(np.asarray(z, dtype=np.float32))
            else:
                raise TypeError(f"{name}: expected a torch.Tensor of shape (B, {self.dim}), got {type(z).__name__}")
        if not torch.is_floating_point(z):
            raise TypeError(f"{name}: expected floating-point latent codes, got dtype {z.dtype}")
        given = tuple(z.shape)
        if z.dim() == 1:
            z = z[None]
        if z.dim() != 2 or z.shape[1] != self.dim or z.shape[0] < 1:
            raise ValueError(f"{name}: expected latent codes of shape ({'1' if single else 'B'}, {self.dim}) or "
                             f"({self.dim},) for {self.label} ({self.spec.describe()}), got {given}")
        if single and z.shape[0] != 1:
            raise ValueError(f"{name}: expected one latent code ({self.dim},), got a batch of {z.shape[0]}")
        if not bool(torch.isfinite(z).all()):
            raise ValueError(f"{name}: contains NaN or infinite values")
        return z.to(self.device, self.dtype)

    @contextlib.contextmanager
    def repeated(self, times: int) -> Iterator["LatentGenerator"]:
        """For the block, full-batch extra inputs are tiled ``times`` times along the batch (restart r of image i
        at r * B + i, as the optimisers lay out their restarts); batch-1 extras are left to broadcast."""
        saved = self.extra
        if times > 1 and saved:
            self.extra = {k: v if v.shape[0] == 1 else v.repeat(times, *([1] * (v.dim() - 1)))
                          for k, v in saved.items()}
        try:
            yield self
        finally:
            self.extra = saved

    # -- G -------------------------------------------------------------------------------------------------------
    def inputs(self, z: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """The generator's full input tuple for z (B, dim): the fixed extra inputs broadcast to batch B."""
        b = z.shape[0]
        args: list[torch.Tensor] = []
        for n in self.spec.inputs:
            if n == self.spec.name:
                args.append(z)
                continue
            v = self.extra[n]
            if v.shape[0] == 1 and b != 1:
                v = v.expand(b, *v.shape[1:])
            elif v.shape[0] != b:
                raise ValueError(f"extra_inputs[{n!r}]: batch {v.shape[0]}, expected 1 or the z batch {b}")
            args.append(v)
        return tuple(args)

    def __call__(self, z: torch.Tensor, batch_size: int | None = None) -> torch.Tensor:
        """G(z): z (B, dim) -> outputs (B, *output_shape), in chunks of ``batch_size`` when given (no-grad use)."""
        if batch_size is None or z.shape[0] <= batch_size:
            return self._first(self.model.generator(*self.inputs(z)))
        return torch.cat([self(z[i:i + batch_size]) for i in range(0, z.shape[0], batch_size)])

    @staticmethod
    def _first(out: Any) -> torch.Tensor:
        return out[0] if isinstance(out, (tuple, list)) else out

    # -- images ---------------------------------------------------------------------------------------------------
    def check_outputs(self, x: Any, name: str = "images") -> torch.Tensor:
        """Target images / videos / volumes (B, *output_shape) (one sample without the batch axis is accepted) in
        the output range, on the model's device and dtype. ValueError for another shape (channels named)."""
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"{name}: expected a torch.Tensor (B, {', '.join(map(str, self.spec.output_shape))}), "
                            f"got {type(x).__name__}")
        if x.dim() == len(self.spec.output_shape):
            x = x[None]
        shape = self.spec.output_shape
        layout = "(B, " + ", ".join(map(str, shape)) + ")"
        if x.dim() == len(shape) + 1 and x.shape[1] != shape[0]:
            raise ValueError(f"{name}: {self.label} makes {shape[0]}-channel outputs {layout}, got {x.shape[1]} "
                             f"channels (shape {tuple(x.shape)})")
        if not torch.is_floating_point(x):
            raise TypeError(f"{name}: expected floating-point values in {list(self.spec.output_range)}, got dtype "
                            f"{x.dtype}")
        x = x.to(self.device, self.dtype)
        check_tensor(x, name, ndim=len(shape) + 1, channels=shape[0], size=shape[1:], layout=layout)
        lo, hi = self.spec.output_range
        span = hi - lo
        mn, mx = float(x.min()), float(x.max())
        if mn < lo - 0.05 * span or mx > hi + 0.05 * span:
            logger.warning("%s: values span [%.3g, %.3g], outside the model's output range [%g, %g]", name, mn, mx,
                           lo, hi)
        return x


def bind(model: "GANModel | LatentGenerator", extra_inputs: Mapping[str, Any] | Sequence[Any] | None = None
         ) -> LatentGenerator:
    """A :class:`LatentGenerator` for ``model`` (returned as it is when it already is one and no extra inputs
    are given)."""
    if isinstance(model, LatentGenerator):
        if extra_inputs is not None:
            return LatentGenerator(model.model, extra_inputs)
        return model
    return LatentGenerator(model, extra_inputs)


@contextlib.contextmanager
def frozen(*modules: nn.Module | None) -> Iterator[None]:
    """Eval mode and ``requires_grad=False`` on every parameter of ``modules`` for the block; each module's
    train/eval flags and each parameter's requires_grad are restored after (also on error)."""
    mods = [m for m in modules if isinstance(m, nn.Module)]
    flags = [(sub, sub.training) for m in mods for sub in m.modules()]
    grads = [(p, p.requires_grad) for m in mods for p in m.parameters()]
    try:
        for m in mods:
            m.eval()
        for p, _ in grads:
            p.requires_grad_(False)
        yield
    finally:
        for sub, t in flags:
            sub.training = t
        for p, g in grads:
            p.requires_grad_(g)


def is_critic(lg: LatentGenerator) -> bool:
    """True for a WGAN critic (TGAN: unbounded scores, no sigmoid)."""
    return lg.family == "tgan"


def realness(lg: LatentGenerator, x: torch.Tensor) -> torch.Tensor:
    """(B,) how real the discriminator finds ``x``: its logit (DCGAN, 3D-GAN; D(x) = sigmoid of it), the WGAN
    critic score (TGAN), or for DR-GAN the log-odds of "not the fake class" (logsumexp of the Nd identity logits
    minus the fake-class logit). TypeError for a discriminator output of another form."""
    d = lg.model.discriminator
    out = d(x)
    if isinstance(out, torch.Tensor):
        if out.dim() == 2 and out.shape[1] == 1:
            out = out[:, 0]
        if out.dim() != 1:
            raise TypeError(f"{lg.label}: expected the discriminator to return logits (B,), got {tuple(out.shape)}")
        return out
    if isinstance(out, (tuple, list)) and out and isinstance(out[0], torch.Tensor) and out[0].dim() == 2 \
            and lg.family == "drgan":
        ident = out[0]
        return torch.logsumexp(ident[:, :-1], dim=1) - ident[:, -1]
    raise TypeError(f"{lg.label}: cannot read a real/fake score from its discriminator's output "
                    f"({type(out).__name__}); pass lambda 0 for the discriminator term")


def has_features(lg: LatentGenerator) -> bool:
    return callable(getattr(lg.model.discriminator, "features", None))


def progress_bar(total: int, desc: str, progress: bool | None):
    """A tqdm bar (None: shown only when stderr is a terminal)."""
    from tqdm.auto import tqdm

    enabled = bool(getattr(sys.stderr, "isatty", lambda: False)()) if progress is None else bool(progress)
    return tqdm(total=total, desc=desc, disable=not enabled, leave=False)


def check_int(v: Any, name: str, lo: int = 1, hi: int | None = None) -> int:
    import numbers

    if isinstance(v, bool) or not isinstance(v, numbers.Integral):
        raise TypeError(f"{name}: expected an int, got {v!r} ({type(v).__name__})")
    v = int(v)
    if v < lo or (hi is not None and v > hi):
        raise ValueError(f"{name}: expected an int in [{lo}, {hi if hi is not None else 'inf'}], got {v}")
    return v


def check_float(v: Any, name: str, lo: float = 0.0, *, lo_open: bool = False) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(float(v)):
        raise TypeError(f"{name}: expected a finite number, got {v!r} ({type(v).__name__})")
    if float(v) < lo or (lo_open and float(v) == lo):
        raise ValueError(f"{name}: expected a number {'>' if lo_open else '>='} {lo:g}, got {v!r}")
    return float(v)


def check_choice(v: Any, name: str, choices: Sequence[str]) -> str:
    if not isinstance(v, str) or v not in choices:
        raise ValueError(f"{name}: expected one of {', '.join(map(repr, choices))}, got {v!r}")
    return v


def make_generator(seed: int | None) -> torch.Generator:
    g = torch.Generator()
    if seed is not None:
        g.manual_seed(check_int(seed, "seed", lo=0))
    else:
        g.seed()
    return g


def psnr(mse: torch.Tensor, value_range: tuple[float, float]) -> torch.Tensor:
    """PSNR in dB of per-sample MSEs measured in ``value_range`` (peak = the range's width); inf for mse 0."""
    peak = float(value_range[1] - value_range[0])
    return 10 * torch.log10(peak ** 2 / mse.clamp_min(1e-20))


def per_sample_mse(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return (a - b).pow(2).flatten(1).mean(dim=1)



def binary_mask(mask: Any, size: Sequence[int], name: str = "mask") -> torch.Tensor:
    """A binary mask (H, W) as a bool tensor: a bool tensor / array, or numbers that are all 0 or 1 (ValueError
    for any other value: "not binary"); ``size`` = the image's (H, W) (ValueError naming both otherwise). A mask
    (1, H, W) or (1, 1, H, W) is squeezed."""
    import numpy as np

    if isinstance(mask, np.ndarray):
        mask = torch.from_numpy(np.ascontiguousarray(mask))
    if not isinstance(mask, torch.Tensor):
        raise TypeError(f"{name}: expected a torch.Tensor or numpy array (H, W), got {type(mask).__name__}")
    m = mask.detach()
    while m.dim() > 2 and m.shape[0] == 1:
        m = m[0]
    if m.dim() != 2:
        raise ValueError(f"{name}: expected shape (H, W), got {tuple(mask.shape)}")
    if tuple(m.shape) != tuple(size):
        raise ValueError(f"{name}: its size {m.shape[1]}x{m.shape[0]} differs from the image's {size[1]}x{size[0]} "
                         f"(W x H)")
    if m.dtype != torch.bool:
        if m.is_complex():
            raise TypeError(f"{name}: expected a bool or 0/1 mask, got dtype {m.dtype}")
        bad = (m != 0) & (m != 1)
        if bool(bad.any()):
            vals = torch.unique(m[bad].float())[:4].tolist()
            raise ValueError(f"{name}: not binary: expected only 0 and 1 (or a bool mask), got values such as "
                             f"{', '.join(f'{v:g}' for v in vals)}; threshold it first, e.g. mask > 0.5")
        m = m != 0
    return m
