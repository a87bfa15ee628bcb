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

__all__ = ["DCGANRecipe", "train_dcgan"]


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


def train_dcgan(recipe: DCGANRecipe, out_dir: str | Path) -> "torch.nn.Module":
    """Train from scratch; writes ``out_dir/model.safetensors`` (fp32, G + D), ``recipe.json``,
    ``log.jsonl`` and a sample grid every 250 steps. Returns the trained model in eval mode."""
    from safetensors.torch import save_file

    from .. import create
    from ..data import load_dataset
    from ..utils import save_image_grid

    if recipe.threads:
        torch.set_num_threads(recipe.threads)
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "recipe.json").write_text(json.dumps(asdict(recipe), indent=2))
    torch.manual_seed(recipe.seed)
    gen = torch.Generator().manual_seed(recipe.seed)

    model = create(f"{recipe.model}.{recipe.dataset}")
    cfg = model.config
    data = load_dataset(recipe.dataset, image_size=cfg.image_size, resize=recipe.resize)
    if data.shape[1] != cfg.nc:
        raise ValueError(f"dataset has {data.shape[1]} channels, model expects nc={cfg.nc}")
    G, D = model.generator, model.discriminator
    opt_g = torch.optim.Adam(G.parameters(), recipe.lr, betas=(recipe.beta1, recipe.beta2))
    opt_d = torch.optim.Adam(D.parameters(), recipe.lr, betas=(recipe.beta1, recipe.beta2))
    fixed_z = torch.randn(64, cfg.nz, generator=gen)
    model.train()
    log = (out / "log.jsonl").open("w")
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
                save_image_grid(G(fixed_z), out / f"samples_{step:05d}.png")
            G.train()
            save_file({k: v.detach().contiguous() for k, v in model.state_dict().items()},
                      str(out / "model.safetensors"))
    log.close()
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
    main()
