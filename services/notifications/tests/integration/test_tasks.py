"""Fulfilment on `loms.order-events`: a worker is e-mailed once about each task assigned to them
(redeliveries included), sees their tasks' events on their live stream, and the customer gets the
`completed` e-mail once."""

from __future__ import annotations

import asyncio
import contextlib
import random
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any

import orjson

from notifications.config import Settings
from notifications.testing.events import order_event, produce
from notifications.testing.mail import wait_for_messages
from notifications.testing.sse import SseFrame, sse_frames
from shopcommon.testing.plugin import Stack
from shopcommon.testing.tokens import TestIssuer

from ..conftest import Checkout, running

STREAM = "/api/v1/events/stream"


def task_event(
    task_id: int,
    order_id: int,
    worker_id: int | None,
    status: str,
    previous: str | None,
    previous_worker: int | None = None,
) -> dict[str, Any]:
    return {
        "event_id": str(uuid.uuid4()),
        "type": "task.status_changed",
        "occurred_at": datetime.now(UTC).isoformat(),
        "task_id": task_id,
        "order_id": order_id,
        "category": "guitars",
        "worker_id": worker_id,
        "status": status,
        "previous_status": previous,
        "previous_worker_id": previous_worker,
    }


async def test_each_assignment_mails_its_worker_once_and_the_customer_hears_of_completion_once(
    shop_stack: Stack, checkout: Checkout, settings_for: Callable[..., Settings], topic: str, test_issuer: TestIssuer
) -> None:
    customer, first, second = [await checkout.register_customer() for _ in range(3)]
    order_id, kafka = 61_001, shop_stack.urls.kafka_bootstrap_servers
    assigned = task_event(901, order_id, first.id, "assigned", "unassigned")
    # The first worker was deactivated: the task goes to the second, and the first's stream is told.
    moved = task_event(901, order_id, second.id, "assigned", "in_progress", previous_worker=first.id)
    first_events = [
        task_event(900, order_id, None, "unassigned", None),  # nobody's: no mail, no stream
        assigned,
        assigned,  # delivered twice (at least once): still one e-mail
        task_event(901, order_id, first.id, "in_progress", "assigned"),
        task_event(901, order_id, first.id, "done", "in_progress"),
        moved,
    ]
    async with (
        running(settings_for(loms_events_topic=topic)) as (_, client),
        client.stream("GET", STREAM, headers=test_issuer.auth(first.id, "worker")) as resp,
    ):
        frames = sse_frames(resp)
        await produce(kafka, topic, first_events)
        await produce(kafka, topic, [order_event(order_id, customer.id, "completed", "paid")])
        seen = []
        async with asyncio.timeout(20):
            async for frame in frames:
                if not frame.is_heartbeat:
                    seen.append(frame)
                if len(seen) == 4:
                    break
        mails_first = await wait_for_messages(shop_stack.urls.mail_api_url, first.email, 1, settle=1.5)
        mails_second = await wait_for_messages(shop_stack.urls.mail_api_url, second.email, 1)
        mails_customer = await wait_for_messages(shop_stack.urls.mail_api_url, customer.email, 1)

    assert [(f.event, orjson.loads(f.data)["status"]) for f in seen] == [
        ("task.status_changed", "assigned"),
        ("task.status_changed", "in_progress"),
        ("task.status_changed", "done"),
        ("task.status_changed", "assigned"),
    ]
    assert orjson.loads(seen[3].data)["worker_id"] == second.id  # theirs no more: the board lets it go
    assert seen[0].id == assigned["event_id"] and orjson.loads(seen[0].data)["task_id"] == 901
    assert [m["Subject"] for m in mails_first] == [f"Task 901 of order {order_id} is assigned to you (guitars)"]
    assert "Status: assigned" in mails_first[0]["Text"] and "Nora Tester" in mails_first[0]["Text"]
    assert [m["Subject"] for m in mails_second] == [f"Task 901 of order {order_id} is assigned to you (guitars)"]
    assert [m["Subject"] for m in mails_customer] == [f"Order {order_id} is completed"]


async def _events(frames: AsyncIterator[SseFrame], count: int, settle: float) -> list[tuple[str | None, Any, Any]]:
    """A stream's next `count` events (20 s at most), then any more arriving within `settle` s."""
    seen: list[tuple[str | None, Any, Any]] = []

    async def take(limit: int | None) -> None:
        async for frame in frames:
            if not frame.is_heartbeat:
                data = orjson.loads(frame.data)
                seen.append((frame.event, data.get("task_id") or data["status"], data["status"]))
            if limit is not None and len(seen) >= limit:
                return

    async with asyncio.timeout(20):
        await take(count)
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(settle):
            await take(None)
    return seen


async def test_task_events_reach_the_orders_customer_and_every_manager_as_well_as_the_worker(
    shop_stack: Stack, checkout: Checkout, settings_for: Callable[..., Settings], topic: str, test_issuer: TestIssuer
) -> None:
    customer, worker, manager, other = [await checkout.register_customer() for _ in range(4)]
    order_id = random.randrange(10**9, 2 * 10**9)
    unknown = order_id + 1  # an order whose events this service never saw: its customer is unknown
    assigned = task_event(700, order_id, worker.id, "assigned", None)
    events = [
        order_event(order_id, customer.id, "paid", "awaiting payment"),
        assigned,
        task_event(701, order_id, None, "unassigned", None),  # nobody's yet: the customer and managers see it
        assigned,  # delivered twice: streamed once to each
        task_event(700, order_id, worker.id, "in_progress", "assigned"),
        task_event(799, unknown, worker.id, "assigned", None),
        task_event(700, order_id, worker.id, "done", "in_progress"),
    ]
    async with contextlib.AsyncExitStack() as stack:
        _, client = await stack.enter_async_context(running(settings_for(loms_events_topic=topic)))
        streams = {}
        for name, person, role in [("customer", customer, "customer"), ("worker", worker, "worker"),
                                   ("manager", manager, "manager"), ("other", other, "customer")]:  # fmt: skip
            resp = await stack.enter_async_context(
                client.stream("GET", STREAM, headers=test_issuer.auth(person.id, role))
            )
            streams[name] = sse_frames(resp)
        await produce(shop_stack.urls.kafka_bootstrap_servers, topic, events)
        seen = {
            "customer": await _events(streams["customer"], 5, settle=0.5),
            "worker": await _events(streams["worker"], 4, settle=0.5),
            "manager": await _events(streams["manager"], 6, settle=0.5),
            "other": await _events(streams["other"], 0, settle=0.5),
        }

    # The unknown order is on another partition: its event may come before or after the others.
    task, elsewhere = "task.status_changed", ("task.status_changed", 799, "assigned")
    in_order = [(task, 700, "assigned"), (task, 701, "unassigned"), (task, 700, "in_progress"), (task, 700, "done")]
    assert seen["customer"] == [("order.status_changed", "paid", "paid"), *in_order]
    # Managers hear every order's events as well.
    assert [e for e in seen["manager"] if e != elsewhere] == seen["customer"]
    assert seen["manager"].count(elsewhere) == 1
    assert [e for e in seen["worker"] if e != elsewhere] == [in_order[0], *in_order[2:]]
    assert seen["worker"].count(elsewhere) == 1
    assert seen["other"] == []
