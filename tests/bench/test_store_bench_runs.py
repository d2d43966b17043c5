"""`make bench` runs bench/store.py as a script from the repository root: its quick run starts,
measures every row and prints the table (the figures themselves are never judged here)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_store_bench_runs_as_make_bench_runs_it(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "bench/store.py", "--quick"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={"PATH": "/usr/bin:/bin", "TMPDIR": str(tmp_path)},
    )
    assert done.returncode == 0, done.stderr
    rows = {line[:42].strip(): line for line in done.stdout.splitlines()}
    for measure in (
        "Trading.record_fill, 30% duplicates",
        "projections.replay.rebuild, 2000/page",
        "rebuild, an order-and-fill history",
    ):
        assert "events/s" in rows[measure] or "facts/s" in rows[measure]
