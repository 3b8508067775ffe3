"""Reserving one `new` order in one statement, inside the intake worker's transaction (which
claimed the order); `repositories/placement.py` shares its allocation.

The statement claims the order while `new` (`FOR UPDATE SKIP LOCKED`: nothing happens when
another transaction holds it), locks the stock rows of its skus in (sku, warehouse) order, the
order every writer of stock uses, and allocates from the locked rows: all lines or none, each line
taking from the warehouse with the most units available first (ties to the lower id), so big
warehouses drain first and an order touches as few warehouses as it can. Then it writes the
outcome: reserved stock, reservations, status and the `order.status_changed` event.

Rows another transaction changed while this one waited for their lock: FOR UPDATE hands the
allocation their latest version, and the stock UPDATE re-reads that version before writing it
(READ COMMITTED's recheck), so nothing is computed from, or written over, a stale row. One wrinkle:
PostgreSQL checks the new row against `reserved <= total` once on the version the statement's
snapshot saw, before that recheck. When stock was raised while the statement waited (10 units
where the snapshot saw 3), an allocation the latest version allows can fail that first check; the
transaction then ends with the error, and the next run (the worker's next step, the placer's
retry) has a snapshot that sees the raise.

Why one statement: the same work as BEGIN, claim-and-lock, a write computed in Python and COMMIT
cost four round trips and held row locks across turns of the event loop (bench/loms/README.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg
import orjson

from loms.domain.items import OrderItem
from loms.domain.statuses import OrderStatus, ReservationState, sql_literal
from loms.pg import Sql
from loms.repositories.order_events import OUTBOX, events_cte
from shopcommon.tracing import current_traceparent

# `before` is what the warehouses ahead of a level in the greedy order hold of its sku; a level
# gives its line what is still missing after them, up to what it has. The CTEs that read the
# locked rows are MATERIALIZED so the locks are taken once, before anything is computed from them.


def shortfall_ctes(admitted: str) -> str:
    """`lines`, `levels` and `short` (each sku the `locked` rows cannot cover) of a statement that
    reserves an order; `admitted` names a CTE with a row when the order goes ahead. Shared with
    `repositories/placement.py`, so both allocate alike."""
    return f"""lines AS (
        SELECT * FROM unnest(CAST(:skus AS bigint[]), CAST(:counts AS bigint[])) AS l(sku, count)
    ), levels AS (
        SELECT sku, warehouse_id, available,
               sum(available) OVER (PARTITION BY sku ORDER BY available DESC, warehouse_id) - available AS before
        FROM locked WHERE available > 0
    ), short AS (
        SELECT l.sku, l.count AS requested, coalesce(sum(v.available), 0) AS available
        FROM lines l LEFT JOIN levels v ON v.sku = l.sku
        WHERE EXISTS (SELECT 1 FROM {admitted})
        GROUP BY l.sku, l.count HAVING coalesce(sum(v.available), 0) < l.count
    )"""


#: The shortages as the order stores and answers them, NULL when there are none.
SHORTAGES = """(SELECT jsonb_agg(jsonb_build_object('sku', sku, 'requested', requested, 'available', available)
                           ORDER BY sku) FROM short)"""

#: What each line takes from each warehouse, and the stock written: only for an order that has an
#: `outcome` (it goes ahead) and nothing short.
ALLOCATION_CTES = """alloc AS MATERIALIZED (
        SELECT v.sku, v.warehouse_id, least(v.available, l.count - v.before) AS count
        FROM levels v JOIN lines l ON l.sku = v.sku
        WHERE v.before < l.count AND EXISTS (SELECT 1 FROM outcome) AND NOT EXISTS (SELECT 1 FROM short)
    ), stock AS (
        -- `sku = ANY` lets the planner reach the rows through the primary key: it cannot tell how
        -- long the arrays are and would rather scan the whole table.
        UPDATE stocks s SET reserved = s.reserved + alloc.count
        FROM alloc WHERE s.sku = ANY(CAST(:skus AS bigint[]))
                     AND s.sku = alloc.sku AND s.warehouse_id = alloc.warehouse_id
    )"""

#: The status the statement gives the order: reserved unless something is short.
OUTCOME_STATUS = f"""CASE WHEN outcome.shortages IS NULL THEN {sql_literal(OrderStatus.AWAITING_PAYMENT)}
                          ELSE {sql_literal(OrderStatus.FAILED)} END"""

#: The outcome's event: the reserved one or the failed one (`domain/outcome.py` built both).
_OUTCOME_EVENT = """(
    SELECT CAST(CAST(:order_id AS bigint) AS varchar) AS key, 1 AS n,
           CASE WHEN outcome.shortages IS NULL THEN CAST(:reserved_event AS jsonb)
                ELSE CAST(:failed_event AS jsonb) END AS payload
    FROM outcome
) AS e"""

#: The reservation statement.
RESERVE_SQL = f"""
    WITH claimed AS MATERIALIZED (
        SELECT id FROM orders WHERE id = :order_id AND status = {sql_literal(OrderStatus.NEW)} FOR UPDATE SKIP LOCKED
    ), locked AS MATERIALIZED (
        SELECT s.sku, s.warehouse_id, s.total - s.reserved AS available FROM stocks s
        WHERE s.sku = ANY(CAST(:skus AS bigint[])) AND EXISTS (SELECT 1 FROM claimed)
        ORDER BY s.sku, s.warehouse_id FOR UPDATE
    ), {shortfall_ctes("claimed")}, outcome AS MATERIALIZED (
        SELECT {SHORTAGES} AS shortages
        FROM claimed
    ), {ALLOCATION_CTES}, held AS (
        INSERT INTO reservations (order_id, sku, warehouse_id, count, state)
        SELECT CAST(:order_id AS bigint), alloc.sku, alloc.warehouse_id, alloc.count,
               {sql_literal(ReservationState.HELD)}
        FROM alloc
    ), changed AS (
        UPDATE orders o
        SET status = {OUTCOME_STATUS},
            payment_deadline = CASE WHEN outcome.shortages IS NULL THEN CAST(:deadline AS timestamptz) END,
            shortages = outcome.shortages,
            updated_at = CAST(:now AS timestamptz)
        FROM outcome WHERE o.id = CAST(:order_id AS bigint)
    ), {events_cte(_OUTCOME_EVENT)}
    SELECT EXISTS (SELECT 1 FROM claimed) AS claimed, (SELECT shortages FROM outcome) AS shortages /*notify*/
"""
_RESERVE = Sql(RESERVE_SQL.replace(" /*notify*/", f", {OUTBOX.notify_call}"))


@dataclass(frozen=True)
class Outcome:
    status: OrderStatus
    #: What was short, per sku: {"sku", "requested", "available"}; None when reserved.
    shortages: list[dict[str, int]] | None


async def reserve_order(
    conn: asyncpg.Connection,
    *,
    order_id: int,
    items: Sequence[OrderItem],
    now: datetime,
    deadline: datetime,
    topic: str,
    reserved_event: dict[str, Any],
    failed_event: dict[str, Any],
) -> Outcome | None:
    """Reserve the order in the caller's transaction (its commit wakes the relays), or None when
    it is not `new` or another transaction holds it."""
    params = {
        "order_id": order_id,
        "skus": [i.sku for i in items],
        "counts": [i.count for i in items],
        "now": now,
        "deadline": deadline,
        "ev_topic": topic,
        "ev_request_id": None,
        "ev_traceparent": current_traceparent(),
        "reserved_event": orjson.dumps(reserved_event).decode(),
        "failed_event": orjson.dumps(failed_event).decode(),
    }
    [row] = await _RESERVE.fetch(conn, params)
    if not row["claimed"]:
        return None
    shortages = row["shortages"]
    if shortages is None:
        return Outcome(OrderStatus.AWAITING_PAYMENT, None)
    # SQLAlchemy's asyncpg dialect installs a jsonb codec on its connections; a bare one gives text.
    return Outcome(OrderStatus.FAILED, orjson.loads(shortages) if isinstance(shortages, str | bytes) else shortages)
