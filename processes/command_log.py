"""The executor's place in the notification log: which Commands are open, and up to where the
log has been read for them.

Like the projector, it follows the log with a tracking record; the set of open Commands is
written in the same transaction as that record, so a start reads only what it has not handled
(plus the open set) instead of every Command event ever recorded.
"""

from __future__ import annotations

from uuid import UUID

from eventsourcing.utils import get_topic
from sqlalchemy import delete, insert, select
from sqlalchemy.orm import Session

from aggregates.command import Command
from alphaengine.trading import Trading
from projections.schema import executor_open_commands
from projections.tracking import TRACKING_TABLE, FollowerTracking

FOLLOWER = "executor"  # its row in the followers' tracking table (replay leaves it alone)
PAGE = 500
# Write the position at least this often while no Command event passes, so a start after a
# long quiet stretch does not re-read it.
IDLE_ADVANCE = 2000

SUBMITTED = get_topic(Command.Submitted)  # type: ignore[attr-defined]
FINISHED = [
    get_topic(getattr(Command, name))
    for name in ("Rejected", "Succeeded", "Failed", "Resolved", "Expired")
]
TOPICS = [SUBMITTED, *FINISHED]


def _uuid(value: UUID | str) -> UUID:
    return value if isinstance(value, UUID) else UUID(value)


class CommandLog:
    def __init__(self, trading: Trading, *, create_table: bool = False) -> None:
        self.trading = trading
        self.recorder = FollowerTracking.for_trading(
            trading, TRACKING_TABLE, create_table=create_table
        )
        self.position = 0

    def open_commands(self) -> list[UUID]:
        """The Commands open at the tracked position (call once, at start)."""
        self.position = self.recorder.position(FOLLOWER)
        with self.recorder.transaction(commit=False) as session:
            rows = session.execute(
                select(executor_open_commands.c.command_id).order_by(
                    executor_open_commands.c.notification_id
                )
            ).scalars()
            return [UUID(r) for r in rows]

    def follow(self) -> list[UUID]:
        """Commands submitted since the last call (oldest first); records the new position."""
        recorder = self.trading.recorder
        top = int(recorder.max_notification_id() or 0)
        if top <= self.position:
            return []
        submitted: dict[UUID, int] = {}
        finished: set[UUID] = set()
        start = self.position + 1
        while start <= top:
            page = recorder.select_notifications(start, PAGE, stop=top, topics=TOPICS)
            for n in page:
                command_id = _uuid(n.originator_id)
                if n.topic == SUBMITTED:
                    submitted[command_id] = n.id
                else:
                    finished.add(command_id)
            if len(page) < PAGE:
                break
            start = page[-1].id + 1
        if submitted or finished or top - self.position >= IDLE_ADVANCE:
            self._record(top, submitted, finished)
        self.position = top
        return [c for c in submitted if c not in finished]

    def _record(self, top: int, submitted: dict[UUID, int], finished: set[UUID]) -> None:
        def apply(session: Session) -> None:
            opened = [
                {"command_id": str(c), "notification_id": n}
                for c, n in submitted.items()
                if c not in finished
            ]
            if opened:
                known = set(
                    session.execute(
                        select(executor_open_commands.c.command_id).where(
                            executor_open_commands.c.command_id.in_(
                                [o["command_id"] for o in opened]
                            )
                        )
                    ).scalars()
                )
                fresh = [o for o in opened if o["command_id"] not in known]
                if fresh:
                    session.execute(insert(executor_open_commands), fresh)
            if finished:
                session.execute(
                    delete(executor_open_commands).where(
                        executor_open_commands.c.command_id.in_([str(c) for c in finished])
                    )
                )

        self.recorder.write(FOLLOWER, top, apply)
