"""Bad input of every kind the seed's types let a client get wrong: a problem body, nothing changed."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from shopcommon.testing.cursors import forged_cursor

from ..conftest import Auth, Database, new_sku

SKU = new_sku()
U32 = 2**32
#: The first integer beyond what a JSON number carries exactly (ids stop at 2^53-1).
BEYOND_JSON = 2**53

BAD_ORDER_BODIES: list[tuple[str, Any, str]] = [
    ("body is a list", [], ""),
    ("body is a string", "order", ""),
    ("user_id missing", {"items": [{"sku": SKU, "count": 1}]}, "user_id"),
    ("items missing", {"user_id": 7}, "items"),
    ("user_id zero", {"user_id": 0, "items": [{"sku": SKU, "count": 1}]}, "user_id"),
    ("user_id negative", {"user_id": -7, "items": [{"sku": SKU, "count": 1}]}, "user_id"),
    ("user_id beyond 2^53-1", {"user_id": BEYOND_JSON, "items": [{"sku": SKU, "count": 1}]}, "user_id"),
    ("user_id a string", {"user_id": "7", "items": [{"sku": SKU, "count": 1}]}, "user_id"),
    ("user_id a fraction", {"user_id": 7.5, "items": [{"sku": SKU, "count": 1}]}, "user_id"),
    ("user_id a boolean", {"user_id": True, "items": [{"sku": SKU, "count": 1}]}, "user_id"),
    ("user_id null", {"user_id": None, "items": [{"sku": SKU, "count": 1}]}, "user_id"),
    ("items empty", {"user_id": 7, "items": []}, "items"),
    ("items an object", {"user_id": 7, "items": {"sku": SKU, "count": 1}}, "items"),
    ("too many lines", {"user_id": 7, "items": [{"sku": s, "count": 1} for s in range(1, 202)]}, "items"),
    ("sku zero", {"user_id": 7, "items": [{"sku": 0, "count": 1}]}, "items.0.sku"),
    ("sku negative", {"user_id": 7, "items": [{"sku": -1, "count": 1}]}, "items.0.sku"),
    ("sku beyond uint32", {"user_id": 7, "items": [{"sku": U32, "count": 1}]}, "items.0.sku"),
    ("sku a string", {"user_id": 7, "items": [{"sku": str(SKU), "count": 1}]}, "items.0.sku"),
    ("sku a float", {"user_id": 7, "items": [{"sku": 1.5, "count": 1}]}, "items.0.sku"),
    ("sku null", {"user_id": 7, "items": [{"sku": None, "count": 1}]}, "items.0.sku"),
    ("count zero", {"user_id": 7, "items": [{"sku": SKU, "count": 0}]}, "items.0.count"),
    ("count negative", {"user_id": 7, "items": [{"sku": SKU, "count": -2}]}, "items.0.count"),
    ("count beyond uint16", {"user_id": 7, "items": [{"sku": SKU, "count": 65536}]}, "items.0.count"),
    ("count a string", {"user_id": 7, "items": [{"sku": SKU, "count": "1"}]}, "items.0.count"),
    ("count missing", {"user_id": 7, "items": [{"sku": SKU}]}, "items.0.count"),
    ("price negative", {"user_id": 7, "items": [{"sku": SKU, "count": 1, "price": -1}]}, "items.0.price"),
    ("price beyond uint32", {"user_id": 7, "items": [{"sku": SKU, "count": 1, "price": U32}]}, "items.0.price"),
    ("price a string", {"user_id": 7, "items": [{"sku": SKU, "count": 1, "price": "10"}]}, "items.0.price"),
    (
        "merged count beyond uint16",
        {"user_id": 7, "items": [{"sku": SKU, "count": 65535}, {"sku": SKU, "count": 1}]},
        "",
    ),
    (
        "one sku two prices",
        {"user_id": 7, "items": [{"sku": SKU, "count": 1, "price": 5}, {"sku": SKU, "count": 1, "price": 6}]},
        "",
    ),
    ("unknown field", {"user_id": 7, "items": [{"sku": SKU, "count": 1}], "coupon": "FREE"}, "coupon"),
    ("unknown item field", {"user_id": 7, "items": [{"sku": SKU, "count": 1, "colour": "red"}]}, "items.0.colour"),
]


@pytest.fixture(autouse=True)
async def stocked(db: Database) -> None:
    await db.stock(SKU, 100)


def assert_problem(r: httpx.Response, status: int, field: str | None = None) -> None:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert {"type", "title", "status", "detail"} <= set(body)
    assert body["status"] == status
    if field is not None:
        assert any(e["field"] == field for e in body["errors"]), body["errors"]


@pytest.mark.parametrize(("case", "body", "field"), BAD_ORDER_BODIES, ids=[c[0] for c in BAD_ORDER_BODIES])
async def test_bad_order_bodies_are_422_and_change_nothing(
    client: httpx.AsyncClient, auth: Auth, db: Database, case: str, body: Any, field: str
) -> None:
    before = await db.counts()
    r = await client.post("/api/v1/orders", json=body, headers={**auth.service(), "Prefer": "wait=1"})
    assert_problem(r, 422, field or None)
    rpc_body = rpc_shape(body)
    if rpc_body is not None:
        r = await client.post("/createOrder", json=rpc_body, headers={**auth.service(), "Prefer": "wait=1"})
        assert_problem(r, 422, field.replace("user_id", "user") or None)
    assert await db.counts() == before


def rpc_shape(body: Any) -> Any | None:
    """The same mistake in the seed's field names (`user`); None when the seed's body cannot carry it
    (it has no prices)."""
    if not isinstance(body, dict):
        return body
    if any(isinstance(i, dict) and "price" in i for i in body.get("items") or []):
        return None
    return {("user" if k == "user_id" else k): v for k, v in body.items()}


async def test_malformed_json_is_400(client: httpx.AsyncClient, auth: Auth, db: Database) -> None:
    before = await db.counts()
    for path in ("/api/v1/orders", "/createOrder", "/orderPayed"):
        r = await client.post(
            path, content=b'{"user_id": 7, "items": [', headers={**auth.service(), "content-type": "application/json"}
        )
        assert_problem(r, 400)
    assert await db.counts() == before


async def test_a_create_without_a_json_body_is_422_and_anonymous_mistakes_are_401(
    client: httpx.AsyncClient, auth: Auth, db: Database
) -> None:
    before = await db.counts()
    order = b'{"user_id": 7, "items": [{"sku": %d, "count": 1}]}' % SKU
    for content, content_type in ((b"", "application/json"), (order, "text/plain"), (order, None)):
        headers = {**auth.service(), **({"content-type": content_type} if content_type else {})}
        r = await client.post("/api/v1/orders", content=content, headers=headers)
        assert_problem(r, 422, "body")
    # Who is asking is settled before what they sent: no body check for an anonymous caller.
    r = await client.post("/api/v1/orders", content=b"{", headers={"content-type": "application/json"})
    assert_problem(r, 401)
    # Every mistake at once, body and headers alike.
    r = await client.post(
        "/api/v1/orders",
        json={"user_id": 0, "items": [{"sku": SKU, "count": 0}]},
        headers={**auth.service(), "Idempotency-Key": "has space"},
    )
    assert_problem(r, 422)
    assert sorted(e["field"] for e in r.json()["errors"]) == ["Idempotency-Key", "items.0.count", "user_id"]
    assert await db.counts() == before


@pytest.mark.parametrize("key", ["", "x" * 256, "naïve-key".encode("latin-1"), "has space"])
async def test_bad_idempotency_keys_are_422(
    client: httpx.AsyncClient, auth: Auth, db: Database, key: str | bytes
) -> None:
    before = await db.counts()
    r = await client.post(
        "/api/v1/orders",
        json={"user_id": 7, "items": [{"sku": SKU, "count": 1}]},
        headers={**auth.service(), "Idempotency-Key": key},
    )
    assert_problem(r, 422, "Idempotency-Key")
    assert await db.counts() == before


@pytest.mark.parametrize("order_id", ["0", "-1", "abc", "1.5", str(BEYOND_JSON)])
async def test_bad_order_ids_in_paths_are_422(
    client: httpx.AsyncClient, auth: Auth, db: Database, order_id: str
) -> None:
    before = await db.counts()
    assert_problem(await client.get(f"/api/v1/orders/{order_id}", headers=auth.service()), 422, "order_id")
    for action in ("pay", "cancel"):
        assert_problem(
            await client.post(f"/api/v1/orders/{order_id}/{action}", headers=auth.service()), 422, "order_id"
        )
    assert await db.counts() == before


@pytest.mark.parametrize("order_id", [0, -1, "1", 1.5, None, True, BEYOND_JSON])
async def test_bad_rpc_order_ids_are_422(client: httpx.AsyncClient, auth: Auth, db: Database, order_id: Any) -> None:
    before = await db.counts()
    for path in ("/listOrder", "/orderPayed", "/cancelOrder"):
        assert_problem(await client.post(path, json={"orderID": order_id}, headers=auth.service()), 422, "orderID")
    assert await db.counts() == before


async def test_unknown_orders_are_404(client: httpx.AsyncClient, auth: Auth) -> None:
    assert_problem(await client.get("/api/v1/orders/987654321", headers=auth.service()), 404)
    assert_problem(await client.post("/api/v1/orders/987654321/pay", headers=auth.service()), 404)
    assert_problem(await client.post("/orderPayed", json={"orderID": 987654321}, headers=auth.service()), 404)


@pytest.mark.parametrize(
    "query",
    [
        {"status": "shipped"},
        {"limit": 0},
        {"limit": 201},
        {"user_id": 0},
        {"user_id": "me"},
    ],
)
async def test_bad_list_queries_are_422(client: httpx.AsyncClient, auth: Auth, query: dict[str, Any]) -> None:
    assert_problem(await client.get("/api/v1/orders", params=query, headers=auth.manager()), 422, next(iter(query)))


@pytest.mark.parametrize("path", ["/api/v1/orders", "/api/v1/tasks"])
@pytest.mark.parametrize(
    "cursor",
    [
        "not-a-cursor!",
        # Well-formed, but not a position this service writes: these once gave the first page.
        forged_cursor({"before": "12"}),
        forged_cursor({"before": True}),
        forged_cursor({"before": -3}),
        forged_cursor({"before": 2**64}),
        forged_cursor({"after": 5}),
    ],
)
async def test_a_cursor_this_service_never_issued_is_400(
    client: httpx.AsyncClient, auth: Auth, path: str, cursor: str
) -> None:
    assert_problem(await client.get(path, params={"cursor": cursor}, headers=auth.manager()), 400)


@pytest.mark.parametrize("sku", ["0", "-5", str(U32), "abc"])
async def test_bad_skus_in_stock_reads_are_422(client: httpx.AsyncClient, auth: Auth, sku: str) -> None:
    assert_problem(await client.get(f"/api/v1/stocks/{sku}"), 422, "sku")
    assert_problem(await client.get("/api/v1/stocks", params={"sku": sku}), 422)
    if sku.lstrip("-").isdigit():
        assert_problem(await client.post("/stocks", json={"sku": int(sku)}, headers=auth.stock_reader()), 422, "sku")


async def test_batch_stock_read_needs_one_to_200_skus(client: httpx.AsyncClient) -> None:
    assert_problem(await client.get("/api/v1/stocks"), 422, "sku")
    assert_problem(await client.get("/api/v1/stocks", params=[("sku", s) for s in range(1, 202)]), 422, "sku")


@pytest.mark.parametrize("reason", ["timeout", "bored", 5])
async def test_bad_cancel_reasons_are_422_and_change_nothing(
    client: httpx.AsyncClient, auth: Auth, db: Database, reason: Any
) -> None:
    r = await client.post(
        "/api/v1/orders",
        json={"user_id": 8, "items": [{"sku": SKU, "count": 1}]},
        headers={**auth.service(), "Prefer": "wait=5"},
    )
    order_id = r.json()["order_id"]
    before = await db.counts()
    r = await client.post(f"/api/v1/orders/{order_id}/cancel", json={"reason": reason}, headers=auth.manager())
    assert_problem(r, 422)
    assert await db.counts() == before


@pytest.mark.parametrize("body", [{"total": -1}, {"total": 2**32}, {"total": "5"}, {}, {"total": 5, "x": 1}])
async def test_bad_stock_totals_are_422(
    client: httpx.AsyncClient, auth: Auth, db: Database, body: dict[str, Any]
) -> None:
    (wh,) = await db.warehouses(1)
    before = await db.counts()
    assert_problem(await client.put(f"/api/v1/warehouses/{wh}/stocks/{SKU}", json=body, headers=auth.manager()), 422)
    assert await db.counts() == before


async def test_a_malformed_prefer_is_ignored(client: httpx.AsyncClient, auth: Auth) -> None:
    r = await client.post(
        "/api/v1/orders",
        json={"user_id": 9, "items": [{"sku": SKU, "count": 1}]},
        headers={**auth.service(), "Prefer": "wait=soon"},
    )
    assert r.status_code == 201
    assert "Preference-Applied" not in r.headers
