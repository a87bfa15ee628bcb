"""Offline datasets: everything here ships inside an installable package or is generated procedurally."""
from .datasets import available_datasets, load_dataset
from .photos import SR_HELDOUT, HeldOutPhoto, bicubic_up, get_photo, list_photos, load_photo, make_lr

__all__ = ["available_datasets", "load_dataset", "SR_HELDOUT", "HeldOutPhoto", "list_photos", "get_photo",
           "load_photo", "make_lr", "bicubic_up"]
