#!/usr/bin/env python3
"""Checkout throughput, each figure beside a bare uvicorn ASGI hello-world measured in the same run:
the public catalogue (`GET /api/v1/products?limit=20`, with filters, the next page by cursor, and
`GET /api/v1/products/{sku}`: product-stub + LOMS composed) and a warm cart listing of 20 items
(`POST /listCart` and `GET /api/v1/cart`), plus the cold `listCart`. Every service runs as `make run`
runs it (uvicorn, 2 workers, uvloop + httptools) on the embedded stack, with demo data.

Run: `.venv/bin/python bench/checkout/run.py [seconds] [--profile DIR] [--only NAME...]` (needs
`wrk`: apt-get install wrk). `--profile DIR` records checkout's workers with py-spy during each
scenario (collapsed stacks, `DIR/<scenario>.txt`); `--only` runs the scenarios whose key is named
(listing, filtered, next-page, product, list-cart, rest-cart).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from functools import partial
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
#: The targets of issue 17, as ratios to the hello-world of the same run, and the p99 bound.
LISTING_FLOOR, ITEM_FLOOR, P99_MS = 0.03, 0.05, 100.0


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


#: The scenarios of a warm cart: its products are in checkout's cache when they start.
WARM_CART = ("list-cart", "rest-cart")


def warm_cart(checkout: str, headers: dict[str, str]) -> None:
    """List the cart once, so the scenario starts warm: a cached product lives 60 s and is
    refreshed in the background when read in its second half, but the scenarios before this one
    do not read the cart, so its products may have expired (fetching them again through
    ProductService's 10/s limit is what the cold figure measures)."""
    r = httpx.post(f"{checkout}/listCart", json={"user": CART_USER}, headers=headers, timeout=60)
    assert r.status_code == 200 and len(r.json()["items"]) == 20, r.text


def scenarios(checkout: str, headers: dict[str, str]) -> list[tuple[str, str, str, str | None, float]]:
    """(key, name, url, lua, floor) of each wrk run. The filtered and next-page queries are real
    queries of the demo data: a category with its products in stock, and page two of the listing."""
    first = httpx.get(f"{checkout}/api/v1/products", params={"limit": 20}, timeout=10).json()
    category = first["items"][0]["category"]
    filtered = f"limit=20&category={category}&in_stock=true&min_price=1"
    assert httpx.get(f"{checkout}/api/v1/products?{filtered}", timeout=10).json()["items"], "filter finds nothing"
    cursor = first["next_cursor"]
    sku = first["items"][3]["sku"]
    body = json.dumps({"user": CART_USER})
    auth_lua = "\n".join(f'wrk.headers["{k}"] = "{v}"' for k, v in headers.items())
    return [
        ("listing", "GET /api/v1/products?limit=20", f"{checkout}/api/v1/products?limit=20", None, LISTING_FLOOR),
        ("filtered", f"GET /api/v1/products?{filtered}", f"{checkout}/api/v1/products?{filtered}", None, LISTING_FLOOR),
        (
            "next-page",
            "GET /api/v1/products?limit=20&cursor=(page 2)",
            f"{checkout}/api/v1/products?limit=20&cursor={cursor}",
            None,
            LISTING_FLOOR,
        ),
        ("product", "GET /api/v1/products/{sku}", f"{checkout}/api/v1/products/{sku}", None, ITEM_FLOOR),
        (
            "list-cart",
            "POST /listCart, 20 items, warm",
            checkout,
            post_lua("/listCart", body, headers),
            ITEM_FLOOR,
        ),
        ("rest-cart", "GET /api/v1/cart, 20 items, warm", f"{checkout}/api/v1/cart", auth_lua, ITEM_FLOOR),
    ]


def load(name: str, url: str, lua: str | None, seconds: int) -> WrkResult:
    return wrk(name, url, seconds=seconds, lua=lua)


class Profiler:
    """py-spy over checkout's uvicorn workers while one scenario runs (collapsed stacks)."""

    def __init__(self, out: Path | None, pid: int | None) -> None:
        self.out, self.pid = out, pid
        if out is not None:
            if shutil.which("py-spy") is None and not (Path(sys.executable).parent / "py-spy").exists():
                raise SystemExit("--profile needs py-spy (in the dev lock: make setup)")
            out.mkdir(parents=True, exist_ok=True)

    def around(self, key: str, seconds: int, run: Callable[[int], WrkResult]) -> WrkResult:
        if self.out is None or self.pid is None:
            return run(seconds)
        spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
        argv = [spy, "record", "--pid", str(self.pid), "--subprocesses", "--format", "raw", "--nonblocking"]
        argv += ["--duration", str(max(1, seconds - 2)), "--rate", "200", "-o", str(self.out / f"{key}.txt")]
        proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            return run(seconds)
        finally:
            proc.wait(timeout=seconds + 30)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("seconds", nargs="?", type=int, default=10)
    parser.add_argument("--profile", type=Path, default=None)
    parser.add_argument("--only", nargs="*", default=None)
    args = parser.parse_args()
    seconds: int = args.seconds
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
        meter = CpuMeter({p.name: p.pid for p in bench.procs if p.name in SERVICES and p.pid})
        profiler = Profiler(args.profile, meter.pids.get("checkout"))
        baseline = wrk("ASGI hello-world (baseline)", hello + "/", seconds=seconds)
        measured: list[tuple[WrkResult, str, float]] = []
        for key, name, url, lua, floor in scenarios(urls["checkout"], headers):
            if args.only and key not in args.only:
                continue
            if key in WARM_CART:
                warm_cart(urls["checkout"], headers)
            result, cpu = meter.run(partial(profiler.around, key, seconds, partial(load, name, url, lua)), seconds)
            measured.append((result, cpu, floor))
    report(baseline, measured, cold, seconds, list(meter.pids))


def report(
    baseline: WrkResult,
    measured: list[tuple[WrkResult, str, float]],
    cold: list[float],
    seconds: int,
    services: list[str],
) -> None:
    cold_rps = 1 / statistics.median(cold)
    print(f"\nwrk -t2 -c32 -d{seconds}s --latency; 2 uvicorn workers per service; ratio = req/s over the baseline")
    print(f"CPU ms per request: {' / '.join(services)}; load average at the end: {os.getloadavg()[0]:.1f}\n")
    print("| what | req/s | p50 ms | p99 ms | ratio to hello-world | non-2xx | CPU ms/req | target |")
    print("|---|---|---|---|---|---|---|---|")
    print(baseline.row(baseline) + " | |")
    for result, cpu, floor in measured:
        met = result.rps / baseline.rps >= floor and result.p99_ms < P99_MS and result.non_2xx == 0
        print(result.row(baseline) + f" {cpu} | >= {floor} and p99 < {P99_MS:.0f} ms: {'met' if met else 'NOT met'} |")
    print(
        f"| POST /listCart, 20 items, cold cache (1 client, {COLD_RUNS} runs) | {cold_rps:.2f} | "
        f"{statistics.median(cold) * 1000:.0f} | {max(cold) * 1000:.0f} | {cold_rps / baseline.rps:.6f} | 0 | | |"
    )


if __name__ == "__main__":
    main()
