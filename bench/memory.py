"""Memory benchmark (not a test): `.venv/bin/python bench/memory.py --minutes 10 --speed 120`.

Runs the whole paper system as a user does (`python -m alphaengine.system`: simulator, bot and
web) with a strategy that trades, polls the dashboard once a second like an open browser, and
samples the resident memory of the bot and the web every few seconds. Prints the figures;
never fails.
"""

from __future__ import annotations

import argparse
import json
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import psutil  # noqa: E402

from alphaengine import local_run, system  # noqa: E402
from alphaengine.local_run import stop_process, wait_until  # noqa: E402

STRATEGY = {
    "name": "sma_cross",
    "timeframe": "1m",
    "params": {"fast": 2, "slow": 4, "stop_pct": "0.003", "take_profit_pct": "0.006"},
}
MB = 1024 * 1024


def login(base: str, password: str) -> str:
    request = urllib.request.Request(
        f"{base}/api/auth/login",
        data=json.dumps({"username": "admin", "password": password}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        token: str = json.loads(response.read())["access_token"]
    return token


def poll(base: str, token: str) -> None:
    request = urllib.request.Request(
        f"{base}/api/dashboard", headers={"Authorization": f"Bearer {token}"}
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            response.read()
    except OSError:
        pass  # a busy moment; the next poll tries again


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--speed", type=float, default=120.0)
    parser.add_argument("--work-dir", help="keep the data and logs here (default: temp)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="ae-memory-") as directory:
        work = Path(args.work_dir or directory)
        work.mkdir(parents=True, exist_ok=True)
        config = local_run.write_runtime_config(
            work, STRATEGY, risk={"daily_loss_limit": "0.9"}, reconcile_interval=30
        )
        port = system.free_port()
        log = work / "system.log"
        with open(log, "ab") as out:
            launcher = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "alphaengine.system",
                    "--data-dir",
                    str(work / "data"),
                    "--runtime-config",
                    str(config),
                    "--web-port",
                    str(port),
                    "--sim-speed",
                    str(args.speed),
                ],
                cwd=ROOT,
                env=local_run.bot_env(work),
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        samples: dict[str, list[float]] = {"bot": [], "web": [], "simulator": []}
        try:
            prefix = b"login: admin / "
            wait_until(lambda: prefix in log.read_bytes(), 90, "the web's password")
            wait_until(lambda: b"bot running" in log.read_bytes(), 90, "the bot")
            line = next(x for x in log.read_bytes().splitlines() if x.startswith(prefix))
            base = f"http://127.0.0.1:{port}"
            wait_until(lambda: local_run.serving(f"{base}/health"), 60, "the web to serve")
            token = login(base, line[len(prefix) :].split()[0].decode())
            bot = psutil.Process(launcher.pid)
            deadline = time.monotonic() + args.minutes * 60
            next_sample = 0.0
            while time.monotonic() < deadline:
                poll(base, token)
                if time.monotonic() >= next_sample:
                    next_sample = time.monotonic() + 5
                    samples["bot"].append(bot.memory_info().rss / MB)
                    for child in bot.children():
                        command = " ".join(child.cmdline())
                        name = "web" if " -m web" in command else "simulator"
                        samples[name].append(child.memory_info().rss / MB)
                time.sleep(1.0)
        finally:
            stop_process(launcher, signal.SIGTERM)
    print(f"paper run: {args.minutes:g} min at speed {args.speed:g}, dashboard polled every second")
    print(f"{'process':<12} {'samples':>8} {'start MB':>9} {'peak MB':>9} {'end MB':>9}")
    for name, values in samples.items():
        if values:
            print(
                f"{name:<12} {len(values):>8} {values[0]:>9.1f} {max(values):>9.1f} "
                f"{values[-1]:>9.1f}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
