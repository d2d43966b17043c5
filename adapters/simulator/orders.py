"""Matching-engine orders and fills, and their Binance JSON shapes."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from .config import SymbolRules
from .decimals import ZERO, fixed, plain

OPEN_STATUSES = frozenset({"NEW", "PARTIALLY_FILLED"})


@dataclass
class Fill:
    trade_id: int
    order_id: int
    symbol: str
    side: str
    price: Decimal
    qty: Decimal
    realized_pnl: Decimal
    commission: Decimal
    maker: bool
    time: int

    def to_binance(self, rules: SymbolRules) -> dict[str, object]:
        quote = self.price * self.qty
        return {
            "symbol": self.symbol,
            "id": self.trade_id,
            "orderId": self.order_id,
            "side": self.side,
            "price": fixed(self.price, rules.price_precision),
            "qty": fixed(self.qty, rules.quantity_precision),
            "realizedPnl": fixed(self.realized_pnl, 8),
            "quoteQty": plain(quote, 8),
            "commission": fixed(self.commission, 8),
            "commissionAsset": "USDT",
            "time": self.time,
            "positionSide": "BOTH",
            "buyer": self.side == "BUY",
            "maker": self.maker,
            "baseQty": fixed(self.qty, rules.quantity_precision),
            "marginAsset": "USDT",
            "pair": self.symbol,
        }


@dataclass
class Order:
    order_id: int
    client_order_id: str
    symbol: str
    side: str
    type: str
    time_in_force: str
    orig_qty: Decimal
    price: Decimal
    reduce_only: bool
    time: int
    received_at: float
    orig_type: str = ""
    stop_price: Decimal = ZERO
    close_position: bool = False
    working_type: str = "CONTRACT_PRICE"
    price_protect: bool = False
    price_match: str = "NONE"
    stp_mode: str = "EXPIRE_MAKER"
    good_till_date: int = 0
    status: str = "NEW"
    executed_qty: Decimal = ZERO
    cum_quote: Decimal = ZERO
    update_time: int = 0
    fills: list[Fill] = field(default_factory=list)
    algo_id: int | None = None

    def __post_init__(self) -> None:
        if not self.orig_type:
            self.orig_type = self.type
        if not self.update_time:
            self.update_time = self.time

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_STATUSES

    @property
    def remaining(self) -> Decimal:
        return self.orig_qty - self.executed_qty

    @property
    def signed_remaining(self) -> Decimal:
        return self.remaining if self.side == "BUY" else -self.remaining

    @property
    def avg_price(self) -> Decimal:
        return self.cum_quote / self.executed_qty if self.executed_qty else ZERO

    def to_binance(self, rules: SymbolRules) -> dict[str, object]:
        pp, qp = rules.price_precision, rules.quantity_precision
        return {
            "orderId": self.order_id,
            "symbol": self.symbol,
            "status": self.status,
            "clientOrderId": self.client_order_id,
            "price": fixed(self.price, pp),
            "avgPrice": fixed(self.avg_price, 5),
            "origQty": fixed(self.orig_qty, qp),
            "executedQty": fixed(self.executed_qty, qp),
            "cumQty": fixed(self.executed_qty, qp),
            "cumQuote": fixed(self.cum_quote, 5),
            "timeInForce": self.time_in_force,
            "type": self.type,
            "reduceOnly": self.reduce_only,
            "closePosition": self.close_position,
            "side": self.side,
            "positionSide": "BOTH",
            "stopPrice": fixed(self.stop_price, pp),
            "workingType": self.working_type,
            "priceProtect": self.price_protect,
            "origType": self.orig_type,
            "priceMatch": self.price_match,
            "selfTradePreventionMode": self.stp_mode,
            "goodTillDate": self.good_till_date,
            "time": self.time,
            "updateTime": self.update_time,
        }

    def trade_update(
        self,
        rules: SymbolRules,
        execution: str,
        now_ms: int,
        fill: Fill | None = None,
        expiry_reason: str = "0",
    ) -> dict[str, object]:
        """The ORDER_TRADE_UPDATE event for this order's current state."""
        pp, qp = rules.price_precision, rules.quantity_precision
        return {
            "e": "ORDER_TRADE_UPDATE",
            "E": now_ms,
            "T": now_ms,
            "o": {
                "s": self.symbol,
                "c": self.client_order_id,
                "S": self.side,
                "o": self.type,
                "f": self.time_in_force,
                "q": fixed(self.orig_qty, qp),
                "p": fixed(self.price, pp),
                "ap": fixed(self.avg_price, 5),
                "sp": fixed(self.stop_price, pp),
                "x": execution,
                "X": self.status,
                "i": self.order_id,
                "l": fixed(fill.qty, qp) if fill else "0",
                "z": fixed(self.executed_qty, qp),
                "L": fixed(fill.price, pp) if fill else "0",
                "n": fixed(fill.commission, 8) if fill else "0",
                "N": "USDT",
                "T": now_ms,
                "t": fill.trade_id if fill else 0,
                "b": "0",
                "a": "0",
                "m": fill.maker if fill else False,
                "R": self.reduce_only,
                "wt": self.working_type,
                "ot": self.orig_type,
                "ps": "BOTH",
                "cp": self.close_position,
                "rp": fixed(fill.realized_pnl, 8) if fill else "0",
                "pP": self.price_protect,
                "si": 0,
                "ss": 0,
                "V": self.stp_mode,
                "pm": self.price_match,
                "gtd": self.good_till_date,
                "er": expiry_reason,
            },
        }

    def trade_lite(self, rules: SymbolRules, fill: Fill, now_ms: int) -> dict[str, object]:
        pp, qp = rules.price_precision, rules.quantity_precision
        return {
            "e": "TRADE_LITE",
            "E": now_ms,
            "T": now_ms,
            "s": self.symbol,
            "q": fixed(self.orig_qty, qp),
            "p": fixed(self.price, pp),
            "m": fill.maker,
            "c": self.client_order_id,
            "S": self.side,
            "L": fixed(fill.price, pp),
            "l": fixed(fill.qty, qp),
            "t": fill.trade_id,
            "i": self.order_id,
        }
