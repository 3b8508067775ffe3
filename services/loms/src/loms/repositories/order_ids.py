"""Order ids, taken from the orders' own sequence ahead of the statement that records the order,
so everything written for it (events, the stored answer) is built with its id.

Ids are taken a block at a time (gaps are harmless, as with any sequence), and a block is handed
out for a short while only: ids order orders by time (`orders.page`, newest first), so an idle
process does not keep a block from long ago; under load a block lasts milliseconds.
"""

from __future__ import annotations

import asyncio
from collections import deque

import asyncpg

ID_BLOCK = 64
ID_BLOCK_LIFETIME = 1.0

_NEXT_IDS = "SELECT nextval(pg_get_serial_sequence('orders', 'id')) FROM generate_series(1, $1)"


async def next_order_ids(conn: asyncpg.Connection, count: int) -> list[int]:
    """`count` fresh order ids from the orders' own sequence."""
    return [row[0] for row in await conn.fetch(_NEXT_IDS, count)]


class OrderIds:
    """The process's block of order ids, refilled on a connection of `pool` when it runs out."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool
        self._ids: deque[int] = deque()
        self._taken_at = 0.0
        self._refill = asyncio.Lock()

    async def next(self) -> int:
        loop = asyncio.get_running_loop()
        if loop.time() - self._taken_at > ID_BLOCK_LIFETIME:
            self._ids.clear()
        while not self._ids:
            async with self._refill:
                if not self._ids:
                    async with self._pool.acquire() as conn:
                        self._ids.extend(await next_order_ids(conn, ID_BLOCK))
                    self._taken_at = loop.time()
        return self._ids.popleft()
