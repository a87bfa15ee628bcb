"""``ganzoo bench``: time generators side by side across backends, batch sizes and dtypes.

    >>> from ganzoo import bench
    >>> records = bench.run(["dcgan"], backends=("eager", "compile", "onnxruntime"), batches=(1, 8))
    >>> bench.print_table(records)
    >>> bench.write_json("bench.json", records, bench.make_meta())
    >>> bench.write_plot("bench.png", records)

Backends live in a registry (:func:`register_backend`); each result is a :class:`BenchRecord`. This package
imports its submodules lazily, so ``import ganzoo.bench`` (and ``ganzoo.bench.cli``) stays cheap: torch,
rich, matplotlib and onnxruntime load only when a benchmark runs or a report is written.
"""
from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from .records import DTYPES, STATUSES, BenchRecord

__all__ = [
    "run",
    "build_model",
    "DEFAULT_BACKENDS",
    "BenchRecord",
    "STATUSES",
    "DTYPES",
    "Backend",
    "BackendUnavailable",
    "Unsupported",
    "register_backend",
    "unregister_backend",
    "get_backend",
    "list_backends",
    "export_onnx",
    "print_table",
    "write_json",
    "load_json",
    "write_plot",
    "make_meta",
    "machine_info",
    "versions",
]

_LAZY = {
    "run": "runner", "build_model": "runner", "DEFAULT_BACKENDS": "runner",
    "Backend": "backends", "BackendUnavailable": "backends", "Unsupported": "backends",
    "register_backend": "backends", "unregister_backend": "backends", "get_backend": "backends",
    "list_backends": "backends", "export_onnx": "backends",
    "print_table": "report", "write_json": "report", "load_json": "report", "write_plot": "report",
    "make_meta": "report", "machine_info": "report", "versions": "report",
}

if TYPE_CHECKING:  # pragma: no cover
    from .backends import (Backend, BackendUnavailable, Unsupported, export_onnx, get_backend, list_backends,
                           register_backend, unregister_backend)
    from .report import load_json, machine_info, make_meta, print_table, versions, write_json, write_plot
    from .runner import DEFAULT_BACKENDS, build_model, run


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(f"module 'ganzoo.bench' has no attribute {name!r}")
