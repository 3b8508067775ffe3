"""Start one service on its own: wait for its database, create it when allowed, migrate, load dev
demo data, then (with --serve) replace this process with uvicorn.

    python -m shopcommon.prestart loms --serve

The container image runs exactly this; it is also how to run one service alone against servers
of your own (see README).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time

import asyncpg

from shopcommon.db import plain_url
from shopcommon.devstack.databases import create_database, database_url_for
from shopcommon.migrations import upgrade
from shopcommon.services import ServiceSpec, service_spec


async def wait_for_server(url: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            conn = await asyncpg.connect(plain_url(url), timeout=3)
            await conn.close()
            return
        except (TimeoutError, OSError, asyncpg.PostgresError) as exc:
            if time.monotonic() > deadline:
                raise SystemExit(f"database not reachable at {url}: {exc}") from exc
            await asyncio.sleep(1)


async def prepare(spec: ServiceSpec, env: dict[str, str], timeout: float) -> str | None:
    if spec.database is None:
        return None
    own = env.get(spec.database_env)
    admin = env.get("DATABASE_URL")
    if own:
        await wait_for_server(own, timeout)
        url = own
    elif admin:
        await wait_for_server(database_url_for(admin, "postgres"), timeout)
        url = await create_database(admin, spec.database)
    else:
        raise SystemExit(f"set {spec.database_env} (or DATABASE_URL, a server URL to create it on)")
    if spec.migrations is not None:
        await asyncio.to_thread(upgrade, spec.migrations, url)
    loader = spec.load_demo_data()
    if env.get("APP_ENV", "prod") == "dev" and loader is not None:
        await loader(url, env)
    return url


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("service")
    parser.add_argument("--serve", action="store_true", help="exec uvicorn afterwards")
    parser.add_argument("--host", default=os.environ.get("HOST", "0.0.0.0"))
    parser.add_argument("--port", type=int, default=None)
    parser.add_argument("--timeout", type=float, default=60)
    args = parser.parse_args()
    spec = service_spec(args.service)
    url = asyncio.run(prepare(spec, dict(os.environ), args.timeout))
    if url:
        os.environ[spec.database_env] = url
    if args.serve:
        workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
        argv = spec.uvicorn_argv(args.host, args.port, workers, extra=["--proxy-headers"])
        os.execv(sys.executable, argv)


if __name__ == "__main__":
    main()
