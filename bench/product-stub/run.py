#!/usr/bin/env python3
"""ProductService throughput: `/get_product` and `GET /api/v1/products` at 32 concurrent clients,
each beside a bare uvicorn ASGI hello-world measured in the same run (both with 2 workers,
uvloop + httptools). Run: `.venv/bin/python bench/product-stub/run.py [seconds]`."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from harness import Bench, post_lua, wrk

from product_stub.demo import demo_products, load_demo_data
from shopcommon.devstack.databases import create_database
from shopcommon.migrations import upgrade
from shopcommon.services import service_spec


def main() -> None:
    seconds = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    spec = service_spec("product-stub")
    with Bench("product-stub") as bench:
        assert bench.urls is not None
        db = asyncio.run(create_database(bench.urls.database_url, "product"))
        assert spec.migrations is not None
        upgrade(spec.migrations, db)
        asyncio.run(load_demo_data(db))
        env = {**os.environ, "APP_ENV": "dev", "PRODUCT_DATABASE_URL": db, "LOG_LEVEL": "WARNING"}
        service = bench.uvicorn("product-stub", spec.app_factory, env)
        hello = bench.hello_world()
        sku = demo_products()[0].sku
        results = [
            wrk("ASGI hello-world (baseline)", hello + "/", seconds=seconds),
            wrk(
                "POST /get_product",
                service,
                seconds=seconds,
                lua=post_lua("/get_product", json.dumps({"token": "testtoken", "sku": sku})),
            ),
            wrk("GET /api/v1/products?limit=20", service + "/api/v1/products?limit=20", seconds=seconds),
        ]
    print(f"\nwrk -t2 -c32 -d{seconds}s --latency; 2 uvicorn workers each; ratio = req/s over the baseline\n")
    print("| what | req/s | p50 ms | p99 ms | ratio to hello-world | non-2xx |")
    print("|---|---|---|---|---|---|")
    for r in results:
        print(r.row(results[0]))


if __name__ == "__main__":
    main()
