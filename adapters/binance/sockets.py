"""python-binance websockets made safe to consume: drained at once, never killed by bad text.

python-binance kills a socket whose internal queue overflows and one that receives a text it
cannot decode as JSON; it also takes up to its TIMEOUT (10 s) to close. A `SocketPump` moves
every message into an unbounded queue as soon as it arrives, turns undecodable text into a
marker the parser reports as malformed, and closes within about half a second.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

import structlog
from binance.exceptions import ReadLoopClosed
from binance.ws.reconnecting_websocket import ReconnectingWebsocket

from adapters.binance.parsing import UNDECODABLE_EVENT

log = structlog.get_logger(__name__)

SOCKET_TIMEOUT_SECONDS = 0.5
SOCKET_QUEUE_SIZE = 10_000
RAW_CHARS = 2000


class TolerantWebsocket(ReconnectingWebsocket):  # type: ignore[misc]
    TIMEOUT = SOCKET_TIMEOUT_SECONDS

    def _handle_message(self, evt: Any) -> Any:
        try:
            return super()._handle_message(evt)
        except Exception:
            text = evt.decode("utf-8", "replace") if isinstance(evt, bytes) else str(evt)
            return {"e": UNDECODABLE_EVENT, "raw": text[:RAW_CHARS]}


# The marker put in the queue when python-binance's read loop has ended for good.
CLOSED: dict[str, Any] = {"e": "error", "type": "ReadLoopClosed", "m": "read loop closed"}


class SocketPump:
    """Open `url + prefix + path`, and copy each message into `queue` until closed."""

    def __init__(self, url: str, prefix: str, path: str) -> None:
        self.socket = TolerantWebsocket(
            url=url, path=path, prefix=prefix, max_queue_size=SOCKET_QUEUE_SIZE
        )
        # Any JSON value: a text that decodes to a list or a number is still handed on.
        self.queue: asyncio.Queue[Any] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> SocketPump:
        await self.socket.__aenter__()
        self._task = asyncio.create_task(self._pump())
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        try:
            await asyncio.wait_for(self.socket.__aexit__(None, None, None), timeout=5.0)
        except Exception as error:
            log.warning("socket close failed", error=f"{type(error).__name__}: {error}")

    async def _pump(self) -> None:
        while True:
            try:
                message = await self.socket.recv()
            except ReadLoopClosed:
                self.queue.put_nowait(CLOSED)
                return
            self.queue.put_nowait(message)
