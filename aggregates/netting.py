"""One-way position netting (docs/exchange-rules.md, "Position netting"), as a pure function.

Kept apart from the aggregate so the aggregate, the reconciler and the tests can share one
definition of what a fill does to a position.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

ZERO = Decimal(0)


@dataclass(frozen=True)
class Netted:
    quantity: Decimal  # signed: + long, - short
    entry_price: Decimal
    open_fees: Decimal  # fees paid opening the current position; feeds the break-even price
    realized_pnl: Decimal  # accumulated, before fees

    @property
    def break_even_price(self) -> Decimal:
        if self.quantity == ZERO:
            return ZERO
        return self.entry_price + self.open_fees / self.quantity


FLAT = Netted(ZERO, ZERO, ZERO, ZERO)


def net_fill(
    state: Netted, signed_qty: Decimal, price: Decimal, fee: Decimal
) -> tuple[Netted, Decimal]:
    """Apply one fill; return the new state and the fill's realized PnL (before fees)."""
    qty, entry, open_fees = state.quantity, state.entry_price, state.open_fees
    if signed_qty == ZERO:
        return state, ZERO
    if qty == ZERO or (qty > ZERO) == (signed_qty > ZERO):
        new_qty = qty + signed_qty
        new_entry = (abs(qty) * entry + abs(signed_qty) * price) / abs(new_qty)
        return Netted(new_qty, new_entry, open_fees + fee, state.realized_pnl), ZERO
    closing = min(abs(signed_qty), abs(qty))
    realized = (price - entry) * closing if qty > ZERO else (entry - price) * closing
    remaining = qty + signed_qty
    if remaining == ZERO:
        return Netted(ZERO, ZERO, ZERO, state.realized_pnl + realized), realized
    if (remaining > ZERO) == (qty > ZERO):
        # A reduce keeps the entry price; the open fees shrink with the position they belong to.
        kept_fees = open_fees * abs(remaining) / abs(qty)
        return Netted(remaining, entry, kept_fees, state.realized_pnl + realized), realized
    # A flip: the fee is split between the closing and the opening part by quantity.
    opening_fee = fee * abs(remaining) / abs(signed_qty)
    return Netted(remaining, price, opening_fee, state.realized_pnl + realized), realized
