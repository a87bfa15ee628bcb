"""Measure a 64x64 face generator (``dcgan.digiface``): face-detection rate and sample diversity, with baselines.

    pip install --no-deps --target /tmp/cv4 opencv-python-headless==4.14.0.94    # OpenCV 5 has no Haar cascades
    PYTHONPATH=/tmp/cv4 python tools/eval_digiface.py --model dcgan.digiface --json digiface-eval.json
    PYTHONPATH=/tmp/cv4 python tools/eval_digiface.py --model /tmp/digiface --n 100      # a converted folder

No FID / IS: they need Inception weights, which are not available offline. What is measured instead:

**Face detection.** N seeded samples (``torch.Generator().manual_seed(seed)``, uint8 RGB), each up-sampled from
64x64 to 128x128 with PIL bicubic and converted to grey, go through two frontal-face detectors: OpenCV's Haar
cascade ``haarcascade_frontalface_default.xml`` (``detectMultiScale``, settings in :data:`HAAR`; OpenCV 4.x: OpenCV 5
dropped ``CascadeClassifier`` and the cascade files) and OpenCV's LBP frontal-face cascade as shipped in scikit-image
(``skimage.feature.Cascade``, settings in :data:`LBP`). Reported: the share of images with at least one face. The same
pipeline runs on baselines: the same architecture untrained (random init, torch seed 0, eval mode) and Gaussian-noise
images; and, to show the detectors work at this resolution, on real images: the face crops of ``skimage.data.
astronaut()`` and matplotlib's ``grace_hopper.jpg`` (boxes in :data:`FACE_CROPS`), the 100 faces and 100 non-faces
of ``skimage.data.lfw_subset()`` (25x25 grey), and the eight non-face photos of ``ganzoo.data.photos.SR_HELDOUT``;
each real image is resized to 64x64 first (PIL bicubic), then through the same pipeline.

**Diversity.** Over the same N samples (pixels in [0, 1]): per-pixel standard deviation across samples (mean over
pixels), mean pairwise distance and each sample's nearest-neighbour distance among the others, as RMS per pixel
(L2 / sqrt(3*64*64)); near-duplicates = samples whose nearest neighbour is closer than
:data:`DUPLICATE_THRESHOLD` (mode collapse shows as many). Against the untrained model and the noise images.
"""
from __future__ import annotations

import argparse
import datetime
import json
import logging
import platform
import shlex
import sys
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import torch

logger = logging.getLogger("eval_digiface")

SIZE = 128  # detector input side
HAAR = {"cascade": "haarcascade_frontalface_default.xml", "scaleFactor": 1.1, "minNeighbors": 5, "minSize": [24, 24]}
HAAR_SWEEP = (3, 5, 8)  # minNeighbors values also reported (JSON), for the samples and the LFW sets
LBP = {"cascade": "skimage.data.lbp_frontal_face_cascade_filename()", "scale_factor": 1.1, "step_ratio": 1,
       "min_size": [24, 24], "max_size": [SIZE, SIZE], "min_neighbor_number": 4}
# (top, left, height, width): the Haar box found on the full photo (astronaut 177,66,95x95; grace_hopper
# 155,105,222x222), enlarged 1.6x about its centre, so the face fills the crop about as much as in DigiFace1M.
FACE_CROPS = {"astronaut": (38, 148, 152, 152), "grace_hopper": (39, 89, 355, 355)}
NOISE_STD = 0.5  # Gaussian-noise images: N(0, NOISE_STD^2) in the model's [-1, 1] range, clamped
DUPLICATE_THRESHOLD = 0.05  # RMS per pixel on [0, 1], about 13 of 255 levels
BATCH = 50


# ------------------------------------------------------------------------------------------------------ images


def to_uint8(x: torch.Tensor) -> np.ndarray:
    """(B, 3, H, W) in [-1, 1] -> (B, H, W, 3) uint8, the way ganzoo.utils.to_uint8 rounds."""
    from ganzoo.utils import to_uint8 as _u8

    return _u8(x, (-1.0, 1.0)).permute(0, 2, 3, 1).numpy()


def detector_input(img: np.ndarray) -> np.ndarray:
    """uint8 (H, W[, 3]) -> grey uint8 (SIZE, SIZE): resized to 64x64 first when it is not (PIL bicubic, which
    anti-aliases when shrinking), then up-sampled to SIZE with PIL bicubic, then converted to grey (ITU-R 601-2
    luma, PIL's "L")."""
    from PIL import Image

    im = Image.fromarray(img)
    if im.size != (64, 64):
        im = im.resize((64, 64), Image.BICUBIC)
    return np.asarray(im.resize((SIZE, SIZE), Image.BICUBIC).convert("L"))


class Detectors:
    """The two face detectors, built once. ``haar(grey, min_neighbors)`` and ``lbp(grey)`` -> number of faces."""

    def __init__(self) -> None:
        import cv2
        from skimage import data
        from skimage.feature import Cascade

        if not hasattr(cv2, "CascadeClassifier"):
            raise RuntimeError(
                f"OpenCV {cv2.__version__} has no CascadeClassifier (OpenCV 5 removed the Haar cascades); expected "
                "OpenCV 4.x: pip install --no-deps --target /tmp/cv4 opencv-python-headless==4.14.0.94 and run with "
                "PYTHONPATH=/tmp/cv4")
        path = Path(cv2.data.haarcascades) / HAAR["cascade"]
        self.cv2_version = cv2.__version__
        self._haar = cv2.CascadeClassifier(str(path))
        if self._haar.empty():
            raise RuntimeError(f"OpenCV could not load the Haar cascade {path}; expected the file of OpenCV 4.x")
        self._lbp = Cascade(data.lbp_frontal_face_cascade_filename())

    def haar(self, grey: np.ndarray, min_neighbors: int = HAAR["minNeighbors"]) -> int:
        return len(self._haar.detectMultiScale(grey, scaleFactor=HAAR["scaleFactor"], minNeighbors=min_neighbors,
                                               minSize=tuple(HAAR["minSize"])))

    def lbp(self, grey: np.ndarray) -> int:
        return len(self._lbp.detect_multi_scale(grey.astype(np.float64) / 255.0, scale_factor=LBP["scale_factor"],
                                                step_ratio=LBP["step_ratio"], min_size=tuple(LBP["min_size"]),
                                                max_size=tuple(LBP["max_size"]),
                                                min_neighbor_number=LBP["min_neighbor_number"]))


def detection(det: Detectors, images: Sequence[np.ndarray], sweep: bool = False) -> dict[str, Any]:
    """Share of ``images`` (uint8) with >= 1 face per detector, and which ones."""
    greys = [detector_input(im) for im in images]
    haar = [det.haar(g) > 0 for g in greys]
    lbp = [det.lbp(g) > 0 for g in greys]
    out: dict[str, Any] = {"n": len(images), "haar": float(np.mean(haar)), "lbp": float(np.mean(lbp)),
                           "haar_detected": [i for i, h in enumerate(haar) if h],
                           "lbp_detected": [i for i, h in enumerate(lbp) if h]}
    if len(images) > 1:  # the detectors' known weak spot: dark, low-contrast faces
        luma = np.array([g.mean() for g in greys])
        hit = np.array(haar)
        out["mean_grey_level"] = {"haar_detected": float(luma[hit].mean()) if hit.any() else None,
                                  "haar_missed": float(luma[~hit].mean()) if (~hit).any() else None}
    if sweep:
        out["haar_by_min_neighbors"] = {str(k): float(np.mean([det.haar(g, k) > 0 for g in greys]))
                                        for k in HAAR_SWEEP}
    return out


# ------------------------------------------------------------------------------------------------------ sources


@torch.no_grad()
def generate(model: torch.nn.Module, n: int, seed: int) -> torch.Tensor:
    """``n`` samples (n, 3, 64, 64) in [-1, 1], float32; the latents are drawn at once, so batching changes
    nothing."""
    z = model.sample_inputs(n, generator=torch.Generator().manual_seed(seed))[0]
    return torch.cat([model(z[i:i + BATCH]).float() for i in range(0, n, BATCH)])


def untrained(seed: int = 0) -> torch.nn.Module:
    """The dcgan.digiface architecture at its random initialisation (torch.manual_seed(seed)), eval mode."""
    import ganzoo

    torch.manual_seed(seed)
    return ganzoo.create("dcgan.digiface").eval()


def noise_images(n: int, seed: int) -> torch.Tensor:
    return (NOISE_STD * torch.randn(n, 3, 64, 64, generator=torch.Generator().manual_seed(seed))).clamp(-1, 1)


def real_faces() -> dict[str, np.ndarray]:
    """The two face crops of :data:`FACE_CROPS` (uint8 RGB)."""
    from ganzoo.data.photos import get_photo

    out = {}
    for name, (t, l, h, w) in FACE_CROPS.items():
        full = get_photo(name).load_full()
        out[name] = np.ascontiguousarray(full[t:t + h, l:l + w])
    return out


def lfw() -> tuple[np.ndarray, np.ndarray]:
    """skimage.data.lfw_subset(): (100 faces, 100 non-faces), 25x25 uint8 grey."""
    from skimage import data

    x = (data.lfw_subset() * 255).round().astype(np.uint8)
    return x[:100], x[100:]


def non_face_photos() -> list[np.ndarray]:
    """The 256x256 crops of the SR held-out photos that show no face."""
    from ganzoo.data.photos import SR_HELDOUT

    return [p.load() for p in SR_HELDOUT if p.name not in FACE_CROPS]


# ------------------------------------------------------------------------------------------------------ diversity


def diversity(x: torch.Tensor) -> dict[str, Any]:
    """x (n, 3, 64, 64) in [-1, 1]: per-pixel std, mean pairwise and nearest-neighbour RMS distances on [0, 1]."""
    u = ((x.double() + 1) / 2).clamp(0, 1).flatten(1)
    n, d = u.shape
    dist = torch.cdist(u, u) / d ** 0.5
    off = dist[~torch.eye(n, dtype=torch.bool)]
    nn_ = dist.masked_fill(torch.eye(n, dtype=torch.bool), float("inf")).min(1).values
    q = torch.quantile(nn_, torch.tensor([0.05, 0.5], dtype=torch.float64))
    return {"n": n, "pixel_std": float(u.std(0).mean()), "mean_pairwise": float(off.mean()),
            "nearest_neighbour": {"min": float(nn_.min()), "p05": float(q[0]), "median": float(q[1]),
                                  "mean": float(nn_.mean()), "max": float(nn_.max())},
            "near_duplicates": int((nn_ < DUPLICATE_THRESHOLD).sum())}


# ------------------------------------------------------------------------------------------------------ all


def load_model(spec: str) -> tuple[torch.nn.Module, str]:
    """A registry tag or a save_pretrained folder -> (model in eval mode, float32, sha256 of its weights file)."""
    import ganzoo
    from ganzoo.hub.io import sha256_file

    p = Path(spec)
    if p.is_dir():
        cfg = json.loads((p / "config.json").read_text())
        model = ganzoo.load(str(p), dtype=torch.float32)
        return model.eval(), sha256_file(p / cfg["weights"]["filename"])
    model = ganzoo.load(spec, dtype=torch.float32)
    return model.eval(), model.pretrained_cfg.sha256


def evaluate(model: torch.nn.Module, *, n: int = 500, seed: int = 0, real_n: int | None = None,
             progress: Callable[[str], None] = logger.info) -> dict[str, Any]:
    """Every measurement of this module for ``model``; ``real_n`` limits the LFW sets (tests)."""
    det = Detectors()
    samples = generate(model, n, seed)
    base = generate(untrained(0), n, seed)
    noise = noise_images(n, seed)
    faces, non_faces = lfw()
    if real_n is not None:
        faces, non_faces = faces[:real_n], non_faces[:real_n]
    sets = [
        ("samples", f"`dcgan.digiface` samples (seed {seed})", to_uint8(samples), True),
        ("untrained", "same architecture, untrained (random init, seed 0)", to_uint8(base), False),
        ("noise", f"Gaussian noise N(0, {NOISE_STD}^2) in [-1, 1]", to_uint8(noise), False),
        *[(f"photo_{k}", f"real face: {k} crop {FACE_CROPS[k]}", [v], False) for k, v in real_faces().items()],
        ("lfw_faces", "real faces: skimage `lfw_subset()` faces (25x25 grey)", list(faces), True),
        ("lfw_non_faces", "real non-faces: skimage `lfw_subset()` non-faces", list(non_faces), True),
        ("photos_non_face", "real non-face photos: SR held-out crops without a face", non_face_photos(), False),
    ]
    rows = []
    for key, label, images, sweep in sets:
        r = detection(det, images, sweep=sweep)
        progress(f"{key}: Haar {100 * r['haar']:.1f}%, LBP {100 * r['lbp']:.1f}% of {r['n']}")
        rows.append({"key": key, "label": label, **r})
    div = []
    for key, label, x in (("samples", f"`dcgan.digiface` (seed {seed})", samples),
                          ("untrained", "untrained (random init, seed 0)", base),
                          ("noise", f"Gaussian noise N(0, {NOISE_STD}^2)", noise)):
        div.append({"key": key, "label": label, **diversity(x)})
        progress(f"diversity {key}: per-pixel std {div[-1]['pixel_std']:.3f}, nearest-neighbour median "
                 f"{div[-1]['nearest_neighbour']['median']:.3f}")
    return {
        "face_detection": {
            "pipeline": f"uint8 RGB 64x64 -> PIL bicubic {SIZE}x{SIZE} -> grey (PIL 'L'); real images resized to "
                        "64x64 first (PIL bicubic)",
            "detectors": {"haar": {**HAAR, "opencv": det.cv2_version, "size": SIZE, "upsample": "PIL bicubic"},
                          "lbp": {**LBP, "skimage": _version("skimage"), "size": SIZE}},
            "sets": rows},
        "diversity": {"n": n, "seed": seed, "space": "pixels in [0, 1], RMS distance per pixel",
                      "duplicate_threshold": DUPLICATE_THRESHOLD, "models": div},
    }


def _version(mod: str) -> str:
    import importlib

    return getattr(importlib.import_module(mod), "__version__", "?")


def summary(res: dict[str, Any]) -> str:
    """One paragraph with the headline numbers (the card's and the README's)."""
    rows = {r["key"]: r for r in res["face_detection"]["sets"]}
    div = {r["key"]: r for r in res["diversity"]["models"]}
    s, u, z = rows["samples"], rows["untrained"], rows["noise"]
    return (f"A frontal-face detector finds a face in {100 * s['haar']:.1f}% of {s['n']} samples (OpenCV Haar; "
            f"{100 * s['lbp']:.1f}% with the LBP cascade), against {100 * u['haar']:.1f}% for the untrained network "
            f"and {100 * z['haar']:.1f}% for noise; on real faces through the same 64->128 pipeline it finds "
            f"{100 * rows['lfw_faces']['haar']:.0f}% of the LFW faces and {100 * rows['lfw_non_faces']['haar']:.0f}% "
            f"of the LFW non-faces. No mode collapse in pixel space: nearest-neighbour distance median "
            f"{div['samples']['nearest_neighbour']['median']:.3f} (min {div['samples']['nearest_neighbour']['min']:.3f}"
            f"), {div['samples']['near_duplicates']} near-duplicates of {div['samples']['n']}, vs "
            f"{div['untrained']['near_duplicates']} for the untrained network.")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default="dcgan.digiface", help="a registry tag or a save_pretrained folder")
    p.add_argument("--n", type=int, default=500, help="samples (and baseline images) per set")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", type=Path, help="write every number here (the converter's --metrics)")
    a = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    if a.n < 2:
        p.error(f"--n: expected at least 2 samples, got {a.n}")
    model, sha = load_model(a.model)
    res = evaluate(model, n=a.n, seed=a.seed)
    cmd = "python tools/eval_digiface.py " + " ".join(shlex.quote(x) for x in (argv if argv is not None
                                                                                 else sys.argv[1:]))
    out = {"command": cmd.strip(), "date": datetime.date.today().isoformat(), "torch": torch.__version__,
           "machine": f"{platform.machine()} CPU, {torch.get_num_threads()} threads", "model": a.model,
           "weights_sha256": sha, **res}
    out["summary"] = summary(out)
    if a.json:
        from ganzoo.utils import atomic_write

        atomic_write(a.json, (json.dumps(out, indent=2) + "\n").encode())
    print(out["summary"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
