"""Exchange facts as plain typed values: what the adapter hands the Trading application.

Parsing (pydantic, in the adapter) turns Binance payloads into these; the domain never sees JSON.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal


@dataclass(frozen=True)
class FillFact:
    symbol: str
    trade_id: int
    exchange_order_id: int
    client_order_id: str
    side: str  # BUY | SELL
    quantity: Decimal
    price: Decimal
    fee: Decimal
    fee_asset: str
    realized_pnl: Decimal  # the exchange's own figure, kept for comparison
    is_maker: bool
    time: datetime

    @property
    def dedup_key(self) -> str:
        return f"fill:{self.symbol}:{self.trade_id}"

    @property
    def signed_quantity(self) -> Decimal:
        return self.quantity if self.side == "BUY" else -self.quantity


@dataclass(frozen=True)
class OrderFact:
    """An order as the exchange reports it (ORDER_TRADE_UPDATE or GET /fapi/v1/order)."""

    symbol: str
    client_order_id: str
    exchange_order_id: int
    status: str
    side: str
    order_type: str
    quantity: Decimal
    price: Decimal
    cumulative_quantity: Decimal
    average_price: Decimal
    reduce_only: bool
    time_in_force: str
    transaction_time: datetime
    stop_price: Decimal = Decimal(0)
    expire_reason: str = ""


@dataclass(frozen=True)
class AlgoOrderFact:
    """A conditional order as the exchange reports it (ALGO_UPDATE or GET /fapi/v1/algoOrder)."""

    symbol: str
    client_algo_id: str
    algo_id: int
    algo_status: str
    side: str
    order_type: str
    quantity: Decimal
    trigger_price: Decimal
    price: Decimal
    reduce_only: bool
    close_position: bool
    working_type: str
    transaction_time: datetime
    child_exchange_order_id: int | None = None
    reason: str = ""


@dataclass(frozen=True)
class BalanceFact:
    asset: str
    wallet_balance: Decimal
    cross_wallet_balance: Decimal
    as_of: datetime
    reason: str  # the ACCOUNT_UPDATE `m`, or SNAPSHOT for a REST read
    available_balance: Decimal | None = None


@dataclass(frozen=True)
class PositionFact:
    symbol: str
    quantity: Decimal
    entry_price: Decimal
    break_even_price: Decimal
    as_of: datetime
    leverage: int | None = None


@dataclass(frozen=True)
class IncomeFact:
    """A ledger row from GET /fapi/v1/income (TRANSFER, FUNDING_FEE, ...), unique by tranId."""

    income_type: str
    asset: str
    amount: Decimal
    tran_id: int
    time: datetime
    symbol: str = ""

    @property
    def dedup_key(self) -> str:
        return f"income:{self.income_type}:{self.tran_id}"


@dataclass(frozen=True)
class LeverageFact:
    """The account's leverage for a symbol (ACCOUNT_CONFIG_UPDATE or the symbol config)."""

    symbol: str
    leverage: int
    time: datetime
