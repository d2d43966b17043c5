"""GET /api/state?at=…: the account, position and orders as of a moment (from the event store)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query, Request, Response

from projections.timetravel import TimeTravelError, state_at
from web.context import Context, User
from web.routes.conditional import JSON
from web.routes.params import MAX_ID, aware, is_digits
from web.services import responses

router = APIRouter(prefix="/api", tags=["time travel"])


def parse_at(raw: str | None) -> int | datetime | None:
    """A notification id (ASCII digits) or an ISO-8601 time with its zone; None means now."""
    if raw is None or raw == "":
        return None
    if raw.isdigit() or raw.isdecimal():
        if not is_digits(raw):
            raise HTTPException(422, "query.at: a notification id is ASCII digits only")
        if int(raw) > MAX_ID:
            raise HTTPException(422, "query.at: notification id out of range")
        return int(raw)
    if not raw.isascii():
        raise HTTPException(422, "query.at: ASCII only")
    try:
        moment = datetime.fromisoformat(raw.replace("Z", "+00:00").replace(" ", "+"))
    except ValueError as exc:
        raise HTTPException(
            422, "query.at: a notification id or an ISO-8601 UTC time, e.g. 2026-01-01T12:00:00Z"
        ) from exc
    return aware(moment, "at")


@router.get("/state")
async def get_state(
    request: Request,
    context: Context,
    user: User,
    at: Annotated[
        str | None,
        Query(max_length=64, description="UTC time (ISO-8601) or notification id; omit for now"),
    ] = None,
) -> Response:
    moment = parse_at(at)
    tag = await context.database.read_async(
        lambda conn: responses.etag(
            f"{request.url.path}?{request.url.query}",
            responses.stamp(conn, [responses.event_store_head()]),
        )
    )
    if responses.matches(request.headers.get("if-none-match"), tag):
        return Response(status_code=304, headers={"ETag": tag})
    try:
        result: dict[str, Any] = await context.with_trading(
            lambda trading: state_at(trading, moment)
        )
    except TimeTravelError as exc:
        raise HTTPException(422, f"query.at: {exc}") from exc
    return Response(responses.encode(result), media_type=JSON, headers={"ETag": tag})
