"""The executor: carries out each Command exactly once, on two lanes.

For every Command: what is decided about it (processes.command_plans: orders to send, a refusal,
an expiry, nothing to do) is recorded in ONE transaction with the write-ahead intent of every
order it sends, then the requests go (processes.placement), then the outcomes are recorded.

- A strategy's decision in this process takes the fast path: filed, accepted and its intents
  recorded in one commit, the entry sent at once. Nothing on that path polls.
- Commands filed by other processes (the web) are found by following the log from the
  executor's tracking record (processes.command_log); a start reads only what it has not
  handled, plus the Commands left open. Unfinished Commands are resumed; those not yet
  dispatched are judged again, so a stale decision expires instead of trading.
- The protection lane runs beside the main lane and ahead of new entries: protective Commands,
  and an entry's stop and take-profit as soon as the entry's fill is seen (from the user stream,
  the REST answer or a lookup, whichever comes first), so a stop never queues behind an entry
  whose answer is late.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

import structlog

from aggregates import ids, payloads
from aggregates.envelope import Source
from aggregates.intent import OrderIntent
from aggregates.ports import ExchangeError, ExchangeGateway
from alphaengine.store_thread import StoreThread
from alphaengine.trading import Dispatched, Done, Trading
from processes.command_log import CommandLog
from processes.command_plans import Draft, Plan, Planner
from processes.exchange_clock import ExchangeClock
from processes.intents import ALGO_LEGS, intent_of
from processes.placement import LegOutcome, Placement, crash_here
from processes.reconciler import Projector
from processes.risk import RiskGuard

log = structlog.get_logger(__name__)

RETRY_SECONDS = 5.0
PROTECTIVE_PRIORITY = 1
LATENCY_SAMPLES = 2000


@dataclass(frozen=True)
class Filing:
    """A decision to file as a Command (the fast path)."""

    kind: str
    payload: dict[str, Any]
    actor_type: str
    actor_id: str
    idempotency_key: str
    # perf_counter when its candle reached the strategy (for timings; not part of its identity)
    seen_at: float = field(default=0.0, compare=False)


@dataclass(frozen=True)
class _Work:
    command_id: UUID | None = None
    filing: Filing | None = None
    legs_of: UUID | None = None  # place this Command's protective legs now
    filled_order: str | None = None  # an entry's fill was seen: its legs now
    then: Callable[[], Awaitable[None]] | None = None  # after the work queued before it
    queued_at: float = 0.0


def is_protective_leg(client_order_id: str) -> bool:
    return any(client_order_id.startswith(f"ae{leg}-") for leg in ALGO_LEGS)


class Executor:
    def __init__(
        self,
        trading: Trading,
        gateway: ExchangeGateway,
        store: StoreThread,
        projector: Projector,
        request_reconcile: Callable[[str], None],
        risk: RiskGuard,
        clock: ExchangeClock,
        *,
        symbol: str,
        default_leverage: int = 5,
        poll_interval: float = 0.02,
        crash_at: str | None = None,
        read_engine: Any = None,
        on_finished: Callable[[UUID, str], Awaitable[None]] | None = None,
    ) -> None:
        self.trading = trading
        self.gateway = gateway
        self.store = store
        self.projector = projector
        self.risk = risk
        self.clock = clock
        self.symbol = symbol
        self.poll_interval = poll_interval
        self.crash_at = crash_at
        self.on_finished = on_finished
        self.placement = Placement(
            trading,
            gateway,
            store,
            on_unknown=request_reconcile,
            on_sent=risk.order_sent,
            stale=self._stale,
            crash_at=crash_at,
        )
        self.planner = Planner(
            trading,
            gateway,
            store,
            risk,
            clock,
            symbol,
            default_leverage,
            read_engine,
            on_pause=self.pause_for,
        )
        self.log = CommandLog(trading)
        self.handled = 0
        self.expired = 0
        self._main: asyncio.Queue[_Work] = asyncio.Queue()
        self._protect: asyncio.Queue[_Work] = asyncio.Queue()
        self._queued: set[UUID] = set()
        self._dispatched_here: set[UUID] = set()
        self._legs_pending = 0
        self._busy = 0
        self._catch_up_task: asyncio.Task[None] | None = None
        # Stage timings of the fast path (seconds), for the latency benchmark's breakdown.
        self.timings: list[dict[str, float]] = []
        self.ready = asyncio.Event()

    # ---- what other processes in the bot hand over -----------------------------------------
    def notify(self, command_id: UUID, *, protective: bool = False) -> None:
        """A Command was filed in this process: handle it now, not at the next poll."""
        if command_id in self._queued:
            return
        self._queued.add(command_id)
        lane = self._protect if protective else self._main
        lane.put_nowait(_Work(command_id=command_id, queued_at=time.perf_counter()))

    def file(self, filing: Filing) -> None:
        """A strategy's decision: filed with its outcome in one commit, on the main lane."""
        self._main.put_nowait(_Work(filing=filing, queued_at=time.perf_counter()))

    def after_filings(self, call: Callable[[], Awaitable[None]]) -> None:
        """Run `call` once the main lane has carried out what was filed before it (their
        orders sent): a strategy's state save then never commits in front of an order."""
        self._main.put_nowait(_Work(then=call, queued_at=time.perf_counter()))

    def entry_filled(self, client_order_id: str) -> None:
        """An engine order filled: if it is an entry, its stop and take-profit go now."""
        if client_order_id.startswith(ids.CLIENT_ORDER_ID_PREFIX):
            self._legs_pending += 1
            self._protect.put_nowait(_Work(filled_order=client_order_id))

    @property
    def idle(self) -> bool:
        """Nothing queued and nothing being carried out (tests and status)."""
        return self._busy == 0 and self._main.empty() and self._protect.empty()

    @property
    def protection_in_flight(self) -> bool:
        """Whether an entry's protective legs are queued or being placed."""
        return self._legs_pending > 0 or not self._protect.empty()

    # ---- running --------------------------------------------------------------------------
    async def run(self) -> None:
        open_ids = await self.store.call(self.log.open_commands)
        new_ids = await asyncio.to_thread(self.log.follow)
        pending = list(dict.fromkeys([*open_ids, *new_ids]))
        if pending:
            log.info("resuming unfinished commands", count=len(pending))
        for command_id in pending:
            self.notify(command_id)
        workers = [
            asyncio.create_task(self._work(self._protect), name="executor-protection-lane"),
            asyncio.create_task(self._work(self._main), name="executor-main-lane"),
        ]
        self.ready.set()
        try:
            while True:
                for worker in workers:
                    if worker.done():
                        worker.result()  # a lane that died takes the executor with it
                for command_id in await asyncio.to_thread(self.log.follow):
                    self.notify(command_id)
                await asyncio.sleep(self.poll_interval)
        finally:
            for worker in workers:
                worker.cancel()
            for worker in workers:
                with contextlib.suppress(asyncio.CancelledError):
                    await worker

    async def _work(self, lane: asyncio.Queue[_Work]) -> None:
        while True:
            work = await lane.get()
            self._busy += 1
            try:
                if work.filing is not None:
                    await self._file(work.filing, work.queued_at)
                elif work.then is not None:
                    await work.then()
                elif work.filled_order is not None:
                    await self._legs_for_fill(work.filled_order)
                elif work.legs_of is not None:
                    await self._legs(work.legs_of)
                elif work.command_id is not None:
                    await self.handle(work.command_id, lane)
            except asyncio.CancelledError:
                raise
            except Exception:
                # A bug or a store failure on one command must not stop the others; the
                # command stays open and is tried again shortly (and at the next start).
                log.exception("command handling failed", work=repr(work))
                if work.command_id is not None:
                    asyncio.get_running_loop().call_later(
                        RETRY_SECONDS, self.notify, work.command_id
                    )
            finally:
                if work.command_id is not None:
                    self._queued.discard(work.command_id)
                if work.filled_order is not None:
                    self._legs_pending -= 1
                self.handled += 1
                self._busy -= 1

    # ---- the fast path --------------------------------------------------------------------
    async def _file(self, filing: Filing, queued_at: float) -> None:
        started = time.perf_counter()
        scope = self.trading.scope
        draft = Draft(
            ids.command_id(scope, filing.idempotency_key),
            filing.kind,
            filing.payload,
            filing.actor_type,
        )
        plan = await self.planner.decide(draft)
        planned = time.perf_counter()
        command_id, new = await self.store.call(
            self.trading.file_command,
            kind=filing.kind,
            payload=filing.payload,
            actor_type=filing.actor_type,
            actor_id=filing.actor_id,
            idempotency_key=filing.idempotency_key,
            source=Source.BOT,
            decided=plan.decided,
        )
        committed = time.perf_counter()
        if not new:
            # Filed before (the same candle twice): whatever state it is in, carry it on.
            await self.handle(command_id, self._main)
            return
        self._log_decided(command_id, filing.kind, plan)
        if isinstance(plan.decided, Dispatched):
            self._dispatched_here.add(command_id)
            if plan.decided.intents:
                crash_here("after_intent", self.crash_at)
            timing = (filing.seen_at or queued_at, queued_at, started, planned, committed)
            await self._execute(command_id, plan, sent_at=None, timing=timing, recorded_now=True)
        else:
            await self._notify_finished(command_id, type(plan.decided).__name__.upper())

    def _log_decided(self, command_id: UUID, kind: str, plan: Plan) -> None:
        decided = plan.decided
        if isinstance(decided, Dispatched):
            log.info("command accepted", id=str(command_id), kind=kind, orders=len(decided.intents))
        elif isinstance(decided, Done):
            log.info("command done without an order", id=str(command_id), result=decided.result)
        else:
            if type(decided).__name__ == "Expired":
                self.expired += 1
            log.warning(
                f"command {type(decided).__name__.lower()}",
                id=str(command_id),
                kind=kind,
                reason=decided.reason,
            )

    # ---- one command ----------------------------------------------------------------------
    async def handle(self, command_id: UUID, lane: asyncio.Queue[_Work] | None = None) -> None:
        command = await self.store.call(self.trading.get_command, command_id)
        if command.is_finished:
            return
        if lane is self._main and command.priority >= PROTECTIVE_PRIORITY:
            self._queued.discard(command_id)
            self.notify(command_id, protective=True)
            return
        log.info("command", kind=command.kind, status=command.status, id=str(command_id))
        if command.status in ("NEW", "ACCEPTED"):
            plan = await self.planner.decide(Draft.of(command))
            await self.store.call(self.trading.decide_command, command.id, plan.decided)
            self._log_decided(command.id, command.kind, plan)
            if isinstance(plan.decided, Dispatched):
                self._dispatched_here.add(command.id)
                if plan.decided.intents:
                    crash_here("after_intent", self.crash_at)
                await self._execute(command.id, plan, sent_at=None)
            else:
                await self._notify_finished(command.id, type(plan.decided).__name__.upper())
        else:
            plan = await self.planner.resume(command)
            await self._execute(command.id, plan, sent_at=command.modified_on)
        self.catch_up_soon()

    async def _stale(self, command_id: UUID, intent: OrderIntent) -> str | None:
        """Why the Command's decision may no longer trade, or None. A protective leg never
        goes stale (its entry stands), and a person's order only when it says so."""
        if is_protective_leg(intent.client_order_id):
            return None
        command = await self.store.call(self.trading.get_command, command_id)
        freshness = payloads.freshness_of(command.kind, command.payload)
        now = self.clock.now()
        if freshness is None or not freshness.expired(now):
            return None
        assert freshness.valid_until is not None
        return f"valid until {freshness.valid_until.isoformat()}, exchange time {now.isoformat()}"

    async def pause_for(self, reason: str) -> None:
        env = self.trading.envelope(Source.BOT)
        if await self.store.call(self.trading.pause_engine, reason, env):
            await self.store.call(self.trading.raise_alarm, "daily_loss_limit", reason, env)
            log.warning("engine paused by the risk guard", reason=reason)

    async def _execute(
        self,
        command_id: UUID,
        plan: Plan,
        *,
        sent_at: datetime | None,
        timing: tuple[float, float, float, float, float] | None = None,
        recorded_now: bool = False,
    ) -> None:
        assert isinstance(plan.decided, Dispatched)
        intents = plan.decided.intents
        result: dict[str, Any] = {}
        try:
            if plan.before is not None:
                result.update(await plan.before())
            legs: list[LegOutcome] = []
            for index, intent in enumerate(intents):
                if index > 0 and not legs[0].placed:
                    # The entry never stood: its protective legs must not be sent.
                    legs.append(await self.placement.give_up(command_id, intent, "entry failed"))
                    continue
                legs.append(
                    await self.placement.place(
                        command_id, intent, sent_at=sent_at, recorded_now=recorded_now
                    )
                )
                if index == 0 and timing is not None:
                    self._time(timing)
        except ExchangeError as exc:
            await self._finish(command_id, False, {"error": str(exc), **result})
            return
        result["orders"] = {o.client_order_id: o.as_dict() for o in legs}
        entry = legs[0] if legs else None
        if entry is not None and not entry.placed:
            await self._finish(
                command_id, False, {"code": entry.code, "message": entry.message, **result}
            )
            return
        if plan.after is not None:
            try:
                result.update(await plan.after())
            except ExchangeError as exc:
                log.warning("clean-up after the orders failed", error=str(exc))
                result["cleanup_error"] = str(exc)
        unprotected = [
            o for o in legs[1:] if o.client_order_id.startswith("aesl-") and not o.placed
        ]
        if unprotected:
            env = self.trading.envelope(Source.BOT, command_id=command_id)
            message = f"stop order refused: {unprotected[0].code} {unprotected[0].message}"
            await self.store.call(self.trading.raise_alarm, "unprotected_position", message, env)
        await self._finish(command_id, True, result)

    def _time(self, timing: tuple[float, float, float, float, float]) -> None:
        seen, queued, started, planned, committed = timing
        acknowledged = time.perf_counter()
        self.timings.append(
            {
                "strategy": queued - seen,
                "queue": started - queued,
                "plan": planned - started,
                "commit": committed - planned,
                "send_and_ack": acknowledged - committed,
            }
        )
        del self.timings[:-LATENCY_SAMPLES]

    def timing_summary(self) -> dict[str, float]:
        """p50 and p99 (ms) of each stage of the fast path over the recent orders."""
        summary: dict[str, float] = {}
        if not self.timings:
            return summary
        for stage in self.timings[0]:
            values = sorted(t[stage] for t in self.timings)
            for name, share in (("p50", 0.5), ("p99", 0.99)):
                index = min(len(values) - 1, round(share * (len(values) - 1)))
                summary[f"tick_{stage}_{name}_ms"] = round(values[index] * 1000, 3)
        summary["tick_samples"] = len(self.timings)
        return summary

    # ---- the protection lane --------------------------------------------------------------
    async def _legs_for_fill(self, client_order_id: str) -> None:
        order = await self.store.call(self.trading.find_order, client_order_id)
        if order is None or order.command_id is None or order.origin != "ENGINE":
            return
        await self._legs(order.command_id)

    async def _legs(self, command_id: UUID) -> None:
        """Place the command's protective legs that are still only intents."""
        command = await self.store.call(self.trading.get_command, command_id)
        if command.status not in ("DISPATCHED", "UNKNOWN"):
            return
        sent_at = None if command_id in self._dispatched_here else command.modified_on
        for client_order_id in command.client_order_ids:
            if not is_protective_leg(client_order_id):
                continue
            order = await self.store.call(self.trading.find_order, client_order_id, is_algo=True)
            if order is None or order.status != "PENDING_NEW":
                continue
            outcome = await self.placement.place(command_id, intent_of(order), sent_at=sent_at)
            log.info(
                "protective order placed on the fill",
                client_order_id=client_order_id,
                placed=outcome.placed,
            )

    # ---- finishing ------------------------------------------------------------------------
    async def _finish(self, command_id: UUID, ok: bool, body: dict[str, Any]) -> None:
        log.info("command finished", id=str(command_id), ok=ok, result=body)
        if ok:
            await self.store.call(self.trading.complete_command, command_id, body)
        else:
            await self.store.call(self.trading.fail_command, command_id, body)
        self._dispatched_here.discard(command_id)
        await self._notify_finished(command_id, "SUCCEEDED" if ok else "FAILED")

    async def _notify_finished(self, command_id: UUID, outcome: str) -> None:
        self.catch_up_soon()
        if self.on_finished is not None:
            await self.on_finished(command_id, outcome)

    def catch_up_soon(self) -> None:
        """Keep read models fresh without queueing a catch-up per command (coalesced)."""
        if self._catch_up_task is not None and not self._catch_up_task.done():
            return
        self._catch_up_task = asyncio.create_task(self._catch_up(), name="projection-catch-up")

    async def _catch_up(self) -> None:
        try:
            # Off the store thread: a read-model batch must not delay the next order.
            await asyncio.to_thread(self.projector.catch_up)
        except Exception:
            log.exception("projection catch-up failed")

    async def close(self) -> None:
        task = self._catch_up_task
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                async with asyncio.timeout(1.0):
                    await task
