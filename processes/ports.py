"""What the executor and the reconciler need from an exchange, and how its answers are classified.

The adapter (adapters/binance) implements `ExchangeGateway` on python-binance. The split of
errors is the heart of exactly-once placement: a definite rejection is final, an unknown outcome
must be resolved by looking the order up, never by sending it again blindly.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol

from aggregates.facts import (
    AlgoOrderFact,
    BalanceFact,
    FillFact,
    IncomeFact,
    OrderFact,
    PositionFact,
)
from alphaengine.trading import OrderIntent


class ExchangeError(Exception):
    pass


class ExchangeRejected(ExchangeError):
    """The exchange answered and refused: nothing was applied (4xx with a Binance code)."""

    def __init__(self, code: int, message: str, status: int = 400) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.code = code
        self.message = message
        self.status = status


class UnknownOutcome(ExchangeError):
    """The request may or may not have been applied: timeout, dropped connection, 503 unknown,
    -1006/-1007. Resolve by lookup; never treat as failure."""


class ExchangeUnavailable(ExchangeError):
    """A definite failure before anything was applied (503 "Service Unavailable", connection
    refused, REST paused by a ban): safe to retry later."""


@dataclass(frozen=True)
class OrderAck:
    exchange_order_id: int  # orderId, or algoId for an algo order
    fact: OrderFact | AlgoOrderFact


@dataclass(frozen=True)
class AccountSnapshot:
    balances: list[BalanceFact]
    position: PositionFact
    open_orders: list[OrderFact]
    open_algo_orders: list[AlgoOrderFact]


class ExchangeGateway(Protocol):
    """The exchange as the engine sees it. Every method raises the errors above."""

    recv_window_ms: int

    async def place_order(self, intent: OrderIntent) -> OrderAck: ...

    async def get_order(
        self, symbol: str, client_order_id: str, *, is_algo: bool
    ) -> OrderFact | AlgoOrderFact | None:
        """None means the exchange confirmed no such order exists (-2013 / unknown algo)."""
        ...

    async def cancel_order(self, symbol: str, client_order_id: str, *, is_algo: bool) -> None: ...

    async def cancel_all(self, symbol: str) -> None:
        """Cancel every open normal and algo order of the symbol."""
        ...

    async def set_leverage(self, symbol: str, leverage: int) -> int: ...

    async def transfer_to_futures(self, asset: str, amount: Decimal) -> int:
        """Spot -> USDⓈ-M transfer; returns the exchange's tranId."""
        ...

    async def snapshot(self, symbol: str) -> AccountSnapshot: ...

    async def fills_since(self, symbol: str, from_trade_id: int | None) -> list[FillFact]: ...

    async def income_since(self, start_ms: int) -> list[IncomeFact]: ...
