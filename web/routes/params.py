"""Query-parameter helpers shared by the routes."""

from __future__ import annotations

from datetime import UTC, datetime

from fastapi import HTTPException

# Ids, cursors and offsets above this do not fit the database's 64-bit integers.
MAX_ID = 2**63 - 1


def aware(value: datetime | None, name: str) -> datetime | None:
    """Times must say their zone: a naive time is ambiguous, so it is refused, not guessed."""
    if value is None:
        return None
    if value.tzinfo is None:
        raise HTTPException(422, f"query.{name}: include a timezone, e.g. 2026-01-01T00:00:00Z")
    return value.astimezone(UTC)


def time_range(
    since: datetime | None, until: datetime | None
) -> tuple[datetime | None, datetime | None]:
    start, end = aware(since, "since"), aware(until, "until")
    if start is not None and end is not None and start >= end:
        raise HTTPException(422, "query.until: must be later than since")
    return start, end
