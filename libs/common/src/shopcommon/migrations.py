"""Alembic for async services: one helper for every service's `env.py`, and programmatic upgrades
used by the launcher and the test harness."""

from __future__ import annotations

import asyncio
from pathlib import Path

from alembic import command, context
from alembic.config import Config
from sqlalchemy import MetaData, pool
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from shopcommon.db import async_url


def alembic_config(script_location: Path, database_url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(script_location))
    cfg.set_main_option("sqlalchemy.url", async_url(database_url).replace("%", "%%"))
    return cfg


def upgrade(script_location: Path, database_url: str, revision: str = "heads") -> None:
    """Synchronous: call from a thread when an event loop is running."""
    command.upgrade(alembic_config(script_location, database_url), revision)


def run_env(target_metadata: MetaData, url_env: str) -> None:
    """Body of a service's migrations/env.py."""
    import os

    url = context.config.get_main_option("sqlalchemy.url") or os.environ.get(url_env, "")
    if not url:
        raise RuntimeError(f"set {url_env} or sqlalchemy.url to run migrations")
    url = async_url(url)

    def do_run(connection: Connection) -> None:
        context.configure(connection=connection, target_metadata=target_metadata, compare_type=True)
        with context.begin_transaction():
            context.run_migrations()

    if context.is_offline_mode():
        context.configure(url=url, target_metadata=target_metadata, literal_binds=True)
        with context.begin_transaction():
            context.run_migrations()
        return

    async def run_async() -> None:
        engine = create_async_engine(url, poolclass=pool.NullPool)
        async with engine.connect() as connection:
            await connection.run_sync(do_run)
            await connection.commit()
        await engine.dispose()

    asyncio.run(run_async())
