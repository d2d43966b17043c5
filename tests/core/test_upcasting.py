"""Snapshots stored in an older shape still load: each snapshotted aggregate's class_version and
upcasters turn the old state into today's, and the events after the snapshot apply on top."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, Snapshot

from aggregates import ids
from aggregates.envelope import Source
from alphaengine.bootstrap import open_trading
from alphaengine.settings import Settings
from alphaengine.trading import Trading
from tests.core.story import T0, fill

D = Decimal


def store_old_snapshot(
    trading: Trading, aggregate_id: UUID, reshape: Callable[[dict[str, Any]], object]
) -> None:
    """Snapshot the aggregate as it stands, rewritten into the shape an older version stored."""
    aggregate: Aggregate = trading.repository.get(aggregate_id)
    taken = Snapshot.take(aggregate)
    state = dict(taken.state)
    state.pop("class_version", None)  # versions were not recorded before
    reshape(state)
    old = Snapshot(
        originator_id=taken.originator_id,
        originator_version=taken.originator_version,
        timestamp=taken.timestamp,
        topic=taken.topic,
        state=state,
    )
    assert trading.snapshots is not None
    trading.snapshots.put([old])


def dict_fills(state: dict[str, Any]) -> None:
    # The first layout of `recent_fills`: one dict per fill, the netted state before it nested.
    state["recent_fills"] = [
        {
            "trade_id": f[0],
            "signed_qty": f[1],
            "price": f[2],
            "fee": f[3],
            "before": {
                "quantity": f[4],
                "entry_price": f[5],
                "open_fees": f[6],
                "realized_pnl": f[7],
            },
        }
        for f in state["recent_fills"]
    ]


def test_a_position_snapshot_with_dict_fills_loads_and_re_nets_late_fills(
    trading: Trading, settings: Settings
) -> None:
    ws = trading.envelope(Source.WEBSOCKET)
    # Bought 0.010 at 60000 (trade 1) and 0.010 at 61000 (trade 3)
    trading.record_fill(fill(1, "ae-a", "BUY", "0.010", "60000", fee="0", at=T0), ws)
    trading.record_fill(fill(3, "ae-b", "BUY", "0.010", "61000", fee="0", at=T0), ws)
    position_id = ids.position_id(trading.scope)
    store_old_snapshot(trading, position_id, dict_fills)
    # Trade 2 arrives late (a REST backfill): sold 0.010 at 60500, between the two buys
    fresh = open_trading(settings)
    try:
        late = fill(2, "ae-c", "SELL", "0.010", "60500", fee="0", at=T0)
        fresh.record_fill(late, fresh.envelope(Source.REST))
        position = fresh.position()
        # Worked by hand in trade-id order: +0.010@60000, -0.010@60500 (+5 realized), then
        # +0.010@61000: long 0.010 at 61000 with 5 realized.
        assert position.quantity == D("0.010")
        assert position.entry_price == D("61000")
        assert position.realized_pnl == D("5.00000")
        assert all(isinstance(f, list) for f in position.recent_fills)
    finally:
        fresh.close()


def test_an_account_snapshot_without_daily_figures_loads(
    trading: Trading, settings: Settings
) -> None:
    ws = trading.envelope(Source.WEBSOCKET)
    trading.record_fill(fill(1, "ae-a", "BUY", "0.010", "60000", fee="0.5", at=T0), ws)
    account_id = ids.account_id(trading.scope)
    store_old_snapshot(trading, account_id, lambda state: state.pop("daily"))
    fresh = open_trading(settings)
    try:
        assert fresh.account().daily == {}
        fresh.record_fill(fill(2, "ae-b", "SELL", "0.010", "60100", fee="0.5", at=T0), ws)
        account = fresh.account()
        # Only what was booked after the old snapshot is split by day: +1 realized, -0.5 fee
        assert account.net_realized_on(T0.date().isoformat()) == D("0.5")
        assert account.fees == D("1.0")
    finally:
        fresh.close()


def test_an_engine_snapshot_without_the_bot_lifecycle_loads(
    trading: Trading, settings: Settings
) -> None:
    env = trading.envelope(Source.BOT)
    trading.pause_engine("by hand", env)
    engine_id = ids.engine_id(trading.scope)
    store_old_snapshot(trading, engine_id, lambda state: state.pop("bot"))
    fresh = open_trading(settings)
    try:
        engine = fresh.engine()
        assert engine.mode == "PAUSED" and engine.bot["state"] == "STOPPED"
        fresh.record_bot_started("1@host", fresh.envelope(Source.BOT))
        assert fresh.engine().bot["state"] == "RUNNING"
    finally:
        fresh.close()
