"""The risk guard's arithmetic: sizing from the stop, caps, limits — all in Decimal."""

from __future__ import annotations

from decimal import Decimal

import pytest

from aggregates.market import SymbolRules
from aggregates.payloads import BadPayload, PlaceOrder, parse_payload
from alphaengine.runtime_config import RiskConfig
from processes.intents import entry_intents
from processes.risk import Exposure, RiskGuard, RiskRejected


def guard(**limits: object) -> RiskGuard:
    return RiskGuard(RiskConfig.model_validate(limits), SymbolRules())


def flat(wallet: str = "10000", mark: str = "60000") -> Exposure:
    return Exposure(Decimal(wallet), Decimal(0), Decimal(0), Decimal(mark), leverage=5)


def test_entry_is_sized_so_the_stop_loses_max_risk_per_trade() -> None:
    # 1% of 10,000 = 100 USDT at risk; the stop is 600 away: 0.166 BTC (rounded down to the step)
    quantity = guard().size_entry(flat(), Decimal(60000), Decimal(59400), None)
    assert quantity == Decimal("0.166")
    assert quantity * Decimal(600) <= Decimal(100)


def test_size_is_capped_by_leverage_and_notional() -> None:
    # A tight stop would ask for 10 BTC; equity x min(leverage 5, max 10) caps it at 50,000 USDT
    quantity = guard(max_position_notional="1000000").size_entry(
        flat(), Decimal(60000), Decimal(59990), None
    )
    assert quantity == Decimal("0.833")
    capped = guard(max_position_notional="6000").size_entry(
        flat(), Decimal(60000), Decimal(59990), None
    )
    assert capped == Decimal("0.100")


def test_explicit_quantity_risking_too_much_is_rejected_with_reason() -> None:
    with pytest.raises(RiskRejected, match="max_risk_per_trade"):
        guard().size_entry(flat(), Decimal(60000), Decimal(59000), Decimal("1"))


def test_too_small_an_order_is_rejected() -> None:
    with pytest.raises(RiskRejected, match="below the exchange minimum"):
        guard().size_entry(flat(wallet="10"), Decimal(60000), Decimal(59400), None)


def test_order_rate_cap() -> None:
    risk = guard(max_orders_per_minute=2)
    risk.order_sent()
    risk.order_sent()
    with pytest.raises(RiskRejected, match="order rate cap"):
        risk.check_rate()


def test_daily_loss_counts_unrealized() -> None:
    risk = guard(daily_loss_limit="0.01")
    long = Exposure(Decimal(10000), Decimal("1"), Decimal(60000), Decimal(59800), leverage=5)
    assert risk.daily_loss_breach(long) is not None
    small = Exposure(Decimal(10000), Decimal("0.1"), Decimal(60000), Decimal(59800), leverage=5)
    assert risk.daily_loss_breach(small) is None


def test_leverage_limit() -> None:
    with pytest.raises(RiskRejected, match="max_leverage"):
        guard(max_leverage=3).check_leverage(4)


def test_entry_legs_use_the_algo_api_with_rounded_triggers() -> None:
    from uuid import uuid4

    order = parse_payload(
        "PLACE_ORDER",
        {"side": "SELL", "type": "MARKET", "stop_price": "60300.5", "take_profit_price": "59000"},
    )
    assert isinstance(order, PlaceOrder)
    intents = entry_intents(uuid4(), "BTCUSDT", order, Decimal("0.010"))
    assert [(i.order_type, i.is_algo, i.side) for i in intents] == [
        ("MARKET", False, "SELL"),
        ("STOP_MARKET", True, "BUY"),
        ("TAKE_PROFIT_MARKET", True, "BUY"),
    ]
    assert all(len(i.client_order_id) <= 36 for i in intents)
    assert intents[1].close_position and intents[1].stop_price == Decimal("60300.5")


def test_bad_payload_names_the_field() -> None:
    with pytest.raises(BadPayload, match="quantity"):
        parse_payload("PLACE_ORDER", {"side": "BUY", "quantity": "-1"})
