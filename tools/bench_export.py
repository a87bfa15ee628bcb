#!/usr/bin/env python
"""Export time and ONNX Runtime (CPU) vs PyTorch eager (CPU) latency / throughput for every generator.

    python tools/bench_export.py                          # all models, batch 1 and 8, plus the SRResNet check
    python tools/bench_export.py --models "sr*" --batches 1 8 --json bench_export.json
    python tools/bench_export.py --sr-only                # only SRResNet x4, 128x128 LR, batch 1

Both backends get the same number of threads (``--threads``, default torch's) and the same random inputs;
eager and ORT run in alternating blocks (so load from other processes hits both alike) and each timing is the
median of at least ``--min-runs`` runs, bounded by ``--budget`` seconds per (model, batch). Models are exported
with random weights (published weights do not change timings).
Fully convolutional models run at ``--size`` (LR size for super-resolution), fixed-size ones at their size.
The last section compares SRResNet x4 at 128x128 batch 1, where the target is ORT >= 1.5x eager throughput:
eager as written (NCHW, and channels-last), eager on the module with ganzoo's export rewrites applied, and ORT on
the graph exported with and without them (``to_onnx(optimize=...)``), so the share of the rewrites is visible.
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

import numpy as np
import torch

import ganzoo
from ganzoo.export import to_onnx
from ganzoo.export.pipeline import sample_inputs


def _time_blocks(fns: dict[str, Callable[[], Any]], min_runs: int, budget: float,
                 block: int = 3) -> dict[str, list[float]]:
    """Time each callable in blocks of ``block`` runs, cycling through them (A A A, B B B, A A A, ...), each block
    after one untimed warm-up run, until every one has ``min_runs`` timings and ``budget`` seconds have passed
    (at most 30 runs each). Blocks, rather than strict A/B alternation, let each backend run in its steady state
    (PyTorch's OpenMP pool and ORT's thread pool otherwise keep waking each other and both slow down, eager far
    more), while load from other processes still spreads over all of them."""
    times: dict[str, list[float]] = {k: [] for k in fns}
    start = time.perf_counter()
    while (min(len(t) for t in times.values()) < min_runs
           or (time.perf_counter() - start < budget and min(len(t) for t in times.values()) < 30)):
        for name, fn in fns.items():
            fn()  # warm-up: ORT allocates its arena, oneDNN picks its kernels, caches refill
            for _ in range(block):
                t0 = time.perf_counter()
                fn()
                times[name].append(time.perf_counter() - t0)
    return times


def _session(path: Path, threads: int):
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    so.log_severity_level = 3
    # ORT's pool threads spin after each run by default; interleaved with PyTorch that would steal its cores
    so.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(str(path), sess_options=so, providers=["CPUExecutionProvider"])


def bench_model(name: str, batches: list[int], size: tuple[int, int] | None, threads: int, min_runs: int,
                budget: float, tmp: Path) -> dict[str, Any]:
    info = ganzoo.model_info(name)
    full = f"{info.name}.{info.tag}"
    torch.manual_seed(0)
    model = ganzoo.create(full).eval()
    dyn = bool(model.specs.spatial_symbols) and model.specs.dynamic_spatial
    run_size = tuple(size) if dyn and size else None
    t0 = time.perf_counter()
    res = to_onnx(model, tmp / f"{name}.onnx", validate=False, size=run_size)
    export_s = time.perf_counter() - t0
    sess = _session(res.path, threads)
    names = [i.name for i in sess.get_inputs()]
    rows = []
    for b in batches:
        xs = sample_inputs(model, b, run_size, seed=b)
        feed = {n: x.numpy() for n, x in zip(names, xs)}
        with torch.inference_mode():
            t = _time_blocks({"eager": lambda: model.generator(*xs), "ort": lambda: sess.run(None, feed)},
                             min_runs, budget)
        eager, ort_t = t["eager"], t["ort"]
        e, o = statistics.median(eager), statistics.median(ort_t)
        rows.append({"batch": b, "size": run_size, "eager_ms": e * 1e3, "ort_ms": o * 1e3,
                     "eager_min_ms": min(eager) * 1e3, "ort_min_ms": min(ort_t) * 1e3,
                     "eager_per_s": b / e, "ort_per_s": b / o, "speedup": e / o, "runs": len(eager)})
    return {"model": full, "export_s": export_s, "onnx_mb": res.size_bytes / 2**20, "rows": rows}


def bench_srresnet_x4(threads: int, min_runs: int, budget: float, tmp: Path) -> dict[str, Any]:
    """SRResNet x4, 128x128 -> 512x512, batch 1: the issue-4 target (ORT >= 1.5x eager), with the variants that
    tell where the speed comes from. Each output is compared with the same model run in float64.
    Returns {"rows": [...], "speedup": ORT default / eager as written, ...}."""
    from ganzoo.export import optimize_for_inference

    torch.manual_seed(0)
    model = ganzoo.create("srresnet.imagenet").eval()
    gen = model.generator
    x = torch.rand(1, 3, 128, 128, generator=torch.Generator().manual_seed(0))
    opt_gen, _ = optimize_for_inference(gen)
    gen_cl = copy.deepcopy(gen).to(memory_format=torch.channels_last)
    x_cl = x.contiguous(memory_format=torch.channels_last)
    export_s = {}
    sessions = {}
    for label, optimize in (("default", True), ("no_rewrites", False)):
        t0 = time.perf_counter()
        res = to_onnx(model, tmp / f"srresnet_{label}.onnx", validate=False, size=(128, 128), optimize=optimize)
        export_s[label] = time.perf_counter() - t0
        sessions[label] = _session(res.path, threads)
    feed = {sessions["default"].get_inputs()[0].name: x.numpy()}
    fns = {
        "PyTorch eager (as written, NCHW)": lambda: gen(x),
        "PyTorch eager (channels-last)": lambda: gen_cl(x_cl),
        "PyTorch eager (export rewrites applied)": lambda: opt_gen(x),
        "ONNX Runtime (export without rewrites)": lambda: sessions["no_rewrites"].run(None, feed),
        "ONNX Runtime (ganzoo export default)": lambda: sessions["default"].run(None, feed),
    }
    with torch.inference_mode():
        ref = copy.deepcopy(gen).double()(x.double()).numpy()  # float64: every fp32 backend's own rounding shows
        # eager returns a tensor, ORT a list of arrays: the SR image is the only output either way
        outs = {k: np.asarray(o[0] if isinstance(o, list) else o) for k, o in ((k, fn()) for k, fn in fns.items())}
        errs = {k: float(np.abs(v - ref).max()) for k, v in outs.items()}
        times = _time_blocks(fns, min_runs, budget)
    base = statistics.median(times["PyTorch eager (as written, NCHW)"])
    rows = []
    for name, ts in times.items():
        med = statistics.median(ts)
        rows.append({"backend": name, "median_ms": med * 1e3, "min_ms": min(ts) * 1e3, "per_s": 1.0 / med,
                     "vs_eager": base / med, "max_abs_err": errs[name], "runs": len(ts)})
    default = next(r for r in rows if r["backend"] == "ONNX Runtime (ganzoo export default)")
    return {"rows": rows, "export_s": export_s, "speedup": default["vs_eager"], "target": 1.5,
            "met": default["vs_eager"] >= 1.5, "gflop": 73.0}


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", nargs="*", default=["*"], help="fnmatch patterns (default: all)")
    p.add_argument("--batches", nargs="*", type=int, default=[1, 8])
    p.add_argument("--size", default="32x32", help="HxW for fully convolutional models (default 32x32)")
    p.add_argument("--threads", type=int, default=torch.get_num_threads())
    p.add_argument("--min-runs", type=int, default=3)
    p.add_argument("--budget", type=float, default=4.0, help="seconds per (model, batch), both backends")
    p.add_argument("--sr-only", action="store_true", help="only the SRResNet x4 128x128 batch 1 comparison")
    p.add_argument("--no-sr", action="store_true", help="skip the SRResNet x4 128x128 comparison")
    p.add_argument("--json", default=None, help="also write the results to this JSON file")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    torch.set_num_threads(args.threads)
    size = tuple(int(v) for v in args.size.lower().split("x"))

    from rich.console import Console
    from rich.table import Table

    con = Console(width=None if sys.stdout.isatty() else 132)
    out: dict[str, Any] = {"command": " ".join([Path(sys.argv[0]).name, *(argv if argv is not None else sys.argv[1:])]),
                           "torch": torch.__version__, "threads": args.threads, "machine": platform.processor()
                           or platform.machine(), "models": [], "srresnet_x4_128": None}
    import onnxruntime

    out["onnxruntime"] = onnxruntime.__version__
    with tempfile.TemporaryDirectory(prefix="ganzoo-bench-") as tmp_s:
        tmp = Path(tmp_s)
        if not args.sr_only:
            table = Table(title=f"ONNX Runtime {onnxruntime.__version__} vs PyTorch {torch.__version__} eager, CPU, "
                                f"{args.threads} threads (median)")
            for col in ("model", "export s", "batch", "size", "eager ms", "ORT ms", "eager img/s", "ORT img/s",
                        "ORT / eager"):
                table.add_column(col, justify="left" if col in ("model", "size") else "right", no_wrap=True)
            for name in ganzoo.list_models(args.models):
                try:
                    r = bench_model(name, args.batches, size, args.threads, args.min_runs, args.budget, tmp)
                except Exception as e:  # keep benchmarking the others; say what failed
                    con.print(f"[red]{name}: {type(e).__name__}: {e}[/red]")
                    continue
                out["models"].append(r)
                for k, row in enumerate(r["rows"]):
                    table.add_row(r["model"] if k == 0 else "", f"{r['export_s']:.1f}" if k == 0 else "",
                                  str(row["batch"]), "x".join(map(str, row["size"])) if row["size"] else "fixed",
                                  f"{row['eager_ms']:.1f}", f"{row['ort_ms']:.1f}", f"{row['eager_per_s']:.1f}",
                                  f"{row['ort_per_s']:.1f}", f"{row['speedup']:.2f}x")
            con.print(table)
        if not args.no_sr and "srresnet" in ganzoo.list_models():
            r = bench_srresnet_x4(args.threads, args.min_runs, max(args.budget, 20.0), tmp)
            out["srresnet_x4_128"] = r
            table = Table(title="SRResNet x4, 128x128 -> 512x512, batch 1 (random weights, ~73 GFLOP per image)")
            for col in ("backend", "median ms", "min ms", "img/s", "vs eager", "max abs err vs fp64", "runs"):
                table.add_column(col, justify="left" if col == "backend" else "right", no_wrap=True)
            for row in r["rows"]:
                table.add_row(row["backend"], f"{row['median_ms']:.0f}", f"{row['min_ms']:.0f}",
                              f"{row['per_s']:.2f}", f"{row['vs_eager']:.2f}x", f"{row['max_abs_err']:.1e}",
                              str(row["runs"]))
            con.print(table)
            verdict = "[green]met[/green]" if r["met"] else "[red]NOT met[/red]"
            con.print(f"ONNX Runtime (ganzoo export default) / PyTorch eager = {r['speedup']:.2f}x "
                      f"(target >= 1.5x: {verdict})")
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2, default=lambda o: list(o) if isinstance(o, tuple) else str(o)) + "\n")
    return 0


if __name__ == "__main__":
    np.set_printoptions(precision=3)
    sys.exit(main())
