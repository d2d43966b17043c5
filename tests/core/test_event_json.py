"""rm_events.data holds the values `json.dumps(jsonable(fields))` held, whatever the fields are."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from enum import Enum, StrEnum
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from aggregates.envelope import Scope
from projections.event_json import event_json
from projections.jsonable import jsonable


class Side(StrEnum):
    BUY = "BUY"


class Mood(Enum):
    CALM = "calm"
    ODD = 1.5


@dataclass(frozen=True)
class Inner:
    scope: Scope
    items: tuple[int, ...]
    _note: str = "kept by asdict"


def _canonical(text: str) -> str:
    return json.dumps(json.loads(text), sort_keys=True)


def _same_values(fields: dict[str, Any]) -> None:
    assert _canonical(event_json(fields)) == _canonical(json.dumps(jsonable(fields)))


scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(),
    st.decimals(),
    st.datetimes(
        timezones=st.sampled_from(
            [UTC, timezone(timedelta(hours=-3, minutes=-30)), timezone(timedelta(seconds=37))]
        )
    ),
    st.datetimes(),
    st.uuids(),
    st.sampled_from([Side.BUY, Mood.CALM, Mood.ODD]),
    st.builds(Scope, symbol=st.text(max_size=8)),
)
hashable_keys = st.one_of(st.text(), st.integers(), st.booleans(), st.none(), st.uuids())
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.lists(inner, max_size=4).map(tuple),
        st.sets(st.integers(), max_size=4),
        st.dictionaries(hashable_keys, inner, max_size=4),
        st.builds(Inner, scope=st.builds(Scope), items=st.lists(st.integers()).map(tuple)),
    ),
    max_leaves=16,
)


@given(st.dictionaries(st.text(), values, max_size=6))
def test_any_fields_store_the_values_jsonable_gave(fields: dict[str, Any]) -> None:
    _same_values(fields)


def test_the_common_event_fields_keep_their_values() -> None:
    _same_values(
        {
            "trade_id": 7,
            "time": datetime(2026, 1, 5, 12, 0, tzinfo=UTC),
            "scope": Scope(),
            "state": {"fast": ["1", "2"], 3: None, True: (1, 2)},
            "inner": Inner(Scope(), (1, 2)),
            "opaque": jsonable,  # no JSON form: its text, as jsonable gives
        }
    )


def test_what_orjson_would_write_otherwise_is_written_as_before() -> None:
    for fields in ({"nan": float("nan")}, {"big": 2**80}, {"mood": Mood.ODD}):
        assert event_json(fields) == json.dumps(jsonable(fields))


@given(st.datetimes(timezones=st.just(UTC)))
def test_a_utc_time_is_its_isoformat_text(at: datetime) -> None:
    assert json.loads(event_json({"time": at})) == {"time": at.isoformat()}
