#!/usr/bin/env python
"""Every generator family on the CPU at batch 1 and 8: eager, ganzoo's ONNX in ONNX Runtime and its OpenVINO IRs.

    python tools/bench_generators.py --threads 4 --markdown bench_generators.md --json bench_generators.json
    python tools/bench_generators.py --models dcgan_32,srresnet_x2 --batches 1,2 --quick --threads 1
    python tools/bench_generators.py --precision-json prec.json   # the bf16 rows tools/eval_precision.py validated

The table of tools/bench_cpu.py (SRResNet x4 only) for one representative model of every family (issue 16, item 3):
DCGAN 64x64 and 32x32, SRResNet x2 / x4 / x8, PG-GAN inpainting, 3D-GAN, DR-GAN and TGAN, each at every
``--batches`` size. Paths per (model, batch): PyTorch eager fp32 NCHW and channels-last (``channels_last_3d`` for
models with 3-D convolutions), ganzoo's validated ONNX export (:func:`ganzoo.export.to_onnx`) in ONNX Runtime, and
ganzoo's OpenVINO IR (:func:`ganzoo.export.openvino.to_openvino`) in fp32 and bf16, each compiled with the
precision hint set explicitly and static input shapes (:func:`ganzoo.export.openvino.compile_ir`). Each model is
exported once (dynamic batch) and compiled per batch.

Sizes: fixed-size generators at their own size (latent codes, DR-GAN's 96x96 faces); SR models at ``--sr-size``
(LR side, default 64: batch 8 of x8 is already ~0.6 TFLOP), PG-GAN inpainting at ``--inpaint-size`` (default 256,
image + mask), the same size at every batch so that ms per item compares across batches. Inputs:
``model.sample_inputs`` (seeded). Weights: the tag's published ones where it has them (``ganzoo.load``), random
otherwise (``ganzoo.create``); the table says which (timing does not depend on them, output errors may).

Timing: tools/bench_export.py's harness (blocks of runs cycling through the paths, one untimed warm-up per block,
medians of at least ``--min-runs``, bounded by ``--budget`` seconds per (model, batch)). FLOPs: 2 x the
multiply-accumulates of every Conv1d/2d/3d, ConvTranspose1d/2d/3d and Linear (:func:`count_macs`; normalisation,
activations and bias adds are left out); effective GFLOP/s = that count / median time. Output error: the largest
|difference| from eager fp32 NCHW on the timed input, and that divided by the largest |eager output| ("rel").
A path that fails (an export the family does not support, a compile error, ...) is a row with the error's first
line; the run goes on.

"validated": fp32 paths carry ganzoo's own elementwise validation (to_onnx / to_openvino against PyTorch). bf16 is
called validated only where a tools/eval_precision.py JSON (``--precision-json``, task metric |dPSNR-Y| <= 0.05 dB)
says so for that model; every other bf16 row gives its output error instead.
"""
from __future__ import annotations

import argparse
import copy
import datetime
import json
import logging
import math
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch
from torch import nn

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_cpu import _validated, cpu_info, versions  # noqa: E402  (machine record, eval_precision lookup)
from bench_export import _session, _time_blocks  # noqa: E402  (the shared timing harness)
from bench_sr import _macs as _sr_conv2d_macs  # noqa: E402  (cross-check of the count on SR models)

import ganzoo  # noqa: E402
from ganzoo.export.pipeline import sample_inputs  # noqa: E402

logger = logging.getLogger("ganzoo.bench_generators")

#: one representative model per generator family (the default --models)
DEFAULT_MODELS = ("dcgan", "dcgan_32", "srresnet_x2", "srresnet", "srresnet_x8", "pggan_inpaint", "gan3d_32",
                  "drgan", "tgan")
EAGER = ("eager fp32 NCHW", "eager fp32 channels-last")
ONNX = "ganzoo ONNX fp32 in ORT"
OV_PRECISIONS = ("fp32", "bf16")
PATHS = (*EAGER, ONNX, *(f"ganzoo OpenVINO {p}" for p in OV_PRECISIONS))
QUICK = {"sr_size": 16, "inpaint_size": 64, "budget": 0.0, "min_runs": 1}

_CONVS = (nn.Conv1d, nn.Conv2d, nn.Conv3d)
_TRANSPOSED = (nn.ConvTranspose1d, nn.ConvTranspose2d, nn.ConvTranspose3d)


def count_macs(module: nn.Module, inputs: Sequence[torch.Tensor]) -> int:
    """Multiply-accumulates of one forward of ``module(*inputs)``, over every convolution (1-D/2-D/3-D, direct
    and transposed) and Linear layer. A direct conv: output elements x in_channels/groups x kernel taps; a
    transposed conv: *input* elements x out_channels/groups x kernel taps (each input value is scattered over the
    kernel; the zeros a strided transposed conv would insert are not counted); Linear: output elements x
    in_features. (tools/bench_sr.py's ``_macs`` counts Conv2d only, on a 3-channel image.)"""
    total = 0

    def hook(m: nn.Module, inp: tuple[torch.Tensor, ...], out: torch.Tensor) -> None:
        nonlocal total
        if isinstance(m, nn.Linear):
            total += out.numel() * m.in_features
        elif isinstance(m, _TRANSPOSED):
            total += inp[0].numel() * (m.out_channels // m.groups) * math.prod(m.kernel_size)
        else:
            total += out.numel() * (m.in_channels // m.groups) * math.prod(m.kernel_size)

    handles = [m.register_forward_hook(hook) for m in module.modules()
               if isinstance(m, (*_CONVS, *_TRANSPOSED, nn.Linear))]
    try:
        with torch.inference_mode():
            module(*inputs)
    finally:
        for h in handles:
            h.remove()
    return total


def _first_line(e: BaseException) -> str:
    text = str(e).strip()
    return f"{type(e).__name__}: {text.splitlines()[0] if text else ''}"[:300]


def _is_sr(model: Any) -> bool:
    scale = getattr(model.config, "scale", None)
    return isinstance(scale, int) and not isinstance(scale, bool) and len(model.specs.inputs) == 1


def run_size(model: Any, sr_size: int, inpaint_size: int) -> tuple[int, ...] | None:
    """The spatial size a model is timed at: None for fixed-size generators, else ``sr_size`` (LR side) for SR
    models and ``inpaint_size`` for the others, rounded up to the model's size multiple and minimum."""
    symbols = model.specs.spatial_symbols
    if not symbols or not model.specs.dynamic_spatial:
        return None
    side = sr_size if _is_sr(model) else inpaint_size
    m = max(int(model.specs.size_multiple or 1), 1)
    side = max(side, int(model.specs.min_size or 1))
    return tuple([int(math.ceil(side / m) * m)] * len(symbols))


def load_model(name: str, random_weights: bool) -> tuple[Any, str]:
    """(model in eval mode, "published" / "random"); a failed download falls back to random weights, said so."""
    from ganzoo.registry import resolve_pretrained_cfg

    cfg = resolve_pretrained_cfg(name)
    torch.manual_seed(0)
    if cfg.has_weights and not random_weights:
        try:
            return ganzoo.load(cfg.name).eval(), "published"
        except Exception as e:  # noqa: BLE001 - offline, corrupt cache: time random weights instead
            logger.warning("%s: cannot load the published weights (%s); timing random ones", cfg.name, e)
            return ganzoo.create(cfg.name).eval(), f"random (load failed: {_first_line(e)})"
    return ganzoo.create(cfg.name).eval(), "random"


def _layout(gen: nn.Module) -> torch.memory_format:
    """channels_last_3d for a generator with 3-D convolutions (5-D weights), channels_last otherwise."""
    return torch.channels_last_3d if any(p.dim() == 5 for p in gen.parameters()) else torch.channels_last


def _to_layout(x: torch.Tensor, fmt: torch.memory_format) -> torch.Tensor:
    rank = 5 if fmt == torch.channels_last_3d else 4
    return x.contiguous(memory_format=fmt) if x.dim() == rank else x


def _eager(gen: nn.Module, xs: Sequence[torch.Tensor]) -> Callable[[], Any]:
    def run() -> Any:
        with torch.inference_mode():
            return gen(*xs)
    return run


def _outputs(out: Any) -> list[np.ndarray]:
    """A path's output as float32 arrays: eager tensors (any nesting), ORT's list, OpenVINO's OVDict."""
    from ganzoo.utils import flatten_outputs

    if isinstance(out, (torch.Tensor, tuple)) or (isinstance(out, list) and out and isinstance(out[0], torch.Tensor)):
        return [t.detach().float().contiguous().numpy() for t in flatten_outputs(out)]
    if isinstance(out, list):
        return [np.asarray(o, dtype=np.float32) for o in out]
    return [np.asarray(o, dtype=np.float32) for o in out.values()]  # openvino OVDict, in output order


def _errors(out: list[np.ndarray], ref: list[np.ndarray]) -> tuple[float, float]:
    """(max |out - ref|, that / max |ref|) over every output."""
    if len(out) != len(ref) or any(o.shape != r.shape for o, r in zip(out, ref)):
        raise ValueError(f"output shapes {[o.shape for o in out]} differ from eager's {[r.shape for r in ref]}")
    err = max(float(np.abs(o - r).max()) for o, r in zip(out, ref))
    scale = max(float(np.abs(r).max()) for r in ref)
    return err, err / scale if scale else float("inf")


def export_model(model: Any, tmp: Path, threads: int) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """Export once per model: path -> artifact (an ORT session, an OpenVINOResult) or the exception that stopped
    it, and path -> {check, export_s}."""
    from ganzoo.export import ValidationError, to_onnx
    from ganzoo.export.openvino import to_openvino

    arts: dict[str, Any] = {}
    meta: dict[str, dict[str, Any]] = {}
    t0 = time.perf_counter()
    try:
        res = to_onnx(model, tmp / "ganzoo.onnx")  # validated in ONNX Runtime against PyTorch (fp32 tolerance)
        arts[ONNX] = (_session(res.path, threads), res.input_names)
        meta[ONNX] = {"check": "to_onnx: " + ("passed" if res.validation.passed else "FAILED"),
                      "validation_passed": bool(res.validation.passed)}
    except Exception as e:  # noqa: BLE001 - one path's failure is a row, not a crash
        arts[ONNX] = e
    meta.setdefault(ONNX, {})["export_s"] = time.perf_counter() - t0
    for precision in OV_PRECISIONS:
        label = f"ganzoo OpenVINO {precision}"
        t0 = time.perf_counter()
        out = tmp / f"ov_{precision}.xml"
        try:
            try:
                arts[label] = to_openvino(model, out, precision, threads=threads)
                check = "passed"
            except ValidationError as e:  # timed anyway; bf16's real check is tools/eval_precision.py's PSNR
                logger.warning("%s %s: elementwise check failed (%s); timed anyway", model.model_name, label,
                               _first_line(e))
                arts[label] = to_openvino(model, out, precision, threads=threads, validate=False)
                check = "FAILED"
            meta[label] = {"check": f"to_openvino {precision}: {check}", "validation_passed": check == "passed"}
        except Exception as e:  # noqa: BLE001
            arts[label] = e
        meta.setdefault(label, {})["export_s"] = time.perf_counter() - t0
    return arts, meta


def build_calls(model: Any, arts: dict[str, Any], xs: Sequence[torch.Tensor],
                threads: int) -> dict[str, Callable[[], Any] | BaseException]:
    """path -> zero-argument timed call on ``xs`` (or the exception that prevented building it)."""
    from ganzoo.export.openvino import compile_ir

    gen = model.generator.eval()
    calls: dict[str, Callable[[], Any] | BaseException] = {"eager fp32 NCHW": _eager(gen, xs)}
    try:
        fmt = _layout(gen)
        calls["eager fp32 channels-last"] = _eager(copy.deepcopy(gen).to(memory_format=fmt),
                                                   [_to_layout(x, fmt) for x in xs])
    except Exception as e:  # noqa: BLE001
        calls["eager fp32 channels-last"] = e
    arrays = [x.numpy() for x in xs]
    art = arts.get(ONNX)
    if isinstance(art, BaseException):
        calls[ONNX] = art
    else:
        sess, names = art
        feed = dict(zip(names, arrays))
        calls[ONNX] = lambda s=sess, f=feed: s.run(None, f)
    for precision in OV_PRECISIONS:
        label = f"ganzoo OpenVINO {precision}"
        r = arts.get(label)
        if isinstance(r, BaseException):
            calls[label] = r
            continue
        try:
            c = compile_ir(r.path, precision, threads=threads,
                           static_shapes={n: tuple(x.shape) for n, x in zip(r.input_names, xs)})
            rq = c.create_infer_request()
            ov_feed = {n: a for n, a in zip(r.input_names, arrays)}
            calls[label] = lambda rq=rq, f=ov_feed: rq.infer(f)
            hint = c.get_property("INFERENCE_PRECISION_HINT")  # an openvino Type: "f32" / "bf16"
            calls[label].hint = getattr(hint, "get_type_name", lambda: str(hint))()  # type: ignore[attr-defined]
        except Exception as e:  # noqa: BLE001
            calls[label] = e
    return calls


def _shape_text(model: Any, xs: Sequence[torch.Tensor]) -> str:
    return " + ".join(f"{s.name} {'x'.join(map(str, x.shape))}" for s, x in zip(model.specs.inputs, xs))


def _validation(path: str, ok_meta: dict[str, Any], prec: dict[str, Any] | None, name: str, err: float | None,
                rel: float | None, weights: str = "published") -> str:
    """The validation cell: the reference, ganzoo's own check for fp32 paths, eval_precision's verdict (which is
    about the published weights: never claimed for random ones) or the output error for bf16."""
    if path == "eager fp32 NCHW":
        return "reference"
    if path == "eager fp32 channels-last":
        return "same module (layout only)"
    if "bf16" in path:
        v = _validated(path, prec, name) if weights == "published" else "-"
        detail = v.partition("(")[2].rstrip(")")  # "yes (+0.012 dB)" -> "+0.012 dB"
        if v.startswith("yes"):
            return f"validated (tools/eval_precision.py: dPSNR-Y {detail})"
        # the word "validated" only where eval_precision says so (a grep of the table finds exactly those)
        why = f"fails tools/eval_precision.py (dPSNR-Y {detail})" if v.startswith("no") else \
            "no PSNR check (tools/eval_precision.py has no entry)"
        return f"{why}; output error {err:.2e} (rel {rel:.2e})" if err is not None else why
    return ok_meta.get("check", "-")


def _time_safely(fns: dict[str, Callable[[], Any]], min_runs: int, budget: float,
                 info: dict[str, dict[str, Any]]) -> dict[str, list[float]]:
    """tools/bench_export.py's ``_time_blocks`` over every path; should a call raise while timed (out of memory
    at a large batch, ...), each path is timed on its own with a share of the budget and the failing one becomes
    an error (``info[path]``)."""
    if not fns:
        return {}
    try:
        return _time_blocks(fns, min_runs, budget)
    except Exception as e:  # noqa: BLE001
        logger.warning("timing failed (%s); timing the paths one by one", _first_line(e))
    times: dict[str, list[float]] = {}
    for path, fn in fns.items():
        try:
            times.update(_time_blocks({path: fn}, min_runs, budget / len(fns)))
        except Exception as e:  # noqa: BLE001
            info[path] = {"status": "error", "error": _first_line(e)}
    return times


def bench_group(model: Any, name: str, weights: str, arts: dict[str, Any], ex_meta: dict[str, dict[str, Any]],
                batch: int, size: tuple[int, ...] | None, gflop_item: float | None, a: argparse.Namespace,
                prec: dict[str, Any] | None) -> list[dict[str, Any]]:
    """Rows of one (model, batch): every path timed with the shared harness, failures as error rows."""
    label = getattr(model.pretrained_cfg, "name", None) or name
    base = {"model": label, "weights": weights, "batch": batch, "size": list(size) if size else None}
    try:
        xs = sample_inputs(model, batch, size, seed=batch)
        base["input_shape"] = _shape_text(model, xs)
        calls = build_calls(model, arts, xs, a.threads)
        ref = _outputs(calls["eager fp32 NCHW"]())  # type: ignore[operator]
    except Exception as e:  # noqa: BLE001 - the whole group failed (inputs, eager itself)
        logger.warning("%s batch %d: %s", label, batch, _first_line(e))
        return [{**base, "path": p, "status": "error", "error": _first_line(e)} for p in PATHS]
    fns: dict[str, Callable[[], Any]] = {}
    info: dict[str, dict[str, Any]] = {}
    for path, fn in calls.items():
        if isinstance(fn, BaseException):
            info[path] = {"status": "error", "error": _first_line(fn)}
            continue
        try:
            err, rel = _errors(_outputs(fn()), ref)  # also the first (untimed) call: compiles, allocates
        except Exception as e:  # noqa: BLE001
            info[path] = {"status": "error", "error": _first_line(e)}
            continue
        fns[path] = fn
        info[path] = {"status": "ok", "max_abs_err": err, "rel_err": rel, "hint": getattr(fn, "hint", None)}
    times = _time_safely(fns, a.min_runs, a.budget, info)
    med = {p: statistics.median(ts) for p, ts in times.items()}
    eager_meds = [med[p] for p in EAGER if p in med]
    best_eager = min(eager_meds) if eager_meds else None
    rows = []
    for path in PATHS:
        r = {**base, "path": path, **info.get(path, {"status": "error", "error": "not built"})}
        r.update({k: v for k, v in ex_meta.get(path, {}).items() if k in ("validation_passed", "export_s")})
        if r["status"] == "ok" and path not in med:
            r.update(status="error", error="not timed")
        if path in med:
            m = med[path]
            r.update({"median_ms": m * 1e3, "min_ms": min(times[path]) * 1e3, "runs": len(times[path]),
                      "ms_per_item": m * 1e3 / batch, "gflop_per_item": gflop_item,
                      "gflops": gflop_item * batch / m if gflop_item is not None else None,
                      "speedup_vs_best_eager": best_eager / m if best_eager else None})
        if r["status"] == "ok":
            r["validation"] = _validation(path, ex_meta.get(path, {}), prec, name, r.get("max_abs_err"),
                                          r.get("rel_err"), weights)
            if "bf16" in path and r.get("hint") and "bf16" not in r["hint"]:
                r["validation"] += f" (compiled hint {r['hint']}: this CPU runs it in f32)"
        rows.append(r)
    return rows


def _ms(v: float) -> str:
    return f"{v:.0f}" if v >= 100 else f"{v:.1f}" if v >= 10 else f"{v:.2f}" if v >= 1 else f"{v:.3f}"


def _g(v: float | None) -> str:
    if v is None:
        return "-"
    return f"{v:.0f}" if v >= 100 else f"{v:.1f}" if v >= 1 else f"{v:.3f}"


def markdown(rows: list[dict[str, Any]], footer: list[str]) -> str:
    lines = ["| model | weights | input shape | batch | path | median ms | ms / item | GFLOP / item | GFLOP/s "
             "| vs best eager | max abs err (rel) | validation | runs |",
             "|---|---|---|---:|---|---:|---:|---:|---:|---:|---|---|---:|"]
    for r in rows:
        head = f"| {r['model']} | {r['weights']} | {r.get('input_shape', '-')} | {r['batch']} | {r['path']} "
        if r["status"] != "ok":
            lines.append(head + f"| - | - | - | - | - | - | error: {r['error'].replace('|', '/')} | 0 |")
            continue
        err = "-" if r["path"] == "eager fp32 NCHW" else f"{r['max_abs_err']:.1e} ({r['rel_err']:.1e})"
        lines.append(head + f"| {_ms(r['median_ms'])} | {_ms(r['ms_per_item'])} | {_g(r['gflop_per_item'])} "
                     f"| {_g(r['gflops'])} | {r['speedup_vs_best_eager']:.2f}x | {err} "
                     f"| {r['validation'].replace('|', '/')} | {r['runs']} |")
    return "\n".join(lines + [""] + footer)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--models", default=",".join(DEFAULT_MODELS), help="comma list (default: one per family)")
    p.add_argument("--batches", default="1,8", help="comma list (default 1,8)")
    p.add_argument("--threads", type=int, default=torch.get_num_threads())
    p.add_argument("--budget", type=float, default=20.0, help="seconds of timing per (model, batch), all paths")
    p.add_argument("--min-runs", type=int, default=5)
    p.add_argument("--sr-size", type=int, default=64, help="LR side of the SR models (default 64)")
    p.add_argument("--inpaint-size", type=int, default=256, help="image side of PG-GAN inpainting (default 256)")
    p.add_argument("--random-weights", action="store_true", help="never download weights (timings are the same)")
    p.add_argument("--precision-json", default=None, help="tools/eval_precision.py JSON: which bf16 rows are "
                   "validated")
    p.add_argument("--quick", action="store_true", help="smoke run: tiny sizes (SR 16, inpainting 64), budget 0, "
                   "one block per path")
    p.add_argument("--markdown", default=None, help="also write the table here")
    p.add_argument("--json", default=None, help="write every number here")
    a = p.parse_args(argv)
    models = [m.strip() for m in a.models.split(",") if m.strip()]
    try:
        batches = [int(b) for b in a.batches.split(",") if b.strip()]
    except ValueError:
        p.error(f"--batches: expected a comma list of ints, got {a.batches!r}")
    if not batches or min(batches) < 1:
        p.error(f"--batches: expected positive ints, got {a.batches!r}")
    for m in models:
        try:
            ganzoo.model_info(m)
        except Exception as e:  # noqa: BLE001 - UnknownModelError / UnknownTagError
            p.error(f"--models: {e}")
    if a.quick:
        for k, v in QUICK.items():
            setattr(a, k, v)
    logging.basicConfig(level=logging.WARNING, format="%(name)s: %(message)s")
    logger.setLevel(logging.INFO)
    threads_before = torch.get_num_threads()
    torch.set_num_threads(a.threads)
    try:
        return _run(a, models, batches, argv)
    finally:
        torch.set_num_threads(threads_before)


def _run(a: argparse.Namespace, models: list[str], batches: list[int], argv: list[str] | None) -> int:
    prec = json.loads(Path(a.precision_json).read_text()) if a.precision_json else None
    t_start = time.perf_counter()
    rows: list[dict[str, Any]] = []
    model_recs: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="ganzoo-bench-generators-") as tmp_s:
        for k, name in enumerate(models):
            t0 = time.perf_counter()
            rec: dict[str, Any] = {"name": name}
            try:
                model, weights = load_model(name, a.random_weights)
                size = run_size(model, a.sr_size, a.inpaint_size)
                gflop = 2 * count_macs(model.generator, sample_inputs(model, 1, size, seed=0)) / 1e9
                rec.update({"model": getattr(model.pretrained_cfg, "name", name), "weights": weights,
                            "size": list(size) if size else None, "gflop_per_item": gflop})
                if _is_sr(model):  # same count as tools/bench_sr.py's (the SR nets are Conv2d only)
                    rec["bench_sr_gflop"] = 2 * _sr_conv2d_macs(model.generator, *size) / 1e9
                    if abs(rec["bench_sr_gflop"] - gflop) > 1e-9 * max(gflop, 1.0):
                        logger.warning("%s: FLOP count %.4f differs from bench_sr's %.4f", name, gflop,
                                       rec["bench_sr_gflop"])
                mdir = Path(tmp_s) / f"m{k}"
                mdir.mkdir()
                arts, ex_meta = export_model(model, mdir, a.threads)
                rec["export_s"] = {p_: v.get("export_s") for p_, v in ex_meta.items()}
            except Exception as e:  # noqa: BLE001 - a model that cannot even be built: one error row per batch
                logger.warning("%s: %s", name, _first_line(e))
                rec["error"] = _first_line(e)
                rows += [{"model": name, "weights": "-", "batch": b, "path": "(model)", "status": "error",
                          "error": _first_line(e)} for b in batches]
                model_recs.append(rec)
                continue
            for b in batches:
                tb = time.perf_counter()
                group = bench_group(model, name, weights, arts, ex_meta, b, size, gflop, a, prec)
                rows += group
                logger.info("%s batch %d: %d of %d paths ok (%.0f s)", rec["model"], b,
                            sum(r["status"] == "ok" for r in group), len(group), time.perf_counter() - tb)
            rec["seconds"] = time.perf_counter() - t0
            model_recs.append(rec)
            del arts
    cpu = cpu_info()
    vers = versions()
    date = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    command = " ".join(["tools/bench_generators.py", *(argv if argv is not None else sys.argv[1:])])
    random_models = [r["model"] for r in model_recs if str(r.get("weights", "")).startswith("random")]
    footer = [
        f"{a.threads} thread(s); CPU {cpu.get('model')} ({cpu.get('logical_cpus')} logical CPUs, "
        f"{cpu.get('mhz', 0) / 1e3:.2f} GHz reported, flags {', '.join(cpu.get('flags', []))}); {date}",
        "versions: " + ", ".join(f"{k} {v}" for k, v in vers.items()),
        f"command: `{command}`",
        f"sizes: SR models {a.sr_size}x{a.sr_size} LR, PG-GAN inpainting {a.inpaint_size}x{a.inpaint_size} "
        "(image + mask), the others at their fixed size; the same size at every batch. Random weights (no "
        f"published ones, or --random-weights): {', '.join(random_models) or 'none'}.",
        "GFLOP / item: 2 x the MACs of every conv / transposed conv / linear layer; GFLOP/s: effective (that count "
        "/ median). vs best eager: the faster of the two eager fp32 paths of the same (model, batch) / this path. "
        "max abs err (rel): vs eager fp32 NCHW on the timed input (rel: / max |eager output|). Timing: "
        f"tools/bench_export.py's blocks, medians of >= {a.min_runs} runs, {a.budget:g} s per (model, batch).",
        "validation: fp32 paths: ganzoo's elementwise check against PyTorch (to_onnx / to_openvino); bf16: "
        "validated only where tools/eval_precision.py (|dPSNR-Y| <= 0.05 dB) says so"
        + (f" ({a.precision_json})" if a.precision_json else " (no --precision-json given)") + ".",
    ]
    text = markdown(rows, footer)
    if a.markdown:
        Path(a.markdown).write_text(text + "\n")
    if a.json:
        Path(a.json).write_text(json.dumps({
            "command": command, "date": date, "threads": a.threads, "cpu": cpu, "versions": vers,
            "settings": {"batches": batches, "budget": a.budget, "min_runs": a.min_runs, "sr_size": a.sr_size,
                         "inpaint_size": a.inpaint_size, "quick": a.quick, "precision_json": a.precision_json},
            "seconds": time.perf_counter() - t_start, "models": model_recs, "rows": rows},
            indent=2, default=str) + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
