"""The spot side a futures engine touches: spot account and spot↔USDⓈ-M transfers."""

from __future__ import annotations

from decimal import Decimal

from binance import AsyncClient, BinanceSocketManager

from adapters.simulator import SimulatorServer

from .conftest import FUTURES_BALANCE, D, Recorder, expect_api_error, usdt_row

SPOT = Decimal("1000")


def spot_free(rows: list[dict[str, str]]) -> Decimal:
    return D(next(r for r in rows if r["asset"] == "USDT")["free"])


async def test_spot_account(client: AsyncClient) -> None:
    account = await client.get_account()  # GET /api/v3/account
    assert account["accountType"] == "SPOT"
    assert account["canTrade"] is True
    assert spot_free(account["balances"]) == SPOT


async def test_legacy_transfer_in_pushes_deposit(
    client: AsyncClient, bsm: BinanceSocketManager, sim: SimulatorServer
) -> None:
    async with Recorder(bsm.futures_user_socket(), sim) as rec:
        res = await client.futures_account_transfer(asset="USDT", amount="100", type=1)
        assert isinstance(res["tranId"], int)
        event = await rec.wait_event(lambda e: e.get("e") == "ACCOUNT_UPDATE")
    a = event["a"]
    assert a["m"] == "DEPOSIT"
    assert a["P"] == []
    (usdt,) = a["B"]
    assert usdt["a"] == "USDT"
    assert D(usdt["bc"]) == Decimal("100")
    assert D(usdt["wb"]) == FUTURES_BALANCE + 100
    assert D(usdt_row(await client.futures_account_balance())["balance"]) == FUTURES_BALANCE + 100
    assert spot_free((await client.get_account())["balances"]) == SPOT - 100


async def test_universal_transfer_both_ways(client: AsyncClient) -> None:
    res = await client.make_universal_transfer(type="UMFUTURE_MAIN", asset="USDT", amount="250")
    assert isinstance(res["tranId"], int)
    assert D(usdt_row(await client.futures_account_balance())["balance"]) == FUTURES_BALANCE - 250
    assert spot_free((await client.get_account())["balances"]) == SPOT + 250
    await client.make_universal_transfer(type="MAIN_UMFUTURE", asset="USDT", amount="50")
    assert D(usdt_row(await client.futures_account_balance())["balance"]) == FUTURES_BALANCE - 200


async def test_transfer_insufficient_funds(client: AsyncClient) -> None:
    await expect_api_error(
        client.futures_account_transfer(asset="USDT", amount="5000", type=1), -5002
    )
    assert spot_free((await client.get_account())["balances"]) == SPOT
