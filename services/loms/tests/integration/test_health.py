"""The common endpoints every service has."""

import httpx

from ..conftest import Database


async def test_healthz_answers_ok(client: httpx.AsyncClient) -> None:
    r = await client.get("/healthz")
    assert r.status_code == 200
    assert r.json() == {"status": "ok"}


async def test_readyz_checks_database_and_kafka(client: httpx.AsyncClient) -> None:
    r = await client.get("/readyz")
    assert r.status_code == 200
    assert set(r.json()["checks"]) == {"database", "kafka"}


async def test_openapi_is_3_1_and_names_the_route256_endpoints(client: httpx.AsyncClient) -> None:
    doc = (await client.get("/openapi.json")).json()
    assert doc["openapi"].startswith("3.1")
    for path in ("/createOrder", "/listOrder", "/orderPayed", "/cancelOrder", "/stocks", "/api/v1/orders"):
        assert path in doc["paths"]
    assert "merged" in doc["info"]["description"]


async def test_migrations_leave_empty_tables(db: Database) -> None:
    counts = await db.counts()
    assert counts["orders"] == 0
