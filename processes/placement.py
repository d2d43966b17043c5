"""Exactly-once placement of one order whose intent is already recorded (docs/architecture.md,
"Exactly-once orders").

send → acknowledged: record the exchange's answer. Definite rejection: record code and message.
Unknown outcome (timeout, 503 unknown, -1006/-1007, dropped connection, a crash before the answer
was recorded): look the order up by its client id until the exchange answers; resend — with the
same client id — only once the exchange confirms it does not exist *and* the original request
can no longer arrive (older than its recvWindow plus a margin). Never give up and call it failed.

Two lanes may reach the same order (the main lane placing an entry's legs, the protection lane
placing them as soon as the entry's fill is seen): one lock per client id, and the recorded
status checked under it, make the second a no-op.
"""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import structlog

from aggregates.envelope import Envelope, Source
from aggregates.facts import AlgoOrderFact, OrderFact
from aggregates.intent import OrderIntent
from aggregates.ports import (
    ExchangeGateway,
    ExchangeRejected,
    ExchangeUnavailable,
    UnknownOutcome,
)
from alphaengine.store_thread import StoreThread
from alphaengine.trading import Trading

log = structlog.get_logger(__name__)

DUPLICATE_CLIENT_ID = -4116  # the id names an order that exists: look it up, it is ours
RESEND_MARGIN_MS = 1000
UNAVAILABLE_RETRIES = 5
CRASH_ENV = "ALPHAENGINE_CRASH_AT"
CRASH_POINTS = ("after_intent", "after_send", "after_fill")


def crash_point_from_env() -> str | None:
    """Test-only crash injection (the crash-matrix tests): kill -9 at one protocol step."""
    value = os.environ.get(CRASH_ENV, "").strip()
    if not value:
        return None
    if value not in CRASH_POINTS:
        raise ValueError(f"{CRASH_ENV}={value!r}: expected one of {', '.join(CRASH_POINTS)}")
    return value


def crash_here(point: str, configured: str | None) -> None:
    if configured == point:
        log.warning("crash point reached: killing this process", point=point)
        os.kill(os.getpid(), signal.SIGKILL)


@dataclass(frozen=True)
class LegOutcome:
    client_order_id: str
    placed: bool
    fact: OrderFact | AlgoOrderFact | None = None
    code: int = 0
    message: str = ""

    @property
    def status(self) -> str:
        if self.fact is None:
            return "REJECTED" if self.code else "NOT_PLACED"
        return self.fact.algo_status if isinstance(self.fact, AlgoOrderFact) else self.fact.status

    def as_dict(self) -> dict[str, object]:
        found: dict[str, object] = {"status": self.status}
        if self.fact is not None:
            found["exchange_order_id"] = (
                self.fact.algo_id
                if isinstance(self.fact, AlgoOrderFact)
                else self.fact.exchange_order_id
            )
        if self.code:
            found.update(code=self.code, message=self.message)
        return found


class Placement:
    def __init__(
        self,
        trading: Trading,
        gateway: ExchangeGateway,
        store: StoreThread,
        *,
        on_unknown: Callable[[str], None],
        on_sent: Callable[[], None] = lambda: None,
        stale: Callable[[UUID, OrderIntent], Awaitable[str | None]] | None = None,
        crash_at: str | None = None,
        poll_seconds: float = 0.5,
    ) -> None:
        self.trading = trading
        self.gateway = gateway
        self.store = store
        self.on_unknown = on_unknown
        self.on_sent = on_sent
        self.stale = stale  # why a Command's decision may no longer trade (None: it may)
        self.crash_at = crash_at
        self.poll_seconds = poll_seconds
        self._locks: dict[str, asyncio.Lock] = {}
        self._attempted: set[str] = set()

    async def place(
        self,
        command_id: UUID,
        intent: OrderIntent,
        *,
        sent_at: datetime | None,
        recorded_now: bool = False,
    ) -> LegOutcome:
        """`sent_at` None: this process recorded the intent and has not sent it.

        Otherwise the order may have left before a crash: resolve by lookup first.
        `recorded_now`: the caller recorded the intent in the transaction that created its
        Command, just now, so the order is PENDING_NEW and nothing can have sent it: it goes
        without reading the order back (the tick-to-order path).
        """
        key = intent.client_order_id
        # Kept for the process's life: one small lock per order, and never two for one order.
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:
            if not (recorded_now and sent_at is None):
                order = await self.store.call(self.trading.find_order, key, is_algo=intent.is_algo)
                if order is not None and order.status != "PENDING_NEW":
                    return known_outcome(order)
            if sent_at is None and key not in self._attempted:
                self._attempted.add(key)
                return await self._send(command_id, intent)
            return await self._resolve(command_id, intent, sent_at or datetime.now(UTC))

    async def _send(self, command_id: UUID, intent: OrderIntent) -> LegOutcome:
        failures = 0
        while True:
            sent_at = datetime.now(UTC)
            try:
                self.on_sent()
                ack = await self.gateway.place_order(intent)
            except ExchangeRejected as exc:
                if exc.code == DUPLICATE_CLIENT_ID:
                    return await self._resolve(command_id, intent, sent_at)
                log.warning(
                    "order rejected",
                    client_order_id=intent.client_order_id,
                    code=exc.code,
                    message=exc.message,
                )
                env = self.trading.envelope(Source.REST, command_id=command_id)
                await self.store.call(
                    self.trading.reject_order,
                    intent.client_order_id,
                    exc.code,
                    exc.message,
                    is_algo=intent.is_algo,
                    env=env,
                )
                return LegOutcome(intent.client_order_id, False, code=exc.code, message=exc.message)
            except UnknownOutcome as exc:
                log.warning(
                    "order outcome unknown: resolving by lookup",
                    client_order_id=intent.client_order_id,
                    error=str(exc),
                )
                await self.store.call(
                    self.trading.mark_command_unknown,
                    command_id,
                    {"client_order_id": intent.client_order_id, "error": str(exc)},
                )
                self.on_unknown("unknown order outcome")
                return await self._resolve(command_id, intent, sent_at)
            except ExchangeUnavailable as exc:
                # Definitely not applied: trying again is safe, for a while.
                failures += 1
                if failures > UNAVAILABLE_RETRIES:
                    return await self.give_up(command_id, intent, f"exchange unavailable: {exc}")
                log.warning("exchange unavailable: retrying", error=str(exc), attempt=failures)
                await asyncio.sleep(min(0.5 * 2**failures, 8.0))
                expired = await self._expired(command_id, intent, "exchange unavailable until")
                if expired is not None:
                    return expired
                continue
            crash_here("after_send", self.crash_at)
            await self._record(command_id, ack.fact)
            return LegOutcome(intent.client_order_id, True, ack.fact)

    async def _resolve(
        self, command_id: UUID, intent: OrderIntent, sent_at: datetime
    ) -> LegOutcome:
        window_ms = self.gateway.recv_window_ms + RESEND_MARGIN_MS
        delay = self.poll_seconds
        while True:
            try:
                found = await self.gateway.get_order(
                    intent.symbol, intent.client_order_id, is_algo=intent.is_algo
                )
            except (UnknownOutcome, ExchangeUnavailable, ExchangeRejected) as exc:
                log.warning(
                    "order lookup failed: trying again",
                    client_order_id=intent.client_order_id,
                    error=str(exc),
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
                continue
            if found is not None:
                log.info("order found by client id", client_order_id=intent.client_order_id)
                await self._record(command_id, found)
                return LegOutcome(intent.client_order_id, True, found)
            age_ms = (datetime.now(UTC) - sent_at).total_seconds() * 1000
            if age_ms > window_ms:
                expired = await self._expired(command_id, intent, "order confirmed absent, but")
                if expired is not None:
                    return expired
                log.warning(
                    "order confirmed absent past its recvWindow: sending it again",
                    client_order_id=intent.client_order_id,
                )
                return await self._send(command_id, intent)
            await asyncio.sleep(min(delay, (window_ms - age_ms) / 1000 + 0.05))

    async def _expired(
        self, command_id: UUID, intent: OrderIntent, context: str
    ) -> LegOutcome | None:
        """Before an order is sent again: given up if its decision expired meanwhile (the
        exchange kept failing, and trading it now would act on a market that has moved on)."""
        why = await self.stale(command_id, intent) if self.stale is not None else None
        if why is None:
            return None
        log.warning(
            f"{context} the decision expired: not sent again",
            client_order_id=intent.client_order_id,
            reason=why,
        )
        return await self.give_up(command_id, intent, f"decision expired: {why}")

    async def give_up(self, command_id: UUID, intent: OrderIntent, error: str) -> LegOutcome:
        """Record that the order will never be sent: it did not reach the exchange."""
        env = self.trading.envelope(Source.BOT, command_id=command_id)
        await self.store.call(
            self.trading.mark_order_not_found,
            intent.client_order_id,
            is_algo=intent.is_algo,
            env=env,
        )
        return LegOutcome(intent.client_order_id, False, message=error)

    async def _record(self, command_id: UUID, fact: OrderFact | AlgoOrderFact) -> None:
        env = self.trading.envelope(Source.REST, command_id=command_id)
        await self.store.call(self._record_sync, fact, env)

    def _record_sync(self, fact: OrderFact | AlgoOrderFact, env: Envelope) -> None:
        # One save: the report carries the exchange's id, which acknowledges the intent.
        if isinstance(fact, AlgoOrderFact):
            self.trading.record_algo_order(fact, env)
        else:
            self.trading.record_order(fact, env)


def known_outcome(order: Any) -> LegOutcome:
    """The outcome of an order already settled in the log (placed, refused or never sent)."""
    placed = order.exchange_order_id is not None
    code = -1 if order.status == "REJECTED" else 0
    return LegOutcome(order.client_order_id, placed, code=code, message=order.reject_reason)
