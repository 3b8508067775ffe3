"""Anonymous bodies that are too large are refused before they are read."""

from __future__ import annotations

import httpx


async def test_a_token_request_over_16_kib_is_413(client: httpx.AsyncClient) -> None:
    body = '{"username": "customer", "password": "' + "x" * (17 * 1024) + '"}'
    r = await client.post("/api/v1/auth/token", content=body, headers={"content-type": "application/json"})
    assert r.status_code == 413 and r.headers["content-type"] == "application/problem+json"
    assert r.json()["type"].endswith("/too-large")


async def test_a_multi_megabyte_registration_is_413(client: httpx.AsyncClient) -> None:
    r = await client.post("/api/v1/users", content=b"{" + b" " * (3 << 20) + b"}",
                          headers={"content-type": "application/json"})  # fmt: skip
    assert r.status_code == 413 and r.headers["content-type"] == "application/problem+json"


async def test_the_document_states_the_token_routes_limit(client: httpx.AsyncClient) -> None:
    op = (await client.get("/openapi.json")).json()["paths"]["/api/v1/auth/token"]["post"]
    assert op["x-max-body-bytes"] == 16 * 1024 and "413" in op["responses"]
