"""Read-model rows as the projector and the bot write them, for tests of the web's reads."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Engine, delete, insert, text

from projections.schema import (
    health,
    market_candles,
    market_marks,
    rm_balances,
    rm_commands,
    rm_engine,
    rm_equity,
    rm_events,
    rm_fills,
    rm_orders,
    rm_positions,
)
from projections.tracking import TRACKING_TABLE

NOW = datetime.now(UTC).replace(microsecond=0)
D = Decimal


def order_row(cid: str, **overrides: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "id": f"00000000-0000-0000-0000-{abs(hash(cid)) % 10**12:012d}",
        "client_order_id": cid,
        "exchange_order_id": 1,
        "is_algo": False,
        "origin": "ENGINE",
        "symbol": "BTCUSDT",
        "side": "BUY",
        "type": "LIMIT",
        "status": "NEW",
        "is_open": True,
        "quantity": D("0.010"),
        "price": D("59000.10"),
        "stop_price": D(0),
        "reduce_only": False,
        "close_position": False,
        "time_in_force": "GTC",
        "executed_quantity": D(0),
        "average_price": D(0),
        "fees": D(0),
        "command_id": None,
        "created_at": NOW,
        "updated_at": NOW,
    }
    row.update(overrides)
    return row


def fill_row(trade_id: int, notification_id: int, **overrides: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "symbol": "BTCUSDT",
        "trade_id": trade_id,
        "client_order_id": "ae-fill",
        "exchange_order_id": 7,
        "side": "BUY",
        "quantity": D("0.010"),
        "price": D("60000.00"),
        "fee": D("0.24"),
        "fee_asset": "USDT",
        "realized_pnl": D(0),
        "is_maker": False,
        "time": NOW,
        "source": "WEBSOCKET",
        "notification_id": notification_id,
    }
    row.update(overrides)
    return row


def event_row(notification_id: int, event_type: str, **overrides: Any) -> dict[str, Any]:
    row: dict[str, Any] = {
        "notification_id": notification_id,
        "originator_id": "11111111-1111-1111-1111-111111111111",
        "originator_version": notification_id,
        "aggregate_type": event_type.split(".")[0],
        "event_type": event_type,
        "source": "WEBSOCKET",
        "command_id": None,
        "correlation_id": None,
        "dedup_key": None,
        "timestamp": NOW - timedelta(minutes=60 - notification_id),
        "data": {"n": notification_id},
    }
    row.update(overrides)
    return row


def created_event(notification_id: int, aggregate_id: str, event_type: str) -> dict[str, Any]:
    """The first event of an aggregate: lists of orders and Commands page by its id."""
    return event_row(
        notification_id,
        event_type,
        originator_id=aggregate_id,
        originator_version=1,
        source="BOT",
        data={},
    )


def seed_account(engine: Engine) -> None:
    """A long 0.010 BTC position at 60000 with a mark of 60500, a stop and a take-profit."""
    with engine.begin() as conn:
        conn.execute(
            insert(rm_balances).values(
                asset="USDT",
                wallet_balance=D("10000.50"),
                cross_wallet_balance=D("10000.50"),
                available_balance=D("9800.00"),
                as_of=NOW,
                updated_at=NOW,
            )
        )
        conn.execute(
            insert(rm_positions).values(
                symbol="BTCUSDT",
                quantity=D("0.010"),
                entry_price=D("60000.00"),
                break_even_price=D("60024.00"),
                realized_pnl=D("3.50"),
                fees=D("0.48"),
                leverage=5,
                updated_at=NOW,
            )
        )
        conn.execute(
            insert(market_marks).values(symbol="BTCUSDT", mark_price=D("60500.00"), time=NOW)
        )
        conn.execute(
            insert(rm_engine).values(
                id=1,
                mode="RUNNING",
                reason="",
                alarms={"unprotected_position": {"message": "no stop", "at": NOW.isoformat()}},
                strategy_disabled=False,
                updated_at=NOW,
            )
        )
        orders = [
            order_row("ae-limit"),
            order_row(
                "aesl-stop",
                is_algo=True,
                type="STOP_MARKET",
                side="SELL",
                price=D(0),
                stop_price=D("59000"),
                close_position=True,
            ),
            order_row("ae-done", status="FILLED", is_open=False),
        ]
        conn.execute(insert(rm_orders), orders)
        conn.execute(
            insert(rm_events),
            [
                created_event(1000 + n, order["id"], "Order.Placed")
                for n, order in enumerate(orders)
            ],
        )
        # Today's fills are stamped when seeded, not when this module was imported: a test run
        # that crosses midnight UTC in between would see them as yesterday's.
        today = datetime.now(UTC).replace(microsecond=0)
        conn.execute(
            insert(rm_fills),
            [
                fill_row(1, 3, time=today, realized_pnl=D("5.00"), fee=D("0.30")),
                fill_row(2, 4, time=NOW - timedelta(days=2), realized_pnl=D("100")),
                fill_row(3, 5, time=today, fee=D("0.01"), fee_asset="BNB", realized_pnl=D("-1.50")),
            ],
        )
        conn.execute(
            insert(rm_equity),
            [
                {
                    "notification_id": n,
                    "time": NOW - timedelta(minutes=10 - n),
                    "wallet_balance": D("10000") + n,
                    "realized_pnl": D(n),
                    "fees": D("0.1"),
                    "position_quantity": D("0.010"),
                    "entry_price": D("60000"),
                }
                for n in (1, 2, 3)
            ],
        )
        conn.execute(
            insert(market_candles),
            [
                {
                    "symbol": "BTCUSDT",
                    "interval": "1m",
                    "open_time": NOW - timedelta(minutes=5 - i),
                    "open": D("60000") + i,
                    "high": D("60010") + i,
                    "low": D("59990") + i,
                    "close": D("60005") + i,
                    "volume": D("12.5"),
                    "close_time": NOW - timedelta(minutes=5 - i) + timedelta(seconds=59.999),
                }
                for i in range(3)
            ],
        )
        # Health ages are measured against the clock at seeding, not at import: a long
        # suite would otherwise make the heartbeat look stale.
        seeded_at = datetime.now(UTC)
        conn.execute(
            insert(health),
            [
                {"key": "bot_heartbeat", "value": "", "updated_at": seeded_at},
                {"key": "user_stream_message", "value": "", "updated_at": seeded_at},
                {
                    "key": "reconcile",
                    "value": "ok",
                    "updated_at": seeded_at - timedelta(seconds=30),
                },
            ],
        )


def seed_events(engine: Engine, count: int = 30) -> None:
    types = ["Order.Filled", "Position.Changed", "Account.BalanceChanged"]
    sources = ["WEBSOCKET", "REST", "RECONCILER"]
    with engine.begin() as conn:
        # This world's events replace what init-db projected (the first config version); the
        # creation events of seeded orders and Commands (ids from 1000) stay.
        conn.execute(delete(rm_events).where(rm_events.c.notification_id < 1000))
        conn.execute(
            insert(rm_events),
            [event_row(n, types[n % 3], source=sources[n % 3]) for n in range(1, count + 1)],
        )


def seed_command(
    engine: Engine, command_id: str, status: str = "SUCCEEDED", notification_id: int = 2000
) -> None:
    with engine.begin() as conn:
        conn.execute(
            insert(rm_events).values(**created_event(notification_id, command_id, "Command.Filed"))
        )
        conn.execute(
            insert(rm_commands).values(
                id=command_id,
                idempotency_key="k",
                kind="CANCEL_ALL",
                payload={},
                actor_type="USER",
                actor_id="admin",
                priority=0,
                status=status,
                client_order_ids=[],
                result={},
                last_error={},
                reason="",
                created_at=NOW,
                updated_at=NOW,
            )
        )


def advance_projection(engine: Engine) -> None:
    """What the projector does with every batch: move its tracking position on."""
    with engine.begin() as conn:
        conn.execute(
            text(
                f"UPDATE {TRACKING_TABLE} SET notification_id = notification_id + 1 "
                "WHERE application_name = 'Trading'"
            )
        )
