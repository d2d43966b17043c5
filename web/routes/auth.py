"""POST /api/auth/login and /api/auth/refresh: the only /api routes without a token."""

from __future__ import annotations

import hmac
import math
from typing import Any

import structlog
from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from web.auth import ADMIN_USERNAME, AuthError, verify_password
from web.context import Context

log = structlog.get_logger(__name__)
router = APIRouter(prefix="/api/auth", tags=["auth"])


class Login(BaseModel):
    model_config = ConfigDict(extra="forbid")
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=256)


class Refresh(BaseModel):
    model_config = ConfigDict(extra="forbid")
    refresh_token: str = Field(min_length=1, max_length=4096)


@router.post("/login")
async def login(body: Login, request: Request, context: Context) -> dict[str, Any]:
    client = request.client.host if request.client else "unknown"
    wait = context.limiter.check(client)
    if wait > 0:
        log.warning("login rate-limited", client=client)
        raise HTTPException(
            429,
            "too many login attempts; try again later",
            headers={"Retry-After": str(max(1, math.ceil(wait)))},
        )
    # Always verify (even for a wrong username) so timing does not reveal which part was wrong.
    password_ok = await run_in_threadpool(verify_password, context.password_hash, body.password)
    user_ok = hmac.compare_digest(body.username.encode(), ADMIN_USERNAME.encode())
    if not (password_ok and user_ok):
        log.warning("login refused", client=client)
        raise HTTPException(401, "wrong username or password")
    log.info("login", user=body.username, client=client)
    return {**context.tokens.issue(body.username).as_dict(), "username": body.username}


@router.post("/refresh")
async def refresh(body: Refresh, context: Context) -> dict[str, Any]:
    try:
        subject = context.tokens.verify(body.refresh_token, "refresh")
    except AuthError as exc:
        raise HTTPException(401, str(exc), headers={"WWW-Authenticate": "Bearer"}) from exc
    return {**context.tokens.issue(subject).as_dict(), "username": subject}
