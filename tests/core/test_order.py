"""Orders, told as stories: intent → acknowledgement → fills, reports out of order, algo orders."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest

from aggregates.envelope import Scope, Source, envelope
from aggregates.facts import AlgoOrderFact
from aggregates.order import IllegalTransition, Order
from alphaengine.trading import Trading
from tests.core.story import T0, fill, order_report, place

SCOPE = Scope()
ENV = envelope(Source.BOT, SCOPE)


def _intent(cid: str = "ae-1", quantity: str = "0.010") -> Order:
    return Order(
        scope=SCOPE,
        client_order_id=cid,
        is_algo=False,
        origin="ENGINE",
        symbol="BTCUSDT",
        side="BUY",
        order_type="LIMIT",
        quantity=Decimal(quantity),
        price=Decimal("60000"),
        stop_price=Decimal(0),
        reduce_only=False,
        close_position=False,
        time_in_force="GTC",
        working_type="CONTRACT_PRICE",
        command_id=None,
        envelope=ENV,
    )


def test_an_order_from_intent_to_filled() -> None:
    # The write-ahead intent
    order = _intent()
    assert order.status == "PENDING_NEW" and order.is_open

    # The exchange acknowledges; the same acknowledgement twice is news once
    assert order.acknowledge(101, ENV)
    assert not order.acknowledge(101, ENV)
    assert order.status == "NEW"

    # Two fills, the second one reported twice
    assert order.record_fill(fill(1, "ae-1", "BUY", "0.004", "60000", order_id=101), ENV)
    assert order.status == "PARTIALLY_FILLED"
    assert order.record_fill(fill(2, "ae-1", "BUY", "0.006", "60010", order_id=101), ENV)
    assert not order.record_fill(fill(2, "ae-1", "BUY", "0.006", "60010", order_id=101), ENV)

    # Check what it did
    assert order.status == "FILLED" and not order.is_open
    assert order.cumulative_quantity == Decimal("0.010")
    assert order.average_price == Decimal("60006")
    assert order.fees == Decimal("0.2")


def test_status_reports_only_move_forward() -> None:
    order = _intent()
    filled = order_report("ae-1", 101, "FILLED", "BUY", "0.010", "0.010", "60000", T0)
    partial = order_report("ae-1", 101, "PARTIALLY_FILLED", "BUY", "0.010", "0.004", "60000", T0)
    new = order_report("ae-1", 101, "NEW", "BUY", "0.010", "0", "0", T0 - timedelta(seconds=1))

    # The final report arrives first (WS types are not ordered); older ones are no news
    assert order.report(filled, ENV)
    assert not order.report(partial, ENV)
    assert not order.report(new, ENV)
    assert not order.report(filled, ENV)
    assert order.status == "FILLED" and order.cumulative_quantity == Decimal("0.010")


def test_only_an_unacknowledged_order_can_be_rejected_or_dropped() -> None:
    order = _intent()
    order.reject(-2019, "Margin is insufficient.", ENV)
    assert order.status == "REJECTED" and order.reject_reason.startswith("-2019")
    with pytest.raises(IllegalTransition):
        order.reject(-1, "again", ENV)

    acknowledged = _intent("ae-2")
    acknowledged.acknowledge(7, ENV)
    with pytest.raises(IllegalTransition):
        acknowledged.mark_not_found(ENV)

    lost = _intent("ae-3")
    lost.mark_not_found(ENV)
    assert lost.status == "EXPIRED" and not lost.is_open


def test_an_algo_order_triggers_and_its_child_order_links_back(trading: Trading) -> None:
    ws = trading.envelope(Source.WEBSOCKET)
    # A protective stop, recorded as intent before it is sent to the algo API
    cid = place(
        trading, "stop-1", "SELL", "0.010", order_type="STOP_MARKET", stop="59000", algo=True
    )
    algo = trading.find_order(cid, is_algo=True)
    assert algo is not None and algo.is_algo and algo.status == "PENDING_NEW"

    # ALGO_UPDATE: accepted, then triggered with the child's order id
    report = AlgoOrderFact(
        symbol="BTCUSDT",
        client_algo_id=cid,
        algo_id=9001,
        algo_status="NEW",
        side="SELL",
        order_type="STOP_MARKET",
        quantity=Decimal("0.010"),
        trigger_price=Decimal("59000"),
        price=Decimal(0),
        reduce_only=True,
        close_position=False,
        working_type="MARK_PRICE",
        transaction_time=T0,
    )
    assert trading.record_algo_order(report, ws)
    assert not trading.record_algo_order(report, ws)
    triggered = AlgoOrderFact(
        **{**report.__dict__, "algo_status": "TRIGGERED", "child_exchange_order_id": 202}
    )
    assert trading.record_algo_order(triggered, ws)

    # The child order's fill carries the algo order's client id
    trading.record_fill(fill(11, cid, "SELL", "0.010", "58995", order_id=202), ws)

    algo = trading.find_order(cid, is_algo=True)
    child = trading.find_order(cid)
    assert algo is not None and child is not None
    assert algo.status == "TRIGGERED" and not algo.is_open
    assert algo.exchange_order_id == 9001 and algo.child_exchange_order_id == 202
    assert child.parent_client_algo_id == cid and child.origin == "ENGINE"
    assert child.command_id == algo.command_id is not None
    assert child.status == "FILLED" and child.reduce_only
    assert trading.position().quantity == Decimal("-0.010")


def test_a_close_position_stops_child_is_filled_by_its_fill_alone(trading: Trading) -> None:
    ws = trading.envelope(Source.WEBSOCKET)
    # A close-position stop has no quantity; its child order's status report may be lost
    # (a gap in the stream, a restart): its fill alone must close it, not leave it "open".
    report = AlgoOrderFact(
        symbol="BTCUSDT",
        client_algo_id="aesl-close",
        algo_id=9002,
        algo_status="TRIGGERED",
        side="SELL",
        order_type="STOP_MARKET",
        quantity=Decimal(0),
        trigger_price=Decimal("59000"),
        price=Decimal(0),
        reduce_only=False,
        close_position=True,
        working_type="MARK_PRICE",
        transaction_time=T0,
        child_exchange_order_id=303,
    )
    trading.record_algo_order(report, ws)
    trading.record_fill(fill(12, "aesl-close", "SELL", "0.010", "58990", order_id=303), ws)

    child = trading.find_order("aesl-close")
    assert child is not None and child.parent_client_algo_id == "aesl-close"
    assert child.status == "FILLED" and not child.is_open
