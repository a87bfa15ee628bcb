"""What a model takes and returns, derived from its config: :class:`TensorSpec`, :class:`ModelSpecs` and the
symbolic-dimension arithmetic that export, validation, pipelines and benchmarks share.

Specs are computed by each config class's ``specs()`` method from the very fields the networks are built from,
so they cannot contradict the model (``create("dcgan.mnist", nc=3).specs`` declares three channels). Only the
standard library is imported here: ``ganzoo list`` reads specs without importing torch.

A dimension is an int (fixed) or a string: ``"B"`` (batch), a spatial symbol (``"H"``, ``"W"``), or a symbol
times or divided by an int (``"H*4"``: four times the input height).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, fields
from typing import Any, Mapping, Sequence

__all__ = ["TensorSpec", "ModelSpecs", "DimExpr", "parse_dim", "spatial_symbols", "infer_dims", "expected_shape",
           "BATCH_SYMBOL", "SpecMismatchError"]

BATCH_SYMBOL = "B"
_DIM_RE = re.compile(r"^\s*([A-Za-z_]\w*)\s*(?:([*/])\s*(\d+))?\s*$")


class SpecMismatchError(ValueError):
    """Tensors that do not have the shapes their specs declare (ganzoo.export raises its ShapeMismatchError)."""


@dataclass(frozen=True)
class DimExpr:
    """A parsed symbolic dimension: ``"H*4"`` -> symbol H, factor 4; ``"H/2"`` -> symbol H, divisor 2."""

    symbol: str
    mul: int = 1
    div: int = 1

    def value(self, dims: Mapping[str, int]) -> int:
        return dims[self.symbol] * self.mul // self.div

    def invert(self, size: int) -> int:
        return size * self.div // self.mul


def parse_dim(d: int | str) -> int | DimExpr:
    """``4`` -> 4, ``"B"`` -> DimExpr("B"), ``"H*4"`` -> DimExpr("H", mul=4). ValueError for anything else."""
    if isinstance(d, int) and not isinstance(d, bool):
        return d
    m = _DIM_RE.match(d) if isinstance(d, str) else None
    if not m:
        raise ValueError(f"cannot parse dimension {d!r}: expected an int, 'B', 'H' or an 'H*4'-style expression")
    if m.group(2) == "*":
        return DimExpr(m.group(1), mul=int(m.group(3)))
    if m.group(2) == "/":
        return DimExpr(m.group(1), div=int(m.group(3)))
    return DimExpr(m.group(1))


@dataclass(frozen=True)
class TensorSpec:
    """One input or output tensor of a generator.

    ``shape`` holds ints for fixed sizes and strings for symbolic ones (see the module doc).
    ``range`` is the closed value interval, or None when unbounded (latent codes drawn from a Gaussian).
    """

    name: str
    shape: tuple[int | str, ...]
    range: tuple[float, float] | None = None
    dtype: str = "float32"
    description: str = ""

    def resolve(self, **dims: int) -> tuple[int, ...]:
        """Concrete shape for the given symbolic sizes, e.g. ``spec.resolve(B=2, H=24, W=24)``."""
        out: list[int] = []
        for d in self.shape:
            p = parse_dim(d)
            if isinstance(p, int):
                out.append(p)
            elif p.symbol not in dims:
                raise ValueError(f"cannot resolve dimension {d!r} of {self.name!r}: expected one of {sorted(dims)}")
            else:
                out.append(p.value(dims))
        return tuple(out)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "shape": list(self.shape), "range": list(self.range) if self.range else None,
                "dtype": self.dtype, "description": self.description}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "TensorSpec":
        return cls(name=d["name"], shape=tuple(d["shape"]),
                   range=tuple(d["range"]) if d.get("range") is not None else None,  # type: ignore[arg-type]
                   dtype=d.get("dtype", "float32"), description=d.get("description", ""))


@dataclass(frozen=True)
class ModelSpecs:
    """A generator's interface, as its config defines it.

    ``inputs`` / ``outputs``: the generator's tensors in call / return order.
    ``latent_dim``: size of the noise input (None for models without one). ``image_size``: the output's fixed
    spatial size (None when it follows the input). ``scale``: output/input size ratio of SR models.
    ``dynamic_spatial``: the generator accepts any input size within ``min_size`` and ``size_multiple``.
    """

    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]
    latent_dim: int | None = None
    image_size: tuple[int, ...] | None = None
    scale: int | None = None
    min_size: int | None = None
    size_multiple: int | None = None
    dynamic_spatial: bool = False

    @property
    def spatial_symbols(self) -> tuple[str, ...]:
        """The inputs' symbols other than the batch one (``("H", "W")`` for an SR model, ``()`` for DCGAN)."""
        return spatial_symbols(self.inputs)

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {}
        for f in fields(self):
            v = getattr(self, f.name)
            if f.name in ("inputs", "outputs"):
                v = [s.to_dict() for s in v]
            elif isinstance(v, tuple):
                v = list(v)
            d[f.name] = v
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "ModelSpecs":
        kw: dict[str, Any] = {}
        known = {f.name for f in fields(cls)}
        for k, v in d.items():
            if k not in known:
                continue
            if k in ("inputs", "outputs"):
                v = tuple(TensorSpec.from_dict(s) for s in v)
            elif isinstance(v, list):
                v = tuple(v)
            kw[k] = v
        return cls(**kw)


def spatial_symbols(specs: Sequence[TensorSpec]) -> tuple[str, ...]:
    """Symbols other than the batch one, in order of first appearance over ``specs``."""
    out: list[str] = []
    for s in specs:
        for d in s.shape:
            p = parse_dim(d)
            if isinstance(p, DimExpr) and p.symbol != BATCH_SYMBOL and p.symbol not in out:
                out.append(p.symbol)
    return tuple(out)


def infer_dims(specs: Sequence[TensorSpec], shapes: Sequence[Sequence[int]], what: str = "input",
               error: type[Exception] = SpecMismatchError) -> dict[str, int]:
    """Values of the symbolic dims from concrete shapes: ``(B, 3, H, W)`` and a (2, 3, 24, 32) tensor give
    ``{"B": 2, "H": 24, "W": 32}``. Raises ``error`` when counts, ranks, fixed sizes or symbols disagree."""
    if len(specs) != len(shapes):
        raise error(f"expected {len(specs)} {what}(s) ({', '.join(s.name for s in specs)}), got {len(shapes)}")
    dims: dict[str, int] = {}
    for spec, shape in zip(specs, shapes):
        shape = tuple(int(n) for n in shape)
        if len(shape) != len(spec.shape):
            raise error(f"{what} {spec.name!r}: spec shape {tuple(spec.shape)} has rank {len(spec.shape)}, "
                        f"the tensor has shape {shape}")
        for i, (d, n) in enumerate(zip(spec.shape, shape)):
            p = parse_dim(d)
            if isinstance(p, int):
                if p != n:
                    raise error(f"{what} {spec.name!r}: expected size {p} at dim {i} (spec {tuple(spec.shape)}), "
                                f"got shape {shape}")
                continue
            v = p.invert(n)
            if p.symbol in dims and dims[p.symbol] != v:
                raise error(f"{what} {spec.name!r}: dim {i} ({d}) implies {p.symbol}={v}, but another dim set "
                            f"{p.symbol}={dims[p.symbol]} (shape {shape})")
            dims[p.symbol] = v
    return dims


def expected_shape(spec: TensorSpec, dims: Mapping[str, int], what: str = "output",
                   error: type[Exception] = SpecMismatchError) -> tuple[int, ...]:
    """``spec``'s shape with ``dims`` filled in; ``error`` when it uses a symbol no input defines."""
    try:
        return tuple(p if isinstance(p, int) else p.value(dims) for p in map(parse_dim, spec.shape))
    except KeyError as e:
        raise error(f"{what} {spec.name!r}: spec {tuple(spec.shape)} uses {e} which no input defines") from None
