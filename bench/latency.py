"""Latency benchmark (not a test): `.venv/bin/python bench/latency.py [--signals 500]`.

1. tick-to-order: the simulator's closing kline (its send time, `kline_closes[].sentAt`) to the
   order arriving at the simulator (`simReceivedAt`), for every candle that triggered a decision.
   The bot runs as its own process (`python -m alphaengine.system`) with a strategy that decides
   on every candle; the client id of each decision's order is derived exactly as the engine
   derives it (idempotency key → command id → client order id), so no matching by time.
2. web-command-to-order: a Command written into the database by another process (what the web
   does on a POST) to the order arriving at the simulator, across processes.
Prints p50/p99 tables. Everything runs on loopback in a temporary directory.
"""

from __future__ import annotations

import argparse
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from aggregates import ids  # noqa: E402
from aggregates.envelope import Scope  # noqa: E402
from tests.e2e.harness import (  # noqa: E402
    SYMBOL,
    Simulator,
    open_db,
    start_bot,
    start_simulator,
    stop_process,
    wait_until,
)

STRATEGY_NAME = "every_candle"
SCOPE = Scope(symbol=SYMBOL, mode="paper")


def write_config(tmp: Path) -> Path:
    import yaml

    path = tmp / "runtime.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "trading": {"symbol": SYMBOL, "leverage": 5},
                "strategy": {"name": STRATEGY_NAME, "timeframe": "1m", "params": {}},
                "risk": {
                    "max_risk_per_trade": "0.001",
                    "daily_loss_limit": "0.9",
                    "max_orders_per_minute": 1200,
                },
                "engine": {"warmup_candles": 5, "reconcile_interval": 30},
            }
        )
    )
    return path


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(share * (len(ordered) - 1))))
    return ordered[index]


def orders_by_client_id(state: dict[str, Any]) -> dict[str, float]:
    return {o["clientOrderId"]: float(o["simReceivedAt"]) for o in state["orders"]}


def tick_to_order(sim: Simulator, signals: int, speed: float) -> list[float]:
    sim.control("clock", {"speed": speed})
    sim.control("clock", {"action": "resume"})
    latencies: dict[int, float] = {}
    deadline = time.monotonic() + signals / (speed / 60) * 3 + 60
    while len(latencies) < signals and time.monotonic() < deadline:
        # Rarely: building the state is work on the simulator's loop, which would delay it.
        time.sleep(5.0)
        state = sim.state()
        received = orders_by_client_id(state)
        for close in state["kline_closes"]:
            open_ms = int(close["openTime"])
            for action in ("ENTER_LONG", "EXIT"):
                command = ids.command_id(SCOPE, f"{STRATEGY_NAME}:{open_ms}:{action}")
                at = received.get(ids.client_order_id_for(command))
                if at is not None:
                    latencies[open_ms] = at - float(close["sentAt"])
    sim.control("clock", {"action": "pause"})
    return list(latencies.values())[:signals]


def web_command_to_order(tmp: Path, sim: Simulator, count: int) -> list[float]:
    trading = open_db(tmp)
    latencies: list[float] = []
    try:
        for index in range(count):
            side = "BUY" if index % 2 == 0 else "SELL"
            sent = time.time() * 1000.0
            command_id, _ = trading.submit_command(
                kind="PLACE_ORDER",
                payload={"side": side, "type": "MARKET", "quantity": "0.002"},
                actor_type="USER",
                actor_id="bench",
                idempotency_key=f"bench-web-{index}-{time.time_ns()}",
                source="WEB",
            )
            client_id = ids.client_order_id_for(command_id)

            def arrived(cid: str = client_id) -> bool:
                return cid in orders_by_client_id(sim.state())

            wait_until(arrived, 10, "the order at the simulator")
            latencies.append(orders_by_client_id(sim.state())[client_id] - sent)
            time.sleep(0.05)
    finally:
        trading.close()
    return latencies


def table(rows: list[tuple[str, list[float]]]) -> str:
    lines = [f"{'path':<24} {'n':>5} {'p50 ms':>9} {'p99 ms':>9} {'max ms':>9}"]
    for name, values in rows:
        if not values:
            lines.append(f"{name:<24} {0:>5} {'-':>9} {'-':>9} {'-':>9}")
            continue
        lines.append(
            f"{name:<24} {len(values):>5} {statistics.median(values):>9.1f} "
            f"{percentile(values, 0.99):>9.1f} {max(values):>9.1f}"
        )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--signals", type=int, default=500, help="tick-to-order samples")
    parser.add_argument("--commands", type=int, default=200, help="web-command samples")
    parser.add_argument("--speed", type=float, default=120.0, help="simulator speed (x real time)")
    parser.add_argument("--work-dir", help="keep the logs and database here (default: a temp dir)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="ae-bench-") as directory:
        tmp = Path(args.work_dir or directory)
        tmp.mkdir(parents=True, exist_ok=True)
        sim = start_simulator(tmp, speed=60.0)
        bot = None
        try:
            sim.control("clock", {"action": "pause"})
            bot = start_bot(tmp, sim, write_config(tmp))
            wait_until(lambda: b"bot running" in (tmp / "bot.log").read_bytes(), 60, "the bot")
            web = web_command_to_order(tmp, sim, args.commands)
            ticks = tick_to_order(sim, args.signals, args.speed)
        finally:
            if bot is not None:
                stop_process(bot, signal.SIGTERM)
            sim.stop()
    print(table([("tick-to-order", ticks), ("web-command-to-order", web)]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
