"""A real browser: log in, see the dashboard fed by a paper run, Pause, see the mode change."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from tests.web.processes import REPO_ROOT, TEST_PASSWORD, paper_system

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
OUTPUT = REPO_ROOT / "test-output"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason="/usr/bin/chromium is missing (make browser installs it)"
    ),
    pytest.mark.skipif(
        importlib.util.find_spec("projections.projector") is None,
        reason="the bot is not runnable yet: projections.projector is missing",
    ),
]


def test_login_dashboard_and_pause_in_chromium(tmp_path: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    OUTPUT.mkdir(exist_ok=True)
    with paper_system(tmp_path) as system, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1400})
            errors: list[str] = []
            page.on("pageerror", lambda error: errors.append(str(error)))

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
            expect(page.locator("#events li").first).to_be_visible(timeout=30_000)
            if (REPO_ROOT / "web/frontend/node_modules/lightweight-charts").exists():
                expect(page.locator("#price-chart canvas").first).to_be_visible()
            else:
                expect(page.locator("#charts-missing")).to_be_visible()

            page.click("#btn-pause")
            expect(page.locator("#command-log li").first).to_contain_text(
                "SUCCEEDED", timeout=30_000
            )
            expect(page.get_by_test_id("engine-mode")).to_have_text("PAUSED", timeout=20_000)
            page.wait_for_timeout(1500)  # let the charts draw their latest data
            page.screenshot(path=str(OUTPUT / "dashboard-paused.png"), full_page=True)
            assert errors == []
        finally:
            browser.close()
