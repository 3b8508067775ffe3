#!/usr/bin/env python3
"""Checkout throughput: `listCart` of 20 items (cold and warm ProductService cache) and the public
`GET /api/v1/products` (product-stub + LOMS composed), each beside a bare uvicorn ASGI hello-world
measured in the same run. Every service runs as `make run` runs it (uvicorn, 2 workers, uvloop +
httptools) on the embedded stack, with demo data.

Run: `.venv/bin/python bench/checkout/run.py [seconds]` (needs `wrk`: apt-get install wrk).
"""

from __future__ import annotations

import asyncio
import json
import os
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from harness import Bench, WrkResult, post_lua, wrk

from checkout.identity.keys import KeyStore
from checkout.shopping import queries as cart_store
from product_stub.demo import demo_products
from shopcommon.db import make_engine, make_sessionmaker, transaction
from shopcommon.devstack.databases import create_database
from shopcommon.devstack.launcher import service_urls_env
from shopcommon.devstack.processes import ManagedProcess, wait_for
from shopcommon.devstack.servers import free_port
from shopcommon.migrations import upgrade
from shopcommon.services import ServiceSpec, service_spec

SERVICES = ("product-stub", "loms", "checkout")
CART_USER = 900_001
COLD_RUNS = 5


def cpu_seconds(pid: int) -> float:
    """CPU time of a process and its children (uvicorn's workers), from /proc."""
    total = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if entry.name == str(pid) or fields[1] == str(pid):
            total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


class CpuMeter:
    """CPU milliseconds per request of each service over one wrk run: steadier than req/s on a
    machine whose two cores are shared with the load generator and the databases."""

    def __init__(self, pids: dict[str, int]) -> None:
        self.pids = pids

    def run(self, requests_of: Callable[[], WrkResult], seconds: int) -> tuple[WrkResult, str]:
        before = {name: cpu_seconds(pid) for name, pid in self.pids.items()}
        result = requests_of()
        count = max(1.0, result.rps * seconds)
        used = {name: (cpu_seconds(pid) - before[name]) * 1000 / count for name, pid in self.pids.items()}
        return result, " / ".join(f"{used[name]:.2f}" for name in self.pids)


def start_service(bench: Bench, spec: ServiceSpec, port: int, env: dict[str, str], workers: int = 2) -> str:
    argv = spec.uvicorn_argv("127.0.0.1", port, workers, extra=["--log-level", "warning"])
    proc = ManagedProcess(spec.name, argv, log_dir=bench.data_dir / "logs", env=env, cwd=bench.data_dir)
    proc.start()
    bench.procs.append(proc)
    url = f"http://127.0.0.1:{port}"
    wait_for(lambda: httpx.get(f"{url}/readyz", timeout=2).status_code == 200, 60, spec.name, proc)
    return url


def prepare(bench: Bench) -> tuple[dict[str, str], dict[str, int]]:
    """Databases migrated with demo data, and the environment every service starts with."""
    assert bench.urls is not None
    specs = [service_spec(name) for name in SERVICES]
    ports = {spec.name: free_port() for spec in specs}
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
        assert spec.database and spec.migrations
        db = asyncio.run(create_database(bench.urls.database_url, spec.database))
        upgrade(spec.migrations, db)
        env[spec.database_env] = db
        loader = spec.load_demo_data()
        if loader is not None:
            asyncio.run(_awaited(loader(db, env)))
    # One signing key before the two checkout workers start, so they do not each make one.
    (bench.data_dir / "keys").mkdir(parents=True, exist_ok=True)
    KeyStore.generate_key(bench.data_dir / "keys")
    return env, ports


async def _awaited(call: Awaitable[Any]) -> Any:
    return await call


async def seed_cart(database_url: str, skus: list[int]) -> None:
    engine = make_engine(database_url, pool_size=1, max_overflow=0)
    async with transaction(make_sessionmaker(engine)) as session:
        await cart_store.touch_cart(session, user_id=CART_USER)
        for sku in skus:
            await cart_store.add_to_line(session, user_id=CART_USER, sku=sku, count=1, limit=10)
    await engine.dispose()


async def cold_list_cart(checkout: str, redis_url: str, headers: dict[str, str]) -> list[float]:
    """Seconds per listCart with the product cache emptied before each: every name and price is
    fetched from ProductService through the shared rate limit (10/s by default)."""
    from redis.asyncio import Redis

    redis = Redis.from_url(redis_url)
    timings = []
    async with httpx.AsyncClient(base_url=checkout, timeout=60) as client:
        for _ in range(COLD_RUNS):
            keys = [k async for k in redis.scan_iter(match="checkout:product:*")]
            if keys:
                await redis.delete(*keys)
            await asyncio.sleep(1.0)  # let the rate limit's slots free up between runs
            started = time.perf_counter()
            r = await client.post("/listCart", json={"user": CART_USER}, headers=headers)
            timings.append(time.perf_counter() - started)
            assert r.status_code == 200 and len(r.json()["items"]) == 20, r.text
    await redis.aclose()
    return timings


def main() -> None:
    seconds = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    with Bench("checkout") as bench:
        assert bench.urls is not None
        env, ports = prepare(bench)
        urls = {spec: start_service(bench, service_spec(spec), ports[spec], env) for spec in SERVICES}
        hello = bench.hello_world()
        skus = sorted(p.sku for p in demo_products())[:20]
        asyncio.run(seed_cart(env["CHECKOUT_DATABASE_URL"], skus))
        store = KeyStore(bench.data_dir / "keys", issuer="shop-checkout", audience="shop")
        token = store.issue(sub=str(CART_USER), role="customer", ttl=3600)[0]
        headers = {"Authorization": f"Bearer {token}"}
        cold = asyncio.run(cold_list_cart(urls["checkout"], bench.urls.redis_url, headers))
        body = json.dumps({"user": CART_USER})
        meter = CpuMeter({p.name: p.pid for p in bench.procs if p.name in SERVICES and p.pid})
        baseline = wrk("ASGI hello-world (baseline)", hello + "/", seconds=seconds)
        list_lua = post_lua("/listCart", body, headers)
        warm = meter.run(
            lambda: wrk("POST /listCart, 20 items, warm cache", urls["checkout"], seconds=seconds, lua=list_lua),
            seconds,
        )
        catalogue_url = urls["checkout"] + "/api/v1/products?limit=20"
        products = meter.run(lambda: wrk("GET /api/v1/products?limit=20", catalogue_url, seconds=seconds), seconds)
    report(baseline, [warm, products], cold, seconds, list(meter.pids))


def report(
    baseline: WrkResult, measured: list[tuple[WrkResult, str]], cold: list[float], seconds: int, services: list[str]
) -> None:
    cold_rps = 1 / statistics.median(cold)
    print(f"\nwrk -t2 -c32 -d{seconds}s --latency; 2 uvicorn workers per service; ratio = req/s over the baseline")
    print(f"CPU ms per request: {' / '.join(services)}\n")
    print("| what | req/s | p50 ms | p99 ms | ratio to hello-world | non-2xx | CPU ms/req |")
    print("|---|---|---|---|---|---|---|")
    print(baseline.row(baseline) + " |")
    for result, cpu in measured:
        print(result.row(baseline) + f" {cpu} |")
    print(
        f"| POST /listCart, 20 items, cold cache (1 client, {COLD_RUNS} runs) | {cold_rps:.2f} | "
        f"{statistics.median(cold) * 1000:.0f} | {max(cold) * 1000:.0f} | {cold_rps / baseline.rps:.6f} | 0 | |"
    )


if __name__ == "__main__":
    main()
