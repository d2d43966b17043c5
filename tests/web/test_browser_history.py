"""The history screens in Chromium over a recorded history: closed trades and performance, the
order history's filters, the event log's filters and search, time travel, and the config's
versions, diff, rollback and load error."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, time, timedelta
from typing import TYPE_CHECKING

import pytest

from aggregates import ids
from aggregates.envelope import Source
from alphaengine.runtime_config import sync_config_table
from alphaengine.store import make_engine
from tests.web.browser_session import (
    BROWSER_TEST_MARKS,
    PHONE,
    Desk,
    clock,
    desk_for_module,
    figure,
    shoot,
)

if TYPE_CHECKING:
    from playwright.sync_api import Locator, Page

pytestmark = BROWSER_TEST_MARKS


@pytest.fixture(scope="module")
def d(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Desk]:
    with desk_for_module(tmp_path_factory, "history") as running:
        yield running


def cells(row: Locator, label: str) -> Locator:
    return row.locator(f'td[data-label="{label}"]')


def kpi(page: Page, name: str) -> Locator:
    return page.locator(f'[data-figure="{name}"]')


def test_closed_trades_and_performance(d: Desk) -> None:
    from playwright.sync_api import expect

    e = d.world.expected
    page = d.page(view="trades")
    rows = page.locator("#trades-table tbody tr")
    expect(rows).to_have_count(3)
    # Newest first: C (long 0.005), B (short 0.020), A (long 0.010).
    wanted = [
        (e.trades[2], "10 min 5 s", "+1.00", "+0.76"),
        (e.trades[1], "10 min", "-4.00", "-4.98"),
        (e.trades[0], "30 min", "+5.00", "+4.52"),
    ]
    for row, (trade, lasted, realized, net) in zip(rows.all(), wanted, strict=True):
        expect(cells(row, "Opened (UTC)")).to_have_text(clock(trade.opened_at))
        expect(cells(row, "Closed (UTC)")).to_have_text(clock(trade.closed_at))
        expect(cells(row, "Side")).to_have_text(trade.side)
        expect(cells(row, "Size")).to_have_text(trade.quantity)
        expect(cells(row, "Entry")).to_have_text(trade.entry)
        expect(cells(row, "Exit")).to_have_text(trade.exit)
        expect(cells(row, "Fees")).to_have_text(trade.fees)
        expect(cells(row, "Realized")).to_have_text(realized)
        expect(cells(row, "Net PnL")).to_have_text(net)
        expect(cells(row, "Duration")).to_have_text(lasted)

    # Whole run, from the nets +4.52, −4.98, +0.76 in closing order.
    expect(kpi(page, "all.total_pnl")).to_have_text("+0.30")
    expect(kpi(page, "all.win_rate")).to_have_text("66.7 %")  # 2 of 3
    expect(kpi(page, "all.profit_factor")).to_have_text("1.06")  # 5.28 / 4.98
    expect(kpi(page, "all.max_drawdown")).to_have_text("4.98")  # peak 4.52 → −0.46
    expect(kpi(page, "all.trades_per_day")).to_have_text("1.50")  # 3 trades over 2 days
    expect(kpi(page, "all.trades")).to_have_text("3 (2 / 1)")
    expect(kpi(page, "all.fees")).to_have_text("1.70")
    expect(kpi(page, "all.best_trade")).to_have_text("+4.52")
    expect(kpi(page, "all.worst_trade")).to_have_text("-4.98")
    # Today (UTC day of exchange time): trade C, unless this runs in the day's first 40 minutes.
    midnight = datetime.combine(datetime.now(UTC).date(), time(0), tzinfo=UTC)
    if e.trades[2].closed_at >= midnight:
        expect(kpi(page, "today.total_pnl")).to_have_text("+0.76")
        expect(kpi(page, "today.win_rate")).to_have_text("100.0 %")
        expect(kpi(page, "today.profit_factor")).to_have_text("—")  # no loss to divide by
        expect(kpi(page, "today.max_drawdown")).to_have_text("0.00")
        expect(kpi(page, "today.trades")).to_have_text("1 (1 / 0)")
    else:
        expect(kpi(page, "today.trades")).to_have_text("0 (0 / 0)")
    expect(page.locator("#perf-today-title")).to_have_text("Today (UTC, exchange time)")
    shoot(page, "trades-light-desktop")
    page.context.close()


def client_ids(page: Page) -> list[str]:
    return page.locator('#orders-table td[data-label="Client id"]').all_inner_texts()


def test_order_history_filters(d: Desk) -> None:
    from playwright.sync_api import expect

    e = d.world.expected
    page = d.page(view="orders")
    ids_shown = page.locator('#orders-table td[data-label="Client id"]')
    expect(ids_shown).to_have_count(11)  # 10 placed by the engine, 1 by hand
    page.select_option("#of-open", "true")
    expect(ids_shown).to_have_count(3)
    assert sorted(client_ids(page)) == sorted([e.open_stop, e.open_limit, e.external])
    expect(page.locator("#orders-table [data-cancel]")).to_have_count(3)
    page.select_option("#of-origin", "EXTERNAL")
    expect(ids_shown).to_have_count(1)
    expect(ids_shown).to_have_text(["manual-1"])
    page.select_option("#of-origin", "")
    page.select_option("#of-open", "")
    page.select_option("#of-status", "CANCELED")
    expect(ids_shown).to_have_count(1)
    expect(page.locator('#orders-table td[data-label="Price"]')).to_have_text(["59,000.00"])
    page.select_option("#of-status", "")
    page.select_option("#of-side", "SELL")
    page.select_option("#of-type", "MARKET")
    # a-close, b-open, c-close
    expect(page.locator('#orders-table td[data-label="Avg price"]')).to_have_text(
        ["60,300.00", "61,000.00", "60,500.00"]
    )
    shoot(page, "orders-light-desktop")
    page.context.close()


def test_event_log_filters_and_search(d: Desk) -> None:
    from playwright.sync_api import expect

    page = d.page(view="events")
    types = page.locator("#events .type")
    expect(types.first).to_be_visible()
    page.fill("#ef-type", "Account.BalanceReported")
    expect(types).to_have_count(5)  # the opening snapshot and one after each trade
    page.fill("#ef-type", "")
    page.select_option("#ef-source", "RECONCILER")
    # The leverage read, and the order placed by hand (adopted, then its status).
    expect(types).to_have_text(["Order.StatusReported", "Order.Placed", "Position.LeverageChanged"])
    page.select_option("#ef-source", "")
    trading = d.world.trading()
    try:
        command = str(ids.command_id(trading.scope, "d-open"))
    finally:
        trading.close()
    page.fill("#ef-command", command[:8])
    expect(page.locator("#events-error")).to_contain_text("A command id is a UUID")
    page.fill("#ef-command", command)
    expect(types).to_have_text(
        [
            "Command.Succeeded",
            "Order.Placed",
            "Command.Dispatched",
            "Command.Accepted",
            "Command.Submitted",
        ]
    )
    page.fill("#ef-command", "")
    page.fill("#ef-q", "manual-1")
    expect(types).to_have_text(["Order.Placed"])
    expect(page.locator("#events .data")).to_contain_text("client_order_id=manual-1")
    page.fill("#ef-q", "")
    page.fill("#ef-type", "Position")  # a bare aggregate name: all of its events
    expect(types).to_have_count(10)  # opened, 8 fills applied, leverage
    shoot(page, "events-light-desktop")
    page.context.close()


def test_time_travel_to_an_event_and_to_a_moment(d: Desk) -> None:
    from playwright.sync_api import expect

    chapters = d.world.expected.chapters
    opened, state = chapters[1]  # right after trade A opened
    page = d.page(view=f"travel?event={opened}")
    expect(page.locator("#travel-summary")).to_have_text(
        re.compile(
            rf"^The account right after event #{opened} \(\d{{4}}-.* UTC, exchange time\)\.$"
        )
    )
    expect(figure(page, "#travel-result", "Side")).to_have_text(state["side"])
    expect(figure(page, "#travel-result", "Size")).to_have_text(state["quantity"])
    expect(figure(page, "#travel-result", "Entry")).to_have_text(state["entry"])
    expect(page.locator('#tt-balances td[data-label="Wallet"]')).to_have_text([state["wallet"]])
    expect(page.locator("#tt-orders tbody tr")).to_have_text(["No open orders then"])
    expect(page.locator("#travel-events li.highlight")).to_have_attribute("data-id", str(opened))
    expect(page.locator("#travel-events li")).not_to_have_count(1)
    shoot(page, "travel-light-desktop")

    # One event back is still before the order's status report: the same position.
    page.click("#travel-prev")
    expect(page.locator("#travel-summary")).to_contain_text(f"right after event #{opened - 1}")

    # The latest event: the long open, with its stop, its take-profit and the order by hand.
    last = d.api("/api/events", limit=1)["items"][0]["notification_id"]
    page.fill("#travel-event", str(last))
    page.click("#travel-go")
    expect(figure(page, "#travel-result", "Entry")).to_have_text(chapters[-1][1]["entry"])
    expect(page.locator('#tt-orders td[data-label="Type"]')).to_have_text(
        ["STOP_MARKET", "LIMIT", "LIMIT"]
    )

    # A moment: the last event at or before it (event times are kept to the microsecond, the
    # field takes milliseconds, so the moment is the event's time rounded up to the next one).
    events = d.api("/api/events", after=str(opened - 1), limit=20)["items"]
    at = datetime.fromisoformat(
        next(e for e in events if e["notification_id"] == opened)["timestamp"]
    )
    moment = at.replace(microsecond=0) + timedelta(microseconds=-(-at.microsecond // 1000) * 1000)
    expected_id = max(
        e["notification_id"] for e in events if datetime.fromisoformat(e["timestamp"]) <= moment
    )
    page.fill("#travel-time", moment.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3])
    page.click("#travel-go")
    expect(page.locator("#travel-summary")).to_contain_text(
        f"Last event at or before {moment.strftime('%Y-%m-%d %H:%M:%S.%f')[:-3]} UTC: "
        f"the account right after event #{expected_id}"
    )
    expect(figure(page, "#travel-result", "Entry")).to_have_text(state["entry"])

    first = datetime.fromisoformat(events[0]["timestamp"]) - timedelta(days=1)
    page.fill("#travel-time", "2026-13-01 10:00")
    page.click("#travel-go")
    expect(page.locator("#travel-error")).to_contain_text("is not a moment")
    page.fill("#travel-time", first.strftime("%Y-%m-%d %H:%M"))
    page.click("#travel-go")
    expect(page.locator("#travel-summary")).to_contain_text("nothing had happened yet")
    page.context.close()


def test_config_history_diff_and_rollback(d: Desk) -> None:
    from playwright.sync_api import expect

    page = d.page(view="config")
    rows = page.locator("#config-history tbody tr")
    expect(rows.locator('td[data-label="Version"]')).to_have_text(["v3", "v2", "v1"])
    expect(rows.locator('td[data-label="By"]')).to_have_text(["bob", "alice", "init"])
    expect(rows.locator('td[data-label="Changed keys"]')).to_have_text(
        ["risk.daily_loss_limit, strategy.params.fast", "risk.max_leverage", "—"]
    )
    diff = page.locator("#config-diff li")
    expect(diff).to_have_text(
        ['risk.daily_loss_limit: "0.05"->"0.03"', "strategy.params.fast: 5->8"]
    )
    page.select_option("#diff-from", "1")
    expect(page.locator("#diff-summary")).to_have_text("3 changes from v1 to v3")
    expect(diff).to_have_count(3)

    page.click('[data-rollback="1"]')
    expect(page.locator("#confirm-title")).to_have_text("Roll the config back to v1?")
    expect(page.locator("#confirm-extra li")).to_have_text(
        [
            'risk.daily_loss_limit: "0.03"->"0.05"',
            "risk.max_leverage: 20->10",
            "strategy.params.fast: 8->5",
        ]
    )
    expect(page.locator("#confirm-sent")).to_have_text('{\n  "version": 3,\n  "to_version": 1\n}')
    shoot(page, "config-rollback-light-desktop", full_page=False)
    page.click("#confirm-ok")
    expect(page.locator("#config-status")).to_have_text("Rolled back: now version 4.")
    expect(rows.locator('td[data-label="Change"]').first).to_have_text("rolled back to v1")
    expect(rows.locator('td[data-label="By"]').first).to_have_text("admin")
    expect(page.locator("#config-version")).to_have_text("version 4")
    assert '"max_leverage": 10' in page.input_value("#config-editor")
    page.context.close()


def test_a_config_that_cannot_load_is_shown_prominently(d: Desk) -> None:
    from playwright.sync_api import expect

    # Saved while a strategy of that name existed; it no longer does.
    trading = d.world.trading()
    engine = make_engine(d.world.settings.database_url)
    try:
        latest = d.api("/api/config")
        body = {**latest["config"], "strategy": {**latest["config"]["strategy"], "name": "gone"}}
        trading.change_runtime_config(
            body, expected_version=latest["version"], by="carol", env=trading.envelope(Source.WEB)
        )
        sync_config_table(trading, engine)
    finally:
        trading.close()
        engine.dispose()
    page = d.page(view="config", size=PHONE, theme="dark")
    banner = page.locator("#config-error")
    expect(banner).to_be_visible()
    expect(banner).to_contain_text("cannot be loaded, so the bot refuses to trade")
    expect(banner).to_contain_text("strategy.name")
    assert page.evaluate("document.scrollingElement.scrollWidth") <= PHONE["width"]
    shoot(page, "config-error-dark-phone")
    # Every section says so, not only the config's.
    page.click('nav a[data-view="desk"]')
    expect(page.locator("#config-banner")).to_contain_text(
        f"Config version {latest['version'] + 1} cannot be loaded: the bot refuses to trade."
    )
    page.context.close()
