"""The runtime config: read it with its version, save it naming the version it was read at,
list every version (who, when, what) and roll back to one."""

from __future__ import annotations

from typing import Any

import structlog
from fastapi import APIRouter, HTTPException, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import Connection

from aggregates.config import VersionConflict
from alphaengine.runtime_config import (
    ConfigError,
    config_history,
    parse_config,
    roll_back_config,
    save_config,
)
from alphaengine.trading import Trading
from web.context import Context, User
from web.routes.conditional import JSON, conditional_get
from web.services import responses
from web.services.config import shown_config
from web.services.encoding import iso
from web.services.responses import Part

log = structlog.get_logger(__name__)
router = APIRouter(prefix="/api/config", tags=["config"])


class ConfigUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    version: int = Field(ge=0, description="the version this config was read at")
    config: dict[str, Any]
    # Accepted so a GET body can be edited and sent back as it is; not stored.
    updated_at: str | None = None
    updated_by: str | None = None
    error: str | None = None


class Rollback(BaseModel):
    model_config = ConfigDict(extra="forbid")
    version: int = Field(ge=1, description="the latest version, as read")
    to_version: int = Field(ge=1, description="the version whose body becomes the new latest")


def _config_parts(_: Connection) -> list[Part]:
    return [responses.config_version()]


def _shown(conn: Connection) -> dict[str, Any]:
    shown = shown_config(conn)
    return {
        "version": shown.version,
        "config": shown.config.model_dump(mode="json") if shown.config else shown.body,
        "updated_at": iso(shown.updated_at),
        "updated_by": shown.updated_by or None,
        "error": shown.error,
    }


@router.get("")
async def get_config(request: Request, context: Context, user: User) -> Response:
    """The latest version. `error` says why it cannot load (the bot then refuses to trade)."""
    return await conditional_get(request, context, _config_parts, _shown)


def _invalid(exc: ConfigError) -> JSONResponse:
    errors = [
        {"loc": ["body", "config", *f["field"].split(".")], "msg": f["message"]} for f in exc.fields
    ]
    message = "; ".join(f"body.config.{f['field']}: {f['message']}" for f in exc.fields)
    return JSONResponse({"detail": errors, "message": message or str(exc)}, 422)


def _table_engine(trading: Trading) -> Any:
    # The config table is written through the Trading app's own engine, in the Trading app's
    # threads: those never hold a connection of the web's read or write pools.
    return trading.recorder.datastore.engine  # type: ignore[attr-defined]


@router.put("")
async def put_config(body: ConfigUpdate, context: Context, user: User) -> Any:
    try:
        config = parse_config(body.config, origin="config")
    except ConfigError as exc:
        return _invalid(exc)
    try:
        version = await context.with_trading(
            lambda trading: save_config(
                trading, _table_engine(trading), config, expected_version=body.version, by=user
            )
        )
    except VersionConflict as exc:
        raise HTTPException(409, str(exc)) from exc
    log.info("runtime config saved", version=version, user=user)
    return {"version": version, "config": config.model_dump(mode="json")}


@router.get("/history")
async def history(request: Request, context: Context, user: User) -> Response:
    """Every version, newest first, with who made it and when."""
    tag = await context.database.read_async(
        lambda conn: responses.etag(
            "/api/config/history?", responses.stamp(conn, [responses.event_store_head()])
        )
    )
    if responses.matches(request.headers.get("if-none-match"), tag):
        return Response(status_code=304, headers={"ETag": tag})
    versions = await context.with_trading(config_history)
    body = {
        "items": [
            {
                "version": v.version,
                "at": iso(v.at),
                "by": v.by,
                "change": v.change,
                "rolled_back_to": v.rolled_back_to,
                "config": v.body,
            }
            for v in reversed(versions)
        ]
    }
    return Response(responses.encode(body), media_type=JSON, headers={"ETag": tag})


@router.post("/rollback")
async def rollback(body: Rollback, context: Context, user: User) -> Any:
    """A new version carrying an older version's body (the history keeps both)."""
    versions = await context.with_trading(config_history)
    target = next((v for v in versions if v.version == body.to_version), None)
    if target is None or body.to_version >= body.version:
        raise HTTPException(422, f"body.to_version: no earlier version {body.to_version}")
    try:
        parse_config(target.body, origin=f"version {target.version}")
    except ConfigError as exc:
        return _invalid(exc)
    try:
        version = await context.with_trading(
            lambda trading: roll_back_config(
                trading,
                _table_engine(trading),
                body.to_version,
                expected_version=body.version,
                by=user,
            )
        )
    except VersionConflict as exc:
        raise HTTPException(409, str(exc)) from exc
    log.info("runtime config rolled back", version=version, to=body.to_version, user=user)
    return {"version": version, "config": target.body}
