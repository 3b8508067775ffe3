"""A customer's web cart through real processes: a checkout the stock can no longer cover says
what is short by the product's name and what is left, and keeps the cart."""

from __future__ import annotations

import html
import re
import uuid

import asyncpg
import httpx
import pytest

from .conftest import System, bearer, new_customer, plain_url, stock_levels

CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')
KEY_FIELD = re.compile(r'name="key" value="([^"]+)"')

pytestmark = pytest.mark.timeout(120)


def words(r: httpx.Response) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", r.text)).split())


async def test_a_checkout_short_of_stock_names_the_product_and_what_is_left(system: System) -> None:
    staff = await bearer(system, "admin", "1")
    customer = await new_customer(system, staff)
    async with system.client("checkout") as shop, system.client("loms") as loms:
        listing = (await shop.get("/api/v1/products", params={"in_stock": "true", "limit": 200})).json()
        product = next(p for p in listing["items"] if 2 <= p["quantity_in_stock"] <= 50)
        sku, wanted = product["sku"], product["quantity_in_stock"]
        added = await shop.post("/api/v1/cart/items", json={"sku": sku, "count": wanted}, headers=customer["headers"])
        assert added.status_code in (200, 201), added.text
        # Meanwhile one unit is written off in a warehouse: the cart asks for one more than there is.
        levels = await stock_levels(system, [sku])
        warehouse = min(w for (_, w), (total, reserved) in levels.items() if total > reserved)

        async def adjust(delta: int) -> None:
            r = await loms.post(f"/api/v1/warehouses/{warehouse}/stocks/{sku}/adjust", json={"delta": delta},
                                headers={**staff, "Idempotency-Key": uuid.uuid4().hex})  # fmt: skip
            assert r.status_code == 200, r.text

        await adjust(-1)
        try:
            landing = await shop.get("/")
            token = CSRF_FIELD.search(landing.text).group(1)  # type: ignore[union-attr]
            me = (await shop.get("/api/v1/users/me", headers=customer["headers"])).json()["username"]
            signed = await shop.post(
                "/login", data={"csrf_token": token, "username": me, "password": "correct-horse-1"}
            )
            assert signed.status_code == 303, words(signed)
            cart = await shop.get("/cart")
            form = {"csrf_token": CSRF_FIELD.search(cart.text).group(1),  # type: ignore[union-attr]
                    "key": KEY_FIELD.search(cart.text).group(1)}  # type: ignore[union-attr]  # fmt: skip
            refused = await shop.post("/cart/checkout", data=form)
        finally:
            await adjust(+1)
    assert refused.status_code == 409, words(refused)
    said = words(refused)
    assert f"Not enough stock for {product['name']} (only {wanted - 1} left)" in said, said
    assert f"sku {sku}" not in said and f'data-sku="{sku}"' in refused.text  # by name; the cart kept


async def test_a_product_page_says_what_the_catalogue_says_of_the_instrument(system: System) -> None:
    async with system.client("checkout") as shop, system.client("product-stub") as catalogue:
        sku = (await shop.get("/api/v1/products", params={"limit": 1})).json()["items"][0]["sku"]
        described = (await catalogue.get(f"/api/v1/products/{sku}")).json()["description"]
        page = await shop.get(f"/shop/products/{sku}")
    assert described and page.status_code == 200, page.text
    assert described in words(page)


async def test_units_that_would_not_fit_the_stock_are_said_in_a_shoppers_words(system: System) -> None:
    staff = await bearer(system, "admin", "1")
    customer = await new_customer(system, staff)
    async with system.client("checkout") as shop:
        listing = (await shop.get("/api/v1/products", params={"in_stock": "true", "limit": 200})).json()
        product = next(p for p in listing["items"] if 2 <= p["quantity_in_stock"] <= 50)
        sku = product["sku"]
        # What LOMS holds now (the listing may be half a second old).
        stock = sum(total - reserved for total, reserved in (await stock_levels(system, [sku])).values())
        token = CSRF_FIELD.search((await shop.get("/")).text).group(1)  # type: ignore[union-attr]
        me = (await shop.get("/api/v1/users/me", headers=customer["headers"])).json()["username"]
        signed = await shop.post("/login", data={"csrf_token": token, "username": me, "password": "correct-horse-1"})
        assert signed.status_code == 303, words(signed)
        form = {"csrf_token": CSRF_FIELD.search((await shop.get(f"/shop/products/{sku}")).text).group(1)}  # type: ignore[union-attr]
        too_many = await shop.post("/cart/items", data={**form, "sku": str(sku), "count": str(stock + 1)})
        assert too_many.status_code == 409 and f"We have only {stock} of it: choose {stock} or fewer." in words(
            too_many
        )
        assert f"sku {sku}" not in words(too_many)
        assert (
            await shop.post("/cart/items", data={**form, "sku": str(sku), "count": str(stock - 1)})
        ).status_code == 303
        more = await shop.post("/cart/items", data={**form, "sku": str(sku), "count": "2"})
        assert f"We have {stock} of it and your cart holds {stock - 1}: add 1 or fewer." in words(more), words(more)


async def test_pay_or_cancel_pressed_twice_shows_the_order_so_not_an_error(system: System) -> None:
    """A double click on Pay (or Cancel) sends the form twice: the second press found the order
    paid already and showed "it cannot be paid" above an order that was paid."""
    staff = await bearer(system, "admin", "1")
    customer = await new_customer(system, staff)
    async with system.client("checkout") as shop:
        listing = (await shop.get("/api/v1/products", params={"in_stock": "true", "limit": 200})).json()
        sku = next(p for p in listing["items"] if p["quantity_in_stock"] >= 5)["sku"]
        placed = []
        for _ in range(2):
            added = await shop.post("/api/v1/cart/items", json={"sku": sku, "count": 1}, headers=customer["headers"])
            assert added.status_code in (200, 201), added.text
            order = await shop.post("/api/v1/cart/checkout", headers=customer["headers"])
            assert order.status_code == 201, order.text
            placed.append(order.json()["order_id"])
        token = CSRF_FIELD.search((await shop.get("/")).text).group(1)  # type: ignore[union-attr]
        me = (await shop.get("/api/v1/users/me", headers=customer["headers"])).json()["username"]
        signed = await shop.post("/login", data={"csrf_token": token, "username": me, "password": "correct-horse-1"})
        assert signed.status_code == 303, words(signed)
        form = {"csrf_token": CSRF_FIELD.search((await shop.get("/orders")).text).group(1)}  # type: ignore[union-attr]
        for order_id, action, status in ((placed[0], "pay", "paid"), (placed[1], "cancel", "cancelled")):
            for _ in range(2):
                pressed = await shop.post(f"/orders/{order_id}/{action}", data={**form, "back": "order"})
                assert pressed.status_code == 303, words(pressed)
            shown = await shop.get(f"/orders/{order_id}")
            assert f'data-status="{status}"' in shown.text and "cannot be" not in words(shown)
        # Paying a cancelled order is still refused, in words.
        refused = await shop.post(f"/orders/{placed[1]}/pay", data={**form, "back": "order"})
        assert refused.status_code == 409 and "cannot be paid" in words(refused), words(refused)


async def test_a_product_no_longer_sold_stays_removable_from_the_cart(system: System) -> None:
    """The cart page left out a line whose product the catalogue no longer has, while checkout
    refused the cart for it: nothing on the page could remove it, and the cart was stuck."""
    staff = await bearer(system, "admin", "1")
    customer = await new_customer(system, staff)
    gone = 3_000_000_000 + int(uuid.uuid4().int % 1_000_000)  # a sku the catalogue does not have (any more)
    async with system.client("checkout") as shop:
        listing = (await shop.get("/api/v1/products", params={"in_stock": "true", "limit": 200})).json()
        sku = next(p for p in listing["items"] if p["quantity_in_stock"] >= 5)["sku"]
        added = await shop.post("/api/v1/cart/items", json={"sku": sku, "count": 1}, headers=customer["headers"])
        assert added.status_code in (200, 201), added.text
        conn = await asyncpg.connect(plain_url(system.env["CHECKOUT_DATABASE_URL"]))
        try:
            await conn.execute("INSERT INTO cart_items (user_id, sku, count) VALUES ($1, $2, 3)", customer["id"], gone)
            await conn.execute("UPDATE carts SET version = version + 1 WHERE user_id = $1", customer["id"])
        finally:
            await conn.close()
        token = CSRF_FIELD.search((await shop.get("/")).text).group(1)  # type: ignore[union-attr]
        me = (await shop.get("/api/v1/users/me", headers=customer["headers"])).json()["username"]
        signed = await shop.post("/login", data={"csrf_token": token, "username": me, "password": "correct-horse-1"})
        assert signed.status_code == 303, words(signed)
        cart = await shop.get("/cart")
        assert "No longer sold" in words(cart) and f"Product {gone}, 3 in your cart" in words(cart), words(cart)
        form = {"csrf_token": CSRF_FIELD.search(cart.text).group(1),  # type: ignore[union-attr]
                "key": KEY_FIELD.search(cart.text).group(1)}  # type: ignore[union-attr]  # fmt: skip
        refused = await shop.post("/cart/checkout", data=form)
        said = words(refused)
        assert refused.status_code == 409 and "Some products in your cart are no longer sold" in said, said
        assert f"sku {gone}" not in said and "Remove them to check out" in said
        removed = await shop.post(f"/cart/items/{gone}/remove", data={"csrf_token": form["csrf_token"]})
        assert removed.status_code == 303, words(removed)
        cart = await shop.get("/cart")
        assert "No longer sold" not in words(cart) and f'data-sku="{sku}"' in cart.text
        form["key"] = KEY_FIELD.search(cart.text).group(1)  # type: ignore[union-attr]
        placed = await shop.post("/cart/checkout", data=form)
        assert placed.status_code == 303 and placed.headers["location"].startswith("/orders?placed="), words(placed)


async def test_check_out_pressed_twice_at_once_places_one_order_and_shows_it_both_times(system: System) -> None:
    """A second request with a key still running is 409 on the API; the cart form's second press
    waits for the first one's order instead of saying so."""
    import asyncio

    staff = await bearer(system, "admin", "1")
    customer = await new_customer(system, staff)
    async with system.client("checkout") as shop:
        listing = (await shop.get("/api/v1/products", params={"in_stock": "true", "limit": 200})).json()
        sku = next(p for p in listing["items"] if p["quantity_in_stock"] >= 5)["sku"]
        added = await shop.post("/api/v1/cart/items", json={"sku": sku, "count": 1}, headers=customer["headers"])
        assert added.status_code in (200, 201), added.text
        token = CSRF_FIELD.search((await shop.get("/")).text).group(1)  # type: ignore[union-attr]
        me = (await shop.get("/api/v1/users/me", headers=customer["headers"])).json()["username"]
        signed = await shop.post("/login", data={"csrf_token": token, "username": me, "password": "correct-horse-1"})
        assert signed.status_code == 303, words(signed)
        cart = await shop.get("/cart")
        form = {"csrf_token": CSRF_FIELD.search(cart.text).group(1),  # type: ignore[union-attr]
                "key": KEY_FIELD.search(cart.text).group(1)}  # type: ignore[union-attr]  # fmt: skip
        presses = await asyncio.gather(*(shop.post("/cart/checkout", data=form) for _ in range(3)))
        orders = (await shop.get("/api/v1/orders", headers=customer["headers"])).json()["items"]
    assert [p.status_code for p in presses] == [303] * 3, [words(p) for p in presses]
    assert len({p.headers["location"] for p in presses}) == 1
    assert len(orders) == 1 and presses[0].headers["location"] == f"/orders?placed={orders[0]['order_id']}"
