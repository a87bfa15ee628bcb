"""`pip install .` (not only -e) ships the embedded hub and maps hub/, export/, kernels/ into ganzoo."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile

import pytest

from tests.conftest import REPO_ROOT

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    out = tmp_path_factory.mktemp("wheel")
    build = tmp_path_factory.mktemp("src")
    # build from a copy, so the test never writes build/ or *.egg-info into the checkout
    shutil.copytree(REPO_ROOT, build / "ganzoo", ignore=shutil.ignore_patterns(
        ".git", "runs", "build", "*.egg-info", "__pycache__", ".pytest_cache", "dist", "*.onnx", "*.engine"))
    r = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w",
                        str(out), str(build / "ganzoo")], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    (whl,) = out.glob("ganzoo-*.whl")
    return whl


def test_wheel_contains_the_embedded_hub_and_mapped_packages(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    for f in ["ganzoo/hub/repos/index.json", "ganzoo/hub/repos/ganzoo/dcgan-mnist/model.safetensors",
              "ganzoo/hub/repos/ganzoo/dcgan-mnist/config.json", "ganzoo/hub/repos/ganzoo/dcgan-mnist/README.md",
              # a converted repo ships its source's license and the reference outputs its test checks
              "ganzoo/hub/repos/ganzoo/dcgan-digiface/LICENSE",
              "ganzoo/hub/repos/ganzoo/dcgan-digiface/reference.safetensors",
              "ganzoo/hub/__init__.py", "ganzoo/hub/converters/__init__.py", "ganzoo/export/__init__.py",
              "ganzoo/kernels/__init__.py", "ganzoo/models/dcgan.py"]:
        assert f in names, f"{f} missing from {wheel.name}"
    top = {n.split("/")[0] for n in names}
    assert not top & {"hub", "export", "kernels", "tests", "tools"}, f"stray top-level packages: {top}"


def test_installed_wheel_loads_weights_offline(wheel, tmp_path):
    target = tmp_path / "site"
    r = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target),
                        str(wheel)], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr[-3000:]
    code = ("import ganzoo, sys; m = ganzoo.load('dcgan'); "
            "assert ganzoo.__file__.startswith(sys.argv[1]), ganzoo.__file__; print(m.pretrained_cfg.name)")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.update(PYTHONPATH=str(target), HF_HUB_OFFLINE="1", PYTHONNOUSERSITE="1")
    # -I would drop site-packages (torch); run from tmp_path so the checkout is not on sys.path
    r = subprocess.run([sys.executable, "-c", code, str(target)], cwd=tmp_path, env=env, capture_output=True,
                       text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    assert r.stdout.strip() == "dcgan.digiface"  # the default tag of dcgan
