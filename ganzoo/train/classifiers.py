"""Factor classifiers trained on ganzoo's procedural data, used to score what a generator makes.

Inception-based scores (FID, IS) need downloaded weights and say nothing about procedural shapes, so ganzoo scores
a generator with a classifier trained on the *real* data's known factors (``../shared/specs/weights.md``): the
share of samples it recognises with confidence, and how the recognised samples cover the classes.

:class:`VoxelClassifier` / :func:`train_voxel_classifier`: the class of a 32^3 (or 64^3) occupancy grid among
:data:`ganzoo.data.voxels.SHAPE_CLASSES`, trained on :func:`ganzoo.data.voxels.voxel_dataset` (its own seed) and
measured on the held-out shapes (:func:`ganzoo.data.voxels.voxel_heldout`), never trained on.

:class:`MotionClassifier` / :func:`train_motion_classifier`: the motion of a sprite video
(:mod:`ganzoo.data.sprites`, one sprite) over a window of :data:`MOTION_WINDOW` (4) consecutive frames: its
direction (8 compass buckets), speed (still / slow / medium / fast), shape and colour; trained on the first frames of
:func:`ganzoo.data.sprites.sprite_dataset` videos of its own seed and measured on the held-out videos
(:func:`ganzoo.data.sprites.sprite_heldout`), never trained on. :func:`classify_motion` gives its probabilities for
any window of a batch of videos (real or generated), :func:`score_motion_samples` what they say.
"""
from __future__ import annotations

import logging
import math
import time
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..data.sprites import SPEED_RANGE, SPRITE_COLOURS, SPRITE_SHAPES

logger = logging.getLogger(__name__)

__all__ = ["VoxelClassifier", "train_voxel_classifier", "classify_volumes", "score_voxel_samples", "MOTION_WINDOW",
           "MOTION_SIZE", "DIRECTION_NAMES", "SPEED_NAMES", "MOTION_HEADS", "NOT_MOTION", "direction_bucket",
           "speed_bucket", "MotionClassifier", "train_motion_classifier", "classify_motion", "score_motion_samples",
           "PolygonClassifier", "train_polygon_classifier", "polygon_accuracy", "POLYGON_CLASSIFIER_FILE",
           "save_polygon_classifier", "load_polygon_classifier"]

#: the seed of the classifier's training shapes (the GAN recipes use data seed 0 by default; either way the
#: held-out seed of ganzoo.data.voxels is refused)
CLASSIFIER_SEED = 1


class VoxelClassifier(nn.Module):
    """occupancy (B, 1, S, S, S) in [0, 1] -> class logits (B, K). Three stride-2 3D convs + BN + LeakyReLU, then a
    global average pool and a linear layer (so S may be 32 or 64)."""

    def __init__(self, num_classes: int, width: int = 16):
        super().__init__()
        w = width
        layers: list[nn.Module] = []
        cin = 1
        for cout in (w, 2 * w, 4 * w, 8 * w):
            layers += [nn.Conv3d(cin, cout, 4, 2, 1, bias=False), nn.BatchNorm3d(cout), nn.LeakyReLU(0.2)]
            cin = cout
        self.features = nn.Sequential(*layers)
        self.head = nn.Linear(cin, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 5 or x.shape[1] != 1:
            raise ValueError(f"expected occupancy of shape (B, 1, S, S, S), got {tuple(x.shape)}")
        return self.head(self.features(x).mean(dim=(2, 3, 4)))


def train_voxel_classifier(n: int = 4000, *, size: int = 32, seed: int = CLASSIFIER_SEED, epochs: int = 4,
                           batch_size: int = 64, lr: float = 2e-3, heldout: int = 200,
                           progress: bool = True) -> tuple[VoxelClassifier, dict[str, Any]]:
    """Train a :class:`VoxelClassifier` on ``n`` procedural shapes of ``seed`` and measure it on ``heldout`` of the
    held-out shapes. Deterministic for a given seed (on one machine and thread count).

    Returns the classifier (eval mode) and a report: held-out accuracy overall and per class, the training and
    held-out sizes, epochs and wall time.
    """
    from tqdm.auto import tqdm

    from ..data.voxels import SHAPE_CLASSES, voxel_dataset, voxel_heldout

    t0 = time.perf_counter()
    vols, labels = voxel_dataset(n, size=size, seed=seed, dtype=bool)
    x = torch.from_numpy(np.asarray(vols))
    y = torch.from_numpy(np.asarray(labels["class"]))
    torch.manual_seed(seed)
    model = VoxelClassifier(len(SHAPE_CLASSES))
    opt = torch.optim.Adam(model.parameters(), lr)
    steps = epochs * math.ceil(n / batch_size)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, lr, total_steps=steps)
    gen = torch.Generator().manual_seed(seed)
    model.train()
    bar = tqdm(total=steps, desc="voxel classifier", unit="step", disable=not progress)
    for _ in range(epochs):
        perm = torch.randperm(n, generator=gen)
        for i in range(0, n, batch_size):
            idx = perm[i:i + batch_size]
            loss = F.cross_entropy(model(x[idx].float()), y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            bar.update(1)
            bar.set_postfix(loss=f"{float(loss):.3f}")
    bar.close()
    model.eval()
    hv, hl = voxel_heldout(heldout, size=size, dtype=bool)
    pred = classify_volumes(model, torch.from_numpy(np.asarray(hv)).float()).argmax(1).numpy()
    truth = np.asarray(hl["class"])
    per_class = {c: float((pred[truth == k] == k).mean()) for k, c in enumerate(SHAPE_CLASSES) if (truth == k).any()}
    report = {"train_shapes": n, "train_seed": seed, "epochs": epochs, "heldout_shapes": int(len(truth)),
              "heldout_accuracy": float((pred == truth).mean()), "heldout_per_class": per_class,
              "wall_s": round(time.perf_counter() - t0, 1)}
    logger.info("voxel classifier: held-out accuracy %.3f (%d shapes)", report["heldout_accuracy"], len(truth))
    return model, report


@torch.no_grad()
def classify_volumes(model: nn.Module, vols: torch.Tensor, batch_size: int = 128) -> torch.Tensor:
    """Class probabilities (B, K) of occupancy grids (B, 1, S, S, S) in [0, 1]."""
    out = [F.softmax(model(vols[i:i + batch_size].float()), dim=1) for i in range(0, len(vols), batch_size)]
    return torch.cat(out)


def score_voxel_samples(probs: torch.Tensor, *, confidence: float = 0.9,
                        min_share: float = 0.01) -> dict[str, Any]:
    """What a set of samples' class probabilities (B, K) say: ``confident_share`` (max probability >=
    ``confidence``), ``class_shares`` of the confident samples, ``coverage`` (classes holding at least ``min_share``
    of all samples among the confident ones, out of K) and the normalised entropy of the confident class
    histogram (1 = uniform over all K classes, 0 = a single class)."""
    from ..data.voxels import SHAPE_CLASSES

    k = probs.shape[1]
    top, cls = probs.max(dim=1)
    conf = top >= confidence
    counts = torch.bincount(cls[conf], minlength=k).double()
    shares = counts / max(len(probs), 1)
    p = counts / counts.sum().clamp_min(1)
    entropy = float(-(p[p > 0] * p[p > 0].log()).sum() / math.log(k))
    names = list(SHAPE_CLASSES) if k == len(SHAPE_CLASSES) else [str(i) for i in range(k)]
    return {"samples": int(len(probs)), "confidence": confidence, "confident_share": float(conf.double().mean()),
            "class_shares": {names[i]: round(float(shares[i]), 4) for i in range(k)},
            "coverage": int((shares >= min_share).sum()), "num_classes": k, "entropy": round(entropy, 4)}


# ------------------------------------------------------------------------------------------- sprite motion

#: frames the motion classifier sees at once (3 frame-to-frame steps): short enough that most windows of a sprite
#: video hold no bounce (79% of the first windows), long enough to measure the speed
MOTION_WINDOW = 4
#: the classifier's frame side (the sprite videos' and TGAN's 64 px)
MOTION_SIZE = 64
#: direction buckets: bucket k holds the angles within 22.5 degrees of k * 45 degrees, image coordinates (y down,
#: as :mod:`ganzoo.data.sprites`): 0 moves right, 2 (90 degrees) moves down
DIRECTION_NAMES: tuple[str, ...] = ("right", "down-right", "down", "down-left", "left", "up-left", "up", "up-right")
#: speed buckets: "still" (no motion, below half of SPEED_RANGE's low end: not a speed of the data), then the thirds
#: of :data:`ganzoo.data.sprites.SPEED_RANGE` (1-2, 2-3, 3-4 px / frame)
SPEED_NAMES: tuple[str, ...] = ("still", "slow", "medium", "fast")
#: the classifier's heads and their class names
MOTION_HEADS: dict[str, tuple[str, ...]] = {"direction": DIRECTION_NAMES, "speed": SPEED_NAMES,
                                            "shape": tuple(SPRITE_SHAPES), "colour": tuple(SPRITE_COLOURS)}
#: classes that are not a recognised motion: scored apart (a confident "still" is a frozen video)
NOT_MOTION: dict[str, tuple[str, ...]] = {"speed": ("still",)}


def direction_bucket(angle: Any) -> np.ndarray:
    """Direction bucket (index in :data:`DIRECTION_NAMES`) of angles in radians (image coordinates, y down)."""
    a = np.mod(np.asarray(angle, dtype=np.float64), 2 * math.pi)
    return np.rint(a / (math.pi / 4)).astype(np.int64) % len(DIRECTION_NAMES)


def speed_bucket(speed: Any) -> np.ndarray:
    """Speed bucket (index in :data:`SPEED_NAMES`) of speeds in px / frame (at 64 px)."""
    v = np.asarray(speed, dtype=np.float64)
    lo, hi = SPEED_RANGE
    moving = 1 + np.clip(np.floor((v - lo) / (hi - lo) * 3), 0, 2).astype(np.int64)
    return np.where(v < lo / 2, 0, moving)


class MotionClassifier(nn.Module):
    """Sprite videos (B, 3, T, 64, 64) in [-1, 1], T >= ``window`` -> logits per head of :data:`MOTION_HEADS`
    (a dict), from the first ``window`` frames (use :func:`classify_motion` for other windows).

    The frames are area-downsampled to 32x32 and stacked as 3 * window channels (early fusion: the first conv
    compares the frames, where the motion is); four 3x3 convs (``width``, ``width``, 2 ``width``, 2 ``width``
    channels, the last three stride 2, BN + ReLU) to 4x4; global average and max pools (a small sprite in a plain
    frame: the max keeps it), one linear layer per head."""

    def __init__(self, width: int = 32, window: int = MOTION_WINDOW):
        super().__init__()
        if isinstance(window, bool) or not isinstance(window, int) or window < 2:
            raise ValueError(f"window must be an int >= 2 (frames seen at once), got {window!r}")
        if isinstance(width, bool) or not isinstance(width, int) or width < 1:
            raise ValueError(f"width must be an int >= 1, got {width!r}")
        self.window = window
        layers: list[nn.Module] = []
        cin = 3 * window
        for cout, stride in ((width, 1), (width, 2), (2 * width, 2), (2 * width, 2)):
            layers += [nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]
            cin = cout
        self.features = nn.Sequential(*layers)
        self.heads = nn.ModuleDict({k: nn.Linear(2 * cin, len(v)) for k, v in MOTION_HEADS.items()})

    def prepare(self, x: torch.Tensor) -> torch.Tensor:
        """Videos (B, 3, T, 64, 64) -> the network's input (B, 3 * window, 32, 32): the first ``window`` frames,
        2x2 area-downsampled, channels ordered (colour, frame)."""
        if not isinstance(x, torch.Tensor) or x.dim() != 5 or x.shape[1] != 3 or x.shape[2] < self.window \
                or tuple(x.shape[3:]) != (MOTION_SIZE, MOTION_SIZE):
            got = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
            raise ValueError(f"expected sprite videos of shape (B, 3, T >= {self.window}, {MOTION_SIZE}, "
                             f"{MOTION_SIZE}) in [-1, 1], got {got}")
        return F.avg_pool3d(x[:, :, :self.window].float(), (1, 2, 2)).flatten(1, 2)

    def forward_prepared(self, p: torch.Tensor) -> dict[str, torch.Tensor]:
        h = self.features(p)
        h = torch.cat([h.mean(dim=(2, 3)), h.amax(dim=(2, 3))], dim=1)
        return {k: m(h) for k, m in self.heads.items()}

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        return self.forward_prepared(self.prepare(x))


def _check_count(value: object, name: str, lo: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < lo:
        raise ValueError(f"{name} must be an int >= {lo}, got {value!r}")
    return int(value)


def _straight_windows(n: int, seed: int, window: int, prepare, chunk: int = 256):
    """The first ``window`` frames of videos i = 0, 1, ... of ``sprite_dataset(seed=seed)`` (sample i drawn from
    ``default_rng((seed, i))``: the data set's video, its first frames only), keeping the first ``n`` whose sprite
    does not bounce within them. Returns (prepared float16 (n, 3 * window, 32, 32), labels, videos rendered)."""
    from ..data.sprites import make_video

    kept: list[torch.Tensor] = []
    batch: list[np.ndarray] = []
    lab: dict[str, list] = {"direction": [], "speed": [], "shape": [], "colour": []}
    i = got = 0
    while got < n:
        video, f = make_video(np.random.default_rng((seed, i)), window, MOTION_SIZE)
        i += 1
        if f["first_bounce"] < window:
            continue
        batch.append(video.transpose(3, 0, 1, 2))  # (T, H, W, 3) -> (3, T, H, W)
        for key, val in (("direction", f["direction"]), ("speed", f["speed"]), ("shape", f["shape_index"]),
                         ("colour", f["colour_index"])):
            lab[key].append(val)
        got += 1
        if len(batch) == chunk or got == n:
            x = torch.from_numpy(np.stack(batch)).float().div_(127.5).sub_(1.0)
            kept.append(prepare(x).half())
            batch = []
    labels = {"direction": direction_bucket(lab["direction"]), "speed": speed_bucket(lab["speed"]),
              "shape": np.asarray(lab["shape"], np.int64), "colour": np.asarray(lab["colour"], np.int64)}
    return torch.cat(kept), labels, i


def _noise_videos(n: int, window: int, gen: torch.Generator) -> torch.Tensor:
    """Videos of noise (n, 3, window, 64, 64) in [-1, 1]: a random grey level per colour channel, plus i.i.d.
    uniform noise of a random amplitude in [0.05, 1], clamped."""
    level = torch.rand(n, 3, 1, 1, 1, generator=gen) * 2 - 1
    amp = 0.05 + 0.95 * torch.rand(n, 1, 1, 1, 1, generator=gen)
    noise = torch.rand(n, 3, window, MOTION_SIZE, MOTION_SIZE, generator=gen) * 2 - 1
    return (level + amp * noise).clamp_(-1, 1)


def train_motion_classifier(n: int = 8000, *, seed: int = CLASSIFIER_SEED, epochs: int = 6, width: int = 32,
                            batch_size: int = 32, lr: float = 1e-2, heldout: int = 1000, still_share: float = 0.125,
                            noise_share: float = 0.0625, device: str = "cpu",
                            progress: bool = True) -> tuple[MotionClassifier, dict[str, Any]]:
    """Train a :class:`MotionClassifier` on ``n`` windows of real sprite videos of ``seed`` and measure it on the
    held-out videos (:func:`ganzoo.data.sprites.sprite_heldout`, never trained on). Deterministic for a given seed
    (on one machine and thread count).

    **Labels.** A sprite moves in a straight line and bounces off the walls, so a video has no single direction;
    a window of :data:`MOTION_WINDOW` frames does when the sprite does not bounce within it. The training windows
    are the first frames of the videos whose sprite does not bounce before frame :data:`MOTION_WINDOW`
    (``first_bounce >= MOTION_WINDOW``; 79% of them): their labelled ``direction`` and ``speed`` (the initial
    velocity) are exactly the motion over the window, bucketed by :func:`direction_bucket` and
    :func:`speed_bucket`; plus ``shape`` and ``colour``. A uniform position and direction in the frame stays
    uniform under straight motion with elastic bounces, so such a first window is distributed as any bounce-free
    window of a video: the classifier applies to every window (:func:`classify_motion` ``start``). Windows holding a
    bounce have no one velocity: they are not trained on, and a real video's windows that hold one are where the
    real videos' confidence falls short of 1.

    **Negatives**, so that confidence means a moving sprite: ``still_share * n`` still windows (frame 0 of a
    training window repeated: speed "still", direction target uniform, shape and colour their own) and
    ``noise_share * n`` noise windows (:func:`_noise_videos`: uniform targets on every head).

    **Training**: Adam with a one-cycle schedule peaking at ``lr``, ``epochs`` passes at ``batch_size``, the sum of
    the heads' cross-entropies against those (soft) targets. The defaults take about a minute on one busy CPU core
    (rendering about 10 s of it) for held-out accuracies of about 0.94 (direction), 0.93 (speed), 1.0 (shape,
    colour).

    Returns the classifier (eval mode, on ``device``) and a report: held-out accuracy and confident share (max
    probability >= 0.9) per head on the held-out videos' first windows without a bounce (``heldout`` videos
    rendered), the share of still held-out windows recognised as "still", the confident share per head on fresh
    noise, chance per head, the sizes, epochs and wall time.
    """
    from tqdm.auto import tqdm

    from ..data.sprites import SPRITES_HELDOUT_SEED, sprite_heldout

    n = _check_count(n, "n (training windows)", 1)
    epochs = _check_count(epochs, "epochs", 1)
    heldout = _check_count(heldout, "heldout (held-out videos)", 1)
    batch_size = _check_count(batch_size, "batch_size", 1)
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0 or seed == SPRITES_HELDOUT_SEED:
        raise ValueError(f"seed must be an int >= 0 other than the held-out seed {SPRITES_HELDOUT_SEED}, got {seed!r}")
    for name, v in (("still_share", still_share), ("noise_share", noise_share)):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 <= v < 1:
            raise ValueError(f"{name} must be a number in [0, 1), got {v!r}")
    t0 = time.perf_counter()
    k = MOTION_WINDOW
    torch.manual_seed(seed)
    model = MotionClassifier(width, k)
    x_real, labels, rendered = _straight_windows(n, seed, k, model.prepare)
    gen = torch.Generator().manual_seed(seed)
    n_still, n_noise = int(round(still_share * n)), int(round(noise_share * n))
    still = x_real[:n_still].view(n_still, 3, k, *x_real.shape[2:])[:, :, :1].expand(-1, -1, k, -1, -1)
    parts = [x_real, still.flatten(1, 2)]
    for i in range(0, n_noise, 256):
        parts.append(model.prepare(_noise_videos(min(256, n_noise - i), k, gen)).half())
    x = torch.cat(parts)
    targets: dict[str, torch.Tensor] = {}
    for head, names in MOTION_HEADS.items():
        c = len(names)
        t = torch.full((len(x), c), 1.0 / c)  # uniform: the noise windows, and the still windows' direction
        t[:n] = F.one_hot(torch.from_numpy(labels[head]), c).float()
        if head == "speed":
            t[n:n + n_still] = F.one_hot(torch.zeros(n_still, dtype=torch.int64), c).float()
        elif head != "direction":
            t[n:n + n_still] = t[:n_still]
        targets[head] = t
    data_s = time.perf_counter() - t0

    model.to(device)
    opt = torch.optim.Adam(model.parameters(), lr)
    total = len(x)
    steps = epochs * math.ceil(total / batch_size)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, lr, total_steps=steps)
    model.train()
    bar = tqdm(total=steps, desc="motion classifier", unit="step", disable=not progress)
    for _ in range(epochs):
        perm = torch.randperm(total, generator=gen)
        for i in range(0, total, batch_size):
            idx = perm[i:i + batch_size]
            out = model.forward_prepared(x[idx].to(device).float())
            loss = sum(F.cross_entropy(out[h], targets[h][idx].to(device)) for h in MOTION_HEADS)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            bar.update(1)
            bar.set_postfix(loss=f"{float(loss.detach()):.3f}")
    bar.close()
    model.eval()
    train_s = time.perf_counter() - t0 - data_s

    hv, hl = sprite_heldout(heldout, frames=k, dtype=np.uint8)
    straight = hl["first_bounce"] >= k
    probs = classify_motion(model, hv[straight])
    truth = {"direction": direction_bucket(hl["direction"][straight]), "speed": speed_bucket(hl["speed"][straight]),
             "shape": hl["shape"][straight], "colour": hl["colour"][straight]}
    acc = {h: round(float((probs[h].argmax(1).numpy() == truth[h]).mean()), 4) for h in MOTION_HEADS}
    conf = {h: round(float((probs[h].max(1).values >= 0.9).double().mean()), 4) for h in MOTION_HEADS}
    still_p = classify_motion(model, np.repeat(hv[straight][:, :, :1], k, axis=2))["speed"]
    still_ok = float(((still_p.argmax(1) == 0) & (still_p.max(1).values >= 0.9)).double().mean())
    noise_p = classify_motion(model, _noise_videos(200, k, torch.Generator().manual_seed(seed + 1)))
    report = {"train_windows": n, "train_videos_rendered": rendered, "train_seed": int(seed), "window": k,
              "still_windows": n_still, "noise_windows": n_noise, "epochs": epochs, "width": width,
              "batch_size": batch_size, "lr": lr, "heldout_seed": SPRITES_HELDOUT_SEED, "heldout_videos": heldout,
              "heldout_windows": int(straight.sum()), "heldout_accuracy": acc, "heldout_confident_share": conf,
              "chance": {h: round(1.0 / (len(v) - len(NOT_MOTION.get(h, ()))), 4) for h, v in MOTION_HEADS.items()},
              "heldout_still_recognised": round(still_ok, 4),
              "noise_confident_share": {h: round(float((noise_p[h].max(1).values >= 0.9).double().mean()), 4)
                                        for h in MOTION_HEADS},
              "data_s": round(data_s, 1), "train_s": round(train_s, 1), "wall_s": round(time.perf_counter() - t0, 1),
              "device": str(device)}
    logger.info("motion classifier: held-out accuracy direction %.3f, speed %.3f, shape %.3f, colour %.3f (%d "
                "windows; %.0f s)", acc["direction"], acc["speed"], acc["shape"], acc["colour"],
                report["heldout_windows"], report["wall_s"])
    return model, report


@torch.no_grad()
def classify_motion(model: MotionClassifier, videos: Any, *, start: int = 0,
                    batch_size: int = 64) -> dict[str, torch.Tensor]:
    """Per head of :data:`MOTION_HEADS`, the class probabilities (B, K) (float32, CPU) of the window of
    ``model.window`` frames from frame ``start`` of each video. ``videos``: (B, 3, T, 64, 64), torch or numpy,
    float in [-1, 1] or uint8 0..255 (converted batch by batch: a uint8 batch of many videos stays small)."""
    if isinstance(videos, np.ndarray):
        videos = torch.from_numpy(videos)
    if not isinstance(videos, torch.Tensor) or videos.dim() != 5:
        got = tuple(videos.shape) if isinstance(videos, torch.Tensor) else type(videos).__name__
        raise ValueError(f"videos: expected (B, 3, T, {MOTION_SIZE}, {MOTION_SIZE}), got {got}")
    t_n, win = videos.shape[2], model.window
    if isinstance(start, bool) or not isinstance(start, int) or not 0 <= start <= t_n - win:
        raise ValueError(f"start must be an int in [0, {t_n - win}] (a window of {win} of {t_n} frames), got {start!r}")
    dev = next(model.parameters()).device
    out: dict[str, list[torch.Tensor]] = {h: [] for h in MOTION_HEADS}
    for i in range(0, len(videos), batch_size):
        x = videos[i:i + batch_size, :, start:start + win].to(dev)
        x = x.float().div_(127.5).sub_(1.0) if x.dtype == torch.uint8 else x.float()
        for h, logits in model(x).items():
            out[h].append(F.softmax(logits.float(), dim=1).cpu())
    return {h: torch.cat(v) if v else torch.zeros(0, len(MOTION_HEADS[h])) for h, v in out.items()}


def _head_scores(p: torch.Tensor, names: tuple[str, ...], confidence: float, min_share: float,
                 apart: tuple[str, ...]) -> dict[str, Any]:
    top, cls = p.max(dim=1)
    conf = top >= confidence
    counts = torch.bincount(cls[conf], minlength=len(names)).double()
    shares = counts / max(len(p), 1)
    keep = [i for i, name in enumerate(names) if name not in apart]
    kc = counts[keep]
    q = kc / kc.sum().clamp_min(1)
    entropy = max(0.0, float(-(q[q > 0] * q[q > 0].log()).sum() / math.log(len(keep)))) if len(keep) > 1 else 0.0
    res: dict[str, Any] = {"confident_share": float(kc.sum() / max(len(p), 1)),
                           "class_shares": {names[i]: round(float(shares[i]), 4) for i in keep},
                           "coverage": int((shares[keep] >= min_share).sum()), "num_classes": len(keep),
                           "entropy": round(entropy, 4)}
    for i, name in enumerate(names):
        if name in apart:
            res[f"{name}_share"] = float(shares[i])
    return res


def score_motion_samples(probs: dict[str, torch.Tensor], *, confidence: float = 0.9,
                         min_share: float = 0.01) -> dict[str, Any]:
    """What the motion classifier's probabilities (:func:`classify_motion`: head -> (B, K), B windows of real or
    generated videos) say. Per head of :data:`MOTION_HEADS`: ``confident_share`` (max probability >=
    ``confidence`` on a class that is a motion: for speed, not "still"), ``class_shares`` of the confident windows
    (share of all B), ``coverage`` (classes holding at least ``min_share`` of all B, out of ``num_classes``) and the
    normalised entropy of the confident class histogram (1 = uniform over the classes, 0 = a single one); for speed
    also ``still_share`` (confidently "still": frozen). Overall: ``motion_confident_share`` (direction and a moving
    speed both confident: a recognisable motion) and ``still_share``."""
    missing = [h for h in MOTION_HEADS if h not in probs]
    if missing:
        raise ValueError(f"probs: expected the heads {list(MOTION_HEADS)}, missing {missing}")
    b = len(probs["direction"])
    for h, names in MOTION_HEADS.items():
        p = probs[h]
        if not isinstance(p, torch.Tensor) or p.dim() != 2 or p.shape != (b, len(names)):
            got = tuple(p.shape) if isinstance(p, torch.Tensor) else type(p).__name__
            raise ValueError(f"probs[{h!r}]: expected ({b}, {len(names)}) probabilities, got {got}")
    heads = {h: _head_scores(probs[h].double(), names, confidence, min_share, NOT_MOTION.get(h, ()))
             for h, names in MOTION_HEADS.items()}
    d_top = probs["direction"].max(dim=1).values >= confidence
    s_top, s_cls = probs["speed"].max(dim=1)
    moving = (s_top >= confidence) & (s_cls != SPEED_NAMES.index("still"))
    return {"samples": b, "confidence": confidence, "min_share": min_share,
            "motion_confident_share": float((d_top & moving).double().mean()) if b else 0.0,
            "still_share": heads["speed"]["still_share"], "heads": heads}


class PolygonClassifier(nn.Module):
    """Factor classifier for :mod:`ganzoo.data.polygons`: (B, 3, 32, 32) in [-1, 1] -> dict of logits
    ``colour`` (B, 6), ``size`` (B, 3), ``sides`` (B, 4), ``pos`` (B, 9)."""

    def __init__(self, width: int = 32):
        super().__init__()
        from ..data.polygons import FACTORS, N_CLASSES

        w = width
        self.body = nn.Sequential(
            nn.Conv2d(3, w, 3, 1, 1), nn.ReLU(), nn.Conv2d(w, w, 3, 2, 1), nn.ReLU(),          # 16
            nn.Conv2d(w, 2 * w, 3, 1, 1), nn.ReLU(), nn.Conv2d(2 * w, 2 * w, 3, 2, 1), nn.ReLU(),  # 8
            nn.Flatten(), nn.Linear(2 * w * 64, 128), nn.ReLU())
        self.heads = nn.ModuleDict({f: nn.Linear(128, N_CLASSES[f]) for f in FACTORS})

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        h = self.body(x)
        return {f: head(h) for f, head in self.heads.items()}


def train_polygon_classifier(n: int = 8000, *, seed: int = CLASSIFIER_SEED, epochs: int = 3, batch_size: int = 64,
                             lr: float = 2e-3) -> PolygonClassifier:
    """Train :class:`PolygonClassifier` on ``n`` real polygon images of training seed ``seed`` (the held-out seed
    is refused by the data set). Returns the model in eval mode."""
    from ..data.polygons import polygon_dataset

    x, lab = polygon_dataset(n, seed=seed)
    x = torch.from_numpy(x)
    ys = {k: torch.from_numpy(lab[k]) for k in ("colour", "size", "sides", "pos")}
    torch.manual_seed(seed)
    model = PolygonClassifier()
    opt = torch.optim.Adam(model.parameters(), lr)
    for ep in range(epochs):
        perm = torch.randperm(n)
        for i in range(0, n, batch_size):
            idx = perm[i:i + batch_size]
            out = model(x[idx])
            loss = sum(F.cross_entropy(out[k], ys[k][idx]) for k in ys)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        logger.info("polygon classifier epoch %d loss %.4f", ep + 1, float(loss.detach()))
    return model.eval()


@torch.no_grad()
def polygon_accuracy(model: PolygonClassifier, x: torch.Tensor, labels: dict[str, Any]) -> dict[str, float]:
    """Per-factor accuracy in [0, 1] of ``model`` on images ``x`` (N, 3, 32, 32) in [-1, 1] with int labels."""
    out = model(x)
    return {k: float((out[k].argmax(1) == torch.as_tensor(labels[k])).float().mean()) for k in out}


#: the file name of a saved :class:`PolygonClassifier` (beside it: ``classifier.json``, how it was trained)
POLYGON_CLASSIFIER_FILE = "classifier.safetensors"
_CLASSIFIER_META = "ganzoo_classifier"


def _classifier_paths(path: Any) -> tuple[Any, Any]:
    from pathlib import Path

    p = Path(path).expanduser()
    if p.suffix == ".safetensors":
        return p, p.with_name("classifier.json")
    return p / POLYGON_CLASSIFIER_FILE, p / "classifier.json"


def save_polygon_classifier(model: PolygonClassifier, path: Any, *, info: dict[str, Any] | None = None,
                            half: bool = False) -> Any:
    """Write ``model`` to ``path`` (a folder gets ``classifier.safetensors`` + ``classifier.json``; a
    ``.safetensors`` path is the weights file, ``classifier.json`` beside it), both atomically; ``half`` stores
    float16 (it loads back as float32). ``info`` (JSON-serialisable) goes into the JSON with the weights' sha256.
    Returns the weights file."""
    import json

    from ..hub.io import save_safetensors
    from ..utils import atomic_write

    weights, doc_path = _classifier_paths(path)
    weights.parent.mkdir(parents=True, exist_ok=True)
    state = {k: (v.half() if half and v.is_floating_point() else v).contiguous() for k, v in model.state_dict().items()}
    sha = save_safetensors(state, weights, metadata={"format": "pt", _CLASSIFIER_META: "PolygonClassifier"})
    doc = {**(info or {}), "kind": "PolygonClassifier", "weights": weights.name, "sha256": sha}
    atomic_write(doc_path, (json.dumps(doc, indent=2) + "\n").encode())
    return weights


def load_polygon_classifier(path: Any) -> tuple[PolygonClassifier, dict[str, Any]]:
    """(classifier in eval mode, float32; its ``classifier.json`` or {}) from a folder or the ``.safetensors``
    file :func:`save_polygon_classifier` wrote. FileNotFoundError when absent; ValueError for a file that is not
    one; ganzoo.errors.IntegrityError when the weights differ from the sha256 its JSON records."""
    import json

    from safetensors import SafetensorError
    from safetensors.torch import load_file

    from ..errors import IntegrityError
    from ..hub.io import sha256_file

    weights, doc_path = _classifier_paths(path)
    if not weights.is_file():
        raise FileNotFoundError(f"no polygon classifier at {path}: expected {weights}")
    info = json.loads(doc_path.read_text()) if doc_path.is_file() else {}
    if info.get("sha256") and sha256_file(weights) != info["sha256"]:
        raise IntegrityError(f"{weights}: sha256 differs from the one {doc_path.name} records")
    try:
        state = load_file(str(weights))
    except (SafetensorError, OSError) as e:
        raise ValueError(f"{weights}: not a readable safetensors file ({e})") from None
    clf = PolygonClassifier()
    try:
        clf.load_state_dict({k: v.float() for k, v in state.items()})
    except RuntimeError as e:
        raise ValueError(f"{weights}: not a PolygonClassifier ({e})") from None
    return clf.eval(), info
