"""The executor: follows the Trading log and carries out each Command exactly once.

For every new Command: the risk guard first (accept, or reject with the reason), then the
write-ahead intent (`dispatch_command` records every order with its client id before anything
leaves), then the requests (processes.placement), then the outcome. On start it resumes every
Command left unfinished by a crash. Commands written by other processes (the web) are found by
polling the log's max notification id (cheap); commands filed in this process are handed over
directly with `notify`, so the tick-to-order path never waits for a poll.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Iterable
from datetime import datetime
from typing import Any
from uuid import UUID

import structlog
from eventsourcing.utils import get_topic

from aggregates import payloads
from aggregates.command import Command, CommandKind
from aggregates.engine import EngineMode
from aggregates.envelope import Source
from alphaengine.store_thread import StoreThread
from alphaengine.trading import OrderIntent, Trading
from processes.command_plans import Plan, Planner
from processes.placement import LegOutcome, Placement, crash_here
from processes.ports import ExchangeError, ExchangeGateway
from processes.reconciler import Projector, Reconciler
from processes.risk import RiskGuard, RiskRejected

log = structlog.get_logger(__name__)

OPEN_STATUSES = {"Submitted", "Accepted", "Dispatched", "OutcomeUnknown"}
COMMAND_TOPICS = [
    get_topic(getattr(Command, name))
    for name in (
        "Submitted",
        "Accepted",
        "Rejected",
        "Dispatched",
        "Succeeded",
        "Failed",
        "OutcomeUnknown",
        "Resolved",
    )
]
SUBMITTED_TOPIC = get_topic(Command.Submitted)  # type: ignore[attr-defined]
PAGE = 500
RETRY_SECONDS = 5.0


def _uuid(value: UUID | str) -> UUID:
    return value if isinstance(value, UUID) else UUID(value)


class Executor:
    def __init__(
        self,
        trading: Trading,
        gateway: ExchangeGateway,
        store: StoreThread,
        projector: Projector,
        reconciler: Reconciler,
        risk: RiskGuard,
        *,
        symbol: str,
        default_leverage: int = 5,
        poll_interval: float = 0.02,
        crash_at: str | None = None,
        on_finished: Callable[[UUID, str], Awaitable[None]] | None = None,
    ) -> None:
        self.trading = trading
        self.gateway = gateway
        self.store = store
        self.projector = projector
        self.reconciler = reconciler
        self.risk = risk
        self.symbol = symbol
        self.poll_interval = poll_interval
        self.crash_at = crash_at
        self.on_finished = on_finished
        self.placement = Placement(
            trading,
            gateway,
            store,
            on_unknown=reconciler.request,
            on_sent=risk.order_sent,
            crash_at=crash_at,
        )
        self.planner = Planner(
            trading, gateway, store, risk, symbol, default_leverage, risk.read_engine
        )
        self.position = 0  # notifications of the log already scanned for Commands
        self.handled = 0
        self._queue: asyncio.Queue[UUID] = asyncio.Queue()
        self._queued: set[UUID] = set()
        self._catch_up_task: asyncio.Task[None] | None = None
        self.ready = asyncio.Event()

    # ---- following the log ----------------------------------------------------------------
    def notify(self, command_id: UUID) -> None:
        """A Command was filed in this process: handle it now, not at the next poll."""
        if command_id not in self._queued:
            self._queued.add(command_id)
            self._queue.put_nowait(command_id)

    def _unfinished_commands(self) -> tuple[list[UUID], int]:
        """Scan the log's Command events: those whose last event leaves them open."""
        recorder = self.trading.recorder
        last: dict[UUID, str] = {}
        start = 1
        top = int(recorder.max_notification_id() or 0)
        while start <= top:
            page = recorder.select_notifications(start, PAGE, stop=top, topics=COMMAND_TOPICS)
            for n in page:
                last[_uuid(n.originator_id)] = n.topic.rsplit(".", 1)[-1]
            if len(page) < PAGE:
                break
            start = page[-1].id + 1
        return [cid for cid, event in last.items() if event in OPEN_STATUSES], top

    def _new_commands(self) -> tuple[list[UUID], int]:
        recorder = self.trading.recorder
        top = int(recorder.max_notification_id() or 0)
        if top <= self.position:
            return [], top
        found: list[UUID] = []
        start = self.position + 1
        while start <= top:
            page = recorder.select_notifications(start, PAGE, stop=top, topics=[SUBMITTED_TOPIC])
            found.extend(_uuid(n.originator_id) for n in page)
            if len(page) < PAGE:
                break
            start = page[-1].id + 1
        return found, top

    def _enqueue(self, command_ids: Iterable[UUID]) -> None:
        for command_id in command_ids:
            self.notify(command_id)

    async def run(self) -> None:
        unfinished, self.position = await self.store.call(self._unfinished_commands)
        if unfinished:
            log.info("resuming unfinished commands", count=len(unfinished))
        self._enqueue(unfinished)
        worker = asyncio.create_task(self._work(), name="executor-worker")
        self.ready.set()
        try:
            while True:
                if worker.done():
                    worker.result()
                found, top = await self.store.call(self._new_commands)
                self.position = max(self.position, top)
                self._enqueue(found)
                await asyncio.sleep(self.poll_interval)
        finally:
            worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await worker

    async def _work(self) -> None:
        while True:
            command_id = await self._queue.get()
            try:
                await self.handle(command_id)
            except asyncio.CancelledError:
                raise
            except Exception:
                # A bug or a store failure on one command must not stop the others; the
                # command stays open and is tried again shortly (and at the next start).
                log.exception("command handling failed", command_id=str(command_id))
                asyncio.get_running_loop().call_later(RETRY_SECONDS, self.notify, command_id)
            finally:
                self._queued.discard(command_id)
                self.handled += 1

    # ---- one command ----------------------------------------------------------------------
    async def handle(self, command_id: UUID) -> None:
        command = await self.store.call(self.trading.get_command, command_id)
        if command.is_finished:
            return
        log.info("command", kind=command.kind, status=command.status, id=str(command_id))
        if command.status == "NEW":
            plan = await self._accept_or_reject(command)
            if plan is None:
                return
            await self._dispatch(command, plan)
        elif command.status == "ACCEPTED":
            # Crashed between accepting and recording the intent: plan again from today's state.
            try:
                plan = await self.planner.plan(command, check_risk=False)
            except (RiskRejected, payloads.BadPayload, ExchangeError) as exc:
                await self.store.call(self.trading.dispatch_command, command.id, [])
                await self._finish(command.id, False, {"error": str(exc)})
                return
            await self._dispatch(command, plan)
        else:
            plan = await self.planner.resume(command)
            await self._execute(command, plan, sent_at=command.modified_on)
        self.catch_up_soon()

    async def _accept_or_reject(self, command: Command) -> Plan | None:
        reason = await self._gate(command)
        plan: Plan | None = None
        if reason is None:
            try:
                plan = await self.planner.plan(command, check_risk=True)
            except (RiskRejected, payloads.BadPayload) as exc:
                reason = str(exc)
            except ExchangeError as exc:
                reason = f"exchange state unavailable: {exc}"
        if reason is not None or plan is None:
            log.warning("command rejected", kind=command.kind, reason=reason)
            await self.store.call(self.trading.reject_command, command.id, reason or "rejected")
            await self._notify_finished(command.id, "REJECTED")
            return None
        await self.store.call(self.trading.accept_command, command.id)
        return plan

    async def _gate(self, command: Command) -> str | None:
        """Engine-level refusals: a paused engine takes no strategy commands."""
        if command.actor_type != "STRATEGY":
            return None
        engine = await self.store.call(self.trading.engine)
        if engine.mode == EngineMode.PAUSED:
            return f"engine PAUSED ({engine.reason}): strategy commands are rejected"
        if command.kind == CommandKind.PLACE_ORDER:
            exposure = await self.planner.exposure()
            breach = await asyncio.to_thread(self.risk.daily_loss_breach, exposure)
            if breach is not None:
                await self.pause_for(breach)
                return f"engine PAUSED ({breach}): strategy commands are rejected"
        return None

    async def pause_for(self, reason: str) -> None:
        env = self.trading.envelope(Source.BOT)
        if await self.store.call(self.trading.pause_engine, reason, env):
            await self.store.call(self.trading.raise_alarm, "daily_loss_limit", reason, env)
            log.warning("engine paused by the risk guard", reason=reason)

    async def _dispatch(self, command: Command, plan: Plan) -> None:
        await self.store.call(self.trading.dispatch_command, command.id, plan.intents)
        if plan.intents:
            crash_here("after_intent", self.crash_at)
        await self._execute(command, plan, sent_at=None)

    async def _execute(self, command: Command, plan: Plan, *, sent_at: datetime | None) -> None:
        result: dict[str, Any] = {}
        try:
            if plan.before is not None:
                result.update(await plan.before())
            legs = await self._place_legs(command.id, plan.intents, sent_at)
        except ExchangeError as exc:
            await self._finish(command.id, False, {"error": str(exc), **result})
            return
        result["orders"] = {o.client_order_id: o.as_dict() for o in legs}
        entry = legs[0] if legs else None
        if entry is not None and not entry.placed:
            await self._finish(
                command.id, False, {"code": entry.code, "message": entry.message, **result}
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
            env = self.trading.envelope(Source.BOT, command_id=command.id)
            message = f"stop order refused: {unprotected[0].code} {unprotected[0].message}"
            await self.store.call(self.trading.raise_alarm, "unprotected_position", message, env)
        await self._finish(command.id, True, result)

    async def _place_legs(
        self, command_id: UUID, intents: list[OrderIntent], sent_at: datetime | None
    ) -> list[LegOutcome]:
        outcomes: list[LegOutcome] = []
        for index, intent in enumerate(intents):
            order = await self.store.call(
                self.trading.find_order, intent.client_order_id, is_algo=intent.is_algo
            )
            if order is not None and order.status != "PENDING_NEW":
                outcomes.append(self._known_outcome(order))
            elif index > 0 and not outcomes[0].placed:
                # The entry never stood: its protective legs must not be sent.
                env = self.trading.envelope(Source.BOT, command_id=command_id)
                await self.store.call(
                    self.trading.mark_order_not_found,
                    intent.client_order_id,
                    is_algo=intent.is_algo,
                    env=env,
                )
                outcomes.append(LegOutcome(intent.client_order_id, False, message="entry failed"))
            else:
                outcomes.append(await self.placement.place(command_id, intent, sent_at=sent_at))
        return outcomes

    @staticmethod
    def _known_outcome(order: Any) -> LegOutcome:
        placed = order.exchange_order_id is not None
        code = 0
        if order.status == "REJECTED":
            code = -1
        return LegOutcome(order.client_order_id, placed, code=code, message=order.reject_reason)

    async def _finish(self, command_id: UUID, ok: bool, body: dict[str, Any]) -> None:
        log.info("command finished", id=str(command_id), ok=ok, result=body)
        if ok:
            await self.store.call(self.trading.complete_command, command_id, body)
        else:
            await self.store.call(self.trading.fail_command, command_id, body)
        await self._notify_finished(command_id, "SUCCEEDED" if ok else "FAILED")

    async def _notify_finished(self, command_id: UUID, outcome: str) -> None:
        self.catch_up_soon()
        if self.on_finished is not None:
            await self.on_finished(command_id, outcome)

    def catch_up_soon(self) -> None:
        """Keep read models fresh without queueing a catch-up per command (coalesced)."""
        if self._catch_up_task is not None and not self._catch_up_task.done():
            return
        self._catch_up_task = asyncio.create_task(self._catch_up())

    async def _catch_up(self) -> None:
        try:
            # Off the store thread: a read-model batch must not delay the next order.
            await asyncio.to_thread(self.projector.catch_up)
        except Exception:
            log.exception("projection catch-up failed")
