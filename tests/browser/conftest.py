"""Browser tests: Debian's Chromium driven by Playwright (sync API) against the whole system as
real processes, started as the end-to-end tests start it (`tests/e2e/conftest.py`). They run in a
pytest process of their own (`tools/run_tests.py`), without pytest-asyncio, so Playwright's event
loop has the thread to itself."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import ConsoleMessage, Error, Page

from tests.e2e.conftest import System, system  # noqa: F401 - the e2e tests' module fixture, reused

CHROMIUM = os.environ.get("SHOP_CHROMIUM", "/usr/bin/chromium")
DOCS = Path(__file__).resolve().parents[2] / "docs"


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium is not at {CHROMIUM}: install it (apt-get install chromium) or set SHOP_CHROMIUM")
    return {
        **browser_type_launch_args,
        "executable_path": CHROMIUM,
        "args": ["--headless=new", "--no-sandbox", "--disable-gpu"],
    }


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args: dict[str, Any]) -> dict[str, Any]:
    return {**browser_context_args, "viewport": {"width": 1100, "height": 900}}


@pytest.fixture
def site(system: System) -> str:  # noqa: F811 - `system` is the imported fixture
    return system.url("checkout")


class ConsoleErrors(list[str]):
    """The console errors of a page. A test that provokes an error answer on purpose says which
    (`allow("status of 401")`): Chromium logs every non-2xx document as a failed resource."""

    def __init__(self) -> None:
        super().__init__()
        self.allowed: list[str] = []

    def allow(self, text: str) -> None:
        self.allowed.append(text)

    def unexpected(self) -> list[str]:
        return [e for e in self if not any(a in e for a in self.allowed)]


@pytest.fixture
def console_errors(page: Page) -> Iterator[ConsoleErrors]:
    """Every console error and uncaught exception of the page; the test fails on one not allowed."""
    errors = ConsoleErrors()

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            errors.append(f"{message.text} ({message.location.get('url', '')})")

    def on_error(error: Error) -> None:
        errors.append(f"uncaught: {error}")

    page.on("console", on_console)
    page.on("pageerror", on_error)
    yield errors
    assert errors.unexpected() == [], errors


def screenshot(page: Page, name: str, *, full_page: bool = True) -> None:
    """A committed picture of the page for the README (`docs/<name>.png`)."""
    DOCS.mkdir(exist_ok=True)
    page.screenshot(path=str(DOCS / f"{name}.png"), full_page=full_page)
