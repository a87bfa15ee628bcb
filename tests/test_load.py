"""load / save_pretrained / from_pretrained, integrity, and every way bad weights are refused."""
from __future__ import annotations

import json
import shutil
import sys
import subprocess

import pytest
import torch

import ganzoo
from ganzoo.errors import (
    CorruptWeightsError,
    IntegrityError,
    NoPretrainedWeightsError,
    PickleNotAllowedError,
    StateDictMismatchError,
    UnknownModelError,
    UnknownTagError,
)
from ganzoo.hub.embedded import EMBEDDED_ROOT

Z = torch.randn(3, 100, generator=torch.Generator().manual_seed(0))


def test_load_default_works_offline_from_the_embedded_hub(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    m = ganzoo.load("dcgan")  # the default tag: the first with weights, dcgan.digiface (RGB faces)
    assert not m.training
    cfg = m.pretrained_cfg
    assert cfg.name == "dcgan.digiface" and cfg.has_weights and len(cfg.sha256) == 64
    with torch.no_grad():
        x = m.sample(8, generator=torch.Generator().manual_seed(0))
    assert x.shape == (8, 3, 64, 64)
    assert x.min() >= -1 and x.max() <= 1
    # trained weights, not the N(0, 0.02) init (whose outputs stay within 0.03 of 0)
    assert x.std() > 0.3
    mnist = ganzoo.load("dcgan.mnist")
    with torch.no_grad():
        x = mnist.sample(8, generator=torch.Generator().manual_seed(0))
    assert x.shape == (8, 1, 64, 64)
    # samples have the dark background of MNIST digits
    assert x.mean() < -0.5
    assert x.std() > 0.3


def test_load_device_and_dtype():
    m = ganzoo.load("dcgan", dtype=torch.float32, device="cpu")
    assert next(m.parameters()).dtype == torch.float32
    with pytest.raises(ValueError, match="dtype must be"):
        ganzoo.load("dcgan", dtype="float8")


def test_save_pretrained_round_trip_is_bit_identical(saved_tiny):
    model, path = saved_tiny
    assert sorted(p.name for p in path.iterdir()) == ["README.md", "config.json", "model.safetensors"]
    back = ganzoo.from_pretrained(path)
    sd1, sd2 = model.state_dict(), back.state_dict()
    assert sd1.keys() == sd2.keys() and all(torch.equal(sd1[k], sd2[k]) for k in sd1)
    with torch.no_grad():
        assert torch.equal(model(Z), back(Z))
        x = torch.rand(2, 1, 32, 32) * 2 - 1
        assert torch.equal(model.discriminator(x), back.discriminator(x))
    assert back.config == model.config
    # also through ganzoo.load(NAME, pretrained=PATH) and ganzoo.load(PATH)
    assert torch.equal(ganzoo.load("dcgan_32", pretrained=path)(Z), model(Z))
    assert torch.equal(ganzoo.load(str(path))(Z), model(Z))


def test_model_card_has_yaml_metadata(saved_tiny):
    from ganzoo.hub.card import parse_model_card

    _, path = saved_tiny
    meta, body = parse_model_card((path / "README.md").read_text())
    assert meta["library_name"] == "ganzoo" and "dcgan" in meta["tags"] and meta["license"] == "apache-2.0"
    cfg = json.loads((path / "config.json").read_text())
    assert cfg["weights"]["sha256"] in body
    assert "(B, 1, 32, 32)" in body


def test_embedded_card_says_how_the_weights_were_made():
    from ganzoo.hub.card import parse_model_card

    meta, body = parse_model_card((EMBEDDED_ROOT / "ganzoo/dcgan-mnist/README.md").read_text())
    assert meta["datasets"] and "mnist" in meta["datasets"][0].lower()
    assert "How these weights were made" in body and "python -m ganzoo.train.dcgan" in body


def _copy_embedded(tmp_path):
    dst = tmp_path / "repo"
    shutil.copytree(EMBEDDED_ROOT / "ganzoo/dcgan-mnist", dst)
    return dst


def test_sha256_mismatch_is_refused(tmp_path):
    repo = _copy_embedded(tmp_path)
    w = repo / "model.safetensors"
    data = bytearray(w.read_bytes())
    data[-10] ^= 0xFF  # flip bits inside a tensor: still parses as safetensors
    w.write_bytes(bytes(data))
    with pytest.raises(IntegrityError, match="sha256 mismatch.*expected"):
        ganzoo.from_pretrained(repo)
    with pytest.raises(IntegrityError, match="sha256 mismatch"):
        ganzoo.load("dcgan", pretrained=repo)
    # verification is on by default; turning it off is explicit
    assert ganzoo.from_pretrained(repo, verify=False) is not None


def test_truncated_safetensors_is_a_clear_error(tmp_path):
    src = EMBEDDED_ROOT / "ganzoo/dcgan-mnist/model.safetensors"
    bad = tmp_path / "model.safetensors"
    bad.write_bytes(src.read_bytes()[: src.stat().st_size // 2])
    with pytest.raises(CorruptWeightsError, match="not a valid safetensors file"):
        ganzoo.load("dcgan", pretrained=bad)
    bad.write_bytes(b"\x00" * 7)
    with pytest.raises(CorruptWeightsError, match="truncated or corrupt"):
        ganzoo.load("dcgan", pretrained=bad)


def _state(model):
    return {k: v.clone() for k, v in model.state_dict().items()}


def test_state_dict_missing_extra_and_wrong_shape_are_named(tmp_path):
    from safetensors.torch import save_file

    model = ganzoo.create("dcgan_32.mnist")
    sd = _state(model)
    sd.pop("generator.main.1.weight")
    save_file(sd, tmp_path / "missing.safetensors")
    with pytest.raises(StateDictMismatchError, match=r"missing 1: generator\.main\.1\.weight") as e:
        ganzoo.load("dcgan_32.mnist", pretrained=tmp_path / "missing.safetensors")
    assert e.value.missing == ["generator.main.1.weight"]

    sd = _state(model)
    sd["generator.extra"] = torch.zeros(1)
    save_file(sd, tmp_path / "extra.safetensors")
    with pytest.raises(StateDictMismatchError, match=r"unexpected 1: generator\.extra"):
        ganzoo.load("dcgan_32.mnist", pretrained=tmp_path / "extra.safetensors")

    narrow = ganzoo.create("dcgan_32.mnist", ngf=8, ndf=8)  # every conv has another shape
    save_file(_state(narrow), tmp_path / "shape.safetensors")
    with pytest.raises(StateDictMismatchError,
                       match=r"wrong shape 28: discriminator\.main\.0\.weight expected \(64, 1, 4, 4\) got \(8, 1, 4, 4\)") as e:
        ganzoo.load("dcgan_32.mnist", pretrained=tmp_path / "shape.safetensors")
    assert ("generator.main.0.weight", (100, 256, 4, 4), (100, 32, 4, 4)) in e.value.mismatched
    assert not e.value.missing and not e.value.unexpected


def test_pickles_need_an_explicit_opt_in(tmp_path):
    model = ganzoo.create("dcgan_32.mnist", ngf=8, ndf=8).eval()
    g = {k[len("generator."):]: v for k, v in model.state_dict().items() if k.startswith("generator.")}
    d = {k[len("discriminator."):]: v for k, v in model.state_dict().items() if k.startswith("discriminator.")}
    # a pytorch/examples-style checkpoint: DataParallel prefix, nested under "state_dict", G and D together
    path = tmp_path / "netG.pth"
    torch.save({"epoch": 5, "state_dict": {**{"module." + k: v for k, v in g.items()}}}, path)
    with pytest.raises(PickleNotAllowedError, match="allow_pickle=True"):
        ganzoo.load("dcgan_32.mnist", pretrained=path)
    from ganzoo.hub.converters import convert_checkpoint, load_converted

    with pytest.raises(PickleNotAllowedError):
        convert_checkpoint(path)
    fresh = ganzoo.create("dcgan_32.mnist", ngf=8, ndf=8).eval()
    load_converted(fresh, convert_checkpoint(path, allow_pickle=True))
    torch.save(d, tmp_path / "netD.pth")
    load_converted(fresh, convert_checkpoint(tmp_path / "netD.pth", allow_pickle=True))
    assert torch.equal(fresh(Z), model(Z))
    x = torch.rand(2, 1, 32, 32)
    assert torch.equal(fresh.discriminator(x), model.discriminator(x))


def test_weights_only_refuses_arbitrary_objects(tmp_path):
    class Evil:
        def __reduce__(self):
            return (print, ("pwned",))

    path = tmp_path / "evil.pth"
    torch.save({"state_dict": Evil()}, path)
    with pytest.raises(CorruptWeightsError, match="weights_only=True"):
        ganzoo.load("dcgan_32.mnist", pretrained=path, allow_pickle=True)


def test_unknown_model_suggests_close_names():
    with pytest.raises(UnknownModelError, match=r"unknown model 'dcgn'\. Did you mean 'dcgan'"):
        ganzoo.load("dcgn")
    with pytest.raises(UnknownModelError, match="unknown model 'nothing-like-it'.*Known models: .*dcgan"):
        ganzoo.create("nothing-like-it")


def test_unknown_tag_lists_the_tags():
    with pytest.raises(UnknownTagError,
                       match=r"model 'dcgan' has no tag 'imagenet'; its tags are: dcgan\.digiface, dcgan\.mnist"):
        ganzoo.load("dcgan.imagenet")


def test_tag_without_weights_says_so():
    with pytest.raises(NoPretrainedWeightsError, match=r"no weights are published for .*pretrained=False"):
        name = next(f"{n}.{t}" for n in ganzoo.list_models() for t in ganzoo.model_info(n).tags
                    if not ganzoo.model_info(f"{n}.{t}").pretrained_cfg.has_weights)
        ganzoo.load(name)


def test_load_pretrained_false_is_random_init():
    m = ganzoo.load("dcgan", pretrained=False)
    assert m.pretrained_cfg.name == "dcgan.digiface" and m.config.nc == 3 and not m.training
    assert m.pretrained_parts == ()


def test_list_models_and_info():
    assert "dcgan" in ganzoo.list_models() and "dcgan_32" in ganzoo.list_models("dcgan*")
    assert "dcgan.mnist" in ganzoo.list_models(pretrained=True)
    assert all("." in n for n in ganzoo.list_models(pretrained=True))
    info = ganzoo.model_info("dcgan")
    assert info.tag == "digiface" and info.config["nc"] == 3 and info.family == "dcgan"
    assert ganzoo.model_info("dcgan.mnist").config["nc"] == 1
    assert ganzoo.model_info("dcgan_32.mnist").config["image_size"] == 32


@pytest.mark.parametrize("nc,g,d", [(3, 3_576_704, 2_765_568), (1, 3_574_656, 2_763_520)])
def test_dcgan_parameter_counts_match_the_layer_table(nc, g, d):
    assert ganzoo.create("dcgan", nc=nc).num_parameters() == {"generator": g, "discriminator": d}


def test_create_defaults_are_the_paper_layout():
    from ganzoo.factory import build_model

    m = build_model("dcgan", None)  # the architecture without a tag: the paper's numbers
    assert (m.config.nz, m.config.ngf, m.config.ndf, m.config.nc, m.config.image_size) == (100, 64, 64, 3, 64)
    assert m.num_parameters()["generator"] == 3_576_704 and m.pretrained_cfg is None
    # a bare name is its default tag, as in ganzoo.load: dcgan.digiface, the paper layout (three channels)
    d = ganzoo.create("dcgan")
    assert d.pretrained_cfg.name == "dcgan.digiface" and d.config.nc == 3 and d.config.ngf == 64
    assert ganzoo.create("dcgan.mnist").config.nc == 1


def test_import_ganzoo_is_light():
    heavy = ["triton", "onnx", "onnxruntime", "tensorrt", "huggingface_hub", "safetensors", "matplotlib"]
    code = ("import sys, ganzoo; ganzoo.list_models(); "
            "[ganzoo.create(n) for n in ('dcgan', 'srgan', 'tgan', 'drgan', 'gan3d_32', 'pggan_inpaint')]; "
            f"print([m for m in {heavy!r} if m in sys.modules])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_bad_inputs_fail_before_compute():
    m = ganzoo.create("dcgan", nc=3)
    with pytest.raises(ValueError, match=r"expected shape \(B, 100\) or \(B, 100, 1, 1\), got \(2, 50\)"):
        m(torch.randn(2, 50))
    with pytest.raises(TypeError, match="floating-point"):
        m(torch.zeros(2, 100, dtype=torch.long))
    with pytest.raises(ValueError, match=r"expected 3 channels .* got 1"):
        m.discriminator(torch.randn(2, 1, 64, 64))
    with pytest.raises(ValueError, match=r"expected spatial size \(64, 64\), got \(32, 32\)"):
        m.discriminator(torch.randn(2, 3, 32, 32))
    with pytest.raises(ValueError, match="image_size must be one of"):
        ganzoo.create("dcgan", image_size=48)
