"""Browser tests: Debian's Chromium driven by Playwright (sync API) against the whole system as
real processes, started as the end-to-end tests start it (`tests/e2e/conftest.py`). They run in a
pytest process of their own (`tools/run_tests.py`), without pytest-asyncio, so Playwright's event
loop has the thread to itself."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from playwright.sync_api import ConsoleMessage, Page, Request, Response

from tests.e2e.conftest import System, system  # noqa: F401 - the e2e tests' module fixture, reused

CHROMIUM = os.environ.get("SHOP_CHROMIUM", "/usr/bin/chromium")
ROOT = Path(__file__).resolve().parents[2]
#: Where the pages' pictures go: `.data/screenshots/` on every run; `make screenshots` sets
#: SHOP_SCREENSHOTS=docs to refresh the committed ones the README shows.
SHOTS = ROOT / ("docs" if os.environ.get("SHOP_SCREENSHOTS") == "docs" else ".data/screenshots")


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
    """The console errors, uncaught exceptions and failed requests of a page. A test that provokes
    an error answer on purpose says which (`allow("status of 401")`): Chromium logs every non-2xx
    document as a failed resource."""

    def __init__(self) -> None:
        super().__init__()
        self.allowed: list[str] = []

    def allow(self, text: str) -> None:
        self.allowed.append(text)

    def unexpected(self) -> list[str]:
        return [e for e in self if not any(a in e for a in self.allowed)]


def watch(page: Page, errors: ConsoleErrors | None = None) -> ConsoleErrors:
    """Collect the page's console errors, uncaught exceptions, failed requests and error answers.
    A request the browser itself aborts as the page leaves (`net::ERR_ABORTED`) is not a failure
    when the page made it in the background: the live stream (`/live`), a static file (the favicon
    still loading when a click navigates) or an htmx GET (a block's timer asking again, which may
    be in flight as a click navigates). A file or block missing or broken would answer with an
    error status, caught below; an aborted POST (a button's action) still counts."""
    found = errors if errors is not None else ConsoleErrors()

    def on_console(message: ConsoleMessage) -> None:
        if message.type == "error":
            found.append(f"{message.text} ({message.location.get('url', '')})")

    def on_failed(request: Request) -> None:
        failure = request.failure or ""
        path = urlsplit(request.url).path
        background = request.method == "GET" and request.headers.get("hx-request") == "true"
        left_behind = path == "/live" or path.startswith("/static/") or background
        if not (failure == "net::ERR_ABORTED" and left_behind):
            found.append(f"request failed: {request.method} {request.url} {failure}")

    def on_response(response: Response) -> None:
        if response.status >= 400:
            found.append(
                f"the server answered with a status of {response.status}: {response.request.method} {response.url}"
            )

    page.on("console", on_console)
    page.on("pageerror", lambda error: found.append(f"uncaught: {error}"))
    page.on("requestfailed", on_failed)
    page.on("response", on_response)
    return found


@pytest.fixture
def console_errors(page: Page) -> Iterator[ConsoleErrors]:
    """Every console error, uncaught exception and failed request of the page; the test fails on
    one not allowed."""
    errors = watch(page)
    yield errors
    assert errors.unexpected() == [], errors


def screenshot(page: Page, name: str, *, full_page: bool = True) -> None:
    """A picture of the page (`<SHOTS>/<name>.png`); the README shows the committed ones in docs/."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    # caret="initial": hiding the caret leaves an empty `style` attribute on every input, which a
    # later live swap's settling copies, and the page's CSP (style-src 'self') then refuses.
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=full_page, caret="initial")


def wait_for_mail(mail_api: str, address: str, subject_start: str, timeout: float = 30.0) -> dict[str, Any]:
    """The newest mail to `address` whose subject starts so, with its text, once it has arrived."""
    deadline = time.monotonic() + timeout
    with httpx.Client(base_url=mail_api, timeout=10) as mail:
        while True:
            listing = mail.get("/api/v1/messages", params={"limit": 5000}).json()["messages"]
            for m in listing:
                if m["Subject"].startswith(subject_start) and any(t["Address"] == address for t in m["To"]):
                    found: dict[str, Any] = mail.get(f"/api/v1/message/{m['ID']}").json()
                    return found
            assert time.monotonic() < deadline, f"no mail {subject_start!r} to {address} within {timeout:.0f} s"
            time.sleep(0.2)
