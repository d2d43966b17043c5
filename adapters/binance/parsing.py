"""Stream payloads → the port's items (pydantic models, Decimal money, UTC times).

Every user-stream payload becomes facts, a listenKey expiry, or `MalformedMessage` with the
reason; callers log the raw text, count it and carry on. Event types the engine does not use
parse to no facts. Market payloads become kline and mark-price updates the same way.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from aggregates.facts import (
    AlgoOrderFact,
    BalanceFact,
    FillFact,
    LeverageFact,
    OrderFact,
)
from aggregates.market import Candle
from aggregates.ports import KlineUpdate, ListenKeyExpired, MarkUpdate, UserFact, UserFacts


class MalformedMessage(ValueError):
    """A payload that does not have the shape Binance documents."""


def ms_to_datetime(ms: int) -> datetime:
    # Integer arithmetic: a float division would blur the millisecond.
    return datetime.fromtimestamp(ms // 1000, UTC) + timedelta(milliseconds=ms % 1000)


class Model(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


# ---- user-stream events ------------------------------------------------------------------------
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


def parse_user_event(payload: Any) -> UserFacts | ListenKeyExpired:
    """One user-stream message → its facts, in the order they should be recorded."""
    if not isinstance(payload, dict):
        raise MalformedMessage(f"expected a JSON object, got {type(payload).__name__}")
    kind = payload.get("e")
    try:
        if kind == "ORDER_TRADE_UPDATE":
            update = _OrderTradeUpdate.model_validate(payload).o
            facts: list[UserFact] = []
            # The fill first: it moves the position; the status report only ranks the order.
            if update.x in ("TRADE", "CALCULATED") and update.t and update.l > 0:
                facts.append(_fill_fact(update))
            facts.append(_order_fact(update))
            return UserFacts(tuple(facts))
        if kind == "ACCOUNT_UPDATE":
            account = _AccountUpdate.model_validate(payload)
            as_of = ms_to_datetime(account.T)
            return UserFacts(
                tuple(
                    BalanceFact(
                        asset=row.a,
                        wallet_balance=row.wb,
                        cross_wallet_balance=row.cw,
                        as_of=as_of,
                        reason=account.a.m,
                    )
                    for row in account.a.B
                )
            )
        if kind == "ALGO_UPDATE":
            return UserFacts((_algo_from_update(_AlgoUpdate.model_validate(payload)),))
        if kind == "ACCOUNT_CONFIG_UPDATE":
            config = _ConfigUpdate.model_validate(payload)
            if config.ac is None:
                return UserFacts(())
            return UserFacts((LeverageFact(config.ac.s, config.ac.l, ms_to_datetime(config.T)),))
        if kind == "listenKeyExpired":
            return ListenKeyExpired()
    except ValidationError as exc:
        raise MalformedMessage(f"{kind}: {describe(exc)}") from exc
    if not isinstance(kind, str):
        raise MalformedMessage("no event type 'e'")
    return UserFacts(())  # TRADE_LITE, MARGIN_CALL, ...: nothing the ledger needs


# ---- market streams ----------------------------------------------------------------------------
class _Kline(Model):
    t: int
    T: int
    s: str
    i: str
    o: Decimal
    c: Decimal
    h: Decimal
    l: Decimal  # noqa: E741 - Binance's field name
    v: Decimal
    x: bool


class _KlineEvent(Model):
    E: int
    k: _Kline


class _MarkEvent(Model):
    E: int
    s: str
    p: Decimal


def parse_market_event(payload: Any) -> KlineUpdate | MarkUpdate:
    """One combined-stream message (`{"stream": ..., "data": ...}`) → an update."""
    if not isinstance(payload, dict):
        raise MalformedMessage(f"expected a JSON object, got {type(payload).__name__}")
    stream = payload.get("stream")
    data = payload.get("data")
    if not isinstance(stream, str) or not isinstance(data, dict):
        raise MalformedMessage("not a combined-stream message (stream, data)")
    try:
        if "@markPrice" in stream:
            mark = _MarkEvent.model_validate(data)
            return MarkUpdate(mark.s, mark.p, ms_to_datetime(mark.E))
        if "@kline_" in stream:
            event = _KlineEvent.model_validate(data)
            k = event.k
            candle = Candle(
                symbol=k.s,
                interval=k.i,
                open_time=ms_to_datetime(k.t),
                close_time=ms_to_datetime(k.T),
                open=k.o,
                high=k.h,
                low=k.l,
                close=k.c,
                volume=k.v,
            )
            return KlineUpdate(candle, k.x, ms_to_datetime(event.E))
    except ValidationError as exc:
        raise MalformedMessage(f"{stream}: {describe(exc)}") from exc
    raise MalformedMessage(f"a stream this session did not ask for: {stream[:100]}")


def candle_from_row(symbol: str, interval: str, row: Any) -> Candle:
    """A REST kline row: [openTime, open, high, low, close, volume, closeTime, ...]."""
    if not isinstance(row, list) or len(row) < 7:
        raise MalformedMessage(f"not a kline row: {row!r}"[:200])
    try:
        return Candle(
            symbol=symbol,
            interval=interval,
            open_time=ms_to_datetime(int(row[0])),
            close_time=ms_to_datetime(int(row[6])),
            open=Decimal(str(row[1])),
            high=Decimal(str(row[2])),
            low=Decimal(str(row[3])),
            close=Decimal(str(row[4])),
            volume=Decimal(str(row[5])),
        )
    except (ArithmeticError, TypeError, ValueError) as exc:
        raise MalformedMessage(f"not a kline row: {row!r}"[:200]) from exc


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
