"""Converters from third-party checkpoint layouts to ganzoo state dicts, and detection of what a checkpoint is.

A converter is registered per (family, layout) with a ``detect`` predicate on the checkpoint's key names, so a
checkpoint is recognised by its keys, never by its file name. One file per family lives in this package and
is discovered automatically. Converters return ganzoo keys with the ``generator.`` or ``discriminator.``
prefix; a checkpoint may hold either network or both.

Each converter also has an ``infer`` step: ``infer(state_dict) -> (model_name, config_overrides)`` reads the
hyper-parameters (scale, widths, block counts, channels, PReLU kind, biases ...) from the shapes of the same
state dict ``detect`` and ``convert`` receive, and adds the layout's I/O convention (value ranges, clamp or tanh),
so the model built from them is the one the weights were trained in. ``match(key) -> bool`` says whether one
key belongs to the layout's vocabulary; it ranks the closest layouts when nothing fits.
:func:`detect_checkpoint` puts it together (what ``ganzoo.load("file")`` and ``ganzoo convert`` use)::

    >>> det = detect_checkpoint(load_weights_file("SRGAN_x2.pth.tar", allow_pickle=True))
    >>> det.layout, det.model_name, det.config["output_act"]
    ('srgan/lornatang', 'srgan_x2', 'clamp')

The lower-level calls remain::

    >>> sd = convert_checkpoint("SRGAN_x4-ImageNet.pth.tar", family="srgan", allow_pickle=True)
    >>> load_converted(model, sd)

Weights already in ganzoo's layout (``generator.*`` / ``discriminator.*``) are detected too: the model name and
config come from the file's safetensors metadata when ``ganzoo.save_pretrained`` wrote it (``ganzoo_model`` /
``ganzoo_config``), else from shapes through the family's ganzoo-layout infer (:func:`register_ganzoo_infer`);
config fields that shapes cannot show (an SR generator's output convention) are then reported in
``Detection.undetermined`` and the caller must supply them.
"""
from __future__ import annotations

import importlib
import json
import logging
import os
import pkgutil
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

import torch
from torch import nn

from ganzoo.errors import UnknownCheckpointLayoutError

logger = logging.getLogger(__name__)

__all__ = [
    "Converter",
    "Detection",
    "register_converter",
    "register_ganzoo_infer",
    "list_converters",
    "unwrap_state_dict",
    "find_state_dicts",
    "strip_prefixes",
    "is_ganzoo_layout",
    "convert_state_dict",
    "convert_checkpoint",
    "detect_checkpoint",
    "rank_layouts",
    "load_converted",
]

StateDict = dict[str, torch.Tensor]
Inferred = tuple[str, dict[str, Any]]

# Keys under which training scripts commonly nest the weights, in the order they are tried.
NESTING_KEYS = ("state_dict", "model_state_dict", "model", "params_ema", "params", "net", "module")
# Keys that hold one network of a GAN checkpoint that stores both (pytorch/examples, DCGAN tutorials, ...).
GENERATOR_KEYS = ("netG_state_dict", "netG", "G_state_dict", "state_dict_G", "generator_state_dict", "generator",
                  "G", "gen", "model_G")
DISCRIMINATOR_KEYS = ("netD_state_dict", "netD", "D_state_dict", "state_dict_D", "discriminator_state_dict",
                      "discriminator", "D", "disc", "model_D")
STRIP_PREFIXES = ("_orig_mod.", "module.")
GANZOO_PARTS = ("generator", "discriminator")
GANZOO_LAYOUT = "ganzoo"


@dataclass(frozen=True)
class Converter:
    """One third-party layout of one family.

    ``detect(keys)``: does this key set belong to the layout. ``convert(sd)``: its tensors under ganzoo names.
    ``infer(sd)``: ``(registered model name, config overrides)`` read from ``sd``'s keys and shapes, including the
    layout's I/O convention; None for converters registered without one (the family's default model is built).
    ``match(key)``: whether one key is part of the layout's vocabulary (for ranking near misses); None if unknown.
    """

    family: str
    layout: str
    detect: Callable[[set[str]], bool]
    convert: Callable[[StateDict], StateDict]
    description: str = ""
    infer: Callable[[StateDict], Inferred] | None = None
    match: Callable[[str], bool] | None = None

    @property
    def label(self) -> str:
        return f"{self.family}/{self.layout}"


_CONVERTERS: list[Converter] = []
_GANZOO_INFER: dict[str, tuple[Callable[[StateDict], Inferred | None], tuple[str, ...]]] = {}
_DISCOVERED = False


def register_converter(family: str, layout: str, detect: Callable[[set[str]], bool], description: str = "", *,
                       infer: Callable[[StateDict], Inferred] | None = None,
                       match: Callable[[str], bool] | None = None):
    """Decorator: ``convert(state_dict) -> ganzoo state dict`` for checkpoints whose key set ``detect`` accepts.

    ``infer(state_dict) -> (model_name, config_overrides)`` and ``match(key) -> bool`` are optional (see
    :class:`Converter`).
    """

    def deco(fn: Callable[[StateDict], StateDict]):
        conv = Converter(family, layout, detect, fn, description or (fn.__doc__ or "").strip(), infer, match)
        _CONVERTERS.append(conv)
        return fn

    return deco


def register_ganzoo_infer(family: str, *, undetermined: Sequence[str] = ()):
    """Decorator: ``infer(ganzoo_state_dict) -> (model_name, config_overrides)`` or None when the keys are not this
    family's. Used for weights already in ganzoo's layout but without a config. ``undetermined``: config fields the
    weights cannot show (the caller must give them, e.g. an SR generator's output convention)."""

    def deco(fn: Callable[[StateDict], Inferred | None]):
        _GANZOO_INFER[family] = (fn, tuple(undetermined))
        return fn

    return deco


def _discover() -> None:
    global _DISCOVERED
    if not _DISCOVERED:
        _DISCOVERED = True
        for m in pkgutil.iter_modules(__path__):
            importlib.import_module(f"{__name__}.{m.name}")


def list_converters(family: str | None = None) -> list[Converter]:
    _discover()
    return [c for c in _CONVERTERS if family is None or c.family == family]


# ---------------------------------------------------------------------------------------------- finding tensors


def unwrap_state_dict(obj: Any) -> StateDict:
    """Find the flat ``{name: tensor}`` inside a loaded checkpoint (``{"state_dict": ...}``, ``{"model": ...}``,
    ...). Raises UnknownCheckpointLayoutError when none is found."""
    seen = 0
    while isinstance(obj, Mapping) and seen < 4:
        if obj and all(isinstance(v, torch.Tensor) for v in obj.values()):
            return {str(k): v for k, v in obj.items()}
        nxt = next((obj[k] for k in NESTING_KEYS if k in obj and isinstance(obj[k], Mapping)), None)
        if nxt is None:
            break
        obj, seen = nxt, seen + 1
    if isinstance(obj, Mapping):
        # Mixed dicts ({"epoch": 3, "state_dict": {...}} handled above); here keep only tensors if any.
        tensors = {str(k): v for k, v in obj.items() if isinstance(v, torch.Tensor)}
        if tensors:
            return tensors
        keys = sorted(map(str, obj))[:10]
        raise UnknownCheckpointLayoutError(
            f"no tensors found in the checkpoint; top-level keys are {keys}; expected a state dict or one nested "
            f"under one of {list(NESTING_KEYS)}"
        )
    raise UnknownCheckpointLayoutError(f"expected a dict of tensors, got {type(obj).__name__}")


def find_state_dicts(obj: Any, _depth: int = 0) -> list[tuple[str | None, StateDict]]:
    """Every flat ``{name: tensor}`` in a loaded checkpoint, each with the network it was stored as
    (``"generator"`` / ``"discriminator"``, or None when the checkpoint does not say).

    Handles a bare state dict; one nested under :data:`NESTING_KEYS` (``{"state_dict": ...}``, ``{"model": ...}``);
    GAN checkpoints holding both networks under :data:`GENERATOR_KEYS` / :data:`DISCRIMINATOR_KEYS`
    (``{"netG_state_dict": ..., "netD_state_dict": ..., "epoch": 5}``); and lists of state dicts
    (``{"model_state_dict": [G, D]}``). Optimizer states and other entries are ignored.
    """
    if _depth > 6:
        raise UnknownCheckpointLayoutError("checkpoint nested more than 6 levels deep; expected a state dict")
    if isinstance(obj, (list, tuple)) and obj and all(isinstance(x, Mapping) for x in obj):
        return [x for item in obj for x in find_state_dicts(item, _depth + 1)]
    if not isinstance(obj, Mapping):
        raise UnknownCheckpointLayoutError(f"expected a dict of tensors, got {type(obj).__name__}")
    if obj and all(isinstance(v, torch.Tensor) for v in obj.values()):
        return [(None, {str(k): v for k, v in obj.items()})]
    found: list[tuple[str | None, StateDict]] = []
    for part, names in (("generator", GENERATOR_KEYS), ("discriminator", DISCRIMINATOR_KEYS)):
        name = next((n for n in names if isinstance(obj.get(n), Mapping) and obj[n]), None)
        if name is not None:
            found += [(hint or part, sd) for hint, sd in find_state_dicts(obj[name], _depth + 1)]
    if found:
        return found
    for n in NESTING_KEYS:
        v = obj.get(n)
        if isinstance(v, Mapping) and v:
            return find_state_dicts(v, _depth + 1)
        if isinstance(v, (list, tuple)) and v and all(isinstance(x, Mapping) for x in v):
            return find_state_dicts(v, _depth + 1)
    tensors = {str(k): v for k, v in obj.items() if isinstance(v, torch.Tensor)}
    if tensors:
        return [(None, tensors)]
    keys = sorted(map(str, obj))[:10]
    raise UnknownCheckpointLayoutError(
        f"no tensors found in the checkpoint; top-level keys are {keys}; expected a state dict, one nested under "
        f"one of {list(NESTING_KEYS)}, or a generator/discriminator pair under keys such as "
        f"{list(GENERATOR_KEYS[:2])} / {list(DISCRIMINATOR_KEYS[:2])}"
    )


def strip_prefixes(sd: StateDict, prefixes: tuple[str, ...] = STRIP_PREFIXES) -> StateDict:
    """Remove wrapper prefixes (``_orig_mod.`` from torch.compile, ``module.`` from DataParallel), repeatedly."""
    out = {}
    for k, v in sd.items():
        changed = True
        while changed:
            changed = False
            for p in prefixes:
                if k.startswith(p):
                    k, changed = k[len(p):], True
        out[k] = v
    return out


def is_ganzoo_layout(keys: set[str] | Mapping[str, Any]) -> bool:
    """Every key under ``generator.`` or ``discriminator.``: ganzoo's own layout."""
    return bool(keys) and all(k.startswith(("generator.", "discriminator.")) for k in keys)


# ------------------------------------------------------------------------------------------- low-level converting


def convert_state_dict(sd: StateDict, family: str | None = None, layout: str | None = None) -> tuple[StateDict, str]:
    """Convert a flat third-party state dict; returns ``(ganzoo_state_dict, layout_name)``.

    Keys already in ganzoo layout (``generator.*`` / ``discriminator.*``) pass through unchanged.
    """
    _discover()
    sd = strip_prefixes(sd)
    keys = set(sd)
    if is_ganzoo_layout(keys):
        return dict(sd), GANZOO_LAYOUT
    candidates = [c for c in list_converters(family) if layout is None or c.layout == layout]
    if layout is not None and not candidates:
        raise UnknownCheckpointLayoutError(
            f"no converter named {layout!r}" + (f" for family {family!r}" if family else "")
            + f"; known: {[c.label for c in list_converters(family)]}"
        )
    for c in candidates:
        if c.detect(keys):
            return c.convert(sd), c.label
    raise UnknownCheckpointLayoutError(_unknown_message(keys, candidates, family, []))


def convert_checkpoint(path_or_obj: str | os.PathLike | Mapping, family: str | None = None, layout: str | None = None,
                       *, allow_pickle: bool = False) -> StateDict:
    """Load (safetensors, Keras .h5, or a pickle when ``allow_pickle=True``), unwrap, strip prefixes and convert."""
    obj: Any = path_or_obj
    if isinstance(path_or_obj, (str, os.PathLike)):
        from ..io import load_weights_file

        obj = load_weights_file(path_or_obj, allow_pickle=allow_pickle)
    sd, _ = convert_state_dict(unwrap_state_dict(obj), family, layout)
    return sd


def load_converted(model: nn.Module, sd: StateDict) -> nn.Module:
    """Load a converted state dict that covers the generator, the discriminator, or both
    (:func:`ganzoo.hub.io.load_parts`): each part present must match completely (names and shapes); nothing is
    copied otherwise."""
    from ..io import load_parts

    load_parts(model, sd)
    return model


# ----------------------------------------------------------------------------------------------------- detection


@dataclass(frozen=True)
class Detection:
    """What :func:`detect_checkpoint` found.

    ``layout``: ``"family/layout"`` of the converter(s) used (``"ganzoo"`` for ganzoo-layout weights, parts of
    different layouts joined by ``+``). ``model_name``: the registered model to build, ``config``: its config
    overrides (hyper-parameters and I/O convention), ``state_dict``: the weights under ganzoo names, ready for
    :func:`load_converted` into ``ganzoo.factory.build_model(model_name, None, config)`` (the architecture with
    these fields over its paper defaults). ``parts``: the networks present.
    ``undetermined``: config fields the weights do not determine and that were left at the builder's defaults
    (only for ganzoo-layout weights without metadata); ``config_source``: ``"metadata"`` (the file's safetensors
    metadata) or ``"shapes"``.
    """

    family: str
    layout: str
    model_name: str
    config: dict[str, Any]
    state_dict: StateDict
    parts: tuple[str, ...]
    undetermined: tuple[str, ...] = ()
    config_source: str = "shapes"


@dataclass
class _Part:
    family: str
    layout: str
    model_name: str
    config: dict[str, Any]
    state_dict: StateDict
    undetermined: tuple[str, ...] = ()
    config_source: str = "shapes"

    @property
    def parts(self) -> tuple[str, ...]:
        return tuple(sorted({k.split(".", 1)[0] for k in self.state_dict}))


def _family_of(model_name: str) -> str:
    from ganzoo.registry import get_entry

    return get_entry(model_name).family


def _default_model(family: str) -> str:
    from ganzoo.registry import list_models

    names = list_models(family=family)
    if not names:
        raise UnknownCheckpointLayoutError(f"no registered model of family {family!r}")
    return family if family in names else names[0]


def _fit(model_name: str, config: Mapping[str, Any], sd: StateDict) -> tuple[StateDict, str | None]:
    """Check ``sd`` against the architecture ``model_name`` with ``config`` over its paper defaults (no tag's
    config), built on the meta device (no memory, no compute), for the networks ``sd`` holds. Returns ``(sd, None)``
    with missing BatchNorm ``num_batches_tracked`` counters added (old checkpoints lack them), or ``(sd, reason)``
    when the names or shapes do not fit."""
    from ganzoo.factory import build_model

    try:
        with torch.device("meta"):
            model = build_model(model_name, None, config)
    except (ValueError, TypeError) as e:
        return sd, f"{model_name} with config {dict(config)} cannot be built: {e}"
    ref = model.state_dict()
    parts = {k.split(".", 1)[0] for k in sd}
    expected = {k: v for k, v in ref.items() if k.split(".", 1)[0] in parts}
    out = dict(sd)
    for k in expected:
        stem = k[: -len("num_batches_tracked")]
        if k not in out and k.endswith(".num_batches_tracked") and stem + "running_mean" in out:
            out[k] = torch.tensor(0, dtype=torch.long)
    missing = sorted(set(expected) - set(out))
    unexpected = sorted(set(out) - set(expected))
    wrong = [f"{k} {tuple(out[k].shape)} (model: {tuple(expected[k].shape)})"
             for k in sorted(set(out) & set(expected)) if tuple(out[k].shape) != tuple(expected[k].shape)]
    if not (missing or unexpected or wrong):
        return out, None
    bits = []
    for what, items in (("missing", missing), ("unexpected", unexpected), ("wrong shape", wrong)):
        if items:
            bits.append(f"{what} {len(items)}: {', '.join(items[:4])}{' ...' if len(items) > 4 else ''}")
    return out, f"the weights do not fit {model_name} with config {dict(config)}: " + "; ".join(bits)


def _ganzoo_part(sd: StateDict, family: str | None, metadata: Mapping[str, str] | None) -> _Part:
    """Ganzoo-layout weights: name and config from save_pretrained's safetensors metadata, else from shapes."""
    _discover()
    md = dict(metadata or {})
    if md.get("ganzoo_model"):
        name = md["ganzoo_model"]
        fam = _family_of(name)  # UnknownModelError for a model this ganzoo does not know
        if family is not None and fam != family:
            raise UnknownCheckpointLayoutError(
                f"these are ganzoo {name} weights (family {fam!r}, from the file's metadata), not family "
                f"{family!r}: load them with family={fam!r} or without family=")
        if md.get("ganzoo_config"):
            try:
                cfg = json.loads(md["ganzoo_config"])
            except json.JSONDecodeError as e:
                raise UnknownCheckpointLayoutError(f"the file's ganzoo_config metadata is not JSON: {e}") from e
            out, why = _fit(name, cfg, sd)
            if why:
                raise UnknownCheckpointLayoutError(f"ganzoo-layout weights whose metadata says {name}: {why}")
            return _Part(fam, GANZOO_LAYOUT, name, dict(cfg), out, (), "metadata")
        family = fam
    failures: list[str] = []
    for fam, (fn, undetermined) in _GANZOO_INFER.items():
        if family is not None and fam != family:
            continue
        try:
            got = fn(sd)
        except (KeyError, IndexError, ValueError, RuntimeError) as e:
            failures.append(f"{fam}: {e}")
            continue
        if got is None:
            continue
        name, cfg = got
        if md.get("ganzoo_model"):  # older save_pretrained files name the model but carry no config
            name = md["ganzoo_model"]
        out, why = _fit(name, cfg, sd)
        if why:
            failures.append(f"{fam}: {why}")
            continue
        return _Part(fam, GANZOO_LAYOUT, name, dict(cfg), out, tuple(undetermined), "shapes")
    if family is not None and not md.get("ganzoo_model"):
        for fam, (fn, _) in _GANZOO_INFER.items():
            if fam == family:
                continue
            try:
                got = fn(sd)
            except (KeyError, IndexError, ValueError, RuntimeError):
                continue
            if got is not None and _fit(got[0], got[1], sd)[1] is None:
                raise UnknownCheckpointLayoutError(
                    f"wrong family: these ganzoo-layout weights are a {fam!r} model ({got[0]}), not {family!r}. "
                    f"Load them with family={fam!r}, or without family= to detect it")
    where = f" of family {family!r}" if family else ""
    raise UnknownCheckpointLayoutError(
        f"ganzoo-layout weights (generator.* / discriminator.* keys){where} whose model could not be inferred from "
        f"their shapes" + (f" ({'; '.join(failures)})" if failures else "")
        + f" (shapes are read for the families {sorted(_GANZOO_INFER)}). Load the folder ganzoo.save_pretrained "
        f"wrote (with its config.json), or name the model: ganzoo.load(NAME, pretrained=PATH)")


def _detect_part(sd: StateDict, hint: str | None, family: str | None, layout: str | None,
                 metadata: Mapping[str, str] | None) -> _Part:
    sd = strip_prefixes(sd)
    keys = set(sd)
    if is_ganzoo_layout(keys) and layout in (None, GANZOO_LAYOUT):
        return _ganzoo_part(sd, family, metadata)
    if layout == GANZOO_LAYOUT:
        raise UnknownCheckpointLayoutError(
            f"layout='ganzoo' asked for, but not every key starts with generator. / discriminator. "
            f"(first keys {sorted(keys)[:6]})")
    everything = list_converters()
    if layout is not None and not any(c.layout == layout for c in everything):
        raise UnknownCheckpointLayoutError(
            f"no converter named {layout!r}; known layouts: {sorted({c.layout for c in everything})} "
            f"({', '.join(c.label for c in everything)})")
    candidates = [c for c in everything if layout is None or c.layout == layout]
    in_family = [c for c in candidates if family is None or c.family == family]
    if family is not None and not in_family:
        raise UnknownCheckpointLayoutError(
            f"no converter for family {family!r}" + (f" and layout {layout!r}" if layout else "")
            + f"; known: {', '.join(c.label for c in everything)}")
    failures: list[tuple[str, str]] = []
    for c in in_family:
        if not c.detect(keys):
            continue
        try:
            converted = c.convert(sd)
            if c.infer is not None:
                name, cfg = c.infer(sd)
            else:
                name, cfg = _default_model(c.family), {}
                logger.warning("converter %s has no infer step: building %s with its default config", c.label, name)
        except (KeyError, IndexError, ValueError, RuntimeError) as e:  # UnknownCheckpointLayoutError included
            failures.append((c.label, str(e) if isinstance(e, UnknownCheckpointLayoutError) else
                             f"its conversion failed ({type(e).__name__}: {e})"))
            continue
        if _family_of(name) != c.family:
            raise UnknownCheckpointLayoutError(f"converter {c.label} inferred {name!r}, a model of another family")
        converted, why = _fit(name, cfg, converted)
        if why:
            failures.append((c.label, why))
            continue
        return _Part(c.family, c.label, name, dict(cfg), converted)
    if hint in GANZOO_PARTS and layout in (None, GANZOO_LAYOUT) and not failures:
        # A ganzoo network's own state dict stored under "generator" / "netG" (model.generator.state_dict()).
        try:
            return _ganzoo_part({f"{hint}.{k}": v for k, v in sd.items()}, family, None)
        except UnknownCheckpointLayoutError:
            pass
    if layout is not None:
        other = [c for c in everything if c.layout != layout and c.detect(keys)
                 and (family is None or c.family == family)]
        if other:
            c = other[0]
            raise UnknownCheckpointLayoutError(
                f"wrong layout: this checkpoint is in layout {c.label} ({c.description}), not {layout!r}. Load it "
                f"with layout={c.layout!r}, or without layout= to detect it")
    if family is not None:
        other = [c for c in candidates if c.family != family and c.detect(keys)]
        if other:
            c = other[0]
            raise UnknownCheckpointLayoutError(
                f"wrong family: this checkpoint is a {c.family!r} checkpoint (layout {c.label}: {c.description}), "
                f"not {family!r}. Load it with family={c.family!r}, or without family= to detect it")
    raise UnknownCheckpointLayoutError(_unknown_message(keys, in_family, family, failures, layout))


def rank_layouts(keys: set[str] | Mapping[str, Any], family: str | None = None,
                 layout: str | None = None) -> list[tuple[str, int, int, list[str]]]:
    """``(layout label, matched keys, total keys, unmatched keys)`` for every known layout, best first: how much
    of this key set each layout's vocabulary (``Converter.match``) recognises. ``"ganzoo"`` is ranked too."""
    _discover()
    keys = set(keys)
    rows: list[tuple[str, int, int, list[str]]] = []
    for c in list_converters(family):
        if layout is not None and c.layout != layout:
            continue
        if c.match is None:
            hit = keys if c.detect(keys) else set()
        else:
            hit = {k for k in keys if c.match(k)}
        rows.append((c.label, len(hit), len(keys), sorted(keys - hit)))
    if layout in (None, GANZOO_LAYOUT):
        hit = {k for k in keys if k.startswith(("generator.", "discriminator."))}
        rows.append((GANZOO_LAYOUT, len(hit), len(keys), sorted(keys - hit)))
    rows.sort(key=lambda r: (-r[1], r[0]))
    return rows


def _unknown_message(keys: set[str], candidates: list[Converter], family: str | None,
                     failures: list[tuple[str, str]], layout: str | None = None) -> str:
    head = "unrecognised checkpoint layout" + (f" for family {family!r}" if family else "") \
        + (f" and layout {layout!r}" if layout else "")
    msg = [f"{head}: none of the known layouts fits its {len(keys)} tensors."]
    for label, why in failures:
        msg.append(f"{label} recognised the key names, but {why}.")
    labels = {c.label for c in candidates} | ({GANZOO_LAYOUT} if layout is None else set())
    ranked = [r for r in rank_layouts(keys, family, layout) if r[0] in labels]
    parts = []
    for label, hit, total, unmatched in [r for r in ranked if r[1] > 0][:3]:
        share = f"{hit} of {total} keys ({100 * hit / max(total, 1):.0f}%)"
        miss = f", unmatched: {', '.join(unmatched[:6])}{' ...' if len(unmatched) > 6 else ''}" if unmatched else ""
        parts.append(f"{label}: {share}{miss}")
    msg.append(("Closest layouts: " + " | ".join(parts) + ".") if parts else
               "No known layout recognises any of its key names.")
    msg.append(f"First keys: {sorted(keys)[:8]}. Known layouts: {sorted(c.label for c in candidates)}.")
    return " ".join(msg)


def _merge(parts: list[_Part]) -> Detection:
    fams = sorted({p.family for p in parts})
    if len(fams) > 1:
        raise UnknownCheckpointLayoutError(
            "the checkpoint's state dicts belong to different families: "
            + ", ".join(f"{p.layout} ({'+'.join(p.parts)})" for p in parts))
    # The generator determines the architecture variant (scale, size, multi-image); it goes first.
    parts = sorted(parts, key=lambda p: "generator" not in p.parts)
    seen: dict[str, str] = {}
    state: StateDict = {}
    config: dict[str, Any] = {}
    for p in parts:
        for net in p.parts:
            if net in seen:
                raise UnknownCheckpointLayoutError(f"the checkpoint holds two {net}s ({seen[net]} and {p.layout})")
            seen[net] = p.layout
        for k, v in p.config.items():
            if k in config and _norm(config[k]) != _norm(v):
                raise UnknownCheckpointLayoutError(
                    f"the checkpoint's networks disagree on {k}: {config[k]!r} ({parts[0].layout}, "
                    f"{'+'.join(parts[0].parts)}) vs {v!r} ({p.layout}, {'+'.join(p.parts)})")
            config.setdefault(k, v)
        state.update(p.state_dict)
    name = parts[0].model_name
    if len(parts) > 1:
        state, why = _fit(name, config, state)
        if why:
            raise UnknownCheckpointLayoutError(f"the checkpoint's networks do not fit one model: {why}")
    layouts = []
    for p in parts:
        if p.layout not in layouts:
            layouts.append(p.layout)
    undetermined = tuple(sorted({f for p in parts for f in p.undetermined}))
    source = "metadata" if all(p.config_source == "metadata" for p in parts) else "shapes"
    return Detection(fams[0], "+".join(layouts), name, config, state,
                     tuple(sorted({n for p in parts for n in p.parts})), undetermined, source)


def _norm(v: Any) -> Any:
    if isinstance(v, (list, tuple)):
        return tuple(_norm(x) for x in v)
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return v
    return float(v)


def detect_checkpoint(obj: Any, *, family: str | None = None, layout: str | None = None,
                      metadata: Mapping[str, str] | None = None) -> Detection:
    """Detect family, layout and hyper-parameters of a loaded checkpoint (what :func:`ganzoo.hub.io.
    load_weights_file` returns: a state dict, a nested training checkpoint, a G/D pair, Keras tensors ...).

    ``family`` / ``layout`` restrict the search (a checkpoint of another family is then refused, naming the family
    it is). ``metadata``: the file's safetensors metadata, for ganzoo-layout weights saved by save_pretrained.
    Raises UnknownCheckpointLayoutError naming the closest layouts and the keys they did not match.
    """
    _discover()
    found = find_state_dicts(obj)
    det: Detection | None = None
    if len(found) > 1:
        # G and D stored apart ({"G": ..., "D": ...}, [G, D]) whose key names do not collide convert best as one
        # dict: some converters read one network's hyper-parameters from the other (DR-GAN's pose count).
        stripped = [strip_prefixes(sd) for _, sd in found]
        union: StateDict = {}
        for sd in stripped:
            union.update(sd)
        if len(union) == sum(len(sd) for sd in stripped):
            try:
                det = _merge([_detect_part(union, None, family, layout, None)])
            except UnknownCheckpointLayoutError:
                det = None
    if det is None:
        parts = [_detect_part(sd, hint, family, layout, metadata if len(found) == 1 else None) for hint, sd in found]
        det = _merge(parts)
    logger.info("detected %s: %s %s (networks: %s)", det.layout, det.model_name, det.config, ", ".join(det.parts))
    return det
