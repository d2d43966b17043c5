"""The chaos soak in a few minutes: the real bot and simulator through every fault kind,
simulator restarts and bot SIGKILL/SIGTERM restarts (seeded), with every promise checked.
`bench/soak.py --minutes N` runs the same for as long as you like."""

from __future__ import annotations

from pathlib import Path

import pytest

from alphaengine.soak import EVENTS, Soak, tables

pytestmark = pytest.mark.slow

SECONDS = 150.0


def test_every_fault_kind_keeps_every_promise(tmp_path: Path) -> None:
    soak = Soak(tmp_path, seed=11, speed=90.0, fault_seconds=2.5, settle_seconds=25.0)
    soak.start()
    try:
        report = soak.run(SECONDS)
    finally:
        soak.stop()
    print(tables(report))  # shown with -s, and on failure
    kinds = {e.kind for e in report.events}
    assert kinds == set(EVENTS), f"not every event kind ran: {sorted(set(EVENTS) - kinds)}"
    assert report.orders > 0 and report.trades > 0
    assert report.violations == []
