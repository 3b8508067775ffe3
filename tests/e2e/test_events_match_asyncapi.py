"""The events real flows put on the broker match asyncapi/events.yaml: orders bought, paid, cancelled
by the customer, by staff and by the payment deadline, refused for want of stock; a manager's
change of a stock total; bookings requested, confirmed, rejected and cancelled; a manager's
change of a table. Every event read from `loms.order-events` and
`bookings.booking-events` (this system alone publishes there: every other e2e system has topics of
its own) is validated against its payload schema and its key, and an event type the document lacks fails.
This run's events also show the documented ordering: one key's events on one partition, each
`previous_status` the status of the event before it (a stock row's `previous_total` the total
before it)."""

from __future__ import annotations

import asyncio
import uuid
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import Any

import httpx
import orjson
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from shopcommon.kafka import ensure_topics
from shopcommon.testing.plugin import Stack

from ..test_asyncapi import CATALOGUE
from .conftest import BOOKING_EVENTS, ORDER_EVENTS, TOPIC_ENV, System, read_to_the_end, start_system

ORDERS = "loms.order-events"
BOOKINGS = "bookings.booking-events"
TOPICS = (ORDERS, BOOKINGS)
PAYMENT_TIMEOUT = 10
WAIT = 60.0


@pytest.fixture(scope="module")
def system(shop_stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[System]:
    """The whole system, with a short payment deadline so an unpaid order expires in the test."""
    # The topics by the names the document gives them.
    names = {TOPIC_ENV[ORDER_EVENTS]: ORDERS, TOPIC_ENV[BOOKING_EVENTS]: BOOKINGS}
    sys_ = start_system(
        shop_stack, tmp_path_factory.mktemp("events-system"), {"LOMS_PAYMENT_TIMEOUT": str(PAYMENT_TIMEOUT), **names}
    )
    try:
        yield sys_
    finally:
        for proc in reversed(list(sys_.services.values())):
            proc.stop()


@dataclass
class Record:
    topic: str
    partition: int
    offset: int
    key: str | None
    event: Any


class TopicReader:
    """Every record of both topics, from the beginning, with where this test's own part starts."""

    def __init__(self, bootstrap: str) -> None:
        self.bootstrap = bootstrap
        self.consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap, group_id=None, enable_auto_commit=False, auto_offset_reset="earliest"
        )
        self.records: list[Record] = []
        self.start: dict[TopicPartition, int] = {}

    async def open(self) -> None:
        await ensure_topics(self.bootstrap, dict.fromkeys(TOPICS, 3))
        await self.consumer.start()
        await self.consumer.topics()  # metadata of the topics
        parts = [TopicPartition(t, p) for t in TOPICS for p in sorted(self.consumer.partitions_for_topic(t) or ())]
        assert {tp.topic for tp in parts} == set(TOPICS)
        self.consumer.assign(parts)
        self.start = await read_to_the_end(self.consumer, parts)
        # The session's earlier events are checked against the document too: read them again.
        await self.consumer.seek_to_beginning(*parts)

    async def read(self) -> None:
        batches = await self.consumer.getmany(timeout_ms=300)
        for tp, messages in batches.items():
            for m in messages:
                try:
                    event = orjson.loads(m.value) if m.value else None
                except orjson.JSONDecodeError:
                    event = m.value
                key = m.key.decode() if m.key is not None else None
                self.records.append(Record(tp.topic, tp.partition, m.offset, key, event))

    def ours(self) -> list[Record]:
        return [r for r in self.records if r.offset >= self.start[TopicPartition(r.topic, r.partition)]]

    async def until(self, done: Any, what: str) -> None:
        deadline = asyncio.get_running_loop().time() + WAIT
        while not done(self.ours()):
            assert asyncio.get_running_loop().time() < deadline, f"not on the broker within {WAIT} s: {what}"
            await self.read()


def statuses(records: list[Record], topic: str, id_field: str, ident: int, kind: str) -> list[str]:
    seen: dict[str, str] = {}
    for r in records:
        e = r.event
        if r.topic == topic and isinstance(e, dict) and e.get("type") == kind and e.get(id_field) == ident:
            seen.setdefault(e["event_id"], e["status"])
    return list(seen.values())


async def login(client: httpx.AsyncClient, username: str) -> dict[str, str]:
    r = await client.post("/api/v1/auth/token", json={"username": username, "password": "1"})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


async def in_stock(client: httpx.AsyncClient, at_least: int, at_most: int | None = None) -> int:
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": 100, "in_stock": "true", **({"cursor": cursor} if cursor else {})}
        page = (await client.get("/api/v1/products", params=params)).json()
        for p in page["items"]:
            if p["quantity_in_stock"] >= at_least and (at_most is None or p["quantity_in_stock"] <= at_most):
                sku: int = p["sku"]
                return sku
        cursor = page["next_cursor"]
        assert cursor, "no such sku in the demo data"


async def order(client: httpx.AsyncClient, headers: dict[str, str], sku: int, count: int) -> httpx.Response:
    return await client.post(
        "/api/v1/orders",
        json={"items": [{"sku": sku, "count": count}]},
        headers={**headers, "Idempotency-Key": uuid.uuid4().hex, "Prefer": "wait=10"},
    )


async def order_awaiting_payment(client: httpx.AsyncClient, headers: dict[str, str], sku: int) -> int:
    r = await order(client, headers, sku, 1)
    assert r.status_code == 201 and r.json()["status"] == "awaiting payment", r.text
    order_id: int = r.json()["order_id"]
    return order_id


async def test_every_captured_event_matches_the_asyncapi_document(system: System) -> None:
    reader = TopicReader(system.stack.urls.kafka_bootstrap_servers)
    await reader.open()
    try:
        await drive_and_check(system, reader)
    finally:
        await reader.consumer.stop()


async def drive_and_check(system: System, reader: TopicReader) -> None:
    expected_orders: dict[int, list[str]] = {}
    async with system.client("checkout") as shop:
        customer = await login(shop, "customer")
        staff = await login(shop, "admin")
        sku = await in_stock(shop, at_least=20)

        paid = await order_awaiting_payment(shop, customer, sku)
        r = await shop.post(f"/api/v1/orders/{paid}/pay", headers=customer)
        assert r.status_code == 200 and r.json()["status"] == "paid", r.text
        expected_orders[paid] = ["new", "awaiting payment", "paid"]

        by_customer = await order_awaiting_payment(shop, customer, sku)
        r = await shop.post(f"/api/v1/orders/{by_customer}/cancel", headers=customer)
        assert r.status_code == 200, r.text
        expected_orders[by_customer] = ["new", "awaiting payment", "cancelled"]

        by_staff = await order_awaiting_payment(shop, customer, sku)
        r = await shop.post(f"/api/v1/orders/{by_staff}/cancel", headers=staff)
        assert r.status_code == 200, r.text
        expected_orders[by_staff] = ["new", "awaiting payment", "cancelled"]

        expiring = await order_awaiting_payment(shop, customer, sku)
        expected_orders[expiring] = ["new", "awaiting payment", "cancelled"]

        # More than there is: the reservation fails.
        scarce = await in_stock(shop, at_least=1, at_most=50)
        available = next(
            p["quantity_in_stock"]
            for p in (await shop.get("/api/v1/products", params=[("sku", scarce)])).json()["items"]
            if p["sku"] == scarce
        )
        r = await order(shop, customer, scarce, available + 1)
        refused = r.json().get("order_id")
        if refused is not None:
            expected_orders[refused] = ["new", "failed"]

        lines = await shop.get(f"/api/v1/orders/{paid}", headers=customer)
        tasks = [t["task_id"] for t in lines.json().get("tasks", [])]

    stock = await change_stock(system, staff, sku)
    expected_bookings = await drive_bookings(system, staff)

    def done(records: list[Record]) -> bool:
        return (
            all(
                statuses(records, ORDERS, "order_id", o, "order.status_changed") == want
                for o, want in expected_orders.items()
            )
            and all(
                statuses(records, BOOKINGS, "booking_id", b, "booking.status_changed") == want
                for b, want in expected_bookings.items()
            )
            and all(statuses(records, ORDERS, "task_id", t, "task.status_changed") for t in tasks)
            and stock_changes(records, stock) == 2
            and any(
                r.topic == BOOKINGS and isinstance(r.event, dict) and r.event.get("type") == "table.changed"
                for r in records
            )
        )

    await reader.until(done, f"orders {expected_orders}, bookings {expected_bookings}, tasks {tasks}")
    for _ in range(5):  # and whatever else is there by now
        await reader.read()

    # Every event read, this run's and the session's earlier ones, matches the document.
    problems = [
        f"{r.topic}[{r.partition}]@{r.offset} key={r.key}: {p}"
        for r in reader.records
        for p in CATALOGUE.problems(r.topic, r.key, r.event)
    ]
    assert problems == [], "\n".join(problems[:40])
    ours = reader.ours()
    kinds = {(r.topic, r.event["type"]) for r in ours}
    assert {(ORDERS, "order.status_changed"), (BOOKINGS, "booking.status_changed")} <= kinds
    if tasks:
        assert (ORDERS, "task.status_changed") in kinds
    assert (ORDERS, "stock.changed") in kinds
    assert (BOOKINGS, "table.changed") in kinds

    # The reasons the document says a cancelled order carries.
    reasons = {
        r.event["order_id"]: r.event["reason"]
        for r in ours
        if r.topic == ORDERS and r.event["type"] == "order.status_changed" and r.event["status"] == "cancelled"
    }
    assert (reasons[by_customer], reasons[by_staff], reasons[expiring]) == ("customer", "staff", "timeout")
    assert_ordered_per_key(ours)


async def change_stock(system: System, staff: dict[str, str], sku: int) -> tuple[int, int]:
    """A manager receives units of `sku` and takes them off again: two `stock.changed` events."""
    async with system.client("loms") as loms:
        warehouse = (await loms.get("/api/v1/warehouses", headers=staff)).json()[0]["id"]
        for delta in (5, -5):
            r = await loms.post(
                f"/api/v1/warehouses/{warehouse}/stocks/{sku}/adjust",
                json={"delta": delta},
                headers={**staff, "Idempotency-Key": uuid.uuid4().hex},
            )
            assert r.status_code == 200, r.text
    return warehouse, sku


def stock_changes(records: list[Record], row: tuple[int, int]) -> int:
    events = {
        r.event["event_id"]
        for r in records
        if r.topic == ORDERS
        and isinstance(r.event, dict)
        and r.event.get("type") == "stock.changed"
        and (r.event.get("warehouse_id"), r.event.get("sku")) == row
    }
    return len(events)


async def drive_bookings(system: System, staff: dict[str, str]) -> dict[int, list[str]]:
    start = datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0) + timedelta(days=20)
    expected: dict[int, list[str]] = {}
    async with system.client("bookings") as client:
        tables = (await client.get("/api/v1/tables", params={"seats": 2})).json()["items"]
        table = next(t for t in tables if t["bookable"])
        made = []
        for n, contact in enumerate(
            [{"email": "events-a@guests.test"}, {"phone": "+4915112345678"}, {"email": "events-c@guests.test"}]
        ):
            window = {
                "starts_at": (start + timedelta(hours=3 * n)).isoformat(),
                "ends_at": (start + timedelta(hours=3 * n + 2)).isoformat(),
            }
            r = await client.post(
                "/api/v1/bookings",
                json={"table_id": table["table_id"], **window, "name": f"Guest {n}", **contact},
                headers={"Idempotency-Key": uuid.uuid4().hex},
            )
            assert r.status_code == 201, r.text
            made.append(r.json()["booking_id"])
        confirmed, rejected, cancelled = made
        for booking_id, action in ((confirmed, "confirm"), (rejected, "reject"), (cancelled, "confirm")):
            r = await client.post(f"/api/v1/bookings/{booking_id}/{action}", headers=staff)
            assert r.status_code == 200, r.text
        r = await client.post(f"/api/v1/bookings/{cancelled}/cancel", headers=staff)
        assert r.status_code == 200, r.text
        # A manager closes the table and opens it again: two table events.
        for bookable in (False, True):
            r = await client.patch(f"/api/v1/tables/{table['table_id']}", json={"bookable": bookable}, headers=staff)
            assert r.status_code == 200, r.text
    expected[confirmed] = ["pending", "confirmed"]
    expected[rejected] = ["pending", "rejected"]
    expected[cancelled] = ["pending", "confirmed", "cancelled"]
    return expected


def about(event: dict[str, Any]) -> Any:
    """What an event is of: its task, booking, order, table or stock row."""
    if event["type"] == "stock.changed":
        return event["warehouse_id"], event["sku"]
    if event["type"] == "table.changed":
        return event["table_id"]
    return event.get("task_id") or event.get("booking_id") or event.get("order_id")


def assert_ordered_per_key(records: list[Record]) -> None:
    """One key, one partition; per order (task, booking) each event follows from the one before."""
    partitions: dict[tuple[str, str | None], set[int]] = defaultdict(set)
    chains: dict[tuple[Any, ...], list[dict[str, Any]]] = defaultdict(list)
    seen: set[str] = set()
    for r in sorted(records, key=lambda r: (r.topic, r.partition, r.offset)):
        partitions[(r.topic, r.key)].add(r.partition)
        e = r.event
        if e["event_id"] in seen:
            continue  # at least once: a re-delivery
        seen.add(e["event_id"])
        chains[(r.topic, e["type"], about(e))].append(e)
    assert all(len(p) == 1 for p in partitions.values()), partitions
    for chain_key, events in chains.items():
        if chain_key[1] == "table.changed":
            continue  # each carries the whole table, nothing of the one before
        if chain_key[1] == "stock.changed":
            # A row's first change read here need not be its first ever (the demo data's were not published).
            field, pairs = "total", list(pairwise(events))
        else:
            field, pairs = "status", list(pairwise([None, *events]))
        for before, after in pairs:
            want = before[field] if before else None
            assert after[f"previous_{field}"] == want, (chain_key, [(x[f"previous_{field}"], x[field]) for x in events])
