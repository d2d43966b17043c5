"""The exchange for a mode, from configuration: endpoints and keys, then the adapter's connection.

Paper mode points every URL at the simulator's address and uses its documented keys unless the
settings carry others; testnet and production use Binance's own hosts and need keys.
"""

from __future__ import annotations

from adapters.binance.connection import BinanceConnection, connect
from adapters.binance.urls import endpoints_for
from alphaengine.settings import Settings


def _keys(settings: Settings) -> tuple[str, str]:
    if settings.api_key and settings.api_secret:
        return settings.api_key, settings.api_secret
    if settings.mode != "paper":
        raise ValueError(f"{settings.mode} mode needs an API key and secret in the settings")
    from adapters.simulator import DEFAULT_API_KEY, DEFAULT_API_SECRET

    return DEFAULT_API_KEY, DEFAULT_API_SECRET


async def connect_exchange(settings: Settings, exchange_url: str | None) -> BinanceConnection:
    api_key, api_secret = _keys(settings)
    return await connect(endpoints_for(settings.mode, exchange_url), api_key, api_secret)
