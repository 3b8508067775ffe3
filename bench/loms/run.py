"""LOMS benchmark: orders per second from create to `awaiting payment`, and the database's floor.

1. Starts the embedded stack (PostgreSQL durable, as `make run` keeps it; Valkey; Tansu) on
   free ports, migrates the `loms` database, loads the demo data plus bench stock (skus
   1..500 in all three warehouses, ten million units each, so every order succeeds).
2. Runs LOMS as `make run` does (uvicorn, uvloop, httptools), with 2 workers as deployed
   (`--workers N` to change).
3. 32 clients (wrk with `orders.lua`; `--generator httpx` for an asyncio + httpx loop) each
   create orders in a loop: `POST /api/v1/orders` with two lines, prices, a fresh
   `Idempotency-Key` and `Prefer: wait=5`, as checkout sends them. An order counts when the
   answer is 201 `awaiting payment`.
4. Stops LOMS and runs pgbench with the same SQL (`pgbench_script()`: LOMS's own placement
   statement, sent with the same bind parameters, one order per transaction), 32 clients, for as
   long.
5. Steps 2-4 are one round; three rounds by default, and the ratio is that of all orders each
   side completed (the machine's speed drifts within minutes; taking turns exposes both to it).

    .venv/bin/python bench/loms/run.py [--workers 2] [--rounds 3] [--duration 10] [--clients 32]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import resource
import shutil
import statistics
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx

from loms.domain.limits import MAX_UNPAID_ORDERS, MAX_UNPAID_UNITS_PER_SKU
from shopcommon.devstack.databases import create_database
from shopcommon.devstack.launcher import uvicorn_argv
from shopcommon.devstack.processes import ManagedProcess, wait_for
from shopcommon.devstack.servers import free_port, pg_bin_dir
from shopcommon.devstack.stack import EmbeddedStack, StackPorts, StackUrls
from shopcommon.migrations import upgrade
from shopcommon.services import service_spec
from shopcommon.testing.tokens import TestIssuer

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
BENCH_SKUS = 500
#: Orders go to users drawn at random from 1..BENCH_USERS and stay unpaid: a customer may hold
#: only `LOMS_MAX_UNPAID_ORDERS` (10) orders awaiting payment and `LOMS_MAX_UNPAID_UNITS_PER_SKU`
#: (100) units of a sku, so the orders are spread thin (a few hundred thousand orders in a long
#: run leave a user well under both limits).
BENCH_USERS = 1_000_000
WRK = shutil.which("wrk") or ""


@dataclass
class LoadResult:
    latencies: list[float] = field(default_factory=list)
    statuses: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    #: CPU seconds each process (with its children) used in the measured window.
    cpu: dict[str, float] = field(default_factory=dict)
    #: Latency percentiles in seconds when the generator computed them itself (wrk).
    percentiles: dict[str, float] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        ok = self.statuses.get("201 awaiting payment", 0)
        lat = sorted(self.latencies)

        def pct(p: float) -> float:
            if self.percentiles:
                return round(self.percentiles[f"p{int(p * 100)}"] * 1000, 1)
            return round(lat[min(len(lat) - 1, int(p * len(lat)))] * 1000, 1) if lat else 0.0

        mean = self.percentiles.get("mean") if self.percentiles else (statistics.fmean(lat) if lat else 0.0)
        return {
            "orders_per_second": round(ok / self.seconds, 1),
            "requests": sum(self.statuses.values()),
            "answers": self.statuses,
            "p50_ms": pct(0.50),
            "p90_ms": pct(0.90),
            "p99_ms": pct(0.99),
            "mean_ms": round((mean or 0.0) * 1000, 1),
            "cpu_ms_per_order": {name: round(sec * 1000 / ok, 2) for name, sec in self.cpu.items()} if ok else {},
            "cpu_share_of_window": {name: round(sec / self.seconds, 2) for name, sec in self.cpu.items()},
        }


def cpu_seconds(root_pid: int) -> float:
    """CPU time of a process and all its live descendants, plus its reaped children (Linux /proc)."""
    tick = os.sysconf("SC_CLK_TCK")
    stats: dict[int, tuple[int, float, float]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        own = (int(fields[11]) + int(fields[12])) / tick
        reaped = (int(fields[13]) + int(fields[14])) / tick
        stats[int(entry.name)] = (int(fields[1]), own, reaped)
    family, frontier = {root_pid}, [root_pid]
    while frontier:
        parent = frontier.pop()
        children = [pid for pid, (ppid, _, _) in stats.items() if ppid == parent]
        family.update(children)
        frontier.extend(children)
    total = sum(stats[pid][1] for pid in family if pid in stats)
    return total + (stats[root_pid][2] if root_pid in stats else 0.0)


async def prepare_database(urls: StackUrls) -> str:
    spec = service_spec("loms")
    url = await create_database(urls.database_url, "loms", replace=True)
    assert spec.migrations is not None
    await asyncio.to_thread(upgrade, spec.migrations, url)
    loader = spec.load_demo_data()
    assert loader is not None
    await loader(url, {"APP_ENV": "dev"})
    conn = await asyncpg.connect(url)
    try:
        await conn.execute(
            "INSERT INTO stocks (sku, warehouse_id, total) SELECT s, w.id, 10000000 "
            f"FROM generate_series(1, {BENCH_SKUS}) s, (SELECT id FROM warehouses) w"
        )
        await conn.execute("VACUUM ANALYZE stocks")
    finally:
        await conn.close()
    return url


def start_loms(
    urls: StackUrls, db_url: str, jwks: Path, workers: int, log_dir: Path, extra_env: dict[str, str]
) -> tuple[ManagedProcess, str]:
    spec = service_spec("loms")
    port = free_port()
    argv = uvicorn_argv(spec, "127.0.0.1", port, workers)
    env = {
        **os.environ,
        **urls.as_env(),
        "APP_ENV": "dev",
        "SHOP_DATA_DIR": str(log_dir.parent),
        spec.database_env: db_url,
        "JWT_JWKS_FILE": str(jwks),
        "LOG_LEVEL": "WARNING",
        **extra_env,
    }
    proc = ManagedProcess("loms-bench", argv, log_dir=log_dir, env=env, cwd=ROOT)
    proc.start()
    base = f"http://127.0.0.1:{port}"
    wait_for(lambda: httpx.get(f"{base}/readyz", timeout=2).status_code == 200, 60, "loms /readyz", proc)
    return proc, base


async def analyze(db_url: str) -> None:
    """Statistics as a running system has them. Tables that were empty when the planner last
    looked would be read by sequential scans until autovacuum analyzes them (up to a minute);
    both LOMS and pgbench are measured on analyzed tables."""
    conn = await asyncpg.connect(db_url)
    try:
        await conn.execute("ANALYZE")
    finally:
        await conn.close()


async def load(
    base: str, token: str, clients: int, warmup: float, duration: float, pids: dict[str, int], db_url: str
) -> LoadResult:
    result = LoadResult(seconds=duration)
    loop = asyncio.get_running_loop()
    start = loop.time()
    measure_from, stop_at = start + warmup, start + warmup + duration
    headers = {"Authorization": f"Bearer {token}", "Prefer": "wait=5"}
    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)

    async def client_loop(http: httpx.AsyncClient, n: int) -> None:
        sku = 1 + n * 13 % BENCH_SKUS
        users = random.Random(n)
        while loop.time() < stop_at:
            sku = 1 + (sku * 7 + 11) % BENCH_SKUS
            items = [
                {"sku": sku, "count": 1 + sku % 3, "price": 1000},
                {"sku": 1 + sku % BENCH_SKUS, "count": 1, "price": 500},
            ]
            began = loop.time()
            r = await http.post(
                "/api/v1/orders",
                json={"user_id": users.randint(1, BENCH_USERS), "items": items},
                headers={**headers, "Idempotency-Key": uuid.uuid4().hex},
            )
            ended = loop.time()
            if measure_from <= ended < stop_at:
                result.latencies.append(ended - began)
                label = f"{r.status_code} {r.json().get('status', '')}".strip()
                result.statuses[label] = result.statuses.get(label, 0) + 1

    async def sample_cpu() -> None:
        watched = {**pids, "load generator": os.getpid()}
        await asyncio.sleep(max(0.0, measure_from - loop.time()))
        await analyze(db_url)
        before = {name: cpu_seconds(pid) for name, pid in watched.items()}
        await asyncio.sleep(max(0.0, stop_at - loop.time()))
        result.cpu = {name: cpu_seconds(pid) - before[name] for name, pid in watched.items()}

    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=30) as http:
        await asyncio.gather(sample_cpu(), *(client_loop(http, n) for n in range(clients)))
    return result


async def forget_pgbench_events(db_url: str) -> None:
    """pgbench wrote events as LOMS does, but nobody is to publish them: removed, so that the next
    LOMS phase's relay publishes LOMS's own events only."""
    conn = await asyncpg.connect(db_url)
    try:
        await conn.execute("DELETE FROM outbox")
        await conn.execute("VACUUM ANALYZE outbox")
    finally:
        await conn.close()


async def consistency(db_url: str) -> dict[str, Any]:
    conn = await asyncpg.connect(db_url)
    try:
        statuses = dict(await conn.fetch("SELECT status, count(*) FROM orders GROUP BY status"))
        held = await conn.fetchval("SELECT coalesce(sum(count), 0)::bigint FROM reservations WHERE state = 'held'")
        reserved = await conn.fetchval("SELECT coalesce(sum(reserved), 0)::bigint FROM stocks")
        unpublished = await conn.fetchval("SELECT count(*) FROM outbox")
        return {
            "orders": statuses,
            "held_units": held,
            "reserved_units": reserved,
            "reserved_matches_held": held == reserved,
            "events_unpublished_at_end": unpublished,
        }
    finally:
        await conn.close()


def load_wrk(
    base: str, token: str, clients: int, warmup: float, duration: float, pids: dict[str, int], db_url: str
) -> LoadResult:
    """The same load from wrk (C, two threads), which leaves the CPU to LOMS and PostgreSQL."""
    env = {
        **os.environ,
        "LOMS_BENCH_TOKEN": token,
        "LOMS_BENCH_SKUS": str(BENCH_SKUS),
        "LOMS_BENCH_USERS": str(BENCH_USERS),
    }

    def wrk(seconds: float) -> str:
        argv = [
            WRK,
            "-t2",
            f"-c{clients}",
            f"-d{max(1, round(seconds))}s",
            "--latency",
            "--timeout",
            "30s",
            "-s",
            str(HERE / "orders.lua"),
            base,
        ]
        return subprocess.run(argv, capture_output=True, text=True, check=True, env=env).stdout

    wrk(warmup)
    run_loop(analyze(db_url))
    before = {name: cpu_seconds(pid) for name, pid in pids.items()}
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = wrk(duration)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    found = re.search(r"RESULT (.*)", out)
    if found is None:
        raise RuntimeError(f"wrk said:\n{out}")
    fields = {k: int(v) for k, v in (pair.split("=") for pair in found.group(1).split())}
    seconds = fields["duration_us"] / 1e6
    result = LoadResult(seconds=seconds)
    result.statuses = {
        "201 awaiting payment": fields["ok"],
        "other": fields["other"],
        "socket errors": fields["errors"],
    }
    result.percentiles = {p: fields[f"{p}_us"] / 1e6 for p in ("p50", "p90", "p99", "mean")}
    result.cpu = {name: cpu_seconds(pid) - before[name] for name, pid in pids.items()}
    result.cpu["load generator"] = (after.ru_utime + after.ru_stime) - (children.ru_utime + children.ru_stime)
    return result


# What pgbench sends for one bench order: LOMS's own statement with the values LOMS binds.
# With `-M prepared`, pgbench sends every `:variable` as a bind parameter, as asyncpg does for
# LOMS, so PostgreSQL parses the same JSON and text values per order: strings come in with `-D`,
# numbers from `\set` (random per order where LOMS's vary). Only the item arrays and the
# idempotency key are composed in SQL from numbers, as pgbench has no string or array variables.
_ITEMS = '[{"sku": 1, "count": 1, "price": 1000}, {"sku": 2, "count": 2, "price": 500}]'
_EVENT = (
    '{"event_id": "%s", "type": "order.status_changed", "occurred_at": "2026-01-01T12:00:00.000000+00:00", '
    '"order_id": 0, "user_id": 1, "status": "%s", "previous_status": %s, "items": '
    + _ITEMS
    + ', "total_price": 3000%s}'
)
_ANSWER = (
    '{"order_id": 1, "user_id": 1, "status": "awaiting payment", "items": ' + _ITEMS + ', "total_price": 3000, '
    '"created_at": "2026-01-01T12:00:00+00:00", "updated_at": "2026-01-01T12:00:00+00:00", '
    '"payment_deadline": "2026-01-01T12:10:00+00:00", "cancel_reason": null, "shortages": null}'
)
_NOW = datetime.now(UTC)
PGBENCH_DEFINES = {
    "now": _NOW.isoformat(),
    # Far enough ahead that no pgbench order expires while the bench runs (the expiry worker would
    # cancel them during a later LOMS phase and bill LOMS for it).
    "deadline": (_NOW + timedelta(days=1)).isoformat(),
    "payload": _EVENT % ("9b2f3c9e-2f44-4b8e-9d7e-2d1c5a0f3b11", "new", "null", ""),
    "reserved_event": _EVENT
    % (
        "0c1d2e3f-4a5b-4c6d-8e7f-8091a2b3c4d5",
        "awaiting payment",
        '"new"',
        ', "payment_deadline": "2026-01-01T12:10:00.000000+00:00"',
    ),
    "reserved_answer": _ANSWER,
    "failed_event": _EVENT % ("5d6e7f80-91a2-4b3c-8d4e-5f6a7b8c9d0e", "failed", '"new"', ""),
    "failed_answer": _ANSWER.replace('"awaiting payment"', '"failed"').replace(
        '"payment_deadline": "2026-01-01T12:10:00+00:00"', '"payment_deadline": null'
    ),
    "topic": "loms.order-events",
    "request_id": "bench-request-id",
    "scope": "service:checkout POST /api/v1/orders",
    "hash": "5f2b0e6c8c7a4e1d9b3a2f1e0d9c8b7a6f5e4d3c2b1a09f8e7d6c5b4a3928171",
}
#: Each placeholder of LOMS's statements and what stands for it in the pgbench script.
PGBENCH_VALUES = {
    # LOMS takes ids from the orders' sequence ahead, in blocks; the statement names it once
    "order_id": "nextval(pg_get_serial_sequence('orders', 'id'))",
    "lock_skus": "ARRAY[:sku1, :sku2]",
    "lock_users": "ARRAY[:user]",
    "user_id": ":user",
    # LOMS's defaults (`loms.domain.limits`): what one user may hold unpaid
    "max_unpaid_orders": str(MAX_UNPAID_ORDERS),
    "max_unpaid_units": str(MAX_UNPAID_UNITS_PER_SKU),
    "total_price": ":total",
    "now": ":now",
    "deadline": ":deadline",
    "skus": "ARRAY[:sku1, :sku2]",
    "counts": "ARRAY[:n1, :n2]",
    "prices": "ARRAY[1000, 500]",
    "ev_topic": ":topic",
    "ev_request_id": ":request_id",
    "ev_traceparent": "NULL",
    "failed_event": ":failed_event",
    "failed_answer": ":failed_answer",
    "new_event": ":payload",
    "reserved_event": ":reserved_event",
    "key_scope": ":scope",
    "key_key": "'pgbench-' || CAST(:key AS text)",
    "key_hash": ":hash",
    "key_status": ":status",
    "reserved_answer": ":reserved_answer",
}


def pgbench_script() -> str:
    r"""One order as LOMS places it for `POST /api/v1/orders` with `Idempotency-Key` and `Prefer:
    wait` while its relay runs: the placement statement (the order recorded with its outcome, its
    lines, reservations, stock, both events and the stored answer), as a transaction of its own,
    without NOTIFY. It is LOMS's own statement, read from its repository so the floor cannot drift
    from what LOMS sends; the values are in `PGBENCH_DEFINES` and `\set`. LOMS sends it for many
    orders in one transaction and round trip when they arrive together; pgbench sends one order
    per transaction, which is what the issue's floor is."""
    from loms.repositories.placement import PLACE_SQL

    def for_pgbench(sql: str) -> str:
        sql = re.sub(r"^\s*--.*\n", "", sql, flags=re.MULTILINE)  # comments: pgbench reads their words
        sql = re.sub(r"([\w.]+)::(\w+)", r"CAST(\1 AS \2)", sql)  # `::type` reads as a variable
        sql = re.sub(r"(?<![:\w]):(\w+)", lambda m: PGBENCH_VALUES[m.group(1)], sql)
        return sql.strip()

    assert PLACE_SQL.count(":order_id") == 1, "pgbench stands one sequence value in for the order id"
    place = for_pgbench(PLACE_SQL.replace(" /*notify*/", "")) + ";"
    variables = [
        r"\set sku1 random(1, 500)",
        r"\set sku2 1 + (:sku1 % 500)",
        r"\set n1 random(1, 3)",
        r"\set n2 random(1, 3)",
        rf"\set user random(1, {BENCH_USERS})",
        r"\set key random(1, 1000000000000000)",
        r"\set total 3000",
        r"\set status 201",
    ]
    return "\n".join([*variables, place, ""])


def pgbench(urls: StackUrls, clients: int, duration: float, postgres_pid: int, log_dir: Path) -> dict[str, Any]:
    port = re.search(r":(\d+)/", urls.database_url)
    assert port is not None
    log_dir.mkdir(parents=True, exist_ok=True)
    script = log_dir / "pgbench_order.sql"
    script.write_text(pgbench_script())
    argv = [
        str(pg_bin_dir() / "pgbench"),
        "-n",
        "-M",
        "prepared",
        "-c",
        str(clients),
        "-j",
        "2",
        "-T",
        str(int(duration)),
        "-f",
        str(script),
        *(arg for name, value in PGBENCH_DEFINES.items() for arg in ("-D", f"{name}={value}")),
        "-l",
        "--log-prefix",
        str(log_dir / "pgbench"),
        "-h",
        "127.0.0.1",
        "-p",
        port.group(1),
        "-U",
        "postgres",
        "loms",
    ]
    # The session settings of LOMS's writer connections, so the statements are planned alike.
    from loms.db import WRITER_SETTINGS

    options = " ".join(f"-c {name}={value}" for name, value in WRITER_SETTINGS.items())
    env = {**os.environ, "PGOPTIONS": options}
    before = cpu_seconds(postgres_pid)
    done = subprocess.run(argv, capture_output=True, text=True, check=False, cwd=log_dir, env=env)
    postgres_cpu = cpu_seconds(postgres_pid) - before
    if done.returncode != 0:
        raise RuntimeError(f"pgbench failed:\n{done.stdout}\n{done.stderr}")
    tps = re.search(r"tps = ([\d.]+) \(without initial connection time\)", done.stdout)
    failed = re.search(r"number of failed transactions: (\d+)", done.stdout)
    # Per-transaction log lines: client_id transaction_no time_us script_no epoch epoch_us ...
    latencies = sorted(
        int(line.split()[2]) / 1000
        for log in log_dir.glob("pgbench.*")
        for line in log.read_text().splitlines()
        if line.strip()
    )
    orders = float(tps.group(1)) if tps else 0.0

    def pct(p: float) -> float | None:
        return round(latencies[min(len(latencies) - 1, int(p * len(latencies)))], 1) if latencies else None

    return {
        "orders_per_second": round(orders, 1),
        "p50_ms": pct(0.5),
        "p90_ms": pct(0.9),
        "p99_ms": pct(0.99),
        "failed": int(failed.group(1)) if failed else None,
        "postgres_cpu_ms_per_order": round(postgres_cpu * 1000 / (orders * duration), 2) if orders else None,
    }


def run_loop(coro: Any) -> Any:
    try:
        import uvloop

        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            return runner.run(coro)
    except ImportError:
        return asyncio.run(coro)


def at_least_one(value: str) -> int:
    if int(value) < 1:
        raise argparse.ArgumentTypeError("at least 1")
    return int(value)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument(
        "--workers",
        type=int,
        default=2,
        help="uvicorn workers of LOMS: 2 as deployed (WEB_CONCURRENCY in deploy/) and as BENCHMARKS.md's "
        "references ran; `make run` starts SHOP_WORKERS, default 1",
    )
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument(
        "--rounds",
        type=at_least_one,
        default=3,
        help="LOMS and pgbench phases taken in turn, so a drift of the machine's speed hits both",
    )
    parser.add_argument("--warmup", type=float, default=5.0)
    parser.add_argument("--duration", type=float, default=10.0, help="seconds measured per phase")
    parser.add_argument(
        "--generator",
        choices=["wrk", "httpx"],
        default="wrk" if WRK else "httpx",
        help="wrk with orders.lua (default when installed) or the asyncio + httpx loop here",
    )
    parser.add_argument(
        "--env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="extra environment for LOMS, e.g. LOMS_RELAY_ENABLED=false (for experiments)",
    )
    parser.add_argument("--skip-pgbench", action="store_true")
    parser.add_argument("--no-fsync", action="store_true", help="PostgreSQL as the tests run it (fsync off)")
    return parser.parse_args()


def measure_loms(
    args: argparse.Namespace, stack: EmbeddedStack, urls: StackUrls, db_url: str, token: str, jwks: Path
) -> dict[str, Any]:
    """One LOMS phase: start it, warm up, measure, let the relay drain, check the books, stop it."""
    extra_env = dict(pair.split("=", 1) for pair in args.env)
    loms, base = start_loms(urls, db_url, jwks, args.workers, stack.log_dir, extra_env)
    try:
        pids = {
            "loms": loms.pid or 0,
            "postgres": stack.process("postgres").pid or 0,
            "tansu": stack.process("tansu").pid or 0,
        }
        if args.generator == "wrk":
            service = load_wrk(base, token, args.clients, args.warmup, args.duration, pids, db_url).summary()
        else:
            service = run_loop(load(base, token, args.clients, args.warmup, args.duration, pids, db_url)).summary()
        time.sleep(1.0)  # let the relay drain the outbox before the check
        return {"loms": service, "consistency": run_loop(consistency(db_url))}
    finally:
        loms.stop()


def combined(rounds: list[dict[str, Any]]) -> dict[str, Any]:
    """The rounds together. LOMS and pgbench ran alternately for equal times, so the ratio of their
    mean rates is the ratio of all orders each completed; the machine's speed drifts by a fifth
    within minutes here, and alternating puts both sides through the same drift."""
    loms = [r["loms"] for r in rounds]
    floors = [r["pgbench"] for r in rounds if "pgbench" in r]
    out: dict[str, Any] = {
        "loms_orders_per_second": round(statistics.fmean(x["orders_per_second"] for x in loms), 1),
        "loms_p50_ms_median": statistics.median(x["p50_ms"] for x in loms),
        "loms_p99_ms_median": statistics.median(x["p99_ms"] for x in loms),
        "loms_p99_ms_worst": max(x["p99_ms"] for x in loms),
        "all_answers_ok": all(x["answers"]["other"] == 0 and x["answers"]["socket errors"] == 0 for x in loms),
        "books_balanced": all(
            r["consistency"]["reserved_matches_held"] and r["consistency"]["events_unpublished_at_end"] == 0
            for r in rounds
        ),
    }
    if floors:
        floor = statistics.fmean(x["orders_per_second"] for x in floors)
        out["pgbench_orders_per_second"] = round(floor, 1)
        out["ratio_to_pgbench"] = round(out["loms_orders_per_second"] / floor, 2) if floor else None
        out["ratio_per_round"] = [
            round(r["loms"]["orders_per_second"] / r["pgbench"]["orders_per_second"], 2)
            for r in rounds
            if r.get("pgbench", {}).get("orders_per_second")
        ]
    return out


def main() -> int:
    args = parse_args()
    data_dir = ROOT / ".data" / f"bench-loms-{os.getpid()}"
    stack = EmbeddedStack(data_dir, StackPorts.free(), durable=not args.no_fsync, env={})
    try:
        urls = stack.start()
        db_url = run_loop(prepare_database(urls))
        issuer = TestIssuer(data_dir / "jwt")
        # A service token as checkout holds one: its client's scopes (orders:read, orders:write).
        token = issuer.token("checkout", "service", ttl=3600)
        postgres = stack.process("postgres").pid or 0
        rounds: list[dict[str, Any]] = []
        for n in range(1, args.rounds + 1):
            print(
                f"round {n}/{args.rounds}: LOMS ({args.workers} uvicorn workers, {args.clients} clients, "
                f"{args.warmup:.0f}s warm-up, {args.duration:.0f}s measured) ...",
                flush=True,
            )
            result = measure_loms(args, stack, urls, db_url, token, issuer.jwks_path)
            if not args.skip_pgbench:
                print(f"round {n}/{args.rounds}: pgbench with the same SQL ({args.duration:.0f}s) ...", flush=True)
                result["pgbench"] = pgbench(urls, args.clients, args.duration, postgres, data_dir / f"pgbench-{n}")
                run_loop(forget_pgbench_events(db_url))
            print(json.dumps(result), flush=True)
            rounds.append(result)
        report: dict[str, Any] = {"summary": combined(rounds), "rounds": rounds}
        report["setup"] = {
            "generator": args.generator,
            "uvicorn_workers": args.workers,
            "clients": args.clients,
            "rounds": args.rounds,
            "duration_s": args.duration,
            "postgres_fsync": not args.no_fsync,
            "cpus": os.cpu_count(),
            "load_average_at_end": [round(x, 1) for x in os.getloadavg()],
        }
        print(json.dumps(report, indent=2))
        return 0
    finally:
        stack.stop()
        shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
