"""The result of one benchmark cell: one (model, backend, batch, dtype) combination.

Pure data, no torch: records load back from JSON on machines without the benchmark's dependencies.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any, Mapping

__all__ = ["BenchRecord", "STATUSES", "DTYPES"]

#: ``ok``: timed. ``unavailable``: the backend cannot run here (missing package, no GPU, not built yet).
#: ``unsupported``: the backend runs here but not this model/dtype. ``oom``: ran out of memory.
#: ``error``: anything else.
STATUSES = ("ok", "unavailable", "unsupported", "oom", "error")

#: dtype names accepted by the benchmark: the short names of ganzoo.utils.SHORT_DTYPE_NAMES (the one dtype table,
#: which imports torch; ganzoo.utils.to_torch_dtype maps them)
DTYPES = ("fp32", "fp16", "bf16")


@dataclass
class BenchRecord:
    """Every figure measured for one (model, backend, batch, dtype).

    Latencies are in milliseconds per call of the whole batch (``times_ms`` holds every timed iteration, in order);
    ``throughput`` is samples per second (``batch / median``); ``pixel_rate`` is output pixels per second (voxels
    for 5-d outputs, see ``pixel_unit``), counted per sample as output numel divided by channels.
    ``peak_mem_bytes`` is the extra memory running needs on top of what was resident after ``prepare``: from just
    before the first call to the peak of the timed calls, so caches kept between calls count (CPU: VmHWM after
    resetting it vs VmRSS, from /proc/self/status; CUDA: ``torch.cuda.max_memory_allocated``), see ``mem_method``;
    ``extra["mem_retained_bytes"]`` is the part still held between calls. ``rss_peak_bytes``: the process's peak RSS. ``max_abs_err`` is max |backend - eager fp32| over every output element on the same inputs
    (None for the reference itself, or when no comparison could be made; ``nonfinite`` flags NaN/Inf outputs);
    ``ref_max_abs`` is max |eager fp32| over the same outputs, the scale the error is relative to.
    """

    model: str
    backend: str
    batch: int
    dtype: str
    device: str
    status: str = "ok"
    reason: str = ""
    size: list[int] | None = None
    input_shapes: list[list[int]] = field(default_factory=list)
    output_shape: list[int] | None = None
    weights: str = ""
    threads: int | None = None
    warmup: int = 0
    iters: int = 0
    total_time_s: float = 0.0
    prepare_s: float | None = None
    first_call_ms: float | None = None
    times_ms: list[float] = field(default_factory=list)
    median_ms: float | None = None
    mean_ms: float | None = None
    std_ms: float | None = None
    min_ms: float | None = None
    p10_ms: float | None = None
    p90_ms: float | None = None
    throughput: float | None = None
    pixel_rate: float | None = None
    pixel_unit: str = "pixels"
    peak_mem_bytes: int | None = None
    rss_peak_bytes: int | None = None
    mem_method: str = ""
    max_abs_err: float | None = None
    ref_max_abs: float | None = None
    nonfinite: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"BenchRecord.status must be one of {STATUSES}, got {self.status!r}")

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @property
    def key(self) -> tuple[str, str, int, str]:
        return (self.model, self.backend, self.batch, self.dtype)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-safe dict (non-finite floats become None; ``from_dict`` restores an equal record)."""
        return {k: _json_safe(v) for k, v in dataclasses.asdict(self).items()}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> "BenchRecord":
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"BenchRecord got unknown field(s) {unknown}; expected a subset of {sorted(known)}")
        return cls(**dict(d))


def _json_safe(v: Any) -> Any:
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if isinstance(v, (list, tuple)):
        return [_json_safe(x) for x in v]
    if isinstance(v, dict):
        return {str(k): _json_safe(x) for k, x in v.items()}
    return v
