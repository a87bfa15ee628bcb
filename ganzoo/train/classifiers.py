"""Factor classifiers trained on ganzoo's procedural data, used to score what a generator makes.

Inception-based scores (FID, IS) need downloaded weights and say nothing about procedural shapes, so ganzoo scores
a generator with a classifier trained on the *real* data's known factors (``../shared/specs/weights.md``): the
share of samples it recognises with confidence, and how the recognised samples cover the classes.

:class:`VoxelClassifier` / :func:`train_voxel_classifier`: the class of a 32^3 (or 64^3) occupancy grid among
:data:`ganzoo.data.voxels.SHAPE_CLASSES`, trained on :func:`ganzoo.data.voxels.voxel_dataset` (its own seed) and
measured on the held-out shapes (:func:`ganzoo.data.voxels.voxel_heldout`), never trained on.
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

logger = logging.getLogger(__name__)

__all__ = ["VoxelClassifier", "train_voxel_classifier", "classify_volumes", "score_voxel_samples"]

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
