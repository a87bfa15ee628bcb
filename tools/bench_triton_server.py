#!/usr/bin/env python
"""Throughput and latency of a real Triton Inference Server serving a ganzoo python-onnxruntime repository.

    python tools/bench_triton_server.py                                   # srresnet.div2k (real weights), 64x64 LR
    python tools/bench_triton_server.py --model dcgan.mnist --duration 5 --markdown
    python tools/bench_triton_server.py --clients 1 4 16 --protocol http --json out.json

The model is exported twice into one temporary repository (``format="python-onnxruntime"``): with dynamic
batching (``--max-batch``, ``--queue-delay-us``) and without. One server (127.0.0.1, free ports, the
``nvidia-pytriton`` wheel's tritonserver, :mod:`ganzoo.export.triton_server`) serves both. For each client
count, and each mode in turn, that many closed-loop clients (one thread and one tritonclient each, batch-1 requests,
started together) send requests for ``--duration`` seconds after a warm-up round; the table gives requests/s, p50/p99
latency and the mean batch the server ran (items / executions, from its statistics). The first response is checked
against PyTorch. Everything is bounded: each request by ``--timeout``, each cell by its duration plus the timeout.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

import ganzoo
from ganzoo.export.pipeline import model_family, model_label, resolve_model, sample_inputs
from ganzoo.export.tolerances import get_tolerance
from ganzoo.export.triton import to_triton_repo
from ganzoo.export.triton_server import TritonServer

logger = logging.getLogger("ganzoo.bench_triton_server")


def _client_module(protocol: str) -> Any:
    if protocol == "grpc":
        import tritonclient.grpc as module
    else:
        import tritonclient.http as module
    return module


def _client(module: Any, url: str, timeout: float) -> Any:
    if module.__name__.endswith(".http"):
        return module.InferenceServerClient(url, connection_timeout=timeout, network_timeout=timeout)
    return module.InferenceServerClient(url)


def _infer(module: Any, client: Any, model: str, arrays: dict[str, np.ndarray], timeout: float) -> Any:
    from tritonclient.utils import np_to_triton_dtype

    inputs = []
    for name, a in arrays.items():
        inp = module.InferInput(name, list(a.shape), np_to_triton_dtype(a.dtype))
        inp.set_data_from_numpy(a)
        inputs.append(inp)
    kw = {} if module.__name__.endswith(".http") else {"client_timeout": timeout}
    return client.infer(model, inputs, **kw)


def _stats(module: Any, client: Any, model: str) -> tuple[int, int]:
    s = client.get_inference_statistics(model, as_json=True) if not module.__name__.endswith(".http") \
        else client.get_inference_statistics(model)
    m = s["model_stats"][0]
    return int(m.get("inference_count", 0)), int(m.get("execution_count", 0))


def run_cell(module: Any, url: str, model: str, arrays: dict[str, np.ndarray], clients: int, duration: float,
             timeout: float) -> dict[str, Any]:
    """``clients`` closed-loop clients for ``duration`` s after one warm-up request each; latencies in ms."""
    lat: list[list[float]] = [[] for _ in range(clients)]
    errors: list[BaseException] = []
    barrier = threading.Barrier(clients + 1, timeout=timeout)
    stop_at = [0.0]
    go = threading.Event()

    def worker(i: int) -> None:
        c = _client(module, url, timeout)
        try:
            _infer(module, c, model, arrays, timeout)  # warm-up: connection, server-side first run
            barrier.wait()
            if not go.wait(timeout):
                raise TimeoutError("the cell did not start")
            while time.perf_counter() < stop_at[0]:
                t0 = time.perf_counter()
                _infer(module, c, model, arrays, timeout)
                lat[i].append((time.perf_counter() - t0) * 1e3)
        except BaseException as e:  # noqa: BLE001 - reported by the caller
            errors.append(e)
            barrier.abort()  # release the others (and the caller) if this happened before the start
        finally:
            c.close()

    stats_client = _client(module, url, timeout)
    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(clients)]
    try:
        for t in threads:
            t.start()
        try:
            barrier.wait()  # every client warmed up
        except threading.BrokenBarrierError:
            pass  # a client failed: reported below
        before = _stats(module, stats_client, model)
        start = time.perf_counter()
        stop_at[0] = start + duration
        go.set()
        deadline = start + duration + timeout + 5  # one bound for the whole cell
        for t in threads:
            t.join(timeout=max(0.0, deadline - time.perf_counter()))
        wall = time.perf_counter() - start
        after = _stats(module, stats_client, model)
    finally:
        stats_client.close()
    if errors:
        raise RuntimeError(f"{len(errors)} client(s) failed; first: {errors[0]!r}") from errors[0]
    if any(t.is_alive() for t in threads):
        raise RuntimeError(f"clients still running {duration + timeout + 5:.0f} s after the cell started")
    all_lat = np.array([x for lst in lat for x in lst])
    items, execs = after[0] - before[0], after[1] - before[1]
    return {"clients": clients, "requests": int(all_lat.size), "seconds": wall,
            "req_per_s": all_lat.size / wall if wall > 0 else 0.0,
            "p50_ms": float(np.percentile(all_lat, 50)) if all_lat.size else float("nan"),
            "p99_ms": float(np.percentile(all_lat, 99)) if all_lat.size else float("nan"),
            "mean_batch": items / execs if execs else float("nan")}


def _check_first_response(module: Any, url: str, name: str, model: Any, arrays: dict[str, np.ndarray],
                          timeout: float) -> float:
    """Max abs difference of one served response from PyTorch; raises if beyond the export tolerance."""
    c = _client(module, url, timeout)
    try:
        res = _infer(module, c, name, arrays, timeout)
    finally:
        c.close()
    with torch.no_grad():
        ref = model(*[torch.from_numpy(a) for a in arrays.values()])
    refs = ref if isinstance(ref, (tuple, list)) else (ref,)
    outputs = [o["name"] if isinstance(o, dict) else o.name for o in
               (res.get_response()["outputs"] if module.__name__.endswith(".http") else res.get_response().outputs)]
    tol = get_tolerance("fp32", model_label(model), model_family(model))
    worst = 0.0
    for out_name, r in zip(outputs, refs):
        got, want = res.as_numpy(out_name), r.numpy()
        err = np.abs(got - want)
        worst = max(worst, float(err.max()))
        if not np.all(err <= tol.atol + tol.rtol * np.abs(want) + 1e-5):
            raise RuntimeError(f"server output {out_name!r} differs from PyTorch by up to {err.max():.3g}")
    return worst


def _table(rows: list[dict[str, Any]], markdown: bool) -> str:
    head = ["dynamic batching", "clients", "requests", "req/s", "p50 ms", "p99 ms", "mean batch"]
    body = [[r["mode"], str(r["clients"]), str(r["requests"]), f"{r['req_per_s']:.1f}", f"{r['p50_ms']:.1f}",
             f"{r['p99_ms']:.1f}", f"{r['mean_batch']:.2f}"] for r in rows]
    if markdown:
        return "\n".join(["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
                         + ["| " + " | ".join(b) + " |" for b in body])
    widths = [max(len(h), *(len(b[i]) for b in body)) for i, h in enumerate(head)]
    fmt = "  ".join(f"{{:>{w}}}" for w in widths)
    return "\n".join([fmt.format(*head)] + [fmt.format(*b) for b in body])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default="srresnet.div2k", help="registry name (default srresnet.div2k, real weights)")
    p.add_argument("--random-weights", action="store_true", help="random weights instead of the published ones")
    p.add_argument("--size", type=int, nargs=2, default=(64, 64), metavar=("H", "W"),
                   help="input H W of fully convolutional models (default 64 64)")
    p.add_argument("--clients", type=int, nargs="+", default=[1, 4, 16], help="client counts (default 1 4 16)")
    p.add_argument("--duration", type=float, default=10.0, help="seconds per (mode, clients) cell (default 10)")
    p.add_argument("--max-batch", type=int, default=16, help="Triton max_batch_size (default 16)")
    p.add_argument("--queue-delay-us", type=int, default=2000,
                   help="dynamic batching max_queue_delay_microseconds (default 2000)")
    p.add_argument("--protocol", choices=("grpc", "http"), default="grpc")
    p.add_argument("--timeout", type=float, default=120.0, help="per-request bound in seconds (default 120)")
    p.add_argument("--markdown", action="store_true", help="print the table as markdown")
    p.add_argument("--json", type=Path, default=None, help="also write the results as JSON here")
    args = p.parse_args(argv)
    if not 0 < args.duration <= 600 or not 0 < args.timeout <= 600:
        p.error("--duration and --timeout must be in (0, 600] seconds")
    if any(not 1 <= c <= 256 for c in args.clients):
        p.error("--clients must be in [1, 256]")
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    module = _client_module(args.protocol)

    model = resolve_model(args.model, pretrained=False if args.random_weights else None).eval()
    specs = model.specs
    size = tuple(args.size) if specs.dynamic_spatial else None
    arrays = {s.name: t.numpy() for s, t in zip(specs.inputs, sample_inputs(model, 1, size, seed=0))}
    modes = {"on": "m_dynbatch", "off": "m_nobatch"}
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="ganzoo-bench-triton-") as tmp:
        t0 = time.perf_counter()
        for mode, name in modes.items():
            to_triton_repo(model, tmp, format="python-onnxruntime", model_name=name, max_batch=args.max_batch,
                           dynamic_batching=mode == "on", max_queue_delay_us=args.queue_delay_us,
                           validate=mode == "on")
        logger.info("exported %s twice in %.1f s", model_label(model), time.perf_counter() - t0)
        with TritonServer(tmp, ready_timeout=300) as srv:
            url = srv.grpc_url if args.protocol == "grpc" else srv.http_url
            err = _check_first_response(module, url, modes["on"], model, arrays, args.timeout)
            logger.info("served output matches PyTorch (max abs diff %.2g)", err)
            for clients in args.clients:  # on and off alternate, so load from other processes hits both alike
                for mode, name in modes.items():
                    cell = run_cell(module, url, name, arrays, clients, args.duration, args.timeout)
                    cell["mode"] = mode
                    logger.info("batching %s, %d clients: %.1f req/s, p50 %.1f ms, p99 %.1f ms", mode, clients,
                                cell["req_per_s"], cell["p50_ms"], cell["p99_ms"])
                    rows.append(cell)
    rows.sort(key=lambda r: (r["mode"] != "on", r["clients"]))
    import onnxruntime

    info = {"model": model_label(model), "input": {k: list(v.shape) for k, v in arrays.items()},
            "protocol": args.protocol, "duration_s": args.duration, "max_batch": args.max_batch,
            "queue_delay_us": args.queue_delay_us, "machine": platform.processor() or platform.machine(),
            "cpus": os.cpu_count(), "python": platform.python_version(), "onnxruntime": onnxruntime.__version__,
            "ganzoo": ganzoo.__version__, "rows": rows}
    if args.json is not None:
        args.json.write_text(json.dumps(info, indent=2) + "\n")
    print(f"{info['model']} {info['input']} over {args.protocol}, {args.duration:g} s per cell, max batch "
          f"{args.max_batch}, queue delay {args.queue_delay_us} us, {info['cpus']} CPUs ({info['machine']}), "
          f"onnxruntime {info['onnxruntime']}")
    print(_table(rows, args.markdown))
    return 0


if __name__ == "__main__":
    sys.exit(main())
