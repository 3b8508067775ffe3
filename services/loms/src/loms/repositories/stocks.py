"""Stock rows and reservations. Every statement that changes several stock rows first locks them
with `ORDER BY sku, warehouse_id FOR UPDATE`, the one order all transactions use, so two
transactions can never wait on each other in a cycle."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from loms.domain.statuses import ReservationState, sql_literal

HELD = sql_literal(ReservationState.HELD)

_LOCK_HELD = text(f"""
    SELECT s.sku, s.warehouse_id FROM stocks s
    WHERE (s.sku, s.warehouse_id) IN (
        SELECT sku, warehouse_id FROM reservations WHERE order_id = ANY(CAST(:ids AS bigint[])) AND state = {HELD})
    ORDER BY s.sku, s.warehouse_id FOR UPDATE OF s
""")

# Several orders may hold the same stock row: add their units up before the one update per row.
_SETTLE = text(f"""
    WITH settled AS (
        UPDATE reservations SET state = :state
        WHERE order_id = ANY(CAST(:ids AS bigint[])) AND state = {HELD}
        RETURNING sku, warehouse_id, count
    ), per_row AS (
        SELECT sku, warehouse_id, sum(count) AS count FROM settled GROUP BY sku, warehouse_id
    )
    UPDATE stocks s SET reserved = s.reserved - per_row.count,
                        total = s.total - CASE WHEN :write_off THEN per_row.count ELSE 0 END
    FROM per_row WHERE s.sku = per_row.sku AND s.warehouse_id = per_row.warehouse_id
      AND s.sku IN (SELECT sku FROM reservations WHERE order_id = ANY(CAST(:ids AS bigint[])))
""")


async def settle_held(conn: AsyncConnection, order_ids: Sequence[int], *, write_off: bool) -> None:
    """Write off (paid) or release (cancelled) everything these orders hold."""
    ids = list(order_ids)
    await conn.execute(_LOCK_HELD, {"ids": ids})
    await conn.execute(
        _SETTLE,
        {
            "ids": ids,
            "state": str(ReservationState.WRITTEN_OFF if write_off else ReservationState.RELEASED),
            "write_off": write_off,
        },
    )


_AVAILABLE = text("""
    SELECT sku, warehouse_id, total - reserved AS available FROM stocks
    WHERE sku = ANY(CAST(:skus AS bigint[])) ORDER BY sku, warehouse_id
""")


async def available(conn: AsyncConnection, skus: Sequence[int]) -> dict[int, list[tuple[int, int]]]:
    """What can still be bought, per sku, per warehouse."""
    out: dict[int, list[tuple[int, int]]] = {sku: [] for sku in skus}
    for r in (await conn.execute(_AVAILABLE, {"skus": list(skus)})).all():
        out[r.sku].append((r.warehouse_id, r.available))
    return out
