"""Every page, as each kind of person sees it, in a real browser: it answers 200, logs no console
error, fails no request (its live stream included), throws nothing, and every form control has
a label and every button a name."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import System

from .conftest import ConsoleErrors
from .test_pages import log_in
from .test_people_at_work import bearer, in_stock_sku

#: The pages of each kind of person (None: nobody signed in); `{sku}` and `{order}` are filled in.
PAGES: dict[str | None, list[str]] = {
    None: ["/", "/shop", "/shop/products/{sku}", "/tables", "/tables/1/book"],
    "customer": ["/shop", "/shop/products/{sku}", "/cart", "/orders", "/orders/{order}", "/tables"],
    "worker-drums": ["/tasks", "/shop"],
    "admin": [
        "/manage",
        "/manage/workers",
        "/manage/bookings",
        "/manage/stock",
        "/manage/products",
        "/manage/catalogue",
    ],
}
#: Added last, once it existed: the notifications page of each person.
for _who in ("customer", "worker-drums", "admin"):
    PAGES[_who].append("/notifications")

#: Form controls without a label (a `<label for>`, a wrapping label, aria-label or aria-labelledby)
#: and buttons without an accessible name.
UNLABELLED = """() => {
  const named = e => e.labels?.length || e.getAttribute('aria-label') || e.getAttribute('aria-labelledby');
  const controls = [...document.querySelectorAll('input:not([type=hidden]), select, textarea')];
  const buttons = [...document.querySelectorAll('button')];
  return [
    ...controls.filter(e => !named(e)).map(e => e.outerHTML.slice(0, 120)),
    ...buttons.filter(e => !e.textContent.trim() && !named(e)).map(e => e.outerHTML.slice(0, 120)),
  ];
}"""


@pytest.fixture(scope="module")
def filled(system: System) -> Iterator[dict[str, str]]:
    """A product in stock and an order of the customer's, for the pages that show one."""
    with httpx.Client(base_url=system.url("checkout"), timeout=30) as api:
        sku = in_stock_sku(api, "drums")
        placed = api.post("/api/v1/orders", json={"items": [{"sku": sku, "count": 1}]}, headers=bearer(api, "customer"))
        assert placed.status_code == 201, placed.text
    yield {"sku": str(sku), "order": str(placed.json()["order_id"])}


@pytest.mark.parametrize("who", list(PAGES), ids=lambda w: w or "guest")
def test_every_page_loads_cleanly(
    page: Page, site: str, who: str | None, filled: dict[str, str], console_errors: ConsoleErrors
) -> None:
    if who is not None:
        log_in(page, site, who)
        expect(page.get_by_role("button", name="Log out")).to_be_visible()
    for path in PAGES[who]:
        answer = page.goto(site + path.format(**filled))
        assert answer is not None and answer.status == 200, f"{path}: {answer and answer.status}"
        page.wait_for_load_state("load")
        page.wait_for_timeout(600)  # a live page's stream is open (or has failed) by now
        assert page.evaluate(UNLABELLED) == [], path
        assert page.evaluate("document.documentElement.scrollWidth") <= 1100, f"{path} is wider than the window"
        assert console_errors.unexpected() == [], path
