"""What a strategy reads of the account, as values any thread may read.

The bot's store thread changes its cached aggregates in place (alphaengine/trading.py), so no
other thread may read them. After every save that touches the Engine, the Position or the
Account, the sole writer publishes an `AccountView` of them: a frozen value swapped in by one
reference assignment. The strategy thread builds a decision's context from the latest view
without a hop to the store thread, which was the slowest step between a closed candle and its
order (bench/latency.py). The planner still reads the aggregates themselves, on the store
thread, in order with every save before it: what trades is checked against the store, not
against a view.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from decimal import Decimal
from types import MappingProxyType
from typing import Any

from aggregates.account import Account
from aggregates.engine import Engine
from aggregates.position import Position


@dataclass(frozen=True)
class AccountView:
    engine_mode: str
    strategy_disabled: bool
    # A copy taken when published, read-only: a reader copies it again before changing it.
    strategy_state: MappingProxyType[str, Any]
    position_quantity: Decimal
    entry_price: Decimal
    wallet_balance: Decimal

    @classmethod
    def of(
        cls,
        engine: Engine,
        position: Position,
        account: Account,
        *,
        previous: AccountView | None = None,
        engine_changed: bool = True,
    ) -> AccountView:
        if previous is not None and not engine_changed:
            state = previous.strategy_state
        else:
            state = MappingProxyType(copy.deepcopy(engine.strategy_state))
        return cls(
            engine_mode=engine.mode,
            strategy_disabled=engine.strategy_disabled,
            strategy_state=state,
            position_quantity=position.quantity,
            entry_price=position.entry_price,
            wallet_balance=account.wallet_balance("USDT"),
        )
