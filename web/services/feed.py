"""The event feed and the command list, read from rm_events and rm_commands."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import Connection, Text, and_, cast, func, or_, select

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
    command_id: UUID | None = None
    text: str | None = None  # searched in the event type, the ids and the event's data


@dataclass(frozen=True)
class EventPage:
    items: list[dict[str, Any]]
    next_cursor: int | None
    newer_cursor: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "items": self.items,
            "next_cursor": self.next_cursor,
            "newer_cursor": self.newer_cursor,
        }


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
    if f.command_id:
        query = query.where(c.command_id == str(f.command_id))
    if f.text:
        # A scan of the feed (no index serves a substring); answers are kept per projection
        # position (web.services.responses), so a repeated search costs nothing.
        query = query.where(
            or_(
                *(
                    column.icontains(f.text, autoescape=True)
                    for column in (
                        c.event_type,
                        c.originator_id,
                        c.command_id,
                        c.correlation_id,
                        c.dedup_key,
                        cast(c.data, Text),
                    )
                )
            )
        )
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


def events_around(conn: Connection, f: EventFilter, around: int, *, limit: int) -> EventPage:
    """The event `around` (if it passes the filter) with the ones just newer and just older,
    newest first: a window of the feed at a moment, for time travel. `next_cursor` pages to
    older events, `newer_cursor` (as `after`) to newer ones."""
    c = rm_events.c
    newer_count = limit // 2
    older_count = limit - newer_count
    newer = conn.execute(
        _filtered(select(rm_events), f)
        .where(c.notification_id > around)
        .order_by(c.notification_id.asc())
        .limit(newer_count + 1)
    ).all()
    older = conn.execute(
        _filtered(select(rm_events), f)
        .where(c.notification_id <= around)
        .order_by(c.notification_id.desc())
        .limit(older_count + 1)
    ).all()
    shown_newer = list(reversed(newer[:newer_count]))
    shown_older = older[:older_count]
    return EventPage(
        items=[row_dict(r) for r in (*shown_newer, *shown_older)],
        next_cursor=shown_older[-1].notification_id if len(older) > older_count else None,
        newer_cursor=shown_newer[0].notification_id if len(newer) > newer_count else None,
    )


def last_event_id(conn: Connection) -> int:
    return int(conn.execute(select(func.max(rm_events.c.notification_id))).scalar() or 0)


def commands(
    conn: Connection,
    *,
    status: str | None = None,
    kind: str | None = None,
    limit: int = 50,
    cursor: int | None = None,
) -> tuple[list[dict[str, Any]], int | None]:
    """Newest first by the notification that created each Command (the cursor)."""
    created = rm_events.c.notification_id
    query = select(rm_commands, created.label("created_id")).join(
        rm_events,
        and_(rm_events.c.originator_id == rm_commands.c.id, rm_events.c.originator_version == 1),
    )
    if status:
        query = query.where(rm_commands.c.status == status)
    if kind:
        query = query.where(rm_commands.c.kind == kind)
    if cursor is not None:
        query = query.where(created < cursor)
    rows = conn.execute(query.order_by(created.desc()).limit(limit + 1)).all()
    items = []
    for row in rows[:limit]:
        item = row_dict(row)
        item.pop("created_id")
        items.append(item)
    return items, (int(rows[limit - 1].created_id) if len(rows) > limit else None)


def command(conn: Connection, command_id: UUID) -> dict[str, Any] | None:
    row = conn.execute(select(rm_commands).where(rm_commands.c.id == str(command_id))).first()
    return None if row is None else row_dict(row)
