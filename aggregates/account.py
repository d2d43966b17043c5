"""The futures account: balances as the exchange reports them, and the ledger of what moved them.

Balances are the exchange's word, ordered by its transaction time: a report older than the one
already applied is news of nothing. The ledger (realized PnL and fees per fill, funding and
transfers per exchange transaction id) is booked once per exchange identity.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from aggregates import ids
from aggregates.envelope import Envelope, Scope
from aggregates.facts import BalanceFact, FillFact, IncomeFact

DAYS_KEPT = 8


def day_of(moment: datetime) -> str:
    """The exchange's UTC calendar day of a moment (the daily loss limit's day)."""
    return moment.astimezone(UTC).date().isoformat()


class Account(Aggregate):
    # Version 2 added `daily`: realized PnL net of fees per UTC day of the fills' exchange time,
    # so the daily loss limit reads the event store, never a rebuildable table.
    class_version = 2

    @staticmethod
    def upcast_v1_v2(state: dict[str, Any]) -> None:
        # Fills booked before version 2 are not split by day; a fresh tally starts from here.
        state["daily"] = {}

    @staticmethod
    def create_id(scope: Scope) -> UUID:
        return ids.account_id(scope)

    @event("Opened")
    def __init__(self, scope: Scope, envelope: Envelope) -> None:
        self.scope = scope
        # asset -> {"wallet", "cross_wallet", "available", "as_of"}
        self.balances: dict[str, dict[str, Any]] = {}
        self.realized_pnl = Decimal(0)
        self.fees = Decimal(0)
        self.funding = Decimal(0)
        self.transfers = Decimal(0)
        self.last_fill_at: datetime | None = None
        self.daily: dict[str, Decimal] = {}

    def net_realized_on(self, day: str) -> Decimal:
        """Realized PnL minus fees of the fills of one UTC day (`day_of`)."""
        return Decimal(self.daily.get(day, 0))

    def wallet_balance(self, asset: str = "USDT") -> Decimal:
        row = self.balances.get(asset)
        return Decimal(row["wallet"]) if row else Decimal(0)

    def available_balance(self, asset: str = "USDT") -> Decimal:
        row = self.balances.get(asset)
        if not row:
            return Decimal(0)
        available = row.get("available")
        return Decimal(available) if available is not None else Decimal(row["wallet"])

    def report_balance(self, fact: BalanceFact, envelope: Envelope) -> bool:
        row = self.balances.get(fact.asset)
        if row is not None:
            if fact.as_of < row["as_of"]:
                return False
            same = (
                row["wallet"] == fact.wallet_balance
                and row["cross_wallet"] == fact.cross_wallet_balance
                and (fact.available_balance is None or row["available"] == fact.available_balance)
            )
            if same:
                return False
        self._balance_reported(
            asset=fact.asset,
            wallet=fact.wallet_balance,
            cross_wallet=fact.cross_wallet_balance,
            available=fact.available_balance,
            as_of=fact.as_of,
            reason=fact.reason,
            envelope=envelope,
        )
        return True

    @event("BalanceReported")
    def _balance_reported(
        self,
        asset: str,
        wallet: Decimal,
        cross_wallet: Decimal,
        available: Decimal | None,
        as_of: datetime,
        reason: str,
        envelope: Envelope,
    ) -> None:
        previous = self.balances.get(asset, {})
        if available is None and previous.get("available") is not None:
            # WS reports carry no available balance: what the wallet gained or lost moves it
            # too, until the next REST read gives the exchange's own figure.
            available = previous["available"] + (wallet - previous["wallet"])
        self.balances[asset] = {
            "wallet": wallet,
            "cross_wallet": cross_wallet,
            "available": available,
            "as_of": as_of,
        }

    def correct_balance(self, fact: BalanceFact, envelope: Envelope) -> bool:
        row = self.balances.get(fact.asset)
        believed = row["wallet"] if row else Decimal(0)
        if row is not None and believed == fact.wallet_balance:
            return self.report_balance(fact, envelope)
        self._balance_corrected(
            asset=fact.asset,
            believed=believed,
            wallet=fact.wallet_balance,
            cross_wallet=fact.cross_wallet_balance,
            available=fact.available_balance,
            as_of=fact.as_of,
            envelope=envelope,
        )
        return True

    @event("BalanceCorrected")
    def _balance_corrected(
        self,
        asset: str,
        believed: Decimal,
        wallet: Decimal,
        cross_wallet: Decimal,
        available: Decimal | None,
        as_of: datetime,
        envelope: Envelope,
    ) -> None:
        self.balances[asset] = {
            "wallet": wallet,
            "cross_wallet": cross_wallet,
            "available": available,
            "as_of": as_of,
        }

    def book_fill(self, fill: FillFact, realized_pnl: Decimal, envelope: Envelope) -> None:
        self._fill_booked(
            trade_id=fill.trade_id,
            realized_pnl=realized_pnl,
            fee=fill.fee,
            fee_asset=fill.fee_asset,
            time=fill.time,
            envelope=envelope,
        )

    @event("FillBooked")
    def _fill_booked(
        self,
        trade_id: int,
        realized_pnl: Decimal,
        fee: Decimal,
        fee_asset: str,
        time: datetime,
        envelope: Envelope,
    ) -> None:
        self.realized_pnl += realized_pnl
        self.fees += fee
        self.last_fill_at = time
        day = day_of(time)
        self.daily[day] = self.daily.get(day, Decimal(0)) + realized_pnl - fee
        for old in sorted(self.daily)[:-DAYS_KEPT]:
            del self.daily[old]

    def book_income(self, fact: IncomeFact, envelope: Envelope) -> bool:
        if fact.income_type not in ("FUNDING_FEE", "TRANSFER"):
            return False
        self._income_booked(
            income_type=fact.income_type,
            asset=fact.asset,
            amount=fact.amount,
            tran_id=fact.tran_id,
            time=fact.time,
            envelope=envelope,
        )
        return True

    @event("IncomeBooked")
    def _income_booked(
        self,
        income_type: str,
        asset: str,
        amount: Decimal,
        tran_id: int,
        time: datetime,
        envelope: Envelope,
    ) -> None:
        if income_type == "FUNDING_FEE":
            self.funding += amount
        else:
            self.transfers += amount
