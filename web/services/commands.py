"""Commands filed from the web: the request body per kind, validated before it reaches the log.

The web only files Commands (source WEB, actor USER); the bot's executor carries them out.
Payload keys are snake_case; Decimals travel as strings so no digit is lost.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from aggregates.command import ActorType, CommandKind
from aggregates.envelope import Source
from aggregates.ids import CLIENT_ORDER_ID_PATTERN
from alphaengine.trading import Trading

PositiveDecimal = Annotated[Decimal, Field(gt=0, max_digits=28, allow_inf_nan=False)]


class _Payload(BaseModel):
    model_config = ConfigDict(extra="forbid")

    def as_payload(self) -> dict[str, Any]:
        return self.model_dump(mode="json", exclude_none=True)


class PlaceOrder(_Payload):
    """An order, in the executor's terms (processes/commands.py).

    For an entry (MARKET/LIMIT), stop_price and take_profit_price are the protective orders the
    executor places after the fill; for a STOP_MARKET/TAKE_PROFIT_MARKET order, stop_price is its
    trigger. Without a quantity the risk guard sizes the entry from the stop distance.
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

    @model_validator(mode="after")
    def _prices_match_type(self) -> PlaceOrder:
        conditional = self.type.endswith("_MARKET")
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
        if self.quantity is None and (self.close_position or self.reduce_only):
            return self
        if self.quantity is None and self.stop_price is None:
            raise ValueError("quantity is required unless a stop_price lets the risk guard size it")
        return self


class ClosePosition(_Payload):
    quantity: PositiveDecimal | None = None  # None: all of it


class CancelOrder(_Payload):
    client_order_id: str = Field(pattern=CLIENT_ORDER_ID_PATTERN.pattern)
    is_algo: bool = False


class SetLeverage(_Payload):
    leverage: int = Field(ge=1, le=125, strict=True)


class TransferToFutures(_Payload):
    amount: PositiveDecimal
    asset: Literal["USDT"] = "USDT"


class PauseEngine(_Payload):
    reason: str = Field(default="paused from the dashboard", max_length=200)


class NoPayload(_Payload):
    pass


PAYLOADS: dict[CommandKind, type[_Payload]] = {
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


class CommandRequest(BaseModel):
    """POST /api/commands body: the kind and its payload (checked against the kind's model)."""

    model_config = ConfigDict(extra="forbid")
    kind: CommandKind
    payload: dict[str, Any] = Field(default_factory=dict)


class PayloadInvalid(Exception):
    """The payload does not fit its kind; `errors` name each bad field under body.payload."""

    def __init__(self, errors: list[dict[str, Any]]) -> None:
        super().__init__("; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in errors))
        self.errors = errors


def validated_payload(request: CommandRequest) -> dict[str, Any]:
    try:
        payload = PAYLOADS[request.kind].model_validate(request.payload)
    except ValidationError as exc:
        raise PayloadInvalid(
            [
                {"loc": ["body", "payload", *e["loc"]], "msg": e["msg"], "type": e["type"]}
                for e in exc.errors(include_url=False, include_input=False)
            ]
        ) from exc
    return payload.as_payload()


class IdempotencyConflict(Exception):
    """The same Idempotency-Key was used before for a different request."""


def idempotency_key(username: str, header: str) -> str:
    # Namespaced per user so a web key can never collide with a strategy's decision key.
    return f"web:{username}:{header}"


def submit(
    trading: Trading, kind: CommandKind, payload: dict[str, Any], *, username: str, key: str
) -> tuple[UUID, bool, dict[str, Any]]:
    """File the Command; the same key again returns the same Command (new=False)."""
    command_id, new = trading.submit_command(
        kind=kind.value,
        payload=payload,
        actor_type=ActorType.USER.value,
        actor_id=username,
        idempotency_key=idempotency_key(username, key),
        source=Source.WEB,
    )
    command = trading.get_command(command_id).as_dict()
    if not new and (command["kind"] != kind.value or command["payload"] != payload):
        raise IdempotencyConflict(
            f"Idempotency-Key {key!r} was already used for a different {command['kind']} command"
        )
    return command_id, new, command
