"""Checkout: one LOMS order per cart at the prices the customer saw; the cart empties once the
order holds its stock; a failed reservation keeps the cart and names the short skus."""

from __future__ import annotations

import asyncio

import httpx

from shopcommon.testing.tokens import TestIssuer

from .conftest import CheckoutFactory, CountingTransport, ProductStubFactory, StockBook, available


async def orders_of(loms: CountingTransport, issuer: TestIssuer, user_id: int) -> list[dict[str, object]]:
    async with httpx.AsyncClient(transport=loms, base_url="http://loms") as client:
        r = await client.get(
            "/api/v1/orders", params={"user_id": user_id, "limit": 200}, headers=issuer.auth(1, "manager")
        )
        assert r.status_code == 200, r.text
        return list(r.json()["items"])


async def fill(client: httpx.AsyncClient, auth: dict[str, str], lines: dict[int, int]) -> None:
    for sku, count in lines.items():
        r = await client.post("/api/v1/cart/items", json={"sku": sku, "count": count}, headers=auth)
        assert r.status_code == 200, r.text


async def test_checkout_creates_an_awaiting_payment_order_and_empties_the_cart(
    checkout: CheckoutFactory,
    product_stub: ProductStubFactory,
    loms: CountingTransport,
    stock_book: StockBook,
    test_issuer: TestIssuer,
) -> None:
    a, b = stock_book.take(at_least=10), stock_book.take(at_least=10)
    before = await available(loms, a)
    client = await checkout(product=await product_stub(), loms=loms)
    auth = test_issuer.auth(301, "customer")
    await fill(client, auth, {a: 2, b: 1})
    listed = (await client.get("/api/v1/cart", headers=auth)).json()
    r = await client.post("/api/v1/cart/checkout", headers=auth)
    assert r.status_code == 201, r.text
    assert r.json()["status"] == "awaiting payment"
    (order,) = await orders_of(loms, test_issuer, 301)
    assert order["order_id"] == r.json()["order_id"]
    assert sorted((i["sku"], i["count"], i["price"]) for i in order["items"]) == sorted(
        (i["sku"], i["count"], i["price"]) for i in listed["items"]
    )
    assert order["total_price"] == listed["total_price"]
    assert (await client.get("/api/v1/cart", headers=auth)).json() == {"items": [], "total_price": 0}
    assert await available(loms, a) == before - 2


async def test_purchase_rpc_answers_the_seeds_order_id(
    checkout: CheckoutFactory,
    product_stub: ProductStubFactory,
    loms: CountingTransport,
    stock_book: StockBook,
    test_issuer: TestIssuer,
) -> None:
    sku = stock_book.take(at_least=3)
    client = await checkout(product=await product_stub(), loms=loms)
    auth = test_issuer.auth(302, "customer")
    await client.post("/addToCart", json={"user": 302, "sku": sku, "count": 1}, headers=auth)
    r = await client.post("/purchase", json={"user": 302}, headers=auth)
    assert r.status_code == 200, r.text
    assert set(r.json()) == {"orderID", "status"}
    assert r.json()["status"] == "awaiting payment"


async def test_the_order_keeps_the_prices_the_customer_saw(
    checkout: CheckoutFactory,
    product_stub: ProductStubFactory,
    loms: CountingTransport,
    stock_book: StockBook,
    test_issuer: TestIssuer,
) -> None:
    sku = stock_book.take(at_least=3)
    stub = await product_stub()
    client = await checkout(product=stub, loms=loms, product_cache_ttl=0.01)
    auth = test_issuer.auth(303, "customer")
    await fill(client, auth, {sku: 1})
    seen = (await client.get("/api/v1/cart", headers=auth)).json()["items"][0]["price"]
    async with httpx.AsyncClient(transport=stub, base_url="http://product-stub") as products:
        r = await products.patch(
            f"/api/v1/products/{sku}", json={"price": seen + 1000}, headers=test_issuer.auth(1, "manager")
        )
        assert r.status_code == 200, r.text
    await asyncio.sleep(0.05)  # the cached price has expired: ProductService now says seen + 1000
    order_id = (await client.post("/api/v1/cart/checkout", headers=auth)).json()["order_id"]
    (order,) = [o for o in await orders_of(loms, test_issuer, 303) if o["order_id"] == order_id]
    assert order["items"][0]["price"] == seen  # type: ignore[index]


async def test_a_line_whose_product_was_deleted_since_it_was_seen_is_not_ordered(
    checkout: CheckoutFactory,
    product_stub: ProductStubFactory,
    loms: CountingTransport,
    stock_book: StockBook,
    test_issuer: TestIssuer,
) -> None:
    """Once, a line listed at a price was ordered at it without asking: a deleted product sold."""
    kept, deleted = stock_book.take(at_least=3), stock_book.take(at_least=3)
    stub = await product_stub()
    client = await checkout(product=stub, loms=loms, product_known_skus_max_age=0.2)
    auth = test_issuer.auth(311, "customer")
    await fill(client, auth, {kept: 1, deleted: 1})
    assert len((await client.get("/api/v1/cart", headers=auth)).json()["items"]) == 2  # seen, priced
    async with httpx.AsyncClient(transport=stub, base_url="http://product-stub") as products:
        r = await products.delete(f"/api/v1/products/{deleted}", headers=test_issuer.auth(1, "manager"))
        assert r.status_code == 204, r.text
    await asyncio.sleep(0.3)  # the skus' listing is older than its max age: it is taken again
    r = await client.post("/api/v1/cart/checkout", headers=auth)
    assert r.status_code == 409 and r.json()["type"].endswith("/no-longer-sold"), r.text
    assert r.json()["skus"] == [deleted]
    assert await orders_of(loms, test_issuer, 311) == []
    assert {i["sku"] for i in (await client.get("/api/v1/cart", headers=auth)).json()["items"]} >= {kept}


async def test_concurrent_checkouts_of_one_cart_make_one_order(
    checkout: CheckoutFactory,
    product_stub: ProductStubFactory,
    loms: CountingTransport,
    stock_book: StockBook,
    test_issuer: TestIssuer,
) -> None:
    sku = stock_book.take(at_least=10)
    client = await checkout(product=await product_stub(), loms=loms)
    auth = test_issuer.auth(304, "customer")
    await fill(client, auth, {sku: 2})
    answers = await asyncio.gather(*(client.post("/api/v1/cart/checkout", headers=auth) for _ in range(8)))
    created = {r.json()["order_id"] for r in answers if r.status_code == 201}
    assert len(created) == 1, [r.text for r in answers]
    assert all(r.status_code == 201 or r.json()["type"].endswith("/cart-empty") for r in answers)
    assert len(await orders_of(loms, test_issuer, 304)) == 1


async def test_a_failed_reservation_is_409_naming_the_sku_and_keeps_the_cart(
    checkout: CheckoutFactory,
    product_stub: ProductStubFactory,
    loms: CountingTransport,
    stock_book: StockBook,
    test_issuer: TestIssuer,
) -> None:
    sku = stock_book.take(at_least=2, at_most=50)
    stock = await available(loms, sku)
    client = await checkout(product=await product_stub(), loms=loms)
    auth = test_issuer.auth(305, "customer")
    await fill(client, auth, {sku: stock})
    # Someone else buys one unit after it went into the cart.
    other = await client.post(
        "/api/v1/orders", json={"items": [{"sku": sku, "count": 1}]}, headers=test_issuer.auth(306, "customer")
    )
    assert other.status_code == 201, other.text
    r = await client.post("/api/v1/cart/checkout", headers=auth)
    assert r.status_code == 409, r.text
    body = r.json()
    assert body["type"].endswith("/reservation-failed")
    assert body["skus"] == [sku] and body["order_id"] >= 1
    assert [(i["sku"], i["count"]) for i in (await client.get("/api/v1/cart", headers=auth)).json()["items"]] == [
        (sku, stock)
    ]
    # The next attempt is a new order, not a replay of the failed one.
    await client.delete(f"/api/v1/cart/items/{sku}?count=1", headers=auth)
    retry = await client.post("/api/v1/cart/checkout", headers=auth)
    assert retry.status_code == 201, retry.text
    assert retry.json()["order_id"] != body["order_id"]


async def test_checkout_of_an_empty_cart_is_409(
    checkout: CheckoutFactory, loms: CountingTransport, test_issuer: TestIssuer
) -> None:
    client = await checkout(loms=loms)
    r = await client.post("/api/v1/cart/checkout", headers=test_issuer.auth(307, "customer"))
    assert r.status_code == 409
    assert r.json()["type"].endswith("/cart-empty")


async def test_a_client_idempotency_key_replays_the_first_checkout(
    checkout: CheckoutFactory,
    product_stub: ProductStubFactory,
    loms: CountingTransport,
    stock_book: StockBook,
    test_issuer: TestIssuer,
) -> None:
    sku = stock_book.take(at_least=3)
    client = await checkout(product=await product_stub(), loms=loms)
    auth = test_issuer.auth(308, "customer")
    await fill(client, auth, {sku: 1})
    keyed = {**auth, "Idempotency-Key": "checkout-308-a"}
    first = await client.post("/api/v1/cart/checkout", headers=keyed)
    again = await client.post("/api/v1/cart/checkout", headers=keyed)
    assert first.status_code == again.status_code == 201
    assert first.json() == again.json()
    assert len(await orders_of(loms, test_issuer, 308)) == 1


async def test_checkout_while_loms_is_down_is_503_and_keeps_the_cart(
    checkout: CheckoutFactory,
    product_stub: ProductStubFactory,
    loms: CountingTransport,
    stock_book: StockBook,
    test_issuer: TestIssuer,
) -> None:
    sku = stock_book.take(at_least=3)
    auth = test_issuer.auth(309, "customer")
    await fill(await checkout(product=await product_stub(), loms=loms), auth, {sku: 1})
    cut_off = await checkout(product=await product_stub())  # the same database, LOMS unreachable
    r = await cut_off.post("/api/v1/cart/checkout", headers=auth)
    assert r.status_code == 503
    assert r.json()["type"].endswith("/loms-unavailable")
    assert len((await cut_off.get("/api/v1/cart", headers=auth)).json()["items"]) == 1


async def test_a_limit_409_from_loms_comes_back_at_once(
    checkout: CheckoutFactory,
    product_stub: ProductStubFactory,
    loms: CountingTransport,
    stock_book: StockBook,
    test_issuer: TestIssuer,
) -> None:
    """Only LOMS's `idempotency-key-in-use` 409 is worth asking again; a user at the unpaid-orders
    limit gets LOMS's 409 from one call, not after retrying it until the order wait runs out."""
    sku = stock_book.take(at_least=12)
    client = await checkout(product=await product_stub(), loms=loms)
    auth = test_issuer.auth(310, "customer")
    order = {"items": [{"sku": sku, "count": 1}]}
    for _ in range(10):  # LOMS's default max_unpaid_orders
        r = await client.post("/api/v1/orders", json=order, headers=auth)
        assert r.status_code == 201, r.text
    calls = loms.count("/api/v1/orders")
    started = asyncio.get_running_loop().time()
    r = await client.post("/api/v1/orders", json=order, headers=auth)
    elapsed = asyncio.get_running_loop().time() - started
    assert r.status_code == 409, r.text
    assert r.json()["type"].endswith("/too-many-unpaid-orders")
    assert loms.count("/api/v1/orders") == calls + 1
    assert elapsed < 2, elapsed


async def test_two_tabs_checking_out_one_cart_with_keys_of_their_own_make_one_order(
    checkout: CheckoutFactory,
    product_stub: ProductStubFactory,
    loms: CountingTransport,
    stock_book: StockBook,
    test_issuer: TestIssuer,
) -> None:
    """Each cart page carries a key of its own: a client key replaced the cart's version in the key
    LOMS saw, and two tabs pressing Check out together made two orders of one cart."""
    sku = stock_book.take(at_least=4)
    client = await checkout(product=await product_stub(), loms=loms)
    auth = test_issuer.auth(331, "customer")
    await fill(client, auth, {sku: 2})
    loms.slow["/api/v1/orders"] = 0.3
    try:
        tabs = await asyncio.gather(
            *(client.post("/api/v1/cart/checkout", headers={**auth, "Idempotency-Key": k}) for k in ("tab-a", "tab-b"))
        )
    finally:
        loms.slow.clear()
    assert [t.status_code for t in tabs] == [201, 201], [t.text for t in tabs]
    assert tabs[0].json() == tabs[1].json()
    assert len(await orders_of(loms, test_issuer, 331)) == 1
    assert (await client.get("/api/v1/cart", headers=auth)).json()["items"] == []


async def test_a_line_added_while_the_order_is_made_stays_and_the_ordered_lines_go(
    checkout: CheckoutFactory,
    product_stub: ProductStubFactory,
    loms: CountingTransport,
    stock_book: StockBook,
    test_issuer: TestIssuer,
) -> None:
    """A cart changed during its checkout was left whole: the ordered lines stayed in it, and the
    next checkout ordered them again."""
    ordered, added = stock_book.take(at_least=4), stock_book.take(at_least=4)
    client = await checkout(product=await product_stub(), loms=loms)
    auth = test_issuer.auth(332, "customer")
    await fill(client, auth, {ordered: 2})
    loms.slow["/api/v1/orders"] = 0.5
    try:
        placing = asyncio.create_task(client.post("/api/v1/cart/checkout", headers=auth))
        await asyncio.sleep(0.2)  # the order is on its way to LOMS
        await fill(client, auth, {added: 1, ordered: 1})  # another tab adds to the cart meanwhile
        placed = await placing
    finally:
        loms.slow.clear()
    assert placed.status_code == 201, placed.text
    lines = (await client.get("/api/v1/cart", headers=auth)).json()["items"]
    assert sorted((line["sku"], line["count"]) for line in lines) == sorted([(added, 1), (ordered, 1)])


async def test_a_late_second_tab_of_the_same_order_leaves_what_was_put_back_since(
    checkout: CheckoutFactory,
    product_stub: ProductStubFactory,
    loms: CountingTransport,
    stock_book: StockBook,
    test_issuer: TestIssuer,
) -> None:
    """Two tabs get one order; the first takes its lines off the cart. The second, coming late, must
    not take them off again from what the customer has put in since."""
    from checkout.shopping.usecases.carts import read_cart
    from checkout.shopping.usecases.purchase import _advance_cart

    sku = stock_book.take(at_least=4)
    client = await checkout(product=await product_stub(), loms=loms)
    auth = test_issuer.auth(333, "customer")
    await fill(client, auth, {sku: 2})
    shop = client._transport.app.state.shopping  # type: ignore[attr-defined]
    ordered = await read_cart(shop, user_id=333)
    await _advance_cart(shop, ordered, empty=True)  # the first tab: its order empties the cart
    await fill(client, auth, {sku: 1})  # the customer puts one back
    await _advance_cart(shop, ordered, empty=True)  # the second tab, the same order replayed, late
    lines = (await client.get("/api/v1/cart", headers=auth)).json()["items"]
    assert [(line["sku"], line["count"]) for line in lines] == [(sku, 1)]


async def test_a_late_second_tab_leaves_as_many_units_put_back_as_were_ordered(
    checkout: CheckoutFactory,
    product_stub: ProductStubFactory,
    loms: CountingTransport,
    stock_book: StockBook,
    test_issuer: TestIssuer,
) -> None:
    """The second tab guessed whether the order was taken off from the counts the cart held: with
    as many put back as were ordered, it took them off again."""
    from checkout.shopping.usecases.carts import read_cart
    from checkout.shopping.usecases.purchase import _advance_cart

    sku = stock_book.take(at_least=4)
    client = await checkout(product=await product_stub(), loms=loms)
    auth = test_issuer.auth(334, "customer")
    await fill(client, auth, {sku: 2})
    shop = client._transport.app.state.shopping  # type: ignore[attr-defined]
    ordered = await read_cart(shop, user_id=334)
    await _advance_cart(shop, ordered, empty=True)
    await fill(client, auth, {sku: 2})  # the customer wants two more
    await _advance_cart(shop, ordered, empty=True)  # the second tab, late
    lines = (await client.get("/api/v1/cart", headers=auth)).json()["items"]
    assert [(line["sku"], line["count"]) for line in lines] == [(sku, 2)]


async def test_a_line_removed_while_the_order_is_made_does_not_keep_the_other_ordered_lines(
    checkout: CheckoutFactory,
    product_stub: ProductStubFactory,
    loms: CountingTransport,
    stock_book: StockBook,
    test_issuer: TestIssuer,
) -> None:
    """One ordered line gone from the cart made the checkout leave every ordered line in it, and the
    next checkout ordered them again."""
    a, b = stock_book.take(at_least=4), stock_book.take(at_least=4)
    client = await checkout(product=await product_stub(), loms=loms)
    auth = test_issuer.auth(335, "customer")
    await fill(client, auth, {a: 1, b: 1})
    loms.slow["/api/v1/orders"] = 0.5
    try:
        placing = asyncio.create_task(client.post("/api/v1/cart/checkout", headers=auth))
        await asyncio.sleep(0.2)  # the order is on its way to LOMS
        removed = await client.delete(f"/api/v1/cart/items/{b}", headers=auth)  # another tab removes b
        placed = await placing
    finally:
        loms.slow.clear()
    assert removed.status_code == 200, removed.text
    assert placed.status_code == 201, placed.text
    assert (await client.get("/api/v1/cart", headers=auth)).json()["items"] == []
    (order,) = await orders_of(loms, test_issuer, 335)
    assert sorted(item["sku"] for item in order["items"]) == sorted([a, b])  # type: ignore[attr-defined]


async def test_a_cart_whose_order_was_cancelled_before_the_cart_became_it_is_ordered_again(
    checkout: CheckoutFactory,
    product_stub: ProductStubFactory,
    loms: CountingTransport,
    stock_book: StockBook,
    test_issuer: TestIssuer,
) -> None:
    """LOMS replays a cart version's order: once that order was cancelled (its checkout answered
    `new`, the customer cancelled it) checking the cart out answered 201 `cancelled` and kept it."""
    from checkout.shopping.usecases.carts import read_cart
    from checkout.shopping.usecases.purchase import _cart_prices

    sku = stock_book.take(at_least=4)
    client = await checkout(product=await product_stub(), loms=loms)
    auth = test_issuer.auth(336, "customer")
    await fill(client, auth, {sku: 1})
    shop = client._transport.app.state.shopping  # type: ignore[attr-defined]
    cart = await read_cart(shop, user_id=336)
    prices = await _cart_prices(shop, cart)
    first = await shop.loms.create_order(  # the order this cart version's checkout made, as it made it
        user_id=336, items=[{"sku": sku, "count": 1, "price": prices[sku]}], idempotency_key=f"cart:336:v{cart.version}"
    )
    cancelled = await client.post(f"/api/v1/orders/{first['order_id']}/cancel", headers=auth)
    assert cancelled.status_code == 200, cancelled.text
    placed = await client.post("/api/v1/cart/checkout", headers=auth)
    assert placed.status_code == 201, placed.text
    assert placed.json()["status"] == "awaiting payment" and placed.json()["order_id"] != first["order_id"]
    assert (await client.get("/api/v1/cart", headers=auth)).json()["items"] == []
