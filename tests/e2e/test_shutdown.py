"""Graceful shutdown (issue 18): SIGTERM to a service process, as Kubernetes sends it. The process
stops taking connections at once, lets the requests in flight finish, ends its SSE streams with a
retry hint, finishes the batch in hand and commits its offsets, and exits with status 0 well inside
the 30 s grace period (`terminationGracePeriodSeconds` in deploy/k8s). Each test restarts what it
stopped."""

from __future__ import annotations

import asyncio
import contextlib
import re
import signal
import subprocess
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator

import asyncpg
import httpx
import pytest

from notifications.testing.events import order_event, produce
from shopcommon.testing.plugin import ServiceProcess, Stack

from .conftest import (
    System,
    bearer,
    consumers_joined,
    mail_subjects,
    metric,
    new_customer,
    plain_url,
    start_system,
    wait_until,
)
from .test_replicas import skus_in_stock

GRACE_SECONDS = 30.0
#: product-stub's RPC endpoints answer this slowly, so adding an sku to a cart (checkout asks
#: ProductService for it) takes seconds: a request still in flight when SIGTERM comes.
LATENCY_MS = 1500
SLOW_ENV = {
    "PRODUCT_LATENCY_MS": str(LATENCY_MS),
    "CHECKOUT_PRODUCT_TIMEOUT": "4",
    # Products cached by other modules' checkouts (the Valkey is shared) would make the request fast.
    "CHECKOUT_SHOPPING_REDIS_PREFIX": f"shutdown-{uuid.uuid4().hex[:8]}:",
    # The sku listing, once read, vouches for every sku: one slow call per request, not several.
    "CHECKOUT_PRODUCT_KNOWN_SKUS_MAX_AGE": "600",
}
#: Small transactions make a burst take a while, so SIGTERM lands in the middle of it.
CONSUMER_ENV = {"NOTIFICATIONS_CONSUMER_BATCH_SIZE": "100", "NOTIFICATIONS_CONSUMER_TRANSACTION_SIZE": "2"}
BURST = 400

pytestmark = pytest.mark.timeout(300)


@pytest.fixture(scope="module")
def stoppable(shop_stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[System]:
    sys_ = start_system(shop_stack, tmp_path_factory.mktemp("shutdown"), {**SLOW_ENV, **CONSUMER_ENV})
    try:
        yield sys_
    finally:
        sys_.stop()


def sigterm(proc: ServiceProcess) -> float:
    """SIGTERM to the service's process (not its group: as a container runtime signals PID 1);
    when it was sent (monotonic)."""
    popen = proc.proc.proc
    assert popen is not None and popen.poll() is None
    popen.send_signal(signal.SIGTERM)
    return time.monotonic()


async def exit_of(proc: ServiceProcess, sent_at: float) -> tuple[int, float]:
    """The process's exit status and how long after SIGTERM it came (fails past the grace period)."""
    popen = proc.proc.proc
    assert popen is not None
    status = await asyncio.to_thread(popen.wait, GRACE_SECONDS + 5)
    return status, time.monotonic() - sent_at


async def restart(proc: ServiceProcess) -> None:
    proc.proc.start()
    await asyncio.to_thread(proc.wait_ready, 60)
    if proc.spec.name == "notifications":  # back in its consumer group, so the next test's events are read
        await asyncio.to_thread(consumers_joined, [proc])


@contextlib.asynccontextmanager
async def restarted_afterwards(proc: ServiceProcess) -> AsyncIterator[None]:
    """Whatever the test finds once it has stopped `proc`, the service runs again for the next test."""
    try:
        yield
    finally:
        popen = proc.proc.proc
        if popen is not None and popen.poll() is None:
            try:
                await asyncio.to_thread(popen.wait, GRACE_SECONDS + 5)
            except subprocess.TimeoutExpired:
                popen.kill()
                await asyncio.to_thread(popen.wait)
        await restart(proc)


async def refused(url: str) -> bool:
    """New connections are refused; one taken just as the server closed its socket, then dropped
    without an answer, means it is closing still: ask again."""
    try:
        async with httpx.AsyncClient(timeout=2) as client:
            await client.get(url + "/healthz")
    except httpx.ConnectError:
        return True
    except httpx.RemoteProtocolError:
        return False
    return False


async def test_a_request_in_flight_completes_and_new_connections_are_refused(stoppable: System) -> None:
    system = stoppable
    checkout = system.services["checkout"]
    staff = await bearer(system, "admin", "1")
    customer = await new_customer(system, staff)
    warm, sku = await skus_in_stock(system, 2, at_least=5)

    async def add_to_cart(sku: int) -> tuple[httpx.Response, float]:
        async with system.client("checkout", timeout=GRACE_SECONDS) as client:
            began = time.monotonic()
            r = await client.post("/api/v1/cart/items", headers=customer["headers"], json={"sku": sku, "count": 1})
            return r, time.monotonic() - began

    assert (await add_to_cart(warm))[0].status_code == 200  # the sku listing read: one slow call is left per sku
    in_flight = asyncio.create_task(add_to_cart(sku))
    await asyncio.sleep(LATENCY_MS / 1000 / 3)  # the request is waiting on ProductService
    assert not in_flight.done()
    sent_at = sigterm(checkout)
    async with restarted_afterwards(checkout):
        await wait_until(lambda: refused(checkout.url), 3, "checkout refusing new connections")
        refused_after = time.monotonic() - sent_at
        response, took = await in_flight
        status, exited_after = await exit_of(checkout, sent_at)
        print(
            f"\nshutdown (a): in-flight request {response.status_code} after {took:.2f} s; new connections refused "
            f"{refused_after:.2f} s after SIGTERM; exit {status} after {exited_after:.2f} s"
        )
        assert response.status_code == 200, response.text
        assert response.json() == {"sku": sku, "count": 1}
        assert took >= LATENCY_MS / 1000  # it was in flight all along, not refused and retried
        assert status == 0, checkout.log()
        assert exited_after < GRACE_SECONDS
    async with system.client("checkout") as client:  # the line was stored: the request really finished
        cart = (await client.get("/api/v1/cart", headers=customer["headers"])).json()
    assert sorted((item["sku"], item["count"]) for item in cart["items"]) == sorted([(warm, 1), (sku, 1)])


async def test_an_open_event_stream_gets_a_retry_hint_and_ends(stoppable: System) -> None:
    system = stoppable
    notifications = system.services["notifications"]
    staff = await bearer(system, "admin", "1")
    customer = await new_customer(system, staff)
    received: list[str] = []
    opened = asyncio.Event()

    async def listen() -> None:
        async with (
            system.client("notifications", timeout=GRACE_SECONDS) as client,
            client.stream("GET", "/api/v1/events/stream", headers=customer["headers"]) as stream,
        ):
            assert stream.status_code == 200
            async for line in stream.aiter_lines():
                received.append(line)
                if line.startswith(": connected"):
                    opened.set()

    listening = asyncio.create_task(listen())
    await asyncio.wait_for(opened.wait(), 10)
    sent_at = sigterm(notifications)
    async with restarted_afterwards(notifications):
        await asyncio.wait_for(listening, GRACE_SECONDS)  # the stream ended: the server closed it
        ended_after = time.monotonic() - sent_at
        status, exited_after = await exit_of(notifications, sent_at)
        print(
            f"\nshutdown (c): stream ended {ended_after:.2f} s after SIGTERM; exit {status} after {exited_after:.2f} s"
        )
        hint = received.index(": server stopping; reconnect")
        assert re.fullmatch(r"retry: \d+", received[hint - 1]), received
        assert ended_after < 5  # within sse-starlette's grace, before uvicorn would cut it
        assert status == 0, notifications.log()
        assert exited_after < GRACE_SECONDS


async def inbox_count(conn: asyncpg.Connection, first: int, last: int) -> int:
    return int(await conn.fetchval("SELECT count(*) FROM inbox_events WHERE order_id BETWEEN $1 AND $2", first, last))


async def test_a_consumer_stopped_mid_burst_emails_every_event_exactly_once(stoppable: System) -> None:
    system = stoppable
    notifications = system.services["notifications"]
    staff = await bearer(system, "admin", "1")
    customer = await new_customer(system, staff)
    first = 8_000_000 + uuid.uuid4().int % 1_000_000 * 1000
    orders = range(first, first + BURST)
    kafka = system.stack.urls.kafka_bootstrap_servers
    watcher = await asyncpg.connect(plain_url(system.env["NOTIFICATIONS_DATABASE_URL"]))
    try:
        await produce(
            kafka, system.order_events, [order_event(o, customer["id"], "paid", "awaiting payment") for o in orders]
        )
        deadline = time.monotonic() + 60
        while await inbox_count(watcher, orders[0], orders[-1]) < 10:  # polled tightly: the burst is short
            assert time.monotonic() < deadline, "the burst was never consumed:\n" + notifications.log()
            await asyncio.sleep(0.005)
        sent_at = sigterm(notifications)
        async with restarted_afterwards(notifications):
            status, exited_after = await exit_of(notifications, sent_at)
            handled_at_stop = await inbox_count(watcher, orders[0], orders[-1])
            assert status == 0, notifications.log()
            assert exited_after < GRACE_SECONDS
            assert handled_at_stop < BURST, "the burst was over before SIGTERM: nothing was tested"
    finally:
        await watcher.close()
    expected = {(customer["email"], f"Order {o} is paid") for o in orders}

    async def all_mailed() -> bool:
        found = await mail_subjects(system, {customer["email"]})
        return expected <= set(found)

    await wait_until(all_mailed, 120, "every event e-mailed after the restart")
    await asyncio.sleep(2.0)  # anything sent twice would arrive by now
    mails = await mail_subjects(system, {customer["email"]})
    async with system.client("notifications") as client:
        metrics = (await client.get("/metrics")).text
    redelivered = metric(metrics, 'notifications_events_total{outcome="duplicate"}')
    print(
        f"\nshutdown (b): {handled_at_stop} of {BURST} events handled when SIGTERM came; exit {status} after "
        f"{exited_after:.2f} s; after the restart {len(mails)} mails, {redelivered:.0f} events read again"
    )
    assert set(mails) == expected
    assert mails == Counter(dict.fromkeys(expected, 1))
    # The batch in hand was finished and its offsets committed before the consumer left the group:
    # the restarted process reads nothing the stopped one had handled.
    assert redelivered == 0
