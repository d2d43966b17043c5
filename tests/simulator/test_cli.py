"""`python -m adapters.simulator --port 0 --port-file F` as a real process."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

from binance import AsyncClient

from adapters.simulator import DEFAULT_API_KEY, DEFAULT_API_SECRET

from .conftest import SYMBOL, D, now_ms, point_client_at

REPO = Path(__file__).resolve().parents[2]


def read_port(path: Path) -> int | None:
    try:
        text = path.read_text().strip()
    except FileNotFoundError:
        return None
    if not text:
        return None
    if text.isdigit():
        return int(text)
    data = json.loads(text)
    return int(data["port"])


async def test_cli_serves_python_binance(tmp_path: Path) -> None:
    port_file = tmp_path / "port"
    proc = subprocess.Popen(
        [sys.executable, "-m", "adapters.simulator", "--port", "0", "--port-file", str(port_file)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        deadline = time.monotonic() + 15
        port = None
        while port is None:
            assert proc.poll() is None, (
                f"simulator exited: {proc.stdout.read() if proc.stdout else ''}"
            )
            assert time.monotonic() < deadline, "no port file within 15 s"
            try:
                port = read_port(port_file)
            except ValueError:
                port = None  # partially written
            if port is None:
                await asyncio.sleep(0.05)
        assert port > 0

        client = point_client_at(
            AsyncClient(DEFAULT_API_KEY, DEFAULT_API_SECRET, requests_params={"timeout": 3}),
            f"http://127.0.0.1:{port}",
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
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
            raise AssertionError("simulator did not stop on SIGTERM within 10 s") from None
        if proc.stdout:
            proc.stdout.close()
    assert proc.returncode is not None
