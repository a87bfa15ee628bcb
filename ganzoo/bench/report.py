"""Benchmark output: a rich table for people, a JSON file for machines, a PNG plot of throughput vs batch.

matplotlib and rich are imported inside the functions that use them.
"""
from __future__ import annotations

import datetime as _dt
import json
import os
import platform
import sys
from importlib import metadata
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

from .records import BenchRecord

__all__ = ["machine_info", "versions", "make_meta", "to_json_dict", "write_json", "load_json", "print_table",
           "write_plot", "SCHEMA"]

SCHEMA = "ganzoo.bench/1"

_PACKAGES = ("ganzoo", "torch", "numpy", "onnx", "onnxruntime", "onnxruntime-gpu", "onnxscript", "triton",
             "tensorrt", "matplotlib", "rich")


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _mem_total_bytes() -> int | None:
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


def machine_info(device: str = "cpu") -> dict[str, Any]:
    """CPU model, logical cores (and those this process may use), memory, torch threads, GPU name if any."""
    info: dict[str, Any] = {
        "platform": platform.platform(),
        "cpu": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "cpu_affinity": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "memory_bytes": _mem_total_bytes(),
        "gpu": None,
    }
    if hasattr(os, "getloadavg"):
        info["loadavg"] = list(os.getloadavg())  # a busy machine makes timings noisy
    try:
        import torch

        info["torch_threads"] = torch.get_num_threads()
        if torch.cuda.is_available():
            dev = torch.device(device) if device.startswith("cuda") else torch.device("cuda")
            idx = dev.index if dev.index is not None else torch.cuda.current_device()
            props = torch.cuda.get_device_properties(idx)
            info["gpu"] = torch.cuda.get_device_name(idx)
            info["gpu_memory_bytes"] = props.total_memory
            info["gpu_capability"] = f"{props.major}.{props.minor}"
            info["gpu_count"] = torch.cuda.device_count()
    except Exception:  # noqa: BLE001 - machine info is best effort
        pass
    return info


def versions() -> dict[str, str | None]:
    """Installed versions of python and the packages that matter (None when absent); imports nothing heavy."""
    out: dict[str, str | None] = {"python": platform.python_version()}
    for p in _PACKAGES:
        try:
            out[p] = metadata.version(p)
        except metadata.PackageNotFoundError:
            out[p] = None
    if out.get("ganzoo") is None:
        from ganzoo import __version__

        out["ganzoo"] = __version__
    try:
        import torch

        out["torch"] = torch.__version__
        out["cuda"] = torch.version.cuda
        out["cudnn"] = str(torch.backends.cudnn.version()) if torch.backends.cudnn.is_available() else None
    except Exception:  # noqa: BLE001
        pass
    return out


def make_meta(settings: Mapping[str, Any] | None = None, command: Sequence[str] | None = None,
              device: str = "cpu") -> dict[str, Any]:
    """Everything about the run that is not a record: timestamp, command line, machine, versions, settings."""
    return {
        "schema": SCHEMA,
        "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "command": list(command) if command is not None else list(sys.argv),
        "machine": machine_info(device),
        "versions": versions(),
        "settings": dict(settings or {}),
    }


def to_json_dict(records: Iterable[BenchRecord], meta: Mapping[str, Any] | None = None) -> dict[str, Any]:
    d = dict(meta) if meta is not None else make_meta()
    d.setdefault("schema", SCHEMA)
    d["records"] = [r.to_dict() for r in records]
    return d


def write_json(path: str | os.PathLike, records: Iterable[BenchRecord], meta: Mapping[str, Any] | None = None) -> Path:
    """Write every record (with all per-iteration timings) and ``meta`` to ``path``; strict JSON (no NaN)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(to_json_dict(records, meta), indent=1, allow_nan=False)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text + "\n", encoding="utf-8")
    os.replace(tmp, path)
    return path


def load_json(path: str | os.PathLike) -> tuple[dict[str, Any], list[BenchRecord]]:
    """``(meta, records)`` from a file written by :func:`write_json`."""
    d = json.loads(Path(path).read_text(encoding="utf-8"))
    if not isinstance(d, dict) or d.get("schema") != SCHEMA:
        raise ValueError(f"{path}: expected a ganzoo benchmark file with schema {SCHEMA!r}, "
                         f"got {d.get('schema') if isinstance(d, dict) else type(d).__name__!r}")
    records = [BenchRecord.from_dict(r) for r in d.pop("records", [])]
    return d, records


# ------------------------------------------------------------------------------------------------ table
def _fmt(v: float | None, spec: str) -> str:
    return "-" if v is None else format(v, spec)


def _si(v: float | None) -> str:
    if v is None:
        return "-"
    for unit, f in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(v) >= f:
            return f"{v / f:.2f}{unit}"
    return f"{v:.1f}"


def _mem(v: int | None) -> str:
    return "-" if v is None else f"{v / 2**20:.1f}"


_STATUS_STYLE = {"ok": "green", "unavailable": "dim", "unsupported": "yellow", "oom": "magenta", "error": "red"}


def print_table(records: Sequence[BenchRecord], console: Any = None, title: str | None = None) -> None:
    """Print one row per record: latency (median, p10-p90), samples/s, pixels/s, memory, max error, note."""
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    if console is None:
        console = Console()
        if not console.is_terminal:  # pipes and logs: do not squeeze the table into 80 columns
            console = Console(width=max(console.width, 200))
    table = Table(title=title or "ganzoo bench", show_lines=False)
    for col, just in (("model", "left"), ("backend", "left"), ("batch", "right"), ("dtype", "left"),
                      ("status", "left"), ("median ms", "right"), ("p10-p90 ms", "right"), ("samples/s", "right"),
                      ("px/s", "right"), ("peak MiB", "right"), ("max abs err", "right"), ("note", "left")):
        table.add_column(col, justify=just, overflow="fold")
    prev = None
    for r in records:
        if prev is not None and r.model != prev:
            table.add_section()
        prev = r.model
        style = _STATUS_STYLE.get(r.status, "")
        err = "ref" if (r.ok and r.max_abs_err is None and not r.nonfinite and r.backend == "eager"
                        and r.dtype == "fp32") else ("NaN/Inf" if r.nonfinite else _fmt(r.max_abs_err, ".2e"))
        unit = {"voxels": "vox/s", "values": "val/s"}.get(r.pixel_unit, "")
        table.add_row(
            escape(r.model), escape(r.backend), str(r.batch), r.dtype, f"[{style}]{r.status}[/{style}]" if style else r.status,
            _fmt(r.median_ms, ".3f"),
            f"{r.p10_ms:.3f}-{r.p90_ms:.3f}" if r.p10_ms is not None and r.p90_ms is not None else "-",
            _fmt(r.throughput, ".1f"), _si(r.pixel_rate) + (f" {unit}" if unit and r.pixel_rate else ""),
            _mem(r.peak_mem_bytes), err, escape(r.reason or r.extra.get("note", "")),
        )
    console.print(table)


# ------------------------------------------------------------------------------------------------ plot
def write_plot(path: str | os.PathLike, records: Sequence[BenchRecord], title: str | None = None) -> Path | None:
    """PNG of throughput (samples/s, log scale) vs batch, one line per backend (and dtype), one subplot per model.

    Returns the path, or None when no record is ``ok`` (nothing to plot). Uses matplotlib's Agg backend.
    """
    ok = [r for r in records if r.ok and r.throughput]
    if not ok:
        return None
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter

    plain = FuncFormatter(lambda v, _: f"{v:g}")

    models = list(dict.fromkeys(r.model for r in ok))
    multi_dtype = len({r.dtype for r in ok}) > 1
    ncols = min(3, len(models))
    nrows = -(-len(models) // ncols)
    fig = Figure(figsize=(5.2 * ncols, 3.8 * nrows), layout="constrained")
    FigureCanvasAgg(fig)  # render with Agg without touching pyplot's global backend
    axes = fig.subplots(nrows, ncols, squeeze=False)
    for ax, model in zip(axes.flat, models):
        rows = [r for r in ok if r.model == model]
        for series in dict.fromkeys((r.backend, r.dtype) for r in rows):
            pts = sorted((r.batch, r.throughput) for r in rows if (r.backend, r.dtype) == series)
            label = f"{series[0]} {series[1]}" if multi_dtype else series[0]
            ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", label=label)
        batches = sorted({r.batch for r in rows})
        ax.set_xscale("log", base=2)
        ax.set_xticks(batches, [str(b) for b in batches])
        ax.set_yscale("log")
        ax.yaxis.set_major_formatter(plain)
        ax.yaxis.set_minor_formatter(plain)
        ax.tick_params(axis="y", which="minor", labelsize="x-small")
        ax.set_title(model)
        ax.set_xlabel("batch")
        ax.set_ylabel("samples / s")
        ax.grid(True, which="both", alpha=0.3)
        ax.legend(fontsize="small")
    for ax in list(axes.flat)[len(models):]:
        ax.set_visible(False)
    dev = ok[0].device
    fig.suptitle(title or f"ganzoo bench: throughput vs batch ({dev})")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    return path
