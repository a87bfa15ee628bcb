"""Measurements behind the README's ``ganzoo upscale`` numbers: peak memory, time per tile, seam error vs overlap,
and the PSNR change of reduced precisions. Each prints one JSON object per line (and a short table on stderr).

    python tools/measure_upscale_memory.py memory --size 4000x3000                # small random model, peak RSS
    python tools/measure_upscale_memory.py tile-time --tile 256 --size 4000x3000  # real x4 model, one tile, extrapolated
    python tools/measure_upscale_memory.py seams --overlaps 0,8,16,24,32,48,64     # real x4 model, tiled vs untiled
    python tools/measure_upscale_memory.py dtype                                   # PSNR per dtype / backend

``memory`` runs the whole pipeline (tiling, band accumulation, uint8 output) on a random uint8 image with a small
random SRResNet x4 (1 block, width 8): what it measures is the pipeline's own memory, not the model's activations,
which grow with the tile (``tile-time`` reports the real model's; ``memory --model srresnet`` runs the real one). Peak RSS is the kernel's high-water mark
(VmHWM in /proc/self/status) of this process, so run one configuration per process.

``tile-time``, ``seams`` and ``dtype`` use ``ganzoo.load(--model)`` (default srresnet, the DIV2K weights).
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time

import numpy as np
import torch


def _size(text: str) -> tuple[int, int]:
    w, h = (int(v) for v in text.lower().split("x"))
    return w, h


def _peak_rss_mib() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    return float("nan")


def _emit(d: dict) -> None:
    print(json.dumps(d), flush=True)


def cmd_memory(args) -> None:
    import ganzoo
    from ganzoo.pipelines import Upscaler
    from ganzoo.pipelines.tiling import plan_tiles

    w, h = args.size
    torch.manual_seed(0)
    if args.model:
        model = _load(args.model)
    else:
        model = ganzoo.create("srresnet", num_blocks=1, width=8, output_range=(0.0, 1.0), output_act="tanh").eval()
    up = Upscaler(model, device="cpu")
    img = np.random.default_rng(0).integers(0, 256, (h, w, 3), dtype=np.uint8)
    base = _peak_rss_mib()
    t0 = time.perf_counter()
    out = up.upscale_array(img, tile=args.tile, tile_overlap=args.overlap, tile_batch=args.batch,
                           progress=not args.no_progress)
    dt = time.perf_counter() - t0
    plan = plan_tiles(h, w, args.tile, args.overlap)
    s = up.scale
    tiles = [r for r in range(len(plan.ys)) for _ in plan.xs]  # the tile row of each tile, row-major
    rows = max((plan.ys[tiles[min(i + args.batch, len(tiles)) - 1]] - plan.ys[tiles[i]]) * s + plan.tile_h * s
               for i in range(0, len(tiles), args.batch))  # the band tiled_apply allocates
    band = rows * (w * s) * 3 * 4
    _emit({"what": "memory", "model": args.model or "random srresnet x4, 1 block, width 8", "input": f"{w}x{h}", "output": f"{w * s}x{h * s}", "tile": args.tile,
           "overlap": args.overlap, "tile_batch": args.batch, "tiles": len(plan), "seconds": round(dt, 1),
           "peak_rss_mib": round(_peak_rss_mib(), 1), "rss_before_run_mib": round(base, 1),
           "input_mib": round(img.nbytes / 2**20, 1), "output_mib": round(out.nbytes / 2**20, 1),
           "band_mib": round(band / 2**20, 1),
           "naive_float32_accumulators_mib": round((w * s) * (h * s) * 4 * 4 / 2**20, 1),
           "threads": torch.get_num_threads(), "cpus": os.cpu_count()})


def _load(name: str):
    import ganzoo

    return ganzoo.load(name).eval()


def cmd_tile_time(args) -> None:
    from ganzoo.pipelines import Upscaler
    from ganzoo.pipelines.tiling import plan_tiles

    up = Upscaler(_load(args.model), device=args.device, dtype=args.dtype, backend=args.backend)
    t = args.tile
    x = np.random.default_rng(0).integers(0, 256, (t, t, 3), dtype=np.uint8)
    up.upscale_array(x[:32, :32], tile=None, progress=False)  # warm-up (allocator, oneDNN kernels)
    times = []
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        up.upscale_array(x, tile=None, progress=False)
        times.append(time.perf_counter() - t0)
    w, h = args.size
    plan = plan_tiles(h, w, t, args.overlap)
    per_tile = min(times)
    _emit({"what": "tile-time", "model": args.model, "backend": args.backend, "dtype": args.dtype,
           "device": str(up.device), "tile": t, "seconds_per_tile": round(per_tile, 2),
           "all_runs_s": [round(v, 2) for v in times], "image": f"{w}x{h}", "overlap": args.overlap,
           "tiles": len(plan), "extrapolated_seconds": round(per_tile * len(plan)),
           "lr_pixels_per_second": round(t * t / per_tile), "threads": torch.get_num_threads(),
           "peak_rss_mib_one_tile": round(_peak_rss_mib(), 1)})


def _photo_crops(names: list[str], side: int) -> list[tuple[str, np.ndarray]]:
    from skimage import data

    out = []
    for n in names:
        img = getattr(data, n)()
        hh, ww = img.shape[:2]
        y, x = (hh - side) // 2, (ww - side) // 2
        out.append((f"{n}[{y}:{y + side}, {x}:{x + side}]", np.ascontiguousarray(img[y:y + side, x:x + side, :3])))
    return out


def cmd_seams(args) -> None:
    """Tiled vs untiled on real photos with the real model: max |difference| in 8-bit levels (before rounding) for
    each overlap and blend, with two tiles side by side overlapping by exactly the overlap (the worst case: no
    extra overlap from rounding) and the crop's full height as the tile's."""
    from ganzoo.pipelines.tiling import tiled_apply

    model = _load(args.model)
    g = model.generator
    t = args.tile

    def fn(x):
        with torch.inference_mode():
            return g(x).clamp(0, 1)

    def run(img, tile, ov, blend):
        out = np.zeros((img.shape[0] * 4, img.shape[1] * 4, 3), np.float32)

        def sink(y0, y1, rows):
            out[y0:y1] = rows

        tiled_apply(img, fn, sink, scale=model.config.scale, out_channels=3, tile=tile, overlap=ov, blend=blend,
                    progress=False)
        return out

    blends = [float(b) for b in args.blends.split(",")]
    for name, crop in _photo_crops(args.photos.split(","), 2 * t):
        for ov in (int(v) for v in args.overlaps.split(",")):
            img = crop[:t, :2 * t - ov].astype(np.float32) / 255
            ref = run(img, None, 0, 0.5)
            errs = {f"blend={b:g}": round(float(np.abs(run(img, t, ov, b) - ref).max() * 255), 4) for b in blends}
            _emit({"what": "seams", "photo": name, "tile": t, "overlap": ov, "max_abs_err_levels": errs})


def _psnr(a: np.ndarray, b: np.ndarray, border: int = 4) -> float:
    a = a.astype(np.float64)[border:-border, border:-border]
    b = b.astype(np.float64)[border:-border, border:-border]
    mse = float(np.mean((a - b) ** 2))
    return float("inf") if mse == 0 else 10 * math.log10(255.0**2 / mse)


def cmd_dtype(args) -> None:
    """RGB PSNR (4-pixel border) against the HR photo and against the float32 eager result, per backend and dtype.
    The x4 LR is the HR crop shrunk with PIL BICUBIC. Reduced precisions are run here even when the model's metadata
    does not validate them (this is how that validation is measured): the tool clears the flag on its own copy."""
    import dataclasses

    from PIL import Image

    from ganzoo.pipelines import Upscaler

    model = _load(args.model)
    if model.pretrained_cfg is not None and not model.pretrained_cfg.half_precision:
        model.pretrained_cfg = dataclasses.replace(model.pretrained_cfg, half_precision=True)
    s = model.config.scale
    for name, hr in _photo_crops(args.photos.split(","), args.side):
        lr = np.asarray(Image.fromarray(hr).resize((args.side // s,) * 2, Image.BICUBIC))
        ref = None
        for backend, dtype in [("eager", "float32"), ("eager", "bfloat16"), ("eager", "float16"),
                               ("onnxruntime", "float32"), ("onnxruntime", "float16")]:
            if backend == "eager" and dtype == "float16" and args.device == "cpu" and not args.cpu_fp16:
                continue  # ~100x slower than float32 on CPU; --cpu-fp16 runs it anyway
            try:
                up = Upscaler(model, dtype=dtype, backend=backend, device=args.device)
                t0 = time.perf_counter()
                sr = up.upscale_array(lr, tile=args.tile, tile_overlap=args.overlap, progress=False)
                dt = time.perf_counter() - t0
            except Exception as e:  # noqa: BLE001 - a combination that does not run is reported, not hidden
                _emit({"what": "dtype", "photo": name, "backend": backend, "dtype": dtype,
                       "error": f"{type(e).__name__}: {e}"})
                continue
            if ref is None:
                ref = sr
            _emit({"what": "dtype", "photo": name, "backend": backend, "dtype": dtype, "device": args.device,
                   "psnr_vs_hr_db": round(_psnr(sr, hr), 3), "psnr_vs_fp32_eager_db": round(_psnr(sr, ref), 2),
                   "max_abs_diff_vs_fp32_levels": int(np.abs(sr.astype(int) - ref.astype(int)).max()),
                   "seconds": round(dt, 2)})


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    m = sub.add_parser("memory")
    m.add_argument("--size", type=_size, default=(4000, 3000), help="WxH of the LR input (default 4000x3000)")
    m.add_argument("--tile", type=int, default=256)
    m.add_argument("--overlap", type=int, default=32)
    m.add_argument("--batch", type=int, default=1)
    m.add_argument("--no-progress", action="store_true")
    m.add_argument("--model", default=None,
                   help="measure with ganzoo.load(MODEL) instead of the small random model (slow on CPU)")
    t = sub.add_parser("tile-time")
    t.add_argument("--model", default="srresnet")
    t.add_argument("--tile", type=int, default=256)
    t.add_argument("--overlap", type=int, default=32)
    t.add_argument("--size", type=_size, default=(4000, 3000))
    t.add_argument("--repeat", type=int, default=2)
    t.add_argument("--device", default="cpu")
    t.add_argument("--dtype", default="float32")
    t.add_argument("--backend", default="eager")
    s = sub.add_parser("seams")
    s.add_argument("--model", default="srresnet")
    s.add_argument("--tile", type=int, default=96)
    s.add_argument("--overlaps", default="0,8,16,24,32,48,64")
    s.add_argument("--blends", default="0,0.25,0.5,1")
    s.add_argument("--photos", default="coffee,chelsea")
    d = sub.add_parser("dtype")
    d.add_argument("--model", default="srresnet")
    d.add_argument("--photos", default="coffee,chelsea,astronaut")
    d.add_argument("--side", type=int, default=256, help="HR crop side (default 256; LR side // scale)")
    d.add_argument("--tile", type=int, default=256)
    d.add_argument("--overlap", type=int, default=32)
    d.add_argument("--device", default="cpu")
    d.add_argument("--cpu-fp16", action="store_true", dest="cpu_fp16")
    args = p.parse_args(argv)
    {"memory": cmd_memory, "tile-time": cmd_tile_time, "seams": cmd_seams, "dtype": cmd_dtype}[args.cmd](args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
