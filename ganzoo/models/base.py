"""What every ganzoo model shares: a config dataclass and a GANModel holding generator and discriminator.

Untrusted configs (a config.json from a hub or a folder) are checked twice before anything is allocated: every
field's type and range in the config dataclass's ``validate()`` (helpers :func:`check_int`, :func:`check_float`,
:func:`check_bool`, :func:`check_choice`, :func:`check_int_tuple`), then the parameter count of generator +
discriminator, measured by building the networks on the meta device (no memory), against :data:`MAX_PARAMETERS`
(:func:`max_parameters` changes the bound for a block). Both raise :class:`~ganzoo.errors.InvalidConfigError`.

Model inputs follow one rule set (:func:`check_tensor`, :func:`check_latent`, :func:`check_batch_size`):
a floating input of another dtype than the network's parameters is an
:class:`~ganzoo.errors.InputDtypeError` (TypeError; nothing is cast silently); NaN/Inf in an input is a
:class:`~ganzoo.errors.NonFiniteInputError` (ValueError); a batch of 0 is a ValueError; ``sample(n)`` and
``sample_inputs(n)`` need an int ``n >= 1``. Value checks are skipped while tracing, compiling or exporting and
on meta tensors (there are no values then); dtype and shape checks always run.
"""
from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import math
import numbers
import sys
from typing import Any, ClassVar, Iterator, Mapping, Sequence

import torch
from torch import nn

from ..errors import InputDtypeError, InvalidConfigError, ModelTooLargeError, NonFiniteInputError
from ..specs import ModelSpecs

__all__ = [
    "ModelConfig", "GANModel", "check_tensor", "check_latent", "check_batch_size", "check_dtype", "check_finite",
    "first_param",
    "config_error", "check_int", "check_float", "check_bool", "check_choice", "check_int_tuple", "check_float_pair",
    "MAX_PARAMETERS", "max_parameters", "get_max_parameters", "count_parameters", "is_tracing",
    "MAX_WIDTH", "MAX_DEPTH", "MAX_SIDE", "MAX_CLASSES", "MAX_TRAIN_INT",
]

#: Default bound on generator + discriminator parameters of a model built from a config (2e9: 8 GB in fp32;
#: the largest registered default, gan3d, has 2.9e7). Change it for a block with :func:`max_parameters`.
MAX_PARAMETERS = 2_000_000_000
#: Per-field bounds of config ints (the parameter bound catches products of in-range fields).
MAX_WIDTH = 65_536  # channels, latent sizes, hidden units
MAX_DEPTH = 256  # residual blocks
MAX_SIDE = 4096  # image / volume sides
MAX_CLASSES = 1_000_000  # identities, poses
MAX_TRAIN_INT = 1_000_000  # batch sizes and periods of training recipes

_MAX_PARAMS: contextvars.ContextVar[int | None] = contextvars.ContextVar("ganzoo_max_parameters", default=None)
_COUNTING: contextvars.ContextVar[bool] = contextvars.ContextVar("ganzoo_counting_parameters", default=False)


def _show(v: Any) -> str:
    r = repr(v)
    return r if len(r) <= 80 else r[:77] + "..."


def _bad(cfg: Any, field: str, expected: str, value: Any) -> InvalidConfigError:
    label = getattr(cfg, "_label", None) or type(cfg).__name__
    return InvalidConfigError(f"{label} {field} must be {expected}, got {_show(value)} ({type(value).__name__})")


def config_error(cfg: Any, field: str, expected: str, value: Any) -> InvalidConfigError:
    """The :class:`~ganzoo.errors.InvalidConfigError` of one field: "<family> <field> must be <expected>, got ..."."""
    return _bad(cfg, field, expected, value)


def _is_int(v: Any) -> bool:
    return isinstance(v, numbers.Integral) and not isinstance(v, bool)


def _is_real(v: Any) -> bool:
    return isinstance(v, numbers.Real) and not isinstance(v, bool)


def _alternatives(choices: Sequence[Any]) -> str:
    r = [repr(c) for c in choices]
    return r[0] if len(r) == 1 else ", ".join(r[:-1]) + " or " + r[-1]


def check_int(cfg: Any, field: str, lo: int = 1, hi: int = MAX_WIDTH, *, expected: str | None = None) -> int:
    """``cfg.<field>`` must be an int (not a bool, not a float) in ``[lo, hi]``; stored and returned as a plain
    int. Raises :class:`~ganzoo.errors.InvalidConfigError` ("<family> <field> must be ..., got ...")."""
    v = getattr(cfg, field)
    if not _is_int(v):
        raise _bad(cfg, field, expected or f"an int in [{lo}, {hi}]", v)
    if int(v) < lo:
        raise _bad(cfg, field, expected or f">= {lo}", v)
    if int(v) > hi:
        raise _bad(cfg, field, expected or f"<= {hi} (a bound against hostile configs)", v)
    setattr(cfg, field, int(v))
    return int(v)


def check_float(cfg: Any, field: str, lo: float, hi: float = math.inf, *, lo_open: bool = False,
                hi_open: bool = False) -> float:
    """``cfg.<field>`` must be a finite real number (ints accepted, bools not) in the interval (``hi=inf``: no
    upper bound); stored as a float."""
    v = getattr(cfg, field)
    if not _is_real(v) or not math.isfinite(float(v)):
        raise _bad(cfg, field, "a finite number", v)
    f = float(v)
    if math.isinf(hi):
        expected = f"{'>' if lo_open else '>='} {lo:g}"
    else:
        expected = f"in {'(' if lo_open else '['}{lo:g}, {hi:g}{')' if hi_open else ']'}"
    if not ((lo < f if lo_open else lo <= f) and (f < hi if hi_open else f <= hi)):
        raise _bad(cfg, field, expected, v)
    setattr(cfg, field, f)
    return f


def check_bool(cfg: Any, field: str) -> bool:
    """``cfg.<field>`` must be True or False (not 0/1, not a string)."""
    v = getattr(cfg, field)
    if not isinstance(v, bool):
        raise _bad(cfg, field, "true or false", v)
    return v


def check_choice(cfg: Any, field: str, choices: Sequence[Any], *, expected: str | None = None) -> Any:
    """``cfg.<field>`` must be one of ``choices``, of the same kind (so ``True`` is not ``1``, ``4.0`` is not ``4``
    and ``"4"`` is not ``4``; a numpy int is an int)."""
    v = getattr(cfg, field)
    if all(_is_int(c) for c in choices):  # numpy ints are ints; bools and floats are not
        ok = _is_int(v) and int(v) in choices
        v = int(v) if ok else v
    else:
        ok = any(type(v) is type(c) and v == c for c in choices)
    if not ok:
        raise _bad(cfg, field, expected or _alternatives(choices), v)
    setattr(cfg, field, v)
    return v


def check_int_tuple(cfg: Any, field: str, *, length: int | None = None, min_len: int = 1, max_len: int = 32,
                    lo: int = 1, hi: int = MAX_WIDTH, expected: str | None = None) -> tuple[int, ...]:
    """``cfg.<field>`` must be a tuple or list of ints in ``[lo, hi]``, of exactly ``length`` items or between
    ``min_len`` and ``max_len``; stored as a tuple of plain ints."""
    v = getattr(cfg, field)
    n = f"{length}" if length is not None else f"{min_len} to {max_len}"
    expected = expected or f"{n} ints in [{lo}, {hi}]"
    if not isinstance(v, (tuple, list)):
        raise _bad(cfg, field, expected, v)
    if (len(v) != length) if length is not None else not min_len <= len(v) <= max_len:
        raise _bad(cfg, field, expected, tuple(v))
    if any(not _is_int(w) or not lo <= int(w) <= hi for w in v):
        raise _bad(cfg, field, expected, tuple(v))
    out = tuple(int(w) for w in v)
    setattr(cfg, field, out)
    return out


def check_float_pair(cfg: Any, field: str, choices: Sequence[tuple[float, float]] | None = None) -> tuple[float, float]:
    """``cfg.<field>`` must be a pair ``(lo, hi)`` of finite numbers with lo < hi (one of ``choices`` when given);
    stored as a tuple of floats."""
    v = getattr(cfg, field)
    expected = f"one of {list(choices)}" if choices else "a pair (lo, hi) of finite numbers with lo < hi"
    if not isinstance(v, (tuple, list)) or len(v) != 2 or any(not _is_real(x) or not math.isfinite(float(x))
                                                             for x in v):
        raise _bad(cfg, field, expected, v)
    pair = (float(v[0]), float(v[1]))
    if not pair[0] < pair[1] or (choices and pair not in [tuple(map(float, c)) for c in choices]):
        raise _bad(cfg, field, expected, v)
    setattr(cfg, field, pair)
    return pair


@dataclasses.dataclass
class ModelConfig:
    """Base of the per-architecture config dataclasses. Defaults are the paper's numbers.

    ``validate()`` (run on construction) checks every field's type and range and raises
    :class:`~ganzoo.errors.InvalidConfigError` naming the field, what was expected and what was given.
    """

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        return {k: list(v) if isinstance(v, tuple) else v for k, v in d.items()}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]):
        """Build from a mapping (a config.json ``config``, or builder kwargs): unknown fields are an
        :class:`~ganzoo.errors.InvalidConfigError`; lists become tuples where the field's default is one."""
        if not isinstance(d, Mapping):
            raise InvalidConfigError(f"{cls.__name__}: expected a mapping of field names to values, got "
                                     f"{type(d).__name__}")
        known = {f.name: f for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - set(known), key=repr)
        if unknown:
            raise InvalidConfigError(
                f"{cls.__name__} got unknown field(s) {_show(unknown)}; expected a subset of {sorted(known)}"
            )
        kwargs = {}
        for k, v in d.items():
            # JSON has no tuples: restore them where the field's default is one.
            default = known[k].default
            kwargs[k] = tuple(v) if isinstance(v, list) and isinstance(default, tuple) else v
        return cls(**kwargs)

    def __post_init__(self) -> None:
        self.validate()

    #: how error messages name the family ("SRGAN scale must be ...")
    _label: ClassVar[str] = ""

    def validate(self) -> None:  # overridden by every config: type and range of each field
        pass

    def specs(self) -> "ModelSpecs":
        """The generator's inputs and outputs (:class:`~ganzoo.specs.ModelSpecs`) for this config: shapes, value
        ranges and size rules derived from the same fields the networks are built from. Every family defines it."""
        raise NotImplementedError(f"{type(self).__name__} does not define specs()")


# -- model inputs ---------------------------------------------------------------------------------------------------

def is_tracing() -> bool:
    """True under torch.jit.trace, torch.compile, torch.export and torch.onnx.export, where value-dependent checks
    (NaN scans, batch-size branches) cannot or should not run. Cheap; never imports torch.onnx."""
    if torch.jit.is_tracing() or torch.compiler.is_compiling():
        return True
    is_exporting = getattr(torch.compiler, "is_exporting", None)
    if is_exporting is not None and is_exporting():
        return True
    onnx = sys.modules.get("torch.onnx")  # not imported means not exporting
    return bool(onnx is not None and onnx.is_in_onnx_export())


def first_param(module: nn.Module) -> torch.Tensor | None:
    """The first floating parameter of ``module`` (its first layer's weight), None when it has none. Inputs must
    have its dtype. Pass it as ``like=`` to :func:`check_tensor`: a parameter (not its dtype) so that a torch.fx
    graph reads it at run time (a get_attr node) and follows a later ``.to(dtype)`` of the module."""
    return next((p for p in module.parameters() if p.is_floating_point()), None)


def check_dtype(x: torch.Tensor, name: str, like: torch.Tensor | torch.dtype | None) -> None:
    """Raise :class:`~ganzoo.errors.InputDtypeError` unless the floating tensor ``x`` has the dtype of ``like``
    (a parameter of the network ``x`` is fed to, or a dtype; None checks nothing). Nothing is cast silently."""
    if like is None:
        return
    want = like if isinstance(like, torch.dtype) else like.dtype
    if x.dtype != want:
        raise InputDtypeError(f"{name}: expected dtype {want} (the model's parameters), got {x.dtype}; cast the "
                              f"input with {name}.to({want}) or the model with model.to({x.dtype})")


def check_finite(x: torch.Tensor, name: str) -> None:
    """Raise :class:`~ganzoo.errors.NonFiniteInputError` if ``x`` holds NaN or Inf. One ``isfinite().all()``;
    skipped while tracing/compiling/exporting and on meta tensors."""
    if x.is_meta or is_tracing() or not torch.is_floating_point(x):
        return
    if not bool(torch.isfinite(x).all()):
        n_nan, n_inf = int(torch.isnan(x).sum()), int(torch.isinf(x).sum())
        raise NonFiniteInputError(f"{name}: expected finite values, got {n_nan} NaN and {n_inf} Inf of {x.numel()} "
                                  f"values (shape {tuple(x.shape)})")


def _check_batch(x: torch.Tensor, name: str, layout: str) -> None:
    if not is_tracing() and x.dim() >= 1 and x.shape[0] == 0:
        raise ValueError(f"{name}: expected a batch of at least 1 {layout}, got an empty batch "
                         f"(shape {tuple(x.shape)})")


def check_batch_size(n: Any, name: str = "n") -> int:
    """``n`` must be an int >= 1 (TypeError for a non-int such as 2.5, "3" or True; ValueError for n <= 0)."""
    if not _is_int(n):
        raise TypeError(f"{name}: expected a positive int (number of samples), got {_show(n)} ({type(n).__name__})")
    if int(n) < 1:
        raise ValueError(f"{name}: expected a positive int (number of samples), got {int(n)}")
    return int(n)


def check_tensor(
    x: Any,
    name: str,
    *,
    ndim: int | None = None,
    channels: int | None = None,
    size: Sequence[int] | None = None,
    min_size: int | None = None,
    multiple_of: int | None = None,
    layout: str = "(B, C, H, W)",
    like: torch.Tensor | None = None,
) -> None:
    """Raise TypeError/ValueError (expected vs given) unless ``x`` is a floating tensor of the expected geometry.

    Called at the top of forward, so a bad input fails before any compute. ``size`` checks the trailing
    spatial dims exactly; ``min_size``/``multiple_of`` constrain each of them. ``like``: a parameter of the
    network ``x`` is fed to, ``first_param(network)``, whose dtype ``x`` must have (:func:`check_dtype`). Then the
    batch must not be empty and the values finite (:func:`check_finite`).
    """
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name}: expected a torch.Tensor of shape {layout}, got {type(x).__name__}")
    if not torch.is_floating_point(x):
        raise TypeError(f"{name}: expected a floating-point tensor, got dtype {x.dtype}")
    check_dtype(x, name, like)
    if ndim is not None and x.dim() != ndim:
        raise ValueError(f"{name}: expected a {ndim}-d tensor {layout}, got shape {tuple(x.shape)}")
    if channels is not None and x.shape[1] != channels:
        raise ValueError(f"{name}: expected {channels} channels {layout}, got {x.shape[1]} (shape {tuple(x.shape)})")
    spatial = tuple(x.shape[2:])
    if size is not None and spatial != tuple(size):
        raise ValueError(f"{name}: expected spatial size {tuple(size)}, got {spatial} (shape {tuple(x.shape)})")
    if min_size is not None and any(s < min_size for s in spatial):
        raise ValueError(f"{name}: expected every spatial size >= {min_size}, got {spatial}")
    if multiple_of is not None and any(s % multiple_of for s in spatial):
        raise ValueError(f"{name}: expected spatial sizes that are multiples of {multiple_of}, got {spatial}")
    _check_batch(x, name, layout)
    check_finite(x, name)


def check_latent(z: Any, dim: int, name: str = "z", *,
                 like: torch.Tensor | None = None) -> torch.Tensor:
    """Accept ``(B, dim)`` or ``(B, dim, 1, 1[, 1])``; return ``(B, dim)``. Same dtype, batch and finiteness
    rules as :func:`check_tensor`."""
    if not isinstance(z, torch.Tensor):
        raise TypeError(f"{name}: expected a torch.Tensor of shape (B, {dim}), got {type(z).__name__}")
    if not torch.is_floating_point(z):
        raise TypeError(f"{name}: expected a floating-point tensor, got dtype {z.dtype}")
    check_dtype(z, name, like)
    if z.dim() < 2 or z.shape[1] != dim or any(s != 1 for s in z.shape[2:]):
        raise ValueError(f"{name}: expected shape (B, {dim}) or (B, {dim}, 1, 1), got {tuple(z.shape)}")
    _check_batch(z, name, f"(B, {dim})")
    check_finite(z, name)
    return z.reshape(z.shape[0], dim)


# -- the parameter bound -------------------------------------------------------------------------------------------

def get_max_parameters() -> int:
    """The parameter bound in force: the innermost :func:`max_parameters` block's, else :data:`MAX_PARAMETERS`."""
    v = _MAX_PARAMS.get()
    return MAX_PARAMETERS if v is None else v


@contextlib.contextmanager
def max_parameters(limit: int | None) -> Iterator[None]:
    """Within the block, models refuse configs with more than ``limit`` generator + discriminator parameters
    (None: :data:`MAX_PARAMETERS`). Raise it to build a deliberately huge model; lower it for untrusted configs."""
    if limit is not None and (not _is_int(limit) or limit < 1):
        raise TypeError(f"max_parameters: expected a positive int or None, got {_show(limit)}")
    token = _MAX_PARAMS.set(None if limit is None else int(limit))
    try:
        yield
    finally:
        _MAX_PARAMS.reset(token)


def count_parameters(model_class: type["GANModel"], config: "ModelConfig") -> dict[str, int]:
    """Generator and discriminator parameter counts of ``model_class(config)``, measured by building it on the
    meta device: nothing is allocated and no weights are initialised with data."""
    token = _COUNTING.set(True)
    try:
        with torch.device("meta"):
            meta = model_class(config)
    finally:
        _COUNTING.reset(token)
    return meta.num_parameters()


def _building_for_real() -> bool:
    if _COUNTING.get():
        return False
    get_default = getattr(torch, "get_default_device", None)
    return get_default is None or torch.device(get_default()).type != "meta"


class GANModel(nn.Module):
    """A generator and the discriminator it was trained against.

    ``model(*inputs)`` runs the generator. Subclasses set ``config_class`` and build ``generator`` and
    ``discriminator``; they implement :meth:`sample_inputs`, which draws a valid random batch of generator inputs
    (used by tests, export and benchmarks). Latent models also get :meth:`sample`.

    Before the networks are allocated, the parameter count of ``config`` (measured on the meta device) is checked
    against :func:`get_max_parameters`: :class:`~ganzoo.errors.ModelTooLargeError` above it.
    """

    config_class: ClassVar[type[ModelConfig]]
    #: True when the generator's inputs are pure noise, so :meth:`sample` can draw them from the prior.
    #: Conditional models (SR, inpainting, DR-GAN) set False: they need real inputs.
    noise_input: ClassVar[bool] = True
    generator: nn.Module
    discriminator: nn.Module

    def __init__(self, config: ModelConfig):
        super().__init__()
        if not isinstance(config, self.config_class):
            raise TypeError(f"{type(self).__name__} expects a {self.config_class.__name__}, got {type(config).__name__}")
        if _building_for_real():
            self.check_size(config)
        self.config = config
        self.pretrained_cfg = None  # set by ganzoo.create / ganzoo.load
        self.model_name: str | None = None
        #: the networks whose weights were loaded (ganzoo.load sets it; () for random weights)
        self.pretrained_parts: tuple[str, ...] = ()

    @classmethod
    def check_size(cls, config: ModelConfig, max_params: int | None = None) -> dict[str, int]:
        """Raise :class:`~ganzoo.errors.ModelTooLargeError` when ``cls(config)`` would hold more than
        ``max_params`` (default :func:`get_max_parameters`) parameters; return the counts otherwise."""
        limit = get_max_parameters() if max_params is None else max_params
        counts = count_parameters(cls, config)
        total = sum(counts.values())
        if total > limit:
            raise ModelTooLargeError(
                f"{cls.__name__} config would build {total:,} parameters (generator {counts['generator']:,}, "
                f"discriminator {counts['discriminator']:,}), above the bound of {limit:,}; a config from an "
                f"untrusted source is refused before anything is allocated. If this size is intended, build it "
                f"inside `with ganzoo.models.base.max_parameters({total}):`")
        return counts

    @property
    def specs(self) -> ModelSpecs:
        """The generator's input/output :class:`~ganzoo.specs.ModelSpecs`, derived from ``self.config``."""
        return self.config.specs()

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        return self.generator(*args, **kwargs)

    def sample_inputs(
        self,
        batch_size: int = 1,
        *,
        generator: torch.Generator | None = None,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
        size: Sequence[int] | None = None,
    ) -> tuple[torch.Tensor, ...]:
        """A random batch of valid generator inputs, as a tuple to splat into ``model(*inputs)``."""
        raise NotImplementedError

    @torch.no_grad()
    def sample(self, n: int, *, generator: torch.Generator | None = None, truncation: float | None = None) -> torch.Tensor:
        """Draw ``n`` latent codes from the training prior and return generated samples (eval mode is the
        caller's choice). Only for models whose generator input is pure noise. ``n``: an int >= 1;
        ``truncation``: None or a finite number > 0 (latents are clamped to [-truncation, truncation])."""
        if not self.noise_input:
            raise TypeError(
                f"{type(self).__name__} generates from real inputs, not from noise alone: call model(*inputs) "
                f"(model.sample_inputs(n) draws a random valid batch of inputs)"
            )
        n = check_batch_size(n, "n")
        if truncation is not None and (not isinstance(truncation, numbers.Real) or isinstance(truncation, bool)
                                       or not math.isfinite(float(truncation)) or truncation <= 0):
            raise ValueError(f"truncation: expected None or a finite number > 0, got {_show(truncation)}")
        inputs = self.sample_inputs(n, generator=generator, device=self._device(), dtype=self._dtype())
        if truncation is not None:
            inputs = tuple(x.clamp(-truncation, truncation) for x in inputs)
        return self.generator(*inputs)

    def _device(self) -> torch.device:
        p = next(self.parameters(), None)
        return p.device if p is not None else torch.device("cpu")

    def _dtype(self) -> torch.dtype:
        p = next(self.parameters(), None)
        return p.dtype if p is not None else torch.float32

    def num_parameters(self) -> dict[str, int]:
        """Parameter counts of the generator and discriminator (buffers such as BN statistics excluded)."""
        return {
            "generator": sum(p.numel() for p in self.generator.parameters()),
            "discriminator": sum(p.numel() for p in self.discriminator.parameters()),
        }

    def extra_repr(self) -> str:
        name = self.model_name or type(self).__name__
        tag = f".{self.pretrained_cfg.tag}" if self.pretrained_cfg is not None else ""
        return f"name={name}{tag}"
