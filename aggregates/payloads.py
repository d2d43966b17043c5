"""What each Command kind carries: one model per kind, shared by every process that files or
carries out a Command (the web, the strategy runner, the protection monitor, the executor).

Payloads travel in the event store as JSON (Decimals as strings); `parse_payload` is the one
gate, so a payload the executor reads is exactly one the web or the runner could have filed.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, ValidationError, model_validator

from aggregates.command import CommandKind
from aggregates.ids import CLIENT_ORDER_ID_PATTERN

PositiveDecimal = Annotated[Decimal, Field(gt=0, max_digits=28, allow_inf_nan=False)]
Reason = Annotated[str, Field(max_length=200)]
CONDITIONAL_TYPES = ("STOP_MARKET", "TAKE_PROFIT_MARKET")


class BadPayload(Exception):
    """The payload does not fit its kind; `errors` name each bad field (pydantic's shape)."""

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        text = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'payload'}: {e['msg']}" for e in errors)
        super().__init__(text)
        self.errors = errors


class Payload(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    def as_payload(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_none=True)


class Freshness(Payload):
    """When a decision stops being worth carrying out (strategy Commands always set it).

    `candle_time` is the close time of the candle the decision was made on; `valid_until` is
    the exchange time after which the executor expires the Command instead of trading on it.
    """

    candle_time: AwareDatetime | None = None
    valid_until: AwareDatetime | None = None

    def expired(self, exchange_now: datetime) -> bool:
        return self.valid_until is not None and exchange_now > self.valid_until


class PlaceOrder(Freshness):
    """An order. For an entry (MARKET/LIMIT), stop_price and take_profit_price are the
    protective orders placed once it fills; for a STOP_MARKET/TAKE_PROFIT_MARKET order,
    stop_price is its trigger. Without a quantity the risk guard sizes the entry from the stop
    distance. `reference_price` is the price the decision was made at: at execution the stop and
    take-profit keep their distance from it, moved to the current mark.
    """

    side: Literal["BUY", "SELL"]
    type: Literal["MARKET", "LIMIT", "STOP_MARKET", "TAKE_PROFIT_MARKET"] = "MARKET"
    quantity: PositiveDecimal | None = None
    price: PositiveDecimal | None = None
    stop_price: PositiveDecimal | None = None
    take_profit_price: PositiveDecimal | None = None
    time_in_force: Literal["GTC", "IOC", "FOK", "GTX"] | None = None
    reduce_only: bool = False
    close_position: bool = False
    reference_price: PositiveDecimal | None = None
    reason: Reason = ""

    @property
    def is_conditional(self) -> bool:
        return self.type in CONDITIONAL_TYPES

    @property
    def is_entry(self) -> bool:
        return not (self.is_conditional or self.reduce_only or self.close_position)

    @model_validator(mode="after")
    def _prices_match_type(self) -> PlaceOrder:
        conditional = self.is_conditional
        if self.type == "LIMIT" and self.price is None:
            raise ValueError("price is required for a LIMIT order")
        if self.type != "LIMIT" and self.price is not None:
            raise ValueError(f"price is not allowed for a {self.type} order")
        if conditional and self.stop_price is None:
            raise ValueError(f"stop_price (the trigger) is required for a {self.type} order")
        if conditional and self.take_profit_price is not None:
            raise ValueError(f"take_profit_price is not allowed for a {self.type} order")
        if self.time_in_force is not None and self.type != "LIMIT":
            raise ValueError("time_in_force applies to LIMIT orders only")
        if self.close_position and not conditional:
            raise ValueError("close_position applies to STOP_MARKET/TAKE_PROFIT_MARKET only")
        if self.close_position and self.quantity is not None:
            raise ValueError("close_position orders carry no quantity")
        if self.quantity is None and (self.close_position or self.reduce_only):
            return self
        if self.quantity is None and self.stop_price is None:
            raise ValueError("quantity is required unless a stop_price lets the risk guard size it")
        return self


class ClosePosition(Freshness):
    quantity: PositiveDecimal | None = None  # None: all of it
    reason: Reason = ""


class CancelOrder(Payload):
    client_order_id: str = Field(pattern=CLIENT_ORDER_ID_PATTERN.pattern)
    is_algo: bool = False


class SetLeverage(Payload):
    leverage: int = Field(ge=1, le=125, strict=True)


class TransferToFutures(Payload):
    amount: PositiveDecimal
    asset: Literal["USDT"] = "USDT"


class PauseEngine(Payload):
    reason: Reason = "paused by command"


class NoPayload(Payload):
    pass


PAYLOADS: dict[CommandKind, type[Payload]] = {
    CommandKind.PLACE_ORDER: PlaceOrder,
    CommandKind.CANCEL_ORDER: CancelOrder,
    CommandKind.CANCEL_ALL: NoPayload,
    CommandKind.CLOSE_POSITION: ClosePosition,
    CommandKind.SET_LEVERAGE: SetLeverage,
    CommandKind.TRANSFER_TO_FUTURES: TransferToFutures,
    CommandKind.PAUSE_ENGINE: PauseEngine,
    CommandKind.RESUME_ENGINE: NoPayload,
    CommandKind.FLATTEN: NoPayload,
}


def parse_payload(kind: CommandKind | str, payload: dict[str, Any]) -> Payload:
    try:
        model = PAYLOADS[CommandKind(kind)]
    except ValueError as exc:
        raise BadPayload(
            [{"loc": ["kind"], "msg": f"unknown command kind {kind!r}", "type": "enum"}]
        ) from exc
    try:
        return model.model_validate(payload)
    except ValidationError as exc:
        errors = exc.errors(include_url=False, include_input=False, include_context=False)
        raise BadPayload(
            [{"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]} for e in errors]
        ) from exc


def freshness_of(kind: CommandKind | str, payload: dict[str, Any]) -> Freshness | None:
    """The decision's freshness, when the payload is valid and carries one."""
    try:
        parsed = parse_payload(kind, payload)
    except BadPayload:
        return None
    return parsed if isinstance(parsed, Freshness) else None
