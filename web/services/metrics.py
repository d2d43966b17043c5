"""GET /metrics: the engine's counters and state in Prometheus's format, from one connection.

Sources: `bot_stats` (the bot's exchange and stream counters, processes/stats.py), the read
models (orders, fills, positions, balances, commands, engine) and `health` (ages, projection
lag), read through the same functions as the dashboard and /health. Every family is built from
the one connection the request holds. Samples are float64, as Prometheus stores them.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    InfoMetricFamily,
    Metric,
)
from prometheus_client.exposition import choose_encoder
from prometheus_client.registry import CollectorRegistry
from sqlalchemy import ColumnElement, Connection, case, func, select

from aggregates.command import FINISHED
from projections.schema import bot_stats, rm_commands, rm_fills, rm_orders
from web.services import account
from web.services import health as health_service

PREFIX = "alphaengine"
QUOTE_ASSET = account.QUOTE_ASSET
# Seconds from a Command's creation to its final status; an order's round trip sits in 0.1-1 s.
LATENCY_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)


@dataclass(frozen=True)
class StatMetric:
    """Where one of the bot's counters (adapters/binance/metrics.py) appears in /metrics."""

    metric: str  # without the `_total` suffix Prometheus adds to counters
    help: str
    labels: tuple[tuple[str, str], ...] = ()


STATS: dict[str, StatMetric] = {
    "requests": StatMetric("exchange_requests", "REST requests sent to the exchange"),
    "budget_waits": StatMetric(
        "exchange_rate_limit_waits",
        "Pauses the bot took to stay under the exchange's request-weight or order budget",
    ),
    "rate_limited": StatMetric("exchange_http_429", "HTTP 429 (rate limited) answers"),
    "banned": StatMetric("exchange_http_418", "HTTP 418 (IP banned) answers"),
    "unknown_outcomes": StatMetric(
        "exchange_unknown_outcomes", "Order requests whose outcome was unknown (timeout, 5xx)"
    ),
    "rejections": StatMetric("exchange_rejections", "Requests the exchange rejected"),
    "unavailable": StatMetric("exchange_unavailable", "Exchange answers: service unavailable"),
    "time_resyncs": StatMetric(
        "exchange_time_resyncs", "Server-time offset re-reads after a -1021 timestamp error"
    ),
    "malformed_messages": StatMetric(
        "stream_malformed_messages", "Stream messages that could not be parsed"
    ),
    "user_messages": StatMetric(
        "stream_messages", "Stream messages received", (("stream", "user"),)
    ),
    "market_messages": StatMetric(
        "stream_messages", "Stream messages received", (("stream", "market"),)
    ),
    "gaps": StatMetric("stream_gaps", "Stream gaps detected", (("stream", "user"),)),
    "market_gaps": StatMetric("stream_gaps", "Stream gaps detected", (("stream", "market"),)),
    "reconnects": StatMetric("stream_reconnects", "Stream reconnects", (("stream", "user"),)),
    "market_reconnects": StatMetric(
        "stream_reconnects", "Stream reconnects", (("stream", "market"),)
    ),
}
ENGINE_MODES = ("RUNNING", "PAUSED")


def _name(metric: str) -> str:
    return f"{PREFIX}_{metric}"


def _age(now: datetime, then: datetime) -> float:
    return max(0.0, (now - then).total_seconds())


def bot_stat_metrics(conn: Connection, now: datetime) -> Iterator[Metric]:
    rows = conn.execute(select(bot_stats).order_by(bot_stats.c.name)).all()
    counters: dict[str, CounterMetricFamily] = {}
    others = GaugeMetricFamily(
        _name("bot_stat"), "Other counters the bot reports, by name", labels=["name"]
    )
    for row in rows:
        known = STATS.get(row.name)
        if known is None:
            others.add_metric([row.name], float(row.value))
            continue
        family = counters.get(known.metric)
        if family is None:
            family = CounterMetricFamily(
                _name(known.metric), known.help, labels=[k for k, _ in known.labels]
            )
            counters[known.metric] = family
        family.add_metric([v for _, v in known.labels], float(row.value))
    yield from (counters[metric] for metric in sorted(counters))
    if others.samples:
        yield others
    if rows:
        latest = max(row.updated_at for row in rows)
        yield GaugeMetricFamily(
            _name("bot_stats_age_seconds"),
            "Seconds since the bot last wrote its counters",
            value=_age(now, latest),
        )


def order_metrics(conn: Connection) -> Iterator[Metric]:
    orders = GaugeMetricFamily(
        _name("orders"), "Orders in the read model, by status", labels=["status"]
    )
    query = select(rm_orders.c.status, func.count()).group_by(rm_orders.c.status)
    for status, count in conn.execute(query.order_by(rm_orders.c.status)).all():
        orders.add_metric([status], count)
    yield orders
    fills = conn.execute(select(func.count()).select_from(rm_fills)).scalar_one()
    yield CounterMetricFamily(_name("fills"), "Fills recorded", value=fills)


def account_metrics(conn: Connection) -> Iterator[Metric]:
    quantity = GaugeMetricFamily(
        _name("position_quantity"), "Position size, signed (short < 0)", labels=["symbol"]
    )
    entry = GaugeMetricFamily(
        _name("position_entry_price"), "Position entry price", labels=["symbol"]
    )
    unrealized = GaugeMetricFamily(
        _name("unrealized_pnl"),
        f"Unrealized PnL at the last mark price, in {QUOTE_ASSET}",
        labels=["symbol"],
    )
    mark = GaugeMetricFamily(_name("mark_price"), "Last mark price", labels=["symbol"])
    total_unrealized = Decimal(0)
    for position in account.positions(conn):
        symbol = position["symbol"]
        quantity.add_metric([symbol], _sample(position["quantity"]))
        entry.add_metric([symbol], _sample(position["entry_price"]))
        unrealized.add_metric([symbol], _sample(position["unrealized_pnl"]))
        total_unrealized += Decimal(position["unrealized_pnl"])
        if position["mark_price"] is not None:
            mark.add_metric([symbol], _sample(position["mark_price"]))
    yield from (quantity, entry, unrealized, mark)

    wallet = GaugeMetricFamily(_name("wallet_balance"), "Wallet balance", labels=["asset"])
    equity = GaugeMetricFamily(
        _name("equity"), "Wallet balance plus unrealized PnL", labels=["asset"]
    )
    for balance in account.balances(conn):
        wallet.add_metric([balance["asset"]], _sample(balance["wallet_balance"]))
        if balance["asset"] == QUOTE_ASSET:
            value = Decimal(balance["wallet_balance"]) + total_unrealized
            equity.add_metric([QUOTE_ASSET], _sample(value))
    yield from (wallet, equity)


def _sample(value: Any) -> float:
    """A money figure as a Prometheus sample, which the text format holds as a 64-bit float:
    for graphs and alerts only; nothing reads it back as money (the read models keep Decimal)."""
    return float(Decimal(value))


def _seconds_between(conn: Connection, start: Any, end: Any) -> ColumnElement[Any]:
    if conn.dialect.name == "sqlite":
        return (func.julianday(end) - func.julianday(start)) * 86400.0
    return func.extract("epoch", end - start)


def command_metrics(conn: Connection) -> Iterator[Metric]:
    by_status = GaugeMetricFamily(
        _name("commands"), "Commands in the read model, by status", labels=["status"]
    )
    query = select(rm_commands.c.status, func.count()).group_by(rm_commands.c.status)
    for status, count in conn.execute(query.order_by(rm_commands.c.status)).all():
        by_status.add_metric([status], count)
    yield by_status

    # Bucketed in SQL: one row back however many commands the history holds.
    seconds = _seconds_between(conn, rm_commands.c.created_at, rm_commands.c.updated_at)
    columns = [func.count(), func.coalesce(func.sum(seconds), 0)]
    columns += [
        func.coalesce(func.sum(case((seconds <= b, 1), else_=0)), 0) for b in LATENCY_BUCKETS
    ]
    row = conn.execute(select(*columns).where(rm_commands.c.status.in_(sorted(FINISHED)))).one()
    count, total, *cumulative = row
    buckets: list[tuple[str, float]] = [
        (str(bound), int(n)) for bound, n in zip(LATENCY_BUCKETS, cumulative, strict=True)
    ]
    buckets.append(("+Inf", int(count)))
    yield HistogramMetricFamily(
        _name("command_latency_seconds"),
        "Seconds from a Command's creation to its final status (finished Commands)",
        buckets=buckets,
        sum_value=float(total),
    )


def health_metrics(conn: Connection, *, mode: str, now: datetime) -> Iterator[Metric]:
    report = health_service.report(conn, mode=mode, now=now)
    yield InfoMetricFamily(PREFIX, "The configured mode", value={"mode": mode})
    yield GaugeMetricFamily(
        _name("bot_up"), "1 while the bot's heartbeat is fresh", value=int(report["bot_alive"])
    )
    engine_mode = GaugeMetricFamily(
        _name("engine_mode"), "1 for the engine's current mode", labels=["mode"]
    )
    current = report["engine_mode"]
    for mode_name in sorted({*ENGINE_MODES, current}):
        engine_mode.add_metric([mode_name], int(mode_name == current))
    yield engine_mode
    engine = account.engine_state(conn)
    yield GaugeMetricFamily(_name("alarms"), "Active alarms", value=len(engine["alarms"]))
    yield GaugeMetricFamily(
        _name("strategy_disabled"),
        "1 when the strategy is disabled",
        value=int(engine["strategy_disabled"]),
    )
    yield GaugeMetricFamily(
        _name("projection_lag_notifications"),
        "Notifications in the event log the projector has not processed yet",
        value=report["projection_lag"],
    )
    ages: dict[str, float | None] = report["ages_seconds"]
    single = {
        "reconcile": ("reconcile_age_seconds", "Seconds since the last reconcile"),
        "bot_heartbeat": ("heartbeat_age_seconds", "Seconds since the bot's last heartbeat"),
    }
    for key, (metric, help_text) in single.items():
        if ages.get(key) is not None:
            yield GaugeMetricFamily(_name(metric), help_text, value=ages[key])
    streams = GaugeMetricFamily(
        _name("stream_age_seconds"), "Seconds since the stream's last message", labels=["stream"]
    )
    for stream in ("user", "market"):
        age = ages.get(f"{stream}_stream_message")
        if age is not None:
            streams.add_metric([stream], age)
    yield streams


def collect(conn: Connection, *, mode: str, now: datetime | None = None) -> list[Metric]:
    at = now or datetime.now(UTC)
    families: list[Metric] = []
    families += bot_stat_metrics(conn, at)
    families += order_metrics(conn)
    families += account_metrics(conn)
    families += command_metrics(conn)
    families += health_metrics(conn, mode=mode, now=at)
    return families


class _Families:
    def __init__(self, families: Iterable[Metric]) -> None:
        self.families = list(families)

    def collect(self) -> Iterable[Metric]:
        return self.families


def exposition(families: Iterable[Metric], accept: str | None) -> tuple[bytes, str]:
    """The families encoded for the scraper (Prometheus text, or OpenMetrics if it asks)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Families(families))
    encode, content_type = choose_encoder(accept or "")
    return encode(registry), content_type
