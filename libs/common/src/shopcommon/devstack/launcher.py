"""`make run`: the embedded stack, migrations, demo data and every installed service.

Services are found through the `shop.services` entry points (see `shopcommon.services`), so a
new service joins by declaring a `ServiceSpec`; nothing here names a service.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import signal
import sys
import threading
import time
from pathlib import Path

import httpx

from shopcommon.devstack.databases import create_database
from shopcommon.devstack.processes import ManagedProcess, wait_for
from shopcommon.devstack.stack import EmbeddedStack, StackPorts, StackUrls
from shopcommon.migrations import upgrade
from shopcommon.services import ServiceSpec, default_workers, discover_services


def env_name(spec: ServiceSpec) -> str:
    return spec.name.upper().replace("-", "_")


def service_ports(specs: list[ServiceSpec], env: dict[str, str]) -> dict[str, int]:
    """Each service's port: its standard one unless `SHOP_<NAME>_PORT` says otherwise."""
    return {s.name: int(env.get(f"SHOP_{env_name(s)}_PORT", s.port)) for s in specs}


def service_urls_env(specs: list[ServiceSpec], ports: dict[str, int] | None = None) -> dict[str, str]:
    """`SHOP_<NAME>_URL` for every service: how services find each other (and the JWKS)."""
    env = {}
    for spec in specs:
        port = (ports or {}).get(spec.name, spec.port)
        env[f"SHOP_{env_name(spec)}_URL"] = f"http://127.0.0.1:{port}"
    if "SHOP_CHECKOUT_URL" in env:
        env["JWT_JWKS_URL"] = env["SHOP_CHECKOUT_URL"] + "/.well-known/jwks.json"
    return env


def service_env(
    spec: ServiceSpec,
    urls: StackUrls,
    base_env: dict[str, str],
    database_url: str | None,
    data_dir: Path,
    ports: dict[str, int],
    specs: list[ServiceSpec],
) -> dict[str, str]:
    env = {**service_urls_env(specs, ports), **base_env, **urls.as_env()}
    env.setdefault("APP_ENV", "dev")
    env["SHOP_DATA_DIR"] = str(data_dir)
    if database_url and spec.database_env not in base_env:
        env[spec.database_env] = database_url
    if spec.extra_env is not None:
        for key, value in spec.extra_env(env).items():
            env.setdefault(key, value)
    return env


async def prepare_database(spec: ServiceSpec, urls: StackUrls, env: dict[str, str], *, demo: bool) -> str | None:
    if spec.database is None:
        return None
    url = env.get(spec.database_env) or await create_database(urls.database_url, spec.database)
    if spec.migrations is not None:
        await asyncio.to_thread(upgrade, spec.migrations, url)
    loader = spec.load_demo_data()
    if demo and loader is not None:
        await loader(url, env)
    return url


def uvicorn_argv(spec: ServiceSpec, host: str, port: int, workers: int) -> list[str]:
    return spec.uvicorn_argv(host, port, workers)


def wait_ready(proc: ManagedProcess, spec: ServiceSpec, base_url: str, timeout: float) -> None:
    def ready() -> bool:
        return httpx.get(f"{base_url}/readyz", timeout=2).status_code == 200

    wait_for(ready, timeout, f"{spec.name} /readyz", proc)


def banner(
    specs: list[ServiceSpec], ports: dict[str, int], stack: EmbeddedStack, urls: StackUrls, seconds: float
) -> str:
    lines = ["", "=" * 72, f"  The shop is running ({seconds:.1f}s). Ctrl-C stops everything.", ""]
    for spec in specs:
        base = f"http://127.0.0.1:{ports[spec.name]}"
        lines.append(f"  {spec.name:<14} {base}   docs {base}/docs   redoc {base}/redoc")
        for label, path in spec.links.items():
            lines.append(f"  {'':<14} {label}: {base}{path}")
    lines += ["", "  Infrastructure:"]
    lines += [f"    {line}" for line in stack.started] or ["    (all from the environment)"]
    lines += [
        f"    mail API: {urls.mail_api_url}/api/v1/messages",
        "",
        "  Demo logins (password 1): admin (manager); customer, josh, mike (customers);",
        "  one worker per category (worker-<category>). ProductService token: testtoken.",
        f"  Logs: {stack.log_dir}/",
        "=" * 72,
        "",
    ]
    return "\n".join(lines)


async def _prepare_all(
    specs: list[ServiceSpec],
    urls: StackUrls,
    base_env: dict[str, str],
    data_dir: Path,
    ports: dict[str, int],
    *,
    demo: bool,
) -> list[str | None]:
    """Each service's database migrated (and its demo data loaded in dev), in turn: their URLs."""
    out = []
    for spec in specs:
        env = service_env(spec, urls, base_env, None, data_dir, ports, specs)
        out.append(await prepare_database(spec, urls, env, demo=demo))
    return out


def _watch(services: list[ManagedProcess], stop_event: threading.Event) -> int:
    """Until Ctrl-C (0), or until a service dies (1)."""
    while not stop_event.wait(0.5):
        dead = [p for p in services if not p.running]
        if dead:
            print(f"{dead[0].name} exited unexpectedly; stopping everything", flush=True)
            return 1
    return 0


def run(args: argparse.Namespace) -> int:
    root = Path(args.root).resolve()
    data_dir = root / ".data"
    (data_dir / "logs").mkdir(parents=True, exist_ok=True)
    started_at = time.monotonic()
    stop_event = threading.Event()
    running = threading.Event()

    def on_signal(signum: int, frame: object) -> None:
        if stop_event.is_set():
            return  # already stopping; a second Ctrl-C must not cut the orderly shutdown short
        stop_event.set()
        if not running.is_set():
            raise KeyboardInterrupt  # still starting: abandon the start, then stop what is up

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)

    base_env = dict(os.environ)
    base_env.setdefault("APP_ENV", "dev")  # `make run` is the development mode
    demo = base_env["APP_ENV"] == "dev"
    specs = discover_services(args.only)
    ports = service_ports(specs, base_env)
    stack = EmbeddedStack(data_dir, StackPorts.from_env(base_env), durable=True, echo=True, env=base_env)
    services: list[ManagedProcess] = []
    try:
        print("starting the embedded stack ...", flush=True)
        urls = stack.start()

        print("migrating and loading demo data ...", flush=True)
        db_urls = asyncio.run(_prepare_all(specs, urls, base_env, data_dir, ports, demo=demo))
        for i, (spec, db_url) in enumerate(zip(specs, db_urls, strict=True)):
            env = service_env(spec, urls, base_env, db_url, data_dir, ports, specs)
            argv = uvicorn_argv(spec, args.host, ports[spec.name], args.workers)
            proc = ManagedProcess(spec.name, argv, log_dir=stack.log_dir, env=env, cwd=root, echo=True, color=i + 4)
            services.append(proc)
            proc.start()
        for spec, proc in zip(specs, services, strict=True):
            wait_ready(proc, spec, f"http://127.0.0.1:{ports[spec.name]}", timeout=60)
        print(banner(specs, ports, stack, urls, time.monotonic() - started_at), flush=True)
        running.set()
        return _watch(services, stop_event)
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        print(f"make run failed: {exc}", file=sys.stderr, flush=True)
        return 1
    finally:
        stop_event.set()
        print("stopping ...", flush=True)
        for proc in reversed(services):
            proc.stop()
        stack.stop()
        print("stopped.", flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Start the whole shop on embedded defaults.")
    parser.add_argument("--root", default=os.getcwd())
    parser.add_argument("--host", default=os.environ.get("SHOP_HOST", "127.0.0.1"))
    parser.add_argument("--workers", type=int, default=default_workers(), help="uvicorn workers per service")
    parser.add_argument("--only", nargs="*", help="start only these services")
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
