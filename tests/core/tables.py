"""Every read-model row, in primary-key order: what "the read models are equal" compares."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from alphaengine.trading import Trading
from projections.schema import projection_metadata


def snapshot(trading: Trading) -> dict[str, list[dict[str, Any]]]:
    engine = trading.recorder.datastore.engine  # type: ignore[attr-defined]
    tables: dict[str, list[dict[str, Any]]] = {}
    with engine.connect() as conn:
        for table in projection_metadata.sorted_tables:
            query = select(table).order_by(*table.primary_key.columns)
            tables[table.name] = [dict(row._mapping) for row in conn.execute(query)]
    return tables
