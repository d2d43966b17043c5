"""Account reads: dashboard, orders, positions, fills, candles, the equity curve, closed trades
and performance. Every answer carries an ETag (web.routes.conditional)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request, Response
from sqlalchemy import Connection

from web.context import Context, User
from web.routes.conditional import conditional_get, projection
from web.routes.params import INTERVAL_PATTERN, Cursor, as_id, aware, time_range
from web.services import account as reads
from web.services import responses
from web.services import trades as book
from web.services.responses import Part

router = APIRouter(prefix="/api", tags=["account"])

Side = Literal["BUY", "SELL"]
OrderType = Annotated[str, Query(pattern=r"^[A-Z_]{1,32}$", description="e.g. LIMIT, STOP_MARKET")]
Status = Annotated[
    str, Query(pattern=r"^[A-Z_]{1,24}$", description="e.g. NEW, PARTIALLY_FILLED, FILLED")
]


def _market_parts(conn: Connection, *, candles: str | None = None) -> list[Part]:
    market = reads.current_market(conn)
    parts = [
        responses.projection_position(),
        responses.config_version(),
        responses.mark_time(market.symbol),
    ]
    if candles is not None:
        parts.append(responses.latest_candle(market.symbol, candles or market.interval))
    return parts


DASHBOARD_KEY = "/api/dashboard?"


def dashboard_parts(conn: Connection) -> list[Part]:
    return [*_market_parts(conn), responses.day()]


@router.get("/dashboard")
async def dashboard(request: Request, context: Context, user: User) -> Response:
    """Balance, position with unrealized PnL, today's PnL (UTC day), engine mode, open orders,
    last fills, alarms; `time_zone` names the zone of every time and of "today"."""
    return await conditional_get(request, context, dashboard_parts, reads.dashboard)


@router.get("/orders")
async def orders(
    request: Request,
    context: Context,
    user: User,
    status: Status | None = None,
    side: Side | None = None,
    order_type: Annotated[OrderType | None, Query(alias="type")] = None,
    origin: Literal["ENGINE", "EXTERNAL"] | None = None,
    is_open: Annotated[
        bool | None, Query(alias="open", description="only open (true) or closed (false)")
    ] = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Cursor = None,
) -> Response:
    """Newest first; filters combine (AND); `since`/`until` bound the creation time."""
    start, end = time_range(since, until)
    f = reads.OrderFilter(status, side, order_type, origin, is_open, start, end)
    after = as_id(cursor, "cursor")

    def build(conn: Connection) -> dict[str, Any]:
        items, next_cursor = reads.orders(conn, f, limit=limit, cursor=after)
        return {"items": items, "next_cursor": next_cursor}

    return await conditional_get(request, context, projection, build)


@router.get("/positions")
async def positions(request: Request, context: Context, user: User) -> Response:
    """One row per symbol (one symbol is traded): never more than one page."""

    def build(conn: Connection) -> dict[str, Any]:
        return {"items": reads.positions(conn), "next_cursor": None}

    return await conditional_get(request, context, lambda c: _market_parts(c), build)


@router.get("/fills")
async def fills(
    request: Request,
    context: Context,
    user: User,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Cursor = None,
    before: Annotated[
        str | None, Query(pattern=r"^[0-9]{1,19}$", description="same as cursor")
    ] = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> Response:
    """Newest first; the cursor is a notification id."""
    start, end = time_range(since, until)
    page_before = as_id(cursor, "cursor") or as_id(before, "before")

    def build(conn: Connection) -> dict[str, Any]:
        return reads.fills_page(conn, limit=limit, before=page_before, since=start, until=end)

    return await conditional_get(request, context, projection, build)


@router.get("/candles")
async def candles(
    request: Request,
    context: Context,
    user: User,
    interval: Annotated[
        str | None, Query(pattern=INTERVAL_PATTERN, description="a Binance kline interval")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1500)] = 200,
    since: datetime | None = None,
    cursor: Cursor = None,
) -> Response:
    """Closed candles of the configured symbol (oldest first), and the bot's fills in their
    span to mark on them. `next_cursor` (an open time in epoch ms) pages to older candles."""
    start = aware(since, "since")
    before_ms = as_id(cursor, "cursor")
    before = reads.from_epoch_ms(before_ms) if before_ms is not None else None

    def parts(conn: Connection) -> list[Part]:
        return _market_parts(conn, candles=interval or "")

    def build(conn: Connection) -> dict[str, Any]:
        market = reads.current_market(conn)
        chosen = interval or market.interval
        items, next_cursor = reads.candles(
            conn, market.symbol, chosen, limit=limit, since=start, before=before
        )
        marks: list[dict[str, Any]] = []
        if items:
            # Only the fills the chart can place: from the first candle shown on.
            first = datetime.fromisoformat(items[0]["open_time"].replace("Z", "+00:00"))
            marks = reads.fills(conn, limit=500, since=first, until=before)
        return {
            "symbol": market.symbol,
            "interval": chosen,
            "items": items,
            "next_cursor": next_cursor,
            "fills": marks,
        }

    return await conditional_get(request, context, parts, build)


@router.get("/equity")
async def equity(
    request: Request,
    context: Context,
    user: User,
    limit: Annotated[int, Query(ge=1, le=10000)] = 500,
    since: datetime | None = None,
    cursor: Cursor = None,
) -> Response:
    """Wallet balance after each change, oldest first; `next_cursor` pages to older points."""
    start = aware(since, "since")
    before = as_id(cursor, "cursor")

    def build(conn: Connection) -> dict[str, Any]:
        points, next_cursor = reads.equity(conn, limit=limit, since=start, before=before)
        board = reads.dashboard(conn)
        return {
            "items": points,
            "next_cursor": next_cursor,
            "current": board["equity"],
            "as_of": board["as_of"],
        }

    return await conditional_get(request, context, lambda c: _market_parts(c), build)


@router.get("/trades")
async def trades(
    request: Request,
    context: Context,
    user: User,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Cursor = None,
) -> Response:
    """Closed round trips (flat → position → flat) derived from the fills, newest first."""
    after = as_id(cursor, "cursor")

    def build(conn: Connection) -> dict[str, Any]:
        closed = context.trades.trades(conn, responses.position(conn))
        return book.page(closed, limit=limit, cursor=after)

    return await conditional_get(request, context, projection, build)


@router.get("/performance")
async def performance(request: Request, context: Context, user: User) -> Response:
    """Win rate, PnL, fees, profit factor, drawdown over all closed trades and today's (UTC)."""

    def parts(_: Connection) -> list[Part]:
        return [responses.projection_position(), responses.day()]

    def build(conn: Connection) -> dict[str, Any]:
        return book.performance(context.trades.trades(conn, responses.position(conn)))

    return await conditional_get(request, context, parts, build)
