"""Placing orders: an order recorded and reserved in one statement, many orders in one round trip.

`POST /api/v1/orders` with `Prefer: wait` wants the order recorded and its reservation outcome.
Recording it as `new` and then reserving it took two statements, two commits and two round trips
per order. Here one statement does both for one order: it records the order with its outcome
(`awaiting payment`, or `failed` with the shortages), its lines, the reservations and the stock
they take, the `new` event and the outcome's event (in that order), and the idempotency key with
the stored answer. Nobody else can see the order before it is settled, so nothing claims it.

`place_orders` sends the statement once per order of a batch, pipelined in one round trip, as
one transaction (asyncpg's `fetchmany`): the orders are placed one after another, each seeing the
stock the ones before it took, and committed together. The batch's first statement locks the
stock rows of every sku of the batch, in (sku, warehouse) order like every other writer of
stock, so two batches never wait for each other in a circle; later statements find their rows
locked already.

The reservation itself is that of `repositories/reservations.py`: all lines or none, each line
from the warehouses with the most available first (ties to the lower id).

An order is placed only while its user stays within what they may hold unpaid
(`domain/limits.py`); otherwise nothing is written for it and `refused` names the limit. The
count is made after a per-user lock (migration 0003's `loms_unpaid_refusal`), which the batch's
first statement takes for all the users of the batch, in one order, right after the stock: two
batches never wait for each other's users in a circle either, and an order created without
`Prefer: wait` (`repositories/orders.py`, which takes its user's lock alone) is counted too.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import asyncpg
import orjson

from loms.domain.items import OrderItem
from loms.domain.limits import UnpaidLimits
from loms.domain.statuses import ReservationState, sql_literal
from loms.pg import Sql
from loms.repositories.order_events import OUTBOX, events_cte
from loms.repositories.orders import UNPAID_REFUSAL, admission_call
from loms.repositories.reservations import ALLOCATION_CTES, OUTCOME_STATUS, SHORTAGES, shortfall_ctes
from shopcommon.tracing import current_traceparent

HELD = sql_literal(ReservationState.HELD)
#: The `new` event first (the lower outbox id, so it is published first), then the outcome's.
_NEW_THEN_OUTCOME = """(
    SELECT CAST(outcome.id AS varchar) AS key, c.payload, c.n FROM outcome, LATERAL (VALUES
        (1, CAST(:new_event AS jsonb)),
        (2, CASE WHEN outcome.shortages IS NULL THEN CAST(:reserved_event AS jsonb)
                 ELSE CAST(:failed_event AS jsonb) END)
    ) AS c(n, payload)
) AS e"""

# `oid` names the order id once, so pgbench can stand a sequence value in for it (bench/loms).
# The key is written with the answer and taken nowhere else in the statement: when it is already
# stored (by an earlier request, or an earlier order of the same batch), `go` is empty and
# nothing is written. A duplicate that a concurrent transaction stores after this statement's
# snapshot (while it is uncommitted, or while this statement waited for the stock locks) makes
# the insert fail with a unique violation, which rolls the batch back; the placer runs it again,
# and the new run finds the key stored (`services/order_placer.py`).
#
# Everything written for either outcome comes built (`domain/outcome.py`): the statement picks the
# reserved or the failed one under the locks, and adds the shortages to the failed answer.
PLACE_SQL = f"""
    WITH oid AS MATERIALIZED (
        SELECT CAST(:order_id AS bigint) AS id
    ), locked AS MATERIALIZED (
        SELECT s.sku, s.warehouse_id, s.total - s.reserved AS available FROM stocks s
        WHERE s.sku = ANY(CAST(:lock_skus AS bigint[]))
        ORDER BY s.sku, s.warehouse_id FOR UPDATE
    ), fresh AS MATERIALIZED (
        -- After the locks, whatever the key: the test reads `locked`, so the planner cannot
        -- decide it first and skip them (the batch's first statement locks for the whole batch).
        SELECT NOT EXISTS (
            SELECT 1 FROM idempotency_keys k
            WHERE k.scope = CAST(:key_scope AS varchar) AND k.key = CAST(:key_key AS varchar) AND l.n >= 0
        ) AS fresh FROM (SELECT count(*) AS n FROM locked) l
    ), admission AS MATERIALIZED (
        -- Then, for an order whose key is not stored, what its user holds unpaid. The batch's first
        -- statement takes the locks of all its users (after the stock's) and counts in a snapshot
        -- taken after them; a later statement began after they were all taken, so its own
        -- snapshot is recent enough, and it counts in place (a third of the cost).
        SELECT fresh.fresh,
               CASE WHEN cardinality(CAST(:lock_users AS bigint[])) > 0
                    THEN {admission_call(":lock_users", "fresh.fresh")}
                    WHEN fresh.fresh THEN ({UNPAID_REFUSAL})
               END AS refused
        FROM fresh
    ), go AS MATERIALIZED (
        SELECT 1 AS go FROM admission WHERE admission.fresh AND admission.refused IS NULL
    ), {shortfall_ctes("go")}, outcome AS MATERIALIZED (
        SELECT oid.id, {SHORTAGES} AS shortages
        FROM go, oid
    ), {ALLOCATION_CTES}, new_order AS (
        INSERT INTO orders (id, user_id, status, total_price, payment_deadline, shortages, created_at, updated_at)
        SELECT outcome.id, :user_id, {OUTCOME_STATUS}, :total_price,
               CASE WHEN outcome.shortages IS NULL THEN CAST(:deadline AS timestamptz) END,
               outcome.shortages, CAST(:now AS timestamptz), CAST(:now AS timestamptz)
        FROM outcome
    ), order_lines AS (
        INSERT INTO order_items (order_id, sku, count, price)
        SELECT outcome.id, i.sku, i.count, i.price FROM outcome,
            unnest(CAST(:skus AS bigint[]), CAST(:counts AS int[]), CAST(:prices AS bigint[])) AS i(sku, count, price)
    ), held AS (
        INSERT INTO reservations (order_id, sku, warehouse_id, count, state)
        SELECT oid.id, alloc.sku, alloc.warehouse_id, alloc.count, {HELD} FROM alloc, oid
    ), {events_cte(_NEW_THEN_OUTCOME)}, answer AS (
        INSERT INTO idempotency_keys (scope, key, request_hash, state, resource_id, response_status, response_body)
        SELECT CAST(:key_scope AS varchar), CAST(:key_key AS varchar), CAST(:key_hash AS varchar), 'done',
               outcome.id, CAST(:key_status AS int),
               CASE WHEN outcome.shortages IS NULL THEN CAST(:reserved_answer AS text)
                    ELSE CAST(CAST(:failed_answer AS jsonb) || jsonb_build_object('shortages', outcome.shortages)
                              AS text)
               END
        FROM outcome WHERE CAST(:key_key AS varchar) IS NOT NULL
    )
    SELECT EXISTS (SELECT 1 FROM outcome) AS placed, (SELECT shortages FROM outcome)::text AS shortages,
           (SELECT refused FROM admission)::text AS refused /*notify*/
"""

_PLACE = {
    notify: Sql(PLACE_SQL.replace(" /*notify*/", f", {OUTBOX.notify_call}" if notify else ""))
    for notify in (False, True)
}

_NEXT_IDS = "SELECT nextval(pg_get_serial_sequence('orders', 'id')) FROM generate_series(1, $1)"


@dataclass(frozen=True)
class Placement:
    """One order to place, with everything written for either outcome already built."""

    order_id: int
    user_id: int
    items: Sequence[OrderItem]
    total_price: int | None
    now: datetime
    deadline: datetime
    topic: str
    request_id: str | None
    new_event: dict[str, Any]
    reserved_event: dict[str, Any]
    failed_event: dict[str, Any]
    #: The idempotency key (scope, key, request hash) and the answer to store with it for each
    #: outcome (the statement adds the shortages to the failed one). None without a key.
    key: tuple[str, str, str] | None = None
    key_status: int | None = None
    reserved_answer: str | None = None
    failed_answer: str | None = None
    #: The trace context of the request, taken when it is built (the batch runs in another's task).
    traceparent: str | None = field(default_factory=current_traceparent)


@dataclass(frozen=True)
class Placed:
    """What became of a placement: not placed (its idempotency key was taken, or the user holds
    as much unpaid as they may: `refused` names the limit), reserved, or failed with its shortages."""

    placed: bool
    shortages: list[dict[str, int]] | None
    refused: dict[str, Any] | None = None


async def next_order_ids(conn: asyncpg.Connection, count: int) -> list[int]:
    """`count` fresh order ids from the orders' own sequence."""
    return [row[0] for row in await conn.fetch(_NEXT_IDS, count)]


async def place_orders(
    conn: asyncpg.Connection, batch: Sequence[Placement], *, notify: bool, limits: UnpaidLimits = UnpaidLimits()
) -> list[Placed]:
    """Place the orders of `batch` in order, in one transaction and one round trip; one result
    each. Any error rolls back the whole batch (nothing is written), and is raised."""
    lock_skus = sorted({i.sku for p in batch for i in p.items})
    lock_users = sorted({p.user_id for p in batch})
    args = []
    for n, p in enumerate(batch):
        skus = [i.sku for i in p.items]
        scope, key, request_hash = p.key if p.key else (None, None, None)
        params = {
            "order_id": p.order_id,
            # The first statement locks the stock and the users of the whole batch; the others
            # find them locked.
            "lock_skus": lock_skus if n == 0 else skus,
            "lock_users": lock_users if n == 0 else [],
            "max_unpaid_orders": limits.orders,
            "max_unpaid_units": limits.units_per_sku,
            "key_scope": scope,
            "key_key": key,
            "key_hash": request_hash,
            "skus": skus,
            "counts": [i.count for i in p.items],
            "prices": [i.price for i in p.items],
            "user_id": p.user_id,
            "total_price": p.total_price,
            "deadline": p.deadline,
            "now": p.now,
            "ev_topic": p.topic,
            "ev_request_id": p.request_id,
            "ev_traceparent": p.traceparent,
            "new_event": orjson.dumps(p.new_event).decode(),
            "reserved_event": orjson.dumps(p.reserved_event).decode(),
            "failed_event": orjson.dumps(p.failed_event).decode(),
            "key_status": p.key_status,
            "reserved_answer": p.reserved_answer,
            "failed_answer": p.failed_answer,
        }
        args.append(_PLACE[notify].args(params))
    rows = await conn.fetchmany(_PLACE[notify].text, args)
    return [
        Placed(
            row["placed"],
            orjson.loads(row["shortages"]) if row["shortages"] else None,
            orjson.loads(row["refused"]) if row["refused"] else None,
        )
        for row in rows
    ]
