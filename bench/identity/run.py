#!/usr/bin/env python3
"""Identity throughput: what every authenticated request pays (`GET /users/me`: token check plus
one indexed read), token verification, and password sign-in (argon2id on purpose costs CPU),
beside a bare uvicorn ASGI hello-world measured in the same run. Checkout runs as `make run` runs
it (uvicorn, 2 workers, uvloop + httptools) on the embedded stack with the demo accounts.

Run: `.venv/bin/python bench/identity/run.py [seconds]` (needs `wrk`: apt-get install wrk).
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from harness import Bench, WrkResult, post_lua, wrk

from checkout.identity.demo import load_identity_demo
from checkout.identity.keys import KeyStore
from shopcommon.devstack.databases import create_database
from shopcommon.migrations import upgrade
from shopcommon.services import service_spec


def start_checkout(bench: Bench) -> str:
    assert bench.urls is not None
    spec = service_spec("checkout")
    assert spec.database and spec.migrations
    db = asyncio.run(create_database(bench.urls.database_url, spec.database))
    upgrade(spec.migrations, db)
    asyncio.run(load_identity_demo(db, {"APP_ENV": "dev"}))
    # One signing key before the two workers start, so they do not each make one.
    (bench.data_dir / "keys").mkdir(parents=True, exist_ok=True)
    KeyStore.generate_key(bench.data_dir / "keys")
    env = {
        **os.environ,
        "APP_ENV": "dev",
        "LOG_LEVEL": "WARNING",
        "LOG_JSON": "false",
        "SHOP_DATA_DIR": str(bench.data_dir),
        "CHECKOUT_DATABASE_URL": db,
        **bench.urls.as_env(),
    }
    return bench.uvicorn("checkout", spec.app_factory, env)


def main() -> None:
    seconds = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    with Bench("identity") as bench:
        checkout = start_checkout(bench)
        hello = bench.hello_world()
        login = {"username": "josh", "password": "1"}
        token = httpx.post(f"{checkout}/api/v1/auth/token", json=login, timeout=10).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        me = f'wrk.path = "/api/v1/users/me"\nwrk.headers["Authorization"] = "{headers["Authorization"]}"'
        results = [
            wrk("ASGI hello-world (baseline)", hello + "/", seconds=seconds),
            wrk("GET /api/v1/users/me (verify + 1 read)", checkout, seconds=seconds, lua=me),
            wrk(
                "POST /api/v1/auth/token/verify",
                checkout,
                seconds=seconds,
                lua=post_lua("/api/v1/auth/token/verify", json.dumps({"token": token})),
            ),
            # Few connections: each sign-in is ~50 ms of argon2id CPU, so 32 at once only queue (and
            # wrk gives up on a request after 2 s).
            wrk(
                "POST /api/v1/auth/token (password, argon2id; 4 connections)",
                checkout,
                seconds=seconds,
                connections=4,
                lua=post_lua("/api/v1/auth/token", json.dumps(login)),
            ),
        ]
    report(results, seconds)


def report(results: list[WrkResult], seconds: int) -> None:
    baseline = results[0]
    print(f"\nwrk -t2 -c32 -d{seconds}s --latency; 2 uvicorn workers; ratio = req/s over the baseline\n")
    print("| what | req/s | p50 ms | p99 ms | ratio to hello-world | non-2xx |")
    print("|---|---|---|---|---|---|")
    for r in results:
        print(r.row(baseline))


if __name__ == "__main__":
    main()
