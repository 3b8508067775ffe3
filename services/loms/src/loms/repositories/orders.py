"""Orders and their lines: reads, claims under row locks, and status changes written together
with their outbox events in one statement."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

import asyncpg
import orjson
from sqlalchemy import Row, text
from sqlalchemy.ext.asyncio import AsyncConnection

from loms.domain.items import OrderItem
from loms.domain.limits import UnpaidLimits
from loms.domain.order import Order
from loms.domain.statuses import UNPAID, CancelReason, OrderStatus, sql_list, sql_literal
from loms.pg import Sql
from loms.repositories import order_events, pages
from loms.repositories.order_events import OUTBOX, events_cte
from shopcommon.tracing import current_traceparent

ORDER_COLUMNS = """o.id, o.user_id, o.status, o.total_price, o.payment_deadline, o.cancel_reason,
    o.shortages::text AS shortages, o.created_at, o.updated_at,
    (SELECT json_agg(json_build_array(i.sku, i.count, i.price) ORDER BY i.sku)
       FROM order_items i WHERE i.order_id = o.id)::text AS items"""


def order_from_row(row: Row[Any] | Mapping[str, Any]) -> Order:
    m: Mapping[Any, Any] = row._mapping if isinstance(row, Row) else row
    items = tuple(OrderItem(sku, count, price) for sku, count, price in orjson.loads(m["items"] or "[]"))
    return Order(
        id=m["id"],
        user_id=m["user_id"],
        status=OrderStatus(m["status"]),
        items=items,
        total_price=m["total_price"],
        created_at=m["created_at"],
        updated_at=m["updated_at"],
        payment_deadline=m["payment_deadline"],
        cancel_reason=CancelReason(m["cancel_reason"]) if m["cancel_reason"] else None,
        shortages=orjson.loads(m["shortages"]) if m["shortages"] else None,
    )


#: The rule of `loms_unpaid_refusal` (migration 0003) as a scalar subquery, for a statement whose
#: own snapshot was taken after its user's lock: NULL, or the refusal. The two must agree (the
#: tests in `test_unpaid_limits.py` run both).
UNPAID_REFUSAL = f"""SELECT CASE
        WHEN h.unpaid >= CAST(:max_unpaid_orders AS int) THEN jsonb_build_object(
            'limit', 'max_unpaid_orders', 'value', CAST(:max_unpaid_orders AS int), 'held', h.unpaid)
        -- nothing held, and no line of this order too many: the common case, without a subquery
        WHEN h.unpaid = 0 AND CAST(:max_unpaid_units AS int) >= ALL(CAST(:counts AS bigint[])) THEN NULL
        ELSE (
            SELECT jsonb_build_object(
                       'limit', 'max_unpaid_units_per_sku', 'value', CAST(:max_unpaid_units AS int),
                       'sku', l.sku, 'held', l.held, 'requested', l.count)
            FROM (
                SELECT r.sku, r.count, coalesce((
                    SELECT sum(i.count) FROM orders o JOIN order_items i ON i.order_id = o.id
                    WHERE o.user_id = CAST(:user_id AS bigint) AND o.status IN ({sql_list(UNPAID)})
                      AND i.sku = r.sku
                ), 0) AS held
                FROM unnest(CAST(:skus AS bigint[]), CAST(:counts AS bigint[])) AS r(sku, count)
            ) AS l
            WHERE l.held + l.count > CAST(:max_unpaid_units AS int)
            ORDER BY l.sku
            LIMIT 1)
        END
    FROM (
        SELECT count(*) AS unpaid FROM orders o
        WHERE o.user_id = CAST(:user_id AS bigint) AND o.status IN ({sql_list(UNPAID)})
    ) AS h"""


def admission_call(users: str, counting: str) -> str:
    """The call that admits an order of `:user_id` when `counting` and the user stays within what
    they may hold unpaid (`domain/limits.py`), after taking the locks of the users `users` names
    (migration 0003's `loms_unpaid_refusal`): NULL, or the refusal as jsonb. Shared with
    `repositories/placement.py`."""
    return f"""loms_unpaid_refusal(CAST({users} AS bigint[]), CAST(:user_id AS bigint), CAST(:skus AS bigint[]),
               CAST(:counts AS bigint[]), CAST(:max_unpaid_orders AS int), CAST(:max_unpaid_units AS int), {counting})"""


#: The `new` event of the recorded order.
_NEW_EVENT = """(SELECT CAST(new_order.id AS varchar) AS key, CAST(:new_event AS jsonb) AS payload, 1 AS n
    FROM new_order) AS e"""


def record_sql(with_idempotency: bool, notify: bool) -> str:
    """The create statement of an order answered at once (without `Prefer: wait`): recorded as
    `new` if the user may hold one more unpaid order with these lines (`refused` is NULL), else
    nothing is written and `refused` says which limit was reached. Counting `new` orders too
    makes the check at record time exact, though the reservation comes later."""
    # The key is stored with the order it created, and its answer (the order as recorded). A
    # concurrent duplicate waits on the key's primary key and then fails with a unique
    # violation, rolling its whole statement back.
    idem = (
        """, idem AS (
        INSERT INTO idempotency_keys (scope, key, request_hash, state, resource_id, response_status, response_body)
        SELECT :idem_scope, :idem_key, :idem_hash, 'done', new_order.id, :idem_status, :idem_body FROM new_order
    )"""
        if with_idempotency
        else ""
    )
    wake = f", (SELECT {OUTBOX.notify_call} FROM new_order)" if notify else ""
    return f"""WITH admission AS MATERIALIZED (
        SELECT {admission_call("ARRAY[CAST(:user_id AS bigint)]", "true")} AS refused
    ), new_order AS (
        INSERT INTO orders (id, user_id, status, total_price, created_at, updated_at)
        SELECT :order_id, :user_id, {sql_literal(OrderStatus.NEW)}, :total_price, :now, :now
        FROM admission WHERE admission.refused IS NULL
        RETURNING id
    ), lines AS (
        INSERT INTO order_items (order_id, sku, count, price)
        SELECT new_order.id, i.sku, i.count, i.price FROM new_order,
            unnest(CAST(:skus AS bigint[]), CAST(:counts AS int[]), CAST(:prices AS bigint[])) AS i(sku, count, price)
    ), {events_cte(_NEW_EVENT)}{idem}
    SELECT (SELECT id FROM new_order) AS id, CAST(admission.refused AS text) AS refused{wake}
    FROM admission"""


_RECORDS = {(key, notify): Sql(record_sql(key, notify)) for key in (False, True) for notify in (False, True)}


class KeyTaken(Exception):
    """The idempotency key of a create is already stored; nothing was written."""


class Refused(Exception):
    """The user holds as much unpaid as they may; nothing was written. `refusal` names the limit
    (see `domain.errors.UnpaidLimitReached`)."""

    def __init__(self, refusal: dict[str, Any]) -> None:
        super().__init__(refusal)
        self.refusal = refusal


@dataclass(frozen=True)
class StoredAnswer:
    """The Idempotency-Key to store with a recorded order, and its answer."""

    scope: str
    key: str
    request_hash: str
    status: int
    body: str


async def record_new(
    conn: asyncpg.Connection,
    order: Order,
    *,
    event: dict[str, Any],
    topic: str,
    request_id: str | None,
    limits: UnpaidLimits,
    answer: StoredAnswer | None = None,
    notify: bool = True,
) -> None:
    """One statement (atomic even in autocommit): the order, its lines, its event, its key and
    answer; or `Refused` with nothing written when the user holds as much unpaid as `limits`
    allow, `KeyTaken` when the key is stored already. Without `notify` the caller wakes the
    workers of its own process."""
    params: dict[str, Any] = {
        "order_id": order.id,
        "user_id": order.user_id,
        "max_unpaid_orders": limits.orders,
        "max_unpaid_units": limits.units_per_sku,
        "total_price": order.total_price,
        "now": order.created_at,
        "skus": [i.sku for i in order.items],
        "counts": [i.count for i in order.items],
        "prices": [i.price for i in order.items],
        "new_event": orjson.dumps(event).decode(),
        "ev_topic": topic,
        "ev_request_id": request_id,
        "ev_traceparent": current_traceparent(),
    }
    if answer is not None:
        params.update(
            idem_scope=answer.scope,
            idem_key=answer.key,
            idem_hash=answer.request_hash,
            idem_status=answer.status,
            idem_body=answer.body,
        )
    try:
        [row] = await _RECORDS[answer is not None, notify].fetch(conn, params)
    except asyncpg.UniqueViolationError as exc:
        if answer is not None and exc.constraint_name == "pk_idempotency_keys":
            raise KeyTaken from exc
        raise
    if row["id"] is None:
        raise Refused(orjson.loads(row["refused"]))


_CLAIM_NEXT = Sql(f"""
    SELECT {ORDER_COLUMNS} FROM orders o
    WHERE o.status = {sql_literal(OrderStatus.NEW)}
    ORDER BY o.id LIMIT 1 FOR UPDATE OF o SKIP LOCKED
""")
_LOCK = text(f"SELECT {ORDER_COLUMNS} FROM orders o WHERE o.id = :id FOR UPDATE OF o")
_LOCK_EXPIRED = text(f"""
    SELECT {ORDER_COLUMNS} FROM orders o
    WHERE o.status = {sql_literal(OrderStatus.AWAITING_PAYMENT)} AND o.payment_deadline <= now()
    ORDER BY o.payment_deadline, o.id LIMIT :limit FOR UPDATE OF o SKIP LOCKED
""")
_GET = text(f"SELECT {ORDER_COLUMNS} FROM orders o WHERE o.id = :id")


async def claim_next_new(conn: asyncpg.Connection) -> Order | None:
    """Lock the oldest `new` order nobody holds (intake)."""
    rows = await _CLAIM_NEXT.fetch(conn, {})
    return order_from_row(rows[0]) if rows else None


async def lock(conn: AsyncConnection, order_id: int) -> Order | None:
    row = (await conn.execute(_LOCK, {"id": order_id})).first()
    return order_from_row(row) if row else None


async def lock_expired(conn: AsyncConnection, limit: int) -> list[Order]:
    return [order_from_row(r) for r in (await conn.execute(_LOCK_EXPIRED, {"limit": limit})).all()]


async def get(conn: AsyncConnection, order_id: int) -> Order | None:
    row = (await conn.execute(_GET, {"id": order_id})).first()
    return order_from_row(row) if row else None


async def page(
    conn: AsyncConnection, *, user_id: int | None, status: OrderStatus | None, before_id: int | None, limit: int
) -> list[Order]:
    """Newest first (ids grow with time), keyset-paged by id."""
    select, equal = f"SELECT {ORDER_COLUMNS} FROM orders o", {"user_id": user_id, "status": status}
    return await pages.newest_first(conn, select, "o", order_from_row, equal=equal, before_id=before_id, limit=limit)


_SET_STATUS = text(f"""
    WITH changed AS (
        UPDATE orders SET status = :status, cancel_reason = CAST(:reason AS varchar),
               updated_at = CAST(:now AS timestamptz)
        WHERE id = ANY(CAST(:ids AS bigint[]))
    ), {events_cte()}
    SELECT {OUTBOX.notify_call}
""")


async def move(
    conn: AsyncConnection,
    locked: Sequence[Order],
    status: OrderStatus,
    *,
    now: datetime,
    topic: str,
    request_id: str | None,
    reason: CancelReason | None = None,
) -> list[Order]:
    """Move the (locked) orders to `status`, each with its event, in one statement; the orders as
    they now stand."""
    events = [o.change_event(status, now, reason=reason) for o in locked]
    params = {
        "ids": [o.id for o in locked],
        "status": str(status),
        "reason": str(reason) if reason else None,
        "now": now,
        **order_events.params(topic, request_id, events),
    }
    await conn.execute(_SET_STATUS, params)
    return [replace(o, status=status, cancel_reason=reason or o.cancel_reason, updated_at=now) for o in locked]
