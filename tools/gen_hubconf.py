"""Generate hubconf.py at the repo root from the registry, so torch.hub.load(<repo>, "dcgan") works.

    python tools/gen_hubconf.py          # rewrite hubconf.py
    python tools/gen_hubconf.py --check  # exit 1 if hubconf.py is stale (CI runs this through the tests)
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

HEADER = '''"""torch.hub entry points for ganzoo, generated from the registry by tools/gen_hubconf.py: do not edit.

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
'''

ENTRY = '''

def {name}(pretrained=True, **kwargs):
    """{doc}"""
    return _ganzoo().load("{name}", pretrained=pretrained, **kwargs)
'''


def render() -> str:
    import ganzoo
    from ganzoo.registry import get_entry

    out = HEADER
    for name in ganzoo.list_models():
        doc = (get_entry(name).builder.__doc__ or name).strip().splitlines()[0].replace('"', "'")
        out += ENTRY.format(name=name, doc=doc)
    return out


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--check", action="store_true")
    args = p.parse_args()
    text = render()
    path = ROOT / "hubconf.py"
    if args.check:
        if not path.is_file() or path.read_text() != text:
            print("hubconf.py is stale: run python tools/gen_hubconf.py", file=sys.stderr)
            return 1
        return 0
    path.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
