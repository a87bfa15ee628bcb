#!/usr/bin/env python
"""Held-out inpainting evaluation: OpenCV Telea / Navier-Stokes, a trivial baseline and ganzoo inpainting models on
the fixed held-out pairs, hole PSNR / SSIM / L1 per mask-size bucket, per mask kind and overall.

    python tools/eval_inpaint.py                                     # baselines only
    python tools/eval_inpaint.py --model runs/pggan_inpaint/final --json eval_inpaint.json --markdown eval.md
    python tools/eval_inpaint.py --model pggan_inpaint.pool256 --save-examples docs/inpaint_examples

Protocol (the project's inpainting evaluation spec):

- **Pairs**: :func:`ganzoo.data.inpainting.heldout_pairs`, 60 in all: the ten 256x256 held-out crops of
  ``ganzoo.data.INPAINT_HELDOUT`` (= ``SR_HELDOUT``, never in the training pool) x the three hole-coverage buckets
  ``BUCKETS`` = [5 %, 15 %), [15 %, 30 %), [30 %, 40 %) x the two mask kinds (one axis-aligned rectangle,
  free-form brush strokes). Each mask comes from the fixed seed ``_seed(photo index, bucket index, kind index)``
  (``mask_in_bucket``); the report holds every mask's sha256 and one hash over all of them, so a changed mask
  generator shows. ``--photos`` restricts the photos (numbers are then not the protocol's).
- **Methods**: "masked input" (the trivial baseline: every hole pixel set to the per-channel mean of the known
  pixels, rounded); OpenCV ``cv2.inpaint`` with ``INPAINT_TELEA`` and with ``INPAINT_NS``, inpainting radius
  ``--radius`` (default 5 pixels), mask uint8 255 = hole, run on the BGR image and converted back to RGB; and each
  ``--model`` (``ganzoo.load``: a registry name / tag with published weights, or a save_pretrained folder). A model's
  generator runs directly on the whole 256x256 image (256 is a multiple of its ``size_multiple``): input the image
  mapped from uint8 to its input range ([-1, 1]) and the mask (1 = known, 0 = hole), float32, eval mode, no grad;
  its raw output is mapped back to [0, 1], clipped, x255, rounded (half to even) to uint8.
- **Composite, 8-bit**: every method's result is a uint8 image whose known pixels are the input's, byte for byte
  (OpenCV leaves them untouched; the model's hole pixels are put into the input); scores use only hole pixels.
- **Metrics** (:func:`ganzoo.metrics.inpaint_scores`, over the hole pixels, every RGB channel alike, data range
  255): hole PSNR = ``10 log10(255^2 / MSE)`` with the MSE over the hole; hole SSIM = the mean over the hole of
  the SSIM map of the whole RGB image pair (Wang et al. 2004: 11x11 Gaussian window sigma 1.5, K1 0.01, K2 0.03,
  population covariance, per channel; hole pixels within 5 pixels of the border, whose window does not fit, are
  left out; windows at the hole's edge see known pixels too); hole L1 = mean absolute error over the hole / 255,
  in [0, 1].
- **Means**: arithmetic means of the per-pair values: per bucket (its 20 pairs: 10 photos x 2 kinds), per kind
  (30 pairs) and overall (60).

Prints three markdown tables (PSNR, SSIM, L1: methods x buckets, kinds, overall); ``--json`` / ``--markdown``
write the report / the tables atomically. ``--save-examples DIR`` writes, for a few pairs (one per bucket and kind,
the photo rotating), a PNG strip input | mask | Telea | NS | model(s) | ground truth, and ``DIR/examples.json``
listing them.
"""
from __future__ import annotations

import argparse
import dataclasses
import datetime
import hashlib
import json
import logging
import math
import os
import platform
import sys
import time
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from ganzoo.pipelines.inpainting import OPENCV_ALGORITHMS, OPENCV_RADIUS as DEFAULT_RADIUS

logger = logging.getLogger("ganzoo.eval_inpaint")

METRICS = ("hole_psnr", "hole_ssim", "hole_l1")
BASELINE = "masked input"


class EvalError(Exception):
    """A model or option the evaluation cannot use (the CLI reports it and exits 2)."""


@dataclasses.dataclass
class Method:
    """One inpainting method: ``fill(image uint8 (H, W, 3), hole bool (H, W), True = hole) -> uint8 (H, W, 3)``
    whose known pixels are the input's. ``info``: what the report says about it."""

    name: str
    kind: str  # "baseline", "opencv" or "model"
    fill: Callable[[np.ndarray, np.ndarray], np.ndarray] = dataclasses.field(repr=False)
    info: dict[str, Any] = dataclasses.field(default_factory=dict)


# ------------------------------------------------------------------------------------------------- methods

def masked_input_fill(image: np.ndarray, hole: np.ndarray) -> np.ndarray:
    """The trivial baseline: hole pixels set to the per-channel mean of the known pixels (rounded half to even),
    uint8 (H, W, 3). A mask without known pixels gives mid-grey 128."""
    out = image.copy()
    known = ~hole
    fill = np.round(image[known].astype(np.float64).mean(axis=0)) if known.any() else np.full(image.shape[2], 128.0)
    out[hole] = fill.astype(np.uint8)
    return out


def masked_input_method() -> Method:
    return Method(BASELINE, "baseline", masked_input_fill,
                  {"description": "hole filled with the per-channel mean of the known pixels"})


def opencv_fill(image: np.ndarray, hole: np.ndarray, *, algorithm: str, radius: int = DEFAULT_RADIUS) -> np.ndarray:
    """:func:`ganzoo.pipelines.inpainting.opencv_inpaint` (Telea or Navier-Stokes, RGB uint8 in and out)."""
    from ganzoo.pipelines.inpainting import opencv_inpaint

    return opencv_inpaint(image, hole, algorithm, radius=radius)


def opencv_method(algorithm: str, radius: int = DEFAULT_RADIUS) -> Method:
    """Telea (``algorithm="telea"``) or Navier-Stokes (``"ns"``) inpainting by OpenCV, radius in pixels."""
    import cv2

    if algorithm not in OPENCV_ALGORITHMS:
        raise ValueError(f"algorithm must be one of {OPENCV_ALGORITHMS}, got {algorithm!r}")
    if isinstance(radius, bool) or not isinstance(radius, int) or radius < 1:
        raise ValueError(f"radius must be an int >= 1 (pixels), got {radius!r}")
    name = {"telea": "OpenCV Telea", "ns": "OpenCV NS"}[algorithm]
    flag = {"telea": "INPAINT_TELEA", "ns": "INPAINT_NS"}[algorithm]

    def fill(image: np.ndarray, hole: np.ndarray) -> np.ndarray:
        return opencv_fill(image, hole, algorithm=algorithm, radius=radius)

    return Method(name, "opencv", fill, {"function": f"cv2.inpaint(..., {radius}, cv2.{flag})", "radius": radius,
                                         "opencv_version": cv2.__version__})


def load_inpaint_model(name: str | os.PathLike, *, device: str = "cpu") -> Any:
    """``ganzoo.load(name)`` (a registry name / tag with published weights or a save_pretrained folder) on
    ``device``, in eval mode; EvalError saying what is wrong for an unknown name, a missing folder, a name
    without published weights or a model that is not an inpainting model."""
    import ganzoo
    from ganzoo.errors import GanzooError, NoPretrainedWeightsError, UnknownModelError

    spec = os.fspath(name)
    try:
        model = ganzoo.load(spec)
    except UnknownModelError as e:
        raise EvalError(f"--model {spec!r} is neither a registered model nor a save_pretrained folder: {e}") from e
    except NoPretrainedWeightsError as e:
        raise EvalError(f"--model {spec!r}: {e} (pass the save_pretrained folder of a trained model)") from e
    except (GanzooError, OSError, ValueError) as e:
        raise EvalError(f"--model {spec!r} could not be loaded: {type(e).__name__}: {e}") from e
    check_inpaint_model(model, spec)
    try:
        model = model.to(device)
    except (RuntimeError, ValueError, AssertionError) as e:  # torch without CUDA raises AssertionError
        raise EvalError(f"--model {spec!r}: cannot move it to device {device!r}: {e}") from e
    return model.eval()


def check_inpaint_model(model: Any, label: str, size: int = 256) -> None:
    """EvalError unless ``model``'s generator takes (image, mask) with 3 image channels and accepts ``size``."""
    sp = getattr(model, "specs", None)
    names = tuple(s.name for s in sp.inputs) if sp is not None else ()
    mult = getattr(getattr(model, "config", None), "size_multiple", None)
    if names != ("image", "mask") or not isinstance(mult, int):
        raise EvalError(f"{label}: not an inpainting model (expected a generator taking (image, mask), e.g. "
                        f"pggan_inpaint; got {type(model).__name__} with inputs {names})")
    nc = sp.inputs[0].shape[1]
    if nc != 3:
        raise EvalError(f"{label}: the held-out pairs are RGB; the model takes {nc} image channels")
    if size % mult or size < (sp.min_size or 1):
        raise EvalError(f"{label}: the generator needs sides that are multiples of {mult} and >= {sp.min_size}; "
                        f"the held-out pairs are {size}x{size}")


def model_fill(model: Any, image: np.ndarray, hole: np.ndarray) -> np.ndarray:
    """Run ``model.generator(image, mask, return_raw=True)`` on one uint8 RGB image (H, W, 3) and a bool (H, W)
    hole mask; returns the uint8 composite: known pixels from ``image``, hole pixels from the raw output mapped from
    the output range to [0, 1], clipped, x255 and rounded (half to even)."""
    import torch

    sp = model.specs
    (ilo, ihi), (olo, ohi) = sp.inputs[0].range, sp.outputs[0].range
    p = next(model.parameters())
    x = image.astype(np.float32).transpose(2, 0, 1)[None] / np.float32(255.0)
    x = torch.from_numpy(np.ascontiguousarray(x * np.float32(ihi - ilo) + np.float32(ilo)))
    known = torch.from_numpy((~hole).astype(np.float32))[None, None]
    x, known = x.to(device=p.device, dtype=p.dtype), known.to(device=p.device, dtype=p.dtype)
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            _, raw = model.generator(x * known, known, return_raw=True)
    finally:
        model.train(was_training)
    y = (raw[0].detach().float().cpu().numpy().astype(np.float64) - olo) / (ohi - olo)
    u8 = np.round(np.clip(y, 0.0, 1.0) * 255.0).astype(np.uint8).transpose(1, 2, 0)
    return np.where(hole[..., None], u8, image)


def model_method(model: Any, *, label: str | None = None, device: str = "cpu") -> Method:
    """A Method for a ganzoo inpainting model: a name / folder (loaded by :func:`load_inpaint_model`) or a model."""
    from ganzoo.utils import state_sha256

    if isinstance(model, (str, os.PathLike)):
        spec = os.fspath(model)
        m = load_inpaint_model(spec, device=device)
        if label is None:
            p = Path(spec)
            label = p.name if p.exists() else spec
    else:
        spec = None
        check_inpaint_model(model, label or type(model).__name__)
        m = model.eval()
        label = label or getattr(m, "model_name", None) or type(m).__name__
    pc = getattr(m, "pretrained_cfg", None)
    info = {"requested": spec, "registry_name": getattr(pc, "name", None),
            "config": m.config.to_dict(), "state_sha256": state_sha256(m.generator),
            "generator_parameters": sum(q.numel() for q in m.generator.parameters()),
            "device": str(next(m.parameters()).device), "dtype": str(next(m.parameters()).dtype).replace("torch.", "")}

    def fill(image: np.ndarray, hole: np.ndarray) -> np.ndarray:
        return model_fill(m, image, hole)

    return Method(label, "model", fill, info)


def build_methods(models: Sequence[Any] = (), *, radius: int = DEFAULT_RADIUS, device: str = "cpu") -> list[Method]:
    """[masked input, OpenCV Telea, OpenCV NS, one per model] (models: names, folders or GANModels)."""
    methods = [masked_input_method(), opencv_method("telea", radius), opencv_method("ns", radius)]
    for m in models:
        meth = model_method(m, device=device)
        taken = {x.name for x in methods}
        if meth.name in taken:
            meth.name = f"{meth.name}#{len(methods)}"
        methods.append(meth)
    return methods


# ------------------------------------------------------------------------------------------------- evaluation

def bucket_key(bucket: Sequence[float]) -> str:
    """JSON key of a bucket: ``"0.05-0.15"``."""
    return f"{bucket[0]:g}-{bucket[1]:g}"


def _bucket_label(bucket: Sequence[float]) -> str:
    return f"{100 * bucket[0]:g}-{100 * bucket[1]:g} %"


def _mean_rows(rows: list[dict[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {k: float(np.mean([r[k] for r in rows])) for k in (*METRICS, "seconds")}
    out["n"] = len(rows)
    return out


def mask_sha256(mask: np.ndarray) -> str:
    return hashlib.sha256(np.packbits(mask).tobytes() + repr(mask.shape).encode()).hexdigest()


def evaluate(methods: Sequence[Method], pairs: Sequence[Any], *, progress: bool = False,
             keep_outputs: bool = False, command: str | None = None) -> dict[str, Any]:
    """Every method on every pair (``HeldOutPair``s: :func:`ganzoo.data.inpainting.heldout_pairs` or a subset).

    Returns the report: ``protocol``, ``pairs`` (photo, bucket, kind, seed, coverage, mask sha256),
    ``masks_sha256``, ``methods`` ({name: info}), ``per_pair`` ({name: [per-pair scores + seconds]}, in the order of
    ``pairs``), ``summary`` ({name: {"buckets": {bucket_key: means}, "kinds": {kind: means}, "overall": means}},
    each means dict with hole_psnr, hole_ssim, hole_l1, seconds and n), versions, command, date, wall_s; and with
    ``keep_outputs`` ``_outputs`` ({name: [uint8 result per pair]}, left out of the JSON).
    """
    from tqdm import tqdm

    from ganzoo.metrics import inpaint_scores

    if not methods:
        raise EvalError("no methods to evaluate")
    if not pairs:
        raise EvalError("no pairs to evaluate")
    names = [m.name for m in methods]
    if len(set(names)) != len(names):
        raise EvalError(f"method names must be unique, got {names}")
    t_start = time.perf_counter()
    per_pair: dict[str, list[dict[str, Any]]] = {}
    outputs: dict[str, list[np.ndarray]] = {}
    for meth in methods:
        rows = []
        for p in tqdm(pairs, desc=meth.name, unit="pair", leave=False, disable=not progress):
            t0 = time.perf_counter()
            out = meth.fill(p.image, p.mask)
            dt = time.perf_counter() - t0
            if not isinstance(out, np.ndarray) or out.dtype != np.uint8 or out.shape != p.image.shape:
                raise EvalError(f"{meth.name}: expected a uint8 result of shape {p.image.shape}, got "
                                f"{getattr(out, 'dtype', type(out).__name__)} {getattr(out, 'shape', '')}")
            row = {"photo": p.photo, "bucket": bucket_key(p.bucket), "kind": p.kind,
                   **inpaint_scores(p.image, out, p.mask), "seconds": dt}
            rows.append(row)
            if keep_outputs:
                outputs.setdefault(meth.name, []).append(out)
            logger.info("%s %s %s %s: PSNR %.2f SSIM %.4f L1 %.4f", meth.name, p.photo, row["bucket"], p.kind,
                        row["hole_psnr"], row["hole_ssim"], row["hole_l1"])
        per_pair[meth.name] = rows

    buckets = list(dict.fromkeys(bucket_key(p.bucket) for p in pairs))
    kinds = list(dict.fromkeys(p.kind for p in pairs))
    summary = {}
    for name, rows in per_pair.items():
        summary[name] = {
            "buckets": {b: _mean_rows([r for r in rows if r["bucket"] == b]) for b in buckets},
            "kinds": {k: _mean_rows([r for r in rows if r["kind"] == k]) for k in kinds},
            "overall": _mean_rows(rows),
        }
    mask_hashes = [mask_sha256(p.mask) for p in pairs]
    radii = {m.info.get("radius") for m in methods if m.kind == "opencv"}
    report: dict[str, Any] = {
        "protocol": {
            "pairs": "ganzoo.data.inpainting.heldout_pairs(): INPAINT_HELDOUT (10 photos, 256x256) x BUCKETS x "
                     "MASK_KINDS, mask seed _seed(photo index, bucket index, kind index)",
            "buckets": [[float(lo), float(hi)] for lo, hi in dict.fromkeys(tuple(p.bucket) for p in pairs)],
            "opencv_radius": radii.pop() if len(radii) == 1 else sorted(r for r in radii if r is not None) or None,
            "opencv": "cv2.inpaint on BGR uint8, mask uint8 255 = hole, INPAINT_TELEA and INPAINT_NS",
            "model_io": "whole 256x256 image, uint8 mapped to the input range ([-1, 1]), mask 1 = known; raw output "
                        "mapped to [0, 1], clipped, x255, rounded half to even; composite: known pixels of the "
                        "input, hole pixels of the raw output",
            "baseline": "masked input: hole = per-channel mean of the known pixels, rounded",
            "composite": "uint8; scores use hole pixels only",
            "hole_psnr": "10 log10(255^2 / MSE), MSE over every channel of every hole pixel",
            "hole_ssim": "mean over the hole of the RGB SSIM map (11x11 Gaussian sigma 1.5, K1 0.01, K2 0.03, "
                         "population covariance; hole pixels within 5 px of the border left out)",
            "hole_l1": "mean |gt - out| over every channel of every hole pixel / 255, in [0, 1]",
            "mean": "arithmetic mean of per-pair values per bucket, per kind and overall",
            "complete": len(pairs) == 60,
        },
        "pairs": [{"photo": p.photo, "bucket": [float(b) for b in p.bucket], "kind": p.kind, "seed": int(p.seed),
                   "coverage": float(p.coverage), "mask_sha256": h} for p, h in zip(pairs, mask_hashes)],
        "masks_sha256": hashlib.sha256("".join(mask_hashes).encode()).hexdigest(),
        "methods": {m.name: {"kind": m.kind, **m.info} for m in methods},
        "per_pair": per_pair,
        "summary": summary,
        "versions": _versions(),
        "platform": platform.platform(),
        "command": command,
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "wall_s": time.perf_counter() - t_start,
    }
    if keep_outputs:
        report["_outputs"] = outputs
    return report


def _versions() -> dict[str, str | None]:
    from importlib import metadata

    out = {}
    for pkg in ("ganzoo", "torch", "numpy", "opencv-python-headless", "opencv-python", "pillow", "scikit-image",
                "scikit-learn", "matplotlib"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = None
    return out


# ------------------------------------------------------------------------------------------------- output

def _jsonable(x: Any) -> Any:
    """inf / nan become the strings "inf" / "nan" (a hole reproduced exactly has infinite PSNR; JSON has no inf);
    keys starting with "_" are left out."""
    if isinstance(x, float) and not math.isfinite(x):
        return "inf" if x > 0 else ("-inf" if x < 0 else "nan")
    if isinstance(x, dict):
        return {k: _jsonable(v) for k, v in x.items() if not str(k).startswith("_")}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, np.generic):
        return _jsonable(x.item())
    return x


def write_json(report: dict[str, Any], path: str | os.PathLike) -> Path:
    """The report as strict JSON (no NaN / Infinity constants), written atomically."""
    from ganzoo.utils import atomic_write

    return atomic_write(path, (json.dumps(_jsonable(report), indent=2, allow_nan=False) + "\n").encode())


def _f(x: float, nd: int) -> str:
    return "inf" if math.isinf(x) else f"{x:.{nd}f}"


def markdown(report: dict[str, Any]) -> str:
    """Three markdown tables (hole PSNR, SSIM, L1): a row per method, columns per bucket, per kind, overall."""
    pairs = report["pairs"]
    buckets = list(dict.fromkeys(tuple(p["bucket"]) for p in pairs))
    kinds = list(dict.fromkeys(p["kind"] for p in pairs))
    photos = list(dict.fromkeys(p["photo"] for p in pairs))
    radius = report["protocol"]["opencv_radius"]
    lines = [f"Hole metrics on {len(pairs)} held-out pairs ({len(photos)} photos x {len(buckets)} coverage buckets x "
             f"{len(kinds)} mask kinds; ganzoo.data.inpainting.heldout_pairs, masks sha256 "
             f"{report['masks_sha256'][:12]}); OpenCV radius {radius}; 8-bit composites; means over pairs."]
    if not report["protocol"]["complete"]:
        lines.append("**Subset of the protocol's 60 pairs: not comparable with full-protocol numbers.**")
    cols = [(f"{_bucket_label(b)}", "buckets", bucket_key(b)) for b in buckets] + \
           [(k, "kinds", k) for k in kinds] + [("overall", "overall", None)]
    for metric, title, nd in (("hole_psnr", "Hole PSNR (dB, higher is better)", 2),
                              ("hole_ssim", "Hole SSIM (higher is better)", 4),
                              ("hole_l1", "Hole L1 (mean |error| / 255, lower is better)", 4)):
        lines += ["", f"**{title}**", "", "| method | " + " | ".join(c[0] for c in cols) + " |",
                  "|---|" + "---:|" * len(cols)]
        for name, s in report["summary"].items():
            cells = [_f((s[g][k] if k is not None else s[g])[metric], nd) for _, g, k in cols]
            lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------------------------------------- examples

def example_indices(pairs: Sequence[Any], n: int = 6) -> list[int]:
    """Indices of up to ``n`` pairs for the example strips: one per (bucket, kind) group in order, the photo
    rotating with the group (group g takes its (g mod size)-th pair), then further rounds if n is larger."""
    groups: dict[tuple, list[int]] = {}
    for i, p in enumerate(pairs):
        groups.setdefault((tuple(p.bucket), p.kind), []).append(i)
    order = list(groups.values())
    out: list[int] = []
    rnd = 0
    while len(out) < min(n, len(pairs)):
        for g, idx in enumerate(order):
            if len(out) >= n:
                break
            j = (g + rnd) % len(idx)
            if idx[j] not in out:
                out.append(idx[j])
        rnd += 1
        if rnd > len(pairs):
            break
    return out


def _strip(tiles: list[tuple[str, np.ndarray]], label_h: int = 18, gap: int = 4) -> Any:
    from PIL import Image, ImageDraw

    h, w = tiles[0][1].shape[:2]
    canvas = Image.new("RGB", (len(tiles) * w + (len(tiles) - 1) * gap, h + label_h), (255, 255, 255))
    draw = ImageDraw.Draw(canvas)
    for i, (label, img) in enumerate(tiles):
        x = i * (w + gap)
        canvas.paste(Image.fromarray(img), (x, label_h))
        draw.text((x + 3, 3), label, fill=(0, 0, 0))
    return canvas


def save_examples(report: dict[str, Any], pairs: Sequence[Any], folder: str | os.PathLike, *,
                  n: int = 6) -> list[Path]:
    """PNG strips input (hole white) | mask | one column per method but the baseline | ground truth, each tile
    256x256 under an 18-pixel label bar, for :func:`example_indices` pairs; needs ``evaluate(...,
    keep_outputs=True)``. Writes ``folder/examples.json`` (file, pair, columns) too. Returns the PNG paths."""
    from ganzoo.data.inpainting import mask_to_image
    from ganzoo.utils import atomic_write

    outputs = report.get("_outputs")
    if not outputs:
        raise EvalError("save_examples needs the outputs: evaluate(..., keep_outputs=True)")
    folder = Path(folder)
    methods = [m for m in report["methods"] if m != BASELINE]
    written, index = [], []
    for i in example_indices(pairs, n):
        p = pairs[i]
        shown = p.image.copy()
        shown[p.mask] = 255
        tiles = [("input", shown), ("mask", np.repeat(mask_to_image(p.mask)[..., None], 3, axis=2))]
        tiles += [(m, outputs[m][i]) for m in methods] + [("ground truth", p.image)]
        img = _strip(tiles)
        fname = f"{p.photo}_{bucket_key(p.bucket)}_{p.kind}.png"
        path = atomic_write(folder / fname, lambda f, img=img: img.save(f, format="PNG"))
        written.append(path)
        index.append({"file": fname, "photo": p.photo, "bucket": [float(b) for b in p.bucket], "kind": p.kind,
                      "coverage": float(p.coverage), "columns": [t[0] for t in tiles],
                      "scores": {m: {k: report["per_pair"][m][i][k] for k in METRICS} for m in methods}})
    atomic_write(folder / "examples.json", (json.dumps(_jsonable({"examples": index}), indent=2) + "\n").encode())
    return written


# ------------------------------------------------------------------------------------------------- CLI

def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="eval_inpaint.py", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", action="append", default=[], metavar="NAME_OR_FOLDER",
                   help="a ganzoo inpainting model: registry name / tag with published weights or a "
                        "save_pretrained folder (repeat for several)")
    p.add_argument("--radius", type=int, default=DEFAULT_RADIUS, help="OpenCV inpainting radius in pixels (5)")
    p.add_argument("--photos", default="", help="comma-separated held-out photo names (default: all ten; a subset "
                                                 "is not the protocol)")
    p.add_argument("--device", default="cpu", help="device of the models (cpu, cuda, ...)")
    p.add_argument("--json", default=None, help="write the report here (strict JSON)")
    p.add_argument("--markdown", default=None, help="write the tables here")
    p.add_argument("--save-examples", default=None, metavar="DIR", help="write example PNG strips here")
    p.add_argument("--examples", type=int, default=6, help="number of example strips (6)")
    p.add_argument("-v", "--verbose", action="store_true", help="log every pair")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    argv_list = list(sys.argv[1:] if argv is None else argv)
    command = " ".join(["python", "tools/eval_inpaint.py", *argv_list])
    try:
        from ganzoo.data.inpainting import heldout_pairs

        methods = build_methods(args.model, radius=args.radius, device=args.device)  # model errors first: fast
        photos = [x.strip() for x in args.photos.split(",") if x.strip()] or None
        pairs = heldout_pairs(photos=photos)
        report = evaluate(methods, pairs, progress=sys.stderr.isatty(), keep_outputs=bool(args.save_examples),
                          command=command)
        table = markdown(report)
        if args.json:
            write_json(report, args.json)
        if args.markdown:
            from ganzoo.utils import atomic_write

            atomic_write(args.markdown, table.encode())
        if args.save_examples:
            save_examples(report, pairs, args.save_examples, n=args.examples)
    except (EvalError, ValueError) as e:
        print(f"eval_inpaint: error: {e}", file=sys.stderr)
        return 2
    print(table)
    extra = [x for x in (args.json, args.markdown, args.save_examples) if x]
    if extra:
        print(f"wrote {', '.join(extra)} ({report['wall_s']:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
