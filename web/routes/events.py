"""GET /api/events (the feed, cursor-paginated) and GET /api/stream (server-sent events)."""

from __future__ import annotations

import asyncio
import functools
import json
import time
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Annotated, Any
from uuid import UUID

import structlog
from fastapi import APIRouter, Header, HTTPException, Query, Request, Response
from sqlalchemy import Connection
from sqlalchemy.exc import SQLAlchemyError
from sse_starlette.sse import EventSourceResponse

from web.auth import AuthError, Claims
from web.context import Context, Session, User, WebContext
from web.routes.account import DASHBOARD_KEY, dashboard_parts
from web.routes.conditional import cached, conditional_get, projection
from web.routes.params import DIGITS, Cursor, as_id, time_range
from web.services import account, feed
from web.services.database import DatabaseBusy

log = structlog.get_logger(__name__)
router = APIRouter(prefix="/api", tags=["events"])

SOURCES = r"^(WEBSOCKET|REST|RECONCILER|BOT|WEB)$"
SNAPSHOT_EVERY_SECONDS = 3.0


@router.get("/events")
async def events(
    request: Request,
    context: Context,
    user: User,
    event_type: Annotated[
        str | None,
        Query(
            alias="type",
            max_length=48,
            pattern=r"^[A-Za-z]{1,32}(\.[A-Za-z]{0,32})?$",
            description='event type ("Order.Filled") or prefix ("Order.")',
        ),
    ] = None,
    aggregate_type: Annotated[
        str | None, Query(pattern=r"^[A-Za-z]{1,32}$", description="e.g. Order, Position")
    ] = None,
    entity: Annotated[
        str | None, Query(pattern=r"^[A-Za-z]{1,32}$", description="same as aggregate_type")
    ] = None,
    entity_id: Annotated[UUID | None, Query(description="one aggregate's id")] = None,
    source: Annotated[str | None, Query(pattern=SOURCES)] = None,
    command_id: Annotated[UUID | None, Query(description="events caused by one Command")] = None,
    q: Annotated[
        str | None,
        Query(min_length=1, max_length=64, description="text in the type, the ids or the data"),
    ] = None,
    since: datetime | None = None,
    until: datetime | None = None,
    cursor: Cursor = None,
    before: Annotated[str | None, Query(pattern=DIGITS, description="same as cursor")] = None,
    after: Annotated[
        str | None, Query(pattern=DIGITS, description="page forwards (oldest first) from this id")
    ] = None,
    around: Annotated[
        str | None,
        Query(pattern=DIGITS, description="a notification id: the events on both sides of it"),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> Response:
    """The feed, newest first. Cursor paging by notification id: `cursor` (or `before`) pages
    to older events, `after` forwards, `around` centres a page on one event."""
    start, end = time_range(since, until)
    given = [
        name
        for name, value in (
            ("cursor", cursor),
            ("before", before),
            ("after", after),
            ("around", around),
        )
        if value is not None
    ]
    if len(given) > 1:
        raise HTTPException(422, f"query.{given[0]}: use only one of {', '.join(given)}")
    older = as_id(cursor, "cursor") or as_id(before, "before")
    newer = as_id(after, "after")
    centre = as_id(around, "around")
    if aggregate_type and entity and aggregate_type != entity:
        raise HTTPException(422, "query.aggregate_type: differs from entity")
    f = feed.EventFilter(
        event_type, aggregate_type or entity, entity_id, source, start, end, command_id, q
    )

    def build(conn: Connection) -> dict[str, Any]:
        if centre is not None:
            return feed.events_around(conn, f, centre, limit=limit).as_dict()
        return feed.events(conn, f, limit=limit, before=older, after=newer).as_dict()

    return await conditional_get(request, context, projection, build)


async def _stream(
    request: Request, context: WebContext, claims: Claims, cursor: int, interval: float
) -> AsyncIterator[dict[str, Any]]:
    """New rm_events rows as `event` messages, then a `dashboard` snapshot (also every few s)."""
    last_sent = 0.0
    # The stream ends when a token issued now would expire, or when its session ends (logout,
    # password change): the client reconnects with a fresh token, so an open connection never
    # outlives the access it was authorised with.
    ends = time.monotonic() + context.tokens.access_ttl.total_seconds()
    while time.monotonic() < ends and not await request.is_disconnected():
        try:
            await context.sessions.ensure_fresh()
            context.sessions.check(claims)
        except AuthError as exc:
            yield {"event": "error", "data": json.dumps({"detail": str(exc)})}
            return
        try:
            page = await context.database.read_async(
                functools.partial(feed.events, f=feed.EventFilter(), limit=200, after=cursor)
            )
            for item in page.items:
                cursor = item["notification_id"]
                yield {"event": "event", "id": str(cursor), "data": json.dumps(item)}
            now = time.monotonic()
            if page.items or now - last_sent >= SNAPSHOT_EVERY_SECONDS:
                # The same kept answer as GET /api/dashboard: streams add no work per client.
                _, board = await context.database.read_async(
                    lambda conn: cached(
                        context, conn, DASHBOARD_KEY, dashboard_parts, account.dashboard
                    )
                )
                last_sent = now
                yield {"event": "dashboard", "id": str(cursor), "data": board.decode()}
            if page.next_cursor is not None:
                continue  # more waiting: no sleep
        except (SQLAlchemyError, DatabaseBusy) as exc:
            log.warning("stream: database error", error=type(exc).__name__)
            yield {"event": "error", "data": json.dumps({"detail": "database unavailable"})}
        await asyncio.sleep(interval)


@router.get("/stream")
async def stream(
    request: Request,
    context: Context,
    claims: Session,
    after: Annotated[str | None, Query(pattern=DIGITS, description="resume after this id")] = None,
    last_event_id: Annotated[str | None, Header(pattern=DIGITS)] = None,
) -> EventSourceResponse:
    """Server-sent events: `event` (one new feed row), `dashboard` (a fresh snapshot)."""
    cursor = as_id(after, "after")
    if cursor is None:
        cursor = as_id(last_event_id, "last-event-id")
    if cursor is None:
        cursor = await context.database.read_async(feed.last_event_id)
    interval = float(request.app.state.stream_interval)
    return EventSourceResponse(_stream(request, context, claims, cursor, interval), ping=15)
