"""GET /health: liveness and readiness, without a token (for probes and the dashboard)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import structlog
from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy.exc import SQLAlchemyError

from web.context import Context
from web.services import health as health_service
from web.services.database import DatabaseBusy
from web.services.encoding import iso

log = structlog.get_logger(__name__)
router = APIRouter(tags=["health"])


@router.get("/health")
async def get_health(context: Context) -> Any:
    mode = context.settings.mode
    try:
        return await context.database.read_async(lambda c: health_service.report(c, mode=mode))
    except (SQLAlchemyError, DatabaseBusy) as exc:
        log.error("health: database unreachable", error=type(exc).__name__)
        return JSONResponse(
            {
                "status": "unavailable",
                "live": True,
                "ready": False,
                "database": f"unreachable ({type(exc).__name__})",
                "mode": mode,
                "time": iso(datetime.now(UTC)),
            },
            status_code=503,
        )
