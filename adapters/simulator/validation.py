"""Request checks for new orders, in the order Binance applies them.

See docs/exchange-rules.md, "Order validation order".
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from decimal import Decimal

from .config import SymbolRules
from .decimals import ZERO, decimals_of, fixed, parse_bool, parse_decimal, parse_int
from .errors import (
    DUPLICATE_CLIENT_ID,
    INVALID_CLIENT_ID,
    INVALID_SYMBOL,
    USE_ALGO_ENDPOINT,
    BinanceError,
    err,
    mandatory,
    not_required,
)

CLIENT_ID_RE = re.compile(r"^[\.A-Z\:/a-z0-9_-]{1,36}$")
ME_TYPES = frozenset({"LIMIT", "MARKET"})
CONDITIONAL_TYPES = frozenset(
    {"STOP", "STOP_MARKET", "TAKE_PROFIT", "TAKE_PROFIT_MARKET", "TRAILING_STOP_MARKET"}
)
TIME_IN_FORCE = frozenset({"GTC", "IOC", "FOK", "GTX", "GTD"})
PRICE_MATCH = frozenset(
    {
        "NONE",
        "OPPONENT",
        "OPPONENT_5",
        "OPPONENT_10",
        "OPPONENT_20",
        "QUEUE",
        "QUEUE_5",
        "QUEUE_10",
        "QUEUE_20",
    }
)
STP_MODES = frozenset({"NONE", "EXPIRE_TAKER", "EXPIRE_MAKER", "EXPIRE_BOTH"})


@dataclass
class OrderRequest:
    symbol: str
    side: str
    type: str
    quantity: Decimal
    price: Decimal
    time_in_force: str
    reduce_only: bool
    client_order_id: str | None
    resp_type: str
    price_match: str
    stp_mode: str
    good_till_date: int


def check_symbol(params: Mapping[str, str], symbol: str, *, required: bool = True) -> str | None:
    value = params.get("symbol")
    if not value:
        if required:
            raise mandatory("symbol")
        return None
    if value.upper() != symbol:
        raise err(INVALID_SYMBOL)
    return symbol


def check_side(params: Mapping[str, str]) -> str:
    side = params.get("side")
    if not side:
        raise mandatory("side")
    if side not in ("BUY", "SELL"):
        raise BinanceError(-1117, "Invalid side.")
    return side


def check_position_side(params: Mapping[str, str], dual_side: bool) -> None:
    position_side = params.get("positionSide", "")
    if dual_side or position_side not in ("", "BOTH"):
        raise BinanceError(-4061, "Order's position side does not match user's setting.")


def check_client_id(value: str | None, in_use: Callable[[str], bool]) -> None:
    if value is None:
        return
    if not CLIENT_ID_RE.match(value):
        raise err(INVALID_CLIENT_ID)
    if in_use(value):
        raise err(DUPLICATE_CLIENT_ID)


# Binance answers -1111 only beyond the asset's precision; finer-than-tick values get -4014/-4023.
MAX_DECIMALS = 8


def check_price_grid(name: str, value: Decimal, rules: SymbolRules) -> None:
    if decimals_of(value) > MAX_DECIMALS:
        raise BinanceError(-1111, "Precision is over the maximum defined for this asset.")
    if rules.tick_size and (value - rules.min_price) % rules.tick_size != 0:
        raise BinanceError(-4014, "Price not increased by tick size.")


def check_qty(value: Decimal, rules: SymbolRules, market: bool) -> None:
    """Precision and step (one stage), then the minimum and maximum."""
    if decimals_of(value) > MAX_DECIMALS:
        raise BinanceError(-1111, "Precision is over the maximum defined for this asset.")
    if rules.step_size and (value - rules.min_qty) % rules.step_size != 0:
        raise BinanceError(-4023, "Qty not increased by step size.")
    if value < rules.min_qty:
        raise BinanceError(-4004, f"Quantity less than min qty: {rules.min_qty}.")
    max_qty = rules.market_max_qty if market else rules.max_qty
    if value > max_qty:
        raise BinanceError(-4005, f"Quantity greater than max qty: {max_qty}.")


def check_price_range(value: Decimal, rules: SymbolRules) -> None:
    if value < rules.min_price:
        raise BinanceError(-4013, f"Price less than min price: {rules.min_price}.")
    if value > rules.max_price:
        raise BinanceError(-4002, f"Price greater than max price: {rules.max_price}.")


def check_percent_price(side: str, price: Decimal, mark: Decimal, rules: SymbolRules) -> None:
    if side == "BUY":
        cap = mark * rules.multiplier_up
        if price > cap:
            raise BinanceError(
                -4016, f"Limit price can't be higher than {fixed(cap, rules.price_precision)}."
            )
    else:
        floor = mark * rules.multiplier_down
        if price < floor:
            raise BinanceError(
                -4024, f"Limit price can't be lower than {fixed(floor, rules.price_precision)}."
            )


def check_notional(price: Decimal, qty: Decimal, reduce_only: bool, rules: SymbolRules) -> None:
    if not reduce_only and price * qty < rules.min_notional:
        minimum = format(rules.min_notional.normalize(), "f")
        raise BinanceError(
            -4164,
            f"Order's notional must be no smaller than {minimum} (unless you choose reduce only).",
        )


def check_resp_type(params: Mapping[str, str]) -> str:
    resp_type = params.get("newOrderRespType") or "ACK"
    if resp_type not in ("ACK", "RESULT"):
        raise BinanceError(-1130, "Invalid data sent for a parameter 'newOrderRespType'.")
    return resp_type


def check_stp(params: Mapping[str, str]) -> str:
    mode = params.get("selfTradePreventionMode") or "EXPIRE_MAKER"
    if mode not in STP_MODES:
        raise BinanceError(-1130, "Invalid data sent for a parameter 'selfTradePreventionMode'.")
    return mode


def check_quantity(params: Mapping[str, str]) -> Decimal:
    qty = parse_decimal("quantity", params.get("quantity"))
    assert qty is not None
    if qty <= 0:
        raise BinanceError(-4003, "Quantity less than or equal to zero.")
    return qty


def parse_new_order(
    params: Mapping[str, str],
    symbol: str,
    dual_side: bool,
    client_id_in_use: Callable[[str], bool],
    now_ms: int,
) -> OrderRequest:
    """Stateless and id checks up to the grid; the exchange continues with ranges and margin."""
    check_symbol(params, symbol)
    side = check_side(params)
    order_type = params.get("type")
    if not order_type:
        raise mandatory("type")
    if order_type in CONDITIONAL_TYPES:
        raise err(USE_ALGO_ENDPOINT)
    if order_type not in ME_TYPES:
        raise BinanceError(-1116, "Invalid orderType.")
    check_position_side(params, dual_side)
    quantity = check_quantity(params)
    price_match = params.get("priceMatch") or "NONE"
    if price_match not in PRICE_MATCH:
        raise BinanceError(-1130, "Invalid data sent for a parameter 'priceMatch'.")
    price = ZERO
    time_in_force = params.get("timeInForce") or "GTC"
    good_till_date = 0
    if order_type == "LIMIT":
        if not params.get("timeInForce"):
            raise mandatory("timeInForce")
        if time_in_force not in TIME_IN_FORCE:
            raise BinanceError(-1115, "Invalid timeInForce.")
        if price_match != "NONE":
            if params.get("price"):
                raise not_required("price")
        else:
            parsed = parse_decimal("price", params.get("price"))
            assert parsed is not None
            if parsed <= 0:
                raise BinanceError(-4001, "Price less than 0.")
            price = parsed
        if time_in_force == "GTD":
            gtd = parse_int("goodTillDate", params.get("goodTillDate"), required=True)
            assert gtd is not None
            if gtd < now_ms + 600_000:
                raise BinanceError(
                    -4188, "Time in Force (TIF) GTD order auto cancel time is smaller than 600s."
                )
            good_till_date = gtd // 1000 * 1000
    else:
        if params.get("price"):
            raise not_required("price")
        if price_match != "NONE":
            raise not_required("priceMatch")
        time_in_force = "GTC"
    reduce_only = parse_bool("reduceOnly", params.get("reduceOnly"))
    resp_type = check_resp_type(params)
    stp_mode = check_stp(params)
    client_order_id = params.get("newClientOrderId") or None
    check_client_id(client_order_id, client_id_in_use)
    return OrderRequest(
        symbol=symbol,
        side=side,
        type=order_type,
        quantity=quantity,
        price=price,
        time_in_force=time_in_force,
        reduce_only=reduce_only,
        client_order_id=client_order_id,
        resp_type=resp_type,
        price_match=price_match,
        stp_mode=stp_mode,
        good_till_date=good_till_date,
    )


def check_grid_and_ranges(req: OrderRequest, rules: SymbolRules, mark: Decimal) -> None:
    """Tick/step → min/max → PERCENT_PRICE → notional, in Binance's order."""
    if req.price:
        check_price_grid("price", req.price, rules)
    check_qty(req.quantity, rules, market=req.type == "MARKET")
    if req.price:
        check_price_range(req.price, rules)
        check_percent_price(req.side, req.price, mark, rules)
    notional_price = req.price if req.type == "LIMIT" and req.price else mark
    check_notional(notional_price, req.quantity, req.reduce_only, rules)
