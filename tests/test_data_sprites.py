"""ganzoo.data.sprites (moving-sprite videos with known factors, motion measures) and ganzoo.pipelines.video (GIF /
MP4 writers, grids)."""
from __future__ import annotations

import logging
import math

import numpy as np
import pytest
import torch

from ganzoo.data.sprites import (BACKGROUND, SPRITE_PALETTE, SPRITE_SHAPES, SPRITES_HELDOUT_SEED, SpriteVideos,
                                 frame_coherence, make_video, motion_stats, sprite_dataset, sprite_heldout,
                                 track_centroids)
from ganzoo.pipelines.video import video_grid, video_to_uint8, write_gif, write_mp4, write_video

T, S = 16, 64


@pytest.fixture(scope="module")
def data():
    return sprite_dataset(24, seed=5, dtype=np.uint8)


def chw_to_thwc(v: np.ndarray) -> np.ndarray:
    return v.transpose(1, 2, 3, 0)


# ------------------------------------------------------------------------------------------------ data


def test_determinism_layout_and_prefix(data):
    videos, labels = data
    again, labels2 = sprite_dataset(24, seed=5, dtype=np.uint8)
    assert np.array_equal(videos, again)
    assert all(np.array_equal(labels[k], labels2[k]) for k in labels)
    short, _ = sprite_dataset(3, seed=5, dtype=np.uint8)
    assert np.array_equal(short, videos[:3])  # a shorter set is a prefix
    other, _ = sprite_dataset(3, seed=6, dtype=np.uint8)
    assert not np.array_equal(other, videos[:3])
    f32, _ = sprite_dataset(3, seed=5)
    assert f32.shape == (3, 3, T, S, S) and f32.dtype == np.float32  # the TGAN layout (B, C, T, H, W)
    assert f32.min() >= -1 and f32.max() <= 1
    assert np.array_equal(video_to_uint8(f32), short.transpose(0, 2, 3, 4, 1))  # float <-> uint8 exactly
    assert labels["trajectory"].shape == (24, T, 2) and labels["start"].shape == (24, 2)
    assert labels["shape"].shape == labels["colour"].shape == labels["speed"].shape == (24,)
    assert ((labels["size"] >= 6) & (labels["size"] <= 14)).all()
    assert ((labels["speed"] >= 1) & (labels["speed"] <= 4)).all()
    assert ((labels["direction"] >= 0) & (labels["direction"] < 2 * math.pi)).all()


def test_labels_match_pixels(data):
    videos, lab = data
    track = track_centroids(videos)  # (B, T, 2), uint8 TGAN layout
    assert track.shape == (24, T, 2)
    assert np.abs(track - lab["trajectory"]).max() < 0.5  # every frame, bounces included
    bg = np.array(BACKGROUND, np.float32)
    for i in range(len(videos)):
        tr, fb, r = lab["trajectory"][i], lab["first_bounce"][i], float(lab["size"][i])
        v = lab["speed"][i] * np.array([math.cos(lab["direction"][i]), math.sin(lab["direction"][i])])
        straight = lab["start"][i] + np.arange(T)[:, None] * v
        assert np.allclose(tr[:fb], straight[:fb], atol=1e-3)  # a straight line until the first bounce
        if fb < T:
            assert not np.allclose(tr[fb], straight[fb], atol=1e-3)
        x = chw_to_thwc(videos[i]).astype(np.float32)
        col = SPRITE_PALETTE[lab["colour"][i]].astype(np.float32)
        cover = np.linalg.norm(x - bg, axis=-1) / np.linalg.norm(col - bg)  # ~ coverage per pixel
        area = cover.sum(axis=(1, 2))
        # never clipped by the walls: the same area in every frame, the area of a disc of radius r (all shapes)
        assert np.allclose(area, math.pi * r * r, rtol=0.04), (SPRITE_SHAPES[lab["shape"][i]], area, r)
        # the sprite's colour is the labelled palette colour: fully covered pixels are exactly it
        exact = (x == col).all(-1).sum(axis=(1, 2))
        assert (exact >= 0.5 * math.pi * r * r).all()
        fg = x[cover > 0.25]  # (fainter edge pixels: uint8 rounding dominates)
        direction_from_bg = (fg - bg) / np.linalg.norm(fg - bg, axis=-1, keepdims=True)
        assert np.allclose(direction_from_bg, (col - bg) / np.linalg.norm(col - bg), atol=0.03)  # no other colour


def test_shapes_and_bounces_stay_inside():
    for k, shape in enumerate(SPRITE_SHAPES):
        video, f = make_video(np.random.default_rng(k), T, S, shape=shape, radius=14.0, speed=4.0)
        x_lo, x_hi, y_lo, y_hi = f["bounds"]
        tr = f["trajectory"]
        assert f["first_bounce"] < T  # 60 px of travel in a 64 px frame bounces
        assert ((tr[:, 0] >= x_lo) & (tr[:, 0] <= x_hi) & (tr[:, 1] >= y_lo) & (tr[:, 1] <= y_hi)).all()
        assert np.abs(track_centroids(video) - tr).max() < 0.5
        st = motion_stats(track_centroids(video))
        assert st["straightness"] < 0.99 or st["coherence"] < 0.99  # the bounce shows


@pytest.mark.parametrize("angle", [0.0, 0.4, 1.9, 3.5, 5.0])
def test_motion_stats_recovers_speed_and_direction(angle):
    video, f = make_video(np.random.default_rng(1), T, S, shape="circle", radius=6.0, start=(32.0, 32.0),
                          direction=angle, speed=1.5)
    assert f["first_bounce"] == T
    st = motion_stats(track_centroids(video))
    assert abs(st["speed"] - 1.5) < 0.05
    assert abs(math.remainder(st["direction"] - angle, 2 * math.pi)) < 0.03
    assert st["straightness"] > 0.999 and st["coherence"] > 0.99 and st["visible"] == 1.0


def test_motion_stats_on_dataset_prefixes(data):
    videos, lab = data
    track = track_centroids(videos)
    n = 0
    for i in range(len(videos)):
        fb = int(lab["first_bounce"][i])
        if fb < 4:
            continue
        st = motion_stats(track[i, :fb])
        assert abs(st["speed"] - lab["speed"][i]) < 0.1
        assert abs(math.remainder(st["direction"] - lab["direction"][i], 2 * math.pi)) < 0.1
        n += 1
    assert n >= 5
    batch = motion_stats(track)
    assert batch["speed"].shape == (24,) and batch["steps"].dtype == np.int64


def test_fixed_factors_keep_the_others():
    a, fa = make_video(np.random.default_rng(9), T, S)
    b, fb = make_video(np.random.default_rng(9), T, S, shape="ring" if fa["shape"] != "ring" else "circle")
    assert fb["colour"] == fa["colour"] and fb["direction"] == fa["direction"] and fb["speed"] == fa["speed"]


def test_several_sprites():
    videos, lab = sprite_dataset(4, seed=2, n_sprites=3, dtype=np.uint8)
    assert lab["shape"].shape == (4, 3) and lab["trajectory"].shape == (4, 3, T, 2)
    assert all(len(set(row)) == 3 for row in lab["colour"])  # different colours within a video
    frame = chw_to_thwc(videos[0])[0].reshape(-1, 3)
    seen = {tuple(c) for c in np.unique(frame, axis=0)}
    assert sum(tuple(SPRITE_PALETTE[c]) in seen for c in lab["colour"][0]) >= 2  # (one may hide another)


def test_heldout_seed_refused():
    with pytest.raises(ValueError, match="held-out"):
        sprite_dataset(2, seed=SPRITES_HELDOUT_SEED)
    with pytest.raises(ValueError, match="SPRITES_HELDOUT_SEED"):
        SpriteVideos(2, seed=SPRITES_HELDOUT_SEED)
    held, _ = sprite_heldout(2, dtype=np.uint8)
    assert np.array_equal(held, SpriteVideos.heldout(2).videos)
    assert not np.array_equal(held, sprite_dataset(2, seed=0, dtype=np.uint8)[0])


def test_sprite_videos_dataset():
    ds = SpriteVideos(3, seed=4, return_labels=True)
    ref, lab = sprite_dataset(3, seed=4)
    video, labels = ds[1]
    assert len(ds) == 3 and isinstance(video, torch.Tensor) and video.dtype == torch.float32
    assert video.shape == (3, T, S, S) and torch.equal(video, torch.from_numpy(ref[1]))
    assert labels["shape"] == lab["shape"][1]
    batch = next(iter(torch.utils.data.DataLoader(ds, batch_size=3)))
    assert batch[0].shape == (3, 3, T, S, S) and batch[1]["trajectory"].shape == (3, T, 2)
    assert torch.equal(ds.tensor(), torch.from_numpy(ref))


def test_tgan_takes_the_batches():
    from ganzoo.models.tgan import TGANConfig, TGANDiscriminator

    d = TGANDiscriminator(TGANConfig()).eval()
    with torch.no_grad():
        assert d(SpriteVideos(2, seed=0).tensor()).shape == (2,)


def test_data_errors():
    rng = np.random.default_rng(0)
    with pytest.raises(TypeError, match="numpy.random.Generator"):
        make_video(0)
    with pytest.raises(ValueError, match=r"n_sprites .* must be an int in \[1, 3\], got 4"):
        make_video(rng, n_sprites=4)
    with pytest.raises(ValueError, match="unknown shape 'star'"):
        make_video(rng, shape="star")
    with pytest.raises(ValueError, match="unknown shape 'star'"):
        sprite_dataset(1, shapes=("circle", "star"))
    with pytest.raises(ValueError, match="does not fit"):
        make_video(rng, size=16, radius=8.0)
    with pytest.raises(ValueError, match="need n_sprites=1"):
        make_video(rng, n_sprites=2, speed=1.0)
    with pytest.raises(ValueError, match="dtype must be float32"):
        sprite_dataset(1, dtype=np.float64)
    with pytest.raises(TypeError, match="dtype is not an argument"):
        SpriteVideos(1, dtype=np.float32)
    with pytest.raises(ValueError, match="seed must be an int >= 0"):
        sprite_dataset(1, seed=-1)
    with pytest.raises(ValueError, match=r"expected \(T, 2\)"):
        motion_stats(np.zeros((5, 3)))


def test_tracking_blank_and_coherence():
    blank = np.full((T, S, S, 3), 32, np.uint8)
    assert np.isnan(track_centroids(blank)).all()
    st = motion_stats(track_centroids(blank))
    assert st["visible"] == 0 and math.isnan(st["speed"])
    still = frame_coherence(blank)
    assert still["mad"] == 0 and math.isnan(still["mad_ratio"]) and still["mad_per_step"].shape == (T - 1,)
    noise = np.random.default_rng(0).uniform(-1, 1, (3, T, S, S)).astype(np.float32)
    assert 0.9 < frame_coherence(noise)["mad_ratio"] < 1.1
    videos, _ = sprite_dataset(4, seed=1)
    fc = frame_coherence(torch.from_numpy(videos))
    assert fc["mad"].shape == (4,) and (fc["mad"] > 0).all() and (fc["mad_ratio"] < 0.9).all()


# --------------------------------------------------------------------------------------------- writers


@pytest.fixture(scope="module")
def clip():
    videos, lab = sprite_dataset(1, seed=11)
    return videos[0], lab  # (3, T, 64, 64) float32 in [-1, 1]


def test_gif_round_trip(tmp_path, clip):
    from PIL import Image, ImageSequence

    video, _ = clip
    path = write_gif(tmp_path / "a.gif", torch.from_numpy(video), fps=8)
    ref = video_to_uint8(video)
    with Image.open(path) as im:
        assert im.n_frames == T and im.size == (S, S) and im.info.get("loop") == 0
        assert im.info.get("duration") == 120
        frames = np.stack([np.asarray(f.convert("RGB")) for f in ImageSequence.Iterator(im)])
    assert frames.shape == ref.shape
    assert np.abs(frames.astype(int) - ref).mean() < 2 and np.abs(frames.astype(int) - ref).max() < 40
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.gif"]
    write_gif(tmp_path / "b.gif", ref, fps=5, loop=2, scale=2)
    with Image.open(tmp_path / "b.gif") as im:
        assert im.size == (2 * S, 2 * S) and im.info.get("duration") == 200


def test_mp4_round_trip(tmp_path, clip):
    av = pytest.importorskip("av")
    video, lab = clip
    path = write_video(tmp_path / "a.mp4", video, fps=8)  # default scale 4
    ref = np.repeat(np.repeat(video_to_uint8(video), 4, 1), 4, 2).astype(int)
    with av.open(str(path)) as c:
        st = c.streams.video[0]
        assert st.codec_context.name == "h264" and (st.width, st.height) == (4 * S, 4 * S)
        assert st.average_rate == 8
        frames = np.stack([f.to_ndarray(format="rgb24") for f in c.decode(video=0)]).astype(int)
    assert frames.shape == (T, 4 * S, 4 * S, 3)
    assert np.abs(frames - ref).mean() < 4
    cx, cy = (lab["trajectory"][0, 0] * 4).astype(int)  # the sprite's centre in frame 0
    if lab["shape"][0] != SPRITE_SHAPES.index("ring"):
        assert np.abs(frames[0, cy - 2:cy + 3, cx - 2:cx + 3] - SPRITE_PALETTE[lab["colour"][0]]).max() < 16
    odd = write_mp4(tmp_path / "odd.mp4", np.zeros((4, 5, 7, 3), np.uint8), scale=1)
    with av.open(str(odd)) as c:
        assert (c.streams.video[0].width, c.streams.video[0].height) == (8, 6)  # padded to even sizes


def test_video_grid(clip):
    videos, _ = sprite_dataset(5, seed=3, dtype=np.uint8)
    g = video_grid(videos, nrow=4)
    assert g.shape == (T, 2 * S + 2, 4 * S + 3 * 2, 3) and g.dtype == np.uint8
    assert np.array_equal(g[:, S + 2:, :S], chw_to_thwc(videos[4]))  # 2nd row, 1st col
    assert (g[:, S:S + 2] == 255).all() and (g[:, S + 2:, S + 2:] == 255).all()  # gaps, empty cells
    g2 = video_grid([torch.from_numpy(v.astype(np.float32) / 127.5 - 1) for v in videos[:2]], nrow=4, gap=0)
    assert g2.shape == (T, S, 2 * S, 3)
    with pytest.raises(ValueError, match="nrow must be an int >= 1"):
        video_grid(videos, nrow=0)
    with pytest.raises(ValueError, match="expected a 5-D batch"):
        video_grid(videos[0])


def test_writer_errors(tmp_path, clip, caplog):
    video, _ = clip
    with pytest.raises(ValueError, match=r"cannot tell the video format from suffix '\.avi'.*'\.gif', '\.mp4'"):
        write_video(tmp_path / "a.avi", video)
    with pytest.raises(ValueError, match=r"write_gif writes \.gif files, got suffix '\.mp4'"):
        write_gif(tmp_path / "a.mp4", video)
    with pytest.raises(ValueError, match=r"expected one video, 4-D .* got 5-D"):
        write_gif(tmp_path / "a.gif", video[None])
    with pytest.raises(ValueError, match="C = 1 or 3 channels, got shape"):
        write_gif(tmp_path / "a.gif", np.zeros((4, T, S, S), np.float32))
    with pytest.raises(TypeError, match="expected uint8 .* or float .* got dtype bool"):
        write_gif(tmp_path / "a.gif", np.zeros((T, S, S, 3), bool))
    with pytest.raises(TypeError, match="numpy array or torch tensor, got list"):
        write_gif(tmp_path / "a.gif", [[0]])
    bad = video.copy()
    bad[0, 0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        write_mp4(tmp_path / "a.mp4", bad)
    with pytest.raises(ValueError, match=r"fps must be a finite number \(0, 100\]"):
        write_gif(tmp_path / "a.gif", video, fps=0)
    with pytest.raises(ValueError, match="crf must be an int in 0..51"):
        write_mp4(tmp_path / "a.mp4", video, crf=60)
    with pytest.raises(ValueError, match="scale must be an int"):
        write_mp4(tmp_path / "a.mp4", video, scale=1.5)
    assert list(tmp_path.iterdir()) == []
    with caplog.at_level(logging.WARNING, logger="ganzoo.pipelines"):
        out = video_to_uint8(video * 2)  # clamped, with a warning
    assert out.min() == 0 and out.max() == 255 and "clamping" in caplog.text
    grey = video_to_uint8(np.zeros((1, 2, 4, 4), np.float32))
    assert grey.shape == (2, 4, 4, 3) and (grey == 128).all()


def test_failed_writes_leave_nothing(tmp_path, clip, monkeypatch):
    from PIL import Image

    av = pytest.importorskip("av")
    video, _ = clip
    (tmp_path / "keep.mp4").write_bytes(b"old")

    def boom_gif(im, fp, filename):
        fp.write(b"GIF89a partial")
        raise OSError("disk full (forced)")

    monkeypatch.setitem(Image.SAVE_ALL, "GIF", boom_gif)
    with pytest.raises(OSError, match="forced"):
        write_gif(tmp_path / "a.gif", video)
    real = av.VideoFrame.from_ndarray
    calls = []

    def boom_frame(*a, **k):
        calls.append(1)
        if len(calls) > 3:
            raise RuntimeError("encoder died (forced)")
        return real(*a, **k)

    class BoomFrame:  # av.VideoFrame is an extension type: swap the module attribute instead
        from_ndarray = staticmethod(boom_frame)

    monkeypatch.setattr(av, "VideoFrame", BoomFrame)
    with pytest.raises(RuntimeError, match="forced"):
        write_mp4(tmp_path / "keep.mp4", video)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.mp4"]  # no temp files, no partial output
    assert (tmp_path / "keep.mp4").read_bytes() == b"old"  # the old file untouched
