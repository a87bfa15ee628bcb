"""ganzoo.export.tensorrt: engine cache keys, the engine file header, profiles; engines where TensorRT exists.

The header and key logic is pure Python and runs everywhere. Building and running engines needs the tensorrt
package and a CUDA GPU: those tests are skipped with the reason when either is missing.
"""
from __future__ import annotations

import importlib.util
import json

import pytest
import torch

import ganzoo
from ganzoo.export import BackendUnavailableError, EngineMismatchError, ShapeMismatchError
from ganzoo.export.tensorrt import (
    ENGINE_MAGIC,
    EngineKey,
    check_engine_key,
    read_engine,
    read_engine_header,
    resolve_profiles,
    write_engine,
)


HAVE_TRT = importlib.util.find_spec("tensorrt") is not None
HAVE_GPU = HAVE_TRT and torch.cuda.is_available()
needs_gpu = pytest.mark.skipif(not HAVE_GPU, reason="needs the tensorrt package and a CUDA GPU "
                               f"(tensorrt installed: {HAVE_TRT}, CUDA: {torch.cuda.is_available()})")

PROFILES = {"lr": ((1, 3, 16, 16), (4, 3, 64, 64), (8, 3, 128, 128))}


def key(**over) -> EngineKey:
    kw = dict(compute_capability="8.9", tensorrt_version="10.3.0", precision="fp16", profiles=PROFILES,
              onnx_sha256="ab" * 32, gpu_name="NVIDIA L4")
    kw.update(over)
    return EngineKey(**kw)


# --------------------------------------------------------------------------------------------- cache key


def test_key_digest_depends_on_every_portability_field():
    base = key().digest
    assert base == key().digest and len(base) == 32
    variants = [key(compute_capability="9.0"), key(tensorrt_version="10.4.0"), key(precision="fp32"),
                key(profiles={"lr": ((1, 3, 16, 16), (4, 3, 64, 64), (16, 3, 128, 128))}),
                key(onnx_sha256="cd" * 32)]
    digests = {v.digest for v in variants}
    assert base not in digests and len(digests) == len(variants)
    assert key(gpu_name="NVIDIA L4 (other board)").digest == base  # informational only


def test_key_round_trips_through_json():
    k = key()
    back = EngineKey.from_dict(json.loads(json.dumps(k.to_dict())))
    assert back == k and back.digest == k.digest
    assert back.profiles["lr"][2] == (8, 3, 128, 128)


@pytest.mark.parametrize("bad,match", [
    ({"precision": "int8"}, r"precision must be one of \('fp32', 'fp16'\), got 'int8'"),
    ({"profiles": {"lr": ((2, 3, 8, 8), (1, 3, 8, 8), (4, 3, 8, 8))}}, r"1 <= min <= opt <= max"),
    ({"profiles": {"lr": ((1, 3, 8, 8), (1, 3, 8), (4, 3, 8, 8))}}, r"different ranks"),
    ({"profiles": {"lr": ((1, 3, 8, 8), (1, 3, 8, 8))}}, r"expected \(min, opt, max\) shapes"),
])
def test_key_rejects_bad_fields(bad, match):
    with pytest.raises(ValueError, match=match):
        key(**bad)


# ------------------------------------------------------------------------------------------ file header


def test_engine_file_round_trip_and_sidecar(tmp_path):
    plan = bytes(range(256)) * 10
    p = write_engine(tmp_path / "sub" / "m.engine", plan, key(), {"ganzoo_model": "srgan"})
    raw = p.read_bytes()
    assert raw.startswith(ENGINE_MAGIC) and raw.endswith(plan)
    header, got = read_engine(p)
    assert got == plan and header["digest"] == key().digest and header["ganzoo_model"] == "srgan"
    assert read_engine_header(p) == header
    assert json.loads((tmp_path / "sub" / "m.engine.json").read_text()) == header
    assert sorted(x.name for x in (tmp_path / "sub").iterdir()) == ["m.engine", "m.engine.json"]


def test_loading_an_engine_built_elsewhere_raises(tmp_path):
    p = write_engine(tmp_path / "m.engine", b"plan", key())
    header = read_engine_header(p)
    # same machine, same request: accepted
    assert check_engine_key(header, compute_capability="8.9", tensorrt_version="10.3.0", precision="fp16",
                            profiles=PROFILES) == key()
    with pytest.raises(EngineMismatchError, match=r"compute_capability: engine has '8\.9', wanted '9\.0'.*"
                                                  r"tensorrt_version: engine has '10\.3\.0', wanted '10\.5\.0'.*"
                                                  r"not portable") as ei:
        check_engine_key(header, compute_capability="9.0", tensorrt_version="10.5.0", source=str(p))
    assert set(ei.value.mismatches) == {"compute_capability", "tensorrt_version"}
    with pytest.raises(EngineMismatchError, match=r"precision: engine has 'fp16', wanted 'fp32'") as ei:
        check_engine_key(header, compute_capability="8.9", tensorrt_version="10.3.0", precision="fp32")
    assert ei.value.mismatches == {"precision": ("fp16", "fp32")}
    other = {"lr": ((1, 3, 16, 16), (1, 3, 16, 16), (1, 3, 16, 16))}
    with pytest.raises(EngineMismatchError, match=r"profiles: engine has") as ei:
        check_engine_key(header, compute_capability="8.9", tensorrt_version="10.3.0", profiles=other)
    assert list(ei.value.mismatches) == ["profiles"]


def test_raw_truncated_and_corrupt_engine_files(tmp_path):
    raw = tmp_path / "raw.plan"
    raw.write_bytes(b"\x00" * 64)
    with pytest.raises(EngineMismatchError, match=r"not a ganzoo engine file .*raw TensorRT plan carries no record"):
        read_engine(raw)
    good = write_engine(tmp_path / "g.engine", b"plan-bytes", key()).read_bytes()
    cut = tmp_path / "cut.engine"
    cut.write_bytes(good[: len(ENGINE_MAGIC) + 4])
    with pytest.raises(EngineMismatchError, match=r"truncated engine header"):
        read_engine(cut)
    no_plan = tmp_path / "noplan.engine"
    no_plan.write_bytes(good[: -len(b"plan-bytes")])
    with pytest.raises(EngineMismatchError, match=r"header but no plan"):
        read_engine(no_plan)
    assert read_engine_header(no_plan)["digest"] == key().digest  # the header alone is still readable
    bad_json = tmp_path / "bad.engine"
    bad_json.write_bytes(ENGINE_MAGIC + (5).to_bytes(8, "little") + b"{oops" + b"plan")
    with pytest.raises(EngineMismatchError, match=r"corrupt engine header"):
        read_engine(bad_json)
    with pytest.raises(FileNotFoundError, match=r"engine file not found"):
        read_engine(tmp_path / "missing.engine")


# ---------------------------------------------------------------------------------------------- profiles


def test_resolve_profiles_from_graph_dims():
    shapes = {"image": ["B", 3, "H", "W"], "mask": ["B", 1, "H", "W"]}
    prof = resolve_profiles(shapes, batch=(1, 2, 4), size={"H": (32, 64, 128), "W": 48})
    assert prof == {"image": ((1, 3, 32, 48), (2, 3, 64, 48), (4, 3, 128, 48)),
                    "mask": ((1, 1, 32, 48), (2, 1, 64, 48), (4, 1, 128, 48))}
    # (H, W) sequence and ((min), (opt), (max)) forms
    assert resolve_profiles({"lr": ["B", 3, "H", "W"]}, size=(24, 40))["lr"] == (
        (1, 3, 24, 40), (1, 3, 24, 40), (8, 3, 24, 40))
    assert resolve_profiles({"lr": ["B", 3, "H", "W"]}, batch=2, size=((8, 8), (16, 24), (32, 48)))["lr"] == (
        (2, 3, 8, 8), (2, 3, 16, 24), (2, 3, 32, 48))
    assert resolve_profiles({"z": ["B", 100]})["z"] == ((1, 100), (1, 100), (8, 100))


def test_resolve_profiles_errors():
    with pytest.raises(ValueError, match=r"input 'lr' dim 2 \('H'\) is dynamic: give its range with size="):
        resolve_profiles({"lr": ["B", 3, "H", "W"]})
    with pytest.raises(ShapeMismatchError, match=r"dim 1 is fixed at 3 in the graph"):
        resolve_profiles({"lr": ["B", 3, 8, 8]}, profiles=((1, 4, 8, 8), (1, 4, 8, 8), (1, 4, 8, 8)))
    with pytest.raises(ValueError, match=r"profiles for unknown input\(s\) \['x'\]"):
        resolve_profiles({"lr": ["B", 3, 8, 8]}, profiles={"x": ((1,), (1,), (1,))})
    with pytest.raises(ValueError, match=r"batch: expected \(min, opt, max\) with 1 <= min <= opt <= max"):
        resolve_profiles({"z": ["B", 100]}, batch=(4, 2, 8))
    with pytest.raises(ValueError, match=r"give a dict name -> \(min, opt, max\)"):
        resolve_profiles({"a": ["B", 1], "b": ["B", 1]}, profiles=((1, 1), (1, 1), (1, 1)))


# ------------------------------------------------------------------------- without TensorRT / a GPU


@pytest.mark.skipif(HAVE_GPU, reason="TensorRT and a GPU are present")
def test_clear_error_without_tensorrt_or_gpu(tmp_path):
    from ganzoo.export import EngineRunner, to_tensorrt

    want = r"TensorRT is not installed: the tensorrt Python package" if not HAVE_TRT else r"no CUDA GPU is visible"
    with pytest.raises(BackendUnavailableError, match=want):
        to_tensorrt("dcgan_32.mnist", tmp_path / "m.engine", pretrained=False)
    p = write_engine(tmp_path / "k.engine", b"plan", key())
    with pytest.raises(BackendUnavailableError, match=want):
        EngineRunner(p)
    assert isinstance(BackendUnavailableError("x"), ImportError)
    assert sorted(x.name for x in tmp_path.iterdir()) == ["k.engine", "k.engine.json"]  # nothing else written


def test_bad_precision_before_anything(tmp_path):
    from ganzoo.export import to_tensorrt

    with pytest.raises(ValueError, match=r"precision must be one of \('fp32', 'fp16'\), got 'int4'"):
        to_tensorrt("dcgan_32.mnist", tmp_path / "m.engine", precision="int4")


# ------------------------------------------------------------------------------------------ on a GPU


@needs_gpu
@pytest.mark.gpu
@pytest.mark.parametrize("precision", ["fp32", "fp16"])
def test_build_run_validate_and_reuse_engine(tmp_path, precision):
    from ganzoo.export import EngineRunner, to_tensorrt

    torch.manual_seed(0)
    model = ganzoo.create("dcgan_32.mnist")
    cache = tmp_path / "timing.cache"
    res = to_tensorrt(model, tmp_path / "g.engine", precision=precision, batch=(1, 2, 4), timing_cache=cache)
    assert not res.cached and res.validation.passed and cache.is_file()
    assert {c.batch for c in res.validation.cases} == {1, 2, 4}
    again = to_tensorrt(model, tmp_path / "g.engine", precision=precision, batch=(1, 2, 4), timing_cache=cache)
    assert again.cached and again.key.digest == res.key.digest
    runner = EngineRunner(res.path, precision=precision)
    z = torch.randn(3, 100, device="cuda")
    (img,) = runner(z)
    with torch.no_grad():
        ref = model.cuda().eval().generator(z)
    torch.testing.assert_close(img.float(), ref, atol=2e-2 if precision == "fp16" else 1e-3, rtol=0)
    with pytest.raises(ShapeMismatchError, match=r"outside the engine's profile"):
        runner(torch.randn(5, 100, device="cuda"))
    other = "fp32" if precision == "fp16" else "fp16"
    with pytest.raises(EngineMismatchError, match=rf"precision: engine has '{precision}', wanted '{other}'"):
        EngineRunner(res.path, precision=other)


# ------------------------------------------------- build logic against TensorRT 10 / 11 API shapes (no GPU)


class _Enum:
    def __init__(self, **members):
        self.__dict__.update(members)


class _FakeTRT:
    """The slice of the tensorrt module ``_build`` touches, recording what it is asked. ``major`` 10 has weak
    typing (BuilderFlag.FP16) and the STRONGLY_TYPED network flag; 11 has neither flag (always strongly typed)."""

    float32 = "float32"

    def __init__(self, major: int):
        self.__version__ = f"{major}.4.0"
        flags = {"TF32": 7}
        creation = {"STRONGLY_TYPED": 1} if major == 10 else {}
        if major == 10:
            flags.update(FP16=0, PREFER_PRECISION_CONSTRAINTS=13)
        self.BuilderFlag = _Enum(**flags)
        self.NetworkDefinitionCreationFlag = _Enum(EXPLICIT_BATCH=0, **creation)
        self.MemoryPoolType = _Enum(WORKSPACE=0)
        self.LayerType = _Enum(NORMALIZATION="norm", REDUCE="reduce")
        self.calls: list = []
        trt = self

        class Logger:
            WARNING = 2

            def __init__(self, level):
                pass

        class Network:
            num_layers = 0

        class Parser:
            num_errors = 0

            def __init__(self, network, log):
                pass

            def parse_from_file(self, path):
                trt.calls.append(("parse", path))
                return True

        class Profile:
            def set_shape(self, name, mn, opt, mx):
                trt.calls.append(("profile", name, mn, opt, mx))

        class Config:
            def set_flag(self, f):
                trt.calls.append(("set_flag", f))

            def clear_flag(self, f):
                trt.calls.append(("clear_flag", f))

            def add_optimization_profile(self, p):
                pass

            def set_memory_pool_limit(self, pool, n):
                trt.calls.append(("workspace", n))

        class Builder:
            def __init__(self, log):
                pass

            def create_network(self, flags):
                trt.calls.append(("create_network", flags))
                return Network()

            def create_builder_config(self):
                return Config()

            def create_optimization_profile(self):
                return Profile()

            def build_serialized_network(self, network, config):
                return b"PLAN"

        self.Logger, self.Builder, self.OnnxParser = Logger, Builder, Parser


@pytest.fixture
def fake_cuda_device(monkeypatch):
    import contextlib

    monkeypatch.setattr(torch.cuda, "device", lambda d: contextlib.nullcontext())


@pytest.fixture(scope="module")
def tiny_graphs(tmp_path_factory):
    from ganzoo.export import to_onnx

    d = tmp_path_factory.mktemp("trt-graphs")
    torch.manual_seed(0)
    model = ganzoo.create("dcgan_32.mnist", ngf=8, ndf=8).eval()
    return {p: to_onnx(model, d / f"{p}.onnx", dtype=p, validate=False).path for p in ("fp32", "fp16")}


def test_graph_precision_from_metadata_and_from_types(tiny_graphs, tmp_path):
    import onnx

    from ganzoo.export.tensorrt import graph_precision

    assert graph_precision(tiny_graphs["fp32"]) == "fp32" and graph_precision(tiny_graphs["fp16"]) == "fp16"
    for p in ("fp32", "fp16"):  # without ganzoo metadata the initializer types decide
        proto = onnx.load(str(tiny_graphs[p]))
        del proto.metadata_props[:]
        onnx.save(proto, str(tmp_path / f"{p}.onnx"))
        assert graph_precision(tmp_path / f"{p}.onnx") == p


@pytest.mark.parametrize("major,flags", [(10, 1 << 1), (11, 0)])
def test_network_flags(major, flags):
    from ganzoo.export.tensorrt import network_flags

    assert network_flags(_FakeTRT(major)) == flags
    assert network_flags(_FakeTRT(major), strongly_typed=False) == 0


@pytest.mark.parametrize("major", [10, 11])
def test_fp16_engines_build_strongly_typed_from_the_fp16_graph(major, tiny_graphs, fake_cuda_device):
    from ganzoo.export.tensorrt import _build, _check_graph_precision

    trt = _FakeTRT(major)
    weak = _check_graph_precision(trt, tiny_graphs["fp16"], {"ganzoo.precision": "fp16"}, "fp16")
    assert weak is False
    plan, cache = _build(trt, tiny_graphs["fp16"], key(profiles={"z": ((1, 100), (2, 100), (4, 100))}), None,
                         1 << 20, False, True, 0, weak_fp16=weak)
    assert plan == b"PLAN" and cache is None
    assert ("create_network", 1 << 1 if major == 10 else 0) in trt.calls
    assert not any(c[0] == "set_flag" for c in trt.calls)  # no weak-typing precision flag on either version
    assert ("profile", "z", (1, 100), (2, 100), (4, 100)) in trt.calls and ("workspace", 1 << 20) in trt.calls
    assert ("clear_flag", 7) in trt.calls  # TF32 off for exact fp32 parts


def test_fp32_graph_to_fp16_engine_uses_weak_typing_only_where_it_exists(tiny_graphs, fake_cuda_device):
    from ganzoo.export import ExportError
    from ganzoo.export.tensorrt import _build, _check_graph_precision

    trt10 = _FakeTRT(10)
    assert _check_graph_precision(trt10, tiny_graphs["fp32"], {}, "fp16") is True
    _build(trt10, tiny_graphs["fp32"], key(), None, None, False, True, 0, weak_fp16=True)
    assert ("create_network", 0) in trt10.calls and ("set_flag", 0) in trt10.calls  # BuilderFlag.FP16
    with pytest.raises(ExportError, match=r"is an fp32 graph and TensorRT 11.4.0 builds every network strongly "
                                          r"typed .*ganzoo export NAME --format tensorrt --fp16"):
        _check_graph_precision(_FakeTRT(11), tiny_graphs["fp32"], {}, "fp16")
    with pytest.raises(ExportError, match=r"is an fp16 graph: TensorRT builds it in the graph's types, so ask for "
                                          r"precision='fp16'"):
        _check_graph_precision(_FakeTRT(11), tiny_graphs["fp16"], {}, "fp32")
    assert _check_graph_precision(_FakeTRT(11), tiny_graphs["fp32"], {}, "fp32") is False
