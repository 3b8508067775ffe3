"""`/api/v1/tasks`: fulfilment tasks through the real LOMS app with the caller's own token; LOMS's
rules and problems reach the client as LOMS gives them, and orders carry their tasks.

The task is written into LOMS's database as its fulfilment pass would write it (that pass needs
product-stub's categories and checkout's workers over the network; the whole flow is in
tests/e2e/test_fulfilment_flow.py)."""

from __future__ import annotations

import json
from typing import Any

import httpx
from sqlalchemy import text

from shopcommon.db import make_engine
from shopcommon.testing.tokens import TestIssuer

from .conftest import CheckoutFactory, CountingTransport, ProductStubFactory, StockBook

CATEGORY = "proxy-test"


async def paid_order(client: httpx.AsyncClient, auth: dict[str, str], sku: int) -> dict[str, Any]:
    r = await client.post("/api/v1/orders", json={"items": [{"sku": sku, "count": 1}]}, headers=auth)
    assert r.status_code == 201, r.text
    paid = await client.post(f"/api/v1/orders/{r.json()['order_id']}/pay", headers=auth)
    assert paid.status_code == 200, paid.text
    return dict(paid.json())


async def add_task(loms_db: str, *, order_id: int, sku: int, worker_id: int) -> int:
    engine = make_engine(loms_db, pool_size=1, max_overflow=0)
    try:
        async with engine.begin() as conn:
            task_id = await conn.scalar(
                text(
                    "INSERT INTO tasks (order_id, category, items, worker_id, status, assigned_at) "
                    "VALUES (:order_id, :category, CAST(:items AS jsonb), :worker_id, 'assigned', now()) RETURNING id"
                ),
                {
                    "order_id": order_id,
                    "category": CATEGORY,
                    "items": json.dumps([{"sku": sku, "count": 1}]),
                    "worker_id": worker_id,
                },
            )
    finally:
        await engine.dispose()
    return int(task_id)


async def test_a_worker_moves_their_task_through_checkout_and_others_cannot(
    checkout: CheckoutFactory,
    product_stub: ProductStubFactory,
    loms: CountingTransport,
    loms_db: str,
    stock_book: StockBook,
    test_issuer: TestIssuer,
) -> None:
    sku = stock_book.take(at_least=5)
    client = await checkout(product=await product_stub(), loms=loms)
    customer = test_issuer.auth(701, "customer")
    order = await paid_order(client, customer, sku)
    task_id = await add_task(loms_db, order_id=order["order_id"], sku=sku, worker_id=702)
    worker, other, manager = (
        test_issuer.auth(702, "worker"),
        test_issuer.auth(703, "worker"),
        test_issuer.auth(1, "manager"),
    )
    url = f"/api/v1/tasks/{task_id}"

    mine = (await client.get("/api/v1/tasks", headers=worker)).json()
    assert [t["task_id"] for t in mine["items"]] == [task_id]
    task = mine["items"][0]
    assert task["order_id"] == order["order_id"] and task["category"] == CATEGORY
    assert task["items"] == [{"sku": sku, "count": 1}] and task["worker_id"] == 702 and task["status"] == "assigned"
    assert (await client.get(url, headers=worker)).json() == task
    assert (await client.get("/api/v1/tasks", headers=other)).json()["items"] == []

    # Another worker's task does not exist for them; a wrong state is LOMS's 409, as LOMS words it.
    for answer in (
        await client.get(url, headers=other),
        await client.post(f"{url}/start", headers=other),
        await client.post(f"{url}/done", headers=other),
    ):
        assert answer.status_code == 404 and answer.headers["content-type"] == "application/problem+json"
    early = await client.post(f"{url}/done", headers=worker)
    assert early.status_code == 409 and early.headers["content-type"] == "application/problem+json"
    assert early.json()["type"].endswith("/task-invalid-transition") and early.json()["current_status"] == "assigned"

    started = await client.post(f"{url}/start", headers=worker)
    assert started.status_code == 200 and started.json()["status"] == "in_progress"
    assert (await client.post(f"{url}/start", headers=worker)).status_code == 409
    listed = await client.get("/api/v1/tasks", params={"status": "in_progress"}, headers=worker)
    assert [t["task_id"] for t in listed.json()["items"]] == [task_id]
    done = await client.post(f"{url}/done", headers=worker)
    assert done.status_code == 200 and done.json()["status"] == "done"

    # Managers see everyone's, by worker; a worker naming another is refused; customers have no tasks.
    managed = await client.get("/api/v1/tasks", params={"worker_id": 702}, headers=manager)
    assert [t["task_id"] for t in managed.json()["items"]] == [task_id]
    assert (await client.get("/api/v1/tasks", params={"worker_id": 703}, headers=worker)).status_code == 403
    assert (await client.get("/api/v1/tasks", headers=customer)).status_code == 403
    assert (await client.post(f"{url}/start", headers=manager)).status_code == 403

    seen = (await client.get(f"/api/v1/orders/{order['order_id']}", headers=customer)).json()
    assert {"task_id": task_id, "category": CATEGORY, "worker_id": 702, "status": "done"} in seen["tasks"]


async def test_bad_task_requests_are_problems_and_loms_down_is_503(
    checkout: CheckoutFactory, test_issuer: TestIssuer
) -> None:
    client = await checkout()  # LOMS unreachable
    worker = test_issuer.auth(704, "worker")
    down = await client.get("/api/v1/tasks", headers=worker)
    assert down.status_code == 503 and down.headers["content-type"] == "application/problem+json"
    assert (await client.post("/api/v1/tasks/1/start", headers=worker)).status_code == 503
    for path, params in (
        ("/api/v1/tasks/0", {}),
        ("/api/v1/tasks", {"status": "lost"}),
        ("/api/v1/tasks", {"limit": 0}),
    ):
        assert (await client.get(path, params=params, headers=worker)).status_code == 422, (path, params)
    assign = await client.post(
        "/api/v1/tasks/1/assign", json={"worker_id": "x"}, headers=test_issuer.auth(1, "manager")
    )
    assert assign.status_code == 422
    assert (await client.post("/api/v1/tasks/1/assign", json={"worker_id": 5}, headers=worker)).status_code == 403
    assert (await client.get("/api/v1/tasks")).status_code == 401
