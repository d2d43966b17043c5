"""A rebuild fills the read models without their lookup indexes and makes them at the end, from
the current schema: after it, and after one that failed half-way, every index is there, and a
start (`init_schema`) makes any index a killed rebuild left missing and drops the old tables it
set aside. Pages fold ahead while their writes wait, then are written in order."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from sqlalchemy import Engine, inspect, text

from alphaengine.bootstrap import init_schema
from alphaengine.settings import Settings
from alphaengine.store import make_engine
from alphaengine.trading import Trading
from projections.projector import PAGES_AHEAD, Projector, _Batch
from projections.replay import rebuild
from projections.schema import (
    REPLACED,
    lookup_indexes,
    projection_metadata,
    rm_events,
    set_aside,
)
from tests.core.story import drive_history
from tests.core.tables import snapshot


def _indexes(engine: Engine) -> set[str]:
    found = inspect(engine)
    return {
        str(index["name"])
        for table in projection_metadata.sorted_tables
        for index in found.get_indexes(table.name)
    }


EXPECTED = {str(index.name) for index in lookup_indexes()}


@pytest.fixture
def engine(settings: Settings) -> Iterator[Engine]:
    engine = make_engine(settings.database_url)
    yield engine
    engine.dispose()


def test_a_rebuild_leaves_every_lookup_index_in_place(trading: Trading, engine: Engine) -> None:
    drive_history(trading)
    assert _indexes(engine) >= EXPECTED
    rebuild(trading, batch_size=5)
    assert _indexes(engine) == EXPECTED


def test_a_rebuild_that_fails_half_way_leaves_them_too_and_a_catch_up_completes_it(
    trading: Trading, engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    drive_history(trading, checkpoint=Projector.for_trading(trading).catch_up)
    whole = snapshot(trading)
    prepare = _Batch.prepare
    pages = iter(range(100))

    def third_page_fails(batch: _Batch) -> object:
        if next(pages) == 2:
            raise RuntimeError("the disk is full")
        return prepare(batch)

    with monkeypatch.context() as patched:
        patched.setattr(_Batch, "prepare", third_page_fails)
        with pytest.raises(RuntimeError, match="disk is full"):
            rebuild(trading, batch_size=5)
    assert _indexes(engine) == EXPECTED
    # The pages before (if written yet: they may wait for the old tables' drop) are kept.
    assert Projector.for_trading(trading).position() in (0, 5, 10)

    Projector.for_trading(trading).catch_up()
    assert snapshot(trading) == whole


def test_a_start_makes_the_indexes_a_killed_rebuild_left_missing(
    trading: Trading, settings: Settings, engine: Engine
) -> None:
    with engine.begin() as conn:
        for index in lookup_indexes()[:3]:
            index.drop(conn)
    assert _indexes(engine) == EXPECTED - {str(i.name) for i in lookup_indexes()[:3]}
    init_schema(settings)
    assert _indexes(engine) == EXPECTED


def test_a_rebuild_makes_the_tables_of_the_current_schema(trading: Trading, engine: Engine) -> None:
    drive_history(trading)
    # rm_events as an older schema made it: its notification id a BIGINT key of its own.
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE rm_events"))
        conn.execute(
            text(
                "CREATE TABLE rm_events (notification_id BIGINT NOT NULL PRIMARY KEY, "
                + ", ".join(f"{c.name} TEXT" for c in rm_events.c if c.name != "notification_id")
                + ")"
            )
        )
    rebuild(trading)
    with engine.connect() as conn:
        (declared,) = [
            row[2] for row in conn.execute(text("PRAGMA table_info(rm_events)")) if row[5]
        ]
        count = conn.execute(text("SELECT count(*) FROM rm_events")).scalar()
    assert declared == "INTEGER"  # the rowid itself
    assert count == trading.recorder.max_notification_id()


def test_no_table_a_rebuild_set_aside_is_left(trading: Trading, engine: Engine) -> None:
    drive_history(trading)
    rebuild(trading, batch_size=5)
    rebuild(trading)
    assert not [name for name in inspect(engine).get_table_names() if name.endswith(REPLACED)]


def test_a_start_drops_what_a_killed_rebuild_set_aside(
    trading: Trading, settings: Settings, engine: Engine
) -> None:
    drive_history(trading, checkpoint=Projector.for_trading(trading).catch_up)
    whole = snapshot(trading)
    # Killed right after setting the old tables aside: emptied, unindexed, the old ones kept.
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM projections_tracking WHERE application_name = 'Trading'"))
        set_aside(conn)
    assert _indexes(engine) == set()

    init_schema(settings)

    assert not [name for name in inspect(engine).get_table_names() if name.endswith(REPLACED)]
    assert _indexes(engine) == EXPECTED
    Projector.for_trading(trading).catch_up()
    assert snapshot(trading) == whole


def test_pages_wait_for_writes_after_folded_ahead_then_are_written_in_order(
    trading: Trading, engine: Engine
) -> None:
    drive_history(trading)
    total = int(trading.recorder.max_notification_id() or 0)
    assert total > 3 * PAGES_AHEAD
    rebuild(trading)
    whole = snapshot(trading)
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM projections_tracking"))
        for table in reversed(projection_metadata.sorted_tables):
            conn.execute(table.delete())
    projector = Projector.for_trading(trading)
    selects = 0
    select = projector._select

    def counted(start: int, limit: int) -> Any:
        nonlocal selects
        selects += 1
        return select(start, limit)

    projector._select = counted  # type: ignore[method-assign]
    may_write = threading.Event()
    with ThreadPoolExecutor(1) as pool:
        caught_up = pool.submit(projector.catch_up, 3, writes_after=may_write)
        deadline = time.monotonic() + 10
        while selects < PAGES_AHEAD and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.2)

        assert selects == PAGES_AHEAD  # folded ahead as far as it may, then waiting
        assert projector.position() == 0
        may_write.set()
        assert caught_up.result(timeout=30) == total
    assert snapshot(trading) == whole
