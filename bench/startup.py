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
import signal
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Filling the history is setup, not what is measured: no fsync per commit for it. The bot runs
# in its own process with its own settings (FULL).
os.environ.setdefault("ALPHAENGINE_SQLITE_SYNCHRONOUS", "OFF")
sys.path.insert(0, str(ROOT))

from aggregates import ids  # noqa: E402
from aggregates.envelope import Source  # noqa: E402
from alphaengine import local_run  # noqa: E402
from alphaengine.bootstrap import init_schema, open_trading  # noqa: E402
from alphaengine.local_run import SimulatorProcess, stop_process, wait_until  # noqa: E402
from alphaengine.runtime_config import load_config_file  # noqa: E402
from alphaengine.trading import Trading  # noqa: E402
from bench.history import fill_store, settings_for  # noqa: E402


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
