"""Unit tests for the pure exchange core: accounting, matching, validation, triggers, funding."""

from __future__ import annotations

import itertools
from decimal import Decimal

import pytest

from adapters.simulator.account import Position
from adapters.simulator.config import SimulatorConfig
from adapters.simulator.errors import BinanceError
from adapters.simulator.exchange import Exchange
from adapters.simulator.market import MINUTE_MS, Market
from adapters.simulator.signing import sign, verify

START = 1_800_000_000_000 // MINUTE_MS * MINUTE_MS
NOW = 1_800_000_000_000


def make(**overrides: object) -> Exchange:
    config = SimulatorConfig(history_candles=10, **overrides)  # type: ignore[arg-type]
    return Exchange(config, Market(config, START))


def order(ex: Exchange, **params: str) -> tuple[dict[str, object], list[dict[str, object]]]:
    base = {"symbol": "BTCUSDT", "newOrderRespType": "RESULT"}
    placed, _accepted, _resp = ex.new_order(base | params, NOW, float(NOW))
    events = [e for batch in ex.drain() for e in batch]
    return placed.to_binance(ex.rules), events


def rejected(ex: Exchange, code: int, **params: str) -> None:
    with pytest.raises(BinanceError) as info:
        ex.new_order({"symbol": "BTCUSDT"} | params, NOW, float(NOW))
    assert info.value.code == code, info.value.msg
    assert ex.drain() == []


def move(ex: Exchange, price: str) -> list[dict[str, object]]:
    ex.market.jump(Decimal(price), START)
    ex.on_tick(NOW, float(NOW))
    return [e for batch in ex.drain() for e in batch]


def kinds(events: list[dict[str, object]]) -> list[str]:
    out = []
    for e in events:
        if e["e"] == "ORDER_TRADE_UPDATE":
            out.append(f"OTU:{e['o']['x']}/{e['o']['X']}")  # type: ignore[index]
        elif e["e"] == "ALGO_UPDATE":
            out.append(f"ALGO:{e['o']['X']}")  # type: ignore[index]
        else:
            out.append(str(e["e"]))
    return out


# ---------------------------------------------------------------------- netting


def test_break_even_matches_the_spec_example() -> None:
    position = Position()
    assert position.apply_fill(Decimal("0.1"), Decimal("84146.5"), Decimal("3.36586")) == 0
    assert position.entry == Decimal("84146.5")
    assert position.break_even == Decimal("84180.1586")


def test_increase_averages_entry_and_reduce_realizes_pnl() -> None:
    position = Position()
    position.apply_fill(Decimal("1"), Decimal("100"), Decimal("0"))
    position.apply_fill(Decimal("1"), Decimal("110"), Decimal("0"))
    assert position.entry == Decimal("105")
    rp = position.apply_fill(Decimal("-0.5"), Decimal("120"), Decimal("0"))
    assert rp == Decimal("7.5")
    assert position.entry == Decimal("105")
    assert position.amount == Decimal("1.5")
    assert position.realized == Decimal("7.5")


def test_flip_realizes_the_close_and_opens_the_rest_at_the_fill_price() -> None:
    position = Position()
    position.apply_fill(Decimal("-1"), Decimal("100"), Decimal("0"))
    rp = position.apply_fill(Decimal("3"), Decimal("90"), Decimal("0.3"))
    assert rp == Decimal("10")
    assert position.amount == Decimal("2")
    assert position.entry == Decimal("90")
    assert position.break_even == Decimal("90") + Decimal("0.2") / 2


def test_closing_to_zero_resets_entry_and_break_even() -> None:
    position = Position()
    position.apply_fill(Decimal("0.5"), Decimal("100"), Decimal("1"))
    position.apply_fill(Decimal("-0.5"), Decimal("90"), Decimal("1"))
    assert (position.amount, position.entry, position.break_even) == (Decimal(0),) * 3


def test_market_fill_books_fee_wallet_and_income() -> None:
    ex = make()
    placed, events = order(ex, side="BUY", type="MARKET", quantity="0.1")
    assert placed["status"] == "FILLED"
    fill = ex.fills[0]
    assert fill.price == Decimal("60000")
    assert fill.commission == Decimal("60000") * Decimal("0.1") * Decimal("0.0005")
    assert ex.account.wallet == Decimal("10000") - fill.commission
    assert [r["incomeType"] for r in ex.account.income] == ["COMMISSION"]
    assert kinds(events) == ["OTU:NEW/NEW", "TRADE_LITE", "ACCOUNT_UPDATE", "OTU:TRADE/FILLED"]


# ---------------------------------------------------------------------- matching


def test_large_market_order_walks_several_levels() -> None:
    ex = make(futures_balance=Decimal("100000"))
    placed, events = order(ex, side="BUY", type="MARKET", quantity="5")
    prices = [f.price for f in ex.fills]
    assert len(prices) >= 3 and prices == sorted(prices) and len(set(prices)) == len(prices)
    assert Decimal(str(placed["avgPrice"])) > Decimal("60000")
    trades = [k for k in kinds(events) if k.startswith("OTU:TRADE")]
    assert trades[-1] == "OTU:TRADE/FILLED"
    assert set(trades[:-1]) == {"OTU:TRADE/PARTIALLY_FILLED"}


def test_ioc_fills_what_it_can_and_expires_the_rest() -> None:
    ex = make()
    placed, events = order(
        ex, side="BUY", type="LIMIT", timeInForce="IOC", quantity="3", price="60000.50"
    )
    assert placed["status"] == "EXPIRED"
    assert Decimal(str(placed["executedQty"])) < 3
    assert events[-1]["o"]["er"] == "2"  # type: ignore[index]


def test_fok_that_cannot_fill_is_rejected_and_not_recorded() -> None:
    ex = make()
    rejected(ex, -5021, side="BUY", type="LIMIT", timeInForce="FOK", quantity="3", price="60000")
    assert ex.orders == {}


def test_gtx_that_would_take_is_rejected_and_a_passive_one_rests() -> None:
    ex = make()
    rejected(ex, -5022, side="BUY", type="LIMIT", timeInForce="GTX", quantity="0.01", price="60000")
    placed, _ = order(
        ex, side="BUY", type="LIMIT", timeInForce="GTX", quantity="0.01", price="59990"
    )
    assert placed["status"] == "NEW"


def test_resting_limit_fills_as_maker_when_the_price_crosses() -> None:
    ex = make()
    placed, _ = order(
        ex, side="BUY", type="LIMIT", timeInForce="GTC", quantity="0.5", price="59900"
    )
    assert placed["status"] == "NEW"
    assert move(ex, "59950") == []
    events = move(ex, "59800")
    assert kinds(events) == ["TRADE_LITE", "ACCOUNT_UPDATE", "OTU:TRADE/FILLED"]
    fill = ex.fills[0]
    assert fill.maker and fill.price == Decimal("59900")
    assert fill.commission == Decimal("59900") * Decimal("0.5") * Decimal("0.0002")


def test_touching_a_large_resting_order_fills_it_partially() -> None:
    ex = make(futures_balance=Decimal("1000000"))
    order(ex, side="SELL", type="LIMIT", timeInForce="GTC", quantity="10", price="60100")
    events = move(ex, "60100")
    assert kinds(events)[-1] == "OTU:TRADE/PARTIALLY_FILLED"
    assert 0 < ex.fills[0].qty < 10


# ---------------------------------------------------------------------- reduceOnly


def test_reduce_only_rules() -> None:
    ex = make()
    rejected(ex, -2022, side="SELL", type="MARKET", quantity="0.01", reduceOnly="true")
    order(ex, side="BUY", type="MARKET", quantity="0.01")
    rejected(ex, -2022, side="BUY", type="MARKET", quantity="0.01", reduceOnly="true")
    order(
        ex,
        side="SELL",
        type="LIMIT",
        timeInForce="GTC",
        quantity="0.01",
        price="61000",
        reduceOnly="true",
    )
    rejected(
        ex,
        -4118,
        side="SELL",
        type="LIMIT",
        timeInForce="GTC",
        quantity="0.01",
        price="61000",
        reduceOnly="true",
    )


def test_reduce_only_is_exempt_from_min_notional_and_never_flips() -> None:
    ex = make()
    order(ex, side="BUY", type="MARKET", quantity="0.002")
    rejected(ex, -4164, side="SELL", type="MARKET", quantity="0.001")
    placed, events = order(ex, side="SELL", type="MARKET", quantity="0.005", reduceOnly="true")
    assert ex.account.position.amount == 0
    assert placed["status"] == "EXPIRED" and placed["executedQty"] == "0.002"
    assert events[-1]["o"]["er"] == "4"  # type: ignore[index]


# ---------------------------------------------------------------------- validation order


@pytest.mark.parametrize(
    ("code", "params"),
    [
        (-1121, {"symbol": "ETHUSDT", "side": "BUY", "type": "MARKET", "quantity": "1"}),
        (-4120, {"side": "BUY", "type": "STOP_MARKET", "quantity": "1"}),
        (-1102, {"side": "BUY", "type": "LIMIT", "timeInForce": "GTC", "quantity": "0.01"}),
        (-4015, {"side": "BUY", "type": "MARKET", "quantity": "0.01", "newClientOrderId": "a b"}),
        (
            -4014,
            {
                "side": "BUY",
                "type": "LIMIT",
                "timeInForce": "GTC",
                "quantity": "0.01",
                "price": "60000.15",
            },
        ),
        (-1111, {"side": "BUY", "type": "MARKET", "quantity": "0.010000001"}),
        (-4023, {"side": "BUY", "type": "MARKET", "quantity": "0.0105"}),
        (-4023, {"side": "BUY", "type": "MARKET", "quantity": "0.0001"}),
        (-4005, {"side": "BUY", "type": "MARKET", "quantity": "121"}),
        (
            -4016,
            {
                "side": "BUY",
                "type": "LIMIT",
                "timeInForce": "GTC",
                "quantity": "0.01",
                "price": "70000",
            },
        ),
        (-4164, {"side": "BUY", "type": "MARKET", "quantity": "0.001"}),
        (-2019, {"side": "BUY", "type": "MARKET", "quantity": "5"}),
    ],
)
def test_rejections_carry_the_spec_codes(code: int, params: dict[str, str]) -> None:
    ex = make(futures_balance=Decimal("10000") if code == -2019 else Decimal("1000000"))
    if code == -2019:
        ex.account.wallet = Decimal("100")
    rejected(ex, code, **params)


def test_client_order_id_reuse() -> None:
    ex = make()
    limit = {"side": "BUY", "type": "LIMIT", "timeInForce": "GTC", "quantity": "0.01"}
    first, _ = order(ex, price="59000", newClientOrderId="abc", **limit)
    rejected(ex, -4116, price="59000", newClientOrderId="abc", **limit)
    ex.cancel_order({"symbol": "BTCUSDT", "origClientOrderId": "abc"}, NOW)
    second, _ = order(ex, price="59000", newClientOrderId="abc", **limit)
    assert second["orderId"] != first["orderId"]
    found = ex.query_order({"symbol": "BTCUSDT", "origClientOrderId": "abc"})
    assert found.order_id == second["orderId"]
    assert ex.client_id_counts["abc"] == 2

    strict = make(strict_client_ids=True)
    order(strict, side="BUY", type="MARKET", quantity="0.01", newClientOrderId="x1")
    rejected(strict, -4116, side="BUY", type="MARKET", quantity="0.01", newClientOrderId="x1")


def test_cancel_of_a_terminal_order_is_unknown() -> None:
    ex = make()
    placed, _ = order(ex, side="BUY", type="MARKET", quantity="0.01")
    with pytest.raises(BinanceError) as info:
        ex.cancel_order({"symbol": "BTCUSDT", "orderId": str(placed["orderId"])}, NOW)
    assert info.value.code == -2011


# ---------------------------------------------------------------------- algo orders


def algo(ex: Exchange, **params: str) -> list[dict[str, object]]:
    ex.new_algo({"symbol": "BTCUSDT", "algoType": "CONDITIONAL"} | params, NOW, float(NOW))
    return [e for batch in ex.drain() for e in batch]


def test_stop_market_triggers_into_a_child_order_in_the_spec_order() -> None:
    ex = make()
    order(ex, side="BUY", type="MARKET", quantity="0.1")
    placed = algo(
        ex,
        side="SELL",
        type="STOP_MARKET",
        triggerPrice="59000",
        quantity="0.1",
        reduceOnly="true",
        clientAlgoId="stop-1",
    )
    assert kinds(placed) == ["ALGO:NEW"]
    assert move(ex, "59500") == []
    events = move(ex, "58990")
    assert kinds(events) == [
        "OTU:NEW/NEW",
        "TRADE_LITE",
        "ACCOUNT_UPDATE",
        "OTU:TRADE/FILLED",
        "ALGO:TRIGGERED",
        "ALGO:FINISHED",
    ]
    child = events[0]["o"]
    assert child["c"] == "stop-1"  # type: ignore[index]
    assert events[4]["o"]["ai"] == str(child["i"])  # type: ignore[index]
    assert ex.account.position.amount == 0


def test_algo_that_would_trigger_immediately_is_rejected() -> None:
    ex = make()
    with pytest.raises(BinanceError) as info:
        algo(ex, side="BUY", type="STOP_MARKET", triggerPrice="59000", quantity="0.1")
    assert info.value.code == -2021


def test_take_profit_limit_child_rests_then_finishes_on_fill() -> None:
    ex = make()
    algo(ex, side="BUY", type="TAKE_PROFIT", triggerPrice="59500", price="59400", quantity="0.1")
    events = move(ex, "59450")
    assert kinds(events) == ["OTU:NEW/NEW", "ALGO:TRIGGERED"]
    events = move(ex, "59300")
    assert kinds(events)[-1] == "ALGO:FINISHED"


def test_trailing_stop_follows_the_high() -> None:
    ex = make()
    order(ex, side="BUY", type="MARKET", quantity="0.1")
    algo(
        ex,
        side="SELL",
        type="TRAILING_STOP_MARKET",
        callbackRate="1",
        quantity="0.1",
        reduceOnly="true",
    )
    move(ex, "61000")
    assert move(ex, "60500") == []
    assert "ALGO:TRIGGERED" in kinds(move(ex, "60380"))


# ---------------------------------------------------------------------- funding and determinism


def test_funding_charges_longs_when_the_rate_is_positive() -> None:
    ex = make()
    order(ex, side="BUY", type="MARKET", quantity="0.1")
    wallet = ex.account.wallet
    # One clock: the tick that reaches the funding time settles it.
    ex.on_tick(ex.next_funding_ms, float(NOW))
    events = [e for batch in ex.drain() for e in batch]
    expected = Decimal("0.1") * ex.mark * Decimal("0.0001")
    assert ex.account.wallet == wallet - expected
    assert events[0]["a"]["m"] == "FUNDING_FEE"  # type: ignore[index]
    assert events[0]["a"]["P"] == []  # type: ignore[index]
    assert ex.account.income[-1]["incomeType"] == "FUNDING_FEE"


def run_path(seed: int) -> tuple[list[tuple[Decimal, Decimal]], list[tuple[Decimal, Decimal]]]:
    ex = make(seed=seed, futures_balance=Decimal("100000"))
    order(ex, side="BUY", type="LIMIT", timeInForce="GTC", quantity="0.5", price="59950")
    for _ in range(240):
        tick = ex.market.advance()
        ex.on_tick(tick.time_ms, float(NOW))
    candles = [(c.open, c.close) for c in ex.market.candles]
    order(ex, side="SELL", type="MARKET", quantity="3")
    return candles, [(f.price, f.qty) for f in ex.fills]


def test_same_seed_same_path_and_fills() -> None:
    assert run_path(7) == run_path(7)
    assert run_path(7)[0] != run_path(8)[0]


def test_history_ends_at_the_start_price() -> None:
    ex = make()
    candles = ex.market.candles
    assert len(candles) == 11 and candles[-2].close == Decimal("60000")
    assert all(c.open_time + MINUTE_MS == n.open_time for c, n in itertools.pairwise(candles))


# ---------------------------------------------------------------------- signing


def test_signature_doc_vector_and_raw_split() -> None:
    secret = "2b5eb11e18796d12d88f13dc27dbbd02c2cc51ff7059765ed9821957d82bb4d9"
    payload = (
        "symbol=BTCUSDT&side=BUY&type=LIMIT&quantity=1&price=9000&timeInForce=GTC"
        "&recvWindow=5000&timestamp=1591702613943"
    )
    expected = "3c661234138461fcc7a7d8746c6558c9842d4e10870d2ecbedf7777cad694af9"
    assert sign(secret, payload) == expected
    verify(secret, "", payload + "&signature=" + expected)
    query, body = payload[:30], payload[30:]
    verify(secret, query, body + "&signature=" + sign(secret, query + body))
    with pytest.raises(BinanceError) as info:
        verify(secret, payload + "&signature=" + expected.upper()[:-1] + "0", "")
    assert info.value.code == -1022
