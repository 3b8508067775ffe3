"""Dev-mode demo data, loaded once per database (`ServiceSpec.demo_data` names each service's loader)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import asyncpg

from shopcommon.db import plain_url


async def insert_once(
    database_url: str, marker_table: str, insert: Callable[[asyncpg.Connection], Awaitable[dict[str, Any]]]
) -> dict[str, Any]:
    """Run `insert` in one transaction unless `marker_table` has rows already, so a second run keeps
    whatever was changed since; `{"loaded": False}`, or `{"loaded": True}` with what `insert` tells."""
    conn = await asyncpg.connect(plain_url(database_url))
    try:
        async with conn.transaction():
            if await conn.fetchval(f"SELECT EXISTS (SELECT 1 FROM {marker_table})"):
                return {"loaded": False}
            return {"loaded": True, **await insert(conn)}
    finally:
        await conn.close()
