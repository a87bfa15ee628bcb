"""torch.hub entry points for ganzoo, generated from the registry by tools/gen_hubconf.py: do not edit.

    model = torch.hub.load("<repo or local checkout>", "dcgan")                  # default weights
    model = torch.hub.load("<repo or local checkout>", "srgan", pretrained=False)

Each entry point calls ganzoo.load(name, pretrained=..., **kwargs). Works from a plain checkout: the three
folders that the installed package maps into the ganzoo namespace (hub/, export/, kernels/) are mapped here too.
"""
import importlib.util as _ilu
import os as _os
import sys as _sys

dependencies = ["torch", "numpy", "safetensors", "huggingface_hub", "PIL", "yaml"]


def _ganzoo():
    try:
        import ganzoo.hub  # noqa: F401  (an installed ganzoo)
    except ImportError:
        root = _os.path.dirname(_os.path.abspath(__file__))
        if root not in _sys.path:
            _sys.path.insert(0, root)
        import ganzoo

        for sub in ("hub", "export", "kernels"):
            name = f"ganzoo.{sub}"
            if name not in _sys.modules:
                spec = _ilu.spec_from_file_location(name, _os.path.join(root, sub, "__init__.py"),
                                                    submodule_search_locations=[_os.path.join(root, sub)])
                mod = _ilu.module_from_spec(spec)
                _sys.modules[name] = mod
                spec.loader.exec_module(mod)
                setattr(ganzoo, sub, mod)
    import ganzoo

    return ganzoo


def dcgan(pretrained=True, **kwargs):
    """DCGAN, 64x64 reference layout (G 3,576,704 / D 2,765,568 parameters with nc=3)."""
    return _ganzoo().load("dcgan", pretrained=pretrained, **kwargs)


def dcgan_32(pretrained=True, **kwargs):
    """DCGAN, 32x32 variant: one fewer transposed-conv block."""
    return _ganzoo().load("dcgan_32", pretrained=pretrained, **kwargs)


def drgan(pretrained=True, **kwargs):
    """Single-image DR-GAN (96x96, Nd=200, Np=13, Nz=50 by default)."""
    return _ganzoo().load("drgan", pretrained=pretrained, **kwargs)


def drgan_multi(pretrained=True, **kwargs):
    """Multi-image DR-GAN: conv53 predicts a confidence per image; forward takes (B, N, C, 96, 96)."""
    return _ganzoo().load("drgan_multi", pretrained=pretrained, **kwargs)


def gan3d(pretrained=True, **kwargs):
    """3D-GAN, 64^3 (paper layout): G 17,569,664 / D 11,048,704 parameters."""
    return _ganzoo().load("gan3d", pretrained=pretrained, **kwargs)


def gan3d_32(pretrained=True, **kwargs):
    """3D-GAN, 32^3 variant: one fewer stride-2 block in G and D."""
    return _ganzoo().load("gan3d_32", pretrained=pretrained, **kwargs)


def pggan_inpaint(pretrained=True, **kwargs):
    """PGGAN patch-based inpainting (Demir & Unal 2018), ganzoo's documented default design at 256x256."""
    return _ganzoo().load("pggan_inpaint", pretrained=pretrained, **kwargs)


def srgan(pretrained=True, **kwargs):
    """SRGAN x4 (G 1,547,350 / D 23,563,649 parameters)."""
    return _ganzoo().load("srgan", pretrained=pretrained, **kwargs)


def srgan_x2(pretrained=True, **kwargs):
    """SRGAN x2: one sub-pixel upsample block (G 1,399,637 parameters)."""
    return _ganzoo().load("srgan_x2", pretrained=pretrained, **kwargs)


def srgan_x8(pretrained=True, **kwargs):
    """SRGAN x8: three sub-pixel upsample blocks (G 1,695,063 parameters)."""
    return _ganzoo().load("srgan_x8", pretrained=pretrained, **kwargs)


def srresnet(pretrained=True, **kwargs):
    """SRResNet x4: the SRGAN generator trained on MSE alone (same architecture as ``srgan``)."""
    return _ganzoo().load("srresnet", pretrained=pretrained, **kwargs)


def srresnet_x2(pretrained=True, **kwargs):
    """SRResNet x2 (same architecture as ``srgan_x2``)."""
    return _ganzoo().load("srresnet_x2", pretrained=pretrained, **kwargs)


def srresnet_x8(pretrained=True, **kwargs):
    """SRResNet x8 (same architecture as ``srgan_x8``)."""
    return _ganzoo().load("srresnet_x8", pretrained=pretrained, **kwargs)


def tgan(pretrained=True, **kwargs):
    """TGAN (SVC): z0 (B, 100) -> video (B, 3, 16, 64, 64)."""
    return _ganzoo().load("tgan", pretrained=pretrained, **kwargs)
