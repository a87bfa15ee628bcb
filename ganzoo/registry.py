"""The model registry: architectures, their weight tags, and the metadata that describes each tag.

Naming follows timm: a *model name* (``dcgan``, ``srresnet_x2``) is an architecture in one configuration and
has a builder function; a *tag* names one set of weights for it (``dcgan.mnist``). The first tag listed for
a model is its default, so ``dcgan`` means ``dcgan.<default tag>`` everywhere (create, load, export).

Model files declare metadata as data, next to the builders::

    default_cfgs = {"dcgan.mnist": PretrainedCfg(hub_id="ganzoo/dcgan-mnist", sha256="...", ...)}

    @register_model
    def dcgan(**kwargs) -> DCGAN: ...

This module knows nothing of the hub, export or kernels: it maps names to builders and metadata. Building is
:mod:`ganzoo.factory`'s job (``ganzoo.create``, ``ganzoo.load``).

Listing is fast: :func:`list_models`, :func:`list_families` and :func:`model_info` read a generated index
(``ganzoo/models/index.json``: every tag's metadata, full config, tensor specs and parameter counts) without
importing torch or any model module, as long as the model modules have not been imported. Once they are (any
build or load imports them), the live registry answers, so models registered at run time are listed too. A test
keeps the index equal to the live registry; ``python tools/update_registry_index.py`` rewrites it.
"""
from __future__ import annotations

import dataclasses
import difflib
import fnmatch
import importlib
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

from .errors import UnknownModelError, UnknownTagError
from .specs import ModelSpecs, TensorSpec

__all__ = [
    "TensorSpec",
    "ModelSpecs",
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
    "build_index",
    "INDEX_PATH",
]

#: The generated registry index (see the module doc).
INDEX_PATH = Path(__file__).parent / "models" / "index.json"
INDEX_FORMAT = 1


@dataclass(frozen=True)
class PretrainedCfg:
    """Metadata of one weight tag: where its weights live, where they came from, and what they support.

    ``config`` overrides the builder's defaults for these weights (e.g. ``{"nc": 1}`` for a grey model).
    ``hub_id`` is None when no weights are published for the tag. ``half_precision``: the weights were checked
    to run in fp16/bf16 (their activations stay in range). What the model takes and returns is not stored here:
    it follows from the built config (``model.specs``, :class:`ganzoo.specs.ModelSpecs`).

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
    half_precision: bool = True
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
            if isinstance(v, tuple):
                v = list(v)
            elif isinstance(v, Mapping):
                v = dict(v)
            d[f.name] = v
        return d

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "PretrainedCfg":
        """The inverse of :meth:`to_dict` (as stored in a save_pretrained ``config.json``). Lists become tuples
        again; keys this version does not know (written by another ganzoo version: older ones stored the tensor
        specs here) are ignored."""
        known = {f.name for f in dataclasses.fields(cls)}
        kw: dict[str, Any] = {}
        for k, v in d.items():
            if k not in known:
                continue
            if k == "config":  # JSON has no tuples; ganzoo configs use them for every sequence field
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
    """A registered model name: its builder, family and weight tags, in the order the model file lists them."""

    name: str
    builder: Callable[..., Any]
    family: str
    cfgs: dict[str, PretrainedCfg]
    module: str

    @property
    def default_tag(self) -> str:
        """The first tag with published weights, else the first tag (as timm picks a default)."""
        return next((t for t, c in self.cfgs.items() if c.has_weights), next(iter(self.cfgs)))


@dataclass(frozen=True)
class ModelInfo:
    """What :func:`model_info` returns: one tag's metadata, full config, tensor specs and parameter counts, known
    without building the model."""

    name: str
    tag: str
    family: str
    tags: tuple[str, ...]
    pretrained_cfg: PretrainedCfg
    config: dict[str, Any]
    specs: ModelSpecs
    num_parameters: dict[str, int]

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "tag": self.tag, "family": self.family, "tags": list(self.tags),
                "config": self.config, "pretrained_cfg": self.pretrained_cfg.to_dict(),
                "specs": self.specs.to_dict(), "num_parameters": dict(self.num_parameters)}


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


def _live() -> bool:
    """Answer from the live registry (the model modules are imported) rather than the index."""
    return _LOADED or "ganzoo.models" in sys.modules or not INDEX_PATH.is_file()


_INDEX: dict[str, Any] | None = None


def _index() -> dict[str, Any]:
    global _INDEX
    if _INDEX is None:
        data = json.loads(INDEX_PATH.read_text(encoding="utf-8"))
        if data.get("format") != INDEX_FORMAT:
            raise RuntimeError(f"{INDEX_PATH}: index format {data.get('format')!r}, expected {INDEX_FORMAT}; "
                               f"run python tools/update_registry_index.py")
        _INDEX = data["models"]
    return _INDEX


def _index_info(name: str) -> ModelInfo:
    models = _index()
    arch, tag = split_name(name)
    if arch not in models:
        get_entry(arch)  # the live registry's error message (close matches)
    m = models[arch]
    tags = tuple(m["tags"])
    tag = tag or next((t for t in tags if m["tags"][t]["pretrained_cfg"].get("hub_id") is not None), tags[0])
    if tag not in m["tags"]:
        raise UnknownTagError(f"model {arch!r} has no tag {tag!r}; its tags are: "
                              + ", ".join(f"{arch}.{t}" for t in tags))
    t = m["tags"][tag]
    return ModelInfo(name=arch, tag=tag, family=m["family"], tags=tags,
                     pretrained_cfg=PretrainedCfg.from_dict(t["pretrained_cfg"]), config=dict(t["config"]),
                     specs=ModelSpecs.from_dict(t["specs"]), num_parameters=dict(t["num_parameters"]))


def list_models(pattern: str | list[str] = "*", pretrained: bool = False, family: str | None = None) -> list[str]:
    """Registered names matching ``pattern`` (fnmatch, or a list of patterns).

    ``pretrained=False`` lists model names (``dcgan``, ``srresnet_x2``); ``pretrained=True`` lists ``name.tag``
    for every tag with published weights, the way ``timm.list_models(pretrained=True)`` does.
    """
    patterns = [pattern] if isinstance(pattern, str) else list(pattern)
    rows: list[tuple[str, str, list[tuple[str, bool]]]] = []
    if _live():
        _ensure_loaded()
        rows = [(e.name, e.family, [(t, c.has_weights) for t, c in e.cfgs.items()]) for e in _ENTRIES.values()]
    else:
        rows = [(n, m["family"], [(t, v["pretrained_cfg"].get("hub_id") is not None) for t, v in m["tags"].items()])
                for n, m in _index().items()]
    out: list[str] = []
    for name, fam, tags in rows:
        if family is not None and fam != family:
            continue
        names = [f"{name}.{t}" for t, has in tags if has] if pretrained else [name]
        for n in names:
            if any(fnmatch.fnmatchcase(n, p) or fnmatch.fnmatchcase(n.split(".")[0], p) for p in patterns):
                out.append(n)
    return sorted(out)


def list_families() -> list[str]:
    if _live():
        _ensure_loaded()
        return sorted({e.family for e in _ENTRIES.values()})
    return sorted({m["family"] for m in _index().values()})


def _live_info(name: str) -> ModelInfo:
    # Building on the meta device allocates nothing and runs every config check of the builder; the parameter
    # counts are the meta tensors' sizes.
    import torch

    entry = get_entry(name)
    cfg = resolve_pretrained_cfg(name)
    with torch.device("meta"):
        model = entry.builder(**cfg.config)
    return ModelInfo(name=entry.name, tag=cfg.tag, family=entry.family, tags=tuple(entry.cfgs), pretrained_cfg=cfg,
                     config=model.config.to_dict(), specs=model.specs, num_parameters=model.num_parameters())


def model_info(name: str) -> ModelInfo:
    """Metadata of a model name (its default tag) or ``name.tag``, without building it: the tag's
    :class:`PretrainedCfg`, the full config, the tensor specs and the generator/discriminator parameter counts."""
    if _live():
        return _live_info(name)
    return _index_info(name)


def build_index() -> dict[str, Any]:
    """The registry index as :data:`INDEX_PATH` stores it, computed from the live registry (imports every model
    module and builds each tag on the meta device)."""
    _ensure_loaded()
    models: dict[str, Any] = {}
    for name in sorted(_ENTRIES):
        e = _ENTRIES[name]
        tags = {}
        for t in e.cfgs:
            info = _live_info(f"{name}.{t}")
            tags[t] = {"pretrained_cfg": info.pretrained_cfg.to_dict(), "config": info.config,
                       "specs": info.specs.to_dict(), "num_parameters": info.num_parameters}
        models[name] = {"family": e.family, "module": e.module, "tags": tags}
    return {"format": INDEX_FORMAT, "models": models}
