"""Fulfilment end to end through real processes (CONTRACT.md "Fulfilment"): a paid order with
items of two categories makes two tasks, assigned by LOMS to the demo workers of those categories
(read from checkout); each worker starts and finishes theirs through checkout; the order becomes
`completed`. Each worker is e-mailed once per task assigned to them, the customer once about the
completion. A manager re-assigns a task; deactivating its worker moves it back."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import orjson

from notifications.testing.mail import messages_to, wait_for_messages
from notifications.testing.sse import sse_frames

from .conftest import System, bearer, new_customer

T = TypeVar("T")
DEMO_PASSWORD = "1"


async def eventually(probe: Callable[[], Awaitable[T]], ok: Callable[[T], bool], timeout: float = 40.0) -> T:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = await probe()
        if ok(value) or asyncio.get_running_loop().time() > deadline:
            return value
        await asyncio.sleep(0.2)


async def sku_of(system: System, category: str, *, at_least: int = 5) -> int:
    async with system.client("checkout") as client:
        r = await client.get("/api/v1/products", params={"category": category, "in_stock": "true", "limit": 100})
    assert r.status_code == 200, r.text
    return next(p["sku"] for p in r.json()["items"] if p["quantity_in_stock"] >= at_least)


async def paid_order(system: System, customer: dict[str, Any], skus: list[int]) -> int:
    async with system.client("checkout") as client:
        items = [{"sku": sku, "count": 1} for sku in skus]
        r = await client.post("/api/v1/orders", json={"items": items}, headers=customer["headers"])
        assert r.status_code == 201, r.text
        order_id = int(r.json()["order_id"])
        paid = await client.post(f"/api/v1/orders/{order_id}/pay", headers=customer["headers"])
        assert paid.status_code == 200 and paid.json()["status"] == "paid", paid.text
    return order_id


async def order_of(system: System, headers: dict[str, str], order_id: int) -> dict[str, Any]:
    async with system.client("checkout") as client:
        r = await client.get(f"/api/v1/orders/{order_id}", headers=headers)
    assert r.status_code == 200, r.text
    order: dict[str, Any] = r.json()
    return order


async def worker(system: System, username: str, password: str = DEMO_PASSWORD) -> dict[str, Any]:
    headers = await bearer(system, username, password)
    async with system.client("checkout") as client:
        me = (await client.get("/api/v1/users/me", headers=headers)).json()
    return {"id": me["id"], "email": me["email"], "headers": headers}


def assignment_mails(mails: list[dict[str, Any]], task_id: int, order_id: int) -> list[dict[str, Any]]:
    return [m for m in mails if m["Subject"].startswith(f"Task {task_id} of order {order_id} is assigned to you")]


async def test_two_categories_two_workers_and_the_order_completes(system: System) -> None:
    admin = await bearer(system, "admin", DEMO_PASSWORD)
    customer = await new_customer(system, admin)
    drums, keys = await worker(system, "worker-drums"), await worker(system, "worker-keyboards")
    order_id = await paid_order(system, customer, [await sku_of(system, "drums"), await sku_of(system, "keyboards")])

    order = await eventually(
        lambda: order_of(system, customer["headers"], order_id),
        lambda o: len(o["tasks"]) == 2 and all(t["status"] == "assigned" for t in o["tasks"]),
    )
    tasks = {t["category"]: t for t in order["tasks"]}
    assert set(tasks) == {"drums", "keyboards"}, order
    assert tasks["drums"]["worker_id"] == drums["id"] and tasks["keyboards"]["worker_id"] == keys["id"]
    drums_task, keys_task = tasks["drums"]["task_id"], tasks["keyboards"]["task_id"]

    async with system.client("checkout") as client:
        mine = (await client.get("/api/v1/tasks", params={"status": "assigned"}, headers=drums["headers"])).json()
        assert drums_task in [t["task_id"] for t in mine["items"]]
        assert keys_task not in [t["task_id"] for t in mine["items"]]
        # Another worker's task does not exist for them; a wrong state is 409.
        assert (await client.get(f"/api/v1/tasks/{drums_task}", headers=keys["headers"])).status_code == 404
        assert (await client.post(f"/api/v1/tasks/{drums_task}/start", headers=keys["headers"])).status_code == 404
        early = await client.post(f"/api/v1/tasks/{drums_task}/done", headers=drums["headers"])
        assert early.status_code == 409 and early.headers["content-type"] == "application/problem+json"

        for who, task_id in ((drums, drums_task), (keys, keys_task)):
            started = await client.post(f"/api/v1/tasks/{task_id}/start", headers=who["headers"])
            assert started.status_code == 200 and started.json()["status"] == "in_progress", started.text
            assert (await client.post(f"/api/v1/tasks/{task_id}/start", headers=who["headers"])).status_code == 409
        assert (await order_of(system, customer["headers"], order_id))["status"] == "paid"
        for who, task_id in ((drums, drums_task), (keys, keys_task)):
            done = await client.post(f"/api/v1/tasks/{task_id}/done", headers=who["headers"])
            assert done.status_code == 200 and done.json()["status"] == "done", done.text

    completed = await eventually(
        lambda: order_of(system, customer["headers"], order_id), lambda o: o["status"] == "completed"
    )
    assert completed["status"] == "completed"
    assert sorted(t["status"] for t in completed["tasks"]) == ["done", "done"]

    customer_mails = await eventually(
        lambda: messages_to(system.mail_api, customer["email"]),
        lambda ms: any(m["Subject"] == f"Order {order_id} is completed" for m in ms),
    )
    await asyncio.sleep(2)  # anything sent twice would be in by now
    customer_mails = await messages_to(system.mail_api, customer["email"])
    assert [m["Subject"] for m in customer_mails].count(f"Order {order_id} is completed") == 1
    for who, task_id in ((drums, drums_task), (keys, keys_task)):
        mails = assignment_mails(await messages_to(system.mail_api, who["email"]), task_id, order_id)
        assert len(mails) == 1, (who["email"], [m["Subject"] for m in mails])
        assert "Status: assigned" in mails[0]["Text"]


async def test_a_manager_reassigns_and_deactivating_the_worker_moves_the_task_back(system: System) -> None:
    admin = await bearer(system, "admin", DEMO_PASSWORD)
    customer = await new_customer(system, admin)
    wind = await worker(system, "worker-wind")
    order_id = await paid_order(system, customer, [await sku_of(system, "wind")])
    order = await eventually(
        lambda: order_of(system, customer["headers"], order_id),
        lambda o: len(o["tasks"]) == 1 and o["tasks"][0]["status"] == "assigned",
    )
    task_id = order["tasks"][0]["task_id"]
    assert order["tasks"][0]["worker_id"] == wind["id"]

    name = "wk" + uuid.uuid4().hex[:10]
    async with system.client("checkout") as client:
        made = await client.post(
            "/api/v1/users",
            headers=admin,
            json={
                "username": name,
                "email": f"{name}@workers.test",
                "password": "correct-horse-1",
                "role": "worker",
                "categories": ["wind"],
            },
        )
        assert made.status_code == 201, made.text
        newcomer = {"id": made.json()["id"], "email": made.json()["email"]}
        async with (
            system.client("notifications") as notifications,
            notifications.stream("GET", "/api/v1/events/stream", headers=wind["headers"]) as stream,
        ):
            assert stream.status_code == 200
            frames = sse_frames(stream)
            moved = await client.post(
                f"/api/v1/tasks/{task_id}/assign", json={"worker_id": newcomer["id"]}, headers=admin
            )
            assert moved.status_code == 200 and moved.json()["worker_id"] == newcomer["id"], moved.text
            # The worker it was taken from is told on their own stream (their open board lets it go).
            async with asyncio.timeout(20):
                async for frame in frames:
                    if frame.is_heartbeat or frame.event != "task.status_changed":
                        continue
                    told = orjson.loads(frame.data)
                    if told["task_id"] == task_id and told["worker_id"] == newcomer["id"]:
                        break
        assert told["previous_worker_id"] == wind["id"]
        customer_view = await client.post(
            f"/api/v1/tasks/{task_id}/assign", json={"worker_id": wind["id"]}, headers=customer["headers"]
        )
        assert customer_view.status_code == 403
        off = await client.patch(f"/api/v1/users/{newcomer['id']}", json={"active": False}, headers=admin)
        assert off.status_code == 200 and off.json()["active"] is False

    back = await eventually(
        lambda: order_of(system, customer["headers"], order_id),
        lambda o: o["tasks"][0]["worker_id"] == wind["id"],
    )
    assert back["tasks"][0] == {"task_id": task_id, "category": "wind", "worker_id": wind["id"], "status": "assigned"}
    newcomer_mails = await wait_for_messages(system.mail_api, newcomer["email"], 1, settle=1.0)
    assert len(assignment_mails(newcomer_mails, task_id, order_id)) == 1
    wind_mails = await eventually(
        lambda: messages_to(system.mail_api, wind["email"]),
        lambda ms: len(assignment_mails(ms, task_id, order_id)) >= 2,
    )
    assert len(assignment_mails(wind_mails, task_id, order_id)) == 2  # first assignment, then moved back
