"""The exchange as the engine sees it: REST, streams, and how every answer is classified.

`processes/` depends only on these; `adapters/binance` implements them (and a second venue or a
recorded-data replayer could, without touching `processes/`). The split of errors is the heart
of exactly-once placement: a definite rejection is final, an unknown outcome must be resolved by
looking the order up, never by sending it again blindly.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Protocol

from aggregates.facts import (
    AlgoOrderFact,
    BalanceFact,
    FillFact,
    IncomeFact,
    LeverageFact,
    OrderFact,
    PositionFact,
)
from aggregates.intent import OrderIntent
from aggregates.market import Candle, SymbolRules


# ---- errors ------------------------------------------------------------------------------------
class ExchangeError(Exception):
    pass


class ExchangeRejected(ExchangeError):
    """The exchange answered and refused: nothing was applied (4xx with an exchange code)."""

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
    refused, REST paused by a ban): safe to retry later. `banned_until` is set during a ban."""

    banned_until: datetime | None = None


class StreamClosed(ExchangeError):
    """A stream session ended (closed by the server, a network error, a dead read loop)."""


# ---- REST answers ------------------------------------------------------------------------------
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


# ---- stream items ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Malformed:
    """A message that does not have the documented shape: skipped, counted and logged."""

    reason: str
    raw: str


@dataclass(frozen=True)
class KlineUpdate:
    candle: Candle
    closed: bool  # the final update of its interval: only then is it a candle
    event_time: datetime


@dataclass(frozen=True)
class MarkUpdate:
    symbol: str
    price: Decimal
    event_time: datetime


UserFact = FillFact | OrderFact | AlgoOrderFact | BalanceFact | LeverageFact


@dataclass(frozen=True)
class UserFacts:
    facts: tuple[UserFact, ...]  # in the order they should be recorded; empty: nothing to record


@dataclass(frozen=True)
class ListenKeyExpired:
    """The user stream's key ended: nothing more arrives on this session."""


MarketItem = KlineUpdate | MarkUpdate | Malformed
UserItem = UserFacts | ListenKeyExpired | Malformed


class MarketSession(Protocol):
    async def receive(self) -> MarketItem:
        """The next item; StreamClosed when the session is over. Callers bound the wait
        (`asyncio.timeout`): silence is theirs to judge."""
        ...

    async def close(self) -> None:
        """Release the connection; returns within a bounded time, whatever the server does."""
        ...


class UserSession(Protocol):
    async def receive(self) -> UserItem: ...

    async def keepalive(self) -> None:
        """Extend the session's key; ExchangeRejected when the exchange no longer knows it."""
        ...

    async def probe(self) -> bool:
        """Whether the connection still answers a ping within a few seconds (a quiet stream
        is not a dead one)."""
        ...

    async def close(self) -> None: ...


class ExchangeStreams(Protocol):
    async def open_market(self, symbol: str, interval: str) -> MarketSession:
        """Kline updates of `interval` and the mark price of `symbol`, on one connection."""
        ...

    async def open_user(self) -> UserSession: ...


# ---- REST --------------------------------------------------------------------------------------
class ExchangeGateway(Protocol):
    """The exchange's REST side. Every method raises the errors above."""

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

    async def klines(
        self,
        symbol: str,
        interval: str,
        *,
        limit: int,
        start_ms: int | None = None,
        end_ms: int | None = None,
    ) -> list[Candle]:
        """Candles oldest first; without `end_ms`, the bar still in progress is left out."""
        ...

    async def symbol_rules(self, symbol: str) -> SymbolRules: ...

    async def mark_price(self, symbol: str) -> Decimal: ...

    def server_time(self) -> datetime:
        """The exchange's clock as last synchronised (no request)."""
        ...


class Counters(Protocol):
    """Where the engine counts what the exchange did (messages, gaps, reconnects, malformed)."""

    def inc(self, name: str, amount: int = 1) -> int: ...
