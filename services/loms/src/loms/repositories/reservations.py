"""The reservation transaction's statements, as few round trips as the work allows: claim the
order and lock its stock rows in one; write the outcome (stock, reservations, status, event,
the idempotency answer) in another."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg
import orjson

from loms.domain.allocation import Allocation, Shortage, StockLevel
from loms.pg import Sql
from loms.repositories.idempotency import FINISH_CTE, Finish, finish_params
from loms.repositories.outbox import EVENTS_CTE, NOTIFY, event_params

# The order row is locked first, then its stock rows in (sku, warehouse) order, as everywhere.
# Row 0 says whether the order was claimed; the rest are the locked stock levels.
_CLAIM_AND_LOCK = Sql("""
    WITH claimed AS (
        SELECT id FROM orders WHERE id = :order_id AND status = 'new' FOR UPDATE SKIP LOCKED
    ), levels AS (
        SELECT s.sku, s.warehouse_id, s.total - s.reserved AS available FROM stocks s
        WHERE s.sku = ANY(CAST(:skus AS bigint[])) AND EXISTS (SELECT 1 FROM claimed)
        ORDER BY s.sku, s.warehouse_id FOR UPDATE
    )
    SELECT 0 AS sku, 0 AS warehouse_id, 0 AS available FROM claimed
    UNION ALL
    SELECT sku, warehouse_id, available FROM levels
""")


@dataclass(frozen=True)
class Claim:
    claimed: bool
    levels: list[StockLevel]


async def claim_and_lock(conn: asyncpg.Connection, *, order_id: int, skus: Sequence[int]) -> Claim:
    """Lock a `new` order nobody else holds, and the stock rows of its skus."""
    rows = await _CLAIM_AND_LOCK.fetch(conn, {"order_id": order_id, "skus": list(skus)})
    claimed = any(r["sku"] == 0 for r in rows)
    return Claim(claimed, [StockLevel(r["sku"], r["warehouse_id"], r["available"]) for r in rows if r["sku"] != 0])


def _reserve_sql(notify: bool) -> str:
    return f"""
    WITH alloc AS (
        SELECT * FROM unnest(CAST(:a_skus AS bigint[]), CAST(:a_warehouses AS bigint[]), CAST(:a_counts AS bigint[]))
            AS a(sku, warehouse_id, count)
    ), stock AS (
        -- `sku = ANY` lets the planner reach the rows through the primary key: it cannot tell how
        -- long the arrays are and would rather scan the whole table of a few thousand rows.
        UPDATE stocks s SET reserved = s.reserved + alloc.count
        FROM alloc WHERE s.sku = ANY(CAST(:a_skus AS bigint[]))
                     AND s.sku = alloc.sku AND s.warehouse_id = alloc.warehouse_id
    ), held AS (
        INSERT INTO reservations (order_id, sku, warehouse_id, count, state)
        SELECT CAST(:order_id AS bigint), alloc.sku, alloc.warehouse_id, alloc.count, 'held' FROM alloc
    ), changed AS (
        UPDATE orders SET status = 'awaiting payment', payment_deadline = CAST(:deadline AS timestamptz),
               updated_at = CAST(:now AS timestamptz)
        WHERE id = CAST(:order_id AS bigint)
    ), {EVENTS_CTE}, {FINISH_CTE}
    SELECT {NOTIFY if notify else "1"}
"""


def _fail_sql(notify: bool) -> str:
    return f"""
    WITH changed AS (
        UPDATE orders SET status = 'failed', shortages = CAST(:shortages AS jsonb),
               updated_at = CAST(:now AS timestamptz)
        WHERE id = CAST(:order_id AS bigint)
    ), {EVENTS_CTE}, {FINISH_CTE}
    SELECT {NOTIFY if notify else "1"}
"""


# A NOTIFY makes the commit take a database-wide lock held through its WAL flush, so committers
# that notify queue one behind another instead of sharing a flush: the request path leaves the
# NOTIFY out and wakes its own process's relay instead.
_RESERVE = {notify: Sql(_reserve_sql(notify)) for notify in (False, True)}
_FAIL = {notify: Sql(_fail_sql(notify)) for notify in (False, True)}


async def reserve(
    conn: asyncpg.Connection,
    *,
    order_id: int,
    allocations: Sequence[Allocation],
    deadline: datetime,
    now: datetime,
    event: dict[str, Any],
    topic: str,
    request_id: str | None,
    finish: Finish | None = None,
    notify: bool = True,
) -> None:
    """Hold the allocated units, record the reservations and move the order to `awaiting payment`."""
    await _RESERVE[notify].execute(
        conn,
        {
            "order_id": order_id,
            "a_skus": [a.sku for a in allocations],
            "a_warehouses": [a.warehouse_id for a in allocations],
            "a_counts": [a.count for a in allocations],
            "deadline": deadline,
            "now": now,
            **event_params(topic, request_id, [event]),
            **finish_params(finish),
        },
    )


async def fail(
    conn: asyncpg.Connection,
    *,
    order_id: int,
    shortages: Sequence[Shortage],
    now: datetime,
    event: dict[str, Any],
    topic: str,
    request_id: str | None,
    finish: Finish | None = None,
    notify: bool = True,
) -> None:
    await _FAIL[notify].execute(
        conn,
        {
            "order_id": order_id,
            "shortages": orjson.dumps([s.as_dict() for s in shortages]).decode(),
            "now": now,
            **event_params(topic, request_id, [event]),
            **finish_params(finish),
        },
    )
