"""The workers' board and the manager's desk in-process (LOMS and bookings down, identity real):
who may open them, refusals in words, forged forms refused, and workers made, recategorised and
deactivated through identity's use cases."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import httpx
import pytest

from checkout.identity.demo import DEMO_PASSWORD, load_identity_demo
from checkout.shopping.schemas import Order
from checkout.web.pages import environment, render_fragment, table_view
from checkout.web.shop import order_view

from .conftest import CheckoutFactory
from .test_shop_pages import CSRF_FIELD, words


@pytest.fixture
async def web(checkout: CheckoutFactory, checkout_db: str) -> AsyncIterator[httpx.AsyncClient]:
    await load_identity_demo(checkout_db, {"APP_ENV": "dev"})
    yield await checkout(notifications_url="http://127.0.0.1:9")


async def sign_in(web: httpx.AsyncClient, username: str) -> str:
    token = CSRF_FIELD.search((await web.get("/")).text).group(1)  # type: ignore[union-attr]
    r = await web.post("/login", data={"csrf_token": token, "username": username, "password": DEMO_PASSWORD})
    assert r.status_code == 303, words(r)
    return token


async def test_each_board_is_for_its_role(web: httpx.AsyncClient) -> None:
    for path in ("/manage/workers", "/manage/bookings"):
        r = await web.get(path)
        assert r.status_code == 303 and r.headers["location"] == f"/?next={path}", path
    await sign_in(web, "customer")
    for path in ("/tasks", "/manage", "/manage/workers", "/manage/bookings"):
        r = await web.get(path)
        assert r.status_code == 403 and "This page is for the" in words(r), path


async def test_a_deactivated_or_re_roled_account_loses_its_pages_at_once(
    checkout: CheckoutFactory, checkout_db: str
) -> None:
    """Not when its access token expires (up to CHECKOUT_ACCESS_TOKEN_TTL later)."""
    await load_identity_demo(checkout_db, {"APP_ENV": "dev"})
    web = await checkout(notifications_url="http://127.0.0.1:9", standing_seconds=0)
    admin = await web.post("/api/v1/auth/token", json={"username": "admin", "password": DEMO_PASSWORD})
    staff = {"Authorization": f"Bearer {admin.json()['access_token']}"}
    for change in ({"role": "customer"}, {"active": False}):
        name, password = f"temp{uuid.uuid4().hex[:8]}", "a-long-enough-passphrase-42"
        made = await web.post("/api/v1/users", headers=staff, json={
            "username": name, "email": f"{name}@shop.example", "password": password, "first_name": "Tem",
            "last_name": "Porary", "role": "worker", "categories": ["drums"]})  # fmt: skip
        assert made.status_code == 201, made.text
        worker = made.json()
        token = CSRF_FIELD.search((await web.get("/")).text).group(1)  # type: ignore[union-attr]
        signed = await web.post("/login", data={"csrf_token": token, "username": name, "password": password})
        assert signed.status_code == 303, words(signed)
        assert (await web.get("/tasks")).status_code == 503  # signed in; LOMS is down
        changed = await web.patch(f"/api/v1/users/{worker['id']}", headers=staff, json=change)
        assert changed.status_code == 200, changed.text
        r = await web.get("/tasks")
        assert r.status_code == 303 and r.headers["location"] == "/?next=/tasks", (change, r.status_code)
        web.cookies.clear()


async def test_the_worker_board_says_in_words_when_loms_is_down(web: httpx.AsyncClient) -> None:
    token = await sign_in(web, "worker-guitars")
    r = await web.get("/tasks")
    assert r.status_code == 503 and r.headers["content-type"].startswith("text/html")
    assert "My tasks" in words(r) and '"type"' not in r.text
    r = await web.post("/tasks/5/start", data={"csrf_token": token})
    assert r.status_code == 503 and '"type"' not in r.text
    r = await web.post("/tasks/5/done", data={"csrf_token": "forged" + token[6:]})
    assert r.status_code == 403 and "could not verify this request" in words(r)


async def test_the_desk_shows_what_it_can_and_says_the_rest(web: httpx.AsyncClient) -> None:
    token = await sign_in(web, "admin")
    r = await web.get("/manage")
    assert r.status_code == 503 and "Orders:" in words(r) and "Tasks:" in words(r)
    assert "Gwen Fretwell" in r.text  # the workers are identity's own, listed for the filter and assigning
    # Its live stream names what the page shows; its unfiltered lists take new orders and tasks.
    assert 'sse-connect="/live?new=orders%2Ctasks"' in r.text
    r = await web.get("/manage", params={"status": "paid"})
    assert 'sse-connect="/live?new=tasks"' in r.text and 'sse-swap="order-new"' not in r.text
    r = await web.get("/manage", params={"customer": "someone"})
    assert r.status_code == 422 and "Customer must be a whole number" in words(r)
    r = await web.get("/manage/bookings")
    assert r.status_code == 503 and "could not reach the booking system" in words(r)
    for path in ("/manage/tasks/3/assign", "/manage/workers", "/manage/workers/3/deactivate",
                 "/manage/bookings/3/confirm", "/manage/tables", "/manage/tables/3/price"):  # fmt: skip
        r = await web.post(path, data={"csrf_token": "forged" + token[6:], "worker_id": "3", "price": "1"})
        assert r.status_code == 403 and "could not verify this request" in words(r), (path, r.text[:500])


async def test_a_manager_makes_recategorises_and_deactivates_a_worker(web: httpx.AsyncClient) -> None:
    token = await sign_in(web, "admin")
    form = {"csrf_token": token, "username": "wendy", "email": "wendy@shop.example", "password": "short",
            "first_name": "Wendy", "last_name": "Packer", "category:drums": "1"}  # fmt: skip
    r = await web.post("/manage/workers", data=form)
    assert r.status_code == 422 and "Password" in words(r) and 'value="wendy"' in r.text
    # A shop of many categories: a form with forty ticked is read, not taken for a forged one.
    many = {f"category:c{i}": "1" for i in range(40)}
    r = await web.post("/manage/workers", data={**form, **many})
    assert r.status_code == 422 and "could not verify" not in words(r) and "Password" in words(r)
    r = await web.post("/manage/workers", data={**form, "password": "a-long-enough-passphrase-42"})
    assert r.status_code == 303, words(r)
    page = await web.get(r.headers["location"])
    assert "Worker wendy created." in words(page)
    wendy = page.text.split('data-user-id="')[-1]
    user_id = int(wendy.split('"', 1)[0])
    assert "Wendy Packer" in wendy and f'id="cat-{user_id}-drums" name="category:drums" value="1" checked' in wendy
    r = await web.post(f"/manage/workers/{user_id}/categories", data={"csrf_token": token, "category:wind": "1"})
    assert r.status_code == 303
    r = await web.post(f"/manage/workers/{user_id}/deactivate", data={"csrf_token": token})
    assert r.status_code == 303
    wendy = (await web.get("/manage/workers")).text.split(f'data-user-id="{user_id}"')[1].split("</article>")[0]
    assert 'name="category:wind" value="1" checked' in wendy and 'name="category:drums" value="1" checked' not in wendy
    assert 'data-status="deactivated"' in wendy and "Activate</button>" in wendy
    # The worker cannot sign in any more.
    await web.post("/logout", data={"csrf_token": token})
    landing = CSRF_FIELD.search((await web.get("/")).text).group(1)  # type: ignore[union-attr]
    r = await web.post("/login", data={"csrf_token": landing, "username": "wendy",
                                       "password": "a-long-enough-passphrase-42"})  # fmt: skip
    assert r.status_code != 303


def test_an_orders_tasks_and_their_workers_are_shown() -> None:
    env = environment()
    order = order_view(Order.model_validate({
        "order_id": 4, "user_id": 1, "status": "paid", "items": [{"sku": 1, "count": 1}], "total_price": 900,
        "tasks": [{"task_id": 7, "category": "drums", "worker_id": 12, "status": "in_progress"},
                  {"task_id": 8, "category": "wind", "worker_id": None, "status": "unassigned"}],
    }))  # fmt: skip
    detail = render_fragment(env, "order.html.j2", "order_detail", order=order, names={}, csrf_token="t",
                             workers={12: "Dana Skinner"})  # fmt: skip
    assert 'data-task-id="7"' in detail and "Dana Skinner" in detail and "in progress" in detail
    assert "not assigned yet" in detail and "waiting for a worker" in detail
    row = render_fragment(env, "orders.html.j2", "order_row", order=order, csrf_token="t", workers={12: "Dana Skinner"})
    assert 'data-task-id="8"' in row and "Dana Skinner" in row and "by <a" not in row
    # On the desk the row says whose order it is, and its link filters the desk to that customer.
    desk = render_fragment(env, "orders.html.j2", "order_row", order=order, csrf_token="t", staff=True,
                           workers={12: "Dana Skinner", 1: "Cara Customer"})  # fmt: skip
    assert ' · by <a href="/manage?customer=1">Cara Customer</a>' in desk


def test_the_desks_live_rows_are_the_pages_own_markup() -> None:
    env = environment()
    task = {"task_id": 9, "order_id": 4, "category": "drums", "worker_id": 12, "status": "assigned"}
    workers = [
        {
            "id": 12,
            "username": "dana",
            "first_name": "Dana",
            "last_name": "Skinner",
            "active": True,
            "categories": ["drums"],
        }
    ]
    row = render_fragment(env, "manage.html.j2", "task_row", task=task, names={12: "Dana Skinner"}, workers=workers,
                          csrf_token="t")  # fmt: skip
    assert row.lstrip().startswith('<tr data-task-id="9" sse-swap="task-9" hx-swap="outerHTML">')
    assert "Dana Skinner" in row and "Assign task 9" in row
    full = env.get_template("manage.html.j2").render(
        user=None, path="/manage", title="Manage", error=None, notice=None, csrf_token="t", orders=[],
        fields=dict.fromkeys(("status", "customer", "task_status", "worker"), ""),
        tasks=[task], workers=workers, names={12: "Dana Skinner"}, order_statuses=[], task_statuses=[],
        next_cursor=None, live="/live", live_new=(),
    )  # fmt: skip
    assert row.strip() in full
    order = order_view(Order(order_id=4, user_id=1, status="awaiting payment", items=[], total_price=900))
    mine = render_fragment(env, "orders.html.j2", "order_row", order=order, csrf_token="t", workers={}, staff=False)
    desk = render_fragment(env, "orders.html.j2", "order_row", order=order, csrf_token="t", workers={}, staff=True)
    assert "Pay</button>" in mine and "Pay</button>" not in desk and "Cancel</button>" not in desk


def test_the_stock_pages_live_rows_are_its_own_markup() -> None:
    env = environment()
    row = {"sku": 1001, "warehouse_id": 2, "total": 40, "reserved": 3, "available": 37}
    chosen = {"id": 2, "name": "North"}
    fragment = render_fragment(env, "manage_stock.html.j2", "stock_row", row=row, chosen={"id": 2},
                               names={1001: "Bass"}, csrf_token="t")  # fmt: skip
    assert fragment.lstrip().startswith('<tr data-sku="1001" sse-swap="stock-2-1001" hx-swap="outerHTML">')
    assert '<td class="num">40</td><td class="num">3</td><td class="num">37</td>' in fragment
    assert 'value="40"' in fragment and "Bass" in fragment
    full = env.get_template("manage_stock.html.j2").render(
        user=None, path="/manage/stock", title="Stock", error=None, notice=None, csrf_token="t", fields={},
        warehouses=[chosen], chosen=chosen, rows=[row], names={1001: "Bass"}, next_cursor=None, cursor=None,
        live="/live?skus=1001&stock=2",
    )  # fmt: skip
    assert fragment.strip() in full
    assert 'hx-ext="sse" sse-connect="/live?skus=1001&amp;stock=2"' in full
    assert "live.js" in full


def test_the_bookings_desks_live_table_cards_are_its_own_markup() -> None:
    env = environment()
    table = table_view({"table_id": 3, "name": "Window 3", "kind": "cabin", "seats": 4, "bookable": True,
                        "price": 4550})  # fmt: skip
    card = render_fragment(env, "manage_bookings.html.j2", "table_card", t=table, kinds=["regular", "cabin"],
                           csrf_token="t")  # fmt: skip
    assert card.lstrip().startswith('<article class="card" data-table-id="3" sse-swap="table-3" hx-swap="outerHTML">')
    assert 'value="45.50"' in card and "Close Window 3" in card
    full = env.get_template("manage_bookings.html.j2").render(
        user=None, path="/manage/bookings", title="Bookings", error=None, notice=None, csrf_token="t",
        bookings=[], tables=[table], kinds=["regular", "cabin"], statuses=[], wanted="",
        whens={"upcoming": "Now and upcoming", "all": "Past ones too"}, when="all", next_cursor="c2",
        live="/live?tables=3&new=tables", live_new=("tables",),
    )  # fmt: skip
    assert card.strip() in full
    assert '<option value="all" selected>Past ones too</option>' in full
    assert '<a href="/manage/bookings?status=&amp;when=all&amp;cursor=c2" rel="next">Later bookings</a>' in full
    assert 'sse-swap="table-new" hx-swap="beforeend"' in full and "live.js" in full


def test_a_task_no_worker_of_its_category_can_take_is_offered_to_the_others() -> None:
    """A category renamed since the task was made, or a deleted product's `uncategorised`: the desk
    offers every active worker, its own category's first (the API assigns to any active worker)."""
    env = environment()
    workers = [
        {"id": 7, "first_name": "Stella", "last_name": "Bow", "active": True, "categories": ["bowed strings"]},
        {"id": 8, "first_name": "Gone", "last_name": "Away", "active": False, "categories": ["strings"]},
        {"id": 9, "first_name": "Ken", "last_name": "Keys", "active": True, "categories": ["keyboards"]},
    ]
    row = render_fragment(env, "manage.html.j2", "task_row", task={"task_id": 5, "order_id": 3, "category": "strings",
                          "worker_id": None, "status": "unassigned"}, names={}, workers=workers, csrf_token="t")  # fmt: skip
    assert '<optgroup label="other categories">' in row and "Stella Bow" in row and "Ken Keys" in row
    assert "Gone Away" not in row and "No active worker" not in row
    ours = render_fragment(env, "manage.html.j2", "task_row", task={"task_id": 6, "order_id": 3, "category": "keyboards",
                           "worker_id": 9, "status": "assigned"}, names={}, workers=workers, csrf_token="t")  # fmt: skip
    assert ours.index('<optgroup label="keyboards">') < ours.index('<optgroup label="other categories">')
    assert '<option value="9" selected>Ken Keys</option>' in ours
    nobody = render_fragment(env, "manage.html.j2", "task_row", task={"task_id": 7, "order_id": 3, "category": "x",
                             "worker_id": None, "status": "unassigned"}, names={}, workers=[], csrf_token="t")  # fmt: skip
    assert '<option value="">No active worker</option>' in nobody
