"""A trading history recorded through the real `Trading` methods, for the benchmarks: fills with
their order, position and account events, orders, balances and Commands carried out long ago."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from aggregates.envelope import Source
from aggregates.facts import BalanceFact, FillFact, OrderFact
from alphaengine import local_run
from alphaengine.bootstrap import open_trading
from alphaengine.settings import Settings, load_settings
from alphaengine.trading import Done

SYMBOL = local_run.SYMBOL


def settings_for(work: Path) -> Settings:
    return load_settings(data_dir=work / "data", secrets_file=work / "none.yaml", environ={})


def fill_store(work: Path, events: int, seed: int) -> int:
    """Record history until the log holds `events` notifications; return how many it holds."""
    trading = open_trading(settings_for(work))
    rng = random.Random(seed)
    start = datetime.now(UTC) - timedelta(days=30)
    trade_id = 1_000_000
    order_id = 5_000_000
    quantity = Decimal(0)
    try:
        while int(trading.recorder.max_notification_id() or 0) < events:
            for _ in range(200):
                order_id += 1
                trade_id += 1
                side = "BUY" if quantity <= 0 else "SELL"
                size = Decimal("0.010")
                quantity += size if side == "BUY" else -size
                at = start + timedelta(seconds=trade_id - 1_000_000)
                client_id = f"hist-{order_id}"
                env = trading.envelope(Source.WEBSOCKET)
                price = Decimal(60000 + rng.randint(-500, 500))
                trading.record_order(
                    OrderFact(
                        symbol=SYMBOL,
                        client_order_id=client_id,
                        exchange_order_id=order_id,
                        status="FILLED",
                        side=side,
                        order_type="MARKET",
                        quantity=size,
                        price=Decimal(0),
                        cumulative_quantity=size,
                        average_price=price,
                        reduce_only=False,
                        time_in_force="GTC",
                        transaction_time=at,
                    ),
                    env,
                )
                trading.record_fill(
                    FillFact(
                        symbol=SYMBOL,
                        trade_id=trade_id,
                        exchange_order_id=order_id,
                        client_order_id=client_id,
                        side=side,
                        quantity=size,
                        price=price,
                        fee=Decimal("0.24"),
                        fee_asset="USDT",
                        realized_pnl=Decimal(0),
                        is_maker=False,
                        time=at,
                    ),
                    env,
                )
                if trade_id % 10 == 0:
                    # Commands of the past, carried out long ago.
                    trading.file_command(
                        kind="CANCEL_ALL",
                        payload={},
                        actor_type="USER",
                        actor_id="history",
                        idempotency_key=f"history-{trade_id}",
                        source=Source.WEB,
                        decided=Done({"canceled": "all open orders and algo orders"}),
                    )
                if trade_id % 7 == 0:
                    trading.record_balance(
                        BalanceFact(
                            asset="USDT",
                            wallet_balance=Decimal(10000) + Decimal(trade_id % 97),
                            cross_wallet_balance=Decimal(10000) + Decimal(trade_id % 97),
                            as_of=at,
                            reason="ORDER",
                        ),
                        env,
                    )
        return int(trading.recorder.max_notification_id() or 0)
    finally:
        trading.close()
