"""The reconciler: the exchange's REST answers are the truth; recorded state is made to match.

It runs on start (before the strategy may trade), every `interval` seconds, after every stream
gap and after every unknown order outcome. A pass reads fills, then balances, position and open
orders, then fills again, until no fill slipped in between (so the snapshot and the recorded
fills describe the same moment). Then every difference becomes an explicit event from source
RECONCILER that keeps what was believed next to what the exchange says. A pass that finds no
difference records nothing but its timestamp in `health`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Protocol

import structlog
from sqlalchemy import select

from aggregates.envelope import Source
from aggregates.facts import AlgoOrderFact, BalanceFact, FillFact, OrderFact
from aggregates.ports import AccountSnapshot, ExchangeError, ExchangeGateway
from alphaengine.store_thread import StoreThread
from alphaengine.trading import Trading
from processes.health import HealthWriter
from processes.ingest import record_fact
from projections.schema import rm_orders

log = structlog.get_logger(__name__)

MAX_SNAPSHOT_PASSES = 5
INCOME_LOOKBACK_MS = 7 * 24 * 3600 * 1000  # the exchange keeps no more without a time range
LEDGER_INCOME = {"FUNDING_FEE", "TRANSFER"}
BAN_ALARM = "exchange_banned"
RECONCILE_ALARM = "reconcile_failing"
FAILURES_BEFORE_ALARM = 3
HISTORY = 50  # recent reports, for status pages and tests
AVAILABLE_TOLERANCE = Decimal("1")
AVAILABLE_SHARE = Decimal("0.0005")


class Projector(Protocol):
    def catch_up(self, batch_size: int = 500) -> int: ...


@dataclass
class ReconcileReport:
    reason: str
    started_at: datetime
    differences: list[str] = field(default_factory=list)
    corrections: int = 0
    fills_seen: int = 0
    passes: int = 0
    settled: bool | None = None  # no fill arrived after the snapshot (checked lazily)

    def summary(self) -> str:
        return json.dumps(
            {
                "reason": self.reason,
                "at": self.started_at.isoformat(),
                "differences": len(self.differences),
                "corrections": self.corrections,
            }
        )


@dataclass(frozen=True)
class _OpenOrder:
    client_order_id: str
    is_algo: bool
    status: str
    executors: bool


def _close_enough(ours: Decimal, theirs: Decimal) -> bool:
    """Equal to the exchange's figure within half a unit of its last printed digit."""
    exponent = theirs.as_tuple().exponent
    unit = Decimal(1).scaleb(exponent) if isinstance(exponent, int) else Decimal(0)
    return abs(ours - theirs) <= max(unit / 2, abs(theirs) * Decimal("1e-12"))


def _available_is_off(ours: Decimal | None, theirs: Decimal | None, fact: BalanceFact) -> bool:
    """Whether our available balance needs the exchange's figure: missing, or off by more than
    a small share of the wallet (it moves with the mark price every second; a correction of
    every cent would fill the log)."""
    if theirs is None:
        return False
    if ours is None:
        return True
    return abs(ours - theirs) > max(AVAILABLE_TOLERANCE, abs(fact.wallet_balance) * AVAILABLE_SHARE)


class Reconciler:
    def __init__(
        self,
        trading: Trading,
        gateway: ExchangeGateway,
        store: StoreThread,
        projector: Projector,
        health: HealthWriter,
        *,
        symbol: str,
        interval: float = 30.0,
    ) -> None:
        self.trading = trading
        self.gateway = gateway
        self.store = store
        self.projector = projector
        self.health = health
        self.symbol = symbol
        self.interval = interval
        self.last_reconciled_at: datetime | None = None
        self.last_report: ReconcileReport | None = None
        self.history: deque[ReconcileReport] = deque(maxlen=HISTORY)
        self.failures = 0
        self._reasons: list[str] = []
        self._wake = asyncio.Event()
        self._lock = asyncio.Lock()
        # The highest trade id the exchange itself listed at the last complete pass. Fills above
        # it are re-read every time, so a fill the stream lost is not skipped because a later
        # one was recorded (max(rm_fills) would skip it). None: read the exchange's recent
        # window (7 days), which also covers the time this process was down.
        self._verified_trade_id: int | None = None
        self._income_from_ms: int | None = None

    # ---- scheduling -----------------------------------------------------------------------
    def request(self, reason: str) -> None:
        if reason not in self._reasons:
            self._reasons.append(reason)
        self._wake.set()

    async def run(self) -> None:
        while True:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=self.interval)
            self._wake.clear()
            reasons, self._reasons = self._reasons, []
            try:
                await self.reconcile(", ".join(reasons) or "timer")
            except asyncio.CancelledError:
                raise
            except Exception:
                # Logged in reconcile(); the next request or tick tries again.
                continue

    # ---- one pass -------------------------------------------------------------------------
    async def reconcile(self, reason: str) -> ReconcileReport:
        async with self._lock:
            report = ReconcileReport(reason=reason, started_at=datetime.now(UTC))
            try:
                await self._reconcile(report)
            except ExchangeError as exc:
                self.failures += 1
                log.warning("reconcile failed", reason=reason, error=str(exc))
                await self._alarm_if_banned(exc)
                await self._alarm_if_failing(str(exc))
                raise
            except Exception as exc:
                self.failures += 1
                log.exception("reconcile failed", reason=reason)
                await self._alarm_if_failing(f"{type(exc).__name__}: {exc}")
                raise
            self.failures = 0
            self.last_reconciled_at = datetime.now(UTC)
            self.last_report = report
            self.history.append(report)
            engine = await self.store.call(self.trading.engine)
            for code in (BAN_ALARM, RECONCILE_ALARM):
                if code in engine.alarms:
                    env = self.trading.envelope(Source.RECONCILER)
                    await self.store.call(self.trading.clear_alarm, code, env)
            await asyncio.to_thread(self.health.set, "reconcile", report.summary())
            if report.differences:
                log.warning(
                    "reconciled with corrections",
                    reason=reason,
                    corrections=report.corrections,
                    differences=report.differences[:20],
                )
            else:
                log.info("reconciled: no difference", reason=reason, passes=report.passes)
            return report

    async def _reconcile(self, report: ReconcileReport) -> None:
        watermark = self._verified_trade_id
        fills = await self.gateway.fills_since(self.symbol, watermark)
        snapshot: AccountSnapshot | None = None
        for _ in range(MAX_SNAPSHOT_PASSES):
            report.passes += 1
            await self._record_fills(fills, report)
            watermark = max([watermark or 0, *(f.trade_id for f in fills)]) or watermark
            snapshot = await self.gateway.snapshot(self.symbol)
            fills = await self.gateway.fills_since(self.symbol, watermark)
            if not fills:
                break
        else:
            # Still trading under us: record what came, but the snapshot is older than those
            # fills, so corrections wait for the next pass.
            await self._record_fills(fills, report)
            watermark = max([watermark or 0, *(f.trade_id for f in fills)]) or watermark
            report.settled = False
            report.differences.append("fills kept arriving: corrections deferred")
            self.request("fills during reconcile")
        assert snapshot is not None
        self._verified_trade_id = watermark
        await self.store.call(self.projector.catch_up)
        await self._compare_position(snapshot, report)
        await self._compare_balances(snapshot, report)
        await self._compare_orders(snapshot, report)
        await self._record_income(report)

    async def _record(self, fact: object) -> bool:
        env = self.trading.envelope(Source.RECONCILER)
        return await self.store.call(record_fact, self.trading, fact, env)

    async def _record_fills(self, fills: list[FillFact], report: ReconcileReport) -> None:
        report.fills_seen += len(fills)
        for fill in fills:
            if await self._record(fill):
                report.corrections += 1
                report.differences.append(f"fill {fill.symbol}:{fill.trade_id} was missing")

    async def _compare_position(self, snapshot: AccountSnapshot, report: ReconcileReport) -> None:
        theirs = snapshot.position
        ours = await self.store.call(self.trading.position)
        env = self.trading.envelope(Source.RECONCILER)
        same = ours.quantity == theirs.quantity and _close_enough(
            ours.entry_price, theirs.entry_price
        )
        if not same and await self._settled(report):
            report.differences.append(
                f"position {ours.quantity}@{ours.entry_price} is {theirs.quantity}"
                f"@{theirs.entry_price} on the exchange"
            )
            if await self.store.call(self.trading.correct_position, theirs, env):
                report.corrections += 1
        elif theirs.leverage is not None and theirs.leverage != ours.leverage:
            report.differences.append(f"leverage {ours.leverage} is {theirs.leverage}")
            if await self.store.call(self.trading.record_leverage, theirs.leverage, env):
                report.corrections += 1

    async def _settled(self, report: ReconcileReport) -> bool:
        """No fill since the snapshot: a difference is real, not a fill racing the compare."""
        if report.settled is None:
            late = await self.gateway.fills_since(self.symbol, self._verified_trade_id)
            report.settled = not late
            if late:
                # Correcting to the older snapshot would undo those fills: look again soon.
                report.differences.append(f"{len(late)} fill(s) during reconcile: re-checking")
                self.request("fills during reconcile")
        return report.settled

    async def _compare_balances(self, snapshot: AccountSnapshot, report: ReconcileReport) -> None:
        account = await self.store.call(self.trading.account)
        for fact in snapshot.balances:
            row = account.balances.get(fact.asset)
            if row is None and not fact.wallet_balance:
                continue  # an empty asset we never held
            if (
                row is not None
                and row["wallet"] == fact.wallet_balance
                and row["cross_wallet"] == fact.cross_wallet_balance
            ):
                if _available_is_off(row.get("available"), fact.available_balance, fact):
                    # The stream never carries it (between reads it is estimated from the
                    # wallet's moves): the exchange's figure replaces the estimate.
                    env = self.trading.envelope(Source.REST)
                    await self.store.call(self.trading.record_balance, fact, env)
                continue
            if not await self._settled(report):
                return
            believed = row["wallet"] if row else None
            report.differences.append(
                f"balance {fact.asset} {believed} is {fact.wallet_balance} on the exchange"
            )
            env = self.trading.envelope(Source.RECONCILER)
            if await self.store.call(self.trading.correct_balance, fact, env):
                report.corrections += 1

    def _open_orders_recorded(self) -> list[_OpenOrder]:
        query = select(
            rm_orders.c.client_order_id,
            rm_orders.c.is_algo,
            rm_orders.c.status,
            rm_orders.c.command_id,
            rm_orders.c.parent_client_algo_id,
        ).where(rm_orders.c.is_open.is_(True), rm_orders.c.symbol == self.symbol)
        with self.health.engine.connect() as conn:
            rows = conn.execute(query).all()
        return [
            _OpenOrder(
                r.client_order_id,
                bool(r.is_algo),
                r.status,
                # An intent the executor is still resolving; an algo order's child is not one.
                r.status == "PENDING_NEW"
                and r.command_id is not None
                and r.parent_client_algo_id is None,
            )
            for r in rows
        ]

    async def _compare_orders(self, snapshot: AccountSnapshot, report: ReconcileReport) -> None:
        on_exchange: dict[tuple[str, bool], OrderFact | AlgoOrderFact] = {}
        for order in snapshot.open_orders:
            on_exchange[(order.client_order_id, False)] = order
        for algo in snapshot.open_algo_orders:
            on_exchange[(algo.client_algo_id, True)] = algo
        for (client_id, is_algo), fact in on_exchange.items():
            known = await self.store.call(self.trading.find_order, client_id, is_algo=is_algo)
            if await self._record(fact):
                report.corrections += 1
                what = "adopted as EXTERNAL" if known is None else "updated"
                report.differences.append(f"open order {client_id} {what}")
        for recorded in await asyncio.to_thread(self._open_orders_recorded):
            key = (recorded.client_order_id, recorded.is_algo)
            if key in on_exchange or recorded.executors:
                continue
            final = await self.gateway.get_order(
                self.symbol, recorded.client_order_id, is_algo=recorded.is_algo
            )
            if final is None:
                env = self.trading.envelope(Source.RECONCILER)
                if await self.store.call(
                    self.trading.close_vanished_order,
                    recorded.client_order_id,
                    is_algo=recorded.is_algo,
                    env=env,
                ):
                    report.corrections += 1
                report.differences.append(
                    f"order {recorded.client_order_id} open here, unknown on the exchange: closed"
                )
                continue
            if await self._record(final):
                report.corrections += 1
                report.differences.append(
                    f"order {recorded.client_order_id} {recorded.status} is "
                    f"{getattr(final, 'status', None) or getattr(final, 'algo_status', '')}"
                )

    async def _record_income(self, report: ReconcileReport) -> None:
        """Funding and transfers into the ledger, once each by tranId (the balance is already
        corrected above; this keeps the why)."""
        start = self._income_from_ms
        if start is None:
            start = int(report.started_at.timestamp() * 1000) - INCOME_LOOKBACK_MS
        rows = await self.gateway.income_since(start)
        for row in rows:
            if row.income_type in LEDGER_INCOME:
                env = self.trading.envelope(Source.REST)
                await self.store.call(self.trading.record_income, row, env)
        latest = max((int(r.time.timestamp() * 1000) for r in rows), default=start)
        # Rows share milliseconds: re-read the last one; the tranId keeps it from counting twice.
        self._income_from_ms = latest

    async def _alarm_if_failing(self, error: str) -> None:
        if self.failures < FAILURES_BEFORE_ALARM:
            return
        env = self.trading.envelope(Source.RECONCILER)
        message = f"{self.failures} reconciles in a row failed; last: {error}"[:500]
        try:
            await self.store.call(self.trading.raise_alarm, RECONCILE_ALARM, message, env)
        except Exception:
            log.exception("could not raise the reconcile alarm")

    async def _alarm_if_banned(self, exc: ExchangeError) -> None:
        until = getattr(exc, "banned_until", None)
        if until is None:
            return
        env = self.trading.envelope(Source.RECONCILER)
        await self.store.call(
            self.trading.raise_alarm, BAN_ALARM, f"REST banned until {until.isoformat()}", env
        )
