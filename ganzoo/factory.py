"""The one place where registry, hub and models meet: the builder, and create, load, from_pretrained,
save_pretrained, download on top of it.

Every model ganzoo hands out is made by :func:`build_model` (as timm's ``build_model_with_cfg``): it builds the
registered architecture from a config, attaches the tag's :class:`~ganzoo.registry.PretrainedCfg` once, loads and
checks the weights if there are any, and moves/casts the model. The ways in only decide *what* to build:

- :func:`create` (random weights): the named tag, or the model's default tag, plus config overrides;
- :func:`load` / :func:`from_pretrained` / :func:`download` (published or saved weights): the tag's or the
  folder's config.json, after its integrity is checked;
- :func:`load_file` (one checkpoint file, any layout): what the converters detect from keys and shapes;
- ``ganzoo.export`` resolves names through :func:`create` and :func:`load`.
"""
from __future__ import annotations

import dataclasses
import json
import logging
import os
import re
from pathlib import Path
from typing import Any, Mapping

import torch

from ._version import __version__
from .errors import (GanzooError, HubError, IntegrityError, InvalidConfigError, InvalidModelSpecError,
                     NoPretrainedWeightsError, SaveDirectoryError, StateDictMismatchError, UnknownModelError,
                     UnsupportedDtypeError)
from .models.base import GANModel
from .registry import PretrainedCfg, get_entry, resolve_pretrained_cfg, split_name
from .utils import FLOAT_DTYPES, to_torch_dtype

logger = logging.getLogger(__name__)

__all__ = ["build_model", "create", "load", "load_file", "from_pretrained", "save_pretrained", "download",
           "LOCAL_DIR_PREFIX"]


#: ``local-dir:PATH`` names a local folder or weights file explicitly (as timm does), whatever PATH looks like.
LOCAL_DIR_PREFIX = "local-dir:"
_HUB_PREFIX = "hf-hub:"
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")
#: The dtypes save_pretrained stores (floating tensors only; integer buffers keep their own dtype).
SAVE_DTYPES = FLOAT_DTYPES

PathLike = str | os.PathLike

# Names ending like a weights file are paths, even when the file does not exist (a clear FileNotFoundError then,
# not "unknown model"). Kept in step with ganzoo.hub.io.WEIGHTS_SUFFIXES, which is not imported here to keep
# `import ganzoo` light.
_WEIGHTS_SUFFIXES = (".safetensors", ".h5", ".hdf5", ".pth", ".pt", ".pth.tar", ".tar", ".ckpt", ".bin", ".pkl")
#: The tag of a model whose weights were converted from a file by ganzoo.load(PATH) / ganzoo convert.
CONVERTED_TAG = "converted"
_NETS = ("generator", "discriminator")


def _check_text(x: Any, what: str) -> str:
    """``x`` as a non-empty str without control characters (TypeError / InvalidModelSpecError otherwise)."""
    if isinstance(x, os.PathLike):
        x = os.fspath(x)
    if not isinstance(x, str):
        raise TypeError(f"{what} must be a str or os.PathLike, got {type(x).__name__} {x!r}")
    if not x.strip():
        raise InvalidModelSpecError(f"{what} is empty: expected a registry name ('dcgan.mnist'), "
                                    f"'{_HUB_PREFIX}org/name[@rev]' or a path, got {x!r}")
    bad = _CONTROL_RE.search(x)
    if bad:
        raise InvalidModelSpecError(f"{what} {x!r} contains the control character {bad.group()!r} at position "
                                    f"{bad.start()} (a stray newline?); remove it")
    return x


def _is_path_like(x: Any) -> bool:
    """Whether ``load(x)`` treats ``x`` as a path rather than a registry name.

    Paths are explicit: an os.PathLike, ``local-dir:PATH``, an absolute path, ``./`` / ``../`` / ``~``, or a string
    that no registry name can be (one with a path separator, or a weights-file name such as ``netG.pth`` that is
    not registered). A bare name is a registry name even when a file or folder of that name exists here, so
    ``./dcgan`` never hijacks ``dcgan``.
    """
    if isinstance(x, os.PathLike):
        return True
    if not isinstance(x, str) or not x or x.startswith(_HUB_PREFIX):
        return False
    if x.startswith(LOCAL_DIR_PREFIX) or os.path.isabs(x) or x.startswith("~") or x in (".", ".."):
        return True
    seps = tuple(s for s in (os.sep, os.altsep) if s)
    if x.startswith(tuple(f"{d}{s}" for d in (".", "..") for s in seps)) or any(s in x for s in seps):
        return True
    if x.lower().endswith(_WEIGHTS_SUFFIXES):
        try:
            resolve_pretrained_cfg(x)
        except GanzooError:
            return True
    return False


def _parse_source(x: Any, what: str = "model name or path") -> tuple[str, str]:
    """``("hub", "hf-hub:...")``, ``("path", PATH)`` (``local-dir:`` removed) or ``("name", NAME)``."""
    pathlike = isinstance(x, os.PathLike)
    s = _check_text(x, what)
    if pathlike:
        return "path", s
    if s.startswith(_HUB_PREFIX):
        return "hub", s
    if s.startswith(LOCAL_DIR_PREFIX):
        return "path", _check_text(s[len(LOCAL_DIR_PREFIX):], f"path after {LOCAL_DIR_PREFIX!r}")
    return ("path", s) if _is_path_like(s) else ("name", s)


def _check_revision(revision: Any) -> str | None:
    if revision is None:
        return None
    from .hub.validate import validate_revision

    return validate_revision(revision)


def _registry_cfg(name: str) -> PretrainedCfg:
    """resolve_pretrained_cfg, with a hint when a file or folder of that bare name exists here."""
    try:
        return resolve_pretrained_cfg(name)
    except UnknownModelError as e:
        if os.path.lexists(name):
            raise type(e)(f"{str(e).rstrip('.')}. A file or folder named {name!r} exists in the current directory, but a bare name "
                          f"is a registry name: pass './{name}' or '{LOCAL_DIR_PREFIX}{name}' to load it") from e
        raise


def build_model(
    name: str,
    pretrained_cfg: PretrainedCfg | None,
    config: Mapping[str, Any] | None = None,
    *,
    weights: Mapping[str, torch.Tensor] | None = None,
    parts: tuple[str, ...] | None = None,
    what: str = "weights",
    device: torch.device | str | None = None,
    dtype: torch.dtype | str | None = None,
    eval: bool = False,
) -> GANModel:
    """Build the registered architecture ``name`` (a model name; a ``.tag`` is ignored here) and return it.

    The config is ``pretrained_cfg.config`` (the tag's fields) updated with ``config``; without a pretrained_cfg
    it is the builder's paper defaults updated with ``config``. Every field is validated and the parameter count
    bounded before anything is allocated. ``pretrained_cfg`` is attached as ``model.pretrained_cfg``.

    weights: a state dict under ganzoo names to load (floating tensors are cast to the model's dtypes). ``parts``
        names the networks it holds, each of which must match completely, and nothing else may be in it
        (IntegrityError / StateDictMismatchError otherwise; nothing is copied then); None means the networks its
        keys name. ``model.pretrained_parts`` records them.
    device / dtype: where to put the model (``dtype`` in fp16/bf16 needs the tag's ``half_precision``).
    eval: return it in eval mode (every load does; ``create`` leaves train mode, as ``nn.Module`` does).
    """
    from .utils import resolve_device

    entry = get_entry(name)
    # argument errors before any work
    dt = _dtype(dtype)
    if dt in (torch.float16, torch.bfloat16) and pretrained_cfg is not None and not pretrained_cfg.half_precision:
        raise ValueError(f"{pretrained_cfg.name} does not support {dt} (half_precision=False in its metadata: "
                         f"outputs overflow); use float32")
    dev = resolve_device(device)  # DeviceUnavailableError for "bogus", or "cuda" on a CPU build
    kwargs = {**(dict(pretrained_cfg.config) if pretrained_cfg is not None else {}), **dict(config or {})}
    model = entry.builder(**kwargs)  # every field validated, the parameter count bounded, before allocation
    model.model_name = entry.name
    model.pretrained_cfg = pretrained_cfg
    if weights is not None:
        from .hub.io import load_parts

        load_parts(model, weights, parts, what=what)
    if dev is not None or dt is not None:
        model.to(device=dev, dtype=dt)
    return model.eval() if eval else model


def create(name: str, **config_overrides: Any) -> GANModel:
    """Build ``name`` or ``name.tag`` with random weights (train mode, as a fresh ``nn.Module``).

    A bare name means its default tag (the first with published weights), exactly as ``load`` does, so
    ``create("srgan")`` and ``load("srgan")`` have the same config, specs and output convention. The tag's config
    (e.g. ``nc=1`` for ``dcgan.mnist``) applies, then ``config_overrides``. The model's ``pretrained_cfg`` is
    the tag's; its ``specs`` follow the built config, overrides included.
    """
    cfg = _registry_cfg(_check_text(name, "model name"))
    return build_model(cfg.architecture, cfg, config_overrides)


def _dtype(dtype: torch.dtype | str | None) -> torch.dtype | None:
    return None if dtype is None else to_torch_dtype(dtype)


def _plan_from_config(cfg_json: Mapping[str, Any]) -> tuple[str, PretrainedCfg | None, dict[str, Any]]:
    """(model name, pretrained_cfg, config) of a save_pretrained config.json. Only registered architectures are
    built: nothing from a hub is ever executed."""
    name = cfg_json["model_name"]
    entry = get_entry(name)  # UnknownModelError for names this ganzoo does not know
    config = cfg_json.get("config", {})
    if not isinstance(config, Mapping):
        raise InvalidConfigError(f"config.json 'config' must be an object of field: value pairs, got "
                                 f"{type(config).__name__}")
    tag = cfg_json.get("tag")
    pc = cfg_json.get("pretrained_cfg")
    cfg: PretrainedCfg | None = None
    if tag and tag in entry.cfgs:
        cfg = entry.cfgs[tag]
    elif isinstance(pc, Mapping) and pc.get("source"):
        # Weights converted from a third-party file: their own metadata (provenance, I/O convention).
        cfg = PretrainedCfg.from_dict(pc)
    # config.json's config is complete (save_pretrained writes every field), so it wins over the tag's fields
    return entry.name, cfg, dict(config)


def _build_from_config(cfg_json: Mapping[str, Any]) -> GANModel:
    """A model with random weights in the shape a config.json describes."""
    name, cfg, config = _plan_from_config(cfg_json)
    return build_model(name, cfg, config)


def _read_weights(path: Path, *, expected_sha256: str | None, verify: bool, allow_pickle: bool,
                  what: str) -> dict[str, torch.Tensor]:
    """Verify (sha256) and read a weights file into a state dict under ganzoo names (a pickled checkpoint in a
    folder is converted from its layout)."""
    from .hub.io import load_weights_file, verify_sha256

    if verify and expected_sha256:
        verify_sha256(path, expected_sha256, what=what)
    elif verify:
        logger.warning("no sha256 known for %s: integrity not checked", what)
    state = load_weights_file(path, allow_pickle=allow_pickle)
    if not path.name.endswith(".safetensors"):
        from .hub.converters import convert_state_dict, unwrap_state_dict

        state, layout = convert_state_dict(unwrap_state_dict(state))
        logger.info("converted %s from layout %s", what, layout)
    return state


def load(
    name: str | os.PathLike,
    pretrained: bool | PathLike = True,
    revision: str | None = None,
    device: torch.device | str | None = None,
    dtype: torch.dtype | str | None = None,
    local_files_only: bool = False,
    *,
    source: str = "auto",
    cache_dir: PathLike | None = None,
    verify: bool = True,
    allow_pickle: bool = False,
    family: str | None = None,
    layout: str | None = None,
    config: Mapping[str, Any] | None = None,
    backend: str | None = None,
) -> GANModel:
    """A model with weights, in eval mode.

    ``name``: ``"dcgan"`` (default tag), ``"dcgan.mnist"``, ``"hf-hub:org/name@rev"`` or a save_pretrained folder.
    ``pretrained``: True (the tag's published weights), False (random init, same as :func:`ganzoo.create`), or a
    local folder / weights file / ``hf-hub:`` spec to take the weights from.
    ``revision``: pin a hub revision (branch, tag or commit); the embedded copy is used only at its own revision.
    ``source``: ``"auto"`` (embedded hub, then remote), ``"embedded"`` or ``"remote"``.
    ``local_files_only`` (or HF_HUB_OFFLINE=1): never touch the network.
    ``verify``: check sha256 (on by default). ``allow_pickle``: accept a pickled checkpoint (``.pth``, ``.pt``,
    ``.pth.tar``, ``.tar``, ``.ckpt``), read through ``torch.load(weights_only=True)``.

    ``name`` may also be a bare weights file (``.safetensors``, Keras ``.h5``, or a pickle with
    ``allow_pickle=True``), in ganzoo's layout or a third-party one: see :func:`load_file`, which detects the family,
    layout, hyper-parameters and I/O convention. ``family`` / ``layout`` restrict that detection and ``config``
    overrides the detected config; a tagged name with ``pretrained=FILE`` detects within the name's family, and a
    third-party file's hyper-parameters and convention override the tag's.

    ``backend``: ``"triton"`` or ``"reference"`` returns the model with its generator's blocks fused
    (:func:`ganzoo.optimize` with that backend, in the loaded dtype; the report is at ``model.fusion_report``);
    None (default) returns the plain model.
    """
    if backend is not None:
        from .kernels.fuse import check_backend

        check_backend(backend)  # before any download
        from .kernels import optimize

        model = load(name, pretrained, revision, device, dtype, local_files_only, source=source,
                     cache_dir=cache_dir, verify=verify, allow_pickle=allow_pickle, family=family, layout=layout,
                     config=config)
        return optimize(model, backend=backend, inplace=True)
    kind, name = _parse_source(name)
    revision = _check_revision(revision)
    if kind != "name":
        if kind == "path" and Path(name).expanduser().is_file():
            return load_file(name, family=family, layout=layout, config=config, allow_pickle=allow_pickle,
                             device=device, dtype=dtype, verify=verify)
        if family is not None or layout is not None or config is not None:
            raise ValueError(f"family=, layout= and config= apply to a bare weights file; {name!r} is "
                             + ("a folder (its config.json says what it is)" if Path(name).expanduser().is_dir()
                                else "not a file"))
        return from_pretrained(Path(name) if kind == "path" else name, revision=revision, device=device, dtype=dtype,
                               local_files_only=local_files_only, cache_dir=cache_dir, verify=verify)
    cfg = _registry_cfg(name)
    full = cfg.name
    if family is not None and family != get_entry(full).family:
        raise ValueError(f"{full} is a model of family {get_entry(full).family!r}, not {family!r}")
    if pretrained is False:
        return build_model(cfg.architecture, cfg, config, device=device, dtype=dtype, eval=True)
    from .hub.resolve import resolve_spec

    if pretrained is not True:
        if not isinstance(pretrained, (str, os.PathLike)):
            raise TypeError(f"pretrained must be True, False, a path or an '{_HUB_PREFIX}' spec, got "
                            f"{type(pretrained).__name__} {pretrained!r}")
        pkind, spec = _parse_source(pretrained, "pretrained")
        if pkind == "hub":
            res = resolve_spec(spec, cache_dir=cache_dir, local_files_only=local_files_only)
        else:
            from .hub.resolve import resolve_local

            res = resolve_local(spec)
        if res.config is not None:
            return _from_resolved(res, device=device, dtype=dtype, verify=verify, allow_pickle=allow_pickle)
        # A tag given explicitly is the user's word for what the weights are ("srgan.imagenet": its config and
        # metadata apply); with a bare name the file's keys and shapes decide over the architecture's defaults, so
        # no tag's fields (e.g. div2k's TensorFlow padding) leak into third-party weights.
        named = full if split_name(name)[1] else get_entry(full).name
        return _load_file(Path(res.weights), name=named, layout=layout, config=config, allow_pickle=allow_pickle,
                          device=device, dtype=dtype)
    res, pinned = _resolve_published(cfg, revision=revision, source=source, cache_dir=cache_dir,
                                     local_files_only=local_files_only, verify=verify)
    return _from_resolved(res, device=device, dtype=dtype, verify=verify, allow_pickle=allow_pickle,
                          registry_cfg=cfg, registry_sha=cfg.sha256 if pinned else None)


def _resolve_published(cfg: PretrainedCfg, *, revision: str | None, source: str, cache_dir: PathLike | None,
                       local_files_only: bool, verify: bool):
    """Resolve a tag's published weights; returns ``(Resolved, pinned)``. ``pinned``: the revision is the registry's
    own, so the registry's sha256 applies (other revisions are checked against their own config.json)."""
    from .hub.resolve import resolve_repo

    if not cfg.has_weights:
        raise NoPretrainedWeightsError(
            f"no weights are published for {cfg.name} yet. Use ganzoo.create({cfg.name!r}) or pretrained=False for "
            f"random weights, or pass pretrained=PATH to load your own (a save_pretrained folder or a .safetensors "
            f"file)."
        )
    pinned = revision is None or revision == cfg.revision
    res = resolve_repo(cfg.hub_id, revision=revision or cfg.revision, filename=cfg.filename, source=source,
                       cache_dir=cache_dir, local_files_only=local_files_only,
                       sha256=cfg.sha256 if (verify and pinned) else None)
    return res, pinned


def _from_resolved(res, *, device, dtype, verify: bool, allow_pickle: bool = False,
                   registry_cfg: PretrainedCfg | None = None, registry_sha: str | None = None) -> GANModel:
    """Verify, then build from a resolved folder: its config.json says what to build (the registry's tag, when
    the folder is a tag's published repo) and which networks the weights hold."""
    from .hub.resolve import read_config

    what = f"{res.repo_id}@{res.revision}" if res.repo_id else str(res.folder)
    parts = None
    if res.config is not None:
        cfg_json = read_config(res.config)
        card_sha = cfg_json.get("weights", {}).get("sha256")
        if registry_sha and card_sha and card_sha != registry_sha:
            raise IntegrityError(f"{what}: config.json pins sha256 {card_sha} but the registry pins {registry_sha}")
        expected = registry_sha or card_sha
        name, cfg, config = _plan_from_config(cfg_json)
        wparts = cfg_json.get("weights", {}).get("parts")
        parts = tuple(wparts) if wparts is not None else _NETS  # older folders: the whole model
    elif registry_cfg is not None:
        name, cfg, config, expected, parts = registry_cfg.architecture, registry_cfg, {}, registry_sha, _NETS
    else:
        raise HubError(f"{what} has no config.json; load its weights file itself (ganzoo.load('{res.weights}'), "
                       f"which detects the layout), or ganzoo.load(NAME, pretrained=PATH)")
    if registry_cfg is not None:
        name, cfg = registry_cfg.architecture, registry_cfg
    # integrity first: nothing is built from a folder whose weights do not match
    state = _read_weights(res.weights, expected_sha256=expected, verify=verify, allow_pickle=allow_pickle,
                          what=f"{what}/{res.weights.name}")
    model = build_model(name, cfg, config, weights=state, parts=parts, what=f"{what}/{res.weights.name}",
                        device=device, dtype=dtype, eval=True)
    logger.info("loaded %s from %s (%s)", model.model_name, what, res.origin)
    return model


def load_file(
    path: PathLike,
    *,
    family: str | None = None,
    layout: str | None = None,
    config: Mapping[str, Any] | None = None,
    allow_pickle: bool = False,
    device: torch.device | str | None = None,
    dtype: torch.dtype | str | None = None,
    verify: bool = True,
) -> GANModel:
    """A ready model (eval mode) from one weights file, whatever wrote it: what ``ganzoo.load(PATH)`` does.

    The file is read by format (``.safetensors``; Keras ``.h5`` / ``.hdf5`` through h5py; a pickle (``.pth``,
    ``.pt``, ``.pth.tar``, ``.tar``, ``.ckpt``) only with ``allow_pickle=True``, through
    ``torch.load(weights_only=True)``). Nested training checkpoints (``{"state_dict": ...}``, ``{"netG_state_dict":
    ..., "netD_state_dict": ...}``, ``{"model_state_dict": [G, D]}``) and wrapper prefixes (``module.``,
    ``_orig_mod.``) are unwrapped. The layout is detected from key names (:mod:`ganzoo.hub.converters`), the
    hyper-parameters from shapes, and the layout's I/O convention (value ranges, clamp or tanh) is set, so the
    model computes what the source did. The result's ``pretrained_cfg`` records the file (``source``), its
    ``sha256``, ``source_layout`` and ``source_parts`` (a network the file lacks keeps its random initialisation).

    Ganzoo-layout weights: a file inside a save_pretrained folder (its config.json names it) loads as that folder
    (:func:`from_pretrained`); a file save_pretrained wrote carries its model and config in its metadata; other
    ganzoo-layout files are inferred from shapes, and fields the shapes cannot show (an SR generator's output
    convention) must be given in ``config``.

    ``family`` / ``layout`` restrict detection (a file of another family is refused, naming its family);
    ``config`` overrides the detected config. Raises FileNotFoundError, PickleNotAllowedError,
    UnknownCheckpointLayoutError (naming the closest layouts and the keys they did not match),
    StateDictMismatchError, CorruptWeightsError.
    """
    p = Path(path).expanduser()
    if not p.is_file():
        raise FileNotFoundError(f"weights file not found: {p}" + (" (a folder: use ganzoo.from_pretrained)"
                                                                    if p.is_dir() else ""))
    if layout in (None, "ganzoo") and config is None:
        folder = _save_pretrained_folder_of(p, family)
        if folder is not None:
            logger.info("%s belongs to the save_pretrained folder %s: loading that", p.name, folder)
            return from_pretrained(folder, device=device, dtype=dtype, verify=verify)
    return _load_file(p, name=None, family=family, layout=layout, config=config, allow_pickle=allow_pickle,
                      device=device, dtype=dtype)


def _save_pretrained_folder_of(p: Path, family: str | None) -> Path | None:
    from .hub.resolve import CONFIG_NAME, WEIGHTS_NAME, read_config

    cfg_path = p.parent / CONFIG_NAME
    if not cfg_path.is_file():
        return None
    if cfg_path.is_symlink():  # a folder's config.json must not lead out of the folder
        from .hub.resolve import check_inside

        check_inside(cfg_path, p.parent)
    try:
        cfg_json = read_config(cfg_path)
    except HubError:
        return None
    if cfg_json.get("weights", {}).get("filename", WEIGHTS_NAME) != p.name:
        return None
    if family is not None and cfg_json.get("family") != family:
        from .errors import UnknownCheckpointLayoutError

        raise UnknownCheckpointLayoutError(
            f"wrong family: {p} belongs to a save_pretrained folder of a {cfg_json.get('family')!r} model "
            f"({cfg_json.get('model_name')}), not {family!r}")
    return p.parent


def _load_file(p: Path, *, name: str | None, family: str | None = None, layout: str | None, config: Any,
               allow_pickle: bool, device: Any, dtype: Any) -> GANModel:
    """Detect, build, load. ``name`` (``arch`` or ``arch.tag``): the model the caller asked for."""
    from .errors import UnknownCheckpointLayoutError
    from .hub.converters import detect_checkpoint, find_state_dicts, is_ganzoo_layout, strip_prefixes
    from .hub.io import load_weights_file, read_safetensors_metadata, sha256_file

    p = p.expanduser().resolve()
    user = dict(config or {})
    obj = load_weights_file(p, allow_pickle=allow_pickle)
    sha = sha256_file(p)
    explicit = name is not None and split_name(name)[1] is not None
    tag_cfg = resolve_pretrained_cfg(name) if explicit else None
    if name is not None:
        entry = get_entry(name)
        if family is not None and family != entry.family:
            raise ValueError(f"{name} is a model of family {entry.family!r}, not {family!r}")
        family = entry.family
        found = find_state_dicts(obj)
        if len(found) == 1 and layout in (None, "ganzoo") and is_ganzoo_layout(strip_prefixes(found[0][1])):
            # Ganzoo-layout weights for a named model: that model, exactly (the tag's config, else the paper's),
            # every tensor.
            full = _full_config(entry.name, {**(tag_cfg.config if tag_cfg else {}), **user})
            base = tag_cfg or _best_tag(entry.name, full)
            cfg = _converted_cfg(entry.name, base, p, sha, "ganzoo", _NETS, full, named=explicit)
            return build_model(entry.name, cfg, weights=strip_prefixes(found[0][1]), parts=_NETS,
                               what=str(p), device=device, dtype=dtype, eval=True)
    det = detect_checkpoint(obj, family=family, layout=layout, metadata=read_safetensors_metadata(p))
    missing = [f for f in det.undetermined if f not in user]
    if missing and "generator" in det.parts and name is None:
        raise UnknownCheckpointLayoutError(
            f"{p.name}: ganzoo-layout {det.model_name} weights without a config; {missing} cannot be read from the "
            f"weights. Pass them, e.g. ganzoo.load(PATH, config={{'output_range': (0, 1), 'output_act': 'clamp'}}) "
            f"(or 'tanh' / (-1, 1)), or load the folder ganzoo.save_pretrained wrote, which records them")
    model_name = get_entry(det.model_name if name is None else name).name
    overrides = {**(tag_cfg.config if tag_cfg else {}), **det.config, **user}
    # An explicit tag ("srgan.imagenet") is the caller saying what the weights are; otherwise the metadata comes
    # from the model's tag closest to the detected config, with the provenance of a converted file.
    base = tag_cfg or _best_tag(model_name, overrides)
    parts = tuple(n for n in _NETS if n in det.parts)
    cfg = _converted_cfg(model_name, base, p, sha, det.layout, parts, overrides, named=explicit)
    try:
        model = build_model(model_name, cfg, weights=det.state_dict, parts=parts, what=str(p), device=device,
                            dtype=dtype, eval=True)
    except (TypeError, InvalidConfigError) as e:
        raise ValueError(f"{p.name} holds {det.model_name} weights ({det.layout} layout, config {det.config}), which "
                         f"do not build as {model_name}: {e}") from e
    except StateDictMismatchError as e:
        raise StateDictMismatchError(f"{p.name} ({det.layout} layout) -> {model_name}: {e}", missing=e.missing,
                                     unexpected=e.unexpected, mismatched=e.mismatched) from e
    logger.info("loaded %s (%s layout, %s) as %s %s, sha256 %s", p, det.layout, "+".join(det.parts), model_name,
                overrides, sha)
    return model


def _full_config(name: str, config: Mapping[str, Any]) -> dict[str, Any]:
    """Every field of the config ``name``'s builder makes of ``config`` (built on the meta device: no memory)."""
    with torch.device("meta"):
        return get_entry(name).builder(**dict(config)).config.to_dict()


def _best_tag(model_name: str, config: Mapping[str, Any]) -> PretrainedCfg:
    """The model's tag whose config agrees with ``config`` on the most fields (and on every field it sets), else its
    default tag: the metadata (paper, specs, precision support) closest to the detected weights."""
    from .hub.converters import _norm

    entry = get_entry(model_name)
    best, score = entry.cfgs[entry.default_tag], -1
    for cfg in entry.cfgs.values():
        if all(k in config and _norm(config[k]) == _norm(v) for k, v in cfg.config.items()) and \
                len(cfg.config) > score:
            best, score = cfg, len(cfg.config)
    return best


def _converted_cfg(model_name: str, base: PretrainedCfg, path: Path, sha: str, layout: str,
                   parts: tuple[str, ...], config: Mapping[str, Any], *, named: bool) -> PretrainedCfg:
    """The pretrained_cfg of weights loaded from ``path``: no hub, the file's name/sha256/path/layout, the config
    it builds with. ``named``: the caller named the tag (``load(NAME.TAG, pretrained=PATH)``), so the tag, dataset
    and license stay the tag's; otherwise tag ``converted`` and license ``unknown`` (nothing in a file says it)."""
    lacking = [n for n in _NETS if n not in parts]
    keeps = f"; the {lacking[0]} keeps its random initialisation" if lacking else ""
    desc = (f"{model_name} weights converted from {path.name} ({layout} layout; "
            f"{' and '.join(parts)}{keeps}), sha256 {sha}.")
    return dataclasses.replace(
        base, hub_id=None, revision=None, filename=path.name, sha256=sha, config=dict(config),
        dataset=base.dataset if named else "", license=base.license if named else "unknown", description=desc,
        source=str(path), source_layout=layout, source_parts=tuple(parts),
        architecture=model_name, tag=base.tag if named else CONVERTED_TAG,
    )


def from_pretrained(
    source: PathLike,
    *,
    revision: str | None = None,
    device: torch.device | str | None = None,
    dtype: torch.dtype | str | None = None,
    local_files_only: bool = False,
    cache_dir: PathLike | None = None,
    verify: bool = True,
) -> GANModel:
    """Load a folder written by :func:`save_pretrained`, or ``"hf-hub:org/name@rev"`` from a hub.

    The architecture comes from config.json (``model_name`` must be registered); the weights' sha256 pinned in
    config.json is verified unless ``verify=False``.
    """
    from .hub.resolve import resolve_local, resolve_spec

    kind, spec = _parse_source(source, "from_pretrained source")
    revision = _check_revision(revision)
    if kind == "hub":
        res = resolve_spec(spec, revision=revision, cache_dir=cache_dir, local_files_only=local_files_only)
    else:  # a folder (or weights file), also when bare: from_pretrained takes no registry names
        res = resolve_local(spec)
    return _from_resolved(res, device=device, dtype=dtype, verify=verify)


def _save_dtype(dtype: Any) -> torch.dtype | None:
    if dtype is None:
        return None
    if isinstance(dtype, str) and dtype in SAVE_DTYPES:
        return SAVE_DTYPES[dtype]
    if isinstance(dtype, torch.dtype) and dtype in SAVE_DTYPES.values():
        return dtype
    raise UnsupportedDtypeError(
        f"save_pretrained stores floating weights as torch.float32, torch.float16 or torch.bfloat16 (or "
        f"{sorted(SAVE_DTYPES)}), got {dtype!r}" + (" (integer, bool and float8 dtypes would silently destroy the "
                                                   "weights)" if isinstance(dtype, torch.dtype) else ""))


def _save_target(save_directory: Any) -> Path:
    """The folder save_pretrained replaces: absolute, normalised, a symlink followed to its target."""
    if isinstance(save_directory, (bytes, bytearray)) or not isinstance(save_directory, (str, os.PathLike)):
        raise TypeError(f"save_directory must be a str or os.PathLike, got {type(save_directory).__name__} "
                        f"{save_directory!r}")
    raw = os.fspath(save_directory)
    if not raw.strip():
        raise InvalidModelSpecError(f"save_directory is empty: expected a folder path, got {raw!r}")
    bad = _CONTROL_RE.search(raw)
    if bad:
        raise InvalidModelSpecError(f"save_directory {raw!r} contains the control character {bad.group()!r}")
    out = Path(os.path.abspath(os.path.expanduser(raw)))
    if out.is_symlink():
        out = Path(os.path.realpath(out))
    return out


def _foreign_files(out: Path) -> tuple[str, ...]:
    """Entries of an existing folder that ganzoo did not write. A folder ganzoo wrote has a config.json with
    ``library_name: "ganzoo"``; its config.json, weights file and README.md are ganzoo's, anything else is not.
    In any other folder every entry is foreign."""
    from .hub.resolve import CARD_NAME, CONFIG_NAME, WEIGHTS_NAME

    names = sorted(os.listdir(out))
    ours: set[str] = set()
    cfg = out / CONFIG_NAME
    if cfg.is_file() and not cfg.is_symlink():
        try:
            cfg_json = json.loads(cfg.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            cfg_json = None
        if isinstance(cfg_json, dict) and cfg_json.get("library_name") == "ganzoo":
            w = cfg_json.get("weights", {})
            wname = w.get("filename", WEIGHTS_NAME) if isinstance(w, dict) else WEIGHTS_NAME
            ours = {CONFIG_NAME, CARD_NAME, WEIGHTS_NAME, str(wname)}
    return tuple(n for n in names if n not in ours)


def save_pretrained(model: GANModel, save_directory: PathLike, *, dtype: torch.dtype | str | None = None,
                    training: dict[str, Any] | None = None, notes: str = "",
                    parts: tuple[str, ...] = ("generator", "discriminator"), overwrite: bool = False) -> Path:
    """Write ``config.json``, ``model.safetensors`` (generator + discriminator) and a ``README.md`` model card.

    ``dtype`` stores floating tensors in another precision: ``torch.float32``, ``torch.float16`` or
    ``torch.bfloat16`` (or "fp32", "fp16", "bf16"); anything else raises UnsupportedDtypeError. ``training``
    records how the weights were made, for the card. ``parts`` limits the weights to some networks, e.g.
    ``("generator",)`` when the discriminator's weights are not to be published; config.json records it, and
    loading then leaves the other networks at their initialisation (``model.pretrained_parts`` says which were
    loaded).

    The folder is written whole beside ``save_directory`` (a temporary folder in the same parent) and swapped in
    atomically, so an interruption at any point leaves the old folder or the new one, never a mix of the two.
    An existing folder is replaced only when ganzoo wrote it (its config.json has ``library_name: "ganzoo"``)
    and holds nothing else; otherwise SaveDirectoryError names the files ganzoo did not write, unless
    ``overwrite=True``, which replaces ganzoo's three files and keeps every other entry. Files and the folder
    get the modes the umask gives. Returns the folder.
    """
    parts = tuple(parts)
    if not parts or any(p not in ("generator", "discriminator") for p in parts):
        raise ValueError(f"parts must be a non-empty subset of ('generator', 'discriminator'), got {parts!r}")
    from .hub.card import render_model_card
    from .hub.io import save_safetensors
    from .hub.resolve import CARD_NAME, CONFIG_NAME, WEIGHTS_NAME
    from .utils import FolderSwapError, atomic_folder, atomic_write

    if not isinstance(model, GANModel):
        raise TypeError(f"save_pretrained expects a ganzoo model (GANModel), got {type(model).__name__}")
    if model.model_name is None:
        raise ValueError("model has no registry name; build it with ganzoo.create or ganzoo.load")
    store_dtype = _save_dtype(dtype)
    out = _save_target(save_directory)
    carry: tuple[str, ...] = ()
    if out.exists():
        if not out.is_dir():
            raise NotADirectoryError(f"{out} exists and is not a folder")
        cwd = Path(os.getcwd())
        if out == cwd or out in cwd.parents:
            raise SaveDirectoryError(f"cannot replace {out}: it is the current working directory or a folder "
                                     f"above it; save to a subfolder")
        foreign = _foreign_files(out)
        if foreign and not overwrite:
            shown = ", ".join(foreign[:8]) + (f" and {len(foreign) - 8} more" if len(foreign) > 8 else "")
            raise SaveDirectoryError(
                f"{out} holds files ganzoo did not write ({shown}); save_pretrained replaces the whole folder. "
                f"Choose another folder, or pass overwrite=True to replace config.json, {WEIGHTS_NAME} and "
                f"{CARD_NAME} and keep the rest", foreign=foreign)
        carry = foreign
    state = {k: (v.to(store_dtype) if store_dtype is not None and v.is_floating_point() else v)
             for k, v in model.state_dict().items() if k.split(".", 1)[0] in parts}
    stored = {str(v.dtype).replace("torch.", "") for v in state.values() if v.is_floating_point()}
    pc = model.pretrained_cfg
    cfg_json = {
        "library_name": "ganzoo",
        "ganzoo_version": __version__,
        "model_name": model.model_name,
        "family": get_entry(model.model_name).family,
        # Converted weights are not their tag's published ones: no tag, their pretrained_cfg says where they came from.
        "tag": pc.tag if pc is not None and not pc.is_converted else None,
        "config": model.config.to_dict(),
        "specs": model.specs.to_dict(),
        "weights": {"filename": WEIGHTS_NAME, "format": "safetensors", "sha256": None,
                    "dtype": ",".join(sorted(stored)), "parts": list(parts)},
        # The revision and sha256 of the copy being written are not known before it exists (the embedded hub's
        # revision hashes this very file), so a published tag's pins stay in the registry, never stale copies here.
        "pretrained_cfg": None if pc is None else (pc.to_dict() if pc.is_converted
                                                   else {**pc.to_dict(), "revision": None, "sha256": None}),
    }

    try:
        with atomic_folder(out, carry=carry) as tmp:
            # The metadata makes a model.safetensors copied out of the folder self-describing (ganzoo.load(FILE)).
            sha = save_safetensors(state, tmp / WEIGHTS_NAME,
                                   metadata={"format": "pt", "ganzoo_model": model.model_name,
                                             "ganzoo_config": json.dumps(model.config.to_dict())})
            cfg_json["weights"]["sha256"] = sha
            atomic_write(tmp / CONFIG_NAME, (json.dumps(cfg_json, indent=2) + "\n").encode())
            atomic_write(tmp / CARD_NAME, render_model_card(cfg_json, training=training, notes=notes).encode())
    except FolderSwapError as e:
        raise SaveDirectoryError(f"cannot put the new folder in place at {out}: {e.__cause__} (a mount point cannot "
                                 f"be replaced: save to a subfolder of it)") from e
    return out


def download(name: str, *, revision: str | None = None, source: str = "auto", cache_dir: PathLike | None = None,
             local_files_only: bool = False) -> Path:
    """Fetch and verify a tag's files; returns the local folder holding them.

    Every file is verified, wherever it came from: config.json parses and has ganzoo's schema, its weights pin
    agrees with the registry's, and the weights' sha256 matches the registry pin (or, for another revision, the
    one config.json pins). A remote file that fails is evicted from the cache. Raises CorruptConfigError,
    IntegrityError (a mismatch, or weights no pin covers), HubError, OfflineError."""
    from .hub.download import remove_cached_file
    from .hub.io import verify_sha256
    from .hub.resolve import read_config

    cfg = _registry_cfg(_check_text(name, "model name"))
    revision = _check_revision(revision)
    res, pinned = _resolve_published(cfg, revision=revision, source=source, cache_dir=cache_dir,
                                     local_files_only=local_files_only, verify=True)
    what = f"{cfg.name} ({res.repo_id}@{res.revision})"
    try:
        card_sha = None
        if res.config is not None:
            card = read_config(res.config).get("weights", {})
            card_sha = card.get("sha256") if card.get("filename", res.weights.name) == res.weights.name else None
            if pinned and card_sha and card_sha != cfg.sha256:
                raise IntegrityError(f"{what}: config.json pins sha256 {card_sha} for {res.weights.name} but the "
                                     f"registry pins {cfg.sha256}; the published repo is inconsistent, report it")
        expected = cfg.sha256 if pinned else card_sha
        if not expected:
            raise IntegrityError(f"{what}: no sha256 pins {res.weights.name} (neither the registry at this revision "
                                 f"nor config.json), so it cannot be verified")
        verify_sha256(res.weights, expected, what=f"{what}/{res.weights.name}")
    except GanzooError:
        if res.origin == "remote":
            for f in (res.weights, res.config):
                if f is not None:
                    remove_cached_file(f)
        raise
    return res.folder
