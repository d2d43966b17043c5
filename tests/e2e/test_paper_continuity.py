"""Paper mode run, stopped and run again on the same data dir: one continuous account.

The launcher's simulator keeps its account in the data dir, so the second run sees the same
balances, position and orders, new trades get new ids, every fill is recorded, no order stays
"open" here that the exchange no longer has, and the engine's state equals the exchange's.
"""

from __future__ import annotations

import signal
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from alphaengine.bootstrap import read_engine
from alphaengine.local_run import SimulatorProcess
from projections.schema import rm_orders
from tests.e2e.harness import (
    ACTIVE_STRATEGY,
    ROOT,
    bot_env,
    settings_for,
    stop_process,
    wait_until,
    wait_until_matches_exchange,
    write_runtime_config,
)

pytestmark = pytest.mark.slow


def launch(tmp: Path, config: Path, log: str) -> subprocess.Popen[bytes]:
    with open(tmp / log, "ab") as out:
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "alphaengine.system",
                "--data-dir",
                str(tmp / "data"),
                "--runtime-config",
                str(config),
                "--no-web",
                "--sim-speed",
                "60",
            ],
            cwd=ROOT,
            env=bot_env(tmp),
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def exchange(tmp: Path) -> SimulatorProcess:
    port = int((tmp / "data" / "simulator.port").read_text().strip())
    return SimulatorProcess(tmp, speed=60, seed=42, port=port)


def trades(sim: SimulatorProcess) -> list[dict[str, Any]]:
    state = sim.state()
    return list(state["trades"])


def open_here(tmp: Path) -> set[str]:
    engine = read_engine(settings_for(tmp))
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                select(rm_orders.c.client_order_id).where(rm_orders.c.is_open.is_(True))
            )
            return {str(r) for r in rows.scalars()}
    finally:
        engine.dispose()


def open_on_exchange(state: dict[str, Any]) -> set[str]:
    normal = {
        o["clientOrderId"] for o in state["orders"] if o["status"] in ("NEW", "PARTIALLY_FILLED")
    }
    algo = {a["clientAlgoId"] for a in state["algo_orders"] if a["algoStatus"] == "NEW"}
    return normal | algo


def settle_and_compare(tmp: Path, sim: SimulatorProcess) -> dict[str, Any]:
    sim.control("clock", {"action": "pause"})

    def same_open_orders(state: dict[str, Any]) -> None:
        assert open_here(tmp) == open_on_exchange(state)

    return wait_until_matches_exchange(tmp, sim, 60, also=same_open_orders)


def test_a_second_run_continues_the_same_paper_account(tmp_path: Path) -> None:
    config = write_runtime_config(tmp_path, ACTIVE_STRATEGY)
    first = launch(tmp_path, config, "first.log")
    try:
        wait_until(lambda: (tmp_path / "data" / "simulator.port").exists(), 60, "the simulator")
        sim = exchange(tmp_path)
        wait_until(lambda: sim.alive() and len(trades(sim)) >= 4, 180, "trades in the first run")
        before = settle_and_compare(tmp_path, sim)
    finally:
        assert stop_process(first, signal.SIGTERM) == 0
    first_ids = {int(t["id"]) for t in before["trades"]}
    wallet = Decimal(before["balances"][0]["balance"])

    second = launch(tmp_path, config, "second.log")
    try:
        wait_until(lambda: b"bot running" in (tmp_path / "second.log").read_bytes(), 60, "bot")
        sim = exchange(tmp_path)
        # The account carried over: the same wallet and history, before anything new trades.
        carried = sim.state()
        assert {int(t["id"]) for t in carried["trades"]} >= first_ids
        assert Decimal(carried["balances"][0]["balance"]) == wallet or len(carried["trades"]) > len(
            first_ids
        )
        wait_until(lambda: len(trades(sim)) >= len(first_ids) + 4, 180, "trades in the second run")
        after = settle_and_compare(tmp_path, sim)
    finally:
        assert stop_process(second, signal.SIGTERM) == 0
    new_ids = {int(t["id"]) for t in after["trades"]} - first_ids
    assert new_ids and min(new_ids) > max(first_ids)  # never an id twice
    engine_ids = {k: v for k, v in after["client_order_id_counts"].items() if k[:2] == "ae"}
    assert all(count == 1 for count in engine_ids.values()), engine_ids
    text = (tmp_path / "second.log").read_bytes()
    assert b"unknown on the exchange" not in text  # no phantom orders from the first run
