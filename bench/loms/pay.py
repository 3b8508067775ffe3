"""LOMS benchmark: what fulfilment costs the orders that are paid, with tasks against without.

```
.venv/bin/python bench/loms/pay.py                 # 3 rounds of each side, 10 s measured, 32 clients
.venv/bin/python bench/loms/pay.py --rounds 4 --duration 15
```

1. Starts the embedded stack (PostgreSQL durable, as `make run` keeps it), migrates `loms` and
   `checkout`, loads their demo data (one worker per product category, a second one in guitars and
   basses), stocks skus 1..500 plentifully and gives each a demo category in LOMS's cache (so
   no pass waits for product-stub), and starts a real checkout (LOMS reads its workers there).
2. Each round runs LOMS (2 uvicorn workers, as deployed) twice, in turns:
   * **without tasks**: the payment trigger that queues a paid order for its tasks is disabled and
     `LOMS_FULFILMENT_ENABLED=false`: LOMS as it was before fulfilment;
   * **with tasks**: trigger on, the fulfilment worker on in both LOMS processes: every payment
     queues its order, and the worker makes and assigns its two tasks while the load runs.
3. 32 wrk clients (`pay.lua`) create an order (`Prefer: wait=5`, two lines of two categories) and
   pay it, over and over. An order counts when its payment answers 200 `paid`.
4. Prints paid orders per second on each side, their ratio (the issue's floor: 0.75), latency,
   CPU per paid order, and for the side with tasks the queue left at the end of the window and
   how long the worker then took to empty it (a worker that falls behind would show here).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import asyncpg

from shopcommon.devstack.stack import EmbeddedStack, StackPorts, StackUrls
from shopcommon.services import service_spec
from shopcommon.testing.tokens import TestIssuer


def _sibling(name: str) -> Any:
    """`run.py` and `assignments.py` beside this file (a plain `import run` would meet bench/run.py)."""
    spec = importlib.util.spec_from_file_location(f"loms_bench_{name}", Path(__file__).with_name(f"{name}.py"))
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


_run, _assignments = _sibling("run"), _sibling("assignments")
BENCH_SKUS, BENCH_USERS, WRK = _run.BENCH_SKUS, _run.BENCH_USERS, _run.WRK
cpu_seconds, run_loop, start_loms = _run.cpu_seconds, _run.run_loop, _run.start_loms
prepare, progress, start = _assignments.prepare, _assignments.progress, _assignments.start

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
TRIGGER = "orders_paid_queue_tasks"


async def set_trigger(db_url: str, enabled: bool) -> None:
    conn = await asyncpg.connect(db_url)
    try:
        await conn.execute(f"ALTER TABLE orders {'ENABLE' if enabled else 'DISABLE'} TRIGGER {TRIGGER}")
        await conn.execute("ANALYZE")
    finally:
        await conn.close()


def wrk(base: str, token: str, clients: int, seconds: float) -> dict[str, int]:
    env = {
        **os.environ,
        "LOMS_BENCH_TOKEN": token,
        "LOMS_BENCH_SKUS": str(BENCH_SKUS),
        "LOMS_BENCH_USERS": str(BENCH_USERS),
    }
    argv = [WRK, "-t2", f"-c{clients}", f"-d{max(1, round(seconds))}s", "--latency", "--timeout", "30s"]
    out = subprocess.run(
        [*argv, "-s", str(HERE / "pay.lua"), base], capture_output=True, text=True, check=True, env=env
    )
    found = re.search(r"RESULT (.*)", out.stdout)
    if found is None:
        raise RuntimeError(f"wrk said:\n{out.stdout}\n{out.stderr}")
    return {k: int(v) for k, v in (pair.split("=") for pair in found.group(1).split())}


def phase(
    args: argparse.Namespace,
    stack: EmbeddedStack,
    urls: StackUrls,
    db_url: str,
    issuer: TestIssuer,
    env: dict[str, str],
    tasks: bool,
) -> dict[str, Any]:
    run_loop(set_trigger(db_url, tasks))
    env = {**env, "LOMS_FULFILMENT_ENABLED": str(tasks).lower()}
    loms, base = start_loms(urls, db_url, issuer.jwks_path, 2, stack.log_dir, env)
    token = issuer.token("checkout", "service", ttl=3600)
    try:
        wrk(base, token, args.clients, args.warmup)
        pids = {"loms": loms.pid or 0, "postgres": stack.process("postgres").pid or 0}
        before = {name: cpu_seconds(pid) for name, pid in pids.items()}
        fields = wrk(base, token, args.clients, args.duration)
        cpu = {name: cpu_seconds(pid) - before[name] for name, pid in pids.items()}
        seconds = fields["duration_us"] / 1e6
        result: dict[str, Any] = {
            "paid_per_second": round(fields["paid"] / seconds, 1),
            "answers": {k: fields[k] for k in ("created", "paid", "other", "errors")},
            "p50_ms": round(fields["p50_us"] / 1000, 1),
            "p99_ms": round(fields["p99_us"] / 1000, 1),
            "cpu_ms_per_paid_order": {n: round(s * 1000 / fields["paid"], 2) for n, s in cpu.items()}
            if fields["paid"]
            else {},
        }
        if tasks:
            result["queued_at_end"] = run_loop(progress(db_url))["queued"]
            began = time.monotonic()
            while (state := run_loop(progress(db_url)))["queued"] or state["unassigned"]:
                if time.monotonic() - began > 120:
                    raise RuntimeError(f"the queue did not empty: {state}")
                time.sleep(0.05)
            result["drained_in_s"] = round(time.monotonic() - began, 2)
        return result
    finally:
        loms.stop()


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--clients", type=int, default=32)
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--no-fsync", action="store_true")
    return parser.parse_args()


def main() -> int:
    args = parse_args()
    if not WRK:
        print("pay.py needs wrk (apt-get install wrk)", file=sys.stderr)
        return 2
    data_dir = ROOT / ".data" / f"bench-pay-{os.getpid()}"
    stack = EmbeddedStack(data_dir, StackPorts.free(), durable=not args.no_fsync, env={})
    checkout = None
    try:
        urls = stack.start()
        loms_db, checkout_db = asyncio.run(prepare(urls))
        issuer = TestIssuer(data_dir / "jwt")
        checkout, checkout_url = start(
            "checkout", urls, stack.log_dir, {service_spec("checkout").database_env: checkout_db}
        )
        env = {
            "SHOP_CHECKOUT_URL": checkout_url,
            "SHOP_PRODUCT_STUB_URL": "http://127.0.0.1:9",  # never asked: every sku's category is cached
        }
        rounds = []
        for n in range(1, args.rounds + 1):
            result = {}
            for tasks in (False, True):
                side = "with tasks" if tasks else "without tasks"
                print(f"round {n}/{args.rounds}: {side} ...", flush=True)
                result[side] = phase(args, stack, urls, loms_db, issuer, env, tasks)
            print(json.dumps(result), flush=True)
            rounds.append(result)
        mean = {
            side: statistics.fmean(r[side]["paid_per_second"] for r in rounds)
            for side in ("without tasks", "with tasks")
        }
        summary = {
            "paid_per_second": {k: round(v, 1) for k, v in mean.items()},
            "ratio_with_to_without": round(mean["with tasks"] / mean["without tasks"], 2),
            "ratio_per_round": [
                round(r["with tasks"]["paid_per_second"] / r["without tasks"]["paid_per_second"], 2) for r in rounds
            ],
            "p99_ms_median": {
                side: statistics.median(r[side]["p99_ms"] for r in rounds) for side in ("without tasks", "with tasks")
            },
            "all_answers_ok": all(
                r[s]["answers"]["other"] == 0 and r[s]["answers"]["errors"] == 0 for r in rounds for s in r
            ),
            "load_average_at_end": [round(x, 1) for x in os.getloadavg()],
        }
        print(json.dumps({"summary": summary, "rounds": rounds}, indent=2))
        return 0
    finally:
        if checkout is not None:
            checkout.stop()
        stack.stop()
        shutil.rmtree(data_dir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
