"""One connection to the exchange per mode: the client, the socket manager, the gateway.

Everything comes from configuration: paper mode points every URL at the simulator's address
(and uses its documented keys unless settings carry others); testnet and production use
Binance's own hosts.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import structlog
from binance import BinanceSocketManager

from adapters.binance.client import GovernedAsyncClient, make_client
from adapters.binance.gateway import BinanceGateway
from adapters.binance.governor import RestGovernor
from adapters.binance.metrics import Metrics
from adapters.binance.sockets import SOCKET_QUEUE_SIZE
from adapters.binance.urls import Endpoints, endpoints_for
from alphaengine.settings import Settings

log = structlog.get_logger(__name__)

# python-binance's own listenKey refresher; ours (user_stream) runs every ~30 min regardless.
LIBRARY_KEEPALIVE_SECONDS = 1800


@dataclass
class BinanceConnection:
    client: GovernedAsyncClient
    sockets: BinanceSocketManager
    gateway: BinanceGateway
    governor: RestGovernor
    endpoints: Endpoints
    metrics: Metrics = field(default_factory=Metrics)

    async def close(self) -> None:
        """Close the aiohttp session (python-binance leaks it otherwise)."""
        self.metrics.log_snapshot()
        await self.client.close_connection()


def _keys(settings: Settings) -> tuple[str, str]:
    if settings.api_key and settings.api_secret:
        return settings.api_key, settings.api_secret
    if settings.mode != "paper":
        raise ValueError(f"{settings.mode} mode needs an API key and secret in the settings")
    from adapters.simulator import DEFAULT_API_KEY, DEFAULT_API_SECRET

    return DEFAULT_API_KEY, DEFAULT_API_SECRET


async def connect(settings: Settings, *, exchange_url: str | None = None) -> BinanceConnection:
    endpoints = endpoints_for(settings.mode, exchange_url)
    api_key, api_secret = _keys(settings)
    client = make_client(endpoints, api_key, api_secret)
    metrics = Metrics()
    governor = RestGovernor(client, metrics)
    try:
        await governor.sync_time()
        await governor.load_limits()
    except Exception:
        await client.close_connection()
        raise
    sockets = BinanceSocketManager(
        client, user_timeout=LIBRARY_KEEPALIVE_SECONDS, max_queue_size=SOCKET_QUEUE_SIZE
    )
    sockets.FSTREAM_URL = endpoints.stream
    sockets.STREAM_URL = endpoints.stream
    log.info(
        "exchange connected",
        mode=settings.mode,
        rest=endpoints.futures_rest,
        stream=endpoints.stream,
    )
    return BinanceConnection(
        client=client,
        sockets=sockets,
        gateway=BinanceGateway(governor, has_spot=endpoints.has_spot),
        governor=governor,
        endpoints=endpoints,
        metrics=metrics,
    )
