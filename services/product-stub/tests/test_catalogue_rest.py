"""Catalogue REST: public reads with filters and cursor pages; manager-only writes."""

import asyncio

import asyncpg
import httpx
import pytest

from product_stub.demo import CATEGORIES, MANUFACTURERS, demo_products
from shopcommon.db import plain_url
from shopcommon.testing.cursors import forged_cursor
from shopcommon.testing.tokens import TestIssuer

PRODUCTS = demo_products()


async def test_walking_every_page_returns_each_product_once(client: httpx.AsyncClient) -> None:
    seen: list[int] = []
    cursor = None
    while True:
        params: dict[str, object] = {"limit": 50}
        if cursor:
            params["cursor"] = cursor
        r = await client.get("/api/v1/products", params=params)
        assert r.status_code == 200
        body = r.json()
        seen += [item["sku"] for item in body["items"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert seen == sorted(p.sku for p in PRODUCTS)


async def test_filters_combine(client: httpx.AsyncClient) -> None:
    r = await client.get(
        "/api/v1/products", params={"category": "guitars", "min_price": 50_000, "max_price": 200_000, "limit": 200}
    )
    expected = [p.sku for p in PRODUCTS if p.category == "guitars" and 50_000 <= p.price <= 200_000]
    assert [i["sku"] for i in r.json()["items"]] == sorted(expected)
    assert all(i["category"] == "guitars" for i in r.json()["items"])
    r = await client.get("/api/v1/products", params={"manufacturer": "Yamaha", "limit": 200})
    assert {i["manufacturer"] for i in r.json()["items"]} == {"Yamaha"}


async def test_demo_catalogue_is_big_enough(client: httpx.AsyncClient) -> None:
    cats = (await client.get("/api/v1/categories")).json()
    makers = (await client.get("/api/v1/manufacturers")).json()
    assert len(cats) >= 6 and len(makers) >= 10 and len(PRODUCTS) >= 200
    assert {c["name"] for c in cats} == set(CATEGORIES)
    assert sum(len(c["instruments"]) for c in cats) == len(PRODUCTS)
    assert {m["name"] for m in makers} == set(MANUFACTURERS)


async def test_get_product_by_sku(client: httpx.AsyncClient) -> None:
    p = PRODUCTS[10]
    r = await client.get(f"/api/v1/products/{p.sku}")
    assert r.json() == {
        "sku": p.sku,
        "name": p.name,
        "price": p.price,
        "description": p.description,
        "category": p.category,
        "manufacturer": p.manufacturer,
    }
    assert (await client.get("/api/v1/products/5")).status_code == 404
    assert (await client.get("/api/v1/products/0")).status_code == 422


async def test_bad_cursor_is_a_400_problem(client: httpx.AsyncClient) -> None:
    for forged in (
        "not-a-cursor!",
        forged_cursor({"after": "1; DROP"}),
        forged_cursor({"after": 2**40}),
        forged_cursor({"after": True}),
    ):
        r = await client.get("/api/v1/products", params={"cursor": forged})
        assert r.status_code == 400, forged
        assert r.headers["content-type"] == "application/problem+json"


async def test_manager_creates_updates_and_deletes_a_product(
    client: httpx.AsyncClient, test_issuer: TestIssuer
) -> None:
    auth = test_issuer.auth(1, "manager")
    new = {
        "sku": 4_294_967_295,
        "name": "Test Ukulele",
        "price": 4999,
        "category": "strings",
        "manufacturer": "Yamaha",
        "description": "Small",
    }
    r = await client.post("/api/v1/products", json=new, headers=auth)
    assert r.status_code == 201, r.text
    assert r.json()["name"] == "Test Ukulele"
    assert (await client.post("/api/v1/products", json=new, headers=auth)).status_code == 409
    r = await client.patch(f"/api/v1/products/{new['sku']}", json={"price": 5999}, headers=auth)
    assert r.json()["price"] == 5999
    rpc = await client.post("/get_product", json={"token": "testtoken", "sku": new["sku"]})
    assert rpc.json() == {"name": "Test Ukulele", "price": 5999}
    assert (await client.delete(f"/api/v1/products/{new['sku']}", headers=auth)).status_code == 204
    assert (await client.get(f"/api/v1/products/{new['sku']}")).status_code == 404


@pytest.mark.parametrize(
    ("field", "body"),
    [
        ("category", {"category": "nope", "manufacturer": "Yamaha"}),
        ("manufacturer", {"category": "strings", "manufacturer": "nope"}),
    ],
)
async def test_an_unknown_category_or_manufacturer_is_404_naming_it_and_changes_nothing(
    client: httpx.AsyncClient, test_issuer: TestIssuer, field: str, body: dict[str, str]
) -> None:
    """A well-formed request naming something that does not exist is not found, not invalid."""
    auth = test_issuer.auth(1, "manager")
    r = await client.post("/api/v1/products", json={"sku": 77, "name": "X", "price": 1, **body}, headers=auth)
    assert r.status_code == 404, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["detail"] == f"no {field} named 'nope'"
    assert r.json()["errors"] == [{"field": field, "message": f"no such {field}"}]
    assert (await client.get("/api/v1/products/77")).status_code == 404

    sku = PRODUCTS[3].sku
    before = (await client.get(f"/api/v1/products/{sku}")).json()
    r = await client.patch(f"/api/v1/products/{sku}", json={"price": 1, field: "nope"}, headers=auth)
    assert r.status_code == 404, r.text
    assert r.json()["errors"] == [{"field": field, "message": f"no such {field}"}]
    assert (await client.get(f"/api/v1/products/{sku}")).json() == before


async def test_customers_and_anonymous_callers_cannot_write(client: httpx.AsyncClient, test_issuer: TestIssuer) -> None:
    body = {"sku": 78, "name": "X", "price": 1, "category": "strings", "manufacturer": "Yamaha"}
    assert (await client.post("/api/v1/products", json=body)).status_code == 401
    r = await client.post("/api/v1/products", json=body, headers=test_issuer.auth(5, "customer"))
    assert r.status_code == 403
    r = await client.delete(f"/api/v1/products/{PRODUCTS[0].sku}", headers=test_issuer.auth(5, "worker"))
    assert r.status_code == 403
    assert (await client.get(f"/api/v1/products/{PRODUCTS[0].sku}")).status_code == 200


async def test_manager_manages_categories_and_cannot_delete_one_in_use(
    client: httpx.AsyncClient, test_issuer: TestIssuer
) -> None:
    auth = test_issuer.auth(1, "manager")
    r = await client.post("/api/v1/categories", json={"name": "harps", "description": "Concert harps"}, headers=auth)
    assert r.status_code == 201
    harps = r.json()
    assert harps["instruments"] == []
    assert (await client.post("/api/v1/categories", json={"name": "harps"}, headers=auth)).status_code == 409
    r = await client.patch(f"/api/v1/categories/{harps['id']}", json={"description": "Lever harps"}, headers=auth)
    assert r.json()["description"] == "Lever harps"
    assert (await client.delete(f"/api/v1/categories/{harps['id']}", headers=auth)).status_code == 204
    cats = (await client.get("/api/v1/categories")).json()
    guitars = next(c for c in cats if c["name"] == "guitars")
    r = await client.delete(f"/api/v1/categories/{guitars['id']}", headers=auth)
    assert r.status_code == 409


async def test_deleting_a_category_that_a_product_joins_meanwhile_is_409(
    client: httpx.AsyncClient, test_issuer: TestIssuer, product_db: str
) -> None:
    """The product count and the delete are two statements: a product committed between them is a
    conflict, not a foreign-key error surfacing as a 500."""
    auth = test_issuer.auth(1, "manager")
    category = (await client.post("/api/v1/categories", json={"name": "lutes"}, headers=auth)).json()
    maker = (await client.get("/api/v1/manufacturers")).json()[0]
    writer, watcher = await asyncpg.connect(plain_url(product_db)), await asyncpg.connect(plain_url(product_db))
    try:
        joining = writer.transaction()
        await joining.start()
        await writer.execute(
            "INSERT INTO products (sku, name, price, category_id, manufacturer_id) VALUES (4000000001, 'Lute', 1, $1, $2)",
            category["id"],
            maker["id"],
        )
        deleting = asyncio.create_task(client.delete(f"/api/v1/categories/{category['id']}", headers=auth))
        for _ in range(500):  # until the delete waits for the joining product's transaction
            if await watcher.fetchval(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()"
            ):
                break
            await asyncio.sleep(0.01)
        await joining.commit()
        r = await deleting
        assert r.status_code == 409, r.text
        assert r.headers["content-type"] == "application/problem+json"
        assert (await client.get(f"/api/v1/categories/{category['id']}")).json()["instruments"][0]["name"] == "Lute"
    finally:
        await writer.execute("DELETE FROM products WHERE sku = 4000000001")
        await writer.execute("DELETE FROM categories WHERE id = $1", category["id"])
        await writer.close()
        await watcher.close()
