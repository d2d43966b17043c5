"""The chaos soak: the real bot against the real simulator, through seeded random faults, with
the engine's promises checked all along. Driven by `tests/chaos` (a few minutes, in CI) and by
`bench/soak.py --minutes N` (as long as you like).

Events: the simulator's eleven fault kinds, a simulator restart (same port, same account), the
bot killed with SIGKILL and started again, and the bot stopped with SIGTERM and started again.
After each event the faults are cleared, the market is frozen, and the engine must settle on the
exchange's truth. Checked:
- no client order id ever reaches the exchange twice;
- at every quiet point, position, entry, wallet, available balance and open orders (algo
  orders included) equal `/_sim/state`;
- no order is sent from a decision older than the newest candle (its candle plus one interval);
- market data is back within seconds of a fault clearing (measured);
- SIGTERM ends the bot within five seconds (measured);
- how long each new position stood without a stop on the exchange (measured).
"""

from __future__ import annotations

import random
import signal
import statistics
import subprocess
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import select

from adapters.simulator import state_file_for
from alphaengine import local_run
from alphaengine.bootstrap import open_trading, read_engine
from alphaengine.local_run import SimulatorProcess, log_contains, log_size, stop_process
from alphaengine.settings import Settings, load_settings
from projections.schema import health, rm_commands, rm_orders

FAULT_KINDS = (
    "delay",
    "apply_then_timeout",
    "apply_then_503",
    "fail_503",
    "rate_limit",
    "clock_skew",
    "stall_websockets",
    "duplicate_events",
    "shuffle_events",
    "drop_websockets",
    "expire_listen_key",
)
PROCESS_EVENTS = ("simulator_restart", "bot_sigkill", "bot_sigterm")
EVENTS = FAULT_KINDS + PROCESS_EVENTS
STRATEGY = {
    "name": "sma_cross",
    "timeframe": "1m",
    "params": {"fast": 2, "slow": 4, "stop_pct": "0.003", "take_profit_pct": "0.006"},
}
INTERVAL_MS = 60_000
AVAILABLE_TOLERANCE = Decimal("1")
ENTRY_TOLERANCE = Decimal("0.01")
SIGTERM_BOUND_SECONDS = 5.0
MARKET_BACK_BOUND_SECONDS = 5.0


def fault_body(kind: str, seconds: float, rng: random.Random) -> dict[str, Any]:
    """One fault of `kind`, active for `seconds`, shaped the way it bites a trading bot."""
    orders = {"method": "POST", "path": "/fapi/v1/order"}
    bodies: dict[str, dict[str, Any]] = {
        "delay": {"delay_seconds": rng.choice([1.0, 2.0, 3.0]), "probability": 0.5},
        "apply_then_timeout": {"match": orders, "count": 1},
        "apply_then_503": {"match": orders, "count": 1},
        "fail_503": {"probability": 0.3},
        "rate_limit": {"probability": 0.2, "retry_after": 1},
        "clock_skew": {"skew_ms": rng.choice([-7000, 7000])},
        "stall_websockets": {},
        "duplicate_events": {},
        "shuffle_events": {},
        "drop_websockets": {},
        "expire_listen_key": {},
    }
    body = {"kind": kind, **bodies[kind]}
    if kind not in ("drop_websockets", "expire_listen_key"):
        body["duration_seconds"] = seconds
    return body


@dataclass
class EventReport:
    kind: str
    at: float
    market_back_seconds: float | None = None
    sigterm_seconds: float | None = None
    settled: bool = False
    mismatch: str = ""


@dataclass
class SoakReport:
    events: list[EventReport] = field(default_factory=list)
    duplicate_client_ids: dict[str, int] = field(default_factory=dict)
    stale_orders: list[str] = field(default_factory=list)
    bans: int = 0  # 418 answers the bot received (the governor must never earn one)
    unprotected_ms: list[float] = field(default_factory=list)
    trades: int = 0
    orders: int = 0

    @property
    def violations(self) -> list[str]:
        found = [f"{e.kind}: {e.mismatch}" for e in self.events if not e.settled]
        found += [f"client id sent {n}x: {cid}" for cid, n in self.duplicate_client_ids.items()]
        found += [f"stale decision traded: {s}" for s in self.stale_orders]
        if self.bans:
            found.append(f"the bot was banned (418) {self.bans} time(s)")
        found += [
            f"{e.kind}: SIGTERM took {e.sigterm_seconds:.1f} s"
            for e in self.events
            if e.sigterm_seconds is not None and e.sigterm_seconds > SIGTERM_BOUND_SECONDS
        ]
        found += [
            f"{e.kind}: market data back after {e.market_back_seconds:.1f} s"
            for e in self.events
            if e.market_back_seconds is not None
            and e.market_back_seconds > MARKET_BACK_BOUND_SECONDS
        ]
        return found


class Soak:
    def __init__(
        self,
        work_dir: Path,
        *,
        seed: int,
        speed: float = 90.0,
        fault_seconds: float = 3.0,
        settle_seconds: float = 40.0,
    ) -> None:
        self.work_dir = work_dir
        self.seed = seed
        self.rng = random.Random(seed)
        self.speed = speed
        self.fault_seconds = fault_seconds
        self.settle_seconds = settle_seconds
        self.report = SoakReport()
        self.settings: Settings = load_settings(
            data_dir=work_dir / "data", secrets_file=work_dir / "no-secrets.yaml", environ={}
        )
        self.sim = SimulatorProcess(
            work_dir, speed, seed, state_file=state_file_for(work_dir / "sim-state")
        )
        self.config = local_run.write_runtime_config(
            work_dir,
            STRATEGY,
            risk={"daily_loss_limit": "0.9", "max_orders_per_minute": 200},
            reconcile_interval=2,
            warmup_candles=30,
        )
        self.bot: subprocess.Popen[bytes] | None = None
        self._checked_orders: set[str] = set()
        self._protected: set[str] = set()

    # ---- processes ------------------------------------------------------------------------
    def start(self) -> None:
        (self.work_dir / "sim-state").mkdir(parents=True, exist_ok=True)
        self.sim.start()
        self._start_bot()

    def _start_bot(self) -> None:
        mark = log_size(self.work_dir)
        self.bot = local_run.start_bot(self.work_dir, self.sim.url, self.config)
        local_run.wait_until(
            lambda: (
                log_contains(self.work_dir, b"bot running", since=mark)
                or (self.bot is not None and self.bot.poll() is not None)
            ),
            90,
            "the bot to run",
        )
        if self.bot.poll() is not None:
            raise RuntimeError(f"the bot exited with {self.bot.returncode} at start")

    def stop(self) -> None:
        if self.bot is not None:
            stop_process(self.bot, signal.SIGTERM)
        self.sim.stop()
        log = self.work_dir / "bot.log"
        if log.exists():
            self.report.bans = log.read_bytes().count(b"IP banned (418)")

    # ---- the run --------------------------------------------------------------------------
    def run(self, seconds: float) -> SoakReport:
        deadline = time.monotonic() + seconds
        # Every kind once, in a seeded order (even past `seconds`), then seeded picks.
        schedule = list(EVENTS)
        self.rng.shuffle(schedule)
        while schedule or time.monotonic() < deadline:
            kind = schedule.pop(0) if schedule else self.rng.choice(EVENTS)
            self.report.events.append(self._event(kind))
        return self.report

    def _event(self, kind: str) -> EventReport:
        event = EventReport(kind, time.time())
        if kind in FAULT_KINDS:
            self.sim.add_fault(fault_body(kind, self.fault_seconds, self.rng))
            time.sleep(self.fault_seconds)
            self.sim.clear_faults()
            event.market_back_seconds = self._market_back_after(time.time())
        elif kind == "simulator_restart":
            self.sim.restart()
            event.market_back_seconds = self._market_back_after(time.time())
        elif kind == "bot_sigkill":
            assert self.bot is not None
            stop_process(self.bot, signal.SIGKILL)
            self._start_bot()
        else:
            assert self.bot is not None
            started = time.monotonic()
            code = stop_process(self.bot, signal.SIGTERM)
            event.sigterm_seconds = time.monotonic() - started
            if code != 0:
                event.mismatch = f"SIGTERM exit code {code}"
            self._start_bot()
        self._quiet_point(event)
        return event

    def _market_back_after(self, since: float) -> float | None:
        """Seconds from `since` until the bot records a market message again."""
        engine = read_engine(self.settings)
        try:
            deadline = time.monotonic() + 3 * MARKET_BACK_BOUND_SECONDS
            while time.monotonic() < deadline:
                with engine.connect() as conn:
                    at = conn.execute(
                        select(health.c.updated_at).where(health.c.key == "market_stream_message")
                    ).scalar()
                if at is not None and at.timestamp() > since:
                    return float(at.timestamp() - since)
                time.sleep(0.1)
            return None
        finally:
            engine.dispose()

    # ---- checks ---------------------------------------------------------------------------
    def _quiet_point(self, event: EventReport) -> None:
        self.sim.control("clock", {"action": "pause"})
        try:
            deadline = time.monotonic() + self.settle_seconds
            mismatch = "not compared"
            while time.monotonic() < deadline:
                state = self.sim.state()
                mismatch = self._compare(state)
                if not mismatch:
                    event.settled = True
                    break
                time.sleep(0.5)
            if not event.settled:
                event.mismatch = event.mismatch or mismatch
            self._check_orders(self.sim.state())
        finally:
            self.sim.control("clock", {"action": "resume"})

    def _compare(self, state: dict[str, Any]) -> str:
        trading = open_trading(self.settings)
        engine = read_engine(self.settings)
        try:
            position, account = trading.position(), trading.account()
            theirs = state["position"]
            if position.quantity != Decimal(theirs["positionAmt"]):
                return f"position {position.quantity} vs {theirs['positionAmt']}"
            if abs(position.entry_price - Decimal(theirs["entryPrice"])) > ENTRY_TOLERANCE:
                return f"entry {position.entry_price} vs {theirs['entryPrice']}"
            balance = state["balances"][0]
            if account.wallet_balance("USDT") != Decimal(balance["balance"]):
                return f"wallet {account.wallet_balance('USDT')} vs {balance['balance']}"
            available = account.available_balance("USDT")
            if abs(available - Decimal(balance["availableBalance"])) > max(
                AVAILABLE_TOLERANCE, Decimal(balance["balance"]) * Decimal("0.0005")
            ):
                return f"available {available} vs {balance['availableBalance']}"
            with engine.connect() as conn:
                ours = set(
                    conn.execute(
                        select(rm_orders.c.client_order_id).where(rm_orders.c.is_open.is_(True))
                    ).scalars()
                )
            exchange_open = {
                o["clientOrderId"]
                for o in state["orders"]
                if o["status"] in ("NEW", "PARTIALLY_FILLED")
            } | {a["clientAlgoId"] for a in state["algo_orders"] if a["algoStatus"] == "NEW"}
            if ours != exchange_open:
                return f"open orders {sorted(ours ^ exchange_open)} differ"
            return ""
        finally:
            trading.close()
            engine.dispose()

    def _check_orders(self, state: dict[str, Any]) -> None:
        counts = state["client_order_id_counts"]
        for client_id, count in counts.items():
            if client_id.startswith("ae") and count > 1:
                self.report.duplicate_client_ids[client_id] = count
        self.report.trades = max(self.report.trades, len(state["trades"]))
        self.report.orders = max(self.report.orders, len(counts))
        self._check_freshness(state)
        self._measure_protection(state)

    def _check_freshness(self, state: dict[str, Any]) -> None:
        closes = sorted(
            (float(c["sentAt"]), int(c["openTime"]) + INTERVAL_MS) for c in state["kline_closes"]
        )
        if not closes:
            return
        decided = self._decision_times()
        for order in state["orders"]:
            client_id = order["clientOrderId"]
            if client_id in self._checked_orders or client_id not in decided:
                continue
            self._checked_orders.add(client_id)
            received = float(order.get("simReceivedAt") or 0)
            if received < closes[0][0]:
                continue  # before the closes this simulator run remembers
            newest = max(close for sent, close in closes if sent <= received)
            if newest > decided[client_id] + INTERVAL_MS:
                candle = datetime.fromtimestamp(decided[client_id] / 1000, UTC).isoformat()
                self.report.stale_orders.append(
                    f"{client_id} decided on the candle closing {candle}, sent after "
                    f"{datetime.fromtimestamp(newest / 1000, UTC).isoformat()} had closed"
                )

    def _decision_times(self) -> dict[str, int]:
        """Entry client order id → the close time (ms) of the candle its strategy decided on."""
        engine = read_engine(self.settings)
        try:
            with engine.connect() as conn:
                rows = conn.execute(
                    select(rm_commands.c.payload, rm_commands.c.client_order_ids).where(
                        rm_commands.c.actor_type == "STRATEGY"
                    )
                ).all()
        finally:
            engine.dispose()
        decided: dict[str, int] = {}
        for payload, client_ids in rows:
            candle_time = (payload or {}).get("candle_time")
            if not candle_time or not client_ids:
                continue
            moment = datetime.fromisoformat(str(candle_time).replace("Z", "+00:00"))
            decided[str(client_ids[0])] = int(moment.timestamp() * 1000)
        return decided

    def _measure_protection(self, state: dict[str, Any]) -> None:
        """Entry received → first stop for that side received, per entry (wall ms)."""
        stops = sorted(
            (float(a.get("simReceivedAt") or 0), a["side"])
            for a in state["algo_orders"]
            if a["orderType"] in ("STOP_MARKET", "STOP")
        )
        for order in state["orders"]:
            client_id = order["clientOrderId"]
            if (
                not client_id.startswith("ae-")
                or order.get("reduceOnly")
                or order["status"] != "FILLED"
                or client_id in self._protected
            ):
                continue
            received = float(order.get("simReceivedAt") or 0)
            exit_side = "SELL" if order["side"] == "BUY" else "BUY"
            after = [at for at, side in stops if side == exit_side and at >= received]
            if after:
                self._protected.add(client_id)
                self.report.unprotected_ms.append(after[0] - received)


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * (len(ordered) - 1))))]


def tables(report: SoakReport) -> str:
    by_kind: dict[str, list[EventReport]] = defaultdict(list)
    for event in report.events:
        by_kind[event.kind].append(event)
    lines = [
        f"{'event':<20} {'n':>3} {'settled':>8} {'market back p50/max s':>22} "
        f"{'SIGTERM max s':>14}  first mismatch"
    ]
    for kind in EVENTS:
        events = by_kind.get(kind, [])
        if not events:
            continue
        backs = [e.market_back_seconds for e in events if e.market_back_seconds is not None]
        terms = [e.sigterm_seconds for e in events if e.sigterm_seconds is not None]
        back = f"{statistics.median(backs):.1f}/{max(backs):.1f}" if backs else "-"
        term = f"{max(terms):.2f}" if terms else "-"
        settled = sum(e.settled for e in events)
        mismatch = next((e.mismatch for e in events if e.mismatch), "")
        lines.append(
            f"{kind:<20} {len(events):>3} {settled:>4}/{len(events):<3} {back:>22} {term:>14}"
            f"  {mismatch[:60]}"
        )
    unprotected = report.unprotected_ms
    lines.append("")
    lines.append(
        f"orders {report.orders}, trades {report.trades}, "
        f"client ids sent twice {len(report.duplicate_client_ids)}, "
        f"stale decisions traded {len(report.stale_orders)}, 418 bans {report.bans}"
    )
    if unprotected:
        lines.append(
            f"unprotected time per entry (ms): n {len(unprotected)}, "
            f"p50 {statistics.median(unprotected):.0f}, p99 {percentile(unprotected, 0.99):.0f}, "
            f"max {max(unprotected):.0f}"
        )
    return "\n".join(lines)
