"""Score a 3D-GAN on ganzoo's procedural shapes with a classifier trained on the real shapes' classes.

    python tools/eval_gan3d.py --model runs/gan3d32-shapes --json gan3d.json --markdown gan3d.md

Rows, on the same classifier (trained here on its own seed, accuracy on the held-out shapes reported):
- the held-out real shapes (:func:`ganzoo.data.voxels.voxel_heldout`): the ceiling;
- the model's samples (z ~ U(0, 1) from ``--seed``, thresholded at 0.5);
- the same architecture untrained (random initialisation, the model's config): the floor.

For each: the share recognised with confidence (max class probability >= 0.9), class coverage (classes holding
>= 1% of the samples), the normalised entropy of the recognised classes, mean occupancy, and (for 200 samples)
the IoU to the nearest shape of the model's training pool, against the same for held-out real shapes: a model
that copies its training shapes scores near 1 there, a real new shape does not.
"""
from __future__ import annotations

import argparse
import datetime
import json
import logging
import platform
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

logger = logging.getLogger("eval_gan3d")


def _binary(vols: torch.Tensor) -> torch.Tensor:
    return (vols > 0.5).float()


def nearest_iou(samples: torch.Tensor, pool: torch.Tensor, chunk: int = 512) -> np.ndarray:
    """For each binary sample (B, 1, S, S, S), the IoU with its nearest shape in ``pool`` (N, 1, S, S, S)."""
    a = samples.flatten(1).float()
    best = torch.zeros(len(a))
    sa = a.sum(1)
    for i in range(0, len(pool), chunk):
        b = pool[i:i + chunk].flatten(1).float()
        inter = a @ b.T
        union = sa[:, None] + b.sum(1)[None, :] - inter
        best = torch.maximum(best, (inter / union.clamp_min(1)).max(1).values)
    return best.numpy()


def evaluate(model: Any, *, samples: int = 1000, seed: int = 0, classifier_shapes: int = 4000,
             classifier_epochs: int = 4, pool: int = 4096, pool_seed: int = 0, iou_samples: int = 200,
             command: str = "") -> dict[str, Any]:
    from ganzoo import create
    from ganzoo.data.voxels import voxel_dataset, voxel_heldout
    from ganzoo.train.classifiers import classify_volumes, score_voxel_samples, train_voxel_classifier

    size = model.config.volume_size
    clf, clf_report = train_voxel_classifier(classifier_shapes, size=size, epochs=classifier_epochs)
    gen = torch.Generator().manual_seed(seed)
    z = torch.rand(samples, model.config.nz, generator=gen)
    rows: dict[str, dict[str, Any]] = {}
    train_pool = torch.from_numpy(np.asarray(voxel_dataset(pool, size=size, seed=pool_seed, dtype=bool)[0]))
    hv, _ = voxel_heldout(size=size, dtype=bool)
    real = torch.from_numpy(np.asarray(hv)).float()

    torch.manual_seed(seed)
    untrained = create(model.model_name, **{k: v for k, v in model.config.to_dict().items()}).eval()
    for name, source in (("held-out real shapes", None), ("model", model), ("untrained (random init)", untrained)):
        t0 = time.perf_counter()
        if source is None:
            vols = real
        else:
            with torch.no_grad():
                vols = torch.cat([_binary(source.generator(z[i:i + 64])) for i in range(0, samples, 64)])
        probs = classify_volumes(clf, vols)
        row = score_voxel_samples(probs)
        row["occupancy"] = round(float(vols.mean()), 4)
        n_iou = min(iou_samples, len(vols))
        occupied = vols[:n_iou].flatten(1).sum(1) > 0
        iou = nearest_iou(vols[:n_iou][occupied], train_pool) if occupied.any() else np.zeros(0)
        row["nearest_train_iou_mean"] = round(float(iou.mean()), 4) if len(iou) else None
        row["empty_samples"] = int((vols.flatten(1).sum(1) == 0).sum())
        row["wall_s"] = round(time.perf_counter() - t0, 1)
        rows[name] = row
        logger.info("%s: confident %.3f, coverage %d/%d", name, row["confident_share"], row["coverage"],
                    row["num_classes"])
    return {"command": command, "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "model": getattr(model.pretrained_cfg, "name", None) or model.model_name, "volume_size": size,
            "samples": samples, "seed": seed, "classifier": clf_report, "training_pool": {"shapes": pool,
            "seed": pool_seed}, "rows": rows,
            "machine": f"{platform.machine()}, torch {torch.__version__}, {torch.get_num_threads()} threads"}


def markdown(report: dict[str, Any]) -> str:
    c = report["classifier"]
    lines = [f"3D-GAN `{report['model']}` at {report['volume_size']}^3: {report['samples']} samples (seed "
             f"{report['seed']}). Classifier: {c['train_shapes']} procedural shapes (seed {c['train_seed']}), "
             f"held-out accuracy {c['heldout_accuracy']:.3f} on {c['heldout_shapes']} held-out shapes.", "",
             "| source | recognised (p >= 0.9) | coverage | entropy | occupancy | nearest-train IoU | empty |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for name, r in report["rows"].items():
        iou = "-" if r["nearest_train_iou_mean"] is None else f"{r['nearest_train_iou_mean']:.3f}"
        lines.append(f"| {name} | {r['confident_share']:.3f} | {r['coverage']}/{r['num_classes']} | "
                     f"{r['entropy']:.3f} | {r['occupancy']:.3f} | {iou} | {r['empty_samples']} |")
    shares = report["rows"]["model"]["class_shares"]
    lines += ["", "Model samples recognised per class (share of all samples): "
              + ", ".join(f"{k} {v:.3f}" for k, v in shares.items())]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", required=True, help="a name, name.tag or run folder ganzoo.load accepts")
    ap.add_argument("--samples", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--classifier-shapes", type=int, default=4000)
    ap.add_argument("--classifier-epochs", type=int, default=4)
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--json", default="eval_gan3d.json")
    ap.add_argument("--markdown", default=None)
    a = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(name)s: %(message)s")
    if a.samples < 1:
        ap.error(f"--samples must be >= 1, got {a.samples}")
    if a.threads:
        torch.set_num_threads(a.threads)
    import ganzoo
    from ganzoo.utils import atomic_write

    model = ganzoo.load(a.model).eval()
    pool, pool_seed = 4096, 0
    recipe = Path(a.model) / "train" / "recipe.json"
    if recipe.is_file():  # a run folder: its own training pool
        r = json.loads(recipe.read_text())
        pool, pool_seed = int(r.get("pool", pool)), int(r.get("data_seed", pool_seed))
    report = evaluate(model, samples=a.samples, seed=a.seed, classifier_shapes=a.classifier_shapes,
                      classifier_epochs=a.classifier_epochs, pool=pool, pool_seed=pool_seed,
                      command=" ".join(["python", "tools/eval_gan3d.py", *sys.argv[1:]]))
    atomic_write(Path(a.json), json.dumps(report, indent=2).encode())
    md = markdown(report)
    if a.markdown:
        atomic_write(Path(a.markdown), md.encode())
    sys.stdout.write(md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
