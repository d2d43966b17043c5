"""Appearance in Chromium: every section at 390 px wide with no sideways scroll and no value cut
off, in light and dark; the dark mode's toggle, its memory, and the system's preference."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from tests.web.browser_session import (
    BROWSER_TEST_MARKS,
    DESKTOP,
    PHONE,
    Desk,
    Theme,
    desk_for_module,
    shoot,
)

if TYPE_CHECKING:
    from playwright.sync_api import Page

pytestmark = BROWSER_TEST_MARKS

LIGHT_BACKGROUND = "rgb(243, 245, 248)"
DARK_BACKGROUND = "rgb(14, 18, 23)"
# What each section shows once loaded: the phone checks wait for it.
LOADED = {
    "desk": "#fills tbody tr",
    "orders": '#orders-table td[data-label="Client id"]',
    "trades": '[data-figure="all.total_pnl"]',
    "events": "#events summary",
    "travel": "#travel-events li.highlight",
    "config": "#config-history tbody tr",
}
# Values a trader reads: each must sit inside the screen and show all of its text.
VALUES = "dd, td, .kpi .value, .badge, .diff li, #events summary > *, button, select, input"
CLIPPED = """(selector) => {
  const found = [];
  for (const node of document.querySelectorAll(selector)) {
    const box = node.getBoundingClientRect();
    if (!node.getClientRects().length || box.width === 0) continue;  // not shown
    if (box.left < -0.5 || box.right > window.innerWidth + 0.5
        || node.scrollWidth > node.clientWidth + 1) {
      const text = node.textContent.trim().slice(0, 40);
      const where = `${Math.round(box.left)}..${Math.round(box.right)}`;
      found.push(`${node.tagName.toLowerCase()}#${node.id} "${text}" at ${where}, `
        + `${node.scrollWidth}>${node.clientWidth}`);
    }
  }
  return found;
}"""


@pytest.fixture(scope="module")
def d(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Desk]:
    with desk_for_module(tmp_path_factory, "layout") as running:
        yield running


def open_section(page: Page, view: str, travel_to: int) -> None:
    from playwright.sync_api import expect

    if view == "travel":
        page.evaluate(f"window.location.hash = '#travel?event={travel_to}'")
    else:
        page.click(f'nav a[data-view="{view}"]')
    expect(page.locator(f'[data-view-panel="{view}"]')).to_be_visible()
    expect(page.locator(LOADED[view]).first).to_be_visible()


@pytest.mark.parametrize("theme", ["light", "dark"])
def test_every_section_fits_a_phone(d: Desk, theme: Theme) -> None:
    page = d.page(size=PHONE, theme=theme)
    travel_to = d.world.expected.chapters[-1][0]
    for view in LOADED:
        open_section(page, view, travel_to)
        width = page.evaluate("document.scrollingElement.scrollWidth")
        assert width <= PHONE["width"], f"{view}: the page is {width} px wide"
        assert page.evaluate(CLIPPED, VALUES) == [], view
        shoot(page, f"{view}-{theme}-phone")
    page.context.close()


def test_every_section_in_the_dark_on_a_desktop(d: Desk) -> None:
    page = d.page(size=DESKTOP, theme="dark")
    travel_to = d.world.expected.chapters[-1][0]
    for view in LOADED:
        open_section(page, view, travel_to)
        assert background(page) == DARK_BACKGROUND
        assert page.evaluate(CLIPPED, ".kpi .value, dd, .badge") == [], view
        shoot(page, f"{view}-dark-desktop")
    page.context.close()


def background(page: Page) -> str:
    color: str = page.evaluate("getComputedStyle(document.documentElement).backgroundColor")
    return color


def test_dark_mode_follows_the_system_until_chosen_and_is_remembered(d: Desk) -> None:
    from playwright.sync_api import expect

    page = d.page(theme="dark")  # the system prefers dark; nothing chosen yet
    toggle = page.locator("#theme-toggle")
    expect(toggle).to_have_text("Light")
    assert background(page) == DARK_BACKGROUND
    page.emulate_media(color_scheme="light")  # the system changes its mind: the page follows
    expect(toggle).to_have_text("Dark")
    assert background(page) == LIGHT_BACKGROUND

    toggle.click()  # chosen: dark, whatever the system says from now on
    expect(toggle).to_have_attribute("aria-pressed", "true")
    assert background(page) == DARK_BACKGROUND
    assert page.evaluate("localStorage.getItem('ae.theme')") == "dark"
    page.emulate_media(color_scheme="light")
    page.reload()  # the choice outlives the page
    expect(page.locator("#theme-toggle")).to_have_text("Light")
    assert background(page) == DARK_BACKGROUND
    page.context.close()


def test_the_sign_in_page_on_a_phone(d: Desk) -> None:
    from playwright.sync_api import expect

    context = d.browser.new_context(viewport=PHONE, color_scheme="light")
    page = context.new_page()
    page.goto(f"{d.url}/dashboard")
    page.wait_for_url("**/login")
    expect(page.locator("#login-button")).to_be_visible()
    assert page.evaluate("document.scrollingElement.scrollWidth") <= PHONE["width"]
    shoot(page, "login-light-phone")
    page.emulate_media(color_scheme="dark")
    assert background(page) == DARK_BACKGROUND
    shoot(page, "login-dark-phone")
    context.close()
