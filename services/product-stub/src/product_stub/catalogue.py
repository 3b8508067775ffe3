"""Catalogue queries and changes. Keyword-only functions; the caller's session owns the transaction."""

from __future__ import annotations

from typing import Any

import asyncpg
from sqlalchemy import Table, delete, func, insert, select, update
from sqlalchemy.dialects.postgresql import aggregate_order_by
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from product_stub.models import categories, manufacturers, products
from product_stub.schemas import GroupCreate, GroupUpdate, ProductCreate, ProductUpdate
from shopcommon.pagination import split_page
from shopcommon.problems import Conflict, NotFound

_PRODUCT_COLUMNS = (
    products.c.sku,
    products.c.name,
    products.c.price,
    products.c.description,
    categories.c.name.label("category"),
    manufacturers.c.name.label("manufacturer"),
)
_PRODUCT_FROM = products.join(categories, categories.c.id == products.c.category_id).join(
    manufacturers, manufacturers.c.id == products.c.manufacturer_id
)


async def get_name_and_price(pool: asyncpg.Pool, *, sku: int) -> tuple[str, int]:
    """The hottest call of the system (every cart listing): plain asyncpg, one round trip."""
    row = await pool.fetchrow("SELECT name, price FROM products WHERE sku = $1", sku)
    if row is None:
        raise NotFound(f"sku {sku} not found")
    return row["name"], row["price"]


async def list_skus(session: AsyncSession, *, start_after: int, count: int) -> list[int]:
    query = (
        select(products.c.sku).where(products.c.sku > start_after).order_by(products.c.sku).limit(min(count, 10_000))
    )
    return list((await session.scalars(query)).all())


_LIST_SQL = """
SELECT p.sku, p.name, p.price, p.description, c.name AS category, m.name AS manufacturer
FROM products p JOIN categories c ON c.id = p.category_id JOIN manufacturers m ON m.id = p.manufacturer_id
WHERE ($1::bigint IS NULL OR p.sku > $1)
  AND ($2::text IS NULL OR c.name = $2)
  AND ($3::text IS NULL OR m.name = $3)
  AND ($4::bigint IS NULL OR p.price >= $4)
  AND ($5::bigint IS NULL OR p.price <= $5)
  AND ($6::bigint[] IS NULL OR p.sku = ANY($6))
ORDER BY p.sku
LIMIT $7
"""


async def list_products(
    pool: asyncpg.Pool,
    *,
    limit: int,
    after_sku: int | None = None,
    category: str | None = None,
    manufacturer: str | None = None,
    min_price: int | None = None,
    max_price: int | None = None,
    skus: list[int] | None = None,
) -> tuple[list[dict[str, Any]], int | None]:
    """One page in sku order; checkout composes its product listing from this, so it is one
    prepared statement on the plain pool rather than an ORM query."""
    rows = await pool.fetch(_LIST_SQL, after_sku, category, manufacturer, min_price, max_price, skus, limit + 1)
    found, next_after = split_page(rows, limit, lambda row: row["sku"])
    return [dict(r) for r in found], next_after


async def get_product(session: AsyncSession, *, sku: int) -> dict[str, Any]:
    row = (
        await session.execute(select(*_PRODUCT_COLUMNS).select_from(_PRODUCT_FROM).where(products.c.sku == sku))
    ).first()
    if row is None:
        raise NotFound(f"sku {sku} not found")
    return dict(row._mapping)


def _singular(table: Table) -> str:
    return "category" if table is categories else "manufacturer"


async def _group_id(session: AsyncSession, table: Table, name: str) -> int:
    """A product names its category and manufacturer; one that does not exist is not found (404),
    the request itself being well formed."""
    found = await session.scalar(select(table.c.id).where(table.c.name == name))
    if found is None:
        field = _singular(table)
        raise NotFound(f"no {field} named {name!r}", errors=[{"field": field, "message": f"no such {field}"}])
    return int(found)


async def create_product(session: AsyncSession, *, data: ProductCreate) -> dict[str, Any]:
    values = {
        "sku": data.sku,
        "name": data.name,
        "price": data.price,
        "description": data.description,
        "category_id": await _group_id(session, categories, data.category),
        "manufacturer_id": await _group_id(session, manufacturers, data.manufacturer),
    }
    async with session.begin_nested():
        try:
            await session.execute(insert(products).values(**values))
        except IntegrityError as exc:
            raise Conflict(f"sku {data.sku} already exists") from exc
    return await get_product(session, sku=data.sku)


async def update_product(session: AsyncSession, *, sku: int, data: ProductUpdate) -> dict[str, Any]:
    values: dict[str, Any] = data.model_dump(exclude_unset=True, exclude={"category", "manufacturer"})
    if data.category is not None:
        values["category_id"] = await _group_id(session, categories, data.category)
    if data.manufacturer is not None:
        values["manufacturer_id"] = await _group_id(session, manufacturers, data.manufacturer)
    if values:
        result = await session.execute(update(products).where(products.c.sku == sku).values(**values))
        if result.rowcount == 0:  # type: ignore[attr-defined]
            raise NotFound(f"sku {sku} not found")
    return await get_product(session, sku=sku)


async def delete_product(session: AsyncSession, *, sku: int) -> None:
    result = await session.execute(delete(products).where(products.c.sku == sku))
    if result.rowcount == 0:  # type: ignore[attr-defined]
        raise NotFound(f"sku {sku} not found")


# --- categories and manufacturers share one shape --------------------------------------------------
def _fk(table: Table) -> Any:
    return products.c.category_id if table is categories else products.c.manufacturer_id


async def list_groups(session: AsyncSession, *, table: Table, group_id: int | None = None) -> list[dict[str, Any]]:
    instrument = func.json_build_object("sku", products.c.sku, "name", products.c.name, "price", products.c.price)
    instruments = func.coalesce(
        select(func.json_agg(aggregate_order_by(instrument, products.c.sku)))
        .where(_fk(table) == table.c.id)
        .scalar_subquery(),
        func.json_build_array(),
    ).label("instruments")
    query = select(table.c.id, table.c.name, table.c.description, instruments).order_by(table.c.name)
    if group_id is not None:
        query = query.where(table.c.id == group_id)
    return [dict(r._mapping) for r in await session.execute(query)]


async def get_group(session: AsyncSession, *, table: Table, group_id: int) -> dict[str, Any]:
    found = await list_groups(session, table=table, group_id=group_id)
    if not found:
        raise NotFound(f"{_singular(table)} {group_id} not found")
    return found[0]


async def create_group(session: AsyncSession, *, table: Table, data: GroupCreate) -> dict[str, Any]:
    async with session.begin_nested():
        try:
            new_id = await session.scalar(insert(table).values(**data.model_dump()).returning(table.c.id))
        except IntegrityError as exc:
            raise Conflict(f"{_singular(table)} {data.name!r} already exists") from exc
    return {"id": new_id, "name": data.name, "description": data.description, "instruments": []}


async def update_group(session: AsyncSession, *, table: Table, group_id: int, data: GroupUpdate) -> dict[str, Any]:
    values = data.model_dump(exclude_unset=True)
    if values:
        async with session.begin_nested():
            try:
                result = await session.execute(update(table).where(table.c.id == group_id).values(**values))
            except IntegrityError as exc:
                raise Conflict(f"{_singular(table)} {values.get('name')!r} already exists") from exc
        if result.rowcount == 0:  # type: ignore[attr-defined]
            raise NotFound(f"{_singular(table)} {group_id} not found")
    return await get_group(session, table=table, group_id=group_id)


async def delete_group(session: AsyncSession, *, table: Table, group_id: int) -> None:
    in_use = await session.scalar(select(func.count()).select_from(products).where(_fk(table) == group_id))
    if in_use:
        raise Conflict(f"{_singular(table)} {group_id} still has {in_use} products")
    async with session.begin_nested():
        try:
            result = await session.execute(delete(table).where(table.c.id == group_id))
        except IntegrityError as exc:  # a product was given this group after the count
            raise Conflict(f"{_singular(table)} {group_id} still has products") from exc
    if result.rowcount == 0:  # type: ignore[attr-defined]
        raise NotFound(f"{_singular(table)} {group_id} not found")
