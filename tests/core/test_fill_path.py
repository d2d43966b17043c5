"""The fill path reads a fill's aggregates with one query and keeps what it saved for the next
fill: a copy kept is only used while it is the stored state, another writer's change or a lost
save is never hidden, and snapshots taken from the saved aggregate are the reloaded state."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal
from functools import reduce
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate
from eventsourcing.persistence import IntegrityError

from aggregates import ids
from aggregates.envelope import Scope, Source
from aggregates.facts import FillFact
from aggregates.position import Position
from alphaengine.latest_versions import LatestVersions
from alphaengine.settings import Settings
from alphaengine.trading import Trading
from tests.core.story import fill


def _topics(trading: Trading) -> Counter[str]:
    return Counter(n.topic.split(":")[-1] for n in trading.recorder.select_notifications(1, 10**6))


class CountingTrading(Trading):
    """Counts the saves that lost the optimistic-concurrency check."""

    name = "Trading"  # the same tables
    conflicts = 0

    def save(self, *objs: Any, **kwargs: Any) -> Any:
        try:
            return super().save(*objs, **kwargs)
        except IntegrityError:
            self.conflicts += 1
            raise


def test_a_fill_recorded_by_another_writer_is_seen_by_the_next_fill(
    trading: Trading, settings: Settings
) -> None:
    mine = CountingTrading(trading.scope, settings.database_url)
    other = Trading(trading.scope, settings.database_url)
    try:
        ws = mine.envelope(Source.WEBSOCKET)
        assert mine.record_fill(fill(1, "o-1", "BUY", "0.004", "60000"), ws)
        # The other process fills the same order and moves the same position and account.
        assert other.record_fill(fill(2, "o-1", "BUY", "0.006", "60100"), ws)
        assert mine.has_fact("fill:BTCUSDT:2")
        assert not mine.record_fill(fill(2, "o-1", "BUY", "0.006", "60100"), ws)
        assert mine.record_fill(fill(3, "o-1", "SELL", "0.010", "60200"), ws)
        # What it kept from its first fill was stale: it read the stored state instead of
        # saving over it and losing.
        assert mine.conflicts == 0
    finally:
        other.close()
        mine.close()

    order = trading.find_order("o-1")
    assert order is not None and order.trade_ids == [1, 2, 3] and order.version == 4
    position = trading.position()
    assert position.quantity == 0 and position.realized_pnl == Decimal("1.40")
    assert trading.account().realized_pnl == Decimal("1.40")
    assert _topics(trading)["Fact.Recorded"] == 3


class InterruptedTrading(CountingTrading):
    """Lets another writer record a fill while this one is between reading and saving (once)."""

    name = "Trading"

    def __init__(self, scope: Scope, url: str, other: Trading, meanwhile: FillFact) -> None:
        super().__init__(scope, url)
        self.pending: tuple[Trading, FillFact] | None = (other, meanwhile)

    def position(self) -> Position:
        position = super().position()
        if self.pending is not None:
            (other, meanwhile), self.pending = self.pending, None
            other.record_fill(meanwhile, other.envelope(Source.REST))
        return position


def test_a_save_that_loses_to_another_writer_is_retried_on_fresh_state(
    trading: Trading, settings: Settings
) -> None:
    ws = trading.envelope(Source.WEBSOCKET)
    trading.record_fill(fill(1, "o-1", "BUY", "0.010", "60000"), ws)  # working copies exist
    other = Trading(trading.scope, settings.database_url)
    interrupted = InterruptedTrading(
        trading.scope, settings.database_url, other, fill(2, "o-2", "BUY", "0.020", "60100")
    )
    try:
        interrupted.record_fill(fill(3, "o-1", "SELL", "0.005", "60500"), ws)
        assert interrupted.conflicts == 1
        # Its next fill starts from the stored state, not from what the lost save held.
        interrupted.record_fill(fill(4, "o-1", "SELL", "0.005", "60600"), ws)
        assert trading.record_fill(fill(5, "o-2", "SELL", "0.020", "60000"), ws)
    finally:
        interrupted.close()
        other.close()

    position = trading.position()
    assert position.quantity == 0
    topics = _topics(trading)
    assert topics["Fact.Recorded"] == 5
    assert topics["Position.FillApplied"] == topics["Account.FillBooked"] == 5


def test_an_aggregate_read_outside_a_fill_is_the_caller_s_copy(trading: Trading) -> None:
    ws = trading.envelope(Source.WEBSOCKET)
    trading.record_fill(fill(1, "o-1", "BUY", "0.010", "60000"), ws)
    mine = trading.position()
    mine.apply_fill(fill(99, "o-9", "BUY", "1", "1"), ws)  # changed, never saved

    trading.record_fill(fill(2, "o-1", "BUY", "0.010", "60000"), ws)

    assert trading.position().quantity == Decimal("0.020")
    assert mine.quantity == Decimal("1.010")


def _from_events(trading: Trading, aggregate_id: UUID, version: int) -> Any:
    events = trading.events.get(aggregate_id, lte=version)
    return reduce(lambda aggregate, event: event.mutate(aggregate), events, None)


def test_snapshots_taken_at_save_are_the_state_reloaded_from_events(trading: Trading) -> None:
    ws = trading.envelope(Source.WEBSOCKET)
    for trade_id in range(1, 106):
        side = "SELL" if trade_id % 4 == 0 else "BUY"
        trading.record_fill(fill(trade_id, f"o-{trade_id // 3}", side, "0.002", "60000"), ws)

    for aggregate_id in (ids.position_id(trading.scope), ids.account_id(trading.scope)):
        assert trading.snapshots is not None
        snapshots = list(trading.snapshots.get(aggregate_id))
        assert [s.originator_version for s in snapshots] == [100]
        restored: Aggregate = snapshots[0].mutate(None)  # type: ignore[attr-defined]
        assert vars(restored) == vars(_from_events(trading, aggregate_id, 100))


def test_latest_versions_of_present_and_absent_aggregates(trading: Trading) -> None:
    ws = trading.envelope(Source.WEBSOCKET)
    trading.record_fill(fill(1, "o-1", "BUY", "0.010", "60000"), ws)
    trading.record_fill(fill(2, "o-1", "BUY", "0.010", "60000"), ws)
    latest = LatestVersions.for_recorder(trading.recorder)
    assert latest is not None

    versions = latest.of(
        [
            ids.order_id(trading.scope, "o-1"),
            ids.order_id(trading.scope, "o-1", algo=True),
            ids.position_id(trading.scope),
            ids.order_id(trading.scope, "o-1"),
        ]
    )

    assert list(versions.values()) == [3, 0, 3]
