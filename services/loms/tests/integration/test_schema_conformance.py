"""The document says what LOMS accepts, and LOMS accepts what the document says (what schemathesis
checks): integers as JSON Schema counts them, ids within what a JSON number carries exactly, text
by a pattern that refuses NUL, and a cancel request offering only the reasons a caller may give."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from loms.api.schemas import NAME_PATTERN
from shopcommon.validation import MAX_JSON_INT

from ..conftest import Auth, Database, new_sku
from .test_validation import assert_problem

SKU = new_sku()
NOT_INTEGERS: list[Any] = [True, False, "5", 5.5]


@pytest.fixture(autouse=True)
async def stocked(db: Database) -> None:
    await db.stock(SKU, 1000)


@pytest.fixture(scope="module")
async def document(client: httpx.AsyncClient) -> dict[str, Any]:
    return (await client.get("/openapi.json")).json()


def resolve(doc: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = doc["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def subschemas(
    doc: dict[str, Any], schema: dict[str, Any], seen: frozenset[str] = frozenset()
) -> Iterator[dict[str, Any]]:
    """`schema` and every schema inside it, references followed (each once per branch)."""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        if name in seen:
            return
        seen = seen | {name}
        schema = resolve(doc, schema)
    yield schema
    for key in ("anyOf", "oneOf", "allOf", "prefixItems"):
        for branch in schema.get(key, []):
            yield from subschemas(doc, branch, seen)
    for key in ("items", "additionalProperties"):
        if isinstance(schema.get(key), dict):
            yield from subschemas(doc, schema[key], seen)
    for prop in schema.get("properties", {}).values():
        yield from subschemas(doc, prop, seen)


def request_schemas(doc: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    """(operation, schema) of every request body and parameter in the document."""
    for path, item in doc["paths"].items():
        for method, op in item.items():
            where = f"{method.upper()} {path}"
            for param in op.get("parameters", []):
                yield f"{where} {param['in']} {param['name']}", param["schema"]
            for media in op.get("requestBody", {}).get("content", {}).values():
                yield f"{where} body", media["schema"]


def request_body_schemas(doc: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any]]]:
    for where, schema in request_schemas(doc):
        if where.endswith(" body"):
            yield where, schema


# --- §4: integer ranges a JSON number carries exactly ------------------------------------------------
def test_no_integer_bound_in_the_document_is_beyond_2_53(document: dict[str, Any]) -> None:
    """JSON Schema validators compare numbers as doubles, where 2^63-1 and 2^63 are the same number."""
    beyond = [
        (where, s.get("minimum"), s.get("maximum"))
        for where, schema in request_schemas(document)
        for s in subschemas(document, schema)
        if abs(s.get("maximum", 0)) > MAX_JSON_INT or abs(s.get("minimum", 0)) > MAX_JSON_INT
    ]
    assert beyond == []
    ids = [
        s
        for where, schema in request_schemas(document)
        if "orderID" in str(schema) or "user" in where or "order_id" in where or "warehouse_id" in where
        for s in subschemas(document, schema)
        if s.get("type") == "integer" and s.get("maximum") == MAX_JSON_INT
    ]
    assert ids, "the ids are bounded by 2^53-1"


async def test_ids_up_to_2_53_minus_1_are_read_and_beyond_are_422(
    client: httpx.AsyncClient, auth: Auth, db: Database
) -> None:
    before = await db.counts()
    for path in ("/listOrder", "/orderPayed", "/cancelOrder"):
        assert_problem(await client.post(path, json={"orderID": MAX_JSON_INT}, headers=auth.service()), 404)
        r = await client.post(path, json={"orderID": MAX_JSON_INT + 1}, headers=auth.service())
        assert_problem(r, 422, "orderID")
    assert_problem(await client.get(f"/api/v1/orders/{MAX_JSON_INT}", headers=auth.service()), 404)
    assert_problem(await client.get(f"/api/v1/orders/{MAX_JSON_INT + 1}", headers=auth.service()), 422, "order_id")
    r = await client.get("/api/v1/orders", params={"user_id": MAX_JSON_INT}, headers=auth.manager())
    assert r.status_code == 200 and r.json()["items"] == []
    r = await client.get("/api/v1/orders", params={"user_id": MAX_JSON_INT + 1}, headers=auth.manager())
    assert_problem(r, 422, "user_id")
    r = await client.get(f"/api/v1/warehouses/{MAX_JSON_INT + 1}/stocks", headers=auth.manager())
    assert_problem(r, 422, "warehouse_id")
    order = {"items": [{"sku": SKU, "count": 1}]}
    r = await client.post("/api/v1/orders", json={"user_id": MAX_JSON_INT + 1, **order}, headers=auth.service())
    assert_problem(r, 422, "user_id")
    r = await client.post("/createOrder", json={"user": MAX_JSON_INT + 1, **order}, headers=auth.service())
    assert_problem(r, 422, "user")
    assert await db.counts() == before
    r = await client.post("/createOrder", json={"user": MAX_JSON_INT, **order}, headers=auth.service())
    assert r.status_code == 200, r.text


# --- §5: integers as JSON Schema counts them ---------------------------------------------------------
async def test_integers_written_with_a_zero_fraction_are_integers(
    client: httpx.AsyncClient, auth: Auth, db: Database
) -> None:
    body = {"user_id": 51.0, "items": [{"sku": float(SKU), "count": 2.0, "price": 150.0}]}
    r = await client.post("/api/v1/orders", json=body, headers={**auth.service(), "Prefer": "wait=5"})
    assert r.status_code == 201, r.text
    order = r.json()
    assert order["user_id"] == 51 and order["items"] == [{"sku": SKU, "count": 2, "price": 150}]
    assert order["total_price"] == 300

    r = await client.post(
        "/createOrder", json={"user": 52.0, "items": [{"sku": float(SKU), "count": 1.0}]}, headers=auth.service()
    )
    assert r.status_code == 200, r.text
    listed = await client.post("/listOrder", json={"orderID": float(r.json()["orderID"])}, headers=auth.service())
    assert listed.json()["user"] == 52 and listed.json()["items"] == [{"sku": SKU, "count": 1}]
    r = await client.post("/cancelOrder", json={"orderID": float(order["order_id"])}, headers=auth.service())
    assert r.status_code == 200, r.text

    r = await client.post("/stocks", json={"sku": float(SKU)}, headers=auth.stock_reader())
    assert r.status_code == 200 and r.json()["stocks"], r.text

    (wh,) = await db.warehouses(1)
    sku = new_sku()
    r = await client.put(f"/api/v1/warehouses/{wh}/stocks/{sku}", json={"total": 10.0}, headers=auth.manager())
    assert r.status_code == 200 and r.json()["total"] == 10, r.text
    adjust = f"/api/v1/warehouses/{wh}/stocks/{sku}/adjust"
    r = await client.post(adjust, json={"delta": -3.0}, headers=auth.manager())
    assert r.status_code == 200 and r.json()["total"] == 7, r.text


INTEGER_FIELDS: list[tuple[str, str, Any, str]] = [
    # (method, path, body with the value at `?`, field named in the answer)
    ("POST", "/api/v1/orders", {"user_id": "?", "items": [{"sku": SKU, "count": 1}]}, "user_id"),
    ("POST", "/api/v1/orders", {"user_id": 7, "items": [{"sku": "?", "count": 1}]}, "items.0.sku"),
    ("POST", "/api/v1/orders", {"user_id": 7, "items": [{"sku": SKU, "count": "?"}]}, "items.0.count"),
    ("POST", "/api/v1/orders", {"user_id": 7, "items": [{"sku": SKU, "count": 1, "price": "?"}]}, "items.0.price"),
    ("POST", "/createOrder", {"user": "?", "items": [{"sku": SKU, "count": 1}]}, "user"),
    ("POST", "/createOrder", {"user": 7, "items": [{"sku": SKU, "count": "?"}]}, "items.0.count"),
    ("POST", "/listOrder", {"orderID": "?"}, "orderID"),
    ("POST", "/orderPayed", {"orderID": "?"}, "orderID"),
    ("POST", "/cancelOrder", {"orderID": "?"}, "orderID"),
    ("POST", "/stocks", {"sku": "?"}, "sku"),
    ("PUT", "/api/v1/warehouses/{wh}/stocks/{sku}", {"total": "?"}, "total"),
    ("POST", "/api/v1/warehouses/{wh}/stocks/{sku}/adjust", {"delta": "?"}, "delta"),
]


def put_value(body: Any, value: Any) -> Any:
    if body == "?":
        return value
    if isinstance(body, dict):
        return {k: put_value(v, value) for k, v in body.items()}
    if isinstance(body, list):
        return [put_value(v, value) for v in body]
    return body


@pytest.mark.parametrize("value", NOT_INTEGERS, ids=repr)
@pytest.mark.parametrize(
    ("method", "path", "body", "field"), INTEGER_FIELDS, ids=[f"{c[1]} {c[3]}" for c in INTEGER_FIELDS]
)
async def test_booleans_strings_and_fractions_are_not_integers(
    client: httpx.AsyncClient, auth: Auth, db: Database, method: str, path: str, body: Any, field: str, value: Any
) -> None:
    (wh,) = await db.warehouses(1)
    before = await db.counts()
    url = path.format(wh=wh, sku=SKU)
    headers = auth.manager() if "warehouses" in url else auth.service() if url != "/stocks" else auth.stock_reader()
    r = await client.request(method, url, json=put_value(body, value), headers=headers)
    assert_problem(r, 422, field)
    assert await db.counts() == before


# --- §6: text without NUL, by a documented pattern ---------------------------------------------------
def test_every_request_text_has_a_pattern_that_refuses_nul(document: dict[str, Any]) -> None:
    open_text = [
        where
        for where, schema in request_body_schemas(document)
        for s in subschemas(document, schema)
        if s.get("type") == "string"
        and "enum" not in s
        and "const" not in s
        and re.search(s.get("pattern", ""), "a\x00b") is not None
    ]
    assert open_text == []


@pytest.mark.parametrize(
    "name",
    [
        "Depot\x00North",  # NUL: PostgreSQL cannot store it
        "Depot\tNorth",  # other control characters
        " Depot",  # surrounding whitespace: names are stored as sent
        "Depot ",
        "\u0085",  # whitespace to Python and the validator's regex, not to ECMA-262's \s
        "\ufeff",  # whitespace to ECMA-262's \s, not to Python's str.isspace
        "\u3000",
    ],
    ids=repr,
)
async def test_warehouse_names_the_pattern_refuses_are_422_naming_the_field(
    client: httpx.AsyncClient, auth: Auth, db: Database, name: str
) -> None:
    assert re.search(NAME_PATTERN, name) is None
    before = await db.counts()
    r = await client.post("/api/v1/warehouses", json={"name": name}, headers=auth.manager())
    assert_problem(r, 422, "name")
    assert await db.counts() == before


async def test_a_warehouse_name_the_pattern_admits_is_stored_as_sent(client: httpx.AsyncClient, auth: Auth) -> None:
    name = f"Склад №{new_sku()}  (north) \u00e9"
    assert re.search(NAME_PATTERN, name)
    r = await client.post("/api/v1/warehouses", json={"name": name}, headers=auth.manager())
    assert r.status_code == 201, r.text
    assert r.json()["name"] == name


def test_the_warehouse_name_is_documented_with_its_pattern(document: dict[str, Any]) -> None:
    name = document["components"]["schemas"]["WarehouseCreate"]["properties"]["name"]
    assert name["pattern"] == NAME_PATTERN
    assert "\\s" not in name["pattern"].lower(), "\\s and \\S mean different things to ECMA-262 and the validator"


# --- §10: a cancel request offers only the reasons a caller may give ---------------------------------
def test_the_cancel_request_does_not_offer_timeout_and_orders_still_show_it(document: dict[str, Any]) -> None:
    (body,) = [
        s for where, s in request_body_schemas(document) if where == "POST /api/v1/orders/{order_id}/cancel body"
    ]
    offered = {v for s in subschemas(document, body) for v in s.get("enum", [])}
    assert offered == {"customer", "staff"}
    shown = document["components"]["schemas"]["OrderOut"]["properties"]["cancel_reason"]
    assert {v for s in subschemas(document, shown) for v in s.get("enum", [])} == {"customer", "staff", "timeout"}


async def test_staff_cancel_with_a_reason_from_the_request_enum(client: httpx.AsyncClient, auth: Auth) -> None:
    r = await client.post(
        "/api/v1/orders",
        json={"user_id": 53, "items": [{"sku": SKU, "count": 1}]},
        headers={**auth.service(), "Prefer": "wait=5"},
    )
    order_id = r.json()["order_id"]
    r = await client.post(f"/api/v1/orders/{order_id}/cancel", json={"reason": "staff"}, headers=auth.manager())
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "cancelled" and r.json()["cancel_reason"] == "staff"


# --- a rule across lines no schema can state has its own problem type --------------------------------
@pytest.mark.parametrize(
    "items",
    [
        [{"sku": SKU, "count": 65535}, {"sku": SKU, "count": 1}],
        [{"sku": SKU, "count": 1, "price": 5}, {"sku": SKU, "count": 1, "price": 6}],
    ],
    ids=["counts beyond uint16", "two prices"],
)
async def test_lines_that_cannot_be_merged_are_items_not_mergeable(
    client: httpx.AsyncClient, auth: Auth, db: Database, items: list[dict[str, int]]
) -> None:
    before = await db.counts()
    paths = ["/api/v1/orders"] + (["/createOrder"] if "price" not in items[0] else [])
    for path in paths:
        user = "user_id" if path.startswith("/api") else "user"
        r = await client.post(path, json={user: 54, "items": items}, headers={**auth.service(), "Idempotency-Key": "k"})
        assert_problem(r, 422, "items")
        assert r.json()["type"] == "https://shop.example/problems/items-not-mergeable"
    assert await db.counts() == before
