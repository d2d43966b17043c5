"""Sign in and out: login, refresh (rotating), logout, password change.

Login and refresh are the only /api routes without an access token. Rate limits count per client
address: the socket's peer, or the address a trusted proxy (`web.trusted_proxies`) forwarded.
"""

from __future__ import annotations

import hmac
import math
from typing import Annotated, Any

import structlog
from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel, ConfigDict, Field

from web.auth import ADMIN_USERNAME, AuthError, hash_password, verify_password
from web.context import Context, Session

log = structlog.get_logger(__name__)
router = APIRouter(prefix="/api/auth", tags=["auth"])


class Login(BaseModel):
    model_config = ConfigDict(extra="forbid")
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=256)


class Refresh(BaseModel):
    model_config = ConfigDict(extra="forbid")
    refresh_token: str = Field(min_length=1, max_length=4096)


class Logout(BaseModel):
    model_config = ConfigDict(extra="forbid")
    refresh_token: str | None = Field(default=None, min_length=1, max_length=4096)


class PasswordChange(BaseModel):
    model_config = ConfigDict(extra="forbid")
    current_password: str = Field(min_length=1, max_length=256)
    new_password: str = Field(min_length=12, max_length=256)


def _client(request: Request) -> str:
    # request.client is the real client: uvicorn's proxy-header handling rewrites it only for
    # connections from web.trusted_proxies.
    return request.client.host if request.client else "unknown"


def _count_attempt(context: Any, key: str) -> None:
    wait = context.limiter.check(key)
    if wait > 0:
        log.warning("auth rate-limited", client=key)
        raise HTTPException(
            429,
            "too many attempts; try again later",
            headers={"Retry-After": str(max(1, math.ceil(wait)))},
        )


def _refused(exc: AuthError) -> HTTPException:
    return HTTPException(401, str(exc), headers={"WWW-Authenticate": "Bearer"})


@router.post("/login")
async def login(body: Login, request: Request, context: Context) -> dict[str, Any]:
    client = _client(request)
    _count_attempt(context, client)
    # Always verify (even for a wrong username) so timing does not reveal which part was wrong.
    password_hash = await context.sessions.password_hash()
    password_ok = await context.password_work(lambda: verify_password(password_hash, body.password))
    user_ok = hmac.compare_digest(body.username.encode(), ADMIN_USERNAME.encode())
    if not (password_ok and user_ok):
        log.warning("login refused", client=client)
        raise HTTPException(401, "wrong username or password")
    pair = await context.sessions.login(body.username)
    log.info("login", user=body.username, client=client)
    return {**pair.as_dict(), "username": body.username}


@router.post("/refresh")
async def refresh(body: Refresh, context: Context) -> dict[str, Any]:
    """New tokens; the refresh token presented is spent (a second use ends the session)."""
    try:
        claims = context.tokens.verify(body.refresh_token, "refresh")
        pair = await context.sessions.refresh(claims)
    except AuthError as exc:
        log.warning("refresh refused", reason=str(exc))
        raise _refused(exc) from exc
    return {**pair.as_dict(), "username": claims.subject}


_optional_bearer = HTTPBearer(auto_error=False)


@router.post("/logout")
async def logout(
    context: Context,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_optional_bearer)],
    body: Logout | None = None,
) -> dict[str, Any]:
    """End the session of the access token (Authorization) and/or the refresh token (body).

    Expired tokens are accepted here: ending a session needs proof of holding one of its
    tokens, not a live one.
    """
    families: set[str] = set()
    try:
        if credentials is not None:
            families.add(
                context.tokens.verify(credentials.credentials, "access", allow_expired=True).family
            )
        if body is not None and body.refresh_token is not None:
            families.add(
                context.tokens.verify(body.refresh_token, "refresh", allow_expired=True).family
            )
    except AuthError as exc:
        raise _refused(exc) from exc
    if not families:
        raise _refused(AuthError("send the access token (Authorization) or the refresh token"))
    await context.sessions.logout(families)
    log.info("logout", sessions=len(families))
    return {"logged_out": True}


@router.post("/password")
async def change_password(
    body: PasswordChange, request: Request, context: Context, claims: Session
) -> dict[str, Any]:
    """Check the current password, store the new one (argon2 hash), end every session."""
    _count_attempt(context, f"password:{_client(request)}")
    if body.new_password == body.current_password:
        raise HTTPException(422, "body.new_password: must differ from the current password")
    password_hash = await context.sessions.password_hash()
    ok = await context.password_work(lambda: verify_password(password_hash, body.current_password))
    if not ok:
        log.warning("password change refused", user=claims.subject)
        raise HTTPException(403, "body.current_password: wrong password")
    new_hash = await context.password_work(lambda: hash_password(body.new_password))
    await context.sessions.change_password(new_hash)
    log.info("password changed; every session ended", user=claims.subject)
    return {"changed": True, "detail": "password changed; every session ended, log in again"}
