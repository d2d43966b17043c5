"""Latency benchmark (not a test): `.venv/bin/python bench/latency.py [--signals 500]`.

1. tick-to-order: the simulator's closing kline (its send time, `kline_closes[].sentAt`) to the
   order arriving at the simulator (`simReceivedAt`), for every candle that triggered a decision.
   The bot runs as its own process (`python -m alphaengine.system`) with a strategy that decides
   on every candle (`every_candle`); the client id of each decision's order is derived exactly as
   the engine derives it (idempotency key → command id → client order id), so no matching by
   time. The bot's own breakdown of that path (strategy, queue, plan, the one durable commit,
   send and exchange ack) is read from its stats table.
2. web-command-to-order: a Command POSTed to a real `python -m web` (HTTP, bearer token) to the
   order arriving at the simulator, across processes.
Prints p50/p99/max tables. Everything runs on loopback in a temporary directory.
"""

from __future__ import annotations

import argparse
import json
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import select  # noqa: E402

from aggregates import ids  # noqa: E402
from aggregates.envelope import Scope  # noqa: E402
from alphaengine import local_run, system  # noqa: E402
from alphaengine.bootstrap import read_engine  # noqa: E402
from alphaengine.local_run import SYMBOL, SimulatorProcess, stop_process, wait_until  # noqa: E402
from alphaengine.settings import load_settings  # noqa: E402
from projections.schema import bot_stats  # noqa: E402

STRATEGY_NAME = "every_candle"
SCOPE = Scope(symbol=SYMBOL, mode="paper")
STAGES = ("strategy", "queue", "plan", "commit", "send_and_ack")


def write_config(tmp: Path) -> Path:
    return local_run.write_runtime_config(
        tmp,
        {"name": STRATEGY_NAME, "timeframe": "1m", "params": {}},
        trading={"leverage": 5},
        risk={
            "max_risk_per_trade": "0.001",
            "daily_loss_limit": "0.9",
            "max_orders_per_minute": 1200,
        },
        warmup_candles=5,
        reconcile_interval=30,
    )


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(share * (len(ordered) - 1))))
    return ordered[index]


def orders_by_client_id(state: dict[str, Any]) -> dict[str, float]:
    return {o["clientOrderId"]: float(o["simReceivedAt"]) for o in state["orders"]}


def tick_to_order(sim: SimulatorProcess, signals: int, speed: float) -> list[float]:
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


def start_web(tmp: Path, port: int) -> tuple[subprocess.Popen[bytes], str]:
    log = tmp / "web.log"
    with open(log, "ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "web", "--data-dir", str(tmp / "data"), "--port", str(port)],
            cwd=ROOT,
            env=local_run.bot_env(tmp),
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    prefix = b"login: admin / "
    wait_until(lambda: prefix in log.read_bytes(), 60, "the web's generated password")
    line = next(x for x in log.read_bytes().splitlines() if x.startswith(prefix))
    wait_until(lambda: local_run.serving(f"http://127.0.0.1:{port}/health"), 60, "the web")
    return process, line[len(prefix) :].split()[0].decode()


def post(url: str, body: dict[str, Any], headers: dict[str, str]) -> dict[str, Any]:
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", **headers},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        answer: dict[str, Any] = json.loads(response.read())
    return answer


def web_command_to_order(
    sim: SimulatorProcess, base: str, password: str, count: int
) -> list[float]:
    token = post(f"{base}/api/auth/login", {"username": "admin", "password": password}, {})
    auth = {"Authorization": f"Bearer {token['access_token']}"}
    latencies: list[float] = []
    for index in range(count):
        side = "BUY" if index % 2 == 0 else "SELL"
        sent = time.time() * 1000.0
        answer = post(
            f"{base}/api/commands",
            {
                "kind": "PLACE_ORDER",
                "payload": {"side": side, "type": "MARKET", "quantity": "0.002"},
            },
            {**auth, "Idempotency-Key": f"bench-{index}-{time.time_ns()}"},
        )
        from uuid import UUID

        client_id = ids.client_order_id_for(UUID(answer["id"]))

        def arrived(cid: str = client_id) -> bool:
            return cid in orders_by_client_id(sim.state())

        wait_until(arrived, 10, "the order at the simulator", step=0.01)
        latencies.append(orders_by_client_id(sim.state())[client_id] - sent)
        time.sleep(0.05)
    return latencies


def bot_breakdown(tmp: Path) -> dict[str, float]:
    settings = load_settings(data_dir=tmp / "data", secrets_file=tmp / "none.yaml", environ={})
    engine = read_engine(settings)
    try:
        with engine.connect() as conn:
            rows = conn.execute(select(bot_stats.c.name, bot_stats.c.value)).all()
    finally:
        engine.dispose()
    return {str(name): float(value) for name, value in rows if str(name).startswith("tick_")}


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


def breakdown_table(stats: dict[str, float]) -> str:
    lines = [f"{'tick-to-order stage (in the bot)':<34} {'p50 ms':>9} {'p99 ms':>9}"]
    for stage in STAGES:
        p50 = stats.get(f"tick_{stage}_p50_ms")
        p99 = stats.get(f"tick_{stage}_p99_ms")
        if p50 is None or p99 is None:
            continue
        lines.append(f"{stage:<34} {p50:>9.2f} {p99:>9.2f}")
    lines.append(f"{'samples':<34} {int(stats.get('tick_samples', 0)):>9}")
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
        sim = SimulatorProcess(tmp, 60.0, 42).start()
        bot = web = None
        try:
            sim.control("clock", {"action": "pause"})
            bot = local_run.start_bot(tmp, sim.url, write_config(tmp))
            wait_until(lambda: local_run.log_contains(tmp, b"bot running"), 60, "the bot")
            port = system.free_port()
            web, password = start_web(tmp, port)
            commands = web_command_to_order(
                sim, f"http://127.0.0.1:{port}", password, args.commands
            )
            ticks = tick_to_order(sim, args.signals, args.speed)
            time.sleep(local_stats_seconds())
            stats = bot_breakdown(tmp)
        finally:
            for process in (web, bot):
                if process is not None:
                    stop_process(process, signal.SIGTERM)
            sim.stop()
    print(table([("tick-to-order", ticks), ("web-command-to-order", commands)]))
    print()
    print(breakdown_table(stats))
    return 0


def local_stats_seconds() -> float:
    from alphaengine.bot import STATS_SECONDS

    return STATS_SECONDS + 1.0


if __name__ == "__main__":
    sys.exit(main())
