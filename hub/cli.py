"""``ganzoo convert``: a third-party checkpoint (or bare ganzoo weights) -> a save_pretrained folder.

    ganzoo convert SRGAN_x2-ImageNet.pth.tar -o srgan-x2/ --allow-pickle     # Lornatang port, detected
    ganzoo convert gan_generator.h5 -o srgan-div2k/                           # krasserm Keras weights
    ganzoo convert netG.pth -o dcgan-faces/ --family dcgan --allow-pickle
    ganzoo convert weights.pt -o out/ --model srresnet --allow-pickle         # name the model to build
    ganzoo convert --list                                                     # the layouts it knows

The family, layout, hyper-parameters and I/O convention are detected as ``ganzoo.load(PATH)`` does; the folder
loads back with ``ganzoo.from_pretrained(DIR)`` (or ``ganzoo.load(DIR)``) to the same weights, bit for bit, and
its config.json records the source file, its sha256 and the layout. Exit codes: 0 written, 1 bad input (unknown
layout, wrong family, pickle without --allow-pickle, missing file, output folder in use), 2 h5py missing.

Nothing heavy is imported at module level: ``ganzoo`` builds its parser from this module.
"""
from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

logger = logging.getLogger("ganzoo.hub")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Options of ``ganzoo convert``."""
    parser.add_argument("input", nargs="?", help="checkpoint file: .safetensors, Keras .h5, or a pickle "
                                                 "(.pth/.pt/.pth.tar/.tar/.ckpt, with --allow-pickle)")
    parser.add_argument("-o", "--output", help="folder to write (config.json, model.safetensors, README.md)")
    parser.add_argument("--family", default=None, help="only consider this family (e.g. srgan, dcgan)")
    parser.add_argument("--layout", default=None, help="only consider this layout (e.g. lornatang, krasserm, ganzoo)")
    parser.add_argument("--model", default=None,
                        help="registered model (or model.tag) to build, e.g. srresnet; default: the detected one")
    parser.add_argument("--allow-pickle", action="store_true",
                        help="read pickled checkpoints (through torch.load(weights_only=True))")
    parser.add_argument("--dtype", choices=("float32", "float16", "bfloat16"), default=None,
                        help="store floating tensors in this precision (default: as the model, float32)")
    parser.add_argument("--force", action="store_true", help="write into a folder that already holds a model")
    parser.add_argument("--list", action="store_true", help="list the known layouts and exit")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")


def _list_layouts(as_json: bool) -> int:
    from ganzoo.hub.converters import list_converters

    rows = [{"family": c.family, "layout": c.layout, "description": c.description, "infers_config": c.infer is not None}
            for c in list_converters()]
    rows.append({"family": "*", "layout": "ganzoo", "description": "ganzoo's own generator.* / discriminator.* "
                 "keys (config from the file's metadata, or from shapes)", "infers_config": True})
    if as_json:
        print(json.dumps(rows, indent=2))
    else:
        for r in rows:
            print(f"{r['family']}/{r['layout']}: {r['description']}")
    return 0


def run(args: argparse.Namespace) -> int:
    if args.list:
        return _list_layouts(args.json)
    if not args.input or not args.output:
        print("ganzoo convert: error: give a checkpoint file and -o DIR (or --list)", file=sys.stderr)
        return 1
    src, out = Path(args.input), Path(args.output)
    if not src.is_file():
        raise FileNotFoundError(f"no such checkpoint file: {src}" + (" (it is a folder)" if src.is_dir() else ""))
    if out.exists() and not out.is_dir():
        print(f"ganzoo convert: error: {out} exists and is not a folder", file=sys.stderr)
        return 1
    if (out / "config.json").exists() and not args.force:
        print(f"ganzoo convert: error: {out} already holds a model (config.json); pass --force to overwrite it",
              file=sys.stderr)
        return 1
    import ganzoo
    from ganzoo.factory import load_file
    from ganzoo.utils import FLOAT_DTYPES

    try:
        if args.model:
            model = ganzoo.load(args.model, pretrained=src, allow_pickle=args.allow_pickle, layout=args.layout,
                                family=args.family)
        else:
            model = load_file(src, family=args.family, layout=args.layout, allow_pickle=args.allow_pickle)
    except ImportError as e:  # h5py for Keras files
        print(f"ganzoo convert: unavailable: {e}", file=sys.stderr)
        return 2
    dtype = None if args.dtype in (None, "float32") else FLOAT_DTYPES[args.dtype]
    pc = model.pretrained_cfg
    # Only the networks the file held: a discriminator the checkpoint lacks is not published as weights.
    parts = tuple(pc.source_parts) if pc is not None and pc.source_parts else ("generator", "discriminator")
    folder = ganzoo.save_pretrained(model, out, dtype=dtype, notes=_notes(model), parts=parts, overwrite=args.force)
    result = {"folder": str(folder), "model_name": model.model_name, "layout": pc.source_layout if pc else None,
              "networks": list(pc.source_parts) if pc else [], "source": pc.source if pc else str(src),
              "source_sha256": pc.sha256 if pc else None, "config": model.config.to_dict()}
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(f"{src} ({result['layout']} layout, {' + '.join(result['networks'])}) -> {model.model_name} in {folder}")
    return 0


def _notes(model) -> str:
    pc = model.pretrained_cfg
    if pc is None or not pc.source:
        return ""
    lacking = [n for n in ("generator", "discriminator") if n not in pc.source_parts]
    lines = ["## Source", "",
             f"Converted by `ganzoo convert` from `{Path(pc.source).name}` (sha256 `{pc.sha256}`), "
             f"layout `{pc.source_layout}`, networks: {', '.join(pc.source_parts)}."]
    if lacking:
        lines.append(f"The {lacking[0]} was not in the file, so this folder holds no weights for it (loading leaves "
                     f"it at its random initialisation).")
    lines.append("State the source's license and attribution here before publishing these weights.")
    return "\n".join(lines)
