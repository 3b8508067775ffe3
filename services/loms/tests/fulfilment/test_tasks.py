"""Tasks of paid orders through LOMS's API: made per category, assigned fairly, moved by their
worker only, the order completed once; workers come from the real checkout, categories from the
real product-stub."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from loms.config import Settings

from ..conftest import Auth, Database, eventually, running_app
from .conftest import Catalogue, Checkout, Orders, order_events, seen_by_loms, task_events


@pytest.fixture(scope="module")
async def app_and_client(settings: Settings) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    async with running_app(settings) as pair:
        yield pair


@pytest.fixture(scope="module")
def client(app_and_client: tuple[FastAPI, httpx.AsyncClient]) -> httpx.AsyncClient:
    return app_and_client[1]


async def tasks_of(client: httpx.AsyncClient, auth: Auth, order_id: int) -> list[dict[str, Any]]:
    resp = await client.get(f"/api/v1/orders/{order_id}", headers=auth.manager())
    assert resp.status_code == 200, resp.text
    tasks: list[dict[str, Any]] = resp.json()["tasks"]
    return tasks


async def made(client: httpx.AsyncClient, auth: Auth, order_id: int, count: int) -> list[dict[str, Any]]:
    async def check() -> list[dict[str, Any]]:
        tasks = await tasks_of(client, auth, order_id)
        return tasks if len(tasks) == count else []

    found = await eventually(check, timeout=20)
    assert found, f"order {order_id} has no {count} tasks"
    return found


def as_worker(auth: Auth, worker_id: int) -> dict[str, str]:
    return auth.issuer.auth(worker_id, "worker")


async def test_a_paid_order_through_the_api_gets_a_task_per_category_each_with_a_worker_of_it(
    client: httpx.AsyncClient, auth: Auth, db: Database, checkout: Checkout, catalogue: Catalogue
) -> None:
    (guitars, g_skus), (drums, d_skus) = await catalogue.category(db), await catalogue.category(db)
    g_worker, d_worker = await checkout.make_worker(guitars), await checkout.make_worker(drums)
    created = await client.post(
        "/api/v1/orders",
        headers={**auth.customer(501), "Prefer": "wait=10"},
        json={
            "user_id": 501,
            "items": [{"sku": g_skus[0], "count": 2}, {"sku": g_skus[1], "count": 1}, {"sku": d_skus[0], "count": 3}],
        },
    )
    assert created.status_code == 201, created.text
    order_id = created.json()["order_id"]
    assert (await tasks_of(client, auth, order_id)) == []  # nothing before it is paid
    paid = await client.post(f"/api/v1/orders/{order_id}/pay", headers=auth.customer(501))
    assert paid.status_code == 200, paid.text

    await made(client, auth, order_id, 2)
    wanted = [(guitars, g_worker, "assigned"), (drums, d_worker, "assigned")]

    async def assigned() -> list[dict[str, Any]]:
        # A roster read that began before a worker was made misses them until the next read (at
        # most `workers_min_refresh` later): their task waits unassigned until then.
        tasks = sorted(await tasks_of(client, auth, order_id), key=lambda t: t["category"] == drums)
        return tasks if [(t["category"], t["worker_id"], t["status"]) for t in tasks] == wanted else []

    tasks = await eventually(assigned, timeout=10)
    assert tasks, f"order {order_id}'s tasks were not assigned to {wanted}"
    full = await client.get(f"/api/v1/tasks/{tasks[0]['task_id']}", headers=as_worker(auth, g_worker))
    assert full.status_code == 200, full.text
    assert full.json()["items"] == sorted(
        [{"sku": g_skus[0], "count": 2}, {"sku": g_skus[1], "count": 1}], key=lambda i: i["sku"]
    )
    assert full.json()["order_id"] == order_id and full.json()["assigned_at"] is not None
    # The customer sees the tasks on their order too.
    own = await client.get(f"/api/v1/orders/{order_id}", headers=auth.customer(501))
    assert [t["task_id"] for t in own.json()["tasks"]] == [
        t["task_id"] for t in sorted(tasks, key=lambda t: t["task_id"])
    ]
    # Keyed by the order, per task: made and assigned at once (one event), or made unassigned when
    # the roster missed its worker and assigned by the next pass (two events, in that order).
    events = await task_events(db, order_id=order_id)
    for category, worker in ((guitars, g_worker), (drums, d_worker)):
        steps = [(e["worker_id"], e["status"], e["previous_status"]) for e in events if e["category"] == category]
        assert steps in (
            [(worker, "assigned", None)],
            [(None, "unassigned", None), (worker, "assigned", "unassigned")],
        ), (category, steps)


async def test_a_worker_moves_only_their_own_task_forward_and_each_step_is_one_event(
    client: httpx.AsyncClient, auth: Auth, db: Database, checkout: Checkout, catalogue: Catalogue, orders: Orders
) -> None:
    category, skus = await catalogue.category(db)
    mine, other = await checkout.make_worker(category), await checkout.make_worker("elsewhere")
    [order_id] = await orders.paid([[(skus[0], 1)]])
    [task] = await made(client, auth, order_id, 1)
    task_id = task["task_id"]
    assert task["worker_id"] == mine

    # Another worker: the task does not exist for them, whatever they try.
    for path in ("", "/start", "/done"):
        method = client.get if not path else client.post
        resp = await method(f"/api/v1/tasks/{task_id}{path}", headers=as_worker(auth, other))
        assert resp.status_code == 404, resp.text
        assert resp.headers["content-type"].startswith("application/problem+json")
    listed = await client.get("/api/v1/tasks", headers=as_worker(auth, other))
    assert task_id not in [t["task_id"] for t in listed.json()["items"]]
    assert (await client.get(f"/api/v1/tasks?worker_id={mine}", headers=as_worker(auth, other))).status_code == 403
    # A customer is not a worker; a manager does not start tasks.
    assert (await client.get(f"/api/v1/tasks/{task_id}", headers=auth.customer(7))).status_code == 403
    assert (await client.post(f"/api/v1/tasks/{task_id}/start", headers=auth.manager())).status_code == 403

    # The wrong state is a conflict: done before started, started twice.
    early = await client.post(f"/api/v1/tasks/{task_id}/done", headers=as_worker(auth, mine))
    assert early.status_code == 409, early.text
    assert early.json()["current_status"] == "assigned"
    started = await client.post(f"/api/v1/tasks/{task_id}/start", headers=as_worker(auth, mine))
    assert started.status_code == 200 and started.json()["status"] == "in_progress"
    again = await client.post(f"/api/v1/tasks/{task_id}/start", headers=as_worker(auth, mine))
    assert again.status_code == 409, again.text
    finished = await client.post(f"/api/v1/tasks/{task_id}/done", headers=as_worker(auth, mine))
    assert finished.status_code == 200 and finished.json()["status"] == "done"
    assert (await client.post(f"/api/v1/tasks/{task_id}/done", headers=as_worker(auth, mine))).status_code == 409

    events = await task_events(db, task_id=task_id)
    assert [(e["status"], e["previous_status"], e["worker_id"]) for e in events] == [
        ("assigned", None, mine),
        ("in_progress", "assigned", mine),
        ("done", "in_progress", mine),
    ]
    assert len({e["event_id"] for e in events}) == 3
    # Its only task done: the order is completed, with its one event.
    order = await client.get(f"/api/v1/orders/{order_id}", headers=auth.manager())
    assert order.json()["status"] == "completed"
    assert order.json()["tasks"] == [{"task_id": task_id, "category": category, "worker_id": mine, "status": "done"}]
    [completed] = await order_events(db, order_id, "completed")
    assert completed["previous_status"] == "paid"


async def test_the_order_completes_exactly_once_when_its_last_two_tasks_are_done_at_the_same_moment(
    client: httpx.AsyncClient, auth: Auth, db: Database, checkout: Checkout, catalogue: Catalogue, orders: Orders
) -> None:
    (one, one_skus), (two, two_skus) = await catalogue.category(db), await catalogue.category(db)
    first, second = await checkout.make_worker(one), await checkout.make_worker(two)
    order_ids = await orders.paid([[(one_skus[0], 1), (two_skus[0], 1)] for _ in range(8)])
    for order_id in order_ids:
        tasks = await made(client, auth, order_id, 2)
        by_worker = {t["worker_id"]: t["task_id"] for t in tasks}
        assert set(by_worker) == {first, second}
        for worker, task_id in by_worker.items():
            resp = await client.post(f"/api/v1/tasks/{task_id}/start", headers=as_worker(auth, worker))
            assert resp.status_code == 200, resp.text
        finished = await asyncio.gather(
            *(
                client.post(f"/api/v1/tasks/{task_id}/done", headers=as_worker(auth, worker))
                for worker, task_id in by_worker.items()
            )
        )
        assert [r.status_code for r in finished] == [200, 200], [r.text for r in finished]
        order = await client.get(f"/api/v1/orders/{order_id}", headers=auth.manager())
        assert order.json()["status"] == "completed"
        assert len(await order_events(db, order_id, "completed")) == 1


async def test_the_task_list_pages_newest_first_and_filters(
    client: httpx.AsyncClient, auth: Auth, db: Database, checkout: Checkout, catalogue: Catalogue, orders: Orders
) -> None:
    category, skus = await catalogue.category(db)
    worker = await checkout.make_worker(category)
    order_ids = await orders.paid([[(skus[0], 1)] for _ in range(5)])
    for order_id in order_ids:
        await made(client, auth, order_id, 1)
    seen: list[int] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        page = await client.get("/api/v1/tasks", params=params, headers=as_worker(auth, worker))
        assert page.status_code == 200, page.text
        seen += [t["task_id"] for t in page.json()["items"]]
        assert all(t["worker_id"] == worker for t in page.json()["items"])
        cursor = page.json()["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == 5 and seen == sorted(seen, reverse=True)
    managed = await client.get(f"/api/v1/tasks?worker_id={worker}&status=assigned&limit=200", headers=auth.manager())
    assert [t["task_id"] for t in managed.json()["items"]] == seen
    none = await client.get(f"/api/v1/tasks?worker_id={worker}&status=done", headers=auth.manager())
    assert none.json() == {"items": [], "next_cursor": None}
    bad = await client.get("/api/v1/tasks?status=lost", headers=auth.manager())
    assert bad.status_code == 422
    assert (await client.get("/api/v1/tasks?cursor=%%%", headers=auth.manager())).status_code == 400


async def test_a_renamed_category_names_later_tasks_and_a_deleted_product_keeps_its_own(
    client: httpx.AsyncClient, auth: Auth, db: Database, catalogue: Catalogue, orders: Orders
) -> None:
    """Once, each sku's category was read once for good: after a rename every later task had the
    old name, which no worker had any more, and waited for ever."""
    category, skus = await catalogue.category(db)
    [first] = await orders.paid([[(skus[0], 1), (skus[1], 1)]])
    [task] = await made(client, auth, first, 1)
    assert task["category"] == category
    renamed = await catalogue.rename(category)
    await catalogue.delete_product(skus[1])
    [soon] = await orders.paid([[(skus[0], 1)]])
    assert (await made(client, auth, soon, 1))[0]["category"] == category  # read a moment ago: remembered
    await db.fetch("UPDATE sku_categories SET fetched_at = fetched_at - interval '2 minutes' "
                     "WHERE sku = ANY($1::bigint[])", skus[:2])  # fmt: skip
    later, deleted = await orders.paid([[(skus[0], 1)], [(skus[1], 1)]])
    assert (await made(client, auth, later, 1))[0]["category"] == renamed
    # The catalogue lists the deleted product no more: it keeps the category it was sold in.
    assert (await made(client, auth, deleted, 1))[0]["category"] == category
    # ... remembered as asked just now, so the next passes do not ask again for it.
    fresh = "SELECT fetched_at > now() - interval '1 minute' FROM sku_categories WHERE sku = $1"
    assert (await db.fetch(fresh, skus[1]))[0][0] is True


async def test_a_category_without_workers_waits_then_its_tasks_go_to_the_worker_who_appears(
    client: httpx.AsyncClient, auth: Auth, db: Database, checkout: Checkout, catalogue: Catalogue, orders: Orders
) -> None:
    category, skus = await catalogue.category(db)
    order_ids = await orders.paid([[(skus[0], 1)], [(skus[1], 2)]])
    for order_id in order_ids:
        [task] = await made(client, auth, order_id, 1)
        assert (task["status"], task["worker_id"]) == ("unassigned", None)
    await asyncio.sleep(1.0)  # passes come and go: nobody to give them to
    assert [t["status"] for o in order_ids for t in await tasks_of(client, auth, o)] == ["unassigned"] * 2

    worker = await checkout.make_worker(category)

    async def assigned() -> bool:
        tasks = [t for o in order_ids for t in await tasks_of(client, auth, o)]
        return all(t["status"] == "assigned" and t["worker_id"] == worker for t in tasks)

    assert await eventually(assigned, timeout=20)
    for order_id in order_ids:
        events = await task_events(db, order_id=order_id)
        assert [(e["status"], e["previous_status"], e["worker_id"], e["previous_worker_id"]) for e in events] == [
            ("unassigned", None, None, None),
            ("assigned", "unassigned", worker, None),
        ]


@pytest.mark.parametrize("leave", ["deactivate", "remove"])
async def test_a_deactivated_or_removed_worker_s_open_tasks_go_to_the_others_and_done_ones_stay(
    app_and_client: tuple[FastAPI, httpx.AsyncClient],
    client: httpx.AsyncClient,
    auth: Auth,
    db: Database,
    checkout: Checkout,
    catalogue: Catalogue,
    orders: Orders,
    leave: str,
) -> None:
    category, skus = await catalogue.category(db)
    leaving, staying = await checkout.make_worker(category), await checkout.make_worker(category)
    await seen_by_loms(app_and_client[0], category, leaving, staying)
    order_ids = await orders.paid([[(skus[0], 1)] for _ in range(6)])
    tasks = [t for o in order_ids for t in await made(client, auth, o, 1)]
    theirs = [t["task_id"] for t in tasks if t["worker_id"] == leaving]
    assert len(theirs) == 3  # balanced between the two
    started, finished = theirs[0], theirs[1]
    for task_id in (started, finished):
        assert (
            await client.post(f"/api/v1/tasks/{task_id}/start", headers=as_worker(auth, leaving))
        ).status_code == 200
    assert (await client.post(f"/api/v1/tasks/{finished}/done", headers=as_worker(auth, leaving))).status_code == 200

    await getattr(checkout, leave)(leaving)

    async def moved() -> bool:
        resp = await client.get(f"/api/v1/tasks?worker_id={leaving}&limit=200", headers=auth.manager())
        return [t["task_id"] for t in resp.json()["items"]] == [finished]

    assert await eventually(moved, timeout=20)
    for task_id in (started, theirs[2]):
        task = (await client.get(f"/api/v1/tasks/{task_id}", headers=auth.manager())).json()
        assert (task["worker_id"], task["status"]) == (staying, "assigned")
    [move] = await task_events(db, task_id=started, worker_id=staying)
    # It names the worker it was taken from: their open page lets it go.
    assert (move["status"], move["previous_status"], move["previous_worker_id"]) == ("assigned", "in_progress", leaving)


async def test_a_manager_assigns_a_task_to_an_active_worker_only(
    client: httpx.AsyncClient, auth: Auth, db: Database, checkout: Checkout, catalogue: Catalogue, orders: Orders
) -> None:
    category, skus = await catalogue.category(db)
    first = await checkout.make_worker(category)
    [order_id] = await orders.paid([[(skus[0], 1)]])
    [task] = await made(client, auth, order_id, 1)
    task_id = task["task_id"]
    second = await checkout.make_worker("somewhere-else")  # not seen by LOMS yet: a miss refreshes

    resp = await client.post(f"/api/v1/tasks/{task_id}/assign", headers=auth.manager(), json={"worker_id": second})
    assert resp.status_code == 200, resp.text
    assert (resp.json()["worker_id"], resp.json()["status"]) == (second, "assigned")
    same = await client.post(f"/api/v1/tasks/{task_id}/assign", headers=auth.manager(), json={"worker_id": second})
    assert same.status_code == 200
    assert len(await task_events(db, task_id=task_id)) == 2  # made, then reassigned: the repeat changed nothing

    customer = await client.post(f"/api/v1/tasks/{task_id}/assign", headers=auth.manager(), json={"worker_id": 1})
    assert customer.status_code == 422 and customer.json()["errors"][0]["field"] == "worker_id"
    assert (
        await client.post(f"/api/v1/tasks/{task_id}/assign", headers=as_worker(auth, first), json={"worker_id": first})
    ).status_code == 403
    assert (
        await client.post("/api/v1/tasks/999999999/assign", headers=auth.manager(), json={"worker_id": first})
    ).status_code == 404
    # The task is looked up first: no such task is a 404 whoever is named.
    assert (
        await client.post("/api/v1/tasks/999999999/assign", headers=auth.manager(), json={"worker_id": 1})
    ).status_code == 404
    assert (
        await client.post(f"/api/v1/tasks/{task_id}/assign", headers=auth.manager(), json={"worker_id": "x"})
    ).status_code == 422
    # The first worker keeps nothing of it; the second finishes it.
    assert (await client.post(f"/api/v1/tasks/{task_id}/start", headers=as_worker(auth, first))).status_code == 404
    assert (await client.post(f"/api/v1/tasks/{task_id}/start", headers=as_worker(auth, second))).status_code == 200
    assert (await client.post(f"/api/v1/tasks/{task_id}/done", headers=as_worker(auth, second))).status_code == 200
    done = await client.post(f"/api/v1/tasks/{task_id}/assign", headers=auth.manager(), json={"worker_id": first})
    assert done.status_code == 409
