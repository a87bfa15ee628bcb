#!/usr/bin/env python
"""SRResNet x4 with its real weights (srresnet.div2k): every inference path timed side by side, with the PSNR it gives.

    python tools/bench_sr.py                        # 128x128 -> 512x512, batch 1, 2 threads, all paths
    python tools/bench_sr.py --json bench_sr.json --budget 40

Paths: PyTorch eager fp32 (NCHW, channels-last), eager bf16 and fp16 (channels-last; NCHW too for bf16), and
ONNX Runtime on ganzoo's validated export in fp32 and fp16. Timing: 128x128 LR input (a fixed crop of a held-out
photo), the paths in alternating blocks (tools/bench_export.py's harness), median of at least ``--min-runs``.
Quality: each path super-resolves the ten held-out photos (ganzoo.data.photos.SR_HELDOUT, 256x256 HR, PIL bicubic
x4 LR) and the mean PSNR-Y / SSIM-Y (4-pixel border) and PSNR-RGB are printed with the change from eager fp32.
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

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_export import _session, _time_blocks  # noqa: E402  (the shared timing harness)

import ganzoo  # noqa: E402
from ganzoo.data.photos import SR_HELDOUT, make_lr  # noqa: E402
from ganzoo.metrics import sr_postprocess, sr_preprocess, sr_scores  # noqa: E402




def _macs(model: torch.nn.Module, h: int, w: int) -> int:
    """Multiply-accumulates of one forward at (h, w), counted over the convs (the rest is < 1%)."""
    total = 0

    def hook(m, inp, out):
        nonlocal total
        total += out.numel() * (m.in_channels // m.groups) * m.kernel_size[0] * m.kernel_size[1]

    hs = [m.register_forward_hook(hook) for m in model.modules() if isinstance(m, torch.nn.Conv2d)]
    with torch.no_grad():
        model(torch.zeros(1, 3, h, w))
    for x in hs:
        x.remove()
    return total


def paths(model, tmp: Path, threads: int, fp16_eager: bool) -> dict[str, tuple[Callable[[np.ndarray], np.ndarray],
                                                                              Callable[[], Any]]]:
    """name -> (image forward for the quality pass, zero-arg timed call on the 128x128 input)."""
    from ganzoo.export import to_onnx

    gen = model.generator
    out: dict[str, Any] = {}

    def eager(g, dtype, cl):
        def run(x):
            x = x.to(dtype)
            if cl:
                x = x.contiguous(memory_format=torch.channels_last)
            with torch.inference_mode():
                return g(x).float()
        return run

    variants = [("eager fp32 NCHW", torch.float32, False), ("eager fp32 channels-last", torch.float32, True),
                ("eager bf16 NCHW", torch.bfloat16, False), ("eager bf16 channels-last", torch.bfloat16, True)]
    if fp16_eager:
        variants.append(("eager fp16 channels-last", torch.float16, True))
    for name, dtype, cl in variants:
        g = copy.deepcopy(gen).to(dtype)
        if cl:
            g = g.to(memory_format=torch.channels_last)
        out[name] = eager(g, dtype, cl)
    for name, fp16 in (("ONNX Runtime fp32 (ganzoo export)", False), ("ONNX Runtime fp16 (ganzoo export --fp16)", True)):
        res = to_onnx(model, tmp / f"sr_{int(fp16)}.onnx", dtype="fp16" if fp16 else "fp32")
        sess = _session(res.path, threads)
        iname = sess.get_inputs()[0].name
        dt = np.float16 if sess.get_inputs()[0].type == "tensor(float16)" else np.float32

        def ort_run(x, sess=sess, iname=iname, dt=dt):
            return torch.from_numpy(sess.run(None, {iname: x.numpy().astype(dt)})[0].astype(np.float32))
        out[name] = ort_run
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="srresnet.div2k")
    p.add_argument("--size", type=int, default=128, help="LR side for the timing (default 128)")
    p.add_argument("--threads", type=int, default=torch.get_num_threads())
    p.add_argument("--min-runs", type=int, default=5)
    p.add_argument("--budget", type=float, default=30.0, help="seconds of timing, all paths together")
    p.add_argument("--no-fp16-eager", action="store_true", help="skip eager fp16 (slow on CPUs without fp16 math)")
    p.add_argument("--json", default=None)
    a = p.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    torch.set_num_threads(a.threads)
    model = ganzoo.load(a.model)
    scale = model.config.scale
    macs = _macs(model.generator, a.size, a.size)
    photo = SR_HELDOUT[0].load_full()
    crop = np.ascontiguousarray(photo[:a.size * scale, :a.size * scale])
    x = torch.from_numpy(sr_preprocess(make_lr(crop, scale)))
    hr_lr = [(ph.name, ph.load()) for ph in SR_HELDOUT]
    hr_lr = [(n, hr, make_lr(hr, scale)) for n, hr in hr_lr]
    with tempfile.TemporaryDirectory(prefix="ganzoo-bench-sr-") as tmp:
        fns = paths(model, Path(tmp), a.threads, fp16_eager=not a.no_fp16_eager)
        quality = {}
        for name, fn in fns.items():
            scores = [sr_scores(hr, sr_postprocess(fn(torch.from_numpy(sr_preprocess(lr))).numpy()), scale)
                      for _, hr, lr in hr_lr]
            quality[name] = {k: float(np.mean([s[k] for s in scores])) for k in scores[0]}
        slow = {n for n in fns if "fp16" in n and n.startswith("eager")}
        timed = {n: (lambda fn=fn: fn(x)) for n, fn in fns.items() if n not in slow}
        times = _time_blocks(timed, a.min_runs, a.budget)
        for n in slow:  # minutes per run on a CPU without fp16 arithmetic: a few runs, said so in the table
            fns[n](x)
            ts = []
            for _ in range(2):
                t0 = time.perf_counter()
                fns[n](x)
                ts.append(time.perf_counter() - t0)
            times[n] = ts
    base_q = quality["eager fp32 NCHW"]["psnr_y"]
    fastest_plain = min(statistics.median(times[n]) for n in ("eager fp32 NCHW", "eager fp32 channels-last"))
    rows = []
    for name in fns:
        med = statistics.median(times[name])
        q = quality[name]
        rows.append({"path": name, "median_ms": med * 1e3, "min_ms": min(times[name]) * 1e3, "runs": len(times[name]),
                     "gflops": 2 * macs / med / 1e9, "vs_best_eager_fp32": fastest_plain / med, **q,
                     "d_psnr_y": q["psnr_y"] - base_q})
    from rich.console import Console
    from rich.table import Table

    import onnxruntime

    con = Console(width=None if sys.stdout.isatty() else 160)
    t = Table(title=f"{a.model} x{scale}: {a.size}x{a.size} -> {a.size * scale}x{a.size * scale}, batch 1, "
                    f"{a.threads} threads, {2 * macs / 1e9:.1f} GFLOP; quality on the 10 held-out photos")
    for col in ("path", "median ms", "GFLOP/s", "vs best eager fp32", "PSNR-Y", "dPSNR-Y", "SSIM-Y", "PSNR-RGB",
                "runs"):
        t.add_column(col, justify="left" if col == "path" else "right", no_wrap=True)
    for r in rows:
        t.add_row(r["path"], f"{r['median_ms']:.0f}", f"{r['gflops']:.0f}", f"{r['vs_best_eager_fp32']:.2f}x",
                  f"{r['psnr_y']:.3f}", f"{r['d_psnr_y']:+.3f}", f"{r['ssim_y']:.4f}", f"{r['psnr_rgb']:.3f}",
                  str(r["runs"]))
    con.print(t)
    out = {"command": " ".join(["tools/bench_sr.py", *(argv if argv is not None else sys.argv[1:])]),
           "model": a.model, "torch": torch.__version__, "onnxruntime": onnxruntime.__version__,
           "threads": a.threads, "machine": platform.processor() or platform.machine(), "gflop": 2 * macs / 1e9,
           "rows": rows}
    if a.json:
        Path(a.json).write_text(json.dumps(out, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
