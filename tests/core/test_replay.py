"""Replay: the read models rebuilt from the log say what the story did (worked out by hand),
and equal the ones the live projector kept in small, uneven batches."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from alphaengine.trading import Trading
from projections.projector import Projector
from projections.replay import rebuild
from tests.core.story import drive_history
from tests.core.tables import snapshot


def test_replay_rebuilds_exactly_what_the_live_projector_wrote(
    trading: Trading, projector: Projector
) -> None:
    # Project live, in small and uneven batches, while the story is being recorded
    batch_sizes = iter([1, 3, 7, 2, 500, 4])
    drive_history(trading, checkpoint=lambda: projector.catch_up(next(batch_sizes)))
    assert projector.lag() == 0
    live = snapshot(trading)

    # Replay from zero in one big batch
    replayed = rebuild(trading, batch_size=500)

    assert replayed == trading.recorder.max_notification_id()
    assert_the_story(snapshot(trading), trading)
    assert snapshot(trading) == live


def test_live_read_models_say_what_the_story_did(trading: Trading, projector: Projector) -> None:
    drive_history(trading, checkpoint=projector.catch_up)
    assert_the_story(snapshot(trading), trading)


def assert_the_story(tables: dict[str, Any], trading: Trading) -> None:
    """What tests/core/story.py did, worked out by hand."""
    # One event row per notification, each with its source
    assert len(tables["rm_events"]) == trading.recorder.max_notification_id()
    sources = {row["source"] for row in tables["rm_events"]}
    assert {"WEBSOCKET", "REST", "RECONCILER", "BOT", "WEB"} <= sources
    # The fill that came over WS and again over REST is one row; realized PnL is booked per fill
    fills = {row["trade_id"]: row for row in tables["rm_fills"]}
    assert sorted(fills) == [1, 2, 3, 4, 5]
    assert fills[2]["source"] == "WEBSOCKET"
    assert fills[3]["realized_pnl"] == (Decimal("58990") - Decimal("60006")) * Decimal("0.010")
    # The flip closed the 0.020 short opened at 59100 by buying at 59050: +1.00
    assert fills[5]["realized_pnl"] == Decimal("1.00")
    assert fills[4]["realized_pnl"] == fills[1]["realized_pnl"] == Decimal(0)
    # The triggered stop's child order carries its parent's client id
    children = [row for row in tables["rm_orders"] if row["parent_client_algo_id"]]
    assert len(children) == 1 and children[0]["status"] == "FILLED"
    (position,) = tables["rm_positions"]
    assert (position["quantity"], position["entry_price"], position["leverage"]) == (
        Decimal("0.010"),
        Decimal("59050"),
        10,
    )
    (engine,) = tables["rm_engine"]
    assert engine["mode"] == "PAUSED" and engine["alarms"] == {}
    statuses = {row["idempotency_key"]: row["status"] for row in tables["rm_commands"]}
    assert statuses["decision-1"] == "SUCCEEDED" and statuses["web-1"] == "REJECTED"
    # An equity point for every change of the account's money, in log order
    equity = tables["rm_equity"]
    assert equity[-1]["wallet_balance"] == Decimal("9988.00")
    assert [p["notification_id"] for p in equity] == sorted(p["notification_id"] for p in equity)


def test_catch_up_is_incremental_and_idempotent(trading: Trading, projector: Projector) -> None:
    before = projector.position()  # init-db projected its own events
    drive_history(trading)
    total = (trading.recorder.max_notification_id() or 0) - before
    assert projector.lag() == total

    assert projector.catch_up(batch_size=10) == total
    assert projector.catch_up() == 0
    assert projector.lag() == 0
