"""A realistic account history driven through the Trading application, for replay and time travel.

Everything goes through the application's public methods, the way the ingest, the executor and
the reconciler use them: balances, commands with their write-ahead intents, acknowledgements,
partial and duplicate fills, a protective algo order that triggers, a correction from the
reconciler, funding income, leverage, alarms and a pause.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from aggregates import ids
from aggregates.envelope import Source
from aggregates.facts import (
    AlgoOrderFact,
    BalanceFact,
    FillFact,
    IncomeFact,
    OrderFact,
    PositionFact,
)
from aggregates.ids import client_order_id_for
from aggregates.intent import OrderIntent
from alphaengine.trading import Trading

D = Decimal
T0 = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)


def fill(
    trade_id: int,
    client_order_id: str,
    side: str,
    quantity: str,
    price: str,
    *,
    order_id: int = 1,
    fee: str = "0.1",
    at: datetime = T0,
) -> FillFact:
    return FillFact(
        symbol="BTCUSDT",
        trade_id=trade_id,
        exchange_order_id=order_id,
        client_order_id=client_order_id,
        side=side,
        quantity=D(quantity),
        price=D(price),
        fee=D(fee),
        fee_asset="USDT",
        realized_pnl=D(0),
        is_maker=False,
        time=at,
    )


def balance(wallet: str, at: datetime, *, available: str | None = None) -> BalanceFact:
    return BalanceFact(
        asset="USDT",
        wallet_balance=D(wallet),
        cross_wallet_balance=D(wallet),
        as_of=at,
        reason="ORDER" if available is None else "SNAPSHOT",
        available_balance=None if available is None else D(available),
    )


def place(
    trading: Trading,
    key: str,
    side: str,
    quantity: str,
    *,
    order_type: str = "MARKET",
    stop: str = "0",
    algo: bool = False,
) -> str:
    """File, accept and dispatch a Command for one order; return its client order id."""
    command_id, _ = trading.submit_command(
        kind="PLACE_ORDER",
        payload={"side": side, "quantity": quantity, "type": order_type},
        actor_type="STRATEGY",
        actor_id="sma_cross",
        idempotency_key=key,
        source=Source.BOT,
    )
    trading.accept_command(command_id)
    cid = client_order_id_for(command_id)
    intent = OrderIntent(
        client_order_id=cid,
        is_algo=algo,
        symbol="BTCUSDT",
        side=side,
        order_type=order_type,
        quantity=D(quantity),
        stop_price=D(stop),
        reduce_only=algo,
    )
    trading.dispatch_command(command_id, [intent])
    return cid


def order_report(
    cid: str,
    order_id: int,
    status: str,
    side: str,
    quantity: str,
    filled: str,
    average: str,
    at: datetime,
    order_type: str = "MARKET",
) -> OrderFact:
    return OrderFact(
        symbol="BTCUSDT",
        client_order_id=cid,
        exchange_order_id=order_id,
        status=status,
        side=side,
        order_type=order_type,
        quantity=D(quantity),
        price=D(0),
        cumulative_quantity=D(filled),
        average_price=D(average),
        reduce_only=False,
        time_in_force="GTC",
        transaction_time=at,
    )


def drive_history(trading: Trading, checkpoint: Callable[[], object] = lambda: None) -> None:
    """Record the whole story; `checkpoint` runs between its chapters (a live projector)."""
    ws = trading.envelope(Source.WEBSOCKET)
    rest = trading.envelope(Source.REST)
    t = T0
    trading.record_balance(balance("10000", t, available="10000"), rest)
    trading.record_leverage(5, trading.envelope(Source.RECONCILER))

    # Open a long in two partial fills; the second fill also arrives again over REST.
    buy = place(trading, "decision-1", "BUY", "0.010")
    trading.acknowledge_order(buy, 101, is_algo=False, env=trading.envelope(Source.BOT))
    trading.record_fill(fill(1, buy, "BUY", "0.004", "60000", order_id=101, at=t), ws)
    trading.record_fill(fill(2, buy, "BUY", "0.006", "60010", order_id=101, at=t), ws)
    trading.record_fill(fill(2, buy, "BUY", "0.006", "60010", order_id=101, at=t), rest)
    trading.record_order(order_report(buy, 101, "FILLED", "BUY", "0.010", "0.010", "60006", t), ws)
    trading.record_balance(balance("9999.80", t + timedelta(seconds=1)), ws)

    checkpoint()

    # A protective stop on the algo API; it triggers and its child order fills.
    stop = place(
        trading, "protect-1", "SELL", "0.010", order_type="STOP_MARKET", stop="59000", algo=True
    )
    algo = AlgoOrderFact(
        symbol="BTCUSDT",
        client_algo_id=stop,
        algo_id=9001,
        algo_status="NEW",
        side="SELL",
        order_type="STOP_MARKET",
        quantity=D("0.010"),
        trigger_price=D("59000"),
        price=D(0),
        reduce_only=True,
        close_position=False,
        working_type="CONTRACT_PRICE",
        transaction_time=t + timedelta(seconds=2),
    )
    trading.record_algo_order(algo, ws)
    t = t + timedelta(minutes=5)
    triggered = AlgoOrderFact(
        **{
            **algo.__dict__,
            "algo_status": "TRIGGERED",
            "child_exchange_order_id": 202,
            "transaction_time": t,
        }
    )
    trading.record_algo_order(triggered, ws)
    trading.record_fill(fill(3, stop, "SELL", "0.010", "58990", order_id=202, at=t), ws)
    trading.record_algo_order(
        AlgoOrderFact(**{**triggered.__dict__, "algo_status": "FINISHED"}), ws
    )
    trading.record_balance(balance("9989.40", t + timedelta(seconds=1)), ws)

    checkpoint()

    # Go short, then flip long in one fill; a limit order stays open at the end.
    sell = place(trading, "decision-2", "SELL", "0.020")
    trading.acknowledge_order(sell, 103, is_algo=False, env=trading.envelope(Source.BOT))
    trading.record_fill(fill(4, sell, "SELL", "0.020", "59100", order_id=103, at=t), ws)
    flip = place(trading, "decision-3", "BUY", "0.030")
    trading.record_fill(fill(5, flip, "BUY", "0.030", "59050", order_id=104, at=t), rest)
    resting = place(trading, "decision-4", "SELL", "0.005", order_type="LIMIT")
    trading.acknowledge_order(resting, 105, is_algo=False, env=trading.envelope(Source.BOT))

    checkpoint()

    # Commands in every end state.
    for command_id_key in ("decision-1", "decision-2"):
        trading.complete_command(ids.command_id(trading.scope, command_id_key), {"ok": True})
    web_command, _ = trading.submit_command(
        kind="CANCEL_ALL",
        payload={},
        actor_type="USER",
        actor_id="admin",
        idempotency_key="web-1",
        source=Source.WEB,
    )
    trading.reject_command(web_command, "engine paused")

    checkpoint()

    # The reconciler: funding, a corrected balance, an order placed by hand on the exchange.
    trading.record_income(
        IncomeFact(
            income_type="FUNDING_FEE",
            asset="USDT",
            amount=D("-0.12"),
            tran_id=77,
            time=t + timedelta(hours=1),
        ),
        trading.envelope(Source.RECONCILER),
    )
    trading.correct_balance(
        balance("9988.00", t + timedelta(hours=1), available="9000"),
        trading.envelope(Source.RECONCILER),
    )
    trading.record_order(
        order_report("manual-1", 555, "NEW", "BUY", "0.001", "0", "0", t, order_type="LIMIT"),
        trading.envelope(Source.RECONCILER),
    )
    trading.correct_position(
        PositionFact(
            symbol="BTCUSDT",
            quantity=D("0.010"),
            entry_price=D("59050"),
            break_even_price=D("59060"),
            as_of=t,
            leverage=10,
        ),
        trading.envelope(Source.RECONCILER),
    )
    checkpoint()

    engine_env = trading.envelope(Source.BOT)
    trading.raise_alarm("unprotected", "no stop for the open position", engine_env)
    trading.pause_engine("daily loss limit", engine_env)
    trading.save_strategy_state({"fast": ["1", "2"]}, engine_env)
    trading.clear_alarm("unprotected", engine_env)
    checkpoint()
