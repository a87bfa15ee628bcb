"""``ganzoo rotate``: turn faces to another pose with DR-GAN (frontalise, a pose sweep, fusion of several images).

    ganzoo rotate face.jpg --pose 0 -o front.png                 # frontalise: one 96x96 face
    ganzoo rotate face.jpg --pose sweep -o sweep.png             # every pose in a strip, yaw ascending (left to right)
    ganzoo rotate face.jpg --pose sweep -o sweep.gif --fps 4     # the same as an animation, one frame per pose
    ganzoo rotate face.jpg --pose=-30,0,30 -o three.png --model ./my-drgan --seed 3   # "=" before a minus
    ganzoo rotate a.jpg b.jpg c.jpg --model drgan_multi --pose 0 -o front.png   # one person: fused, one face out

--pose: yaws in degrees on the model's grid of pose classes (comma-separated for several; 0 = frontal, positive =
the face turned towards the image right; 15-degree steps: -90..90 for 13 poses, -60..60 for 9), or "sweep" for
all of them. An angle off the grid is an error that lists the model's poses. Faces of any size are resized (shorter
side to 96) and centre-cropped to DR-GAN's 96x96 input. Several IMAGEs: a multi-image model (drgan_multi) fuses
them into one identity with its learned confidences; the single-image model (drgan) turns each on its own, one row
each (--fuse averages their features instead; --no-fuse keeps a multi-image model's faces apart).

OUT: a picture (.png .jpg .jpeg .webp): one row per output face, one column per pose (2 px white gaps); or a video
(.gif, .mp4): one frame per pose, the output faces side by side. The noise z is drawn from --seed and shared by
every output. Exit status 0 when written; 1 for a user error (a missing or unreadable image, a pose off the grid,
not a DR-GAN model, an existing OUT without --overwrite); 2 for argparse usage errors. OUT is written atomically.
"""
from __future__ import annotations

import argparse
import logging
import math
from pathlib import Path

from .cli import UsageError, _quality

logger = logging.getLogger("ganzoo.pipelines")

_PICTURES = {".png": "png", ".jpg": "jpeg", ".jpeg": "jpeg", ".webp": "webp"}
_VIDEOS = (".gif", ".mp4")


def add_arguments(p: argparse.ArgumentParser) -> None:
    """Options of ``ganzoo rotate``."""
    p.description = ("Turn faces to another pose with DR-GAN: frontalise, sweep every pose, or fuse several images "
                     "of one person (drgan_multi).")
    p.epilog = __doc__.split("\n\n", 1)[1]
    p.formatter_class = argparse.RawDescriptionHelpFormatter
    p.add_argument("inputs", nargs="+", metavar="IMAGE", help="face image file(s); several = one person")
    p.add_argument("-o", "--output", required=True, metavar="OUT",
                   help="output file: .png/.jpg/.jpeg/.webp (rows = faces, columns = poses) or .gif/.mp4 "
                        "(one frame per pose)")
    p.add_argument("--pose", default="0", metavar="P",
                   help="yaw(s) in degrees, comma-separated (0 = frontalise), or 'sweep' (default: 0)")
    p.add_argument("--model", default="drgan",
                   help="registry name or tag, or a path ganzoo.load accepts (default: drgan; drgan_multi fuses "
                        "several images)")
    p.add_argument("--fuse", action=argparse.BooleanOptionalAction, default=None,
                   help="fuse several images into one identity (default: only with a multi-image model)")
    p.add_argument("--seed", type=int, default=0, help="seed of the noise z (default: 0)")
    p.add_argument("--device", default="auto", help="cpu, cuda, cuda:N or auto (default: auto: cuda if available)")
    p.add_argument("--fps", type=float, default=4.0, help="frames (poses) per second of a .gif / .mp4 (default: 4)")
    p.add_argument("--quality", type=_quality, default=95, help="JPEG/WebP quality 1..100 (default: 95)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing OUT")
    p.add_argument("--offline", action="store_true", help="use cached/embedded model files only")
    p.add_argument("--allow-pickle", action="store_true", dest="allow_pickle",
                   help="accept a pickled checkpoint as --model PATH (read with torch.load(weights_only=True))")


def parse_pose(text: str) -> str | list[float]:
    """``"sweep"`` or comma-separated finite degrees -> "sweep" or a list of floats; UsageError otherwise."""
    from .rotation import SWEEP

    t = text.strip()
    if t.lower() == SWEEP:
        return SWEEP
    out = []
    for part in t.split(","):
        try:
            v = float(part)
        except ValueError:
            raise UsageError(f"--pose {text!r}: expected yaws in degrees (e.g. 0, -30 or -30,0,30) or "
                             f"{SWEEP!r}") from None
        if not math.isfinite(v):
            raise UsageError(f"--pose {text!r}: expected finite degrees")
        out.append(v)
    return out


def run(args: argparse.Namespace) -> int:
    """Run ``ganzoo rotate``; returns the exit status (see the module docstring). User errors raise and
    ``ganzoo.cli.main`` prints them as one line, exit status 1. Every check that needs no model runs first."""
    from ..utils import check_output_file
    from .samples import peek_model

    pose = parse_pose(args.pose)
    if not (math.isfinite(args.fps) and 0 < args.fps <= 100):
        raise UsageError(f"--fps must be in (0, 100] (poses per second of a .gif / .mp4), got {args.fps:g}")
    out = check_output_file(args.output, what="-o", suffixes=tuple(_PICTURES) + _VIDEOS, overwrite=True)
    if out.exists() and not args.overwrite:
        raise UsageError(f"-o {args.output}: exists (pass --overwrite to replace it)")
    if args.device != "auto":
        from ..utils import resolve_device

        resolve_device(args.device)  # an unknown or absent device is refused before the model loads
    for src in args.inputs:
        if Path(src).is_dir():
            raise UsageError(f"{src}: is a folder; ganzoo rotate takes image files (several = one person)")
    from .images import read_image

    arrays = [read_image(src).array for src in args.inputs]  # a missing or unreadable image: before the model
    peek = peek_model(args.model)
    if peek is not None:
        from .rotation import _not_drgan, pose_classes

        family, config = peek
        if family != "drgan":
            raise _not_drgan(args.model, family)
        pose_classes(config, pose)  # a pose off the grid is refused before the model loads
    from .images import write_image
    from .rotation import Rotator, tile_poses

    rot = Rotator(args.model, device=args.device, local_files_only=args.offline, allow_pickle=args.allow_pickle)
    faces = rot(arrays if len(arrays) > 1 else arrays[0], pose, seed=args.seed, fuse=args.fuse)
    m, p = faces.shape[:2]
    suffix = out.suffix.lower()
    if suffix in _VIDEOS:
        from .video import video_grid, write_video

        # one "video" (T, H, W, C) per output face, its frames the poses; several side by side in one row
        frames = faces[0] if m == 1 else video_grid([faces[i] for i in range(m)], nrow=m)
        write_video(out, frames, args.fps, **({"scale": 2} if suffix == ".mp4" else {}))
    else:
        img = tile_poses(faces)
        write_image(out, img[:, :, 0] if img.shape[2] == 1 else img, format=_PICTURES[suffix],
                    quality=args.quality)
    logger.info("wrote %d face(s) x %d pose(s) to %s", m, p, out)
    print(out)
    return 0
