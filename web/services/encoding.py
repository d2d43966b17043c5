"""JSON for money: Decimals leave as strings (never floats), datetimes as ISO-8601 UTC."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any


def iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def jsonable(value: Any) -> Any:
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, datetime):
        return iso(value)
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return value


def jsonable_dict(value: Mapping[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = jsonable(value)
    return result


def row_dict(row: Any) -> dict[str, Any]:
    """A SQLAlchemy row as a JSON-safe dict."""
    return jsonable_dict(row._mapping)
