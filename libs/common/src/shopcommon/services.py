"""How a service tells the launcher and the test harness about itself.

Each service package exposes a `ServiceSpec` under the `shop.services` entry-point group, so a
new service joins `make run` and the tests by declaring itself, without editing the launcher.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

ENTRY_POINT_GROUP = "shop.services"
#: Most uvicorn workers per service `make run` starts by default: every service, PostgreSQL and the
#: brokers share the machine, so more workers than this mostly add memory and connections.
MAX_DEFAULT_WORKERS = 4


def default_workers() -> int:
    """Workers per service: `SHOP_WORKERS` when set, else the machine's cores, at most
    `MAX_DEFAULT_WORKERS` (one core: one worker)."""
    stated = os.environ.get("SHOP_WORKERS", "").strip()
    if stated:
        return max(1, int(stated))
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return max(1, min(cores, MAX_DEFAULT_WORKERS))


@dataclass(frozen=True)
class ServiceSpec:
    name: str
    port: int
    env_prefix: str
    app_factory: str
    database: str | None = None
    migrations: Path | None = None
    #: "module:function", an async function (database_url, env) -> None loading demo data idempotently.
    demo_data: str | None = None
    start_order: int = 50
    #: Extra environment for the process, given the URLs of the running stack.
    extra_env: Callable[[dict[str, str]], dict[str, str]] | None = None
    description: str = ""
    links: dict[str, str] = field(default_factory=dict)

    @classmethod
    def for_package(
        cls, package: str, *, port: int, start_order: int, description: str, demo: bool = True, **other: Any
    ) -> ServiceSpec:
        """A service laid out as they all are: `services/<name>/src/<package>/` with `main:create_app`,
        `demo:load_demo_data` (unless `demo` is false) and `services/<name>/migrations/`; named after the
        package, as are its database and its environment's prefix unless `other` says otherwise."""
        name = other.pop("name", package.replace("_", "-"))
        source = Path(importlib.import_module(package).__file__ or "").resolve().parent
        return cls(
            name=name,
            port=port,
            env_prefix=other.pop("env_prefix", f"{package.upper()}_"),
            app_factory=f"{package}.main:create_app",
            database=other.pop("database", package),
            migrations=source.parents[1] / "migrations",
            demo_data=f"{package}.demo:load_demo_data" if demo else None,
            start_order=start_order,
            description=description,
            **other,
        )

    @property
    def database_env(self) -> str:
        return f"{self.env_prefix}DATABASE_URL"

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def uvicorn_argv(
        self, host: str, port: int | None = None, workers: int = 1, extra: Sequence[str] = ()
    ) -> list[str]:
        return uvicorn_argv(self.app_factory, host=host, port=port or self.port, workers=workers, extra=extra)

    def load_demo_data(self) -> Callable[[str, dict[str, str]], Coroutine[Any, Any, Any]] | None:
        if not self.demo_data:
            return None
        module, _, func = self.demo_data.partition(":")
        fn: Callable[[str, dict[str, str]], Coroutine[Any, Any, Any]] = getattr(importlib.import_module(module), func)
        return fn


def uvicorn_argv(
    app: str, *, host: str, port: int, workers: int = 1, factory: bool = True, extra: Sequence[str] = ()
) -> list[str]:
    """The one way a service process is started, so `make run`, containers (`prestart`), the e2e
    tests and the benchmarks all run the same server: uvicorn with uvloop and httptools."""
    argv = [
        sys.executable,
        "-m",
        "shopcommon.serve",  # uvicorn, exiting 0 after a graceful stop by SIGTERM
        *(["--factory"] if factory else []),
        app,
        "--host",
        host,
        "--port",
        str(port),
        "--loop",
        "uvloop",
        "--http",
        "httptools",
        "--no-access-log",
        "--timeout-graceful-shutdown",
        "5",
        # Stated, not left to uvicorn's default, so uvicorn's rewrite of the client address and
        # checkout's own reading of X-Forwarded-For (rate limits) trust the same proxies.
        "--forwarded-allow-ips",
        os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1,::1"),
    ]
    if workers > 1:
        argv += ["--workers", str(workers)]
    return [*argv, *extra]


def discover_services(only: list[str] | None = None) -> list[ServiceSpec]:
    specs: list[ServiceSpec] = []
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if only and ep.name not in only:
            continue
        spec = ep.load()
        if not isinstance(spec, ServiceSpec):
            raise TypeError(f"entry point {ep.name} does not point at a ServiceSpec")
        specs.append(spec)
    return sorted(specs, key=lambda s: (s.start_order, s.name))


def service_spec(name: str) -> ServiceSpec:
    for spec in discover_services([name]):
        if spec.name == name:
            return spec
    raise LookupError(f"no service named {name!r} is installed")
