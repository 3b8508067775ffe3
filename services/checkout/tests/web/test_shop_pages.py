"""The shop's pages without the services behind them (LOMS, product-stub, notifications down):
every page says so in words, signed-out visitors are sent to sign in, and the live relay's parts."""

from __future__ import annotations

import html
import re
from collections.abc import AsyncIterator

import httpx
import pytest
from starlette.datastructures import QueryParams

from checkout.identity.demo import DEMO_PASSWORD, load_identity_demo
from checkout.shopping.schemas import Order
from checkout.web.live import events
from checkout.web.live_frames import sse
from checkout.web.live_watch import NEW_ROWS_MAX, Watch, live_url
from checkout.web.pages import environment, render_fragment
from checkout.web.shop import order_view

from .conftest import CheckoutFactory

CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')


def words(r: httpx.Response) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", r.text)).split())


@pytest.fixture
async def web(checkout: CheckoutFactory, checkout_db: str) -> AsyncIterator[httpx.AsyncClient]:
    await load_identity_demo(checkout_db, {"APP_ENV": "dev"})
    client = await checkout(notifications_url="http://127.0.0.1:9")  # nothing listens on port 9
    yield client


async def signed_in(web: httpx.AsyncClient) -> str:
    landing = await web.get("/")
    token = CSRF_FIELD.search(landing.text).group(1)  # type: ignore[union-attr]
    r = await web.post("/login", data={"csrf_token": token, "username": "customer", "password": DEMO_PASSWORD})
    assert r.status_code == 303
    return token


async def test_signed_out_visitors_are_sent_to_sign_in(web: httpx.AsyncClient) -> None:
    for path in ("/cart", "/orders", "/orders/5", "/tasks", "/manage"):
        r = await web.get(path)
        assert r.status_code == 303 and r.headers["location"] == f"/?next={path}", path
    assert (await web.get("/live")).status_code == 401


async def test_a_browser_asking_for_a_page_that_is_not_there_gets_a_page(web: httpx.AsyncClient) -> None:
    html = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
    for path, status, said in [("/no-such-page", 404, "could not find that page"),
                               ("/orders/abc", 404, "could not find that page"),
                               ("/shop/products/0", 404, "could not find that page"),
                               ("/logout", 405, "a button's, not a page's")]:  # fmt: skip
        r = await web.get(path, headers=html)
        assert r.status_code == status and r.headers["content-type"].startswith("text/html"), (path, r.text[:200])
        assert said in words(r) and "Log in" in r.text, path
        # Anything that does not ask for a page (an API client) keeps the problem JSON.
        r = await web.get(path)
        assert r.status_code in (status, 422) and r.headers["content-type"] == "application/problem+json", path
    r = await web.get("/api/v1/no-such-thing", headers=html)
    assert r.status_code == 404 and r.headers["content-type"] == "application/problem+json"


async def test_a_form_sent_after_the_session_ended_signs_in_back_to_its_page(web: httpx.AsyncClient) -> None:
    """Not to the form's address: `GET /orders/5/pay` after signing in would be a 405."""
    token = await signed_in(web)
    web.cookies.delete("access_token")
    web.cookies.delete("refresh_token")
    base = str(web.base_url).rstrip("/")
    for referer, location in ((f"{base}/orders?cursor=c", "/?next=/orders%3Fcursor%3Dc"), (None, "/"),
                              ("https://elsewhere.example/orders", "/"), (f"{base}//evil.example/", "/")):  # fmt: skip
        headers = {"Referer": referer} if referer else {}
        r = await web.post("/orders/5/pay", data={"csrf_token": token}, headers=headers)
        assert r.status_code == 303 and r.headers["location"] == location, (referer, r.status_code, r.text[:300])


async def test_services_being_down_is_said_in_words(web: httpx.AsyncClient) -> None:
    r = await web.get("/shop")
    assert r.status_code == 503 and r.headers["content-type"].startswith("text/html")
    assert "{" not in words(r) and "Category" in words(r)
    await signed_in(web)
    for path in ("/orders", "/orders/7"):
        r = await web.get(path)
        assert r.status_code == 503 and r.headers["content-type"].startswith("text/html"), path
        assert '"type"' not in r.text
    r = await web.get("/live")
    assert r.status_code == 503 and "unavailable" in r.text


async def test_bad_filters_and_forged_forms_change_nothing(web: httpx.AsyncClient) -> None:
    r = await web.get("/shop", params={"min_price": "a lot"})
    assert r.status_code == 422 and "Min price must be an amount like 12.50." in words(r)
    token = await signed_in(web)
    for path in ("/cart/items", "/cart/checkout", "/orders/3/pay", "/orders/3/cancel", "/cart/items/3/remove"):
        r = await web.post(path, data={"csrf_token": "forged" + token[6:], "sku": "3"})
        assert r.status_code == 403 and "could not verify this request" in words(r), path


async def test_the_live_relay_reads_server_sent_events() -> None:
    async def lines() -> AsyncIterator[str]:
        for line in [": hb", "", "id: 1", "event: order.status_changed", 'data: {"a":', "data: 1}", "", "retry: 5", ""]:
            yield line

    got = [e async for e in events(lines())]
    assert got == [("", "", "hb"), ("order.status_changed", '{"a":\n1}', "")]
    assert sse("order-4", "<p>\n</p>") == b"event: order-4\ndata: <p>\ndata: </p>\n\n"


def test_a_managers_page_names_what_it_shows_and_the_relay_reads_only_that() -> None:
    url = live_url(orders=[3, 1], bookings=[7], new=["orders"])
    assert url == "/live?orders=3%2C1&bookings=7&new=orders"
    watch = Watch.of(QueryParams(url.split("?", 1)[1]))
    assert (watch.orders, watch.tasks, watch.bookings, watch.new) == ({1, 3}, set(), {7}, {"orders"})
    junk = Watch.of(QueryParams("orders=1,x,-2,%C2%B2,0,99999999999999999999,%204&tasks=" + ",".join(["5"] * 500)
                                + "&new=orders,everything,bookings"))  # fmt: skip
    assert (junk.orders, junk.tasks, junk.new) == ({1, 4}, {5}, {"orders", "bookings"})
    assert Watch.of(QueryParams("")) == Watch()


def test_a_stock_page_follows_its_rows_changes_and_the_orders_that_move_them() -> None:
    url = live_url(stock=2, skus=[5, 6])
    assert url == "/live?skus=5%2C6&stock=2"
    watch = Watch.of(QueryParams(url.split("?", 1)[1]))
    assert (watch.stock, watch.skus, watch.orders) == (2, {5, 6}, set())

    def order(status: str, *skus: object) -> dict[str, object]:
        return {"status": status, "items": [{"sku": sku, "count": 1} for sku in skus]}

    assert watch.stock_hit("stock.changed", {"warehouse_id": 2, "sku": 6}) == {6}
    assert watch.stock_hit("stock.changed", {"warehouse_id": 3, "sku": 6}) == set()  # another warehouse
    assert watch.stock_hit("stock.changed", {"warehouse_id": 2, "sku": 7}) == set()  # a row not on the page
    for status in ("awaiting payment", "paid", "cancelled"):  # reserved, taken, released
        assert watch.stock_hit("order.status_changed", order(status, 5, 6, 9)) == {5, 6}
    for status in ("new", "failed", "completed"):  # nothing in the warehouses moved
        assert watch.stock_hit("order.status_changed", order(status, 5)) == set()
    assert watch.stock_hit("order.status_changed", {"status": "paid", "items": "5"}) == set()
    assert watch.stock_hit("order.status_changed", order("paid", "5", None, [5])) == set()
    assert watch.stock_hit("task.status_changed", order("paid", 5)) == set()
    assert Watch.of(QueryParams("skus=5")).stock_hit("stock.changed", {"warehouse_id": 2, "sku": 5}) == set()
    assert Watch.of(QueryParams("skus=5")).skus == set()  # skus mean nothing without their warehouse
    tables = Watch.of(QueryParams(live_url(tables=[3, 4], new=["tables"]).split("?", 1)[1]))
    assert (tables.tables, tables.new) == ({3, 4}, {"tables"})
    assert tables.admit("tables", {"table_id": 9}, 9) == "row" and 9 in tables.tables


def test_an_open_list_takes_so_many_new_rows_then_says_there_are_more() -> None:
    watch = Watch.of(QueryParams("orders=1&new=orders"))
    assert watch.admit("tasks", {"previous_status": None}, 5) == ""  # this page takes no new tasks
    assert watch.admit("orders", {"previous_status": "new"}, 2) == ""  # not a new order's event
    answers = [
        watch.admit("orders", {"previous_status": None}, order_id) for order_id in range(2, 2 + NEW_ROWS_MAX + 3)
    ]
    assert answers == ["row"] * NEW_ROWS_MAX + ["more", "", ""]
    assert watch.orders == {1, *range(2, 2 + NEW_ROWS_MAX)}  # the new rows are followed from now on


def test_a_fragment_is_the_pages_own_markup() -> None:
    env = environment()
    order = order_view(Order(order_id=4, user_id=1, status="awaiting payment", items=[], total_price=900))
    row = render_fragment(env, "orders.html.j2", "order_row", order=order, csrf_token="t")
    assert row.lstrip().startswith('<article class="card" data-order-id="4" sse-swap="order-4"')
    assert 'data-status="awaiting payment"' in row and "Pay</button>" in row
    full = env.get_template("orders.html.j2").render(
        orders=[order], csrf_token="t", user=None, path="/orders", title="My orders", error=None, notice=None,
        next_cursor=None,
    )  # fmt: skip
    assert row.strip() in full


@pytest.mark.parametrize(("template", "block"), [("orders.html.j2", "order_row"), ("order.html.j2", "order_detail")])
def test_an_order_says_until_when_it_can_be_paid_and_why_it_was_cancelled(template: str, block: str) -> None:
    """In the list of orders and on the order's own page."""
    env = environment()

    def words_of(**fields: object) -> str:
        order = order_view(Order.model_validate({"order_id": 4, "user_id": 1, "items": [], **fields}))
        html_text = render_fragment(env, template, block, order=order, csrf_token="t", names={}, workers={})
        return " ".join(re.sub(r"<[^>]+>", " ", html_text).split())

    due = "2031-03-14T19:05:00+00:00"
    assert "pay by 14 Mar 2031, 19:05 UTC" in words_of(status="awaiting payment", payment_deadline=due)
    assert "pay by" not in words_of(status="paid", payment_deadline=due)
    assert "not paid in time" in words_of(status="cancelled", cancel_reason="timeout")
    assert "cancelled by the shop" in words_of(status="cancelled", cancel_reason="staff")
    assert "· cancelled by" not in words_of(status="cancelled", cancel_reason="something new")


def test_a_blocks_digest_follows_what_it_shows_and_nothing_else() -> None:
    from checkout.shopping.schemas import Product
    from checkout.web.refresh import version

    guitar = Product(sku=1, name="Strat", price=150_000, quantity_in_stock=3, category="guitars", manufacturer="Fender")
    shown = version([guitar], None, [("Fender", "Since 1946.")])
    assert shown == version([guitar.model_copy()], None, [("Fender", "Since 1946.")])
    for changed in (
        version([guitar.model_copy(update={"price": 149_900})], None, [("Fender", "Since 1946.")]),
        version([guitar.model_copy(update={"quantity_in_stock": 2})], None, [("Fender", "Since 1946.")]),
        version([guitar], "next", [("Fender", "Since 1946.")]),
        version([guitar], None, [("Fender", "Since 1947.")]),
    ):
        assert changed != shown
    # Plain data in any key order is the same data.
    assert version({"a": 1, "b": [2]}) == version({"b": [2], "a": 1})
