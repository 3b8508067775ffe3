"""`Idempotency-Key`: same key and body replays, another body is 422, scoped to caller and route."""

from __future__ import annotations

import asyncio

import httpx

from ..conftest import Auth, Database, new_sku


def order_body(user_id: int, sku: int, count: int = 1) -> dict[str, object]:
    return {"user_id": user_id, "items": [{"sku": sku, "count": count}]}


async def test_same_key_same_body_replays_the_first_answer(client: httpx.AsyncClient, auth: Auth, db: Database) -> None:
    sku = new_sku()
    await db.stock(sku, 10)
    headers = {**auth.customer(61), "Idempotency-Key": "order-61-a", "Prefer": "wait=5"}
    first = await client.post("/api/v1/orders", json=order_body(61, sku, 2), headers=headers)
    again = await client.post("/api/v1/orders", json=order_body(61, sku, 2), headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.content == first.content
    assert again.headers["Idempotent-Replayed"] == "true"
    assert await db.value("SELECT count(*) FROM orders WHERE user_id = 61") == 1
    assert (await db.levels(sku))["reserved"] == 2


async def test_same_key_with_another_body_is_422(client: httpx.AsyncClient, auth: Auth, db: Database) -> None:
    sku = new_sku()
    await db.stock(sku, 10)
    headers = {**auth.customer(62), "Idempotency-Key": "order-62"}
    await client.post("/api/v1/orders", json=order_body(62, sku, 1), headers=headers)
    r = await client.post("/api/v1/orders", json=order_body(62, sku, 2), headers=headers)
    assert r.status_code == 422
    assert r.json()["errors"][0]["field"] == "Idempotency-Key"
    assert await db.value("SELECT count(*) FROM orders WHERE user_id = 62") == 1


async def test_keys_are_scoped_to_the_caller(client: httpx.AsyncClient, auth: Auth, db: Database) -> None:
    sku = new_sku()
    await db.stock(sku, 10)
    for user in (63, 64):
        r = await client.post(
            "/api/v1/orders",
            json=order_body(user, sku),
            headers={**auth.customer(user), "Idempotency-Key": "shared-key"},
        )
        assert r.status_code == 201
        assert "Idempotent-Replayed" not in r.headers


async def test_twenty_concurrent_creates_with_one_key_make_one_order(
    client: httpx.AsyncClient, auth: Auth, db: Database
) -> None:
    sku = new_sku()
    await db.stock(sku, 100)
    headers = {**auth.service(), "Idempotency-Key": "burst-65", "Prefer": "wait=5"}
    answers = await asyncio.gather(
        *(client.post("/api/v1/orders", json=order_body(65, sku), headers=headers) for _ in range(20))
    )
    assert await db.value("SELECT count(*) FROM orders WHERE user_id = 65") == 1
    assert (await db.levels(sku))["reserved"] == 1
    created = [a for a in answers if a.status_code == 201]
    assert created
    assert {a.json()["order_id"] for a in created} == {await db.value("SELECT id FROM orders WHERE user_id = 65")}
    assert all(a.status_code in (201, 409) for a in answers)
    later = await client.post("/api/v1/orders", json=order_body(65, sku), headers=headers)
    assert later.json()["status"] == "awaiting payment"


async def test_pay_with_a_key_replays_instead_of_409(client: httpx.AsyncClient, auth: Auth, db: Database) -> None:
    sku = new_sku()
    await db.stock(sku, 10)
    order_id = (
        await client.post("/api/v1/orders", json=order_body(66, sku), headers={**auth.customer(66), "Prefer": "wait=5"})
    ).json()["order_id"]
    headers = {**auth.customer(66), "Idempotency-Key": "pay-66"}
    answers = await asyncio.gather(*(client.post(f"/api/v1/orders/{order_id}/pay", headers=headers) for _ in range(5)))
    assert [a.status_code for a in answers] == [200] * 5
    assert len({a.content for a in answers}) == 1
    assert (await db.levels(sku))["written_off"] == 1
    plain = await client.post(f"/api/v1/orders/{order_id}/pay", headers=auth.customer(66))
    assert plain.status_code == 409


async def test_a_refusal_is_replayed_too(client: httpx.AsyncClient, auth: Auth, db: Database) -> None:
    headers = {**auth.service(), "Idempotency-Key": "pay-missing"}
    first = await client.post("/api/v1/orders/424242/pay", headers=headers)
    again = await client.post("/api/v1/orders/424242/pay", headers=headers)
    assert first.status_code == again.status_code == 404
    assert again.content == first.content
    assert again.headers["content-type"] == "application/problem+json"


async def test_same_key_on_another_route_is_independent(client: httpx.AsyncClient, auth: Auth, db: Database) -> None:
    sku = new_sku()
    await db.stock(sku, 10)
    headers = {**auth.customer(67), "Idempotency-Key": "k-67", "Prefer": "wait=5"}
    order_id = (await client.post("/api/v1/orders", json=order_body(67, sku), headers=headers)).json()["order_id"]
    r = await client.post(f"/api/v1/orders/{order_id}/cancel", headers=headers)
    assert r.status_code == 200
    assert r.json()["status"] == "cancelled"


async def test_rpc_create_with_a_key_replays_the_order_id(client: httpx.AsyncClient, auth: Auth, db: Database) -> None:
    sku = new_sku()
    await db.stock(sku, 10)
    headers = {**auth.service(), "Idempotency-Key": "rpc-68"}
    body = {"user": 68, "items": [{"sku": sku, "count": 1}]}
    first = await client.post("/createOrder", json=body, headers=headers)
    again = await client.post("/createOrder", json=body, headers=headers)
    assert first.json() == again.json()
    assert set(first.json()) == {"orderID"}


async def test_stock_adjust_with_a_key_moves_stock_once(client: httpx.AsyncClient, auth: Auth, db: Database) -> None:
    sku = new_sku()
    (wh,) = await db.stock(sku, 10)
    headers = {**auth.manager(), "Idempotency-Key": "receive-delivery-1"}
    for _ in range(3):
        r = await client.post(f"/api/v1/warehouses/{wh}/stocks/{sku}/adjust", json={"delta": 5}, headers=headers)
        assert r.json()["total"] == 15
    assert (await db.levels(sku))["total"] == 15


async def test_a_create_whose_first_request_died_is_answered_with_its_order(
    client: httpx.AsyncClient, auth: Auth, db: Database
) -> None:
    sku = new_sku()
    await db.stock(sku, 10)
    headers = {**auth.customer(69), "Idempotency-Key": "died-69", "Prefer": "wait=5"}
    first = await client.post("/api/v1/orders", json=order_body(69, sku), headers=headers)
    # As if the process died before storing its answer, long enough ago to be presumed dead.
    await db.fetch(
        "UPDATE idempotency_keys SET state = 'running', response_status = NULL, response_body = NULL, "
        "updated_at = now() - interval '1 hour' WHERE key = 'died-69'"
    )
    retry = await client.post("/api/v1/orders", json=order_body(69, sku), headers=headers)
    assert retry.status_code == 201
    assert retry.json()["order_id"] == first.json()["order_id"]
    assert retry.json()["status"] == "awaiting payment"
    assert await db.value("SELECT count(*) FROM orders WHERE user_id = 69") == 1
    assert await db.value("SELECT state FROM idempotency_keys WHERE key = 'died-69'") == "done"
