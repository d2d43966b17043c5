"""The one-way position: netting (docs/exchange-rules.md), break-even price, out-of-order fills,
corrections."""

from __future__ import annotations

from decimal import Decimal

from aggregates.envelope import Scope, Source, envelope
from aggregates.netting import FLAT, Netted, net_fill
from aggregates.position import Position
from tests.core.story import fill

D = Decimal
SCOPE = Scope()
ENV = envelope(Source.WEBSOCKET, SCOPE)


def test_the_specs_worked_break_even_example() -> None:
    # Open 0.1 long at 84146.5 paying 3.36586 in fees
    position = Position(scope=SCOPE, envelope=ENV)
    position.apply_fill(fill(1, "ae-1", "BUY", "0.1", "84146.5", fee="3.36586"), ENV)

    assert position.quantity == D("0.1")
    assert position.entry_price == D("84146.5")
    assert position.break_even_price == D("84180.1586")


def test_open_add_reduce_close() -> None:
    position = Position(scope=SCOPE, envelope=ENV)
    # Open and add: the entry price is the quantity-weighted average
    position.apply_fill(fill(1, "a", "BUY", "0.010", "60000", fee="0"), ENV)
    position.apply_fill(fill(2, "a", "BUY", "0.030", "60400", fee="0"), ENV)
    assert (position.quantity, position.entry_price) == (D("0.040"), D("60300"))

    # Reduce: the entry price stays, the closed part realizes PnL
    position.apply_fill(fill(3, "b", "SELL", "0.010", "61300", fee="0"), ENV)
    assert (position.quantity, position.entry_price) == (D("0.030"), D("60300"))
    assert position.realized_pnl == D("10.000")

    # Close: flat, entry price back to zero
    position.apply_fill(fill(4, "b", "SELL", "0.030", "60200", fee="0"), ENV)
    assert (position.quantity, position.entry_price) == (D(0), D(0))
    assert position.realized_pnl == D("10.000") - D("3.000")


def test_a_flip_closes_the_old_side_and_opens_the_new_at_the_fill_price() -> None:
    position = Position(scope=SCOPE, envelope=ENV)
    position.apply_fill(fill(1, "a", "SELL", "0.020", "59100", fee="0.4"), ENV)
    position.apply_fill(fill(2, "b", "BUY", "0.030", "59050", fee="0.6"), ENV)

    assert position.quantity == D("0.010")
    assert position.entry_price == D("59050")
    assert position.realized_pnl == (D("59100") - D("59050")) * D("0.020")
    # Only the opening third of the flipping fill's fee belongs to the new position
    assert position.break_even_price == D("59050") + D("0.2") / D("0.010")
    assert position.fees == D("1.0")


def test_fills_out_of_trade_order_net_as_if_in_order() -> None:
    fills = [
        fill(1, "a", "BUY", "0.010", "60000"),
        fill(2, "b", "SELL", "0.020", "60500"),
        fill(3, "c", "BUY", "0.005", "60100"),
    ]
    in_order = Position(scope=SCOPE, envelope=ENV)
    for f in fills:
        in_order.apply_fill(f, ENV)
    shuffled = Position(scope=SCOPE, envelope=ENV)
    for f in (fills[2], fills[0], fills[1], fills[0]):
        shuffled.apply_fill(f, ENV)

    assert shuffled.netted == in_order.netted


def test_a_correction_sets_the_exchanges_figures_and_keeps_realized_pnl() -> None:
    position = Position(scope=SCOPE, envelope=ENV)
    position.apply_fill(fill(1, "a", "BUY", "0.010", "60000"), ENV)
    realized = position.realized_pnl

    assert position.correct(D("0.004"), D("60100"), ENV)
    assert not position.correct(D("0.004"), D("60100"), ENV)
    assert (position.quantity, position.entry_price, position.realized_pnl) == (
        D("0.004"),
        D("60100"),
        realized,
    )
    assert position.correct(D(0), D("123"), ENV)
    assert position.entry_price == D(0)


def test_netting_is_a_pure_function() -> None:
    state, realized = net_fill(FLAT, D("-0.5"), D("100"), D("0.05"))
    assert state == Netted(D("-0.5"), D("100"), D("0.05"), D(0)) and realized == 0
    state, realized = net_fill(state, D("0.2"), D("90"), D(0))
    assert realized == D("2.0") and state.quantity == D("-0.3") and state.entry_price == D("100")
    assert net_fill(state, D(0), D("1"), D(0)) == (state, D(0))
