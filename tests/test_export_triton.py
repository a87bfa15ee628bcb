"""ganzoo.export.triton: model repositories whose config.pbtxt parses strictly as Triton's ModelConfig."""
from __future__ import annotations

import importlib.util
import json

import numpy as np
import pytest
import torch

import ganzoo
from ganzoo.export import BackendUnavailableError, InvalidExportPathError
from ganzoo.export.triton import parse_config, render_config, to_triton_repo
from ganzoo.specs import parse_dim

pytest.importorskip("google.protobuf", reason="needs protobuf to parse config.pbtxt")


def _pb2():
    from ganzoo.export.triton import _model_config_pb2

    try:
        return _model_config_pb2()
    except BackendUnavailableError as e:
        pytest.skip(f"tritonclient not installed: {e}")


def _expected_dims(spec, dynamic_spatial: bool) -> list[int]:
    out = []
    for d in spec.shape[1:]:  # Triton's dims leave out the batch dim
        p = parse_dim(d)
        out.append(p if isinstance(p, int) else -1)
        assert isinstance(p, int) or dynamic_spatial
    return out or [1]


def _check_against_specs(cfg_pb, model, max_batch: int, pb2) -> None:
    cfg = model.specs
    assert cfg_pb.max_batch_size == max_batch
    assert [i.name for i in cfg_pb.input] == [s.name for s in cfg.inputs]
    assert len(cfg_pb.output) == len(cfg.outputs)
    for got, spec in list(zip(cfg_pb.input, cfg.inputs)) + list(zip(cfg_pb.output, cfg.outputs)):
        want_type = {"float32": pb2.TYPE_FP32, "int64": pb2.TYPE_INT64}[spec.dtype]
        assert got.data_type == want_type, (got.name, got.data_type)
        assert list(got.dims) == _expected_dims(spec, cfg.dynamic_spatial), (got.name, list(got.dims))
        if len(spec.shape) == 1:  # (B,) per-item scalar: dims [1] reshaped to []
            assert got.HasField("reshape") and list(got.reshape.shape) == []


def test_onnx_repo_for_dcgan(tmp_path):
    pb2 = _pb2()
    torch.manual_seed(0)
    model = ganzoo.create("dcgan_32.mnist", ngf=8, ndf=8)
    res = to_triton_repo(model, tmp_path / "repo", max_batch=16)
    assert res.model_dir == tmp_path / "repo" / "dcgan_32_mnist"
    assert res.model_path == res.model_dir / "1" / "model.onnx" and res.model_path.is_file()
    cfg_pb = parse_config(res.config_path)
    assert cfg_pb.name == "dcgan_32_mnist" and cfg_pb.platform == "onnxruntime_onnx"
    _check_against_specs(cfg_pb, model, 16, pb2)
    assert list(cfg_pb.output[0].dims) == [1, 32, 32] and list(cfg_pb.input[0].dims) == [100]
    assert cfg_pb.HasField("dynamic_batching")
    assert list(cfg_pb.dynamic_batching.preferred_batch_size) == [8, 16]
    assert res.export.validation.passed
    meta = json.loads((res.model_dir / "ganzoo.json").read_text())
    assert meta["model"] == "dcgan_32.mnist" and meta["outputs"][0]["range"] == [-1.0, 1.0]
    # the model file is what Triton's onnxruntime backend would load: run it at the batch Triton may form
    import onnxruntime as ort

    sess = ort.InferenceSession(str(res.model_path), providers=["CPUExecutionProvider"])
    out = sess.run(None, {"z": np.random.randn(16, 100).astype(np.float32)})[0]
    assert out.shape == (16, 1, 32, 32)
    assert sorted(p.name for p in res.model_dir.rglob("*")) == ["1", "config.pbtxt", "ganzoo.json", "model.onnx"]


def test_dynamic_spatial_model_gets_minus_one_dims(tmp_path):
    pb2 = _pb2()
    assert "srresnet_x2" in ganzoo.list_models("srresnet*")
    torch.manual_seed(0)
    model = ganzoo.create("srresnet_x2.paper", num_blocks=1, width=8)
    res = to_triton_repo(model, tmp_path, max_batch=4, model_name="sr2")
    cfg_pb = parse_config(res.config_path)
    _check_against_specs(cfg_pb, model, 4, pb2)
    assert list(cfg_pb.input[0].dims) == [3, -1, -1] and list(cfg_pb.output[0].dims) == [3, -1, -1]


def test_integer_and_scalar_inputs(tmp_path):
    pb2 = _pb2()
    assert "drgan" in ganzoo.list_models()
    torch.manual_seed(0)
    model = ganzoo.create("drgan.multipie", widths=(4,) * 14)
    res = to_triton_repo(model, tmp_path, max_batch=2)
    cfg_pb = parse_config(res.config_path)
    _check_against_specs(cfg_pb, model, 2, pb2)
    pose = [i for i in cfg_pb.input if i.name == "pose"][0]
    assert pose.data_type == pb2.TYPE_INT64 and list(pose.dims) == [1]


def test_fp16_repo_keeps_fp32_interface(tmp_path):
    pb2 = _pb2()
    torch.manual_seed(0)
    model = ganzoo.create("dcgan_32.mnist", ngf=8, ndf=8)
    res = to_triton_repo(model, tmp_path, dtype="fp16")
    cfg_pb = parse_config(res.config_path)
    assert {t.data_type for t in list(cfg_pb.input) + list(cfg_pb.output)} == {pb2.TYPE_FP32}
    assert res.export.dtype == "fp16" and res.export.validation.dtype == "fp16"


def test_parsing_is_strict():
    _pb2()
    from google.protobuf import text_format

    text = render_config("m", "onnxruntime_onnx", 4, [{"name": "z", "data_type": "TYPE_FP32", "dims": [8]}],
                         [{"name": "y", "data_type": "TYPE_FP32", "dims": [3, -1, -1]}])
    assert parse_config(text).input[0].dims == [8]
    with pytest.raises(text_format.ParseError, match=r"no field named \"max_batch\""):
        parse_config(text.replace("max_batch_size", "max_batch"))
    with pytest.raises(text_format.ParseError):
        parse_config(text.replace("TYPE_FP32", "TYPE_FLOAT32"))


def test_bad_arguments_write_nothing(tmp_path):
    model = ganzoo.create("dcgan_32.mnist", ngf=8, ndf=8)
    f = tmp_path / "file"
    f.write_text("x")
    with pytest.raises(InvalidExportPathError, match=r"is a file, not a folder"):
        to_triton_repo(model, f)
    with pytest.raises(ValueError, match=r"format must be one of 'onnx', 'tensorrt', 'python-onnxruntime', got 'torchscript'"):
        to_triton_repo(model, tmp_path / "r", format="torchscript")
    with pytest.raises(ValueError, match=r"max_batch must be an int >= 0, got -1"):
        to_triton_repo(model, tmp_path / "r", max_batch=-1)
    with pytest.raises(ValueError, match=r"model_name must match"):
        to_triton_repo(model, tmp_path / "r", model_name="../escape")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["file"]


def test_tensorrt_format_without_tensorrt(tmp_path):
    if importlib.util.find_spec("tensorrt") is not None and torch.cuda.is_available():
        pytest.skip("TensorRT and a GPU are present")
    model = ganzoo.create("dcgan_32.mnist", ngf=8, ndf=8)
    with pytest.raises(BackendUnavailableError, match=r"TensorRT is not installed|no CUDA GPU"):
        to_triton_repo(model, tmp_path / "repo", format="tensorrt", validate=False)
    assert not (tmp_path / "repo" / "dcgan_32_mnist" / "config.pbtxt").exists()
    assert not list((tmp_path).rglob("model.plan"))


def test_a_failed_write_leaves_no_partial_model_folder(tmp_path, monkeypatch):
    """The repository files are written one by one: when one fails, the files and folders this call created go."""
    from ganzoo.export import triton

    real = triton.atomic_write
    seen = []

    def fail_on_config(path, data, **kw):
        seen.append(path.name)
        if path.name == "config.pbtxt":
            raise triton.InvalidExportPathError(f"cannot write {path}: disk full (simulated)")
        return real(path, data, **kw)

    monkeypatch.setattr(triton, "atomic_write", fail_on_config)
    model = ganzoo.create("dcgan_32.mnist", ngf=8, ndf=8)
    with pytest.raises(InvalidExportPathError, match="disk full"):
        to_triton_repo(model, tmp_path / "repo", max_batch=4, validate=False)
    assert seen == ["model.onnx", "config.pbtxt"]  # the model file was written, then removed again
    assert list(tmp_path.iterdir()) == []
    # an existing repository keeps its other models; only what this call created goes
    (tmp_path / "repo" / "other").mkdir(parents=True)
    with pytest.raises(InvalidExportPathError, match="disk full"):
        to_triton_repo(model, tmp_path / "repo", max_batch=4, validate=False)
    assert [p.name for p in (tmp_path / "repo").iterdir()] == ["other"]


def test_repo_plans_the_export_once_without_re_entering_to_onnx(tmp_path, monkeypatch):
    from ganzoo.export import onnx_export, triton

    plans = []
    real = triton.plan_export
    monkeypatch.setattr(triton, "plan_export", lambda *a, **k: plans.append(k) or real(*a, **k))
    monkeypatch.setattr(onnx_export, "to_onnx", lambda *a, **k: pytest.fail("to_triton_repo re-entered to_onnx"))
    model = ganzoo.create("dcgan_32.mnist", ngf=8, ndf=8)
    res = to_triton_repo(model, tmp_path, max_batch=4, validate=False)
    assert len(plans) == 1 and plans[0]["dynamic_batch"] is True
    assert res.export.path == res.model_path and res.model_path.is_file()
