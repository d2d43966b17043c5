"""What the browser tests share: the web as a real process on a seeded database, the system
Chromium through Playwright, signed-in pages in either theme and size, and screenshots."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import httpx
import pytest

from tests.web.browser_world import World, build_world
from tests.web.processes import (
    REPO_ROOT,
    TEST_PASSWORD,
    clean_env,
    free_port,
    running,
    wait_until,
)
from web.auth import hash_password

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Locator, Page, ViewportSize

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
DESKTOP: ViewportSize = {"width": 1400, "height": 900}
PHONE: ViewportSize = {"width": 390, "height": 844}
Theme = Literal["light", "dark"]
CHARTS_INSTALLED = (REPO_ROOT / "web/frontend/node_modules/lightweight-charts").exists()
# What every browser test module marks itself with.
BROWSER_TEST_MARKS = [
    pytest.mark.slow,
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="/usr/bin/chromium is missing (make browser)"),
]


@dataclass
class Desk:
    """A seeded world served by `python -m web`, and one browser for a test module."""

    world: World
    url: str
    browser: Browser
    headers: dict[str, str]
    tokens: dict[str, str]
    problems: list[str] = field(default_factory=list)

    def api(self, path: str, **params: Any) -> Any:
        response = httpx.get(f"{self.url}{path}", params=params, headers=self.headers, timeout=10)
        response.raise_for_status()
        return response.json()

    def page(
        self, *, size: ViewportSize = DESKTOP, theme: Theme = "light", view: str = "desk"
    ) -> Page:
        """A signed-in page (tokens as the login page stores them) in the given theme."""
        context = self.browser.new_context(viewport=size, color_scheme=theme)
        access = json.dumps(self.tokens["access_token"])
        refresh = json.dumps(self.tokens["refresh_token"])
        context.add_init_script(
            f"sessionStorage.setItem('ae.access', {access});"
            f"sessionStorage.setItem('ae.refresh', {refresh});"
            "sessionStorage.setItem('ae.user', 'admin');"
        )
        page = context.new_page()
        watch(page, self.problems)
        page.goto(f"{self.url}/dashboard#{view}")
        return page


def watch(page: Page, problems: list[str]) -> None:
    """Collect script errors and refused resources (CSP) instead of letting them pass silently."""
    page.on("pageerror", lambda error: problems.append(f"page error: {error}"))

    def console(message: Any) -> None:
        if message.type == "error":
            problems.append(f"console: {message.text}")

    page.on("console", console)


def shoot(page: Page, name: str, *, full_page: bool = True) -> Path:
    """test-output/<name>.png; a dialog is shot as the screen shows it (full_page=False)."""
    OUTPUT.mkdir(exist_ok=True)
    path = OUTPUT / f"{name}.png"
    page.screenshot(path=str(path), full_page=full_page)
    return path


def api_tokens(url: str) -> dict[str, str]:
    with httpx.Client(base_url=url, timeout=10) as client:
        response = client.post(
            "/api/auth/login", json={"username": "admin", "password": TEST_PASSWORD}
        )
        response.raise_for_status()
        body: dict[str, str] = response.json()
        return body


@contextmanager
def web_process(data_dir: Path, log: Path) -> Iterator[str]:
    port = free_port()
    env = clean_env(data_dir, ALPHAENGINE_ADMIN_PASSWORD_HASH=hash_password(TEST_PASSWORD))
    args = ["-m", "web", "--mode", "paper", "--data-dir", str(data_dir)]
    args += ["--host", "127.0.0.1", "--port", str(port)]
    with running(args, env=env, log=log) as proc:
        url = f"http://127.0.0.1:{port}"
        wait_until(
            lambda: httpx.get(f"{url}/health", timeout=2).status_code == 200,
            timeout=30,
            what="python -m web to answer /health",
            proc=proc,
        )
        yield url


@contextmanager
def desk(tmp: Path) -> Iterator[Desk]:
    from playwright.sync_api import sync_playwright

    world = build_world(tmp / "data")
    with web_process(world.settings.data_dir, tmp / "web.log") as url, sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            tokens = api_tokens(url)
            headers = {"Authorization": f"Bearer {tokens['access_token']}"}
            yield Desk(world=world, url=url, browser=browser, headers=headers, tokens=tokens)
        finally:
            browser.close()


@contextmanager
def desk_for_module(tmp_path_factory: pytest.TempPathFactory, name: str) -> Iterator[Desk]:
    """A module's desk, which must have seen no page problem by its end."""
    with desk(tmp_path_factory.mktemp(name)) as running:
        yield running
    assert running.problems == []


def clock(at: datetime) -> str:
    """A moment as the desk shows it (exchange time, UTC)."""
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def figure(page: Page, figures: str, label: str) -> Locator:
    """The value next to a label in a <dl> of figures."""
    return page.locator(f'{figures} dt:text-is("{label}") + dd')
