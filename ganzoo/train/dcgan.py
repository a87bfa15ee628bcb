"""The DCGAN training recipe that produced the shipped ``dcgan.mnist`` and ``dcgan_32.mnist`` weights.

Paper settings: Adam lr 2e-4, betas (0.5, 0.999), batch 64-128, data in [-1, 1], N(0, 0.02) init, the
non-saturating generator loss. Runs on the CPU in minutes to tens of minutes.

    python -m ganzoo.train.dcgan --model dcgan --dataset mnist --steps 1500 --out runs/dcgan-mnist
"""
from __future__ import annotations

import argparse
import json
import logging
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

logger = logging.getLogger(__name__)

__all__ = ["DCGANRecipe", "train_dcgan", "check_recipe"]


@dataclass
class DCGANRecipe:
    model: str = "dcgan"
    dataset: str = "mnist"
    resize: str = "bilinear"
    steps: int = 1500
    batch_size: int = 64
    lr: float = 2e-4
    beta1: float = 0.5
    beta2: float = 0.999
    seed: int = 0
    threads: int = 0  # 0 = torch default


def check_recipe(recipe: DCGANRecipe) -> None:
    """Raise ValueError naming the first field out of range (before anything is created or loaded)."""
    from .. import list_models
    from ..registry import resolve_pretrained_cfg

    checks = [
        ("steps", isinstance(recipe.steps, int) and recipe.steps >= 1, "an int >= 1"),
        ("batch_size", isinstance(recipe.batch_size, int) and 1 <= recipe.batch_size <= 4096, "an int in [1, 4096]"),
        ("lr", isinstance(recipe.lr, (int, float)) and 0 < recipe.lr < 1, "a float in (0, 1)"),
        ("beta1", isinstance(recipe.beta1, (int, float)) and 0 <= recipe.beta1 < 1, "a float in [0, 1)"),
        ("beta2", isinstance(recipe.beta2, (int, float)) and 0 <= recipe.beta2 < 1, "a float in [0, 1)"),
        ("threads", isinstance(recipe.threads, int) and recipe.threads >= 0, "an int >= 0 (0: torch's default)"),
        ("seed", isinstance(recipe.seed, int) and recipe.seed >= 0, "an int >= 0"),
        ("resize", recipe.resize in ("bilinear", "pad"), "'bilinear' or 'pad'"),
    ]
    for name, ok, want in checks:
        if not ok:
            raise ValueError(f"--{name.replace('_', '-')} must be {want}, got {getattr(recipe, name)!r}")
    from ..data import available_datasets

    if recipe.dataset not in available_datasets():
        raise ValueError(f"--dataset must be one of {available_datasets()}, got {recipe.dataset!r}")
    dcgans = list_models(family="dcgan")
    if recipe.model not in dcgans:
        raise ValueError(f"--model must be a DCGAN ({', '.join(dcgans)}), got {recipe.model!r}")
    resolve_pretrained_cfg(f"{recipe.model}.{recipe.dataset}")  # UnknownTagError for a dataset without a tag


def train_dcgan(recipe: DCGANRecipe, out_dir: str | Path) -> "torch.nn.Module":
    """Train from scratch; writes ``out_dir/model.safetensors`` (fp32, G + D), ``recipe.json``,
    ``log.jsonl`` and a sample grid every 250 steps. Returns the trained model in eval mode.

    The recipe is checked first (ValueError). Every file is written atomically with the umask's mode. If the run
    fails before its first checkpoint, the files it wrote and the folders it created are removed; after a
    checkpoint they are kept (the last ``model.safetensors`` is a usable model)."""
    from .. import create
    from ..data import load_dataset
    from ..hub.io import save_safetensors
    from ..utils import atomic_write_bytes, save_image_grid

    check_recipe(recipe)
    out = Path(out_dir).expanduser()
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out {out}: exists and is not a folder")
    created: list[Path] = []
    d = out
    while not d.exists() and d.parent != d:
        created.append(d)
        d = d.parent
    written: list[Path] = []
    checkpointed = False
    log = None
    try:
        model = create(f"{recipe.model}.{recipe.dataset}")
        cfg = model.config
        data = load_dataset(recipe.dataset, image_size=cfg.image_size, resize=recipe.resize)
        if data.shape[1] != cfg.nc:
            raise ValueError(f"dataset has {data.shape[1]} channels, model expects nc={cfg.nc}")
        if recipe.threads:
            torch.set_num_threads(recipe.threads)
        out.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(out / "recipe.json", json.dumps(asdict(recipe), indent=2).encode())
        written.append(out / "recipe.json")
        torch.manual_seed(recipe.seed)
        gen = torch.Generator().manual_seed(recipe.seed)
        G, D = model.generator, model.discriminator
        opt_g = torch.optim.Adam(G.parameters(), recipe.lr, betas=(recipe.beta1, recipe.beta2))
        opt_d = torch.optim.Adam(D.parameters(), recipe.lr, betas=(recipe.beta1, recipe.beta2))
        fixed_z = torch.randn(64, cfg.nz, generator=gen)
        model.train()
        log = (out / "log.jsonl").open("w")
        written.append(out / "log.jsonl")
        t0 = time.perf_counter()
        perm = torch.randperm(len(data), generator=gen)
        pos = 0
        for step in tqdm(range(1, recipe.steps + 1), desc=f"train {recipe.model}", unit="step"):
            if pos + recipe.batch_size > len(data):
                perm, pos = torch.randperm(len(data), generator=gen), 0
            real = data[perm[pos: pos + recipe.batch_size]]
            pos += recipe.batch_size
            z = torch.randn(recipe.batch_size, cfg.nz, generator=gen)
            fake = G(z)
            # D: maximise log D(x) + log(1 - D(G(z))), written with logits.
            loss_d = F.softplus(-D(real)).mean() + F.softplus(D(fake.detach())).mean()
            opt_d.zero_grad(set_to_none=True)
            loss_d.backward()
            opt_d.step()
            # G: the non-saturating loss, maximise log D(G(z)).
            loss_g = F.softplus(-D(fake)).mean()
            opt_g.zero_grad(set_to_none=True)
            loss_g.backward()
            opt_g.step()
            if step % 25 == 0 or step == recipe.steps:
                rec = {"step": step, "loss_d": round(loss_d.item(), 4), "loss_g": round(loss_g.item(), 4),
                       "elapsed_s": round(time.perf_counter() - t0, 1)}
                log.write(json.dumps(rec) + "\n")
                log.flush()
            if step % 250 == 0 or step == recipe.steps:
                G.eval()
                with torch.no_grad():
                    sample_path = out / f"samples_{step:05d}.png"
                    save_image_grid(G(fixed_z), sample_path)
                    written.append(sample_path)
                G.train()
                save_safetensors({k: v.detach().contiguous() for k, v in model.state_dict().items()},
                                 out / "model.safetensors")
                written.append(out / "model.safetensors")
                checkpointed = True
        log.close()
    except BaseException:
        if log is not None:
            log.close()
        if not checkpointed:
            for f in written:
                f.unlink(missing_ok=True)
            for c in created:  # innermost first, only if empty
                try:
                    c.rmdir()
                except OSError:
                    break
        else:
            logger.warning("training stopped; the last checkpoint stays in %s", out)
        raise
    model.eval()
    logger.info("trained %s for %d steps in %.0f s", recipe.model, recipe.steps, time.perf_counter() - t0)
    return model


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    for k, v in asdict(DCGANRecipe()).items():
        p.add_argument(f"--{k.replace('_', '-')}", type=type(v), default=v)
    p.add_argument("--out", required=True)
    args = vars(p.parse_args(argv))
    out = args.pop("out")
    logging.basicConfig(level=logging.INFO)
    train_dcgan(DCGANRecipe(**args), out)


if __name__ == "__main__":
    import sys

    from ..errors import GanzooError

    try:
        main()
    except (GanzooError, ValueError, OSError) as e:
        print(f"ganzoo.train.dcgan: error: {e}", file=sys.stderr)
        sys.exit(1)
