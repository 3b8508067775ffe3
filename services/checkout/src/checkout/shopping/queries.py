"""Cart queries (SQLAlchemy Core). Keyword-only; the caller owns the transaction.

Every change takes the cart row's lock first (by bumping its version), so changes of one cart
are serialised and each gets its own version.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import asyncpg
from sqlalchemy import delete, func, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from checkout.shopping.tables import cart_items, carts
from shopcommon.db import plain_url

MAX_LINE_COUNT = 65535


@dataclass(frozen=True)
class CartLine:
    sku: int
    count: int


@dataclass(frozen=True)
class Cart:
    user_id: int
    version: int
    lines: list[CartLine] = field(default_factory=list)


_LOAD_CART = """
    SELECT c.version, i.sku, i.count FROM carts c LEFT JOIN cart_items i ON i.user_id = c.user_id
    WHERE c.user_id = $1 ORDER BY i.sku
"""


async def cart_read_pool(url: str, *, max_size: int) -> asyncpg.Pool:
    """The plain asyncpg pool `load_cart` reads through. Its connections run single statements
    outside transactions and never change session state, so a connection goes back to the pool
    as it is: asyncpg's default reset would send `pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *;
    RESET ALL` on every release, a second round trip per cart read (asyncpg still rolls back a
    transaction left open, and a connection whose reset fails is closed)."""
    return await asyncpg.create_pool(
        plain_url(url), min_size=min(4, max_size), max_size=max_size, reset=_no_session_state
    )


async def _no_session_state(connection: asyncpg.Connection) -> None:
    return None


async def load_cart(pg: asyncpg.Pool, *, user_id: int) -> Cart:
    """The cart and its lines in sku order, in one round trip; a user without a cart has an empty one.

    Plain asyncpg: this read is on every listing and checkout, and the SQLAlchemy session around it
    cost more than the query (figures: bench/checkout/README.md)."""
    rows = await pg.fetch(_LOAD_CART, user_id)
    if not rows:
        return Cart(user_id=user_id, version=0)
    lines = [CartLine(sku=r["sku"], count=r["count"]) for r in rows if r["sku"] is not None]
    return Cart(user_id=user_id, version=rows[0]["version"], lines=lines)


async def touch_cart(session: AsyncSession, *, user_id: int) -> int:
    """Create the cart or bump its version (taking its row lock); the new version."""
    stmt = (
        insert(carts)
        .values(user_id=user_id)
        .on_conflict_do_update(
            index_elements=[carts.c.user_id], set_={"version": carts.c.version + 1, "updated_at": func.now()}
        )
        .returning(carts.c.version)
    )
    return int((await session.execute(stmt)).scalar_one())


async def add_to_line(session: AsyncSession, *, user_id: int, sku: int, count: int, limit: int) -> int | None:
    """Add `count` to the line unless the line would pass `limit`; the line's new count, or None."""
    limit = min(limit, MAX_LINE_COUNT)
    if count > limit:
        return None
    new = insert(cart_items).values(user_id=user_id, sku=sku, count=count)
    stmt = new.on_conflict_do_update(
        index_elements=[cart_items.c.user_id, cart_items.c.sku],
        set_={"count": cart_items.c.count + new.excluded.count},
        where=cart_items.c.count + new.excluded.count <= limit,
    ).returning(cart_items.c.count)
    found = (await session.execute(stmt)).scalar_one_or_none()
    return None if found is None else int(found)


async def other_lines(session: AsyncSession, *, user_id: int, sku: int) -> int:
    """How many lines the cart has besides `sku`'s."""
    query = select(func.count()).where(cart_items.c.user_id == user_id, cart_items.c.sku != sku)
    return int(await session.scalar(query) or 0)


async def line_count(session: AsyncSession, *, user_id: int, sku: int) -> int:
    query = select(cart_items.c.count).where(cart_items.c.user_id == user_id, cart_items.c.sku == sku)
    return int(await session.scalar(query) or 0)


async def remove_from_line(session: AsyncSession, *, user_id: int, sku: int, count: int | None) -> int | None:
    """Take `count` off the line (all of it when None or more than there is).

    The line's remaining count (0 when removed), or None when the cart had no such line.
    """
    where = (cart_items.c.user_id == user_id, cart_items.c.sku == sku)
    if count is not None:
        reduced = await session.execute(
            update(cart_items)
            .where(*where, cart_items.c.count > count)
            .values(count=cart_items.c.count - count)
            .returning(cart_items.c.count)
        )
        left = reduced.scalar_one_or_none()
        if left is not None:
            return int(left)
    removed = await session.execute(delete(cart_items).where(*where).returning(cart_items.c.sku))
    return 0 if removed.scalar_one_or_none() is not None else None


async def advance_if_version(session: AsyncSession, *, user_id: int, version: int, empty: bool) -> bool:
    """Bump the version (and empty the cart, its order taken off) only if it is still `version`: a
    checkout changes only the cart it ordered, never lines added since."""
    changes: dict[str, Any] = {"version": carts.c.version + 1, "updated_at": func.now()}
    if empty:
        changes["ordered_version"] = version
    bumped = await session.execute(
        update(carts)
        .where(carts.c.user_id == user_id, carts.c.version == version)
        .values(changes)
        .returning(carts.c.version)
    )
    if bumped.scalar_one_or_none() is None:
        return False
    if empty:
        await session.execute(delete(cart_items).where(cart_items.c.user_id == user_id))
    return True


async def claim_ordered(session: AsyncSession, *, user_id: int, version: int) -> bool:
    """Record that the order of `version` is being taken off the cart (bumping the version, under
    the cart's row lock); False when it, or a newer version's order, has been already."""
    claimed = await session.execute(
        update(carts)
        .where(carts.c.user_id == user_id, carts.c.ordered_version < version)
        .values(version=carts.c.version + 1, ordered_version=version, updated_at=func.now())
        .returning(carts.c.version)
    )
    return claimed.scalar_one_or_none() is not None
