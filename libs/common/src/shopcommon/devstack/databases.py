"""One database per service on one server."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

import asyncpg

from shopcommon.db import plain_url


def database_url_for(server_url: str, name: str) -> str:
    parts = urlsplit(plain_url(server_url))
    return urlunsplit((parts.scheme, parts.netloc, "/" + name, parts.query, parts.fragment))


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


async def create_database(server_url: str, name: str, *, template: str | None = None, replace: bool = False) -> str:
    conn = await asyncpg.connect(database_url_for(server_url, "postgres"))
    try:
        exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
        if exists and replace:
            await conn.execute(f"DROP DATABASE {_quote(name)} WITH (FORCE)")
            exists = False
        if not exists:
            sql = f"CREATE DATABASE {_quote(name)}"
            if template:
                sql += f" TEMPLATE {_quote(template)}"
            await conn.execute(sql)
    finally:
        await conn.close()
    return database_url_for(server_url, name)
