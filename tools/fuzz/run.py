#!/usr/bin/env python3
"""`make fuzz`: schemathesis (`--checks all`) against every service's OpenAPI document.

Starts the system the way the end-to-end tests do (`tests/e2e/conftest.py:start_system`): the
embedded PostgreSQL, Valkey, Tansu and mail catcher on free ports, every installed service (found
through the `shop.services` entry points, so a new service is fuzzed without editing this file)
on a free port with a fresh migrated database and the demo data. It signs in as the demo manager
(`admin`) at checkout and runs `schemathesis run <service>/openapi.json` for each service in turn,
with that token on every request. Everything stops at the end, whatever happened.

Exits non-zero when schemathesis found anything on any service (or a service has no document).

    FUZZ_MAX_EXAMPLES  examples per operation and phase (default 50; CI uses the default)
    FUZZ_SEED          the hypothesis seed (default 1, so a run can be repeated; `random` for a new one)
    FUZZ_WORKERS       schemathesis workers per service (default 1: with more, hypothesis on Python 3.11
                       may fail in `ast.parse` from two threads, "AST constructor recursion depth mismatch")
    FUZZ_SERVICES      only these services (space separated), e.g. "product-stub loms"

Arguments after `--` go to every `schemathesis run`, e.g.
`tools/fuzz/run.py -- --include-path /api/v1/products --max-failures 1`.
Reports (JUnit, NDJSON) and every process's log are kept under `.data/fuzz/`.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import FrameType
from typing import Any

import httpx

from shopcommon.devstack.stack import EmbeddedStack, StackPorts
from shopcommon.testing.plugin import Stack

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent

DATA = ROOT / ".data" / "fuzz"
DEMO_MANAGER = {"username": "admin", "password": "1"}
#: The access token lives an hour here (15 minutes by default): one token serves the whole run.
TOKEN_TTL = 3600
#: A service's run is stopped after this long (a hang is a finding too).
SERVICE_TIMEOUT = 20 * 60
#: How long one call to an event stream is read.
STREAM_SECONDS = 2


def e2e_system() -> Any:
    """`tests/e2e/conftest.py`, where the system is started as the end-to-end tests start it.

    Imported at run time: the tests are not a package mypy checks, and a static import would make
    it check them from here."""
    sys.path.insert(0, str(ROOT))
    return importlib.import_module("tests.e2e.conftest")


def env_int(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    return int(value) if value else default


def parse_args(argv: list[str]) -> tuple[argparse.Namespace, list[str]]:
    extra: list[str] = []
    if "--" in argv:
        cut = argv.index("--")
        argv, extra = argv[:cut], argv[cut + 1 :]
    parser = argparse.ArgumentParser(description="Fuzz every service's API with schemathesis.")
    parser.add_argument("services", nargs="*", default=os.environ.get("FUZZ_SERVICES", "").split())
    parser.add_argument("--max-examples", type=int, default=env_int("FUZZ_MAX_EXAMPLES", 50))
    parser.add_argument("--seed", default=os.environ.get("FUZZ_SEED", "").strip() or "1")
    parser.add_argument("--workers", type=int, default=env_int("FUZZ_WORKERS", 1))
    args = parser.parse_args(argv)
    if args.seed == "random":
        args.seed = str(random.SystemRandom().randrange(2**32))
    if not args.seed.isdigit():
        parser.error("--seed / FUZZ_SEED is a non-negative integer or `random`")
    return args, extra


def sign_in(checkout_url: str) -> tuple[str, int]:
    """The demo manager's access token and account id."""
    with httpx.Client(base_url=checkout_url, timeout=30) as client:
        resp = client.post("/api/v1/auth/token", json=DEMO_MANAGER)
        resp.raise_for_status()
        token = str(resp.json()["access_token"])
        me = client.get("/api/v1/users/me", headers={"Authorization": f"Bearer {token}"})
        me.raise_for_status()
        return token, int(me.json()["id"])


def document(url: str) -> dict[str, Any] | None:
    """The service's OpenAPI document, or None when it serves none."""
    try:
        resp = httpx.get(f"{url}/openapi.json", timeout=10)
        doc = resp.json() if resp.status_code == 200 else None
    except (httpx.HTTPError, ValueError):
        return None
    return doc if isinstance(doc, dict) and isinstance(doc.get("paths"), dict) else None


def event_streams(doc: dict[str, Any]) -> list[tuple[str, str]]:
    """(method, path) of every operation that answers `text/event-stream`."""
    found = []
    for path, item in doc["paths"].items():
        for method, op in item.items():
            responses = op.get("responses", {}) if isinstance(op, dict) else {}
            types = [t for r in responses.values() if isinstance(r, dict) for t in r.get("content", {})]
            if any(t.split(";")[0].strip().lower() == "text/event-stream" for t in types):
                found.append((method.upper(), path))
    return found


def service_config(name: str, doc: dict[str, Any]) -> Path:
    """schemathesis.toml, plus a section for each of the service's event streams.

    An SSE stream never ends by itself (it would when the token expires, an hour away here), so it
    is fuzzed, not excluded, with a short timeout: schemathesis reads a stream until
    `max-stream-events` events came or the request timeout passed, then checks what it read
    (each event against the declared schema). Every call takes that whole timeout when no event
    comes, hence few examples of it.
    """
    text = (HERE / "schemathesis.toml").read_text()
    for method, path in event_streams(doc):
        text += (
            f"\n[[operations]]\ninclude-path = {json.dumps(path)}\ninclude-method = {json.dumps(method)}\n"
            f"request-timeout = {STREAM_SECONDS}\nmax-stream-events = 3\ngeneration.max-examples = 5\n"
        )
    path_ = DATA / "config" / f"{name}.toml"
    path_.parent.mkdir(parents=True, exist_ok=True)
    path_.write_text(text)
    return path_


def fuzz_service(
    name: str, url: str, doc: dict[str, Any], args: argparse.Namespace, extra: list[str], env: dict[str, str]
) -> int:
    reports = DATA / "reports" / name
    argv = [
        sys.executable,
        "-m",
        "schemathesis.cli",
        "--config-file",
        str(service_config(name, doc)),
        "run",
        f"{url}/openapi.json",
        "--checks",
        "all",
        "--max-examples",
        str(args.max_examples),
        "--seed",
        args.seed,
        "--workers",
        str(args.workers),
        "--generation-database",
        str(DATA / "examples"),
        "--report",
        "junit,ndjson",
        "--report-dir",
        str(reports),
        *extra,
    ]
    print(f"\n=== fuzz {name} ({url}) ===", flush=True)
    try:
        return subprocess.run(argv, cwd=ROOT, env=env, check=False, timeout=SERVICE_TIMEOUT).returncode
    except subprocess.TimeoutExpired:
        print(f"fuzz {name}: schemathesis still running after {SERVICE_TIMEOUT} s; stopped", flush=True)
        return 124


def run(args: argparse.Namespace, extra: list[str]) -> int:
    # Everything of the previous run goes but what schemathesis and hypothesis learnt, which they
    # try first next time (so a fix is checked against the very input that failed).
    for stale in ("stack", "system", "config", "reports"):
        shutil.rmtree(DATA / stale, ignore_errors=True)
    (DATA / "system").mkdir(parents=True)

    started = time.monotonic()
    embedded = EmbeddedStack(DATA / "stack", StackPorts.free(), durable=False, echo=False)
    system: Any = None
    results: list[tuple[str, int, float]] = []
    try:
        print("starting the embedded stack and the services ...", flush=True)
        stack = Stack(embedded, embedded.start(), ROOT)
        # The fuzzer sends thousands of booking requests from one address: the per-IP and per-email
        # limits (tested on their own) would answer most of them 429 and hide everything else.
        quiet_limits = {"BOOKINGS_REQUESTS_PER_IP": "0", "BOOKINGS_REQUESTS_PER_EMAIL": "0"}
        system = e2e_system().start_system(
            stack, DATA / "system", {"CHECKOUT_ACCESS_TOKEN_TTL": str(TOKEN_TTL), **quiet_limits}
        )
        print(f"up in {time.monotonic() - started:.0f}s; logs in {embedded.log_dir}", flush=True)
        token, user_id = sign_in(system.url("checkout"))
        env = {
            **os.environ,
            "FUZZ_TOKEN": token,
            "FUZZ_OWN_USER_ID": str(user_id),
            "FUZZ_HOOKS": str(HERE / "hooks.py"),
            "FUZZ_CACHE": str(DATA / "cache"),
            "PYTHONUNBUFFERED": "1",
        }
        chosen = args.services or list(system.services)
        unknown = [name for name in chosen if name not in system.services]
        if unknown:
            print(f"no such service: {' '.join(unknown)} (installed: {' '.join(system.services)})", file=sys.stderr)
            return 2
        print(f"max examples {args.max_examples}, seed {args.seed}, workers {args.workers}", flush=True)
        for name in chosen:
            url = system.url(name)
            began = time.monotonic()
            doc = document(url)
            if doc is None:
                print(f"\n=== fuzz {name}: FAILED, no OpenAPI document at {url}/openapi.json ===", flush=True)
                results.append((name, 1, 0.0))
                continue
            code = fuzz_service(name, url, doc, args, extra, env)
            results.append((name, code, time.monotonic() - began))
            dead = [n for n, proc in system.services.items() if not proc.proc.running]
            if dead:
                print(f"service(s) died during the run: {' '.join(dead)}; see {embedded.log_dir}", flush=True)
                results.append((f"{'+'.join(dead)} (process died)", 1, 0.0))
                break
    finally:
        print("\nstopping ...", flush=True)
        if system is not None:
            for proc in reversed(list(system.services.values())):
                proc.stop()
        embedded.stop()
        shutil.rmtree(DATA / "stack" / "pg", ignore_errors=True)  # the logs stay

    return summary(results, args)


def summary(results: list[tuple[str, int, float]], args: argparse.Namespace) -> int:
    """Print each service's outcome; the exit code (1 when any failed or none ran)."""
    print("\n=== fuzz summary ===")
    for name, code, seconds in results:
        print(f"{'ok  ' if code == 0 else 'FAIL'} {name} ({seconds:.0f}s, exit {code})")
    failed = [name for name, code, _ in results if code != 0]
    print(f"seed {args.seed}, max examples {args.max_examples}; reports in {DATA / 'reports'}")
    if failed:
        print(f"schemathesis found problems in: {' '.join(failed)} (repeat with FUZZ_SEED={args.seed})")
    return 1 if failed or not results else 0


def main(argv: list[str] | None = None) -> int:
    def on_term(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt  # SIGTERM stops the run like Ctrl-C: the `finally` above stops everything

    signal.signal(signal.SIGTERM, on_term)
    args, extra = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        return run(args, extra)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    raise SystemExit(main())
