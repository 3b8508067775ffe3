"""Reserving one order in one statement, one round trip: in autocommit (the create request) it is
a transaction of its own; inside one (the intake worker, which claimed the order) it joins it.

The statement claims the order while `new` (`FOR UPDATE SKIP LOCKED`: nothing happens when
another transaction holds it), locks the stock rows of its skus in (sku, warehouse) order, the
order every writer of stock uses, and allocates from the locked rows: all lines or none, each line
taking from the warehouse with the most units available first (ties to the lower id), so big
warehouses drain first and an order touches as few warehouses as it can. Then it writes the
outcome: reserved stock, reservations, status, the `order.status_changed` event, and the stored
idempotency answer.

Rows another transaction changed while this one waited for their lock: FOR UPDATE hands the
allocation their latest version, and the stock UPDATE re-reads that version before writing it
(READ COMMITTED's recheck), so nothing is computed from, or written over, a stale row. One wrinkle:
PostgreSQL checks the new row against `reserved <= total` once on the version the statement's
snapshot saw, before that recheck. When stock was raised while the statement waited (10 units
where the snapshot saw 3), an allocation the latest version allows can fail that first check; the
statement then wrote nothing, and it is run again, with a snapshot that sees the raise.

Why one statement: the same work as BEGIN, claim-and-lock, a write computed in Python and COMMIT
cost LOMS four round trips, held row locks across turns of the event loop, and was measured at
two thirds of the throughput. A PL/pgSQL function doing the same cost PostgreSQL more CPU than
the four statements.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg
import orjson

from loms.domain.items import OrderItem
from loms.domain.statuses import OrderStatus
from loms.pg import Sql
from loms.repositories.idempotency import Finish
from loms.repositories.order_events import OUTBOX

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

#: The reservation statement.
RESERVE_SQL = f"""
    WITH claimed AS MATERIALIZED (
        SELECT id FROM orders WHERE id = :order_id AND status = 'new' FOR UPDATE SKIP LOCKED
    ), locked AS MATERIALIZED (
        SELECT s.sku, s.warehouse_id, s.total - s.reserved AS available FROM stocks s
        WHERE s.sku = ANY(CAST(:skus AS bigint[])) AND EXISTS (SELECT 1 FROM claimed)
        ORDER BY s.sku, s.warehouse_id FOR UPDATE
    ), {shortfall_ctes("claimed")}, outcome AS MATERIALIZED (
        SELECT {SHORTAGES} AS shortages
        FROM claimed
    ), {ALLOCATION_CTES}, held AS (
        INSERT INTO reservations (order_id, sku, warehouse_id, count, state)
        SELECT CAST(:order_id AS bigint), alloc.sku, alloc.warehouse_id, alloc.count, 'held' FROM alloc
    ), changed AS (
        UPDATE orders o
        SET status = CASE WHEN outcome.shortages IS NULL THEN 'awaiting payment' ELSE 'failed' END,
            payment_deadline = CASE WHEN outcome.shortages IS NULL THEN CAST(:deadline AS timestamptz) END,
            shortages = outcome.shortages,
            updated_at = CAST(:now AS timestamptz)
        FROM outcome WHERE o.id = CAST(:order_id AS bigint)
    ), events AS (
        INSERT INTO outbox (topic, key, payload, request_id)
        SELECT CAST(:topic AS varchar), CAST(CAST(:order_id AS bigint) AS varchar),
               CASE WHEN outcome.shortages IS NULL THEN CAST(:reserved_event AS jsonb)
                    -- the `failed` event is the reserved one without its deadline, and an id of its own
                    ELSE (CAST(:reserved_event AS jsonb) - 'payment_deadline')
                         || jsonb_build_object('event_id', gen_random_uuid(), 'status', 'failed') END,
               CAST(:request_id AS varchar)
        FROM outcome
    ), finished AS (
        UPDATE idempotency_keys k
        SET state = 'done', response_status = CAST(:key_status AS int), updated_at = now(),
            response_body = CASE WHEN outcome.shortages IS NULL THEN CAST(:reserved_answer AS text)
                                 ELSE CAST(CAST(:reserved_answer AS jsonb) || jsonb_build_object(
                                     'status', 'failed', 'payment_deadline', NULL, 'shortages', outcome.shortages
                                 ) AS text)
                            END
        FROM outcome WHERE k.scope = CAST(:key_scope AS varchar) AND k.key = CAST(:key_key AS varchar)
    )
    SELECT EXISTS (SELECT 1 FROM claimed) AS claimed, (SELECT shortages FROM outcome) AS shortages /*notify*/
"""
# A NOTIFY makes the commit take a database-wide lock held through its WAL flush, so committers
# that notify queue one behind another instead of sharing a flush: the request path leaves the
# NOTIFY out and wakes its own process's relay instead.
#: Runs of the statement after stock was raised under it; each sees all raises committed before it.
RETRIES_AFTER_RAISED_STOCK = 3

_RESERVE = {
    notify: Sql(RESERVE_SQL.replace(" /*notify*/", f", {OUTBOX.notify_call}" if notify else ""))
    for notify in (False, True)
}


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
    request_id: str | None,
    reserved_event: dict[str, Any],
    reserved_answer: Finish | None = None,
    notify: bool = True,
) -> Outcome | None:
    """Reserve the order, or None when it is not `new` or another transaction holds it.

    `reserved_event` and `reserved_answer` (the idempotency answer to store, if any) describe the
    order reserved; when it fails instead, both are turned into the `failed` ones in the statement
    (status, no deadline, the shortages), so only one of each is built and sent per order. Without
    `notify` the caller wakes the relay."""
    key = reserved_answer
    skus = [i.sku for i in items]
    params = {
        "order_id": order_id,
        "skus": skus,
        "counts": [i.count for i in items],
        "now": now,
        "deadline": deadline,
        "topic": topic,
        "request_id": request_id,
        "reserved_event": orjson.dumps(reserved_event).decode(),
        "key_scope": key.scope if key else None,
        "key_key": key.key if key else None,
        "key_status": key.status if key else None,
        "reserved_answer": reserved_answer.body if reserved_answer else None,
    }
    for attempt in range(1, RETRIES_AFTER_RAISED_STOCK + 2):
        try:
            rows = await _RESERVE[notify].fetch(conn, params)
            break
        except asyncpg.CheckViolationError:
            # Stock raised while the statement waited for its rows (see the module's docstring);
            # inside a caller's transaction the error has ended it, so the caller retries.
            if conn.is_in_transaction() or attempt > RETRIES_AFTER_RAISED_STOCK:
                raise
    if not rows[0]["claimed"]:
        return None
    shortages = rows[0]["shortages"]
    if shortages is None:
        return Outcome(OrderStatus.AWAITING_PAYMENT, None)
    # SQLAlchemy's asyncpg dialect installs a jsonb codec on its connections; a bare one gives text.
    return Outcome(OrderStatus.FAILED, orjson.loads(shortages) if isinstance(shortages, str | bytes) else shortages)
