"""The event feed and the command list, read from rm_events and rm_commands."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import Connection, func, select

from projections.schema import rm_commands, rm_events
from web.services.encoding import row_dict


@dataclass(frozen=True)
class EventFilter:
    event_type: str | None = None  # exact ("Order.Filled") or a prefix ending in "." ("Order.")
    entity: str | None = None  # aggregate type: Order, Position, Account, Command, Engine
    entity_id: UUID | None = None
    source: str | None = None
    since: datetime | None = None
    until: datetime | None = None


@dataclass(frozen=True)
class EventPage:
    items: list[dict[str, Any]]
    next_cursor: int | None

    def as_dict(self) -> dict[str, Any]:
        return {"items": self.items, "next_cursor": self.next_cursor}


def _filtered(query: Any, f: EventFilter) -> Any:
    c = rm_events.c
    if f.event_type:
        if f.event_type.endswith("."):
            query = query.where(c.event_type.startswith(f.event_type, autoescape=True))
        else:
            query = query.where(c.event_type == f.event_type)
    if f.entity:
        query = query.where(c.aggregate_type == f.entity)
    if f.entity_id:
        query = query.where(c.originator_id == str(f.entity_id))
    if f.source:
        query = query.where(c.source == f.source)
    if f.since:
        query = query.where(c.timestamp >= f.since)
    if f.until:
        query = query.where(c.timestamp < f.until)
    return query


def events(
    conn: Connection,
    f: EventFilter,
    *,
    limit: int = 100,
    before: int | None = None,
    after: int | None = None,
) -> EventPage:
    """One page of the feed. `before` pages backwards (newest first), `after` forwards.

    The cursor is a notification id, so a page never shifts when new events arrive.
    """
    c = rm_events.c
    query = _filtered(select(rm_events), f)
    if after is not None:
        query = query.where(c.notification_id > after).order_by(c.notification_id.asc())
    else:
        if before is not None:
            query = query.where(c.notification_id < before)
        query = query.order_by(c.notification_id.desc())
    rows = conn.execute(query.limit(limit + 1)).all()
    items = [row_dict(r) for r in rows[:limit]]
    next_cursor = items[-1]["notification_id"] if len(rows) > limit else None
    return EventPage(items=items, next_cursor=next_cursor)


def last_event_id(conn: Connection) -> int:
    return int(conn.execute(select(func.max(rm_events.c.notification_id))).scalar() or 0)


def commands(
    conn: Connection,
    *,
    status: str | None = None,
    kind: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> list[dict[str, Any]]:
    query = select(rm_commands).order_by(rm_commands.c.created_at.desc(), rm_commands.c.id)
    if status:
        query = query.where(rm_commands.c.status == status)
    if kind:
        query = query.where(rm_commands.c.kind == kind)
    return [row_dict(r) for r in conn.execute(query.limit(limit).offset(offset)).all()]


def command(conn: Connection, command_id: UUID) -> dict[str, Any] | None:
    row = conn.execute(select(rm_commands).where(rm_commands.c.id == str(command_id))).first()
    return None if row is None else row_dict(row)
