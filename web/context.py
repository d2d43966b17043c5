"""What every request handler needs: settings, the database, the Trading app, tokens, limits."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated, ParamSpec, TypeVar

import anyio
import anyio.to_thread
from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from alphaengine.bootstrap import open_trading
from alphaengine.settings import Settings
from alphaengine.trading import Trading
from web.auth import AuthError, Claims, LoginRateLimiter, Tokens
from web.services.database import Database
from web.services.responses import ResponseCache
from web.services.sessions import Sessions
from web.services.trades import TradeBook

P = ParamSpec("P")
R = TypeVar("R")

# Threads that may use the Trading application at once. Its engine has its own pool (the
# library's default, 5 + 10 overflow), larger than this, so these threads never wait for a
# connection; and none of them holds a read connection (requests call Trading only after
# their reads are done, never from inside one).
TRADING_THREADS = 4


@dataclass
class WebContext:
    settings: Settings
    database: Database
    tokens: Tokens
    sessions: Sessions
    limiter: LoginRateLimiter
    responses: ResponseCache = field(default_factory=ResponseCache)
    trades: TradeBook = field(default_factory=TradeBook)
    _trading: Trading | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _trading_threads: anyio.CapacityLimiter = field(
        default_factory=lambda: anyio.CapacityLimiter(TRADING_THREADS)
    )
    # argon2 (the library's defaults) takes 64 MiB per hash or check: one at a time keeps the
    # web's memory bounded however many logins arrive together.
    password_threads: anyio.CapacityLimiter = field(
        default_factory=lambda: anyio.CapacityLimiter(1)
    )

    async def password_work(self, work: Callable[[], R]) -> R:
        return await anyio.to_thread.run_sync(work, limiter=self.password_threads)

    def trading(self) -> Trading:
        """The Trading app, opened on first use (synchronous: call from a worker thread)."""
        with self._lock:
            if self._trading is None:
                self._trading = open_trading(self.settings)
            return self._trading

    async def with_trading(self, work: Callable[[Trading], R]) -> R:
        """Run `work(trading)` in a worker thread reserved for the Trading application."""
        return await anyio.to_thread.run_sync(
            lambda: work(self.trading()), limiter=self._trading_threads
        )

    def close(self) -> None:
        with self._lock:
            if self._trading is not None:
                self._trading.close()
                self._trading = None
        self.database.close()


def get_context(request: Request) -> WebContext:
    context: WebContext = request.app.state.context
    return context


_bearer = HTTPBearer(auto_error=False, description="The access token from /api/auth/login")


def _unauthorized(message: str) -> HTTPException:
    return HTTPException(401, message, headers={"WWW-Authenticate": "Bearer"})


async def current_claims(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Claims:
    # async on purpose: a signature check and two set lookups; a worker thread would cost more.
    context = get_context(request)
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise _unauthorized("missing bearer token")
    try:
        claims = context.tokens.verify(credentials.credentials, "access")
        await context.sessions.ensure_fresh()
        context.sessions.check(claims)
    except AuthError as exc:
        raise _unauthorized(str(exc)) from exc
    return claims


async def current_user(claims: Annotated[Claims, Depends(current_claims)]) -> str:
    return claims.subject


async def _context(request: Request) -> WebContext:
    return get_context(request)


Context = Annotated[WebContext, Depends(_context)]
User = Annotated[str, Depends(current_user)]
Session = Annotated[Claims, Depends(current_claims)]
