"""Every registered model and tag: builds, runs forward on a random batch, and honours its declared specs."""
from __future__ import annotations

import re

import pytest
import torch

import ganzoo

ALL_TAGS = [f"{n}.{t}" for n in ganzoo.list_models() for t in ganzoo.model_info(n).tags]
_SYM = re.compile(r"^[A-Za-z_]\w*$")
_DTYPES = {"float32": torch.float32, "float16": torch.float16, "int64": torch.int64, "bool": torch.bool}


def _bind_dims(specs, tensors, dims):
    for spec, t in zip(specs, tensors):
        assert t.dim() == len(spec.shape), f"{spec.name}: declared {spec.shape}, got {tuple(t.shape)}"
        for d, size in zip(spec.shape, t.shape):
            if isinstance(d, str) and _SYM.match(d):
                dims.setdefault(d, size)
    return dims


@pytest.mark.parametrize("name", ALL_TAGS)
def test_forward_matches_declared_specs(name):
    torch.manual_seed(0)
    model = ganzoo.create(name).eval()
    cfg, sp = model.pretrained_cfg, model.specs
    assert cfg is not None and cfg.name == name
    assert sp.inputs and sp.outputs, f"{name} declares no input/output specs"
    inputs = model.sample_inputs(2, generator=torch.Generator().manual_seed(0))
    assert isinstance(inputs, tuple) and len(inputs) == len(sp.inputs)
    dims = _bind_dims(sp.inputs, inputs, {"B": 2})
    for spec, x in zip(sp.inputs, inputs):
        assert x.shape == spec.resolve(**dims), f"{spec.name}: {tuple(x.shape)} vs {spec.shape}"
        assert x.dtype == _DTYPES[spec.dtype], f"{spec.name}: {x.dtype} vs declared {spec.dtype}"
        if spec.range is not None:
            assert spec.range[0] <= x.min() and x.max() <= spec.range[1], f"{spec.name} sampled outside its range"
    with torch.no_grad():
        out = model(*inputs)
    outs = out if isinstance(out, (tuple, list)) else (out,)
    assert len(outs) >= 1
    for spec, y in zip(sp.outputs, outs):
        assert tuple(y.shape) == spec.resolve(**dims), f"{name} {spec.name}: {tuple(y.shape)} vs {spec.shape}"
        assert y.dtype == _DTYPES[spec.dtype]
        assert torch.isfinite(y).all()
        if spec.range is not None:
            lo, hi = spec.range
            assert lo - 1e-6 <= y.min() and y.max() <= hi + 1e-6, f"{name} {spec.name} outside [{lo}, {hi}]"


@pytest.mark.parametrize("name", ALL_TAGS)
def test_metadata_is_complete(name):
    c = ganzoo.model_info(name).pretrained_cfg
    assert c.paper and c.paper_url.startswith("https://") and c.citation.startswith("@")
    assert c.license
    # the opset floor is measured per architecture (ganzoo.export.opsets), not declared per tag
    from ganzoo.export.opsets import measured_min_opset

    assert measured_min_opset(c.architecture, "generator") is not None, f"{name}: no measured minimum opset"
    if c.has_weights:
        assert re.fullmatch(r"[0-9a-f]{64}", c.sha256 or ""), f"{name} has weights but no sha256"
        assert re.fullmatch(r"[0-9a-f]{40}", c.revision or ""), f"{name} has weights but no pinned revision"


def test_every_published_tag_loads_from_the_embedded_hub(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    published = ganzoo.list_models(pretrained=True)
    assert "dcgan.mnist" in published
    for name in published:
        m = ganzoo.load(name)
        assert m.pretrained_cfg.name == name


@pytest.mark.parametrize("name", ["dcgan_32", "srgan", "pggan_inpaint", "drgan"])
def test_sample_only_for_noise_input_models(name):
    m = ganzoo.create(name).eval()
    if m.noise_input:
        assert m.sample(2, generator=torch.Generator().manual_seed(0)).shape[0] == 2
    else:
        with pytest.raises(TypeError, match="not from noise alone"):
            m.sample(2)
