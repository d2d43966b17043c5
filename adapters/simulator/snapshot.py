"""The simulator's whole state as one JSON document, and back.

It holds what a restarted simulator needs to go on as if it had never stopped: balances, the
position and account settings, orders and algo orders, id counters, the REST history (fills,
income, finished orders; bounded), the listenKey, the data clock, and the market (its random
generator, so the same path continues, and the recent closed 1m candles).

Records are rows of values under a per-table list of column names. Rows that can no longer
change (fills, income, finished orders, closed candles) are encoded once and reused, so the save
that follows every account change costs little more than writing the file.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from decimal import Decimal, InvalidOperation
from functools import cache
from typing import Any, get_type_hints

from .account import Position
from .algo import LIVE_ALGO_STATUSES, AlgoOrder
from .config import SimulatorConfig
from .exchange import Exchange
from .market import Candle, Market
from .orders import Fill, Order
from .streams import ListenKeys

FORMAT = "alphaengine-paper-exchange"
VERSION = 1
INCOME_COLUMNS = ("symbol", "incomeType", "income", "asset", "info", "time", "tranId", "tradeId")
# Derived from other records, not stored in a row.
_SKIPPED = frozenset({"fills"})


class SnapshotError(ValueError):
    """The document is not a state this simulator can continue from."""


@cache
def _columns(cls: Any) -> tuple[str, ...]:
    return tuple(f.name for f in fields(cls) if f.name not in _SKIPPED)


@cache
def _decimal_columns(cls: Any) -> frozenset[str]:
    hints = get_type_hints(cls)
    return frozenset(name for name in _columns(cls) if Decimal in _members(hints[name]))


def _members(hint: Any) -> tuple[Any, ...]:
    return tuple(getattr(hint, "__args__", ())) or (hint,)


def _row(record: Any) -> str:
    values = []
    for name in _columns(record.__class__):
        value = getattr(record, name)
        values.append(str(value) if isinstance(value, Decimal) else value)
    return json.dumps(values, separators=(",", ":"))


def _record(cls: type, columns: list[str], row: list[Any]) -> Any:
    if len(row) != len(columns):
        raise SnapshotError(f"a {cls.__name__} row has {len(row)} values, not {len(columns)}")
    decimals = _decimal_columns(cls)
    values = {
        name: Decimal(value) if name in decimals and value is not None else value
        for name, value in zip(columns, row, strict=True)
    }
    return cls(**values)


def _rng_state(rng: random.Random) -> list[Any]:
    version, internal, gauss_next = rng.getstate()
    return [version, list(internal), gauss_next]


def _set_rng_state(rng: random.Random, state: list[Any]) -> None:
    version, internal, gauss_next = state
    rng.setstate((int(version), tuple(int(x) for x in internal), gauss_next))


@dataclass
class Restored:
    sim_ms: int
    market: Market
    exchange: Exchange
    listen_keys: ListenKeys


class _Appended:
    """Encoded rows of an append-only record list whose keys only grow (trade ids, tranIds,
    candle open times): a save encodes only what was appended since the last one."""

    def __init__(self, key: Callable[[Any], int], encode: Callable[[Any], str]) -> None:
        self._key = key
        self._encode = encode
        self._keys: list[int] = []
        self._rows: list[str] = []

    def rows(self, records: Sequence[Any], end: int, keep: int) -> list[str]:
        """Rows of the last ``keep`` records before index ``end``."""
        start = max(0, end - keep)
        last = self._keys[-1] if self._keys else None
        fresh: list[Any] = []
        for index in range(end - 1, start - 1, -1):
            record = records[index]
            if last is not None and self._key(record) <= last:
                break
            fresh.append(record)
        for record in reversed(fresh):
            self._keys.append(self._key(record))
            self._rows.append(self._encode(record))
        count = end - start
        if len(self._rows) > 2 * count + 100:
            del self._keys[: len(self._keys) - count], self._rows[: len(self._rows) - count]
        return self._rows[len(self._rows) - count :]


class _Settling:
    """Encoded rows of records kept by growing id that change until they are final (orders,
    algo orders): a save looks only at records that were open last time or are new."""

    def __init__(self, is_final: Callable[[Any], bool]) -> None:
        self._is_final = is_final
        self._final: dict[int, str] = {}
        self._open: set[int] = set()
        self._newest = -1

    def rows(self, records: dict[int, Any]) -> list[str]:
        candidates = list(self._open)
        for record_id in reversed(records):
            if record_id <= self._newest:
                break
            candidates.append(record_id)
        self._newest = max(self._newest, *candidates) if candidates else self._newest
        self._open = set()
        for record_id in candidates:
            record = records.get(record_id)
            if record is None:
                continue
            if self._is_final(record):
                self._final[record_id] = _row(record)
            else:
                self._open.add(record_id)
        if len(self._final) + len(self._open) != len(records):
            # Some were forgotten (trimmed history).
            self._final = {i: row for i, row in self._final.items() if i in records}
        return [*self._final.values(), *(_row(records[i]) for i in sorted(self._open))]


class StateEncoder:
    """Builds the document; keeps the encoded rows of records that can no longer change."""

    def __init__(self) -> None:
        self._orders = _Settling(lambda o: not o.is_open)
        self._algos = _Settling(lambda a: a.status not in LIVE_ALGO_STATUSES)
        self._fills = _Appended(lambda f: f.trade_id, _row)
        self._income = _Appended(lambda r: int(r["tranId"]), _income_row)
        self._candles = _Appended(lambda c: c.open_time, _row)

    def encode(
        self,
        config: SimulatorConfig,
        sim_ms: int,
        exchange: Exchange,
        listen_keys: ListenKeys,
    ) -> str:
        market = exchange.market
        account = exchange.account
        position = account.position
        candles = market.candles
        # Every candle but the last (the forming one) is closed.
        closed = self._candles.rows(candles, len(candles) - 1, config.state_candles)
        tables = {
            "orders": self._orders.rows(exchange.orders),
            "algos": self._algos.rows(exchange.algos),
            "fills": self._fills.rows(exchange.fills, len(exchange.fills), len(exchange.fills)),
            "income": self._income.rows(account.income, len(account.income), len(account.income)),
            "candles": [*closed, _row(market.current)],
        }
        head = {
            "format": FORMAT,
            "version": VERSION,
            "symbol": exchange.symbol,
            "saved_at": int(time.time() * 1000),
            "sim_ms": sim_ms,
            "exchange": exchange.counters(),
            "account": {
                "wallet": str(account.wallet),
                "spot_free": str(account.spot_free),
                "leverage": account.leverage,
                "margin_type": account.margin_type,
                "dual_side": account.dual_side,
                "update_time": account.update_time,
                "next_tran_id": account.next_tran_id,
                "position": json.loads(_row(position)),
            },
            "client_id_counts": exchange.client_id_counts,
            "listen_key": {
                "key": listen_keys.key,
                "expires_at": listen_keys.expires_at,
                "rng": _rng_state(listen_keys.rng),
            },
            "market": market.cursor(),
            "columns": {
                "orders": _columns(Order),
                "algos": _columns(AlgoOrder),
                "fills": _columns(Fill),
                "income": INCOME_COLUMNS,
                "candles": _columns(Candle),
                "position": _columns(Position),
            },
        }
        body = json.dumps(head, separators=(",", ":"))
        rows = ",".join(f'"{name}":[{",".join(table)}]' for name, table in tables.items())
        return body[:-1] + "," + rows + "}"


def _income_row(row: dict[str, object]) -> str:
    return json.dumps([row[name] for name in INCOME_COLUMNS], separators=(",", ":"))


def decode(text: str, config: SimulatorConfig) -> Restored:
    """Rebuild the exchange from a document; SnapshotError names what is wrong with it."""
    try:
        doc = json.loads(text)
    except ValueError as exc:
        raise SnapshotError(f"not valid JSON ({exc})") from exc
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise SnapshotError("not a simulator state file")
    if doc.get("version") != VERSION:
        raise SnapshotError(f"state version {doc.get('version')!r}; this simulator reads {VERSION}")
    if doc.get("symbol") != config.symbol:
        raise SnapshotError(
            f"it holds {doc.get('symbol')!r}, but the simulator trades {config.symbol!r}"
        )
    try:
        return _restore(doc, config)
    except SnapshotError:
        raise
    except (KeyError, TypeError, ValueError, IndexError, AttributeError, InvalidOperation) as exc:
        raise SnapshotError(f"malformed state ({type(exc).__name__}: {exc})") from exc


def _table(doc: dict[str, Any], name: str, cls: type) -> list[Any]:
    columns = list(doc["columns"][name])
    return [_record(cls, columns, row) for row in doc[name]]


def _restore(doc: dict[str, Any], config: SimulatorConfig) -> Restored:
    sim_ms = int(doc["sim_ms"])
    cursor = doc["market"]
    market = Market(config, int(cursor["start_ms"]), history=False)
    market.restore_cursor(cursor, _table(doc, "candles", Candle))
    exchange = Exchange(config, market)
    saved = doc["account"]
    account = exchange.account
    account.wallet = Decimal(saved["wallet"])
    account.spot_free = Decimal(saved["spot_free"])
    account.leverage = int(saved["leverage"])
    account.margin_type = str(saved["margin_type"])
    account.dual_side = bool(saved["dual_side"])
    account.update_time = int(saved["update_time"])
    account.next_tran_id = int(saved["next_tran_id"])
    account.position = _record(Position, list(doc["columns"]["position"]), saved["position"])
    income_columns = list(doc["columns"]["income"])
    account.income = [dict(zip(income_columns, row, strict=True)) for row in doc["income"]]
    # Rows come finished first; ids give the order in which they were placed.
    exchange.restore(
        doc["exchange"],
        sorted(_table(doc, "orders", Order), key=lambda o: o.order_id),
        sorted(_table(doc, "algos", AlgoOrder), key=lambda a: a.algo_id),
        _table(doc, "fills", Fill),
        {str(k): int(v) for k, v in doc["client_id_counts"].items()},
    )
    listen_keys = ListenKeys(config.seed, config.listen_key_ttl_seconds)
    saved_key = doc["listen_key"]
    listen_keys.key = saved_key["key"]
    listen_keys.expires_at = float(saved_key["expires_at"])
    _set_rng_state(listen_keys.rng, saved_key["rng"])
    return Restored(sim_ms, market, exchange, listen_keys)
