"""``ganzoo bench NAME [NAME...]``: the command-line front end of :func:`ganzoo.bench.run`.

Imported by ganzoo.cli when the parser is built, so only argparse-level work happens at import time.
Exit status: 0 when every cell ran or was reported unavailable/unsupported/oom, 1 when any cell failed
with an error (or the arguments were bad).
"""
from __future__ import annotations

import argparse
import logging
import shlex
import sys
from typing import Any

__all__ = ["add_arguments", "run", "parse_size", "parse_list"]

logger = logging.getLogger("ganzoo.bench")

_EPILOG = """\
backends: eager, eager-cl (channels_last), compile (torch.compile), triton (ganzoo.kernels fused path),
onnxruntime (CPU or CUDA EP), tensorrt (CUDA), openvino (CPU; fp32 and bf16 through the explicit precision hint),
openvino-int8 (CPU, static int8). Missing ones are reported as unavailable with the reason.
example: ganzoo bench srgan dcgan --backends eager,compile,onnxruntime --batch 1,4 -o bench-out
"""


def parse_list(text: str, what: str, convert=str) -> list[Any]:
    """``"1,8,32"`` -> ``[1, 8, 32]``; raises ValueError naming ``what`` on empty items or bad values."""
    items = [t.strip() for t in str(text).split(",")]
    if not items or any(not t for t in items):
        raise ValueError(f"--{what}: expected a comma-separated list, got {text!r}")
    try:
        return [convert(t) for t in items]
    except ValueError:
        raise ValueError(f"--{what}: expected a comma-separated list of {convert.__name__}, got {text!r}") from None


def parse_size(text: str | None) -> tuple[int, int] | None:
    """``"96x128"`` -> ``(96, 128)`` (H x W); ``"64"`` -> ``(64, 64)``; None -> None."""
    if text is None:
        return None
    parts = str(text).lower().split("x")
    try:
        dims = [int(p) for p in parts]
    except ValueError:
        dims = []
    if len(dims) == 1:
        dims = dims * 2
    if len(dims) != 2 or any(d < 1 for d in dims):
        raise ValueError(f"--size: expected HxW such as 96x128 (or one number), got {text!r}")
    return dims[0], dims[1]


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.description = "Time generators side by side across backends, batch sizes and dtypes."
    p.epilog = _EPILOG
    p.formatter_class = argparse.RawDescriptionHelpFormatter
    p.add_argument("names", nargs="*", metavar="NAME",
                   help="model names or name.tag (fnmatch patterns such as 'sr*' allowed)")
    p.add_argument("--backends", default="eager,compile,onnxruntime",
                   help="comma-separated backends (default: eager,compile,onnxruntime)")
    p.add_argument("--batch", default="1,8", help="comma-separated batch sizes (default: 1,8)")
    p.add_argument("--dtype", default="fp32", help="comma-separated dtypes: fp32, fp16, bf16 (default: fp32)")
    p.add_argument("--size", help="input HxW for fully convolutional models, e.g. 64x64 (fixed-size models ignore it)")
    p.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N (default: cpu)")
    p.add_argument("--warmup", type=int, default=3, help="untimed calls before timing (default: 3)")
    p.add_argument("--iters", type=int, default=10, help="minimum timed calls (default: 10)")
    p.add_argument("--min-time", type=float, default=0.5, dest="min_time",
                   help="minimum seconds of timed calls per cell (default: 0.5)")
    p.add_argument("--max-iters", type=int, default=10_000, help="stop timing after this many calls (default: 10000)")
    p.add_argument("--max-time", type=float, dest="max_time",
                   help="cap on the seconds one cell spends after its first call (keeps >= 1 timed call)")
    p.add_argument("--seed", type=int, default=0, help="seed of the random inputs (default: 0)")
    p.add_argument("--threads", type=int, help="torch (and onnxruntime) CPU threads for the run (default: torch's)")
    p.add_argument("--random-weights", action="store_true",
                   help="skip ganzoo.load and time randomly initialised models")
    p.add_argument("-o", "--output-dir", metavar="OUTDIR",
                   help="write OUTDIR/<prefix>.json (every figure) and OUTDIR/<prefix>.png (throughput plot)")
    p.add_argument("--prefix", default="bench", help="file name stem of the outputs (default: bench)")
    p.add_argument("--no-plot", action="store_true", help="write the JSON only")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument("--list-backends", action="store_true", help="list backends and whether they run here, then exit")


def _command(args: argparse.Namespace) -> list[str]:
    cmd = ["ganzoo", "bench", *args.names, "--backends", args.backends, "--batch", args.batch, "--dtype", args.dtype,
           "--device", args.device, "--warmup", str(args.warmup), "--iters", str(args.iters),
           "--min-time", str(args.min_time), "--seed", str(args.seed)]
    if args.size:
        cmd += ["--size", args.size]
    if args.max_time:
        cmd += ["--max-time", str(args.max_time)]
    if args.threads:
        cmd += ["--threads", str(args.threads)]
    if args.random_weights:
        cmd.append("--random-weights")
    if args.output_dir:
        cmd += ["-o", args.output_dir]
    return cmd


def _list_backends(device: str) -> int:
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    from .backends import get_backend, list_backends

    table = Table(title=f"ganzoo bench backends on {device}")
    for c in ("backend", "available", "dtypes", "description / reason"):
        table.add_column(c, overflow="fold")
    for name in list_backends():
        cls = get_backend(name)
        ok, why = cls.available(device)
        table.add_row(name, "yes" if ok else "no", ", ".join(cls.dtypes), escape(cls.description if ok else why))
    Console().print(table)
    return 0


def run(args: argparse.Namespace) -> int:
    """Run the benchmark described by ``args``; print the table; write JSON and PNG under ``-o``."""
    if args.list_backends:
        return _list_backends(args.device)
    if not args.names:
        raise ValueError("expected at least one model NAME (ganzoo list shows them)")
    backends = parse_list(args.backends, "backends")
    batches = parse_list(args.batch, "batch", int)
    dtypes = parse_list(args.dtype, "dtype")
    size = parse_size(args.size)

    from pathlib import Path

    from . import report
    from .runner import run as bench_run

    records = bench_run(args.names, backends=backends, batches=batches, dtypes=dtypes, size=size, device=args.device,
                        warmup=args.warmup, iters=args.iters, min_time_s=args.min_time, max_iters=args.max_iters,
                        max_time_s=args.max_time, seed=args.seed, pretrained=not args.random_weights,
                        threads=args.threads, progress=not args.no_progress)
    report.print_table(records)
    if args.output_dir:
        settings = {"names": args.names, "backends": backends, "batches": batches, "dtypes": dtypes,
                    "size": list(size) if size else None, "device": args.device, "warmup": args.warmup,
                    "iters": args.iters, "min_time_s": args.min_time, "max_iters": args.max_iters,
                    "max_time_s": args.max_time, "seed": args.seed, "pretrained": not args.random_weights,
                    "threads": args.threads}
        meta = report.make_meta(settings, command=_command(args), device=args.device)
        meta["argv"] = list(sys.argv)
        meta["command_line"] = shlex.join(_command(args))
        out = Path(args.output_dir)
        js = report.write_json(out / f"{args.prefix}.json", records, meta)
        print(f"wrote {js}")
        if not args.no_plot:
            png = report.write_plot(out / f"{args.prefix}.png", records)
            print(f"wrote {png}" if png else "no plot: no cell ran successfully")
    failed = [r for r in records if r.status == "error"]
    if failed:
        print(f"ganzoo bench: {len(failed)} of {len(records)} cells failed with an error", file=sys.stderr)
        return 1
    return 0
