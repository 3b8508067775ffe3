"""Faults under load, on two processes of every service: the broker frozen (SIGSTOP) for
seconds, then a notifications process frozen, then a LOMS process killed (-9) while orders are
placed in batches, and restarted. Afterwards every order's events and e-mails exist exactly
once and the stock adds up. The figures go to bench/README.md ("Replicas and faults")."""

from __future__ import annotations

import asyncio
import os
import signal
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from shopcommon.testing.plugin import ServiceProcess, Stack

from .conftest import EventLog, System, bearer, new_customer, start_system, stock_levels, wait_until
from .test_replicas import settled, skus_in_stock

FREEZE = 5.0
FAULT_ENV = {"LOMS_PAYMENT_TIMEOUT": "12", "LOMS_EXPIRY_INTERVAL": "0.3"}

pytestmark = pytest.mark.timeout(240)


@pytest.fixture(scope="module")
def faulty(shop_stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[System]:
    sys_ = start_system(shop_stack, tmp_path_factory.mktemp("faults"), FAULT_ENV, replicas=2)
    try:
        yield sys_
    finally:
        sys_.stop()


class Load:
    """Customers placing orders through either checkout until told to stop: every third paid,
    every third cancelled, the rest left to expire; a failed call is counted and the next one
    goes to the other replica (an order whose answer was lost is still found in LOMS)."""

    def __init__(self, system: System, customers: list[dict[str, Any]], skus: list[int]) -> None:
        self.system = system
        self.customers = customers
        self.skus = skus
        self.stopping = asyncio.Event()
        self.outcomes: Counter[str] = Counter()

    async def call(self, replica: int, method: str, path: str, customer: dict[str, Any], **kw: Any) -> Any:
        try:
            async with self.system.client("checkout", replica, timeout=15) as shop:
                r = await shop.request(method, path, headers={**customer["headers"], **kw.pop("headers", {})}, **kw)
        except httpx.HTTPError as exc:
            self.outcomes[type(exc).__name__] += 1
            return None
        self.outcomes[str(r.status_code)] += 1
        return r.json() if r.status_code in (200, 201) else None

    async def customer_loop(self, customer: dict[str, Any]) -> None:
        n = 0
        while not self.stopping.is_set():
            n += 1
            replica = n % 2
            made = await self.call(
                replica,
                "POST",
                "/api/v1/orders",
                customer,
                json={"items": [{"sku": self.skus[n % len(self.skus)], "count": 1}]},
                headers={"Idempotency-Key": uuid.uuid4().hex},
            )
            if made is None or n % 3 == 2 or made["status"] != "awaiting payment":
                await asyncio.sleep(0.2)
                continue
            action = "pay" if n % 3 == 0 else "cancel"
            await self.call(1 - replica, "POST", f"/api/v1/orders/{made['order_id']}/{action}", customer)

    async def run(self) -> None:
        await asyncio.gather(*(self.customer_loop(c) for c in self.customers))


def signal_group(pid: int | None, sig: int) -> None:
    assert pid is not None
    os.killpg(pid, sig)


async def freeze(pid: int | None, seconds: float) -> None:
    signal_group(pid, signal.SIGSTOP)
    try:
        await asyncio.sleep(seconds)
    finally:
        signal_group(pid, signal.SIGCONT)


async def kill_mid_batch(proc: ServiceProcess) -> None:
    """kill -9 once the process is busy placing orders (its placement counter moving), then start
    it again on the same port."""
    await asyncio.sleep(1.0)
    await asyncio.to_thread(proc.kill)
    await asyncio.sleep(1.0)
    proc.proc.start()
    await asyncio.to_thread(proc.wait_ready, 60)


async def test_broker_and_notifications_frozen_and_loms_killed_lose_and_double_nothing(faulty: System) -> None:
    system = faulty
    staff = await bearer(system, "admin", "1")
    skus = await skus_in_stock(system, 4, at_least=100)
    stock_before = await stock_levels(system, skus)
    log = EventLog(system)
    await log.open()
    try:
        customers = [await new_customer(system, staff, replica=i % 2) for i in range(4)]
        load = Load(system, customers, skus)
        running = asyncio.create_task(load.run())
        try:
            await asyncio.sleep(3.0)
            await freeze(system.stack.embedded.process("tansu").pid, FREEZE)
            await asyncio.sleep(2.0)
            await freeze(system.replicas["notifications"][0].proc.pid, FREEZE)
            await asyncio.sleep(1.0)
            await kill_mid_batch(system.replicas["loms"][1])
            await asyncio.sleep(2.0)
        finally:
            load.stopping.set()
            await running
        last_fault_over = time.monotonic()
        found, _ = await settled(system, log, customers, {}, stock_before, timeout=90)
        recovery = time.monotonic() - last_fault_over
    finally:
        await log.close()
    print(
        f"\nfaults: {found.figures()}; requests {dict(load.outcomes)}; recovered {recovery:.1f} s after the load stopped"
    )
    assert found.problems == [], found.problems[:30]
    assert found.orders >= 20, (found.orders, load.outcomes)

    async def all_ready() -> bool:
        for procs in system.replicas.values():
            for proc in procs:
                async with httpx.AsyncClient(timeout=5) as client:
                    if (await client.get(f"{proc.url}/readyz")).status_code != 200:
                        return False
        return True

    await wait_until(all_ready, 30, "every process ready again")
