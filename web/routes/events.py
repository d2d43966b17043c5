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
from fastapi import APIRouter, Header, HTTPException, Query, Request
from sqlalchemy.exc import SQLAlchemyError
from sse_starlette.sse import EventSourceResponse

from web.context import Context, User
from web.routes.params import MAX_ID, time_range
from web.services import account, feed

log = structlog.get_logger(__name__)
router = APIRouter(prefix="/api", tags=["events"])

SOURCES = r"^(WEBSOCKET|REST|RECONCILER|BOT|WEB)$"
SNAPSHOT_EVERY_SECONDS = 3.0


@router.get("/events")
async def events(
    context: Context,
    user: User,
    event_type: Annotated[
        str | None,
        Query(
            alias="type",
            max_length=48,
            description='event type ("Order.Filled") or prefix ("Order.")',
        ),
    ] = None,
    entity: Annotated[
        str | None, Query(pattern=r"^[A-Za-z]{1,32}$", description="aggregate type, e.g. Order")
    ] = None,
    entity_id: Annotated[UUID | None, Query(description="one aggregate's id")] = None,
    source: Annotated[str | None, Query(pattern=SOURCES)] = None,
    since: datetime | None = None,
    until: datetime | None = None,
    before: Annotated[
        int | None, Query(ge=1, le=MAX_ID, description="page backwards from this id")
    ] = None,
    after: Annotated[
        int | None, Query(ge=0, le=MAX_ID, description="page forwards from this id")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> dict[str, Any]:
    start, end = time_range(since, until)
    if before is not None and after is not None:
        raise HTTPException(422, "query.before: use either before or after, not both")
    f = feed.EventFilter(event_type, entity, entity_id, source, start, end)
    page = await context.database.read_async(
        lambda c: feed.events(c, f, limit=limit, before=before, after=after)
    )
    return page.as_dict()


async def _stream(
    request: Request, context: Context, cursor: int, interval: float
) -> AsyncIterator[dict[str, Any]]:
    """New rm_events rows as `event` messages, then a `dashboard` snapshot (also every few s)."""
    last_sent = 0.0
    # The stream ends when a token issued now would expire: the client reconnects with a fresh
    # one, so an open connection never outlives the access it was authorised with.
    ends = time.monotonic() + context.tokens.access_ttl.total_seconds()
    while time.monotonic() < ends and not await request.is_disconnected():
        try:
            page = await context.database.read_async(
                functools.partial(feed.events, f=feed.EventFilter(), limit=200, after=cursor)
            )
            for item in page.items:
                cursor = item["notification_id"]
                yield {"event": "event", "id": str(cursor), "data": json.dumps(item)}
            now = time.monotonic()
            if page.items or now - last_sent >= SNAPSHOT_EVERY_SECONDS:
                board = await context.database.read_async(account.dashboard)
                last_sent = now
                yield {"event": "dashboard", "id": str(cursor), "data": json.dumps(board)}
            if page.next_cursor is not None:
                continue  # more waiting: no sleep
        except SQLAlchemyError as exc:
            log.warning("stream: database error", error=type(exc).__name__)
            yield {"event": "error", "data": json.dumps({"detail": "database unavailable"})}
        await asyncio.sleep(interval)


@router.get("/stream")
async def stream(
    request: Request,
    context: Context,
    user: User,
    after: Annotated[int | None, Query(ge=0, le=MAX_ID, description="resume after this id")] = None,
    last_event_id: Annotated[int | None, Header(ge=0, le=MAX_ID)] = None,
) -> EventSourceResponse:
    """Server-sent events: `event` (one new feed row), `dashboard` (a fresh snapshot)."""
    cursor = after if after is not None else last_event_id
    if cursor is None:
        cursor = await context.database.read_async(feed.last_event_id)
    interval = float(request.app.state.stream_interval)
    return EventSourceResponse(_stream(request, context, cursor, interval), ping=15)
