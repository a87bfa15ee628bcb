"""What ``ganzoo interpolate``, ``ganzoo invert`` and ``ganzoo edit`` share: model loading, image files in,
side-by-side pictures out, the inversion options, ``NAME=VALUE`` parsing.

Imported when ``ganzoo`` builds its parser: nothing heavy (torch, numpy, Pillow) at module level.
"""
from __future__ import annotations

import argparse
import logging
import math
import os
from pathlib import Path
from typing import Any

from ..pipelines.cli import UsageError
from ..pipelines.cli import _positive as positive_int  # argparse type: an int >= 1

logger = logging.getLogger("ganzoo.latent")

#: picture suffixes the latent commands write
PICTURES = (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff")
INVERSION_METHODS = ("optimize", "encoder", "encoder+optimize")  # = inversion.INVERSION_METHODS, kept light


def non_negative_float(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(v) or v < 0:
        raise argparse.ArgumentTypeError(f"expected a finite number >= 0, got {text!r}")
    return v


def positive_float(text: str) -> float:
    v = non_negative_float(text)
    if v == 0:
        raise argparse.ArgumentTypeError(f"expected a number > 0, got {text!r}")
    return v


def add_model_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", metavar="MODEL",
                   help="registry name or tag (dcgan.mnist), or a save_pretrained folder / path ganzoo.load accepts")
    p.add_argument("--device", default="cpu", help="cpu, cuda, cuda:N or auto (default: cpu)")
    p.add_argument("--offline", action="store_true", help="use cached/embedded model files only")
    p.add_argument("--allow-pickle", action="store_true", dest="allow_pickle",
                   help="accept a pickled checkpoint as MODEL (read with torch.load(weights_only=True))")
    p.add_argument("--overwrite", action="store_true", help="replace an existing OUT")


def add_inversion_arguments(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("inversion")
    g.add_argument("--method", choices=INVERSION_METHODS, default="optimize",
                   help="optimize z from random starts, take an encoder's z, or optimise from it (default: optimize)")
    g.add_argument("--steps", type=positive_int, default=500, help="Adam steps on z (default: 500)")
    g.add_argument("--lr", type=positive_float, default=0.05, help="Adam step size on z (default: 0.05)")
    g.add_argument("--restarts", type=positive_int, default=4,
                   help="random starts per image, the best kept (default: 4)")
    g.add_argument("--prior-weight", type=non_negative_float, default=0.0, dest="prior_weight",
                   help="weight of ||z||^2 / dim for Gaussian priors (default: 0)")
    g.add_argument("--feature-weight", type=non_negative_float, default=0.0, dest="feature_weight",
                   help="weight of the discriminator-feature loss (DCGAN, 3D-GAN; default: 0)")
    g.add_argument("--encoder", metavar="FILE",
                   help="an encoder images -> z for the encoder methods: a torch.export archive (.pt2, as "
                        "--save-encoder writes it) or a ganzoo encoder (encoder.safetensors, or a folder holding "
                        "one). Default for those methods: the encoder the model ships, where it has one")
    g.add_argument("--train-encoder", type=positive_int, metavar="STEPS", dest="train_encoder",
                   help="train a small encoder on generated (z, G(z)) pairs for STEPS batches of 64 first (IcGAN)")
    g.add_argument("--save-encoder", metavar="FILE.pt2", dest="save_encoder",
                   help="save the trained encoder (torch.export, dynamic batch; reuse it with --encoder)")
    g.add_argument("--seed", type=int, default=0, help="seed of the random starts (default: 0)")
    g.add_argument("--no-progress", action="store_true", dest="no_progress", help="no progress bar")


def check_output(output: str, overwrite: bool, suffixes: tuple[str, ...], what: str = "-o") -> Path:
    from ..utils import check_output_file

    out = check_output_file(output, what=what, suffixes=suffixes)
    if out.exists() and not overwrite:
        raise UsageError(f"{what} {output}: exists (pass --overwrite to replace it)")
    return out


def check_inversion_args(args: argparse.Namespace) -> None:
    if args.encoder and args.train_encoder:
        raise UsageError("give --encoder FILE.pt2 or --train-encoder STEPS, not both")
    if args.save_encoder and not args.train_encoder:
        raise UsageError("--save-encoder saves the encoder --train-encoder trains; give --train-encoder STEPS")
    if args.encoder and not Path(args.encoder).exists():
        raise UsageError(f"--encoder {args.encoder}: no such file or folder")
    if args.save_encoder:
        check_output(args.save_encoder, args.overwrite, (".pt2",), "--save-encoder")
    if args.seed < 0:
        raise UsageError(f"--seed must be >= 0, got {args.seed}")


def load_model(args: argparse.Namespace):
    """The model of MODEL on --device, in eval mode."""
    import torch

    import ganzoo
    from ..utils import resolve_device

    dev = "cuda" if args.device == "auto" and torch.cuda.is_available() else \
        ("cpu" if args.device == "auto" else args.device)
    device = resolve_device(dev)
    model = ganzoo.load(args.model, device=device, local_files_only=args.offline, allow_pickle=args.allow_pickle)
    return model.eval()


def z_only(model, command: str):
    """The LatentGenerator of a model whose generator takes z alone (UsageError naming the inputs otherwise)."""
    from ._core import _label, bind, latent_spec

    spec = latent_spec(model)
    if spec.extra_names:
        raise UsageError(f"{_label(model)}'s generator takes "
                         f"({', '.join(spec.inputs)}); ganzoo {command} drives models whose generator takes z alone "
                         f"(dcgan, gan3d, tgan); for DR-GAN use ganzoo.latent with extra_inputs")
    return bind(model)


def image_models_only(lg, command: str) -> None:
    if lg.spec.kind != "image" or len(lg.spec.output_shape) != 3:
        raise UsageError(f"ganzoo {command} reads image files, and {lg.label} makes {lg.spec.kind}s; use "
                         f"ganzoo.latent from Python for videos and volumes")


def read_images(paths: list[str], lg) -> Any:
    """Image files -> a (B, C, H, W) tensor in the model's output range: alpha dropped, the shorter side resized to
    the model's size (bicubic) and centre-cropped. A colour image for a grey model is refused unless its three
    channels are equal; a grey image for a colour model is refused (ValueError naming the file)."""
    import numpy as np
    import torch
    from PIL import Image

    from ..pipelines.images import _to8, read_image

    c, h, w = lg.spec.output_shape
    lo, hi = lg.spec.output_range
    out = []
    for src in paths:
        if Path(src).is_dir():
            raise UsageError(f"{src}: is a folder; give image files")
        a = read_image(src).array
        if a.dtype == np.uint16:
            a = _to8(a)
        colour = 3 if a.shape[2] >= 3 else 1
        a = a[:, :, :colour]
        if colour != c:
            if c == 1 and (a[:, :, 0] == a[:, :, 1]).all() and (a[:, :, 0] == a[:, :, 2]).all():
                a = a[:, :, :1]
            else:
                raise ValueError(f"{src}: a {'colour (RGB)' if colour == 3 else 'grey'} image, and {lg.label} takes "
                                 f"{c}-channel ({'grey' if c == 1 else 'RGB'}) images; convert it first")
        im = Image.fromarray(np.ascontiguousarray(a[:, :, 0] if c == 1 else a), mode="L" if c == 1 else "RGB")
        iw, ih = im.size
        if (iw, ih) != (w, h):
            s = max(w / iw, h / ih)
            nw, nh = max(w, round(iw * s)), max(h, round(ih * s))
            im = im.resize((nw, nh), Image.Resampling.BICUBIC)
            left, top = (nw - w) // 2, (nh - h) // 2
            im = im.crop((left, top, left + w, top + h))
        arr = np.asarray(im, dtype=np.float32).reshape(h, w, c) / 255.0
        out.append(torch.from_numpy(arr).permute(2, 0, 1) * (hi - lo) + lo)
    return torch.stack(out).to(lg.device, lg.dtype)


def save_rows(path: Path, columns: list[Any], value_range: tuple[float, float]) -> Path:
    """One picture: row i = (columns[0][i], columns[1][i], ...), 2 px gaps; written atomically."""
    import torch

    from ..utils import save_image_grid

    b = columns[0].shape[0]
    tiles = torch.stack([col.detach().float().cpu() for col in columns], dim=1).reshape(b * len(columns),
                                                                                         *columns[0].shape[1:])
    return save_image_grid(tiles, path, nrow=len(columns), value_range=value_range)


def _fitting(enc, lg, what: str):
    """A ganzoo DCGANEncoder in the model's dtype, or UsageError (naming ``what``) when it does not fit the model."""
    from .encoders import check_encoder_matches

    try:
        check_encoder_matches(enc, lg)
    except (ValueError, TypeError) as e:
        raise UsageError(f"{what}: {e}") from None
    return enc.to(lg.dtype)


def get_encoder(args: argparse.Namespace, lg):
    """The encoder of --encoder (a torch.export archive, or a ganzoo DCGANEncoder file or folder), a
    LatentEncoder trained for --train-encoder steps, or for an encoder method without either the encoder the model
    ships (UsageError when it has none); None for --method optimize without either."""
    import torch

    if args.encoder and (Path(args.encoder).is_dir() or Path(args.encoder).suffix == ".safetensors"):
        from .encoders import load_encoder

        try:
            enc = load_encoder(args.encoder, device=lg.device)
        except (FileNotFoundError, ValueError) as e:
            raise UsageError(f"--encoder {args.encoder}: {e}") from None
        return _fitting(enc, lg, f"--encoder {args.encoder}")
    if args.encoder:
        try:
            enc = torch.export.load(args.encoder).module()
        except Exception as e:  # noqa: BLE001 - torch.export raises many kinds for a file that is not one
            msg = str(e).splitlines()[0] if str(e) else type(e).__name__
            raise UsageError(f"--encoder {args.encoder}: not a torch.export archive (.pt2) ({msg})") from None
        return enc.to(lg.device) if lg.device.type != "cpu" else enc
    if args.train_encoder:
        from .inversion import LatentEncoder, train_encoder_on_samples

        torch.manual_seed(args.seed)
        enc = LatentEncoder(lg).to(lg.device, lg.dtype)
        hist = train_encoder_on_samples(lg, enc, steps=args.train_encoder, batch_size=64, seed=args.seed,
                                        progress=False if args.no_progress else None)
        logger.info("encoder: latent MSE %.4f after %d steps", hist[-1], args.train_encoder)
        if args.save_encoder:
            from ..utils import atomic_write

            example = torch.zeros(2, *lg.spec.output_shape, device=lg.device, dtype=lg.dtype)
            program = torch.export.export(enc.eval(), (example,),
                                          dynamic_shapes={"x": {0: torch.export.Dim("batch", min=1)}})
            atomic_write(args.save_encoder, lambda f: torch.export.save(program, f))
            print(Path(args.save_encoder).absolute())
        return enc
    if args.method != "optimize":
        from .encoders import published_encoder

        enc = published_encoder(args.model, device=lg.device, local_files_only=args.offline)
        if enc is None:
            raise UsageError(f"--method {args.method} needs an encoder and {args.model} ships none: give "
                             f"--encoder FILE (.pt2 or encoder.safetensors) or --train-encoder STEPS")
        return _fitting(enc, lg, f"the encoder {args.model} ships")
    return None


def inversion_options(args: argparse.Namespace, encoder) -> dict:
    return {"method": args.method, "steps": args.steps, "lr": args.lr, "restarts": args.restarts,
            "prior_weight": args.prior_weight, "feature_weight": args.feature_weight, "encoder": encoder,
            "seed": args.seed, "progress": False if args.no_progress else None}


def parse_assignment(text: str, flag: str) -> tuple[str, str]:
    name, sep, value = text.partition("=")
    name = name.strip()
    if not sep or not name or not value.strip():
        raise UsageError(f"{flag} {text!r}: expected NAME=VALUE")
    return name, value.strip()


def parse_strength(text: str) -> tuple[str, float]:
    name, value = parse_assignment(text, "--strength")
    try:
        v = float(value)
    except ValueError:
        raise UsageError(f"--strength {text!r}: expected NAME=NUMBER, e.g. smile=1.5") from None
    if not math.isfinite(v):
        raise UsageError(f"--strength {text!r}: expected a finite number")
    return name, v


def load_vector(path: str, dim: int, name: str):
    """A (dim,) float32 tensor from .npy (numpy) or .pt / .pth (a tensor, torch.load(weights_only=True))."""
    import numpy as np
    import torch

    p = Path(path)
    if not p.is_file():
        raise UsageError(f"--vector {name}={path}: no such file")
    suffix = p.suffix.lower()
    try:
        if suffix == ".npy":
            v = torch.from_numpy(np.asarray(np.load(p, allow_pickle=False), dtype=np.float32))
        elif suffix in (".pt", ".pth"):
            v = torch.load(p, map_location="cpu", weights_only=True)
            if not isinstance(v, torch.Tensor):
                raise ValueError(f"holds a {type(v).__name__}, not a tensor")
            v = v.float()
        else:
            raise UsageError(f"--vector {name}={path}: expected a .npy or .pt file")
    except (OSError, ValueError, RuntimeError) as e:
        if isinstance(e, UsageError):
            raise
        raise UsageError(f"--vector {name}={path}: cannot read it ({e})") from None
    v = v.reshape(-1) if v.dim() == 2 and v.shape[0] == 1 else v
    if tuple(v.shape) != (dim,):
        raise UsageError(f"--vector {name}={path}: shape {tuple(v.shape)}, expected ({dim},) (the model's latent "
                         f"size)")
    return v


def save_array(path: str | os.PathLike, t: Any) -> Path:
    """A tensor to .npy (float32) or .pt, atomically."""
    import io

    import numpy as np
    import torch

    from ..utils import atomic_write

    p = Path(path)
    if p.suffix.lower() == ".npy":
        buf = io.BytesIO()
        np.save(buf, t.detach().float().cpu().numpy())
        return atomic_write(p, buf.getvalue())
    return atomic_write(p, lambda f: torch.save(t.detach().cpu().clone(), f))
