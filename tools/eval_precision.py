#!/usr/bin/env python
"""PSNR-Y of every CPU inference path of the SR models with real weights, and whether each reduced precision counts
as validated (|PSNR-Y change vs torch fp32| <= 0.05 dB, issue 16).

    python tools/eval_precision.py                              # srresnet and srgan, x4, the ten held-out photos
    python tools/eval_precision.py --models srresnet --images astronaut,coffee --threads 1 --json prec.json

Paths per model: torch fp32 (the reference), ONNX Runtime fp32 (ganzoo's validated export), OpenVINO fp32
(INFERENCE_PRECISION_HINT=f32), OpenVINO bf16 (hint bf16), int8 (ONNX Runtime QDQ static quantisation calibrated on
``--calibration`` LR crops of the SR *training* pool) in ONNX Runtime and in OpenVINO. Protocol: tools/eval_sr.py's
(ganzoo.data.SR_HELDOUT 256x256 HR crops, PIL bicubic LR, PSNR-Y / SSIM-Y with ``scale`` pixels of border); its
model loading, runners and machine/version records are reused. Each path is also compared with torch fp32 pixel
by pixel (largest difference in 8-bit levels).
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from eval_sr import _EagerRunner, _machine, _OrtRunner, _versions, load_model  # noqa: E402

logger = logging.getLogger("ganzoo.eval_precision")

VALIDATED_DB = 0.05
PATHS = ("torch fp32", "ORT fp32", "OpenVINO fp32", "OpenVINO bf16", "ORT int8", "OpenVINO int8")


class _OVRunner:
    """An OpenVINO IR (ganzoo.export.openvino) on uint8 LR images -> uint8 SR images."""

    def __init__(self, compiled: Any, model: Any):
        from ganzoo.metrics import sr_value_ranges

        self.compiled, self.ranges = compiled, sr_value_ranges(model)

    def __call__(self, lr: np.ndarray) -> np.ndarray:
        from ganzoo.metrics import sr_postprocess, sr_preprocess

        rin, rout = self.ranges
        out = self.compiled([sr_preprocess(lr, rin)])[self.compiled.outputs[0]]
        return sr_postprocess(np.asarray(out), rout)


class _OrtBytesRunner(_OVRunner):
    """ONNX Runtime on an in-memory graph (the int8 QDQ graph)."""

    def __init__(self, data: bytes, model: Any, threads: int):
        import onnxruntime as ort
        from ganzoo.metrics import sr_value_ranges

        so = ort.SessionOptions()
        so.intra_op_num_threads = threads
        so.log_severity_level = 3
        self.session = ort.InferenceSession(data, so, providers=["CPUExecutionProvider"])
        self.name = self.session.get_inputs()[0].name
        self.ranges = sr_value_ranges(model)

    def __call__(self, lr: np.ndarray) -> np.ndarray:
        from ganzoo.metrics import sr_postprocess, sr_preprocess

        rin, rout = self.ranges
        return sr_postprocess(self.session.run(None, {self.name: sr_preprocess(lr, rin)})[0], rout)


def _export(model: Any, path: Path, precision: str, calibration: int, threads: int,
            keep_float: Any = None) -> tuple[Any, dict[str, Any]]:
    """The validated IR; when the elementwise check fails, the failure is recorded and the IR written without
    it, so that the task metric below still measures the path (it decides "validated" here)."""
    from ganzoo.export import ValidationError
    from ganzoo.export.openvino import to_openvino

    kw: dict[str, Any] = {"calibration": calibration} if precision == "int8" else {}
    if precision == "int8" and keep_float is not None:
        kw["keep_float"] = keep_float
    try:
        res = to_openvino(model, path, precision, threads=threads, **kw)
        return res, {"elementwise_check": "passed", "max_abs_err_vs_torch": res.validation.max_abs_err,
                     "int8": res.int8}
    except ValidationError as e:
        logger.warning("%s %s: elementwise check failed: %s", model.pretrained_cfg.name, precision, e)
        res = to_openvino(model, path, precision, threads=threads, validate=False, **kw)
        return res, {"elementwise_check": f"FAILED: {e}", "int8": res.int8}


def runners(model: Any, folder: Path, threads: int, calibration: int,
            paths: Sequence[str], keep_float: Any = None) -> dict[str, tuple[Callable[[np.ndarray], np.ndarray], dict[str, Any]]]:
    """path name -> (uint8 LR -> uint8 SR, info), built lazily in PATHS order; int8 is quantised once for both
    runtimes."""
    from ganzoo.export.openvino import compile_ir

    out: dict[str, Any] = {}
    int8 = None
    for name in paths:
        t0 = time.perf_counter()
        if name == "torch fp32":
            out[name] = (_EagerRunner(model, "float32", "cpu"), {})
            continue
        if name == "ORT fp32":
            r = _OrtRunner(model, "float32", folder, threads)
            out[name] = (r, {"elementwise_check": "passed" if r.info["validation"]["passed"] else "FAILED",
                             "max_abs_err_vs_torch": r.info["validation"]["max_abs_err"]})
            continue
        precision = name.split()[-1]
        if precision == "int8" and int8 is not None:
            res, info = int8
        else:
            res, info = _export(model, folder / f"{precision}.xml", precision, calibration, threads, keep_float)
            info["export_s"] = time.perf_counter() - t0
            if precision == "int8":
                int8 = (res, info)
        if name.startswith("ORT"):
            out[name] = (_OrtBytesRunner(res.onnx_bytes, model, threads), info)
        else:
            out[name] = (_OVRunner(compile_ir(res.path, precision, threads=threads), model), info)
    return out


def evaluate(model_name: str, images: Sequence[str] | None, threads: int, calibration: int,
             paths: Sequence[str] = PATHS, keep_float: Any = None) -> dict[str, Any]:
    """The PSNR-Y / SSIM-Y means of every path on the held-out photos, with the change vs torch fp32.
    keep_float: the int8 paths' ``to_openvino(keep_float=...)`` (None: its default)."""
    from ganzoo.data.photos import get_photo, list_photos, make_lr
    from ganzoo.metrics import psnr, sr_scores

    model, desc = load_model(model_name, random_ok=False)
    scale = int(model.config.scale)
    names = list(images) if images else list_photos()
    data = [(n, get_photo(n).load()) for n in names]
    data = [(n, hr, make_lr(hr, scale)) for n, hr in data]
    rows: dict[str, dict[str, Any]] = {}
    ref: dict[str, np.ndarray] = {}
    with tempfile.TemporaryDirectory(prefix="ganzoo-eval-precision-") as tmp:
        for name, (fn, info) in runners(model, Path(tmp), threads, calibration, paths, keep_float).items():
            per = {}
            for n, hr, lr in data:
                sr = fn(lr)
                s = sr_scores(hr, sr, scale)
                if name == "torch fp32":
                    ref[n] = sr
                else:
                    s["max_diff_levels"] = int(np.abs(sr.astype(int) - ref[n].astype(int)).max())
                    s["psnr_vs_fp32"] = psnr(ref[n], sr)
                per[n] = s
            mean = {k: float(np.mean([p[k] for p in per.values()])) for k in ("psnr_y", "ssim_y")}
            if name != "torch fp32":
                mean["max_diff_levels"] = max(p["max_diff_levels"] for p in per.values())
            rows[name] = {**mean, **info, "per_image": per}
            logger.info("%s %s: PSNR-Y %.3f", model_name, name, mean["psnr_y"])
    base = rows["torch fp32"]["psnr_y"]
    for r in rows.values():
        r["d_psnr_y"] = r["psnr_y"] - base
        r["validated"] = abs(r["d_psnr_y"]) <= VALIDATED_DB
    return {"model": desc, "scale": scale, "images": names, "rows": rows}


def markdown(reports: Sequence[dict[str, Any]], threads: int, calibration: int) -> str:
    lines = [f"PSNR-Y / SSIM-Y on {len(reports[0]['images'])} held-out photos (ganzoo.data.SR_HELDOUT, x"
             f"{reports[0]['scale']}, border {reports[0]['scale']}), {threads} thread(s); int8 calibrated on "
             f"{calibration} LR crops of the SR training pool; validated = |dPSNR-Y| <= {VALIDATED_DB} dB", "",
             "| model | path | PSNR-Y | dPSNR-Y vs torch fp32 | SSIM-Y | max diff (8-bit levels) | elementwise check "
             "| validated |", "|---|---|---:|---:|---:|---:|---|---|"]
    for rep in reports:
        for name, r in rep["rows"].items():
            lines.append(f"| {rep['model']['name']} | {name} | {r['psnr_y']:.3f} | {r['d_psnr_y']:+.3f} | "
                         f"{r['ssim_y']:.4f} | {r.get('max_diff_levels', 0)} | "
                         f"{(r.get('elementwise_check') or '-').split(':')[0]} | "
                         f"{'reference' if name == 'torch fp32' else ('validated' if r['validated'] else 'NO')} |")
    return "\n".join(lines)


def _ov_version() -> str | None:
    from importlib import metadata

    try:
        return metadata.version("openvino")
    except metadata.PackageNotFoundError:
        return None


def main(argv: Sequence[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", default="srresnet,srgan", help="comma-separated SR models with weights")
    p.add_argument("--images", default="", help="comma-separated held-out photo names (default: all ten)")
    p.add_argument("--paths", default=",".join(PATHS), help=f"comma-separated subset of: {', '.join(PATHS)}")
    p.add_argument("--threads", type=int, default=None, help="threads for torch, ORT and OpenVINO")
    p.add_argument("--calibration", type=int, default=32, help="int8 calibration crops (default 32)")
    p.add_argument("--int8-keep-float", default=None, dest="keep_float",
                   help="int8 parts left float: auto (chosen on training crops), first,last (the default), none, "
                        "or node names")
    p.add_argument("--json", default=None, help="write every number here")
    a = p.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(name)s: %(message)s")
    import torch

    if a.threads:
        torch.set_num_threads(a.threads)
    threads = a.threads or torch.get_num_threads()
    paths = [s.strip() for s in a.paths.split(",") if s.strip()]
    bad = [x for x in paths if x not in PATHS]
    if bad or "torch fp32" not in paths:
        p.error(f"--paths: expected names from {', '.join(PATHS)} including 'torch fp32', got {bad or paths}")
    images = [s for s in a.images.split(",") if s] or None
    t0 = time.perf_counter()
    from ganzoo.export.openvino import parse_keep_float

    keep = parse_keep_float(a.keep_float) if a.keep_float is not None else None
    reports = [evaluate(m, images, threads, a.calibration, paths, keep) for m in a.models.split(",") if m]
    print(markdown(reports, threads, a.calibration))
    if a.json:
        Path(a.json).write_text(json.dumps({"command": " ".join(["tools/eval_precision.py", *(argv or sys.argv[1:])]),
                                            "machine": _machine(threads, "cpu"),
                                            "versions": {**_versions(), "openvino": _ov_version()},
                                            "seconds": time.perf_counter() - t0, "reports": reports},
                                           indent=2, default=str) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
