"""The benchmark's floor (`bench/loms`) is pgbench running LOMS's own placement statement: the
script it writes must run, and must do to the database what LOMS does for one order."""

from __future__ import annotations

import asyncio
import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from types import ModuleType

from shopcommon.db import plain_url
from shopcommon.devstack.servers import pg_bin_dir

from ..conftest import Database

BENCH = Path(__file__).resolve().parents[4] / "bench" / "loms" / "run.py"


def bench_module() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_loms_run", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


async def test_the_pgbench_script_places_orders_as_loms_does(loms_db: str, db: Database, tmp_path: Path) -> None:
    assert (pg_bin_dir() / "pgbench").exists(), "the embedded PostgreSQL ships pgbench"
    bench = bench_module()
    await db.stock(1, 100, 100, 100)  # sku1 and sku2 are drawn from 1..500; most orders fail
    script = tmp_path / "order.sql"
    script.write_text(bench.pgbench_script())
    url = plain_url(loms_db)
    defines = [arg for name, value in bench.PGBENCH_DEFINES.items() for arg in ("-D", f"{name}={value}")]
    before = await db.value("SELECT coalesce(max(id), 0) FROM orders")
    done = await asyncio.to_thread(
        subprocess.run,
        [str(pg_bin_dir() / "pgbench"), "-n", "-M", "prepared", "-t", "5", "-f", str(script), *defines, url],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    orders = await db.fetch(
        "SELECT o.id, o.status, k.state, k.response_status, k.response_body::jsonb AS answer "
        "FROM orders o JOIN idempotency_keys k ON k.resource_id = o.id WHERE o.id > $1",
        before,
    )
    try:
        assert len(orders) == 5
        for order in orders:
            # Settled in the statement, the stored answer written with the outcome.
            assert order["status"] in {"awaiting payment", "failed"}
            assert (order["state"], order["response_status"]) == ("done", 201)
            assert json.loads(order["answer"])["status"] == order["status"]
            statuses = [
                r["status"]
                for r in await db.fetch(
                    "SELECT payload->>'status' AS status FROM outbox WHERE key = $1 ORDER BY id", str(order["id"])
                )
            ]
            assert statuses == ["new", order["status"]]
    finally:
        # Nobody is to publish these events.
        await db.fetch("DELETE FROM outbox WHERE key = ANY($1::varchar[])", [str(o["id"]) for o in orders])
