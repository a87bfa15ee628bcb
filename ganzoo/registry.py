"""The model registry: architectures, their weight tags, and the metadata that describes each tag.

Naming follows timm: a *model name* (``dcgan``, ``srgan_x4``) is an architecture in one configuration and
has a builder function; a *tag* names one set of weights for it (``dcgan.mnist``). The first tag listed for
a model is its default, so ``dcgan`` means ``dcgan.<default tag>``.

Model files declare metadata as data, next to the builders::

    default_cfgs = {"dcgan.mnist": PretrainedCfg(hub_id="ganzoo/dcgan-mnist", sha256="...", ...)}

    @register_model
    def dcgan(**kwargs) -> DCGAN: ...

This module knows nothing of the hub, export or kernels: it only maps names to builders and metadata.
"""
from __future__ import annotations

import dataclasses
import difflib
import fnmatch
import importlib
import re
import sys
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from .errors import UnknownModelError, UnknownTagError

__all__ = [
    "TensorSpec",
    "PretrainedCfg",
    "ModelEntry",
    "ModelInfo",
    "register_model",
    "list_models",
    "list_families",
    "model_info",
    "get_entry",
    "split_name",
    "resolve_pretrained_cfg",
    "create",
]

_DIM_RE = re.compile(r"^\s*([A-Za-z_]\w*)\s*(?:([*/])\s*(\d+))?\s*$")


@dataclass(frozen=True)
class TensorSpec:
    """One input or output tensor of a generator.

    ``shape`` holds ints for fixed sizes and strings for symbolic ones: ``"B"`` (batch), ``"H"``, ``"W"``,
    and simple expressions such as ``"H*4"`` for an output four times the input height.
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
            if isinstance(d, int):
                out.append(d)
                continue
            m = _DIM_RE.match(d)
            if not m or m.group(1) not in dims:
                raise ValueError(f"cannot resolve dimension {d!r} of {self.name!r}: expected one of {sorted(dims)}")
            v = dims[m.group(1)]
            if m.group(2) == "*":
                v = v * int(m.group(3))
            elif m.group(2) == "/":
                v = v // int(m.group(3))
            out.append(v)
        return tuple(out)

    @property
    def symbolic_dims(self) -> tuple[str, ...]:
        return tuple(d for d in self.shape if isinstance(d, str))

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "shape": list(self.shape), "range": list(self.range) if self.range else None,
                "dtype": self.dtype, "description": self.description}


@dataclass(frozen=True)
class PretrainedCfg:
    """Metadata of one weight tag: where its weights live and what the model takes and returns.

    ``config`` overrides the builder's defaults for these weights (e.g. ``{"nc": 1}`` for a grey model).
    ``hub_id`` is None when no weights are published for the tag.

    Weights converted from a file rather than published on a hub (``ganzoo.load("path/to/ckpt")``,
    ``ganzoo convert``) have ``hub_id=None``, ``source`` = the absolute path of that file, ``filename`` its name,
    ``sha256`` its sha256 (of the file as read, before any conversion), ``source_layout`` the converter that read it
    (``"srgan/lornatang"``, or ``"ganzoo"`` for a file already in ganzoo's layout) and ``source_parts`` the networks it
    held (``("generator",)`` when the discriminator kept its random initialisation). Registry tags have
    ``source=None``.
    """

    hub_id: str | None = None
    revision: str | None = None
    filename: str = "model.safetensors"
    sha256: str | None = None
    config: Mapping[str, Any] = field(default_factory=dict)
    inputs: tuple[TensorSpec, ...] = ()
    outputs: tuple[TensorSpec, ...] = ()
    latent_dim: int | None = None
    image_size: tuple[int, ...] | None = None
    scale: int | None = None
    min_size: int | None = None
    size_multiple: int | None = None
    dynamic_spatial: bool = False
    half_precision: bool = True
    min_opset: int = 17
    dataset: str = ""
    paper: str = ""
    paper_url: str = ""
    citation: str = ""
    license: str = "apache-2.0"
    description: str = ""
    # provenance of weights converted from a file (None / () for registry tags)
    source: str | None = None
    source_layout: str | None = None
    source_parts: tuple[str, ...] = ()
    # filled in by the registry
    architecture: str = ""
    tag: str = ""

    @property
    def name(self) -> str:
        return f"{self.architecture}.{self.tag}"

    @property
    def has_weights(self) -> bool:
        return self.hub_id is not None

    def to_dict(self) -> dict[str, Any]:
        d = {}
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            if f.name in ("inputs", "outputs"):
                v = [s.to_dict() for s in v]
            elif isinstance(v, tuple):
                v = list(v)
            elif isinstance(v, Mapping):
                v = dict(v)
            d[f.name] = v
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "PretrainedCfg":
        """The inverse of :meth:`to_dict` (as stored in a save_pretrained ``config.json``). Lists become tuples
        again; keys this version does not know (written by a newer ganzoo) are ignored."""
        known = {f.name for f in dataclasses.fields(cls)}
        kw: dict[str, Any] = {}
        for k, v in d.items():
            if k not in known:
                continue
            if k in ("inputs", "outputs"):
                v = tuple(TensorSpec(name=s["name"], shape=tuple(s["shape"]),
                                     range=tuple(s["range"]) if s.get("range") is not None else None,
                                     dtype=s.get("dtype", "float32"), description=s.get("description", ""))
                          for s in v)
            elif k == "config":  # JSON has no tuples; ganzoo configs use them for every sequence field
                v = {ck: tuple(cv) if isinstance(cv, list) else cv for ck, cv in dict(v or {}).items()}
            elif isinstance(v, list):
                v = tuple(v)
            kw[k] = v
        return cls(**kw)

    @property
    def is_converted(self) -> bool:
        """True for weights converted from a local file (``source`` set) rather than a registry tag's."""
        return self.source is not None


@dataclass
class ModelEntry:
    """A registered model name: its builder, family and weight tags (first one is the default)."""

    name: str
    builder: Callable[..., Any]
    family: str
    cfgs: dict[str, PretrainedCfg]
    module: str

    @property
    def default_tag(self) -> str:
        return next(iter(self.cfgs))


@dataclass(frozen=True)
class ModelInfo:
    """What `model_info` returns: the entry's metadata for one tag, without building the model."""

    name: str
    tag: str
    family: str
    tags: tuple[str, ...]
    pretrained_cfg: PretrainedCfg
    config: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "tag": self.tag, "family": self.family, "tags": list(self.tags),
                "config": self.config, "pretrained_cfg": self.pretrained_cfg.to_dict()}


_ENTRIES: dict[str, ModelEntry] = {}
_LOADED = False


def register_model(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Register a builder. Its weight tags come from ``default_cfgs`` in the builder's module,
    keyed ``"<builder name>.<tag>"``; the first one listed is the default tag.

    A module may set ``_family`` (e.g. ``"srgan"``) to group variants; it defaults to the module's file name.
    """
    name = fn.__name__
    mod = sys.modules[fn.__module__]
    all_cfgs: Mapping[str, PretrainedCfg] = getattr(mod, "default_cfgs", {})
    family = getattr(mod, "_family", fn.__module__.rsplit(".", 1)[-1])
    cfgs: dict[str, PretrainedCfg] = {}
    for key, cfg in all_cfgs.items():
        arch, _, tag = key.partition(".")
        if arch == name:
            if not tag:
                raise ValueError(f"default_cfgs key {key!r} must be '<model>.<tag>'")
            cfgs[tag] = dataclasses.replace(cfg, architecture=name, tag=tag)
    if not cfgs:
        raise ValueError(f"model {name!r} has no entry in {fn.__module__}.default_cfgs")
    if name in _ENTRIES and _ENTRIES[name].module != fn.__module__:
        raise ValueError(f"model {name!r} registered twice ({_ENTRIES[name].module} and {fn.__module__})")
    _ENTRIES[name] = ModelEntry(name=name, builder=fn, family=family, cfgs=cfgs, module=fn.__module__)
    return fn


def _ensure_loaded() -> None:
    global _LOADED
    if not _LOADED:
        _LOADED = True
        importlib.import_module("ganzoo.models")


def split_name(name: str) -> tuple[str, str | None]:
    """``"dcgan.mnist"`` -> ``("dcgan", "mnist")``; ``"dcgan"`` -> ``("dcgan", None)``."""
    if not isinstance(name, str) or not name:
        raise UnknownModelError(f"expected a model name such as 'dcgan' or 'dcgan.mnist', got {name!r}")
    arch, sep, tag = name.partition(".")
    return arch, (tag if sep else None)


def get_entry(name: str) -> ModelEntry:
    """The registry entry of a model name (a tag, if present, is ignored here)."""
    _ensure_loaded()
    arch, _ = split_name(name)
    if arch not in _ENTRIES:
        close = difflib.get_close_matches(arch, list(_ENTRIES), n=3, cutoff=0.5)
        hint = f" Did you mean {', '.join(repr(c) for c in close)}?" if close else ""
        raise UnknownModelError(
            f"unknown model {arch!r}.{hint} Known models: {', '.join(sorted(_ENTRIES))} (ganzoo list shows them all)."
        )
    return _ENTRIES[arch]


def resolve_pretrained_cfg(name: str) -> PretrainedCfg:
    """The PretrainedCfg of ``name`` (``arch`` or ``arch.tag``); the default tag when none is given."""
    entry = get_entry(name)
    _, tag = split_name(name)
    tag = tag or entry.default_tag
    if tag not in entry.cfgs:
        raise UnknownTagError(
            f"model {entry.name!r} has no tag {tag!r}; its tags are: "
            + ", ".join(f"{entry.name}.{t}" for t in entry.cfgs)
        )
    return entry.cfgs[tag]


def list_models(pattern: str | list[str] = "*", pretrained: bool = False, family: str | None = None) -> list[str]:
    """Registered names matching ``pattern`` (fnmatch, or a list of patterns).

    ``pretrained=False`` lists model names (``dcgan``, ``srgan_x4``); ``pretrained=True`` lists ``name.tag``
    for every tag with published weights, the way ``timm.list_models(pretrained=True)`` does.
    """
    _ensure_loaded()
    patterns = [pattern] if isinstance(pattern, str) else list(pattern)
    out: list[str] = []
    for entry in _ENTRIES.values():
        if family is not None and entry.family != family:
            continue
        names = [f"{entry.name}.{t}" for t, c in entry.cfgs.items() if c.has_weights] if pretrained else [entry.name]
        for n in names:
            if any(fnmatch.fnmatchcase(n, p) or fnmatch.fnmatchcase(n.split(".")[0], p) for p in patterns):
                out.append(n)
    return sorted(out)


def list_families() -> list[str]:
    _ensure_loaded()
    return sorted({e.family for e in _ENTRIES.values()})


def _default_config(entry: ModelEntry, cfg: PretrainedCfg) -> dict[str, Any]:
    # Building on the meta device allocates nothing and runs every config check of the builder.
    import torch

    with torch.device("meta"):
        model = entry.builder(**cfg.config)
    return model.config.to_dict()


def model_info(name: str) -> ModelInfo:
    """Metadata of a model name or ``name.tag`` without building it."""
    entry = get_entry(name)
    cfg = resolve_pretrained_cfg(name)
    return ModelInfo(name=entry.name, tag=cfg.tag, family=entry.family, tags=tuple(entry.cfgs),
                     pretrained_cfg=cfg, config=_default_config(entry, cfg))


def create(name: str, **config_overrides: Any):
    """Build ``name`` or ``name.tag`` with random weights.

    ``create("dcgan")`` builds the architecture with its paper defaults. ``create("dcgan.mnist")`` builds it in
    the shape of that tag's weights (the tag's ``config``, e.g. ``nc=1``). ``config_overrides`` apply last.
    Returns a :class:`ganzoo.models.base.GANModel`; its ``pretrained_cfg`` is the named tag, or the default tag
    when that tag does not change the architecture, else None.
    """
    entry = get_entry(name)
    _, tag = split_name(name)
    cfg = resolve_pretrained_cfg(name)
    kwargs = {**(cfg.config if tag else {}), **config_overrides}
    model = entry.builder(**kwargs)
    model.pretrained_cfg = cfg if (tag or not cfg.config) else None
    model.model_name = entry.name
    return model
