"""User-stream payloads → typed exchange facts (pydantic models, Decimal money, UTC times).

Every payload either becomes facts or raises `MalformedMessage` with the reason; callers log the
raw text, count it and carry on. Event types the engine does not use parse to nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from aggregates.facts import (
    AlgoOrderFact,
    BalanceFact,
    FillFact,
    OrderFact,
)


class MalformedMessage(ValueError):
    """A payload that does not have the shape Binance documents."""


# What the socket layer hands on for a text that is not JSON at all (e.g. truncated).
UNDECODABLE_EVENT = "_undecodable"


def ms_to_datetime(ms: int) -> datetime:
    # Integer arithmetic: a float division would blur the millisecond.
    return datetime.fromtimestamp(ms // 1000, UTC) + timedelta(milliseconds=ms % 1000)


class Model(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


# ---- user-stream events ------------------------------------------------------------------------
@dataclass(frozen=True)
class LeverageUpdate:
    symbol: str
    leverage: int
    time: datetime


@dataclass(frozen=True)
class ListenKeyExpired:
    listen_key: str


@dataclass(frozen=True)
class StreamError:
    """python-binance's own `{'e': 'error'}` item: the socket dropped, overflowed or gave up."""

    type: str
    message: str


UserFact = (
    OrderFact
    | FillFact
    | AlgoOrderFact
    | BalanceFact
    | LeverageUpdate
    | ListenKeyExpired
    | StreamError
)


class _OrderUpdate(Model):
    s: str
    c: str
    S: str
    o: str
    f: str = "GTC"
    q: Decimal
    p: Decimal = Decimal(0)
    ap: Decimal = Decimal(0)
    sp: Decimal = Decimal(0)
    x: str
    X: str
    i: int
    l: Decimal = Decimal(0)  # noqa: E741 - Binance's field name
    z: Decimal
    L: Decimal = Decimal(0)
    N: str | None = None
    n: Decimal = Decimal(0)
    T: int
    t: int = 0
    m: bool = False
    R: bool = False
    rp: Decimal = Decimal(0)
    er: str = "0"


class _OrderTradeUpdate(Model):
    T: int
    o: _OrderUpdate


class _BalanceRow(Model):
    a: str
    wb: Decimal
    cw: Decimal


class _AccountData(Model):
    m: str
    B: list[_BalanceRow] = Field(default_factory=list)


class _AccountUpdate(Model):
    T: int
    a: _AccountData


class _AlgoUpdateBody(Model):
    caid: str
    aid: int
    o: str
    s: str
    S: str
    q: Decimal = Decimal(0)
    X: str
    ai: str | int = ""
    tp: Decimal = Decimal(0)
    p: Decimal = Decimal(0)
    wt: str = "CONTRACT_PRICE"
    cp: bool = False
    R: bool = False
    rm: str = ""


class _AlgoUpdate(Model):
    T: int
    o: _AlgoUpdateBody


class _ConfigBody(Model):
    s: str
    l: int  # noqa: E741 - Binance's field name


class _ConfigUpdate(Model):
    T: int
    ac: _ConfigBody | None = None


def _order_fact(o: _OrderUpdate) -> OrderFact:
    return OrderFact(
        symbol=o.s,
        client_order_id=o.c,
        exchange_order_id=o.i,
        status=o.X,
        side=o.S,
        order_type=o.o,
        quantity=o.q,
        price=o.p,
        cumulative_quantity=o.z,
        average_price=o.ap,
        reduce_only=o.R,
        time_in_force=o.f,
        transaction_time=ms_to_datetime(o.T),
        stop_price=o.sp,
        expire_reason="" if o.er in ("", "0") else o.er,
    )


def _fill_fact(o: _OrderUpdate) -> FillFact:
    return FillFact(
        symbol=o.s,
        trade_id=o.t,
        exchange_order_id=o.i,
        client_order_id=o.c,
        side=o.S,
        quantity=o.l,
        price=o.L,
        fee=o.n,
        fee_asset=o.N or "USDT",
        realized_pnl=o.rp,
        is_maker=o.m,
        time=ms_to_datetime(o.T),
    )


def child_id(value: str | int) -> int | None:
    if isinstance(value, int):
        return value or None
    return int(value) if value.strip().isdigit() and int(value) else None


def parse_user_event(payload: Any) -> list[UserFact]:
    """One user-stream message → its facts, in the order they should be recorded."""
    if not isinstance(payload, dict):
        raise MalformedMessage(f"expected a JSON object, got {type(payload).__name__}")
    kind = payload.get("e")
    if kind == UNDECODABLE_EVENT:
        raise MalformedMessage("not JSON")
    try:
        if kind == "ORDER_TRADE_UPDATE":
            update = _OrderTradeUpdate.model_validate(payload).o
            facts: list[UserFact] = []
            # The fill first: it moves the position; the status report only ranks the order.
            if update.x in ("TRADE", "CALCULATED") and update.t and update.l > 0:
                facts.append(_fill_fact(update))
            facts.append(_order_fact(update))
            return facts
        if kind == "ACCOUNT_UPDATE":
            account = _AccountUpdate.model_validate(payload)
            as_of = ms_to_datetime(account.T)
            return [
                BalanceFact(
                    asset=row.a,
                    wallet_balance=row.wb,
                    cross_wallet_balance=row.cw,
                    as_of=as_of,
                    reason=account.a.m,
                )
                for row in account.a.B
            ]
        if kind == "ALGO_UPDATE":
            return [_algo_from_update(_AlgoUpdate.model_validate(payload))]
        if kind == "ACCOUNT_CONFIG_UPDATE":
            config = _ConfigUpdate.model_validate(payload)
            if config.ac is None:
                return []
            return [LeverageUpdate(config.ac.s, config.ac.l, ms_to_datetime(config.T))]
        if kind == "listenKeyExpired":
            return [ListenKeyExpired(str(payload.get("listenKey", "")))]
        if kind == "error":
            return [StreamError(str(payload.get("type", "")), str(payload.get("m", "")))]
    except ValidationError as exc:
        raise MalformedMessage(f"{kind}: {describe(exc)}") from exc
    if not isinstance(kind, str):
        raise MalformedMessage("no event type 'e'")
    return []  # TRADE_LITE, MARGIN_CALL, ...: nothing the ledger needs


def _algo_from_update(update: _AlgoUpdate) -> AlgoOrderFact:
    o = update.o
    return AlgoOrderFact(
        symbol=o.s,
        client_algo_id=o.caid,
        algo_id=o.aid,
        algo_status=o.X,
        side=o.S,
        order_type=o.o,
        quantity=o.q,
        trigger_price=o.tp,
        price=o.p,
        reduce_only=o.R,
        close_position=o.cp,
        working_type=o.wt,
        transaction_time=ms_to_datetime(update.T),
        child_exchange_order_id=child_id(o.ai),
        reason=o.rm,
    )


def describe(exc: ValidationError) -> str:
    return "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()[:5])
