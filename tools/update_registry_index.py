"""Rewrite ganzoo/models/index.json from the live registry (every tag's metadata, full config, tensor specs and
parameter counts), which ``ganzoo list`` and ``ganzoo.model_info`` read without importing torch.

    python tools/update_registry_index.py          # rewrite the index
    python tools/update_registry_index.py --check  # exit 1 if it is stale (tests/test_registry_index.py does this)

Run it after changing a model file's ``default_cfgs``, a builder or a config's ``specs()``.
"""
from __future__ import annotations

import argparse
import json
import sys

from ganzoo.registry import INDEX_PATH, build_index
from ganzoo.utils import atomic_write


def render() -> str:
    return json.dumps(build_index(), indent=1, sort_keys=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="exit 1 if the index differs from the live registry")
    args = ap.parse_args(argv)
    text = render()
    current = INDEX_PATH.read_text(encoding="utf-8") if INDEX_PATH.is_file() else ""
    if args.check:
        if current != text:
            print(f"{INDEX_PATH} is stale: run python tools/update_registry_index.py", file=sys.stderr)
            return 1
        return 0
    atomic_write(INDEX_PATH, text.encode())
    print(f"wrote {INDEX_PATH} ({len(text):,} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
