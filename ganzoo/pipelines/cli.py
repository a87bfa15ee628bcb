"""``ganzoo upscale``: super-resolve image files and folders with an SR model.

    ganzoo upscale photo.png -o photo_x4.png
    ganzoo upscale shots/ more.jpg -o big/ --format webp --quality 90
    ganzoo upscale scan16.png -o out.png --tile 192 --tile-overlap 32 --dtype bfloat16
    ganzoo upscale photo.jpg -o out.png --backend onnxruntime --device cuda
    ganzoo upscale photo.jpg -o out.png --backend openvino --dtype bfloat16 --device cpu

Inputs are files and folders (a folder's .png/.jpg/.jpeg/.webp files; sub-folders too with --recursive, their
layout kept under OUT). With one input file, OUT is the output file (its suffix picks the format unless --format is
given) or an existing folder; otherwise OUT is a folder, created if missing, and each output keeps its input's
name with the --format's suffix (default: the input's own suffix; PNG for other formats).

Exit status: 0 when every input was written; 1 when any input failed (unreadable image, existing output without
--overwrite, a write error: the other inputs are still processed and every failure is listed on stderr at the end)
or when the model cannot be used (unknown, no weights, not a super-resolution model); 2 for usage errors. Outputs
are written to a temporary name and renamed, so a failed or interrupted run never leaves a partial file.

This module is imported when ``ganzoo`` builds its parser: it imports nothing heavy at module level.
"""
from __future__ import annotations

import argparse
import logging
import os
import sys
from dataclasses import dataclass
from pathlib import Path

logger = logging.getLogger("ganzoo.pipelines")

_FORMATS = {"png": ".png", "jpeg": ".jpg", "webp": ".webp"}  # = images.FORMATS, kept here to stay light
_SUFFIXES = {".png": "png", ".jpg": "jpeg", ".jpeg": "jpeg", ".jpe": "jpeg", ".webp": "webp"}


def _positive(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an int, got {text!r}") from None
    if v < 1:
        raise argparse.ArgumentTypeError(f"expected an int >= 1, got {v}")
    return v


def _non_negative(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an int, got {text!r}") from None
    if v < 0:
        raise argparse.ArgumentTypeError(f"expected an int >= 0, got {v}")
    return v


def _quality(text: str) -> int:
    v = _positive(text)
    if v > 100:
        raise argparse.ArgumentTypeError(f"expected a quality in 1..100, got {v}")
    return v


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Options of ``ganzoo upscale``."""
    p.description = "Super-resolve image files or folders with an SR model (PNG, JPEG, WebP; 16-bit PNG kept)."
    p.epilog = __doc__.split("\n\n")[1]
    p.formatter_class = argparse.RawDescriptionHelpFormatter
    p.add_argument("inputs", nargs="+", metavar="IN", help="image files and/or folders")
    p.add_argument("-o", "--output", required=True, metavar="OUT",
                   help="output file (one input file) or folder (several inputs, or a folder)")
    p.add_argument("--model", default="srresnet",
                   help="registry name or tag, or a path ganzoo.load accepts (default: srresnet)")
    p.add_argument("--tile", type=_non_negative, default=256,
                   help="LR tile side in pixels; 0 runs each image whole (default: 256)")
    p.add_argument("--tile-overlap", type=_non_negative, default=32, dest="tile_overlap",
                   help="minimum overlap of neighbouring tiles in LR pixels, blended (default: 32)")
    p.add_argument("--tile-batch", type=_positive, default=1, dest="tile_batch",
                   help="tiles per forward pass (default: 1)")
    p.add_argument("--dtype", choices=("float32", "float16", "bfloat16"), default="float32",
                   help="compute precision; reduced ones only where the model's metadata validates them "
                        "(default: float32)")
    p.add_argument("--backend", choices=("eager", "onnxruntime", "openvino"), default="eager",
                   help="PyTorch, ONNX Runtime through the validated, cached ONNX export, or OpenVINO (CPU) through "
                        "the validated, cached IR (float32: f32 hint, bfloat16: bf16 hint) (default: eager)")
    p.add_argument("--device", default="auto", help="cpu, cuda, cuda:N or auto (default: auto: cuda if available)")
    p.add_argument("--format", choices=tuple(_FORMATS), default=None,
                   help="output format (default: from OUT's suffix for one file, else the input's)")
    p.add_argument("--quality", type=_quality, default=95, help="JPEG/WebP quality 1..100 (default: 95)")
    p.add_argument("--overwrite", action="store_true", help="replace existing output files")
    p.add_argument("--recursive", action="store_true", help="also read images in sub-folders of folder inputs")
    p.add_argument("--cache-dir", dest="cache_dir", default=None,
                   help="folder of cached ONNX / OpenVINO exports (default: $GANZOO_ONNX_CACHE or ~/.cache/ganzoo/onnx)")
    p.add_argument("--allow-pickle", action="store_true", dest="allow_pickle",
                   help="accept a pickled checkpoint as --model PATH (read with torch.load(weights_only=True))")
    p.add_argument("--no-progress", action="store_true", dest="no_progress", help="no progress bar")


@dataclass
class Job:
    src: Path
    dst: Path
    format: str


class UsageError(ValueError):
    """Arguments that do not make sense together (exit status 1, message on stderr)."""


def _folder_images(folder: Path, recursive: bool, exclude: Path | None) -> list[Path]:
    it = folder.rglob("*") if recursive else folder.iterdir()
    out = []
    for p in it:
        if not p.is_file() or p.suffix.lower() not in _SUFFIXES:
            continue
        rel = p.relative_to(folder)
        if any(part.startswith(".") for part in rel.parts):  # hidden files, and our own temporary files
            continue
        if exclude is not None and exclude.resolve() in p.resolve().parents:
            continue  # outputs of an earlier run written inside the input folder
        out.append(p)
    return sorted(out)


def plan_jobs(inputs: list[str], output: str, fmt: str | None, *, recursive: bool = False,
              overwrite: bool = False) -> tuple[list[Job], list[tuple[str, str]]]:
    """(jobs, failures): what to write where, and the inputs that cannot be processed (with why).
    Raises UsageError for an impossible OUT."""
    out = Path(output)
    single = (len(inputs) == 1 and not Path(inputs[0]).is_dir() and not out.is_dir()
              and not output.endswith(("/", os.sep)))
    jobs: list[Job] = []
    failures: list[tuple[str, str]] = []
    if single:
        src = Path(inputs[0])
        f = fmt or _SUFFIXES.get(out.suffix.lower())
        if f is None:
            raise UsageError(f"cannot tell the output format from {output!r}: name it .png, .jpg, .jpeg or .webp, "
                             f"or pass --format")
        if fmt and _SUFFIXES.get(out.suffix.lower()) not in (None, fmt):
            raise UsageError(f"--format {fmt} contradicts the output name {output!r}")
        candidates = [(src, out, f)]
    else:
        if out.exists() and not out.is_dir():
            raise UsageError(f"{output} exists and is not a folder; with several inputs or a folder input, -o names "
                             f"the output folder")
        candidates = []
        for text in inputs:
            p = Path(text)
            if p.is_dir():
                found = _folder_images(p, recursive, out)
                if not found:
                    failures.append((text, f"no .png/.jpg/.jpeg/.webp images in this folder"
                                           f"{'' if recursive else ' (sub-folders need --recursive)'}"))
                for q in found:
                    f = fmt or _SUFFIXES.get(q.suffix.lower(), "png")
                    ext = _FORMATS[fmt] if fmt else q.suffix
                    candidates.append((q, out / q.relative_to(p).with_suffix(ext), f))
            else:
                known = _SUFFIXES.get(p.suffix.lower())
                f = fmt or known or "png"
                ext = _FORMATS[f] if (fmt or not known) else p.suffix
                candidates.append((p, out / (p.stem + ext), f))
    taken: dict[Path, Path] = {}
    for src, dst, f in candidates:
        if not src.exists():
            failures.append((str(src), "no such file or folder"))
            continue
        key = dst.resolve()
        if key in taken:
            failures.append((str(src), f"would write the same output {dst} as {taken[key]}"))
            continue
        taken[key] = src
        if dst.exists() and not overwrite:
            failures.append((str(src), f"output {dst} exists (pass --overwrite to replace it)"))
            continue
        if dst.exists() and dst.is_dir():
            failures.append((str(src), f"output {dst} is a folder"))
            continue
        jobs.append(Job(src, dst, f))
    return jobs, failures


def _strip(src: str, msg: str) -> str:
    return msg[len(src) + 2:] if msg.startswith(f"{src}: ") else msg


def run(args: argparse.Namespace) -> int:
    """Run ``ganzoo upscale``; returns the exit status (see the module docstring)."""
    from ..errors import GanzooError

    try:
        jobs, failures = plan_jobs(args.inputs, args.output, args.format, recursive=args.recursive,
                                   overwrite=args.overwrite)
    except UsageError as e:
        print(f"ganzoo upscale: error: {e}", file=sys.stderr)
        return 1
    total = len(jobs) + len(failures)
    done = 0
    if jobs:
        from .images import read_image, write_image
        from .upscaling import Upscaler

        try:
            up = Upscaler(args.model, dtype=args.dtype, backend=args.backend, device=args.device,
                          cache_dir=args.cache_dir, allow_pickle=args.allow_pickle)
        except (GanzooError, ValueError, TypeError, ImportError, FileNotFoundError) as e:
            print(f"ganzoo upscale: error: {e}", file=sys.stderr)
            return 1
        logger.info("upscaling %d image(s) x%d with %s (%s, %s, %s)", len(jobs), up.scale, args.model,
                    up.backend, up.dtype, up.device)
        progress = False if args.no_progress else None
        for job in jobs:
            src = str(job.src)
            try:
                img = read_image(job.src)
                out = up.upscale_array(img.array, tile=args.tile or None, tile_overlap=args.tile_overlap,
                                       tile_batch=args.tile_batch, progress=progress, desc=job.src.name)
                write_image(job.dst, out, format=job.format, quality=args.quality, icc_profile=img.icc_profile)
            except KeyboardInterrupt:
                raise
            except Exception as e:  # noqa: BLE001 - reported per file; the batch goes on
                logger.debug("%s failed", src, exc_info=True)
                failures.append((src, _strip(src, str(e)) or type(e).__name__))
                continue
            done += 1
            print(job.dst)
    if report_failures("ganzoo upscale", failures, total):
        return 1
    if done == 0:
        print("ganzoo upscale: error: nothing to do", file=sys.stderr)
        return 1
    return 0


def report_failures(prog: str, failures: list[tuple[str, str]], total: int) -> bool:
    """Print ``prog: K of N input(s) failed:`` and one ``  SRC: WHY`` line per failure to stderr; True if any."""
    if not failures:
        return False
    print(f"{prog}: {len(failures)} of {total} input(s) failed:", file=sys.stderr)
    for src, why in failures:
        print(f"  {src}: {why}", file=sys.stderr)
    return True
