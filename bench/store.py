"""Storage benchmark: the Trading application's event store beside raw sqlite3 in the same run.

`python -m bench.store [--quick]` prints one table. Each application figure is shown with the raw
sqlite3 WAL figure it is compared to and the ratio, so a slow disk or a busy machine moves both
columns and the ratio stays meaningful. The application runs at its configured synchronous level
(FULL unless ALPHAENGINE_SQLITE_SYNCHRONOUS says otherwise); the raw baseline is measured at FULL
and NORMAL.

What is measured is what the engine calls: `Trading.record_fill` once per fact, as the ingest and
the reconciler record them (duplicates included), and `projections.replay.rebuild` at its default
page (what `python -m alphaengine replay` uses), beside raw rows written in transactions of the
same size; the rebuild at 500 per page is kept for comparison with earlier figures. The last
line rebuilds a trading history of orders, fills, Commands and balances (bench/startup.py's
mix), whose events are larger than the fills-and-state-saves log above.

The raw FULL commits, `record_fill` and the rebuilds are run three times; the table shows the
median run and the lowest and highest rate.
"""

from __future__ import annotations

import argparse
import functools
import os
import random
import sqlite3
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from aggregates.envelope import Source  # noqa: E402
from aggregates.facts import FillFact  # noqa: E402
from alphaengine.bootstrap import init_schema, open_trading  # noqa: E402
from alphaengine.settings import load_settings  # noqa: E402
from alphaengine.store import SYNCHRONOUS  # noqa: E402
from alphaengine.trading import Trading  # noqa: E402
from bench.history import fill_store, settings_for  # noqa: E402
from projections.replay import REBUILD_PAGE, rebuild  # noqa: E402

READ_BATCH = 500
DUPLICATE_SHARE = 0.3
# Repeated measures report the median run (and the spread).
RUNS = 3


@dataclass(frozen=True)
class Sizes:
    single_saves: int
    fills: int
    raw_commits_full: int
    raw_commits_normal: int
    raw_rows: int
    history_events: int


DEFAULT = Sizes(
    single_saves=1500,
    fills=1000,
    raw_commits_full=1000,
    raw_commits_normal=8000,
    raw_rows=20000,
    history_events=10000,
)
QUICK = Sizes(
    single_saves=200,
    fills=200,
    raw_commits_full=300,
    raw_commits_normal=1500,
    raw_rows=5000,
    history_events=1000,
)


@dataclass(frozen=True)
class Row:
    what: str
    count: int
    seconds: float
    unit: str
    baseline: str
    baseline_rate: float
    spread: tuple[float, float] | None = None  # lowest and highest rate of repeated runs

    @property
    def rate(self) -> float:
        return self.count / self.seconds if self.seconds else float("inf")


def timed(work: Callable[[], int]) -> tuple[int, float]:
    started = time.perf_counter()
    count = work()
    return count, time.perf_counter() - started


def median_of(runs: list[Callable[[], int]]) -> tuple[int, float, tuple[float, float]]:
    """The run of median rate (its count and seconds), and the lowest and highest rate: on a
    VM a single run moves by a fifth with the host's disk and scheduler."""
    results = sorted((timed(run) for run in runs), key=lambda r: r[0] / r[1])
    rates = [count / seconds for count, seconds in results]
    count, seconds = results[len(results) // 2]
    return count, seconds, (rates[0], rates[-1])


# ---- raw sqlite3 ------------------------------------------------------------------------
def raw_connection(path: Path, synchronous: str) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute(f"PRAGMA synchronous={synchronous}")
    conn.execute(
        "CREATE TABLE IF NOT EXISTS events (id INTEGER PRIMARY KEY, originator_id BLOB NOT NULL,"
        " originator_version INTEGER NOT NULL, topic TEXT NOT NULL, state BLOB NOT NULL,"
        " UNIQUE (originator_id, originator_version))"
    )
    return conn


def raw_commits(path: Path, synchronous: str, count: int) -> int:
    """One INSERT per transaction, like one event per save."""
    conn = raw_connection(path, synchronous)
    state = os.urandom(300)
    try:
        for version in range(1, count + 1):
            conn.execute("BEGIN")
            conn.execute(
                "INSERT INTO events (originator_id, originator_version, topic, state)"
                " VALUES (?, ?, ?, ?)",
                (uuid.uuid4().bytes, version, "bench:Raw", state),
            )
            conn.execute("COMMIT")
    finally:
        conn.close()
    return count


def raw_batched_rows(path: Path, count: int, per_transaction: int = READ_BATCH) -> int:
    """Rows in transactions of `per_transaction`, like a projection page."""
    conn = raw_connection(path, "FULL")
    state = os.urandom(300)
    try:
        for start in range(0, count, per_transaction):
            conn.execute("BEGIN")
            conn.executemany(
                "INSERT INTO events (originator_id, originator_version, topic, state)"
                " VALUES (?, ?, ?, ?)",
                [
                    (uuid.uuid4().bytes, 1, "bench:Raw", state)
                    for _ in range(min(per_transaction, count - start))
                ],
            )
            conn.execute("COMMIT")
    finally:
        conn.close()
    return count


def raw_reads(path: Path) -> int:
    conn = raw_connection(path, "FULL")
    read, last = 0, 0
    try:
        while True:
            rows = conn.execute(
                "SELECT id, originator_id, originator_version, topic, state FROM events"
                " WHERE id > ? ORDER BY id LIMIT ?",
                (last, READ_BATCH),
            ).fetchall()
            if not rows:
                return read
            read += len(rows)
            last = rows[-1][0]
    finally:
        conn.close()


# ---- the application --------------------------------------------------------------------
def single_saves(trading: Trading, count: int) -> int:
    env = trading.envelope(Source.BOT)
    for n in range(count):
        trading.save_strategy_state({"n": n}, env)
    return count


def exchange_fills(count: int) -> list[FillFact]:
    """`count` arrivals: 70 % distinct fills, 30 % repeats of earlier ones, as WS + REST give."""
    rng = random.Random(7)
    distinct = round(count * (1 - DUPLICATE_SHARE))
    fills = [
        FillFact(
            symbol="BTCUSDT",
            trade_id=trade_id,
            exchange_order_id=trade_id // 4,
            client_order_id=f"bench-{trade_id // 4}",
            side=rng.choice(["BUY", "SELL"]),
            quantity=Decimal("0.001") * rng.randint(1, 50),
            price=Decimal("0.1") * rng.randint(590_000, 610_000),
            fee=Decimal("0.01"),
            fee_asset="USDT",
            realized_pnl=Decimal(0),
            is_maker=False,
            time=datetime.now(UTC),
        )
        for trade_id in range(1, distinct + 1)
    ]
    arrivals = fills + [rng.choice(fills) for _ in range(count - distinct)]
    arrivals.sort(key=lambda f: f.trade_id)
    return arrivals


def ingest(trading: Trading, fills: list[FillFact]) -> int:
    env = trading.envelope(Source.WEBSOCKET)
    for item in fills:
        trading.record_fill(item, env)
    return len(fills)


def read_log(trading: Trading) -> int:
    read, start = 0, 1
    while True:
        batch = trading.recorder.select_notifications(start, READ_BATCH)
        if not batch:
            return read
        read += len(batch)
        start = batch[-1].id + 1


def measure(sizes: Sizes, workdir: Path) -> list[Row]:
    rows: list[Row] = []
    count, seconds, spread = median_of(
        [lambda: raw_commits(workdir / "raw-full.db", "FULL", sizes.raw_commits_full)] * RUNS
    )
    full_rate = count / seconds
    rows.append(
        Row("raw sqlite3 WAL commits (FULL)", count, seconds, "commits/s", "-", 0.0, spread)
    )
    count, seconds = timed(
        lambda: raw_commits(workdir / "raw-normal.db", "NORMAL", sizes.raw_commits_normal)
    )
    rows.append(Row("raw sqlite3 WAL commits (NORMAL)", count, seconds, "commits/s", "-", 0.0))
    count, seconds = timed(lambda: raw_batched_rows(workdir / "raw-rows.db", sizes.raw_rows))
    batched_rate = count / seconds
    rows.append(
        Row(f"raw sqlite3 rows, {READ_BATCH}/txn (FULL)", count, seconds, "rows/s", "-", 0.0)
    )
    count, seconds = timed(
        lambda: raw_batched_rows(workdir / "raw-pages.db", sizes.raw_rows, REBUILD_PAGE)
    )
    page_rate = count / seconds
    rows.append(
        Row(f"raw sqlite3 rows, {REBUILD_PAGE}/txn (FULL)", count, seconds, "rows/s", "-", 0.0)
    )
    count, seconds = timed(lambda: raw_reads(workdir / "raw-rows.db"))
    read_rate = count / seconds
    rows.append(Row(f"raw sqlite3 reads, {READ_BATCH}/query", count, seconds, "rows/s", "-", 0.0))

    settings = load_settings(
        mode="paper", data_dir=workdir / "app", secrets_file=workdir / "absent.yaml", environ={}
    )
    init_schema(settings)
    # As the bot opens it: the only writer of the account (it holds the bot lease).
    trading = open_trading(settings, sole_writer=True)
    try:
        count, seconds = timed(lambda: single_saves(trading, sizes.single_saves))
        rows.append(
            Row(
                "Trading: one event per save",
                count,
                seconds,
                "saves/s",
                "raw commits FULL",
                full_rate,
            )
        )
        # Three runs, each on arrivals of its own (a repeat is refused without a write).
        arrivals = exchange_fills(sizes.fills * RUNS)
        batches = [arrivals[i * sizes.fills : (i + 1) * sizes.fills] for i in range(RUNS)]
        count, seconds, spread = median_of(
            [functools.partial(ingest, trading, batch) for batch in batches]
        )
        rows.append(
            Row(
                f"Trading.record_fill, {DUPLICATE_SHARE:.0%} duplicates",
                count,
                seconds,
                "facts/s",
                "raw commits FULL",
                full_rate,
                spread,
            )
        )
        count, seconds = timed(lambda: read_log(trading))
        rows.append(
            Row(
                f"select_notifications, {READ_BATCH}/call",
                count,
                seconds,
                "events/s",
                "raw reads",
                read_rate,
            )
        )
        count, seconds, spread = median_of([lambda: rebuild(trading)] * RUNS)
        rows.append(
            Row(
                f"projections.replay.rebuild, {REBUILD_PAGE}/page",
                count,
                seconds,
                "events/s",
                f"raw rows {REBUILD_PAGE}/txn",
                page_rate,
                spread,
            )
        )
        count, seconds = timed(lambda: rebuild(trading, batch_size=READ_BATCH))
        rows.append(
            Row(
                f"projections.replay.rebuild, {READ_BATCH}/page",
                count,
                seconds,
                "events/s",
                f"raw rows {READ_BATCH}/txn",
                batched_rate,
            )
        )
    finally:
        trading.close()
    rows.append(history_rebuild(workdir / "history", sizes.history_events, page_rate))
    return rows


def history_rebuild(workdir: Path, events: int, page_rate: float) -> Row:
    """The rebuild of a trading history: orders with their reports and fills, Commands and
    balances (bench/startup.py's mix), whose events are larger and richer than the rows above
    (most of a rebuild's time is decoding and folding them)."""
    settings = settings_for(workdir)
    init_schema(settings)
    fill_store(workdir, events, seed=7)
    trading = open_trading(settings, sole_writer=True)
    try:
        count, seconds, spread = median_of([lambda: rebuild(trading)] * RUNS)
    finally:
        trading.close()
    return Row(
        "rebuild, an order-and-fill history",
        count,
        seconds,
        "events/s",
        f"raw rows {REBUILD_PAGE}/txn",
        page_rate,
        spread,
    )


def render(rows: list[Row]) -> str:
    header = (
        f"{'measure':<42} {'n':>7} {'s':>7} {'rate':>10} {'unit':<10} {'vs':<18} {'ratio':>6}"
        f"  {f'runs: lowest-highest of {RUNS}':<28}"
    )
    lines = [header, "-" * len(header)]
    for row in rows:
        ratio = f"{row.rate / row.baseline_rate:.2f}" if row.baseline_rate else ""
        spread = f"{row.spread[0]:,.0f}-{row.spread[1]:,.0f}" if row.spread else ""
        lines.append(
            f"{row.what:<42} {row.count:>7} {row.seconds:>7.2f} {row.rate:>10,.0f} {row.unit:<10}"
            f" {row.baseline:<18} {ratio:>6}  {spread}"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a short run (a few seconds)")
    args = parser.parse_args()
    sizes = QUICK if args.quick else DEFAULT
    with tempfile.TemporaryDirectory(prefix="alphaengine-bench-") as scratch:
        rows = measure(sizes, Path(scratch))
    print(
        f"application synchronous={SYNCHRONOUS} (ALPHAENGINE_SQLITE_SYNCHRONOUS), WAL, 2-core box"
    )
    print(render(rows))


if __name__ == "__main__":
    main()
