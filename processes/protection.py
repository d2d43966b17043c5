"""Every open position must have a confirmed protective stop on the exchange.

Checks the exchange (REST, the truth) every few seconds. A position without an open stop algo
order, seen twice in a row (so an entry whose stop is in flight is not flagged), raises the
`unprotected_position` alarm and files a SYSTEM stop order; it retries with a new attempt key
until a stop is confirmed, then clears the alarm. Protective orders left over once the
position is flat (the take-profit filled, the stop stays) are canceled.
"""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Protocol
from uuid import UUID

import structlog
from sqlalchemy import select

from aggregates.command import ActorType, CommandKind
from aggregates.envelope import Source
from aggregates.market import SymbolRules
from aggregates.ports import AccountSnapshot, ExchangeError, ExchangeGateway
from alphaengine.store_thread import StoreThread
from alphaengine.trading import Trading
from projections.schema import rm_orders

log = structlog.get_logger(__name__)

ALARM = "unprotected_position"
PROTECTIVE_PRIORITY = 1  # the executor's protection lane, ahead of new entries
STOP_TYPES = {"STOP_MARKET", "STOP"}
PROTECTIVE_TYPES = {"STOP_MARKET", "STOP", "TAKE_PROFIT_MARKET", "TAKE_PROFIT"}


class CommandSink(Protocol):
    def notify(self, command_id: UUID, *, protective: bool = False) -> None: ...

    @property
    def protection_in_flight(self) -> bool: ...


class ProtectionMonitor:
    def __init__(
        self,
        trading: Trading,
        gateway: ExchangeGateway,
        store: StoreThread,
        sink: CommandSink,
        *,
        symbol: str,
        rules: SymbolRules,
        stop_fraction: Decimal = Decimal("0.01"),
        interval: float = 3.0,
    ) -> None:
        self.trading = trading
        self.gateway = gateway
        self.store = store
        self.sink = sink
        self.symbol = symbol
        self.rules = rules
        self.stop_fraction = stop_fraction
        self.interval = interval
        self.unprotected_checks = 0
        self.attempt = 0

    async def run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            try:
                await self.check()
            except ExchangeError as exc:
                log.warning("protection check failed", error=str(exc))
            except Exception:
                log.exception("protection check failed")

    async def check(self) -> None:
        snapshot = await self.gateway.snapshot(self.symbol)
        quantity = snapshot.position.quantity
        if quantity == 0:
            self.unprotected_checks = 0
            await self._clear_alarm()
            await self._cancel_leftovers(snapshot)
            return
        exit_side = "SELL" if quantity > 0 else "BUY"
        protected = any(
            a.order_type in STOP_TYPES
            and a.side == exit_side
            and (a.close_position or a.reduce_only)
            for a in snapshot.open_algo_orders
        )
        if protected or self.sink.protection_in_flight:
            # An entry's own stop on its way counts: the executor places it on the fill.
            self.unprotected_checks = 0
            if protected:
                await self._clear_alarm()
            return
        self.unprotected_checks += 1
        if self.unprotected_checks < 2:
            return
        await self._protect(snapshot, exit_side)

    async def _protect(self, snapshot: AccountSnapshot, exit_side: str) -> None:
        position = snapshot.position
        message = f"{position.quantity} {self.symbol} has no stop order on the exchange"
        env = self.trading.envelope(Source.BOT)
        await self.store.call(self.trading.raise_alarm, ALARM, message, env)
        entry = position.entry_price
        self.attempt += 1
        intended = await self.store.call(self._intended_stop, exit_side)
        below_entry = exit_side == "SELL"
        if (
            self.attempt == 1
            and intended is not None
            and (intended < entry if below_entry else intended > entry)
        ):
            # The strategy's own stop, refused earlier (e.g. a LIMIT entry's stop sent before
            # the entry filled). Later attempts fall back to the fixed distance, in case the
            # price has already moved through it.
            stop = intended
        else:
            offset = entry * self.stop_fraction
            stop = entry - offset if below_entry else entry + offset
        key = f"protect:{self.symbol}:{position.quantity}:{entry}:{self.attempt}"
        command_id, new = await self.store.call(
            self.trading.submit_command,
            kind=CommandKind.PLACE_ORDER.value,
            payload={
                "side": exit_side,
                "type": "STOP_MARKET",
                "stop_price": str(self.rules.round_price(stop)),
                "close_position": True,
                "reason": "protective stop for an unprotected position",
            },
            actor_type=ActorType.SYSTEM.value,
            actor_id="protection",
            idempotency_key=key,
            source=Source.BOT,
            priority=PROTECTIVE_PRIORITY,
        )
        log.warning("unprotected position: stop order filed", key=key, stop=str(stop))
        if new:
            self.sink.notify(command_id, protective=True)
        self.unprotected_checks = 0

    def _intended_stop(self, exit_side: str) -> Decimal | None:
        """The trigger price of the latest stop this engine meant to place on that side."""
        engine = self.trading.recorder.datastore.engine  # type: ignore[attr-defined]
        query = (
            select(rm_orders.c.stop_price)
            .where(
                rm_orders.c.is_algo.is_(True),
                rm_orders.c.origin == "ENGINE",
                rm_orders.c.type.in_(sorted(STOP_TYPES)),
                rm_orders.c.side == exit_side,
                rm_orders.c.symbol == self.symbol,
            )
            .order_by(rm_orders.c.created_at.desc())
            .limit(1)
        )
        with engine.connect() as connection:
            price: Decimal | None = connection.execute(query).scalar()
        return price if price else None

    async def _clear_alarm(self) -> None:
        engine = await self.store.call(self.trading.engine)
        if ALARM in engine.alarms:
            env = self.trading.envelope(Source.BOT)
            await self.store.call(self.trading.clear_alarm, ALARM, env)

    async def _cancel_leftovers(self, snapshot: AccountSnapshot) -> None:
        for algo in snapshot.open_algo_orders:
            if algo.order_type not in PROTECTIVE_TYPES or not algo.close_position:
                continue
            command_id, new = await self.store.call(
                self.trading.submit_command,
                kind=CommandKind.CANCEL_ORDER.value,
                payload={"client_order_id": algo.client_algo_id, "is_algo": True},
                actor_type=ActorType.SYSTEM.value,
                actor_id="protection",
                idempotency_key=f"cleanup:{algo.client_algo_id}",
                source=Source.BOT,
            )
            if new:
                self.sink.notify(command_id)
