"""The latest stored version of several aggregates, in one indexed query.

A fill touches up to five aggregates (its fact, the order, a parent algo order, the position and
the account). Asking the repository for each costs a query apiece (a fast-forward of the cached
aggregate, or a snapshot read and an event read for one that is absent). One query for all of
their latest versions says which exist, and which cached aggregates are still current.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from sqlalchemy import Engine, Table, bindparam, func, select


class LatestVersions:
    def __init__(self, recorder: Any) -> None:
        self.engine: Engine = recorder.datastore.engine
        self.events: Table = recorder.events_record_cls.__table__
        dialect = self.engine.dialect
        id_type = self.events.c.originator_id.type.dialect_impl(dialect)
        self.bind_id = id_type.bind_processor(dialect) or (lambda value: value)
        self.statements: dict[int, _Statement] = {}

    @classmethod
    def for_recorder(cls, recorder: Any) -> LatestVersions | None:
        """For the SQLAlchemy recorder (the application's own); None for any other."""
        if getattr(recorder, "events_record_cls", None) is None:
            return None
        if getattr(getattr(recorder, "datastore", None), "engine", None) is None:
            return None
        return cls(recorder)

    def of(self, aggregate_ids: Iterable[UUID]) -> dict[UUID, int]:
        """Each id's latest stored version, 0 for an aggregate with no event."""
        wanted = list(dict.fromkeys(aggregate_ids))
        statement = self._statement(len(wanted))
        bound = {f"id{i}": self.bind_id(aggregate_id) for i, aggregate_id in enumerate(wanted)}
        parameters: Any = (
            tuple(bound[name] for name in statement.order) if statement.positional else bound
        )
        # Driver-level, on a pooled connection of its own: a read of committed state needs
        # none of the session machinery, which costs several times the query.
        with self.engine.connect() as connection:
            row = connection.exec_driver_sql(statement.sql, parameters).one()
        return {aggregate_id: int(row[i] or 0) for i, aggregate_id in enumerate(wanted)}

    def _statement(self, count: int) -> _Statement:
        statement = self.statements.get(count)
        if statement is None:
            # One max() per id, each a single seek of the (originator_id, originator_version)
            # index; `IN (...) GROUP BY` makes SQLite walk every version of every id instead.
            version, originator_id = self.events.c.originator_version, self.events.c.originator_id
            query = select(
                *(
                    select(func.max(version))
                    .where(originator_id == bindparam(f"id{i}"))
                    .scalar_subquery()
                    for i in range(count)
                )
            )
            compiled = query.compile(dialect=self.engine.dialect)
            statement = self.statements[count] = _Statement(
                sql=str(compiled),
                positional=compiled.positional,
                order=tuple(compiled.positiontup or ()),
            )
        return statement


@dataclass(frozen=True)
class _Statement:
    sql: str
    positional: bool
    order: tuple[str, ...]
