"""Dedup of identical facts: the exchange's identity decides, not the channel it came over."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal

from aggregates.envelope import Source
from alphaengine.trading import Trading
from tests.core.story import T0, fill, order_report


def _event_types(trading: Trading) -> Counter[str]:
    notifications = trading.recorder.select_notifications(1, 10_000)
    return Counter(n.topic.split(":")[-1] for n in notifications)


def test_the_same_fill_from_websocket_and_rest_records_once(trading: Trading) -> None:
    f = fill(77, "ae-a", "BUY", "0.010", "60000", order_id=5)

    # First over the user stream, then twice over REST (a reconcile and a backfill)
    assert trading.record_fill(f, trading.envelope(Source.WEBSOCKET))
    assert not trading.record_fill(f, trading.envelope(Source.REST))
    assert not trading.record_fill(f, trading.envelope(Source.RECONCILER))

    types = _event_types(trading)
    assert types["Order.Filled"] == 1
    assert types["Position.FillApplied"] == 1
    assert types["Account.FillBooked"] == 1
    assert types["Fact.Recorded"] == 1
    assert trading.has_fact(f.dedup_key)
    assert trading.position().quantity == Decimal("0.010")


def test_the_same_order_update_from_both_channels_records_once(trading: Trading) -> None:
    new = order_report("manual-9", 9, "NEW", "SELL", "0.002", "0", "0", T0, order_type="LIMIT")
    assert trading.record_order(new, trading.envelope(Source.WEBSOCKET))
    assert not trading.record_order(new, trading.envelope(Source.REST))

    order = trading.find_order("manual-9")
    assert order is not None and order.origin == "EXTERNAL" and order.version == 2
