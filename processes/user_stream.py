"""The user-data stream: a hint, delivered fast; every gap in it is closed by a reconcile.

A session owns a listenKey (the adapter creates it on open); we extend it every ~30 min and end
the session when it expired. A gap is a server close, a dead connection, a `listenKeyExpired`,
or a failed keepalive: the session is closed (within a deadline), a new one opened, and the
reconciler asked to pull REST state, so nothing lost in the gap stays lost. A quiet account is
not a dead stream: after `watchdog_seconds` without a message the connection is pinged, and
only a missing pong ends it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import structlog

from aggregates.envelope import Source
from aggregates.ports import (
    Counters,
    ExchangeError,
    ExchangeRejected,
    ExchangeStreams,
    ListenKeyExpired,
    Malformed,
    StreamClosed,
    UserFacts,
    UserSession,
)
from processes.health import HealthWriter
from processes.ingest import Ingestor
from processes.reconnect_pacing import ReconnectPacing

log = structlog.get_logger(__name__)

KEEPALIVE_SECONDS = 30 * 60
KEEPALIVE_RETRY_SECONDS = 60.0
LISTEN_KEY_UNKNOWN = -1125


class StreamGap(Exception):
    """Why the current session is no longer trustworthy."""


class UserStream:
    def __init__(
        self,
        streams: ExchangeStreams,
        ingestor: Ingestor,
        request_reconcile: Callable[[str], None],
        counters: Counters,
        health: HealthWriter,
        *,
        watchdog_seconds: float = 60.0,
        keepalive_seconds: float = KEEPALIVE_SECONDS,
    ) -> None:
        self.streams = streams
        self.ingestor = ingestor
        self.request_reconcile = request_reconcile
        self.counters = counters
        self.health = health
        self.watchdog_seconds = watchdog_seconds
        self.keepalive_seconds = keepalive_seconds
        self.connected = asyncio.Event()  # set while a session is open (tests and status)
        self.sessions = 0
        self.gaps: list[str] = []
        self.listen_key: str | None = None  # the current session's, when the venue has one

    async def run(self) -> None:
        pacing = ReconnectPacing()
        while True:
            session: UserSession | None = None
            try:
                session = await self.streams.open_user()
                pacing.opened()
                self.listen_key = getattr(session, "listen_key", None)
                self.sessions += 1
                self.connected.set()
                if self.sessions > 1:
                    # Events sent while we were away are not replayed: read them from REST, now
                    # that the new session catches everything after this point.
                    self.request_reconcile("user stream gap")
                await self._consume(session)
            except StreamGap as gap:
                self._gap(str(gap))
            except StreamClosed as exc:
                self._gap(str(exc))
            except ExchangeError as exc:
                self._gap(f"{type(exc).__name__}: {exc}")
            finally:
                self.connected.clear()
                if session is not None:
                    await session.close()
            self.counters.inc("reconnects")
            await asyncio.sleep(pacing.ended())

    def _gap(self, reason: str) -> None:
        self.counters.inc("gaps")
        self.gaps.append(reason)
        del self.gaps[:-50]
        log.warning("user stream gap", reason=reason)
        self.request_reconcile("user stream gap")

    async def _consume(self, session: UserSession) -> None:
        keepalive_at = time.monotonic() + self.keepalive_seconds
        silent_since = time.monotonic()
        while True:
            now = time.monotonic()
            wait = max(0.0, min(keepalive_at - now, silent_since + self.watchdog_seconds - now))
            try:
                async with asyncio.timeout(wait):
                    item = await session.receive()
            except TimeoutError:
                now = time.monotonic()
                if now >= keepalive_at:
                    keepalive_at = now + await self._keepalive(session)
                if now >= silent_since + self.watchdog_seconds:
                    if not await session.probe():
                        raise StreamGap(
                            f"no message for {self.watchdog_seconds:g} s and no pong"
                        ) from None
                    silent_since = now
                continue
            silent_since = time.monotonic()
            self.counters.inc("user_messages")
            if self.health.due("user_stream_message"):
                await asyncio.to_thread(self.health.set, "user_stream_message")
            if isinstance(item, ListenKeyExpired):
                raise StreamGap("listenKeyExpired")
            if isinstance(item, Malformed):
                self.ingestor.malformed(item)
                self.counters.inc("malformed_messages")
                continue
            if isinstance(item, UserFacts) and item.facts:
                await self.ingestor.record(list(item.facts), Source.WEBSOCKET)

    async def _keepalive(self, session: UserSession) -> float:
        """Extend the key; return the seconds until the next keepalive."""
        try:
            await session.keepalive()
        except ExchangeRejected as exc:
            if exc.code == LISTEN_KEY_UNKNOWN:
                raise StreamGap(f"listenKey keepalive refused: {exc.message}") from exc
            log.warning("listenKey keepalive rejected", code=exc.code, error=exc.message)
            return KEEPALIVE_RETRY_SECONDS
        except ExchangeError as exc:
            # Transient: try again soon; the expiry event ends the session if it comes to that.
            log.warning("listenKey keepalive failed", error=str(exc))
            return KEEPALIVE_RETRY_SECONDS
        return self.keepalive_seconds
