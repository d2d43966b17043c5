"""A paper run of sma_cross on a seeded path: the real system against the simulator process.

It must open and close positions with stops on the exchange, and at the end what the engine
recorded (events and read models) must equal /_sim/state.
"""

from __future__ import annotations

import signal
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.harness import (
    ACTIVE_STRATEGY,
    Simulator,
    start_bot,
    start_simulator,
    stop_process,
    wait_until,
    wait_until_matches_exchange,
    write_runtime_config,
)

pytestmark = pytest.mark.slow


def closed_trades(state: dict[str, Any]) -> int:
    return sum(1 for t in state["trades"] if Decimal(t["realizedPnl"]) != 0)


def stops_placed(state: dict[str, Any]) -> int:
    return sum(
        1
        for a in state["algo_orders"]
        if a["clientAlgoId"].startswith("aesl-") and a["orderType"] == "STOP_MARKET"
    )


def test_sma_cross_paper_run_matches_the_exchange(tmp_path: Path) -> None:
    sim: Simulator = start_simulator(tmp_path, speed=60.0, seed=7)
    bot = None
    try:
        bot = start_bot(tmp_path, sim, write_runtime_config(tmp_path, ACTIVE_STRATEGY))
        # Positions open and close, each entry with its stop on the algo-order API
        wait_until(
            lambda: closed_trades(sim.state()) >= 2 and stops_placed(sim.state()) >= 2,
            120,
            "two closed trades with stops",
        )
        # Freeze the market, let the engine settle, then compare with the exchange
        sim.control("clock", {"action": "pause"})
        state = wait_until_matches_exchange(tmp_path, sim, 45)
        engine_ids = {k: v for k, v in state["client_order_id_counts"].items() if k[:2] == "ae"}
        assert engine_ids and all(count == 1 for count in engine_ids.values()), engine_ids
        assert stop_process(bot, signal.SIGTERM) == 0
    finally:
        if bot is not None:
            stop_process(bot, signal.SIGKILL)
        sim.stop()
