"""The pages in a real browser: signing in, the shop to a paid order with its status changing on the
open page, a guest's table booking, CSRF refusal; no console error on any of them."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import httpx
from playwright.sync_api import Page, expect

from tests.e2e.conftest import System

from .conftest import ConsoleErrors, screenshot

PASSWORD = "1"  # the demo accounts'


def log_in(page: Page, site: str, username: str = "customer", password: str = PASSWORD) -> None:
    page.goto(site + "/")
    page.get_by_label("Username", exact=True).fill(username)
    page.get_by_label("Password", exact=True).fill(password)
    # Until the page it lands on has loaded (or the form is back with its error): going elsewhere
    # sooner would abort that page, a failed request.
    with page.expect_navigation():
        page.get_by_role("button", name="Log in").click()


def test_a_customer_logs_in_with_a_password(page: Page, site: str, console_errors: ConsoleErrors) -> None:
    page.goto(site + "/")
    screenshot(page, "landing")
    log_in(page, site)
    expect(page).to_have_url(re.compile(r"/shop$"))
    expect(page.get_by_role("heading", name="Shop", exact=True)).to_be_visible()
    expect(page.locator("[data-sku]").first).to_be_visible()
    expect(page.get_by_role("button", name="Log out")).to_be_visible()
    screenshot(page, "shop")
    page.set_viewport_size({"width": 390, "height": 844})  # a phone: nothing wider than the screen
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    screenshot(page, "shop-phone", full_page=False)
    page.set_viewport_size({"width": 1100, "height": 900})
    page.get_by_role("button", name="Log out").click()
    expect(page.get_by_role("button", name="Log in")).to_be_visible()


def test_a_wrong_password_is_said_on_the_page(page: Page, site: str, console_errors: ConsoleErrors) -> None:
    console_errors.allow("status of 401")
    log_in(page, site, password="not-the-password")
    expect(page.get_by_role("alert")).to_contain_text("do not match an account")
    expect(page.get_by_label("Username", exact=True)).to_have_value("customer")


def test_cart_checkout_and_the_status_changing_without_a_reload(
    page: Page, site: str, system: System, console_errors: ConsoleErrors
) -> None:
    log_in(page, site)
    expect(page).to_have_url(re.compile(r"/shop$"))
    page.get_by_label("In stock").check()
    page.get_by_role("button", name="Filter").click()
    page.get_by_role("button", name=re.compile(r"^Add .* to cart$")).first.click()
    expect(page).to_have_url(re.compile(r"/cart\?added=1$"))
    expect(page.get_by_role("button", name="Check out")).to_be_visible()
    screenshot(page, "cart")
    page.get_by_role("button", name="Check out").click()
    expect(page).to_have_url(re.compile(r"/orders\?placed=\d+$"))
    order_id = int(page.url.rsplit("=", 1)[1])
    row = page.locator(f'[data-order-id="{order_id}"]')
    expect(row.locator("[data-status]")).to_have_text("awaiting payment", timeout=15_000)

    # Paid elsewhere (the REST API, the customer's own token): the open page changes by itself.
    page.evaluate("window.__stillTheSamePage = true")
    page.wait_for_timeout(500)  # the page's stream is open before the change happens
    with httpx.Client(base_url=site, timeout=30) as api:
        token = api.post("/api/v1/auth/token", json={"username": "customer", "password": PASSWORD}).json()
        paid = api.post(f"/api/v1/orders/{order_id}/pay", headers={"Authorization": f"Bearer {token['access_token']}"})
        assert paid.status_code == 200, paid.text
    expect(row.locator("[data-status]")).to_have_text("paid", timeout=10_000)
    assert page.evaluate("window.__stillTheSamePage") is True
    expect(row.get_by_role("button", name=re.compile("^Pay"))).to_have_count(0)
    # Paid, it gets its preparation task and worker, still on the same page.
    expect(row.locator("[data-task-status]").first).to_have_attribute("data-task-status", "assigned", timeout=10_000)
    assert page.evaluate("window.__stillTheSamePage") is True
    screenshot(page, "orders", full_page=False)

    # A second order, paid with the page's own button.
    page.goto(site + "/shop?in_stock=1")
    page.get_by_role("button", name=re.compile(r"^Add .* to cart$")).first.click()
    page.get_by_role("button", name="Check out").click()
    second = int(page.url.rsplit("=", 1)[1])
    row = page.locator(f'[data-order-id="{second}"]')
    expect(row.locator("[data-status]")).to_have_text("awaiting payment", timeout=15_000)
    row.get_by_role("button", name=f"Pay order {second}").click()
    expect(page.locator(f'[data-order-id="{second}"] [data-status]')).to_have_text("paid", timeout=10_000)
    page.goto(f"{site}/orders/{second}")
    expect(page.locator("[data-status]")).to_have_text("paid")
    screenshot(page, "order")


def test_an_order_placed_elsewhere_comes_onto_the_open_orders_page(
    page: Page, site: str, system: System, console_errors: ConsoleErrors
) -> None:
    log_in(page, site)
    page.goto(site + "/orders")
    page.evaluate("window.__stillTheSamePage = true")
    page.wait_for_timeout(500)  # the page's stream is open before the order is placed
    with httpx.Client(base_url=site, timeout=30) as api:  # another tab, or the mobile app
        token = api.post("/api/v1/auth/token", json={"username": "customer", "password": PASSWORD}).json()
        headers = {"Authorization": f"Bearer {token['access_token']}"}
        listing = api.get("/api/v1/products", params={"in_stock": "true", "limit": 50}).json()["items"]
        placed = api.post("/api/v1/orders", json={"items": [{"sku": listing[0]["sku"], "count": 1}]}, headers=headers)
        assert placed.status_code == 201, placed.text
    order_id = placed.json()["order_id"]
    row = page.locator(f'[data-order-id="{order_id}"]')
    expect(row.locator("[data-status]")).to_have_text("awaiting payment", timeout=10_000)
    expect(page.locator("#orders > article").first).to_have_attribute("data-order-id", str(order_id))
    expect(row).to_have_count(1)
    assert page.evaluate("window.__stillTheSamePage") is True
    # It is followed from now on like the others: cancelled elsewhere, it says so here.
    with httpx.Client(base_url=site, timeout=30) as api:
        cancelled = api.post(f"/api/v1/orders/{order_id}/cancel", headers=headers)
        assert cancelled.status_code == 200, cancelled.text
    expect(row.locator("[data-status]")).to_have_text("cancelled", timeout=10_000)
    expect(row).to_have_count(1)


def test_a_guest_searches_tables_and_requests_a_booking(page: Page, site: str, console_errors: ConsoleErrors) -> None:
    start = datetime.now(UTC).replace(hour=18, minute=0, second=0, microsecond=0) + timedelta(days=12)
    page.goto(site + "/tables")
    page.get_by_label("Seats").fill("2")
    page.get_by_label("From").fill(start.strftime("%Y-%m-%dT%H:%M"))
    page.get_by_label("To").fill((start + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M"))
    page.get_by_role("button", name="Search").click()
    expect(page.locator("[data-table-id]").first).to_be_visible()
    screenshot(page, "tables")
    page.locator("[data-table-id]").first.get_by_role("button").click()
    page.get_by_label("Name", exact=True).fill("Greta Guest")
    page.get_by_label("Email", exact=True).fill("greta@guests.test")
    page.get_by_role("button", name="Request booking").click()
    expect(page.locator("[data-status]")).to_have_attribute("data-status", "pending")
    expect(page.get_by_role("status")).to_contain_text("greta@guests.test")


def test_a_form_without_its_token_is_refused(page: Page, site: str, console_errors: ConsoleErrors) -> None:
    log_in(page, site)
    expect(page).to_have_url(re.compile(r"/shop$"))
    page.goto(site + "/shop?in_stock=1")
    console_errors.allow("status of 403")
    page.locator('form[action="/cart/items"] input[name="csrf_token"]').first.evaluate("e => e.value = 'forged'")
    with page.expect_response(lambda r: r.url.endswith("/cart/items")) as answer:
        page.get_by_role("button", name=re.compile(r"^Add .* to cart$")).first.click()
    assert answer.value.status == 403
    expect(page.get_by_text("could not verify this request")).to_be_visible()


def _codes_to(mail_api: str, address: str) -> list[str]:
    """The sign-in codes mailed to the address so far, oldest first."""
    with httpx.Client(base_url=mail_api, timeout=10) as mail:
        listing = mail.get("/api/v1/messages", params={"limit": 5000}).json()["messages"]
        ids = [m["ID"] for m in listing if any(t["Address"] == address for t in m["To"]) and "code" in m["Subject"]]
        texts = [mail.get(f"/api/v1/message/{i}").json()["Text"] for i in reversed(ids)]
    return [m.group(0) for text in texts if (m := re.search(r"(?<!\d)\d{6}(?!\d)", text))]


def test_a_customer_signs_in_with_an_emailed_code(
    page: Page, site: str, system: System, console_errors: ConsoleErrors
) -> None:
    address = "customer@shop.example"
    before = len(_codes_to(system.mail_api, address))
    page.goto(site + "/")
    page.get_by_label("Email", exact=True).fill(address)
    page.get_by_role("button", name="Email me a code").click()
    expect(page.get_by_label("Code", exact=True)).to_be_visible()
    codes: list[str] = []
    for _ in range(100):
        codes = _codes_to(system.mail_api, address)
        if len(codes) > before:
            break
        page.wait_for_timeout(100)
    assert len(codes) > before, "no code mailed"
    page.get_by_label("Code", exact=True).fill(codes[-1])
    page.get_by_role("button", name="Verify").click()
    expect(page).to_have_url(re.compile(r"/shop$"))
    expect(page.get_by_role("button", name="Log out")).to_be_visible()
