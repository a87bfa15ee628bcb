"""Time ``ganzoo list`` / ``ganzoo info`` side by side with what they would cost without the registry index.

    python tools/bench_cli.py [--repeat 7]

Rows (each a fresh process, median and min of ``--repeat`` runs, alternating so load drifts hit every row alike):
``ganzoo list`` and ``ganzoo info srgan`` as shipped (the index: no torch import); the same listing from the live
registry (``import ganzoo.models`` first: torch plus a meta-device build per tag); and ``import torch`` alone,
the floor of anything that needs torch.
"""
from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

ROWS = {
    "ganzoo list (index)": [sys.executable, "-m", "ganzoo.cli", "list"],
    "ganzoo info srgan (index)": [sys.executable, "-m", "ganzoo.cli", "info", "srgan"],
    "ganzoo list (live registry)": [sys.executable, "-c",
                                    "import ganzoo.models, ganzoo.cli, sys; sys.exit(ganzoo.cli.main(['list']))"],
    "import torch": [sys.executable, "-c", "import torch"],
}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=7)
    args = ap.parse_args(argv)
    times: dict[str, list[float]] = {k: [] for k in ROWS}
    for _ in range(args.repeat):
        for label, cmd in ROWS.items():
            t0 = time.perf_counter()
            subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, timeout=300)
            times[label].append(time.perf_counter() - t0)
    print(f"{'command':<30} {'median s':>9} {'min s':>7}")
    for label, ts in times.items():
        print(f"{label:<30} {statistics.median(ts):>9.3f} {min(ts):>7.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
