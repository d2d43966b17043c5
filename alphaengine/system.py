"""`python -m alphaengine.system`: the whole engine in one command.

init schema → catch up every follower → reconcile → start streams → strategy. Paper mode (the
default) starts the simulator as a subprocess unless --exchange-url names a running one, and the
web process unless --no-web. SIGINT/SIGTERM shut everything down gracefully.

Test-only: ALPHAENGINE_CRASH_AT=after_intent|after_send|after_fill makes the bot kill itself
(SIGKILL) at that step of order placement; the crash-matrix tests use it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import IO

import structlog

from alphaengine.bootstrap import init_schema
from alphaengine.runtime_config import ConfigError, RuntimeConfig, load_config_file
from alphaengine.settings import MODES, Settings, SettingsError, load_settings

log = structlog.get_logger(__name__)

PORT_FILE_WAIT_SECONDS = 30.0
CHILD_STOP_SECONDS = 10.0


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m alphaengine.system",
        description="Run AlphaEngine: bot, and in paper mode the simulator and the web.",
    )
    parser.add_argument("--mode", choices=MODES, help="paper (default) | testnet | production")
    parser.add_argument("--data-dir", help="database and generated files (default data/)")
    parser.add_argument(
        "--runtime-config", type=Path, help="YAML seeding the runtime config (first start)"
    )
    parser.add_argument(
        "--exchange-url", help="use a running simulator at this base URL (paper mode)"
    )
    parser.add_argument("--no-web", action="store_true", help="do not start the web process")
    parser.add_argument("--web-port", type=int, default=None, help="web port (default 8080)")
    parser.add_argument("--web-host", default=None, help="web bind address (default 127.0.0.1)")
    parser.add_argument("--sim-seed", type=int, default=42, help="simulator seed (paper mode)")
    parser.add_argument(
        "--sim-speed", type=float, default=60.0, help="simulator clock speed (paper mode)"
    )
    return parser.parse_args(argv)


def start_simulator(
    port_file: Path,
    symbol: str,
    seed: int,
    speed: float,
    *,
    stdout: int | IO[bytes] | None = None,
    stderr: int | IO[bytes] | None = None,
    cwd: Path | None = None,
) -> tuple[subprocess.Popen[bytes], str]:
    """Start `python -m adapters.simulator` and return it with its base URL, once it listens."""
    port_file.unlink(missing_ok=True)
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "adapters.simulator",
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--seed",
            str(seed),
            "--symbol",
            symbol,
            "--speed",
            str(speed),
            "--port-file",
            str(port_file),
        ],
        stdout=stdout,
        stderr=stderr,
        cwd=cwd,
    )
    deadline = time.monotonic() + PORT_FILE_WAIT_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the simulator exited with {process.returncode}")
        text = port_file.read_text().strip() if port_file.exists() else ""
        if text:
            return process, f"http://127.0.0.1:{int(text)}"
        time.sleep(0.05)
    stop_child(process)
    raise RuntimeError(f"the simulator did not report its port within {PORT_FILE_WAIT_SECONDS}s")


def start_web(settings: Settings, host: str, port: int) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "web",
            "--mode",
            settings.mode,
            "--data-dir",
            str(settings.data_dir),
            "--host",
            host,
            "--port",
            str(port),
        ]
    )


def stop_child(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=CHILD_STOP_SECONDS)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=CHILD_STOP_SECONDS)


async def run_bot(settings: Settings, exchange_url: str | None) -> None:
    from alphaengine.bot import Bot

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await Bot(settings, exchange_url=exchange_url).run(stop)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        settings = load_settings(mode=args.mode, data_dir=args.data_dir)
        seed = load_config_file(args.runtime_config) if args.runtime_config else RuntimeConfig()
        init_schema(settings, seed)
    except (SettingsError, ConfigError) as exc:
        print(f"alphaengine: {exc}", file=sys.stderr)
        return 2
    children: list[subprocess.Popen[bytes]] = []
    exchange_url = args.exchange_url
    try:
        if settings.mode == "paper" and exchange_url is None:
            simulator, exchange_url = start_simulator(
                settings.data_dir / "simulator.port",
                seed.trading.symbol,
                args.sim_seed,
                args.sim_speed,
            )
            children.append(simulator)
            print(f"simulator: {exchange_url}", flush=True)
        if not args.no_web:
            host = args.web_host or settings.web.host
            port = settings.web.port if args.web_port is None else args.web_port
            children.append(start_web(settings, host, port))
            print(f"dashboard: http://{host}:{port}", flush=True)
            print(
                "login: admin, with the password the web prints once on its first start "
                f"(kept hashed under {settings.data_dir})",
                flush=True,
            )
        asyncio.run(run_bot(settings, exchange_url))
    except KeyboardInterrupt:
        pass
    except RuntimeError as exc:
        print(f"alphaengine: {exc}", file=sys.stderr)
        return 1
    finally:
        for child in reversed(children):
            with contextlib.suppress(Exception):
                stop_child(child)
    return 0


if __name__ == "__main__":
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(main())
