"""Publish a training run's weights into the embedded hub (hub/repos/<org>/<name>/).

    python tools/publish_weights.py runs/dcgan-mnist dcgan.mnist ganzoo/dcgan-mnist --dtype float16
    python tools/publish_weights.py runs/pggan-pool256 pggan_inpaint.pool256 ganzoo/pggan-inpaint-pool256 \\
        --recipe ganzoo.train.pggan_inpaint --dtype float16 --samples examples.png --notes metrics.md

Writes config.json, model.safetensors, README.md (with how the weights were made: the recipe's exact command,
steps, wall time summed over resumed sessions, final losses) and samples.png (generated for a noise-input model,
or the picture given by ``--samples``), updates hub/repos/index.json, and prints the sha256 and revision to pin in
the model file's default_cfgs; after pinning, ``python tools/update_registry_index.py`` brings the registry index
(ganzoo list, model_info) up to date. ``--notes`` appends a markdown file (e.g. the metrics of the held-out
evaluation) to the card; ``--file`` ships more files (LICENSE, metrics.json); ``--parts generator`` leaves out a
discriminator the recipe never trained.
"""
from __future__ import annotations

import argparse
import json
import platform
import shutil
import tempfile
from pathlib import Path

import torch

import ganzoo
from ganzoo.hub.embedded import publish_embedded
from ganzoo.hub.io import load_into, load_weights_file
from ganzoo.train.engine import recipe_command
from ganzoo.utils import save_image_grid


def wall_time_s(log: list[dict]) -> float:
    """Training time over all sessions of a run: each resumed session restarts ``elapsed_s`` from 0."""
    total = last = 0.0
    for rec in log:
        t = float(rec["elapsed_s"])
        if t < last:  # a new session began
            total += last
        last = t
    return total + last


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("run_dir")
    p.add_argument("name", help="model.tag, e.g. dcgan.mnist")
    p.add_argument("repo_id")
    p.add_argument("--dtype", default="float32", choices=["float32", "float16"])
    p.add_argument("--recipe", default="ganzoo.train.dcgan", help="the recipe module that trained the run")
    p.add_argument("--samples", type=Path, help="a picture to ship as samples.png (default: generated)")
    p.add_argument("--notes", type=Path, help="a markdown file appended to the model card")
    p.add_argument("--parts", default="generator,discriminator",
                   help="networks whose weights ship, comma-separated (generator: a recipe that trains no D)")
    p.add_argument("--file", type=Path, action="append", default=[],
                   help="a file to ship in the repo beside the weights (LICENSE, metrics.json); repeatable")
    args = p.parse_args()
    run = Path(args.run_dir)
    model = ganzoo.create(args.name)
    load_into(model, load_weights_file(run / "model.safetensors"))
    model.eval()
    recipe = json.loads((run / "train" / "recipe.json").read_text())  # the run folder of ganzoo.train.engine
    log = [json.loads(line) for line in (run / "train" / "log.jsonl").read_text().splitlines()]
    losses = {k: v for k, v in log[-1].items() if k not in ("step", "elapsed_s")}
    training = {
        "recipe": f"{args.recipe.replace('.', '/')}.py",
        "command": recipe_command(args.recipe, recipe, run),
        "settings": recipe,
        "steps": log[-1]["step"],
        "final losses": losses,
        # the run's own thread count (its recipe's --threads), not this publishing process's
        "wall time": f"{wall_time_s(log):.0f} s on {platform.machine()} CPU, "
                     f"{recipe.get('threads') or torch.get_num_threads()} threads, "
                     f"torch {torch.__version__}",
        "stored precision": args.dtype,
    }
    notes = "![samples](samples.png)" if args.samples else "![64 samples, seed 0](samples.png)"
    if args.notes:
        notes = args.notes.read_text(encoding="utf-8").strip() + "\n\n" + notes
    with tempfile.TemporaryDirectory() as tmp:
        dtype = torch.float16 if args.dtype == "float16" else None
        parts = tuple(x.strip() for x in args.parts.split(",") if x.strip())
        ganzoo.save_pretrained(model, tmp, dtype=dtype, training=training, notes=notes, parts=parts)
        for extra in args.file:
            if extra.name in ("model.safetensors", "config.json", "README.md", "samples.png"):
                raise SystemExit(f"--file {extra}: {extra.name} is written by this tool")
            shutil.copyfile(extra, Path(tmp) / extra.name)
        if args.samples:
            shutil.copyfile(args.samples, Path(tmp) / "samples.png")
        else:
            gen = torch.Generator().manual_seed(0)
            with torch.no_grad():
                save_image_grid(model(*model.sample_inputs(64, generator=gen)), Path(tmp) / "samples.png")
        repo = publish_embedded(tmp, args.repo_id)
    print(json.dumps({"repo_id": repo.repo_id, "revision": repo.revision,
                      "sha256": repo.files["model.safetensors"]["sha256"]}, indent=2))


if __name__ == "__main__":
    main()
