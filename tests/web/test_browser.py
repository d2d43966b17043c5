"""A real browser against the real system in paper mode: log in, see the desk fed by the bot,
Pause and Resume (carried out by the bot), find the pause in the event log, sign out."""

from __future__ import annotations

from pathlib import Path

import httpx

from tests.web.browser_session import (
    BROWSER_TEST_MARKS,
    CHARTS_INSTALLED,
    CHROMIUM,
    CHROMIUM_ARGS,
    shoot,
    watch,
)
from tests.web.processes import TEST_PASSWORD, paper_system

pytestmark = BROWSER_TEST_MARKS


def test_login_dashboard_and_pause_in_chromium(tmp_path: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    with paper_system(tmp_path) as system, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1400})
            errors: list[str] = []
            watch(page, errors)

            page.goto(f"{system.web_url}/dashboard")
            page.wait_for_url("**/login")  # no session yet
            page.fill("#password", TEST_PASSWORD)
            page.click("#login-button")
            page.wait_for_url("**/dashboard")

            # Fed by the paper run: the live stream is up, the engine runs, the chart has candles.
            expect(page.locator("#stream-status")).to_have_text("live", timeout=20_000)
            expect(page.get_by_test_id("engine-mode")).to_have_text("RUNNING", timeout=20_000)
            expect(page.locator("#trading-mode")).to_have_text("paper", timeout=10_000)
            expect(page.locator("#bal-wallet")).to_contain_text("USDT", timeout=30_000)
            # The stream feeds the event log (its own section) while the desk is shown.
            expect(page.locator("#events li").first).to_be_attached(timeout=30_000)
            if CHARTS_INSTALLED:
                expect(page.locator("#price-chart canvas").first).to_be_visible()
            else:
                expect(page.locator("#charts-missing")).to_be_visible()

            page.click("#btn-pause")
            expect(page.locator("#command-log li").first).to_contain_text(
                "SUCCEEDED", timeout=30_000
            )
            expect(page.get_by_test_id("engine-mode")).to_have_text("PAUSED", timeout=20_000)
            expect(page.locator("#btn-resume")).to_be_enabled()
            shoot(page, "dashboard-paused-light-desktop")

            # The bot's own record of the pause, in the event log.
            page.click('nav a[data-view="events"]')
            page.fill("#ef-type", "Engine.Paused")
            expect(page.locator("#events .type").first).to_have_text("Engine.Paused")

            page.click('nav a[data-view="desk"]')
            page.click("#btn-resume")
            expect(page.get_by_test_id("engine-mode")).to_have_text("RUNNING", timeout=20_000)

            assert errors == []
            # Signing out ends the session on the server too: its refresh token is refused.
            # (Requests in flight at that moment may be refused too: that is the point.)
            refresh = page.evaluate("sessionStorage.getItem('ae.refresh')")
            page.click("#logout")
            page.wait_for_url("**/login")
            assert page.evaluate("sessionStorage.getItem('ae.access')") is None
            refused = httpx.post(
                f"{system.web_url}/api/auth/refresh", json={"refresh_token": refresh}, timeout=5
            )
            assert refused.status_code == 401
        finally:
            browser.close()
