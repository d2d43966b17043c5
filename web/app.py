"""The FastAPI application: the API under /api, /health, and the dashboard's pages."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from typing import Any

import structlog
from eventsourcing.persistence import PersistenceError
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from starlette.exceptions import HTTPException as StarletteHTTPException

from alphaengine.settings import Settings
from web.auth import (
    ACCESS_TTL,
    REFRESH_TTL,
    LoginRateLimiter,
    Tokens,
    admin_password_hash,
    jwt_secret,
)
from web.context import WebContext
from web.routes import account, auth, commands, config, events, health, pages, state
from web.routes import metrics as metrics_routes
from web.services.commands import PayloadInvalid
from web.services.database import Database, DatabaseUnavailable

log = structlog.get_logger(__name__)


def _field_message(errors: list[Any]) -> str:
    parts = []
    for error in errors:
        loc = ".".join(str(p) for p in error.get("loc", ()))
        parts.append(f"{loc}: {error.get('msg', 'invalid')}")
    return "; ".join(parts)


def _clean_errors(errors: Any) -> list[dict[str, Any]]:
    # Drop the echoed input and context: they can hold a password and are not JSON-safe.
    return [
        {"loc": list(e.get("loc", ())), "msg": e.get("msg"), "type": e.get("type")} for e in errors
    ]


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = _clean_errors(exc.errors())
        return JSONResponse({"detail": errors, "message": _field_message(errors)}, 422)

    @app.exception_handler(PayloadInvalid)
    async def _bad_payload(request: Request, exc: PayloadInvalid) -> JSONResponse:
        return JSONResponse({"detail": exc.errors, "message": _field_message(exc.errors)}, 422)

    @app.exception_handler(DatabaseUnavailable)
    @app.exception_handler(SQLAlchemyError)
    @app.exception_handler(PersistenceError)
    async def _database(request: Request, exc: Exception) -> JSONResponse:
        reason = type(exc.orig).__name__ if isinstance(exc, DBAPIError) else type(exc).__name__
        log.error("database error", path=request.url.path, error=reason)
        return JSONResponse({"detail": f"database unavailable ({reason}); retry shortly"}, 503)

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        # A bug, not bad input: logged with its traceback, answered without internals.
        log.exception("unhandled error", path=request.url.path)
        return JSONResponse({"detail": "internal error; it was logged"}, 500)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return JSONResponse({"detail": exc.detail}, exc.status_code, headers=exc.headers)


def create_app(
    settings: Settings,
    *,
    login_attempts: int = 5,
    login_window: float = 60.0,
    access_ttl: timedelta = ACCESS_TTL,
    refresh_ttl: timedelta = REFRESH_TTL,
    stream_interval: float = 1.0,
) -> FastAPI:
    context = WebContext(
        settings=settings,
        database=Database(settings.database_url),
        tokens=Tokens(jwt_secret(settings), access_ttl=access_ttl, refresh_ttl=refresh_ttl),
        password_hash=admin_password_hash(settings),
        limiter=LoginRateLimiter(login_attempts, login_window),
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        log.info("web started", mode=settings.mode)
        try:
            yield
        finally:
            context.close()

    app = FastAPI(
        title="AlphaEngine",
        description="Read the engine's state, file Commands, edit the runtime config.",
        version="0.1.0",
        lifespan=lifespan,
    )
    app.state.context = context
    app.state.stream_interval = stream_interval
    if settings.web.cors_origins:
        # Closed unless origins are listed in secrets.yaml: the API holds an account's keys.
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.web.cors_origins,
            allow_methods=["GET", "POST", "PUT"],
            allow_headers=["Authorization", "Content-Type", "Idempotency-Key"],
        )
    _install_error_handlers(app)
    for module in (health, auth, account, events, commands, config, state, pages):
        app.include_router(module.router)
    app.include_router(metrics_routes.router)
    pages.mount_static(app)
    return app
