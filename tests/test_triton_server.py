"""A real Triton Inference Server (the nvidia-pytriton wheel's tritonserver) serving ganzoo's python-onnxruntime
repositories on 127.0.0.1: readiness, concurrent HTTP and gRPC requests checked against PyTorch, dynamic batching,
errors, and shutdown by PID. The repository-writing tests at the top need no server."""
from __future__ import annotations

import os
import threading
import time

import numpy as np
import pytest
import torch

import ganzoo
from ganzoo.export import InvalidExportPathError
from ganzoo.export.triton import PYTHON_MODEL_SOURCE, parse_config, to_triton_repo

pytest.importorskip("google.protobuf", reason="needs protobuf to parse config.pbtxt")

QUEUE_DELAY_US = 50_000  # long enough that concurrent test requests meet in one batch on a loaded machine
N_REQUESTS, N_THREADS = 8, 4
TIMEOUT_S = 30.0


def _dcgan() -> ganzoo.models.GANModel:
    torch.manual_seed(0)
    return ganzoo.create("dcgan_32.mnist", ngf=8, ndf=8).eval()


def _sr() -> ganzoo.models.GANModel:
    torch.manual_seed(0)
    return ganzoo.create("srresnet_x2.paper", num_blocks=1, width=8).eval()


def _client(module, url: str):
    """A tritonclient (http or grpc module) client whose every call is bounded by TIMEOUT_S."""
    if module.__name__.endswith(".http"):
        return module.InferenceServerClient(url, connection_timeout=TIMEOUT_S, network_timeout=TIMEOUT_S)
    return module.InferenceServerClient(url)


def _infer(client, module, model: str, inputs):
    kw = {} if module.__name__.endswith(".http") else {"client_timeout": TIMEOUT_S}
    return client.infer(model, inputs, **kw)


def _torch(model, x: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return model(torch.from_numpy(x)).numpy()


# ------------------------------------------------------------------------------------ the repository (no server)


def test_python_backend_repo_layout_and_config(tmp_path):
    pytest.importorskip("tritonclient", reason="parsing config.pbtxt needs tritonclient")
    res = to_triton_repo(_dcgan(), tmp_path, format="python-onnxruntime", max_batch=8, max_queue_delay_us=250,
                         instance_count=2, intra_op_threads=1, validate=False)
    version = res.model_dir / "1"
    assert sorted(p.name for p in res.model_dir.rglob("*")) == ["1", "config.pbtxt", "ganzoo.json", "model.onnx",
                                                                   "model.py"]
    assert res.model_path == version / "model.onnx"
    assert (version / "model.py").read_bytes() == PYTHON_MODEL_SOURCE.read_bytes()  # the fixed ganzoo file
    cfg = parse_config(res.config_path)
    assert cfg.backend == "python" and cfg.platform == "" and cfg.max_batch_size == 8
    assert [(g.kind, g.count) for g in cfg.instance_group] == [(cfg.instance_group[0].KIND_CPU, 2)]
    assert cfg.dynamic_batching.max_queue_delay_microseconds == 250
    assert list(cfg.dynamic_batching.preferred_batch_size) == [4, 8]
    assert cfg.parameters["intra_op_num_threads"].string_value == "1"  # read by model.py

    off = to_triton_repo(_dcgan(), tmp_path / "off", format="python-onnxruntime", dynamic_batching=False,
                         validate=False)
    assert not parse_config(off.config_path).HasField("dynamic_batching")


def test_python_backend_repo_refuses_bad_arguments(tmp_path):
    with pytest.raises(ValueError, match=r"instance_count must be an int >= 1, got 0"):
        to_triton_repo(_dcgan(), tmp_path / "r", format="python-onnxruntime", instance_count=0)
    with pytest.raises(ValueError, match=r"max_queue_delay_us must be an int >= 0, got -1"):
        to_triton_repo(_dcgan(), tmp_path / "r", format="python-onnxruntime", max_queue_delay_us=-1)
    to_triton_repo(_dcgan(), tmp_path / "r", format="python-onnxruntime", validate=False)
    with pytest.raises(InvalidExportPathError):  # an existing model is not replaced unless overwrite=True
        to_triton_repo(_dcgan(), tmp_path / "r", format="python-onnxruntime", validate=False)


def test_cli_writes_the_python_backend_repo(tmp_path, capsys):
    from ganzoo.cli import main

    argv = ["export", "dcgan_32.mnist", "--random-weights", "--format", "triton-repo", "--triton-backend",
            "python-onnxruntime", "--batch", "1:4:8", "--no-validate", "-o", str(tmp_path)]
    assert main(argv + ["--no-dynamic-batching"]) == 0
    version = tmp_path / "dcgan_32_mnist" / "1"
    assert sorted(p.name for p in version.iterdir()) == ["model.onnx", "model.py"]
    cfg = (tmp_path / "dcgan_32_mnist" / "config.pbtxt").read_text()
    assert 'backend: "python"' in cfg and "kind: KIND_CPU" in cfg and "max_batch_size: 8" in cfg
    assert "dynamic_batching" not in cfg
    assert main(argv) == 0  # on by default (and the existing model is replaced)
    assert "preferred_batch_size: [ 4, 8 ]" in (tmp_path / "dcgan_32_mnist" / "config.pbtxt").read_text()


def test_missing_server_is_a_typed_error(monkeypatch):
    from ganzoo.export import BackendUnavailableError
    from ganzoo.export import triton_server

    monkeypatch.setattr(triton_server.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(BackendUnavailableError, match=r"pip install --no-deps nvidia-pytriton==0\.7\.0"):
        triton_server.find_tritonserver()


# ----------------------------------------------------------------------------------------------- the server


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    from ganzoo.export.triton_server import TritonServer, TritonServerNotFoundError, find_tritonserver

    try:
        find_tritonserver()
    except TritonServerNotFoundError as e:
        pytest.skip(f"tritonserver not installed: {e}")
    pytest.importorskip("tritonclient.http", reason="needs tritonclient[http]")
    repo = tmp_path_factory.mktemp("triton-repo")
    models = {"dcgan": _dcgan(), "sr": _sr()}
    for name, model in models.items():
        to_triton_repo(model, repo, format="python-onnxruntime", model_name=name, max_batch=8,
                       max_queue_delay_us=QUEUE_DELAY_US, validate=False)
    log = repo / "server.log"
    with TritonServer(repo, log_path=log, ready_timeout=60, stop_timeout=15) as srv:
        srv.test_models = models
        yield srv
    assert srv.returncode is not None


def _check_concurrent(srv, client_module, url: str, model) -> None:
    """N_REQUESTS requests of batch 1 or 2 from N_THREADS threads (one client each), started together."""
    rng = np.random.default_rng(0)
    zs = [rng.standard_normal((1 + k % 2, 100), dtype=np.float32) for k in range(N_REQUESTS)]
    results: dict[int, np.ndarray] = {}
    errors: list[BaseException] = []
    barrier = threading.Barrier(N_THREADS, timeout=30)

    def worker(t: int) -> None:
        client = _client(client_module, url)
        try:
            barrier.wait()
            for k in range(t, N_REQUESTS, N_THREADS):
                inp = client_module.InferInput("z", list(zs[k].shape), "FP32")
                inp.set_data_from_numpy(zs[k])
                results[k] = _infer(client, client_module, "dcgan", [inp]).as_numpy("image")
        except BaseException as e:  # noqa: BLE001 - re-raised in the test's thread
            errors.append(e)
        finally:
            client.close()

    threads = [threading.Thread(target=worker, args=(t,), daemon=True) for t in range(N_THREADS)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout=60)
    assert not any(th.is_alive() for th in threads), "client threads did not finish within 60 s"
    assert not errors, errors
    for k, z in enumerate(zs):  # each request gets its own rows back, equal to PyTorch's
        np.testing.assert_allclose(results[k], _torch(model, z), rtol=1e-4, atol=1e-5)


def _stats(client, name: str) -> tuple[int, int]:
    s = client.get_inference_statistics(name)["model_stats"][0]
    return int(s["inference_count"]), int(s["execution_count"])


def test_server_and_models_ready(server):
    import tritonclient.http as http

    client = _client(http, server.http_url)
    try:
        assert client.is_server_live() and client.is_server_ready()
        assert client.is_model_ready("dcgan") and client.is_model_ready("sr")
        cfg = client.get_model_config("dcgan")  # the server's own parse of config.pbtxt
        assert cfg["backend"] == "python" and cfg["max_batch_size"] == 8
        assert cfg["dynamic_batching"]["max_queue_delay_microseconds"] == QUEUE_DELAY_US
        assert cfg["dynamic_batching"]["preferred_batch_size"] == [4, 8]
        assert [g["kind"] for g in cfg["instance_group"]] == ["KIND_CPU"]
        assert server.model_ready("dcgan", "1") and not server.model_ready("no_such_model")
    finally:
        client.close()


def test_concurrent_http_requests_match_pytorch_and_are_batched(server):
    import tritonclient.http as http

    client = _client(http, server.http_url)
    try:
        before = _stats(client, "dcgan")
        _check_concurrent(server, http, server.http_url, server.test_models["dcgan"])
        inferences, executions = (a - b for a, b in zip(_stats(client, "dcgan"), before))
    finally:
        client.close()
    assert inferences == sum(1 + k % 2 for k in range(N_REQUESTS))  # items, not requests
    assert executions < N_REQUESTS, f"dynamic batching formed no batch: {executions} executions"


def test_concurrent_grpc_requests_match_pytorch(server):
    grpc = pytest.importorskip("tritonclient.grpc", reason="needs tritonclient[grpc]")
    _check_concurrent(server, grpc, server.grpc_url, server.test_models["dcgan"])


def test_dynamic_spatial_model_serves_two_sizes(server):
    import tritonclient.http as http

    client = _client(http, server.http_url)
    try:
        for shape in [(2, 3, 12, 16), (1, 3, 20, 8)]:
            x = np.random.default_rng(1).uniform(-1, 1, shape).astype(np.float32)
            inp = http.InferInput("lr", list(shape), "FP32")
            inp.set_data_from_numpy(x)
            out = _infer(client, http, "sr", [inp])
            name = out.get_response()["outputs"][0]["name"]
            np.testing.assert_allclose(out.as_numpy(name), _torch(server.test_models["sr"], x), rtol=1e-4, atol=1e-4)
    finally:
        client.close()


def test_bad_requests_get_error_responses(server):
    import tritonclient.http as http
    from tritonclient.utils import InferenceServerException

    client = _client(http, server.http_url)
    try:
        for shape, dtype, match in [((1, 99), "FP32", r"unexpected shape|shape"),
                                    ((9, 100), "FP32", r"batch.size|exceeds|max"),
                                    ((1, 100), "FP64", r"datatype|FP64")]:
            inp = http.InferInput("z", list(shape), dtype)
            inp.set_data_from_numpy(np.zeros(shape, dtype=np.float32 if dtype == "FP32" else np.float64))
            with pytest.raises(InferenceServerException, match=match):
                _infer(client, http, "dcgan", [inp])
        assert client.is_server_ready()  # the errors did not take the server down
    finally:
        client.close()


def test_server_log_has_no_python_errors(server):
    """model.py ran (the tests above sent requests) without Python errors in the stub, not even ignored ones."""
    import tritonclient.http as http

    client = _client(http, server.http_url)
    try:
        z = np.zeros((2, 100), np.float32)
        inp = http.InferInput("z", [2, 100], "FP32")
        inp.set_data_from_numpy(z)
        _infer(client, http, "dcgan", [inp])
    finally:
        client.close()
    log = server.log_path.read_text()
    assert "ganzoo: dcgan loaded" in log
    assert "Traceback" not in log, log[log.index("Traceback") - 200:][:1500]


def test_shutdown_by_pid(tmp_path):
    from ganzoo.export.triton_server import TritonServer, TritonServerNotFoundError, find_tritonserver

    try:
        find_tritonserver()
    except TritonServerNotFoundError as e:
        pytest.skip(f"tritonserver not installed: {e}")
    to_triton_repo(_dcgan(), tmp_path / "repo", format="python-onnxruntime", validate=False)
    srv = TritonServer(tmp_path / "repo", log_path=tmp_path / "log.txt", ready_timeout=60, stop_timeout=15)
    with srv:
        pid = srv.pid
        os.kill(pid, 0)  # running
        assert srv.running()
        t0 = time.monotonic()
    stop_s = time.monotonic() - t0
    assert stop_s < 15, f"stopping took {stop_s:.1f} s"
    assert srv.pid is None and not srv.running()
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    with pytest.raises(ProcessLookupError):  # the python stubs it started went with it
        os.killpg(pid, 0)
    assert srv.returncode == 0, (srv.returncode, (tmp_path / "log.txt").read_text()[-2000:])
    assert "successfully unloaded" in (tmp_path / "log.txt").read_text()


def test_broken_repository_is_a_typed_error_with_the_log(tmp_path):
    from ganzoo.export.triton_server import TritonServer, TritonServerError, TritonServerNotFoundError, \
        find_tritonserver

    try:
        find_tritonserver()
    except TritonServerNotFoundError as e:
        pytest.skip(f"tritonserver not installed: {e}")
    res = to_triton_repo(_dcgan(), tmp_path / "repo", format="python-onnxruntime", validate=False)
    res.model_path.unlink()  # model.py finds no model.onnx: the model fails to load, the server exits
    with pytest.raises(TritonServerError, match=r"(?s)exited with status.*no model\.onnx beside model\.py"):
        TritonServer(tmp_path / "repo", ready_timeout=60).start()
