"""Liveness noted on the event loop is written only when flushed, every key in one write."""

from __future__ import annotations

from sqlalchemy import select

from alphaengine.bootstrap import init_schema, read_engine
from alphaengine.settings import Settings
from processes.health import HealthWriter
from projections.schema import health


def _rows(writer: HealthWriter) -> dict[str, str]:
    with writer.engine.connect() as conn:
        return {row.key: row.value for row in conn.execute(select(health.c.key, health.c.value))}


def test_notes_wait_for_the_flush_and_the_last_note_of_a_key_wins(settings: Settings) -> None:
    init_schema(settings)
    writer = HealthWriter(read_engine(settings))
    try:
        writer.set("bot_heartbeat", "running")  # `set` writes at once
        writer.note("market_stream_message")
        writer.note("strategy", "sma_cross: ok")
        writer.note("strategy", "sma_cross: still ok")
        assert _rows(writer) == {"bot_heartbeat": "running"}

        writer.flush()
        assert _rows(writer) == {
            "bot_heartbeat": "running",
            "market_stream_message": "",
            "strategy": "sma_cross: still ok",
        }
        writer.flush()  # nothing noted since: nothing written
        writer.note("strategy", "sma_cross: ok again")
        writer.flush()
        assert _rows(writer)["strategy"] == "sma_cross: ok again"
    finally:
        writer.engine.dispose()
