"""``ganzoo invert``: find the latent codes of image files (GAN inversion) and show the reconstructions.

    ganzoo invert dcgan.mnist digit.png -o rec.png                               # Adam on z, 4 random starts
    ganzoo invert ./my-dcgan a.png b.png -o rec.png --steps 1000 --save-z z.npy
    ganzoo invert dcgan.mnist d.png -o rec.png --method encoder+optimize --train-encoder 2000 --save-encoder e.pt2
    ganzoo invert dcgan.mnist d.png -o rec.png --method encoder --encoder e.pt2  # one forward pass, no optimisation
    ganzoo invert dcgan_32.polygons shape.png -o rec.png --method encoder+optimize  # the encoder the tag ships

Images are read (alpha dropped), resized (shorter side to the model's size, bicubic) and centre-cropped; a grey
image for an RGB model, or a colour one for a grey model, is refused. --encoder takes a torch.export archive (.pt2)
or a ganzoo encoder (encoder.safetensors, or a folder holding one: a BiGAN run folder); the encoder methods without
--encoder or --train-encoder use the encoder the model ships beside its weights (its repo's encoder.safetensors,
sha256-checked against encoder.json), and say so when it has none. OUT: one picture, a row per image: the input
as the model sees it, then the reconstruction G(z). One line per image is printed: its PSNR (on [0, 1]) and the
time per image (the images are inverted together: the total time divided by their number). --save-z writes the
codes (N, dim), float32: .npy (numpy) or .pt (torch). Only image models (not TGAN, 3D-GAN or DR-GAN).
Exit status 0 when written; 1 for a user error (one line on stderr); 2 for usage errors. Files are written
atomically.
"""
from __future__ import annotations

import argparse
import logging

from ..pipelines.cli import UsageError
from ._cli import PICTURES, add_inversion_arguments, add_model_arguments

logger = logging.getLogger("ganzoo.latent")


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Options of ``ganzoo invert``."""
    p.description = "Invert a generator on image files: latent codes z with G(z) close to each image."
    p.epilog = __doc__.split("\n\n", 1)[1]
    p.formatter_class = argparse.RawDescriptionHelpFormatter
    add_model_arguments(p)
    p.add_argument("inputs", nargs="+", metavar="IMAGE", help="image file(s)")
    p.add_argument("-o", "--output", required=True, metavar="OUT",
                   help="picture: per image, the input and its reconstruction side by side")
    p.add_argument("--save-z", metavar="FILE", dest="save_z", help="write the codes (N, dim) to .npy or .pt")
    add_inversion_arguments(p)


def run(args: argparse.Namespace) -> int:
    """Run ``ganzoo invert`` (module docstring); user errors raise and ``ganzoo.cli.main`` prints them."""
    from pathlib import Path

    from ..pipelines.images import read_image
    from ._cli import check_inversion_args, check_output

    out = check_output(args.output, args.overwrite, PICTURES)
    if args.save_z:
        check_output(args.save_z, args.overwrite, (".npy", ".pt"), "--save-z")
    check_inversion_args(args)
    for src in args.inputs:
        if Path(src).is_dir():
            raise UsageError(f"{src}: is a folder; give image files")
        read_image(src)  # a missing or unreadable image is reported before the model loads
    from ._cli import (get_encoder, image_models_only, inversion_options, load_model, read_images, save_array,
                       save_rows, z_only)
    from .inversion import invert

    model = load_model(args)
    lg = z_only(model, "invert")
    image_models_only(lg, "invert")
    x = read_images(args.inputs, lg)
    enc = get_encoder(args, lg)
    res = invert(lg, x, **inversion_options(args, enc))
    save_rows(out, [x, res.reconstruction], lg.spec.output_range)
    if args.save_z:
        save_array(args.save_z, res.z)
    per = res.time_s / len(args.inputs)
    for src, p, m in zip(args.inputs, res.psnr.tolist(), res.mse.tolist()):
        print(f"{src}: PSNR {p:.2f} dB, MSE {m:.4g}, {per:.2f} s ({res.method}, {res.steps} steps)")
    print(out)
    if args.save_z:
        print(Path(args.save_z).absolute())
    return 0
