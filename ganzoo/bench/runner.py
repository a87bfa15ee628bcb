"""The benchmark loop: models x batch sizes x backends x dtypes -> BenchRecords.

Every cell is isolated: a backend that is missing, runs out of memory or fails is recorded as such, and the run
goes on. Arguments are validated before any model is built.
"""
from __future__ import annotations

import contextlib
import ctypes
import logging
import math
import statistics
import time
from typing import Any, Sequence

import torch
from torch import nn

from ganzoo.utils import flatten_outputs, to_torch_dtype

from .backends import Backend, BackendUnavailable, Unsupported, generator_module, get_backend, list_backends
from .records import DTYPES, BenchRecord

__all__ = ["run", "build_model", "DEFAULT_BACKENDS"]

logger = logging.getLogger("ganzoo.bench")

DEFAULT_BACKENDS = ("eager", "compile", "onnxruntime")


# ------------------------------------------------------------------------------------------------ validation
def _as_list(x: Any, what: str) -> list:
    if isinstance(x, (str, int)) or isinstance(x, nn.Module):
        return [x]
    try:
        return list(x)
    except TypeError:
        raise TypeError(f"{what}: expected a sequence, got {type(x).__name__}") from None


def _check_args(names, backends, batches, dtypes, size, device, warmup, iters, min_time_s, max_iters):
    names = _as_list(names, "names")
    if not names:
        raise ValueError("names: expected at least one model name, got none")
    backends = _as_list(backends, "backends")
    known = list_backends()
    bad = [b for b in backends if b not in known]
    if bad or not backends:
        raise ValueError(f"backends: expected names from {known}, got {backends}")
    batches = _as_list(batches, "batches")
    if not batches or any(not isinstance(b, int) or isinstance(b, bool) or b < 1 for b in batches):
        raise ValueError(f"batches: expected positive integers, got {batches}")
    dtypes = _as_list(dtypes, "dtypes")
    if not dtypes or any(d not in DTYPES for d in dtypes):
        raise ValueError(f"dtypes: expected names from {list(DTYPES)}, got {dtypes}")
    if size is not None:
        if isinstance(size, int):
            size = (size, size)
        size = tuple(size)
        if len(size) != 2 or any(not isinstance(s, int) or s < 1 for s in size):
            raise ValueError(f"size: expected (H, W) with positive integers, got {size}")
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as e:
        raise ValueError(f"device: expected 'cpu', 'cuda' or 'cuda:N', got {device!r}") from e
    if dev.type not in ("cpu", "cuda"):
        raise ValueError(f"device: expected 'cpu', 'cuda' or 'cuda:N', got {device!r}")
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} requested but CUDA is not available (torch {torch.__version__})")
    for v, what in ((warmup, "warmup"), (iters, "iters"), (max_iters, "max_iters")):
        if not isinstance(v, int) or isinstance(v, bool) or v < (0 if what == "warmup" else 1):
            raise ValueError(f"{what}: expected an integer >= {0 if what == 'warmup' else 1}, got {v!r}")
    if max_iters < iters:
        raise ValueError(f"max_iters ({max_iters}) must be >= iters ({iters})")
    if not isinstance(min_time_s, (int, float)) or min_time_s < 0 or not math.isfinite(min_time_s):
        raise ValueError(f"min_time_s: expected a finite number >= 0, got {min_time_s!r}")
    return names, backends, batches, dtypes, size, str(dev)


def _expand_names(names: list) -> list:
    """Model names (with ``*?[`` patterns expanded) or model objects; unknown names raise before any work."""
    import ganzoo
    from ganzoo.registry import get_entry, resolve_pretrained_cfg

    out: list = []
    for n in names:
        if isinstance(n, nn.Module):
            out.append(n)
        elif not isinstance(n, str):
            raise TypeError(f"names: expected model names or GANModel objects, got {type(n).__name__}")
        elif any(c in n for c in "*?["):
            found = ganzoo.list_models(n)
            if not found:
                raise ValueError(f"no model matches {n!r} (ganzoo list shows them all)")
            out += [f for f in found if f not in out]
        else:
            get_entry(n)
            resolve_pretrained_cfg(n)  # raises UnknownTagError for a bad tag
            out.append(n)
    return out


# ------------------------------------------------------------------------------------------------ models
def build_model(name: str, device: str = "cpu", pretrained: bool = True) -> tuple[nn.Module, str, str]:
    """``(model, label, weights)``: ``ganzoo.load(name)`` when ``pretrained`` and it works, else
    ``ganzoo.create("arch.tag")`` with random weights (speed does not depend on the weights).

    ``label`` is ``arch.tag``; ``weights`` is ``"pretrained"`` or ``"random"``.
    """
    import ganzoo
    from ganzoo.registry import resolve_pretrained_cfg

    cfg = resolve_pretrained_cfg(name)
    full = f"{cfg.architecture}.{cfg.tag}"
    model = None
    weights = "random"
    if pretrained and cfg.has_weights:
        try:
            model = ganzoo.load(full, local_files_only=True)
            weights = "pretrained"
        except Exception as e:  # noqa: BLE001 - weights are optional for timing
            logger.info("ganzoo.load(%r) failed (%s: %s); benchmarking random weights", full, type(e).__name__, e)
            model = None
    if model is None:
        model = ganzoo.create(full)
    return model.to(device).eval(), full, weights


def _label(model: nn.Module) -> str:
    cfg = getattr(model, "pretrained_cfg", None)
    name = getattr(model, "model_name", None) or type(model).__name__
    return f"{name}.{cfg.tag}" if cfg is not None and cfg.tag else name


def _half_ok(model: nn.Module) -> tuple[bool, str]:
    cfg = getattr(model, "pretrained_cfg", None)
    if cfg is None and getattr(model, "model_name", None):
        from ganzoo.registry import resolve_pretrained_cfg

        with contextlib.suppress(Exception):
            cfg = resolve_pretrained_cfg(model.model_name)
    if cfg is not None and not cfg.half_precision:
        return False, f"{cfg.architecture or _label(model)} declares no half-precision support (half_precision=False)"
    return True, ""


def _sample(model, batch: int, seed: int, size, device: str) -> tuple[tuple[torch.Tensor, ...], str]:
    """Inputs in fp32 on ``device`` drawn on the CPU from ``seed`` (the same for every backend and device)."""
    gen = torch.Generator().manual_seed(seed)
    note = ""
    if size is not None:
        specs = getattr(model, "specs", None)
        try:
            inputs = model.sample_inputs(batch, generator=gen, device="cpu", dtype=torch.float32, size=size)
        except ValueError as e:
            if specs is not None and specs.dynamic_spatial:
                raise
            note = f"fixed-size model: size {size[0]}x{size[1]} ignored ({e})"
            gen = torch.Generator().manual_seed(seed)
            inputs = model.sample_inputs(batch, generator=gen, device="cpu", dtype=torch.float32)
    else:
        inputs = model.sample_inputs(batch, generator=gen, device="cpu", dtype=torch.float32)
    if isinstance(inputs, torch.Tensor):
        inputs = (inputs,)
    return tuple(x.to(device) for x in inputs), note


# ------------------------------------------------------------------------------------------------ memory
_LIBC: Any = None


def _proc_status_bytes(key: str) -> int | None:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def _trim_heap() -> None:
    """Give freed heap pages back to the OS (glibc), so RSS reflects live memory."""
    global _LIBC
    try:
        if _LIBC is None:
            _LIBC = ctypes.CDLL("libc.so.6")
        if _LIBC:
            _LIBC.malloc_trim(0)
    except (OSError, AttributeError):
        _LIBC = False


def _reset_hwm() -> bool:
    """Reset VmHWM to the current RSS (Linux >= 4.0); False where that is not allowed."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


class _Memory:
    """Extra memory a backend needs to run: measured from just before its first call (after ``prepare``) to the
    peak of the timed calls, so caches it keeps between calls (ORT's arena, cuDNN workspaces) count, and so does
    the per-call peak. ``retained`` is the part still held after warm-up."""

    def __init__(self, device: str, backend: Backend):
        self.cuda = torch.device(device).type == "cuda"
        self.backend = backend
        self.base: int | None = None
        self.retained: int | None = None
        self.method = ""

    def before_first_call(self) -> None:
        if self.cuda:
            torch.cuda.synchronize()
            if not self.backend.memory_in_torch:
                self.method = f"cuda: not measured ({type(self.backend).__name__} allocates outside torch)"
                return
            self.base = torch.cuda.memory_allocated()
            self.method = ("cuda: torch.cuda.max_memory_allocated during the timed calls - memory_allocated "
                           "before the first call")
        else:
            _trim_heap()
            self.base = _proc_status_bytes("VmRSS")
            self.method = "cpu: VmHWM during the timed calls - VmRSS before the first call (/proc/self/status)"

    def before_timing(self) -> None:
        if self.cuda:
            torch.cuda.synchronize()
            if self.base is not None:
                self.retained = max(0, torch.cuda.memory_allocated() - self.base)
                torch.cuda.reset_peak_memory_stats()
            return
        _trim_heap()
        rss = _proc_status_bytes("VmRSS")
        if self.base is not None and rss is not None:
            self.retained = max(0, rss - self.base)
        if not _reset_hwm():
            self.method = "cpu: growth of VmHWM over VmRSS before the first call (VmHWM could not be reset)"

    def stop(self) -> tuple[int | None, int | None]:
        """(peak extra bytes, absolute peak RSS bytes on CPU / None)."""
        if self.cuda:
            if self.base is None:
                return None, None
            return max(0, torch.cuda.max_memory_allocated() - self.base), None
        hwm = _proc_status_bytes("VmHWM")
        if hwm is None or self.base is None:
            return None, hwm
        return max(0, hwm - self.base), hwm


# ------------------------------------------------------------------------------------------------ errors
def _is_oom(e: BaseException) -> bool:
    if isinstance(e, MemoryError):
        return True
    oom_cls = getattr(torch.cuda, "OutOfMemoryError", None)
    if oom_cls is not None and isinstance(e, oom_cls):
        return True
    text = str(e).lower()
    return any(s in text for s in ("out of memory", "failed to allocate memory", "bad_alloc", "cudnn_status_alloc",
                                   "cudaerrormemoryallocation", "defaultcpuallocator: can't allocate memory",
                                   "can't allocate memory"))


def _is_unsupported_dtype(e: BaseException, dtype: str) -> bool:
    text = str(e)
    return dtype != "fp32" and isinstance(e, (RuntimeError, NotImplementedError)) and (
        "not implemented for" in text or "NotImplemented" in text or "does not support" in text)


def _short(e: BaseException, limit: int = 400) -> str:
    msg = f"{type(e).__name__}: {e}".strip()
    msg = " ".join(msg.split())
    return msg if len(msg) <= limit else msg[: limit - 3] + "..."


# ------------------------------------------------------------------------------------------------ timing
def _sync(device: str) -> None:
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize(device)


def _percentile(sorted_x: list[float], q: float) -> float:
    """Linear interpolation between closest ranks (numpy's default)."""
    if len(sorted_x) == 1:
        return sorted_x[0]
    pos = (len(sorted_x) - 1) * q
    lo = math.floor(pos)
    hi = min(lo + 1, len(sorted_x) - 1)
    return sorted_x[lo] + (sorted_x[hi] - sorted_x[lo]) * (pos - lo)


def _timed_loop(fn, feed, device: str, iters: int, min_time_s: float, max_iters: int,
                deadline: float | None = None) -> tuple[list[float], Any]:
    """Call ``fn(feed)`` until ``iters`` calls AND ``min_time_s`` seconds are reached (at most ``max_iters``, and
    no new call after ``deadline``, a perf_counter time, once one call is timed); return per-call milliseconds and
    the last output. CUDA: events around each call, synchronised per call."""
    times: list[float] = []
    out = None
    cuda = torch.device(device).type == "cuda"
    start_all = time.perf_counter()
    while True:
        if cuda:
            e0, e1 = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            e0.record()
            out = fn(feed)
            e1.record()
            e1.synchronize()
            times.append(e0.elapsed_time(e1))
        else:
            t0 = time.perf_counter()
            out = fn(feed)
            times.append((time.perf_counter() - t0) * 1e3)
        n = len(times)
        now = time.perf_counter()
        if (n >= max_iters or (n >= iters and now - start_all >= min_time_s)
                or (deadline is not None and now >= deadline)):
            return times, out


def _to_tensors(out: Any) -> list[torch.Tensor]:
    """A backend's output as a flat list of tensors (:func:`ganzoo.utils.flatten_outputs`), numpy arrays (what
    onnxruntime returns) converted first."""
    def arrays_to_tensors(o: Any) -> Any:
        if isinstance(o, (tuple, list)):
            return [arrays_to_tensors(x) for x in o]
        if isinstance(o, dict):
            return {k: arrays_to_tensors(v) for k, v in o.items()}
        if isinstance(o, torch.Tensor):
            return o
        try:
            return torch.as_tensor(o)
        except (TypeError, RuntimeError) as e:
            raise TypeError(f"backend returned {type(o).__name__}, expected tensors or arrays") from e

    return list(flatten_outputs(arrays_to_tensors(out)))


def _max_abs_err(out: list[torch.Tensor], ref: list[torch.Tensor]) -> tuple[float | None, bool, str]:
    """(max |out - ref| over all outputs, any non-finite output, note)."""
    if len(out) != len(ref):
        return None, False, f"backend returned {len(out)} outputs, eager {len(ref)}"
    err = 0.0
    nonfinite = False
    for o, r in zip(out, ref):
        o = o.detach().to(device=r.device, dtype=torch.float32)
        if tuple(o.shape) != tuple(r.shape):
            return None, False, f"output shape {tuple(o.shape)} differs from eager {tuple(r.shape)}"
        if not torch.isfinite(o).all():
            nonfinite = True
            continue
        err = max(err, (o - r).abs().max().item() if o.numel() else 0.0)
    return (None if nonfinite else err), nonfinite, ("non-finite values (NaN/Inf) in the output" if nonfinite else "")


def _pixels_per_sample(t: torch.Tensor) -> tuple[int, str]:
    """Output pixels per sample: numel / channels of one sample; voxels for 5-d outputs."""
    if t.dim() >= 3:
        return t[0].numel() // max(1, t.shape[1]), ("voxels" if t.dim() == 5 else "pixels")
    return (t[0].numel() if t.dim() > 1 else 1), "values"


# ------------------------------------------------------------------------------------------------ one cell
def _add_note(rec: BenchRecord, note: str) -> None:
    rec.extra["note"] = f"{rec.extra['note']}; {note}" if rec.extra.get("note") else note


def _bench_cell(rec: BenchRecord, backend: Backend, model: nn.Module, inputs: tuple[torch.Tensor, ...],
                get_ref: Any, warmup: int, iters: int, min_time_s: float,
                max_iters: int, max_time_s: float | None = None) -> None:
    device, dtype = rec.device, rec.dtype
    if dtype not in type(backend).dtypes:
        runs = ", ".join(type(backend).dtypes)
        rec.status, rec.reason = "unsupported", f"backend {rec.backend} does not run {dtype} (runs {runs})"
        return
    if dtype in ("fp16", "bf16"):
        ok, why = _half_ok(model)
        if not ok:
            rec.status, rec.reason = "unsupported", why
            return
    tdtype = to_torch_dtype(dtype)
    cast = tuple(x.to(tdtype) if torch.is_floating_point(x) else x for x in inputs)
    try:
        t0 = time.perf_counter()
        backend.prepare(model, cast, dtype, device)
        feed = backend.adapt_inputs(cast)
        _sync(device)
        rec.prepare_s = time.perf_counter() - t0
        mem = _Memory(device, backend)
        mem.before_first_call()
        t0 = time.perf_counter()
        out = backend(feed)
        _sync(device)
        rec.first_call_ms = (time.perf_counter() - t0) * 1e3
        deadline = None if max_time_s is None else time.perf_counter() + max_time_s
        done_warmup = 0
        for _ in range(warmup):
            if deadline is not None and time.perf_counter() >= deadline:
                break
            out = backend(feed)
            _sync(device)
            done_warmup += 1
        mem.before_timing()
        t0 = time.perf_counter()
        times, out = _timed_loop(backend, feed, device, iters, min_time_s, max_iters, deadline)
        rec.total_time_s = time.perf_counter() - t0
        rec.peak_mem_bytes, rec.rss_peak_bytes = mem.stop()
        rec.mem_method = mem.method
        if mem.retained is not None:
            rec.extra["mem_retained_bytes"] = mem.retained
        outs = _to_tensors(out)
    except BackendUnavailable as e:
        rec.status, rec.reason = "unavailable", str(e)
        return
    except Unsupported as e:
        rec.status, rec.reason = "unsupported", str(e)
        return
    except Exception as e:  # noqa: BLE001 - one failing cell must not end the run
        if _is_oom(e):
            rec.status, rec.reason = "oom", _short(e)
            if torch.device(device).type == "cuda":
                torch.cuda.empty_cache()
        elif _is_unsupported_dtype(e, dtype):
            rec.status, rec.reason = "unsupported", _short(e)
        else:
            rec.status, rec.reason = "error", _short(e)
            logger.debug("%s %s b=%d %s failed", rec.model, rec.backend, rec.batch, dtype, exc_info=True)
        return
    finally:
        rec.extra.update(backend.info)
    rec.warmup, rec.iters, rec.times_ms = done_warmup, len(times), times
    if len(times) < iters or done_warmup < warmup:
        _add_note(rec, f"max_time_s={max_time_s:g} reached: {done_warmup}/{warmup} warmup, "
                       f"{len(times)}/{iters} timed calls")
    srt = sorted(times)
    rec.median_ms = statistics.median(srt)
    rec.mean_ms = statistics.fmean(srt)
    rec.std_ms = statistics.pstdev(srt) if len(srt) > 1 else 0.0
    rec.min_ms = srt[0]
    rec.p10_ms, rec.p90_ms = _percentile(srt, 0.10), _percentile(srt, 0.90)
    rec.throughput = rec.batch / (rec.median_ms / 1e3) if rec.median_ms > 0 else None
    if outs:
        rec.output_shape = list(outs[0].shape)
        px, rec.pixel_unit = _pixels_per_sample(outs[0])
        rec.pixel_rate = rec.throughput * px if rec.throughput is not None else None
    if type(backend).reference and dtype == "fp32":
        return  # the reference itself
    ref, ref_error = get_ref()
    if ref is None:
        rec.reason = f"no error figure: eager fp32 reference failed ({ref_error})"
        return
    rec.max_abs_err, rec.nonfinite, note = _max_abs_err(outs, ref)
    rec.ref_max_abs = max((r.abs().max().item() for r in ref if r.numel()), default=0.0)
    if note:
        rec.reason = note


# ------------------------------------------------------------------------------------------------ run
def run(
    names: str | Sequence[str | nn.Module],
    backends: Sequence[str] = DEFAULT_BACKENDS,
    batches: Sequence[int] = (1, 8),
    dtypes: Sequence[str] = ("fp32",),
    size: tuple[int, int] | int | None = None,
    device: str = "cpu",
    warmup: int = 3,
    iters: int = 10,
    min_time_s: float = 0.5,
    max_iters: int = 10_000,
    max_time_s: float | None = None,
    seed: int = 0,
    pretrained: bool = True,
    threads: int | None = None,
    progress: bool = True,
) -> list[BenchRecord]:
    """Benchmark every (model, batch, backend, dtype) and return one :class:`BenchRecord` each.

    ``names``: model names (``"dcgan"``, ``"srgan.div2k"``, patterns such as ``"sr*"``) or GANModel objects.
    ``backends``: registered backend names (:func:`ganzoo.bench.list_backends`). ``dtypes``: fp32, fp16, bf16.
    ``size``: (H, W) of the inputs of fully convolutional models (ignored, with a note, by fixed-size ones).
    Each cell warms up ``warmup`` calls, then times calls until ``iters`` calls and ``min_time_s`` seconds are
    both reached (at most ``max_iters``; ``max_time_s``, if set, caps the seconds a cell spends after its first
    call, keeping at least one timed call, for slow cells such as fp16 convs on a CPU). ``threads`` sets torch's
    intra-op threads for the run (onnxruntime uses as many); on a machine shared with other jobs, 1 avoids
    OpenMP spin contention. Inputs are drawn from ``seed`` on the CPU, so every backend sees the same ones; errors
    are measured against eager fp32 on them. Raises ValueError/TypeError/UnknownModelError for bad arguments
    before any model is built; failures inside a cell become records (``error``, ``oom``, ...).
    Models given as objects are moved to ``device`` and put in eval mode.
    """
    names, backends, batches, dtypes, size, device = _check_args(
        names, backends, batches, dtypes, size, device, warmup, iters, min_time_s, max_iters)
    if max_time_s is not None and (not isinstance(max_time_s, (int, float)) or not max_time_s > 0):
        raise ValueError(f"max_time_s: expected a number > 0 or None, got {max_time_s!r}")
    if threads is not None and (not isinstance(threads, int) or isinstance(threads, bool) or threads < 1):
        raise ValueError(f"threads: expected a positive integer or None, got {threads!r}")
    names = _expand_names(names)
    classes = {b: get_backend(b) for b in backends}
    avail: dict[str, tuple[bool, str]] = {}
    for b, cls in classes.items():
        try:
            avail[b] = cls.available(device)
        except Exception as e:  # noqa: BLE001
            avail[b] = (False, f"availability check failed: {_short(e)}")
    records: list[BenchRecord] = []
    total = len(names) * len(batches) * len(backends) * len(dtypes)
    cudnn_before, threads_before = torch.backends.cudnn.benchmark, torch.get_num_threads()
    if torch.device(device).type == "cuda":
        torch.backends.cudnn.benchmark = True
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        _run_all(records, names, batches, backends, classes, avail, dtypes, size, device, seed, warmup, iters,
                 min_time_s, max_iters, max_time_s, pretrained, progress, total)
    finally:
        torch.backends.cudnn.benchmark = cudnn_before
        torch.set_num_threads(threads_before)
    return records


def _run_all(records, names, batches, backends, classes, avail, dtypes, size, device, seed, warmup, iters,
             min_time_s, max_iters, max_time_s, pretrained, progress, total) -> None:
    with _progress(progress, total) as advance:
        for name in names:
            try:
                if isinstance(name, nn.Module):
                    model, label, weights = name.to(device).eval(), _label(name), "given"
                else:
                    model, label, weights = build_model(name, device, pretrained)
            except Exception as e:  # noqa: BLE001
                label = name if isinstance(name, str) else type(name).__name__
                for batch in batches:
                    for b in backends:
                        for d in dtypes:
                            records.append(BenchRecord(label, b, batch, d, device, status="error",
                                                       reason=f"could not build the model: {_short(e)}"))
                            advance(f"{label} {b}")
                continue
            instances: dict[tuple[str, str], Backend] = {}
            try:
                for batch in batches:
                    _bench_batch(records, model, label, weights, batch, backends, classes, avail, instances,
                                 dtypes, size, device, seed, warmup, iters, min_time_s, max_iters, max_time_s,
                                 advance)
            finally:
                for inst in instances.values():
                    with contextlib.suppress(Exception):
                        inst.close()
                if torch.device(device).type == "cuda":
                    torch.cuda.empty_cache()


def _bench_batch(records, model, label, weights, batch, backends, classes, avail, instances, dtypes, size, device,
                 seed, warmup, iters, min_time_s, max_iters, max_time_s, advance) -> None:
    def new(backend: str, dtype: str, **kw) -> BenchRecord:
        rec = BenchRecord(label, backend, batch, dtype, device, weights=weights, threads=torch.get_num_threads(),
                          size=list(size) if size is not None else None, **kw)
        records.append(rec)
        return rec

    try:
        inputs, note = _sample(model, batch, seed, size, device)
    except Exception as e:  # noqa: BLE001 - e.g. a size the model rejects
        for b in backends:
            for d in dtypes:
                new(b, d, status="oom" if _is_oom(e) else "error", reason=f"could not draw inputs: {_short(e)}")
                advance(f"{label} {b}")
        return
    shapes = [list(x.shape) for x in inputs]
    cache: dict[str, Any] = {}

    def get_ref() -> tuple[list[torch.Tensor] | None, str]:
        """Eager fp32 outputs on these inputs, computed once, when the first error figure needs them."""
        if "ref" not in cache:
            try:
                with torch.no_grad():
                    cache["ref"] = ([t.detach().float() for t in _to_tensors(generator_module(model)(*inputs))], "")
            except Exception as e:  # noqa: BLE001
                cache["ref"] = (None, _short(e))
        return cache["ref"]
    for b in backends:
        ok, why = avail[b]
        for d in dtypes:
            advance(f"{label} {b} b={batch} {d}")
            rec = new(b, d, input_shapes=shapes)
            if note:
                _add_note(rec, note)
                rec.size = None
            if not ok:
                rec.status, rec.reason = "unavailable", why
                continue
            if (b, d) not in instances:
                try:
                    instances[(b, d)] = classes[b]()
                except Exception as e:  # noqa: BLE001
                    rec.status, rec.reason = "error", f"could not create the backend: {_short(e)}"
                    continue
            _bench_cell(rec, instances[(b, d)], model, inputs, get_ref, warmup, iters, min_time_s, max_iters,
                        max_time_s)
            logger.debug("%s %s b=%d %s: %s %s", label, b, batch, d, rec.status,
                        f"{rec.median_ms:.3f} ms" if rec.median_ms is not None else rec.reason)
    cache.clear()


@contextlib.contextmanager
def _progress(enabled: bool, total: int):
    if not enabled:
        yield lambda desc="": None
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(TextColumn("[bold]bench[/bold] {task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeElapsedColumn(), console=Console(stderr=True), transient=False) as prog:
        task = prog.add_task("", total=total)
        state = {"started": False}

        def advance(desc: str = "") -> None:
            # called when a cell starts: show it, and count the previous one as done
            if state["started"]:
                prog.advance(task)
            state["started"] = True
            prog.update(task, description=desc)

        try:
            yield advance
        finally:
            if state["started"]:
                prog.advance(task)
            prog.update(task, description="done")
