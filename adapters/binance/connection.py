"""One connection to the exchange: the REST client, its governor, the gateway and the streams.

The caller (alphaengine's wiring) decides the endpoints and keys from configuration; nothing here
reads settings.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass, field

import structlog

from adapters.binance.client import GovernedAsyncClient, make_client
from adapters.binance.gateway import BinanceGateway
from adapters.binance.governor import RestGovernor
from adapters.binance.metrics import Metrics
from adapters.binance.streams import BinanceStreams
from adapters.binance.urls import Endpoints

log = structlog.get_logger(__name__)

CLOSE_SECONDS = 2.0


@dataclass
class BinanceConnection:
    client: GovernedAsyncClient
    gateway: BinanceGateway
    streams: BinanceStreams
    governor: RestGovernor
    endpoints: Endpoints
    metrics: Metrics = field(default_factory=Metrics)

    async def close(self) -> None:
        """Close the aiohttp session (python-binance leaks it otherwise), within a deadline."""
        self.metrics.log_snapshot()
        try:
            async with asyncio.timeout(CLOSE_SECONDS):
                await self.client.close_connection()
        except Exception as exc:
            log.warning("closing the REST session failed", error=repr(exc))


async def connect(endpoints: Endpoints, api_key: str, api_secret: str) -> BinanceConnection:
    client = make_client(endpoints, api_key, api_secret)
    metrics = Metrics()
    governor = RestGovernor(client, metrics)
    try:
        await governor.sync_time()
        await governor.load_limits()
    except BaseException:
        with contextlib.suppress(Exception):
            await client.close_connection()
        raise
    log.info("exchange connected", rest=endpoints.futures_rest, stream=endpoints.stream)
    return BinanceConnection(
        client=client,
        gateway=BinanceGateway(governor, has_spot=endpoints.has_spot),
        streams=BinanceStreams(governor, endpoints),
        governor=governor,
        endpoints=endpoints,
        metrics=metrics,
    )
