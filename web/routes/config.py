"""The runtime config: read it with its version, save it naming the version it was read at."""

from __future__ import annotations

from typing import Any

import structlog
from fastapi import APIRouter, HTTPException
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from alphaengine.runtime_config import ConfigError, ConfigStore, VersionConflict, parse_config
from projections.schema import runtime_config
from web.context import Context, User
from web.services.encoding import row_dict

log = structlog.get_logger(__name__)
router = APIRouter(prefix="/api/config", tags=["config"])


class ConfigUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    version: int = Field(ge=0, description="the version this config was read at")
    config: dict[str, Any]
    # Accepted so a GET body can be edited and sent back as it is; not stored.
    updated_at: str | None = None
    updated_by: str | None = None


@router.get("")
async def get_config(context: Context, user: User) -> dict[str, Any]:
    def read(conn: Any) -> dict[str, Any]:
        version, config = ConfigStore(conn.engine).get()
        row = conn.execute(select(runtime_config.c.updated_at, runtime_config.c.updated_by)).first()
        meta = row_dict(row) if row is not None else {"updated_at": None, "updated_by": None}
        return {"version": version, "config": config.model_dump(mode="json"), **meta}

    return await context.database.read_async(read)


@router.put("")
async def put_config(body: ConfigUpdate, context: Context, user: User) -> Any:
    try:
        config = parse_config(body.config, origin="config")
    except ConfigError as exc:
        errors = [
            {"loc": ["body", "config", *f["field"].split(".")], "msg": f["message"]}
            for f in exc.fields
        ]
        message = "; ".join(f"body.config.{f['field']}: {f['message']}" for f in exc.fields)
        return JSONResponse({"detail": errors, "message": message}, 422)
    store = ConfigStore(context.database.engine)
    try:
        version = await run_in_threadpool(store.put, config, expected_version=body.version, by=user)
    except VersionConflict as exc:
        raise HTTPException(409, str(exc)) from exc
    log.info("runtime config saved", version=version, user=user)
    return {"version": version, "config": config.model_dump(mode="json")}
