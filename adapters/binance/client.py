"""python-binance's AsyncClient, pointed at a mode's endpoints, reporting every response's headers.

Two sharp edges are absorbed here: the headers of a response are captured inside the request
(`client.response` is shared by concurrent calls), and an error body that is not JSON keeps its
own text instead of python-binance's repr of an unawaited method.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from typing import Any

import aiohttp
from binance import AsyncClient
from binance.exceptions import BinanceAPIException

from adapters.binance.urls import Endpoints

HeadersHook = Callable[[int, Mapping[str, str]], None]

# Short enough that a stalled request surfaces as an unknown outcome long before a recvWindow
# expires, long enough for a loaded loopback simulator.
REQUEST_TIMEOUT_SECONDS = 10.0
RECV_WINDOW_MS = 5000


class GovernedAsyncClient(AsyncClient):  # type: ignore[misc]
    on_response: HeadersHook | None = None

    async def _handle_response(self, response: aiohttp.ClientResponse) -> Any:
        if self.on_response is not None:
            self.on_response(response.status, response.headers)
        if not str(response.status).startswith("2"):
            text = await response.text()
            error = BinanceAPIException(response, response.status, text)
            if not error.code:
                error.message = text[:300] or f"HTTP {response.status} with an empty body"
            raise error
        return await super()._handle_response(response)


def make_client(endpoints: Endpoints, api_key: str, api_secret: str) -> GovernedAsyncClient:
    """Construct without the network (no spot ping); the caller syncs the server time."""
    client = GovernedAsyncClient(
        api_key, api_secret, requests_params={"timeout": REQUEST_TIMEOUT_SECONDS}
    )
    client.FUTURES_URL = endpoints.futures_rest + "/fapi"
    client.FUTURES_DATA_URL = endpoints.futures_rest + "/futures/data"
    client.API_URL = endpoints.spot_rest + "/api"
    client.MARGIN_API_URL = endpoints.spot_rest + "/sapi"
    # A per-call recvWindow is silently overwritten by this attribute.
    client.REQUEST_RECVWINDOW = RECV_WINDOW_MS
    client.timestamp_offset = 0
    return client


def local_ms() -> int:
    return int(time.time() * 1000)
