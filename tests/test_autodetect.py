"""One-call loading of third-party checkpoints: ``ganzoo.load(FILE)`` detects family, layout, hyper-parameters and
the layout's I/O convention; ``ganzoo convert`` writes a save_pretrained folder.

Every layout is exercised the same way: a random ganzoo model in a non-default config is written in the
third-party layout and file format (with the inverse of its converter: ``srgan.to_port_layout``, or a small inverse
here), loaded back with ``ganzoo.load(file)`` alone, and compared with the original: same config fields, same
outputs bit for bit (Keras files within float32 rounding: their BatchNorm epsilon is folded into the variance).
"""
from __future__ import annotations

import hashlib
import json
import logging
import re
import shutil

import numpy as np
import pytest
import torch
from torch import nn

import ganzoo
from ganzoo.cli import main as cli_main
from ganzoo.errors import PickleNotAllowedError, StateDictMismatchError, UnknownCheckpointLayoutError
from ganzoo.hub.converters import detect_checkpoint, find_state_dicts, list_converters, rank_layouts
from ganzoo.hub.converters.srgan import to_port_layout
from ganzoo.models.drgan import STRIDE2
from ganzoo.models.srgan import _PORT

KERAS = {"prelu": "channel", "output_range": (0.0, 1.0), "output_act": "tanh", "d_padding": "same",
         "d_input_range": (-1.0, 1.0)}
SMALL_SR_D = {"d_widths": (4, 8, 8, 8), "d_dense": 8, "d_image_size": 32}


def _randomize(model: nn.Module, seed: int = 0) -> nn.Module:
    """Non-trivial BatchNorm statistics and affine, PReLU slopes and biases, so a layout mix-up shows; eval mode."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm):
                m.weight.copy_(1 + 0.2 * torch.randn(m.weight.shape, generator=g))
                m.bias.copy_(0.1 * torch.randn(m.bias.shape, generator=g))
                m.running_mean.copy_(0.1 * torch.randn(m.running_mean.shape, generator=g))
                m.running_var.copy_(0.5 + torch.rand(m.running_var.shape, generator=g))
                m.num_batches_tracked.fill_(3)
            elif isinstance(m, nn.PReLU):
                m.weight.copy_(0.1 + 0.3 * torch.rand(m.weight.shape, generator=g))
            elif isinstance(m, (nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.ConvTranspose1d, nn.ConvTranspose2d,
                                nn.ConvTranspose3d, nn.Linear)):
                nn.init.kaiming_normal_(m.weight, generator=g)
                if m.bias is not None:
                    m.bias.copy_(0.1 * torch.randn(m.bias.shape, generator=g))
    return model.eval()


def _part(sd: dict, part: str) -> dict:
    return {k[len(part) + 1:]: v for k, v in sd.items() if k.startswith(part + ".")}


def _assert_same_outputs(a, b, *inputs, net: str = "generator") -> None:
    with torch.no_grad():
        x, y = getattr(a, net)(*inputs), getattr(b, net)(*inputs)
    for u, v in zip(x if isinstance(x, tuple) else (x,), y if isinstance(y, tuple) else (y,)):
        assert u.std() > 0, "degenerate reference output: the comparison would be weak"
        assert torch.equal(u, v)


def _sha(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _check_provenance(model, path, layout: str, parts: tuple[str, ...]) -> None:
    pc = model.pretrained_cfg
    assert pc.hub_id is None and not pc.has_weights and pc.is_converted
    assert pc.source == str(path.resolve()) and pc.filename == path.name and pc.sha256 == _sha(path)
    assert pc.source_layout == layout and pc.source_parts == parts and pc.tag == "converted"
    assert model.pretrained_parts == parts and not model.training


# --- SRGAN: Lornatang/SRGAN-PyTorch --------------------------------------------------------------------------------

@pytest.mark.parametrize("scale", [2, 4, 8])
def test_lornatang_checkpoint_detected_with_its_io_convention(tmp_path, scale):
    name = {2: "srgan_x2", 4: "srgan", 8: "srgan_x8"}[scale]
    ref = _randomize(ganzoo.create(f"{name}.paper", width=8, num_blocks=2, **SMALL_SR_D, **_PORT), seed=scale)
    port = to_port_layout(ref.state_dict())
    # The port's files: {"state_dict": ..., "epoch": ...}, keys prefixed _orig_mod. by torch.compile.
    path = tmp_path / f"SRGAN_x{scale}-ImageNet.pth.tar"
    torch.save({"epoch": 9, "best_psnr": 27.1, "state_dict": {"_orig_mod." + k: v for k, v in port.items()}}, path)

    got = ganzoo.load(str(path), allow_pickle=True)
    assert got.model_name == name
    c = got.config
    assert (c.scale, c.num_blocks, c.width, c.prelu) == (scale, 2, 8, "shared")
    # the port's convention, with nothing set by hand: [0, 1] in, output clamped to [0, 1]
    assert (c.input_range, c.output_range, c.output_act) == ((0.0, 1.0), (0.0, 1.0), "clamp")
    assert (c.d_widths, c.d_dense, c.d_image_size) == ((4, 8, 8, 8), 8, 32)
    x = torch.rand(2, 3, 6, 5, generator=torch.Generator().manual_seed(1))
    _assert_same_outputs(ref, got, x)
    with torch.no_grad():
        y = got(x)
    assert y.min() >= 0 and y.max() <= 1 and ((y == 0) | (y == 1)).any()  # clamped, not squashed
    _assert_same_outputs(ref, got, torch.rand(2, 3, 32, 32), net="discriminator")
    _check_provenance(got, path, "srgan/lornatang", ("generator", "discriminator"))
    sp = got.specs
    assert sp.outputs[0].range == (0.0, 1.0) and sp.outputs[0].shape == ("B", 3, f"H*{scale}", f"W*{scale}")
    assert sp.scale == scale


def test_lornatang_generator_alone_keeps_a_random_discriminator(tmp_path):
    ref = _randomize(ganzoo.create("srgan_x2", width=8, num_blocks=1, prelu="shared", **_PORT))
    g_only = {k: v for k, v in to_port_layout(ref.state_dict()).items() if not k.startswith(("features.",
                                                                                              "classifier."))}
    path = tmp_path / "g.pth"
    torch.save({"module." + k: v for k, v in g_only.items()}, path)  # DataParallel prefix
    got = ganzoo.load(path, allow_pickle=True)
    _assert_same_outputs(ref, got, torch.rand(1, 3, 5, 5))
    assert got.pretrained_cfg.source_parts == ("generator",) == got.pretrained_parts
    assert "discriminator keeps its random initialisation" in got.pretrained_cfg.description
    # converted, the folder holds the generator only, and says so
    assert cli_main(["convert", str(path), "-o", str(tmp_path / "out"), "--allow-pickle"]) == 0
    from safetensors.torch import load_file

    assert all(k.startswith("generator.") for k in load_file(tmp_path / "out" / "model.safetensors"))
    back = ganzoo.from_pretrained(tmp_path / "out")
    assert back.pretrained_parts == ("generator",)
    _assert_same_outputs(ref, back, torch.rand(1, 3, 5, 5))


def test_named_model_with_a_port_file_gets_the_port_convention(tmp_path):
    ref = _randomize(ganzoo.create("srgan_x2", width=8, num_blocks=1, **SMALL_SR_D, **_PORT))
    path = tmp_path / "x2.pth.tar"
    torch.save({"state_dict": to_port_layout(ref.state_dict())}, path)
    got = ganzoo.load("srresnet_x2", pretrained=path, allow_pickle=True)
    assert got.model_name == "srresnet_x2"
    assert (got.config.output_range, got.config.output_act) == ((0.0, 1.0), "clamp")
    _assert_same_outputs(ref, got, torch.rand(1, 3, 5, 4))
    assert got.pretrained_cfg.source == str(path.resolve()) and got.pretrained_cfg.tag == "converted"
    # an explicit tag is the caller saying what the weights are: its metadata stays, with the file's provenance
    tagged = ganzoo.load("srgan_x2.paper", pretrained=path, allow_pickle=True)
    assert tagged.pretrained_cfg.tag == "paper" and tagged.pretrained_cfg.sha256 == _sha(path)
    assert tagged.config.output_act == "clamp"  # the file's convention overrides the tag's
    # an x2 file is not an x4 model
    with pytest.raises(ValueError, match=r"do not build as srgan: .*expected scale=4, got 2"):
        ganzoo.load("srgan", pretrained=path, allow_pickle=True)


# --- SRGAN: krasserm (Keras HDF5) ----------------------------------------------------------------------------------

def _write_keras(path, layers: list[tuple[str, dict[str, np.ndarray]]]) -> None:
    """A Keras 2 weights file: root attr layer_names, per layer attr weight_names, datasets at <layer>/<weight>."""
    import h5py

    with h5py.File(path, "w") as f:
        names = ["input_1", "lambda"] + [n for n, _ in layers]  # weightless layers are listed too
        f.attrs["layer_names"] = np.array([n.encode() for n in names])
        f.attrs["backend"], f.attrs["keras_version"] = b"tensorflow", b"2.2.4-tf"
        for n in ("input_1", "lambda"):
            f.create_group(n).attrs["weight_names"] = np.array([], dtype="S1")
        for n, ws in layers:
            g = f.create_group(n)
            g.attrs["weight_names"] = np.array([f"{n}/{w}:0".encode() for w in ws])
            for w, arr in ws.items():
                g.create_dataset(f"{n}/{w}:0", data=arr)


class _KerasNames:
    def __init__(self):
        self.n: dict[str, int] = {}

    def __call__(self, kind: str) -> str:
        i = self.n.get(kind, 0)
        self.n[kind] = i + 1
        return kind if i == 0 else f"{kind}_{i}"


def _hwio(w: torch.Tensor) -> np.ndarray:
    return w.permute(2, 3, 1, 0).numpy()


def _bn(sd: dict, p: str) -> dict[str, np.ndarray]:
    # Keras epsilon 1e-3 vs PyTorch 1e-5: the converter adds the difference to the variance.
    return {"gamma": sd[f"{p}.weight"].numpy(), "beta": sd[f"{p}.bias"].numpy(),
            "moving_mean": sd[f"{p}.running_mean"].numpy(),
            "moving_variance": (sd[f"{p}.running_var"].double() - (1e-3 - 1e-5)).float().numpy()}


def _to_keras_generator(sd: dict, width: int, blocks: int, ups: int) -> list:
    from ganzoo.hub.converters.krasserm import depth_to_space_perm

    name, zero = _KerasNames(), lambda c: np.zeros(c, np.float32)
    g = _part(sd, "generator")
    out = [(name("conv2d"), {"kernel": _hwio(g["head.0.weight"]), "bias": g["head.0.bias"].numpy()}),
           (name("p_re_lu"), {"alpha": g["head.2.weight"].reshape(1, 1, -1).numpy()})]
    for i in range(blocks):
        b = f"trunk.{i}.body"
        out += [(name("conv2d"), {"kernel": _hwio(g[f"{b}.0.0.weight"]), "bias": zero(width)}),
                (name("batch_normalization"), _bn(g, f"{b}.0.1")),
                (name("p_re_lu"), {"alpha": g[f"{b}.0.2.weight"].reshape(1, 1, -1).numpy()}),
                (name("conv2d"), {"kernel": _hwio(g[f"{b}.1.0.weight"]), "bias": zero(width)}),
                (name("batch_normalization"), _bn(g, f"{b}.1.1"))]
    out += [(name("conv2d"), {"kernel": _hwio(g["trunk_tail.0.weight"]), "bias": zero(width)}),
            (name("batch_normalization"), _bn(g, "trunk_tail.1"))]
    inv = torch.argsort(depth_to_space_perm(width, 2))  # PixelShuffle (CRD) order -> depth_to_space (DCR) order
    for j in range(ups):
        out += [(name("conv2d"), {"kernel": _hwio(g[f"upsample.{j}.0.weight"][inv]),
                                  "bias": g[f"upsample.{j}.0.bias"][inv].numpy()}),
                (name("p_re_lu"), {"alpha": g[f"upsample.{j}.2.weight"].reshape(1, 1, -1).numpy()})]
    out.append((name("conv2d"), {"kernel": _hwio(g["tail.weight"]), "bias": g["tail.bias"].numpy()}))
    return out


def _to_keras_discriminator(sd: dict, n_convs: int, last_width: int, side: int) -> list:
    name = _KerasNames()
    d = _part(sd, "discriminator")
    out = [(name("conv2d"), {"kernel": _hwio(d["features.0.0.weight"]), "bias": d["features.0.0.bias"].numpy()})]
    for i in range(1, n_convs):
        w = d[f"features.{i}.0.weight"]
        out += [(name("conv2d"), {"kernel": _hwio(w), "bias": np.zeros(w.shape[0], np.float32)}),
                (name("batch_normalization"), _bn(d, f"features.{i}.1"))]
    fc = d["classifier.0.weight"]  # (out, C*H*W) after an NCHW flatten -> (H*W*C, out) after an NHWC flatten
    kernel = fc.t().reshape(last_width, side, side, -1).permute(1, 2, 0, 3).reshape(-1, fc.shape[0])
    out += [(name("dense"), {"kernel": kernel.numpy(), "bias": d["classifier.0.bias"].numpy()}),
            (name("dense"), {"kernel": d["classifier.2.weight"].t().numpy(), "bias": d["classifier.2.bias"].numpy()})]
    return out


def test_krasserm_keras_files_detected(tmp_path):
    pytest.importorskip("h5py")
    ref = _randomize(ganzoo.create("srgan", width=8, num_blocks=2, **SMALL_SR_D, **KERAS), seed=5)
    sd = ref.state_dict()
    _write_keras(tmp_path / "gan_generator.h5", _to_keras_generator(sd, 8, 2, 2))
    _write_keras(tmp_path / "gan_discriminator.h5", _to_keras_discriminator(sd, 8, 8, 2))

    g = ganzoo.load(tmp_path / "gan_generator.h5")
    c = g.config
    assert g.model_name == "srgan" and (c.scale, c.num_blocks, c.width, c.prelu) == (4, 2, 8, "channel")
    assert (c.input_range, c.output_range, c.output_act) == ((0.0, 1.0), (0.0, 1.0), "tanh")
    _check_provenance(g, tmp_path / "gan_generator.h5", "srgan/krasserm", ("generator",))
    x = torch.rand(2, 3, 6, 6, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        # float32 rounding of the epsilon folded into the running variance: not bit-identical, but close
        torch.testing.assert_close(g(x), ref(x), rtol=1e-5, atol=1e-6)

    d = ganzoo.load(tmp_path / "gan_discriminator.h5")
    c = d.config
    assert (c.d_widths, c.d_dense, c.d_image_size, c.d_padding, c.d_input_range) == ((4, 8, 8, 8), 8, 32, "same",
                                                                                    (-1.0, 1.0))
    assert d.pretrained_cfg.source_parts == ("discriminator",)
    hr = torch.rand(2, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        ref_logits = ref.discriminator(hr)
        assert ref_logits.std() > 0
        torch.testing.assert_close(d.discriminator(hr), ref_logits, rtol=1e-4, atol=1e-5)


def test_keras_file_that_is_not_krasserm_names_the_layout(tmp_path):
    pytest.importorskip("h5py")
    _write_keras(tmp_path / "other.h5", [("conv2d", {"kernel": np.zeros((3, 3, 3, 8), np.float32),
                                                     "bias": np.zeros(8, np.float32)})])
    with pytest.raises(UnknownCheckpointLayoutError, match=r"srgan/krasserm recognised the key names, but .*Keras "
                                                           r"weights that are not krasserm"):
        ganzoo.load(tmp_path / "other.h5")


# --- DCGAN: pytorch/examples and the DCGAN tutorial ----------------------------------------------------------------

def test_dcgan_tutorial_pair_and_separate_files(tmp_path):
    ref = _randomize(ganzoo.create("dcgan_32", nz=20, ngf=8, ndf=4, nc=3))
    sd = ref.state_dict()
    g, d = _part(sd, "generator"), _part(sd, "discriminator")
    pair = tmp_path / "weights.tar"
    torch.save({"epoch": 4, "netG_state_dict": g, "netD_state_dict": d, "optimizerG_state_dict": {}}, pair)
    got = ganzoo.load(pair, allow_pickle=True)
    assert got.model_name == "dcgan_32"
    assert (got.config.nz, got.config.ngf, got.config.ndf, got.config.nc, got.config.image_size) == (20, 8, 4, 3, 32)
    z = torch.randn(3, 20, generator=torch.Generator().manual_seed(0))
    _assert_same_outputs(ref, got, z)
    _assert_same_outputs(ref, got, torch.rand(3, 3, 32, 32) * 2 - 1, net="discriminator")
    _check_provenance(got, pair, "dcgan/pytorch-examples", ("generator", "discriminator"))
    assert got.specs.outputs[0].shape == ("B", 3, 32, 32) and got.specs.latent_dim == 20
    assert got.specs.inputs[0].shape == ("B", 20)

    # netG.pth alone, in safetensors (no pickle needed), 64x64
    ref64 = _randomize(ganzoo.create("dcgan", ngf=4, ndf=4, nc=1), seed=1)
    from safetensors.torch import save_file

    save_file(_part(ref64.state_dict(), "generator"), tmp_path / "netG.safetensors")
    got64 = ganzoo.load(tmp_path / "netG.safetensors")
    assert got64.model_name == "dcgan" and (got64.config.image_size, got64.config.nc) == (64, 1)
    _assert_same_outputs(ref64, got64, torch.randn(2, 100))


# --- 3D-GAN: rimchang/3DGAN-Pytorch --------------------------------------------------------------------------------

def test_rimchang_3dgan_files_detected(tmp_path):
    ref = _randomize(ganzoo.create("gan3d_32", nz=16, ngf=4, ndf=4, conv_bias=True, d_first_norm=True))
    sd = ref.state_dict()
    for part, fname in (("generator", "G.pth"), ("discriminator", "D.pth")):
        port = {re.sub(r"^main\.(\d+)\.", lambda m: f"layer{int(m.group(1)) + 1}.", k): v
                for k, v in _part(sd, part).items()}
        assert all(k.startswith("layer") for k in port)
        torch.save({"state_dict": port}, tmp_path / fname)
    g = ganzoo.load(tmp_path / "G.pth", allow_pickle=True)
    c = g.config
    assert g.model_name == "gan3d_32"
    assert (c.nz, c.ngf, c.volume_size, c.conv_bias, c.d_first_norm) == (16, 4, 32, True, True)
    _assert_same_outputs(ref, g, torch.rand(2, 16, generator=torch.Generator().manual_seed(0)))
    d = ganzoo.load(tmp_path / "D.pth", allow_pickle=True)
    assert (d.config.ndf, d.config.d_first_norm) == (4, True)
    _assert_same_outputs(ref, d, torch.rand(2, 1, 32, 32, 32), net="discriminator")
    _check_provenance(d, tmp_path / "D.pth", "gan3d/rimchang-3dgan-pytorch", ("discriminator",))


# --- DR-GAN: kayamin/DR-GAN ----------------------------------------------------------------------------------------

def _kayamin_trunk(sd: dict, src: str, dst: str, n: int, with_pad: bool, crops: bool, last_bn: bool) -> dict:
    """ganzoo ``src.{k}.conv/bn`` -> kayamin Sequential indices: [ZeroPad] Conv BN ELU (encoder) or
    ConvT BN ELU [Crop] (decoder); the decoder's last ConvT has no BN."""
    out, idx = {}, 0
    for k in range(n):
        if with_pad and k in STRIDE2:
            idx += 1
        out[f"{dst}.{idx}.weight"] = sd[f"{src}.{k}.conv.weight"]
        if k < n - 1 or last_bn:
            for p in ("weight", "bias", "running_mean", "running_var", "num_batches_tracked"):
                out[f"{dst}.{idx + 1}.{p}"] = sd[f"{src}.{k}.bn.{p}"]
        idx += 3 + (1 if crops and k in STRIDE2 else 0)
    return out


def _to_kayamin(sd: dict) -> tuple[dict, dict]:
    g = {**_kayamin_trunk(sd, "generator.encoder.layers", "G_enc_convLayers", 14, True, False, True),
         **_kayamin_trunk(sd, "generator.decoder", "G_dec_convLayers", 14, False, True, False),
         "G_dec_fc.weight": sd["generator.fc.weight"], "G_dec_fc.bias": sd["generator.fc.bias"]}
    d = {**_kayamin_trunk(sd, "discriminator.encoder.layers", "convLayers", 14, True, False, True),
         "fc.weight": torch.cat([sd["discriminator.identity_head.weight"], sd["discriminator.pose_head.weight"]]),
         "fc.bias": torch.cat([sd["discriminator.identity_head.bias"], sd["discriminator.pose_head.bias"]])}
    return g, d


@pytest.mark.parametrize("name", ["drgan", "drgan_multi"])
def test_kayamin_drgan_detected(tmp_path, name):
    widths = (4, 4, 4, 4, 6, 6, 4, 6, 6, 4, 8, 8, 6, 12)
    ref = _randomize(ganzoo.create(name, nc=1, widths=widths, num_identities=5, num_poses=3, nz=50, num_images=2))
    g, d = _to_kayamin(ref.state_dict())
    # G and D saved apart in one file: D's fc is split with the pose count read from G
    path = tmp_path / "drgan.pt"
    torch.save({"G": g, "D": d}, path)
    got = ganzoo.load(path, allow_pickle=True)
    c = got.config
    assert got.model_name == name and c.multi_image == (name == "drgan_multi")
    assert (tuple(c.widths), c.nc, c.num_identities, c.num_poses, c.nz) == (widths, 1, 5, 3, 50)
    inputs = ref.sample_inputs(2, generator=torch.Generator().manual_seed(0))
    _assert_same_outputs(ref, got, *inputs)
    _assert_same_outputs(ref, got, torch.rand(2, 1, 96, 96) * 2 - 1, net="discriminator")
    assert got.specs.inputs[1].range == (0.0, 2.0)  # pose classes 0..Np-1 with Np = 3


# --- TGAN: Zasder3 port --------------------------------------------------------------------------------------------

def _to_zasder3(sd: dict) -> tuple[dict, dict]:
    inverse = (("generator.temporal.main.", "temp.model."), ("generator.image.slow.", "slow."),
               ("generator.image.fast.", "fast."), ("generator.image.main.", "model."),
               ("discriminator.main.", "model3d."), ("discriminator.head.", "conv2d."))
    g, d = {}, {}
    for k, v in sd.items():
        src, dst = next((s, t) for s, t in inverse if k.startswith(s))
        if k == "generator.image.main.12.weight":
            v = v.flip(2, 3).transpose(0, 1).contiguous()  # Conv2d -> the port's ConvTranspose2d
        (g if k.startswith("generator.") else d)[dst + k[len(src):]] = v
    return g, d


def test_zasder3_training_checkpoint_detected(tmp_path):
    ref = _randomize(ganzoo.create("tgan", z_dim=8, frame_z_dim=6, temporal_widths=(8, 8, 4, 4),
                                   g_widths=(8, 8, 4, 4, 4), d_widths=(2, 4, 4, 4)))
    g, d = _to_zasder3(ref.state_dict())
    path = tmp_path / "state_normal100.ckpt"
    torch.save({"epoch": 100, "model_state_dict": [g, d],
                "optimizer_state_dict": [{"state": {}, "param_groups": [{"lr": 5e-5}]}] * 2}, path)
    got = ganzoo.load(path, allow_pickle=True)
    c = got.config
    assert (c.z_dim, c.frame_z_dim, tuple(c.temporal_widths), tuple(c.g_widths), tuple(c.d_widths)) == \
        (8, 6, (8, 8, 4, 4), (8, 8, 4, 4, 4), (2, 4, 4, 4))
    z = torch.rand(2, 8, generator=torch.Generator().manual_seed(0)) * 2 - 1
    _assert_same_outputs(ref, got, z)
    _assert_same_outputs(ref, got, torch.rand(2, 3, 16, 64, 64) * 2 - 1, net="discriminator")
    assert got.specs.inputs[0].shape == ("B", 8)
    _check_provenance(got, path, "tgan/zasder3", ("generator", "discriminator"))


# --- ganzoo's own layout -------------------------------------------------------------------------------------------

def test_ganzoo_layout_files(tmp_path):
    from safetensors.torch import save_file

    # no metadata: DCGAN is fully determined by shapes
    ref = _randomize(ganzoo.create("dcgan", nz=12, ngf=4, ndf=6, nc=3, image_size=16))
    save_file(ref.state_dict(), tmp_path / "dcgan.safetensors")
    got = ganzoo.load(tmp_path / "dcgan.safetensors")
    assert (got.config.nz, got.config.ngf, got.config.ndf, got.config.image_size) == (12, 4, 6, 16)
    _assert_same_outputs(ref, got, torch.randn(2, 12))
    assert got.pretrained_cfg.source_layout == "ganzoo"

    # SRGAN: the output convention is not in the weights; without metadata it must be given
    sr = _randomize(ganzoo.create("srgan_x2", width=8, num_blocks=1, **SMALL_SR_D, **_PORT))
    save_file(sr.state_dict(), tmp_path / "sr.safetensors")
    with pytest.raises(UnknownCheckpointLayoutError, match=r"\['output_act', 'output_range'\] cannot be read from "
                                                           r"the weights. Pass them"):
        ganzoo.load(tmp_path / "sr.safetensors")
    got = ganzoo.load(tmp_path / "sr.safetensors", config=_PORT)
    _assert_same_outputs(sr, got, torch.rand(1, 3, 5, 5))

    # a model.safetensors copied out of a save_pretrained folder: its metadata holds the exact config
    folder = ganzoo.save_pretrained(sr, tmp_path / "saved")
    shutil.copy(folder / "model.safetensors", tmp_path / "copied.safetensors")
    got = ganzoo.load(tmp_path / "copied.safetensors")
    assert got.config == sr.config and got.pretrained_cfg.source_layout == "ganzoo"
    _assert_same_outputs(sr, got, torch.rand(1, 3, 5, 5))
    with pytest.raises(UnknownCheckpointLayoutError, match=r"ganzoo srgan_x2 weights \(family 'srgan', from the "
                                                           r"file's metadata\), not family 'dcgan'"):
        ganzoo.load(tmp_path / "copied.safetensors", family="dcgan")
    # a ganzoo network's own state dict, nested under "generator" (model.generator.state_dict())
    torch.save({"generator": sr.generator.state_dict(), "step": 10}, tmp_path / "g.pt")
    got = ganzoo.load(tmp_path / "g.pt", allow_pickle=True, config=_PORT)
    assert got.pretrained_parts == ("generator",) and got.pretrained_cfg.source_layout == "ganzoo"
    _assert_same_outputs(sr, got, torch.rand(1, 3, 5, 5))
    # ... and the file inside its folder loads as the folder
    inside = ganzoo.load(folder / "model.safetensors")
    assert inside.config == sr.config
    assert inside.pretrained_cfg == ganzoo.from_pretrained(folder).pretrained_cfg and not inside.pretrained_cfg.source


def test_named_model_with_ganzoo_layout_file_is_unchanged(tmp_path):
    from safetensors.torch import save_file

    ref = _randomize(ganzoo.create("dcgan_32.mnist", ngf=8, ndf=8))
    save_file(ref.state_dict(), tmp_path / "w.safetensors")
    # the tag's config, exactly: a narrower file is a shape mismatch, not a re-inferred model
    with pytest.raises(StateDictMismatchError, match=r"wrong shape .*expected \(64, 1, 4, 4\) got \(8, 1, 4, 4\)"):
        ganzoo.load("dcgan_32.mnist", pretrained=tmp_path / "w.safetensors")
    got = ganzoo.load("dcgan_32.mnist", pretrained=tmp_path / "w.safetensors", config={"ngf": 8, "ndf": 8})
    _assert_same_outputs(ref, got, torch.randn(2, 100))
    assert got.pretrained_cfg.tag == "mnist" and got.pretrained_cfg.sha256 == _sha(tmp_path / "w.safetensors")


# --- errors --------------------------------------------------------------------------------------------------------

def _dcgan_file(tmp_path):
    ref = _randomize(ganzoo.create("dcgan_32", ngf=4, ndf=4))
    path = tmp_path / "netG.pth"
    torch.save({"state_dict": _part(ref.state_dict(), "generator")}, path)
    return path


def test_wrong_family_is_named(tmp_path):
    path = _dcgan_file(tmp_path)
    with pytest.raises(UnknownCheckpointLayoutError, match=r"wrong family: this checkpoint is a 'dcgan' checkpoint "
                                                           r"\(layout dcgan/pytorch-examples.*not 'srgan'.*"
                                                           r"family='dcgan'"):
        ganzoo.load(path, family="srgan", allow_pickle=True)
    with pytest.raises(UnknownCheckpointLayoutError, match="wrong family"):
        ganzoo.load("srgan", pretrained=path, allow_pickle=True)
    assert ganzoo.load(path, family="dcgan", allow_pickle=True).model_name == "dcgan_32"
    with pytest.raises(UnknownCheckpointLayoutError, match=r"wrong layout: this checkpoint is in layout "
                                                           r"dcgan/pytorch-examples .*not 'lornatang'"):
        ganzoo.load(path, layout="lornatang", allow_pickle=True)


def test_unknown_layout_names_the_closest_layouts_and_unmatched_keys(tmp_path):
    ref = ganzoo.create("srgan_x2", width=4, num_blocks=1)
    port = {k: v for k, v in to_port_layout(ref.state_dict()).items() if not k.startswith(("features", "classifier"))}
    port["extra_head.weight"] = torch.zeros(3)
    port["conv3.weight_orig"] = port.pop("conv3.weight")  # e.g. spectral norm renamed it
    with pytest.raises(UnknownCheckpointLayoutError) as e:
        detect_checkpoint({"state_dict": port})
    msg = str(e.value)
    n = len(port)
    assert msg.startswith(f"unrecognised checkpoint layout: none of the known layouts fits its {n} tensors.")
    assert f"Closest layouts: srgan/lornatang: {n - 2} of {n} keys ({100 * (n - 2) / n:.0f}%), unmatched: " \
           f"conv3.weight_orig, extra_head.weight." in msg
    assert "dcgan/pytorch-examples:" not in msg  # layouts that recognise nothing are not "close"
    assert rank_layouts(set(port))[0][:3] == ("srgan/lornatang", n - 2, n)
    # restricted to a family, the message says so
    with pytest.raises(UnknownCheckpointLayoutError, match="unrecognised checkpoint layout for family 'srgan'"):
        detect_checkpoint(port, family="srgan")
    # a layout that does not exist
    with pytest.raises(UnknownCheckpointLayoutError, match=r"no converter named 'nope'; known layouts: .*lornatang"):
        detect_checkpoint(port, layout="nope")


def test_pickles_are_refused_without_allow_pickle(tmp_path, monkeypatch):
    path = _dcgan_file(tmp_path)
    with pytest.raises(PickleNotAllowedError, match="allow_pickle=True"):
        ganzoo.load(path)
    with pytest.raises(PickleNotAllowedError):
        ganzoo.load("dcgan_32", pretrained=path)
    monkeypatch.chdir(tmp_path)
    # a weights suffix makes a name a path (not the unknown model "missing" with tag "pth")
    with pytest.raises(FileNotFoundError, match="no such file or folder: missing.pth"):
        ganzoo.load("missing.pth")
    assert ganzoo.load("netG.pth", allow_pickle=True).model_name == "dcgan_32"


def test_nesting_and_prefixes_are_unwrapped():
    t = torch.zeros(1)
    assert find_state_dicts({"module.main.0.weight": t}) == [(None, {"module.main.0.weight": t})]
    found = find_state_dicts({"epoch": 1, "netG": {"state_dict": {"a": t}}, "netD_state_dict": {"b": t}})
    assert found == [("generator", {"a": t}), ("discriminator", {"b": t})]
    assert find_state_dicts({"model_state_dict": [{"a": t}, {"b": t}], "optimizer_state_dict": [{}, {}]}) == \
        [(None, {"a": t}), (None, {"b": t})]
    with pytest.raises(UnknownCheckpointLayoutError, match="no tensors found in the checkpoint; top-level keys are "
                                                           r"\['epoch', 'lr'\]"):
        find_state_dicts({"epoch": 1, "lr": 0.1})


def test_every_converter_takes_part():
    layouts = {c.label for c in list_converters()}
    assert {"dcgan/pytorch-examples", "srgan/lornatang", "srgan/krasserm", "gan3d/rimchang-3dgan-pytorch",
            "drgan/kayamin", "tgan/zasder3"} <= layouts
    assert all(c.infer is not None and c.match is not None for c in list_converters())


# --- ganzoo convert ------------------------------------------------------------------------------------------------

def test_convert_cli_writes_a_folder_that_loads_back_bit_identically(tmp_path, capsys):
    ref = _randomize(ganzoo.create("srgan_x2", width=8, num_blocks=2, **SMALL_SR_D, **_PORT))
    src = tmp_path / "SRGAN_x2.pth.tar"
    torch.save({"state_dict": {"_orig_mod." + k: v for k, v in to_port_layout(ref.state_dict()).items()}}, src)
    out = tmp_path / "converted"

    assert cli_main(["convert", str(src), "-o", str(out)]) == 1  # a pickle, without --allow-pickle
    assert "allow_pickle=True (--allow-pickle on the command line)" in capsys.readouterr().err
    assert not out.exists()

    assert cli_main(["convert", str(src), "-o", str(out), "--allow-pickle"]) == 0
    assert "srgan/lornatang layout" in capsys.readouterr().out
    assert sorted(p.name for p in out.iterdir()) == ["README.md", "config.json", "model.safetensors"]
    direct = ganzoo.load(src, allow_pickle=True)
    back = ganzoo.from_pretrained(out)
    a, b = direct.state_dict(), back.state_dict()
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert back.config == direct.config and back.config.output_act == "clamp"
    x = torch.rand(2, 3, 7, 6)
    with torch.no_grad():
        assert torch.equal(back(x), ref(x))
    # the provenance survives the folder
    pc = back.pretrained_cfg
    assert pc.source == str(src.resolve()) and pc.sha256 == _sha(src) and pc.source_layout == "srgan/lornatang"
    assert pc == direct.pretrained_cfg.__class__.from_dict(direct.pretrained_cfg.to_dict())
    assert back.specs.outputs[0].range == (0.0, 1.0) and pc.source_parts == ("generator", "discriminator")
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["tag"] is None and cfg["pretrained_cfg"]["sha256"] == _sha(src)
    card = (out / "README.md").read_text()
    assert "Converted by `ganzoo convert` from `SRGAN_x2.pth.tar`" in card and 'from_pretrained("PATH")' in card

    # an existing model folder is not overwritten without --force
    assert cli_main(["convert", str(src), "-o", str(out), "--allow-pickle"]) == 1
    assert "--force" in capsys.readouterr().err
    assert cli_main(["convert", str(src), "-o", str(out), "--allow-pickle", "--force", "--model", "srresnet_x2"]) == 0
    assert json.loads((out / "config.json").read_text())["model_name"] == "srresnet_x2"


def test_convert_cli_errors(tmp_path, capsys):
    assert cli_main(["convert", str(tmp_path / "nope.pth"), "-o", str(tmp_path / "o")]) == 1
    assert "no such checkpoint file" in capsys.readouterr().err
    dc = _dcgan_file(tmp_path)
    assert cli_main(["convert", str(dc), "-o", str(tmp_path / "o"), "--allow-pickle", "--family", "srgan"]) == 1
    assert "wrong family" in capsys.readouterr().err
    torch.save({"encoder.weight": torch.zeros(2)}, tmp_path / "odd.pt")
    assert cli_main(["convert", str(tmp_path / "odd.pt"), "-o", str(tmp_path / "o"), "--allow-pickle"]) == 1
    err = capsys.readouterr().err
    assert "unrecognised checkpoint layout" in err and "No known layout recognises any of its key names" in err
    assert not (tmp_path / "o").exists()
    assert cli_main(["convert", "--list"]) == 0
    assert "srgan/krasserm" in capsys.readouterr().out


def test_detection_logs_what_it_found(tmp_path, caplog):
    path = _dcgan_file(tmp_path)
    with caplog.at_level(logging.INFO, logger="ganzoo"):
        ganzoo.load(path, allow_pickle=True)
    assert any("detected dcgan/pytorch-examples: dcgan_32" in r.getMessage() for r in caplog.records)
