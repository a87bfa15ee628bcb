"""The one builder (ganzoo.factory.build_model), specs derived from the config, and the registry index."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest
import torch

import ganzoo
import ganzoo.factory as factory
from ganzoo.registry import INDEX_PATH, build_index, get_entry, list_models
from ganzoo.specs import infer_dims

NAMES = list_models()


def _outputs(model, seed=0):
    torch.manual_seed(seed)
    model = model.eval()
    inputs = model.sample_inputs(2, generator=torch.Generator().manual_seed(seed))
    with torch.no_grad():
        out = model(*inputs)
    return inputs, (out if isinstance(out, tuple) else (out,))


@pytest.mark.parametrize("name", NAMES)
def test_create_name_is_create_of_its_default_tag(name):
    default = get_entry(name).default_tag
    torch.manual_seed(0)
    a = ganzoo.create(name)
    torch.manual_seed(0)
    b = ganzoo.create(f"{name}.{default}")
    assert a.config == b.config and a.specs == b.specs
    assert a.pretrained_cfg is b.pretrained_cfg and a.pretrained_cfg.tag == default
    assert a.state_dict().keys() == b.state_dict().keys()
    assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))
    (_, ya), (_, yb) = _outputs(a), _outputs(b)
    assert all(torch.equal(x, y) for x, y in zip(ya, yb))


@pytest.mark.parametrize("name", NAMES)
def test_specs_describe_the_built_model(name):
    model = ganzoo.create(name)
    inputs, outs = _outputs(model)
    dims = infer_dims(model.specs.inputs, [x.shape for x in inputs])
    for spec, y in zip(model.specs.outputs, outs):
        assert tuple(y.shape) == spec.resolve(**dims)
    assert len(outs) == len(model.specs.outputs)


def test_overrides_change_the_specs_with_the_model():
    m = ganzoo.create("dcgan.mnist", nc=3)
    assert m.pretrained_cfg.name == "dcgan.mnist"
    assert m.specs.outputs[0].shape == ("B", 3, 64, 64) and m.sample(2).shape == (2, 3, 64, 64)
    t = ganzoo.create("tgan.ucf101", z_dim=64)
    assert t.specs.inputs[0].shape == ("B", 64) and t.specs.latent_dim == 64
    assert t.sample_inputs(2)[0].shape == (2, 64)
    sr = ganzoo.create("srgan")  # the default tag's convention: [0, 1] out, like ganzoo.load("srgan")
    assert sr.pretrained_cfg.name == "srgan.div2k" and sr.specs.outputs[0].range == (0.0, 1.0)
    assert sr.config.output_range == ganzoo.load("srgan").config.output_range == (0.0, 1.0)


def test_every_way_in_goes_through_the_builder(monkeypatch, tmp_path):
    calls: list[str] = []
    real = factory.build_model

    def counting(name, *args, **kwargs):
        calls.append(name)
        return real(name, *args, **kwargs)

    monkeypatch.setattr(factory, "build_model", counting)
    ganzoo.create("dcgan_32")
    assert calls == ["dcgan_32"]
    m = ganzoo.load("dcgan.mnist")  # a tag that publishes both networks
    assert calls[1:] == ["dcgan"] and m.pretrained_parts == ("generator", "discriminator")
    folder = ganzoo.save_pretrained(m, tmp_path / "saved")
    again = ganzoo.from_pretrained(folder)
    assert calls[2:] == ["dcgan"] and again.pretrained_cfg is m.pretrained_cfg
    loaded_file = ganzoo.load(folder / "model.safetensors")  # inside its folder: loads the folder
    assert calls[3:] == ["dcgan"] and loaded_file.config == m.config
    from ganzoo.export.pipeline import resolve_model

    resolve_model("dcgan_32")  # export's name resolution
    assert calls[4:] == ["dcgan_32"]


def test_random_weights_come_with_the_tag_metadata_and_no_parts():
    m = ganzoo.create("srresnet")
    assert m.pretrained_cfg.name == "srresnet.div2k" and m.pretrained_parts == () and m.training


def test_index_is_the_live_registry():
    """ganzoo list / model_info read ganzoo/models/index.json; it must say what the model files say."""
    stored = json.loads(INDEX_PATH.read_text(encoding="utf-8"))
    assert stored == json.loads(json.dumps(build_index())), "stale registry index: run python tools/update_registry_index.py"


@pytest.mark.parametrize("name", NAMES)
def test_stored_parameter_counts_are_the_built_models(name):
    info = ganzoo.model_info(name)
    model = ganzoo.create(name)
    assert info.num_parameters == model.num_parameters()
    assert info.config == model.config.to_dict() and info.specs == model.specs


def test_list_and_info_need_no_torch():
    code = ("import sys, io, contextlib, ganzoo.cli as c\n"
            "buf = io.StringIO()\n"
            "with contextlib.redirect_stdout(buf):\n"
            "    assert c.main(['list']) == 0 and c.main(['info', 'srgan', '--json']) == 0\n"
            "heavy = sorted(m for m in ('torch', 'ganzoo.models', 'onnx', 'huggingface_hub') if m in sys.modules)\n"
            "print('HEAVY', heavy)\n"
            "print(buf.getvalue().count('srresnet_x8.paper'))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.strip().splitlines()
    assert lines[-2] == "HEAVY []" and int(lines[-1]) >= 1


def test_index_and_live_info_agree_for_every_tag():
    # The index path (no model module imported) and the live path give the same ModelInfo.
    code = ("import json, ganzoo\n"
            "print(json.dumps({f'{n}.{t}': ganzoo.model_info(f'{n}.{t}').to_dict() for n in ganzoo.list_models() "
            "for t in ganzoo.model_info(n).tags}))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    from_index = json.loads(out.stdout)
    live = {f"{n}.{t}": ganzoo.model_info(f"{n}.{t}").to_dict() for n in NAMES for t in ganzoo.model_info(n).tags}
    assert json.loads(json.dumps(live)) == from_index
