"""Sign-in sessions: refresh-token rotation with reuse detection, logout, password change.

A session is one login and the chain of refresh tokens it leads to (a token "family"). Only the
newest refresh token of a session is usable; presenting an older one means it was copied, so the
whole session is revoked. A session ends SESSION_LIFETIME after its login however often it is
refreshed. A password change bumps the token generation, which ends every session at once.

Checking an access token costs no database round trip: each token names its session (`fam`) and
the generation it was issued under (`gen`), and the web keeps in memory the current generation
and the revoked sessions not yet expired. That state is reloaded from the database at most every
RELOAD_SECONDS (one small query, not one per request) and updated at once by this process's own
logout, reuse detection and password change; so a revocation made by another web process on the
same database takes effect within RELOAD_SECONDS, and an access token lives 15 minutes at most
anyway. Refresh tokens, used rarely, are always checked against the database: a conditional
UPDATE rotates them atomically, so two concurrent refreshes with one token cannot both win.
"""

from __future__ import annotations

import asyncio
import hashlib
import math
import time
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from sqlalchemy import Connection, delete, insert, select, update

from projections.schema import web_auth, web_sessions
from web.auth import AuthError, Claims, TokenPair, Tokens, new_id
from web.services.database import Database

RELOAD_SECONDS = 2.0
# Rows of sessions that ended longer ago than this are deleted at the next login.
FORGET_AFTER = timedelta(days=2)


def _digest(password_hash: str) -> str:
    return hashlib.sha256(password_hash.encode()).hexdigest()


@dataclass(frozen=True)
class AuthState:
    generation: int
    revoked: frozenset[str]
    password_hash: str


class Sessions:
    def __init__(self, database: Database, tokens: Tokens, configured_hash: str) -> None:
        self._database = database
        self._tokens = tokens
        # The hash from secrets.yaml (or generated in paper mode). A password changed through
        # the API replaces it until the configured hash itself changes (an operator's reset).
        self._configured = configured_hash
        self._state = AuthState(0, frozenset(), configured_hash)
        self._loaded_at = -math.inf
        self._lock = asyncio.Lock()

    async def password_hash(self) -> str:
        """The hash a password is checked against: a change through the API, when there is one."""
        await self.ensure_fresh()
        return self._state.password_hash

    @property
    def generation(self) -> int:
        return self._state.generation

    def _load(self, conn: Connection) -> AuthState:
        row = conn.execute(select(web_auth)).first()
        revoked = conn.execute(
            select(web_sessions.c.family).where(
                web_sessions.c.revoked_at.is_not(None),
                web_sessions.c.expires_at > datetime.now(UTC),
            )
        ).scalars()
        password_hash = self._configured
        if (
            row is not None
            and row.password_hash
            and row.replaces_digest == _digest(self._configured)
        ):
            password_hash = row.password_hash
        return AuthState(
            generation=int(row.generation) if row is not None else 0,
            revoked=frozenset(revoked),
            password_hash=password_hash,
        )

    async def reload(self) -> None:
        self._state = await self._database.read_async(self._load)
        self._loaded_at = time.monotonic()

    async def ensure_fresh(self) -> None:
        if time.monotonic() - self._loaded_at < RELOAD_SECONDS:
            return
        async with self._lock:
            # Whoever waited on the lock finds the state another request just reloaded.
            if time.monotonic() - self._loaded_at >= RELOAD_SECONDS:
                await self.reload()

    def check(self, claims: Claims) -> None:
        """Refuse a token whose session was revoked or whose generation is gone."""
        state = self._state
        if claims.generation != state.generation:
            raise AuthError("the password was changed; log in again")
        if claims.family in state.revoked:
            raise AuthError("session ended; log in again")

    def _revoked_locally(self, families: set[str]) -> None:
        self._state = replace(self._state, revoked=self._state.revoked | families)

    async def login(self, subject: str) -> TokenPair:
        def create(conn: Connection) -> TokenPair:
            now = datetime.now(UTC)
            # Write first: it takes SQLite's write lock before anything is read.
            conn.execute(delete(web_sessions).where(web_sessions.c.expires_at < now - FORGET_AFTER))
            row = conn.execute(select(web_auth.c.generation)).first()
            generation = int(row.generation) if row is not None else 0
            expires = now + self._tokens.session_lifetime
            pair = self._tokens.issue(
                subject, now=now, generation=generation, session_expires=expires
            )
            conn.execute(
                insert(web_sessions).values(
                    family=pair.family,
                    subject=subject,
                    refresh_jti=pair.refresh_jti,
                    generation=generation,
                    created_at=now,
                    expires_at=expires,
                )
            )
            return pair

        await self.ensure_fresh()
        return await self._database.write_async(create)

    async def refresh(self, claims: Claims) -> TokenPair:
        """New tokens for the session's newest refresh token; an older one revokes the session."""
        sessions = web_sessions.c

        def rotate(conn: Connection) -> TokenPair | tuple[str, bool]:
            now = datetime.now(UTC)
            next_jti = new_id()
            rotated = conn.execute(
                update(web_sessions)
                .where(
                    sessions.family == claims.family,
                    sessions.refresh_jti == claims.jti,
                    sessions.generation == claims.generation,
                    sessions.revoked_at.is_(None),
                    sessions.expires_at > now,
                )
                .values(refresh_jti=next_jti)
            ).rowcount
            row = conn.execute(select(web_sessions).where(sessions.family == claims.family)).first()
            current = conn.execute(select(web_auth.c.generation)).scalar() or 0
            if row is None:
                return "unknown session; log in again", False
            if rotated == 1 and row.generation == current:
                return self._tokens.issue(
                    row.subject,
                    now=now,
                    family=row.family,
                    generation=row.generation,
                    session_expires=row.expires_at,
                    refresh_jti=next_jti,
                )
            reason = (
                "session ended; log in again"
                if row.revoked_at is not None
                else "session expired; log in again"
                if row.expires_at <= now
                else "the password was changed; log in again"
                if row.generation != current
                else "refresh token already used: the session is revoked; log in again"
            )
            if row.revoked_at is None:
                conn.execute(
                    update(web_sessions)
                    .where(sessions.family == claims.family)
                    .values(revoked_at=now, revoked_reason="reuse" if rotated == 0 else "stale")
                )
                return reason, True
            return reason, False

        await self.ensure_fresh()
        outcome = await self._database.write_async(rotate)
        if isinstance(outcome, TokenPair):
            return outcome
        message, revoked = outcome
        if revoked:
            self._revoked_locally({claims.family})
        raise AuthError(message)

    async def logout(self, families: set[str]) -> None:
        def end(conn: Connection) -> None:
            conn.execute(
                update(web_sessions)
                .where(web_sessions.c.family.in_(families), web_sessions.c.revoked_at.is_(None))
                .values(revoked_at=datetime.now(UTC), revoked_reason="logout")
            )

        await self._database.write_async(end)
        self._revoked_locally(families)

    async def change_password(self, new_hash: str) -> None:
        """Store the new hash and end every session (every token issued so far)."""

        def change(conn: Connection) -> int:
            now = datetime.now(UTC)
            conn.execute(
                update(web_sessions)
                .where(web_sessions.c.revoked_at.is_(None))
                .values(revoked_at=now, revoked_reason="password")
            )
            values = {
                "password_hash": new_hash,
                "replaces_digest": _digest(self._configured),
                "updated_at": now,
            }
            bumped = conn.execute(
                update(web_auth).values(generation=web_auth.c.generation + 1, **values)
            ).rowcount
            if not bumped:
                conn.execute(insert(web_auth).values(id=1, generation=1, **values))
            return int(conn.execute(select(web_auth.c.generation)).scalar_one())

        generation = await self._database.write_async(change)
        self._state = replace(self._state, generation=generation, password_hash=new_hash)
