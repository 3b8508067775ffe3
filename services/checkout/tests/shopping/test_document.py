"""The OpenAPI document says what shopping's validators do (what `make fuzz` checks): body integers
as JSON Schema counts them (5.0 is 5; true and "5" are not integers), every integer bound one a
JSON number carries exactly, query and path integers still read from text."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from checkout.config import Settings
from checkout.main import create_app
from shopcommon.testing.tokens import TestIssuer
from shopcommon.validation import MAX_JSON_INT

from .conftest import CheckoutFactory, CountingTransport, ProductStubFactory, StockBook


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    doc: dict[str, Any] = create_app(Settings(app_env="dev", log_json=False)).openapi()
    return doc


def bounds(node: Any, where: str = "") -> Iterator[tuple[str, Any]]:
    if isinstance(node, dict):
        for key, value in node.items():
            if key in ("maximum", "minimum", "exclusiveMaximum", "exclusiveMinimum"):
                yield f"{where}/{key}", value
            else:
                yield from bounds(value, f"{where}/{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from bounds(value, f"{where}/{i}")


def test_every_integer_bound_is_one_a_json_number_carries(document: dict[str, Any]) -> None:
    found = list(bounds(document))
    assert found
    assert [(where, value) for where, value in found if abs(value) > MAX_JSON_INT] == []
    ids = [value for where, value in found if where.endswith("/maximum") and value == MAX_JSON_INT]
    assert len(ids) >= 5  # the route256 `user`, `user_id` in a body and a query, order and account paths


def test_text_filters_state_they_take_no_nul(document: dict[str, Any]) -> None:
    params = {p["name"]: p["schema"] for p in document["paths"]["/api/v1/products"]["get"]["parameters"]}
    for name in ("category", "manufacturer"):
        assert params[name]["anyOf"][0]["pattern"] == "^[^\\x00]*$", params[name]


def test_a_placed_order_links_to_its_operations(document: dict[str, Any]) -> None:
    for path in ("/api/v1/orders", "/api/v1/cart/checkout"):
        for status in ("201", "202"):
            links = document["paths"][path]["post"]["responses"][status]["links"]
            assert {link["operationId"] for link in links.values()} == {"get_order", "pay_order", "cancel_order"}
            assert all(link["parameters"] == {"order_id": "$response.body#/order_id"} for link in links.values())


async def test_body_integers_are_read_as_json_schema_counts_them(
    checkout: CheckoutFactory,
    product_stub: ProductStubFactory,
    loms: CountingTransport,
    stock_book: StockBook,
    test_issuer: TestIssuer,
) -> None:
    sku = stock_book.take(at_least=5)
    client = await checkout(product=await product_stub(), loms=loms)
    manager, customer = test_issuer.auth(1, "manager"), test_issuer.auth(320, "customer")
    r = await client.post("/addToCart", json={"user": 320.0, "sku": float(sku), "count": 2.0}, headers=customer)
    assert r.status_code == 200, r.text
    r = await client.post("/api/v1/cart/items", json={"sku": float(sku), "count": 1.0}, headers=customer)
    assert r.status_code == 200 and r.json() == {"sku": sku, "count": 3}, r.text
    assert (await client.post("/listCart", json={"user": 320.0}, headers=manager)).json()["items"][0]["count"] == 3
    refused: list[tuple[str, dict[str, Any], str]] = [
        ("/listCart", {"user": True}, "user"),
        ("/listCart", {"user": "320"}, "user"),
        ("/listCart", {"user": 320.5}, "user"),
        ("/listCart", {"user": MAX_JSON_INT + 1}, "user"),
        ("/addToCart", {"user": 320, "sku": sku, "count": True}, "count"),
        ("/deleteFromCart", {"user": 320, "sku": str(sku), "count": 1}, "sku"),
        ("/api/v1/cart/items", {"sku": sku, "count": "1"}, "count"),
        ("/api/v1/orders", {"items": [{"sku": sku, "count": 1}], "user_id": True}, "user_id"),
        ("/api/v1/orders", {"items": [{"sku": sku, "count": 1}], "user_id": MAX_JSON_INT + 1}, "user_id"),
    ]
    for path, body, field in refused:
        r = await client.post(path, json=body, headers=manager)
        assert r.status_code == 422, (path, body, r.text)
        assert [e["field"].split(".")[-1] for e in r.json()["errors"]] == [field], r.text
    assert (await client.post("/listCart", json={"user": 320}, headers=manager)).json()["items"][0]["count"] == 3


async def test_query_and_path_integers_still_read_from_text(
    checkout: CheckoutFactory,
    product_stub: ProductStubFactory,
    loms: CountingTransport,
    stock_book: StockBook,
    test_issuer: TestIssuer,
) -> None:
    sku = stock_book.take(at_least=5)
    client = await checkout(product=await product_stub(), loms=loms)
    customer, manager = test_issuer.auth(321, "customer"), test_issuer.auth(1, "manager")
    assert (await client.post("/api/v1/cart/items", json={"sku": sku, "count": 3}, headers=customer)).status_code == 200
    r = await client.delete(f"/api/v1/cart/items/{sku}", params={"count": "2"}, headers=customer)
    assert r.status_code == 200 and r.json() == {"sku": sku, "count": 1}, r.text
    r = await client.get("/api/v1/products", params={"min_price": "0", "max_price": "4294967295", "limit": 1})
    assert r.status_code == 200, r.text
    r = await client.get("/api/v1/orders", params={"user_id": "321"}, headers=manager)
    assert r.status_code == 200, r.text
    for url in (f"/api/v1/orders/{MAX_JSON_INT + 1}", f"/api/v1/orders?user_id={MAX_JSON_INT + 1}"):
        r = await client.get(url, headers=manager)
        assert r.status_code == 422, (url, r.text)
