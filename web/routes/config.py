"""The runtime config: read it with its version, save it naming the version it was read at,
list every version (who, when, what) and roll back to one."""

from __future__ import annotations

from typing import Any

import structlog
from fastapi import APIRouter, HTTPException
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from aggregates.config import VersionConflict
from alphaengine.runtime_config import (
    ConfigError,
    config_history,
    parse_config,
    roll_back_config,
    save_config,
    stored_config,
)
from web.context import Context, User
from web.services.encoding import iso

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


@router.get("")
async def get_config(context: Context, user: User) -> dict[str, Any]:
    """The latest version. `error` says why it cannot load (the bot then refuses to trade)."""

    def read(conn: Any) -> dict[str, Any]:
        stored = stored_config(conn)
        try:
            body = stored.parsed().model_dump(mode="json")
            error = None
        except ConfigError as exc:
            body, error = stored.body, str(exc)
        return {
            "version": stored.version,
            "config": body,
            "updated_at": iso(stored.updated_at),
            "updated_by": stored.updated_by or None,
            "error": error,
        }

    return await context.database.read_async(read)


def _invalid(exc: ConfigError) -> JSONResponse:
    errors = [
        {"loc": ["body", "config", *f["field"].split(".")], "msg": f["message"]} for f in exc.fields
    ]
    message = "; ".join(f"body.config.{f['field']}: {f['message']}" for f in exc.fields)
    return JSONResponse({"detail": errors, "message": message or str(exc)}, 422)


@router.put("")
async def put_config(body: ConfigUpdate, context: Context, user: User) -> Any:
    try:
        config = parse_config(body.config, origin="config")
    except ConfigError as exc:
        return _invalid(exc)
    trading = await run_in_threadpool(context.trading)
    try:
        version = await run_in_threadpool(
            save_config,
            trading,
            context.database.engine,
            config,
            expected_version=body.version,
            by=user,
        )
    except VersionConflict as exc:
        raise HTTPException(409, str(exc)) from exc
    log.info("runtime config saved", version=version, user=user)
    return {"version": version, "config": config.model_dump(mode="json")}


@router.get("/history")
async def history(context: Context, user: User) -> dict[str, Any]:
    """Every version, newest first, with who made it and when."""
    trading = await run_in_threadpool(context.trading)
    versions = await run_in_threadpool(config_history, trading)
    return {
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


@router.post("/rollback")
async def rollback(body: Rollback, context: Context, user: User) -> Any:
    """A new version carrying an older version's body (the history keeps both)."""
    trading = await run_in_threadpool(context.trading)
    versions = await run_in_threadpool(config_history, trading)
    target = next((v for v in versions if v.version == body.to_version), None)
    if target is None or body.to_version >= body.version:
        raise HTTPException(422, f"body.to_version: no earlier version {body.to_version}")
    try:
        parse_config(target.body, origin=f"version {target.version}")
    except ConfigError as exc:
        return _invalid(exc)
    try:
        version = await run_in_threadpool(
            roll_back_config,
            trading,
            context.database.engine,
            body.to_version,
            expected_version=body.version,
            by=user,
        )
    except VersionConflict as exc:
        raise HTTPException(409, str(exc)) from exc
    log.info("runtime config rolled back", version=version, to=body.to_version, user=user)
    return {"version": version, "config": target.body}
