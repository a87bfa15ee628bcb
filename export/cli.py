"""``ganzoo export``: ONNX files, TensorRT engines and Triton model repositories from the command line.

    ganzoo export srgan -o srgan.onnx                             # srgan.div2k: dynamic B/H/W, validated in ORT
    ganzoo export srresnet_x2 --random-weights -o srresnet_x2.onnx  # a tag without published weights
    ganzoo export dcgan.mnist --fp16 --opset 18 -o dcgan16.onnx
    ganzoo export srgan --format tensorrt --fp16 --batch 1:4:8 --size 32x32:64x64:128x128 -o srgan.engine
    ganzoo export dcgan --format triton-repo --batch 1:4:16 -o model_repository/
    ganzoo export dcgan --format triton-repo --triton-backend python-onnxruntime -o model_repository/  # CPU server
    ganzoo export srgan --format openvino -o srgan.xml                 # IR .xml/.bin, f32 hint, validated
    ganzoo export srresnet --format openvino --precision int8 --calibration 64 -o srresnet_int8.xml
    ganzoo export srresnet --format openvino --precision int8 --int8-keep-float auto -o srresnet_int8.xml  # mixed

This module is imported when ``ganzoo`` builds its parser: it imports nothing heavy at module level.
"""
from __future__ import annotations

import argparse
import json
import logging
import re
import sys
from typing import Any

logger = logging.getLogger("ganzoo.export")

FORMATS = ("onnx", "tensorrt", "triton-repo", "openvino")
OPENVINO_PRECISIONS = ("fp32", "bf16", "int8")  # ganzoo.export.openvino.PRECISIONS (not imported here)


def _batch(text: str) -> tuple[int, int, int]:
    parts = text.split(":")
    try:
        vals = [int(p) for p in parts]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected N or MIN:OPT:MAX (ints), got {text!r}") from None
    if len(vals) == 1:
        vals = vals * 3
    if len(vals) != 3 or not 1 <= vals[0] <= vals[1] <= vals[2]:
        raise argparse.ArgumentTypeError(f"expected MIN:OPT:MAX with 1 <= MIN <= OPT <= MAX, got {text!r}")
    return vals[0], vals[1], vals[2]


_SIZE_RE = re.compile(r"^\d+(x\d+)*$")


def _size(text: str) -> tuple[tuple[int, ...], ...]:
    """``64x64`` -> ((64, 64),); ``16x16:64x64:256x256`` -> three sizes (min, opt, max)."""
    parts = text.lower().split(":")
    if len(parts) not in (1, 3) or not all(_SIZE_RE.match(p) for p in parts):
        raise argparse.ArgumentTypeError(f"expected HxW or MINHxMINW:OPTHxOPTW:MAXHxMAXW, got {text!r}")
    sizes = tuple(tuple(int(v) for v in p.split("x")) for p in parts)
    if any(v < 1 for s in sizes for v in s) or len({len(s) for s in sizes}) != 1:
        raise argparse.ArgumentTypeError(f"sizes must be positive and of equal rank, got {text!r}")
    return sizes


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``ganzoo export``."""
    parser.add_argument("name", help="model name or name.tag (see `ganzoo list`)")
    parser.add_argument("--format", choices=FORMATS, default="onnx", help="what to write (default onnx)")
    parser.add_argument("-o", "--output", required=True,
                        help="output file (.onnx / .engine / .xml for openvino) or, for triton-repo, the repository "
                             "folder")
    parser.add_argument("--fp16", action="store_true", help="half precision (models that declare half support)")
    parser.add_argument("--precision", choices=OPENVINO_PRECISIONS, default=None,
                        help="openvino: fp32 (f32 hint), bf16 (bf16 hint) or int8 (static QDQ quantisation); "
                             "default fp32")
    parser.add_argument("--calibration", type=int, default=None, metavar="N",
                        help="openvino int8: number of calibration inputs (SR: training-pool LR crops; default 32)")
    parser.add_argument("--int8-keep-float", default=None, metavar="auto|first,last|NAMES",
                        help="openvino int8: nodes left in float: 'auto' (SR models: chosen by per-layer sensitivity "
                             "on training-pool crops to stay within --int8-budget-db of fp32 PSNR-Y), 'none', or "
                             "comma-separated 'first' / 'last' / ONNX node names (default first,last)")
    parser.add_argument("--int8-budget-db", type=float, default=None, metavar="DB",
                        help="openvino int8 with --int8-keep-float auto: largest mean PSNR-Y drop on the tuning "
                             "crops (default 0.03)")
    parser.add_argument("--force", action="store_true", help="allow --fp16 for models that declare no half support")
    parser.add_argument("--opset", type=int, default=None,
                        help="ONNX opset (default max(17, the model's measured minimum in ganzoo.export.opsets))")
    parser.add_argument("--batch", type=_batch, default=None, metavar="MIN:OPT:MAX",
                        help="batch range: one value fixes the batch; TensorRT profile / Triton max batch")
    parser.add_argument("--size", type=_size, default=None, metavar="HxW",
                        help="spatial size to trace at (or MIN:OPT:MAX sizes for a TensorRT profile)")
    parser.add_argument("--static-spatial", action="store_true", help="fix H/W at --size instead of keeping them dynamic")
    parser.add_argument("--no-validate", action="store_true", help="skip the numerical check against PyTorch")
    parser.add_argument("--simplify", action="store_true", help="simplify the ONNX graph with onnxslim")
    parser.add_argument("--no-optimize", action="store_true",
                        help="export the module as written, without the exact inference rewrites")
    parser.add_argument("--discriminator", action="store_true", help="export the discriminator instead")
    weights = parser.add_mutually_exclusive_group()
    weights.add_argument("--random-weights", action="store_true", help="export with random weights (no download)")
    weights.add_argument("--pretrained", action="store_true", help="fail unless published weights are loaded")
    parser.add_argument("--triton-backend", choices=("onnx", "tensorrt", "python-onnxruntime"), default="onnx",
                        help="what runs the model inside the Triton repository: onnx (onnxruntime_onnx) or "
                             "tensorrt (tensorrt_plan) for GPU servers, python-onnxruntime (python backend running "
                             "the validated ONNX file on CPU instances) for CPU servers (default onnx)")
    parser.add_argument("--dynamic-batching", action=argparse.BooleanOptionalAction, default=True,
                        help="triton-repo: let Triton batch concurrent requests (default on)")
    parser.add_argument("--model-name", default=None, help="Triton model name (default <arch>_<tag>)")
    parser.add_argument("--timing-cache", default=None, help="TensorRT timing cache file (read and updated)")
    parser.add_argument("--workspace", type=int, default=None, help="TensorRT workspace limit in MiB")
    parser.add_argument("--seed", type=int, default=None, help="seed of the validation inputs (default: fresh)")
    parser.add_argument("--json", action="store_true", help="print the result as JSON instead of a table")


def _pretrained(args: argparse.Namespace) -> bool | None:
    return False if args.random_weights else (True if args.pretrained else None)


def run(args: argparse.Namespace) -> int:
    """Run ``ganzoo export``; returns the exit status (errors raise and are reported by ganzoo.cli)."""
    dtype = "fp16" if args.fp16 else "fp32"
    size = args.size
    int8_opts = (args.calibration, getattr(args, "int8_keep_float", None), getattr(args, "int8_budget_db", None))
    if args.format != "openvino" and (args.precision is not None or any(o is not None for o in int8_opts)):
        raise ValueError(f"--precision and --calibration are options of --format openvino (so are --int8-keep-float "
                         f"and --int8-budget-db), got --format {args.format} (use --fp16 for half-precision ONNX / "
                         f"TensorRT)")
    if args.format == "openvino":
        return _run_openvino(args, size)
    if args.format == "onnx":
        return _run_onnx(args, dtype, size)
    if args.format == "tensorrt":
        return _run_tensorrt(args, dtype, size)
    return _run_triton(args, dtype, size)


def _run_onnx(args: argparse.Namespace, dtype: str, size: Any) -> int:
    from .onnx_export import to_onnx
    from .rewrite import summarize

    if size is not None and len(size) != 1:
        raise ValueError(f"--size takes one HxW for ONNX export, got {len(size)} sizes")
    kwargs: dict[str, Any] = {}
    if args.batch is not None:
        mn, opt, mx = args.batch
        if mn == mx:
            kwargs.update(dynamic_batch=False, batch=mn)
        else:
            kwargs.update(batch_range=(mn, mx), validation_batches=tuple(sorted({mn, opt})))
    if size is not None:
        kwargs["size"] = size[0]
    if args.static_spatial:
        kwargs["dynamic_spatial"] = False
    res = to_onnx(args.name, args.output, opset=args.opset, dtype=dtype, discriminator=args.discriminator,
                  simplify=args.simplify, validate=not args.no_validate, pretrained=_pretrained(args),
                  force=args.force, seed=args.seed, optimize=not args.no_optimize, **kwargs)
    _print_result(args, res.to_dict(), res.validation, f"wrote {res.path} ({res.size_bytes / 2**20:.1f} MiB, "
                  f"opset {res.opset}, {res.dtype}, {res.timing['total_s']:.1f} s)",
                  {"inputs": ", ".join(res.input_names), "outputs": ", ".join(res.output_names),
                   "dynamic axes": json.dumps(res.dynamic_axes),
                   "rewrites": summarize(res.rewrites)})
    return 0


def _run_openvino(args: argparse.Namespace, size: Any) -> int:
    from .openvino import to_openvino

    precision = args.precision or "fp32"
    if args.fp16:
        raise ValueError("--fp16 is not an OpenVINO precision; use --precision bf16 (or fp32, int8)")
    if args.discriminator:
        raise ValueError("--format openvino exports generators; got --discriminator (use --format onnx)")
    if args.calibration is not None and precision != "int8":
        raise ValueError(f"--calibration N needs --precision int8, got --precision {precision}")
    if (args.int8_keep_float is not None or args.int8_budget_db is not None) and precision != "int8":
        raise ValueError(f"--int8-keep-float / --int8-budget-db need --precision int8, got --precision {precision}")
    if args.int8_budget_db is not None and (args.int8_keep_float or "").strip() != "auto":
        raise ValueError("--int8-budget-db is the budget of --int8-keep-float auto")
    if size is not None and len(size) != 1:
        raise ValueError(f"--size takes one HxW for OpenVINO export, got {len(size)} sizes")
    kwargs: dict[str, Any] = {}
    if args.batch is not None:
        mn, opt, mx = args.batch
        if mn == mx:
            kwargs.update(dynamic_batch=False, batch=mn)
        else:
            kwargs.update(batch_range=(mn, mx), validation_batches=tuple(sorted({mn, opt})))
    if size is not None:
        kwargs["size"] = size[0]
    if args.static_spatial:
        kwargs["dynamic_spatial"] = False
    if args.int8_keep_float is not None:
        kwargs["keep_float"] = args.int8_keep_float
    if args.int8_budget_db is not None:
        kwargs["int8_budget_db"] = args.int8_budget_db
    res = to_openvino(args.name, args.output, precision, calibration=args.calibration, opset=args.opset,
                      validate=not args.no_validate, pretrained=_pretrained(args), seed=args.seed,
                      optimize=not args.no_optimize, **kwargs)
    size_mb = (res.path.stat().st_size + res.bin_path.stat().st_size) / 2**20
    details = {"inputs": ", ".join(res.input_names), "outputs": ", ".join(res.output_names),
               "inference precision hint": res.inference_precision_hint}
    if res.int8:
        details["int8"] = (f"{res.int8['calibration']} calibration inputs, {res.int8['quantize_linear']} "
                           f"QuantizeLinear, in float: {', '.join(res.int8['float_nodes']) or '-'}")
        auto = res.int8.get("auto")
        if auto:
            details["int8 auto"] = (f"{'within' if auto['reached'] else 'NOT within'} {auto['budget_db']:g} dB on "
                                    f"{auto['tuning']['n']} training-pool crops (dPSNR-Y {auto['d_psnr_y']:+.3f} dB, "
                                    f"{100 * auto['flop_share_float']:.1f}% of conv MACs in float): "
                                    f"{auto['stop_reason']}")
    _print_result(args, res.to_dict(), res.validation, f"wrote {res.path} + {res.bin_path.name} ({size_mb:.1f} MiB, "
                  f"{precision}, {res.timing['total_s']:.1f} s)", details)
    return 0


def _trt_size(size: Any) -> Any:
    if size is None:
        return None
    return size[0] if len(size) == 1 else size


def _run_tensorrt(args: argparse.Namespace, dtype: str, size: Any) -> int:
    from .tensorrt import to_tensorrt

    res = to_tensorrt(args.name, args.output, precision=dtype, batch=args.batch, size=_trt_size(size),
                      timing_cache=args.timing_cache, workspace=args.workspace * 2**20 if args.workspace else None,
                      opset=args.opset, pretrained=_pretrained(args), validate=not args.no_validate,
                      optimize=not args.no_optimize, force=args.force)
    d = {"path": str(res.path), "cached": res.cached, "key": res.key.to_dict(), "digest": res.key.digest,
         "timing": res.timing, "validation": res.validation.to_dict() if res.validation else None}
    _print_result(args, d, res.validation, f"{'reused' if res.cached else 'built'} {res.path} ({dtype}, key "
                  f"{res.key.digest})", {"profiles": json.dumps(res.key.to_dict()["profiles"])})
    return 0


def _run_triton(args: argparse.Namespace, dtype: str, size: Any) -> int:
    from .triton import to_triton_repo

    max_batch = args.batch[2] if args.batch is not None else 8
    prefs = sorted({args.batch[1], args.batch[2]}) if args.batch is not None else None
    tsize = _trt_size(size) if args.triton_backend == "tensorrt" else (size[0] if size else None)
    res = to_triton_repo(args.name, args.output, format=args.triton_backend, max_batch=max_batch,
                         model_name=args.model_name, dtype=dtype, opset=args.opset, pretrained=_pretrained(args),
                         validate=not args.no_validate, simplify=args.simplify, size=tsize,
                         preferred_batch_sizes=prefs, timing_cache=args.timing_cache, force=args.force,
                         dynamic_spatial=False if args.static_spatial else None, overwrite=True,
                         dynamic_batching=args.dynamic_batching,
                         optimize=not args.no_optimize)
    report = getattr(res.export, "validation", None)
    d = {"model_dir": str(res.model_dir), "config": str(res.config_path), "model_file": str(res.model_path),
         "max_batch_size": res.max_batch_size, "validation": report.to_dict() if report else None}
    _print_result(args, d, report, f"wrote Triton model {res.model_name!r} to {res.model_dir}",
                  {"config": res.config_path.read_text()})
    return 0


def _print_result(args: argparse.Namespace, data: dict[str, Any], report: Any, headline: str,
                  details: dict[str, str]) -> None:
    if args.json:
        print(json.dumps(data, indent=2, default=str))
        return
    from rich.console import Console

    con = Console()
    if report is not None:
        con.print(report.rich_table())
    elif args.no_validate:
        con.print("[yellow]validation skipped (--no-validate)[/yellow]")
    for k, v in details.items():
        con.print(f"[bold]{k}[/bold]: {v}")
    con.print(f"[green]{headline}[/green]")


def main(argv: list[str] | None = None) -> int:  # python -m ganzoo.export.cli
    p = argparse.ArgumentParser(prog="ganzoo export")
    add_arguments(p)
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    from ganzoo.errors import GanzooError

    from ganzoo.cli import one_line

    try:
        return run(args)
    except (GanzooError, ValueError, OSError) as e:
        print(f"ganzoo export: error: {one_line(e)}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
