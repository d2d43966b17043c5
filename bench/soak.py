"""The chaos soak, as long as you like: `.venv/bin/python bench/soak.py --minutes 30 --seed 7`.

Runs the real bot against the real simulator through seeded random faults (all eleven kinds,
simulator restarts, bot SIGKILL and SIGTERM restarts), checks the engine's promises at every
quiet point, and prints one row per event kind, then the totals. Prints figures; never fails.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from alphaengine.soak import Soak, tables  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--speed", type=float, default=90.0, help="simulator speed")
    parser.add_argument("--work-dir", help="keep the logs and databases here (default: temp)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="ae-soak-") as directory:
        work = Path(args.work_dir or directory)
        work.mkdir(parents=True, exist_ok=True)
        soak = Soak(work, seed=args.seed, speed=args.speed)
        started = time.monotonic()
        soak.start()
        try:
            report = soak.run(args.minutes * 60)
        finally:
            soak.stop()
        print(
            f"soak: seed {args.seed}, speed {args.speed:g}x, "
            f"{(time.monotonic() - started) / 60:.1f} min, work dir {work}"
        )
        print(tables(report))
        violations = report.violations
        print(f"violations: {len(violations)}")
        for line in violations[:50]:
            print(f"  {line}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
