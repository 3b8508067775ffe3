#!/usr/bin/env python3
"""Notification latency: from an order's status change in LOMS to the e-mail accepted by SMTP and
to the event received on an open SSE stream, p50/p95 over at least 200 orders.

The system runs as `make run` runs it (uvicorn, uvloop + httptools, one worker each) on the
embedded stack: product-stub, checkout, LOMS and notifications. Customers register and sign in
through checkout, keep an SSE stream open on notifications, and create and pay orders through
LOMS's REST API, several customers at once, at a set pace. Each status change (new, awaiting payment, paid)
carries `occurred_at`, stamped in LOMS's transaction; the stream's receive time and the mail
catcher's acceptance time (`Created`) are read on the same clock.

Run: `.venv/bin/python bench/notifications/run.py [orders=240] [orders_per_second=10] [customers=8]`
(`orders_per_second` 0 = as fast as the customers can go).
"""

from __future__ import annotations

import asyncio
import os
import sys
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import orjson

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from harness import Bench

from notifications.testing.sse import sse_frames
from shopcommon.db import plain_url
from shopcommon.devstack.launcher import prepare_database, service_urls_env
from shopcommon.devstack.processes import ManagedProcess, wait_for
from shopcommon.devstack.servers import free_port
from shopcommon.services import ServiceSpec, discover_services

SERVICES = ("product-stub", "checkout", "loms", "notifications")
STATUSES = ("new", "awaiting payment", "paid")
SUBJECT_STATUS = {"received (status: new)": "new", "is awaiting payment": "awaiting payment", "is paid": "paid"}


def start_system(bench: Bench) -> dict[str, Any]:
    """Every service on a free port, migrated, with demo data; their URLs and the LOMS database."""
    assert bench.urls is not None
    specs = [s for s in discover_services() if s.name in SERVICES]
    ports = {s.name: free_port() for s in specs}
    env = {
        **os.environ,
        "APP_ENV": "dev",
        "LOG_LEVEL": "WARNING",
        "LOG_JSON": "false",
        "SHOP_DATA_DIR": str(bench.data_dir),
        **bench.urls.as_env(),
        **service_urls_env(specs, ports),
    }
    for spec in specs:
        env[spec.database_env] = asyncio.run(prepare_database(spec, bench.urls, env, demo=True)) or ""
    for spec in specs:
        start_service(bench, spec, ports[spec.name], env)
    return {
        "urls": {s.name: f"http://127.0.0.1:{ports[s.name]}" for s in specs},
        "loms_db": env["LOMS_DATABASE_URL"],
        "notifications_db": env["NOTIFICATIONS_DATABASE_URL"],
        "mail_api": bench.urls.mail_api_url,
    }


def start_service(bench: Bench, spec: ServiceSpec, port: int, env: dict[str, str]) -> None:
    argv = spec.uvicorn_argv("127.0.0.1", port, 1, extra=["--log-level", "warning"])
    proc = ManagedProcess(spec.name, argv, log_dir=bench.data_dir / "logs", env=env, cwd=bench.data_dir)
    proc.start()
    bench.procs.append(proc)
    wait_for(lambda: httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200, 60, spec.name, proc)


async def customer(http: httpx.AsyncClient, checkout: str) -> dict[str, Any]:
    """A customer created by the demo manager: its address counts as confirmed, no mail is sent."""
    name = "bench" + uuid.uuid4().hex[:10]
    body = {"username": name, "email": f"{name}@bench.test", "password": "correct-horse-1"}
    admin = await http.post(f"{checkout}/api/v1/auth/token", json={"username": "admin", "password": "1"})
    staff = {"Authorization": f"Bearer {admin.json()['access_token']}"}
    created = (await http.post(f"{checkout}/api/v1/users", json=body, headers=staff)).json()
    token = await http.post(f"{checkout}/api/v1/auth/token", json={"username": name, "password": body["password"]})
    return {
        "id": created["id"],
        "email": created["email"],
        "headers": {"Authorization": f"Bearer {token.json()['access_token']}"},
    }


async def listen(
    http: httpx.AsyncClient, url: str, person: dict[str, Any], seen: dict[str, Any], ready: asyncio.Event
) -> None:
    async with http.stream("GET", f"{url}/api/v1/events/stream", headers=person["headers"], timeout=None) as resp:
        async for frame in sse_frames(resp):
            if frame.event is None:
                ready.set()
            elif frame.event == "order.status_changed":  # the orders' fulfilment tasks come too: not measured
                seen[str(frame.id)] = (datetime.now(UTC), orjson.loads(frame.data))


async def buy(
    http: httpx.AsyncClient, loms: str, person: dict[str, Any], skus: list[int], n: int, interval: float = 0.0
) -> list[int]:
    """`n` orders, created and paid, one every `interval` seconds (or back to back)."""
    orders = []
    started = time.monotonic()
    for i in range(n):
        await asyncio.sleep(max(0.0, started + i * interval - time.monotonic()))
        created = await http.post(
            f"{loms}/api/v1/orders",
            headers={**person["headers"], "Prefer": "wait=5"},
            json={"user_id": person["id"], "items": [{"sku": skus[i % len(skus)], "count": 1}]},
        )
        order = created.json()
        assert order["status"] == "awaiting payment", order
        paid = await http.post(f"{loms}/api/v1/orders/{order['order_id']}/pay", headers=person["headers"])
        assert paid.status_code == 200, paid.text
        orders.append(order["order_id"])
    return orders


async def skus_in_stock(loms_db: str, count: int) -> list[int]:
    conn = await asyncpg.connect(plain_url(loms_db))
    try:
        rows = await conn.fetch(
            "SELECT sku FROM stocks GROUP BY sku HAVING sum(total - reserved) >= 100 ORDER BY sku LIMIT $1", count
        )
    finally:
        await conn.close()
    return [r["sku"] for r in rows]


async def mails(http: httpx.AsyncClient, mail_api: str) -> list[dict[str, Any]]:
    return (await http.get(f"{mail_api}/api/v1/messages", params={"limit": 1_000_000})).json()["messages"]


def email_status(subject: str) -> str | None:
    return next((status for tail, status in SUBJECT_STATUS.items() if subject.endswith(tail)), None)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def wait_until(check: Any, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not await check():
        if time.monotonic() > deadline:
            raise TimeoutError("the notifications did not all arrive")
        await asyncio.sleep(0.25)


async def measure(system: dict[str, Any], orders: int, customers: int, rate: float) -> dict[str, Any]:
    urls, mail_api = system["urls"], system["mail_api"]
    limits = httpx.Limits(max_connections=200, max_keepalive_connections=200)
    async with httpx.AsyncClient(timeout=30, limits=limits) as http:
        people = [await customer(http, urls["checkout"]) for _ in range(customers)]
        skus = await skus_in_stock(system["loms_db"], 50)
        seen: dict[str, Any] = {}
        readies = [asyncio.Event() for _ in people]
        streams = [
            asyncio.create_task(listen(http, urls["notifications"], p, seen, r))
            for p, r in zip(people, readies, strict=True)
        ]
        await asyncio.gather(*(r.wait() for r in readies))
        # Warm-up: the consumer has joined its group and the caches are filled once this arrives.
        await buy(http, urls["loms"], people[0], skus, 1)
        await wait_until(lambda: _count(seen, 3), 60)
        warmup = set(seen)
        per_customer = [orders // customers + (i < orders % customers) for i in range(customers)]
        interval = customers / rate if rate > 0 else 0.0
        started = time.monotonic()
        await asyncio.gather(
            *(buy(http, urls["loms"], p, skus, n, interval) for p, n in zip(people, per_customer, strict=True))
        )
        load_seconds = time.monotonic() - started
        addresses = {p["email"] for p in people}
        expected = 3 * (orders + 1)
        await wait_until(lambda: _count(seen, expected), 120)
        await wait_until(lambda: _mail_count(http, mail_api, addresses, expected), 120)
        for task in streams:
            task.cancel()
        caught = [m for m in await mails(http, mail_api) if m["To"][0]["Address"] in addresses]
    result = analyse(seen, warmup, caught, orders, load_seconds)
    result["stages"] = await stages(system["notifications_db"])
    return result


async def stages(notifications_db: str) -> list[Any]:
    """Where an e-mail's time goes: status change -> recorded by the consumer -> accepted by SMTP."""
    conn = await asyncpg.connect(plain_url(notifications_db))
    try:
        return list(
            await conn.fetch("""
            WITH t AS (SELECT (payload->>'occurred_at')::timestamptz AS occurred, created_at, sent_at
                       FROM notifications WHERE channel = 'email' AND status = 'sent')
            SELECT percentile_cont(ARRAY[0.5, 0.95]) WITHIN GROUP (ORDER BY extract(epoch FROM created_at - occurred))
                     AS recorded,
                   percentile_cont(ARRAY[0.5, 0.95]) WITHIN GROUP (ORDER BY extract(epoch FROM sent_at - created_at))
                     AS sent
            FROM t""")
        )
    finally:
        await conn.close()


async def _count(seen: dict[str, Any], n: int) -> bool:
    return len(seen) >= n


async def _mail_count(http: httpx.AsyncClient, mail_api: str, addresses: set[str], n: int) -> bool:
    return sum(m["To"][0]["Address"] in addresses for m in await mails(http, mail_api)) >= n


def analyse(
    seen: dict[str, Any], warmup: set[str], caught: list[dict[str, Any]], orders: int, load_seconds: float
) -> dict[str, Any]:
    occurred: dict[tuple[int, str], datetime] = {}
    sse: dict[str, list[float]] = {s: [] for s in STATUSES}
    for event_id, (received, event) in seen.items():
        at = datetime.fromisoformat(event["occurred_at"])
        occurred[(event["order_id"], event["status"])] = at
        if event_id not in warmup:
            sse[event["status"]].append((received - at).total_seconds())
    warm_orders = {seen[e][1]["order_id"] for e in warmup}
    email: dict[str, list[float]] = {s: [] for s in STATUSES}
    duplicates = len(caught) - len({m["Subject"] for m in caught})
    for mail in caught:
        order_id, status = int(mail["Subject"].split()[1]), email_status(mail["Subject"])
        if status is None or order_id in warm_orders:
            continue
        accepted = datetime.fromisoformat(mail["Created"].replace("Z", "+00:00"))
        email[status].append((accepted - occurred[(order_id, status)]).total_seconds())
    return {"sse": sse, "email": email, "orders": orders, "load_seconds": load_seconds, "duplicates": duplicates}


def report(result: dict[str, Any]) -> str:
    lines = [
        f"{result['orders']} orders (3 status changes each) in {result['load_seconds']:.1f} s "
        f"({result['orders'] / result['load_seconds']:.0f} orders/s offered); duplicate e-mails: "
        f"{result['duplicates']}",
        "",
        "| channel | status changes | count | p50 ms | p95 ms | p99 ms | max ms |",
        "|---|---|---|---|---|---|---|",
    ]
    for channel in ("sse", "email"):
        samples = result[channel]
        groups = [("all", [v for s in STATUSES for v in samples[s]])] + [(s, samples[s]) for s in STATUSES]
        for label, values in groups:
            if values:
                ms = [v * 1000 for v in values]
                lines.append(
                    f"| {channel} | {label} | {len(ms)} | {pct(ms, 0.5):.0f} | {pct(ms, 0.95):.0f} | "
                    f"{pct(ms, 0.99):.0f} | {max(ms):.0f} |"
                )
    return "\n".join(lines)


def main() -> None:
    orders = int(sys.argv[1]) if len(sys.argv) > 1 else 240
    rate = float(sys.argv[2]) if len(sys.argv) > 2 else 10.0
    customers = int(sys.argv[3]) if len(sys.argv) > 3 else 8
    with Bench("notifications") as bench:
        system = start_system(bench)
        result = asyncio.run(measure(system, orders, customers, rate))
    print(report(result))
    for row in result["stages"]:
        print(
            f"\nE-mail stages (p50, p95 in ms): change -> recorded {[round(v * 1000) for v in row['recorded']]}, "
            f"recorded -> sent {[round(v * 1000) for v in row['sent']]}"
        )
    everything = [v for channel in ("sse", "email") for s in STATUSES for v in result[channel][s]]
    if (everything and pct(everything, 0.95) >= 1.0) or result["duplicates"]:
        raise SystemExit("target missed: p95 must be under 1 s with no duplicate e-mail")


if __name__ == "__main__":
    main()
