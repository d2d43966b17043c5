"""The account: balances ordered by the exchange's time, the ledger booked once per identity."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from aggregates.account import Account
from aggregates.envelope import Scope, Source, envelope
from aggregates.facts import IncomeFact
from alphaengine.trading import Trading
from tests.core.story import T0, balance, fill

D = Decimal
SCOPE = Scope()
ENV = envelope(Source.WEBSOCKET, SCOPE)


def test_balances_follow_the_exchanges_transaction_time_not_arrival() -> None:
    account = Account(scope=SCOPE, envelope=ENV)
    # The newer report arrives first
    assert account.report_balance(balance("1200", T0 + timedelta(seconds=5)), ENV)
    # The older one arrives late: no news
    assert not account.report_balance(balance("1000", T0), ENV)
    # The same report again: no news
    assert not account.report_balance(balance("1200", T0 + timedelta(seconds=5)), ENV)

    assert account.wallet_balance("USDT") == D("1200")
    assert account.wallet_balance("BNB") == D(0)


def test_a_websocket_balance_moves_the_available_balance_by_what_the_wallet_moved() -> None:
    account = Account(scope=SCOPE, envelope=ENV)
    account.report_balance(balance("1000", T0, available="900"), ENV)
    # The stream's report carries no available balance: +10 in the wallet is +10 available
    account.report_balance(balance("1010", T0 + timedelta(seconds=1)), ENV)

    assert account.wallet_balance() == D("1010")
    assert account.available_balance() == D("910")
    # The next REST figure is the exchange's own, and replaces the estimate
    account.report_balance(balance("1010", T0 + timedelta(seconds=2), available="905"), ENV)
    assert account.available_balance() == D("905")


def test_a_correction_records_what_was_believed() -> None:
    account = Account(scope=SCOPE, envelope=ENV)
    account.report_balance(balance("1000", T0), ENV)
    account.correct_balance(balance("990", T0 - timedelta(seconds=1)), ENV)

    # A correction is the exchange's word even when its time is older
    assert account.wallet_balance() == D("990")
    corrected = account.pending_events[-1]
    assert type(corrected).__name__ == "BalanceCorrected"
    assert corrected.believed == D("1000")  # type: ignore[attr-defined]


def test_fills_and_income_are_booked_once(trading: Trading) -> None:
    ws, rest = trading.envelope(Source.WEBSOCKET), trading.envelope(Source.REST)
    # Open and close a position; both fills arrive twice
    opening = fill(1, "m-1", "BUY", "0.010", "60000", fee="0.24")
    closing = fill(2, "m-2", "SELL", "0.010", "60500", fee="0.25")
    for f in (opening, closing, closing, opening):
        trading.record_fill(f, ws)
        trading.record_fill(f, rest)
    # Funding, reported twice; a commission row is not a ledger entry of its own
    funding = IncomeFact(
        income_type="FUNDING_FEE", asset="USDT", amount=D("-0.3"), tran_id=5, time=T0
    )
    assert trading.record_income(funding, rest)
    assert not trading.record_income(funding, rest)
    commission = IncomeFact(
        income_type="COMMISSION", asset="USDT", amount=D("-0.24"), tran_id=6, time=T0
    )
    assert not trading.record_income(commission, rest)

    account = trading.account()
    assert account.realized_pnl == D("5.000")
    assert account.fees == D("0.49")
    assert account.funding == D("-0.3")
