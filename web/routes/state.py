"""GET /api/state?at=…: the account, position and orders as of a moment (from the event store)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query
from starlette.concurrency import run_in_threadpool

from projections.timetravel import TimeTravelError, state_at
from web.context import Context, User
from web.routes.params import MAX_ID, aware

router = APIRouter(prefix="/api", tags=["time travel"])


def parse_at(raw: str | None) -> int | datetime | None:
    """A notification id (digits) or an ISO-8601 time with its zone; None means now."""
    if raw is None or raw == "":
        return None
    if raw.isdigit():
        if int(raw) > MAX_ID:
            raise HTTPException(422, "query.at: notification id out of range")
        return int(raw)
    try:
        moment = datetime.fromisoformat(raw.replace("Z", "+00:00").replace(" ", "+"))
    except ValueError as exc:
        raise HTTPException(
            422, "query.at: a notification id or an ISO-8601 UTC time, e.g. 2026-01-01T12:00:00Z"
        ) from exc
    return aware(moment, "at")


@router.get("/state")
async def get_state(
    context: Context,
    user: User,
    at: Annotated[
        str | None,
        Query(max_length=64, description="UTC time (ISO-8601) or notification id; omit for now"),
    ] = None,
) -> dict[str, Any]:
    moment = parse_at(at)
    trading = await run_in_threadpool(context.trading)
    try:
        result: dict[str, Any] = await run_in_threadpool(state_at, trading, moment)
    except TimeTravelError as exc:
        raise HTTPException(422, f"query.at: {exc}") from exc
    return result
