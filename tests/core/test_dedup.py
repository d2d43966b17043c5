"""Dedup of identical facts: the exchange's identity decides, not the channel it came over."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal
from typing import Any

import pytest

from aggregates.envelope import Source
from alphaengine.bootstrap import open_trading
from alphaengine.settings import Settings
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


def test_a_fact_recorded_by_another_process_is_found_in_the_log(
    trading: Trading, settings: Settings
) -> None:
    f = fill(78, "ae-b", "SELL", "0.005", "61000", order_id=6)
    other = open_trading(settings)
    try:
        assert other.record_fill(f, other.envelope(Source.REST))
    finally:
        other.close()
    # This process never saw the fact: it reads the log, and remembers what it found.
    assert trading.has_fact(f.dedup_key)
    assert not trading.record_fill(f, trading.envelope(Source.WEBSOCKET))
    assert _event_types(trading)["Fact.Recorded"] == 1


def test_a_repeated_fact_is_refused_without_reading_the_log_again(
    trading: Trading, monkeypatch: pytest.MonkeyPatch
) -> None:
    f = fill(79, "ae-c", "BUY", "0.001", "60500", order_id=7)
    assert trading.record_fill(f, trading.envelope(Source.WEBSOCKET))
    reads = Counter[str]()
    select_events = trading.recorder.select_events

    def counted(*args: Any, **kwargs: Any) -> Any:
        reads["select_events"] += 1
        return select_events(*args, **kwargs)

    monkeypatch.setattr(trading.recorder, "select_events", counted)
    assert not trading.record_fill(f, trading.envelope(Source.REST))
    assert not trading.record_fill(f, trading.envelope(Source.RECONCILER))
    assert reads["select_events"] == 0
    # A fact never recorded is still looked up in the log.
    assert not trading.has_fact("fill:BTCUSDT:999999")
    assert reads["select_events"] == 1
