"""Positions, balances and fees after fills, including the break-even example.

See docs/exchange-rules.md, "Position netting" and "Margin, fees and funding".
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from binance import AsyncClient

from adapters.simulator import SimulatorServer

from .conftest import (
    FUTURES_BALANCE,
    MAKER,
    SYMBOL,
    TAKER,
    D,
    RawApi,
    expect_api_error,
    move_price,
    usdt_row,
    wait_until,
)

CENT = Decimal("0.01")


def close(a: Decimal, b: Decimal, tol: Decimal = Decimal("0.0001")) -> bool:
    return abs(a - b) <= tol


async def fill_resting(
    client: AsyncClient, sim: SimulatorServer, side: str, qty: str, price: Decimal
) -> dict[str, Any]:
    """Rest a GTC LIMIT at `price`, then move the market through it: a maker fill at `price`."""
    away = Decimal("50") if side == "BUY" else Decimal("-50")
    sim.set_price(price + away, mode="jump")
    placed = await client.futures_create_order(
        symbol=SYMBOL,
        side=side,
        type="LIMIT",
        timeInForce="GTC",
        quantity=qty,
        price=str(price),
    )
    assert placed["status"] == "NEW", placed
    await move_price(sim, price - away)

    async def filled() -> dict[str, Any] | None:
        o = await client.futures_get_order(symbol=SYMBOL, orderId=placed["orderId"])
        return o if o["status"] == "FILLED" else None

    order: dict[str, Any] = await wait_until(filled, what=f"{side} {qty}@{price} should fill")
    return order


async def market(client: AsyncClient, side: str, qty: str) -> dict[str, Any]:
    res: dict[str, Any] = await client.futures_create_order(
        symbol=SYMBOL, side=side, type="MARKET", quantity=qty, newOrderRespType="RESULT"
    )
    assert res["status"] == "FILLED", res
    return res


async def position_row(client: AsyncClient) -> dict[str, Any]:
    rows = await client.futures_position_information(symbol=SYMBOL)  # v3
    return rows[0] if rows else {"positionAmt": "0", "entryPrice": "0", "breakEvenPrice": "0"}


async def test_break_even_worked_example(client: AsyncClient, sim: SimulatorServer) -> None:
    """bep = ep + openFeesPaid/pa (ep 84146.5, qty 0.1, fee 3.36586 → 84180.1586), the worked
    example of docs/exchange-rules.md, "Position netting".

    That example paid 0.04 %; the simulator's maker rate is 0.02 %, so the same position
    opened as a maker fill must give bep = 84146.5 + 1.68293/0.1 = 84163.3293.
    """
    ep = Decimal("84146.5")
    await fill_resting(client, sim, "BUY", "0.100", ep)
    fee = ep * Decimal("0.1") * MAKER
    assert fee == Decimal("1.68293")
    row = await position_row(client)
    assert D(row["positionAmt"]) == Decimal("0.1")
    assert D(row["entryPrice"]) == ep
    assert D(row["breakEvenPrice"]) == ep + fee / Decimal("0.1") == Decimal("84163.3293")
    # Same formula as the worked example:
    assert ep + Decimal("3.36586") / Decimal("0.1") == Decimal("84180.1586")
    balance = usdt_row(await client.futures_account_balance())
    assert D(balance["balance"]) == FUTURES_BALANCE - fee
    trade = (await client.futures_account_trades(symbol=SYMBOL))[-1]
    assert D(trade["commission"]) == fee


async def test_short_break_even_is_below_entry(client: AsyncClient, sim: SimulatorServer) -> None:
    ep = Decimal("60500")
    await fill_resting(client, sim, "SELL", "0.050", ep)
    fee = ep * Decimal("0.05") * MAKER
    row = await position_row(client)
    assert D(row["positionAmt"]) == Decimal("-0.05")
    assert D(row["entryPrice"]) == ep
    assert D(row["breakEvenPrice"]) == ep - fee / Decimal("0.05")


async def test_increase_averages_entry(client: AsyncClient, sim: SimulatorServer) -> None:
    p1, p2 = Decimal("60000"), Decimal("59000")
    await fill_resting(client, sim, "BUY", "0.010", p1)
    await fill_resting(client, sim, "BUY", "0.030", p2)
    row = await position_row(client)
    assert D(row["positionAmt"]) == Decimal("0.04")
    expected_ep = (Decimal("0.01") * p1 + Decimal("0.03") * p2) / Decimal("0.04")
    assert close(D(row["entryPrice"]), expected_ep)
    fees = (p1 * Decimal("0.01") + p2 * Decimal("0.03")) * MAKER
    assert close(D(row["breakEvenPrice"]), expected_ep + fees / Decimal("0.04"))
    balance = usdt_row(await client.futures_account_balance())
    assert D(balance["balance"]) == FUTURES_BALANCE - fees


async def test_reduce_realizes_pnl_and_keeps_entry(
    client: AsyncClient, sim: SimulatorServer
) -> None:
    ep = Decimal("60000")
    await fill_resting(client, sim, "BUY", "0.100", ep)
    exit_price = Decimal("61000")
    await fill_resting(client, sim, "SELL", "0.040", exit_price)

    row = await position_row(client)
    assert D(row["positionAmt"]) == Decimal("0.06")
    assert D(row["entryPrice"]) == ep, "reducing never moves the entry price"
    rp = (exit_price - ep) * Decimal("0.04")
    assert rp == Decimal("40")
    trade = (await client.futures_account_trades(symbol=SYMBOL))[-1]
    assert D(trade["realizedPnl"]) == rp
    assert (trade["side"], trade["maker"]) == ("SELL", True)
    fees = (ep * Decimal("0.1") + exit_price * Decimal("0.04")) * MAKER
    balance = usdt_row(await client.futures_account_balance())
    assert D(balance["balance"]) == FUTURES_BALANCE + rp - fees

    income = await client.futures_income_history(symbol=SYMBOL)
    by_type: dict[str, Decimal] = {}
    for row_ in income:
        by_type[row_["incomeType"]] = by_type.get(row_["incomeType"], Decimal(0)) + D(
            row_["income"]
        )
    assert by_type["REALIZED_PNL"] == rp
    assert by_type["COMMISSION"] == -fees


async def test_close_to_flat_zeroes_entry_and_break_even(
    client: AsyncClient, sim: SimulatorServer
) -> None:
    await fill_resting(client, sim, "SELL", "0.020", Decimal("60000"))
    await fill_resting(client, sim, "BUY", "0.020", Decimal("59500"))
    st = sim.state()["position"]
    assert D(st["positionAmt"]) == 0
    assert D(st["entryPrice"]) == 0
    assert D(st["breakEvenPrice"]) == 0
    assert D(st["unRealizedProfit"]) == 0
    trade = sim.state()["trades"][-1]
    assert D(trade["realizedPnl"]) == (Decimal("60000") - Decimal("59500")) * Decimal("0.02")
    v2 = await client.futures_position_information(symbol=SYMBOL, version=2)
    assert D(v2[0]["positionAmt"]) == 0
    assert D(v2[0]["liquidationPrice"]) == 0


async def test_flip_opens_remainder_at_fill_price(
    client: AsyncClient, sim: SimulatorServer
) -> None:
    await fill_resting(client, sim, "BUY", "0.050", Decimal("60000"))
    flip_price = Decimal("60800")
    await fill_resting(client, sim, "SELL", "0.080", flip_price)
    row = await position_row(client)
    assert D(row["positionAmt"]) == Decimal("-0.03")
    assert D(row["entryPrice"]) == flip_price
    trade = (await client.futures_account_trades(symbol=SYMBOL))[-1]
    assert D(trade["realizedPnl"]) == (flip_price - Decimal("60000")) * Decimal("0.05")


async def test_taker_fee_on_market_fill(client: AsyncClient, sim: SimulatorServer) -> None:
    res = await market(client, "BUY", "0.010")
    avg = D(res["avgPrice"])
    fee = avg * Decimal("0.01") * TAKER
    trade = (await client.futures_account_trades(symbol=SYMBOL))[-1]
    assert D(trade["commission"]) == fee
    row = await position_row(client)
    assert D(row["entryPrice"]) == avg
    assert close(D(row["breakEvenPrice"]), avg + fee / Decimal("0.01"))
    assert D(usdt_row(sim.state()["balances"])["balance"]) == FUTURES_BALANCE - fee


async def test_unrealized_pnl_and_account_invariants(
    client: AsyncClient, sim: SimulatorServer
) -> None:
    ep = Decimal("60000")
    await fill_resting(client, sim, "BUY", "0.100", ep)
    sim.set_price(Decimal("61000"), mode="jump")
    mark = D(sim.state()["mark_price"])
    assert abs(mark - Decimal("61000")) / Decimal("61000") < Decimal("0.01")

    v2 = (await client.futures_position_information(symbol=SYMBOL, version=2))[0]
    mark_v2 = D(v2["markPrice"])
    assert close(D(v2["unRealizedProfit"]), (mark_v2 - ep) * Decimal("0.1"), CENT)
    assert close(D(v2["notional"]), mark_v2 * Decimal("0.1"), CENT)
    assert v2["leverage"] == "20"
    assert v2["marginType"] == "cross"
    assert v2["positionSide"] == "BOTH"

    account = await client.futures_account()  # v2
    wallet = D(account["totalWalletBalance"])
    upnl = D(account["totalUnrealizedProfit"])
    assert wallet == FUTURES_BALANCE - ep * Decimal("0.1") * MAKER
    assert close(D(account["totalMarginBalance"]), wallet + upnl, CENT)
    assert close(upnl, (mark_v2 - ep) * Decimal("0.1"), CENT)
    im = D(account["totalInitialMargin"])
    assert close(im, mark_v2 * Decimal("0.1") / 20, CENT)
    assert close(D(account["availableBalance"]), wallet + upnl - im, CENT)
    usdt = usdt_row(account["assets"])
    assert close(D(usdt["marginBalance"]), D(usdt["walletBalance"]) + D(usdt["unrealizedProfit"]))

    v3 = await client.futures_account(version=3)
    assert D(v3["totalWalletBalance"]) == wallet
    assert [p["symbol"] for p in v3["positions"]] == [SYMBOL]


async def test_open_order_margin_counts_in_available(
    client: AsyncClient, sim: SimulatorServer
) -> None:
    before = D(usdt_row(await client.futures_account_balance())["availableBalance"])
    assert before == FUTURES_BALANCE
    await client.futures_create_order(
        symbol=SYMBOL,
        side="BUY",
        type="LIMIT",
        timeInForce="GTC",
        quantity="0.100",
        price="59000",
    )
    account = await client.futures_account()
    order_im = Decimal("59000") * Decimal("0.1") / 20
    assert D(account["totalOpenOrderInitialMargin"]) >= order_im - CENT
    after = D(usdt_row(await client.futures_account_balance())["availableBalance"])
    assert before - after >= order_im - CENT
    assert D(usdt_row(await client.futures_account_balance())["balance"]) == FUTURES_BALANCE


async def test_leverage_change_and_symbol_config(client: AsyncClient, raw: RawApi) -> None:
    res = await client.futures_change_leverage(symbol=SYMBOL, leverage=10)
    assert (res["symbol"], res["leverage"]) == (SYMBOL, 10)
    assert "maxNotionalValue" in res
    cfg = await raw.signed("GET", "/fapi/v1/symbolConfig", {"symbol": SYMBOL})
    assert cfg.status == 200
    assert cfg.body[0]["leverage"] == 10
    assert cfg.body[0]["marginType"] == "CROSSED"
    v2 = (await client.futures_position_information(symbol=SYMBOL, version=2))[0]
    assert v2["leverage"] == "10"
    await expect_api_error(client.futures_change_leverage(symbol=SYMBOL, leverage=0), -4028)
    await expect_api_error(client.futures_change_leverage(symbol=SYMBOL, leverage=126), -4028)


async def test_commission_rate_endpoint(client: AsyncClient) -> None:
    res = await client.futures_commission_rate(symbol=SYMBOL)
    assert D(res["makerCommissionRate"]) == MAKER
    assert D(res["takerCommissionRate"]) == TAKER


async def test_balance_rows_shape(client: AsyncClient, raw: RawApi) -> None:
    v3 = usdt_row(await client.futures_account_balance())
    v2_resp = await raw.signed("GET", "/fapi/v2/balance")
    assert v2_resp.status == 200
    v2 = usdt_row(v2_resp.body)
    for row in (v2, v3):
        assert D(row["balance"]) == FUTURES_BALANCE
        assert D(row["crossWalletBalance"]) == FUTURES_BALANCE
        assert D(row["availableBalance"]) == FUTURES_BALANCE
        assert D(row["crossUnPnl"]) == 0
        assert isinstance(row["updateTime"], int)
        assert isinstance(row["balance"], str)


async def test_position_mode_is_one_way(client: AsyncClient) -> None:
    assert (await client.futures_get_position_mode())["dualSidePosition"] is False
