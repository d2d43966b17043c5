"""Command payloads: what each kind carries, validated, and the orders a command sends.

Leg names are part of the client order id (`client_order_id_for(command_id, leg)`): the entry is
the empty leg, protective orders are "sl" and "tp" and go through the algo-order API.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from aggregates.ids import client_order_id_for
from alphaengine.trading import OrderIntent

ALGO_LEGS = ("sl", "tp")
ALGO_TYPES = {"STOP_MARKET", "TAKE_PROFIT_MARKET", "STOP", "TAKE_PROFIT", "TRAILING_STOP_MARKET"}


T = TypeVar("T", bound="_Payload")


class BadPayload(Exception):
    pass


class _Payload(BaseModel):
    model_config = ConfigDict(extra="ignore")


class PlaceOrder(_Payload):
    side: Literal["BUY", "SELL"]
    type: Literal["MARKET", "LIMIT", "STOP_MARKET", "TAKE_PROFIT_MARKET"] = "MARKET"
    quantity: Decimal | None = Field(default=None, gt=0)  # None: the risk guard sizes it
    price: Decimal = Decimal(0)
    stop_price: Decimal = Decimal(0)  # the protective stop (or the trigger of a stop order)
    take_profit_price: Decimal = Decimal(0)
    reduce_only: bool = False
    close_position: bool = False
    time_in_force: Literal["GTC", "IOC", "FOK", "GTX"] = "GTC"


class CancelOrder(_Payload):
    client_order_id: str = Field(min_length=1, max_length=36)
    is_algo: bool = False


class ClosePosition(_Payload):
    quantity: Decimal | None = Field(default=None, gt=0)  # None: all of it


class SetLeverage(_Payload):
    leverage: int = Field(ge=1, le=125)


class TransferToFutures(_Payload):
    asset: str = "USDT"
    amount: Decimal = Field(gt=0)


class PauseEngine(_Payload):
    reason: str = "paused by command"


def parse(model: type[T], payload: dict[str, Any]) -> T:
    try:
        return model.model_validate(payload)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or 'payload'}: {e['msg']}" for e in exc.errors()
        )
        raise BadPayload(problems) from exc


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
            price=order.price if order.type == "LIMIT" else Decimal(0),
            stop_price=order.stop_price if is_algo else Decimal(0),
            reduce_only=order.reduce_only,
            close_position=order.close_position,
            time_in_force=order.time_in_force,
        )
    ]
    if is_algo or order.reduce_only:
        return intents
    exit_side = "SELL" if order.side == "BUY" else "BUY"
    for leg, kind, trigger in (
        ("sl", "STOP_MARKET", order.stop_price),
        ("tp", "TAKE_PROFIT_MARKET", order.take_profit_price),
    ):
        if trigger > 0:
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
