"""Offline datasets: everything here ships inside an installable package or is generated procedurally."""
from .datasets import available_datasets, load_dataset

__all__ = ["available_datasets", "load_dataset"]
