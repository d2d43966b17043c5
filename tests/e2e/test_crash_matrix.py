"""Kill -9 the bot at each step of order placement, restart it, count orders at the exchange.

The simulator runs as its own process (it outlives the bot); the order is a user command written
into the database the way the web writes it. After each restart: exactly one exchange order per
accepted Command, every fill recorded once, read models equal the exchange.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from uuid import UUID

import pytest

from aggregates.ids import client_order_id_for
from tests.e2e.harness import (
    QUIET_STRATEGY,
    Simulator,
    open_db,
    start_bot,
    start_simulator,
    stop_process,
    wait_until,
    wait_until_matches_exchange,
    write_runtime_config,
)

pytestmark = pytest.mark.slow


def submit_entry(tmp: Path, key: str) -> str:
    trading = open_db(tmp)
    try:
        command_id, _ = trading.submit_command(
            kind="PLACE_ORDER",
            payload={"side": "BUY", "type": "MARKET", "quantity": "0.010"},
            actor_type="USER",
            actor_id="admin",
            idempotency_key=key,
            source="WEB",
        )
    finally:
        trading.close()
    return str(command_id)


def command_status(tmp: Path, command_id: str) -> str:
    trading = open_db(tmp)
    try:
        return trading.get_command(UUID(command_id)).status
    finally:
        trading.close()


@pytest.fixture
def sim(tmp_path: Path) -> Iterator[Simulator]:
    simulator = start_simulator(tmp_path)
    yield simulator
    simulator.stop()


@pytest.mark.parametrize("crash_at", ["after_intent", "after_send", "after_fill"])
def test_kill_minus_nine_then_restart_places_exactly_once(
    tmp_path: Path, sim: Simulator, crash_at: str
) -> None:
    config = write_runtime_config(tmp_path, QUIET_STRATEGY)
    # The first bot dies at the crash point while carrying out the command
    bot = start_bot(tmp_path, sim, config, crash_at=crash_at)
    try:
        wait_until(lambda: (tmp_path / "data" / "alphaengine-paper.db").exists(), 30, "schema")
        wait_until(lambda: b"bot running" in (tmp_path / "bot.log").read_bytes(), 60, "bot")
        command_id = submit_entry(tmp_path, f"crash-{crash_at}")
        bot.wait(timeout=60)
        assert bot.returncode == -signal.SIGKILL
    finally:
        stop_process(bot, signal.SIGKILL)
    client_id = client_order_id_for(UUID(command_id))
    expected_before = 0 if crash_at == "after_intent" else 1
    assert sim.count(client_id) == expected_before
    # Restarted without the crash point: it resumes the command and catches everything up
    bot = start_bot(tmp_path, sim, config)
    try:
        wait_until(
            lambda: command_status(tmp_path, command_id) in ("SUCCEEDED", "RESOLVED"),
            60,
            "the command to finish",
        )
        state = sim.state()
        wait_until(lambda: b"reconciled" in (tmp_path / "bot.log").read_bytes(), 30, "a reconcile")
        assert sim.count(client_id) == 1
        assert Decimal(state["position"]["positionAmt"]) == Decimal("0.010")
        wait_until_matches_exchange(tmp_path, sim, 30)
    finally:
        assert stop_process(bot) == 0
