"""The read models' column types: what they store on SQLite is what SQLAlchemy's own types store,
and they refuse what they must."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import create_engine, select
from sqlalchemy.dialects import sqlite
from sqlalchemy.dialects.sqlite import pysqlite

from projections.schema import DecimalText, UTCDateTime, rm_equity

DIALECT = pysqlite.dialect()


def _bind(value: datetime) -> str:
    convert = UTCDateTime().dialect_impl(DIALECT).bind_processor(DIALECT)
    assert convert is not None
    result: str = convert(value)
    return result


@given(
    st.datetimes(
        timezones=st.sampled_from([UTC, timezone(timedelta(hours=-3)), timezone(timedelta(0))])
    )
)
def test_a_time_is_stored_as_sqlite_s_own_datetime_text_of_its_utc(value: datetime) -> None:
    stock = sqlite.DATETIME().bind_processor(DIALECT)  # type: ignore[no-untyped-call]
    assert stock is not None
    assert _bind(value) == stock(value.astimezone(UTC))


@given(st.datetimes(timezones=st.just(UTC)))
def test_a_utc_time_is_stored_as_the_stock_type_stores_it(value: datetime) -> None:
    stock = sqlite.DATETIME().bind_processor(DIALECT)  # type: ignore[no-untyped-call]
    assert stock is not None
    assert _bind(value) == stock(value)


def test_a_time_in_another_zone_reads_back_as_the_same_instant() -> None:
    engine = create_engine("sqlite://")
    at = datetime(2026, 1, 5, 9, 0, 0, 5, tzinfo=timezone(timedelta(hours=-3)))
    with engine.begin() as conn:
        rm_equity.create(conn)
        conn.execute(rm_equity.insert(), _equity_point(at))
        stored = conn.execute(select(rm_equity.c.time)).scalar_one()
    assert stored == at
    assert stored.tzinfo is UTC
    assert stored.hour == 12


@given(st.decimals(allow_nan=False) | st.none())
def test_a_decimal_is_stored_as_its_text(value: Decimal | None) -> None:
    convert = DecimalText().dialect_impl(DIALECT).bind_processor(DIALECT)
    assert convert is not None
    assert convert(value) == (None if value is None else str(value))


def test_a_naive_time_is_refused() -> None:
    with pytest.raises(ValueError, match="naive datetime"):
        _bind(datetime(2026, 1, 5, 12, 0))


def test_a_stored_time_reads_back_aware_and_equal() -> None:
    engine = create_engine("sqlite://")
    at = datetime(2026, 1, 5, 12, 0, 0, 5, tzinfo=UTC)
    with engine.begin() as conn:
        rm_equity.create(conn)
        conn.execute(rm_equity.insert(), _equity_point(at))
        assert conn.execute(select(rm_equity.c.time)).scalar_one() == at


def _equity_point(at: datetime) -> dict[str, object]:
    return {
        "notification_id": 1,
        "time": at,
        "wallet_balance": Decimal("1"),
        "realized_pnl": Decimal("0"),
        "fees": Decimal("0"),
        "position_quantity": Decimal("0"),
        "entry_price": Decimal("0"),
    }
