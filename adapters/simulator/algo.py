"""Conditional (algo) orders: parameters, trigger rules and Binance JSON shapes.

See docs/exchange-rules.md, "Algo (conditional) orders".
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal

from .config import SymbolRules
from .decimals import ZERO, fixed, parse_bool, parse_decimal
from .errors import WOULD_TRIGGER, BinanceError, err, mandatory, not_required
from .validation import (
    CONDITIONAL_TYPES,
    TIME_IN_FORCE,
    check_client_id,
    check_notional,
    check_position_side,
    check_price_grid,
    check_price_range,
    check_qty,
    check_quantity,
    check_resp_type,
    check_side,
    check_stp,
    check_symbol,
)

OPEN_ALGO_STATUSES = frozenset({"NEW", "TRIGGERING"})
# Once triggered the algo order waits for its child in the matching engine.
LIVE_ALGO_STATUSES = frozenset({"NEW", "TRIGGERING", "TRIGGERED"})


@dataclass
class AlgoOrder:
    algo_id: int
    client_algo_id: str
    symbol: str
    side: str
    type: str
    time_in_force: str
    quantity: Decimal
    price: Decimal
    trigger_price: Decimal
    working_type: str
    close_position: bool
    reduce_only: bool
    price_protect: bool
    price_match: str
    stp_mode: str
    activate_price: Decimal | None
    callback_rate: Decimal | None
    create_time: int
    received_at: float
    status: str = "NEW"
    update_time: int = 0
    trigger_time: int = 0
    actual_order_id: int | None = None
    actual_price: Decimal = ZERO
    actual_qty: Decimal = ZERO
    reason: str = ""
    # Trailing stops: whether activated and the best price seen since.
    activated: bool = False
    extreme: Decimal | None = None

    def __post_init__(self) -> None:
        if not self.update_time:
            self.update_time = self.create_time

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_ALGO_STATUSES

    @property
    def child_type(self) -> str:
        return "LIMIT" if self.type in ("STOP", "TAKE_PROFIT") else "MARKET"

    def should_trigger(self, price: Decimal) -> bool:
        """Trigger rule for the working price (mark or last) of this tick."""
        if self.type == "TRAILING_STOP_MARKET":
            return self._trail(price)
        is_stop = self.type in ("STOP", "STOP_MARKET")
        buy = self.side == "BUY"
        if is_stop == buy:
            return price >= self.trigger_price
        return price <= self.trigger_price

    def _trail(self, price: Decimal) -> bool:
        rate = (self.callback_rate or ZERO) / 100
        sell = self.side == "SELL"
        if not self.activated:
            target = self.activate_price
            if target is None or (price >= target if sell else price <= target):
                self.activated = True
                self.extreme = price
            return False
        assert self.extreme is not None
        self.extreme = max(self.extreme, price) if sell else min(self.extreme, price)
        if sell:
            return price <= self.extreme * (1 - rate)
        return price >= self.extreme * (1 + rate)

    def to_binance(self, rules: SymbolRules, query: bool = False) -> dict[str, object]:
        pp, qp = rules.price_precision, rules.quantity_precision
        trailing = self.type == "TRAILING_STOP_MARKET"
        body: dict[str, object] = {
            "algoId": self.algo_id,
            "clientAlgoId": self.client_algo_id,
            "algoType": "CONDITIONAL",
            "orderType": self.type,
            "symbol": self.symbol,
            "side": self.side,
            "positionSide": "BOTH",
            "timeInForce": self.time_in_force,
            "quantity": fixed(self.quantity, qp),
            "algoStatus": self.status,
            "triggerPrice": fixed(self.trigger_price, pp),
            "price": fixed(self.price, pp),
            "icebergQuantity": None,
            "selfTradePreventionMode": self.stp_mode,
            "workingType": self.working_type,
            "priceMatch": self.price_match,
            "closePosition": self.close_position,
            "priceProtect": self.price_protect,
            "reduceOnly": self.reduce_only,
            "activatePrice": fixed(self.activate_price, pp)
            if trailing and self.activate_price is not None
            else "",
            "callbackRate": str(self.callback_rate) if trailing and self.callback_rate else "",
            "createTime": self.create_time,
            "updateTime": self.update_time,
            "triggerTime": self.trigger_time,
            "goodTillDate": 0,
        }
        if query:
            body["actualOrderId"] = str(self.actual_order_id) if self.actual_order_id else ""
            body["actualPrice"] = fixed(self.actual_price, 5) if self.actual_order_id else ""
            body["actualType"] = self.child_type if self.actual_order_id else ""
            body["actualQty"] = fixed(self.actual_qty, qp) if self.actual_order_id else ""
        return body

    def update_event(self, rules: SymbolRules, now_ms: int) -> dict[str, object]:
        pp, qp = rules.price_precision, rules.quantity_precision
        payload: dict[str, object] = {
            "caid": self.client_algo_id,
            "aid": self.algo_id,
            "at": "CONDITIONAL",
            "o": self.type,
            "s": self.symbol,
            "S": self.side,
            "ps": "BOTH",
            "f": self.time_in_force,
            "q": fixed(self.quantity, qp),
            "X": self.status,
            "ai": str(self.actual_order_id) if self.actual_order_id else "",
            "ap": fixed(self.actual_price, 5),
            "aq": fixed(self.actual_qty, qp),
            "act": self.child_type if self.actual_order_id else "0",
            "tp": fixed(self.trigger_price, pp),
            "p": fixed(self.price, pp),
            "V": self.stp_mode,
            "wt": self.working_type,
            "pm": self.price_match,
            "cp": self.close_position,
            "pP": self.price_protect,
            "R": self.reduce_only,
            "tt": self.trigger_time,
            "gtd": 0,
        }
        if self.reason:
            payload["rm"] = self.reason
        return {"e": "ALGO_UPDATE", "T": now_ms, "E": now_ms, "o": payload}


def parse_algo_order(
    params: Mapping[str, str],
    symbol: str,
    rules: SymbolRules,
    dual_side: bool,
    client_id_in_use: Callable[[str], bool],
    working_price: Callable[[str], Decimal],
    position_amount: Decimal,
    algo_id: int,
    client_algo_id: str,
    now_ms: int,
    received_at: float,
) -> tuple[AlgoOrder, str]:
    """Validate a POST /fapi/v1/algoOrder; returns the order and the response type."""
    check_symbol(params, symbol)
    algo_type = params.get("algoType")
    if not algo_type:
        raise mandatory("algoType")
    if algo_type != "CONDITIONAL":
        raise BinanceError(-1130, "Invalid data sent for a parameter 'algoType'.")
    side = check_side(params)
    order_type = params.get("type")
    if not order_type:
        raise mandatory("type")
    if order_type not in CONDITIONAL_TYPES:
        raise BinanceError(-1116, "Invalid orderType.")
    check_position_side(params, dual_side)
    close_position = parse_bool("closePosition", params.get("closePosition"))
    reduce_only = parse_bool("reduceOnly", params.get("reduceOnly"))
    if close_position:
        if order_type not in ("STOP_MARKET", "TAKE_PROFIT_MARKET"):
            raise not_required("closePosition")
        if params.get("quantity"):
            raise not_required("quantity")
        if params.get("reduceOnly"):
            raise not_required("reduceOnly")
        quantity = ZERO
    else:
        quantity = check_quantity(params)
    time_in_force = params.get("timeInForce") or "GTC"
    if time_in_force not in TIME_IN_FORCE:
        raise BinanceError(-1115, "Invalid timeInForce.")
    working_type = params.get("workingType") or "CONTRACT_PRICE"
    if working_type not in ("MARK_PRICE", "CONTRACT_PRICE"):
        raise BinanceError(-1130, "Invalid data sent for a parameter 'workingType'.")
    price = ZERO
    if order_type in ("STOP", "TAKE_PROFIT"):
        parsed = parse_decimal("price", params.get("price"))
        assert parsed is not None
        price = parsed
    activate_price: Decimal | None = None
    callback_rate: Decimal | None = None
    trigger_price = ZERO
    if order_type == "TRAILING_STOP_MARKET":
        callback_rate = parse_decimal("callbackRate", params.get("callbackRate"))
        assert callback_rate is not None
        if not Decimal("0.1") <= callback_rate <= Decimal("20"):
            raise BinanceError(-1130, "Invalid data sent for a parameter 'callbackRate'.")
        activate_price = parse_decimal("activatePrice", params.get("activatePrice"), required=False)
    else:
        parsed = parse_decimal("triggerPrice", params.get("triggerPrice"))
        assert parsed is not None
        trigger_price = parsed
    raw_client_id = params.get("clientAlgoId") or None
    check_client_id(raw_client_id, client_id_in_use)
    for value in (price, trigger_price, activate_price):
        if value:
            check_price_grid("price", value, rules)
    if quantity:
        limit_child = order_type in ("STOP", "TAKE_PROFIT")
        check_qty(quantity, rules, market=not limit_child)
    for value in (price, trigger_price, activate_price):
        if value:
            check_price_range(value, rules)
    reference = price or trigger_price or activate_price or working_price(working_type)
    if quantity:
        check_notional(reference, quantity, reduce_only, rules)
    if close_position and position_amount == 0:
        raise BinanceError(-2022, "ReduceOnly Order is rejected.")
    algo = AlgoOrder(
        algo_id=algo_id,
        client_algo_id=raw_client_id or client_algo_id,
        symbol=symbol,
        side=side,
        type=order_type,
        time_in_force=time_in_force,
        quantity=quantity,
        price=price,
        trigger_price=trigger_price,
        working_type=working_type,
        close_position=close_position,
        reduce_only=reduce_only,
        price_protect=parse_bool("priceProtect", params.get("priceProtect")),
        price_match=params.get("priceMatch") or "NONE",
        stp_mode=check_stp(params),
        activate_price=activate_price,
        callback_rate=callback_rate,
        create_time=now_ms,
        received_at=received_at,
    )
    if order_type != "TRAILING_STOP_MARKET" and algo.should_trigger(working_price(working_type)):
        raise err(WOULD_TRIGGER)
    return algo, check_resp_type(params)
