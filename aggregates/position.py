"""The one-way position of the traded symbol, netted from fills (docs/exchange-rules.md,
"Position netting")."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from aggregates import ids
from aggregates.envelope import Envelope, Scope
from aggregates.facts import FillFact
from aggregates.netting import FLAT, Netted, net_fill

# How many recent fills are kept to re-net a fill that arrives out of trade-id order. A gap in
# the user stream is backfilled within one reconcile interval, far fewer fills than this; a
# larger window costs a copy of the whole history on every read of the aggregate.
RECENT_FILLS = 50

# Layout of one entry of `recent_fills` (flat lists copy far faster than dicts):
# trade id, signed qty, price, fee, then the netted state *before* that fill.
_TRADE, _QTY, _PRICE, _FEE, _BEFORE = 0, 1, 2, 3, 4


class Position(Aggregate):
    # Version 2: `recent_fills` entries are flat lists (see the layout above). Snapshots taken
    # before versions were recorded may hold either that or the older dict entries.
    class_version = 2

    @staticmethod
    def upcast_v1_v2(state: dict[str, Any]) -> None:
        state["recent_fills"] = [_entry_as_list(f) for f in state.get("recent_fills", [])]

    @staticmethod
    def create_id(scope: Scope) -> UUID:
        return ids.position_id(scope)

    @event("Opened")
    def __init__(self, scope: Scope, envelope: Envelope) -> None:
        self.scope = scope
        self.symbol = scope.symbol
        self.quantity = Decimal(0)
        self.entry_price = Decimal(0)
        self.open_fees = Decimal(0)
        self.realized_pnl = Decimal(0)
        self.fees = Decimal(0)
        self.leverage: int | None = None
        self.last_fill_at: datetime | None = None
        self.recent_fills: list[list[Any]] = []

    @property
    def netted(self) -> Netted:
        return Netted(self.quantity, self.entry_price, self.open_fees, self.realized_pnl)

    @property
    def break_even_price(self) -> Decimal:
        return self.netted.break_even_price

    def unrealized_pnl(self, mark_price: Decimal) -> Decimal:
        return (mark_price - self.entry_price) * self.quantity if self.quantity else Decimal(0)

    def has_fill(self, trade_id: int) -> bool:
        return any(f[_TRADE] == trade_id for f in self.recent_fills)

    def apply_fill(self, fill: FillFact, envelope: Envelope) -> None:
        if self.has_fill(fill.trade_id):
            return
        self._fill_applied(
            trade_id=fill.trade_id,
            signed_qty=fill.signed_quantity,
            price=fill.price,
            fee=fill.fee,
            time=fill.time,
            envelope=envelope,
        )

    @event("FillApplied")
    def _fill_applied(
        self,
        trade_id: int,
        signed_qty: Decimal,
        price: Decimal,
        fee: Decimal,
        time: datetime,
        envelope: Envelope,
    ) -> None:
        entry: list[Any] = [trade_id, signed_qty, price, fee]
        later = [i for i, f in enumerate(self.recent_fills) if f[_TRADE] > trade_id]
        if not later:
            self.recent_fills.append([*entry, *_dump(self.netted)])
            self._set(net_fill(self.netted, signed_qty, price, fee)[0])
        else:
            # Fills of different orders can reach us out of order (a REST backfill after a gap):
            # re-net from the first later fill so the result is the trade-id order's result.
            at = later[0]
            state = _load(self.recent_fills[at][_BEFORE:])
            self.recent_fills.insert(at, entry)
            for i in range(at, len(self.recent_fills)):
                f = self.recent_fills[i][:_BEFORE]
                self.recent_fills[i] = [*f, *_dump(state)]
                state = net_fill(state, f[_QTY], f[_PRICE], f[_FEE])[0]
            self._set(state)
        self.fees += fee
        self.last_fill_at = time
        del self.recent_fills[:-RECENT_FILLS]

    def correct(self, quantity: Decimal, entry_price: Decimal, envelope: Envelope) -> bool:
        if quantity == self.quantity and entry_price == self.entry_price:
            return False
        self._corrected(
            believed_quantity=self.quantity,
            believed_entry_price=self.entry_price,
            quantity=quantity,
            entry_price=entry_price,
            envelope=envelope,
        )
        return True

    @event("Corrected")
    def _corrected(
        self,
        believed_quantity: Decimal,
        believed_entry_price: Decimal,
        quantity: Decimal,
        entry_price: Decimal,
        envelope: Envelope,
    ) -> None:
        fees = self.open_fees if (quantity > 0) == (self.quantity > 0) and quantity else Decimal(0)
        self._set(
            Netted(quantity, entry_price if quantity else Decimal(0), fees, self.realized_pnl)
        )
        # The exchange's figure is the new baseline; earlier fills no longer re-net over it.
        self.recent_fills = []

    def set_leverage(self, leverage: int, envelope: Envelope) -> bool:
        if leverage == self.leverage:
            return False
        self._leverage_changed(leverage=leverage, envelope=envelope)
        return True

    @event("LeverageChanged")
    def _leverage_changed(self, leverage: int, envelope: Envelope) -> None:
        self.leverage = leverage

    def _set(self, state: Netted) -> None:
        self.quantity = state.quantity
        self.entry_price = state.entry_price
        self.open_fees = state.open_fees
        self.realized_pnl = state.realized_pnl


def _entry_as_list(entry: Any) -> list[Any]:
    """One `recent_fills` entry in the current layout, from either stored shape."""
    if isinstance(entry, list):
        return entry
    before = entry.get("before") or {}
    return [
        int(entry["trade_id"]),
        Decimal(entry["signed_qty"]),
        Decimal(entry["price"]),
        Decimal(entry["fee"]),
        Decimal(before.get("quantity", 0)),
        Decimal(before.get("entry_price", 0)),
        Decimal(before.get("open_fees", 0)),
        Decimal(before.get("realized_pnl", 0)),
    ]


def _dump(state: Netted) -> list[Decimal]:
    return [state.quantity, state.entry_price, state.open_fees, state.realized_pnl]


def _load(data: list[Any]) -> Netted:
    return Netted(Decimal(data[0]), Decimal(data[1]), Decimal(data[2]), Decimal(data[3]))


__all__ = ["FLAT", "Position"]
