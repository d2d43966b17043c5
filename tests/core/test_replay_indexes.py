"""A rebuild fills the read models without their lookup indexes and makes them at the end, from
the current schema: after it, and after one that failed half-way, every index is there, and a
start (`init_schema`) makes any index a killed rebuild left missing."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, inspect, text

from alphaengine.bootstrap import init_schema
from alphaengine.settings import Settings
from alphaengine.store import make_engine
from alphaengine.trading import Trading
from projections.projector import Projector, _Batch
from projections.replay import rebuild
from projections.schema import lookup_indexes, projection_metadata, rm_events
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
    assert Projector.for_trading(trading).position() == 10

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
