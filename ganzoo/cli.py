"""The ``ganzoo`` command: list, info, sample, download, export, bench, train.

``export`` and ``bench`` live in ganzoo.export.cli and ganzoo.bench.cli (each provides ``add_arguments(parser)``
and ``run(args) -> int``) and are imported only when their subcommand runs, so ``ganzoo list`` stays fast.
"""
from __future__ import annotations

import argparse
import importlib
import json
import logging
import sys
from pathlib import Path
from typing import Sequence

logger = logging.getLogger("ganzoo")

# subcommand -> module providing add_arguments(parser) and run(args)
_PLUGINS = {
    "export": ("ganzoo.export.cli", "export a model to ONNX, TensorRT or a Triton model repository"),
    "bench": ("ganzoo.bench.cli", "benchmark backends side by side"),
    "upscale": ("ganzoo.pipelines.cli", "super-resolve image files or folders with an SR model"),
    "convert": ("ganzoo.hub.cli", "convert a third-party checkpoint into a save_pretrained folder"),
    "inpaint": ("ganzoo.pipelines.inpainting_cli", "fill holes in images with an inpainting model"),
    "rotate": ("ganzoo.pipelines.rotation_cli", "turn faces to another pose with DR-GAN (frontalise, pose sweep, "
                                              "fusion of several images)"),
    "interpolate": ("ganzoo.latent.interpolate_cli", "interpolate between latent codes (slerp / linear) or walk "
                                                     "through them: a picture strip or an animation"),
    "invert": ("ganzoo.latent.invert_cli", "find the latent codes of images (GAN inversion) and show the "
                                           "reconstructions"),
    "edit": ("ganzoo.latent.edit_cli", "edit images along latent attribute vectors"),
}


def _console():
    from rich.console import Console

    # Piped output (files, CI logs, tests) gets full rows instead of a table folded to 80 columns.
    return Console() if sys.stdout.isatty() else Console(width=240)


def cmd_list(args: argparse.Namespace) -> int:
    # Reads the registry index: no torch, no model module is imported (ganzoo.registry).
    import ganzoo

    names = ganzoo.list_models(args.pattern or "*")
    infos = []
    for n in names:
        default = ganzoo.model_info(n)
        infos += [(default, ganzoo.model_info(f"{n}.{t}")) for t in default.tags]
    if args.json:
        print(json.dumps([info.to_dict() for _, info in infos], indent=2))
        return 0
    from rich.table import Table

    table = Table(title=f"ganzoo {ganzoo.__version__}: {len(names)} models")
    for col in ("model.tag", "family", "weights", "params G / D", "input", "output", "fp16", "dataset / paper"):
        table.add_column(col, overflow="fold")
    for default, info in infos:
        c, sp, n = info.pretrained_cfg, info.specs, info.num_parameters
        table.add_row(
            f"{info.name}.{info.tag}" + (" (default)" if info.tag == default.tag else ""),
            info.family,
            "yes" if c.has_weights else "-",
            f"{_millions(n['generator'])} / {_millions(n['discriminator'])}",
            "; ".join(f"{s.name} {_shape(s.shape)}" for s in sp.inputs),
            "; ".join(f"{s.name} {_shape(s.shape)} {_range(s.range)}" for s in sp.outputs),
            "yes" if c.half_precision else "no",
            c.dataset or c.paper,
        )
    _console().print(table)
    return 0


def _millions(n: int) -> str:
    return f"{n / 1e6:.1f}M" if n >= 100_000 else f"{n:,}"


def _shape(shape) -> str:
    return "(" + ", ".join(str(d) for d in shape) + ")"


def _range(r) -> str:
    return f"in [{r[0]:g}, {r[1]:g}]" if r else ""


def cmd_info(args: argparse.Namespace) -> int:
    import ganzoo

    info = ganzoo.model_info(args.name)  # the registry index: nothing is built
    d = info.to_dict()
    if args.json:
        print(json.dumps(d, indent=2))
        return 0
    from rich.pretty import Pretty

    con = _console()
    c = info.pretrained_cfg
    con.print(f"[bold]{info.name}.{info.tag}[/bold]  family={info.family}  tags={', '.join(info.tags)}")
    con.print(f"{c.description}\npaper: {c.paper} {c.paper_url}\nlicense: {c.license}")
    con.print(f"weights: {c.hub_id or 'none published'}" + (f" @ {c.revision}" if c.revision else "")
              + (f"  sha256={c.sha256}" if c.sha256 else ""))
    con.print(f"parameters: generator {info.num_parameters['generator']:,}, "
              f"discriminator {info.num_parameters['discriminator']:,}")
    for s in info.specs.inputs:
        con.print(f"input  {s.name}: {_shape(s.shape)} {s.dtype} {_range(s.range)}  {s.description}")
    for s in info.specs.outputs:
        con.print(f"output {s.name}: {_shape(s.shape)} {s.dtype} {_range(s.range)}  {s.description}")
    con.print(Pretty(info.config))
    return 0


#: The most samples ``ganzoo sample`` draws into one grid.
MAX_SAMPLES = 1024


def cmd_sample(args: argparse.Namespace) -> int:
    import math

    import torch

    import ganzoo
    from ganzoo.pipelines.samples import (check_any_sample_output, family_of, peek_model, plan_sample_output,
                                          write_samples)
    from ganzoo.utils import resolve_device

    # Every user error is found before the model loads (the family, hence the formats, from the registry or the
    # folder's config.json; hf-hub: names and weights files only tell once loaded: see ganzoo.pipelines.samples).
    if not 1 <= args.n <= MAX_SAMPLES:
        raise ValueError(f"-n must be between 1 and {MAX_SAMPLES} (the number of samples in the grid), got {args.n}")
    if not (math.isfinite(args.fps) and 0 < args.fps <= 100):
        raise ValueError(f"--fps must be in (0, 100] (frames per second of .gif / .mp4 videos), got {args.fps:g}")
    device = resolve_device(args.device)
    peek = peek_model(args.name)
    if peek is not None:
        plan = plan_sample_output(args.output, peek[0], args.n)
    else:
        check_any_sample_output(args.output)
    model = ganzoo.load(args.name, device=device, local_files_only=args.offline)
    if peek is None:
        plan = plan_sample_output(args.output, family_of(model), args.n)
    model.eval()
    gen = torch.Generator(device=device).manual_seed(args.seed)
    with torch.no_grad():
        inputs = model.sample_inputs(args.n, generator=gen, device=device)
        out = model(*inputs)
    if isinstance(out, (tuple, list)):
        out = out[0]
    value_range = model.specs.outputs[0].range or (-1.0, 1.0)
    paths = write_samples(plan, out, value_range, fps=args.fps)
    logger.info("wrote %d samples of %s to %s", args.n, args.name, ", ".join(map(str, paths[:3]))
                + (" ..." if len(paths) > 3 else ""))
    for path in paths:
        print(path)
    return 0


_SAMPLE_EPILOG = """\
The -o suffix picks the format, per family:
  image models  .png .jpg .jpeg .webp .bmp .tif .tiff: one grid picture
  TGAN          .gif .mp4: the videos tiled into one grid video (--fps); a picture suffix: a grid of frames,
                one row per video, one column per frame
  3D-GAN        .obj .ply .stl: one mesh per sample (the surface at occupancy 0.5); a picture suffix: shaded
                renders, one row per sample, one column per view; .npy: the raw occupancy (n, 1, D, H, W)
One file per sample (TGAN, 3D-GAN): put {i} in the name, e.g. -o clip_{i}.gif or -o chair_{i:03d}.obj (Python
format syntax). Meshes of several samples without {i} go to NAME_000.obj, NAME_001.obj, ...; -n 1 writes NAME.obj.
Files are written atomically; each path written is printed.
"""


def cmd_download(args: argparse.Namespace) -> int:
    from ganzoo.factory import download

    path = download(args.name, revision=args.revision, source=args.source)
    print(path)
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    """The tour (registry, verified weights from the embedded hub, samples, a save/load round trip, a validated
    export) and an HTML page of it: ``OUTPUT/index.html`` (see ganzoo.demo)."""
    from ganzoo.demo import run_demo

    out = Path(args.output).expanduser()
    if out.exists() and not out.is_dir():
        raise ValueError(f"-o {args.output}: exists and is not a folder (demo writes a folder of files)")
    con = _console()
    result = run_demo(args.output, args.name, seed=args.seed,
                      echo=lambda line: con.print(line, markup=False, highlight=False))
    print(result.index)
    return 0 if result.ok else 1


#: ``ganzoo train RECIPE ...`` -> the recipe module (each has ``main(argv)``); without a recipe name: dcgan
TRAIN_RECIPES = {"dcgan": "ganzoo.train.dcgan", "pggan_inpaint": "ganzoo.train.pggan_inpaint",
                 "sr": "ganzoo.train.sr", "gan3d": "ganzoo.train.gan3d", "tgan": "ganzoo.train.tgan",
                 "drgan": "ganzoo.train.drgan", "bigan": "ganzoo.train.bigan"}


def cmd_train(args: argparse.Namespace) -> int:
    rest = list(args.rest)
    name = rest.pop(0) if rest and rest[0] in TRAIN_RECIPES else "dcgan"
    importlib.import_module(TRAIN_RECIPES[name]).main(rest)
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="ganzoo", description="A zoo of paper-faithful GANs.")
    p.add_argument("-v", "--verbose", action="count", default=0, help="more logging (-vv for debug)")
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("list", help="list models and weight tags")
    s.add_argument("pattern", nargs="?", help="fnmatch pattern, e.g. 'sr*'")
    s.add_argument("--json", action="store_true", help="print every tag's metadata as JSON")
    s.set_defaults(func=cmd_list)

    s = sub.add_parser("info", help="metadata of one model or model.tag")
    s.add_argument("name")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_info)

    s = sub.add_parser("sample", help="generate samples: a picture grid, videos (.gif/.mp4), meshes "
                                      "(.obj/.ply/.stl) or .npy volumes, by -o's suffix",
                       epilog=_SAMPLE_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    s.add_argument("name")
    s.add_argument("-n", type=int, default=64, help="number of samples (default 64)")
    s.add_argument("-o", "--output", default="grid.png",
                   help="output file; its suffix picks the format (below); {i} = one file per sample "
                        "(default grid.png)")
    s.add_argument("--fps", type=float, default=8.0, help="frames per second of .gif / .mp4 videos (default 8)")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--device", default="cpu")
    s.add_argument("--offline", action="store_true", help="use cached/embedded files only")
    s.set_defaults(func=cmd_sample)

    s = sub.add_parser("download", help="fetch (and verify) a model's weights; prints the local folder")
    s.add_argument("name")
    s.add_argument("--revision")
    s.add_argument("--source", choices=["auto", "embedded", "remote"], default="auto")
    s.set_defaults(func=cmd_download)

    s = sub.add_parser("demo", help="a tour on the embedded hub (load, sample, save/load round trip, export) "
                                    "written as OUTPUT/index.html")
    s.add_argument("name", nargs="?", default="dcgan")
    s.add_argument("-o", "--output", default="ganzoo-demo")
    s.add_argument("--seed", type=int, default=0)
    s.set_defaults(func=cmd_demo)

    s = sub.add_parser("train", help="run a training recipe: ganzoo train [dcgan] OPTIONS (--help lists them)",
                       add_help=False)
    s.add_argument("rest", nargs=argparse.REMAINDER)
    s.set_defaults(func=cmd_train)

    for name, (module, help_) in _PLUGINS.items():
        s = sub.add_parser(name, help=help_)
        s.set_defaults(plugin=module)
        try:
            importlib.import_module(module).add_arguments(s)
        except ImportError as e:  # the subcommand's module is missing: say so when it is used
            s.set_defaults(plugin_error=str(e))
    return p


def main(argv: Sequence[str] | None = None) -> int:
    from ganzoo.errors import GanzooError

    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    # `train` hands every argument after it, in order, to the recipe's own parser (argparse.REMAINDER alone
    # mis-parses leading options such as --model); anything unknown is refused for the other commands.
    args, unknown = parser.parse_known_args(argv)
    if args.command == "train":
        args.rest = argv[argv.index("train") + 1:]
    elif unknown:
        parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    logging.basicConfig(level=[logging.WARNING, logging.INFO, logging.DEBUG][min(args.verbose, 2)],
                        format="%(levelname)s %(name)s: %(message)s")
    try:
        if getattr(args, "plugin", None):
            if getattr(args, "plugin_error", None):
                print(f"ganzoo {args.command}: unavailable ({args.plugin_error})", file=sys.stderr)
                return 2
            return importlib.import_module(args.plugin).run(args)
        return args.func(args)
    except (GanzooError, ValueError, OSError) as e:
        # A user error (bad argument, missing or unwritable file, unknown model, failed check): one line, exit 1.
        print(f"ganzoo {args.command}: error: {one_line(e)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"ganzoo {args.command}: interrupted", file=sys.stderr)
        return 130


def one_line(e: BaseException) -> str:
    """An error's message on one line (multi-line messages joined with '; ')."""
    msg = str(e) or type(e).__name__
    return "; ".join(part.strip() for part in msg.splitlines() if part.strip())


if __name__ == "__main__":
    sys.exit(main())
