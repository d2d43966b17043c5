"""The exchange's WebSockets, owned here on the `websockets` package (python-binance is kept for
REST only).

Why not python-binance's sockets: its `ReconnectingWebsocket` reconnects on its own in a read
loop that outlives a close (a server close during `__aexit__` sets the state back to
RECONNECTING over EXITING, leaking a connection per drop), wraps every read in
`asyncio.wait_for`, which on Python 3.11 can swallow a cancel that lands as the read completes
(the owner then waits for ever), and takes up to its TIMEOUT to close. Here a socket is one
connection, nothing reconnects behind the owner's back, every wait has a deadline, and `close`
returns within CLOSE_SECONDS, aborting the transport if the server does not answer the close.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any

import structlog
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI

from aggregates.ports import StreamClosed

log = structlog.get_logger(__name__)

OPEN_SECONDS = 5.0
CLOSE_SECONDS = 1.0
PROBE_SECONDS = 3.0
# Our pings find a connection that died without a close; the exchange pings us too.
PING_SECONDS = 20.0
MAX_MESSAGE_BYTES = 1 << 20
RAW_CHARS = 2000


class Undecodable:
    """A text frame that is not JSON: handed on so the caller can count and log it."""

    def __init__(self, text: str) -> None:
        self.text = text[:RAW_CHARS]


class ExchangeSocket:
    """One WebSocket connection: `open`, `receive` (decoded JSON), `probe`, `close`."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._ws: ClientConnection | None = None

    async def open(self) -> None:
        try:
            async with asyncio.timeout(OPEN_SECONDS):
                self._ws = await connect(
                    self.url,
                    open_timeout=None,  # bounded above, cancellation-safe
                    ping_interval=PING_SECONDS,
                    ping_timeout=PING_SECONDS,
                    close_timeout=CLOSE_SECONDS,
                    max_size=MAX_MESSAGE_BYTES,
                    compression=None,
                    proxy=None,
                )
        except (OSError, TimeoutError, InvalidHandshake, InvalidURI) as exc:
            raise StreamClosed(f"cannot open {self._where()}: {type(exc).__name__}: {exc}") from exc

    async def receive(self) -> Any:
        """The next message as JSON (or `Undecodable`); StreamClosed once the socket is over."""
        if self._ws is None:
            raise StreamClosed("not open")
        try:
            text = await self._ws.recv()
        except ConnectionClosed as exc:
            raise StreamClosed(f"{self._where()} closed: {exc}") from exc
        if isinstance(text, bytes):
            text = text.decode("utf-8", "replace")
        try:
            return json.loads(text)
        except ValueError:
            return Undecodable(text)

    async def probe(self) -> bool:
        if self._ws is None:
            return False
        try:
            async with asyncio.timeout(PROBE_SECONDS):
                pong = await self._ws.ping()
                await pong
        except (ConnectionClosed, TimeoutError, RuntimeError):
            return False
        return True

    async def close(self) -> None:
        ws, self._ws = self._ws, None
        if ws is None:
            return
        try:
            async with asyncio.timeout(CLOSE_SECONDS):
                await ws.close()
        except (TimeoutError, OSError, ConnectionClosed) as exc:
            log.info("socket close did not finish: aborting", url=self._where(), error=repr(exc))
        finally:
            # Whatever the server did, no connection outlives its socket.
            with contextlib.suppress(Exception):
                ws.transport.abort()

    def _where(self) -> str:
        # The listenKey is a credential: never logged.
        return self.url.split("?", 1)[0]
