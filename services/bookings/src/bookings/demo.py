"""The restaurant's tables for dev mode: every kind, 2 to 16 seats, each with a price history (an
old price, the current one and one announced for next month)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import asyncpg

from bookings.domain.statuses import TableKind
from shopcommon.demo_data import insert_once


@dataclass(frozen=True)
class DemoTable:
    name: str
    kind: TableKind
    seats: int
    #: The booking price now, in the smallest currency unit.
    price: int


K = TableKind
DEMO_TABLES = [
    *(DemoTable(f"Hall {n}", K.REGULAR, seats, 500 + 100 * seats) for n, seats in enumerate([2, 2, 4, 4, 4, 6, 8], 1)),
    *(DemoTable(f"Cabin {n}", K.CABIN, seats, 1500 + 200 * seats) for n, seats in enumerate([2, 4, 6, 8], 1)),
    DemoTable("Blue room", K.ROOM, 10, 6000),
    DemoTable("Green room", K.ROOM, 12, 7500),
    DemoTable("Banquet room", K.ROOM, 16, 12000),
]

_INSERT = """
WITH created AS (
    INSERT INTO tables (name, kind, seats) VALUES ($1, $2, $3) RETURNING id
)
INSERT INTO table_prices (table_id, effective_from, price)
SELECT id, moment, price FROM created, (VALUES
    (now() - interval '90 days', $4::bigint * 9 / 10),
    (now() - interval '1 day', $4::bigint),
    (date_trunc('month', now()) + interval '1 month', $4::bigint * 11 / 10)
) AS history(moment, price)
"""


async def load_demo_data(database_url: str, env: dict[str, str] | None = None) -> dict[str, Any]:
    """Insert the tables once; a second run keeps whatever managers changed."""
    return await insert_once(database_url, "tables", _insert)


async def _insert(conn: asyncpg.Connection) -> dict[str, Any]:
    for table in DEMO_TABLES:
        await conn.execute(_INSERT, table.name, str(table.kind), table.seats, table.price)
    return {"tables": len(DEMO_TABLES)}
