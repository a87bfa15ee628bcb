"""``ganzoo interpolate``: walk the latent space of a model between codes, as a picture strip or an animation.

    ganzoo interpolate dcgan.mnist -o strip.png                          # 8 steps between two codes of --seed 0
    ganzoo interpolate dcgan.mnist -o morph.gif --steps 24 --seeds 3,7   # from the code of seed 3 to seed 7
    ganzoo interpolate ./my-dcgan -o walk.gif --walk 6 --steps 16        # a looping walk through 6 random codes
    ganzoo interpolate tgan -o clips.gif --steps 4                       # TGAN: the videos of the path, tiled
    ganzoo interpolate gan3d -o chairs.png --steps 5 --method linear     # 3D-GAN: renders, one row per step

Codes: --seed S draws the two endpoints (or --walk K's keyframes) from one generator seeded S; --seeds A,B takes
the code ``ganzoo sample -n 1 --seed A`` draws, and the one of seed B. --method slerp (default; about the prior's
centre for uniform priors) or linear. OUT: for image models a picture (.png .jpg .jpeg .webp .bmp .tif .tiff: one
row of --steps images; a walk: one row per segment) or an animation (.gif .mp4, --fps); TGAN and 3D-GAN write
their ``ganzoo sample`` formats (TGAN .gif/.mp4 tiled videos or a frame grid; 3D-GAN shaded renders, meshes with
{i} per step, or .npy). Models whose generator takes other inputs than z (DR-GAN) are refused: use ganzoo.latent.
Exit status 0 when written; 1 for a user error (one line on stderr); 2 for usage errors. OUT is written atomically.
"""
from __future__ import annotations

import argparse
import logging
import math

from ..pipelines.cli import UsageError
from ._cli import PICTURES, add_model_arguments, positive_int

logger = logging.getLogger("ganzoo.latent")

_ANIMATIONS = (".gif", ".mp4")


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Options of ``ganzoo interpolate``."""
    p.description = "Interpolate between latent codes of a model (slerp or linear), or walk through random codes."
    p.epilog = __doc__.split("\n\n", 1)[1]
    p.formatter_class = argparse.RawDescriptionHelpFormatter
    add_model_arguments(p)
    p.add_argument("-o", "--output", required=True, metavar="OUT",
                   help="picture (one row per path) or animation (.gif/.mp4); TGAN / 3D-GAN: their sample formats")
    p.add_argument("--steps", type=positive_int, default=8,
                   help="images per path, both ends included (with --walk: frames per segment) (default: 8)")
    p.add_argument("--method", choices=("slerp", "linear"), default="slerp", help="default: slerp")
    p.add_argument("--seed", type=int, default=0, help="seed of the endpoints or keyframes (default: 0)")
    p.add_argument("--seeds", metavar="A,B", help="the endpoints: the codes of seeds A and B")
    p.add_argument("--walk", type=positive_int, metavar="K", help="a looping walk through K >= 2 random keyframes")
    p.add_argument("--fps", type=float, default=8.0, help="frames per second of .gif / .mp4 (default: 8)")


def _seeds(text: str) -> tuple[int, int]:
    parts = [t.strip() for t in text.split(",")]
    try:
        a, b = (int(t) for t in parts)
    except ValueError:
        raise UsageError(f"--seeds {text!r}: expected two ints A,B (e.g. 3,7)") from None
    if a < 0 or b < 0:
        raise UsageError(f"--seeds {text!r}: seeds must be >= 0")
    return a, b


def run(args: argparse.Namespace) -> int:
    """Run ``ganzoo interpolate`` (module docstring); user errors raise and ``ganzoo.cli.main`` prints them."""
    from ..pipelines.samples import output_kind, peek_model
    from ._cli import check_output

    seeds = _seeds(args.seeds) if args.seeds else None
    if seeds is not None and args.walk:
        raise UsageError("give --seeds A,B (two endpoints) or --walk K (random keyframes), not both")
    if args.walk is not None and args.walk < 2:
        raise UsageError(f"--walk needs at least 2 keyframes, got {args.walk}")
    if args.walk is None and args.steps < 2:
        raise UsageError(f"--steps must be >= 2 (both endpoints are included), got {args.steps}")
    if args.seed < 0:
        raise UsageError(f"--seed must be >= 0, got {args.seed}")
    if not (math.isfinite(args.fps) and 0 < args.fps <= 100):
        raise UsageError(f"--fps must be in (0, 100] (frames per second), got {args.fps:g}")
    peek = peek_model(args.model)
    kind = output_kind(peek[0]) if peek is not None else None
    if kind == "image":
        out = check_output(args.output, args.overwrite, PICTURES + _ANIMATIONS)
    else:
        out = check_output(args.output, args.overwrite, None)  # the family's formats are checked once it is known
    from ._cli import load_model, z_only
    from ._core import make_generator
    from .interpolation import interpolate, latent_walk, write_interpolation

    model = load_model(args)
    lg = z_only(model, "interpolate")
    n = args.walk * args.steps if args.walk else args.steps
    if lg.spec.kind == "image":
        if out.suffix.lower() not in PICTURES + _ANIMATIONS:
            raise UsageError(f"-o {args.output}: image models write {', '.join(PICTURES + _ANIMATIONS)}")
    else:
        from ..pipelines.samples import plan_sample_output

        plan_sample_output(args.output, lg.family, n)  # the family's formats, checked before anything runs
    if args.walk:
        outputs = latent_walk(lg, args.walk, args.steps, seed=args.seed, method=args.method)
        nrow = args.steps
    else:
        if seeds is not None:
            z0 = lg.sample(1, make_generator(seeds[0]))
            z1 = lg.sample(1, make_generator(seeds[1]))
        else:
            z0, z1 = lg.sample(2, make_generator(args.seed)).split(1)
        outputs = interpolate(lg, z0, z1, args.steps, args.method)
        nrow = args.steps
    paths = write_interpolation(out, outputs, model=lg, nrow=nrow, fps=args.fps)
    logger.info("wrote %d interpolated samples of %s", outputs.shape[0], args.model)
    for p in paths:
        print(p)
    return 0
