"""The ganzoo command line."""
from __future__ import annotations

import json
import shutil
import subprocess
import sys

from PIL import Image

from ganzoo.cli import main


def test_list_shows_every_model_and_tag(capsys):
    import ganzoo

    assert main(["list"]) == 0
    out = capsys.readouterr().out
    for name in ganzoo.list_models():
        assert name in out
    assert "dcgan.digiface (default)" in out and "dcgan.mnist" in out


def test_list_json_has_metadata(capsys):
    assert main(["list", "dcgan*", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    row = next(r for r in rows if r["name"] == "dcgan" and r["tag"] == "mnist")
    assert row["specs"]["outputs"][0]["shape"] == ["B", 1, 64, 64]
    assert row["pretrained_cfg"]["sha256"]
    assert row["num_parameters"] == {"generator": 3_574_656, "discriminator": 2_763_520}


def test_info(capsys):
    assert main(["info", "dcgan"]) == 0
    out = capsys.readouterr().out
    assert "dcgan.digiface" in out and "generator 3,576,704" in out and "discriminator 2,765,568" in out
    assert main(["info", "dcgan.mnist"]) == 0
    out = capsys.readouterr().out
    assert "dcgan.mnist" in out and "generator 3,574,656" in out and "discriminator 2,763,520" in out


def test_sample_writes_a_grid(tmp_path, capsys):
    out = tmp_path / "grid.png"
    assert main(["sample", "dcgan", "-n", "16", "-o", str(out)]) == 0
    img = Image.open(out)
    # 4x4 tiles of 64 px with 2 px padding; dcgan.digiface is RGB
    assert img.size == (4 * 66 + 2, 4 * 66 + 2) and img.mode == "RGB"


def test_errors_are_reported_not_raised(capsys):
    assert main(["info", "dcgn"]) == 1
    assert "Did you mean 'dcgan'" in capsys.readouterr().err


def test_console_script_is_installed():
    exe = shutil.which("ganzoo")
    assert exe, "the ganzoo console script is not on PATH"
    out = subprocess.run([exe, "list", "dcgan*"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "dcgan_32" in out.stdout


def test_hubconf_is_generated_from_the_registry():
    from tests.conftest import REPO_ROOT

    out = subprocess.run([sys.executable, str(REPO_ROOT / "tools/gen_hubconf.py"), "--check"], capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr


def test_torch_hub_load_from_the_repo(monkeypatch):
    import torch

    from tests.conftest import REPO_ROOT

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    m = torch.hub.load(str(REPO_ROOT), "dcgan", source="local")
    assert m.pretrained_cfg.name == "dcgan.digiface"
    with torch.no_grad():
        assert m.sample(2).shape == (2, 3, 64, 64)


def test_train_passes_its_options_to_the_recipe(tmp_path):
    import json

    out = tmp_path / "run"
    assert main(["train", "--model", "dcgan_32", "--steps", "2", "--batch-size", "8", "--out", str(out)]) == 0
    assert json.loads((out / "train" / "recipe.json").read_text())["model"] == "dcgan_32"
    assert (out / "model.safetensors").is_file() and (out / "train" / "samples_00002.png").is_file()
    log = [json.loads(line) for line in (out / "train" / "log.jsonl").read_text().splitlines()]
    assert log[-1]["step"] == 2


def test_unknown_options_are_refused_outside_train(capsys):
    import pytest

    with pytest.raises(SystemExit):
        main(["list", "--bogus"])
    assert "unrecognized arguments: --bogus" in capsys.readouterr().err
