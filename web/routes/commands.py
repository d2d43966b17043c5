"""Commands: list, look up, and file one (idempotent by the Idempotency-Key header)."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

import structlog
from fastapi import APIRouter, Header, HTTPException, Query
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from aggregates.command import CommandKind, CommandStatus
from web.context import Context, User
from web.routes.params import MAX_ID
from web.services import commands as service
from web.services import feed

log = structlog.get_logger(__name__)
router = APIRouter(prefix="/api/commands", tags=["commands"])


@router.get("")
async def list_commands(
    context: Context,
    user: User,
    status: CommandStatus | None = None,
    kind: CommandKind | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: Annotated[int, Query(ge=0, le=MAX_ID)] = 0,
) -> dict[str, Any]:
    items = await context.database.read_async(
        lambda c: feed.commands(
            c,
            status=status.value if status else None,
            kind=kind.value if kind else None,
            limit=limit,
            offset=offset,
        )
    )
    return {"items": items}


@router.get("/{command_id}")
async def get_command(command_id: UUID, context: Context, user: User) -> dict[str, Any]:
    found = await context.database.read_async(lambda c: feed.command(c, command_id))
    if found is not None:
        return found
    # Filed a moment ago and not projected yet: the event store has it already.
    trading = await run_in_threadpool(context.trading)
    try:
        command = await run_in_threadpool(trading.get_command, command_id)
    except Exception as exc:
        raise HTTPException(404, f"no command {command_id}") from exc
    return command.as_dict()


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
    trading = await run_in_threadpool(context.trading)
    try:
        command_id, new, command = await run_in_threadpool(
            service.submit, trading, body.kind, payload, username=user, key=idempotency_key
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
