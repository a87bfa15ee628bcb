"""Encoders x -> z for DCGAN generators, trained IcGAN-style or BiGAN-style, saved as safetensors files.

:class:`DCGANEncoder` is a DCGAN discriminator (:class:`ganzoo.models.dcgan.DCGANDiscriminator`, the same
stride-2 conv + BN + LeakyReLU trunk) whose last 4x4 conv outputs ``nz`` values instead of one logit:
image (B, nc, S, S) in [-1, 1] -> z (B, nz), unbounded.

* IcGAN (Perarnau et al. 2016): :func:`train_icgan_encoder` trains one on generated pairs (z ~ N(0, 1), G(z))
  with the latent regression loss mse(E(G(z)), z), optionally plus ``recon_weight * mse(G(E(G(z))), G(z))``
  (it reuses :func:`ganzoo.latent.train_encoder_on_samples`).
* BiGAN / ALI (Donahue et al. 2016; Dumoulin et al. 2016): ``python -m ganzoo.train.bigan`` trains one jointly
  with the GAN and writes it into its run folder.

Files: :func:`save_encoder` writes ``encoder.safetensors`` (the weights; its metadata ``ganzoo_encoder`` holds the
config, so the file alone is loadable) and ``encoder.json`` (the same config, readable, with how it was trained);
:func:`load_encoder` reads a folder holding ``encoder.safetensors`` or the file itself;
:func:`published_encoder` finds the encoder a model's hub repo (or run folder) ships beside its weights.
"""
from __future__ import annotations

import dataclasses
import json
import logging
import os
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..models.base import GANModel, check_tensor, first_param
from ._core import LatentGenerator, bind

logger = logging.getLogger("ganzoo.latent")

__all__ = ["ENCODER_WEIGHTS", "ENCODER_CONFIG", "EncoderConfig", "DCGANEncoder", "dcgan_trunk", "encoder_for",
           "train_icgan_encoder", "save_encoder", "load_encoder", "check_encoder_matches", "published_encoder"]

ENCODER_WEIGHTS = "encoder.safetensors"
ENCODER_CONFIG = "encoder.json"
_META_KEY = "ganzoo_encoder"
#: the encoder kinds :func:`save_encoder` records (how the encoder was trained)
ENCODER_METHODS = ("icgan", "bigan", "untrained")


@dataclasses.dataclass
class EncoderConfig:
    """What builds a :class:`DCGANEncoder`: nc image channels, image_size S (16, 32, 64 or 128), nz latent size,
    ndf base width, leaky_slope of the LeakyReLUs. method: how it was trained ("icgan", "bigan", "untrained").
    generator: the run folder or tag of the generator it inverts (informative)."""

    nc: int = 3
    image_size: int = 32
    nz: int = 100
    ndf: int = 64
    leaky_slope: float = 0.2
    method: str = "untrained"
    generator: str = ""

    def validate(self) -> None:
        for name in ("nc", "nz", "ndf"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, int) or v < 1:
                raise ValueError(f"encoder config {name}: expected an int >= 1, got {v!r}")
        if self.image_size not in (16, 32, 64, 128):
            raise ValueError(f"encoder config image_size: expected one of 16, 32, 64, 128, got {self.image_size!r}")
        if self.method not in ENCODER_METHODS:
            raise ValueError(f"encoder config method: expected one of {ENCODER_METHODS}, got {self.method!r}")

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "EncoderConfig":
        if not isinstance(d, dict):
            raise ValueError(f"encoder config: expected a JSON object, got {type(d).__name__}")
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(d) - names)
        if unknown:
            raise ValueError(f"encoder config: unknown fields {unknown} (known: {sorted(names)})")
        cfg = cls(**d)
        cfg.validate()
        return cfg


def dcgan_trunk(nc: int, image_size: int, ndf: int = 64, leaky_slope: float = 0.2) -> tuple[nn.Sequential, int]:
    """The DCGAN discriminator's conv trunk without its last (logit) conv, and its output channels: image
    (B, nc, S, S) -> features (B, ndf * 2^(blocks - 1), 4, 4). Built by :class:`DCGANDiscriminator` itself, so
    its state dict keys are the discriminator's ``main.<i>`` (a trained discriminator's trunk loads into it)."""
    from ..models.dcgan import DCGANConfig, DCGANDiscriminator

    cfg = DCGANConfig(nc=nc, image_size=image_size, ndf=ndf, leaky_slope=leaky_slope)
    cfg.validate()
    d = DCGANDiscriminator(cfg)
    return nn.Sequential(*list(d.main)[:-1]), ndf * 2 ** (cfg.num_blocks - 1)


class DCGANEncoder(nn.Module):
    """image (B, nc, S, S) in [-1, 1] -> z (B, nz), unbounded: the DCGAN discriminator trunk (:func:`dcgan_trunk`)
    and a 4x4 conv to ``nz`` channels (with bias). DCGAN initialisation N(0, 0.02). ``config`` is its
    :class:`EncoderConfig`."""

    def __init__(self, config: EncoderConfig):
        super().__init__()
        from ..layers import dcgan_init_

        config.validate()
        self.config = config
        self.main, ch = dcgan_trunk(config.nc, config.image_size, config.ndf, config.leaky_slope)
        self.head = nn.Conv2d(ch, config.nz, 4, 1, 0)
        dcgan_init_(self)

    @property
    def dim(self) -> int:
        return self.config.nz

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = self.config.image_size
        check_tensor(x, "image", ndim=4, channels=self.config.nc, size=(s, s), like=first_param(self))
        return self.head(self.main(x)).flatten(1)


def _dcgan_config(model: GANModel | LatentGenerator) -> Any:
    m = model.model if isinstance(model, LatentGenerator) else model
    from ..models.dcgan import DCGANConfig

    cfg = getattr(m, "config", None)
    if not isinstance(cfg, DCGANConfig):
        raise TypeError(f"expected a DCGAN model (ganzoo.load of a dcgan / dcgan_32 run or tag), got "
                        f"{type(m).__name__}; for other models use ganzoo.latent.LatentEncoder")
    return cfg


def encoder_for(model: GANModel | LatentGenerator, *, ndf: int | None = None, method: str = "untrained",
                generator: str = "") -> DCGANEncoder:
    """A fresh :class:`DCGANEncoder` for a DCGAN ``model`` (its nc, image_size, nz and leaky slope; ``ndf``
    defaults to the model's discriminator width), on the model's device. TypeError for a model that is not a
    DCGAN."""
    cfg = _dcgan_config(model)
    ecfg = EncoderConfig(nc=cfg.nc, image_size=cfg.image_size, nz=cfg.nz, ndf=cfg.ndf if ndf is None else ndf,
                         leaky_slope=cfg.leaky_slope, method=method, generator=generator)
    enc = DCGANEncoder(ecfg)
    p = first_param(model.model if isinstance(model, LatentGenerator) else model)
    return enc.to(p.device) if p is not None else enc


def check_encoder_matches(encoder: DCGANEncoder, model: GANModel | LatentGenerator) -> None:
    """ValueError unless ``encoder`` takes ``model``'s images and outputs its latent size."""
    cfg = _dcgan_config(model)
    e = encoder.config
    bad = [f"{k} {getattr(e, k)} != {getattr(cfg, k)}" for k in ("nc", "image_size", "nz") if getattr(e, k) !=
           getattr(cfg, k)]
    if bad:
        raise ValueError(f"the encoder does not fit this model: {', '.join(bad)} (encoder vs model)")


def train_icgan_encoder(model: GANModel | LatentGenerator, steps: int = 2000, *, batch_size: int = 64,
                        lr: float = 2e-4, recon_weight: float = 0.0, ndf: int | None = None, seed: int | None = 0,
                        generator: str = "", progress: bool | None = None) -> tuple[DCGANEncoder, list[float]]:
    """Train a :class:`DCGANEncoder` for a DCGAN ``model`` IcGAN-style: ``steps`` batches of ``batch_size``
    generated pairs (z ~ N(0, 1), x = G(z)), Adam (``lr``, betas (0.5, 0.999)) on mse(E(x), z) plus
    ``recon_weight * mse(G(E(x)), x)`` (:func:`ganzoo.latent.train_encoder_on_samples`). The generator is not
    changed. ``generator`` is recorded in the encoder's config (e.g. the run folder).

    Returns the encoder (eval mode, on the model's device) and the latent MSE after each step."""
    from .inversion import train_encoder_on_samples

    lg = bind(model)
    enc = encoder_for(lg, ndf=ndf, method="icgan", generator=generator)
    hist = train_encoder_on_samples(lg, enc, steps=steps, batch_size=batch_size, lr=lr, seed=seed,
                                    recon_weight=recon_weight, progress=progress)
    return enc, hist


def _paths(path: str | os.PathLike) -> tuple[Path, Path]:
    p = Path(path).expanduser()
    if p.suffix == ".safetensors":
        return p, p.with_suffix(".json")
    return p / ENCODER_WEIGHTS, p / ENCODER_CONFIG


def save_encoder(encoder: DCGANEncoder, path: str | os.PathLike, *, info: dict[str, Any] | None = None) -> Path:
    """Write ``encoder`` to ``path``: a folder (created if needed) gets ``encoder.safetensors`` and
    ``encoder.json``; a path ending in ``.safetensors`` is the weights file, with the JSON beside it under the
    same stem. ``info`` (JSON-serialisable: steps, losses, time) goes into the JSON. Both files are written
    atomically. Returns the weights file."""
    from ..hub.io import save_safetensors
    from ..utils import atomic_write

    if not isinstance(encoder, DCGANEncoder):
        raise TypeError(f"encoder: expected a DCGANEncoder, got {type(encoder).__name__}")
    weights, cfg_path = _paths(path)
    weights.parent.mkdir(parents=True, exist_ok=True)
    cfg = dataclasses.asdict(encoder.config)
    sha = save_safetensors(encoder.state_dict(), weights, metadata={"format": "pt", _META_KEY: json.dumps(cfg)})
    doc = {"library_name": "ganzoo", "kind": "DCGANEncoder", "config": cfg, "weights": weights.name,
           "sha256": sha, "training": info or {}}
    atomic_write(cfg_path, (json.dumps(doc, indent=2) + "\n").encode())
    logger.info("saved the %s encoder to %s", encoder.config.method, weights)
    return weights


def load_encoder(path: str | os.PathLike, *, device: str | torch.device | None = None) -> DCGANEncoder:
    """A :class:`DCGANEncoder` (eval mode) from a folder holding ``encoder.safetensors`` (a BiGAN run folder, or
    one :func:`save_encoder` wrote) or from the ``.safetensors`` file. FileNotFoundError when there is none,
    ValueError for a file that is not a ganzoo encoder or whose tensors do not match its config."""
    from safetensors import SafetensorError, safe_open

    weights, _ = _paths(path)
    if not weights.is_file():
        raise FileNotFoundError(f"no encoder at {path}: expected {weights} (written by save_encoder or "
                                f"python -m ganzoo.train.bigan)")
    try:
        with safe_open(str(weights), framework="pt") as f:
            meta = f.metadata() or {}
            state = {k: f.get_tensor(k) for k in f.keys()}
    except (SafetensorError, OSError) as e:
        raise ValueError(f"{weights}: not a readable safetensors file ({e})") from None
    if _META_KEY not in meta:
        raise ValueError(f"{weights}: not a ganzoo encoder (no {_META_KEY!r} metadata)")
    try:
        cfg = EncoderConfig.from_dict(json.loads(meta[_META_KEY]))
    except (json.JSONDecodeError, TypeError) as e:
        raise ValueError(f"{weights}: unreadable encoder config ({e})") from None
    enc = DCGANEncoder(cfg)
    try:
        enc.load_state_dict(state, strict=True)
    except RuntimeError as e:
        raise ValueError(f"{weights}: its tensors do not match its config {dataclasses.asdict(cfg)}: {e}") from None
    if device is not None:
        enc = enc.to(device)
    return enc.eval()



def published_encoder(name: str | os.PathLike, *, device: str | torch.device | None = None,
                      local_files_only: bool = False, cache_dir: str | os.PathLike | None = None,
                      ) -> DCGANEncoder | None:
    """The encoder published with a model, or None when the model ships none.

    Args:
        name: what :func:`ganzoo.load` was given: a registry name or tag (``"dcgan_32.polygons"``: the tag's hub
            repo at its pinned revision, embedded hub first), an ``hf-hub:org/name[@rev]`` spec, or a folder (a
            run folder or save_pretrained folder holding ``encoder.safetensors`` and ``encoder.json``).
        device: where to put it. ``local_files_only``, ``cache_dir``: as for :func:`ganzoo.load`.

    The weights are checked against the sha256 in the repo's ``encoder.json`` on every load (IntegrityError when
    they differ; a remote download is verified before it enters the cache). Returns the encoder in eval mode:
    images (B, nc, S, S) in [-1, 1] -> z (B, nz).
    """
    from ..hub.resolve import resolve_extra_files

    got = resolve_extra_files(name, ENCODER_CONFIG, ENCODER_WEIGHTS, cache_dir=cache_dir,
                              local_files_only=local_files_only)
    if got is None:
        return None
    logger.info("using the encoder published with %s", name)
    return load_encoder(got[1], device=device)


def main(argv: list[str] | None = None) -> None:
    """``python -m ganzoo.latent.encoders --model RUN --steps N --out DIR``: train an IcGAN encoder for a DCGAN
    and save it (:func:`save_encoder`)."""
    import argparse
    import time

    p = argparse.ArgumentParser(prog="python -m ganzoo.latent.encoders",
                                description="Train an IcGAN encoder on generated (z, G(z)) pairs of a DCGAN.")
    p.add_argument("--model", required=True, help="a DCGAN run folder or name.tag ganzoo.load accepts")
    p.add_argument("--out", required=True, help="folder (or .safetensors path) to write the encoder to")
    p.add_argument("--steps", type=int, default=2000)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--lr", type=float, default=2e-4)
    p.add_argument("--recon-weight", type=float, default=0.0)
    p.add_argument("--ndf", type=int, default=None)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=0)
    a = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO)
    import ganzoo

    if a.threads:
        torch.set_num_threads(a.threads)
    model = ganzoo.load(a.model)
    t0 = time.perf_counter()
    enc, hist = train_icgan_encoder(model, a.steps, batch_size=a.batch_size, lr=a.lr, recon_weight=a.recon_weight,
                                    ndf=a.ndf, seed=a.seed, generator=str(a.model), progress=True)
    wall = time.perf_counter() - t0
    tail = hist[-50:]
    save_encoder(enc, a.out, info={"tool": "python -m ganzoo.latent.encoders", "steps": a.steps,
                                   "batch_size": a.batch_size, "lr": a.lr, "recon_weight": a.recon_weight,
                                   "seed": a.seed, "latent_mse_first": hist[0],
                                   "latent_mse_last50": sum(tail) / len(tail), "wall_s": round(wall, 1)})


if __name__ == "__main__":
    from ..train.engine import module_main

    module_main(main, "python -m ganzoo.latent.encoders")
