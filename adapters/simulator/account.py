"""One futures account in single-asset (USDT) mode: wallet, one-way position, margin, income."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal

from .config import SimulatorConfig
from .decimals import ZERO, fixed, plain, round8
from .orders import Order
from .symbols import max_notional_for


@dataclass
class Position:
    """One-way (positionSide BOTH) netting (docs/exchange-rules.md, "Position netting")."""

    amount: Decimal = ZERO
    entry: Decimal = ZERO
    # Fees paid to open what is still held; the break-even price spreads them over the amount.
    open_fees: Decimal = ZERO
    realized: Decimal = ZERO
    update_time: int = 0

    @property
    def break_even(self) -> Decimal:
        if not self.amount:
            return ZERO
        return self.entry + self.open_fees / self.amount

    def apply_fill(self, signed_qty: Decimal, price: Decimal, fee: Decimal) -> Decimal:
        """Net a fill of ``signed_qty`` (+buy/-sell) at ``price``; returns the realized PnL."""
        pa = self.amount
        if pa == 0 or (pa > 0) == (signed_qty > 0):
            size = abs(pa) + abs(signed_qty)
            self.entry = round8((abs(pa) * self.entry + abs(signed_qty) * price) / size)
            self.amount = pa + signed_qty
            self.open_fees += fee
            return ZERO
        closing = min(abs(signed_qty), abs(pa))
        direction = Decimal(1) if pa > 0 else Decimal(-1)
        rp = round8((price - self.entry) * closing * direction)
        self.realized += rp
        fee_share = fee * closing / abs(signed_qty)
        remaining = abs(pa) - closing
        self.open_fees = self.open_fees * remaining / abs(pa) if remaining else ZERO
        self.amount = pa + signed_qty
        if self.amount == 0:
            self.entry = ZERO
        elif abs(signed_qty) > abs(pa):
            # Flip: the rest opens a new position at the fill price.
            self.entry = price
            self.open_fees = fee - fee_share
        return rp

    def unrealized(self, mark: Decimal) -> Decimal:
        return (mark - self.entry) * self.amount if self.amount else ZERO


@dataclass
class Account:
    config: SimulatorConfig
    wallet: Decimal
    spot_free: Decimal
    position: Position = field(default_factory=Position)
    leverage: int = 20
    margin_type: str = "CROSSED"
    dual_side: bool = False
    update_time: int = 0
    income: list[dict[str, object]] = field(default_factory=list)
    next_tran_id: int = 9_689_322_001

    # ------------------------------------------------------------------ margin

    def position_im(self, mark: Decimal) -> Decimal:
        return abs(self.position.amount) * mark / self.leverage

    def maint_margin(self, mark: Decimal) -> Decimal:
        return abs(self.position.amount) * mark * self.config.rules.maint_margin_ratio

    def open_order_im(self, orders: Iterable[Order]) -> Decimal:
        """Margin held by resting orders; the part that would only reduce the position is free."""
        total = ZERO
        pa = self.position.amount
        for side in ("BUY", "SELL"):
            same = [o for o in orders if o.is_open and o.side == side and not o.reduce_only]
            qty = sum((o.remaining for o in same), ZERO)
            if not qty:
                continue
            notional = sum((o.remaining * o.price for o in same), ZERO)
            free = max(ZERO, -pa) if side == "BUY" else max(ZERO, pa)
            total += notional * max(ZERO, qty - free) / qty / self.leverage
        return total

    def initial_margin(self, mark: Decimal, orders: Iterable[Order]) -> Decimal:
        return self.position_im(mark) + self.open_order_im(orders)

    def margin_balance(self, mark: Decimal) -> Decimal:
        return self.wallet + self.position.unrealized(mark)

    def available(self, mark: Decimal, orders: Iterable[Order]) -> Decimal:
        return self.margin_balance(mark) - self.initial_margin(mark, orders)

    def increasing_qty(self, side: str, qty: Decimal) -> Decimal:
        pa = self.position.amount
        opposite = max(ZERO, -pa) if side == "BUY" else max(ZERO, pa)
        return max(ZERO, qty - opposite)

    def _liquidation_text(self, mark: Decimal) -> str:
        price = self.liquidation_price(mark)
        return plain(price) if price > 0 else "0"

    def liquidation_price(self, mark: Decimal) -> Decimal:
        pa = self.position.amount
        if not pa:
            return ZERO
        mmr = self.config.rules.maint_margin_ratio
        factor = (1 - mmr) if pa > 0 else (1 + mmr)
        price = (self.position.entry * pa - self.wallet) / (pa * factor)
        return max(ZERO, price)

    # ------------------------------------------------------------------ ledger

    def book_income(
        self, kind: str, amount: Decimal, now_ms: int, symbol: str = "", trade_id: str = ""
    ) -> None:
        self.income.append(
            {
                "symbol": symbol,
                "incomeType": kind,
                "income": fixed(amount, 8),
                "asset": "USDT",
                "info": kind,
                "time": now_ms,
                "tranId": self.next_tran_id,
                "tradeId": trade_id,
            }
        )
        self.next_tran_id += 1

    # ------------------------------------------------------------------ views

    def balance_row(self, mark: Decimal, orders: list[Order], now_ms: int) -> dict[str, object]:
        up = self.position.unrealized(mark)
        available = self.available(mark, orders)
        return {
            "accountAlias": "SgsR",
            "asset": "USDT",
            "balance": fixed(self.wallet, 8),
            "crossWalletBalance": fixed(self.wallet, 8),
            "crossUnPnl": fixed(up, 8),
            "availableBalance": fixed(available, 8),
            "maxWithdrawAmount": fixed(max(ZERO, min(available, self.wallet)), 8),
            "marginAvailable": True,
            "updateTime": self.update_time or now_ms,
        }

    def _totals(self, mark: Decimal, orders: list[Order]) -> dict[str, object]:
        up = self.position.unrealized(mark)
        pos_im = self.position_im(mark)
        ord_im = self.open_order_im(orders)
        available = self.available(mark, orders)
        return {
            "totalInitialMargin": fixed(pos_im + ord_im, 8),
            "totalMaintMargin": fixed(self.maint_margin(mark), 8),
            "totalWalletBalance": fixed(self.wallet, 8),
            "totalUnrealizedProfit": fixed(up, 8),
            "totalMarginBalance": fixed(self.wallet + up, 8),
            "totalPositionInitialMargin": fixed(pos_im, 8),
            "totalOpenOrderInitialMargin": fixed(ord_im, 8),
            "totalCrossWalletBalance": fixed(self.wallet, 8),
            "totalCrossUnPnl": fixed(up, 8),
            "availableBalance": fixed(available, 8),
            "maxWithdrawAmount": fixed(max(ZERO, min(available, self.wallet)), 8),
        }

    def asset_row(self, mark: Decimal, orders: list[Order], v2: bool) -> dict[str, object]:
        up = self.position.unrealized(mark)
        pos_im = self.position_im(mark)
        ord_im = self.open_order_im(orders)
        available = self.available(mark, orders)
        row: dict[str, object] = {
            "asset": "USDT",
            "walletBalance": fixed(self.wallet, 8),
            "unrealizedProfit": fixed(up, 8),
            "marginBalance": fixed(self.wallet + up, 8),
            "maintMargin": fixed(self.maint_margin(mark), 8),
            "initialMargin": fixed(pos_im + ord_im, 8),
            "positionInitialMargin": fixed(pos_im, 8),
            "openOrderInitialMargin": fixed(ord_im, 8),
            "crossWalletBalance": fixed(self.wallet, 8),
            "crossUnPnl": fixed(up, 8),
            "availableBalance": fixed(available, 8),
            "maxWithdrawAmount": fixed(max(ZERO, min(available, self.wallet)), 8),
            "updateTime": self.update_time,
        }
        if v2:
            row["marginAvailable"] = True
        return row

    def account_v2(self, symbol: str, mark: Decimal, orders: list[Order]) -> dict[str, object]:
        pos = self.position
        pos_im = self.position_im(mark)
        ord_im = self.open_order_im(orders)
        return {
            "feeTier": 0,
            "feeBurn": False,
            "canTrade": True,
            "canDeposit": True,
            "canWithdraw": True,
            "updateTime": 0,
            "multiAssetsMargin": False,
            "tradeGroupId": -1,
            **self._totals(mark, orders),
            "assets": [self.asset_row(mark, orders, v2=True)],
            "positions": [
                {
                    "symbol": symbol,
                    "initialMargin": plain(pos_im + ord_im),
                    "maintMargin": plain(self.maint_margin(mark)),
                    "unrealizedProfit": fixed(pos.unrealized(mark), 8),
                    "positionInitialMargin": plain(pos_im),
                    "openOrderInitialMargin": plain(ord_im),
                    "leverage": str(self.leverage),
                    "isolated": self.margin_type == "ISOLATED",
                    "entryPrice": plain(pos.entry),
                    "breakEvenPrice": plain(pos.break_even),
                    "maxNotional": max_notional_for(self.leverage),
                    "bidNotional": "0",
                    "askNotional": "0",
                    "positionSide": "BOTH",
                    "positionAmt": fixed(pos.amount, self.config.rules.quantity_precision),
                    "updateTime": pos.update_time,
                }
            ],
        }

    def account_v3(self, symbol: str, mark: Decimal, orders: list[Order]) -> dict[str, object]:
        positions = []
        if self.position.amount or any(o.is_open for o in orders):
            row = self.position_v3(symbol, mark, orders)
            keys = (
                "symbol",
                "positionSide",
                "positionAmt",
                "isolatedMargin",
                "notional",
                "isolatedWallet",
                "initialMargin",
                "maintMargin",
                "updateTime",
            )
            positions.append(
                {k: row[k] for k in keys} | {"unrealizedProfit": row["unRealizedProfit"]}
            )
        return {
            **self._totals(mark, orders),
            "assets": [self.asset_row(mark, orders, v2=False)],
            "positions": positions,
        }

    def position_v2(self, symbol: str, mark: Decimal) -> dict[str, object]:
        pos = self.position
        return {
            "symbol": symbol,
            "positionAmt": fixed(pos.amount, self.config.rules.quantity_precision),
            "entryPrice": plain(pos.entry),
            "breakEvenPrice": plain(pos.break_even),
            "markPrice": fixed(mark, 8),
            "unRealizedProfit": fixed(pos.unrealized(mark), 8),
            "liquidationPrice": self._liquidation_text(mark),
            "leverage": str(self.leverage),
            "maxNotionalValue": max_notional_for(self.leverage),
            "marginType": "isolated" if self.margin_type == "ISOLATED" else "cross",
            "isolatedMargin": "0.00000000",
            "isAutoAddMargin": "false",
            "positionSide": "BOTH",
            "notional": fixed(pos.amount * mark, 8),
            "isolatedWallet": "0",
            "updateTime": pos.update_time,
        }

    def position_v3(self, symbol: str, mark: Decimal, orders: list[Order]) -> dict[str, object]:
        pos = self.position
        pos_im = self.position_im(mark)
        ord_im = self.open_order_im(orders)
        return {
            "symbol": symbol,
            "positionSide": "BOTH",
            "positionAmt": fixed(pos.amount, self.config.rules.quantity_precision),
            "entryPrice": plain(pos.entry),
            "breakEvenPrice": plain(pos.break_even),
            "markPrice": fixed(mark, 8),
            "unRealizedProfit": fixed(pos.unrealized(mark), 8),
            "liquidationPrice": self._liquidation_text(mark),
            "isolatedMargin": "0",
            "notional": fixed(pos.amount * mark, 8),
            "marginAsset": "USDT",
            "isolatedWallet": "0",
            "initialMargin": fixed(pos_im + ord_im, 8),
            "maintMargin": fixed(self.maint_margin(mark), 8),
            "positionInitialMargin": fixed(pos_im, 8),
            "openOrderInitialMargin": fixed(ord_im, 8),
            "adl": 0,
            "bidNotional": "0",
            "askNotional": "0",
            "updateTime": pos.update_time,
        }

    # ------------------------------------------------------------------ stream payloads

    def balance_event_row(self, change: Decimal = ZERO) -> dict[str, object]:
        return {
            "a": "USDT",
            "wb": fixed(self.wallet, 8),
            "cw": fixed(self.wallet, 8),
            "bc": fixed(change, 8) if change else "0",
        }

    def position_event_row(self, symbol: str, mark: Decimal) -> dict[str, object]:
        pos = self.position
        return {
            "s": symbol,
            "pa": fixed(pos.amount, self.config.rules.quantity_precision),
            "ep": plain(pos.entry),
            "cr": fixed(pos.realized, 8),
            "up": fixed(pos.unrealized(mark), 8),
            "mt": "isolated" if self.margin_type == "ISOLATED" else "cross",
            "iw": "0",
            "ps": "BOTH",
            "ma": "USDT",
            "bep": plain(pos.break_even),
        }
