"""The cart read's pool hands connections back without asyncpg's reset round trip, and still
reads carts right."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import asyncpg

from checkout.shopping.queries import cart_read_pool, load_cart


async def test_a_released_connection_is_not_sent_the_reset_query(
    checkout_db: str, seed_cart: Callable[[int, dict[int, int]], Awaitable[None]]
) -> None:
    await seed_cart(131, {5: 2, 3: 1})
    pool = await cart_read_pool(checkout_db, max_size=1)
    sent: list[str] = []
    try:
        async with pool.acquire() as connection:
            assert isinstance(connection, asyncpg.pool.PoolConnectionProxy)
            connection.add_query_logger(lambda record: sent.append(record.query))
        cart = await load_cart(pool, user_id=131)  # the same, only connection
        await load_cart(pool, user_id=131)
    finally:
        await pool.close()
    assert [(line.sku, line.count) for line in cart.lines] == [(3, 1), (5, 2)]
    assert len(sent) == 2 and not any("RESET ALL" in query for query in sent), sent
