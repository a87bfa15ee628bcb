#!/usr/bin/env python
"""GPU benchmark of ganzoo's fused Triton kernels: per layer and end to end, next to the roofline floor.

    python tools/bench_kernels.py                           # srresnet, dcgan, tgan, drgan, gan3d; fp16; batch 1, 8
    python tools/bench_kernels.py --models srresnet --size 256 --batches 1,16 --dtype fp16 --out results/

For each model (random weights, eval mode; timings do not depend on the values):

* per fused layer (``ganzoo.optimize(..., backend="triton")``'s report), at its real input shape: the fused kernel,
  eager cuDNN on the original modules (NCHW and channels-last, ``cudnn.benchmark=True``) and
  ``torch.compile(mode="max-autotune-no-cudagraphs")`` of the original modules with frozen weights;
* end to end: eager (NCHW, channels-last), torch.compile (max-autotune-no-cudagraphs, frozen), the fused model,
  ONNX Runtime (CUDA EP, IO binding) and TensorRT where installed (through ganzoo.bench's backends);

at batch 1 (replayed as a CUDA graph where the callable allows it) and at the larger batches. Each time is reported
with the achieved TFLOP/s and GB/s (useful FLOPs and minimum traffic of :mod:`ganzoo.kernels.roofline`) and the
roofline floor of the GPU (peaks by name; ``--peak-tflops`` / ``--peak-gbps`` for others). ``--sweep`` also times
each fused layer under several block configs. Results: ``bench_kernels.json`` and ``bench_kernels.md`` in ``--out``
(default ``$OUT`` or ``bench-kernels-out``).

Needs a CUDA GPU and the triton package: without CUDA it exits with status 2 and says so. The FLOP / byte tables
(:func:`roofline_rows`) run anywhere.
"""
from __future__ import annotations

import argparse
import copy
import json
import logging
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any, Callable, Sequence

import torch
from torch import nn

logger = logging.getLogger("ganzoo.bench_kernels")

DEFAULT_MODELS = ("srresnet", "dcgan", "tgan", "drgan", "gan3d", "pggan_inpaint")
_DT = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}
SWEEP = [(64, 64, 32, 4, 3), (128, 64, 32, 4, 3), (128, 128, 32, 8, 3), (64, 128, 64, 4, 4), (128, 64, 64, 8, 4),
         (256, 64, 32, 8, 3)]


def _build(name: str, dtype: torch.dtype, device: str) -> nn.Module:
    import ganzoo

    kwargs = {"pggan_inpaint": {"norm": "bn", "upsample": "nearest"}}.get(name, {})
    return ganzoo.create(name, **kwargs).to(device=device, dtype=dtype).eval()


def _inputs(model: nn.Module, batch: int, size: int | None, dtype: torch.dtype, device: str) -> tuple:
    kw: dict[str, Any] = {}
    specs = getattr(model, "specs", None)
    if size and specs is not None and specs.dynamic_spatial:
        kw["size"] = (size, size)
    xs = model.sample_inputs(batch, **kw)
    return tuple(x.to(device=device, dtype=dtype) if x.is_floating_point() else x.to(device) for x in xs)


def roofline_rows(model: nn.Module, dtype: str, batch: int, gpu: str, size: int | None = None,
                  peak: tuple[float, float] | None = None) -> list[dict[str, Any]]:
    """Per fused layer of ``model`` optimised in ``dtype`` at ``batch``: FLOPs, minimum and unfused bytes, FLOP/byte
    and the roofline floor (ms) on ``gpu`` (or ``peak`` = (FLOP/s, bytes/s)). Runs on the CPU (meta tensors)."""
    import ganzoo
    from ganzoo.kernels import roofline

    dt = _DT[dtype]
    fast = ganzoo.optimize(copy.deepcopy(model).cpu(), backend="reference", dtype=dt)
    peak = peak or roofline.peak_for(gpu, dtype)
    xs = _inputs(fast, batch, size, dt, "cpu")
    rows = []
    for c in roofline.model_costs(fast, xs):
        row = {"layer": c.name, "op": c.op, "shape": c.shape, "flops": c.flops, "bytes": c.bytes,
               "unfused_bytes": c.unfused_bytes, "flop_per_byte": round(c.intensity, 1)}
        if peak is not None:
            row["floor_ms"] = c.floor_s(*peak) * 1e3
        rows.append(row)
    return rows


# --------------------------------------------------------------------------------------------------- timing
def time_ms(fn: Callable[[], Any], *, warmup: int, iters: int, graph: bool = False, repeats: int = 3) -> float:
    """Median over ``repeats`` of the mean time of ``iters`` back-to-back calls (ms). ``graph``: capture one call
    as a CUDA graph and replay it (batch 1: removes launch overhead); falls back to plain calls if capture fails."""
    run = fn
    if graph:
        try:
            s = torch.cuda.Stream()
            s.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(s):
                for _ in range(3):
                    fn()
            torch.cuda.current_stream().wait_stream(s)
            g = torch.cuda.CUDAGraph()
            with torch.cuda.graph(g):
                fn()
            run = g.replay
        except Exception as e:  # noqa: BLE001 - e.g. ONNX Runtime / host syncs: time the plain calls
            logger.info("CUDA graph capture failed (%s: %s); timing plain calls", type(e).__name__, e)
            torch.cuda.synchronize()
            run = fn
    for _ in range(warmup):
        run()
    torch.cuda.synchronize()
    means = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(iters):
            run()
        torch.cuda.synchronize()
        means.append((time.perf_counter() - t0) * 1e3 / iters)
    return statistics.median(means)


def _cl(m: nn.Module, dims: int) -> nn.Module:
    fmt = torch.channels_last if dims == 4 else torch.channels_last_3d
    return copy.deepcopy(m).to(memory_format=fmt)


def _compiled(m: nn.Module) -> Callable:
    import torch._inductor.config as cfg

    cfg.freezing = True  # constant weights folded into the graph (inference)
    return torch.compile(copy.deepcopy(m), mode="max-autotune-no-cudagraphs", dynamic=False)


def _top_level(paths: Sequence[str]) -> list[str]:
    return [p for p in paths if not any(p != q and p.startswith(q + ".") for q in paths)]


def _original_block(model: nn.Module, consumed: Sequence[str]) -> nn.Module:
    mods = [model.get_submodule(p) for p in _top_level(consumed)]
    return copy.deepcopy(mods[0] if len(mods) == 1 else nn.Sequential(*mods))


def _entry(label: str, ms: float | None, flops: float, nbytes: float, floor_ms: float | None, **extra) -> dict:
    row = {"impl": label, "ms": ms, **extra}
    if ms:
        row["tflops"] = flops / ms / 1e9
        row["gbps"] = nbytes / ms / 1e6
        if floor_ms:
            row["floor_ms"] = floor_ms
            row["x_floor"] = ms / floor_ms
    return row


def _try(label: str, fn: Callable[[], float]) -> tuple[float | None, str]:
    try:
        return fn(), ""
    except Exception as e:  # noqa: BLE001 - one failing implementation must not stop the table
        logger.warning("%s failed: %s: %s", label, type(e).__name__, str(e)[:300])
        return None, f"{type(e).__name__}: {str(e)[:200]}"


def bench_layers(name: str, model: nn.Module, fast: nn.Module, xs: tuple, args: argparse.Namespace,
                 peak: tuple[float, float] | None, graph: bool) -> list[dict]:
    from ganzoo.kernels import roofline, triton_impl
    from ganzoo.kernels.fuse import FUSED_TYPES

    seen: dict[str, tuple[torch.Size, torch.Size]] = {}
    names = {f.name for f in fast.fusion_report.fused}
    hooks = [mod.register_forward_hook(lambda m, a, o, lname=lname: seen.setdefault(lname, (a[0].shape, o.shape)))
             for lname, mod in fast.named_modules() if lname in names and isinstance(mod, FUSED_TYPES)]
    with torch.no_grad():
        fast(*xs)
    for h in hooks:
        h.remove()
    rows = []
    it = dict(warmup=args.warmup, iters=args.iters)
    for layer in fast.fusion_report.fused:
        if layer.name not in seen:
            continue
        in_shape, _ = seen[layer.name]
        fmod = fast.get_submodule(layer.name)
        orig = _original_block(model, layer.consumed)
        x = torch.randn(in_shape, device="cuda", dtype=_DT[args.dtype])
        dims = x.dim()
        xcl = x.contiguous(memory_format=torch.channels_last if dims == 4 else torch.channels_last_3d)
        with torch.no_grad():
            if hasattr(fmod, "conv2"):  # a residual block: cost of its two convs
                c1 = roofline.module_cost(fmod.conv1, x, fmod.conv1(x))
                h = fmod.conv1(x)
                c2 = roofline.module_cost(fmod.conv2, h, fmod.conv2(h, residual=x), residual=x)
                flops, nbytes = c1.flops + c2.flops, c1.bytes + c2.bytes
            else:
                c = roofline.module_cost(fmod, x, fmod(x))
                flops, nbytes = c.flops, c.bytes
        floor = roofline.floor_seconds(flops, nbytes, *peak) * 1e3 if peak else None
        base = {"model": name, "layer": layer.name, "op": layer.op, "detail": layer.detail, "batch": x.shape[0],
                "flops": flops, "bytes": nbytes}
        with torch.no_grad():
            impls: list[tuple[str, Callable[[], float]]] = [
                ("fused-triton", lambda: time_ms(lambda: fmod(xcl), graph=graph, **it)),
                ("eager-nchw", lambda: time_ms(lambda: orig(x), graph=graph, **it)),
                ("eager-channels-last", lambda: time_ms(lambda m=_cl(orig, dims): m(xcl), graph=graph, **it)),
            ]
            if not args.no_compile:
                impls.append(("compile-max-autotune", lambda: time_ms(lambda f=_compiled(orig): f(x), graph=graph,
                                                                      **it)))
            for label, fn in impls:
                ms, err = _try(f"{name} {layer.name} {label}", fn)
                rows.append({**base, **_entry(label, ms, flops, nbytes, floor), **({"error": err} if err else {})})
            if args.sweep and not hasattr(fmod, "conv2"):
                for cfg in SWEEP:
                    bc = triton_impl.BlockConfig(*cfg)
                    ms, err = _try(f"{layer.name} {cfg}", lambda bc=bc: time_ms(
                        lambda: _launch_with(fmod, xcl, bc), graph=graph, **it))
                    rows.append({**base, **_entry(f"fused-triton {cfg}", ms, flops, nbytes, floor)})
        torch._dynamo.reset()
    return rows


def _launch_with(fmod: nn.Module, x: torch.Tensor, cfg) -> torch.Tensor:
    from ganzoo.kernels import triton_impl as T
    from ganzoo.kernels.fuse import FusedConv2d, FusedConvShuffle, FusedConvTranspose, FusedUpsampleConv

    if isinstance(fmod, FusedConv2d):
        return T.conv2d_act(x, fmod.weight, fmod.bias, fmod.alpha, None, fmod.stride, fmod.padding, fmod.dilation,
                            fmod.act, fmod.act_param, config=cfg)
    if isinstance(fmod, FusedConvShuffle):
        return T.conv2d_shuffle_act(x, fmod.weight, fmod.bias, fmod.alpha, fmod.upscale, fmod.act, fmod.act_param,
                                    config=cfg)
    if isinstance(fmod, FusedConvTranspose):
        return T.conv_transpose_act(x, fmod.weight, fmod.bias, fmod.alpha, fmod.stride, fmod.padding,
                                    fmod.output_padding, fmod.crop, fmod.act, fmod.act_param, config=cfg)
    assert isinstance(fmod, FusedUpsampleConv)
    return T.upsample2x_conv3x3_act(x, fmod.weight, fmod.bias, fmod.alpha, fmod.act, fmod.act_param, config=cfg)


def bench_end_to_end(name: str, model: nn.Module, fast: nn.Module, xs: tuple, args: argparse.Namespace,
                     peak: tuple[float, float] | None, graph: bool) -> list[dict]:
    from ganzoo.bench.backends import OnnxRuntimeBackend, TensorRTBackend, generator_module
    from ganzoo.kernels import roofline

    costs = roofline.model_costs(fast, xs)
    flops, nbytes = sum(c.flops for c in costs), sum(c.bytes for c in costs)
    floor = roofline.floor_seconds(flops, nbytes, *peak) * 1e3 if peak else None
    gen = generator_module(model)
    dims = xs[0].dim()
    it = dict(warmup=args.warmup, iters=args.iters)
    base = {"model": name, "layer": "<end to end>", "op": "", "batch": xs[0].shape[0], "flops": flops,
            "bytes": nbytes, "note": "flops/bytes: fused layers only"}
    rows = []
    with torch.no_grad():
        impls: list[tuple[str, Callable[[], float]]] = [
            ("fused-triton", lambda: time_ms(lambda: fast(*xs), graph=graph, **it)),
            ("eager-nchw", lambda: time_ms(lambda: gen(*xs), graph=graph, **it)),
            ("eager-channels-last", lambda: time_ms(lambda m=_cl(gen, dims): m(*[
                x.contiguous(memory_format=torch.channels_last) if x.dim() == 4 else x for x in xs]), graph=graph,
                **it)),
        ]
        if not args.no_compile:
            impls.append(("compile-max-autotune", lambda: time_ms(lambda f=_compiled(gen): f(*xs), graph=graph, **it)))
        dtype = next(k for k, v in _DT.items() if v == xs[0].dtype) if xs[0].is_floating_point() else args.dtype
        for label, cls, skip in (("onnxruntime-cuda", OnnxRuntimeBackend, args.no_ort),
                                 ("tensorrt", TensorRTBackend, args.no_trt)):
            ok, why = cls.available("cuda")
            if skip or not ok or dtype not in cls.dtypes:
                rows.append({**base, "impl": label, "ms": None, "skipped": why or "disabled or dtype unsupported"})
                continue

            def run(cls=cls):
                be = cls()
                try:
                    be.prepare(model, xs, dtype, "cuda")
                    feed = be.adapt_inputs(xs)
                    return time_ms(lambda: be(feed), graph=False, **it)
                finally:
                    be.close()

            impls.append((label, run))
        for label, fn in impls:
            ms, err = _try(f"{name} end-to-end {label}", fn)
            rows.append({**base, **_entry(label, ms, flops, nbytes, floor), **({"error": err} if err else {})})
    torch._dynamo.reset()
    return rows


def _markdown(rows: list[dict]) -> str:
    out = ["| model | layer | op | batch | impl | ms | TFLOP/s | GB/s | floor ms | x floor |",
           "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        def f(k, fmt="{:.3f}"):
            v = r.get(k)
            return fmt.format(v) if isinstance(v, (int, float)) and v is not None else (r.get("error") or
                                                                                       r.get("skipped") or "-")[:60]
        out.append(f"| {r['model']} | {r['layer']} | {r.get('op', '')} | {r.get('batch', '')} | {r['impl']} | "
                   f"{f('ms')} | {f('tflops', '{:.1f}')} | {f('gbps', '{:.0f}')} | {f('floor_ms')} | "
                   f"{f('x_floor', '{:.2f}')} |")
    return "\n".join(out) + "\n"


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--models", default=",".join(DEFAULT_MODELS), help="comma-separated registry names")
    p.add_argument("--batches", default="1,8", help="batch sizes; batch 1 is replayed as a CUDA graph")
    p.add_argument("--dtype", default="fp16", choices=sorted(_DT))
    p.add_argument("--size", type=int, default=256, help="input side of fully convolutional models (SR: LR side)")
    p.add_argument("--warmup", type=int, default=10)
    p.add_argument("--iters", type=int, default=50)
    p.add_argument("--out", default=os.environ.get("OUT") or "bench-kernels-out")
    p.add_argument("--no-compile", action="store_true", help="skip torch.compile (minutes of autotuning)")
    p.add_argument("--no-ort", action="store_true")
    p.add_argument("--no-trt", action="store_true")
    p.add_argument("--no-layers", action="store_true", help="end to end only")
    p.add_argument("--sweep", action="store_true", help="also time each fused layer under several block configs")
    p.add_argument("--peak-tflops", type=float, help="the GPU's dense peak for --dtype (default: by GPU name)")
    p.add_argument("--peak-gbps", type=float, help="the GPU's memory bandwidth (default: by GPU name)")
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    args = parse_args(argv)
    if not torch.cuda.is_available():
        logger.error("tools/bench_kernels.py needs a CUDA GPU: torch.cuda.is_available() is False (torch %s, CUDA "
                     "build %s). The FLOP/byte tables run anywhere: ganzoo.kernels.roofline.model_costs.",
                     torch.__version__, torch.version.cuda)
        return 2
    import importlib.util

    if importlib.util.find_spec("triton") is None:
        logger.error("tools/bench_kernels.py needs the triton package (pip install 'ganzoo[triton]')")
        return 2
    import ganzoo
    from ganzoo.kernels import roofline

    torch.backends.cudnn.benchmark = True
    gpu = torch.cuda.get_device_name()
    peak = (args.peak_tflops * 1e12, args.peak_gbps * 1e9) if args.peak_tflops and args.peak_gbps else \
        roofline.peak_for(gpu, args.dtype)
    if peak is None:
        logger.warning("no peak numbers for %r: pass --peak-tflops and --peak-gbps for the roofline columns", gpu)
    dt = _DT[args.dtype]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    rows: list[dict] = []
    for name in [m.strip() for m in args.models.split(",") if m.strip()]:
        model = _build(name, dt, "cuda")
        fast = ganzoo.optimize(model, backend="triton", dtype=dt)
        logger.info("%s", fast.fusion_report)
        for b in [int(v) for v in args.batches.split(",")]:
            xs = _inputs(model, b, args.size, dt, "cuda")
            graph = b == 1
            if not args.no_layers:
                rows += bench_layers(name, model, fast, xs, args, peak, graph)
            rows += bench_end_to_end(name, model, fast, xs, args, peak, graph)
            (out / "bench_kernels.json").write_text(json.dumps({
                "gpu": gpu, "torch": torch.__version__, "dtype": args.dtype, "peak": peak, "rows": rows}, indent=1))
        rep = fast.fusion_report
        rows.append({"model": name, "layer": "<report>", "impl": "fusion report", "ms": None,
                     "skipped": f"{len(rep.fused)} fused, {len(rep.fallbacks)} fallbacks"})
        del model, fast
        torch.cuda.empty_cache()
    (out / "bench_kernels.md").write_text(f"GPU: {gpu}, torch {torch.__version__}, {args.dtype}\n\n" + _markdown(rows))
    logger.info("wrote %s and %s", out / "bench_kernels.json", out / "bench_kernels.md")
    sys.stdout.write(_markdown(rows))  # the table is the script's output
    return 0


if __name__ == "__main__":
    sys.exit(main())
