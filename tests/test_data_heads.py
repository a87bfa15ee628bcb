"""ganzoo.data.heads: procedural 3D heads with identity and pose labels (DR-GAN's data), and rank-1 recognition
across pose."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from ganzoo.data.heads import (BACKGROUND, FRONTAL_POSE, HEADS_HELDOUT_SEED, HEADS_HELDOUT_SIZE, IMAGE_SIZE,
                               NUM_IDENTITIES, YAWS, HeadBatch, HeadDataset, heads_dataset, heads_grid,
                               heldout_dataset, identity_for, make_identity, pixel_features, rank1_by_pose,
                               render_head, render_views, to_uint8)

S = 32  # small pictures keep the file fast; the renderer is resolution-independent


def _marker_centroid(idt: dict, yaw: float, pitch: float = 0.0, size: int = 48) -> tuple[float, float]:
    """(x, y) image centroid (column, row) of the mouth, found as the pixels that change when only the lip colour
    does: a point on the face's front, measured from the rendered pictures alone."""
    a = render_head(idt, yaw, size, pitch_deg=pitch).astype(np.int32)
    b = render_head(dict(idt, lips=(0.0, 1.0, 0.0)), yaw, size, pitch_deg=pitch).astype(np.int32)
    d = np.abs(a - b).sum(-1).astype(np.float64)
    assert (d > 30).sum() >= 3, (yaw, pitch)
    rows, cols = np.indices(d.shape)
    return float((d * cols).sum() / d.sum()), float((d * rows).sum() / d.sum())


# ----------------------------------------------------------------------------------------------- data set


def test_defaults_match_drgan():
    from ganzoo.models.drgan import IMAGE_SIZE as DRGAN_SIZE
    from ganzoo.models.drgan import DRGANConfig

    assert IMAGE_SIZE == DRGAN_SIZE == 96
    assert NUM_IDENTITIES == DRGANConfig().num_identities == 200
    assert YAWS == (-60, -45, -30, -15, 0, 15, 30, 45, 60) and YAWS[FRONTAL_POSE] == 0
    ds = HeadDataset()
    assert (ds.size, ds.num_identities, ds.num_poses, ds.frontal_pose) == (96, 200, 9, FRONTAL_POSE)
    assert len(ds) == 200 * 9 and ds.yaws == YAWS
    assert HEADS_HELDOUT_SIZE == 100 and len(HeadDataset.heldout()) == 900


def test_feeds_drgan():
    """A batch goes through DR-GAN built with the data set's Np, and rank1_by_pose takes its encoder."""
    import ganzoo
    from ganzoo.models.drgan import pose_to_onehot

    ds = HeadDataset(2, 96, seed=3)
    model = ganzoo.create("drgan", num_identities=ds.num_identities, num_poses=ds.num_poses,
                          widths=(8,) * 13 + (16,)).eval()
    b = ds.batch([0, 13])
    assert pose_to_onehot(b.pose, ds.num_poses).shape == (2, 9)
    with torch.no_grad():
        out = model.generator(b.image, b.pose, torch.zeros(2, model.config.nz))
        assert out.shape == (2, 3, 96, 96)
        r = rank1_by_pose(lambda x: model.generator.encode(x), ds, as_tensor=True, batch_size=7)
    assert sorted(r) == [y for y in YAWS if y != 0] and all(0.0 <= v <= 1.0 for v in r.values())


def test_determinism_any_order():
    kw = dict(yaw_jitter=5.0, pitch_jitter=5.0, light_jitter=0.2, background_jitter=0.05)
    a = HeadDataset(3, S, seed=11, images_per_pose=2, **kw)
    order = list(range(len(a)))
    first = {k: a.render(k).tobytes() for k in order}
    b = HeadDataset(3, S, seed=11, images_per_pose=2, **kw)
    rng = np.random.default_rng(0)
    for k in rng.permutation(order):  # another object, another order: the same bytes
        assert b.render(int(k)).tobytes() == first[int(k)]
    assert a.params(7) == b.params(7)
    assert identity_for(11, 2) == identity_for(11, 2) == a.identity(2)
    assert make_identity(5) == make_identity(np.random.default_rng(5))
    c = HeadDataset(3, S, seed=11, images_per_pose=2, cache=True, **kw)
    assert all(c.render(k).tobytes() == first[k] for k in reversed(order))
    assert all(c.render(k).tobytes() == first[k] for k in order)  # from the cache
    assert not c.render(0).flags.writeable


def test_seeds_and_identities_differ():
    a, b = HeadDataset(4, S, seed=0), HeadDataset(4, S, seed=1)
    k = a.index(0, FRONTAL_POSE)
    assert identity_for(0, 0) != identity_for(1, 0) and identity_for(0, 0) != identity_for(0, 1)
    assert not np.array_equal(a.render(k), b.render(k))
    frontal = np.stack([a.render(a.index(i, FRONTAL_POSE)) for i in range(4)]).astype(np.float32)
    for i in range(4):
        for j in range(i):
            assert np.abs(frontal[i] - frontal[j]).mean() > 3.0  # two people differ visibly
    held = HeadDataset.heldout(4, S)
    assert held.identity(0) != a.identity(0)


def test_shapes_dtypes_ranges_and_roundtrip():
    ds = HeadDataset(2, S, seed=4)
    item = ds[5]
    assert isinstance(item, HeadBatch)
    assert item.image.shape == (3, S, S) and item.image.dtype == torch.float32
    assert item.identity.dtype == item.pose.dtype == torch.int64 and item.yaw.dtype == torch.float32
    assert item.identity.shape == item.pose.shape == item.yaw.shape == ()
    assert -1.0 <= float(item.image.min()) and float(item.image.max()) <= 1.0
    arr = ds.arrays()
    assert arr.image.shape == (len(ds), 3, S, S) and arr.image.dtype == np.float32
    assert arr.identity.dtype == arr.pose.dtype == np.int64 and arr.yaw.dtype == np.float32
    assert np.array_equal(arr.image[5], item.image.numpy())
    u8 = ds.arrays(dtype=np.uint8)
    assert u8.image.dtype == np.uint8 and np.array_equal(u8.image / np.float32(127.5) - np.float32(1.0), arr.image)
    assert np.array_equal(to_uint8(arr.image), u8.image.transpose(0, 2, 3, 1))  # float <-> uint8 exactly
    assert np.array_equal(to_uint8(item.image), ds.render(5))
    assert np.array_equal(to_uint8(u8.image[0]), ds.render(0))
    b = ds.batch(slice(2, 6))
    assert b.image.shape == (4, 3, S, S) and torch.equal(b.image, torch.from_numpy(arr.image[2:6]))
    whole = heads_dataset(2, S, seed=4)
    assert all(np.array_equal(x, y) for x, y in zip(whole, arr))
    pic = render_head(ds.identity(0), 0.0, S)
    assert pic.shape == (S, S, 3) and pic.dtype == np.uint8
    views = render_views(ds.identity(0), (0, 30), S)
    assert views.shape == (2, S, S, 3) and np.array_equal(views[0], pic)
    # the background is the documented colour, the head is in the middle
    assert np.abs(pic[0, 0].astype(int) - np.rint(np.array(BACKGROUND) * 255)).max() <= 1
    assert np.abs(pic[S // 2, S // 2].astype(int) - np.rint(np.array(BACKGROUND) * 255)).max() > 10


def test_label_layout():
    ds = HeadDataset(3, S, seed=2, images_per_pose=2)
    P, R = len(YAWS), 2
    assert len(ds) == 3 * P * R
    lab = ds.labels()
    for k in range(len(ds)):
        i, p, r = ds.locate(k)
        assert (i, p, r) == (k // (P * R), (k // R) % P, k % R) and ds.index(i, p, r) == k
        assert (lab["identity"][k], lab["pose"][k], lab["yaw"][k]) == (i, p, YAWS[p])
    assert ds.locate(-1) == (2, P - 1, 1)
    assert list(ds.indices_of(1)) == list(range(P * R, 2 * P * R))
    # without jitter a sample is exactly render_head of its identity at its class yaw; repetitions are equal
    k = ds.index(1, 6, 1)
    assert np.array_equal(ds.render(k), render_head(identity_for(2, 1), YAWS[6], S))
    assert np.array_equal(ds.render(k), ds.render(k - 1))
    loader = torch.utils.data.DataLoader(ds, batch_size=4, shuffle=False)
    b = next(iter(loader))
    assert isinstance(b, HeadBatch) and b.image.shape == (4, 3, S, S)
    assert b.identity.tolist() == [0, 0, 0, 0] and b.pose.tolist() == [0, 0, 1, 1]
    assert b.yaw.tolist() == [-60.0, -60.0, -45.0, -45.0]
    with pytest.raises(IndexError):
        ds[len(ds)]


def test_yaw_and_pitch_convention():
    """Positive yaw moves the face towards the image right; positive pitch moves it up."""
    for i in range(4):
        idt = identity_for(0, i)
        xs = [_marker_centroid(idt, y)[0] for y in YAWS]
        assert all(b > a + 0.5 for a, b in zip(xs, xs[1:])), (i, xs)  # strictly increasing with yaw
        assert abs(xs[FRONTAL_POSE] - 24.0) < 1.0  # frontal: on the vertical mid-line
        ys = [_marker_centroid(idt, 0.0, p)[1] for p in (-20.0, 0.0, 20.0)]
        assert ys[0] > ys[1] + 1 > ys[2] + 2, (i, ys)  # rows grow downwards: up = smaller row


def test_mirror_symmetry():
    """The face at +a is the mirror image of the face at -a under a light on the vertical mid-plane."""
    light = (0.0, 0.3, 1.0)
    for i in range(6):
        idt = identity_for(0, i)
        for a in (15.0, 45.0, 60.0):
            plus = render_head(idt, a, 40, light=light).astype(np.int32)
            minus = render_head(idt, -a, 40, light=light)[:, ::-1].astype(np.int32)
            d = np.abs(plus - minus)
            assert d.mean() < 0.05 and d.max() <= 2, (i, a, d.mean(), d.max())
    # the default light (upper left) breaks the symmetry
    idt = identity_for(0, 0)
    d = np.abs(render_head(idt, 45, 40).astype(np.int32) - render_head(idt, -45, 40)[:, ::-1].astype(np.int32))
    assert d.mean() > 2.0


def test_heldout_seed_refused_for_training():
    with pytest.raises(ValueError, match="HEADS_HELDOUT_SEED"):
        HeadDataset(4, S, seed=HEADS_HELDOUT_SEED)
    with pytest.raises(ValueError, match="held-out"):
        heads_dataset(1, S, seed=HEADS_HELDOUT_SEED)
    with pytest.raises(ValueError, match=r"n_identities: expected an int in \[1, 100\]"):
        HeadDataset.heldout(HEADS_HELDOUT_SIZE + 1, S)
    with pytest.raises(TypeError, match="seed is not an argument"):
        HeadDataset.heldout(2, S, seed=0)
    held = heldout_dataset(2, S, dtype=np.uint8)
    ds = HeadDataset.heldout(2, S)
    assert ds.heldout_set and held.image.shape == (18, 3, S, S)
    assert np.array_equal(held.image[0].transpose(1, 2, 0), render_head(identity_for(HEADS_HELDOUT_SEED, 0), -60, S))
    assert ds.identity(1) == identity_for(HEADS_HELDOUT_SEED, 1)


def test_rank1_raw_pixels():
    """Nearest-neighbour on raw pixels recognises near-frontal probes, and much less well at +-60 degrees."""
    held = heldout_dataset(HEADS_HELDOUT_SIZE, S)
    r = rank1_by_pose(pixel_features, held)
    print("raw-pixel rank-1 by yaw:", {y: round(v, 3) for y, v in r.items()})
    # measured at 32 px: -60: 0.44, -45: 0.54, -30: 0.86, -15: 1.00, 15: 1.00, 30: 0.83, 45: 0.48, 60: 0.27
    assert list(r) == [-60, -45, -30, -15, 15, 30, 45, 60]
    assert r[-15] >= 0.95 and r[15] >= 0.95
    assert 0.7 <= r[-30] <= 0.97 and 0.7 <= r[30] <= 0.97
    assert r[-60] <= 0.6 and r[60] <= 0.45
    assert max(r[-60], r[60]) < min(r[-15], r[15]) - 0.35
    mean = {a: (r[-a] + r[a]) / 2 for a in (15, 30, 45, 60)}
    assert mean[15] > mean[30] > mean[45] > mean[60] > 0.1  # falls with the angle, still above chance (0.01)
    # precomputed features, torch tensors and a custom gallery subset give the same numbers
    feats = pixel_features(held.image)
    assert rank1_by_pose(feats, held) == r
    tb = HeadBatch(*(torch.from_numpy(x) for x in held))
    assert rank1_by_pose(pixel_features, tb, as_tensor=True, batch_size=64) == r
    assert rank1_by_pose(feats, HeadBatch(None, held.identity, held.pose, held.yaw)) == r


def test_rank1_small_cases():
    ds = HeadDataset(3, S, seed=8, yaws=(-30, 0, 30))
    r = rank1_by_pose(pixel_features, ds)
    assert set(r) == {-30, 30}
    # identical features for everyone: ties go to the first gallery image (identity 0): 1/3 right
    assert rank1_by_pose(np.ones((len(ds), 4)), ds) == {-30: 1 / 3, 30: 1 / 3}
    with pytest.raises(ValueError, match="must contain 0"):
        rank1_by_pose(pixel_features, HeadDataset(2, S, seed=8, yaws=(-30, 30)))
    with pytest.raises(ValueError, match=r"one row per sample of data\), got shape \(5, 4\)"):
        rank1_by_pose(np.ones((5, 4)), ds)
    with pytest.raises(ValueError, match="one feature row per image"):
        rank1_by_pose(lambda x: np.ones((1, 4)), ds)
    with pytest.raises(ValueError, match="finite"):
        rank1_by_pose(np.full((len(ds), 4), np.nan), ds)
    with pytest.raises(ValueError, match="expected a HeadDataset, a HeadBatch or None"):
        rank1_by_pose(pixel_features, [1, 2, 3])


def test_jitter_stays_within_bounds():
    yj, pj, lj, bj = 7.0, 10.0, 0.3, 0.1
    ds = HeadDataset(3, S, seed=6, images_per_pose=3, yaw_jitter=yj, pitch_jitter=pj, light_jitter=lj,
                     background_jitter=bj)
    base = np.asarray(ds.light)
    lab = ds.labels()
    dyaw, pitch, turn, strength, grey = [], [], [], [], []
    for k in range(len(ds)):
        q = ds.params(k)
        assert (q["identity"], q["pose"]) == ds.locate(k)[:2]
        assert lab["yaw"][k] == np.float32(q["yaw"]) and lab["pose"][k] == q["pose"]
        dyaw.append(q["yaw"] - YAWS[q["pose"]])
        pitch.append(q["pitch"])
        turn.append(math.acos(min(1.0, float(np.dot(q["light"], base)))))
        assert abs(np.linalg.norm(q["light"]) - 1) < 1e-9
        strength.append(q["light_strength"])
        g = np.asarray(q["background"]) - np.asarray(BACKGROUND)
        assert np.allclose(g, g[0])  # a grey shift
        grey.append(g[0])
    dyaw, pitch, turn, strength, grey = map(np.array, (dyaw, pitch, turn, strength, grey))
    assert np.abs(dyaw).max() <= yj and np.abs(dyaw).max() > 0.8 * yj  # within, and used
    assert np.abs(pitch).max() <= pj and np.abs(pitch).max() > 0.8 * pj
    assert turn.max() <= lj + 1e-9 and turn.max() > 0.8 * lj
    assert np.abs(strength - 1).max() <= lj / 2 and np.abs(strength - 1).max() > 0.8 * lj / 2
    assert np.abs(grey).max() <= bj + 1e-9 and np.abs(grey).max() > 0.8 * bj
    # the classes stay disjoint: every jittered yaw is nearest its own class
    assert (np.abs(lab["yaw"][:, None] - np.array(YAWS)[None]).argmin(1) == lab["pose"]).all()
    # a jittered sample is render_head with its parameters; its background is the drawn grey
    q = ds.params(10)
    img = render_head(ds.identity(q["identity"]), q["yaw"], S, pitch_deg=q["pitch"], light=q["light"],
                      light_strength=q["light_strength"], background=q["background"])
    assert np.array_equal(ds.render(10), img)
    assert np.abs(img[0, 0].astype(int) - np.rint(np.array(q["background"]) * 255)).max() <= 1
    with pytest.raises(ValueError, match=r"yaw_jitter: expected a number in \[0, 7.5\) degrees"):
        HeadDataset(2, S, yaw_jitter=7.5)
    with pytest.raises(ValueError, match="pitch_jitter"):
        HeadDataset(2, S, pitch_jitter=-1)
    with pytest.raises(ValueError, match="light_jitter"):
        HeadDataset(2, S, light_jitter=2.0)
    with pytest.raises(ValueError, match="background_jitter"):
        HeadDataset(2, S, background_jitter=float("nan"))


def test_bad_inputs():
    idt = identity_for(0, 0)
    bad = dict(idt)
    del bad["nose_len"]
    with pytest.raises(ValueError, match=r"identity: expected the keys of make_identity, missing \['nose_len'\]"):
        render_head(bad, 0)
    with pytest.raises(TypeError, match="identity: expected a dict from make_identity, got list"):
        render_head([1, 2], 0)
    with pytest.raises(ValueError, match="identity hair_style: expected one of"):
        render_head(dict(idt, hair_style="mohawk"), 0)
    with pytest.raises(ValueError, match=r"identity skin: expected an RGB colour, 3 numbers in \[0, 1\], got"):
        render_head(dict(idt, skin=(1.2, 0.5, 0.5)), 0)
    with pytest.raises(ValueError, match="identity head_w: expected a finite number > 0"):
        render_head(dict(idt, head_w=-0.5), 0)
    with pytest.raises(ValueError, match="identity glasses: expected a bool"):
        render_head(dict(idt, glasses="yes"), 0)
    with pytest.raises(ValueError, match=r"yaw_deg: expected a finite number of degrees in \[-180, 180\], got 200"):
        render_head(idt, 200)
    with pytest.raises(ValueError, match="pitch_deg"):
        render_head(idt, 0, pitch_deg=float("inf"))
    with pytest.raises(ValueError, match=r"yaws: expected a finite number of degrees in \[-90, 90\], got 120"):
        HeadDataset(2, S, yaws=(0, 120))
    with pytest.raises(ValueError, match="strictly increasing"):
        HeadDataset(2, S, yaws=(0, -30))
    with pytest.raises(ValueError, match=r"size: expected an int in \[4, 2048\], got 2"):
        render_head(idt, 0, 2)
    with pytest.raises(ValueError, match=r"size: expected an int in \[4, 2048\], got 4096"):
        HeadDataset(2, 4096)
    with pytest.raises(ValueError, match=r"size: expected an int in \[4, 2048\], got 32.0"):
        heads_grid(1, size=32.0)
    with pytest.raises(ValueError, match="light: expected a non-zero direction"):
        render_head(idt, 0, light=(0, 0, 0))
    with pytest.raises(ValueError, match="light: expected 3 finite numbers, got"):
        render_head(idt, 0, light=(1, 2))
    with pytest.raises(ValueError, match="light: expected 3 numbers"):
        HeadDataset(2, S, light="up")
    with pytest.raises(ValueError, match="light_strength: expected a finite number >= 0"):
        render_head(idt, 0, light_strength=-1.0)
    with pytest.raises(ValueError, match=r"background: expected 3 finite numbers in \[0, 1\]"):
        HeadDataset(2, S, background=(0.5, 0.5, 2.0))
    with pytest.raises(ValueError, match="n_identities: expected an int"):
        HeadDataset(0, S)
    with pytest.raises(ValueError, match="seed: expected an int >= 0, got -1"):
        HeadDataset(2, S, seed=-1)
    with pytest.raises(ValueError, match="images_per_pose"):
        HeadDataset(2, S, images_per_pose=0)
    with pytest.raises(ValueError, match="dtype: expected float32"):
        HeadDataset(1, S).arrays(dtype=np.float64)
    with pytest.raises(TypeError, match="rng: expected a numpy.random.Generator or an int seed"):
        make_identity("seed")
    with pytest.raises(ValueError, match=r"images: expected \(3, S, S\) or \(B, 3, S, S\)"):
        to_uint8(np.zeros((S, S, 3), np.float32))


def test_grid():
    g = heads_grid(2, (-60, 0, 60), S, seed=3, gap=1)
    assert g.shape == (2 * S + 1, 3 * S + 2, 3) and g.dtype == np.uint8
    assert np.array_equal(g[S + 1:, 2 * (S + 1):], render_head(identity_for(3, 1), 60, S))
    assert (g[S, :] == 255).all() and (g[:, S] == 255).all()
    assert np.array_equal(heads_grid([1], (0,), S, seed=3), render_head(identity_for(3, 1), 0, S))
    with pytest.raises(ValueError, match="identities: expected an int >= 1 or a non-empty sequence"):
        heads_grid([], size=S)
    with pytest.raises(ValueError, match="gap_colour"):
        heads_grid(1, (0,), S, gap_colour=(0, 0))


def test_ganzoo_data_reexports():
    import ganzoo.data
    import ganzoo.data.heads as heads

    for name in ("HEADS_HELDOUT_SEED", "HEADS_HELDOUT_SIZE", "HeadBatch", "HeadDataset", "heads_dataset",
                 "heads_grid", "identity_for", "make_identity", "pixel_features", "rank1_by_pose", "render_head"):
        assert getattr(ganzoo.data, name) is getattr(heads, name) and name in ganzoo.data.__all__
    assert ganzoo.data.heads_heldout is heldout_dataset and ganzoo.data.HEAD_YAWS == YAWS
    assert all(hasattr(heads, name) for name in heads.__all__)
