"""`aggregates.ports.ExchangeStreams` on Binance: the market stream and the user-data stream.

A session is one connection. The market session multiplexes `<symbol>@kline_<interval>` and
`<symbol>@markPrice@1s` on the combined-stream root; the user session owns a listenKey (created
on open, extended by `keepalive`) and reads `private/ws?listenKey=…`. Reconnecting, gap handling
and silence are the caller's business (processes/market_stream.py, processes/user_stream.py).
"""

from __future__ import annotations

import json
from typing import Any

import structlog

from adapters.binance.governor import RestGovernor
from adapters.binance.parsing import MalformedMessage, parse_market_event, parse_user_event
from adapters.binance.sockets import ExchangeSocket, Undecodable
from adapters.binance.urls import Endpoints
from aggregates.ports import Malformed, MarketItem, StreamClosed, UserItem

log = structlog.get_logger(__name__)

RAW_CHARS = 2000


def raw_text(payload: Any) -> str:
    if isinstance(payload, Undecodable):
        return payload.text
    try:
        text = json.dumps(payload, default=str)
    except (TypeError, ValueError):
        text = repr(payload)
    return text[:RAW_CHARS]


class BinanceMarketSession:
    def __init__(self, socket: ExchangeSocket) -> None:
        self.socket = socket

    async def receive(self) -> MarketItem:
        payload = await self.socket.receive()
        if isinstance(payload, Undecodable):
            return Malformed("not JSON", payload.text)
        try:
            return parse_market_event(payload)
        except MalformedMessage as exc:
            return Malformed(str(exc), raw_text(payload))

    async def close(self) -> None:
        await self.socket.close()


class BinanceUserSession:
    def __init__(self, socket: ExchangeSocket, governor: RestGovernor, listen_key: str) -> None:
        self.socket = socket
        self.governor = governor
        self.listen_key = listen_key

    async def receive(self) -> UserItem:
        payload = await self.socket.receive()
        if isinstance(payload, Undecodable):
            return Malformed("not JSON", payload.text)
        try:
            return parse_user_event(payload)
        except MalformedMessage as exc:
            return Malformed(str(exc), raw_text(payload))

    async def keepalive(self) -> None:
        await self.governor.request(
            "put", "listenKey", {"listenKey": self.listen_key}, signed=False
        )

    async def probe(self) -> bool:
        return await self.socket.probe()

    async def close(self) -> None:
        await self.socket.close()


class BinanceStreams:
    def __init__(self, governor: RestGovernor, endpoints: Endpoints) -> None:
        self.governor = governor
        self.endpoints = endpoints

    async def open_market(self, symbol: str, interval: str) -> BinanceMarketSession:
        name = symbol.lower()
        url = (
            f"{self.endpoints.stream}market/stream?streams="
            f"{name}@kline_{interval}/{name}@markPrice@1s"
        )
        socket = ExchangeSocket(url)
        await socket.open()
        return BinanceMarketSession(socket)

    async def open_user(self) -> BinanceUserSession:
        answer = await self.governor.request("post", "listenKey", signed=False, idempotent=False)
        key = answer.get("listenKey") if isinstance(answer, dict) else None
        if not isinstance(key, str) or not key:
            raise StreamClosed(f"listenKey answer without a key: {answer!r}"[:200])
        log.info("listenKey ready", key_suffix=key[-6:])
        socket = ExchangeSocket(f"{self.endpoints.stream}private/ws?listenKey={key}")
        await socket.open()
        return BinanceUserSession(socket, self.governor, key)
