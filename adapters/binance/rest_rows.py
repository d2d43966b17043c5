"""Binance REST answers → typed exchange facts (orders, algo orders, fills, balances, positions).

A row that does not have the documented shape raises `MalformedMessage`.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from pydantic import ValidationError

from adapters.binance.parsing import MalformedMessage, Model, child_id, describe, ms_to_datetime
from aggregates.facts import (
    AlgoOrderFact,
    BalanceFact,
    FillFact,
    IncomeFact,
    OrderFact,
    PositionFact,
)


class _RestOrder(Model):
    symbol: str
    clientOrderId: str
    orderId: int
    status: str
    side: str
    type: str
    origQty: Decimal
    price: Decimal = Decimal(0)
    executedQty: Decimal = Decimal(0)
    avgPrice: Decimal = Decimal(0)
    reduceOnly: bool = False
    timeInForce: str = "GTC"
    stopPrice: Decimal = Decimal(0)
    updateTime: int = 0
    time: int = 0


class _RestAlgo(Model):
    symbol: str
    clientAlgoId: str
    algoId: int
    algoStatus: str
    side: str
    orderType: str
    quantity: Decimal = Decimal(0)
    triggerPrice: Decimal = Decimal(0)
    price: Decimal = Decimal(0)
    reduceOnly: bool = False
    closePosition: bool = False
    workingType: str = "CONTRACT_PRICE"
    updateTime: int = 0
    createTime: int = 0
    actualOrderId: str | int | None = None


class _RestTrade(Model):
    symbol: str
    id: int
    orderId: int
    side: str
    price: Decimal
    qty: Decimal
    realizedPnl: Decimal = Decimal(0)
    commission: Decimal = Decimal(0)
    commissionAsset: str = "USDT"
    time: int
    maker: bool = False


class _RestBalance(Model):
    asset: str
    balance: Decimal
    crossWalletBalance: Decimal
    availableBalance: Decimal | None = None
    updateTime: int = 0


class _RestPosition(Model):
    symbol: str
    positionAmt: Decimal
    entryPrice: Decimal = Decimal(0)
    breakEvenPrice: Decimal = Decimal(0)
    updateTime: int = 0
    positionSide: str = "BOTH"


class _RestIncome(Model):
    symbol: str = ""
    incomeType: str
    income: Decimal
    asset: str
    time: int
    tranId: int


def _validate(model: type[Model], row: Any) -> Any:
    try:
        return model.model_validate(row)
    except ValidationError as exc:
        raise MalformedMessage(f"{model.__name__[1:]}: {describe(exc)}") from exc


def parse_order(row: Any) -> OrderFact:
    o: _RestOrder = _validate(_RestOrder, row)
    return OrderFact(
        symbol=o.symbol,
        client_order_id=o.clientOrderId,
        exchange_order_id=o.orderId,
        status=o.status,
        side=o.side,
        order_type=o.type,
        quantity=o.origQty,
        price=o.price,
        cumulative_quantity=o.executedQty,
        average_price=o.avgPrice,
        reduce_only=o.reduceOnly,
        time_in_force=o.timeInForce,
        transaction_time=ms_to_datetime(o.updateTime or o.time),
        stop_price=o.stopPrice,
    )


def parse_algo_order(row: Any) -> AlgoOrderFact:
    a: _RestAlgo = _validate(_RestAlgo, row)
    return AlgoOrderFact(
        symbol=a.symbol,
        client_algo_id=a.clientAlgoId,
        algo_id=a.algoId,
        algo_status=a.algoStatus,
        side=a.side,
        order_type=a.orderType,
        quantity=a.quantity,
        trigger_price=a.triggerPrice,
        price=a.price,
        reduce_only=a.reduceOnly,
        close_position=a.closePosition,
        working_type=a.workingType,
        transaction_time=ms_to_datetime(a.updateTime or a.createTime),
        child_exchange_order_id=child_id(a.actualOrderId or ""),
    )


def parse_trade(row: Any, client_order_id: str) -> FillFact:
    """A userTrades row; it carries no client order id, so the caller looks it up by orderId."""
    t: _RestTrade = _validate(_RestTrade, row)
    return FillFact(
        symbol=t.symbol,
        trade_id=t.id,
        exchange_order_id=t.orderId,
        client_order_id=client_order_id,
        side=t.side,
        quantity=t.qty,
        price=t.price,
        fee=t.commission,
        fee_asset=t.commissionAsset,
        realized_pnl=t.realizedPnl,
        is_maker=t.maker,
        time=ms_to_datetime(t.time),
    )


def trade_order_id(row: Any) -> int:
    return int(_validate(_RestTrade, row).orderId)


def parse_balance(row: Any, as_of: datetime) -> BalanceFact:
    """`as_of` is the time of the balance's last change by the exchange's own data clock
    (`updateTime`), so it orders against the stream's reports; `as_of` given is the fallback."""
    b: _RestBalance = _validate(_RestBalance, row)
    return BalanceFact(
        asset=b.asset,
        wallet_balance=b.balance,
        cross_wallet_balance=b.crossWalletBalance,
        as_of=ms_to_datetime(b.updateTime) if b.updateTime else as_of,
        reason="SNAPSHOT",
        available_balance=b.availableBalance,
    )


def parse_position(rows: Any, symbol: str, as_of: datetime, leverage: int | None) -> PositionFact:
    """The one-way (BOTH) row of `symbol`; v3 omits flat symbols, which means quantity 0."""
    if not isinstance(rows, list):
        raise MalformedMessage("positionRisk: expected a list")
    for row in rows:
        p: _RestPosition = _validate(_RestPosition, row)
        if p.symbol == symbol and p.positionSide == "BOTH":
            return PositionFact(
                symbol=symbol,
                quantity=p.positionAmt,
                entry_price=p.entryPrice if p.positionAmt else Decimal(0),
                break_even_price=p.breakEvenPrice if p.positionAmt else Decimal(0),
                as_of=as_of,
                leverage=leverage,
            )
    return PositionFact(symbol, Decimal(0), Decimal(0), Decimal(0), as_of, leverage)


def parse_leverage(rows: Any, symbol: str) -> int | None:
    if not isinstance(rows, list):
        raise MalformedMessage("symbolConfig: expected a list")
    for row in rows:
        if isinstance(row, dict) and row.get("symbol") == symbol:
            try:
                return int(row["leverage"])
            except (KeyError, TypeError, ValueError) as exc:
                raise MalformedMessage(f"symbolConfig: bad leverage in {row!r}") from exc
    return None


def parse_income(row: Any) -> IncomeFact:
    i: _RestIncome = _validate(_RestIncome, row)
    return IncomeFact(
        income_type=i.incomeType,
        asset=i.asset,
        amount=i.income,
        tran_id=i.tranId,
        time=ms_to_datetime(i.time),
        symbol=i.symbol,
    )
