"""Two OS processes write the same aggregates into one SQLite file: conflicts retried, none lost."""

from __future__ import annotations

import multiprocessing
import queue
import time
from decimal import Decimal
from typing import Any

from aggregates.envelope import Scope
from alphaengine.settings import Settings
from alphaengine.trading import Trading
from tests.core import concurrent_writer

SHARED, OWN = 30, 20


def _collect(results: Any, workers: list[Any]) -> dict[int, dict[str, int]]:
    """Wait for both reports; fail at once (not after a long timeout) if a writer died."""
    reports: dict[int, dict[str, int]] = {}
    deadline = time.monotonic() + 120
    while len(reports) < len(workers):
        assert time.monotonic() < deadline, "writers did not finish in time"
        try:
            worker, report = results.get(timeout=0.5)
        except queue.Empty:
            dead = [p.exitcode for p in workers if p.exitcode not in (None, 0)]
            assert not dead, f"a writer process failed with exit code {dead}"
            continue
        reports[worker] = report
    return reports


def test_two_writer_processes_lose_nothing_and_count_nothing_twice(
    trading: Trading, settings: Settings
) -> None:
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(2)
    results = context.Queue()
    workers = [
        context.Process(
            target=concurrent_writer.main,
            args=(settings.database_url, worker, barrier, SHARED, OWN, results),
        )
        for worker in (1, 2)
    ]
    for process in workers:
        process.start()
    reports = _collect(results, workers)
    for process in workers:
        process.join(timeout=30)
        assert process.exitcode == 0

    # Each shared fill was recorded by exactly one of the two; every own fill by its writer
    assert sum(r["recorded"] for r in reports.values()) == SHARED + 2 * OWN
    # Both read the position at the same version before saving: one save lost and was retried
    assert sum(r["conflicts"] for r in reports.values()) >= 1

    fresh = Trading(Scope(), settings.database_url)
    try:
        notifications = fresh.recorder.select_notifications(1, 100_000)
        topics = [n.topic.rsplit(".", 1)[-1] for n in notifications]
        assert topics.count("Recorded") == SHARED + 2 * OWN
        assert topics.count("Submitted") == SHARED
        sold = sum(1 for t in range(1, SHARED + 1) if t % 3 == 0)
        expected = Decimal("0.001") * (SHARED - 2 * sold) + Decimal("0.002") * 2 * OWN
        assert fresh.position().quantity == expected
        assert [n.id for n in notifications] == list(range(1, len(notifications) + 1))
    finally:
        fresh.close()
