"""Real processes for end-to-end tests (alphaengine.local_run), a shared SQLite file, and checks
that what the engine recorded equals the exchange (/_sim/state)."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import select

from alphaengine import local_run
from alphaengine.bootstrap import open_trading, read_engine
from alphaengine.local_run import (
    QUIET_STRATEGY,
    ROOT,
    SYMBOL,
    SimulatorProcess,
    bot_env,
    stop_process,
    wait_until,
    write_runtime_config,
)
from alphaengine.settings import Settings, load_settings
from alphaengine.trading import Trading
from projections.schema import rm_fills, rm_positions

# The tests' vocabulary: what they import from here, some of it re-exported from local_run.
__all__ = [
    "ACTIVE_STRATEGY",
    "QUIET_STRATEGY",
    "ROOT",
    "SYMBOL",
    "Simulator",
    "assert_matches_exchange",
    "bot_env",
    "open_db",
    "settings_for",
    "start_bot",
    "start_simulator",
    "stop_process",
    "wait_until",
    "wait_until_matches_exchange",
    "write_runtime_config",
]

# Trades every few candles at 60x: a crossing of 2 over 4, with a stop and a take-profit.
ACTIVE_STRATEGY = {
    "name": "sma_cross",
    "timeframe": "1m",
    "params": {"fast": 2, "slow": 4, "stop_pct": "0.003", "take_profit_pct": "0.006"},
}

Simulator = SimulatorProcess


def start_simulator(
    tmp: Path, speed: float = 60.0, seed: int = 42, state_file: Path | None = None
) -> Simulator:
    # The same launcher the system uses in paper mode, as a process of its own so that it
    # outlives a bot killed with SIGKILL.
    return SimulatorProcess(tmp, speed, seed, state_file=state_file).start()


def start_bot(
    tmp: Path, sim: Simulator, runtime_config: Path, crash_at: str | None = None
) -> subprocess.Popen[bytes]:
    return local_run.start_bot(tmp, sim.url, runtime_config, crash_at=crash_at)


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


def wait_until_matches_exchange(
    tmp: Path,
    sim: SimulatorProcess,
    timeout: float,
    *,
    also: Callable[[dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """Wait until the recorded state equals the exchange's (`assert_matches_exchange`, and
    `also`, asserting on the same state); return that state."""
    matched: list[dict[str, Any]] = []

    def settled() -> bool:
        state = sim.state()
        try:
            assert_matches_exchange(tmp, state)
            if also is not None:
                also(state)
        except AssertionError:
            return False
        matched.append(state)
        return True

    wait_until(settled, timeout, "recorded state to equal the exchange", step=0.5)
    return matched[-1]
