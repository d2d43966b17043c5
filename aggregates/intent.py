"""An order the engine means to send: recorded (write-ahead) before it leaves for the exchange."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal


@dataclass(frozen=True)
class OrderIntent:
    client_order_id: str
    is_algo: bool
    symbol: str
    side: str
    order_type: str
    quantity: Decimal
    price: Decimal = Decimal(0)
    stop_price: Decimal = Decimal(0)
    reduce_only: bool = False
    close_position: bool = False
    time_in_force: str = "GTC"
    working_type: str = "CONTRACT_PRICE"
