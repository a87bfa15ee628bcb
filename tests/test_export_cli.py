"""``ganzoo export``: the command line over ganzoo.export."""
from __future__ import annotations

import json

import onnx
import pytest

from ganzoo.cli import build_parser, main


def test_export_onnx_prints_validation_table(tmp_path, capsys):
    out = tmp_path / "d.onnx"
    rc = main(["export", "dcgan_32.mnist", "--random-weights", "-o", str(out), "--opset", "18", "--simplify",
               "--seed", "7"])
    assert rc == 0 and out.is_file()
    assert onnx.load(str(out)).opset_import[0].version == 18
    text = capsys.readouterr().out
    for col in ("batch", "spatial size", "max abs err", "max rel err", "tolerance", "pass"):
        assert col in text
    assert "seed 7" in text and f"wrote {out}" in text.replace("\n", "")
    assert text.count("yes") == 2  # batch 1 and 3 passed


def test_export_json_and_batch_range(tmp_path, capsys):
    out = tmp_path / "d.onnx"
    assert main(["export", "dcgan_32.mnist", "--random-weights", "-o", str(out), "--batch", "2:4:8", "--json"]) == 0
    d = json.loads(capsys.readouterr().out)
    assert d["path"] == str(out) and d["dynamic_axes"]["z"] == {"0": "B"}
    assert [c["batch"] for c in d["validation"]["cases"]] == [2, 4] and d["validation"]["passed"]


def test_static_batch_and_no_validate(tmp_path, capsys):
    out = tmp_path / "d.onnx"
    assert main(["export", "dcgan_32.mnist", "--random-weights", "-o", str(out), "--batch", "3", "--no-validate"]) == 0
    assert "validation skipped" in capsys.readouterr().out
    assert onnx.load(str(out)).graph.input[0].type.tensor_type.shape.dim[0].dim_value == 3


def test_triton_repo(tmp_path, capsys):
    assert main(["export", "dcgan_32.mnist", "--random-weights", "--format", "triton-repo", "-o", str(tmp_path),
                 "--batch", "1:4:8", "--no-validate"]) == 0
    cfg = (tmp_path / "dcgan_32_mnist" / "config.pbtxt").read_text()
    assert "max_batch_size: 8" in cfg and "preferred_batch_size: [ 4, 8 ]" in cfg
    assert (tmp_path / "dcgan_32_mnist" / "1" / "model.onnx").is_file()


@pytest.mark.parametrize("argv,match", [
    (["--opset", "99"], r"opset 99 is not supported"),
    (["--fp16", "--format", "onnx"], None),  # filled below for a model without half support
])
def test_errors_exit_1_with_message(tmp_path, capsys, argv, match):
    import ganzoo

    name = "dcgan_32.mnist"
    if match is None:
        no_half = [n for n in ganzoo.list_models() if not ganzoo.model_info(n).pretrained_cfg.half_precision]
        assert no_half, "no registered model declares half_precision=False (srgan_x2.paper did)"
        name, match = no_half[0], r"half_precision=False"
    out = tmp_path / "x.onnx"
    assert main(["export", name, "--random-weights", "-o", str(out), *argv]) == 1
    err = capsys.readouterr().err
    assert err.startswith("ganzoo export: error:") and __import__("re").search(match, err)
    assert not out.exists()


def test_parent_is_a_file(tmp_path, capsys):
    f = tmp_path / "file.txt"
    f.write_text("x")
    assert main(["export", "dcgan_32.mnist", "--random-weights", "-o", str(f / "x.onnx")]) == 1
    assert "is a file, not a folder" in capsys.readouterr().err


@pytest.mark.parametrize("argv,msg", [
    (["--batch", "4:2:8"], "1 <= MIN <= OPT <= MAX"),
    (["--batch", "a:b:c"], "expected N or MIN:OPT:MAX"),
    (["--size", "64by64"], "expected HxW"),
    (["--format", "pytorch"], "invalid choice"),
])
def test_argument_errors(argv, msg, capsys):
    with pytest.raises(SystemExit) as e:
        build_parser().parse_args(["export", "dcgan", "-o", "x.onnx", *argv])
    assert e.value.code == 2 and msg in capsys.readouterr().err


def test_size_parsing():
    args = build_parser().parse_args(["export", "srgan", "-o", "x.engine", "--size", "16x16:64x48:128x96"])
    assert args.size == ((16, 16), (64, 48), (128, 96))
    assert build_parser().parse_args(["export", "srgan", "-o", "x", "--size", "24x32"]).size == ((24, 32),)
