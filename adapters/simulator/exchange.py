"""The exchange core: orders, matching, accounting and user-stream events. Pure: no I/O, no clock.

Every mutating call takes the data-clock (simulated) time in ms (``now_ms``) and appends the
user-stream events of each transaction, as one batch, to ``outbox``; the server drains and sends
them.
"""

from __future__ import annotations

import random
import string
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from .account import Account
from .algo import LIVE_ALGO_STATUSES, AlgoOrder, parse_algo_order
from .config import SimulatorConfig
from .decimals import ZERO, fixed, parse_int, round8
from .errors import (
    MARGIN_INSUFFICIENT,
    NO_SUCH_ORDER,
    REDUCE_ONLY_FAILED,
    REDUCE_ONLY_REJECT,
    UNKNOWN_ORDER,
    BinanceError,
    err,
)
from .market import Market
from .orders import Fill, Order
from .validation import OrderRequest, check_grid_and_ranges, check_symbol, parse_new_order

Event = dict[str, object]
Batch = list[Event]
HOUR_MS = 3_600_000


class Exchange:
    def __init__(self, config: SimulatorConfig, market: Market) -> None:
        self.config = config
        self.rules = config.rules
        self.symbol = config.symbol
        self.market = market
        self.account = Account(
            config,
            wallet=config.futures_balance,
            spot_free=config.spot_balance,
            leverage=config.default_leverage,
            # ccxt skips balance rows whose updateTime is 0 as "uninitialised".
            update_time=market.start_ms,
        )
        self.orders: dict[int, Order] = {}
        self.algos: dict[int, AlgoOrder] = {}
        self.fills: list[Fill] = []
        self.client_id_counts: dict[str, int] = {}
        self._orders_by_cid: dict[str, list[int]] = {}
        self._algos_by_cid: dict[str, list[int]] = {}
        self._ids = random.Random(f"{config.seed}:ids")
        self.next_order_id = 4_129_479_001
        self.next_trade_id = 310_194_001
        self.next_algo_id = 1_000_000_033_001
        interval = config.funding_interval_hours * HOUR_MS
        self.funding_interval_ms = interval
        self.next_funding_ms = (market.start_ms // interval + 1) * interval
        self.outbox: list[Batch] = []
        self._margin_call_active = False
        self._orders_trimmed_at = 0
        self._algos_trimmed_at = 0

    # ------------------------------------------------------------------ helpers

    def drain(self) -> list[Batch]:
        batches, self.outbox = self.outbox, []
        return batches

    @property
    def mark(self) -> Decimal:
        return self.market.mark

    def open_orders(self) -> list[Order]:
        return [o for o in self.orders.values() if o.is_open]

    def open_algos(self) -> list[AlgoOrder]:
        return [a for a in self.algos.values() if a.is_open]

    def _random_client_id(self) -> str:
        alphabet = string.ascii_letters + string.digits
        return "".join(self._ids.choice(alphabet) for _ in range(22))

    def client_id_in_use(self, cid: str) -> bool:
        """-4116 rule: the id names an open order or an untriggered algo order (or, strict, any)."""
        if self.config.strict_client_ids and cid in self.client_id_counts:
            return True
        if any(self.orders[i].is_open for i in self._orders_by_cid.get(cid, [])):
            return True
        return any(self.algos[i].is_open for i in self._algos_by_cid.get(cid, []))

    def _count_client_id(self, cid: str) -> None:
        self.client_id_counts[cid] = self.client_id_counts.get(cid, 0) + 1

    def working_price(self, working_type: str) -> Decimal:
        return self.market.mark if working_type == "MARK_PRICE" else self.market.last

    def account_update(
        self, reason: str, now_ms: int, change: Decimal = ZERO, with_position: bool = True
    ) -> Event:
        return {
            "e": "ACCOUNT_UPDATE",
            "E": now_ms,
            "T": now_ms,
            "a": {
                "m": reason,
                "B": [self.account.balance_event_row(change)],
                "P": [self.account.position_event_row(self.symbol, self.mark)]
                if with_position
                else [],
            },
        }

    # ------------------------------------------------------------------ lookups

    def find_order(self, params: Mapping[str, str], missing: tuple[int, str]) -> Order:
        check_symbol(params, self.symbol)
        order_id = parse_int("orderId", params.get("orderId"))
        cid = params.get("origClientOrderId")
        if order_id is None and not cid:
            raise BinanceError(
                -1102,
                "Param 'orderId' or 'origClientOrderId' must be sent, but both were empty/null!",
            )
        if order_id is not None:
            order = self.orders.get(order_id)
            if order is None or (cid and order.client_order_id != cid):
                raise err(missing)
            return order
        assert cid is not None
        ids = self._orders_by_cid.get(cid)
        if not ids:
            raise err(missing)
        return self.orders[ids[-1]]

    def find_algo(self, params: Mapping[str, str], missing: tuple[int, str]) -> AlgoOrder:
        algo_id = parse_int("algoId", params.get("algoId"))
        cid = params.get("clientAlgoId")
        if algo_id is None and not cid:
            raise BinanceError(
                -1102, "Param 'algoId' or 'clientAlgoId' must be sent, but both were empty/null!"
            )
        if algo_id is not None:
            algo = self.algos.get(algo_id)
            if algo is None:
                raise err(missing)
            return algo
        assert cid is not None
        ids = self._algos_by_cid.get(cid)
        if not ids:
            raise err(missing)
        return self.algos[ids[-1]]

    # ------------------------------------------------------------------ new orders

    def new_order(
        self, params: Mapping[str, str], now_ms: int, received_at: float
    ) -> tuple[Order, dict[str, object], str]:
        """Place a LIMIT/MARKET order; returns it, its state at acceptance and the resp type."""
        req = parse_new_order(
            params, self.symbol, self.account.dual_side, self.client_id_in_use, now_ms
        )
        if req.price_match != "NONE":
            req.price = self._match_price(req.side, req.price_match)
        check_grid_and_ranges(req, self.rules, self.mark)
        self._check_reduce_only(req.side, req.quantity, req.reduce_only)
        self._check_margin(req)
        self._check_time_in_force(req)
        order = Order(
            order_id=self._take_order_id(),
            client_order_id=req.client_order_id or self._random_client_id(),
            symbol=self.symbol,
            side=req.side,
            type=req.type,
            time_in_force=req.time_in_force,
            orig_qty=req.quantity,
            price=req.price,
            reduce_only=req.reduce_only,
            time=now_ms,
            received_at=received_at,
            price_match=req.price_match,
            stp_mode=req.stp_mode,
            good_till_date=req.good_till_date,
        )
        self._register(order)
        self._count_client_id(order.client_order_id)
        accepted = order.to_binance(self.rules)
        batch: Batch = [order.trade_update(self.rules, "NEW", now_ms)]
        self._execute_taker(order, now_ms, batch)
        self.outbox.append(batch)
        self._after_change(now_ms)
        return order, accepted, req.resp_type

    def _take_order_id(self) -> int:
        self.next_order_id += 1
        return self.next_order_id

    def _register(self, order: Order) -> None:
        self.orders[order.order_id] = order
        self._orders_by_cid.setdefault(order.client_order_id, []).append(order.order_id)

    def _match_price(self, side: str, mode: str) -> Decimal:
        level = int(mode.rsplit("_", 1)[1]) - 1 if "_" in mode else 0
        opponent = mode.startswith("OPPONENT")
        book_side = (
            ("ask" if side == "BUY" else "bid") if opponent else ("bid" if side == "BUY" else "ask")
        )
        return self.market.level_price(book_side, level)

    def _check_reduce_only(self, side: str, qty: Decimal, reduce_only: bool) -> None:
        if not reduce_only:
            return
        pa = self.account.position.amount
        if pa == 0 or (pa > 0) == (side == "BUY"):
            raise err(REDUCE_ONLY_REJECT)
        resting = sum(
            (o.remaining for o in self.open_orders() if o.reduce_only and o.side == side), ZERO
        )
        if resting >= abs(pa):
            raise err(REDUCE_ONLY_FAILED)

    def _check_margin(self, req: OrderRequest) -> None:
        if req.reduce_only:
            return
        price = req.price if req.type == "LIMIT" else self.mark
        increasing = self.account.increasing_qty(req.side, req.quantity)
        required = increasing * price / self.account.leverage
        if increasing:
            required += req.quantity * price * self.config.taker_fee
        if required and self.account.available(self.mark, self.open_orders()) < required:
            raise err(MARGIN_INSUFFICIENT)

    def _crosses(self, side: str, price: Decimal) -> bool:
        return price >= self.market.best_ask if side == "BUY" else price <= self.market.best_bid

    def _check_time_in_force(self, req: OrderRequest) -> None:
        if req.type != "LIMIT":
            return
        if req.time_in_force == "GTX" and self._crosses(req.side, req.price):
            raise BinanceError(
                -5022,
                "Due to the order could not be executed as maker, the Post Only order will be "
                "rejected. The order will not be recorded in the order history",
            )
        if req.time_in_force == "FOK":
            qty = self._reduce_only_cap(req.side, req.quantity, req.reduce_only)
            available = sum(
                (q for _, q in self.market.sweep(req.side, qty, req.price, commit=False)), ZERO
            )
            if qty < req.quantity or available < req.quantity:
                raise BinanceError(
                    -5021,
                    "Due to the order could not be filled immediately, the FOK order has been "
                    "rejected. The order will not be recorded in the order history",
                )

    def _reduce_only_cap(self, side: str, qty: Decimal, reduce_only: bool) -> Decimal:
        """How much a reduce-only order may still fill without flipping the position."""
        if not reduce_only:
            return qty
        pa = self.account.position.amount
        if pa == 0 or (pa > 0) == (side == "BUY"):
            return ZERO
        return min(qty, abs(pa))

    # ------------------------------------------------------------------ matching

    def _fill(self, order: Order, price: Decimal, qty: Decimal, maker: bool, now_ms: int) -> Fill:
        rate = self.config.maker_fee if maker else self.config.taker_fee
        fee = round8(price * qty * rate)
        signed = qty if order.side == "BUY" else -qty
        account = self.account
        rp = account.position.apply_fill(signed, price, fee)
        account.wallet += rp - fee
        account.position.update_time = now_ms
        account.update_time = now_ms
        self.next_trade_id += 1
        fill = Fill(
            trade_id=self.next_trade_id,
            order_id=order.order_id,
            symbol=self.symbol,
            side=order.side,
            price=price,
            qty=qty,
            realized_pnl=rp,
            commission=fee,
            maker=maker,
            time=now_ms,
        )
        account.book_income("COMMISSION", -fee, now_ms, self.symbol, str(fill.trade_id))
        if rp:
            account.book_income("REALIZED_PNL", rp, now_ms, self.symbol, str(fill.trade_id))
        order.executed_qty += qty
        order.cum_quote += price * qty
        order.status = "FILLED" if order.remaining == 0 else "PARTIALLY_FILLED"
        order.update_time = now_ms
        order.fills.append(fill)
        self.fills.append(fill)
        return fill

    def _apply_fills(
        self,
        order: Order,
        fills: list[tuple[Decimal, Decimal]],
        maker: bool,
        now_ms: int,
        batch: Batch,
    ) -> None:
        """TRADE_LITE per trade → one ACCOUNT_UPDATE → ORDER_TRADE_UPDATE per trade."""
        if not fills:
            return
        lites: Batch = []
        updates: Batch = []
        for price, qty in fills:
            fill = self._fill(order, price, qty, maker, now_ms)
            lites.append(order.trade_lite(self.rules, fill, now_ms))
            updates.append(order.trade_update(self.rules, "TRADE", now_ms, fill))
        batch.extend(lites)
        batch.append(self.account_update("ORDER", now_ms))
        batch.extend(updates)

    def _expire(self, order: Order, reason: str, now_ms: int, batch: Batch) -> None:
        order.status = "EXPIRED"
        order.update_time = now_ms
        batch.append(order.trade_update(self.rules, "EXPIRED", now_ms, expiry_reason=reason))

    def _execute_taker(self, order: Order, now_ms: int, batch: Batch) -> None:
        qty = self._reduce_only_cap(order.side, order.remaining, order.reduce_only)
        limit = order.price if order.type == "LIMIT" else None
        fills = self.market.sweep(order.side, qty, limit, commit=True) if qty > 0 else []
        self._apply_fills(order, fills, False, now_ms, batch)
        if not order.is_open:
            self._finish_child(order, now_ms, batch)
            return
        capped = order.reduce_only and order.remaining > self._reduce_only_cap(
            order.side, order.remaining, True
        )
        if order.type == "MARKET" or order.time_in_force in ("IOC", "FOK"):
            self._expire(order, "4" if capped else "2", now_ms, batch)
            self._finish_child(order, now_ms, batch)

    def _finish_child(self, order: Order, now_ms: int, batch: Batch) -> None:
        """A triggered algo order finishes when its child in the matching engine is terminal."""
        if order.algo_id is None or order.is_open:
            return
        algo = self.algos[order.algo_id]
        algo.actual_qty = order.executed_qty
        algo.actual_price = order.avg_price
        if algo.status == "TRIGGERED":
            algo.status = "FINISHED"
            algo.update_time = now_ms
            batch.append(algo.update_event(self.rules, now_ms))

    def on_tick(self, now_ms: int, received_at: float) -> None:
        """The market moved: fill resting orders, expire GTD, fire triggers, settle funding.

        ``received_at`` (wall-clock ms) only stamps the ``simReceivedAt`` of triggered children.
        """
        for order in sorted(self.open_orders(), key=lambda o: o.order_id):
            self._match_resting(order, now_ms)
        for order in self.open_orders():
            if order.good_till_date and order.good_till_date <= now_ms:
                batch: Batch = []
                self._expire(order, "0", now_ms, batch)
                self._finish_child(order, now_ms, batch)
                self.outbox.append(batch)
        for algo in sorted(self.open_algos(), key=lambda a: a.algo_id):
            if algo.should_trigger(self.working_price(algo.working_type)):
                self._trigger(algo, now_ms, received_at)
        while now_ms >= self.next_funding_ms:
            self._settle_funding(now_ms)
            self.next_funding_ms += self.funding_interval_ms
        self._after_change(now_ms)

    def _match_resting(self, order: Order, now_ms: int) -> None:
        if order.type != "LIMIT":
            return
        last = self.market.last
        crossed = last < order.price if order.side == "BUY" else last > order.price
        if not crossed and last != order.price:
            return
        available = order.remaining if crossed else min(order.remaining, self.market.touch_size())
        batch: Batch = []
        qty = self._reduce_only_cap(order.side, available, order.reduce_only)
        if qty > 0:
            self._apply_fills(order, [(order.price, qty)], True, now_ms, batch)
        if (
            order.is_open
            and order.reduce_only
            and self._reduce_only_cap(order.side, order.remaining, True) < order.remaining
        ):
            # The position shrank under this reduce-only order: never flip, expire the rest.
            self._expire(order, "4", now_ms, batch)
        self._finish_child(order, now_ms, batch)
        if batch:
            self.outbox.append(batch)

    def _trigger(self, algo: AlgoOrder, now_ms: int, received_at: float) -> None:
        algo.trigger_time = now_ms
        algo.update_time = now_ms
        pa = self.account.position.amount
        reduce_only = algo.reduce_only or algo.close_position
        qty = abs(pa) if algo.close_position else algo.quantity
        if reduce_only and (pa == 0 or (pa > 0) == (algo.side == "BUY")):
            algo.status = "CANCELED"
            algo.reason = "Reduce Only reject"
            self.outbox.append([algo.update_event(self.rules, now_ms)])
            return
        price = algo.price if algo.child_type == "LIMIT" else self.mark
        increasing = ZERO if reduce_only else self.account.increasing_qty(algo.side, qty)
        required = increasing * price / self.account.leverage
        if increasing and self.account.available(self.mark, self.open_orders()) < required:
            algo.status = "REJECTED"
            algo.reason = "Margin is insufficient"
            self.outbox.append([algo.update_event(self.rules, now_ms)])
            return
        child = Order(
            order_id=self._take_order_id(),
            client_order_id=algo.client_algo_id,
            symbol=self.symbol,
            side=algo.side,
            type=algo.child_type,
            time_in_force=algo.time_in_force if algo.child_type == "LIMIT" else "GTC",
            orig_qty=qty,
            price=algo.price,
            reduce_only=reduce_only,
            time=now_ms,
            received_at=received_at,
            orig_type=algo.type,
            stop_price=algo.trigger_price,
            close_position=algo.close_position,
            working_type=algo.working_type,
            price_protect=algo.price_protect,
            price_match=algo.price_match,
            stp_mode=algo.stp_mode,
            algo_id=algo.algo_id,
        )
        self._register(child)
        algo.actual_order_id = child.order_id
        batch: Batch = [child.trade_update(self.rules, "NEW", now_ms)]
        algo.status = "TRIGGERED"
        self._execute_taker(child, now_ms, batch)
        # TRIGGERED goes after the child's fill events and before FINISHED
        # (docs/exchange-rules.md, "Algo (conditional) orders").
        final_status, algo.status = algo.status, "TRIGGERED"
        triggered = algo.update_event(self.rules, now_ms)
        algo.status = final_status
        finished_at = next((i for i, e in enumerate(batch) if e["e"] == "ALGO_UPDATE"), len(batch))
        batch.insert(finished_at, triggered)
        self.outbox.append(batch)

    def _settle_funding(self, now_ms: int) -> None:
        pa = self.account.position.amount
        if not pa:
            return
        rate = self.config.funding_rate
        payment = round8(pa * self.mark * rate)
        self.account.wallet -= payment
        self.account.update_time = now_ms
        self.account.book_income("FUNDING_FEE", -payment, now_ms, self.symbol)
        event = self.account_update("FUNDING_FEE", now_ms, -payment, with_position=False)
        event["a"]["S"] = self.symbol  # type: ignore[index]
        self.outbox.append([event])

    def _after_change(self, now_ms: int) -> None:
        """MARGIN_CALL once when the maintenance margin reaches 80% of the margin balance."""
        self.trim_history()
        account = self.account
        maint = account.maint_margin(self.mark)
        balance = account.margin_balance(self.mark)
        in_danger = bool(account.position.amount) and (
            balance <= 0 or maint / balance >= Decimal("0.8")
        )
        if in_danger and not self._margin_call_active:
            pos = account.position
            self.outbox.append(
                [
                    {
                        "e": "MARGIN_CALL",
                        "E": now_ms,
                        "cw": fixed(account.wallet, 8),
                        "p": [
                            {
                                "s": self.symbol,
                                "ps": "BOTH",
                                "pa": fixed(pos.amount, self.rules.quantity_precision),
                                "mt": account.margin_type,
                                "iw": "0",
                                "mp": fixed(self.mark, 8),
                                "up": fixed(pos.unrealized(self.mark), 8),
                                "mm": fixed(maint, 8),
                            }
                        ],
                    }
                ]
            )
        self._margin_call_active = in_danger

    # ------------------------------------------------------------------ history and restarts

    def trim_history(self) -> None:
        """Forget the oldest fills, income rows and finished orders beyond ``history_limit``.

        Binance forgets old history too; here it keeps memory and the state file bounded. An
        order stays as long as one of its fills does, so every kept trade can be looked up.
        """
        limit = self.config.history_limit
        slack = limit + max(1, limit // 4)
        if len(self.fills) > slack:
            del self.fills[:-limit]
        if len(self.account.income) > slack:
            del self.account.income[:-limit]
        # Orders that must stay (open, or with kept fills) can hold the count above the limit:
        # look again only once it has grown by a quarter more.
        if len(self.orders) > max(slack, self._orders_trimmed_at):
            done = [i for i, o in self.orders.items() if not o.is_open]
            referenced = {f.order_id for f in self.fills}
            forgettable = [i for i in done if i not in referenced]
            for order_id in forgettable[: max(0, len(done) - limit)]:
                cid = self.orders.pop(order_id).client_order_id
                self._forget(cid, order_id, self._orders_by_cid)
            self._orders_trimmed_at = len(self.orders) + limit // 4
        if len(self.algos) > max(slack, self._algos_trimmed_at):
            done = [i for i, a in self.algos.items() if a.status not in LIVE_ALGO_STATUSES]
            for algo_id in done[: max(0, len(done) - limit)]:
                cid = self.algos.pop(algo_id).client_algo_id
                self._forget(cid, algo_id, self._algos_by_cid)
            self._algos_trimmed_at = len(self.algos) + limit // 4

    def _forget(self, cid: str, record_id: int, index: dict[str, list[int]]) -> None:
        ids = index.get(cid, [])
        if record_id in ids:
            ids.remove(record_id)
        if not ids:
            index.pop(cid, None)
        # A client id no kept record uses any more is forgotten too (strict mode included).
        if cid not in self._orders_by_cid and cid not in self._algos_by_cid:
            self.client_id_counts.pop(cid, None)

    def counters(self) -> dict[str, object]:
        """Id counters, funding schedule and the client-id generator (JSON-ready)."""
        version, internal, gauss_next = self._ids.getstate()
        return {
            "next_order_id": self.next_order_id,
            "next_trade_id": self.next_trade_id,
            "next_algo_id": self.next_algo_id,
            "next_funding_ms": self.next_funding_ms,
            "margin_call_active": self._margin_call_active,
            "ids_rng": [version, list(internal), gauss_next],
        }

    def restore(
        self,
        counters: dict[str, Any],
        orders: list[Order],
        algos: list[AlgoOrder],
        fills: list[Fill],
        client_id_counts: dict[str, int],
    ) -> None:
        """Take over a saved state; the lookups by client id are rebuilt from the records."""
        self.next_order_id = int(counters["next_order_id"])
        self.next_trade_id = int(counters["next_trade_id"])
        self.next_algo_id = int(counters["next_algo_id"])
        self.next_funding_ms = int(counters["next_funding_ms"])
        self._margin_call_active = bool(counters["margin_call_active"])
        version, internal, gauss_next = counters["ids_rng"]
        self._ids.setstate((int(version), tuple(int(x) for x in internal), gauss_next))
        self.orders = {o.order_id: o for o in orders}
        self.algos = {a.algo_id: a for a in algos}
        self.fills = list(fills)
        self.client_id_counts = dict(client_id_counts)
        self._orders_by_cid = {}
        for order in orders:
            self._orders_by_cid.setdefault(order.client_order_id, []).append(order.order_id)
        self._algos_by_cid = {}
        for algo in algos:
            self._algos_by_cid.setdefault(algo.client_algo_id, []).append(algo.algo_id)
        for fill in fills:
            owner = self.orders.get(fill.order_id)
            if owner is not None:
                owner.fills.append(fill)

    def continue_ids_of(self, previous: Exchange) -> None:
        """After a reset: ids never go back, so no client mistakes a new trade for an old one."""
        self.next_order_id = max(self.next_order_id, previous.next_order_id)
        self.next_trade_id = max(self.next_trade_id, previous.next_trade_id)
        self.next_algo_id = max(self.next_algo_id, previous.next_algo_id)
        self.account.next_tran_id = max(self.account.next_tran_id, previous.account.next_tran_id)

    # ------------------------------------------------------------------ cancels

    def cancel_order(self, params: Mapping[str, str], now_ms: int) -> Order:
        order = self.find_order(params, UNKNOWN_ORDER)
        if not order.is_open:
            raise err(UNKNOWN_ORDER)
        self._cancel(order, now_ms)
        return order

    def _cancel(self, order: Order, now_ms: int) -> None:
        order.status = "CANCELED"
        order.update_time = now_ms
        batch: Batch = [order.trade_update(self.rules, "CANCELED", now_ms)]
        self._finish_child(order, now_ms, batch)
        self.outbox.append(batch)

    def cancel_all(self, params: Mapping[str, str], now_ms: int) -> None:
        check_symbol(params, self.symbol)
        for order in sorted(self.open_orders(), key=lambda o: o.order_id):
            self._cancel(order, now_ms)

    def query_order(self, params: Mapping[str, str], open_only: bool = False) -> Order:
        order = self.find_order(params, NO_SUCH_ORDER)
        if open_only and not order.is_open:
            raise err(NO_SUCH_ORDER)
        return order

    # ------------------------------------------------------------------ algo orders

    def new_algo(
        self, params: Mapping[str, str], now_ms: int, received_at: float
    ) -> tuple[AlgoOrder, str]:
        algo, resp_type = parse_algo_order(
            params,
            self.symbol,
            self.rules,
            self.account.dual_side,
            self.client_id_in_use,
            self.working_price,
            self.account.position.amount,
            self.next_algo_id + 1,
            self._random_client_id(),
            now_ms,
            received_at,
        )
        self.next_algo_id += 1
        self.algos[algo.algo_id] = algo
        self._algos_by_cid.setdefault(algo.client_algo_id, []).append(algo.algo_id)
        self._count_client_id(algo.client_algo_id)
        self.outbox.append([algo.update_event(self.rules, now_ms)])
        return algo, resp_type

    def cancel_algo(self, params: Mapping[str, str], now_ms: int) -> AlgoOrder:
        algo = self.find_algo(params, UNKNOWN_ORDER)
        if not algo.is_open:
            raise err(UNKNOWN_ORDER)
        self._cancel_algo(algo, now_ms)
        return algo

    def _cancel_algo(self, algo: AlgoOrder, now_ms: int) -> None:
        algo.status = "CANCELED"
        algo.update_time = now_ms
        self.outbox.append([algo.update_event(self.rules, now_ms)])

    def cancel_all_algos(self, params: Mapping[str, str], now_ms: int) -> None:
        check_symbol(params, self.symbol)
        for algo in sorted(self.open_algos(), key=lambda a: a.algo_id):
            self._cancel_algo(algo, now_ms)

    def live_algos(self) -> list[AlgoOrder]:
        return [a for a in self.algos.values() if a.status in LIVE_ALGO_STATUSES]
