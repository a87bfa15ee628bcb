#!/usr/bin/env python
"""Super-resolution metrics on the named held-out photos: bicubic vs SR models, eager vs ONNX Runtime, fp32 vs
reduced precision.

    python tools/eval_sr.py                                  # srresnet and srgan (published weights), x4, fp32
    python tools/eval_sr.py --dtype float32,bfloat16,float16 --backend eager,onnxruntime --json eval_sr.json
    python tools/eval_sr.py --models srresnet.paper --random-ok   # random weights: tests the pipeline only

Protocol (the project's evaluation spec, the SRGAN paper's): each HR crop of ``ganzoo.data.SR_HELDOUT`` (ten
256x256 crops from scikit-image / scikit-learn / matplotlib sample photos) is down-sampled ``scale`` times with
PIL BICUBIC; the baseline is PIL BICUBIC up-sampling of that LR; a model gets the LR as float (1, 3, h, w) in its
``input_range``, its output is mapped from ``output_range`` to [0, 1], clipped, rounded and cast to uint8
(:func:`ganzoo.metrics.sr_forward`). Scores: PSNR-Y and SSIM-Y (BT.601 luma, MATLAB rgb2ycbcr convention) with
``scale`` pixels of border removed, and PSNR-RGB with the same border (:func:`ganzoo.metrics.sr_scores`). Means
are arithmetic means of the per-image values. Every reduced-precision or ONNX Runtime run is also compared with
the same model's eager float32 output (PSNR-RGB between the two uint8 outputs, and the largest difference in
8-bit levels).

Models load with ``ganzoo.load`` (registry name, ``name.tag`` or a save_pretrained folder). A name without
published weights is an error unless ``--random-ok`` is given, in which case it is built with
``ganzoo.create(name.tag)`` and random (seeded) weights; every output then says RANDOM WEIGHTS, and its numbers
say nothing about any trained model. ``--backend onnxruntime`` exports through ``ganzoo.export.to_onnx`` (validated
against PyTorch) into a temporary folder; float16 there is the exporter's fp16 graph (fp32 I/O, normalisation in
fp32), bfloat16 has no ONNX export path and is reported as skipped. Eager float16 on CPU runs channels-last (the
NCHW float16 CPU kernels are ~30x slower).

Writes a JSON file with every number, the machine, package versions, the command and each model's weights
sha256, and prints a markdown table of means and one of per-image values.
"""
from __future__ import annotations

import argparse
import copy
import datetime
import hashlib
import json
import logging
import math
import os
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Sequence

import numpy as np

logger = logging.getLogger("ganzoo.eval_sr")

DTYPES = ("float32", "bfloat16", "float16")
BACKENDS = ("eager", "onnxruntime")
DEFAULT_MODELS = ("srresnet", "srgan")
_ONNX_DTYPES = {"float32": "fp32", "float16": "fp16"}


class EvalError(Exception):
    """A model or option the evaluation cannot use (the CLI reports it and exits 2)."""


# ------------------------------------------------------------------------------------------------- models

def state_sha256(model: Any) -> str:
    """sha256 of the generator's weights as loaded (:func:`ganzoo.utils.state_sha256`): identifies the weights
    that were evaluated, whether or not a weights file exists."""
    from ganzoo.utils import state_sha256 as sha

    return sha(model.generator)


def load_model(name: str, *, random_ok: bool, seed: int = 0) -> tuple[Any, dict[str, Any]]:
    """``ganzoo.load(name)``; with ``random_ok``, a name without published weights is built with random weights.
    Returns (model in eval mode, description for the JSON)."""
    import torch

    import ganzoo
    from ganzoo.errors import NoPretrainedWeightsError

    try:
        model = ganzoo.load(name)
        weights = "published"
    except NoPretrainedWeightsError as e:
        if not random_ok:
            raise EvalError(f"{name}: {e} Pass --random-ok to evaluate random weights (tests the pipeline only; "
                            f"the numbers mean nothing).") from e
        torch.manual_seed(seed)
        model = ganzoo.create(name).eval()  # the tag's config and metadata, random weights
        cfg = model.pretrained_cfg
        weights = "random"
        logger.warning("%s has no published weights: evaluating RANDOM weights (seed %d)", cfg.name, seed)
    return model, describe_model(model, weights=weights, requested=name, seed=seed if weights == "random" else None)


def describe_model(model: Any, *, weights: str, requested: str | None = None, seed: int | None = None) -> dict:
    pc = getattr(model, "pretrained_cfg", None)
    scale = getattr(getattr(model, "config", None), "scale", None)
    if scale is None and pc is not None:
        scale = pc.scale
    from ganzoo.metrics import sr_value_ranges

    rin, rout = sr_value_ranges(model)
    return {
        "requested": requested,
        "name": pc.name if pc is not None else (getattr(model, "model_name", None) or type(model).__name__),
        "weights": weights,
        "random_seed": seed,
        "hub_id": getattr(pc, "hub_id", None),
        "revision": getattr(pc, "revision", None),
        "weights_sha256": getattr(pc, "sha256", None) if weights == "published" else None,
        "state_sha256": state_sha256(model),
        "scale": scale,
        "input_range": list(rin),
        "output_range": list(rout),
        "generator_parameters": sum(p.numel() for p in model.generator.parameters()),
        "license": getattr(pc, "license", None),
        "dataset": getattr(pc, "dataset", None),
    }


# ------------------------------------------------------------------------------------------------- runners

class _EagerRunner:
    def __init__(self, model: Any, dtype: str, device: str):
        import torch

        from ganzoo.utils import to_torch_dtype

        self.dtype, self.device = to_torch_dtype(dtype), device
        self.channels_last = dtype == "float16" and torch.device(device).type == "cpu"
        m = model if (dtype == "float32" and device == "cpu") else copy.deepcopy(model)
        m = m.to(device=device, dtype=self.dtype).eval()
        if self.channels_last:
            m = m.to(memory_format=torch.channels_last)
        self.model = m
        self.info = {"memory_format": "channels_last" if self.channels_last else "contiguous", "device": device}

    def __call__(self, lr: np.ndarray) -> np.ndarray:
        from ganzoo.metrics import sr_forward

        return sr_forward(self.model, lr, dtype=self.dtype, device=self.device, channels_last=self.channels_last)


class _OrtRunner:
    def __init__(self, model: Any, dtype: str, folder: Path, threads: int):
        import onnxruntime as ort

        from ganzoo.export import to_onnx
        from ganzoo.metrics import sr_value_ranges

        t0 = time.perf_counter()
        res = to_onnx(model, folder / f"sr_{dtype}.onnx", dtype=_ONNX_DTYPES[dtype], force=dtype != "float32")
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        self.session = ort.InferenceSession(str(res.path), opts, providers=["CPUExecutionProvider"])
        self.input_name = res.input_names[0]
        self.ranges = sr_value_ranges(model)
        v = res.validation
        self.info = {
            "onnx_sha256": res.sha256, "opset": res.opset, "onnx_dtype": res.dtype,
            "export_s": time.perf_counter() - t0,
            "onnxruntime_providers": self.session.get_providers(),
            "validation": None if v is None else {
                "passed": v.passed, "max_abs_err": v.max_abs_err,
                "cases": [{"batch": c.batch, "size": list(c.size) if c.size else None, "max_abs_err": c.max_abs_err,
                           "max_rel_err": c.max_rel_err, "atol": c.atol, "rtol": c.rtol, "allowance": c.allowance,
                           "passed": c.passed} for c in v.cases]},
        }

    def __call__(self, lr: np.ndarray) -> np.ndarray:
        from ganzoo.metrics import sr_postprocess, sr_preprocess

        rin, rout = self.ranges
        out = self.session.run(None, {self.input_name: sr_preprocess(lr, rin)})[0]
        return sr_postprocess(out, rout)


# ------------------------------------------------------------------------------------------------- evaluation

def _mean(rows: dict[str, dict[str, float]], key: str) -> float:
    vals = [r[key] for r in rows.values()]
    return float(np.mean(vals)) if vals else float("nan")


def _summarise(per_image: dict[str, dict[str, float]]) -> dict[str, float]:
    keys = [k for k in ("psnr_y", "ssim_y", "psnr_rgb", "seconds", "psnr_vs_fp32", "max_diff_vs_fp32")
            if per_image and all(k in r for r in per_image.values())]
    out = {k: _mean(per_image, k) for k in keys if k != "max_diff_vs_fp32"}
    if "max_diff_vs_fp32" in keys:
        out["max_diff_vs_fp32"] = max(r["max_diff_vs_fp32"] for r in per_image.values())
    return out


def evaluate(models: Sequence[Any], *, images: Sequence[str] | None = None, scale: int | None = None,
             dtypes: Sequence[str] = ("float32",), backends: Sequence[str] = ("eager",), device: str = "cpu",
             random_ok: bool = False, seed: int = 0, threads: int | None = None,
             command: str | None = None, keep_outputs: bool = False, progress: bool = False,
             pairs: Sequence[tuple[str, str]] | None = None) -> dict[str, Any]:
    """Run the SR evaluation; returns the JSON-ready report (see the module docstring).

    models: registry names / folders (loaded with :func:`load_model`) or ganzoo SR model objects (their weights
        are described as ``"given"``). images: names from ``ganzoo.data.SR_HELDOUT`` (default: all).
    scale: the x factor (default: the models'; every model must have it). dtypes / backends: see ``DTYPES`` /
        ``BACKENDS``; eager float32 always runs first as the reference of the other runs.
    pairs: (backend, dtype) runs to make instead of every backend with every dtype (e.g. eager bfloat16 and
        onnxruntime float16 without the slow eager float16 on a CPU).
    keep_outputs: also return the uint8 SR images under ``report["_outputs"][run][image]`` (not JSON).
    progress: a tqdm bar per run.
    """
    import torch
    from tqdm import tqdm

    import ganzoo
    from ganzoo.data.photos import bicubic_up, get_photo, list_photos, make_lr
    from ganzoo.metrics import psnr, sr_scores

    if pairs is not None:
        dtypes, backends = sorted({d for _, d in pairs}), sorted({b for b, _ in pairs})
    for d in dtypes:
        if d not in DTYPES:
            raise EvalError(f"unknown dtype {d!r}; expected some of {', '.join(DTYPES)}")
    for b in backends:
        if b not in BACKENDS:
            raise EvalError(f"unknown backend {b!r}; expected some of {', '.join(BACKENDS)}")
    if not models:
        raise EvalError("no models given")
    names = list(images) if images else list_photos()
    photos = [get_photo(n) for n in names]  # ValueError for unknown names
    threads = threads or torch.get_num_threads()

    loaded: list[tuple[str, Any, dict]] = []
    for m in models:
        if isinstance(m, (str, os.PathLike)):
            model, desc = load_model(os.fspath(m), random_ok=random_ok, seed=seed)
        else:
            model, desc = m.eval(), describe_model(m, weights="given")
        key = desc["name"]
        if any(k == key for k, _, _ in loaded):
            key = f"{key}#{len(loaded)}"
        loaded.append((key, model, desc))
    scales = {d["scale"] for _, _, d in loaded}
    if scale is None:
        if len(scales) != 1:
            raise EvalError(f"the models have different scales {sorted(scales)}; evaluate them separately")
        scale = scales.pop()
    bad = [k for k, _, d in loaded if d["scale"] != scale]
    if bad:
        raise EvalError(f"scale {scale} requested but {', '.join(bad)} upscale(s) by another factor")

    t_start = time.perf_counter()
    data = []
    for p in photos:
        hr = p.load()
        lr = make_lr(hr, scale)
        data.append((p, hr, lr))

    runs: list[dict[str, Any]] = []
    outputs: dict[str, dict[str, np.ndarray]] = {}

    per = {}
    for p, hr, lr in data:
        t0 = time.perf_counter()
        up = bicubic_up(lr, scale)
        per[p.name] = {**sr_scores(hr, up, scale), "seconds": time.perf_counter() - t0}
        outputs.setdefault("bicubic", {})[p.name] = up
    runs.append({"method": "bicubic", "model": None, "weights": None, "backend": "PIL", "dtype": "uint8",
                 "per_image": per, "mean": _summarise(per)})

    wanted = list(pairs) if pairs is not None else [(b, d) for b in backends for d in dtypes]
    order = [("eager", "float32")] + [bd for bd in dict.fromkeys(wanted) if bd != ("eager", "float32")]
    tmp = tempfile.TemporaryDirectory(prefix="ganzoo-eval-sr-")
    try:
        for key, model, desc in loaded:
            ref: dict[str, np.ndarray] = {}
            for backend, dtype in order:
                run: dict[str, Any] = {"method": key, "model": key, "weights": desc["weights"], "backend": backend,
                                       "dtype": dtype}
                label = f"{key} {backend} {dtype}"
                try:
                    if backend == "eager":
                        runner = _EagerRunner(model, dtype, device)
                    elif dtype not in _ONNX_DTYPES:
                        run.update(skipped=f"no ONNX export path for {dtype} (ganzoo.export.to_onnx writes fp32 "
                                           f"and fp16 graphs)")
                        runs.append(run)
                        continue
                    else:
                        folder = Path(tmp.name) / key.replace("/", "_").replace("#", "_")
                        runner = _OrtRunner(model, dtype, folder, threads)
                except Exception as e:  # an export that fails validation is a result, not a crash
                    logger.error("%s: %s: %s", label, type(e).__name__, e)
                    run.update(error=f"{type(e).__name__}: {e}")
                    runs.append(run)
                    continue
                run.update(runner.info)
                runner(data[0][2])  # untimed warm-up: oneDNN / ORT pick kernels and allocate on the first call
                per = {}
                for p, hr, lr in tqdm(data, desc=label, unit="img", leave=False, disable=not progress):
                    t0 = time.perf_counter()
                    sr = runner(lr)
                    dt = time.perf_counter() - t0
                    if sr.shape != hr.shape:
                        raise EvalError(f"{label}: output {sr.shape} for LR {lr.shape}, expected {hr.shape}")
                    row = {**sr_scores(hr, sr, scale), "seconds": dt}
                    if (backend, dtype) == ("eager", "float32"):
                        ref[p.name] = sr
                    else:
                        row["psnr_vs_fp32"] = psnr(ref[p.name], sr)
                        row["max_diff_vs_fp32"] = int(np.abs(ref[p.name].astype(np.int16) - sr).max())
                    per[p.name] = row
                    outputs.setdefault(label, {})[p.name] = sr
                    logger.info("%s %s: PSNR-Y %.2f SSIM-Y %.4f (%.2f s)", label, p.name, row["psnr_y"],
                                row["ssim_y"], dt)
                run.update(per_image=per, mean=_summarise(per))
                ref_mean = next((r["mean"] for r in runs if r.get("model") == key and "mean" in r
                                 and (r["backend"], r["dtype"]) == ("eager", "float32")), None)
                if ref_mean is not None and (backend, dtype) != ("eager", "float32"):
                    run["mean"]["delta_psnr_y_vs_fp32"] = run["mean"]["psnr_y"] - ref_mean["psnr_y"]
                runs.append(run)
                del runner
    finally:
        tmp.cleanup()

    report = {
        "protocol": {
            "scale": scale, "border": scale,
            "lr": "PIL BICUBIC down-sampling of the HR crop (ganzoo.data.photos.make_lr)",
            "baseline": "PIL BICUBIC up-sampling of the LR (ganzoo.data.photos.bicubic_up)",
            "y_channel": "ITU-R BT.601, MATLAB rgb2ycbcr: Y = 16 + 65.481 R + 128.553 G + 24.966 B, RGB in [0, 1], "
                         "not rounded; PSNR data_range 255",
            "ssim": "Wang et al. 2004, 11x11 Gaussian window sigma 1.5, K1 0.01, K2 0.03, population covariance, "
                    "valid region, mean (= skimage structural_similarity gaussian_weights=True sigma=1.5 "
                    "use_sample_covariance=False)",
            "model_io": "uint8 / 255 mapped to input_range; output mapped from output_range to [0, 1], clipped, "
                        "x255, rounded half to even, uint8",
            "mean": "arithmetic mean of per-image values",
            "vs_fp32": "psnr_vs_fp32: PSNR-RGB (no border) of a run's uint8 output against the same model's eager "
                       "float32 output; max_diff_vs_fp32: largest difference in 8-bit levels",
        },
        "images": [{**p.to_dict(), "hr_sha256": hashlib.sha256(hr.tobytes()).hexdigest(),
                    "lr_shape": list(lr.shape)} for p, hr, lr in data],
        "models": {k: d for k, _, d in loaded},
        "runs": runs,
        "any_random_weights": any(d["weights"] == "random" for _, _, d in loaded),
        "machine": _machine(threads, device),
        "versions": _versions(),
        "command": command,
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "wall_s": time.perf_counter() - t_start,
        "ganzoo_version": ganzoo.__version__,
    }
    if keep_outputs:
        report["_outputs"] = outputs
    return report


def _machine(threads: int, device: str) -> dict[str, Any]:
    import torch

    info = {"platform": platform.platform(), "machine": platform.machine(), "processor": platform.processor(),
            "python": platform.python_version(), "cpu_count": os.cpu_count(), "torch_threads": threads,
            "device": device}
    try:
        with open("/proc/cpuinfo") as f:
            info["cpu_model"] = next((ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")), None)
    except OSError:
        pass
    if torch.device(device).type == "cuda":
        info["gpu"] = torch.cuda.get_device_name(torch.device(device))
    return info


def _versions() -> dict[str, str | None]:
    from importlib import metadata

    out = {}
    for pkg in ("ganzoo", "torch", "numpy", "pillow", "onnx", "onnxruntime", "scikit-image", "scikit-learn",
                "matplotlib"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = None
    return out


# ------------------------------------------------------------------------------------------------- output

def _jsonable(x: Any) -> Any:
    """inf / nan become the strings "inf" / "nan" (identical images have infinite PSNR; JSON has no inf)."""
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
    from ganzoo.utils import atomic_write

    path = Path(path)
    atomic_write(path, (json.dumps(_jsonable(report), indent=2, allow_nan=False) + "\n").encode())
    return path


def _f(x: Any, nd: int) -> str:
    if x is None:
        return "-"
    if isinstance(x, float) and math.isinf(x):
        return "inf"
    return f"{x:.{nd}f}"


def _run_name(r: dict[str, Any]) -> str:
    if r["method"] == "bicubic":
        return "bicubic"
    return r["model"] + (" (RANDOM WEIGHTS)" if r["weights"] == "random" else "")


def markdown(report: dict[str, Any], *, per_image_all: bool = False) -> str:
    """Two markdown tables: the mean of every run, then PSNR-Y / SSIM-Y per image for bicubic and each model's
    eager float32 run (every run with ``per_image_all``; the JSON always has every run per image)."""
    s = report["protocol"]["scale"]
    lines = []
    if report["any_random_weights"]:
        lines += ["**RANDOM WEIGHTS: these numbers test the evaluation pipeline and say nothing about a trained "
                  "model.**", ""]
    lines += [f"x{s}, {len(report['images'])} held-out photos (ganzoo.data.SR_HELDOUT), border {s}; "
              f"mean over images.", "",
              "| method | backend | dtype | PSNR-Y (dB) | SSIM-Y | PSNR-RGB (dB) | dPSNR-Y vs fp32 | "
              "PSNR vs fp32 output | max diff (levels) | s / image | note |",
              "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---|"]
    done = []
    for r in report["runs"]:
        head = f"| {_run_name(r)} | {r['backend']} | {r['dtype']} |"
        if "mean" not in r:
            why = f"skipped: {r['skipped']}" if "skipped" in r else f"FAILED: {r.get('error')}"
            lines.append(head + " - | - | - | - | - | - | - | " + why.replace("|", "/").replace("\n", " ") + " |")
            continue
        m = r["mean"]
        lines.append(head + f" {_f(m['psnr_y'], 2)} | {_f(m['ssim_y'], 4)} | {_f(m['psnr_rgb'], 2)} | "
                     f"{_f(m.get('delta_psnr_y_vs_fp32'), 3)} | {_f(m.get('psnr_vs_fp32'), 2)} | "
                     f"{m.get('max_diff_vs_fp32', '-')} | {_f(m['seconds'], 3)} | |")
        if per_image_all or r["method"] == "bicubic" or (r["backend"], r["dtype"]) == ("eager", "float32"):
            done.append(r)
    multi = per_image_all and len(done) > 1 + len(report["models"])
    lines += ["", "PSNR-Y (dB) / SSIM-Y per image" + ("" if per_image_all else " (eager float32; every run per "
                                                      "image is in the JSON):"), "",
              "| image | " + " | ".join(_run_name(r) + (f" {r['backend']} {r['dtype']}" if multi else "")
                                       for r in done) + " |",
              "|---|" + "---:|" * len(done)]
    for img in report["images"]:
        n = img["name"]
        cells = [f"{_f(r['per_image'][n]['psnr_y'], 2)} / {_f(r['per_image'][n]['ssim_y'], 4)}" for r in done]
        lines.append(f"| {n} | " + " | ".join(cells) + " |")
    cells = [f"**{_f(r['mean']['psnr_y'], 2)} / {_f(r['mean']['ssim_y'], 4)}**" for r in done]
    lines.append("| **mean** | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------------------------------------- CLI

def _csv(s: str) -> list[str]:
    return [x.strip() for x in s.split(",") if x.strip()]


def _pairs(s: str) -> list[tuple[str, str]] | None:
    """``--runs``: "backend:dtype,..." -> [(backend, dtype), ...] (None when empty)."""
    if not s.strip():
        return None
    out = []
    for item in _csv(s):
        backend, sep, dtype = item.partition(":")
        if not sep:
            raise EvalError(f"--runs: expected backend:dtype items, got {item!r}")
        out.append((backend, dtype))
    return out


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="eval_sr.py", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", default=",".join(DEFAULT_MODELS),
                   help="comma-separated names, name.tag or save_pretrained folders (default: srresnet,srgan)")
    p.add_argument("--random-ok", action="store_true",
                   help="evaluate random weights for names without published ones (pipeline test only)")
    p.add_argument("--images", default="", help="comma-separated held-out photo names (default: all ten)")
    p.add_argument("--scale", type=int, default=None, help="upscaling factor (default: the models')")
    p.add_argument("--dtype", default="float32", help=f"comma-separated, from {','.join(DTYPES)}")
    p.add_argument("--backend", default="eager", help=f"comma-separated, from {','.join(BACKENDS)}")
    p.add_argument("--runs", default="", help="comma-separated backend:dtype pairs instead of --dtype x --backend, "
                   "e.g. eager:bfloat16,onnxruntime:float16")
    p.add_argument("--device", default="cpu", help="eager device (ONNX Runtime runs on CPU)")
    p.add_argument("--threads", type=int, default=None, help="torch and ONNX Runtime threads (default: torch's)")
    p.add_argument("--seed", type=int, default=0, help="seed of random weights (--random-ok)")
    p.add_argument("--json", default="eval_sr.json", help="where to write the report (default: eval_sr.json)")
    p.add_argument("--markdown", default=None, help="also write the tables to this file")
    p.add_argument("--per-image-all", action="store_true", help="per-image table for every run, not only fp32")
    p.add_argument("-v", "--verbose", action="store_true", help="log every image")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    import torch

    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(levelname)s %(name)s: %(message)s")
    if args.threads:
        torch.set_num_threads(args.threads)
    argv_list = list(sys.argv[1:] if argv is None else argv)
    command = " ".join(["python", "tools/eval_sr.py", *argv_list])
    try:
        report = evaluate(_csv(args.models), images=_csv(args.images) or None, scale=args.scale,
                          dtypes=_csv(args.dtype), backends=_csv(args.backend), device=args.device,
                          random_ok=args.random_ok, seed=args.seed, threads=args.threads, command=command,
                          progress=sys.stderr.isatty(), pairs=_pairs(args.runs))
    except (EvalError, ValueError) as e:
        print(f"eval_sr: error: {e}", file=sys.stderr)
        return 2
    path = write_json(report, args.json)
    table = markdown(report, per_image_all=args.per_image_all)
    if args.markdown:
        from ganzoo.utils import atomic_write

        atomic_write(args.markdown, table.encode())
    print(table)
    print(f"wrote {path} ({report['wall_s']:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
