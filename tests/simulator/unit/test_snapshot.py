"""The state document: a restored exchange is the same exchange, and its path goes on unchanged."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest

from adapters.simulator.config import SimulatorConfig
from adapters.simulator.exchange import Exchange
from adapters.simulator.market import MINUTE_MS, Market
from adapters.simulator.snapshot import SnapshotError, StateEncoder, decode
from adapters.simulator.streams import ListenKeys

START = 1_800_000_000_000 // MINUTE_MS * MINUTE_MS
NOW = START + 1_000


def make(**overrides: Any) -> tuple[Exchange, ListenKeys]:
    config = SimulatorConfig(history_candles=30, state_candles=20, **overrides)
    keys = ListenKeys(config.seed, config.listen_key_ttl_seconds)
    return Exchange(config, Market(config, START)), keys


def place(ex: Exchange, **params: str) -> dict[str, object]:
    order, _accepted, _resp = ex.new_order({"symbol": "BTCUSDT"} | params, NOW, float(NOW))
    ex.drain()
    return order.to_binance(ex.rules)


def algo(ex: Exchange, **params: str) -> None:
    ex.new_algo({"symbol": "BTCUSDT", "algoType": "CONDITIONAL"} | params, NOW, float(NOW))
    ex.drain()


def run(ex: Exchange, ticks: int) -> list[tuple[int, Decimal, Decimal]]:
    out = []
    for _ in range(ticks):
        tick = ex.market.advance()
        ex.on_tick(tick.time_ms, float(NOW))
        ex.drain()
        out.append((tick.time_ms, tick.price, tick.qty))
    return out


def busy_exchange() -> tuple[Exchange, ListenKeys]:
    ex, keys = make()
    keys.create(1_000.0)
    place(ex, side="BUY", type="MARKET", quantity="0.050")
    place(ex, side="SELL", type="LIMIT", timeInForce="GTC", quantity="0.010", price="61000")
    place(
        ex,
        side="BUY",
        type="LIMIT",
        timeInForce="GTC",
        quantity="0.010",
        price="59000",
        newClientOrderId="keep-me",
    )
    algo(ex, side="SELL", type="STOP_MARKET", triggerPrice="55000", closePosition="true")
    algo(ex, side="SELL", type="TRAILING_STOP_MARKET", quantity="0.010", callbackRate="1")
    run(ex, 30)
    # Mid-drift: the rest of the drift is part of the saved path
    ex.market.drift_to(Decimal("60300"))
    run(ex, 5)
    return ex, keys


def view(ex: Exchange) -> dict[str, Any]:
    account = ex.account
    return {
        "orders": [o.to_binance(ex.rules) for o in ex.orders.values()],
        "algos": [
            (a.to_binance(ex.rules, query=True), a.activated, a.extreme) for a in ex.algos.values()
        ],
        "fills": [f.to_binance(ex.rules) for f in ex.fills],
        "income": account.income,
        "balance": account.balance_row(ex.mark, ex.open_orders(), NOW),
        "position": account.position_v2(ex.symbol, ex.mark),
        "counters": ex.counters(),
        "cids": ex.client_id_counts,
        "candles": ex.market.candles[-21:],
        "cursor": ex.market.cursor(),
    }


def test_a_restored_exchange_equals_the_saved_one() -> None:
    ex, keys = busy_exchange()
    text = StateEncoder().encode(ex.config, NOW, ex, keys)
    restored = decode(text, ex.config)

    assert restored.sim_ms == NOW
    assert view(restored.exchange) == view(ex)
    saved_key = restored.listen_keys
    assert (saved_key.key, saved_key.expires_at) == (keys.key, keys.expires_at)
    # Client ids of open orders are still known (the -4116 rule works after a restart)
    assert restored.exchange.client_id_in_use("keep-me")


def test_the_path_goes_on_as_if_never_stopped() -> None:
    ex, keys = busy_exchange()
    restored = decode(StateEncoder().encode(ex.config, NOW, ex, keys), ex.config).exchange

    assert run(restored, 200) == run(ex, 200)
    assert view(restored) == view(ex)


def test_only_the_recent_candles_are_kept() -> None:
    ex, keys = busy_exchange()
    restored = decode(StateEncoder().encode(ex.config, NOW, ex, keys), ex.config).exchange

    assert len(restored.market.candles) == ex.config.state_candles + 1
    assert restored.market.candles == ex.market.candles[-ex.config.state_candles - 1 :]


def without_save_time(text: str) -> dict[str, Any]:
    """The document minus its save time, with orders and algo orders in id order."""
    doc: dict[str, Any] = json.loads(text)
    doc.pop("saved_at")
    for table in ("orders", "algos"):
        doc[table].sort(key=lambda row: row[0])
    return doc


def test_the_encoder_reuses_rows_yet_follows_every_change() -> None:
    ex, keys = busy_exchange()
    encoder = StateEncoder()
    first = encoder.encode(ex.config, NOW, ex, keys)
    place(ex, side="SELL", type="MARKET", quantity="0.020")
    ex.cancel_all({"symbol": "BTCUSDT"}, NOW)
    run(ex, 24)
    second = encoder.encode(ex.config, NOW, ex, keys)

    assert without_save_time(second) != without_save_time(first)
    fresh = StateEncoder().encode(ex.config, NOW, ex, keys)
    assert without_save_time(second) == without_save_time(fresh)


def test_history_is_bounded_and_keeps_the_orders_of_kept_fills() -> None:
    ex, _keys = make(history_limit=4, futures_balance=Decimal("1000000"))
    oldest = place(ex, side="BUY", type="LIMIT", timeInForce="GTC", quantity="0.010", price="59000")
    for i in range(12):
        place(ex, side="BUY" if i % 2 else "SELL", type="MARKET", quantity="0.010")
    # The oldest order fills last: its fill is recent, so the order must stay
    ex.market.jump(Decimal("58900"), NOW)
    ex.on_tick(NOW, float(NOW))

    assert len(ex.fills) <= 5 and len(ex.account.income) <= 5
    assert all(f.order_id in ex.orders for f in ex.fills)
    assert ex.fills[-1].order_id == oldest["orderId"]
    unreferenced = [i for i in ex.orders if i not in {f.order_id for f in ex.fills}]
    assert len(unreferenced) <= 5


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("not json {", "not valid JSON"),
        ("[1, 2]", "not a simulator state file"),
        ('{"format": "alphaengine-paper-exchange", "version": 99}', "state version 99"),
        (
            '{"format": "alphaengine-paper-exchange", "version": 1, "symbol": "ETHUSDT"}',
            "ETHUSDT",
        ),
        (
            '{"format": "alphaengine-paper-exchange", "version": 1, "symbol": "BTCUSDT"}',
            "malformed",
        ),
    ],
)
def test_a_bad_document_is_refused_with_a_reason(text: str, reason: str) -> None:
    with pytest.raises(SnapshotError, match=reason):
        decode(text, SimulatorConfig())


def test_a_truncated_document_is_refused() -> None:
    ex, keys = busy_exchange()
    text = StateEncoder().encode(ex.config, NOW, ex, keys)
    with pytest.raises(SnapshotError):
        decode(text[: len(text) // 2], ex.config)
