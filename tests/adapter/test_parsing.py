"""Payload → fact parsing: Decimal money, UTC times, malformed input refused with a reason."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from adapters.binance.parsing import MalformedMessage, parse_market_event, parse_user_event
from adapters.binance.rest_rows import parse_position
from aggregates.facts import AlgoOrderFact, BalanceFact, FillFact, LeverageFact, OrderFact
from aggregates.ports import KlineUpdate, ListenKeyExpired, MarkUpdate, UserFacts


def facts(payload: object) -> tuple[object, ...]:
    parsed = parse_user_event(payload)
    assert isinstance(parsed, UserFacts)
    return parsed.facts


TRADE: dict[str, Any] = {
    "e": "ORDER_TRADE_UPDATE",
    "T": 1742585119595,
    "E": 1742585119596,
    "o": {
        "s": "BTCUSDT", "c": "ae-1", "S": "BUY", "o": "MARKET", "f": "GTC", "q": "0.100",
        "p": "0", "ap": "84146.50000", "sp": "0", "x": "TRADE", "X": "FILLED", "i": 4129479931,
        "l": "0.100", "z": "0.100", "L": "84146.50", "n": "3.36586000", "N": "USDT",
        "T": 1742585119595, "t": 310194316, "m": False, "R": False, "rp": "0", "er": "0",
    },
}  # fmt: skip


def test_a_trade_update_is_a_fill_then_an_order_report() -> None:
    fill, order = facts(TRADE)
    assert isinstance(fill, FillFact) and isinstance(order, OrderFact)
    assert fill.trade_id == 310194316
    assert fill.price == Decimal("84146.50") and fill.fee == Decimal("3.36586000")
    assert fill.time == datetime(2025, 3, 21, 19, 25, 19, 595000, tzinfo=UTC)
    assert order.status == "FILLED" and order.cumulative_quantity == Decimal("0.100")


def test_a_new_order_update_has_no_fill() -> None:
    payload = {**TRADE, "o": {**TRADE["o"], "x": "NEW", "X": "NEW", "t": 0, "l": "0", "z": "0"}}
    (order,) = facts(payload)
    assert isinstance(order, OrderFact) and order.status == "NEW"


def test_account_update_gives_balances_only() -> None:
    payload = {
        "e": "ACCOUNT_UPDATE",
        "T": 1742585119595,
        "a": {
            "m": "ORDER",
            "B": [{"a": "USDT", "wb": "15237.42937172", "cw": "15237.42937172", "bc": "0"}],
            "P": [{"s": "BTCUSDT", "pa": "0.100", "ep": "84146.5"}],
        },
    }
    (balance,) = facts(payload)
    assert isinstance(balance, BalanceFact)
    assert balance.wallet_balance == Decimal("15237.42937172") and balance.reason == "ORDER"


def test_algo_update_carries_the_triggered_child() -> None:
    payload = {
        "e": "ALGO_UPDATE",
        "T": 1765431097030,
        "o": {
            "caid": "ae-2", "aid": 1000000033225453, "at": "CONDITIONAL", "o": "STOP_MARKET",
            "s": "BTCUSDT", "S": "BUY", "q": "38", "X": "TRIGGERED", "ai": "88937381063",
            "tp": "0.13855", "p": "0", "wt": "CONTRACT_PRICE", "cp": False, "R": False,
        },
    }  # fmt: skip
    (algo,) = facts(payload)
    assert isinstance(algo, AlgoOrderFact)
    assert algo.child_exchange_order_id == 88937381063 and algo.algo_status == "TRIGGERED"


def test_signals_and_unknown_events() -> None:
    config = {"e": "ACCOUNT_CONFIG_UPDATE", "T": 1, "ac": {"s": "BTCUSDT", "l": 25}}
    leverage = LeverageFact("BTCUSDT", 25, datetime.fromtimestamp(0.001, UTC))
    assert facts(config) == (leverage,)
    expired = parse_user_event({"e": "listenKeyExpired", "E": "1", "listenKey": "k"})
    assert expired == ListenKeyExpired()
    assert facts({"e": "TRADE_LITE", "E": 1}) == ()
    assert facts({"e": "SOMETHING_NEW"}) == ()


@pytest.mark.parametrize(
    "payload",
    [
        [],
        "text",
        {"no": "type"},
        {"e": "ORDER_TRADE_UPDATE", "T": 1},
        {**TRADE, "o": {**TRADE["o"], "q": "not-a-number"}},
        {"e": "ACCOUNT_UPDATE", "T": "yesterday", "a": {"m": "ORDER", "B": []}},
    ],
)
def test_malformed_payloads_are_refused_with_a_reason(payload: object) -> None:
    with pytest.raises(MalformedMessage):
        parse_user_event(payload)


def test_a_flat_symbol_missing_from_v3_position_risk_is_a_flat_position() -> None:
    as_of = datetime.now(UTC)
    position = parse_position([], "BTCUSDT", as_of, 20)
    assert position.quantity == 0 and position.leverage == 20


def test_market_frames_become_kline_and_mark_updates() -> None:
    kline = {
        "stream": "btcusdt@kline_1m",
        "data": {
            "e": "kline", "E": 1742585160001,
            "k": {"t": 1742585100000, "T": 1742585159999, "s": "BTCUSDT", "i": "1m",
                  "o": "84100.0", "c": "84146.5", "h": "84150.0", "l": "84090.1", "v": "12.5",
                  "x": True},
        },
    }  # fmt: skip
    update = parse_market_event(kline)
    assert isinstance(update, KlineUpdate) and update.closed
    assert update.candle.close == Decimal("84146.5")
    assert update.candle.open_time == datetime(2025, 3, 21, 19, 25, tzinfo=UTC)
    mark = {
        "stream": "btcusdt@markPrice@1s",
        "data": {"E": 1742585160001, "s": "BTCUSDT", "p": "84146.1"},
    }
    parsed = parse_market_event(mark)
    assert isinstance(parsed, MarkUpdate) and parsed.price == Decimal("84146.1")


@pytest.mark.parametrize(
    "payload",
    [
        "text",
        {"stream": "btcusdt@kline_1m"},
        {"stream": "btcusdt@kline_1m", "data": {"e": "kline", "E": 1, "k": {"x": True}}},
        {"stream": "btcusdt@markPrice@1s", "data": {"E": 1, "s": "BTCUSDT", "p": "NaN"}},
        {"stream": "btcusdt@depth", "data": {}},
    ],
)
def test_malformed_market_frames_are_refused_with_a_reason(payload: object) -> None:
    with pytest.raises(MalformedMessage):
        parse_market_event(payload)
