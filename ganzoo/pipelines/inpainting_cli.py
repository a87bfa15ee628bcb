"""``ganzoo inpaint``: fill holes in image files and folders with an inpainting model.

    ganzoo inpaint photo.png --mask holes.png -o filled.png
    ganzoo inpaint photo.jpg --mask-rect 40,30,64,48 --mask-rect 120,10,16,16 -o filled.webp
    ganzoo inpaint shots/ --mask masks/ -o filled/ --model ./my-inpaint-model --device cuda

Masks: white (grey >= 128, and opaque where the mask has alpha) = hole, black = known (ganzoo.pipelines.inpainting).
--mask FILE is the mask of one image; --mask FOLDER holds one mask per image, matched by file stem (photo.jpg takes
FOLDER/photo.png, .jpg, .jpeg or .webp). --mask-rect x,y,w,h (left column, top row, width, height; repeatable)
marks rectangular holes instead, the same for every image (their union), each inside the image.

Inputs, outputs, formats, --overwrite and --recursive work as for ``ganzoo upscale`` (ganzoo.pipelines.cli).
Exit status: 0 when every input was written; 1 for a user error (one line on stderr: --mask / --mask-rect given
wrongly, an unusable model) or when any input failed (a missing mask, a rectangle outside the image, an unreadable
image: the others are still written and every failure is listed at the end); 2 for argparse usage errors.
Outputs are written atomically: a failed run never leaves a partial file.
"""
from __future__ import annotations

import argparse
import logging
from pathlib import Path

from .cli import _FORMATS, _SUFFIXES, UsageError, _quality, _strip, plan_jobs, report_failures

logger = logging.getLogger("ganzoo.pipelines")


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Options of ``ganzoo inpaint``."""
    p.description = "Fill holes in image files or folders with an inpainting model (white mask pixels = holes)."
    p.epilog = __doc__.split("\n\n")[1]
    p.formatter_class = argparse.RawDescriptionHelpFormatter
    p.add_argument("inputs", nargs="+", metavar="IMAGE", help="image files and/or folders")
    p.add_argument("-o", "--output", required=True, metavar="OUT",
                   help="output file (one input file) or folder (several inputs, or a folder)")
    p.add_argument("--mask", default=None, metavar="MASK",
                   help="mask file (one image) or folder of masks matched by file stem; white = hole")
    p.add_argument("--mask-rect", action="append", dest="mask_rect", metavar="X,Y,W,H",
                   help="a rectangular hole (repeatable: the union), instead of --mask")
    p.add_argument("--raw", action="store_true", help="write the model's raw output everywhere, not the composite")
    p.add_argument("--model", default="pggan_inpaint",
                   help="registry name or tag, or a path ganzoo.load accepts (default: pggan_inpaint)")
    p.add_argument("--device", default="auto", help="cpu, cuda, cuda:N or auto (default: auto: cuda if available)")
    p.add_argument("--dtype", choices=("float32", "float16", "bfloat16"), default="float32",
                   help="compute precision (default: float32)")
    p.add_argument("--backend", choices=("eager", "openvino"), default="eager",
                   help="PyTorch, or OpenVINO (CPU) through the validated, cached IR (float32: f32 hint, bfloat16: "
                        "bf16 hint; not with --raw) (default: eager)")
    p.add_argument("--offline", action="store_true", help="use cached/embedded model files only")
    p.add_argument("--format", choices=tuple(_FORMATS), default=None,
                   help="output format (default: from OUT's suffix for one file, else the input's)")
    p.add_argument("--quality", type=_quality, default=95, help="JPEG/WebP quality 1..100 (default: 95)")
    p.add_argument("--overwrite", action="store_true", help="replace existing output files")
    p.add_argument("--recursive", action="store_true", help="also read images in sub-folders of folder inputs")


def _parse_rect(text: str) -> tuple[int, int, int, int]:
    parts = text.split(",")
    try:
        x, y, w, h = (int(v) for v in parts)
    except ValueError:
        raise UsageError(f"--mask-rect {text!r}: expected x,y,w,h (four ints: left column, top row, width, "
                         f"height)") from None
    if x < 0 or y < 0 or w < 1 or h < 1:
        raise UsageError(f"--mask-rect {text!r}: expected x, y >= 0 and w, h >= 1")
    return x, y, w, h


def _mask_index(folder: Path) -> dict[str, list[Path]]:
    index: dict[str, list[Path]] = {}
    for p in sorted(folder.iterdir()):
        if p.is_file() and p.suffix.lower() in _SUFFIXES and not p.name.startswith("."):
            index.setdefault(p.stem, []).append(p)
    return index


def run(args: argparse.Namespace) -> int:
    """Run ``ganzoo inpaint``; returns the exit status (see the module docstring). User errors raise (UsageError,
    model errors) and ``ganzoo.cli.main`` prints them as one line, exit status 1."""
    rects = [_parse_rect(t) for t in args.mask_rect or ()]
    if bool(rects) == (args.mask is not None):
        raise UsageError("give either --mask (a file or a folder of masks) or --mask-rect x,y,w,h, not both"
                         if rects else "no mask: give --mask (a file or a folder of masks) or --mask-rect x,y,w,h")
    mask = Path(args.mask) if args.mask is not None else None
    if mask is not None and not mask.exists():
        raise UsageError(f"--mask {args.mask}: no such file or folder")
    jobs, failures = plan_jobs(args.inputs, args.output, args.format, recursive=args.recursive,
                               overwrite=args.overwrite)
    index = None
    if mask is not None and mask.is_dir():
        jobs = [j for j in jobs if mask.resolve() not in j.src.resolve().parents]  # the masks are not inputs
        index = _mask_index(mask)
    elif mask is not None and len(jobs) + len(failures) > 1:
        raise UsageError(f"--mask {args.mask} is one mask file, for one image; for several images give a folder "
                         f"of masks named like the images")
    total, done = len(jobs) + len(failures), 0
    if jobs:
        from .images import read_image, write_image
        from .inpainting import Inpainter, rects_mask

        inp = Inpainter(args.model, device=args.device, dtype=args.dtype, local_files_only=args.offline,
                        backend=args.backend)
        logger.info("inpainting %d image(s) with %s (%s, %s)", len(jobs), args.model, inp.dtype, inp.device)
        for job in jobs:
            src = str(job.src)
            try:
                img = read_image(job.src)
                if rects:
                    m = rects_mask(rects, img.array.shape[:2])
                elif index is not None:
                    found = index.get(job.src.stem, [])
                    if len(found) != 1:
                        raise FileNotFoundError(
                            f"no mask named {job.src.stem}.png/.jpg/.jpeg/.webp in {mask}" if not found else
                            f"several masks named {job.src.stem}.* in {mask}: {', '.join(p.name for p in found)}")
                    m = found[0]
                else:
                    m = mask
                out = inp(img.array, m, raw=args.raw)
                write_image(job.dst, out, format=job.format, quality=args.quality, icc_profile=img.icc_profile)
            except KeyboardInterrupt:
                raise
            except Exception as e:  # noqa: BLE001 - reported per file; the batch goes on
                logger.debug("%s failed", src, exc_info=True)
                failures.append((src, _strip(src, str(e)) or type(e).__name__))
                continue
            done += 1
            print(job.dst)
    if report_failures("ganzoo inpaint", failures, total):
        return 1
    if done == 0:
        raise UsageError("nothing to do")
    return 0
