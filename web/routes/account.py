"""Account reads: dashboard, orders, positions, fills, candles and the equity curve."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query

from web.context import Context, User
from web.routes.params import MAX_ID, aware, time_range
from web.services import account as reads

router = APIRouter(prefix="/api", tags=["account"])

Limit = Annotated[int, Query(ge=1, le=1000)]


@router.get("/dashboard")
async def dashboard(context: Context, user: User) -> dict[str, Any]:
    """Balance, position with unrealized PnL, today's PnL, engine mode, orders, fills, alarms."""
    return await context.database.read_async(reads.dashboard)


@router.get("/orders")
async def orders(
    context: Context,
    user: User,
    is_open: Annotated[
        bool | None, Query(alias="open", description="only open (true) or closed (false)")
    ] = None,
    limit: Limit = 100,
    offset: Annotated[int, Query(ge=0, le=MAX_ID)] = 0,
) -> dict[str, Any]:
    items = await context.database.read_async(
        lambda c: reads.orders(c, is_open=is_open, limit=limit, offset=offset)
    )
    return {"items": items}


@router.get("/positions")
async def positions(context: Context, user: User) -> dict[str, Any]:
    return {"items": await context.database.read_async(reads.positions)}


@router.get("/fills")
async def fills(
    context: Context,
    user: User,
    limit: Limit = 100,
    before: Annotated[
        int | None, Query(ge=1, le=MAX_ID, description="notification id cursor")
    ] = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> dict[str, Any]:
    start, end = time_range(since, until)
    items = await context.database.read_async(
        lambda c: reads.fills(c, limit=limit, before=before, since=start, until=end)
    )
    next_cursor = items[-1]["notification_id"] if len(items) == limit else None
    return {"items": items, "next_cursor": next_cursor}


@router.get("/candles")
async def candles(
    context: Context,
    user: User,
    interval: Annotated[str | None, Query(pattern=r"^\d{1,2}[mhdwM]$")] = None,
    limit: Annotated[int, Query(ge=1, le=1500)] = 500,
    since: datetime | None = None,
) -> dict[str, Any]:
    """Closed candles of the configured symbol (oldest first) and the bot's fills to mark."""
    start = aware(since, "since")

    def read(conn: Any) -> dict[str, Any]:
        market = reads.current_market(conn)
        chosen = interval or market.interval
        return {
            "symbol": market.symbol,
            "interval": chosen,
            "items": reads.candles(conn, market.symbol, chosen, limit=limit, since=start),
            "fills": reads.fills(conn, limit=500, since=start),
        }

    return await context.database.read_async(read)


@router.get("/equity")
async def equity(
    context: Context,
    user: User,
    limit: Annotated[int, Query(ge=1, le=10000)] = 1000,
    since: datetime | None = None,
) -> dict[str, Any]:
    start = aware(since, "since")

    def read(conn: Any) -> dict[str, Any]:
        points = reads.equity(conn, limit=limit, since=start)
        board = reads.dashboard(conn)
        return {"items": points, "current": board["equity"], "as_of": board["as_of"]}

    return await context.database.read_async(read)
