"""Whatever a client sends, the answer is a problem body with the right status, never a 500."""

import httpx
import pytest

from product_stub.config import Settings
from product_stub.main import create_app
from shopcommon.testing.tokens import TestIssuer

PROBLEM = "application/problem+json"


def assert_problem(r: httpx.Response, status: int) -> dict[str, object]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == PROBLEM
    body = r.json()
    assert body["status"] == status and body["title"] and body["detail"] and body["type"]
    return body


async def test_unknown_route_is_404_problem(client: httpx.AsyncClient) -> None:
    assert_problem(await client.get("/no/such/route"), 404)


async def test_wrong_method_is_405_problem(client: httpx.AsyncClient) -> None:
    assert_problem(await client.get("/get_product"), 405)


async def test_malformed_json_is_400_problem(client: httpx.AsyncClient) -> None:
    r = await client.post(
        "/get_product", content=b'{"token": "testtoken", "sku": ', headers={"content-type": "application/json"}
    )
    assert_problem(r, 400)


@pytest.mark.parametrize(
    "body",
    [
        {"token": "testtoken"},
        {"token": 5, "sku": 1},
        {"token": "testtoken", "sku": "1e99"},
        [],
        "sku",
    ],
)
async def test_wrong_shapes_are_422_with_field_errors(client: httpx.AsyncClient, body: object) -> None:
    problem = assert_problem(await client.post("/get_product", json=body), 422)
    errors = problem["errors"]
    assert isinstance(errors, list) and errors and {"field", "message"} <= set(errors[0])


async def test_bad_query_types_are_422(client: httpx.AsyncClient) -> None:
    assert_problem(await client.get("/api/v1/products", params={"limit": "many"}), 422)
    assert_problem(await client.get("/api/v1/products", params={"limit": 0}), 422)
    assert_problem(await client.get("/api/v1/products", params={"min_price": -1}), 422)


async def test_missing_token_is_401_problem(client: httpx.AsyncClient) -> None:
    body = assert_problem(await client.post("/api/v1/categories", json={"name": "x"}), 401)
    assert "token" in str(body["detail"]).lower()


async def test_garbage_token_is_401_problem(client: httpx.AsyncClient) -> None:
    r = await client.post("/api/v1/categories", json={"name": "x"}, headers={"Authorization": "Bearer abc.def.ghi"})
    assert_problem(r, 401)


async def test_extra_fields_in_writes_are_refused(client: httpx.AsyncClient, test_issuer: TestIssuer) -> None:
    r = await client.post("/api/v1/categories", json={"name": "x", "id": 5}, headers=test_issuer.auth(1, "manager"))
    assert_problem(r, 422)


async def test_health_readiness_and_metrics(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    ready = await client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["checks"] == {"database": "ok"}
    await client.get("/api/v1/products/1")
    metrics = (await client.get("/metrics")).text
    assert 'http_requests_total{method="GET",route="/api/v1/products/{sku}",status="404"}' in metrics
    assert "http_request_duration_seconds_bucket" in metrics


async def test_request_id_is_echoed(client: httpx.AsyncClient) -> None:
    r = await client.get("/healthz", headers={"X-Request-ID": "abc123"})
    assert r.headers["x-request-id"] == "abc123"
    assert len((await client.get("/healthz")).headers["x-request-id"]) == 32


async def test_values_the_database_cannot_store_are_422_and_change_nothing(
    client: httpx.AsyncClient, test_issuer: TestIssuer
) -> None:
    auth = test_issuer.auth(1, "manager")
    r = await client.post("/api/v1/categories", json={"name": "nul\x00name"}, headers=auth)
    assert_problem(r, 422)
    names = [c["name"] for c in (await client.get("/api/v1/categories")).json()]
    assert not any("nul" in n for n in names)
    r = await client.get("/api/v1/products", params={"category": "x\x00y"})
    assert_problem(r, 422)


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("/api/v1/products/{sku}", "name"),
        ("/api/v1/products/{sku}", "price"),
        ("/api/v1/products/{sku}", "description"),
        ("/api/v1/products/{sku}", "category"),
        ("/api/v1/products/{sku}", "manufacturer"),
        ("/api/v1/categories/{category}", "name"),
        ("/api/v1/categories/{category}", "description"),
        ("/api/v1/manufacturers/{manufacturer}", "name"),
        ("/api/v1/manufacturers/{manufacturer}", "description"),
    ],
)
async def test_null_for_a_field_of_a_partial_update_is_422_naming_it_and_changes_nothing(
    client: httpx.AsyncClient, test_issuer: TestIssuer, path: str, field: str
) -> None:
    auth = test_issuer.auth(1, "manager")
    product = (await client.get("/api/v1/products", params={"limit": 1})).json()["items"][0]
    category = (await client.get("/api/v1/categories")).json()[0]
    manufacturer = (await client.get("/api/v1/manufacturers")).json()[0]
    url = path.format(sku=product["sku"], category=category["id"], manufacturer=manufacturer["id"])
    before = (await client.get(url)).json()
    body = assert_problem(await client.patch(url, json={field: None}, headers=auth), 422)
    assert body["errors"] == [{"field": field, "message": "may be left out, but not null"}]
    assert (await client.get(url)).json() == before


def test_partial_updates_do_not_offer_null_in_the_document() -> None:
    schemas = create_app(Settings(app_env="dev", log_json=False)).openapi()["components"]["schemas"]
    for name in ("ProductUpdate", "GroupUpdate"):
        for prop in schemas[name]["properties"].values():
            assert "anyOf" not in prop and prop.get("type") != "null" and "default" not in prop, (name, prop)
