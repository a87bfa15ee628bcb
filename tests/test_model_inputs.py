"""Untrusted configs and model inputs, for every registered model (issue #10, items 5 and 6).

Configs: every field of every family's config dataclass gets hostile values (huge ints, bools, negatives,
non-numbers, NaN/Inf floats, wrong tuple lengths and element types, unknown strings); each is refused with
InvalidConfigError fast and without allocating; configs within the per-field bounds but above the parameter
bound are refused with ModelTooLargeError before anything is allocated.

Inputs, one rule each, in every family: another floating dtype than the model's -> InputDtypeError (a TypeError);
NaN/Inf -> NonFiniteInputError (a ValueError) naming the input; an empty batch -> ValueError; sample(n) /
sample_inputs(n) with n not an int >= 1 -> TypeError / ValueError. Value checks are skipped while tracing.
"""
from __future__ import annotations

import dataclasses
import math
import re
import resource
import time

import pytest
import torch

import ganzoo
from ganzoo.errors import (GanzooError, InputDtypeError, InvalidConfigError, ModelTooLargeError,
                           NonFiniteInputError)
from ganzoo.models import base
from ganzoo.registry import get_entry

MODELS = ganzoo.list_models()

# Small configs per family, so the input tests run in milliseconds.
_SMALL = {
    "dcgan": dict(nz=8, ngf=4, ndf=4),
    "srgan": dict(num_blocks=1, width=8, d_widths=(8, 8), d_dense=8, d_image_size=16),
    "pggan_inpaint": dict(g_widths=(4, 8, 8), n_blocks=1, d_widths=(4, 8, 8), d_patch_width=8, d_global_width=8,
                          image_size=32, min_size=32),
    "gan3d": dict(nz=8, ngf=2, ndf=2, volume_size=16),
    "drgan": dict(nz=4, num_identities=3, num_poses=2, widths=(4,) * 13 + (8,)),
    "tgan": dict(z_dim=8, frame_z_dim=8, temporal_widths=(8, 8, 8, 8), g_widths=(8, 8, 8, 8, 8),
                 d_widths=(2, 2, 2, 2)),
}
# Inputs that are cast to the model's dtype instead of refused: they are exact in any float dtype
# (pggan_inpaint's binary mask). DR-GAN's pose is int64 indices (or a one-hot float code, also cast).
_CAST = {"pggan_inpaint": {1}, "drgan": {1}}


def small(name: str, **extra) -> base.GANModel:
    torch.manual_seed(0)
    return ganzoo.create(name, **{**_SMALL.get(get_entry(name).family, {}), **extra}).eval()


def _inputs(m: base.GANModel, n: int = 2) -> tuple[torch.Tensor, ...]:
    return m.sample_inputs(n, generator=torch.Generator().manual_seed(0))


def _data_inputs(name: str, xs) -> list[int]:
    cast = _CAST.get(get_entry(name).family, set())
    return [i for i, x in enumerate(xs) if x.is_floating_point() and i not in cast]


def _maxrss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


# --- hostile configs ------------------------------------------------------------------------------------------------

def _hostile_values(default):
    """Values of the wrong type or range for a field whose default is ``default``."""
    if isinstance(default, bool):
        return [1, 0, "true", None]
    if isinstance(default, int):
        return [10 ** 12, 10_000_000, -1, True, 2.5, "64", None, [64]]
    if isinstance(default, float):
        return [math.nan, math.inf, -math.inf, "0.2", True, None, [0.2]]
    if isinstance(default, str):
        return ["bogus", default.upper() + "x", 1, None, "", [default]]
    if isinstance(default, tuple) and default and isinstance(default[0], float) or default is None:
        return [(0.0,), (0.0, 1.0, 2.0), (math.nan, 1.0), (0.0, math.inf), (1.0, 0.0), ("0", "1"), "x", 5,
                (True, 2)]
    if isinstance(default, tuple):
        n = len(default)
        return [(), (10 ** 12,) * n, (True,) * n, (2.5,) * n, (-1,) * n, ("64",) * n, (64,) * 1000, "abc", 5, None]
    raise AssertionError(f"no hostile values for a default of type {type(default).__name__}")


def _hostile_cases():
    for name in MODELS:
        entry = get_entry(name)
        with torch.device("meta"):
            cfg_cls = type(entry.builder().config)
        for f in dataclasses.fields(cfg_cls):
            if name == "drgan_multi" and f.name == "multi_image":
                continue  # the builder sets it: drgan_multi is the multi-image model whatever the config says
            for v in _hostile_values(f.default):
                yield pytest.param(name, f.name, v, id=f"{name}-{f.name}-{v!r}"[:90])


HOSTILE = list(_hostile_cases())


def test_every_family_and_field_is_covered():
    families = {get_entry(n).family for n in MODELS}
    assert families >= {"dcgan", "srgan", "pggan_inpaint", "gan3d", "drgan", "tgan"}
    assert len(HOSTILE) > 400


@pytest.mark.parametrize("name, field, value", HOSTILE)
def test_hostile_config_field_is_refused_fast(name, field, value):
    rss = _maxrss_mb()
    t = time.perf_counter()
    with pytest.raises(InvalidConfigError, match=re.escape(field)) as ei:
        ganzoo.create(name, **{field: value})
    # the bound catches a real allocation attempt (hundreds of GB take far longer), not speed: loose for a busy CI
    assert time.perf_counter() - t < 10.0
    assert _maxrss_mb() - rss < 200, "a refused config allocated memory"
    assert isinstance(ei.value, ValueError) and isinstance(ei.value, GanzooError)
    assert "got" in str(ei.value)


@pytest.mark.parametrize("name", MODELS)
def test_small_and_default_configs_still_build(name):
    m = small(name)
    assert type(m.config).from_dict(m.config.to_dict()) == m.config
    # JSON gives lists for tuples and may give ints for floats: both are accepted and normalised.
    d = {k: (int(v) if isinstance(v, float) and v.is_integer() else v) for k, v in m.config.to_dict().items()}
    again = small(name, **d)
    assert again.config == m.config
    # numpy scalars (a config assembled from arrays) count as ints and floats
    import numpy as np

    d = {k: (np.int64(v) if type(v) is int else np.float64(v) if type(v) is float else v)
         for k, v in m.config.to_dict().items()}
    assert small(name, **d).config == m.config


@pytest.mark.parametrize("name", MODELS)
def test_unknown_field_and_non_mapping_config(name):
    with pytest.raises(InvalidConfigError, match=r"unknown field\(s\) \['no_such_field'\]"):
        ganzoo.create(name, no_such_field=1)
    cfg_cls = type(small(name).config)
    with pytest.raises(InvalidConfigError, match="expected a mapping"):
        cfg_cls.from_dict([["nz", 3]])


def test_hostile_config_json_through_the_loader_path():
    from ganzoo.factory import _build_from_config

    rss = _maxrss_mb()
    t = time.perf_counter()
    with pytest.raises(InvalidConfigError, match=r"DCGAN ngf must be <= 65536.*got 10000000"):
        _build_from_config({"model_name": "dcgan", "config": {"ngf": 10_000_000}})
    # Every field within its bound, the product far above the parameter bound (G would hold 3.4e10 weights).
    with pytest.raises(ModelTooLargeError, match=r"DCGAN config would build [\d,]+ parameters .* above the bound "
                                                 r"of 2,000,000,000"):
        _build_from_config({"model_name": "dcgan", "config": {"ngf": 8192, "ndf": 8192}})
    with pytest.raises(InvalidConfigError, match=r"SRGAN d_widths must be .*got \(64, 'a'\)"):
        _build_from_config({"model_name": "srgan", "config": {"d_widths": [64, "a"]}})
    assert time.perf_counter() - t < 10.0  # an attempt to allocate would take far longer (or fail)
    assert _maxrss_mb() - rss < 200


# --- the parameter bound -------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", MODELS)
def test_parameter_bound(name, monkeypatch):
    m = small(name)
    counts = m.num_parameters()
    total = sum(counts.values())
    assert type(m).check_size(m.config) == counts  # measured on the meta device, equal to the real model
    with base.max_parameters(total - 1):
        with pytest.raises(ModelTooLargeError, match=rf"{total:,} parameters .*above the bound of {total - 1:,}"):
            small(name)
    with base.max_parameters(total):
        small(name)
    # The module-level default is the bound outside a max_parameters block; a block raises it again.
    monkeypatch.setattr(base, "MAX_PARAMETERS", total - 1)
    with pytest.raises(ModelTooLargeError):
        small(name)
    with base.max_parameters(10 * total):
        small(name)
    # On the meta device nothing is allocated, so nothing is refused (model_info and converters build there).
    with torch.device("meta"):
        small(name)


def test_max_parameters_argument_checks():
    for bad in (0, -5, 2.5, True, "10"):
        with pytest.raises(TypeError, match="max_parameters: expected a positive int or None"):
            with base.max_parameters(bad):
                pass
    assert base.get_max_parameters() == base.MAX_PARAMETERS == 2_000_000_000


# --- input rules ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", MODELS)
def test_floating_input_of_another_dtype_is_a_typed_error(name):
    m = small(name)
    xs = _inputs(m)
    idx = _data_inputs(name, xs)
    assert idx, f"{name} has no floating data input"
    with torch.no_grad():
        m(*xs)
        for i in idx:
            for dt in (torch.float64, torch.float16, torch.bfloat16):
                bad = tuple(x.to(dt) if j == i else x for j, x in enumerate(xs))
                with pytest.raises(InputDtypeError, match=r"expected dtype torch\.float32 \(the model's parameters\)"
                                                          rf", got {dt}; cast the input with .*\.to\(torch\.float32\)"):
                    m(*bad)
        # The rule is "same dtype as the model": a float64 model takes float64 inputs.
        m64 = m.to(torch.float64)
        out = m64(*(x.to(torch.float64) if x.is_floating_point() else x for x in xs))
        out = out[0] if isinstance(out, tuple) else out
        assert out.dtype == torch.float64
    assert issubclass(InputDtypeError, TypeError)


@pytest.mark.parametrize("name", MODELS)
def test_categorical_inputs_are_cast(name):
    """The exceptions to the dtype rule: inputs that are exact in any float dtype (a binary mask, a one-hot pose)."""
    m = small(name)
    xs = _inputs(m)
    cast = sorted(_CAST.get(get_entry(name).family, set()))
    with torch.no_grad():
        ref = m(*xs)
        for i in cast:
            if not xs[i].is_floating_point():
                continue
            other = tuple(x.to(torch.float64) if j == i else x for j, x in enumerate(xs))
            torch.testing.assert_close(m(*other), ref)


@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf])
@pytest.mark.parametrize("name", MODELS)
def test_non_finite_input_is_a_typed_error_naming_it(name, value):
    m = small(name)
    xs = _inputs(m)
    gen_args = [s.name for s in ganzoo.model_info(name).specs.inputs]
    idx = [i for i, x in enumerate(xs) if x.is_floating_point()]
    for i in idx:
        bad = [x.clone() for x in xs]
        bad[i].view(-1)[-1] = value
        with torch.no_grad(), pytest.raises(NonFiniteInputError, match=rf"^{gen_args[i]}: expected finite values, "
                                                                         r"got \d+ NaN and \d+ Inf"):
            m(*bad)
    assert issubclass(NonFiniteInputError, ValueError)


@pytest.mark.parametrize("name", MODELS)
def test_discriminator_inputs_follow_the_same_rules(name):
    m = small(name)
    with torch.no_grad():
        fake = m(*_inputs(m))
        fake = fake[0] if isinstance(fake, tuple) else fake
        if fake.dim() == 4 and fake.shape[-1] != getattr(m.discriminator, "image_size", fake.shape[-1]):
            pytest.skip("generator output size differs from the discriminator's")
        m.discriminator(fake)
        with pytest.raises(InputDtypeError, match="expected dtype torch.float32"):
            m.discriminator(fake.double())
        bad = fake.contiguous().clone()
        bad.view(-1)[0] = math.nan
        with pytest.raises(NonFiniteInputError, match="expected finite values, got 1 NaN and 0 Inf"):
            m.discriminator(bad)
        with pytest.raises(ValueError, match="expected a batch of at least 1"):
            m.discriminator(fake[:0])


@pytest.mark.parametrize("name", MODELS)
def test_empty_batch_is_a_value_error(name):
    m = small(name)
    xs = _inputs(m)
    with torch.no_grad(), pytest.raises(ValueError, match=r"expected a batch of at least 1 .*got an empty batch "
                                                          r"\(shape \(0, "):
        m(*(x[:0] for x in xs))


@pytest.mark.parametrize("name", MODELS)
def test_sample_and_sample_inputs_need_a_positive_int(name):
    m = small(name)
    for bad in (2.5, "3", True, None, torch.tensor(2)):
        with pytest.raises(TypeError, match=r"batch_size: expected a positive int \(number of samples\), got"):
            m.sample_inputs(bad)
        if m.noise_input:
            with pytest.raises(TypeError, match=r"n: expected a positive int \(number of samples\), got"):
                m.sample(bad)
    for bad in (0, -1):
        with pytest.raises(ValueError, match=rf"batch_size: expected a positive int \(number of samples\), got {bad}"):
            m.sample_inputs(bad)
        if m.noise_input:
            with pytest.raises(ValueError, match=rf"n: expected a positive int \(number of samples\), got {bad}"):
                m.sample(bad)
    if m.noise_input:
        assert m.sample(2, generator=torch.Generator().manual_seed(0)).shape[0] == 2
        for t in (0, -1.0, math.nan, "1"):
            with pytest.raises(ValueError, match="truncation: expected None or a finite number > 0"):
                m.sample(1, truncation=t)
        assert m.sample(1, truncation=0.5).shape[0] == 1
    else:
        with pytest.raises(TypeError, match="not from noise alone"):
            m.sample(2)


@pytest.mark.filterwarnings("ignore::torch.jit.TracerWarning")
@pytest.mark.filterwarnings("ignore:`torch.jit.trace:DeprecationWarning")
@pytest.mark.parametrize("name", MODELS)
def test_value_checks_are_skipped_while_tracing(name):
    """torch.jit.trace records no NaN check (the graph would bake in one input's values): the traced module runs
    a NaN input through; the eager module refuses it."""
    m = small(name)
    xs = _inputs(m)
    with torch.no_grad():
        traced = torch.jit.trace(m.generator, xs, check_trace=False)
        i = next(i for i, x in enumerate(xs) if x.is_floating_point())
        bad = [x.clone() for x in xs]
        bad[i].view(-1)[0] = math.nan
        traced(*bad)  # no error: the check is not part of the graph
        with pytest.raises(NonFiniteInputError):
            m.generator(*bad)


@pytest.mark.parametrize("name", ["dcgan_32", "pggan_inpaint", "drgan", "tgan"])
def test_checks_do_not_break_a_full_graph_compile(name):
    """Dynamo traces the checks without a graph break (value checks are skipped, dtype checks are static)."""
    torch._dynamo.reset()
    m = small(name)
    xs = _inputs(m)
    compiled = torch.compile(m.generator, backend="eager", fullgraph=True)
    with torch.no_grad():
        torch.testing.assert_close(compiled(*xs), m.generator(*xs))


def test_helper_entry_points_follow_the_same_rules():
    """Public entry points besides forward: DR-GAN's generate/encode/fuse, TGAN's render, pggan's mask sampler."""
    d = small("drgan")
    image, pose, z = _inputs(d)
    with torch.no_grad():
        f = d.encode(image)
        d.generate(f, pose, z)
        with pytest.raises(InputDtypeError, match="^f: expected dtype torch.float32"):
            d.generate(f.double(), pose, z)
        with pytest.raises(ValueError, match="^f: expected a batch of at least 1"):
            d.generate(f[:0], pose[:0], z[:0])
        bad = f.clone()
        bad[0, 0] = math.inf
        with pytest.raises(NonFiniteInputError, match="^f: expected finite values, got 0 NaN and 1 Inf"):
            d.generate(bad, pose, z)
        with pytest.raises(NonFiniteInputError, match="^pose: expected finite values"):
            d.generate(f, torch.full((2, 2), math.nan), z)
        with pytest.raises(InputDtypeError, match="^image: expected dtype"):
            d.encode(image.half())
    dm = small("drgan_multi")
    images, pose, z = _inputs(dm)
    with torch.no_grad(), pytest.raises(InputDtypeError, match="^images: expected dtype"):
        dm.fuse(images.double())
    t = small("tgan")
    (z0,) = _inputs(t)
    with torch.no_grad():
        z1 = t.generator.frame_codes(z0)
        assert t.generator.render(z0, z1).shape == (2, 3, 16, 64, 64)
        with pytest.raises(InputDtypeError, match="^z1: expected dtype torch.float32"):
            t.generator.render(z0, z1.double())
        bad = z1.clone()
        bad[0, 0, 0] = math.nan
        with pytest.raises(NonFiniteInputError, match="^z1: expected finite values"):
            t.generator.render(z0, bad)
    from ganzoo.models.pggan_inpaint import random_hole_mask

    with pytest.raises(TypeError, match="batch_size: expected a positive int"):
        random_hole_mask(2.5, 32, 32)
    with pytest.raises(ValueError, match="batch_size: expected a positive int .*got 0"):
        random_hole_mask(0, 32, 32)


def test_fx_graph_reads_the_dtype_at_run_time():
    """export's rewrite passes trace generators with torch.fx, keeping the check_* calls as opaque calls: the
    dtype reference is a parameter (a get_attr node), so the graph follows a later .to(float64)."""
    import torch.fx as fx

    m = small("srresnet")
    tracer = fx.Tracer(autowrap_functions=(base.check_tensor,))
    gm = fx.GraphModule(m.generator, tracer.trace(m.generator), "G")
    (x,) = _inputs(m)
    with torch.no_grad():
        torch.testing.assert_close(gm(x), m.generator(x))
        gm64 = gm.to(torch.float64)
        assert gm64(x.double()).dtype == torch.float64
        with pytest.raises(InputDtypeError, match="^lr: expected dtype torch.float64"):
            gm64(x)
        bad = x.double().clone()
        bad[0, 0, 0, 0] = math.nan
        with pytest.raises(NonFiniteInputError, match="^lr: expected finite values"):
            gm64(bad)
