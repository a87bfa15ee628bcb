"""DCGAN encoders (ganzoo.latent.encoders), the BiGAN recipe (ganzoo.train.bigan) and tools/eval_latent.py, on tiny
models with random weights."""
from __future__ import annotations

import json

import pytest
import torch

import ganzoo
from ganzoo.latent.encoders import (DCGANEncoder, EncoderConfig, encoder_for, load_encoder, save_encoder,
                                    train_icgan_encoder)
from tests.conftest import load_tool

TINY = {"nz": 8, "ngf": 8, "ndf": 8, "nc": 3}


@pytest.fixture(autouse=True)
def _one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def small_polygons(monkeypatch):
    """The recipes' polygon data set cut to 256 images (generating 20000 takes seconds)."""
    from ganzoo.data import datasets

    full = datasets.polygons
    monkeypatch.setitem(datasets._DATASETS, "polygons", lambda **kw: full(**{**kw, "n": 256}))


def _tiny(seed: int = 0):
    """A tiny random DCGAN whose BatchNorm statistics are those of its own batches (the initial ones, mean 0 and
    variance 1, make a random generator's eval-mode images ~1e-4 in size)."""
    torch.manual_seed(seed)
    m = ganzoo.create("dcgan_32", **TINY)
    with torch.no_grad():
        for mod in m.generator.modules():
            if isinstance(mod, torch.nn.BatchNorm2d):
                mod.momentum = None  # cumulative average
        for _ in range(4):
            m.generator(torch.randn(64, TINY["nz"]))
        for mod in m.generator.modules():
            if isinstance(mod, torch.nn.BatchNorm2d):
                mod.momentum = 0.1
    return m.eval()


@torch.no_grad()
def _rel_z_error(model, enc, n: int = 256) -> float:
    z = torch.randn(n, TINY["nz"], generator=torch.Generator().manual_seed(123))
    enc.eval()
    ze = enc(model.generator(z))
    return float((ze - z).pow(2).sum() / z.pow(2).sum())


def test_icgan_encoder_learns_the_latent():
    m = _tiny()
    before = _rel_z_error(m, encoder_for(m))
    enc, hist = train_icgan_encoder(m, 50, batch_size=32, lr=2e-3, seed=0, progress=False)
    after = _rel_z_error(m, enc)
    assert len(hist) == 50 and isinstance(enc, DCGANEncoder) and enc.config.method == "icgan"
    assert before > 0.9  # an untrained encoder's output is ~0: relative error ~1
    assert after < 0.3, (before, after)  # held-out codes, not the training batches
    assert not any(p.requires_grad is False for p in m.generator.parameters())  # the generator left as it was


def test_icgan_reconstruction_term_and_checks():
    m = _tiny()
    state = {k: v.clone() for k, v in m.generator.state_dict().items()}
    enc, hist = train_icgan_encoder(m, 5, batch_size=8, recon_weight=1.0, progress=False)
    assert all(torch.equal(v, m.generator.state_dict()[k]) for k, v in state.items())  # G untouched
    with pytest.raises(ValueError, match="recon_weight"):
        train_icgan_encoder(m, 5, recon_weight=-1.0, progress=False)
    with pytest.raises(TypeError, match="DCGAN"):
        encoder_for(object())
    with pytest.raises(ValueError, match="image"):
        enc(torch.zeros(2, 1, 32, 32))


def test_encoder_save_load_round_trip(tmp_path):
    m = _tiny()
    enc, _ = train_icgan_encoder(m, 3, batch_size=8, progress=False)
    w = save_encoder(enc, tmp_path / "enc", info={"steps": 3})
    assert w.name == "encoder.safetensors" and (tmp_path / "enc" / "encoder.json").is_file()
    doc = json.loads((tmp_path / "enc" / "encoder.json").read_text())
    assert doc["config"]["nz"] == 8 and doc["training"] == {"steps": 3}
    back = load_encoder(tmp_path / "enc")
    assert back.config == enc.config and not back.training
    sa, sb = enc.state_dict(), back.state_dict()
    assert sa.keys() == sb.keys() and all(torch.equal(sa[k], sb[k]) for k in sa)
    x = torch.rand(4, 3, 32, 32) * 2 - 1
    assert torch.equal(enc(x), back(x))
    assert torch.equal(load_encoder(w)(x), enc(x))  # the file alone
    f = save_encoder(enc, tmp_path / "other.safetensors")  # a file path: the JSON beside it
    assert (tmp_path / "other.json").is_file() and torch.equal(load_encoder(f)(x), enc(x))


def test_load_encoder_errors(tmp_path):
    from safetensors.torch import save_file

    with pytest.raises(FileNotFoundError, match="no encoder"):
        load_encoder(tmp_path)
    save_file({"a": torch.zeros(2)}, str(tmp_path / "encoder.safetensors"))
    with pytest.raises(ValueError, match="not a ganzoo encoder"):
        load_encoder(tmp_path)
    (tmp_path / "bad.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(ValueError, match="safetensors"):
        load_encoder(tmp_path / "bad.safetensors")
    with pytest.raises(ValueError, match="image_size"):
        DCGANEncoder(EncoderConfig(image_size=48))
    with pytest.raises(ValueError, match="unknown fields"):
        EncoderConfig.from_dict({"nz": 4, "colour": 1})


def test_encoder_in_inversion():
    from ganzoo.latent import invert

    m = _tiny()
    enc, _ = train_icgan_encoder(m, 40, batch_size=32, lr=2e-3, progress=False)
    x = m.generator(torch.randn(6, 8, generator=torch.Generator().manual_seed(5))).detach()
    r_enc = invert(m, x, "encoder", encoder=enc)
    r_opt = invert(m, x, "encoder+optimize", encoder=enc, steps=20, restarts=1)
    assert r_enc.z.shape == (6, 8) and float(r_opt.psnr.mean()) >= float(r_enc.psnr.mean()) - 1e-6


# --------------------------------------------------------------------------------------------------- BiGAN


def test_bigan_runs_resumes_and_loads(tmp_path, small_polygons):
    from ganzoo.train.bigan import BiGANRecipe, train_bigan

    out = tmp_path / "run"
    r = BiGANRecipe(config=json.dumps(TINY), steps=3, batch_size=8, z_width=16, threads=1)
    train_bigan(r, out)
    assert (out / "encoder.safetensors").is_file() and (out / "train" / "samples_00003.png").is_file()
    state = torch.load(out / "train" / "checkpoint.pt", weights_only=True)
    assert set(state["extra"]) == {"encoder", "joint_discriminator"} and set(state["optimizers"]) == {"ge", "d"}
    logged = [json.loads(s) for s in (out / "train" / "log.jsonl").read_text().splitlines()]
    assert {"loss_d", "loss_ge", "rec_mse"} <= set(logged[-1])
    enc3 = load_encoder(out)
    train_bigan(BiGANRecipe(config=json.dumps(TINY), steps=5, batch_size=8, z_width=16, threads=1), out,
                resume=True)
    state5 = torch.load(out / "train" / "checkpoint.pt", weights_only=True)
    assert state5["step"] == 5
    enc5 = load_encoder(out)
    assert enc5.config.method == "bigan"
    assert any(not torch.equal(a, b) for a, b in zip(enc3.state_dict().values(), enc5.state_dict().values()))
    model = ganzoo.load(out)
    assert model.config.nz == 8
    x = torch.rand(2, 3, 32, 32) * 2 - 1
    assert model.generator(enc5(x)).shape == (2, 3, 32, 32)
    with pytest.raises(ValueError, match="--resume: the recipe differs"):
        train_bigan(BiGANRecipe(config=json.dumps(TINY), steps=6, batch_size=8, z_width=32, threads=1), out,
                    resume=True)


def test_bigan_init_from_a_dcgan_run(tmp_path, small_polygons):
    from ganzoo.train.bigan import BiGANRecipe, train_bigan

    src = _tiny(1)
    ganzoo.save_pretrained(src, tmp_path / "dcgan")
    out = tmp_path / "bigan"
    train_bigan(BiGANRecipe(init=str(tmp_path / "dcgan"), freeze_g=True, steps=2, batch_size=8, z_width=16,
                            threads=1), out)
    got = ganzoo.load(out)
    sa, sb = src.state_dict(), got.state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)  # G frozen (and its BN statistics kept); D not trained


@pytest.mark.parametrize("field, value", [("dropout", 1.5), ("z_width", 0), ("g_lr", -0.1), ("freeze_g", True),
                                          ("init", "/nonexistent/run"), ("lr", 0.0), ("steps", 0),
                                          ("config", "[1]")])
def test_bigan_bad_fields(tmp_path, field, value):
    from ganzoo.train.bigan import BiGANRecipe, train_bigan

    with pytest.raises(ValueError, match=f"--{field.replace('_', '-')}"):
        train_bigan(BiGANRecipe(**{field: value}), tmp_path / "run")
    assert not (tmp_path / "run").exists()


def test_bigan_cli_error(tmp_path, capsys):
    from ganzoo.train import bigan

    with pytest.raises(SystemExit) as e:
        import sys

        argv, sys.argv = sys.argv, ["bigan", "--dropout", "2", "--out", str(tmp_path / "r")]
        try:
            bigan.module_main(bigan.main, "ganzoo.train.bigan")
        finally:
            sys.argv = argv
    assert e.value.code == 1 and "--dropout must be" in capsys.readouterr().err


# --------------------------------------------------------------------------------------------------- the tool


def _tool():
    return load_tool("eval_latent")


def test_monotone():
    import numpy as np

    ev = _tool()
    assert ev.monotone(np.array([0.0, 0.5, 0.48, 1.0]), 0.05)
    assert not ev.monotone(np.array([0.0, 0.5, 0.3, 1.0]), 0.05)
    assert ev.monotone(np.array([2.0, 1.0, 0.0]), 0.0)


def test_eval_latent_quick(tmp_path, capsys, small_polygons):
    from ganzoo.train.bigan import BiGANRecipe, train_bigan

    ev = _tool()
    ganzoo.save_pretrained(_tiny(), tmp_path / "dcgan")
    train_bigan(BiGANRecipe(init=str(tmp_path / "dcgan"), freeze_g=True, steps=2, batch_size=8, z_width=16,
                            threads=1), tmp_path / "bigan")
    rc = ev.main(["--model", str(tmp_path / "dcgan"), "--icgan", str(tmp_path / "icgan"), "--icgan-steps", "5",
                  "--bigan", str(tmp_path / "bigan"), "--classifier", str(tmp_path / "clf"), "--quick",
                  "--json", str(tmp_path / "r.json"), "--markdown", str(tmp_path / "r.md")])
    assert rc == 0
    r = json.loads((tmp_path / "r.json").read_text())
    methods = [row["method"] for row in r["inversion"]["rows"]]
    assert methods == (["optimize from random"] * 2 + ["IcGAN encoder"] + ["IcGAN encoder + optimize"] * 2
                       + ["BiGAN encoder"] + ["BiGAN encoder + optimize"] * 2)
    assert r["inversion"]["budgets"] == [5, 10] and not r["encoders"]["BiGAN"]["own_generator"]
    assert len(r["editing"]["rows"]) == 32 and r["editing"]["strengths"] == [1.0, 2.0]
    assert {row["codes"] for row in r["editing"]["rows"]} == {"E(x)", "E(x) + 10 steps"}
    assert sorted({row["strength"] for row in r["editing"]["rows"]}) == [1.0, 2.0]
    assert all(row["psnr_mean"] > 0 and row["time_per_image_s"] > 0 for row in r["inversion"]["rows"])
    assert set(r["classifier"]["heldout_accuracy"]) == {"colour", "size", "sides", "pos"}
    assert (tmp_path / "clf" / "classifier.safetensors").is_file()
    ip = r["inpainting"]
    assert [row["method"] for row in ip["rows"]] == ["semantic inpainting (10 steps, Poisson blend)", "OpenCV Telea",
                                                     "OpenCV Navier-Stokes"]
    assert 0.1 <= ip["coverage_mean"] < 0.3
    assert all(row["images"] == 8 and 0 < row["hole_psnr_mean"] < 100 and 0 <= row["factors_correct"] <= 1
               for row in ip["rows"])
    sm = r["samples"]
    assert sm["n"] == 64 and list(sm["rows"]) == ["samples", "untrained G", "held-out real"]
    for row in sm["rows"].values():
        assert 0 <= row["confident"] <= 1 and set(row["tv"]) == {"colour", "size", "sides", "pos"}
        assert all(0 <= v <= 1 for v in row["tv"].values())
        assert all(abs(sum(h) - 1) < 1e-9 for h in row["hist"].values())
    assert "### Samples read by the factor classifier" in (tmp_path / "r.md").read_text()
    assert "### Inversion" in (tmp_path / "r.md").read_text() and "### Inversion" in capsys.readouterr().out


def _saved_with_encoder(tmp_path):
    """A tiny DCGAN's save_pretrained folder with an IcGAN encoder beside its weights (as a published repo)."""
    m = _tiny()
    folder = ganzoo.save_pretrained(m, tmp_path / "with-enc")
    enc, _ = train_icgan_encoder(m, 30, batch_size=16, seed=0, progress=False)
    save_encoder(enc, folder, info={"steps": 30})
    return m, folder, enc


def test_published_encoder_from_a_folder_is_verified(tmp_path, monkeypatch):
    from ganzoo.errors import IntegrityError
    from ganzoo.latent.encoders import published_encoder

    m, folder, enc = _saved_with_encoder(tmp_path)
    got = published_encoder(folder)
    x = m.generator(torch.randn(4, TINY["nz"], generator=torch.Generator().manual_seed(1)))
    torch.testing.assert_close(got(x), enc.eval()(x), rtol=0, atol=0)
    assert published_encoder(f"local-dir:{folder}") is not None
    # a folder without an encoder, and a registry tag whose (embedded) repo ships none: None, no network
    assert published_encoder(ganzoo.save_pretrained(m, tmp_path / "bare")) is None
    assert published_encoder("dcgan.mnist", local_files_only=True) is None
    assert published_encoder("pggan_inpaint.places365") is None  # a tag without weights
    # a bare name is the registry's, as for ganzoo.load, even beside a folder of that name holding an encoder
    import shutil

    shutil.copytree(folder, tmp_path / "cwd" / "dcgan.mnist")
    monkeypatch.chdir(tmp_path / "cwd")
    assert published_encoder("dcgan.mnist", local_files_only=True) is None
    assert published_encoder("./dcgan.mnist") is not None
    # a manifest that pins nothing is refused, not trusted
    from ganzoo.errors import CorruptConfigError

    doc = json.loads((folder / "encoder.json").read_text())
    (folder / "encoder.json").write_text(json.dumps({**doc, "sha256": "abc"}))
    with pytest.raises(CorruptConfigError, match="records no sha256 of encoder.safetensors"):
        published_encoder(folder)
    (folder / "encoder.json").write_text(json.dumps(doc))
    # a flipped byte: the sha256 in encoder.json catches it on load
    w = folder / "encoder.safetensors"
    data = bytearray(w.read_bytes())
    data[-1] ^= 1
    w.write_bytes(bytes(data))
    with pytest.raises(IntegrityError, match="encoder.safetensors has sha256 .* expects"):
        published_encoder(folder)


def test_published_encoder_from_a_hub_server(hub_server, tmp_path):
    """An hf-hub: repo shipping encoder.json + encoder.safetensors: downloaded, verified, cached, then offline."""
    from ganzoo.latent.encoders import published_encoder

    m, folder, enc = _saved_with_encoder(tmp_path)
    files = {p.name: p.read_bytes() for p in folder.iterdir()}
    hub_server.store.add("ganzoo-test/with-encoder", files)
    bare = {k: v for k, v in files.items() if not k.startswith("encoder")}
    hub_server.store.add("ganzoo-test/no-encoder", bare)
    cache = tmp_path / "cache"
    got = published_encoder("hf-hub:ganzoo-test/with-encoder", cache_dir=cache)
    x = torch.rand(2, 3, 32, 32) * 2 - 1
    torch.testing.assert_close(got(x), enc.eval()(x), rtol=0, atol=0)
    n = len(hub_server.requests)
    again = published_encoder("hf-hub:ganzoo-test/with-encoder", cache_dir=cache, local_files_only=True)
    assert again is not None and len(hub_server.requests) == n
    assert published_encoder("hf-hub:ganzoo-test/no-encoder", cache_dir=cache) is None


def test_invert_cli_uses_the_shipped_encoder_and_safetensors_files(tmp_path, capsys):
    from PIL import Image

    from ganzoo.cli import main

    m, folder, enc = _saved_with_encoder(tmp_path)
    img = tmp_path / "a.png"
    with torch.no_grad():
        x = m.generator(torch.randn(1, TINY["nz"], generator=torch.Generator().manual_seed(5)))
    Image.fromarray(((x[0].permute(1, 2, 0).clamp(-1, 1) + 1) * 127.5).round().byte().numpy()).save(img)
    # no --encoder: the folder's own encoder
    assert main(["invert", str(folder), str(img), "-o", str(tmp_path / "r1.png"), "--method", "encoder",
                 "--no-progress"]) == 0
    line1 = capsys.readouterr().out.splitlines()[0]
    assert "(encoder, 0 steps)" in line1  # line: "IMG: PSNR p dB, MSE m, t s (encoder, 0 steps)"
    # --encoder as the .safetensors file and as the folder, for a model folder that ships none
    bare = ganzoo.save_pretrained(m, tmp_path / "bare")
    for given in (folder / "encoder.safetensors", folder):
        assert main(["invert", str(bare), str(img), "-o", str(tmp_path / "r2.png"), "--overwrite", "--method",
                     "encoder", "--encoder", str(given), "--no-progress"]) == 0
        assert capsys.readouterr().out.splitlines()[0].split(", ")[:2] == line1.split(", ")[:2]
    assert main(["invert", str(bare), str(img), "-o", str(tmp_path / "r3.png"), "--method", "encoder"]) == 1
    err = capsys.readouterr().err
    assert "needs an encoder" in err and "ships none" in err
    # an encoder for another model: refused with the mismatch named
    other = encoder_for(ganzoo.create("dcgan_32", **{**TINY, "nz": 12}))
    save_encoder(other, tmp_path / "other")
    assert main(["invert", str(bare), str(img), "-o", str(tmp_path / "r4.png"), "--method", "encoder",
                 "--encoder", str(tmp_path / "other")]) == 1
    assert "nz 12 != 8" in capsys.readouterr().err
