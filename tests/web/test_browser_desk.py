"""The desk in Chromium: position, money, open orders and fills of a recorded history, fills on
the candles that hold them, a confirmed cancel, the order ticket and leverage, live updates."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, time
from decimal import Decimal
from typing import TYPE_CHECKING

import httpx
import pytest

from aggregates.envelope import Source
from aggregates.facts import BalanceFact
from tests.web.browser_session import (
    BROWSER_TEST_MARKS,
    CHARTS_INSTALLED,
    PHONE,
    Desk,
    clock,
    desk_for_module,
    figure,
    shoot,
)

if TYPE_CHECKING:
    pass

pytestmark = BROWSER_TEST_MARKS


@pytest.fixture(scope="module")
def d(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Desk]:
    with desk_for_module(tmp_path_factory, "desk") as running:
        yield running


def money(value: Decimal) -> str:
    text = f"{value:,.2f}"
    return f"+{text}" if value > 0 else text


def test_desk_shows_the_recorded_account_in_exchange_time(d: Desk) -> None:
    from playwright.sync_api import expect

    e = d.world.expected
    page = d.page()
    expect(page.locator("#time-zone")).to_have_text("UTC, exchange time")
    expect(page.locator("#pos-side")).to_have_text("LONG")
    expect(page.locator("#pos-qty")).to_have_text("0.01")
    expect(page.locator("#pos-entry")).to_have_text("60,230.00")  # (0.004×60200 + 0.006×60250)/0.01
    expect(page.locator("#pos-mark")).to_have_text("60,450.00")
    expect(page.locator("#pos-upnl")).to_have_text("+2.20")  # (60450 − 60230) × 0.010
    expect(page.locator("#pos-lev")).to_have_text("5×")
    expect(page.locator("#bal-wallet")).to_have_text("10,000.06 USDT")
    expect(page.locator("#bal-available")).to_have_text("9,800.00")
    expect(page.locator("#bal-equity")).to_have_text("10,002.26")  # wallet + unrealized
    # Today (UTC): realized minus fees of the fills since midnight, plus unrealized.
    midnight = datetime.combine(datetime.now(UTC).date(), time(0), tzinfo=UTC)
    today = [(pnl, fee) for at, pnl, fee in e.fills if at >= midnight]
    today_pnl = sum((p - f for p, f in today), Decimal(0)) + Decimal("2.20")
    expect(page.locator("#pnl-today")).to_have_text(money(today_pnl))
    expect(page.locator("#alarms")).to_contain_text("stale_market_stream: no candle for 3 minutes")

    # Open orders: the algo stop, the take-profit limit and the order placed by hand.
    rows = page.locator("#open-orders tbody tr")
    expect(rows).to_have_count(3)
    stop = page.locator("#open-orders tr", has=page.locator(f'[data-cancel="{e.open_stop}"]'))
    expect(stop.locator('td[data-label="Type"]')).to_have_text("STOP_MARKET")
    expect(stop.locator('td[data-label="Stop"]')).to_have_text("59,500.00")
    external = page.locator("#open-orders tr", has=page.locator('[data-cancel="manual-1"]'))
    expect(external.locator('td[data-label="Price"]')).to_have_text("58,000.00")

    # Fills, newest first, at the exchange's times.
    newest = page.locator("#fills tbody tr").first
    expect(newest.locator('td[data-label="Time (UTC)"]')).to_have_text(clock(e.fills[-1][0]))
    expect(newest.locator('td[data-label="Qty"]')).to_have_text("0.006")
    expect(newest.locator('td[data-label="Price"]')).to_have_text("60,250.00")
    expect(page.locator("#fills tbody tr")).to_have_count(len(e.fills))

    if CHARTS_INSTALLED:
        # Each fill sits on the candle whose minute holds it; the older ones are not drawn.
        markers = page.locator("#chart-markers li")
        expect(markers).to_have_count(len(e.marked))
        placed = {
            item.get_attribute("data-fill-time"): item.get_attribute("data-candle")
            for item in markers.all()
        }
        assert placed == {
            fill_time: candle.strftime("%Y-%m-%dT%H:%M:%S.000Z")
            for fill_time, candle in e.marked.items()
        }
        expect(page.locator("#chart-caption")).to_have_text(
            f"{len(e.marked)} fills marked · times in UTC, exchange time"
        )
        expect(page.locator("#price-chart canvas").first).to_be_visible()
    shoot(page, "desk-light-desktop")
    page.context.close()


def test_the_pages_run_under_a_policy_of_their_own_origin_only(d: Desk) -> None:
    # Scripts and styles from this origin only: no inline script or style, no CDN. The module's
    # fixture fails on any refusal the browser reports (a CSP violation is a console error).
    for path in ("/dashboard", "/login"):
        policy = httpx.get(f"{d.url}{path}", timeout=5).headers["content-security-policy"]
        assert "script-src 'self';" in policy and "style-src 'self';" in policy
        assert "unsafe-inline" not in policy and "http" not in policy


def test_cancel_one_order_after_confirming(d: Desk) -> None:
    from playwright.sync_api import expect

    stop = d.world.expected.open_stop
    page = d.page()
    sent: list[str] = []
    page.on("request", lambda r: sent.append(r.url) if r.method == "POST" else None)
    button = page.locator(f'#open-orders [data-cancel="{stop}"]')

    # Dismissed: nothing is sent.
    button.click()
    dialog = page.locator("#confirm")
    expect(dialog).to_be_visible()
    expect(page.locator("#confirm-title")).to_have_text("Cancel this order?")
    page.click("#confirm-cancel")
    expect(dialog).to_be_hidden()
    assert sent == []

    button.click()
    expect(page.locator("#confirm-sent")).to_contain_text('"kind": "CANCEL_ORDER"')
    expect(page.locator("#confirm-sent")).to_contain_text(f'"client_order_id": "{stop}"')
    expect(page.locator("#confirm-sent")).to_contain_text('"is_algo": true')
    shown_key = page.locator("#confirm-sent-title").inner_text().rsplit(" ", 1)[-1]
    shoot(page, "cancel-confirm-light-desktop", full_page=False)
    with page.expect_request(
        lambda r: r.url.endswith("/api/commands") and r.method == "POST"
    ) as rq:
        page.click("#confirm-ok")
    request = rq.value
    assert request.headers["idempotency-key"] == shown_key
    assert request.post_data_json == {
        "kind": "CANCEL_ORDER",
        "payload": {"client_order_id": stop, "is_algo": True},
    }
    answer = request.response()
    assert answer is not None and answer.status == 202
    filed = answer.json()
    command = d.api(filed["status_url"])
    assert command["kind"] == "CANCEL_ORDER"
    assert command["payload"] == {"client_order_id": stop, "is_algo": True}
    # No bot runs here: the Command waits for one, and the log says so.
    expect(page.locator("#command-log li").first).to_contain_text(f"cancel {stop}")
    expect(page.locator("#command-log li").first).to_contain_text("NEW — queued for the bot")
    page.context.close()


def test_order_ticket_reviews_then_files_the_order_and_leverage(d: Desk) -> None:
    from playwright.sync_api import expect

    page = d.page()
    page.click('label[for="side-sell"]')
    page.select_option("#order-type", "LIMIT")
    page.fill("#order-qty", "0.005")
    page.click("#order-review")
    expect(page.locator("#order-error")).to_have_text("A limit order needs a limit price")
    expect(page.locator("#confirm")).to_be_hidden()

    page.fill("#order-price", "61000.5")
    page.fill("#order-stop", "61800")
    page.fill("#order-tp", "60000")
    page.select_option("#order-tif", "GTX")
    page.fill("#order-reason", "fade the spike")
    page.click("#order-review")
    payload = {
        "side": "SELL",
        "type": "LIMIT",
        "quantity": "0.005",
        "price": "61000.5",
        "time_in_force": "GTX",
        "stop_price": "61800",
        "take_profit_price": "60000",
        "reason": "fade the spike",
    }
    expect(figure(page, "#confirm-lines", "Side")).to_have_text("SELL")
    expect(figure(page, "#confirm-lines", "Quantity")).to_have_text("0.005")
    expect(figure(page, "#confirm-lines", "Limit price")).to_have_text("61,000.50 GTX")
    expect(figure(page, "#confirm-lines", "Stop loss")).to_have_text("61,800.00")
    expect(figure(page, "#confirm-lines", "Take profit")).to_have_text("60,000.00")
    shoot(page, "order-confirm-light-desktop", full_page=False)
    with page.expect_request(
        lambda r: r.url.endswith("/api/commands") and r.method == "POST"
    ) as rq:
        page.click("#confirm-ok")
    assert rq.value.post_data_json == {"kind": "PLACE_ORDER", "payload": payload}
    answer = rq.value.response()
    assert answer is not None and answer.status == 202
    stored = d.api(answer.json()["status_url"])
    assert stored["kind"] == "PLACE_ORDER"
    assert {k: stored["payload"][k] for k in payload} == payload

    page.fill("#leverage-input", "200")
    page.click("#leverage-review")
    expect(page.locator("#leverage-error")).to_have_text("Leverage is a whole number from 1 to 125")
    page.fill("#leverage-input", "12")
    page.click("#leverage-review")
    expect(page.locator("#confirm-title")).to_have_text("Set BTCUSDT leverage to 12×?")
    with page.expect_request(
        lambda r: r.url.endswith("/api/commands") and r.method == "POST"
    ) as rq:
        page.click("#confirm-ok")
    assert rq.value.post_data_json == {"kind": "SET_LEVERAGE", "payload": {"leverage": 12}}
    page.context.close()


def test_order_ticket_on_a_phone_in_the_dark(d: Desk) -> None:
    from playwright.sync_api import expect

    page = d.page(size=PHONE, theme="dark")
    page.select_option("#order-type", "STOP_MARKET")
    expect(page.locator("#order-stop-label")).to_have_text("Trigger price")
    expect(page.locator("#order-tp")).to_be_hidden()
    page.check("#order-close")
    expect(page.locator("#order-qty")).to_be_disabled()
    page.fill("#order-stop", "59000")
    page.click("#order-review")
    expect(page.locator("#confirm-sent")).to_contain_text('"close_position": true')
    assert page.evaluate("document.scrollingElement.scrollWidth") <= PHONE["width"]
    shoot(page, "order-confirm-dark-phone", full_page=False)
    page.click("#confirm-cancel")
    page.context.close()


def test_the_page_follows_new_facts_over_the_stream(d: Desk) -> None:
    from playwright.sync_api import expect

    page = d.page()
    expect(page.locator("#stream-status")).to_have_text("live")
    expect(page.locator("#bal-wallet")).to_have_text("10,000.06 USDT")
    trading = d.world.trading()
    try:
        trading.record_balance(
            BalanceFact(
                "USDT", Decimal("10012.34"), Decimal("10012.34"), datetime.now(UTC), "ORDER"
            ),
            trading.envelope(Source.WEBSOCKET),
        )
        last = int(trading.recorder.max_notification_id() or 0)
    finally:
        trading.close()
    d.world.project()
    # No reload: the stream's snapshot moves the wallet, its event reaches the log.
    expect(page.locator("#bal-wallet")).to_have_text("10,012.34 USDT")
    expect(page.locator(f'#events li[data-id="{last}"]')).to_be_attached()
    page.context.close()
