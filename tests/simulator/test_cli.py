"""`python -m adapters.simulator --port 0 --port-file F` as a real process."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from binance import AsyncClient

from adapters.simulator import DEFAULT_API_KEY, DEFAULT_API_SECRET

from .conftest import SYMBOL, D, now_ms, point_client_at
from .process import start_simulator


async def test_cli_serves_python_binance(tmp_path: Path) -> None:
    sim = await start_simulator(tmp_path)
    try:
        assert sim.port > 0
        client = point_client_at(
            AsyncClient(DEFAULT_API_KEY, DEFAULT_API_SECRET, requests_params={"timeout": 3}),
            sim.url,
        )
        try:
            client.timestamp_offset = (await client.futures_time())["serverTime"] - now_ms()
            res = await client.futures_create_order(
                symbol=SYMBOL,
                side="BUY",
                type="MARKET",
                quantity="0.010",
                newOrderRespType="RESULT",
            )
            assert res["status"] == "FILLED"
            assert D(res["executedQty"]) == Decimal("0.01")
            pos = await client.futures_position_information(symbol=SYMBOL)
            assert D(pos[0]["positionAmt"]) == Decimal("0.01")
            assert D(pos[0]["entryPrice"]) == D(res["avgPrice"])
        finally:
            await client.close_connection()
    finally:
        status = sim.terminate()
    assert status == 0, sim.output()
