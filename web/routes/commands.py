"""Commands: list, look up, and file one (idempotent by the Idempotency-Key header)."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

import structlog
from eventsourcing.application import AggregateNotFoundError
from fastapi import APIRouter, Header, HTTPException, Query, Request, Response
from fastapi.responses import JSONResponse
from sqlalchemy import Connection

from aggregates.command import Command, CommandKind, CommandStatus
from alphaengine.trading import Trading
from projections.jsonable import jsonable
from web.context import Context, User
from web.routes.conditional import JSON, conditional_get, projection
from web.routes.params import Cursor, as_id
from web.services import commands as service
from web.services import feed, responses
from web.services.responses import Part

log = structlog.get_logger(__name__)
router = APIRouter(prefix="/api/commands", tags=["commands"])


@router.get("")
async def list_commands(
    request: Request,
    context: Context,
    user: User,
    status: CommandStatus | None = None,
    kind: CommandKind | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Cursor = None,
) -> Response:
    """Newest first, as projected (a Command filed a moment ago may not be listed yet)."""
    before = as_id(cursor, "cursor")

    def build(conn: Connection) -> dict[str, Any]:
        items, next_cursor = feed.commands(
            conn,
            status=status.value if status else None,
            kind=kind.value if kind else None,
            limit=limit,
            cursor=before,
        )
        return {"items": items, "next_cursor": next_cursor}

    return await conditional_get(request, context, projection, build)


def _stamp_parts(_: Connection) -> list[Part]:
    return [responses.projection_position(), responses.event_store_head()]


def _from_store(trading: Trading, command_id: UUID) -> dict[str, Any] | None:
    try:
        aggregate: Any = trading.repository.get(command_id)
    except AggregateNotFoundError:
        return None
    return aggregate.as_dict() if isinstance(aggregate, Command) else None


@router.get("/{command_id}")
async def get_command(command_id: UUID, request: Request, context: Context, user: User) -> Response:
    """From the read model, or from the event store while it is not projected yet."""
    key = f"{request.url.path}?"

    def read(conn: Connection) -> tuple[str, dict[str, Any] | None]:
        tag = responses.etag(key, responses.stamp(conn, _stamp_parts(conn)))
        return tag, feed.command(conn, command_id)

    tag, found = await context.database.read_async(read)
    if responses.matches(request.headers.get("if-none-match"), tag):
        return Response(status_code=304, headers={"ETag": tag})
    if found is None:
        # Filed a moment ago and not projected yet: the event store has it already. Asked with
        # no read connection held (the Trading app has its own pool).
        found = await context.with_trading(lambda trading: _from_store(trading, command_id))
        if found is None:
            raise HTTPException(404, f"no command {command_id}")
    return Response(responses.encode(jsonable(found)), media_type=JSON, headers={"ETag": tag})


@router.post("", status_code=202)
async def post_command(
    body: service.CommandRequest,
    context: Context,
    user: User,
    idempotency_key: Annotated[
        str,
        Header(
            min_length=1,
            max_length=128,
            pattern=r"^[\x21-\x7e]+$",
            description="any unique string per intended action; resending it returns the same "
            "Command",
        ),
    ],
) -> JSONResponse:
    payload = service.validated_payload(body)
    try:
        command_id, new, command = await context.with_trading(
            lambda trading: service.submit(
                trading, body.kind, payload, username=user, key=idempotency_key
            )
        )
    except service.IdempotencyConflict as exc:
        raise HTTPException(409, str(exc)) from exc
    log.info("command filed", kind=body.kind.value, command_id=str(command_id), new=new)
    url = f"/api/commands/{command_id}"
    return JSONResponse(
        {"id": str(command_id), "status": command["status"], "status_url": url, "created": new},
        status_code=202,
        headers={"Location": url},
    )
