"""The sole writer's published view of the account follows every save, and only saves.

The oracle is the aggregates as a fresh application loads them from the store.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import pytest

from aggregates.envelope import Source
from alphaengine.bootstrap import init_schema, open_trading
from alphaengine.settings import Settings
from alphaengine.trading import Trading
from tests.core.story import balance, fill

T = fill(1, "x-1", "BUY", "0.004", "60000").time


@pytest.fixture
def writer(settings: Settings) -> Iterator[Trading]:
    init_schema(settings)
    app = open_trading(settings, sole_writer=True)
    yield app
    app.close()


def _stored(settings: Settings) -> tuple[Decimal, Decimal, Decimal, str, dict[str, object]]:
    fresh = open_trading(settings)
    try:
        position, account, engine = fresh.position(), fresh.account(), fresh.engine()
        return (
            position.quantity,
            position.entry_price,
            account.wallet_balance("USDT"),
            engine.mode,
            engine.strategy_state,
        )
    finally:
        fresh.close()


def test_the_view_follows_each_save_that_changes_the_account(
    writer: Trading, settings: Settings
) -> None:
    assert writer.view is None
    first = writer.publish_view()
    assert (first.position_quantity, first.engine_mode) == (Decimal(0), "RUNNING")

    ws = writer.envelope(Source.WEBSOCKET)
    writer.record_balance(balance("1000", T), ws)
    writer.record_fill(fill(1, "x-1", "BUY", "0.004", "60000"), ws)
    writer.record_fill(fill(2, "x-1", "BUY", "0.006", "60010"), ws)
    writer.save_strategy_state({"crossed": [1, 2]}, writer.envelope(Source.BOT))
    writer.pause_engine("a person paused it", writer.envelope(Source.WEB))

    view = writer.view
    assert view is not None and view is not first
    quantity, entry, wallet, mode, state = _stored(settings)
    assert (view.position_quantity, view.entry_price, view.wallet_balance) == (
        quantity,
        entry,
        wallet,
    )
    assert quantity == Decimal("0.010")
    assert (
        (view.engine_mode, dict(view.strategy_state))
        == (mode, state)
        == (
            "PAUSED",
            {"crossed": [1, 2]},
        )
    )


def test_the_views_state_is_a_copy_nobody_can_change(writer: Trading) -> None:
    writer.save_strategy_state({"n": [1]}, writer.envelope(Source.BOT))
    view = writer.publish_view()
    with pytest.raises(TypeError):
        view.strategy_state["n"] = [2]  # type: ignore[index]
    engine = writer.engine(readonly=True)
    engine.strategy_state["n"].append(99)  # the aggregate changing in place later...
    assert view.strategy_state["n"] == [1]  # ...does not reach a published view


def test_a_save_that_records_nothing_leaves_the_view(writer: Trading) -> None:
    ws = writer.envelope(Source.WEBSOCKET)
    writer.record_fill(fill(1, "x-1", "BUY", "0.004", "60000"), ws)
    view = writer.publish_view()
    assert not writer.record_fill(fill(1, "x-1", "BUY", "0.004", "60000"), ws)  # a duplicate
    assert writer.view is view
