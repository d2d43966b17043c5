"""What each Command kind does: what is decided about it (orders to send, a refusal, an expiry,
nothing to do) and any other exchange action around the orders.

Planning reads the account (risk checks, sizes, the position to close) before anything is
recorded; resuming after a crash rebuilds the plan from what was recorded, never re-decides.

A strategy's decision is judged as it stands *now*, not as it stood on its candle: it expires
past its `valid_until`; its stop and take-profit keep their distance from the decision's price,
moved to the current mark; it is refused when the stop would trigger at once; and an entry in
the direction of the position already held does nothing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from typing import Any, TypeVar
from uuid import UUID

import structlog
from sqlalchemy import Engine, select

from aggregates import payloads
from aggregates.account import day_of
from aggregates.command import ActorType, Command, CommandKind
from aggregates.engine import EngineMode
from aggregates.envelope import Source
from aggregates.ports import ExchangeError, ExchangeGateway, ExchangeRejected
from alphaengine.store_thread import StoreThread
from alphaengine.trading import Decided, Dispatched, Done, Expired, Rejected, Trading
from processes.exchange_clock import ExchangeClock
from processes.intents import close_intent, entry_intents, intent_of, is_algo_client_order_id
from processes.risk import Exposure, RiskGuard, RiskRejected
from projections.schema import rm_orders

log = structlog.get_logger(__name__)

Action = Callable[[], Awaitable[dict[str, Any]]]
P = TypeVar("P", bound=payloads.Payload)

# -2011 "Unknown order sent." and -2013 "Order does not exist.": the order is not open.
NOT_OPEN_CODES = frozenset({-2011, -2013})


@dataclass(frozen=True)
class Draft:
    """A Command as planning needs it: filed already, or about to be filed with its decision."""

    id: UUID
    kind: str
    payload: dict[str, Any]
    actor_type: str

    @classmethod
    def of(cls, command: Command) -> Draft:
        return cls(command.id, command.kind, command.payload, command.actor_type)

    @property
    def from_strategy(self) -> bool:
        return self.actor_type == ActorType.STRATEGY


@dataclass
class Plan:
    decided: Decided
    before: Action | None = None  # runs before the orders (cancel, leverage, transfer, pause)
    after: Action | None = None  # runs once the orders stand (clean-up after a close)


def _parse(model: type[P], draft: Draft) -> P:
    parsed = payloads.parse_payload(draft.kind, draft.payload)
    if not isinstance(parsed, model):
        raise payloads.BadPayload(
            [{"loc": ["kind"], "msg": f"{draft.kind} is not {model.__name__}", "type": "kind"}]
        )
    return parsed


class Planner:
    def __init__(
        self,
        trading: Trading,
        gateway: ExchangeGateway,
        store: StoreThread,
        risk: RiskGuard,
        clock: ExchangeClock,
        symbol: str,
        default_leverage: int,
        read_engine: Engine | None = None,
        *,
        on_pause: Callable[[str], Awaitable[None]] | None = None,
    ) -> None:
        self.trading = trading
        self.gateway = gateway
        self.store = store
        self.risk = risk
        self.clock = clock
        self.symbol = symbol
        self.default_leverage = default_leverage
        self.read_engine = read_engine
        self.on_pause = on_pause

    # ---- the account now ------------------------------------------------------------------
    async def exposure(self) -> Exposure:
        _, account, position = await self.store.call(self._engine_account_and_position)
        return self._exposure(account, position)

    def _exposure(self, account: Any, position: Any) -> Exposure:
        mark = self.risk.mark_price or position.entry_price
        return Exposure(
            wallet_balance=account.wallet_balance("USDT"),
            position_quantity=position.quantity,
            entry_price=position.entry_price,
            mark_price=mark,
            leverage=position.leverage or self.default_leverage,
            realized_today=account.net_realized_on(day_of(self.clock.now())),
        )

    def _engine_account_and_position(self) -> tuple[Any, Any, Any]:
        # One hop to the store thread for everything a decision reads.
        return (
            self.trading.engine(readonly=True),
            self.trading.account(readonly=True),
            self.trading.position(readonly=True),
        )

    async def _position_to_close(self) -> Decimal:
        """The recorded position; the exchange's when we recorded none (a fill we missed).

        A reduce-only order cannot overshoot, so the recorded quantity is safe to send; asking
        the exchange on every close would spend the REST weight budget the orders need.
        """
        position = await self.store.call(self.trading.position)
        if position.quantity != 0:
            return Decimal(position.quantity)
        snapshot = await self.gateway.snapshot(self.symbol)
        return snapshot.position.quantity

    # ---- new commands ---------------------------------------------------------------------
    async def decide(self, draft: Draft) -> Plan:
        """What to do with a Command that has not been dispatched yet."""
        try:
            engine, account, position = await self.store.call(self._engine_account_and_position)
            exposure = self._exposure(account, position)
            refusal = await self._gate(draft, engine, exposure)
            if refusal is not None:
                return Plan(refusal)
            return await self._plan(draft, exposure)
        except (RiskRejected, payloads.BadPayload) as exc:
            return Plan(Rejected(str(exc)))
        except ExchangeError as exc:
            return Plan(Rejected(f"exchange state unavailable: {exc}"))

    async def _gate(self, draft: Draft, engine: Any, exposure: Exposure) -> Decided | None:
        """Refusals that do not depend on the kind: stale decisions, a paused engine."""
        freshness = payloads.freshness_of(draft.kind, draft.payload)
        now = self.clock.now()
        if freshness is not None and freshness.expired(now):
            assert freshness.valid_until is not None
            return Expired(
                f"decision valid until {freshness.valid_until.isoformat()}, "
                f"exchange time is {now.isoformat()}"
            )
        if not draft.from_strategy:
            return None
        if engine.mode == EngineMode.PAUSED:
            return Rejected(f"engine PAUSED ({engine.reason}): strategy commands are rejected")
        if draft.kind == CommandKind.PLACE_ORDER:
            breach = self.risk.daily_loss_breach(exposure)
            if breach is not None:
                if self.on_pause is not None:
                    await self.on_pause(breach)
                return Rejected(f"engine PAUSED ({breach}): strategy commands are rejected")
        return None

    async def _plan(self, draft: Draft, exposure: Exposure) -> Plan:
        kind = draft.kind
        if kind == CommandKind.PLACE_ORDER:
            if self.risk.mark_price is None:
                # Before the market stream's first mark (just after a start): ask REST.
                self.risk.on_mark(await self.gateway.mark_price(self.symbol))
                exposure = replace(exposure, mark_price=self.risk.mark_price or Decimal(0))
            return self._place(draft, _parse(payloads.PlaceOrder, draft), exposure)
        if kind == CommandKind.CLOSE_POSITION:
            request = _parse(payloads.ClosePosition, draft)
            quantity = await self._position_to_close()
            if quantity == 0:
                if draft.from_strategy:
                    return Plan(Done({"outcome": "NOOP", "reason": "no position to close"}))
                raise RiskRejected("no position to close")
            if request.quantity is not None:
                quantity = min(abs(quantity), request.quantity) * (1 if quantity > 0 else -1)
            intents = [close_intent(draft.id, self.symbol, quantity)]
            return Plan(Dispatched(intents), after=self._cancel_protective_if_flat)
        if kind == CommandKind.FLATTEN:
            quantity = await self._position_to_close()
            intents = [close_intent(draft.id, self.symbol, quantity)] if quantity else []
            return Plan(Dispatched(intents), before=self._cancel_all)
        return self._action_plan(draft, check=True)

    def _place(self, draft: Draft, order: payloads.PlaceOrder, exposure: Exposure) -> Plan:
        if not order.is_entry:
            self.risk.check_rate()
            if order.quantity is None and not order.close_position:
                raise RiskRejected("the order has no quantity")
            order = self._rounded(order)
            quantity = order.quantity or Decimal(0)
            return Plan(Dispatched(entry_intents(draft.id, self.symbol, order, quantity)))
        held = exposure.position_quantity
        wants = 1 if order.side == "BUY" else -1
        if draft.from_strategy and held != 0:
            side = "LONG" if held > 0 else "SHORT"
            if (held > 0) == (wants > 0):
                return Plan(Done({"outcome": "NOOP", "reason": f"already {side} {held}"}))
            raise RiskRejected(f"a {side} position of {held} is open: exit it before entering")
        mark = self.risk.mark_price or order.reference_price or order.price
        if mark is None or mark <= 0:
            raise RiskRejected("no market price yet to size the order")
        order = self._rounded(self._moved_to_mark(order, mark))
        self._check_protection(order, mark)
        price = order.price or mark
        stop = order.stop_price or Decimal(0)
        quantity = self.risk.size_entry(exposure, price, stop, order.quantity)
        self.risk.check_notional(exposure, quantity, price)
        return Plan(Dispatched(entry_intents(draft.id, self.symbol, order, quantity)))

    @staticmethod
    def _moved_to_mark(order: payloads.PlaceOrder, mark: Decimal) -> payloads.PlaceOrder:
        """Keep the protective prices' distance from the decision's price, at today's mark."""
        reference = order.reference_price
        if reference is None or order.type != "MARKET":
            return order
        shift = mark - reference
        return order.model_copy(
            update={
                "stop_price": order.stop_price + shift if order.stop_price else None,
                "take_profit_price": (
                    order.take_profit_price + shift if order.take_profit_price else None
                ),
            }
        )

    @staticmethod
    def _check_protection(order: payloads.PlaceOrder, mark: Decimal) -> None:
        """A stop on the wrong side of the mark triggers the moment it is placed."""
        long = order.side == "BUY"
        if order.stop_price is not None and order.stop_price <= 0:
            raise RiskRejected(f"stop {order.stop_price} is not a price")
        if order.stop_price is not None and (
            order.stop_price >= mark if long else order.stop_price <= mark
        ):
            raise RiskRejected(f"stop {order.stop_price} would trigger at once (mark {mark})")
        if order.take_profit_price is not None and (
            order.take_profit_price <= mark if long else order.take_profit_price >= mark
        ):
            raise RiskRejected(
                f"take-profit {order.take_profit_price} would trigger at once (mark {mark})"
            )

    def _rounded(self, order: payloads.PlaceOrder) -> payloads.PlaceOrder:
        rules = self.risk.rules
        return order.model_copy(
            update={
                "stop_price": rules.round_price(order.stop_price) if order.stop_price else None,
                "take_profit_price": (
                    rules.round_price(order.take_profit_price) if order.take_profit_price else None
                ),
                "price": rules.round_price(order.price) if order.price else None,
            }
        )

    def _action_plan(self, draft: Draft, *, check: bool) -> Plan:
        kind = draft.kind
        none: Decided = Dispatched([])
        if kind == CommandKind.CANCEL_ALL:
            return Plan(none, before=self._cancel_all)
        if kind == CommandKind.CANCEL_ORDER:
            cancel = _parse(payloads.CancelOrder, draft)
            return Plan(none, before=lambda: self._cancel_one(cancel))
        if kind == CommandKind.SET_LEVERAGE:
            leverage = _parse(payloads.SetLeverage, draft).leverage
            if check:
                self.risk.check_leverage(leverage)
            return Plan(none, before=lambda: self._set_leverage(draft.id, leverage))
        if kind == CommandKind.TRANSFER_TO_FUTURES:
            transfer = _parse(payloads.TransferToFutures, draft)
            return Plan(none, before=lambda: self._transfer(transfer))
        if kind == CommandKind.PAUSE_ENGINE:
            reason = _parse(payloads.PauseEngine, draft).reason
            return Plan(none, before=lambda: self._pause(draft.id, reason))
        if kind == CommandKind.RESUME_ENGINE:
            return Plan(none, before=lambda: self._resume(draft.id))
        raise payloads.BadPayload(
            [{"loc": ["kind"], "msg": f"unknown command kind {kind!r}", "type": "enum"}]
        )

    # ---- after a crash --------------------------------------------------------------------
    async def resume(self, command: Command) -> Plan:
        """Rebuild from the recorded intent; actions that are not safe to repeat are checked."""
        orders = [
            await self.store.call(self._recorded_order, cid) for cid in command.client_order_ids
        ]
        dispatched = Dispatched([intent_of(o) for o in orders if o is not None])
        if command.kind == CommandKind.TRANSFER_TO_FUTURES:
            # A transfer has no client id to look up: do not repeat it; the reconciler's
            # balance check shows whether it landed.
            return Plan(dispatched, before=self._unverified_transfer)
        if command.kind == CommandKind.FLATTEN:
            return Plan(dispatched, before=self._cancel_all)
        if command.kind == CommandKind.CLOSE_POSITION:
            return Plan(dispatched, after=self._cancel_protective_if_flat)
        if command.kind == CommandKind.PLACE_ORDER:
            return Plan(dispatched)
        return self._action_plan(Draft.of(command), check=False)

    def _recorded_order(self, client_order_id: str) -> Any:
        # The leg name tells protective legs apart; an entry may itself be an algo order.
        guess = is_algo_client_order_id(client_order_id)
        found = self.trading.find_order(client_order_id, is_algo=guess)
        if found is None:
            found = self.trading.find_order(client_order_id, is_algo=not guess)
        if found is None:
            log.error("recorded intent not found", client_order_id=client_order_id)
        return found

    # ---- actions --------------------------------------------------------------------------
    async def _cancel_all(self) -> dict[str, Any]:
        await self.gateway.cancel_all(self.symbol)
        return {"canceled": "all open orders and algo orders"}

    async def _cancel_protective_if_flat(self) -> dict[str, Any]:
        """A closed position's stop and take-profit must not linger to act on the next one.

        The open close-position algo orders come from the read model (cheap); any it has not
        seen yet are left to the protection monitor, which cancels leftovers once flat.
        """
        if self.read_engine is None:
            return {}
        client_ids = await asyncio.to_thread(self._open_protective_orders)
        canceled = []
        for client_id in client_ids:
            try:
                await self.gateway.cancel_order(self.symbol, client_id, is_algo=True)
            except ExchangeRejected as exc:
                # Already triggered or canceled: nothing left to clean up.
                log.info("protective order already gone", client_order_id=client_id, code=exc.code)
                continue
            canceled.append(client_id)
        return {"canceled": canceled}

    def _open_protective_orders(self) -> list[str]:
        assert self.read_engine is not None
        query = select(rm_orders.c.client_order_id).where(
            rm_orders.c.symbol == self.symbol,
            rm_orders.c.is_algo.is_(True),
            rm_orders.c.is_open.is_(True),
            rm_orders.c.close_position.is_(True),
        )
        with self.read_engine.connect() as conn:
            return [str(cid) for cid in conn.execute(query).scalars()]

    async def _cancel_one(self, cancel: payloads.CancelOrder) -> dict[str, Any]:
        try:
            await self.gateway.cancel_order(
                self.symbol, cancel.client_order_id, is_algo=cancel.is_algo
            )
        except ExchangeRejected as exc:
            if exc.code not in NOT_OPEN_CODES:
                raise
            # Filled, triggered or canceled meanwhile (a close's own cleanup often wins the
            # race): what the cancel wanted holds. The fill, if any, arrives as a fact.
            return {"outcome": "NOT_OPEN", "client_order_id": cancel.client_order_id}
        return {"canceled": cancel.client_order_id}

    async def _set_leverage(self, command_id: UUID, leverage: int) -> dict[str, Any]:
        applied = await self.gateway.set_leverage(self.symbol, leverage)
        env = self.trading.envelope(Source.REST, command_id=command_id)
        await self.store.call(self.trading.record_leverage, applied, env)
        return {"leverage": applied}

    async def _transfer(self, transfer: payloads.TransferToFutures) -> dict[str, Any]:
        tran_id = await self.gateway.transfer_to_futures(transfer.asset, transfer.amount)
        return {"tranId": tran_id, "asset": transfer.asset, "amount": str(transfer.amount)}

    async def _unverified_transfer(self) -> dict[str, Any]:
        log.warning("transfer interrupted by a restart: not repeated; check the balance")
        return {"outcome": "UNVERIFIED", "note": "interrupted by a restart; not repeated"}

    async def _pause(self, command_id: UUID, reason: str) -> dict[str, Any]:
        env = self.trading.envelope(Source.BOT, command_id=command_id)
        await self.store.call(self.trading.pause_engine, reason, env)
        return {"mode": "PAUSED"}

    async def _resume(self, command_id: UUID) -> dict[str, Any]:
        env = self.trading.envelope(Source.BOT, command_id=command_id)
        await self.store.call(self.trading.resume_engine, env)
        # A person resuming acknowledges the loss-limit pause.
        await self.store.call(self.trading.clear_alarm, "daily_loss_limit", env)
        return {"mode": "RUNNING"}


def decision_time(draft: Draft) -> datetime | None:
    freshness = payloads.freshness_of(draft.kind, draft.payload)
    return freshness.candle_time if freshness is not None else None
