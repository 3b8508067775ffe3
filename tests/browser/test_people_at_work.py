"""The staff's pages and the guest's emailed link in a real browser: a new order and its task
appearing on the manager's open desk, a worker's Start and Done on `/tasks` changing the customer's
open order page and the desk without a reload; a guest's request appearing on the manager's open
`/manage/bookings`, confirmed there, and the guest's e-mail arriving; a guest booking at `/tables`
and cancelling from the link in the e-mail, the manager's open page saying so; another manager's
change of the stock on the manager's open `/manage/stock`; another manager's prices on the open
`/manage/products` and a customer's open `/shop`, which ask again (the catalogue sends no events)."""

from __future__ import annotations

import random
import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from playwright.sync_api import Browser, BrowserContext, Locator, Page, expect

from tests.e2e.conftest import System

from .conftest import ConsoleErrors, screenshot, wait_for_mail, watch
from .test_pages import PASSWORD, log_in

CANCEL_LINK = re.compile(r"/bookings/cancel/([A-Za-z0-9_\-]+)")


def bearer(api: httpx.Client, username: str) -> dict[str, str]:
    token = api.post("/api/v1/auth/token", json={"username": username, "password": PASSWORD})
    assert token.status_code == 200, token.text
    return {"Authorization": f"Bearer {token.json()['access_token']}"}


def signed_in_elsewhere(
    browser: Browser, context_args: dict[str, Any], site: str, username: str
) -> tuple[BrowserContext, Page, ConsoleErrors]:
    """Another person at another browser (a context of its own: their own cookies), signed in,
    their page's errors collected."""
    context = browser.new_context(**context_args)
    page = context.new_page()
    errors = watch(page)
    log_in(page, site, username)
    return context, page, errors


def in_stock_sku(api: httpx.Client, category: str) -> int:
    found = api.get("/api/v1/products", params={"category": category, "in_stock": "true", "limit": 100})
    assert found.status_code == 200, found.text
    return next(int(p["sku"]) for p in found.json()["items"] if p["quantity_in_stock"] >= 5)


def test_a_workers_start_and_done_change_the_customers_open_page(
    page: Page,
    browser: Browser,
    browser_context_args: dict[str, Any],
    site: str,
    console_errors: ConsoleErrors,
) -> None:
    # A manager's desk is open before the order is placed: new orders and tasks, and every move, reach it.
    desk_context, desk, desk_errors = signed_in_elsewhere(browser, browser_context_args, site, "admin")
    expect(desk).to_have_url(re.compile(r"/manage$"))
    desk.evaluate("window.__stillTheSamePage = true")
    desk.wait_for_timeout(500)  # its stream is open before the order is placed
    with httpx.Client(base_url=site, timeout=30) as api:
        customer = bearer(api, "customer")
        worker = api.get("/api/v1/users/me", headers=bearer(api, "worker-drums")).json()
        placed = api.post("/api/v1/orders", json={"items": [{"sku": in_stock_sku(api, "drums"), "count": 1}]},
                          headers={**customer, "Prefer": "wait=10"})  # fmt: skip
        assert placed.status_code == 201, placed.text
        order_id = int(placed.json()["order_id"])
        desk_row = desk.locator(f'#orders [data-order-id="{order_id}"]')
        expect(desk_row.locator("[data-status]")).to_have_text("awaiting payment", timeout=15_000)
        expect(desk.locator("#orders > [data-order-id]").first).to_have_attribute("data-order-id", str(order_id))

        # The customer watches their orders; the worker their board, in a browser of their own.
        log_in(page, site)
        page.goto(site + "/orders")
        row = page.locator(f'[data-order-id="{order_id}"]')
        expect(row.locator("[data-status]")).to_have_text("awaiting payment", timeout=15_000)
        page.evaluate("window.__stillTheSamePage = true")
        board_context, board, board_errors = signed_in_elsewhere(browser, browser_context_args, site, "worker-drums")
        expect(board).to_have_url(re.compile(r"/tasks$"))
        board.evaluate("window.__stillTheSamePage = true")
        board.wait_for_timeout(500)  # the streams are open before the order is paid

        paid = api.post(f"/api/v1/orders/{order_id}/pay", headers=customer)
        assert paid.status_code == 200, paid.text

    # The new assignment appears on the board, and the task with its worker on the customer's page.
    card = board.locator(f'[data-task-id][data-order-id="{order_id}"]')
    expect(card).to_be_visible(timeout=15_000)
    task_id = card.get_attribute("data-task-id")
    expect(card.locator("[data-status]")).to_have_attribute("data-status", "assigned")
    expect(row.locator("[data-status]")).to_have_text("paid", timeout=10_000)
    task_on_order = row.locator(f'[data-task-id="{task_id}"]')
    expect(task_on_order.locator("[data-task-status]")).to_have_attribute("data-task-status", "assigned")
    expect(task_on_order).to_contain_text(worker["first_name"])
    expect(desk_row.locator("[data-status]")).to_have_text("paid", timeout=10_000)
    desk_task = desk.locator(f'#tasks [data-task-id="{task_id}"]')  # the desk's task list took the new task
    expect(desk_task.locator("[data-status]")).to_have_attribute("data-status", "assigned", timeout=10_000)
    expect(desk_task).to_contain_text(worker["first_name"])
    screenshot(board, "tasks", full_page=False)

    board.get_by_role("button", name=f"Start task {task_id}").click()
    expect(card.locator("[data-status]")).to_have_attribute("data-status", "in_progress", timeout=10_000)
    expect(task_on_order.locator("[data-task-status]")).to_have_attribute(
        "data-task-status", "in_progress", timeout=10_000
    )
    expect(desk_row.locator(f'[data-task-id="{task_id}"] [data-task-status]')).to_have_attribute(
        "data-task-status", "in_progress", timeout=10_000
    )
    expect(desk_task.locator("[data-status]")).to_have_attribute("data-status", "in_progress", timeout=10_000)
    board.get_by_role("button", name=f"Done with task {task_id}").click()
    expect(card.locator("[data-status]")).to_have_attribute("data-status", "done", timeout=10_000)
    expect(row.locator("[data-status]")).to_have_text("completed", timeout=10_000)
    expect(task_on_order.locator("[data-task-status]")).to_have_attribute("data-task-status", "done")
    expect(task_on_order).to_contain_text(worker["first_name"])
    assert page.evaluate("window.__stillTheSamePage") is True

    # The order's own page says the same.
    page.goto(f"{site}/orders/{order_id}")
    expect(page.locator("[data-status]").first).to_have_text("completed")
    expect(page.locator(f'[data-task-id="{task_id}"]')).to_contain_text(worker["first_name"])
    expect(desk_row.locator(f'[data-task-id="{task_id}"] [data-task-status]')).to_have_attribute(
        "data-task-status", "done", timeout=10_000
    )
    expect(desk_row.locator("[data-status]")).to_have_text("completed")
    expect(desk_task.locator("[data-status]")).to_have_attribute("data-status", "done")
    assert desk.evaluate("window.__stillTheSamePage") is True
    board_context.close()
    desk_context.close()
    assert board_errors.unexpected() == [], board_errors
    assert desk_errors.unexpected() == [], desk_errors


def request_booking(page: Page, site: str, name: str, email: str) -> int:
    """A guest's booking request through `/tables`, on a day of its own; its id."""
    day = datetime.now(UTC).replace(minute=0, second=0, microsecond=0) + timedelta(days=random.randrange(20, 350))
    start = day.replace(hour=random.randrange(11, 20))
    page.goto(site + "/tables")
    page.get_by_label("Seats").fill("2")
    page.get_by_label("From").fill(start.strftime("%Y-%m-%dT%H:%M"))
    page.get_by_label("To").fill((start + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M"))
    page.get_by_role("button", name="Search").click()
    page.locator("[data-table-id]").first.get_by_role("button").click()
    page.get_by_label("Name", exact=True).fill(name)
    page.get_by_label("Email", exact=True).fill(email)
    page.get_by_role("button", name="Request booking").click()
    expect(page.locator("[data-status]")).to_have_attribute("data-status", "pending")
    return int(page.locator("[data-booking-id]").get_attribute("data-booking-id") or 0)


def test_a_manager_confirms_a_booking_and_the_guest_is_emailed(
    page: Page,
    browser: Browser,
    browser_context_args: dict[str, Any],
    site: str,
    system: System,
    console_errors: ConsoleErrors,
) -> None:
    guest = f"hanna.{random.randrange(10**9)}@guests.test"
    desk_context, desk, desk_errors = signed_in_elsewhere(browser, browser_context_args, site, "admin")
    expect(desk).to_have_url(re.compile(r"/manage$"))
    screenshot(desk, "manage", full_page=False)  # the order the worker completed above, with its task
    desk.goto(site + "/manage/bookings")
    desk.wait_for_timeout(500)  # its stream is open before the guest asks

    # The guest's request appears on the manager's open page, at the top of its list.
    booking_id = request_booking(page, site, "Hanna Host", guest)
    card = desk.locator(f'[data-booking-id="{booking_id}"]')
    expect(card.locator("[data-status]")).to_have_attribute("data-status", "pending", timeout=15_000)
    expect(desk.locator("#bookings > [data-booking-id]").first).to_have_attribute("data-booking-id", str(booking_id))
    screenshot(desk, "manage-bookings", full_page=False)
    card.get_by_role("button", name=f"Confirm booking {booking_id}").click()
    expect(desk.get_by_role("status").first).to_be_visible()
    expect(desk.locator(f'[data-booking-id="{booking_id}"] [data-status]')).to_have_attribute(
        "data-status", "confirmed"
    )
    confirmed = wait_for_mail(system.mail_api, guest, f"Booking {booking_id} is confirmed")
    assert "Hanna Host" in confirmed["Text"] or str(booking_id) in confirmed["Text"]
    desk_context.close()
    assert desk_errors.unexpected() == [], desk_errors


def test_a_guest_cancels_from_the_emailed_link(
    page: Page,
    browser: Browser,
    browser_context_args: dict[str, Any],
    site: str,
    system: System,
    console_errors: ConsoleErrors,
) -> None:
    guest = f"gus.{random.randrange(10**9)}@guests.test"
    booking_id = request_booking(page, site, "Gus Guest", guest)
    received = wait_for_mail(system.mail_api, guest, f"Booking {booking_id} received")
    link = CANCEL_LINK.search(received["Text"])
    assert link is not None, received["Text"]
    # A manager has the bookings open: the guest's cancelling shows there without a reload.
    desk_context, desk, desk_errors = signed_in_elsewhere(browser, browser_context_args, site, "admin")
    desk.goto(site + "/manage/bookings")
    on_desk = desk.locator(f'[data-booking-id="{booking_id}"] [data-status]')
    expect(on_desk).to_have_attribute("data-status", "pending")
    desk.wait_for_timeout(500)  # its stream is open before the guest cancels

    page.goto(f"{site}/bookings/cancel/{link.group(1)}")  # the path of the link, on this test's checkout
    expect(page.locator(f'[data-booking-id="{booking_id}"]')).to_be_visible()
    expect(page.locator("[data-status]")).to_have_attribute("data-status", "pending")
    screenshot(page, "booking-cancel", full_page=False)
    page.get_by_role("button", name="Cancel").click()
    expect(page.locator("[data-status]")).to_have_attribute("data-status", "cancelled")
    expect(page.get_by_role("button", name="Cancel")).to_have_count(0)
    wait_for_mail(system.mail_api, guest, f"Booking {booking_id} is cancelled")
    expect(on_desk).to_have_attribute("data-status", "cancelled", timeout=10_000)
    expect(on_desk).to_have_text("Cancelled by the guest")
    desk_context.close()
    assert desk_errors.unexpected() == [], desk_errors

    # The link again: it worked once, and the page says so in words.
    console_errors.allow(f"status of 404: GET {site}/bookings/cancel/")
    console_errors.allow("status of 404 (Not Found)")
    page.goto(f"{site}/bookings/cancel/{link.group(1)}")
    expect(page.get_by_role("heading", level=1)).to_contain_text("already been used")
    expect(page.get_by_role("button", name="Cancel")).to_have_count(0)


def test_a_managers_stock_page_follows_other_changes_and_keeps_a_count_being_typed(
    page: Page, site: str, system: System, console_errors: ConsoleErrors
) -> None:
    """Another manager receives units of two skus while this one types a new count of the second:
    both rows show the new totals without a reload; the typed count stays, with the focus."""
    log_in(page, site, "admin")
    with httpx.Client(base_url=site, timeout=30) as api, httpx.Client(base_url=system.url("loms"), timeout=30) as loms:
        staff = bearer(api, "admin")
        warehouse = loms.get("/api/v1/warehouses", headers=staff).json()[0]["id"]
        first, second = loms.get(f"/api/v1/warehouses/{warehouse}/stocks", params={"limit": 2},
                                 headers=staff).json()["items"]  # fmt: skip
        page.goto(f"{site}/manage/stock?warehouse={warehouse}")
        page.evaluate("window.__stillTheSamePage = true")
        page.wait_for_timeout(500)  # its stream is open before the units arrive
        typing = page.locator(f"#total-{second['sku']}")
        typing.fill("77")

        def receive(sku: int, units: int) -> None:
            r = loms.post(f"/api/v1/warehouses/{warehouse}/stocks/{sku}/adjust", json={"delta": units},
                          headers={**staff, "Idempotency-Key": uuid.uuid4().hex})  # fmt: skip
            assert r.status_code == 200, r.text

        def total_of(sku: int) -> Locator:
            return page.locator(f'tr[data-sku="{sku}"] td.num').first

        receive(first["sku"], 2)
        expect(total_of(first["sku"])).to_have_text(str(first["total"] + 2), timeout=15_000)
        expect(page.locator(f"#total-{first['sku']}")).to_have_value(str(first["total"] + 2))  # nothing typed there
        receive(second["sku"], 1)
        expect(total_of(second["sku"])).to_have_text(str(second["total"] + 1), timeout=15_000)
        expect(typing).to_have_value("77")
        expect(typing).to_be_focused()
        assert page.evaluate("window.__stillTheSamePage") is True
        screenshot(page, "manage-stock", full_page=False)
        receive(first["sku"], -2)
        receive(second["sku"], -1)


def test_a_managers_bookings_desk_follows_another_managers_tables(
    page: Page, site: str, system: System, console_errors: ConsoleErrors
) -> None:
    """Another manager closes a table and adds one while this one is renaming a third: the closed
    table's card says so, the new table appears at the end of the list, the typed name stays."""
    log_in(page, site, "admin")
    bookings_url = system.url("bookings")
    with httpx.Client(base_url=site, timeout=30) as api, httpx.Client(base_url=bookings_url, timeout=30) as desk_api:
        staff = bearer(api, "admin")
        tables = desk_api.get("/api/v1/tables", params={"include_closed": "true"}, headers=staff).json()["items"]
        open_table = next(t for t in tables if t["bookable"])
        renamed = next(t for t in tables if t["table_id"] != open_table["table_id"])
        page.goto(f"{site}/manage/bookings")
        page.evaluate("window.__stillTheSamePage = true")
        page.wait_for_timeout(500)  # its stream is open before the other manager acts
        typing = page.locator(f"#name-{renamed['table_id']}")
        typing.fill("Renamed by me")

        def patch(table: dict[str, Any], **changes: Any) -> None:
            r = desk_api.patch(f"/api/v1/tables/{table['table_id']}", json=changes, headers=staff)
            assert r.status_code == 200, r.text

        patch(open_table, bookable=False)
        card = page.locator(f'[data-table-id="{open_table["table_id"]}"]')
        expect(card.locator("[data-status]")).to_have_attribute("data-status", "closed", timeout=15_000)
        expect(card.get_by_role("button", name=f"Open {open_table['name']}")).to_be_visible()
        name = f"Garden {random.randrange(10**6)}"
        made = desk_api.post("/api/v1/tables", json={"name": name, "kind": "cabin", "seats": 6, "price": 5000},
                             headers=staff)  # fmt: skip
        assert made.status_code == 201, made.text
        expect(page.locator("#tables > [data-table-id]").last).to_have_attribute(
            "data-table-id", str(made.json()["table_id"]), timeout=15_000
        )
        # The card being typed in changes: its untouched field takes the new seats, the typed name stays.
        patch(renamed, seats=renamed["seats"] + 1)
        expect(page.locator(f"#seats-{renamed['table_id']}")).to_have_value(str(renamed["seats"] + 1), timeout=15_000)
        expect(typing).to_have_value("Renamed by me")
        patch(renamed, seats=renamed["seats"])
        patch(open_table, bookable=True)
        expect(card.locator("[data-status]")).to_have_attribute("data-status", "open", timeout=15_000)
        expect(page.locator(f"#seats-{renamed['table_id']}")).to_have_value(str(renamed["seats"]), timeout=15_000)
        assert page.evaluate("window.__stillTheSamePage") is True
        screenshot(page, "manage-tables", full_page=False)


def test_open_catalogue_pages_follow_another_managers_prices_and_keep_an_edit_being_typed(
    page: Page, site: str, system: System, browser: Browser, browser_context_args: dict[str, Any],
    console_errors: ConsoleErrors,
) -> None:  # fmt: skip
    """Another manager changes two prices in the catalogue (product-stub sends no events: the open
    lists ask again, every second in these tests) while this manager is renaming the first product
    in its opened edit form: both cards show the new prices without a reload, the edit form stays
    open with the typed name and the focus, its untouched price field takes the new price; a
    customer's open shop shows the second price too."""
    log_in(page, site, "admin")
    customer, shop, shop_errors = signed_in_elsewhere(browser, browser_context_args, site, "customer")
    with httpx.Client(base_url=site, timeout=30) as api, \
            httpx.Client(base_url=system.url("product-stub"), timeout=30) as stub:  # fmt: skip
        staff = bearer(api, "admin")
        shop.goto(f"{site}/shop")
        first, second = (
            int(s) for s in shop.locator("li[data-sku]").evaluate_all("cards => cards.map(c => c.dataset.sku)")[:2]
        )
        before = {sku: stub.get(f"/api/v1/products/{sku}").json() for sku in (first, second)}
        page.goto(f"{site}/manage/products")
        page.evaluate("window.__stillTheSamePage = true")
        card = page.locator(f'article[data-sku="{first}"]')
        card.locator("summary").click()
        typing = page.locator(f"#name-{first}")
        typing.fill("Renamed by me")

        def price(sku: int, minor: int) -> None:
            r = stub.patch(f"/api/v1/products/{sku}", json={"price": minor}, headers=staff)
            assert r.status_code == 200, r.text

        new = {sku: before[sku]["price"] + 123 for sku in (first, second)}
        try:
            for sku in (first, second):
                price(sku, new[sku])
            words = {sku: f"{new[sku] // 100:,}.{new[sku] % 100:02d}" for sku in new}
            expect(card.locator(".order-head p")).to_have_text(words[first], timeout=15_000)
            expect(page.locator(f'article[data-sku="{second}"] .order-head p')).to_have_text(words[second])
            expect(page.locator(f"#price-{first}")).to_have_value(words[first].replace(",", ""))
            expect(typing).to_have_value("Renamed by me")
            expect(typing).to_be_focused()
            expect(page.locator(f"#edit-{first}")).to_have_attribute("open", "")
            assert page.evaluate("window.__stillTheSamePage") is True
            expect(shop.locator(f'li[data-sku="{second}"] dd').nth(2)).to_have_text(words[second], timeout=15_000)
            screenshot(page, "manage-products", full_page=False)
        finally:
            for sku in (first, second):
                price(sku, before[sku]["price"])
    assert not shop_errors.unexpected(), shop_errors
    customer.close()
