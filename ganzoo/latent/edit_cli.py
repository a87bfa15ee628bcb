"""``ganzoo edit``: move images along attribute vectors in the latent space (invert, add, generate).

    ganzoo edit ./faces-gan face.png -o edited.png --vector smile=smile.npy --strength smile=1.5
    ganzoo edit ./faces-gan face.png -o edited.png --vector smile=smile.npy --vector age=age.pt --strength age=-1
    ganzoo edit ./faces-gan face.png -o edited.png --attribute-images smiling/ neutral/ --save-vector smile.npy

The image's code z comes from the inversion options (as ``ganzoo invert``: --method, --steps, --encoder,
--train-encoder ...); the output is G(z + sum of strength * vector). --vector NAME=FILE: a (dim,) vector in .npy
or .pt (repeatable). --attribute-images WITH_DIR WITHOUT_DIR: compute the vector (named --attribute-name,
default "attribute") as the mean code of the images in WITH_DIR minus that of WITHOUT_DIR, inverted the same way;
--save-vector keeps it. --strength NAME=S (repeatable; default 1 for every vector). OUT: one picture, a row per
image: the input, its reconstruction G(z), the edit. Only image models. Exit status 0 when written; 1 for a user
error (one line on stderr); 2 for usage errors. Files are written atomically.
"""
from __future__ import annotations

import argparse
import logging
from pathlib import Path

from ..pipelines.cli import _SUFFIXES, UsageError
from ._cli import PICTURES, add_inversion_arguments, add_model_arguments, parse_assignment, parse_strength

logger = logging.getLogger("ganzoo.latent")


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Options of ``ganzoo edit``."""
    p.description = "Edit images along latent attribute vectors: G(invert(x) + strength * vector)."
    p.epilog = __doc__.split("\n\n", 1)[1]
    p.formatter_class = argparse.RawDescriptionHelpFormatter
    add_model_arguments(p)
    p.add_argument("inputs", nargs="+", metavar="IMAGE", help="image file(s) to edit")
    p.add_argument("-o", "--output", required=True, metavar="OUT",
                   help="picture: per image, the input, its reconstruction and the edit side by side")
    p.add_argument("--vector", action="append", default=[], metavar="NAME=FILE",
                   help="an attribute vector (.npy or .pt, shape (dim,)); repeatable")
    p.add_argument("--strength", action="append", default=[], metavar="NAME=S",
                   help="strength of a vector (negative removes the attribute; default 1); repeatable")
    p.add_argument("--attribute-images", nargs=2, metavar=("WITH_DIR", "WITHOUT_DIR"), dest="attribute_images",
                   help="compute a vector from folders of images with and without the attribute")
    p.add_argument("--attribute-name", default="attribute", dest="attribute_name",
                   help="name of the vector --attribute-images computes (default: attribute)")
    p.add_argument("--save-vector", metavar="FILE", dest="save_vector",
                   help="write the vector --attribute-images computes (.npy or .pt)")
    add_inversion_arguments(p)


def _folder_images(folder: str) -> list[str]:
    d = Path(folder)
    if not d.is_dir():
        raise UsageError(f"--attribute-images {folder}: no such folder")
    files = sorted(str(p) for p in d.iterdir() if p.is_file() and p.suffix.lower() in _SUFFIXES
                   and not p.name.startswith("."))
    if not files:
        raise UsageError(f"--attribute-images {folder}: holds no .png/.jpg/.jpeg/.webp image")
    return files


def run(args: argparse.Namespace) -> int:
    """Run ``ganzoo edit`` (module docstring); user errors raise and ``ganzoo.cli.main`` prints them."""
    from ..pipelines.images import read_image
    from ._cli import check_inversion_args, check_output

    out = check_output(args.output, args.overwrite, PICTURES)
    vectors_files = dict(parse_assignment(t, "--vector") for t in args.vector)
    if len(vectors_files) != len(args.vector):
        raise UsageError("--vector: a name is given twice")
    strengths = dict(parse_strength(t) for t in args.strength)
    if len(strengths) != len(args.strength):
        raise UsageError("--strength: a name is given twice")
    if args.attribute_images:
        if args.attribute_name in vectors_files:
            raise UsageError(f"--attribute-name {args.attribute_name!r} is also a --vector name")
        with_files, without_files = (_folder_images(f) for f in args.attribute_images)
    elif args.save_vector:
        raise UsageError("--save-vector writes the vector --attribute-images computes; give --attribute-images")
    if not vectors_files and not args.attribute_images:
        raise UsageError("no attribute vector: give --vector NAME=FILE or --attribute-images WITH_DIR WITHOUT_DIR")
    names = set(vectors_files) | ({args.attribute_name} if args.attribute_images else set())
    unknown = sorted(set(strengths) - names)
    if unknown:
        raise UsageError(f"--strength {unknown[0]}=...: no vector named {unknown[0]!r} (vectors: "
                         f"{', '.join(sorted(names))})")
    for n in names:
        strengths.setdefault(n, 1.0)
    if args.save_vector:
        check_output(args.save_vector, args.overwrite, (".npy", ".pt"), "--save-vector")
    check_inversion_args(args)
    for src in args.inputs:
        if Path(src).is_dir():
            raise UsageError(f"{src}: is a folder; give image files")
        read_image(src)
    from ._cli import (get_encoder, image_models_only, inversion_options, load_model, load_vector, read_images,
                       save_array, save_rows, z_only)
    from .attributes import attribute_vector, edit
    from .inversion import invert

    model = load_model(args)
    lg = z_only(model, "edit")
    image_models_only(lg, "edit")
    vectors = {n: load_vector(f, lg.dim, n) for n, f in vectors_files.items()}
    x = read_images(args.inputs, lg)
    enc = get_encoder(args, lg)
    opts = inversion_options(args, enc)
    if args.attribute_images:
        xw, xo = read_images(with_files, lg), read_images(without_files, lg)
        v = attribute_vector(lambda imgs: invert(lg, imgs, **opts), xw, xo)
        vectors[args.attribute_name] = v
        logger.info("attribute vector %r from %d + %d images: norm %.3g", args.attribute_name, len(with_files),
                    len(without_files), float(v.norm()))
        if args.save_vector:
            save_array(args.save_vector, v)
    res = edit(lg, x, strengths, vectors, inversion=opts)
    save_rows(out, [x, res.reconstruction, res.outputs], lg.spec.output_range)
    psnr = res.inversion.psnr.tolist() if res.inversion is not None else [float("nan")] * len(args.inputs)
    for src, p in zip(args.inputs, psnr):
        print(f"{src}: reconstruction PSNR {p:.2f} dB; edited with "
              + ", ".join(f"{n} x {s:g}" for n, s in sorted(strengths.items())))
    print(out)
    if args.save_vector:
        print(Path(args.save_vector).absolute())
    return 0
