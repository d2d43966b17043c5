"""A paper run of the whole system on PostgreSQL, then the web reading it from the same server.

The bot (`python -m alphaengine.system --no-web`) trades sma_cross against the simulator with
ALPHAENGINE_DATABASE_URL naming a PostgreSQL database; what it records must equal the
exchange's /_sim/state, and `python -m web` on the same URL must show that position.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from alphaengine.bootstrap import open_trading, read_engine
from alphaengine.settings import Settings, load_settings
from projections.schema import rm_fills, rm_positions
from tests.e2e.harness import (
    ACTIVE_STRATEGY,
    ROOT,
    SYMBOL,
    Simulator,
    bot_env,
    start_simulator,
    stop_process,
    wait_until,
    write_runtime_config,
)
from tests.web.processes import TEST_PASSWORD, clean_env, free_port, login, running
from tests.web.processes import wait_until as wait_for_process
from web.auth import hash_password

pytestmark = [pytest.mark.slow, pytest.mark.postgres]


def settings_on(url: str, tmp: Path) -> Settings:
    return load_settings(
        data_dir=tmp / "data",
        secrets_file=tmp / "no-secrets.yaml",
        environ={"ALPHAENGINE_DATABASE_URL": url},
    )


def exchange_position(state: dict[str, Any]) -> Decimal:
    return Decimal(state["position"]["positionAmt"])


def recorded_equals_exchange(settings: Settings, state: dict[str, Any]) -> bool:
    """Events and read models on PostgreSQL hold every fill once and the exchange's position."""
    trading = open_trading(settings, SYMBOL)
    engine = read_engine(settings)
    try:
        if trading.position().quantity != exchange_position(state):
            return False
        with engine.connect() as conn:
            fills = sorted(int(f) for f in conn.execute(select(rm_fills.c.trade_id)).scalars())
            row = conn.execute(select(rm_positions).where(rm_positions.c.symbol == SYMBOL)).first()
        projected = row.quantity if row is not None else Decimal(0)
        trades = sorted(int(t["id"]) for t in state["trades"])
        return fills == trades and projected == exchange_position(state)
    finally:
        trading.close()
        engine.dispose()


def pause_with_open_position(sim: Simulator, timeout: float) -> dict[str, Any]:
    """Freeze the market at a moment the exchange holds a position (not flat)."""
    deadline = time.monotonic() + timeout
    while True:
        remaining = max(1.0, deadline - time.monotonic())
        wait_until(lambda: exchange_position(sim.state()) != 0, remaining, "an open position")
        sim.control("clock", {"action": "pause"})
        state = sim.state()
        if exchange_position(state) != 0 and state["trades"]:
            return state
        # The position closed between the look and the pause: let the market run again.
        sim.control("clock", {"action": "resume"})
        assert time.monotonic() < deadline, "no open position to freeze in time"


def start_bot_on(tmp: Path, sim: Simulator, url: str) -> subprocess.Popen[bytes]:
    env = bot_env(tmp)
    env["ALPHAENGINE_DATABASE_URL"] = url
    runtime_config = write_runtime_config(tmp, ACTIVE_STRATEGY)
    args = ["-m", "alphaengine.system", "--data-dir", str(tmp / "data"), "--no-web"]
    args += ["--runtime-config", str(runtime_config), "--exchange-url", sim.url]
    with open(tmp / "bot.log", "ab") as log:  # the child keeps its own copy of the descriptor
        return subprocess.Popen(
            [sys.executable, *args], env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT
        )


def test_paper_run_on_postgresql_matches_the_exchange_and_the_web_shows_it(
    tmp_path: Path, postgres_database: str
) -> None:
    settings = settings_on(postgres_database, tmp_path)
    sim = start_simulator(tmp_path, speed=60.0, seed=7)
    bot = None
    try:
        bot = start_bot_on(tmp_path, sim, postgres_database)
        pause_with_open_position(sim, timeout=120)
        wait_until(
            lambda: recorded_equals_exchange(settings, sim.state()),
            45,
            "the PostgreSQL records to equal /_sim/state",
        )
        state = sim.state()
        assert exchange_position(state) != 0
        assert recorded_equals_exchange(settings, state)

        data_dir = tmp_path / "data"
        env = clean_env(
            data_dir,
            ALPHAENGINE_DATABASE_URL=postgres_database,
            ALPHAENGINE_ADMIN_PASSWORD_HASH=hash_password(TEST_PASSWORD),
        )
        port = free_port()
        args = ["-m", "web", "--data-dir", str(data_dir), "--port", str(port)]
        with running(args, env=env, log=tmp_path / "web.log") as web:
            base = f"http://127.0.0.1:{port}"
            wait_for_process(
                lambda: httpx.get(f"{base}/health", timeout=2).status_code == 200,
                timeout=30,
                what="the web's /health",
                proc=web,
            )
            with httpx.Client(base_url=base, timeout=10) as client:
                board = client.get("/api/dashboard", headers=login(client)).json()
        assert board["position"]["symbol"] == SYMBOL
        assert Decimal(board["position"]["quantity"]) == exchange_position(state)
        assert stop_process(bot, signal.SIGTERM) == 0
    finally:
        if bot is not None:
            stop_process(bot, signal.SIGKILL)
        sim.stop()
