"""The orders a Command sends (intents), built from its payload.

Leg names are part of the client order id (`client_order_id_for(command_id, leg)`): the entry is
the empty leg, protective orders are "sl" and "tp" and go through the algo-order API.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from aggregates.ids import client_order_id_for
from aggregates.intent import OrderIntent
from aggregates.payloads import PlaceOrder

ALGO_LEGS = ("sl", "tp")
ALGO_TYPES = {"STOP_MARKET", "TAKE_PROFIT_MARKET", "STOP", "TAKE_PROFIT", "TRAILING_STOP_MARKET"}


def is_algo_client_order_id(client_order_id: str) -> bool:
    return any(client_order_id.startswith(f"ae{leg}-") for leg in ALGO_LEGS)


def entry_intents(
    command_id: Any, symbol: str, order: PlaceOrder, quantity: Decimal
) -> list[OrderIntent]:
    """The entry and, when it carries protective prices, its stop and take-profit legs."""
    is_algo = order.type in ALGO_TYPES
    intents = [
        OrderIntent(
            client_order_id=client_order_id_for(command_id),
            is_algo=is_algo,
            symbol=symbol,
            side=order.side,
            order_type=order.type,
            quantity=Decimal(0) if order.close_position else quantity,
            price=order.price if order.type == "LIMIT" and order.price else Decimal(0),
            stop_price=order.stop_price if is_algo and order.stop_price else Decimal(0),
            reduce_only=order.reduce_only,
            close_position=order.close_position,
            time_in_force=order.time_in_force or "GTC",
        )
    ]
    if is_algo or order.reduce_only:
        return intents
    exit_side = "SELL" if order.side == "BUY" else "BUY"
    for leg, kind, trigger in (
        ("sl", "STOP_MARKET", order.stop_price),
        ("tp", "TAKE_PROFIT_MARKET", order.take_profit_price),
    ):
        if trigger is not None and trigger > 0:
            intents.append(
                OrderIntent(
                    client_order_id=client_order_id_for(command_id, leg),
                    is_algo=True,
                    symbol=symbol,
                    side=exit_side,
                    order_type=kind,
                    quantity=Decimal(0),
                    stop_price=trigger,
                    close_position=True,
                    working_type="MARK_PRICE",
                )
            )
    return intents


def close_intent(command_id: Any, symbol: str, position_quantity: Decimal) -> OrderIntent:
    return OrderIntent(
        client_order_id=client_order_id_for(command_id),
        is_algo=False,
        symbol=symbol,
        side="SELL" if position_quantity > 0 else "BUY",
        order_type="MARKET",
        quantity=abs(position_quantity),
        reduce_only=True,
    )


def intent_of(order: Any) -> OrderIntent:
    """Rebuild the intent from its recorded Order aggregate (after a restart)."""
    return OrderIntent(
        client_order_id=order.client_order_id,
        is_algo=order.is_algo,
        symbol=order.symbol,
        side=order.side,
        order_type=order.order_type,
        quantity=order.quantity,
        price=order.price,
        stop_price=order.stop_price,
        reduce_only=order.reduce_only,
        close_position=order.close_position,
        time_in_force=order.time_in_force,
        working_type=order.working_type,
    )
