"""Property: whatever order fills arrive in, and however often, the position is the plain model's.

The model below is the netting rule of docs/exchange-rules.md ("Position netting") written out
again, on purpose independently of aggregates/netting.py:
fills in trade-id order; adding moves the entry price to the quantity-weighted average; reducing
keeps it and realizes (exit - entry) x closed quantity (sign by side); a flip opens the rest at
the fill price; flat means entry price zero.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from uuid import uuid4

from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from aggregates.envelope import Scope, Source
from aggregates.facts import FillFact
from alphaengine.settings import Settings
from alphaengine.trading import Trading
from tests.core.story import fill

D = Decimal


@dataclass
class PlainPosition:
    quantity: Decimal = Decimal(0)
    entry_price: Decimal = Decimal(0)
    realized_pnl: Decimal = Decimal(0)

    def apply(self, side: str, quantity: Decimal, price: Decimal) -> None:
        signed = quantity if side == "BUY" else -quantity
        if self.quantity == 0 or (self.quantity > 0) == (signed > 0):
            total = self.quantity + signed
            cost = abs(self.quantity) * self.entry_price + abs(signed) * price
            self.quantity, self.entry_price = total, cost / abs(total)
            return
        closed = min(abs(signed), abs(self.quantity))
        direction = 1 if self.quantity > 0 else -1
        self.realized_pnl += (price - self.entry_price) * closed * direction
        remaining = self.quantity + signed
        if remaining == 0:
            self.entry_price = D(0)
        elif (remaining > 0) != (self.quantity > 0):
            self.entry_price = price
        self.quantity = remaining


fill_specs = st.lists(
    st.tuples(
        st.sampled_from(["BUY", "SELL"]),
        st.integers(min_value=1, max_value=50).map(lambda n: D(n) / 1000),
        st.integers(min_value=500_000, max_value=700_000).map(lambda n: D(n) / 10),
        st.integers(min_value=0, max_value=300).map(lambda n: D(n) / 100),
    ),
    min_size=1,
    max_size=25,
)


@st.composite
def arrivals(draw: st.DrawFn) -> tuple[list[FillFact], list[tuple[FillFact, str]]]:
    specs = draw(fill_specs)
    fills = [
        fill(trade_id, f"ext-{trade_id % 4}", side, str(qty), str(price), fee=str(fee))
        for trade_id, (side, qty, price, fee) in enumerate(specs, start=1)
    ]
    duplicates = draw(st.lists(st.sampled_from(fills), max_size=len(fills)))
    arrived = draw(st.permutations(fills + duplicates))
    sources = draw(
        st.lists(
            st.sampled_from(["WEBSOCKET", "REST"]), min_size=len(arrived), max_size=len(arrived)
        )
    )
    return fills, list(zip(arrived, sources, strict=True))


@hypothesis_settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(case=arrivals())
def test_position_equals_the_plain_model(
    trading: Trading, settings: Settings, case: tuple[list[FillFact], list[tuple[FillFact, str]]]
) -> None:
    fills, arrived = case
    # A fresh account in the same database for every example
    app = Trading(Scope(account=f"prop-{uuid4().hex[:8]}"), settings.database_url)
    try:
        for f, source in arrived:
            app.record_fill(f, app.envelope(Source(source)))

        model = PlainPosition()
        for f in sorted(fills, key=lambda f: f.trade_id):
            model.apply(f.side, f.quantity, f.price)
        position, account = app.position(), app.account()
        assert position.quantity == model.quantity
        assert position.entry_price == model.entry_price
        assert position.realized_pnl == model.realized_pnl
        # The account books each arrival's change of the position's realized PnL; when an
        # out-of-order fill re-nets, those differences of 28-digit Decimals (entry prices are
        # repeating decimals) can differ from the direct sum in the last digit, ~1e-26 USDT.
        assert abs(account.realized_pnl - model.realized_pnl) < D("1e-20")
        assert account.fees == sum((f.fee for f in fills), D(0))
    finally:
        app.close()
