"""A trading history for the browser tests, recorded the way the bot records it.

Facts go through `Trading` (commands with their write-ahead intents, acknowledgements, fills,
exchange balance reports, an algo stop, an order placed by hand on the exchange, an alarm) and
the projector turns them into the read models, so the page shows what the engine would show.
Only what the bot writes outside the event store is written directly: closed candles, the mark
price and the health timestamps.

The figures the tests check are worked out by hand next to the facts (see `Expected`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from sqlalchemy import insert

from aggregates.envelope import Source
from aggregates.facts import AlgoOrderFact, BalanceFact, FillFact, OrderFact
from aggregates.ids import client_order_id_for
from aggregates.intent import OrderIntent
from alphaengine.bootstrap import init_schema, open_trading
from alphaengine.runtime_config import parse_config, save_config, stored_config
from alphaengine.settings import Settings, load_settings
from alphaengine.store import make_engine
from alphaengine.trading import Trading
from projections.projector import Projector
from projections.schema import health, market_candles, market_marks

D = Decimal
SYMBOL = "BTCUSDT"


def settings_for(data_dir: Path) -> Settings:
    # The same settings `python -m web --mode paper --data-dir DIR` derives with no secrets file.
    return load_settings(
        mode="paper", data_dir=data_dir, secrets_file=data_dir / "absent-secrets.yaml", environ={}
    )


@dataclass(frozen=True)
class Trade:
    """A closed round trip as a trader reads it (net = realized − fees)."""

    side: str
    quantity: str
    entry: str
    exit: str
    opened_at: datetime
    closed_at: datetime
    fees: str
    realized: str
    net: str

    @property
    def seconds(self) -> int:
        return int((self.closed_at - self.opened_at).total_seconds())


@dataclass
class Expected:
    now: datetime
    trades: list[Trade] = field(default_factory=list)
    # The position and USDT wallet after each chapter: (last notification id, state).
    chapters: list[tuple[int, dict[str, str]]] = field(default_factory=list)
    # Every fill as (exchange time, realized PnL worked out by hand, fee).
    fills: list[tuple[datetime, Decimal, Decimal]] = field(default_factory=list)
    # Candle open time (exchange time) each marked fill belongs to, per fill time.
    marked: dict[str, datetime] = field(default_factory=dict)
    open_limit: str = ""
    open_stop: str = ""
    external: str = ""


@dataclass
class World:
    settings: Settings
    expected: Expected

    def trading(self) -> Trading:
        return open_trading(self.settings)

    def project(self) -> None:
        trading = self.trading()
        try:
            Projector.for_trading(trading).catch_up()
        finally:
            trading.close()


class Recorder:
    """Records the story's facts and the chapter boundaries the tests travel to."""

    def __init__(self, trading: Trading, expected: Expected) -> None:
        self.t = trading
        self.expected = expected
        self.trade_id = 0
        self.order_id = 100
        self.ws = trading.envelope(Source.WEBSOCKET)

    def place(
        self,
        key: str,
        side: str,
        quantity: str,
        order_type: str = "MARKET",
        *,
        price: str = "0",
        stop_price: str = "0",
        reduce_only: bool = False,
        is_algo: bool = False,
    ) -> str:
        command_id, _ = self.t.submit_command(
            kind="PLACE_ORDER",
            payload={"side": side, "quantity": quantity, "type": order_type},
            actor_type="STRATEGY",
            actor_id="sma_cross",
            idempotency_key=key,
            source=Source.BOT,
        )
        self.t.accept_command(command_id)
        cid = client_order_id_for(command_id)
        intent = OrderIntent(
            client_order_id=cid,
            is_algo=is_algo,
            symbol=SYMBOL,
            side=side,
            order_type=order_type,
            quantity=D(quantity),
            price=D(price),
            stop_price=D(stop_price),
            reduce_only=reduce_only,
        )
        self.t.dispatch_command(command_id, [intent])
        self.order_id += 1
        self.t.acknowledge_order(
            cid, self.order_id, is_algo=is_algo, env=self.t.envelope(Source.BOT)
        )
        self.t.complete_command(command_id, {"orders": [cid]})
        return cid

    def fill(
        self,
        cid: str,
        side: str,
        quantity: str,
        price: str,
        fee: str,
        at: datetime,
        realized: str = "0",
    ) -> None:
        self.trade_id += 1
        self.expected.fills.append((at, D(realized), D(fee)))
        self.t.record_fill(
            FillFact(
                symbol=SYMBOL,
                trade_id=self.trade_id,
                exchange_order_id=self.order_id,
                client_order_id=cid,
                side=side,
                quantity=D(quantity),
                price=D(price),
                fee=D(fee),
                fee_asset="USDT",
                realized_pnl=D(0),
                is_maker=False,
                time=at,
            ),
            self.ws,
        )

    def filled(self, cid: str, side: str, quantity: str, average: str, at: datetime) -> None:
        self.t.record_order(
            OrderFact(
                symbol=SYMBOL,
                client_order_id=cid,
                exchange_order_id=self.order_id,
                status="FILLED",
                side=side,
                order_type="MARKET",
                quantity=D(quantity),
                price=D(0),
                cumulative_quantity=D(quantity),
                average_price=D(average),
                reduce_only=False,
                time_in_force="GTC",
                transaction_time=at,
            ),
            self.ws,
        )

    def market(
        self,
        key: str,
        side: str,
        quantity: str,
        price: str,
        fee: str,
        at: datetime,
        realized: str = "0",
    ) -> str:
        cid = self.place(key, side, quantity)
        self.fill(cid, side, quantity, price, fee, at, realized)
        self.filled(cid, side, quantity, price, at)
        return cid

    def balance(self, wallet: str, at: datetime, available: str | None = None) -> None:
        self.t.record_balance(
            BalanceFact(
                asset="USDT",
                wallet_balance=D(wallet),
                cross_wallet_balance=D(wallet),
                as_of=at,
                reason="ORDER" if available is None else "SNAPSHOT",
                available_balance=None if available is None else D(available),
            ),
            self.ws if available is None else self.t.envelope(Source.REST),
        )

    def chapter(self, state: dict[str, str]) -> None:
        last = int(self.t.recorder.max_notification_id() or 0)
        self.expected.chapters.append((last, state))


def record_story(trading: Trading, now: datetime) -> Expected:
    """Two trades two days ago, one today, and a long position open now with its orders."""
    expected = Expected(now=now)
    r = Recorder(trading, expected)
    minute = now.replace(second=0, microsecond=0)
    day = minute - timedelta(days=2)

    r.balance("10000.00", day - timedelta(hours=1), available="10000.00")
    trading.record_leverage(5, trading.envelope(Source.RECONCILER))
    r.chapter({"side": "FLAT", "quantity": "0", "wallet": "10,000.00"})

    # Trade A: long 0.010, 60000 → 60500 over 30 min: +5.00 realized, 0.48 fees.
    a_open, a_close = day, day + timedelta(minutes=30)
    r.market("a-open", "BUY", "0.010", "60000", "0.24", a_open)
    r.chapter({"side": "LONG", "quantity": "0.01", "entry": "60,000.00", "wallet": "10,000.00"})
    r.market("a-close", "SELL", "0.010", "60500", "0.24", a_close, realized="5.00")
    r.balance("10004.52", a_close + timedelta(seconds=1))
    r.chapter({"side": "FLAT", "quantity": "0", "wallet": "10,004.52"})

    # Trade B: short 0.020, 61000 → 61200 over 10 min: −4.00 realized, 0.98 fees.
    b_open, b_close = day + timedelta(hours=1), day + timedelta(hours=1, minutes=10)
    r.market("b-open", "SELL", "0.020", "61000", "0.49", b_open)
    r.market("b-close", "BUY", "0.020", "61200", "0.49", b_close, realized="-4.00")
    r.balance("9999.54", b_close + timedelta(seconds=1))
    r.chapter({"side": "FLAT", "quantity": "0", "wallet": "9,999.54"})

    # Trade C (within the last hour): long 0.005, 60100 → 60300: +1.00 realized, 0.24 fees.
    c_open = minute - timedelta(minutes=50) + timedelta(seconds=15)
    c_close = minute - timedelta(minutes=40) + timedelta(seconds=20)
    r.market("c-open", "BUY", "0.005", "60100", "0.12", c_open)
    r.market("c-close", "SELL", "0.005", "60300", "0.12", c_close, realized="1.00")
    r.balance("10000.30", c_close + timedelta(seconds=1))

    # The open long: one order filled in two parts, 0.004 @ 60200 and 0.006 @ 60250
    # → entry (0.004 × 60200 + 0.006 × 60250) / 0.010 = 60230.
    d_first = minute - timedelta(minutes=20) + timedelta(seconds=37)
    d_second = minute - timedelta(minutes=19) + timedelta(seconds=5)
    entry = r.place("d-open", "BUY", "0.010")
    r.fill(entry, "BUY", "0.004", "60200", "0.10", d_first)
    r.fill(entry, "BUY", "0.006", "60250", "0.14", d_second)
    r.filled(entry, "BUY", "0.010", "60230", d_second)
    r.balance("10000.06", d_second + timedelta(seconds=1), available="9800.00")
    r.chapter({"side": "LONG", "quantity": "0.01", "entry": "60,230.00", "wallet": "10,000.06"})

    # Its protective stop (algo API), a resting take-profit limit, a cancelled limit, and an
    # order someone placed by hand on the exchange (adopted as EXTERNAL by the reconciler).
    stop = r.place(
        "d-stop",
        "SELL",
        "0.010",
        "STOP_MARKET",
        is_algo=True,
        stop_price="59500",
        reduce_only=True,
    )
    trading.record_algo_order(
        AlgoOrderFact(
            symbol=SYMBOL,
            client_algo_id=stop,
            algo_id=9001,
            algo_status="NEW",
            side="SELL",
            order_type="STOP_MARKET",
            quantity=D("0.010"),
            trigger_price=D("59500"),
            price=D(0),
            reduce_only=True,
            close_position=False,
            working_type="CONTRACT_PRICE",
            transaction_time=d_second,
        ),
        r.ws,
    )
    limit = r.place("d-take", "SELL", "0.010", "LIMIT", price="61500", reduce_only=True)
    dropped = r.place("e-limit", "BUY", "0.005", "LIMIT", price="59000")
    trading.record_order(
        OrderFact(
            symbol=SYMBOL,
            client_order_id=dropped,
            exchange_order_id=r.order_id,
            status="CANCELED",
            side="BUY",
            order_type="LIMIT",
            quantity=D("0.005"),
            price=D("59000"),
            cumulative_quantity=D(0),
            average_price=D(0),
            reduce_only=False,
            time_in_force="GTC",
            transaction_time=d_second,
        ),
        r.ws,
    )
    trading.record_order(
        OrderFact(
            symbol=SYMBOL,
            client_order_id="manual-1",
            exchange_order_id=555,
            status="NEW",
            side="BUY",
            order_type="LIMIT",
            quantity=D("0.001"),
            price=D("58000"),
            cumulative_quantity=D(0),
            average_price=D(0),
            reduce_only=False,
            time_in_force="GTC",
            transaction_time=d_second,
        ),
        trading.envelope(Source.RECONCILER),
    )
    trading.raise_alarm(
        "stale_market_stream", "no candle for 3 minutes", trading.envelope(Source.BOT)
    )
    expected.open_stop, expected.open_limit, expected.external = stop, limit, "manual-1"

    expected.trades = [
        Trade("LONG", "0.01", "60,000.00", "60,500.00", a_open, a_close, "0.48", "5.00", "4.52"),
        Trade("SHORT", "0.02", "61,000.00", "61,200.00", b_open, b_close, "0.98", "-4.00", "-4.98"),
        Trade("LONG", "0.005", "60,100.00", "60,300.00", c_open, c_close, "0.24", "1.00", "0.76"),
    ]
    # The chart shows the last hour of 1m candles: the four fills in it are marked on the
    # candle that holds them (those from two days ago are outside it).
    for at in (c_open, c_close, d_first, d_second):
        expected.marked[at.isoformat().replace("+00:00", "Z")] = at.replace(second=0)
    return expected


def record_config_history(world_settings: Settings, trading: Trading) -> None:
    """v1 from init-db, v2 by alice (max leverage 10 → 20), v3 by bob (fast 5 → 8, daily loss
    limit 0.05 → 0.03)."""
    engine = make_engine(world_settings.database_url)
    try:
        with engine.connect() as conn:
            body = stored_config(conn).parsed().model_dump(mode="json")
        body["risk"]["max_leverage"] = 20
        save_config(trading, engine, parse_config(body), expected_version=1, by="alice")
        body["strategy"]["params"]["fast"] = 8
        body["risk"]["daily_loss_limit"] = "0.03"
        save_config(trading, engine, parse_config(body), expected_version=2, by="bob")
    finally:
        engine.dispose()


def write_market(settings: Settings, now: datetime, mark: str) -> None:
    """What the bot writes outside the event store: the last hour of 1m candles, the mark price
    and fresh health timestamps."""
    minute = now.replace(second=0, microsecond=0)
    engine = make_engine(settings.database_url)
    try:
        with engine.begin() as conn:
            conn.execute(
                insert(market_candles),
                [
                    {
                        "symbol": SYMBOL,
                        "interval": "1m",
                        "open_time": minute - timedelta(minutes=60 - i),
                        "open": D("60000") + 5 * i,
                        "high": D("60040") + 5 * i,
                        "low": D("59980") + 5 * i,
                        "close": D("60010") + 5 * i,
                        "volume": D("12.5"),
                        "close_time": minute
                        - timedelta(minutes=59 - i)
                        - timedelta(milliseconds=1),
                    }
                    for i in range(60)
                ],
            )
            conn.execute(insert(market_marks).values(symbol=SYMBOL, mark_price=D(mark), time=now))
            seen = datetime.now(UTC)
            conn.execute(
                insert(health),
                [
                    {"key": "bot_heartbeat", "value": "", "updated_at": seen},
                    {"key": "user_stream_message", "value": "", "updated_at": seen},
                    {"key": "reconcile", "value": "ok", "updated_at": seen},
                ],
            )
    finally:
        engine.dispose()


MARK = "60450"  # unrealized (60450 − 60230) × 0.010 = +2.20


def build_world(data_dir: Path) -> World:
    settings = settings_for(data_dir)
    init_schema(settings)
    now = datetime.now(UTC)
    trading = open_trading(settings)
    try:
        record_config_history(settings, trading)
        expected = record_story(trading, now)
        Projector.for_trading(trading).catch_up()
    finally:
        trading.close()
    write_market(settings, now, MARK)
    return World(settings=settings, expected=expected)
