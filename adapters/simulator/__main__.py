"""Standalone simulator: ``python -m adapters.simulator --port 0 --seed 42 --speed 60``.

With ``--state-file PATH`` the exchange continues from PATH and keeps it up to date; a state file
that cannot be read stops it with a message naming the file (exit status 2).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from decimal import Decimal
from pathlib import Path

from .config import DEFAULT_API_KEY, DEFAULT_API_SECRET, SimulatorConfig
from .server import SimulatorServer
from .statefile import StateFileError


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m adapters.simulator",
        description="Binance USDⓈ-M Futures simulator (REST + WebSocket on one loopback port).",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--port-file", type=Path, help="write the chosen port to this file")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--symbol", default="BTCUSDT")
    parser.add_argument(
        "--speed", type=float, default=60.0, help="simulated seconds per wall second"
    )
    parser.add_argument("--start-price", type=Decimal, default=Decimal("60000"))
    parser.add_argument("--volatility", type=float, default=0.8, help="annualised")
    parser.add_argument("--drift", type=float, default=0.0, help="annualised")
    parser.add_argument("--jump-probability", type=float, default=0.0, help="per tick")
    parser.add_argument("--kline-csv", type=Path, help="replay these 1m klines instead of GBM")
    parser.add_argument("--api-key", default=DEFAULT_API_KEY)
    parser.add_argument("--api-secret", default=DEFAULT_API_SECRET)
    parser.add_argument("--futures-balance", type=Decimal, default=Decimal("10000"))
    parser.add_argument("--spot-balance", type=Decimal, default=Decimal("1000"))
    parser.add_argument("--strict-client-ids", action="store_true")
    parser.add_argument(
        "--state-file",
        type=Path,
        help="continue from this file if it exists and keep it up to date (survives restarts)",
    )
    return parser.parse_args(argv)


async def serve(args: argparse.Namespace) -> None:
    config = SimulatorConfig(
        seed=args.seed,
        symbol=args.symbol.upper(),
        speed=args.speed,
        futures_balance=args.futures_balance,
        spot_balance=args.spot_balance,
        api_key=args.api_key,
        api_secret=args.api_secret,
        start_price=args.start_price,
        volatility=args.volatility,
        drift=args.drift,
        jump_probability=args.jump_probability,
        kline_csv=args.kline_csv,
        strict_client_ids=args.strict_client_ids,
        state_file=args.state_file,
    )
    server = SimulatorServer(config)
    await server.start(args.host, args.port)
    print(f"listening {server.url}", flush=True)
    if args.port_file:
        args.port_file.write_text(f"{server.port}\n")
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        await server.stop()


def main(argv: list[str] | None = None) -> None:
    try:
        asyncio.run(serve(parse_args(argv)))
    except StateFileError as exc:
        print(f"simulator: {exc}", file=sys.stderr, flush=True)
        sys.exit(2)


if __name__ == "__main__":
    main()
