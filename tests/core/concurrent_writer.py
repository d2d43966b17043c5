"""A writer process for the two-process test: records fills and commands into a shared file."""

from __future__ import annotations

from multiprocessing.synchronize import Barrier
from typing import Any
from uuid import UUID

from eventsourcing.domain import DomainEventProtocol, MutableOrImmutableAggregate
from eventsourcing.persistence import IntegrityError, Recording

from aggregates.envelope import Scope, Source
from aggregates.position import Position
from alphaengine.trading import Trading
from tests.core.story import fill


class MeetingTrading(Trading):
    """Reads the position, then waits for the other process to have read it too (once).

    Both writers then hold the same version of the same aggregates, so exactly one of the two
    saves that follow must lose the optimistic-concurrency check.
    """

    name = "Trading"  # the same tables as the application it stands in for

    def __init__(self, scope: Scope, url: str, barrier: Barrier) -> None:
        super().__init__(scope, url)
        self.barrier: Barrier | None = barrier
        self.conflicts = 0

    def position(self, *, readonly: bool = False) -> Position:
        position = super().position(readonly=readonly)
        if self.barrier is not None:
            barrier, self.barrier = self.barrier, None
            barrier.wait(timeout=60)
        return position

    def save(
        self,
        *objs: MutableOrImmutableAggregate[UUID] | DomainEventProtocol[UUID] | None,
        **kwargs: Any,
    ) -> list[Recording[UUID]]:
        try:
            return super().save(*objs, **kwargs)
        except IntegrityError:
            self.conflicts += 1
            raise


def write(url: str, worker: int, barrier: Barrier, shared: int, own: int) -> dict[str, int]:
    trading = MeetingTrading(Scope(), url, barrier)
    recorded = 0
    try:
        # Trade 1 first: both processes race to record the same fill
        for trade_id in range(1, shared + 1):
            side = "BUY" if trade_id % 3 else "SELL"
            f = fill(trade_id, f"shared-{trade_id}", side, "0.001", str(60000 + trade_id))
            recorded += trading.record_fill(f, trading.envelope(Source.WEBSOCKET))
            trading.submit_command(
                kind="PAUSE_ENGINE",
                payload={},
                actor_type="USER",
                actor_id=f"worker-{worker}",
                idempotency_key=f"shared-{trade_id}",
                source=Source.WEB,
            )
        for n in range(own):
            trade_id = worker * 10_000 + n
            f = fill(trade_id, f"own-{worker}", "BUY", "0.002", "60000")
            recorded += trading.record_fill(f, trading.envelope(Source.REST))
        return {"recorded": recorded, "conflicts": trading.conflicts}
    finally:
        trading.close()


def main(url: str, worker: int, barrier: Barrier, shared: int, own: int, results: Any) -> None:
    results.put((worker, write(url, worker, barrier, shared, own)))
