"""What each Command kind does: the orders it sends (intents) and any other exchange action.

Planning reads the account (risk checks, sizes, the position to close) before the Command is
accepted; resuming after a crash rebuilds the plan from what was recorded, never re-decides.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, TypeVar

import structlog
from sqlalchemy import Engine, select

from aggregates import payloads
from aggregates.command import Command, CommandKind
from aggregates.envelope import Source
from alphaengine.store_thread import StoreThread
from alphaengine.trading import OrderIntent, Trading
from processes.intents import close_intent, entry_intents, intent_of, is_algo_client_order_id
from processes.ports import ExchangeGateway, ExchangeRejected
from processes.risk import Exposure, RiskGuard, RiskRejected
from projections.schema import rm_orders

log = structlog.get_logger(__name__)

Action = Callable[[], Awaitable[dict[str, Any]]]
P = TypeVar("P", bound=payloads.Payload)


def _parse(model: type[P], command: Command) -> P:
    parsed = payloads.parse_payload(command.kind, command.payload)
    if not isinstance(parsed, model):
        raise payloads.BadPayload(
            [{"loc": ["kind"], "msg": f"{command.kind} is not {model.__name__}", "type": "kind"}]
        )
    return parsed


@dataclass
class Plan:
    intents: list[OrderIntent] = field(default_factory=list)
    before: Action | None = None  # runs before the orders (cancel, leverage, transfer, pause)
    after: Action | None = None  # runs once the orders stand (clean-up after a close)


class Planner:
    def __init__(
        self,
        trading: Trading,
        gateway: ExchangeGateway,
        store: StoreThread,
        risk: RiskGuard,
        symbol: str,
        default_leverage: int,
        read_engine: Engine | None = None,
    ) -> None:
        self.trading = trading
        self.gateway = gateway
        self.store = store
        self.risk = risk
        self.symbol = symbol
        self.default_leverage = default_leverage
        self.read_engine = read_engine

    async def exposure(self) -> Exposure:
        account, position = await self.store.call(self._account_and_position)
        mark = self.risk.mark_price or position.entry_price
        return Exposure(
            wallet_balance=account.wallet_balance("USDT"),
            position_quantity=position.quantity,
            entry_price=position.entry_price,
            mark_price=mark,
            leverage=position.leverage or self.default_leverage,
        )

    def _account_and_position(self) -> tuple[Any, Any]:
        return self.trading.account(), self.trading.position()

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
    async def plan(self, command: Command, *, check_risk: bool) -> Plan:
        kind = command.kind
        if kind == CommandKind.PLACE_ORDER:
            return await self._place(command, _parse(payloads.PlaceOrder, command), check_risk)
        if kind == CommandKind.CLOSE_POSITION:
            request = _parse(payloads.ClosePosition, command)
            quantity = await self._position_to_close()
            if quantity == 0:
                raise RiskRejected("no position to close")
            if request.quantity is not None:
                quantity = min(abs(quantity), request.quantity) * (1 if quantity > 0 else -1)
            intents = [close_intent(command.id, self.symbol, quantity)]
            return Plan(intents, after=self._cancel_protective_if_flat)
        if kind == CommandKind.FLATTEN:
            quantity = await self._position_to_close()
            intents = [close_intent(command.id, self.symbol, quantity)] if quantity else []
            return Plan(intents, before=self._cancel_all)
        return self._action_plan(command, check_risk)

    async def _place(self, command: Command, order: payloads.PlaceOrder, check: bool) -> Plan:
        quantity = order.quantity or Decimal(0)
        reference = order.reference_price or Decimal(0)
        price = order.price or self.risk.mark_price or reference
        rules = self.risk.rules
        order = order.model_copy(
            update={
                "stop_price": rules.round_price(order.stop_price) if order.stop_price else None,
                "take_profit_price": (
                    rules.round_price(order.take_profit_price) if order.take_profit_price else None
                ),
                "price": rules.round_price(order.price) if order.price else None,
            }
        )
        if check and not order.reduce_only and not order.close_position:
            exposure = await self.exposure()
            stop = (
                (order.stop_price or Decimal(0))
                if order.type in ("MARKET", "LIMIT")
                else Decimal(0)
            )
            quantity = self.risk.size_entry(exposure, price, stop, order.quantity)
            self.risk.check_notional(exposure, quantity, price)
        elif check:
            self.risk.check_rate()
        if not quantity and not order.close_position:
            raise RiskRejected("the order has no quantity")
        return Plan(entry_intents(command.id, self.symbol, order, quantity))

    def _action_plan(self, command: Command, check: bool) -> Plan:
        kind = command.kind
        if kind == CommandKind.CANCEL_ALL:
            return Plan(before=self._cancel_all)
        if kind == CommandKind.CANCEL_ORDER:
            cancel = _parse(payloads.CancelOrder, command)
            return Plan(before=lambda: self._cancel_one(cancel))
        if kind == CommandKind.SET_LEVERAGE:
            leverage = _parse(payloads.SetLeverage, command).leverage
            if check:
                self.risk.check_leverage(leverage)
            return Plan(before=lambda: self._set_leverage(command, leverage))
        if kind == CommandKind.TRANSFER_TO_FUTURES:
            transfer = _parse(payloads.TransferToFutures, command)
            return Plan(before=lambda: self._transfer(transfer))
        if kind == CommandKind.PAUSE_ENGINE:
            reason = _parse(payloads.PauseEngine, command).reason
            return Plan(before=lambda: self._pause(command, reason))
        if kind == CommandKind.RESUME_ENGINE:
            return Plan(before=lambda: self._resume(command))
        raise payloads.BadPayload(
            [{"loc": ["kind"], "msg": f"unknown command kind {kind!r}", "type": "enum"}]
        )

    # ---- after a crash --------------------------------------------------------------------
    async def resume(self, command: Command) -> Plan:
        """Rebuild from the recorded intent; actions that are not safe to repeat are checked."""
        orders = [
            await self.store.call(self._recorded_order, cid) for cid in command.client_order_ids
        ]
        intents = [intent_of(o) for o in orders if o is not None]
        if command.kind == CommandKind.TRANSFER_TO_FUTURES:
            # A transfer has no client id to look up: do not repeat it; the reconciler's
            # balance check shows whether it landed.
            return Plan(intents, before=self._unverified_transfer)
        if command.kind == CommandKind.FLATTEN:
            return Plan(intents, before=self._cancel_all)
        if command.kind == CommandKind.CLOSE_POSITION:
            return Plan(intents, after=self._cancel_protective_if_flat)
        if command.kind == CommandKind.PLACE_ORDER:
            return Plan(intents)
        return self._action_plan(command, False)

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
        await self.gateway.cancel_order(self.symbol, cancel.client_order_id, is_algo=cancel.is_algo)
        return {"canceled": cancel.client_order_id}

    async def _set_leverage(self, command: Command, leverage: int) -> dict[str, Any]:
        applied = await self.gateway.set_leverage(self.symbol, leverage)
        env = self.trading.envelope(Source.REST, command_id=command.id)
        await self.store.call(self.trading.record_leverage, applied, env)
        return {"leverage": applied}

    async def _transfer(self, transfer: payloads.TransferToFutures) -> dict[str, Any]:
        tran_id = await self.gateway.transfer_to_futures(transfer.asset, transfer.amount)
        return {"tranId": tran_id, "asset": transfer.asset, "amount": str(transfer.amount)}

    async def _unverified_transfer(self) -> dict[str, Any]:
        log.warning("transfer interrupted by a restart: not repeated; check the balance")
        return {"outcome": "UNVERIFIED", "note": "interrupted by a restart; not repeated"}

    async def _pause(self, command: Command, reason: str) -> dict[str, Any]:
        env = self.trading.envelope(Source.BOT, command_id=command.id)
        await self.store.call(self.trading.pause_engine, reason, env)
        return {"mode": "PAUSED"}

    async def _resume(self, command: Command) -> dict[str, Any]:
        env = self.trading.envelope(Source.BOT, command_id=command.id)
        await self.store.call(self.trading.resume_engine, env)
        # A person resuming acknowledges the loss-limit pause.
        await self.store.call(self.trading.clear_alarm, "daily_loss_limit", env)
        return {"mode": "RUNNING"}
