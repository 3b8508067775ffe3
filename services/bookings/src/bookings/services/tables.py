"""Tables: the public search, and what managers change (at once: the next search sees it; each
change is published as `table.changed`, in its transaction)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg
from sqlalchemy.ext.asyncio import AsyncConnection

from bookings.domain.rules import check_price_start, search_window
from bookings.domain.statuses import TableKind
from bookings.repositories import tables
from bookings.repositories.tables import PriceRow, TableRow, TableSearch
from bookings.services.events import EventSink


@dataclass(frozen=True)
class NewTable:
    name: str
    kind: TableKind
    seats: int
    price: int
    bookable: bool = True


async def search_json(pool: asyncpg.Pool, query: TableSearch, *, now: datetime) -> bytes:
    """The answer of a search, as JSON (`{"items": [TableOut...]}`). Every schema-valid query means
    something (see `search_window`; a price range whose minimum lies above its maximum holds no price)."""
    return await tables.search_json(pool, query, search_window(query.starts_at, query.ends_at, now))


async def get_table(conn: AsyncConnection, table_id: int) -> TableRow:
    return await tables.get(conn, table_id)


async def create_table(conn: AsyncConnection, new: NewTable, *, sink: EventSink, now: datetime) -> TableRow:
    table_id = await tables.create(
        conn, name=new.name, kind=new.kind, seats=new.seats, bookable=new.bookable, price=new.price
    )
    return await _changed(conn, table_id, sink, now)


async def update_table(
    conn: AsyncConnection, table_id: int, changes: dict[str, Any], *, sink: EventSink, now: datetime
) -> TableRow:
    """`changes`: the fields a PATCH named (name, kind, seats, bookable), already validated."""
    await tables.update(conn, table_id, {k: str(v) if isinstance(v, TableKind) else v for k, v in changes.items()})
    return await _changed(conn, table_id, sink, now)


async def _changed(conn: AsyncConnection, table_id: int, sink: EventSink, now: datetime) -> TableRow:
    """The table as it is now, its `table.changed` event written."""
    table = await tables.get(conn, table_id)
    await sink.table_changed(conn, table, now=now)
    return table


async def price_history(conn: AsyncConnection, table_id: int) -> list[PriceRow]:
    return await tables.prices(conn, table_id)


async def set_price(
    conn: AsyncConnection, table_id: int, *, price: int, effective_from: datetime | None, now: datetime, sink: EventSink
) -> PriceRow:
    """A new price from `effective_from` (now when omitted). History is not rewritten: a price
    cannot start in the past, since bookings already copied the price that was in force then."""
    if effective_from is not None:
        check_price_start(effective_from, now)
    row = await tables.add_price(conn, table_id, price=price, effective_from=effective_from)
    await _changed(conn, table_id, sink, now)
    return row
