"""The risk guard: sizes entries and refuses what would break a limit, always with a reason.

Limits (runtime config `risk`): max risk per trade (the fraction of equity lost if the stop is
hit — this sizes the order), the daily loss limit (realized + unrealized since 00:00 UTC; a
breach pauses the engine), max leverage, max position notional and an order-rate cap.
"""

from __future__ import annotations

import time
from collections import deque
from dataclasses import dataclass
from decimal import Decimal

import structlog

from aggregates.market import SymbolRules
from alphaengine.runtime_config import RiskConfig

log = structlog.get_logger(__name__)


@dataclass(frozen=True)
class Exposure:
    """What the guard needs to know of the account at the moment of a check."""

    wallet_balance: Decimal
    position_quantity: Decimal
    entry_price: Decimal
    mark_price: Decimal
    leverage: int
    # Realized PnL net of fees of today's fills (UTC day of the exchange clock), from the
    # Account aggregate: the event store, never a table a replay may be rebuilding.
    realized_today: Decimal = Decimal(0)

    @property
    def unrealized_pnl(self) -> Decimal:
        return (self.mark_price - self.entry_price) * self.position_quantity

    @property
    def equity(self) -> Decimal:
        return self.wallet_balance + self.unrealized_pnl


class RiskRejected(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class RiskGuard:
    def __init__(self, config: RiskConfig, rules: SymbolRules) -> None:
        self.config = config
        self.rules = rules
        self.mark_price: Decimal | None = None
        self._sent: deque[float] = deque()

    # ---- inputs ---------------------------------------------------------------------------
    def on_mark(self, price: Decimal) -> None:
        self.mark_price = price

    def order_sent(self) -> None:
        self._sent.append(time.monotonic())

    def orders_last_minute(self) -> int:
        cutoff = time.monotonic() - 60
        while self._sent and self._sent[0] < cutoff:
            self._sent.popleft()
        return len(self._sent)

    # ---- checks ---------------------------------------------------------------------------
    def daily_loss_breach(self, exposure: Exposure) -> str | None:
        """A reason when today's loss (realized + unrealized) exceeds the limit, else None."""
        pnl = exposure.realized_today + exposure.unrealized_pnl
        limit = exposure.equity * self.config.daily_loss_limit
        if pnl < 0 and -pnl >= limit:
            return (
                f"daily loss limit: today's PnL {pnl:.2f} exceeds "
                f"{self.config.daily_loss_limit} of equity ({limit:.2f})"
            )
        return None

    def check_rate(self) -> None:
        if self.orders_last_minute() >= self.config.max_orders_per_minute:
            raise RiskRejected(
                f"order rate cap: {self.config.max_orders_per_minute} orders in the last minute"
            )

    def check_leverage(self, leverage: int) -> None:
        if leverage > self.config.max_leverage:
            raise RiskRejected(f"leverage {leverage} above max_leverage {self.config.max_leverage}")

    def size_entry(
        self,
        exposure: Exposure,
        entry_price: Decimal,
        stop_price: Decimal,
        quantity: Decimal | None,
    ) -> Decimal:
        """The quantity for a new entry, or RiskRejected with the reason."""
        self.check_rate()
        if entry_price <= 0:
            raise RiskRejected("no market price yet to size the order")
        if exposure.equity <= 0:
            raise RiskRejected(f"equity {exposure.equity} is not positive")
        if quantity is None:
            if stop_price <= 0:
                raise RiskRejected("an entry needs a stop price to be sized")
            distance = abs(entry_price - stop_price)
            if distance == 0:
                raise RiskRejected("stop price equals the entry price")
            quantity = exposure.equity * self.config.max_risk_per_trade / distance
        elif stop_price > 0:
            risk = quantity * abs(entry_price - stop_price)
            allowed = exposure.equity * self.config.max_risk_per_trade
            if risk > allowed:
                raise RiskRejected(f"risk {risk:.2f} above max_risk_per_trade ({allowed:.2f})")
        # Cap by notional and by the leverage the account may use.
        cap_notional = min(
            self.config.max_position_notional - abs(exposure.position_quantity) * entry_price,
            exposure.equity * min(exposure.leverage, self.config.max_leverage),
        )
        quantity = min(quantity, cap_notional / entry_price if cap_notional > 0 else Decimal(0))
        quantity = self.rules.round_quantity(quantity)
        if quantity < self.rules.min_quantity or quantity * entry_price < self.rules.min_notional:
            raise RiskRejected(
                f"sized quantity {quantity} is below the exchange minimum "
                f"(min qty {self.rules.min_quantity}, min notional {self.rules.min_notional})"
            )
        return quantity

    def check_notional(self, exposure: Exposure, quantity: Decimal, price: Decimal) -> None:
        notional = (abs(exposure.position_quantity) + quantity) * price
        if notional > self.config.max_position_notional:
            raise RiskRejected(
                f"position notional {notional:.2f} above max_position_notional "
                f"{self.config.max_position_notional}"
            )
