"""Orders, one aggregate per client order id: matching-engine orders and conditional (algo) orders.

Status moves only forward. The exchange reports the same order many times, out of order and
twice (WS and REST); an update is applied only if it advances the order (status rank, then
cumulative quantity), which makes every report idempotent. Each fill is recorded once by trade id.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from aggregates import ids
from aggregates.envelope import Envelope, Scope
from aggregates.facts import AlgoOrderFact, FillFact, OrderFact


class OrderStatus(StrEnum):
    PENDING_NEW = "PENDING_NEW"  # intent recorded, not yet acknowledged by the exchange
    NEW = "NEW"
    PARTIALLY_FILLED = "PARTIALLY_FILLED"
    FILLED = "FILLED"
    CANCELED = "CANCELED"
    EXPIRED = "EXPIRED"
    REJECTED = "REJECTED"


class AlgoStatus(StrEnum):
    PENDING_NEW = "PENDING_NEW"
    NEW = "NEW"
    TRIGGERING = "TRIGGERING"
    TRIGGERED = "TRIGGERED"
    FINISHED = "FINISHED"
    CANCELED = "CANCELED"
    REJECTED = "REJECTED"
    EXPIRED = "EXPIRED"


class Origin(StrEnum):
    ENGINE = "ENGINE"  # placed by this engine (a Command)
    EXTERNAL = "EXTERNAL"  # found on the exchange: placed by hand or by another program


TERMINAL = {"FILLED", "CANCELED", "EXPIRED", "REJECTED", "FINISHED", "EXPIRED_IN_MATCH"}
OPEN_ALGO = {"PENDING_NEW", "NEW", "TRIGGERING"}

_RANK = {
    "PENDING_NEW": 0,
    "NEW": 1,
    "TRIGGERING": 2,
    "PARTIALLY_FILLED": 2,
    "TRIGGERED": 3,
    "FILLED": 4,
    "FINISHED": 4,
    "CANCELED": 4,
    "EXPIRED": 4,
    "EXPIRED_IN_MATCH": 4,
    "REJECTED": 4,
}


class IllegalTransition(Exception):
    pass


class Order(Aggregate):
    @staticmethod
    def create_id(scope: Scope, client_order_id: str, is_algo: bool) -> UUID:
        return ids.order_id(scope, client_order_id, algo=is_algo)

    @event("Placed")
    def __init__(
        self,
        *,
        scope: Scope,
        client_order_id: str,
        is_algo: bool,
        origin: str,
        symbol: str,
        side: str,
        order_type: str,
        quantity: Decimal,
        price: Decimal,
        stop_price: Decimal,
        reduce_only: bool,
        close_position: bool,
        time_in_force: str,
        working_type: str,
        command_id: UUID | None,
        envelope: Envelope,
    ) -> None:
        self.scope = scope
        self.client_order_id = client_order_id
        self.is_algo = is_algo
        self.origin = origin
        self.symbol = symbol
        self.side = side
        self.order_type = order_type
        self.quantity = quantity
        self.price = price
        self.stop_price = stop_price
        self.reduce_only = reduce_only
        self.close_position = close_position
        self.time_in_force = time_in_force
        self.working_type = working_type
        self.command_id = command_id
        self.status = OrderStatus.PENDING_NEW.value
        self.exchange_order_id: int | None = None  # orderId, or algoId for an algo order
        self.cumulative_quantity = Decimal(0)
        self.average_price = Decimal(0)
        self.fees = Decimal(0)
        self.trade_ids: list[int] = []
        self.updated_at: datetime | None = None
        self.reject_reason = ""
        self.child_exchange_order_id: int | None = None  # algo: the order it triggered
        self.parent_client_algo_id: str | None = None  # child: the algo order that created it

    # ---- queries -------------------------------------------------------------------------
    @property
    def is_open(self) -> bool:
        if self.is_algo:
            return self.status in OPEN_ALGO
        return self.status not in TERMINAL

    @property
    def remaining_quantity(self) -> Decimal:
        return max(self.quantity - self.cumulative_quantity, Decimal(0))

    # ---- exchange reports ----------------------------------------------------------------
    def acknowledge(self, exchange_order_id: int, envelope: Envelope) -> bool:
        if self.exchange_order_id == exchange_order_id:
            return False
        self._acknowledged(exchange_order_id=exchange_order_id, envelope=envelope)
        return True

    @event("Acknowledged")
    def _acknowledged(self, exchange_order_id: int, envelope: Envelope) -> None:
        self.exchange_order_id = exchange_order_id
        if self.status == OrderStatus.PENDING_NEW:
            self.status = OrderStatus.NEW.value

    def report(self, fact: OrderFact, envelope: Envelope) -> bool:
        """Apply what the exchange says of this order if it is news; return whether it was."""
        if not self._advances(fact.status, fact.cumulative_quantity):
            if self.exchange_order_id is None:
                return self.acknowledge(fact.exchange_order_id, envelope)
            return False
        self._reported(
            exchange_order_id=fact.exchange_order_id,
            status=fact.status,
            cumulative_quantity=fact.cumulative_quantity,
            average_price=fact.average_price,
            transaction_time=fact.transaction_time,
            expire_reason=fact.expire_reason,
            envelope=envelope,
        )
        return True

    @event("StatusReported")
    def _reported(
        self,
        exchange_order_id: int,
        status: str,
        cumulative_quantity: Decimal,
        average_price: Decimal,
        transaction_time: datetime,
        expire_reason: str,
        envelope: Envelope,
    ) -> None:
        self.exchange_order_id = exchange_order_id
        self.status = status
        self.cumulative_quantity = max(self.cumulative_quantity, cumulative_quantity)
        if average_price:
            self.average_price = average_price
        self.updated_at = transaction_time
        if expire_reason:
            self.reject_reason = f"expired: {expire_reason}"

    def report_algo(self, fact: AlgoOrderFact, envelope: Envelope) -> bool:
        child_news = (
            fact.child_exchange_order_id is not None
            and fact.child_exchange_order_id != self.child_exchange_order_id
        )
        if not self._advances(fact.algo_status, Decimal(0)) and not child_news:
            if self.exchange_order_id is None:
                return self.acknowledge(fact.algo_id, envelope)
            return False
        self._algo_reported(
            algo_id=fact.algo_id,
            status=fact.algo_status,
            child_exchange_order_id=fact.child_exchange_order_id,
            transaction_time=fact.transaction_time,
            reason=fact.reason,
            envelope=envelope,
        )
        return True

    @event("AlgoStatusReported")
    def _algo_reported(
        self,
        algo_id: int,
        status: str,
        child_exchange_order_id: int | None,
        transaction_time: datetime,
        reason: str,
        envelope: Envelope,
    ) -> None:
        self.exchange_order_id = algo_id
        if _RANK.get(status, 0) >= _RANK.get(self.status, 0):
            self.status = status
        if child_exchange_order_id is not None:
            self.child_exchange_order_id = child_exchange_order_id
        self.updated_at = transaction_time
        if reason:
            self.reject_reason = reason

    def record_fill(self, fill: FillFact, envelope: Envelope) -> bool:
        if fill.trade_id in self.trade_ids:
            return False
        self._filled(
            trade_id=fill.trade_id,
            exchange_order_id=fill.exchange_order_id,
            quantity=fill.quantity,
            price=fill.price,
            fee=fill.fee,
            fee_asset=fill.fee_asset,
            is_maker=fill.is_maker,
            time=fill.time,
            envelope=envelope,
        )
        return True

    @event("Filled")
    def _filled(
        self,
        trade_id: int,
        exchange_order_id: int,
        quantity: Decimal,
        price: Decimal,
        fee: Decimal,
        fee_asset: str,
        is_maker: bool,
        time: datetime,
        envelope: Envelope,
    ) -> None:
        self.trade_ids.append(trade_id)
        filled_before = self.cumulative_quantity
        filled = filled_before + quantity
        if filled_before < filled:
            # The average price follows the fills we saw; a later status report may refine it.
            self.average_price = (self.average_price * filled_before + price * quantity) / filled
        self.cumulative_quantity = max(self.cumulative_quantity, filled)
        self.fees += fee
        self.exchange_order_id = self.exchange_order_id or exchange_order_id
        if self.status not in TERMINAL and not self.is_algo:
            # A close-position stop's child has no size of its own (quantity 0): it closes the
            # whole position at once, so its fill fills it.
            whole = not self.quantity or filled >= self.quantity
            self.status = "FILLED" if whole else "PARTIALLY_FILLED"
        self.updated_at = time

    def reject(self, code: int, message: str, envelope: Envelope) -> None:
        if self.status != OrderStatus.PENDING_NEW:
            raise IllegalTransition(f"cannot reject an order in status {self.status}")
        self._rejected(code=code, message=message, envelope=envelope)

    @event("Rejected")
    def _rejected(self, code: int, message: str, envelope: Envelope) -> None:
        self.status = OrderStatus.REJECTED.value
        self.reject_reason = f"{code}: {message}"

    def mark_not_found(self, envelope: Envelope) -> None:
        """The exchange confirmed an intended order never arrived (checked past its recvWindow)."""
        if self.status != OrderStatus.PENDING_NEW:
            raise IllegalTransition(f"cannot drop an order in status {self.status}")
        self._not_found(envelope=envelope)

    @event("NotFoundOnExchange")
    def _not_found(self, envelope: Envelope) -> None:
        self.status = OrderStatus.EXPIRED.value
        self.reject_reason = "never reached the exchange"

    def close_vanished(self, envelope: Envelope) -> bool:
        """The exchange no longer knows this open order (it answers "unknown order"): the
        exchange is the truth, so it is closed here, the belief kept in the event."""
        if not self.is_open or self.status == OrderStatus.PENDING_NEW:
            return False
        self._vanished(believed_status=self.status, envelope=envelope)
        return True

    @event("VanishedOnExchange")
    def _vanished(self, believed_status: str, envelope: Envelope) -> None:
        self.status = OrderStatus.EXPIRED.value
        self.reject_reason = f"unknown on the exchange (was {believed_status} here)"

    def link_parent(self, client_algo_id: str, envelope: Envelope) -> bool:
        if self.parent_client_algo_id == client_algo_id:
            return False
        self._parent_linked(client_algo_id=client_algo_id, envelope=envelope)
        return True

    @event("ParentLinked")
    def _parent_linked(self, client_algo_id: str, envelope: Envelope) -> None:
        self.parent_client_algo_id = client_algo_id

    def _advances(self, status: str, cumulative_quantity: Decimal) -> bool:
        if self.status in TERMINAL and not (
            self.status == status and cumulative_quantity > self.cumulative_quantity
        ):
            # A terminal order only takes a later report that adds fills (FILLED after FILLED).
            return False
        new_rank, rank = _RANK.get(status, 0), _RANK.get(self.status, 0)
        if new_rank > rank:
            return True
        return new_rank == rank and cumulative_quantity > self.cumulative_quantity

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": str(self.id),
            "client_order_id": self.client_order_id,
            "exchange_order_id": self.exchange_order_id,
            "is_algo": self.is_algo,
            "origin": self.origin,
            "symbol": self.symbol,
            "side": self.side,
            "type": self.order_type,
            "status": self.status,
            "quantity": str(self.quantity),
            "price": str(self.price),
            "stop_price": str(self.stop_price),
            "reduce_only": self.reduce_only,
            "close_position": self.close_position,
            "time_in_force": self.time_in_force,
            "executed_quantity": str(self.cumulative_quantity),
            "average_price": str(self.average_price),
            "parent_client_algo_id": self.parent_client_algo_id,
            "child_exchange_order_id": self.child_exchange_order_id,
        }
