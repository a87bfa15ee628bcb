"""One file per architecture; importing this package imports (and so registers) every one of them."""
import importlib as _importlib
import pkgutil as _pkgutil

from .base import GANModel, ModelConfig

for _m in sorted(_pkgutil.iter_modules(__path__), key=lambda m: m.name):
    if _m.name != "base":
        _importlib.import_module(f"{__name__}.{_m.name}")

__all__ = ["GANModel", "ModelConfig"]
