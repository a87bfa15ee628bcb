"""Publish a training run's weights into the embedded hub (hub/repos/<org>/<name>/).

    python tools/publish_weights.py runs/dcgan-mnist dcgan.mnist ganzoo/dcgan-mnist --dtype float16

Writes config.json, model.safetensors, README.md (with how the weights were made) and samples.png, updates
hub/repos/index.json, and prints the sha256 and revision to pin in the model file's default_cfgs; after pinning,
``python tools/update_registry_index.py`` brings the registry index (ganzoo list, model_info) up to date.
"""
from __future__ import annotations

import argparse
import json
import platform
import tempfile
from pathlib import Path

import torch

import ganzoo
from ganzoo.hub.embedded import publish_embedded
from ganzoo.hub.io import load_into, load_weights_file
from ganzoo.utils import save_image_grid


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("run_dir")
    p.add_argument("name", help="model.tag, e.g. dcgan.mnist")
    p.add_argument("repo_id")
    p.add_argument("--dtype", default="float32", choices=["float32", "float16"])
    args = p.parse_args()
    run = Path(args.run_dir)
    model = ganzoo.create(args.name)
    load_into(model, load_weights_file(run / "model.safetensors"))
    model.eval()
    recipe = json.loads((run / "train" / "recipe.json").read_text())  # the run folder of ganzoo.train.engine
    log = [json.loads(line) for line in (run / "train" / "log.jsonl").read_text().splitlines()]
    training = {
        "recipe": f"ganzoo/train/{recipe['model'].split('_')[0]}.py",
        "command": "python -m ganzoo.train.dcgan " + " ".join(
            f"--{k.replace('_', '-')} {v}" for k, v in recipe.items()) + f" --out {run}",
        "settings": recipe,
        "steps": log[-1]["step"],
        "final losses": {"D": log[-1]["loss_d"], "G": log[-1]["loss_g"]},
        "wall time": f"{log[-1]['elapsed_s']:.0f} s on {platform.machine()} CPU, {torch.get_num_threads()} threads, "
                     f"torch {torch.__version__}",
        "stored precision": args.dtype,
    }
    with tempfile.TemporaryDirectory() as tmp:
        dtype = torch.float16 if args.dtype == "float16" else None
        ganzoo.save_pretrained(model, tmp, dtype=dtype, training=training,
                               notes="![64 samples, seed 0](samples.png)")
        gen = torch.Generator().manual_seed(0)
        with torch.no_grad():
            save_image_grid(model(*model.sample_inputs(64, generator=gen)), Path(tmp) / "samples.png")
        repo = publish_embedded(tmp, args.repo_id)
    print(json.dumps({"repo_id": repo.repo_id, "revision": repo.revision,
                      "sha256": repo.files["model.safetensors"]["sha256"]}, indent=2))


if __name__ == "__main__":
    main()
