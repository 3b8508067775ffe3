#!/usr/bin/env python3
"""The web pages as a browser sees them: time to first byte and full load of `/shop` and `/orders`,
and the delay from an order's status change to the open `/orders` page showing it, and to a
manager's open desk (`/manage`) showing the new order and then its change.

Debian's Chromium (`/usr/bin/chromium`, headless) driven by Playwright, signed in as the demo
customer through the landing page's form. Page times are the browser's own Navigation Timing
(`responseStart` and `loadEventEnd` from the navigation's start, the stylesheet and scripts
included, served warm after a few loads); checkout's answer alone is measured with httpx too
(the document's headers, then its whole body, with the same session cookie). The delay: for each
change an order of the customer's is placed through the REST API and awaits payment, `/orders` is
opened and its live stream is open (htmx-ext-sse's `htmx:sseOpen`), a MutationObserver watches the
order's `data-status`, and the order is paid through the REST API; the delay runs from sending the
payment to the page showing `paid` (browser and script read one clock), and from the payment's
answer as well. What the change crosses: LOMS's outbox, the broker, notifications' consumer,
Redis pub/sub, notifications' stream, checkout's `/live` (which reads the order again from LOMS and
renders the row) and htmx's swap. The demo manager's desk is open all along in a browser context of
its own: it stamps when each new order's row appears at the top of its list (from sending the
order) and when it shows `paid` (from sending the payment). And what an open `/shop` costs while it
waits: its timer's request (`web/refresh.py`) answered 204, or with the block when it changed.

Run against a stack `make run` started (demo data; the orders it makes end paid or cancelled):
    .venv/bin/python bench/web/run.py --url http://127.0.0.1:9000
or on an embedded stack of its own (the end-to-end tests' harness; every service one process):
    .venv/bin/python bench/web/run.py
Options: `--loads N` (page loads per page, 30), `--changes N` (status changes, 30), `--orders N`
(orders the customer has while `/orders` is timed, 20).
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import re
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
from playwright.sync_api import Page, sync_playwright

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("SHOP_CHROMIUM", "/usr/bin/chromium")
USER, MANAGER, PASSWORD = "customer", "admin", "1"
WARM_UP = 3
#: Set by every page before its scripts run: when the live stream opened, when it errored.
PAGE_HOOKS = """
document.addEventListener('htmx:sseOpen', () => { window.__sseOpen = true; });
"""
WATCH = """([id, status]) => {
  window.__changedAt = null;
  const now = () => performance.timeOrigin + performance.now();
  const shows = () => document.querySelector(`[data-order-id="${id}"] [data-status]`)?.textContent.trim() === status;
  const seen = new MutationObserver(() => {
    if (shows()) { window.__changedAt = now(); seen.disconnect(); }
  });
  seen.observe(document.body, {subtree: true, childList: true, characterData: true});
}"""
#: On the desk: when each order's row first appeared in its list (new orders arrive at the top).
DESK_HOOK = """() => {
  window.__appeared = {};
  const now = () => performance.timeOrigin + performance.now();
  new MutationObserver((records) => {
    for (const r of records) for (const n of r.addedNodes)
      if (n.nodeType === 1 && n.matches('[data-order-id]') && !(n.dataset.orderId in window.__appeared))
        window.__appeared[n.dataset.orderId] = now();
  }).observe(document.getElementById('orders'), {childList: true});
}"""
TIMING = """() => {
  const n = performance.getEntriesByType('navigation')[0];
  return {ttfb: n.responseStart - n.startTime, wait: n.responseStart - n.requestStart, load: n.loadEventEnd - n.startTime};
}"""


def pct(values: list[float], q: float) -> float:
    """The q-th percentile, nearest rank."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q / 100 * len(ordered)) - 1)]


def row(name: str, values: list[float]) -> str:
    return f"| {name} | {len(values)} | {pct(values, 50):.1f} | {pct(values, 95):.1f} | {max(values):.1f} |"


@contextlib.contextmanager
def embedded_system() -> Iterator[str]:
    """Every service on an embedded stack of its own, with demo data, as the end-to-end tests run it."""
    sys.path.insert(0, str(ROOT))
    from shopcommon.devstack.stack import EmbeddedStack, StackPorts
    from shopcommon.testing.plugin import Stack
    from tests.e2e.conftest import start_system

    with tempfile.TemporaryDirectory(prefix="bench-web-") as tmp:
        embedded = EmbeddedStack(Path(tmp) / "stack", StackPorts.free(), durable=False, echo=False)
        urls = embedded.start()
        try:
            system = start_system(Stack(embedded, urls, ROOT), Path(tmp) / "system")
            try:
                yield system.url("checkout")
            finally:
                system.stop()
        finally:
            embedded.stop()


class Customer:
    """The demo customer through the REST API."""

    def __init__(self, api: httpx.Client) -> None:
        self.api = api
        token = api.post("/api/v1/auth/token", json={"username": USER, "password": PASSWORD})
        token.raise_for_status()
        self.headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
        found = api.get("/api/v1/products", params={"in_stock": "true", "limit": 100}).json()["items"]
        self.skus = [p["sku"] for p in found if p["quantity_in_stock"] >= 50]

    def order(self, i: int) -> int:
        """A new order of one unit, awaiting payment."""
        sku = self.skus[i % len(self.skus)]
        r = self.api.post("/api/v1/orders", json={"items": [{"sku": sku, "count": 1}]},
                          headers={**self.headers, "Prefer": "wait=10"})  # fmt: skip
        assert r.status_code == 201 and r.json()["status"] == "awaiting payment", r.text
        return int(r.json()["order_id"])

    def pay(self, order_id: int) -> None:
        r = self.api.post(f"/api/v1/orders/{order_id}/pay", headers=self.headers)
        assert r.status_code == 200, r.text

    def cancel(self, order_id: int) -> None:
        r = self.api.post(f"/api/v1/orders/{order_id}/cancel", headers=self.headers)
        assert r.status_code == 200, r.text


def sign_in(page: Page, site: str, user: str = USER, lands: str = "/shop") -> None:
    page.goto(site + "/")
    page.get_by_label("Username", exact=True).fill(user)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(site + lands)


def page_times(page: Page, site: str, path: str, loads: int) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {"ttfb": [], "wait": [], "load": []}
    for i in range(WARM_UP + loads):
        page.goto(site + path, wait_until="load")
        timing = page.evaluate(TIMING)
        if i >= WARM_UP:
            out["ttfb"].append(timing["ttfb"])
            out["wait"].append(timing["wait"])
            out["load"].append(timing["load"])
    return out


def server_times(site: str, cookies: dict[str, str], path: str, loads: int) -> dict[str, list[float]]:
    """Checkout's answer alone: the document's headers, then its whole body."""
    out: dict[str, list[float]] = {"headers": [], "body": []}
    with httpx.Client(base_url=site, cookies=cookies, timeout=30) as client:
        for i in range(WARM_UP + loads):
            started = time.perf_counter()
            with client.stream("GET", path) as r:
                headers = time.perf_counter()
                r.read()
                done = time.perf_counter()
            assert r.status_code == 200 and b"Log out" in r.content, f"{path}: {r.status_code}, not signed in?"
            if i >= WARM_UP:
                out["headers"].append((headers - started) * 1000)
                out["body"].append((done - started) * 1000)
    return out


def refresh_times(site: str, cookies: dict[str, str], loads: int) -> dict[str, list[float]]:
    """What an open `/shop` costs checkout while it waits (`web/refresh.py`): its timer's request
    answered 204 (nothing new), and the block itself when the page holds an older digest."""
    out: dict[str, list[float]] = {"same": [], "new": []}
    with httpx.Client(base_url=site, cookies=cookies, timeout=30) as client:
        shown = re.search(r'id="instruments" hx-get="[^"]*"[^>]*"X-Page-Version": "(\w+)"', client.get("/shop").text)
        assert shown is not None, "/shop: no timer on its instruments (CHECKOUT_PAGE_REFRESH_SECONDS=0?)"
        for version, key, status in ((shown.group(1), "same", 204), ("older", "new", 200)):
            headers = {"HX-Request": "true", "HX-Trigger": "instruments", "X-Page-Version": version}
            for i in range(WARM_UP + loads):
                started = time.perf_counter()
                r = client.get("/shop", headers=headers)
                done = time.perf_counter()
                assert r.status_code == status, f"/shop asked again: {r.status_code}"
                if i >= WARM_UP:
                    out[key].append((done - started) * 1000)
    return out


def wait_until(page: Page, check: str, timeout: float) -> None:
    """Poll a JS function in the page (wait_for_function evaluates a string, which the pages'
    Content-Security-Policy forbids); the page stamps its own times, so polling adds nothing."""
    deadline = time.monotonic() + timeout
    while not page.evaluate(check):
        if time.monotonic() > deadline:
            raise TimeoutError(f"not within {timeout} s: {check}")
        page.wait_for_timeout(10)


def change_delays(page: Page, desk: Page, site: str, customer: Customer, changes: int) -> dict[str, list[float]]:
    out: dict[str, list[float]] = {"from_request": [], "from_answer": [], "pay_answer": [], "desk_new": [],
                                   "desk_paid": []}  # fmt: skip
    for i in range(changes):
        placed = time.time() * 1000
        order_id = customer.order(1000 + i)
        wait_until(desk, f"() => window.__appeared['{order_id}'] !== undefined", 15)
        out["desk_new"].append(float(desk.evaluate(f"() => window.__appeared['{order_id}']")) - placed)
        page.goto(site + "/orders", wait_until="load")
        wait_until(page, "() => window.__sseOpen === true", 10)
        for watching in (page, desk):
            watching.evaluate(WATCH, [order_id, "paid"])
        sent = time.time() * 1000
        customer.pay(order_id)
        answered = time.time() * 1000
        for watching in (page, desk):
            wait_until(watching, "() => window.__changedAt !== null", 15)
        shown = float(page.evaluate("() => window.__changedAt"))
        out["from_request"].append(shown - sent)
        out["from_answer"].append(shown - answered)
        out["pay_answer"].append(answered - sent)
        out["desk_paid"].append(float(desk.evaluate("() => window.__changedAt")) - sent)
    return out


def measure(site: str, loads: int, changes: int, orders: int) -> list[str]:
    lines = ["| what (ms) | n | p50 | p95 | max |", "|---|---|---|---|---|"]
    with httpx.Client(base_url=site, timeout=30) as api, sync_playwright() as pw:
        customer = Customer(api)
        for i in range(orders):  # `/orders` with orders on it: three in four paid, the rest cancelled
            order_id = customer.order(i)
            customer.pay(order_id) if i % 4 else customer.cancel(order_id)
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--headless=new", "--no-sandbox", "--disable-gpu"])
        context = browser.new_context(viewport={"width": 1100, "height": 900})
        context.add_init_script(PAGE_HOOKS)
        page = context.new_page()
        sign_in(page, site)
        cookies = {c["name"]: c["value"] for c in context.cookies()}
        for path in ("/shop", "/orders"):
            browser_side = page_times(page, site, path, loads)
            server_side = server_times(site, cookies, path, loads)
            lines.append(row(f"`{path}` first byte (browser, from the navigation's start)", browser_side["ttfb"]))
            lines.append(row(f"`{path}` first byte (browser, from its request)", browser_side["wait"]))
            lines.append(row(f"`{path}` full load (browser, `load` event)", browser_side["load"]))
            lines.append(row(f"`{path}` headers (httpx)", server_side["headers"]))
            lines.append(row(f"`{path}` whole document (httpx)", server_side["body"]))
        asked = refresh_times(site, cookies, loads)
        lines.append(row("`/shop` asked again, nothing new (204, httpx)", asked["same"]))
        lines.append(row("`/shop` asked again, changed (the block, httpx)", asked["new"]))
        desk_context = browser.new_context(viewport={"width": 1100, "height": 900})
        desk_context.add_init_script(PAGE_HOOKS)
        desk = desk_context.new_page()
        sign_in(desk, site, MANAGER, "/manage")
        wait_until(desk, "() => window.__sseOpen === true", 10)
        desk.evaluate(DESK_HOOK)
        delays = change_delays(page, desk, site, customer, changes)
        lines.append(row("pay (REST) answered", delays["pay_answer"]))
        lines.append(row("pay sent → `/orders` shows `paid`", delays["from_request"]))
        lines.append(row("pay answered → `/orders` shows `paid`", delays["from_answer"]))
        lines.append(row("order sent → the open `/manage` lists it", delays["desk_new"]))
        lines.append(row("pay sent → the open `/manage` shows `paid`", delays["desk_paid"]))
        browser.close()
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", help="a running checkout (make run: http://127.0.0.1:9000); default: start one")
    parser.add_argument("--loads", type=int, default=30)
    parser.add_argument("--changes", type=int, default=30)
    parser.add_argument("--orders", type=int, default=20)
    args = parser.parse_args()
    if not Path(CHROMIUM).exists():
        raise SystemExit(f"Chromium is not at {CHROMIUM}: apt-get install chromium, or set SHOP_CHROMIUM")
    started = time.monotonic()
    with contextlib.nullcontext(args.url) if args.url else embedded_system() as site:
        lines = measure(site.rstrip("/"), args.loads, args.changes, args.orders)
    print("\n".join(lines))
    print(f"\n{os.cpu_count()} CPUs; {time.monotonic() - started:.0f} s in all")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
