"""ganzoo.bench: records, backends registry, error column, failure handling, JSON/PNG output and the CLI."""
from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
import time

import numpy as np
import pytest
import torch

import ganzoo
from ganzoo import bench
from ganzoo.bench import BenchRecord
from ganzoo.bench.backends import Backend, EagerBackend, register_backend, unregister_backend
from ganzoo.bench.runner import _percentile, _pixels_per_sample, _timed_loop

# one thread: the CI machine is shared, and OpenMP spin-waiting under contention makes eager 1000x slower
FAST = dict(warmup=1, iters=3, min_time_s=0.0, progress=False, pretrained=False, threads=1)


@pytest.fixture(scope="module")
def tiny():
    """dcgan_32 (1 channel, 32x32) at 1/8 width: same graph, fast everywhere."""
    return ganzoo.create("dcgan_32.mnist", ngf=8, ndf=8).eval()


@pytest.fixture
def fake_backends():
    """Register test backends; remove them afterwards."""
    names = []

    def add(name, cls):
        register_backend(name, cls)
        names.append(name)

    yield add
    for n in names:
        unregister_backend(n)


class Perturbed(EagerBackend):
    """A deliberately wrong backend: eager plus 0.1 everywhere."""

    reference = False

    def __call__(self, inputs):
        return super().__call__(inputs) + 0.1


class Broken(Backend):
    def prepare(self, model, inputs_spec, dtype, device):
        pass

    def __call__(self, inputs):
        raise RuntimeError("kaboom: deliberately broken backend")


class OutOfMemory(Broken):
    def __call__(self, inputs):
        raise MemoryError("cannot allocate 1 TiB")


class NotHere(Broken):
    @classmethod
    def available(cls, device):
        return False, "needs the flux capacitor"


class NaNs(EagerBackend):
    reference = False

    def __call__(self, inputs):
        out = super().__call__(inputs).clone()
        out[0, 0, 0, 0] = float("nan")
        return out


class Hungry(EagerBackend):
    """Allocates (and touches) 64 MiB per call on top of eager."""

    reference = False

    def __call__(self, inputs):
        buf = torch.ones(16 * 2**20)
        out = super().__call__(inputs)
        return out + buf[:1] - 1.0


def _by(records, backend, batch=None, dtype="fp32"):
    found = [r for r in records if r.backend == backend and r.dtype == dtype and (batch is None or r.batch == batch)]
    assert found, f"no record for {backend} {batch} {dtype}"
    return found[0] if batch is not None else found


# ------------------------------------------------------------------------------------------------ records
def test_records_have_sane_figures(tiny):
    threads_before = torch.get_num_threads()
    recs = bench.run([tiny], backends=("eager", "eager-cl"), batches=(1, 2), warmup=1, iters=7, min_time_s=0.05,
                     progress=False, threads=1)
    assert torch.get_num_threads() == threads_before  # restored after the run
    assert [(r.backend, r.batch) for r in recs] == [("eager", 1), ("eager-cl", 1), ("eager", 2), ("eager-cl", 2)]
    for r in recs:
        assert r.status == "ok", r.reason
        assert r.model == "dcgan_32.mnist" and r.device == "cpu" and r.dtype == "fp32"
        assert r.iters == len(r.times_ms) >= 7
        assert sum(r.times_ms) / 1e3 >= 0.05 * 0.99  # the minimum time was honoured
        assert all(t > 0 for t in r.times_ms)
        assert r.min_ms <= r.p10_ms <= r.median_ms <= r.p90_ms <= max(r.times_ms)
        assert r.median_ms == pytest.approx(np.median(r.times_ms))
        assert (r.p10_ms, r.p90_ms) == pytest.approx(tuple(np.percentile(r.times_ms, [10, 90])))
        assert r.throughput == pytest.approx(r.batch / (r.median_ms / 1e3))
        assert r.output_shape == [r.batch, 1, 32, 32]
        assert r.pixel_unit == "pixels" and r.pixel_rate == pytest.approx(r.throughput * 32 * 32)
        assert r.input_shapes == [[r.batch, 100]]
        assert isinstance(r.peak_mem_bytes, int) and r.peak_mem_bytes >= 0 and r.mem_method.startswith("cpu")
        assert r.prepare_s is not None and r.first_call_ms > 0
        assert r.threads == 1
    assert _by(recs, "eager", 1).max_abs_err is None  # the reference has no error figure
    assert _by(recs, "eager-cl", 2).max_abs_err < 1e-5


def test_percentile_and_timed_loop():
    assert _percentile([1.0, 2.0, 3.0, 4.0, 5.0], 0.1) == pytest.approx(1.4)  # numpy's linear default
    assert _percentile([1.0, 2.0, 3.0, 4.0, 5.0], 0.9) == pytest.approx(4.6)
    assert _percentile([7.0], 0.9) == 7.0
    calls = []
    t0 = time.perf_counter()
    times, out = _timed_loop(lambda x: calls.append(x) or len(calls), "feed", "cpu", iters=3, min_time_s=0.03,
                             max_iters=10**6)
    assert time.perf_counter() - t0 >= 0.03 and len(times) == len(calls) > 3 and out == len(calls)
    times, _ = _timed_loop(lambda x: time.sleep(0.002), None, "cpu", iters=4, min_time_s=0.0, max_iters=10)
    assert len(times) == 4 and min(times) >= 2.0
    times, _ = _timed_loop(lambda x: None, None, "cpu", iters=2, min_time_s=60.0, max_iters=5)
    assert len(times) == 5  # max_iters caps a long minimum time


def test_max_time_caps_a_slow_cell(tiny, fake_backends):
    class Slow(EagerBackend):
        reference = False

        def __call__(self, inputs):
            time.sleep(0.05)
            return super().__call__(inputs)

    fake_backends("test-slow", Slow)
    r = bench.run([tiny], backends=("test-slow",), batches=(1,), warmup=5, iters=100, min_time_s=0.0,
                  max_time_s=0.2, progress=False, threads=1)[0]
    assert r.status == "ok" and 1 <= r.iters < 10 and r.warmup < 5
    assert "max_time_s=0.2 reached" in r.extra["note"]
    with pytest.raises(ValueError, match="max_time_s: expected a number > 0"):
        bench.run([tiny], max_time_s=0)


def test_pixels_per_sample_counts_voxels_for_5d():
    assert _pixels_per_sample(torch.zeros(2, 3, 16, 24)) == (16 * 24, "pixels")
    assert _pixels_per_sample(torch.zeros(2, 1, 4, 8, 8)) == (4 * 8 * 8, "voxels")


# ------------------------------------------------------------------------------------------------ failures
def test_unavailable_backends_are_reported_with_a_reason(tiny):
    if torch.cuda.is_available():
        pytest.skip("CPU-only expectations")
    recs = bench.run([tiny], backends=("eager", "tensorrt", "triton"), batches=(1,), **FAST)
    trt, tri = _by(recs, "tensorrt", 1), _by(recs, "triton", 1)
    assert trt.status == "unavailable" and "needs a CUDA device" in trt.reason
    assert tri.status == "unavailable" and "CUDA device" in tri.reason
    assert trt.median_ms is None and trt.times_ms == []
    assert _by(recs, "eager", 1).status == "ok"


def test_error_column_catches_a_wrong_backend(tiny, fake_backends):
    fake_backends("test-perturbed", Perturbed)
    recs = bench.run([tiny], backends=("eager", "eager-cl", "test-perturbed"), batches=(2,), **FAST)
    assert all(r.status == "ok" for r in recs), [(r.backend, r.reason) for r in recs]
    assert _by(recs, "test-perturbed", 2).max_abs_err == pytest.approx(0.1, abs=1e-5)
    assert 0.0 < _by(recs, "test-perturbed", 2).ref_max_abs <= 1.0  # tanh output scale
    assert _by(recs, "eager-cl", 2).max_abs_err < 1e-5


@pytest.mark.slow
def test_compile_backend_matches_eager(tiny):
    r = _by(bench.run([tiny], backends=("compile",), batches=(2,), **FAST), "compile", 2)
    assert r.status == "ok", r.reason
    assert r.max_abs_err < 1e-5
    assert r.extra["compile_mode"] == "default"
    assert r.first_call_ms > r.median_ms  # the first call compiled


def test_failures_become_records_and_the_run_goes_on(tiny, fake_backends):
    for name, cls in (("test-broken", Broken), ("test-oom", OutOfMemory), ("test-nothere", NotHere),
                      ("test-nan", NaNs)):
        fake_backends(name, cls)
    recs = bench.run([tiny], backends=("test-broken", "test-oom", "test-nothere", "test-nan", "eager"),
                     batches=(1,), **FAST)
    broken, oom, nothere, nan = (_by(recs, b, 1) for b in ("test-broken", "test-oom", "test-nothere", "test-nan"))
    assert broken.status == "error" and "kaboom" in broken.reason and "RuntimeError" in broken.reason
    assert oom.status == "oom" and "1 TiB" in oom.reason
    assert nothere.status == "unavailable" and nothere.reason == "needs the flux capacitor"
    assert nan.status == "ok" and nan.nonfinite and nan.max_abs_err is None and "NaN" in nan.reason
    assert _by(recs, "eager", 1).status == "ok"


def test_unsupported_dtypes(tiny):
    no_half = ganzoo.create("dcgan_32.mnist", ngf=8, ndf=8).eval()
    no_half.pretrained_cfg = dataclasses.replace(no_half.pretrained_cfg, half_precision=False)
    recs = bench.run([no_half], backends=("eager",), batches=(1,), dtypes=("fp32", "fp16"), **FAST)
    assert _by(recs, "eager", 1, "fp32").status == "ok"
    r = _by(recs, "eager", 1, "fp16")
    assert r.status == "unsupported" and "half_precision=False" in r.reason
    # eager fp16 on a model that declares half support runs, and its error is measured against eager fp32
    recs = bench.run([tiny], backends=("eager", "onnxruntime"), batches=(1,), dtypes=("fp16", "bf16"), **FAST)
    r = _by(recs, "eager", 1, "bf16")
    if r.status == "ok":
        assert 0 < r.max_abs_err < 0.1
    else:
        assert r.status == "unsupported", r.reason
    ort_bf16 = _by(recs, "onnxruntime", 1, "bf16")
    assert ort_bf16.status == "unsupported" and "does not run bf16" in ort_bf16.reason


def test_peak_memory_sees_a_64_mib_allocation(tiny, fake_backends):
    fake_backends("test-hungry", Hungry)
    r = _by(bench.run([tiny], backends=("test-hungry",), batches=(1,), **FAST), "test-hungry", 1)
    assert r.status == "ok", r.reason
    if not r.mem_method.startswith("cpu: VmHWM during"):
        pytest.skip(f"peak RSS cannot be reset here ({r.mem_method})")
    assert r.peak_mem_bytes >= 60 * 2**20
    assert r.rss_peak_bytes >= r.peak_mem_bytes


def test_onnxruntime_backend_matches_eager(tiny):
    pytest.importorskip("onnxruntime")
    recs = bench.run([tiny], backends=("onnxruntime",), batches=(1, 3), **FAST)
    for r in recs:
        assert r.status == "ok", r.reason
        assert r.max_abs_err < 1e-5
        assert r.extra["providers"][0] == "CPUExecutionProvider" and r.extra["onnx_exporter"]
        assert r.output_shape == [r.batch, 1, 32, 32]


def test_onnx_backends_export_through_ganzoo_export_and_failures_are_recorded_once(tiny, monkeypatch):
    """The benchmark owns no exporter: the ONNX graph is ganzoo.export's, and a model the pipeline cannot export
    is recorded as unsupported with the exporter's message, once per (model, dtype), not retried per batch."""
    pytest.importorskip("onnxruntime")
    from ganzoo.export import pipeline

    calls = []
    real_trace = pipeline.trace

    def failing(plan, prep):
        calls.append(tuple(x.shape for x in prep.inputs))
        raise pipeline.ExportError("torch.onnx.export failed for dcgan_32.mnist: exporter exploded")

    monkeypatch.setattr(pipeline, "trace", failing)
    recs = bench.run([tiny], backends=("onnxruntime", "eager"), batches=(1, 2), **FAST)
    for b in (1, 2):
        r = _by(recs, "onnxruntime", b)
        assert r.status == "unsupported" and "ganzoo.export cannot export this model in fp32" in r.reason
        assert "exporter exploded" in r.reason
        assert _by(recs, "eager", b).status == "ok"
    assert calls == [(torch.Size([2, 100]),)]  # traced once (at the exporter's example batch), not per batch

    traced = []
    monkeypatch.setattr(pipeline, "trace", lambda plan, prep: traced.append(plan) or real_trace(plan, prep))
    recs = bench.run([tiny], backends=("onnxruntime",), batches=(1, 3), **FAST)
    assert len(traced) == 1 and traced[0].dynamic_batch and not traced[0].validate
    for r in recs:  # one dynamic-batch graph serves every batch size
        assert r.status == "ok" and r.extra["onnx_exporter"].startswith("ganzoo.export.to_onnx (opset ")
        assert r.max_abs_err < 1e-5


def test_size_is_ignored_by_fixed_size_models(tiny):
    r = bench.run([tiny], backends=("eager",), batches=(1,), size=(48, 64), **FAST)[0]
    assert r.status == "ok" and r.size is None and "ignored" in r.extra["note"]
    assert r.output_shape == [1, 1, 32, 32]


def test_bad_arguments_raise_before_any_work(tiny):
    with pytest.raises(ValueError, match=r"backends: expected names from .*got \['eager', 'nope'\]"):
        bench.run([tiny], backends=("eager", "nope"))
    with pytest.raises(ValueError, match=r"batches: expected positive integers, got \[1, 0\]"):
        bench.run([tiny], batches=(1, 0))
    with pytest.raises(ValueError, match=r"dtypes: expected names from .*got \['fp8'\]"):
        bench.run([tiny], dtypes=("fp8",))
    with pytest.raises(ValueError, match=r"size: expected \(H, W\)"):
        bench.run([tiny], size=(32, 0))
    with pytest.raises(ganzoo.UnknownModelError, match="unknown model 'dcgna'"):
        bench.run(["dcgna"])
    with pytest.raises(ValueError, match="no model matches 'zzz\\*'"):
        bench.run(["zzz*"])
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA is not available"):
            bench.run([tiny], device="cuda")


def test_register_backend_checks():
    with pytest.raises(ValueError, match="already registered"):
        register_backend("eager", Perturbed)
    with pytest.raises(TypeError, match="subclass of ganzoo.bench.Backend"):
        register_backend("test-notabackend", object)
    with pytest.raises(ValueError, match="unknown backend 'nope'"):
        bench.get_backend("nope")
    assert {"eager", "eager-cl", "compile", "triton", "onnxruntime", "tensorrt"} <= set(bench.list_backends())


# ------------------------------------------------------------------------------------------------ outputs
def test_json_round_trip_and_png(tiny, tmp_path, fake_backends):
    fake_backends("test-nan", NaNs)
    recs = bench.run([tiny], backends=("eager", "eager-cl", "tensorrt", "test-nan"), batches=(1, 2), **FAST)
    meta = bench.make_meta({"iters": 3}, command=["ganzoo", "bench", "x"])
    js = bench.write_json(tmp_path / "out" / "b.json", recs, meta)
    raw = json.loads(js.read_text(), parse_constant=lambda c: pytest.fail(f"non-strict JSON constant {c}"))
    assert raw["schema"] == "ganzoo.bench/1" and raw["command"] == ["ganzoo", "bench", "x"]
    assert raw["machine"]["cpu_count"] >= 1 and raw["machine"]["memory_bytes"] > 0 and raw["machine"]["cpu"]
    assert raw["versions"]["torch"] == torch.__version__ and raw["versions"]["python"]
    assert raw["versions"]["ganzoo"] == ganzoo.__version__
    assert raw["created"].endswith("+00:00")
    assert len(raw["records"][0]["times_ms"]) == recs[0].iters  # every per-iteration timing is kept
    meta2, back = bench.load_json(js)
    assert back == recs
    assert meta2["settings"] == {"iters": 3}
    png = bench.write_plot(tmp_path / "b.png", recs)
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5000
    assert bench.write_plot(tmp_path / "none.png", [r for r in recs if not r.ok]) is None


def test_load_json_rejects_other_files(tmp_path):
    p = tmp_path / "x.json"
    p.write_text(json.dumps({"schema": "something/else", "records": []}))
    with pytest.raises(ValueError, match="expected a ganzoo benchmark file with schema 'ganzoo.bench/1'"):
        bench.load_json(p)
    with pytest.raises(ValueError, match="unknown field"):
        BenchRecord.from_dict({"model": "m", "backend": "b", "batch": 1, "dtype": "fp32", "device": "cpu", "x": 1})
    with pytest.raises(ValueError, match="status must be one of"):
        BenchRecord("m", "b", 1, "fp32", "cpu", status="fine")


def test_print_table_shows_every_record(tiny, fake_backends):
    from rich.console import Console

    fake_backends("test-perturbed", Perturbed)
    recs = bench.run([tiny], backends=("eager", "test-perturbed", "tensorrt"), batches=(1,), **FAST)
    con = Console(record=True, width=400)
    bench.print_table(recs, console=con)
    text = con.export_text()
    assert "dcgan_32.mnist" in text and "test-perturbed" in text and "unavailable" in text
    assert "ref" in text and "1.00e-01" in text
    assert "pip install 'ganzoo[tensorrt]'" in text  # reasons are printed verbatim, not read as rich markup


# ------------------------------------------------------------------------------------------------ CLI
def test_cli_bench_writes_json_and_png(tmp_path, capsys):
    from ganzoo.cli import main

    out = tmp_path / "bench-out"
    rc = main(["bench", "dcgan_32", "--backends", "eager,tensorrt", "--batch", "1", "-o", str(out), "--iters", "3",
               "--warmup", "1", "--min-time", "0", "--no-progress", "--random-weights", "--threads", "1"])
    assert rc == 0
    meta, recs = bench.load_json(out / "bench.json")
    assert (out / "bench.png").read_bytes()[:4] == b"\x89PNG"
    assert [(r.backend, r.status) for r in recs] == [("eager", "ok"), ("tensorrt", "unavailable")]
    assert recs[0].model == "dcgan_32.mnist" and recs[0].weights == "random"
    assert meta["command"][:3] == ["ganzoo", "bench", "dcgan_32"] and "--backends" in meta["command"]
    assert meta["settings"]["batches"] == [1]
    text = capsys.readouterr().out
    assert "eager" in text and "tensorrt" in text and "bench.json" in text


@pytest.mark.parametrize("argv, message", [
    (["--batch", "1,x"], "--batch: expected a comma-separated list of int"),
    (["--batch", "0"], "batches: expected positive integers"),
    (["--backends", "eager,nope"], "backends: expected names from"),
    (["--size", "12y"], "--size: expected HxW"),
])
def test_cli_bad_arguments(argv, message, capsys):
    from ganzoo.cli import main

    assert main(["bench", "dcgan_32", "--no-progress", *argv]) == 1
    assert message in capsys.readouterr().err


def test_cli_returns_1_when_a_cell_fails(fake_backends, capsys):
    from ganzoo.cli import main

    fake_backends("test-broken", Broken)
    rc = main(["bench", "dcgan_32", "--backends", "test-broken", "--batch", "1", "--no-progress", "--random-weights",
               "--threads", "1"])
    assert rc == 1
    assert "1 of 1 cells failed" in capsys.readouterr().err


def test_cli_module_imports_nothing_heavy():
    heavy = "('matplotlib', 'onnxruntime', 'onnx', 'tensorrt', 'triton')"
    code = f"import sys, ganzoo.cli; ganzoo.cli.build_parser(); print(','.join(m for m in {heavy} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == ""


def test_parse_helpers():
    from ganzoo.bench.cli import parse_list, parse_size

    assert parse_size("96x128") == (96, 128) and parse_size("64") == (64, 64) and parse_size(None) is None
    assert parse_list("1, 8,32", "batch", int) == [1, 8, 32]
    with pytest.raises(ValueError, match="--batch: expected a comma-separated list, got '1,,2'"):
        parse_list("1,,2", "batch", int)


# ----------------------------------------------------------------------------------- tools/bench_generators.py
def _load_bench_generators():
    from tests.conftest import load_tool

    return load_tool("bench_generators")


def test_bench_generators_counts_every_conv_kind_and_linear():
    bg = _load_bench_generators()
    net = torch.nn.Sequential(torch.nn.Conv3d(2, 4, 3, padding=1), torch.nn.ConvTranspose3d(4, 3, 2, stride=2),
                              torch.nn.Flatten(2), torch.nn.Conv1d(3, 5, 4, stride=4, groups=1),
                              torch.nn.Linear(128, 7))
    x = torch.zeros(2, 2, 4, 4, 4)
    conv3d = 2 * 4 * 4**3 * 2 * 27              # output elements x in_channels x 3^3 taps
    tconv3d = 2 * 4 * 4**3 * 3 * 8              # *input* elements x out_channels x 2^3 taps (no inserted zeros)
    conv1d = 2 * 5 * 128 * 3 * 4                # (B, 3, 512) -> (B, 5, 128)
    linear = 2 * 5 * 7 * 128
    assert bg.count_macs(net, (x,)) == conv3d + tconv3d + conv1d + linear
    assert not any(m._forward_hooks for m in net.modules())  # the counting hooks are removed


def test_bench_generators_a_path_failing_while_timed_is_an_error_and_the_others_are_timed():
    bg = _load_bench_generators()
    calls = []

    def flaky():
        calls.append(1)
        if len(calls) > 2:
            raise MemoryError("cannot allocate 9 GiB")

    info = {"ok": {"status": "ok"}, "flaky": {"status": "ok"}}
    times = bg._time_safely({"ok": lambda: None, "flaky": flaky}, 2, 0.0, info)
    assert list(times) == ["ok"] and len(times["ok"]) >= 2
    assert info["flaky"] == {"status": "error", "error": "MemoryError: cannot allocate 9 GiB"}


def test_bench_generators_calls_bf16_validated_only_where_eval_precision_says_so():
    bg = _load_bench_generators()
    prec = {"reports": [{"model": {"name": "srresnet.div2k"},
                         "rows": {"OpenVINO bf16": {"validated": True, "d_psnr_y": -0.012},
                                  "OpenVINO fp32": {"validated": True, "d_psnr_y": 0.0}}},
                        {"model": {"name": "srgan.div2k"},
                         "rows": {"OpenVINO bf16": {"validated": False, "d_psnr_y": -0.08}}}]}
    bf16 = "ganzoo OpenVINO bf16"
    assert bg._validation(bf16, {}, prec, "srresnet", 0.02, 0.01) == \
        "validated (tools/eval_precision.py: dPSNR-Y -0.012 dB)"
    assert bg._validation(bf16, {}, prec, "srgan", 0.02, 0.01) == \
        "fails tools/eval_precision.py (dPSNR-Y -0.080 dB); output error 2.00e-02 (rel 1.00e-02)"
    for name, p, weights in (("srresnet_x2", prec, "published"), ("srresnet", None, "published"),
                             ("srresnet", prec, "random")):  # another model, no JSON, or not the weights it checked
        cell = bg._validation(bf16, {}, p, name, 0.02, 0.01, weights)
        assert cell == "no PSNR check (tools/eval_precision.py has no entry); output error 2.00e-02 (rel 1.00e-02)"
    assert bg._validation(bg.ONNX, {"check": "to_onnx: passed"}, prec, "srresnet", 1e-6, 1e-6) == "to_onnx: passed"
    assert bg._validation("eager fp32 NCHW", {}, prec, "srresnet", None, None) == "reference"


def test_bench_generators_tool_times_every_path_and_records_failures(tmp_path, monkeypatch, capsys):
    """tools/bench_generators.py --quick on two families: every (model, batch) has its eager rows, the ONNX path
    is validated, the FLOP count is right, and an exporter that raises is an error row, not a crash."""
    pytest.importorskip("onnxruntime")
    pytest.importorskip("openvino")
    bg = _load_bench_generators()
    from ganzoo.export import openvino as ov_export

    real = ov_export.to_openvino

    def bf16_explodes(model, output, precision="fp32", **kw):
        if precision == "bf16":
            raise RuntimeError("bf16 exporter exploded\nsecond line of the message")
        return real(model, output, precision, **kw)

    monkeypatch.setattr(ov_export, "to_openvino", bf16_explodes)
    js, md = tmp_path / "g.json", tmp_path / "g.md"
    threads_before = torch.get_num_threads()
    rc = bg.main(["--models", "dcgan_32,srresnet_x2", "--batches", "1,2", "--quick", "--threads", "1",
                  "--random-weights", "--json", str(js), "--markdown", str(md)])
    assert rc == 0 and torch.get_num_threads() == threads_before
    out = json.loads(js.read_text())
    rows = out["rows"]
    groups = {(r["model"], r["batch"]) for r in rows}
    assert groups == {("dcgan_32.mnist", 1), ("dcgan_32.mnist", 2), ("srresnet_x2.pool", 1), ("srresnet_x2.pool", 2)}
    for model, batch in groups:
        by = {r["path"]: r for r in rows if (r["model"], r["batch"]) == (model, batch)}
        assert list(by) == list(bg.PATHS)
        for path in (*bg.EAGER, bg.ONNX, "ganzoo OpenVINO fp32"):
            r = by[path]
            assert r["status"] == "ok", r.get("error")
            assert r["median_ms"] > 0 and r["runs"] >= 3 and r["min_ms"] <= r["median_ms"]
            assert r["ms_per_item"] == pytest.approx(r["median_ms"] / batch)
            assert r["gflops"] == pytest.approx(r["gflop_per_item"] * batch / (r["median_ms"] / 1e3))
            assert r["weights"] == "random"
        best = min(by[p]["median_ms"] for p in bg.EAGER)
        assert max(by[p]["speedup_vs_best_eager"] for p in bg.EAGER) == pytest.approx(1.0)
        assert by[bg.ONNX]["speedup_vs_best_eager"] == pytest.approx(best / by[bg.ONNX]["median_ms"])
        assert by[bg.ONNX]["validation_passed"] is True and by[bg.ONNX]["validation"] == "to_onnx: passed"
        # fp32 rounding only; random-init SRResNet (16 residual blocks, BN at its init statistics) amplifies it
        tol = 1e-5 if model == "dcgan_32.mnist" else 5e-2
        for path in (bg.ONNX, "ganzoo OpenVINO fp32", "eager fp32 channels-last"):
            assert 0 <= by[path]["rel_err"] < tol and by[path]["max_abs_err"] >= 0
        assert by["ganzoo OpenVINO fp32"]["validation"] == "to_openvino fp32: passed"
        bf16 = by["ganzoo OpenVINO bf16"]
        assert bf16["status"] == "error" and bf16["error"] == "RuntimeError: bf16 exporter exploded"
        assert "median_ms" not in bf16
    assert {r["input_shape"] for r in rows if r["model"] == "srresnet_x2.pool"} == {"lr 1x3x16x16", "lr 2x3x16x16"}
    assert {r["input_shape"] for r in rows if r["model"] == "dcgan_32.mnist"} == {"z 1x100", "z 2x100"}

    # an independent count for DCGAN 32x32: z (1x1) through the transposed convs; each input pixel of each
    # layer is scattered over k x k taps of every output channel
    gen = ganzoo.create("dcgan_32.mnist").generator
    side, macs = 1, 0
    for m in gen.modules():
        if isinstance(m, torch.nn.ConvTranspose2d):
            k, s, p = m.kernel_size[0], m.stride[0], m.padding[0]
            macs += m.in_channels * side * side * m.out_channels * k * k
            side = (side - 1) * s - 2 * p + k
    assert side == 32 and macs == 17_448_960
    for r in rows:
        if r["model"] == "dcgan_32.mnist" and r["status"] == "ok":
            assert r["gflop_per_item"] == pytest.approx(2 * macs / 1e9, rel=1e-12)
    sr = next(m for m in out["models"] if m["name"] == "srresnet_x2")
    assert sr["size"] == [16, 16] and sr["gflop_per_item"] == pytest.approx(sr["bench_sr_gflop"])  # bench_sr agrees

    assert out["threads"] == 1 and out["versions"]["torch"] == torch.__version__ and out["cpu"]["machine"]
    assert out["date"].endswith("+00:00") and out["command"].startswith("tools/bench_generators.py --models")
    assert out["settings"]["quick"] is True and out["settings"]["batches"] == [1, 2]
    text = md.read_text()
    assert capsys.readouterr().out == text  # the table is the only thing printed
    table = [ln for ln in text.splitlines() if ln.startswith("| ") and not ln.startswith("| model")]
    assert len(table) == len(rows) == 4 * len(bg.PATHS)
    assert text.count("error: RuntimeError: bf16 exporter exploded |") == 4 and "second line" not in text
    assert "command: `tools/bench_generators.py --models dcgan_32,srresnet_x2" in text
    assert f"torch {torch.__version__}" in text and "1 thread(s)" in text
