"""The driver itself for the order hot path (create, reserve, intake).

SQLAlchemy's execution layer costs more CPU per order than everything the database driver does
(bench/loms/README.md), so the few statements every order runs go straight to asyncpg: the create
request's on its own writer pool (`Db.writers`), the intake worker's on a connection borrowed from
the SQLAlchemy pool. The SQL keeps named parameters
(`:name`), compiled once to asyncpg's `$n`.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

import asyncpg
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

_NAMED = re.compile(r"(?<![:\w]):(\w+)")


class Sql:
    """A statement with named parameters, ready for asyncpg."""

    def __init__(self, text: str) -> None:
        self.names: list[str] = []

        def positional(match: re.Match[str]) -> str:
            name = match.group(1)
            if name not in self.names:
                self.names.append(name)
            return f"${self.names.index(name) + 1}"

        self.text = _NAMED.sub(positional, text)

    def args(self, params: Mapping[str, Any]) -> list[Any]:
        return [params[name] for name in self.names]

    async def fetch(self, conn: asyncpg.Connection, params: Mapping[str, Any]) -> list[asyncpg.Record]:
        return list(await conn.fetch(self.text, *self.args(params)))

    async def fetchval(self, conn: asyncpg.Connection, params: Mapping[str, Any]) -> Any:
        return await conn.fetchval(self.text, *self.args(params))

    async def execute(self, conn: asyncpg.Connection, params: Mapping[str, Any]) -> None:
        await conn.execute(self.text, *self.args(params))


async def driver_connection(conn: AsyncConnection) -> asyncpg.Connection:
    raw = await conn.get_raw_connection()
    driver: asyncpg.Connection = raw.driver_connection
    return driver


@asynccontextmanager
async def driver_transaction(engine: AsyncEngine) -> AsyncIterator[asyncpg.Connection]:
    """A pooled connection in a transaction that commits on a clean exit."""
    async with engine.connect() as conn:
        driver = await driver_connection(conn)
        try:
            async with driver.transaction():
                yield driver
        finally:
            if driver.is_in_transaction():
                # The rollback did not get through: the pool must not hand this connection out.
                await conn.invalidate()
