"""Exchange facts → the Trading application, each exactly once.

WS is a hint and REST the truth, and both go through the same Trading methods whose dedup keys
(docs/architecture.md, "Ingest and dedup": a fill by symbol and trade id, an order update by
status and cumulative quantity, a balance by content and transaction time) make a fact seen
twice record once. Order updates are ranked by status and cumulative quantity inside the Order
aggregate, so the arrival order of events of different types does not matter.
"""

from __future__ import annotations

from collections.abc import Callable

import structlog

from aggregates.envelope import Envelope, Source
from aggregates.facts import (
    AlgoOrderFact,
    BalanceFact,
    FillFact,
    IncomeFact,
    LeverageFact,
    OrderFact,
)
from aggregates.ports import Malformed, UserFact
from alphaengine.store_thread import StoreThread
from alphaengine.trading import Trading
from processes.log_throttle import LogThrottle

log = structlog.get_logger(__name__)

RAW_LOG_CHARS = 2000


def record_fact(trading: Trading, fact: object, env: Envelope) -> bool:
    """Record one exchange fact; True when it was news. Runs on the store thread."""
    if isinstance(fact, FillFact):
        return trading.record_fill(fact, env)
    if isinstance(fact, OrderFact):
        return trading.record_order(fact, env)
    if isinstance(fact, AlgoOrderFact):
        return trading.record_algo_order(fact, env)
    if isinstance(fact, BalanceFact):
        return trading.record_balance(fact, env)
    if isinstance(fact, IncomeFact):
        return trading.record_income(fact, env)
    if isinstance(fact, LeverageFact):
        if fact.symbol != trading.scope.symbol:
            return False
        return trading.record_leverage(fact.leverage, env)
    raise TypeError(f"not an exchange fact: {type(fact).__name__}")


class Ingestor:
    def __init__(
        self,
        trading: Trading,
        store: StoreThread,
        *,
        on_recorded: Callable[[list[UserFact]], None] | None = None,
        on_failure: Callable[[str], None] | None = None,
    ) -> None:
        self.trading = trading
        self.store = store
        self.on_recorded = on_recorded
        self.on_failure = on_failure  # e.g. ask the reconciler to re-read what was lost
        self._malformed_log = LogThrottle()
        self.counters: dict[str, int] = {
            "messages": 0,
            "malformed": 0,
            "ignored": 0,
            "facts": 0,
            "fills": 0,
            "recorded": 0,
            "duplicates": 0,
            "failed": 0,
        }

    def _count(self, name: str, amount: int = 1) -> None:
        self.counters[name] = self.counters.get(name, 0) + amount

    def malformed(self, item: Malformed) -> None:
        self._count("messages")
        self._count("malformed")
        if self._malformed_log.allow():
            log.warning(
                "malformed user-stream message skipped",
                error=item.reason,
                raw=item.raw,
                skipped_since_last_report=self._malformed_log.take_suppressed(),
            )

    async def record(self, facts: list[UserFact], source: Source) -> int:
        """Record facts in order; return how many were news. A failure is logged, not raised."""
        self._count("messages")
        recorded: list[UserFact] = []
        for fact in facts:
            self._count("facts")
            if isinstance(fact, FillFact):
                self._count("fills")
            env = self.trading.envelope(source)
            try:
                news = await self.store.call(record_fact, self.trading, fact, env)
            except Exception as exc:
                self._count("failed")
                log.exception("recording a fact failed", fact=repr(fact)[:RAW_LOG_CHARS])
                if self.on_failure is not None:
                    self.on_failure(f"ingest failed: {type(exc).__name__}")
                continue
            if news:
                recorded.append(fact)
                self._count("recorded")
            else:
                self._count("duplicates")
        if recorded and self.on_recorded is not None:
            self.on_recorded(recorded)
        return len(recorded)
