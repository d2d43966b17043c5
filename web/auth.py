"""Who may use the web: the admin password (argon2 hash only), JWT tokens, login rate limits.

The password hash comes from `web.admin_password_hash` in config/secrets.yaml (or the
environment); in paper mode without one, a random password is generated on first start, shown
once, and only its hash is kept under the data directory; a password changed through the API
is kept in the database (web.services.sessions). Tokens are HS256 JWTs: a short-lived access
token for every /api call and a longer refresh token that can only buy new tokens, once.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import threading
import time
import uuid
from collections import OrderedDict, deque
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import jwt
import structlog
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from alphaengine.settings import Settings, SettingsError

log = structlog.get_logger(__name__)

ADMIN_USERNAME = "admin"
PASSWORD_HASH_FILE = "web-admin-password.argon2"
JWT_SECRET_FILE = "web-jwt-secret"
ISSUER = "alphaengine"
ALGORITHM = "HS256"
ACCESS_TTL = timedelta(minutes=15)
REFRESH_TTL = timedelta(hours=12)
# A session (one login and its chain of refreshes) ends this long after the login, however
# often it is refreshed.
SESSION_LIFETIME = timedelta(hours=24)
CHECKED_TOKENS = 1024

TokenType = Literal["access", "refresh"]

_hasher = PasswordHasher()


class AuthError(Exception):
    """A token or a password was refused; the message is safe to show (it never echoes input)."""


def _write_private(path: Path, text: str) -> None:
    # Created with 0600 from the start, so the secret is never readable by others, even briefly.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)


def _password_file(settings: Settings) -> Path:
    return settings.data_dir / PASSWORD_HASH_FILE


def ensure_admin_password(settings: Settings) -> str | None:
    """Make sure an admin password exists; return a newly generated one exactly once.

    None when a hash is configured or was generated earlier. Outside paper mode a missing hash
    is a configuration error (a random password printed to a server log is not acceptable there).
    """
    if settings.web.admin_password_hash or _password_file(settings).exists():
        return None
    if settings.mode != "paper":
        raise SettingsError(
            f"{settings.secrets_file}: web.admin_password_hash is required in {settings.mode} "
            "mode (or set ALPHAENGINE_ADMIN_PASSWORD_HASH)"
        )
    password = secrets.token_urlsafe(18)
    try:
        _write_private(_password_file(settings), _hasher.hash(password))
    except FileExistsError:
        return None  # another process generated it at the same moment; theirs counts
    log.info("generated admin password", path=str(_password_file(settings)))
    return password


def admin_password_hash(settings: Settings) -> str:
    if settings.web.admin_password_hash:
        return settings.web.admin_password_hash
    path = _password_file(settings)
    try:
        return path.read_text().strip()
    except FileNotFoundError as exc:
        raise SettingsError(
            f"no admin password: set web.admin_password_hash in {settings.secrets_file} "
            f"or start once in paper mode to generate one under {settings.data_dir}"
        ) from exc


def jwt_secret(settings: Settings) -> str:
    """The configured secret, or one generated once and kept (mode 0600) in the data dir."""
    if settings.web.jwt_secret:
        return settings.web.jwt_secret
    path = settings.data_dir / JWT_SECRET_FILE
    if not path.exists():
        # Written concurrently by the other process: FileExistsError, read theirs.
        with contextlib.suppress(FileExistsError):
            _write_private(path, secrets.token_urlsafe(48))
    return path.read_text().strip()


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except VerifyMismatchError:
        return False
    except (VerificationError, InvalidHashError):
        log.error("admin password hash is not a valid argon2 hash")
        return False


@dataclass(frozen=True)
class TokenPair:
    access_token: str
    refresh_token: str
    expires_in: int
    family: str
    refresh_jti: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "access_token": self.access_token,
            "refresh_token": self.refresh_token,
            "token_type": "bearer",
            "expires_in": self.expires_in,
        }


@dataclass(frozen=True)
class Claims:
    subject: str
    kind: TokenType
    jti: str
    family: str
    generation: int
    expires_at: datetime


def new_id() -> str:
    return uuid.uuid4().hex


class Tokens:
    """Signs and checks tokens. Every token names its session (`fam`) and the token generation
    (`gen`) it was issued under; web.sessions decides whether those are still good."""

    def __init__(
        self,
        secret: str,
        *,
        access_ttl: timedelta = ACCESS_TTL,
        refresh_ttl: timedelta = REFRESH_TTL,
        session_lifetime: timedelta = SESSION_LIFETIME,
    ) -> None:
        self._secret = secret
        self.access_ttl = access_ttl
        self.refresh_ttl = refresh_ttl
        self.session_lifetime = session_lifetime
        # Access tokens already checked, by their exact text: a dashboard sends the same one
        # with every request, and a signature check plus decoding is a tenth of a request's
        # CPU. Expiry is still checked every time; revocation is web.services.sessions'.
        self._checked: OrderedDict[str, Claims] = OrderedDict()
        self._checked_lock = threading.Lock()

    def _encode(
        self,
        subject: str,
        kind: TokenType,
        *,
        now: datetime,
        expires: datetime,
        jti: str,
        family: str,
        generation: int,
    ) -> str:
        claims = {
            "sub": subject,
            "type": kind,
            "iss": ISSUER,
            "iat": now,
            "exp": expires,
            "jti": jti,
            "fam": family,
            "gen": generation,
        }
        return jwt.encode(claims, self._secret, algorithm=ALGORITHM)

    def issue(
        self,
        subject: str,
        *,
        now: datetime | None = None,
        family: str | None = None,
        generation: int = 0,
        session_expires: datetime | None = None,
        refresh_jti: str | None = None,
    ) -> TokenPair:
        """An access and a refresh token of one session; neither outlives `session_expires`."""
        at = now or datetime.now(UTC)
        family = family or new_id()
        ends = session_expires or at + self.session_lifetime
        refresh_jti = refresh_jti or new_id()
        return TokenPair(
            access_token=self._encode(
                subject,
                "access",
                now=at,
                expires=min(at + self.access_ttl, ends),
                jti=new_id(),
                family=family,
                generation=generation,
            ),
            refresh_token=self._encode(
                subject,
                "refresh",
                now=at,
                expires=min(at + self.refresh_ttl, ends),
                jti=refresh_jti,
                family=family,
                generation=generation,
            ),
            expires_in=int(self.access_ttl.total_seconds()),
            family=family,
            refresh_jti=refresh_jti,
        )

    def verify(self, token: str, kind: TokenType, *, allow_expired: bool = False) -> Claims:
        """The token's claims, or AuthError saying why it was refused.

        `allow_expired` is for logout only: ending a session needs proof of holding one of its
        tokens, not a live one.
        """
        if kind == "access" and not allow_expired:
            with self._checked_lock:
                known = self._checked.get(token)
            if known is not None:
                if known.expires_at <= datetime.now(UTC):
                    raise AuthError("token expired")
                return known
        claims = self._decode(token, kind, allow_expired=allow_expired)
        if kind == "access" and not allow_expired:
            with self._checked_lock:
                self._checked[token] = claims
                while len(self._checked) > CHECKED_TOKENS:
                    self._checked.popitem(last=False)
        return claims

    def _decode(self, token: str, kind: TokenType, *, allow_expired: bool) -> Claims:
        try:
            claims = jwt.decode(
                token,
                self._secret,
                algorithms=[ALGORITHM],
                issuer=ISSUER,
                options={
                    "require": ["exp", "iat", "sub", "type", "iss", "jti", "fam", "gen"],
                    "verify_exp": not allow_expired,
                },
            )
        except jwt.ExpiredSignatureError as exc:
            raise AuthError("token expired") from exc
        except jwt.InvalidTokenError as exc:
            raise AuthError("invalid token") from exc
        if claims.get("type") != kind:
            raise AuthError(f"not an {kind} token" if kind == "access" else f"not a {kind} token")
        generation = claims.get("gen")
        if not isinstance(generation, int) or isinstance(generation, bool):
            raise AuthError("invalid token")
        return Claims(
            subject=str(claims["sub"]),
            kind=kind,
            jti=str(claims["jti"]),
            family=str(claims["fam"]),
            generation=generation,
            expires_at=datetime.fromtimestamp(int(claims["exp"]), UTC),
        )


class LoginRateLimiter:
    """At most `attempts` login attempts per client address in a sliding `window` of seconds."""

    def __init__(self, attempts: int = 5, window: float = 60.0) -> None:
        self.attempts = attempts
        self.window = window
        self._seen: dict[str, deque[float]] = {}

    def check(self, client: str, *, now: float | None = None) -> float:
        """Count an attempt; return 0 if allowed, else the seconds until the next is allowed."""
        at = time.monotonic() if now is None else now
        seen = self._seen.setdefault(client, deque())
        while seen and at - seen[0] >= self.window:
            seen.popleft()
        if len(seen) >= self.attempts:
            return self.window - (at - seen[0])
        seen.append(at)
        if len(self._seen) > 10_000:
            # Forget idle addresses so a flood of distinct clients cannot grow memory forever.
            for key in [k for k, v in self._seen.items() if not v or at - v[-1] >= self.window]:
                del self._seen[key]
        return 0.0
