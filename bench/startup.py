"""Start-up benchmark (not a test): `.venv/bin/python bench/startup.py [--events 100000]`.

Fills a store with `--events` events through the real `Trading` methods (fills with their order,
position and account events, orders, balances, Commands), then times `python -m
alphaengine.system` from exec to its first order at the simulator: a Command filed while the bot
was down, which it must find and carry out on start. Twice: the first start after the fill (the
followers — projector, executor — have never read this history) and a second start (they have:
what a restart costs every day). Prints figures; never fails.
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Filling the history is setup, not what is measured: no fsync per commit for it. The bot runs
# in its own process with its own settings (FULL).
os.environ.setdefault("ALPHAENGINE_SQLITE_SYNCHRONOUS", "OFF")
sys.path.insert(0, str(ROOT))

from aggregates import ids  # noqa: E402
from aggregates.envelope import Source  # noqa: E402
from aggregates.facts import BalanceFact, FillFact, OrderFact  # noqa: E402
from alphaengine import local_run  # noqa: E402
from alphaengine.bootstrap import init_schema, open_trading  # noqa: E402
from alphaengine.local_run import SimulatorProcess, stop_process, wait_until  # noqa: E402
from alphaengine.runtime_config import load_config_file  # noqa: E402
from alphaengine.settings import Settings, load_settings  # noqa: E402
from alphaengine.trading import Done, Trading  # noqa: E402

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


def file_order(work: Path, key: str) -> str:
    trading: Trading = open_trading(settings_for(work))
    try:
        command_id, _ = trading.submit_command(
            kind="PLACE_ORDER",
            payload={"side": "BUY", "type": "MARKET", "quantity": "0.002"},
            actor_type="USER",
            actor_id="bench",
            idempotency_key=key,
            source=Source.WEB,
        )
        return ids.client_order_id_for(command_id)
    finally:
        trading.close()


def timed_start(work: Path, sim: SimulatorProcess, config: Path, key: str) -> float:
    client_id = file_order(work, key)
    started = time.time() * 1000.0
    bot = local_run.start_bot(work, sim.url, config)
    try:

        def arrived() -> bool:
            return any(o["clientOrderId"] == client_id for o in sim.state()["orders"])

        wait_until(arrived, 600, "the first order at the simulator", step=0.02)
        received = next(
            float(o["simReceivedAt"])
            for o in sim.state()["orders"]
            if o["clientOrderId"] == client_id
        )
    finally:
        stop_process(bot, signal.SIGTERM)
    return (received - started) / 1000.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--work-dir", help="keep the database and logs here (default: temp)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="ae-startup-") as directory:
        work = Path(args.work_dir or directory)
        work.mkdir(parents=True, exist_ok=True)
        config = local_run.write_runtime_config(work, local_run.QUIET_STRATEGY)
        init_schema(settings_for(work), load_config_file(config))
        began = time.monotonic()
        held = fill_store(work, args.events, seed=1)
        filled = time.monotonic() - began
        sim = SimulatorProcess(work, 60.0, 42).start()
        try:
            first = timed_start(work, sim, config, "startup-first")
            second = timed_start(work, sim, config, "startup-second")
        finally:
            sim.stop()
    print(f"store: {held:,} events recorded through Trading in {filled:.0f} s")
    print(f"{'start':<34} {'exec to first order, s':>24}")
    print(f"{'first (followers read history)':<34} {first:>24.2f}")
    print(f"{'second (followers tracked)':<34} {second:>24.2f}")
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
