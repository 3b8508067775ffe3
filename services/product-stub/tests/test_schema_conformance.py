"""The document says what the service accepts, and the service accepts what the document says
(what schemathesis checks): integers as JSON Schema counts them, text without NUL stated as a
pattern, a complete `Allow` on a 405, and the answers it gives documented."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from product_stub.config import Settings
from product_stub.demo import demo_products
from product_stub.main import create_app
from shopcommon.testing.tokens import TestIssuer
from shopcommon.validation import NO_NUL

from .test_problems import assert_problem

PRODUCTS = demo_products()


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    return create_app(Settings(app_env="dev", log_json=False)).openapi()


# --- integers (§5): 5.0 is 5; true, false and "5" are not integers ----------------------------------
@pytest.mark.parametrize("price", [False, True, "5", 5.5])
async def test_a_price_that_is_not_a_json_integer_is_422_and_changes_nothing(
    client: httpx.AsyncClient, test_issuer: TestIssuer, price: object
) -> None:
    auth = test_issuer.auth(1, "manager")
    new = {"sku": 91, "name": "x", "price": price, "category": "strings", "manufacturer": "Yamaha"}
    body = assert_problem(await client.post("/api/v1/products", json=new, headers=auth), 422)
    assert [e["field"] for e in body["errors"]] == ["price"]
    assert (await client.get("/api/v1/products/91")).status_code == 404

    sku = PRODUCTS[5].sku
    before = (await client.get(f"/api/v1/products/{sku}")).json()
    body = assert_problem(await client.patch(f"/api/v1/products/{sku}", json={"price": price}, headers=auth), 422)
    assert [e["field"] for e in body["errors"]] == ["price"]
    assert (await client.get(f"/api/v1/products/{sku}")).json() == before


async def test_integers_written_with_a_zero_fraction_are_integers(
    client: httpx.AsyncClient, test_issuer: TestIssuer
) -> None:
    auth = test_issuer.auth(1, "manager")
    new = {"sku": 92.0, "name": "x", "price": 1500.0, "category": "strings", "manufacturer": "Yamaha"}
    r = await client.post("/api/v1/products", json=new, headers=auth)
    assert r.status_code == 201, r.text
    assert r.json()["sku"] == 92 and r.json()["price"] == 1500
    r = await client.patch("/api/v1/products/92", json={"price": 1600.0}, headers=auth)
    assert r.status_code == 200 and r.json()["price"] == 1600
    rpc = await client.post("/get_product", json={"token": "testtoken", "sku": 92.0})
    assert rpc.json() == {"name": "x", "price": 1600}
    r = await client.post("/list_skus", json={"token": "testtoken", "startAfterSku": 91.0, "count": 1.0})
    assert r.json() == {"skus": [92]}
    assert (await client.delete("/api/v1/products/92", headers=auth)).status_code == 204


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/get_product", {"token": "testtoken", "sku": True}, "sku"),
        ("/get_product", {"token": "testtoken", "sku": "1"}, "sku"),
        ("/list_skus", {"token": "testtoken", "count": False}, "count"),
        ("/list_skus", {"token": "testtoken", "count": "10"}, "count"),
        ("/list_skus", {"token": "testtoken", "count": 1, "startAfterSku": True}, "startAfterSku"),
    ],
)
async def test_route256_integers_refuse_booleans_and_strings(
    client: httpx.AsyncClient, path: str, body: dict[str, Any], field: str
) -> None:
    problem = assert_problem(await client.post(path, json=body), 422)
    assert [e["field"] for e in problem["errors"]] == [field]


async def test_price_filters_in_the_query_still_read_text(client: httpx.AsyncClient) -> None:
    r = await client.get("/api/v1/products", params={"min_price": "0", "max_price": "4294967295", "limit": 1})
    assert r.status_code == 200, r.text


# --- text without NUL (§6), a pattern in the document and a 422 naming the field -------------------
def text_fields(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """Every string field of every request body, and every string query parameter."""
    schemas = document["components"]["schemas"]
    found = []
    bodies = {
        op["requestBody"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
        for item in document["paths"].values()
        for op in item.values()
        if "requestBody" in op
    }
    for name in sorted(bodies):
        for field, prop in schemas[name]["properties"].items():
            if prop.get("type") == "string":
                found.append((name, field, prop))
    for path, item in document["paths"].items():
        for op in item.values():
            for param in op.get("parameters", []):
                for option in param["schema"].get("anyOf", [param["schema"]]):
                    if option.get("type") == "string" and param["name"] != "cursor":
                        found.append((path, param["name"], option))
    return found


def test_every_request_string_is_documented_nul_free(document: dict[str, Any]) -> None:
    fields = text_fields(document)
    named = {(where, field) for where, field, _ in fields}
    assert {("ProductCreate", "description"), ("GroupUpdate", "name"), ("GetProductRequest", "token")} <= named
    assert ("/api/v1/products", "category") in named
    for where, field, prop in fields:
        assert prop.get("pattern") == NO_NUL, (where, field, prop)


@pytest.mark.parametrize(
    ("method", "path", "body", "field"),
    [
        ("POST", "/api/v1/manufacturers", {"name": "a\x00b"}, "name"),
        ("POST", "/api/v1/categories", {"name": "ok", "description": "a\x00b"}, "description"),
        ("PATCH", "/api/v1/categories/{category}", {"description": "a\x00b"}, "description"),
        ("PATCH", "/api/v1/manufacturers/{manufacturer}", {"name": "\x00"}, "name"),
        ("PATCH", "/api/v1/products/{sku}", {"name": "nul\x00"}, "name"),
        ("PATCH", "/api/v1/products/{sku}", {"category": "guitars\x00"}, "category"),
        ("PATCH", "/api/v1/products/{sku}", {"manufacturer": "\x00Yamaha"}, "manufacturer"),
        (
            "POST",
            "/api/v1/products",
            {
                "sku": 93,
                "name": "x",
                "price": 1,
                "category": "strings",
                "manufacturer": "Yamaha",
                "description": "\x00",
            },
            "description",
        ),
        ("POST", "/get_product", {"token": "test\x00token", "sku": 1}, "token"),
        ("POST", "/list_skus", {"token": "\x00", "count": 1}, "token"),
    ],
)
async def test_nul_in_any_request_text_is_422_naming_the_field_and_changes_nothing(
    client: httpx.AsyncClient, test_issuer: TestIssuer, method: str, path: str, body: dict[str, Any], field: str
) -> None:
    auth = test_issuer.auth(1, "manager")
    category = (await client.get("/api/v1/categories")).json()[0]
    manufacturer = (await client.get("/api/v1/manufacturers")).json()[0]
    url = path.format(sku=PRODUCTS[7].sku, category=category["id"], manufacturer=manufacturer["id"])
    seen = [(await client.get(f"/api/v1/{kind}")).json() for kind in ("categories", "manufacturers")]
    problem = assert_problem(await client.request(method, url, json=body, headers=auth), 422)
    assert [e["field"] for e in problem["errors"]] == [field], problem
    assert problem["title"] == "Validation failed"  # refused by the model, not by the database
    assert [(await client.get(f"/api/v1/{kind}")).json() for kind in ("categories", "manufacturers")] == seen
    assert (await client.get("/api/v1/products/93")).status_code == 404


@pytest.mark.parametrize("param", ["category", "manufacturer"])
async def test_nul_in_a_filter_is_422_naming_it(client: httpx.AsyncClient, param: str) -> None:
    problem = assert_problem(await client.get("/api/v1/products", params={param: "x\x00y"}), 422)
    assert [e["field"] for e in problem["errors"]] == [param]


# --- shared fixes, as this service shows them (§1, §2, §3, §15) -------------------------------------
@pytest.mark.parametrize(
    ("path", "allow"),
    [
        ("/api/v1/products", "GET, POST"),
        ("/api/v1/products/{sku}", "GET, PATCH, DELETE"),
        ("/api/v1/categories", "GET, POST"),
        ("/api/v1/categories/1", "GET, PATCH, DELETE"),
        ("/api/v1/manufacturers", "GET, POST"),
        ("/api/v1/manufacturers/1", "GET, PATCH, DELETE"),
        ("/get_product", "POST"),
    ],
)
async def test_options_answers_405_allowing_every_documented_method(
    client: httpx.AsyncClient, document: dict[str, Any], path: str, allow: str
) -> None:
    url = path.format(sku=PRODUCTS[0].sku)
    r = await client.options(url)
    assert_problem(r, 405)
    assert r.headers["allow"] == allow
    template = path if path in document["paths"] else path.rsplit("/", 1)[0] + "/{group_id}"
    documented = {m.upper() for m in document["paths"][template]}
    assert set(allow.split(", ")) == documented


async def test_a_body_that_is_not_utf8_is_400_malformed_json(client: httpx.AsyncClient) -> None:
    r = await client.post(
        "/list_skus",
        content=b'{"token": "\xff\xfetesttoken", "count": 1}',
        headers={"content-type": "application/json"},
    )
    assert assert_problem(r, 400)["type"] == "https://shop.example/problems/malformed-json"


def test_the_document_states_every_answer_the_shared_code_gives(document: dict[str, Any]) -> None:
    problem = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
    for path, item in document["paths"].items():
        for method, op in item.items():
            responses = op["responses"]
            if "requestBody" in op:
                assert responses["400"]["content"] == problem, (method, path)
            if "422" in responses:
                assert responses["422"]["content"] == problem, (method, path)
    assert list(document["paths"]["/metrics"]["get"]["responses"]["200"]["content"]) == ["text/plain"]
    assert "HTTPValidationError" not in document["components"]["schemas"]
