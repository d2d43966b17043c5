"""Query-parameter helpers shared by the routes."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated

from fastapi import HTTPException, Query

# Ids, cursors and offsets above this do not fit the database's 64-bit integers.
MAX_ID = 2**63 - 1
# ASCII digits only: int() would also take "１２", "+12", " 12" or "1_2", and an id means one
# thing only.
DIGITS = r"^[0-9]{1,19}$"
_DIGITS = re.compile(DIGITS)

# Binance's kline intervals, and nothing else.
INTERVALS = (
    "1m",
    "3m",
    "5m",
    "15m",
    "30m",
    "1h",
    "2h",
    "4h",
    "6h",
    "8h",
    "12h",
    "1d",
    "3d",
    "1w",
    "1M",
)
INTERVAL_PATTERN = "^(" + "|".join(INTERVALS) + ")$"

Cursor = Annotated[
    str | None,
    Query(pattern=DIGITS, description="`next_cursor` of the previous page (ASCII digits)"),
]


def as_id(value: str | None, name: str) -> int | None:
    """A digits-only query value as an int, refused (422) beyond the 64-bit range."""
    if value is None:
        return None
    if not _DIGITS.match(value):
        raise HTTPException(422, f"query.{name}: ASCII digits only")
    number = int(value)
    if number > MAX_ID:
        raise HTTPException(422, f"query.{name}: out of range")
    return number


def is_digits(value: str) -> bool:
    return bool(_DIGITS.match(value))


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
