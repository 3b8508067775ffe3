"""Two processes of every service on one stack, every background worker running in both at once
(LOMS's intake, expiry, outbox relay and fulfilment; bookings' relay and purge; notifications'
consumer, senders and retention): orders are created through both checkouts and both LOMS
processes, paid, cancelled and left to expire, bookings requested, confirmed and cancelled through
both bookings processes, and still nothing is reserved twice, announced twice, e-mailed twice,
assigned twice or lost."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from shopcommon.testing.plugin import Stack

from .conftest import (
    Audit,
    EventLog,
    System,
    audit,
    bearer,
    final_orders,
    new_customer,
    start_system,
    stock_levels,
    wait_until,
)

PAYMENT_TIMEOUT = 12
REPLICA_ENV = {
    "LOMS_PAYMENT_TIMEOUT": str(PAYMENT_TIMEOUT),
    "LOMS_EXPIRY_INTERVAL": "0.3",
    "BOOKINGS_REQUESTS_PER_IP": "0",
}
SETTLE = 60.0

pytestmark = pytest.mark.timeout(180)


@pytest.fixture(scope="module")
def replicas(shop_stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[System]:
    sys_ = start_system(shop_stack, tmp_path_factory.mktemp("replicas"), REPLICA_ENV, replicas=2)
    try:
        yield sys_
    finally:
        sys_.stop()


async def skus_in_stock(system: System, how_many: int, at_least: int = 40) -> list[int]:
    async with system.client("checkout") as client:
        page = (await client.get("/api/v1/products", params={"limit": 100, "in_stock": "true"})).json()
    skus = [p["sku"] for p in page["items"] if p["quantity_in_stock"] >= at_least]
    assert len(skus) >= how_many, page
    return skus[:how_many]


async def create_order(system: System, customer: dict[str, Any], sku: int, n: int) -> int | None:
    """Every third order straight to a LOMS process without waiting (its intake worker reserves
    it); the others through a checkout process. Each call picks its replica by `n`."""
    replica = n % 2
    key = uuid.uuid4().hex
    if n % 3 == 0:
        async with system.client("loms", replica) as loms:
            r = await loms.post(
                "/api/v1/orders",
                json={"user_id": customer["id"], "items": [{"sku": sku, "count": 1 + n % 2}]},
                headers={**customer["headers"], "Idempotency-Key": key},
            )
    else:
        async with system.client("checkout", replica) as shop:
            r = await shop.post(
                "/api/v1/orders",
                json={"items": [{"sku": sku, "count": 1 + n % 2}]},
                headers={**customer["headers"], "Idempotency-Key": key},
            )
    if r.status_code >= 500:
        return None
    assert r.status_code == 201, r.text
    return int(r.json()["order_id"])


async def order_status(system: System, customer: dict[str, Any], order_id: int, replica: int) -> str:
    async with system.client("checkout", replica) as shop:
        r = await shop.get(f"/api/v1/orders/{order_id}", headers=customer["headers"])
    assert r.status_code == 200, r.text
    return str(r.json()["status"])


async def act(system: System, customer: dict[str, Any], order_id: int, action: str, replica: int) -> None:
    """Pay or cancel once the order awaits payment, through checkout's `replica`. The payment
    deadline is short here, so on a loaded machine the expiry may come first: then, and only then,
    the 409 is the right answer (the order says it was cancelled by the timeout)."""

    async def reserved() -> bool:
        return await order_status(system, customer, order_id, replica) != "new"

    await wait_until(reserved, 30, f"order {order_id} reserved")
    async with system.client("checkout", replica) as shop:
        r = await shop.post(f"/api/v1/orders/{order_id}/{action}", headers=customer["headers"])
        if r.status_code == 409:
            order = (await shop.get(f"/api/v1/orders/{order_id}", headers=customer["headers"])).json()
            assert (order["status"], order["cancel_reason"]) == ("cancelled", "timeout"), (r.text, order)
            return
    assert r.status_code == 200, r.text


async def shop_as(system: System, customer: dict[str, Any], skus: list[int], per_customer: int) -> None:
    """One customer's orders, all at once: a third paid, a third cancelled, a third left to
    expire, each step through a replica other than the one before."""

    async def one(n: int) -> None:
        order_id = await create_order(system, customer, skus[n % len(skus)], n + customer["id"])
        if order_id is not None and n % 3 != 2:
            await act(system, customer, order_id, "pay" if n % 3 == 0 else "cancel", (n + 1) % 2)

    await asyncio.gather(*(one(n) for n in range(per_customer)))


async def book(system: System, staff: dict[str, str], n: int, when: datetime) -> tuple[int, tuple[str, list[str]]]:
    """Request a booking through bookings `n % 2`, confirm it through the other, and cancel every
    second one through the first again."""
    address = f"guest-{uuid.uuid4().hex[:10]}@guests.test"
    window = {"starts_at": when.isoformat(), "ends_at": (when + timedelta(hours=2)).isoformat()}
    async with system.client("bookings", n % 2) as first, system.client("bookings", (n + 1) % 2) as other:
        tables = (await first.get("/api/v1/tables", params={"seats": 2, **window})).json()["items"]
        table = next(t for t in tables if t["bookable"])
        r = await first.post(
            "/api/v1/bookings",
            json={"table_id": table["table_id"], **window, "name": f"Guest {n}", "email": address},
            headers={"Idempotency-Key": uuid.uuid4().hex},
        )
        assert r.status_code == 201, r.text
        booking_id = int(r.json()["booking_id"])
        r = await other.post(f"/api/v1/bookings/{booking_id}/confirm", headers=staff)
        assert r.status_code == 200, r.text
        statuses = ["pending", "confirmed"]
        if n % 2 == 0:
            r = await first.post(f"/api/v1/bookings/{booking_id}/cancel", headers=staff)
            assert r.status_code == 200, r.text
            statuses.append("cancelled")
    return booking_id, (address, statuses)


async def settled(
    system: System,
    log: EventLog,
    customers: list[dict[str, Any]],
    bookings: dict[int, tuple[str, list[str]]],
    stock_before: dict[tuple[int, int], tuple[int, int]],
    timeout: float = SETTLE,
) -> tuple[Audit, float]:
    """Wait until no order is left `new` or `awaiting payment` and the audit finds nothing
    missing; then a little longer, so that a late duplicate would show. The audit, and how long
    settling took."""
    last: list[Audit] = []

    async def done() -> bool:
        orders = await final_orders(system, [c["id"] for c in customers])
        if any(s in ("new", "awaiting payment") for s in orders.values()):
            return False
        last[:] = [await audit(system, log, customers, bookings, stock_before)]
        return not last[0].lost_events and not last[0].lost_emails

    try:
        took = await wait_until(done, timeout, "everything announced and mailed")
    except AssertionError as exc:
        raise AssertionError(f"{exc}: {last[0].problems[:20] if last else 'orders still open'}") from None
    await asyncio.sleep(2.0)
    return await audit(system, log, customers, bookings, stock_before), took


async def test_two_processes_of_everything_do_everything_once(replicas: System) -> None:
    system = replicas
    assert all(len(procs) == 2 for procs in system.replicas.values()), system.replicas
    staff = await bearer(system, "admin", "1")
    skus = await skus_in_stock(system, 4)
    stock_before = await stock_levels(system, skus)
    log = EventLog(system)
    await log.open()
    try:
        customers = [await new_customer(system, staff, replica=i % 2) for i in range(6)]
        when = datetime.now(UTC).replace(hour=12, minute=0, second=0, microsecond=0) + timedelta(days=30)
        _, booked = await asyncio.gather(
            asyncio.gather(*(shop_as(system, c, skus, 6) for c in customers)),
            asyncio.gather(*(book(system, staff, n, when + timedelta(hours=3 * n)) for n in range(4))),
        )
        bookings = dict(booked)
        found, took = await settled(system, log, customers, bookings, stock_before)
    finally:
        await log.close()
    print(f"\nreplicas: {found.figures()}; settled {took:.1f} s after the last request")
    assert found.problems == [], found.problems[:30]
    assert found.orders == 36 and found.bookings == 4
    finals = await final_orders(system, [c["id"] for c in customers])
    assert sorted(set(finals.values())) == ["cancelled", "paid"], finals
    # Both processes of every service did work: each answered requests (their own metrics).
    for name in ("checkout", "loms", "bookings"):
        for replica in (0, 1):
            async with httpx.AsyncClient(base_url=system.url(name, replica), timeout=10) as client:
                metrics = (await client.get("/metrics")).text
            assert 'status="201"' in metrics or 'status="200"' in metrics, (name, replica)
