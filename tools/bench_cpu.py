#!/usr/bin/env python
"""SRResNet x4 (real weights) on the CPU: every deployment path side by side in one run, against the CPU's peak.

    python tools/bench_cpu.py --threads 1 --markdown bench_cpu.md --json bench_cpu.json
    python tools/bench_cpu.py --precision-json prec.json      # mark the paths tools/eval_precision.py validated

Paths (128x128 LR -> 512x512, batch 1): what a user gets without ganzoo -- PyTorch eager NCHW and channels-last,
ONNX Runtime and OpenVINO (INFERENCE_PRECISION_HINT=f32) on a plain ``torch.onnx.export(..., dynamo=False)`` of the
generator at the benchmarked size -- and ganzoo's: its validated ONNX export in ONNX Runtime, and its OpenVINO IR
(:mod:`ganzoo.export.openvino`) in fp32, bf16 and int8, compiled with static shapes and the hint set explicitly.
Timing: tools/bench_export.py's harness (blocks of runs cycling through the paths, one untimed warm-up per block,
medians). FLOPs: 2 x the multiply-accumulates of the convolutions (tools/bench_sr.py's count; the rest is < 1%).
Peak: ``threads x FLOP/cycle x clock``, with the FLOP/cycle of the precision's instruction stated in the output
(AVX-512 FMA fp32: one 512-bit FMA per cycle = 32 FLOP; bf16 VDPBF16PS: 64; int8 VNNI VPDPBUSD: 128 ops) and the
clock from /proc/cpuinfo (in a VM usually the nominal clock, not the boost clock): assumptions, not measurements.
GFLOP/s are *effective* (direct-convolution FLOPs of the model as written / time): a path can exceed the assumed
peak when the CPU boosts above the reported clock or a runtime computes fewer FLOPs (OpenVINO's Winograd 3x3
convolutions).
"""
from __future__ import annotations

import argparse
import copy
import json
import logging
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_export import _session, _time_blocks  # noqa: E402  (the shared timing harness)
from bench_sr import _macs  # noqa: E402  (the conv FLOP count)

import ganzoo  # noqa: E402

logger = logging.getLogger("ganzoo.bench_cpu")

#: FLOP (or int8 op) per cycle per core of the instruction each precision's convolutions run on (assumptions)
FLOP_PER_CYCLE = {"fp32": 32, "bf16": 64, "int8": 128}
PLAIN = ("eager fp32 NCHW", "eager fp32 channels-last", "ORT fp32 (plain export)", "OpenVINO fp32 (plain export)")


def cpu_info() -> dict[str, Any]:
    """CPU model, flags that matter here and the clock (MHz) from /proc/cpuinfo."""
    info: dict[str, Any] = {"machine": platform.machine(), "logical_cpus": torch.get_num_threads()}
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return info
    import os

    info["logical_cpus"] = os.cpu_count()
    for line in text.splitlines():
        k, _, v = line.partition(":")
        k, v = k.strip(), v.strip()
        if k == "model name" and "model" not in info:
            info["model"] = v
        elif k == "cpu MHz" and "mhz" not in info:
            info["mhz"] = float(v)
        elif k == "flags" and "flags" not in info:
            flags = set(v.split())
            info["flags"] = sorted(f for f in ("avx2", "fma", "avx512f", "avx512_bf16", "avx512_vnni", "amx_bf16",
                                               "amx_int8") if f in flags)
    return info


def versions() -> dict[str, str | None]:
    from importlib import metadata

    out = {}
    for pkg in ("ganzoo", "torch", "onnx", "onnxruntime", "openvino", "numpy"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = None
    return out


def build_paths(model: Any, x: torch.Tensor, tmp: Path, threads: int,
                calibration: int) -> tuple[dict[str, Callable[[], Any]], dict[str, dict[str, Any]]]:
    """name -> zero-argument timed call on ``x``, and name -> {precision, ganzoo, notes}."""
    from ganzoo.export import to_onnx
    from ganzoo.export.openvino import compile_ir, to_openvino

    gen = model.generator.eval()
    xn = x.numpy()
    fns: dict[str, Callable[[], Any]] = {}
    meta: dict[str, dict[str, Any]] = {}

    def eager(g, xin):
        def run():
            with torch.inference_mode():
                return g(xin)
        return run

    fns["eager fp32 NCHW"] = eager(gen, x)
    gen_cl = copy.deepcopy(gen).to(memory_format=torch.channels_last)
    fns["eager fp32 channels-last"] = eager(gen_cl, x.contiguous(memory_format=torch.channels_last))

    plain = tmp / "plain.onnx"
    with torch.no_grad():
        torch.onnx.export(gen, (x,), str(plain), dynamo=False, opset_version=17, input_names=["lr"],
                          output_names=["sr"])
    sess = _session(plain, threads)
    fns["ORT fp32 (plain export)"] = lambda s=sess: s.run(None, {"lr": xn})
    ov_plain = compile_ir(str(plain), "fp32", threads=threads)  # an IR without metadata: the f32 hint, explicitly
    req = ov_plain.create_infer_request()
    fns["OpenVINO fp32 (plain export)"] = lambda r=req: r.infer([xn])

    res = to_onnx(model, tmp / "ganzoo.onnx")  # validated
    sess_g = _session(res.path, threads)
    name = res.input_names[0]
    fns["ganzoo ONNX fp32 in ORT"] = lambda s=sess_g: s.run(None, {name: xn})
    meta["ganzoo ONNX fp32 in ORT"] = {"validation": res.validation.passed}

    for precision in ("fp32", "bf16", "int8"):
        kw = {"calibration": calibration} if precision == "int8" else {}
        try:
            r = to_openvino(model, tmp / f"ov_{precision}.xml", precision, threads=threads, **kw)
            check = "passed"
        except ganzoo.export.ValidationError as e:  # the PSNR check (tools/eval_precision.py) is the real one
            logger.warning("OpenVINO %s: elementwise check failed (%s); timed anyway", precision, e)
            r = to_openvino(model, tmp / f"ov_{precision}.xml", precision, threads=threads, validate=False, **kw)
            check = "failed"
        c = compile_ir(r.path, precision, threads=threads, static_shapes={r.input_names[0]: tuple(x.shape)})
        rq = c.create_infer_request()
        label = f"ganzoo OpenVINO {precision}"
        fns[label] = lambda rq=rq: rq.infer([xn])
        meta[label] = {"validation": check, "hint": str(c.get_property("INFERENCE_PRECISION_HINT"))}
    return fns, meta


def _precision(name: str) -> str:
    return "bf16" if "bf16" in name else "int8" if "int8" in name else "fp32"


def _validated(name: str, prec: dict[str, Any] | None, model_name: str) -> str:
    """"yes"/"no" from a tools/eval_precision.py JSON (|dPSNR-Y| <= 0.05 dB), "-" without one."""
    if prec is None:
        return "-"
    if name == "eager fp32 NCHW":
        return "reference"
    key = {"ganzoo ONNX fp32 in ORT": "ORT fp32",
           "ganzoo OpenVINO fp32": "OpenVINO fp32", "ganzoo OpenVINO bf16": "OpenVINO bf16",
           "ganzoo OpenVINO int8": "OpenVINO int8"}.get(name)
    for rep in prec.get("reports", []):
        if rep["model"]["name"].split(".")[0] == model_name.split(".")[0] and key in rep["rows"]:
            r = rep["rows"][key]
            return f"{'yes' if r['validated'] else 'no'} ({r['d_psnr_y']:+.3f} dB)"
    return "-"


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="srresnet", help="an SR model with weights (default srresnet)")
    p.add_argument("--size", type=int, default=128, help="LR side (default 128)")
    p.add_argument("--threads", type=int, default=torch.get_num_threads())
    p.add_argument("--min-runs", type=int, default=5)
    p.add_argument("--budget", type=float, default=60.0, help="seconds of timing, all paths together")
    p.add_argument("--calibration", type=int, default=32, help="int8 calibration crops (default 32)")
    p.add_argument("--precision-json", default=None, help="tools/eval_precision.py JSON: the validated column")
    p.add_argument("--markdown", default=None, help="write the table as markdown here")
    p.add_argument("--json", default=None)
    a = p.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(name)s: %(message)s")
    torch.set_num_threads(a.threads)
    model = ganzoo.load(a.model).eval()
    scale = int(model.config.scale)
    x = torch.rand(1, 3, a.size, a.size, generator=torch.Generator().manual_seed(0))
    flop = 2 * _macs(model.generator, a.size, a.size)
    cpu = cpu_info()
    ghz = cpu.get("mhz", 0.0) / 1e3
    prec = json.loads(Path(a.precision_json).read_text()) if a.precision_json else None
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="ganzoo-bench-cpu-") as tmp:
        fns, meta = build_paths(model, x, Path(tmp), a.threads, a.calibration)
        export_s = time.perf_counter() - t0
        times = _time_blocks(fns, a.min_runs, a.budget)
    med = {n: statistics.median(ts) for n, ts in times.items()}
    best_plain = min(PLAIN, key=lambda n: med[n])
    rows = []
    for n, ts in times.items():
        pr = _precision(n)
        peak = a.threads * FLOP_PER_CYCLE[pr] * ghz  # GFLOP/s
        gflops = flop / med[n] / 1e9
        rows.append({"path": n, "precision": pr, "ganzoo": n.startswith("ganzoo"), "median_ms": med[n] * 1e3,
                     "min_ms": min(ts) * 1e3, "runs": len(ts), "speedup_vs_best_plain_fp32": med[best_plain] / med[n],
                     "gflops": gflops, "peak_gflops": peak, "pct_of_peak": 100 * gflops / peak if peak else None,
                     "validated": _validated(n, prec, a.model), **meta.get(n, {})})
    head = (f"{a.model} x{scale}, {a.size}x{a.size} -> {a.size * scale}x{a.size * scale}, batch 1, {a.threads} "
            f"thread(s), {flop / 1e9:.1f} GFLOP (convs); CPU {cpu.get('model')} at {ghz:.2f} GHz, flags "
            f"{', '.join(cpu.get('flags', []))}; peak per thread assumed {FLOP_PER_CYCLE['fp32']} fp32 / "
            f"{FLOP_PER_CYCLE['bf16']} bf16 / {FLOP_PER_CYCLE['int8']} int8 FLOP per cycle (one 512-bit FMA, "
            f"VDPBF16PS, VPDPBUSD per cycle); best non-ganzoo fp32 path: {best_plain}")
    vers = versions()
    lines = [head, "", "versions: " + ", ".join(f"{k} {v}" for k, v in vers.items()), "",
             "| path | precision | median ms | speedup vs best non-ganzoo fp32 | GFLOP/s | peak GFLOP/s | % of peak "
             "| validated (PSNR-Y) | runs |", "|---|---|---:|---:|---:|---:|---:|---|---:|"]
    for r in rows:
        lines.append(f"| {r['path']} | {r['precision']} | {r['median_ms']:.0f} | "
                     f"{r['speedup_vs_best_plain_fp32']:.2f}x "
                     f"| {r['gflops']:.0f} | {r['peak_gflops']:.0f} | {r['pct_of_peak']:.0f}% | {r['validated']} "
                     f"| {r['runs']} |")
    text = "\n".join(lines)
    print(text)
    if a.markdown:
        Path(a.markdown).write_text(text + "\n")
    if a.json:
        Path(a.json).write_text(json.dumps({
            "command": " ".join(["tools/bench_cpu.py", *(argv if argv is not None else sys.argv[1:])]),
            "model": a.model, "threads": a.threads, "cpu": cpu, "versions": vers, "gflop": flop / 1e9,
            "export_s": export_s, "best_plain": best_plain, "rows": rows}, indent=2, default=str) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
