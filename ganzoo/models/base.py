"""What every ganzoo model shares: a config dataclass and a GANModel holding generator and discriminator."""
from __future__ import annotations

import dataclasses
from typing import Any, ClassVar, Mapping, Sequence

import torch
from torch import nn

__all__ = ["ModelConfig", "GANModel", "check_tensor", "check_latent"]


@dataclasses.dataclass
class ModelConfig:
    """Base of the per-architecture config dataclasses. Defaults are the paper's numbers."""

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        return {k: list(v) if isinstance(v, tuple) else v for k, v in d.items()}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]):
        known = {f.name: f for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - set(known))
        if unknown:
            raise ValueError(
                f"{cls.__name__} got unknown field(s) {unknown}; expected a subset of {sorted(known)}"
            )
        kwargs = {}
        for k, v in d.items():
            # JSON has no tuples: restore them where the field's default is one.
            default = known[k].default
            kwargs[k] = tuple(v) if isinstance(v, list) and isinstance(default, tuple) else v
        return cls(**kwargs)

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:  # overridden by configs with constraints
        pass


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
) -> None:
    """Raise ValueError (expected vs given) unless ``x`` is a floating tensor of the expected geometry.

    Called at the top of forward, so a bad input fails before any compute. ``size`` checks the trailing
    spatial dims exactly; ``min_size``/``multiple_of`` constrain each of them.
    """
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name}: expected a torch.Tensor of shape {layout}, got {type(x).__name__}")
    if not torch.is_floating_point(x):
        raise TypeError(f"{name}: expected a floating-point tensor, got dtype {x.dtype}")
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


def check_latent(z: Any, dim: int, name: str = "z") -> torch.Tensor:
    """Accept ``(B, dim)`` or ``(B, dim, 1, 1[, 1])``; return ``(B, dim)``."""
    if not isinstance(z, torch.Tensor):
        raise TypeError(f"{name}: expected a torch.Tensor of shape (B, {dim}), got {type(z).__name__}")
    if not torch.is_floating_point(z):
        raise TypeError(f"{name}: expected a floating-point tensor, got dtype {z.dtype}")
    if z.dim() < 2 or z.shape[1] != dim or any(s != 1 for s in z.shape[2:]):
        raise ValueError(f"{name}: expected shape (B, {dim}) or (B, {dim}, 1, 1), got {tuple(z.shape)}")
    return z.reshape(z.shape[0], dim)


class GANModel(nn.Module):
    """A generator and the discriminator it was trained against.

    ``model(*inputs)`` runs the generator. Subclasses set ``config_class`` and build ``generator`` and
    ``discriminator``; they implement :meth:`sample_inputs`, which draws a valid random batch of generator inputs
    (used by tests, export and benchmarks). Latent models also get :meth:`sample`.
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
        self.config = config
        self.pretrained_cfg = None  # set by ganzoo.create / ganzoo.load
        self.model_name: str | None = None
        #: the networks whose weights were loaded (ganzoo.load sets it; () for random weights)
        self.pretrained_parts: tuple[str, ...] = ()

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
        caller's choice). Only for models whose generator input is pure noise."""
        if not self.noise_input:
            raise TypeError(
                f"{type(self).__name__} generates from real inputs, not from noise alone: call model(*inputs) "
                f"(model.sample_inputs(n) draws a random valid batch of inputs)"
            )
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
