"""One clock for people: what the bot records carries the exchange's time, and the read models
show that time, not the moment the event was written (they differ for the paper exchange,
whose clock runs at its own speed)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from aggregates.envelope import Source
from alphaengine.trading import Trading
from projections.projector import Projector
from projections.replay import rebuild
from projections.schema import rm_equity, rm_events
from tests.core.story import balance, drive_history
from tests.core.tables import snapshot


def test_events_recorded_with_the_exchange_clock_show_its_time(
    trading: Trading, projector: Projector
) -> None:
    market_time = datetime(2027, 3, 1, 9, 30, tzinfo=UTC)  # far from the wall clock
    trading.exchange_clock = lambda: market_time
    trading.record_balance(balance("10000", market_time), trading.envelope(Source.REST))
    trading.exchange_clock = None
    trading.record_balance(
        balance("10001", market_time + timedelta(seconds=1)), trading.envelope(Source.REST)
    )
    projector.catch_up()
    engine = trading.recorder.datastore.engine  # type: ignore[attr-defined]
    with engine.connect() as conn:
        shown = (
            conn.execute(
                select(rm_events.c.timestamp)
                .where(rm_events.c.event_type == "Account.BalanceReported")
                .order_by(rm_events.c.notification_id)
            )
            .scalars()
            .all()
        )
        equity = (
            conn.execute(select(rm_equity.c.time).order_by(rm_equity.c.notification_id))
            .scalars()
            .all()
        )
    # The first was stamped by the exchange's clock; the second, without one, by the recorder
    assert shown[0] == market_time and equity[0] == market_time
    assert abs(shown[1] - datetime.now(UTC)) < timedelta(minutes=5)


def test_read_models_kept_page_by_page_on_the_exchange_clock_equal_a_rebuild(
    trading: Trading, projector: Projector
) -> None:
    # The paper exchange's clock, hours ahead of the wall clock and a minute further on every
    # reading: an order's later events come in later pages than its first.
    readings = iter(range(10**6))
    start = datetime.now(UTC) + timedelta(hours=5)
    trading.exchange_clock = lambda: start + timedelta(minutes=next(readings))
    drive_history(trading, checkpoint=lambda: projector.catch_up(batch_size=2))
    projector.catch_up(batch_size=3)
    live = snapshot(trading)

    rebuild(trading)

    assert snapshot(trading) == live
