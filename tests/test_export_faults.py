"""Export faults: opsets below a model's real minimum are refused up front (and the recorded minimum really is the
minimum); output paths with a NUL byte or other invalid characters are refused before any work."""
from __future__ import annotations

from pathlib import Path

import pytest
import torch

import ganzoo
from ganzoo.cli import main
from ganzoo.export import to_onnx
from ganzoo.export.errors import InvalidExportPathError, UnsupportedOpsetError
from ganzoo.export.onnx_export import export_onnx_proto
from ganzoo.export.opsets import FLOOR_OPSET, MIN_OPSETS, measured_min_opset, supported_opsets
from ganzoo.registry import resolve_pretrained_cfg

COMPONENTS = ("generator", "discriminator")
CASES = [(n, c) for n in ganzoo.list_models() for c in COMPONENTS]


def tiny():
    torch.manual_seed(0)
    return ganzoo.create("dcgan_32.mnist", ngf=8, ndf=8).eval()


@pytest.fixture
def no_export(monkeypatch):
    """Fail the test if the exporter runs: argument errors must come before any heavy work."""
    def boom(*a, **k):
        raise AssertionError("torch.onnx.export ran although the arguments were invalid")

    monkeypatch.setattr(torch.onnx, "export", boom)


def test_every_registered_model_has_a_measured_minimum():
    assert sorted(MIN_OPSETS) == sorted(ganzoo.list_models())
    for name, entry in MIN_OPSETS.items():
        assert set(entry) == set(COMPONENTS), name
        assert all(13 <= v <= 18 for v in entry.values()), (name, entry)


@pytest.mark.parametrize("name,component", CASES)
def test_below_the_minimum_is_refused_before_any_work(tmp_path, no_export, name, component):
    cfg = resolve_pretrained_cfg(name)
    lo = supported_opsets(cfg, component)[0]
    assert lo == max(measured_min_opset(name, component), FLOOR_OPSET) == supported_opsets(name, component)[0]
    with pytest.raises(UnsupportedOpsetError, match=rf"opset {lo - 1} is not supported for {cfg.name}: expected "
                                                    rf"{lo} <= opset"):
        to_onnx(name, tmp_path / "x.onnx", opset=lo - 1, pretrained=False, discriminator=component != "generator")
    assert list(tmp_path.iterdir()) == []


def test_opset_13_was_accepted_then_failed_deep_inside(tmp_path, no_export):
    """The reported case: dcgan exports at 14-16, and 13 is now refused up front naming the real minimum."""
    with pytest.raises(UnsupportedOpsetError, match=r"expected 14 <= opset .*the generator exports at opset 14 and "
                                                    r"above"):
        to_onnx(tiny(), tmp_path / "x.onnx", opset=13)


@pytest.mark.parametrize("opset", [14, 16])
def test_the_recorded_minimum_and_above_export_and_validate(tmp_path, opset):
    res = to_onnx(tiny(), tmp_path / "x.onnx", opset=opset, seed=0)
    assert res.opset == opset and res.validation.passed


# One model per family for the (slow) check that the table is tight; the up-front refusal above
# covers every model.
SWEEP = ["dcgan_32", "drgan", "gan3d_32", "pggan_inpaint", "srgan_x2", "tgan"]


def test_sweep_covers_every_family():
    assert {ganzoo.model_info(n).family for n in SWEEP} == set(ganzoo.list_families())


@pytest.mark.slow
@pytest.mark.parametrize("name,component", [(n, c) for n in SWEEP for c in COMPONENTS])
def test_recorded_minimum_is_the_real_minimum(name, component):
    """Each recorded minimum exports; the opset below it (down to 13) fails in the exporter itself."""
    from ganzoo.export.pipeline import resolve_model

    model = resolve_model(name, pretrained=False)
    lo = measured_min_opset(name, component)
    disc = component == "discriminator"
    proto, _ = export_onnx_proto(model, opset=lo, discriminator=disc)
    assert next(o.version for o in proto.opset_import if o.domain in ("", "ai.onnx")) == lo
    if lo > 13:
        with pytest.raises(UnsupportedOpsetError, match="could only produce opset"):
            export_onnx_proto(model, opset=lo - 1, discriminator=disc)


# ------------------------------------------------------------------------------------- invalid output paths


@pytest.mark.parametrize("bad,match", [
    ("a\x00b.onnx", r"control character '\\x00'"),
    ("x.onnx\n", r"control character '\\n'"),
    ("sub\tdir/x.onnx", r"control character '\\t'"),
    ("x\ud800.onnx", "cannot be encoded as a file name"),
])
def test_invalid_characters_in_the_path_are_refused_before_any_work(tmp_path, no_export, bad, match):
    with pytest.raises(InvalidExportPathError, match=match):
        to_onnx(tiny(), str(tmp_path / bad))
    with pytest.raises(InvalidExportPathError, match=match):
        to_onnx("dcgan_32", str(tmp_path / bad), pretrained=False)
    assert list(tmp_path.iterdir()) == []


def test_nul_in_a_triton_repository_is_refused_before_loading(tmp_path, monkeypatch):
    from ganzoo.export.triton import to_triton_repo

    def no_load(*a, **k):
        raise AssertionError("the model was loaded although the path was invalid")

    monkeypatch.setattr("ganzoo.export.pipeline._build_named", no_load)
    with pytest.raises(InvalidExportPathError, match=r"Triton repository: .*control character '\\x00'"):
        to_triton_repo("dcgan_32", str(tmp_path / "repo\x00"))
    assert list(tmp_path.iterdir()) == []


def test_cli_nul_in_the_output_is_one_line_exit_1(tmp_path, capsys, no_export):
    rc = main(["export", "dcgan_32", "--random-weights", "-o", str(tmp_path / "x\x00.onnx")])
    err = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert rc == 1 and len(err) == 1 and "control character" in err[0] and "Traceback" not in err[0]
    assert list(Path(tmp_path).iterdir()) == []


def test_export_and_triton_files_honour_the_umask(tmp_path):
    import os

    from ganzoo.export.triton import to_triton_repo

    old = os.umask(0o027)
    try:
        res = to_onnx(tiny(), tmp_path / "sub" / "x.onnx", validate=False)
        repo = to_triton_repo(tiny(), tmp_path / "repo", validate=False, max_batch=4)
    finally:
        os.umask(old)
    assert res.path.stat().st_mode & 0o777 == 0o640 and res.path.parent.stat().st_mode & 0o777 == 0o750
    modes = {str(p.relative_to(tmp_path / "repo")): p.stat().st_mode & 0o777 for p in (tmp_path / "repo").rglob("*")}
    assert modes and all(m == (0o750 if (tmp_path / "repo" / k).is_dir() else 0o640) for k, m in modes.items()), modes
    assert repo.model_path.is_file()
