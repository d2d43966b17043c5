"""Where each mode's exchange lives: REST roots and the stream root, by configuration only."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit


@dataclass(frozen=True)
class Endpoints:
    futures_rest: str  # e.g. https://fapi.binance.com (without /fapi)
    spot_rest: str  # e.g. https://api.binance.com (without /api or /sapi)
    stream: str  # the futures stream root, ending in "/" (python-binance appends market/ etc.)
    has_spot: bool = True  # testnet serves no /sapi: spot transfers are impossible there


PRODUCTION = Endpoints(
    futures_rest="https://fapi.binance.com",
    spot_rest="https://api.binance.com",
    stream="wss://fstream.binance.com/",
)
TESTNET = Endpoints(
    futures_rest="https://testnet.binancefuture.com",
    spot_rest="https://testnet.binance.vision",
    stream="wss://fstream.binancefuture.com/",
    has_spot=False,
)


def simulator_endpoints(exchange_url: str) -> Endpoints:
    """The simulator serves futures, spot and streams on one loopback address."""
    parts = urlsplit(exchange_url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"exchange url must look like http://127.0.0.1:PORT, not {exchange_url!r}")
    base = f"{parts.scheme}://{parts.netloc}"
    ws_scheme = "wss" if parts.scheme == "https" else "ws"
    return Endpoints(futures_rest=base, spot_rest=base, stream=f"{ws_scheme}://{parts.netloc}/")


def endpoints_for(mode: str, exchange_url: str | None = None) -> Endpoints:
    """An explicit exchange url wins (a simulator, or a proxy); otherwise the mode decides."""
    if exchange_url:
        return simulator_endpoints(exchange_url)
    if mode == "production":
        return PRODUCTION
    if mode == "testnet":
        return TESTNET
    raise ValueError("paper mode needs the simulator's address (exchange_url)")
