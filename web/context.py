"""What every request handler needs: settings, the database, the Trading app, tokens, limits."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from alphaengine.bootstrap import open_trading
from alphaengine.settings import Settings
from alphaengine.trading import Trading
from web.auth import AuthError, LoginRateLimiter, Tokens
from web.services.database import Database


@dataclass
class WebContext:
    settings: Settings
    database: Database
    tokens: Tokens
    password_hash: str
    limiter: LoginRateLimiter
    _trading: Trading | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def trading(self) -> Trading:
        """The Trading app, opened on first use (synchronous: call from a threadpool)."""
        with self._lock:
            if self._trading is None:
                self._trading = open_trading(self.settings)
            return self._trading

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


def current_user(
    context: Annotated[WebContext, Depends(get_context)],
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> str:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise HTTPException(401, "missing bearer token", headers={"WWW-Authenticate": "Bearer"})
    try:
        return context.tokens.verify(credentials.credentials, "access")
    except AuthError as exc:
        raise HTTPException(401, str(exc), headers={"WWW-Authenticate": "Bearer"}) from exc


Context = Annotated[WebContext, Depends(get_context)]
User = Annotated[str, Depends(current_user)]
