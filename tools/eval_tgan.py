"""Score a TGAN video generator on ganzoo's procedural moving sprites with a classifier of the known factors.

    python tools/eval_tgan.py --model runs/tgan-sprites --json tgan.json --markdown tgan.md

Rows, on the same classifier and the same measures:

- **held-out real videos** (:func:`ganzoo.data.sprites.sprite_heldout`: ``--samples`` videos of
  ``SPRITES_HELDOUT_SEED``, never trained on, one sprite, the model's frame count): the ceiling;
- **the model's samples**: z from the model's prior (``model.sample_inputs``: z0 ~ U(-1, 1), as
  :mod:`ganzoo.train.tgan` draws it), seeded with ``--seed``;
- **the same architecture untrained** (``ganzoo.create(model.model_name, **config)`` after
  ``torch.manual_seed(--seed)``, the same z): the floor.

Measures:

1. **Motion recognised.** A :class:`ganzoo.train.classifiers.MotionClassifier` is trained here on real sprite
   videos of its own seed (``CLASSIFIER_SEED``, not the GAN recipe's default data seed 0 nor the held-out seed):
   windows of 4 frames in which the sprite does not bounce, labelled with its direction (8 compass buckets), speed
   (slow / medium / fast thirds of ``SPEED_RANGE``; still and noise windows are trained as negatives), shape and
   colour; its held-out accuracies are reported. It classifies the windows at frames 0, 4, 8, 12 of every video;
   per head, the share recognised with confidence (max probability >= 0.9), and "motion" (direction and a moving
   speed both confident); ``still`` is the share confidently still (a frozen video); direction coverage (buckets
   holding >= 1% of the windows) and the normalised entropy of the recognised directions (1 = uniform over 8).
   A window holding a bounce has no single direction, even in a real video: the real row is the ceiling.
2. **Tracks** (:func:`ganzoo.data.sprites.track_centroids`, :func:`~ganzoo.data.sprites.motion_stats`): a video
   is trackable when every frame has a foreground centre and no frame's foreground (pixels far from the median
   colour) covers more than 25% of it (one sprite covers 3-15%; noise covers most of the frame); over the
   trackable videos, the mean speed (px / frame), straightness (|sum of steps| / path; bounces lower it) and
   coherence (mean cosine of consecutive steps).
3. **Frame-to-frame change** (:func:`~ganzoo.data.sprites.frame_coherence`): the mean absolute difference of
   consecutive frames (``mad``, [0, 1] units), its ratio to the real videos' (1: as much change as real; ~0:
   frozen; >> 1: flicker), and the near / far ratio (``mad_ratio``: < 1 for smooth motion, ~1 for flicker).

The model must make 3-channel videos of 64x64 frames and at least 4 frames (every TGAN does); a run folder
trained on more than one sprite per video (``--n-sprites``) is refused: the classifier and the tracks assume one.
The JSON report holds every number, the run's recipe, the machine, versions, date and wall times; the markdown
(also written to stdout) the tables.
"""
from __future__ import annotations

import argparse
import datetime
import json
import logging
import math
import sys
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

logger = logging.getLogger("eval_tgan")

#: a trackable video: no frame's foreground covers more than this share of it
MAX_FOREGROUND = 0.25
#: the foreground threshold (RGB distance from the background, 0..255 units), as track_centroids' default
FOREGROUND_THRESHOLD = 48.0
SIZE = 64  # the classifier's frame side (ganzoo.train.classifiers.MOTION_SIZE)


def check_tgan(model: Any) -> None:
    """ValueError unless ``model`` is a TGAN making RGB videos."""
    from ganzoo.models.tgan import TGAN

    if not isinstance(model, TGAN):
        name = getattr(model, "model_name", type(model).__name__)
        raise ValueError(f"--model: expected a TGAN (tgan, tgan.<tag> or a tgan run folder), got {name} "
                         f"({type(model).__name__})")
    if model.config.nc != 3:
        raise ValueError(f"--model: expected a TGAN making RGB videos (nc=3, as the sprites), got nc={model.config.nc}")


def _to_uint8(x: torch.Tensor) -> np.ndarray:
    """(B, C, T, H, W) float in [-1, 1] -> uint8 in the same layout (the rounding of ganzoo.pipelines.video)."""
    return torch.round((x.detach().float().clamp(-1, 1) + 1) * 127.5).to(torch.uint8).cpu().numpy()


def generate(model: Any, z: torch.Tensor, device: str = "cpu", batch_size: int = 32) -> np.ndarray:
    """The videos of ``model.generator`` for ``z`` as uint8 (B, 3, T, 64, 64); ValueError for any other output
    geometry (the classifier sees 4-frame windows of 64x64 RGB frames)."""
    from ganzoo.train.classifiers import MOTION_WINDOW

    out = []
    with torch.no_grad():
        for i in range(0, len(z), batch_size):
            v = model.generator(z[i:i + batch_size].to(device))
            if v.dim() != 5 or v.shape[1] != 3 or v.shape[2] < MOTION_WINDOW or tuple(v.shape[3:]) != (SIZE, SIZE):
                raise ValueError(f"the model makes videos of shape {tuple(v.shape[1:])}; the motion classifier needs "
                                 f"(3, T >= {MOTION_WINDOW}, {SIZE}, {SIZE}) (resizing would change the motion in "
                                 f"px / frame it measures)")
            out.append(_to_uint8(v))
    return np.concatenate(out)


def foreground_share(videos: np.ndarray, threshold: float = FOREGROUND_THRESHOLD) -> np.ndarray:
    """(B, T) share of each frame's pixels that are foreground as :func:`ganzoo.data.sprites.track_centroids`
    defines it (RGB distance > ``threshold`` from the video's per-channel median colour)."""
    from ganzoo.pipelines.video import video_to_uint8

    x = video_to_uint8(videos).astype(np.float32)  # (B, T, H, W, 3)
    bg = np.median(x.reshape(len(x), -1, 3), axis=1)
    dist = np.sqrt(((x - bg[:, None, None, None, :]) ** 2).sum(-1))
    return (dist > threshold).mean(axis=(2, 3))


def _num(v: Any, digits: int = 4) -> float | None:
    v = float(v)
    return round(v, digits) if math.isfinite(v) else None


def _nanmean(a: np.ndarray) -> float | None:
    a = np.asarray(a, dtype=np.float64)
    a = a[np.isfinite(a)]
    return _num(a.mean()) if len(a) else None


def score_videos(clf: Any, videos: np.ndarray, *, real_mad: float | None = None, chunk: int = 64) -> dict[str, Any]:
    """One row of the report for uint8 videos (B, 3, T, 64, 64): the classifier's scores over the windows at
    0, W, 2W, ... (W = ``clf.window``), the tracks and the frame-to-frame change (``frame_mad_vs_real``: the ratio
    to ``real_mad``; None without it)."""
    from ganzoo.data.sprites import frame_coherence, motion_stats, track_centroids
    from ganzoo.train.classifiers import MOTION_HEADS, classify_motion, score_motion_samples

    t0 = time.perf_counter()
    b, t_n, win = len(videos), videos.shape[2], clf.window
    starts = list(range(0, t_n - win + 1, win))
    per_window = [classify_motion(clf, videos, start=s) for s in starts]
    probs = {h: torch.cat([p[h] for p in per_window]) for h in MOTION_HEADS}
    scores = score_motion_samples(probs)
    by_window = {str(s): _num(score_motion_samples(p)["motion_confident_share"]) for s, p in zip(starts, per_window)}

    stats: dict[str, list[np.ndarray]] = {k: [] for k in ("visible", "speed", "straightness", "coherence", "fg",
                                                           "mad", "mad_ratio")}
    for i in range(0, b, chunk):
        v = videos[i:i + chunk]
        m = motion_stats(track_centroids(v, threshold=FOREGROUND_THRESHOLD))
        for k in ("visible", "speed", "straightness", "coherence"):
            stats[k].append(m[k])
        stats["fg"].append(foreground_share(v))
        fc = frame_coherence(v)
        stats["mad"].append(fc["mad"])
        stats["mad_ratio"].append(fc["mad_ratio"])
    s = {k: np.concatenate(v) for k, v in stats.items()}
    trackable = (s["visible"] == 1.0) & (s["fg"].max(axis=1) <= MAX_FOREGROUND)
    mad = float(s["mad"].mean())
    heads = scores["heads"]
    return {"videos": b, "windows": starts, "window_frames": win,
            "motion_recognised": _num(scores["motion_confident_share"]), "motion_recognised_by_window": by_window,
            "still_share": _num(scores["still_share"]),
            "recognised": {h: _num(heads[h]["confident_share"]) for h in MOTION_HEADS},
            "direction_coverage": heads["direction"]["coverage"], "direction_entropy": heads["direction"]["entropy"],
            "heads": heads,
            "trackable_share": _num(trackable.mean()), "foreground_share": _num(s["fg"].mean()),
            "track_speed": _nanmean(s["speed"][trackable]),
            "track_straightness": _nanmean(s["straightness"][trackable]),
            "track_coherence": _nanmean(s["coherence"][trackable]),
            "frame_mad": _num(mad, 6), "frame_mad_vs_real": None if not real_mad else _num(mad / real_mad),
            "frame_mad_ratio": _nanmean(s["mad_ratio"]), "wall_s": round(time.perf_counter() - t0, 1)}


def evaluate(model: Any, *, samples: int = 500, seed: int = 0, classifier_videos: int = 8000,
             classifier_epochs: int = 6, classifier_width: int = 32, device: str = "cpu",
             run: dict[str, Any] | None = None, command: str = "", progress: bool = True) -> dict[str, Any]:
    """The report of the module docstring, as a JSON-serialisable dict. ``model``: a TGAN (put in eval mode on
    ``device``); ``run``: what the run folder's recipe says (recorded as is)."""
    from ganzoo import create
    from ganzoo.bench.report import machine_info, versions
    from ganzoo.data.sprites import SPRITES_HELDOUT_SEED, sprite_heldout
    from ganzoo.train.classifiers import CLASSIFIER_SEED, train_motion_classifier

    check_tgan(model)
    for name, v in (("samples", samples), ("classifier_videos", classifier_videos),
                    ("classifier_epochs", classifier_epochs)):
        if isinstance(v, bool) or not isinstance(v, int) or v < 1:
            raise ValueError(f"{name}: expected an int >= 1, got {v!r}")
    t_start = time.perf_counter()
    model = model.eval().to(device)
    z = model.sample_inputs(samples, generator=torch.Generator().manual_seed(seed))[0]
    probe = generate(model, z[:2], device)  # refuses a geometry the classifier cannot see before anything is trained
    t_n = probe.shape[2]

    clf, clf_report = train_motion_classifier(classifier_videos, seed=CLASSIFIER_SEED, epochs=classifier_epochs,
                                              width=classifier_width, device=device, progress=progress)
    t0 = time.perf_counter()
    real, _ = sprite_heldout(samples, frames=t_n, dtype=np.uint8)
    render_s = time.perf_counter() - t0
    rows: dict[str, dict[str, Any]] = {}
    real_row = score_videos(clf, real)
    real_mad = real_row["frame_mad"]
    real_row["frame_mad_vs_real"] = 1.0
    rows["held-out real videos (ceiling)"] = real_row
    del real

    torch.manual_seed(seed)
    untrained = create(model.model_name, **model.config.to_dict()).eval().to(device)
    gen_s = {}
    for name, src in (("model", model), ("untrained (random init, floor)", untrained)):
        t0 = time.perf_counter()
        videos = generate(src, z, device)
        gen_s[name] = round(time.perf_counter() - t0, 1)
        rows[name] = score_videos(clf, videos, real_mad=real_mad)
    for name, r in rows.items():
        logger.info("%s: motion recognised %.3f (direction %.3f, %d/8 buckets), trackable %.3f, frame MAD %.4f "
                    "(%.2f x real)", name, r["motion_recognised"], r["recognised"]["direction"],
                    r["direction_coverage"], r["trackable_share"], r["frame_mad"], r["frame_mad_vs_real"] or 0.0)
    return {"command": command,
            "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "model": getattr(model.pretrained_cfg, "name", None) or model.model_name,
            "architecture": model.model_name,
            "config": {k: (list(v) if isinstance(v, tuple) else v) for k, v in model.config.to_dict().items()},
            "run": run, "samples": samples, "seed": seed, "frames": int(t_n), "size": SIZE,
            "heldout": {"seed": SPRITES_HELDOUT_SEED, "videos": samples, "n_sprites": 1},
            "classifier": clf_report, "rows": rows,
            "timing": {"classifier_s": clf_report["wall_s"], "render_heldout_s": round(render_s, 1),
                       "generate_s": gen_s, "total_s": round(time.perf_counter() - t_start, 1)},
            "machine": {**machine_info(device), "device": device}, "versions": versions()}


def _fmt(v: Any, spec: str = ".3f") -> str:
    return "-" if v is None else format(v, spec)


def _plural(n: Any, word: str) -> str:
    return f"{n} {word}" + ("" if n == 1 else "s")


def markdown(report: dict[str, Any]) -> str:
    c, h = report["classifier"], report["heldout"]
    acc, chance = c["heldout_accuracy"], c["chance"]
    run = report.get("run") or {}
    run_s = ""
    if run:
        run_s = (f" (run: {run.get('steps', '?')} steps on sprite videos of data seed {run.get('data_seed', '?')})")
    first = next(iter(report["rows"].values()))
    wins = ", ".join(str(s) for s in first["windows"])
    lines = [f"TGAN `{report['model']}`{run_s}: {report['samples']} samples (z from the model's prior, seed "
             f"{report['seed']}), {report['frames']} frames of {report['size']}x{report['size']}, against "
             f"{h['videos']} held-out real videos (seed {h['seed']}, never trained on) and the same architecture "
             f"untrained.", "",
             f"Motion classifier: {c['train_windows']} windows of {c['window']} frames from real sprite videos of "
             f"seed {c['train_seed']} ({_plural(c['epochs'], 'epoch')}), held-out accuracy on {c['heldout_windows']} "
             f"bounce-free first windows: direction {acc['direction']:.3f} (chance {chance['direction']:.3f}), "
             f"speed {acc['speed']:.3f} ({chance['speed']:.3f}), shape {acc['shape']:.3f} ({chance['shape']:.3f}), "
             f"colour {acc['colour']:.3f} ({chance['colour']:.3f}).", "",
             f"Windows of {c['window']} frames from frames {wins} of every video, recognised with p >= 0.9 (a window "
             f"holding a bounce has no single direction, so the real videos are the ceiling):", "",
             "| source | motion (direction + speed) | direction | direction coverage | direction entropy | speed "
             "| still | shape | colour |", "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for name, r in report["rows"].items():
        rec = r["recognised"]
        lines.append(f"| {name} | {_fmt(r['motion_recognised'])} | {_fmt(rec['direction'])} | "
                     f"{r['direction_coverage']}/8 | {_fmt(r['direction_entropy'])} | {_fmt(rec['speed'])} | "
                     f"{_fmt(r['still_share'])} | {_fmt(rec['shape'])} | {_fmt(rec['colour'])} |")
    lines += ["", f"Tracks (foreground centroid per frame; trackable: a centre in every frame and at most "
                  f"{MAX_FOREGROUND:.0%} of it foreground; means over the trackable videos) and frame-to-frame change "
                  f"(mean absolute difference of consecutive frames, [0, 1] units; near/far: that over the "
                  f"difference of frames {report['frames'] // 2} apart, < 1 for smooth motion, ~1 for flicker or "
                  f"noise):", "",
              "| source | trackable | speed (px/frame) | straightness | coherence | frame MAD | MAD / real | "
              "near/far MAD |", "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for name, r in report["rows"].items():
        lines.append(f"| {name} | {_fmt(r['trackable_share'])} | {_fmt(r['track_speed'], '.2f')} | "
                     f"{_fmt(r['track_straightness'])} | {_fmt(r['track_coherence'])} | {_fmt(r['frame_mad'], '.4f')} "
                     f"| {_fmt(r['frame_mad_vs_real'], '.2f')} | {_fmt(r['frame_mad_ratio'])} |")
    shares = report["rows"]["model"]["heads"]["direction"]["class_shares"]
    m = report["machine"]
    lines += ["", "Model windows recognised per direction (share of all windows): "
              + ", ".join(f"{k} {v:.3f}" for k, v in shares.items()), "",
              f"{report['timing']['total_s']:.0f} s on {m.get('cpu', '?')} ({m['device']}, "
              f"{_plural(m.get('torch_threads', '?'), 'thread')}), ganzoo {report['versions']['ganzoo']}, torch "
              f"{report['versions']['torch']}, {report['date']}."]
    return "\n".join(lines) + "\n"


def _int_at_least(lo: int) -> Callable[[str], int]:
    def parse(text: str) -> int:
        try:
            v = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an int >= {lo}, got {text!r}") from None
        if v < lo:
            raise argparse.ArgumentTypeError(f"expected an int >= {lo}, got {v}")
        return v

    return parse


def read_run(model_arg: str) -> dict[str, Any] | None:
    """A run folder's train/recipe.json (None for a name or a folder without one)."""
    recipe = Path(model_arg) / "train" / "recipe.json"
    if not recipe.is_file():
        return None
    return json.loads(recipe.read_text())


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", required=True, help="a TGAN: name, name.tag or run folder ganzoo.load accepts")
    ap.add_argument("--samples", type=_int_at_least(1), default=500,
                    help="generated videos per model, and held-out real videos (default 500)")
    ap.add_argument("--seed", type=_int_at_least(0), default=0, help="z of the samples and the untrained model's init")
    ap.add_argument("--classifier-videos", type=_int_at_least(1), default=8000,
                    help="bounce-free training windows of the motion classifier (default 8000)")
    ap.add_argument("--classifier-epochs", type=_int_at_least(1), default=6)
    ap.add_argument("--threads", type=_int_at_least(0), default=0, help="torch threads (0: torch's default)")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--json", default="eval_tgan.json")
    ap.add_argument("--markdown", default=None)
    a = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    try:
        dev = torch.device(a.device)
    except RuntimeError as e:
        ap.error(f"--device: {e}")
    if dev.type == "cuda" and not torch.cuda.is_available():
        ap.error(f"--device {a.device}: CUDA is not available here")
    if a.threads:
        torch.set_num_threads(a.threads)
    import ganzoo
    from ganzoo.errors import GanzooError
    from ganzoo.utils import atomic_write

    try:
        run = read_run(a.model)
    except (OSError, ValueError) as e:
        ap.error(f"--model {a.model}: unreadable train/recipe.json: {e}")
    if run is not None and int(run.get("n_sprites", 1)) != 1:
        ap.error(f"--model {a.model}: trained on {run['n_sprites']} sprites per video; the motion classifier and the "
                 f"tracks assume one sprite per video (n_sprites=1)")
    try:
        model = ganzoo.load(a.model).eval()
    except (GanzooError, OSError, ValueError) as e:
        ap.error(f"--model {a.model}: {e}")
    try:
        check_tgan(model)
    except ValueError as e:
        ap.error(str(e))
    report = evaluate(model, samples=a.samples, seed=a.seed, classifier_videos=a.classifier_videos,
                      classifier_epochs=a.classifier_epochs, device=a.device, run=run,
                      command=" ".join(["python", "tools/eval_tgan.py", *(sys.argv[1:] if argv is None else argv)]))
    atomic_write(Path(a.json), json.dumps(report, indent=2).encode())
    md = markdown(report)
    if a.markdown:
        atomic_write(Path(a.markdown), md.encode())
    sys.stdout.write(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
