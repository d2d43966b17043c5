"""The user-data stream: a hint, delivered fast; every gap in it is closed by a reconcile.

We own the listenKey (create, keep alive every ~30 min, recreate when it expired) because
python-binance reuses a stale key on reconnect and ignores `listenKeyExpired`. A gap is any of:
`listenKeyExpired`, an `{'e': 'error'}` item (python-binance's report of a drop), the read loop
ending, or silence longer than the watchdog. A gap closes the socket, opens a new one (with a new
key if needed) and asks the reconciler to pull REST state, so nothing lost in the gap stays lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import Any

import structlog

from adapters.binance.connection import BinanceConnection
from adapters.binance.sockets import SocketPump
from processes.health import HealthWriter
from processes.ingest import Ingestor
from processes.ports import ExchangeError, ExchangeRejected
from processes.reconciler import Reconciler

log = structlog.get_logger(__name__)

KEEPALIVE_SECONDS = 30 * 60
LISTEN_KEY_UNKNOWN = -1125
MAX_BACKOFF_SECONDS = 30.0


class StreamGap(Exception):
    """Why the current connection is no longer trustworthy."""


class UserStream:
    def __init__(
        self,
        connection: BinanceConnection,
        ingestor: Ingestor,
        reconciler: Reconciler,
        health: HealthWriter,
        *,
        watchdog_seconds: float = 60.0,
        keepalive_seconds: float = KEEPALIVE_SECONDS,
    ) -> None:
        self.connection = connection
        self.ingestor = ingestor
        self.reconciler = reconciler
        self.health = health
        self.watchdog_seconds = watchdog_seconds
        self.keepalive_seconds = keepalive_seconds
        self.metrics = connection.metrics
        self.listen_key: str | None = None
        self.connected = asyncio.Event()  # set while a socket is open (tests and status)
        self.gaps: list[str] = []

    async def run(self) -> None:
        failures = 0
        first = True
        while True:
            try:
                await self._session(reconnecting=not first)
            except asyncio.CancelledError:
                raise
            except StreamGap as gap:
                failures = 0
                self._gap(str(gap))
            except ExchangeError as exc:
                failures += 1
                self._gap(f"listenKey request failed: {exc}")
            except Exception as exc:
                failures += 1
                log.exception("user stream failed")
                self._gap(f"{type(exc).__name__}: {exc}")
            first = False
            self.metrics.inc("reconnects")
            # The first retry is immediate; repeated failures back off.
            await asyncio.sleep(min(MAX_BACKOFF_SECONDS, 0.2 * (2**failures) if failures else 0))

    def _gap(self, reason: str) -> None:
        self.metrics.inc("gaps")
        self.gaps.append(reason)
        log.warning("user stream gap", reason=reason)
        self.metrics.log_snapshot()
        self.reconciler.request("user stream gap")

    async def _session(self, *, reconnecting: bool) -> None:
        self.listen_key = await self._create_listen_key()
        endpoints = self.connection.endpoints
        pump = SocketPump(endpoints.stream, "private/ws", f"?listenKey={self.listen_key}")
        async with pump:
            self.connected.set()
            if reconnecting:
                # Events sent while we were away are not replayed: read them from REST, now
                # that the new socket catches everything after this point.
                self.reconciler.request("user stream gap")
            keepalive = asyncio.create_task(self._keepalive(self.listen_key))
            try:
                await self._consume(pump.queue, keepalive)
            finally:
                self.connected.clear()
                keepalive.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await keepalive
                # Valid events that arrived before the gap are still facts.
                while not pump.queue.empty():
                    message = pump.queue.get_nowait()
                    if _kind(message) not in ("error", "listenKeyExpired"):
                        await self.ingestor.user_event(message)

    async def _consume(self, queue: asyncio.Queue[Any], keepalive: asyncio.Task[None]) -> None:
        while True:
            get = asyncio.ensure_future(queue.get())
            done, _ = await asyncio.wait(
                {get, keepalive}, timeout=self.watchdog_seconds, return_when=asyncio.FIRST_COMPLETED
            )
            if get not in done:
                get.cancel()
                if keepalive in done:
                    raise StreamGap(f"listenKey keepalive failed: {keepalive.exception()}")
                raise StreamGap(f"no message for {self.watchdog_seconds:g} s")
            message = get.result()
            self.metrics.inc("user_messages")
            if self.health.due("user_stream_message"):
                await asyncio.to_thread(self.health.set, "user_stream_message")
            kind = _kind(message)
            if kind == "listenKeyExpired":
                raise StreamGap("listenKeyExpired")
            if kind == "error":
                raise StreamGap(f"socket error: {message.get('type')} {message.get('m')}")
            malformed = self.ingestor.counters.get("malformed", 0)
            await self.ingestor.user_event(message)
            self.metrics.inc("malformed_messages", self.ingestor.counters["malformed"] - malformed)

    async def _create_listen_key(self) -> str:
        answer = await self.connection.governor.request(
            "post", "listenKey", signed=False, idempotent=False
        )
        key = str(answer["listenKey"])
        log.info("listenKey ready", key_suffix=key[-6:])
        return key

    async def _keepalive(self, key: str) -> None:
        """Extend the key periodically; return (ending the session) if the key is gone."""
        while True:
            await asyncio.sleep(self.keepalive_seconds)
            started = time.monotonic()
            try:
                await self.connection.governor.request(
                    "put", "listenKey", {"listenKey": key}, signed=False
                )
            except ExchangeRejected as exc:
                if exc.code == LISTEN_KEY_UNKNOWN:
                    raise
                log.warning("listenKey keepalive rejected", code=exc.code, error=exc.message)
            except ExchangeError as exc:
                # Transient: the next keepalive (or the expiry event) decides.
                log.warning("listenKey keepalive failed", error=str(exc))
            log.debug("listenKey kept alive", seconds=round(time.monotonic() - started, 3))


def _kind(message: Any) -> Any:
    return message.get("e") if isinstance(message, dict) else None
