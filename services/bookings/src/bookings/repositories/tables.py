"""Tables and their price history. The price of a table at a moment is the one with the latest
`effective_from` not after it, so a price set for the future takes effect by itself."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from bookings.domain.errors import PriceExists, TableNameTaken, TableNotFound
from bookings.domain.statuses import BookingStatus, TableKind, sql_literal


@dataclass(frozen=True)
class TableRow:
    table_id: int
    name: str
    kind: TableKind
    seats: int
    bookable: bool
    #: The price in force now; None only for a table whose every price lies in the future.
    price: int | None


@dataclass(frozen=True)
class PriceRow:
    price: int
    effective_from: datetime


@dataclass(frozen=True)
class TableSearch:
    kind: TableKind | None = None
    seats: int | None = None
    min_price: int | None = None
    max_price: int | None = None
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    include_closed: bool = False


_PRICE_AT = """(SELECT p.price FROM table_prices p
     WHERE p.table_id = t.id AND p.effective_from <= {moment} ORDER BY p.effective_from DESC LIMIT 1)"""

#: The answer's JSON is built by PostgreSQL (`{"items": [...]}` around it): the search is the public hot
#: path, and a row decoded into Python objects, then validated, then encoded again costs the service
#: far more than the query (see bench/bookings/README.md). The keys and their order are `TableOut`'s.
_SEARCH = f"""
{{held}}
SELECT coalesce(json_agg(found ORDER BY found.seats, found.price, found.table_id), '[]')::text
FROM (
  SELECT t.id AS table_id, t.name, t.kind, t.seats, cur.price, t.bookable
  FROM tables t
  CROSS JOIN LATERAL {_PRICE_AT.format(moment="now()")} AS cur(price)
  WHERE (t.bookable OR $5::boolean)
    AND ($1::text IS NULL OR t.kind = $1)
    AND ($2::int IS NULL OR t.seats >= $2)
    AND ($3::bigint IS NULL OR cur.price >= $3)
    AND ($4::bigint IS NULL OR cur.price <= $4)
    {{window}}
) AS found
"""
#: A window has a statement of its own: asyncpg prepares statements and PostgreSQL soon plans them
#: once for any parameters (a generic plan), and such a plan cannot count on a window being given or
#: not. The tables the window's confirmed bookings hold are found first, once (MATERIALIZED), through
#: the GiST index on the range alone (`ix_bookings_confirmed_during`); left to itself the generic plan
#: probed the exclusion constraint's (table, range) index once per table, several times the CPU
#: (bench/bookings/README.md).
#: The test is the exclusion constraint's expression and predicate. `$7` NULL: a window with no end.
SEARCH_SQL = _SEARCH.format(
    held=f"""WITH held AS MATERIALIZED (
  SELECT b.table_id FROM bookings b
  WHERE b.status = {sql_literal(BookingStatus.CONFIRMED)}
    AND tstzrange(b.starts_at, b.ends_at, '[)') && tstzrange($6, $7, '[)')
)""",
    window="AND NOT EXISTS (SELECT 1 FROM held WHERE held.table_id = t.id)",
)
_SEARCH_ANY_TIME = _SEARCH.format(held="", window="")


async def search_json(pool: asyncpg.Pool, query: TableSearch, window: tuple[datetime, datetime | None] | None) -> bytes:
    """The search's answer, `{"items": [...]}` as JSON bytes (the tables as `TableOut`, in order).
    `window`: `[start, end)` that no confirmed booking may overlap (an end of None: no end)."""
    kind = str(query.kind) if query.kind is not None else None
    args = [kind, query.seats, query.min_price, query.max_price, query.include_closed]
    if window is not None:
        items: str = await pool.fetchval(SEARCH_SQL, *args, *window)
    else:
        items = await pool.fetchval(_SEARCH_ANY_TIME, *args)
    return b'{"items":' + items.encode() + b"}"


_GET = text(f"""
SELECT t.id AS table_id, t.name, t.kind, t.seats, t.bookable, {_PRICE_AT.format(moment="now()")} AS price
FROM tables t WHERE t.id = :table_id
""")
# FOR SHARE: closing a table waits for the requests that found it open, and a request made after
# the closing commits sees it closed.
_LOCK_FOR_BOOKING = text(f"""
SELECT t.bookable, {_PRICE_AT.format(moment=":at")} AS price FROM tables t WHERE t.id = :table_id FOR SHARE OF t
""")
_INSERT = text("""
WITH created AS (
    INSERT INTO tables (name, kind, seats, bookable) VALUES (:name, :kind, :seats, :bookable) RETURNING id
), priced AS (
    INSERT INTO table_prices (table_id, effective_from, price) SELECT id, now(), :price FROM created
)
SELECT id FROM created
""")
_PRICES = text("SELECT price, effective_from FROM table_prices WHERE table_id = :table_id ORDER BY effective_from")
_ADD_PRICE = text("""
INSERT INTO table_prices (table_id, effective_from, price) VALUES (:table_id, coalesce(:effective_from, now()), :price)
ON CONFLICT DO NOTHING RETURNING price, effective_from
""")
_EXISTS = text("SELECT 1 FROM tables WHERE id = :table_id")
#: A new price holds the table's row as a change of the table does (and against the requests booking
#: it, FOR SHARE): its `table.changed` event then reads the table with no other change half-way
#: through. Unlocked, a rename and a price at once each published the other's old value.
_LOCK_FOR_PRICE = text("SELECT 1 FROM tables WHERE id = :table_id FOR NO KEY UPDATE")


def _table(row: Any) -> TableRow:
    return TableRow(row.table_id, row.name, TableKind(row.kind), row.seats, row.bookable, row.price)


async def get(conn: AsyncConnection, table_id: int) -> TableRow:
    row = (await conn.execute(_GET, {"table_id": table_id})).first()
    if row is None:
        raise TableNotFound(table_id)
    return _table(row)


async def lock_for_booking(conn: AsyncConnection, table_id: int, at: datetime) -> tuple[bool, int | None]:
    """Whether the table takes bookings, and its price in force at `at`."""
    row = (await conn.execute(_LOCK_FOR_BOOKING, {"table_id": table_id, "at": at})).first()
    if row is None:
        raise TableNotFound(table_id)
    return bool(row.bookable), row.price


async def create(conn: AsyncConnection, *, name: str, kind: TableKind, seats: int, bookable: bool, price: int) -> int:
    params = {"name": name, "kind": str(kind), "seats": seats, "bookable": bookable, "price": price}
    try:
        async with conn.begin_nested():
            return int((await conn.execute(_INSERT, params)).scalar_one())
    except IntegrityError as exc:
        raise TableNameTaken(name) from exc


async def update(conn: AsyncConnection, table_id: int, changes: dict[str, Any]) -> None:
    """Apply `changes` (column -> value, columns chosen by the caller's schema) at once."""
    if not changes:
        if (await conn.execute(_EXISTS, {"table_id": table_id})).first() is None:
            raise TableNotFound(table_id)
        return
    columns = ", ".join(f"{column} = :{column}" for column in sorted(changes))
    statement = text(f"UPDATE tables SET {columns}, updated_at = now() WHERE id = :table_id RETURNING id")
    try:
        async with conn.begin_nested():
            found = (await conn.execute(statement, {**changes, "table_id": table_id})).first()
    except IntegrityError as exc:
        raise TableNameTaken(str(changes.get("name"))) from exc
    if found is None:
        raise TableNotFound(table_id)


async def prices(conn: AsyncConnection, table_id: int) -> list[PriceRow]:
    if (await conn.execute(_EXISTS, {"table_id": table_id})).first() is None:
        raise TableNotFound(table_id)
    return [PriceRow(r.price, r.effective_from) for r in await conn.execute(_PRICES, {"table_id": table_id})]


async def add_price(conn: AsyncConnection, table_id: int, *, price: int, effective_from: datetime | None) -> PriceRow:
    if (await conn.execute(_LOCK_FOR_PRICE, {"table_id": table_id})).first() is None:
        raise TableNotFound(table_id)
    row = (
        await conn.execute(_ADD_PRICE, {"table_id": table_id, "price": price, "effective_from": effective_from})
    ).first()
    if row is None:
        raise PriceExists(table_id)
    return PriceRow(row.price, row.effective_from)
