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
from starlette.types import ASGIApp

from alphaengine.settings import Settings
from alphaengine.storage_full import is_storage_full
from web.auth import (
    ACCESS_TTL,
    REFRESH_TTL,
    SESSION_LIFETIME,
    LoginRateLimiter,
    Tokens,
    admin_password_hash,
    jwt_secret,
)
from web.context import WebContext
from web.routes import account, auth, commands, config, docs, events, health, pages, state
from web.routes import metrics as metrics_routes
from web.services.commands import PayloadInvalid
from web.services.database import Database, DatabaseBusy, DatabaseUnavailable
from web.services.guards import LoadShedding, SecurityHeaders
from web.services.sessions import Sessions

RETRY_AFTER = 1  # seconds a shed or busy request is told to wait

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

    @app.exception_handler(DatabaseBusy)
    async def _busy(request: Request, exc: DatabaseBusy) -> JSONResponse:
        log.warning("database busy", path=request.url.path)
        return JSONResponse(
            {"detail": "busy; retry shortly"}, 503, headers={"Retry-After": str(RETRY_AFTER)}
        )

    @app.exception_handler(DatabaseUnavailable)
    @app.exception_handler(SQLAlchemyError)
    @app.exception_handler(PersistenceError)
    async def _database(request: Request, exc: Exception) -> JSONResponse:
        if is_storage_full(exc):
            log.error("database storage full", path=request.url.path)
            return JSONResponse(
                {
                    "detail": "the database's storage is full: nothing was recorded; "
                    "free disk space, then retry"
                },
                503,
                headers={"Retry-After": str(RETRY_AFTER)},
            )
        reason = type(exc.orig).__name__ if isinstance(exc, DBAPIError) else type(exc).__name__
        log.error("database error", path=request.url.path, error=reason)
        return JSONResponse(
            {"detail": f"database unavailable ({reason}); retry shortly"},
            503,
            headers={"Retry-After": str(RETRY_AFTER)},
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        # A bug, not bad input: logged with its traceback, answered without internals.
        log.exception("unhandled error", path=request.url.path)
        return JSONResponse({"detail": "internal error; it was logged"}, 500)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        body: dict[str, Any] = {"detail": exc.detail}
        if exc.status_code == 422 and isinstance(exc.detail, str):
            body["message"] = exc.detail  # like a validation error: the field, then why
        return JSONResponse(body, exc.status_code, headers=exc.headers)


class _WebApp(FastAPI):
    """FastAPI with the security headers outside everything, its error pages included."""

    def build_middleware_stack(self) -> ASGIApp:
        return SecurityHeaders(super().build_middleware_stack())


def create_app(
    settings: Settings,
    *,
    login_attempts: int = 5,
    login_window: float = 60.0,
    access_ttl: timedelta = ACCESS_TTL,
    refresh_ttl: timedelta = REFRESH_TTL,
    session_lifetime: timedelta = SESSION_LIFETIME,
    stream_interval: float = 1.0,
) -> FastAPI:
    database = Database(settings.database_url)
    tokens = Tokens(
        jwt_secret(settings),
        access_ttl=access_ttl,
        refresh_ttl=refresh_ttl,
        session_lifetime=session_lifetime,
    )
    context = WebContext(
        settings=settings,
        database=database,
        tokens=tokens,
        sessions=Sessions(database, tokens, admin_password_hash(settings)),
        limiter=LoginRateLimiter(login_attempts, login_window),
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        log.info("web started", mode=settings.mode)
        try:
            yield
        finally:
            context.close()

    app = _WebApp(
        title="AlphaEngine",
        description="Read the engine's state, file Commands, edit the runtime config.",
        version="0.1.0",
        lifespan=lifespan,
        docs_url=None,  # served by web.routes.docs, with assets from this origin
        redoc_url=None,
        max_body_size=settings.web.max_body_bytes,
    )
    app.state.context = context
    app.state.stream_interval = stream_interval
    if settings.web.cors_origins:
        # Closed unless origins are listed in secrets.yaml: the API holds an account's keys.
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.web.cors_origins,
            allow_methods=["GET", "POST", "PUT"],
            allow_headers=["Authorization", "Content-Type", "Idempotency-Key", "If-None-Match"],
            expose_headers=["ETag", "Retry-After"],
        )
    app.add_middleware(LoadShedding, limit=settings.web.max_in_flight, retry_after=RETRY_AFTER)
    _install_error_handlers(app)
    for module in (health, auth, account, events, commands, config, state, docs, pages):
        app.include_router(module.router)
    app.include_router(metrics_routes.router)
    pages.mount_static(app)
    return app
