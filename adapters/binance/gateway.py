"""`aggregates.ports.ExchangeGateway` on python-binance, every call through the REST governor.

Order endpoints are called explicitly (not through `futures_create_order`, which silently
re-routes conditional orders and replaces our client id with its own).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, TypeVar

import structlog

from adapters.binance.client import RECV_WINDOW_MS
from adapters.binance.governor import RestGovernor
from adapters.binance.parsing import MalformedMessage, candle_from_row
from adapters.binance.rest_rows import (
    parse_algo_order,
    parse_balance,
    parse_income,
    parse_leverage,
    parse_order,
    parse_position,
    parse_trade,
    trade_order_id,
)
from aggregates.facts import AlgoOrderFact, FillFact, IncomeFact, OrderFact
from aggregates.intent import OrderIntent
from aggregates.market import Candle, SymbolRules
from aggregates.ports import (
    AccountSnapshot,
    ExchangeRejected,
    ExchangeUnavailable,
    OrderAck,
    UnknownOutcome,
)

log = structlog.get_logger(__name__)

T = TypeVar("T")
ORDER_NOT_FOUND = -2013
TRADES_PAGE = 1000
INCOME_PAGE = 1000
KLINES_PAGE = 1000


def _decimal(value: Decimal) -> str:
    # Plain notation: Binance refuses "1E+1" and "1.0E-3".
    return format(value.normalize(), "f")


class BinanceGateway:
    def __init__(self, governor: RestGovernor, *, has_spot: bool = True) -> None:
        self.governor = governor
        self.recv_window_ms = RECV_WINDOW_MS
        self.has_spot = has_spot
        self._client_ids: dict[int, str] = {}  # orderId → clientOrderId, for userTrades rows

    # ---- orders ---------------------------------------------------------------------------
    async def place_order(self, intent: OrderIntent) -> OrderAck:
        if intent.is_algo:
            row = await self.governor.request(
                "post", "algoOrder", self._algo_params(intent), idempotent=False, order=True
            )
            algo = self._parsed(parse_algo_order, row)
            return OrderAck(algo.algo_id, algo)
        row = await self.governor.request(
            "post", "order", self._order_params(intent), idempotent=False, order=True
        )
        order = self._parsed(parse_order, row)
        self._client_ids[order.exchange_order_id] = order.client_order_id
        return OrderAck(order.exchange_order_id, order)

    def _order_params(self, intent: OrderIntent) -> dict[str, Any]:
        params: dict[str, Any] = {
            "symbol": intent.symbol,
            "side": intent.side,
            "type": intent.order_type,
            "quantity": _decimal(intent.quantity),
            "newClientOrderId": intent.client_order_id,
            "newOrderRespType": "RESULT",
        }
        if intent.order_type != "MARKET":
            params["price"] = _decimal(intent.price)
            params["timeInForce"] = intent.time_in_force
        if intent.reduce_only:
            params["reduceOnly"] = "true"
        return params

    def _algo_params(self, intent: OrderIntent) -> dict[str, Any]:
        params: dict[str, Any] = {
            "algoType": "CONDITIONAL",
            "symbol": intent.symbol,
            "side": intent.side,
            "type": intent.order_type,
            "clientAlgoId": intent.client_order_id,
            "triggerPrice": _decimal(intent.stop_price),
            "workingType": intent.working_type,
        }
        if intent.close_position:
            params["closePosition"] = "true"
        else:
            params["quantity"] = _decimal(intent.quantity)
            if intent.reduce_only:
                params["reduceOnly"] = "true"
        if intent.price:
            params["price"] = _decimal(intent.price)
            params["timeInForce"] = intent.time_in_force
        return params

    async def get_order(
        self, symbol: str, client_order_id: str, *, is_algo: bool
    ) -> OrderFact | AlgoOrderFact | None:
        path, key = ("algoOrder", "clientAlgoId") if is_algo else ("order", "origClientOrderId")
        try:
            row = await self.governor.request("get", path, {"symbol": symbol, key: client_order_id})
        except ExchangeRejected as exc:
            if exc.code == ORDER_NOT_FOUND:
                return None
            raise
        if is_algo:
            return self._parsed(parse_algo_order, row)
        order = self._parsed(parse_order, row)
        self._client_ids[order.exchange_order_id] = order.client_order_id
        return order

    async def cancel_order(self, symbol: str, client_order_id: str, *, is_algo: bool) -> None:
        path, key = ("algoOrder", "clientAlgoId") if is_algo else ("order", "origClientOrderId")
        await self.governor.request(
            "delete", path, {"symbol": symbol, key: client_order_id}, idempotent=False
        )

    async def cancel_all(self, symbol: str) -> None:
        await self.governor.request("delete", "allOpenOrders", {"symbol": symbol})
        await self.governor.request("delete", "algoOpenOrders", {"symbol": symbol})

    async def set_leverage(self, symbol: str, leverage: int) -> int:
        row = await self.governor.request(
            "post", "leverage", {"symbol": symbol, "leverage": leverage}
        )
        return int(row["leverage"])

    # ---- market ---------------------------------------------------------------------------
    async def klines(
        self,
        symbol: str,
        interval: str,
        *,
        limit: int,
        start_ms: int | None = None,
        end_ms: int | None = None,
    ) -> list[Candle]:
        params: dict[str, Any] = {"symbol": symbol, "interval": interval}
        params["limit"] = min(limit, KLINES_PAGE)
        if start_ms is not None:
            params["startTime"] = start_ms
        if end_ms is not None:
            params["endTime"] = end_ms
        rows = _rows(await self.governor.request("get", "klines", params, signed=False))
        candles = [self._parsed(candle_from_row, symbol, interval, row) for row in rows]
        if end_ms is None and candles:
            # Without an end the answer runs up to now, and its last bar is the open one.
            candles = candles[:-1]
        return candles

    async def symbol_rules(self, symbol: str) -> SymbolRules:
        info: Any = await self.governor.request("get", "exchangeInfo", signed=False)
        for row in info.get("symbols", []) if isinstance(info, dict) else []:
            if row.get("symbol") != symbol:
                continue
            try:
                filters = {f["filterType"]: f for f in row.get("filters", [])}
                return SymbolRules(
                    step_size=Decimal(str(filters["LOT_SIZE"]["stepSize"])),
                    tick_size=Decimal(str(filters["PRICE_FILTER"]["tickSize"])),
                    min_quantity=Decimal(str(filters["LOT_SIZE"]["minQty"])),
                    min_notional=Decimal(str(filters.get("MIN_NOTIONAL", {}).get("notional", "5"))),
                )
            except (KeyError, TypeError, ArithmeticError) as exc:
                raise UnknownOutcome(f"exchangeInfo filters of {symbol} unreadable") from exc
        raise ExchangeRejected(-1121, f"{symbol} is not listed by the exchange")

    async def mark_price(self, symbol: str) -> Decimal:
        row: Any = await self.governor.request(
            "get", "premiumIndex", {"symbol": symbol}, signed=False
        )
        try:
            price = Decimal(str(row["markPrice"]))
        except (KeyError, TypeError, ArithmeticError) as exc:
            raise UnknownOutcome(f"premiumIndex without a mark price: {row!r}"[:200]) from exc
        if not price.is_finite() or price <= 0:
            raise UnknownOutcome(f"premiumIndex mark price {price} is not a price")
        return price

    def server_time(self) -> datetime:
        offset_ms = int(self.governor.client.timestamp_offset or 0)
        return datetime.now(UTC) + timedelta(milliseconds=offset_ms)

    # ---- account --------------------------------------------------------------------------
    async def snapshot(self, symbol: str) -> AccountSnapshot:
        # The exchange's clock, not ours: stream reports are ordered against this time.
        as_of = self.server_time()
        balances = await self.governor.request("get", "balance", version=3)
        positions = await self.governor.request(
            "get", "positionRisk", {"symbol": symbol}, version=3
        )
        config = await self.governor.request("get", "symbolConfig", {"symbol": symbol})
        open_orders = await self.governor.request("get", "openOrders", {"symbol": symbol})
        open_algos = await self.governor.request("get", "openAlgoOrders", {"symbol": symbol})
        orders = [self._parsed(parse_order, row) for row in _rows(open_orders)]
        for order in orders:
            self._client_ids[order.exchange_order_id] = order.client_order_id
        return AccountSnapshot(
            balances=[self._parsed(parse_balance, row, as_of) for row in _rows(balances)],
            position=self._parsed(
                parse_position, positions, symbol, as_of, parse_leverage(config, symbol)
            ),
            open_orders=orders,
            open_algo_orders=[self._parsed(parse_algo_order, row) for row in _rows(open_algos)],
        )

    async def fills_since(self, symbol: str, from_trade_id: int | None) -> list[FillFact]:
        """Every fill after `from_trade_id` (all recent ones when None), oldest first."""
        fills: list[FillFact] = []
        next_id = None if from_trade_id is None else from_trade_id + 1
        while True:
            params: dict[str, Any] = {"symbol": symbol, "limit": TRADES_PAGE}
            if next_id is not None:
                params["fromId"] = next_id
            rows = _rows(await self.governor.request("get", "userTrades", params))
            for row in rows:
                order_id = self._parsed(trade_order_id, row)
                client_id = await self._client_order_id(symbol, order_id)
                fills.append(self._parsed(parse_trade, row, client_id))
            if len(rows) < TRADES_PAGE:
                break
            next_id = max(f.trade_id for f in fills) + 1
        fills.sort(key=lambda f: f.trade_id)
        return fills

    async def _client_order_id(self, symbol: str, order_id: int) -> str:
        known = self._client_ids.get(order_id)
        if known is not None:
            return known
        row = await self.governor.request("get", "order", {"symbol": symbol, "orderId": order_id})
        order = self._parsed(parse_order, row)
        self._client_ids[order_id] = order.client_order_id
        return order.client_order_id

    async def income_since(self, start_ms: int) -> list[IncomeFact]:
        rows: list[IncomeFact] = []
        page = 1
        while True:
            batch = _rows(
                await self.governor.request(
                    "get", "income", {"startTime": start_ms, "limit": INCOME_PAGE, "page": page}
                )
            )
            rows.extend(self._parsed(parse_income, row) for row in batch)
            if len(batch) < INCOME_PAGE:
                return rows
            page += 1

    # ---- spot -----------------------------------------------------------------------------
    async def spot_balance(self, asset: str) -> Decimal:
        if not self.has_spot:
            raise ExchangeUnavailable("this mode has no spot account")
        account = await self.governor.request("get", "account", api="spot", version=3)
        for row in account.get("balances", []) if isinstance(account, dict) else []:
            if row.get("asset") == asset:
                return Decimal(str(row.get("free", "0")))
        return Decimal(0)

    async def transfer_to_futures(self, asset: str, amount: Decimal) -> int:
        if not self.has_spot:
            raise ExchangeUnavailable("this mode has no spot account to transfer from")
        row = await self.governor.request(
            "post",
            "asset/transfer",
            {"type": "MAIN_UMFUTURE", "asset": asset, "amount": _decimal(amount)},
            api="margin",
            idempotent=False,
        )
        return int(row["tranId"])

    # ---- helpers --------------------------------------------------------------------------
    def _parsed(self, parse: Callable[..., T], *args: Any) -> T:
        """A malformed success body: the request may have done something, we cannot tell."""
        try:
            return parse(*args)
        except MalformedMessage as exc:
            self.governor.metrics.inc("malformed_messages")
            log.error("malformed REST answer", error=str(exc), raw=repr(args[0])[:500])
            raise UnknownOutcome(f"malformed answer: {exc}") from exc


def _rows(answer: Any) -> list[Any]:
    if not isinstance(answer, list):
        raise UnknownOutcome(f"expected a list, got {type(answer).__name__}")
    return answer
