"""Real processes for end-to-end tests: the simulator and the bot as subprocesses, a shared
SQLite file, and checks that what the engine recorded equals the exchange (/_sim/state)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import select

from alphaengine import system
from alphaengine.bootstrap import open_trading, read_engine
from alphaengine.settings import Settings, load_settings
from alphaengine.trading import Trading
from projections.schema import rm_fills, rm_positions

SYMBOL = "BTCUSDT"
ROOT = Path(__file__).resolve().parents[2]  # the repository: `python -m` imports from here
QUIET_STRATEGY = {"name": "sma_cross", "timeframe": "1m", "params": {"fast": 500, "slow": 501}}


def wait_until(check: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.1)


@dataclass
class Simulator:
    process: subprocess.Popen[bytes]
    url: str

    def state(self) -> dict[str, Any]:
        with urllib.request.urlopen(f"{self.url}/_sim/state", timeout=10) as response:
            body: dict[str, Any] = json.loads(response.read())
        return body

    def control(self, path: str, body: dict[str, Any]) -> None:
        request = urllib.request.Request(
            f"{self.url}/_sim/{path}",
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.status == 200

    def count(self, client_order_id: str) -> int:
        return int(self.state()["client_order_id_counts"].get(client_order_id, 0))

    def stop(self) -> None:
        stop_process(self.process)


def stop_process(process: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> int:
    if process.poll() is None:
        process.send_signal(sig)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
    return int(process.returncode)


def start_simulator(tmp: Path, speed: float = 60.0, seed: int = 42) -> Simulator:
    # The same launcher the system uses in paper mode, as a process of its own so that it
    # outlives a bot killed with SIGKILL.
    with open(tmp / "sim.log", "wb") as log:
        process, url = system.start_simulator(
            tmp / "sim.port", SYMBOL, seed, speed, stdout=subprocess.DEVNULL, stderr=log, cwd=ROOT
        )
    return Simulator(process, url)


def write_runtime_config(tmp: Path, strategy: dict[str, Any], **engine: Any) -> Path:
    import yaml

    path = tmp / "runtime.yaml"
    body = {
        "trading": {"symbol": SYMBOL},
        "strategy": strategy,
        "engine": {"warmup_candles": 30, "reconcile_interval": 2, **engine},
    }
    path.write_text(yaml.safe_dump(body))
    return path


def bot_env(tmp: Path, crash_at: str | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ALPHAENGINE_")}
    env["ALPHAENGINE_SECRETS_FILE"] = str(tmp / "no-secrets.yaml")
    if crash_at:
        env["ALPHAENGINE_CRASH_AT"] = crash_at
    return env


def start_bot(
    tmp: Path, sim: Simulator, runtime_config: Path, crash_at: str | None = None
) -> subprocess.Popen[bytes]:
    log = open(tmp / "bot.log", "ab")  # noqa: SIM115
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "alphaengine.system",
            "--data-dir",
            str(tmp / "data"),
            "--runtime-config",
            str(runtime_config),
            "--exchange-url",
            sim.url,
            "--no-web",
        ],
        env=bot_env(tmp, crash_at),
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
    )


def settings_for(tmp: Path) -> Settings:
    return load_settings(data_dir=tmp / "data", secrets_file=tmp / "no-secrets.yaml", environ={})


def open_db(tmp: Path) -> Trading:
    return open_trading(settings_for(tmp), SYMBOL)


def assert_matches_exchange(tmp: Path, state: dict[str, Any]) -> None:
    """Every fill once, position and balance equal; the read models equal the exchange too."""
    trading = open_db(tmp)
    engine = read_engine(settings_for(tmp))
    try:
        trades = state["trades"]
        for trade in trades:
            assert trading.has_fact(f"fill:{SYMBOL}:{trade['id']}"), trade
        position = trading.position()
        assert position.quantity == Decimal(state["position"]["positionAmt"])
        assert trading.account().wallet_balance("USDT") == Decimal(state["balances"][0]["balance"])
        with engine.connect() as conn:
            fills = conn.execute(select(rm_fills.c.trade_id)).scalars().all()
            assert sorted(int(f) for f in fills) == sorted(int(t["id"]) for t in trades)
            row = conn.execute(select(rm_positions).where(rm_positions.c.symbol == SYMBOL)).first()
            quantity = Decimal(str(row.quantity)) if row is not None else Decimal(0)
            assert quantity == Decimal(state["position"]["positionAmt"])
    finally:
        trading.close()
        engine.dispose()
