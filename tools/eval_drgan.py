"""Held-out metrics of a DR-GAN trained on ganzoo's procedural heads (:mod:`ganzoo.data.heads`).

    python tools/eval_drgan.py --model runs/drgan-heads --json drgan.json --markdown drgan.md

Everything is measured on the held-out identities (``HeadDataset.heldout(--identities)``, seed
``HEADS_HELDOUT_SEED``, never trained on), at the 9 yaws of ``YAWS`` and the model's 96 px input. Each table has a
ceiling or a baseline and a floor: the same architecture and config, untrained (random initialisation, seeded with
``--seed``).

1. **Identity rank-1 by probe yaw** (:func:`ganzoo.data.heads.rank1_by_pose`: gallery = the frontal images,
   probes = the images at each of the 8 other yaws, nearest by cosine similarity; chance = 1 / identities) for the
   model's identity feature f(x) (``model.encode``), the raw pixels (:func:`~ganzoo.data.heads.pixel_features`,
   the baseline a useful feature beats at large yaws) and the untrained encoder (the floor).
2. **Rotated outputs**: each held-out frontal image is rendered by the generator at each of the 9 target poses,
   one fixed z ~ U(-1, 1) per identity (``--seed``), the same for every pose and model.

   - *Pose accuracy*: a small pose classifier (:class:`PoseClassifier`: 3 conv layers + a linear layer at
     ``classifier_size`` = 48 px, the images area-downsampled from 96) is trained here, seeded, on real renders of
     ``--classifier-identities`` (300) identities x 9 yaws of a training seed (``CLASSIFIER_SEED`` = 1, not the
     held-out seed; rendered at 48 px with the training recipe's jitter: yaw +-3 degrees, light 0.3 rad,
     background 0.1) for ``--classifier-epochs`` (3) epochs at batch 32 (Adam 2e-3, one-cycle). Its accuracy on the held-out real images (downsampled from 96 px, as the
     outputs are) is the ceiling; its accuracy on the model's outputs (the share classified as the target pose)
     is the model's row; on the untrained model's outputs, the floor. Chance is 1/9; a generator that ignores the
     pose code and copies its frontal input scores about 1/9 too (only the frontal target is right): the row
     "input copied" shows it.
   - *Identity preservation*: for target yaw p, the rank-1 of the raw-pixel features of the outputs at p against
     the real held-out images at p of all identities (is the nearest real picture at that pose the right person?).
     "input copied" (the frontal input itself as the output) is the no-rotation baseline; at p = 0 it is exactly
     1. The mean is over the 8 non-frontal yaws.
   - *PSNR to the truth*: the procedural heads render every identity at every yaw, so each output at target yaw p
     is also compared with the real held-out render of the same identity at p (PSNR on [0, 1], mean over the
     identities; the renders have their own light and background jitter, so even a perfect rotation is not
     infinite). "input copied" is the no-rotation baseline; mean over the 8 non-frontal yaws.
3. **Multi-image** (``drgan_multi`` only; the table is absent for the single-image model): rank-1 against the
   frontal gallery (single-image features) of the fused feature ``model.fuse`` of the 3 images at ``MULTI_YAWS``
   (-60, -45, -30 degrees: the hardest side under the default light) of each identity, against the mean of the
   three single-image rank-1s at those yaws; also the plain mean of the 3 features (no learned confidences), and
   the untrained model's fused rank-1 (the floor).

Options: ``--model`` (a name, name.tag or run folder :func:`ganzoo.load` accepts), ``--identities`` (1..100),
``--seed`` (z and the untrained model), ``--classifier-identities``, ``--classifier-epochs``, ``--threads``,
``--device``, ``--json`` (the full report, with per-yaw numbers, the machine, versions, date and wall times),
``--markdown`` (the tables, for a model card; also written to stdout), ``--sweep PATH`` (a PNG: for the first
``--sweep-identities`` held-out identities, a row of the model's outputs at the 9 yaws from the frontal render,
then a row of the true renders; the frontal input is the truth row's middle tile).
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
import torch.nn.functional as F
from torch import nn

logger = logging.getLogger("eval_drgan")

#: Seed of the pose classifier's training identities (a training seed; the held-out seed is refused by HeadDataset).
CLASSIFIER_SEED = 1
#: The pose classifier's input side: renders at this size for training, area-downsampled 96 px images to classify.
CLASSIFIER_SIZE = 48
#: Yaws of the 3 images fused per identity for the multi-image table.
MULTI_YAWS = (-60, -45, -30)
#: Jitter of the classifier's training renders (the ganzoo.train.drgan heads run's).
CLASSIFIER_JITTER = {"yaw_jitter": 3.0, "light_jitter": 0.3, "background_jitter": 0.1}
DRGAN_NAMES = ("drgan", "drgan_multi")


class PoseClassifier(nn.Module):
    """images (B, 3, S, S) in [-1, 1], S = ``size`` (divisible by 8) -> pose logits (B, P): three stride-2 3x3
    convs (16, 32, 64 channels, BN + ReLU), flattened (position matters for pose), one linear layer."""

    def __init__(self, num_poses: int, size: int = CLASSIFIER_SIZE, width: int = 16):
        super().__init__()
        if size % 8:
            raise ValueError(f"size: expected a multiple of 8, got {size}")
        self.size = size
        layers: list[nn.Module] = []
        cin = 3
        for cout in (width, 2 * width, 4 * width):
            layers += [nn.Conv2d(cin, cout, 3, 2, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)]
            cin = cout
        self.features = nn.Sequential(*layers)
        self.head = nn.Linear(cin * (size // 8) ** 2, num_poses)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() != 4 or tuple(x.shape[1:]) != (3, self.size, self.size):
            raise ValueError(f"expected images of shape (B, 3, {self.size}, {self.size}), got {tuple(x.shape)}")
        return self.head(self.features(x).flatten(1))


def _resize(x: torch.Tensor, size: int) -> torch.Tensor:
    return x if x.shape[-1] == size else F.interpolate(x, size=(size, size), mode="area")


@torch.no_grad()
def classify_poses(clf: PoseClassifier, images: torch.Tensor, batch_size: int = 256) -> np.ndarray:
    """Predicted pose classes (B,) of images (B, 3, S, S) in [-1, 1] of any size (area-resized to the classifier's)."""
    dev = next(clf.parameters()).device
    out = [clf(_resize(images[i:i + batch_size].to(dev, torch.float32), clf.size)).argmax(1).cpu()
           for i in range(0, len(images), batch_size)]
    return torch.cat(out).numpy() if out else np.zeros(0, np.int64)


def train_pose_classifier(n_identities: int, *, epochs: int = 3, seed: int = CLASSIFIER_SEED,
                          size: int = CLASSIFIER_SIZE, batch_size: int = 32, lr: float = 2e-3,
                          device: str = "cpu") -> tuple[PoseClassifier, dict[str, Any]]:
    """Train a :class:`PoseClassifier` on every pose of ``n_identities`` identities of ``seed`` rendered at ``size``
    px (with :data:`CLASSIFIER_JITTER`). Deterministic for a seed (on one machine and thread count). Returns the
    classifier (eval mode) and a report (its held-out accuracy is filled in by :func:`evaluate`)."""
    from ganzoo.data.heads import YAWS, HeadDataset

    t0 = time.perf_counter()
    ds = HeadDataset(n_identities, size, seed, **CLASSIFIER_JITTER)
    a = ds.arrays()
    x, y = torch.from_numpy(a.image), torch.from_numpy(a.pose)
    render_s = time.perf_counter() - t0
    torch.manual_seed(seed)
    clf = PoseClassifier(len(YAWS), size).to(device)
    n = len(x)
    steps = max(1, epochs * math.ceil(n / batch_size))
    opt = torch.optim.Adam(clf.parameters(), lr)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, lr, total_steps=steps)
    gen = torch.Generator().manual_seed(seed)
    clf.train()
    loss = torch.zeros(())
    for _ in range(epochs):
        perm = torch.randperm(n, generator=gen)
        for i in range(0, n, batch_size):
            idx = perm[i:i + batch_size]
            if len(idx) < 2:  # BatchNorm needs 2 samples
                continue
            loss = F.cross_entropy(clf(x[idx].to(device)), y[idx].to(device))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
    clf.eval()
    train_acc = float((classify_poses(clf, x) == a.pose).mean())
    report = {"train_identities": n_identities, "train_seed": seed, "train_images": n, "size": size,
              "jitter": dict(CLASSIFIER_JITTER), "epochs": epochs, "batch_size": batch_size, "lr": lr,
              "final_loss": round(float(loss.detach()), 4), "train_accuracy": round(train_acc, 4),
              "render_s": round(render_s, 1), "wall_s": round(time.perf_counter() - t0, 1)}
    logger.info("pose classifier: %d images, train accuracy %.3f (%.1f s)", n, train_acc, report["wall_s"])
    return clf, report


def check_drgan(model: Any) -> None:
    """ValueError unless ``model`` is a DR-GAN for the heads: 3 channels, one pose class per yaw of ``YAWS``."""
    from ganzoo.data.heads import YAWS
    from ganzoo.models.drgan import DRGAN

    name = getattr(model, "model_name", type(model).__name__)
    if not isinstance(model, DRGAN):
        raise ValueError(f"--model: expected a DR-GAN ({' or '.join(DRGAN_NAMES)}), got {name} "
                         f"({type(model).__name__})")
    cfg = model.config
    if cfg.num_poses != len(YAWS) or cfg.nc != 3:
        raise ValueError(f"--model: expected a DR-GAN for the procedural heads (num_poses={len(YAWS)}, one per yaw "
                         f"of {YAWS}, and nc=3, e.g. the .heads tags), got num_poses={cfg.num_poses}, nc={cfg.nc}")


def _rank1(probe: np.ndarray, gallery: np.ndarray) -> float:
    """Share of rows i whose nearest gallery row (cosine) is row i (row i = identity i in both)."""
    def unit(f: np.ndarray) -> np.ndarray:
        f = f.reshape(len(f), -1).astype(np.float64)
        n = np.linalg.norm(f, axis=1, keepdims=True)
        return f / np.where(n > 0, n, 1.0)

    best = np.argmax(unit(probe) @ unit(gallery).T, axis=1)
    return float(np.mean(best == np.arange(len(probe))))


def _by_yaw(d: dict[Any, float]) -> dict[str, float]:
    return {str(k): round(float(v), 4) for k, v in d.items()}


def _mean(vals: Any) -> float:
    vals = list(vals)
    return round(float(np.mean(vals)), 4) if vals else float("nan")


def _batched(fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, device: str,
             batch_size: int = 64) -> torch.Tensor:
    with torch.no_grad():
        return torch.cat([fn(x[i:i + batch_size].to(device)).float().cpu() for i in range(0, len(x), batch_size)])


def evaluate(model: Any, *, identities: int = 100, seed: int = 0, classifier_identities: int = 300,
             classifier_epochs: int = 3, classifier_size: int = CLASSIFIER_SIZE, classifier_batch_size: int = 32,
             device: str = "cpu", command: str = "") -> dict[str, Any]:
    """The report of the module docstring, as a JSON-serialisable dict. ``model``: a DR-GAN (``drgan`` or
    ``drgan_multi``) with 9 pose classes; it is put in eval mode on ``device``."""
    from ganzoo import create
    from ganzoo.data.heads import FRONTAL_POSE, HEADS_HELDOUT_SIZE, YAWS, HeadDataset, pixel_features, rank1_by_pose

    check_drgan(model)
    for name, v, lo, hi in (("identities", identities, 2, HEADS_HELDOUT_SIZE),
                            ("classifier_identities", classifier_identities, 1, None),
                            ("classifier_epochs", classifier_epochs, 1, None)):
        if isinstance(v, bool) or not isinstance(v, int) or v < lo or (hi is not None and v > hi):
            rng = f"in [{lo}, {hi}]" if hi is not None else f">= {lo}"
            raise ValueError(f"{name}: expected an int {rng}, got {v!r}")
    t_start = time.perf_counter()
    model = model.eval().to(device)
    multi = bool(model.config.multi_image)
    torch.manual_seed(seed)
    untrained = create(model.model_name, **model.config.to_dict()).eval().to(device)

    t0 = time.perf_counter()
    data = HeadDataset.heldout(identities)
    held = data.arrays()
    images = torch.from_numpy(held.image)
    n, npose = identities, len(YAWS)
    # sample k = identity k // 9, pose k % 9 (HeadDataset's order)
    by_pose = images.view(n, npose, *images.shape[1:])
    render_s = time.perf_counter() - t0

    # 1. identity rank-1 by probe yaw
    t0 = time.perf_counter()
    feats = {"model f(x)": _batched(model.encode, images, device).numpy(),
             "raw pixels": pixel_features(held.image),
             "untrained f(x) (random init)": _batched(untrained.encode, images, device).numpy()}
    identity_rows: dict[str, dict[str, Any]] = {}
    for name, f in feats.items():
        r = rank1_by_pose(f, held)
        identity_rows[name] = {"by_yaw": _by_yaw(r), "mean": _mean(r.values()), "feature_dim": int(f.shape[1])}
        logger.info("rank-1 %s: mean %.3f", name, identity_rows[name]["mean"])
    identity_s = time.perf_counter() - t0

    # 2. rotated outputs
    clf, clf_report = train_pose_classifier(classifier_identities, epochs=classifier_epochs, size=classifier_size,
                                            batch_size=classifier_batch_size, device=device)
    real_pred = classify_poses(clf, images)
    clf_report["heldout_accuracy"] = round(float((real_pred == held.pose).mean()), 4)
    clf_report["heldout_by_yaw"] = {str(y): round(float((real_pred[held.pose == p] == p).mean()), 4)
                                    for p, y in enumerate(YAWS)}
    clf_report["heldout_images"] = int(len(real_pred))
    logger.info("pose classifier: held-out accuracy %.3f", clf_report["heldout_accuracy"])

    frontal = by_pose[:, FRONTAL_POSE]
    z = torch.rand(n, model.config.nz, generator=torch.Generator().manual_seed(seed)) * 2 - 1
    real_pix = [pixel_features(by_pose[:, p]) for p in range(npose)]
    output_rows: dict[str, dict[str, Any]] = {
        "held-out real images (ceiling)": {"pose_by_yaw": clf_report["heldout_by_yaw"],
                                           "pose_accuracy": clf_report["heldout_accuracy"],
                                           "identity_by_yaw": None, "identity_mean": None,
                                           "psnr_by_yaw": None, "psnr_mean": None}}
    sources: list[tuple[str, Any]] = [("model", model), ("untrained (random init, floor)", untrained),
                                      ("input copied (no rotation)", None)]
    for name, src in sources:
        t0 = time.perf_counter()
        pose_acc, ident, psnr = {}, {}, {}
        f = None if src is None else _batched(src.encode, frontal, device)
        for p, y in enumerate(YAWS):
            if src is None:
                out = frontal
            else:
                pose = torch.full((n,), p, dtype=torch.int64)
                with torch.no_grad():
                    out = torch.cat([src.generate(f[i:i + 64].to(device), pose[i:i + 64].to(device),
                                                  z[i:i + 64].to(device)).float().cpu() for i in range(0, n, 64)])
            pose_acc[y] = float((classify_poses(clf, out) == p).mean())
            ident[y] = _rank1(pixel_features(out), real_pix[p])
            mse = ((out.float() - by_pose[:, p].float()) / 2).square().flatten(1).mean(1).clamp_min(1e-10)
            psnr[y] = float((-10 * torch.log10(mse)).mean())
        output_rows[name] = {"pose_by_yaw": _by_yaw(pose_acc), "pose_accuracy": _mean(pose_acc.values()),
                             "identity_by_yaw": _by_yaw(ident),
                             "identity_mean": _mean(v for y, v in ident.items() if y != 0),
                             "psnr_by_yaw": _by_yaw(psnr), "psnr_mean": _mean(v for y, v in psnr.items() if y != 0),
                             "wall_s": round(time.perf_counter() - t0, 1)}
        logger.info("outputs %s: pose accuracy %.3f, identity rank-1 %.3f", name,
                    output_rows[name]["pose_accuracy"], output_rows[name]["identity_mean"])

    # 3. multi-image fusion
    multi_report = None
    if multi:
        idx = [YAWS.index(y) for y in MULTI_YAWS]
        sets = by_pose[:, idx]  # (n, 3, C, 96, 96)
        single = feats["model f(x)"].reshape(n, npose, -1)
        gallery = single[:, FRONTAL_POSE]
        singles = {str(y): identity_rows["model f(x)"]["by_yaw"][str(y)] for y in MULTI_YAWS}
        multi_report = {
            "yaws": list(MULTI_YAWS), "images_per_identity": len(MULTI_YAWS),
            "fused (learned confidences)": round(_rank1(_batched(model.fuse, sets, device, 32).numpy(), gallery), 4),
            "mean of the 3 features": round(_rank1(single[:, idx].mean(1), gallery), 4),
            "single images (mean of the 3 rank-1s)": _mean(singles.values()), "single_by_yaw": singles,
            "untrained fused (floor)": round(_rank1(
                _batched(untrained.fuse, sets, device, 32).numpy(),
                feats["untrained f(x) (random init)"].reshape(n, npose, -1)[:, FRONTAL_POSE]), 4)}
        logger.info("multi-image: fused %.3f vs single %.3f", multi_report["fused (learned confidences)"],
                    multi_report["single images (mean of the 3 rank-1s)"])

    from ganzoo.bench.report import machine_info, versions

    return {"command": command,
            "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "model": getattr(model.pretrained_cfg, "name", None) or model.model_name,
            "architecture": model.model_name, "multi_image": multi,
            "config": {k: (list(v) if isinstance(v, tuple) else v) for k, v in model.config.to_dict().items()},
            "heldout": {"identities": n, "size": data.size, "seed": data.seed, "yaws": list(YAWS),
                        "chance_rank1": round(1.0 / n, 4), "chance_pose": round(1.0 / npose, 4)},
            "seed": seed, "identity_rank1": identity_rows, "classifier": clf_report, "outputs": output_rows,
            "multi_image_rank1": multi_report,
            "timing": {"render_heldout_s": round(render_s, 1), "identity_s": round(identity_s, 1),
                       "total_s": round(time.perf_counter() - t_start, 1)},
            "machine": {**machine_info(device), "device": device}, "versions": versions()}


def sweep_picture(model: Any, identities: int = 4, seed: int = 0, device: str = "cpu") -> np.ndarray:
    """uint8 (2 * identities rows of 96 px, 9 columns, 2 px white gaps, RGB): per held-out identity, the model's
    outputs at the 9 yaws from its frontal render (z from ``seed``), then the true renders at those yaws."""
    from ganzoo.data.heads import FRONTAL_POSE, YAWS, HeadDataset
    from ganzoo.pipelines.rotation import tile_poses

    held = HeadDataset.heldout(identities).arrays()
    imgs = torch.from_numpy(held.image).view(identities, len(YAWS), *held.image.shape[1:])
    z = torch.rand(identities, model.config.nz, generator=torch.Generator().manual_seed(seed)) * 2 - 1
    model = model.eval().to(device)
    with torch.no_grad():
        f = model.encode(imgs[:, FRONTAL_POSE].to(device))
        out = torch.stack([model.generate(f, torch.full((identities,), p, dtype=torch.int64, device=device),
                                          z.to(device)).float().cpu() for p in range(len(YAWS))], 1)
    rows = torch.stack([out, imgs.float()], 1).flatten(0, 1)  # (2 * identities, 9, C, H, W)
    u8 = ((rows.clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8).permute(0, 1, 3, 4, 2).numpy()
    return tile_poses(np.ascontiguousarray(u8))


def _fmt(v: Any) -> str:
    return "-" if v is None else f"{v:.3f}"


def markdown(report: dict[str, Any]) -> str:
    h, c = report["heldout"], report["classifier"]
    yaws = [str(y) for y in h["yaws"]]
    probe = [y for y in yaws if y != "0"]
    lines = [f"DR-GAN `{report['model']}` on {h['identities']} held-out procedural heads ({h['size']} px, seed "
             f"{h['seed']}, never trained on); chance rank-1 {h['chance_rank1']:.3f}.", "",
             "Identity rank-1 by probe yaw (gallery: the frontal images, cosine similarity):", "",
             "| feature | " + " | ".join(probe) + " | mean |", "|---|" + "---:|" * (len(probe) + 1)]
    for name, r in report["identity_rank1"].items():
        lines.append(f"| {name} | " + " | ".join(_fmt(r["by_yaw"][y]) for y in probe) + f" | {_fmt(r['mean'])} |")
    lines += ["", f"Outputs rotated from each frontal image to every target yaw (one fixed z per identity, seed "
                  f"{report['seed']}). Pose accuracy: a pose classifier trained on {c['train_images']} real renders "
                  f"({c['train_identities']} identities of seed {c['train_seed']}, {c['size']} px, "
                  f"{c['epochs']} epochs), held-out accuracy {c['heldout_accuracy']:.3f}; chance "
                  f"{h['chance_pose']:.3f}.", "",
              "| source | " + " | ".join(yaws) + " | mean |", "|---|" + "---:|" * (len(yaws) + 1)]
    for name, r in report["outputs"].items():
        lines.append(f"| {name} | " + " | ".join(_fmt(r["pose_by_yaw"][y]) for y in yaws)
                     + f" | {_fmt(r['pose_accuracy'])} |")
    lines += ["", "Identity preservation of the outputs: rank-1 of their raw pixels among the real held-out images "
                  "at the target yaw (mean over the non-frontal yaws):", "",
              "| source | " + " | ".join(yaws) + " | mean |", "|---|" + "---:|" * (len(yaws) + 1)]
    for name, r in report["outputs"].items():
        if r["identity_by_yaw"] is None:
            continue
        lines.append(f"| {name} | " + " | ".join(_fmt(r["identity_by_yaw"][y]) for y in yaws)
                     + f" | {_fmt(r['identity_mean'])} |")
    lines += ["", "PSNR (dB) of the outputs to the real render of the same identity at the target yaw (mean over the "
                  "non-frontal yaws):", "",
              "| source | " + " | ".join(yaws) + " | mean |", "|---|" + "---:|" * (len(yaws) + 1)]
    for name, r in report["outputs"].items():
        if r.get("psnr_by_yaw") is None:
            continue
        lines.append(f"| {name} | " + " | ".join(f"{r['psnr_by_yaw'][y]:.2f}" for y in yaws)
                     + f" | {r['psnr_mean']:.2f} |")
    m = report.get("multi_image_rank1")
    if m:
        lines += ["", f"Multi-image rank-1: {m['images_per_identity']} images per identity at yaws "
                      f"{', '.join(str(y) for y in m['yaws'])} fused, against the frontal gallery:", "",
                  "| probe | rank-1 |", "|---|---:|"]
        for k in ("fused (learned confidences)", "mean of the 3 features", "single images (mean of the 3 rank-1s)",
                  "untrained fused (floor)"):
            lines.append(f"| {k} | {_fmt(m[k])} |")
    t = report["timing"]
    lines += ["", f"{t['total_s']:.0f} s on {report['machine']['device']} "
                  f"({report['machine']['torch_threads']} threads), ganzoo {report['versions']['ganzoo']}, "
                  f"torch {report['versions']['torch']}, {report['date']}."]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", required=True, help="a DR-GAN: name, name.tag or run folder ganzoo.load accepts")
    ap.add_argument("--identities", type=int, default=100, help="held-out identities, 2..100 (default 100)")
    ap.add_argument("--seed", type=int, default=0, help="z of the outputs and the untrained model's init")
    ap.add_argument("--classifier-identities", type=int, default=300,
                    help=f"identities of seed {CLASSIFIER_SEED} the pose classifier trains on (x 9 yaws)")
    ap.add_argument("--classifier-epochs", type=int, default=3)
    ap.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--json", default="eval_drgan.json")
    ap.add_argument("--markdown", default=None)
    ap.add_argument("--sweep", default=None, help="also write a PNG of outputs vs truth at every yaw")
    ap.add_argument("--sweep-identities", type=int, default=4)
    a = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    from ganzoo.data.heads import HEADS_HELDOUT_SIZE

    if not 2 <= a.identities <= HEADS_HELDOUT_SIZE:
        ap.error(f"--identities must be in [2, {HEADS_HELDOUT_SIZE}] (the held-out identities), got {a.identities}")
    if a.classifier_identities < 1:
        ap.error(f"--classifier-identities must be >= 1, got {a.classifier_identities}")
    if a.classifier_epochs < 1:
        ap.error(f"--classifier-epochs must be >= 1, got {a.classifier_epochs}")
    if a.threads < 0:
        ap.error(f"--threads must be >= 0, got {a.threads}")
    if not 1 <= a.sweep_identities <= HEADS_HELDOUT_SIZE:
        ap.error(f"--sweep-identities must be in [1, {HEADS_HELDOUT_SIZE}], got {a.sweep_identities}")
    try:
        dev = torch.device(a.device)
    except RuntimeError as e:
        ap.error(f"--device: {e}")
    if dev.type == "cuda" and not torch.cuda.is_available():
        ap.error(f"--device {a.device}: CUDA is not available here")
    if a.threads:
        torch.set_num_threads(a.threads)
    import ganzoo
    from ganzoo.utils import atomic_write

    from ganzoo.errors import GanzooError

    try:
        model = ganzoo.load(a.model).eval()
    except (GanzooError, OSError, ValueError) as e:
        ap.error(f"--model {a.model}: {e}")
    try:
        check_drgan(model)
    except ValueError as e:
        ap.error(str(e))
    report = evaluate(model, identities=a.identities, seed=a.seed, classifier_identities=a.classifier_identities,
                      classifier_epochs=a.classifier_epochs, device=a.device,
                      command=" ".join(["python", "tools/eval_drgan.py", *(sys.argv[1:] if argv is None else argv)]))
    atomic_write(Path(a.json), json.dumps(report, indent=2).encode())
    if a.sweep:
        import io

        from PIL import Image

        buf = io.BytesIO()
        Image.fromarray(sweep_picture(model, a.sweep_identities, a.seed, a.device)).save(buf, format="PNG")
        atomic_write(Path(a.sweep), buf.getvalue())
    md = markdown(report)
    if a.markdown:
        atomic_write(Path(a.markdown), md.encode())
    sys.stdout.write(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
