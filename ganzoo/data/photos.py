"""Named held-out photos for super-resolution evaluation, from sample data that ships inside installed packages.

``SR_HELDOUT`` is a fixed evaluation set: ten photos from scikit-image (``skimage.data``), scikit-learn
(``load_sample_images``) and matplotlib (``cbook.get_sample_data``), each with a fixed 256x256 crop box, so every
HR crop is divisible by 2, 4 and 8 and the same set serves x2, x4 and x8. **Never train or tune on these
images**: they exist to measure models, and numbers on them are only comparable while nothing has seen them.
No file is downloaded: a package that is not installed raises ImportError naming it.

The SR protocol (the project's evaluation spec): the LR input is the HR crop down-sampled by PIL BICUBIC
(:func:`make_lr`; PIL widens the kernel when shrinking, i.e. it anti-aliases as MATLAB ``imresize`` does);
the baseline is PIL BICUBIC up-sampling of that LR (:func:`bicubic_up`).

=====================  ==========================================  ===========  ===========================
name                   source                                      full size    crop (top, left, h, w)
=====================  ==========================================  ===========  ===========================
astronaut              skimage.data.astronaut()                    512x512      (0, 112, 256, 256) face
coffee                 skimage.data.coffee()                       400x600      (64, 192, 256, 256) cup, spoon
chelsea                skimage.data.chelsea()                      300x451      (24, 96, 256, 256) eyes, fur
rocket                 skimage.data.rocket()                       427x640      (160, 192, 256, 256) towers
hubble_deep_field      skimage.data.hubble_deep_field()            872x1000     (256, 384, 256, 256)
immunohistochemistry   skimage.data.immunohistochemistry()         512x512      (256, 192, 256, 256) gland
retina                 skimage.data.retina()                       1411x1411    (512, 96, 256, 256) optic disc
china                  sklearn.datasets.load_sample_images()       427x640      (64, 64, 256, 256) pagoda
flower                 sklearn.datasets.load_sample_images()       427x640      (96, 192, 256, 256) dahlia
grace_hopper           matplotlib.cbook.get_sample_data(...)       600x512      (120, 144, 256, 256) face
=====================  ==========================================  ===========  ===========================

rocket, hubble_deep_field, retina, china, flower and grace_hopper are stored as JPEG by their packages (their
compression artefacts are part of the ground truth); the others are PNG.
"""
from __future__ import annotations

import dataclasses
from typing import Callable

import numpy as np

__all__ = ["HeldOutPhoto", "SR_HELDOUT", "list_photos", "get_photo", "load_photo", "make_lr", "bicubic_up"]


def _skimage(name: str) -> Callable[[], np.ndarray]:
    def load() -> np.ndarray:
        try:
            import skimage.data
        except ImportError as e:  # pragma: no cover - depends on the environment
            raise ImportError(f"the held-out photo {name!r} ships with scikit-image: pip install 'ganzoo[eval]'") from e
        return getattr(skimage.data, name)()
    return load


def _sklearn(name: str) -> Callable[[], np.ndarray]:
    def load() -> np.ndarray:
        try:
            from sklearn.datasets import load_sample_images
        except ImportError as e:  # pragma: no cover - depends on the environment
            raise ImportError(f"the held-out photo {name!r} ships with scikit-learn: pip install 'ganzoo[eval]'") from e
        images = load_sample_images()
        for fn, img in zip(images.filenames, images.images):
            if fn.replace("\\", "/").rsplit("/", 1)[-1] == f"{name}.jpg":
                return img
        raise FileNotFoundError(f"scikit-learn's load_sample_images() has no {name}.jpg (it has "
                                f"{[f.rsplit('/', 1)[-1] for f in images.filenames]})")
    return load


def _matplotlib(filename: str) -> Callable[[], np.ndarray]:
    def load() -> np.ndarray:
        try:
            from matplotlib import cbook
        except ImportError as e:  # pragma: no cover - depends on the environment
            raise ImportError(f"the held-out photo {filename!r} ships with matplotlib: pip install 'ganzoo[eval]'") \
                from e
        from PIL import Image

        with cbook.get_sample_data(filename) as f:
            return np.asarray(Image.open(f).convert("RGB"))
    return load


@dataclasses.dataclass(frozen=True)
class HeldOutPhoto:
    """One held-out photo: where it comes from and which crop of it is the HR ground truth.

    box: (top, left, height, width) of the crop in the full image. full_size: (H, W) of the full image, checked
    when loading so that a changed package image cannot silently change the evaluation.
    """

    name: str
    package: str
    source: str
    box: tuple[int, int, int, int]
    full_size: tuple[int, int]
    license: str
    description: str
    loader: Callable[[], np.ndarray] = dataclasses.field(repr=False, compare=False)

    def load_full(self) -> np.ndarray:
        """The whole photo, uint8 (H, W, 3)."""
        img = np.asarray(self.loader())
        if img.ndim == 3 and img.shape[2] == 4:
            img = img[..., :3]
        if img.dtype != np.uint8 or img.ndim != 3 or img.shape[2] != 3:
            raise ValueError(f"{self.name} from {self.source}: expected uint8 (H, W, 3), got {img.dtype} {img.shape}")
        if tuple(img.shape[:2]) != self.full_size:
            raise ValueError(f"{self.name} from {self.source}: expected {self.full_size[0]}x{self.full_size[1]} "
                             f"pixels, got {img.shape[0]}x{img.shape[1]}; the packaged image changed, so this "
                             f"held-out crop is no longer the one the published numbers were measured on")
        return img

    def load(self) -> np.ndarray:
        """The HR crop, uint8 (height, width, 3), C-contiguous."""
        t, l, h, w = self.box
        return np.ascontiguousarray(self.load_full()[t:t + h, l:l + w])

    def to_dict(self) -> dict[str, object]:
        return {"name": self.name, "package": self.package, "source": self.source, "box": list(self.box),
                "box_format": "top, left, height, width", "full_size": list(self.full_size),
                "license": self.license, "description": self.description}


def _photo(name: str, package: str, source: str, loader: Callable[[], np.ndarray], box: tuple[int, int, int, int],
           full: tuple[int, int], license: str, description: str) -> HeldOutPhoto:
    t, l, h, w = box
    if h % 8 or w % 8 or t < 0 or l < 0 or t + h > full[0] or l + w > full[1]:
        raise ValueError(f"held-out photo {name}: crop {box} must lie inside {full} with sides divisible by 8")
    return HeldOutPhoto(name, package, source, box, full, license, description, loader)


#: The SR evaluation set: never use these for training. Crops are (top, left, height, width).
SR_HELDOUT: tuple[HeldOutPhoto, ...] = (
    _photo("astronaut", "scikit-image", "skimage.data.astronaut()", _skimage("astronaut"), (0, 112, 256, 256),
           (512, 512), "public domain (NASA)", "Eileen Collins: face, hair, suit collar"),
    _photo("coffee", "scikit-image", "skimage.data.coffee()", _skimage("coffee"), (64, 192, 256, 256),
           (400, 600), "CC0 (Rachel Michetti)", "espresso cup rim, crema, spoon, wood grain"),
    _photo("chelsea", "scikit-image", "skimage.data.chelsea()", _skimage("chelsea"), (24, 96, 256, 256),
           (300, 451), "CC0 (Stefan van der Walt)", "cat's eyes, fur and whiskers"),
    _photo("rocket", "scikit-image", "skimage.data.rocket()", _skimage("rocket"), (160, 192, 256, 256),
           (427, 640), "public domain (SpaceX)", "launch towers' lattice, rocket body, lights at dusk"),
    _photo("hubble_deep_field", "scikit-image", "skimage.data.hubble_deep_field()", _skimage("hubble_deep_field"),
           (256, 384, 256, 256), (872, 1000), "public domain (NASA)", "galaxies on a dark sky"),
    _photo("immunohistochemistry", "scikit-image", "skimage.data.immunohistochemistry()",
           _skimage("immunohistochemistry"), (256, 192, 256, 256), (512, 512), "no known copyright restrictions",
           "stained colonic gland, cell membranes"),
    _photo("retina", "scikit-image", "skimage.data.retina()", _skimage("retina"), (512, 96, 256, 256),
           (1411, 1411), "CC0 (Mikael Haggstrom)", "fundus photograph: optic disc and vessels"),
    _photo("china", "scikit-learn", "sklearn.datasets.load_sample_images() china.jpg", _sklearn("china"),
           (64, 64, 256, 256), (427, 640), "CC-BY 2.0 (danielbuechele on Flickr)", "pagoda roofs and beams"),
    _photo("flower", "scikit-learn", "sklearn.datasets.load_sample_images() flower.jpg", _sklearn("flower"),
           (96, 192, 256, 256), (427, 640), "CC-BY 2.0 (vultilion on Flickr)", "dahlia petals"),
    _photo("grace_hopper", "matplotlib", 'matplotlib.cbook.get_sample_data("grace_hopper.jpg")',
           _matplotlib("grace_hopper.jpg"), (120, 144, 256, 256), (600, 512),
           "public domain (US Navy photograph)", "face, glasses, wrinkles"),
)

_BY_NAME = {p.name: p for p in SR_HELDOUT}


def list_photos() -> list[str]:
    """Names of the held-out photos, in the order of ``SR_HELDOUT``."""
    return [p.name for p in SR_HELDOUT]


def get_photo(name: str) -> HeldOutPhoto:
    """The :class:`HeldOutPhoto` called ``name``."""
    if name not in _BY_NAME:
        raise ValueError(f"unknown held-out photo {name!r}; expected one of {list_photos()}")
    return _BY_NAME[name]


def load_photo(name: str, *, crop: bool = True) -> np.ndarray:
    """A held-out photo as uint8 (H, W, 3): its fixed HR crop (``crop=True``) or the whole image."""
    p = get_photo(name)
    return p.load() if crop else p.load_full()


def _check_uint8_image(img: np.ndarray, what: str) -> np.ndarray:
    if not isinstance(img, np.ndarray):
        raise TypeError(f"{what}: expected a numpy uint8 array (H, W) or (H, W, 3), got {type(img).__name__}")
    if img.dtype != np.uint8 or img.ndim not in (2, 3) or (img.ndim == 3 and img.shape[2] not in (1, 3)):
        raise ValueError(f"{what}: expected a uint8 array (H, W) or (H, W, 3), got {img.dtype} {img.shape}")
    return img


def _check_scale(scale: int) -> int:
    if isinstance(scale, bool) or not isinstance(scale, (int, np.integer)) or scale < 1:
        raise ValueError(f"scale must be an int >= 1, got {scale!r}")
    return int(scale)


def _resize(img: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    from PIL import Image

    squeeze = img.ndim == 3 and img.shape[2] == 1
    pil = Image.fromarray(img[..., 0] if squeeze else img)
    out = np.asarray(pil.resize(size, Image.BICUBIC))
    return out[..., None] if squeeze else out


def make_lr(hr: np.ndarray, scale: int) -> np.ndarray:
    """The LR input of the SR protocol: ``hr`` (uint8 (H, W[, C])) down-sampled ``scale`` times by PIL BICUBIC.

    H and W must be divisible by ``scale``. Returns uint8 (H / scale, W / scale[, C]).
    """
    hr = _check_uint8_image(hr, "make_lr")
    scale = _check_scale(scale)
    h, w = hr.shape[:2]
    if h % scale or w % scale:
        raise ValueError(f"make_lr: HR size {h}x{w} is not divisible by the scale {scale}")
    return _resize(hr, (w // scale, h // scale))


def bicubic_up(lr: np.ndarray, scale: int) -> np.ndarray:
    """The SR baseline: ``lr`` (uint8 (h, w[, C])) up-sampled ``scale`` times by PIL BICUBIC, uint8
    (scale*h, scale*w[, C])."""
    lr = _check_uint8_image(lr, "bicubic_up")
    scale = _check_scale(scale)
    h, w = lr.shape[:2]
    return _resize(lr, (w * scale, h * scale))
