"""Fulfilment tasks and the sku-category cache: reads, claims, the per-category assignment lock,
and status changes with their `task.status_changed` events in the outbox (same transaction)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import Row, text
from sqlalchemy.ext.asyncio import AsyncConnection

from loms.domain.tasks import Task, TaskItem, WorkerLoad
from loms.repositories import pages
from loms.repositories.order_events import OUTBOX
from shopcommon.outbox import OutboxMessage
from shopcommon.statuses import TaskStatus, sql_list, sql_literal

TASK_COLUMNS = "t.id, t.order_id, t.category, t.items::text AS items, t.worker_id, t.status, t.assigned_at, t.created_at, t.updated_at"
_OPEN = f"({sql_list((TaskStatus.ASSIGNED, TaskStatus.IN_PROGRESS))})"
_UNASSIGNED_SQL = sql_literal(TaskStatus.UNASSIGNED)


def task_from_row(row: Row[Any]) -> Task:
    m = row._mapping
    return Task(
        id=m["id"],
        order_id=m["order_id"],
        category=m["category"],
        items=tuple(TaskItem(int(i["sku"]), int(i["count"])) for i in orjson.loads(m["items"])),
        worker_id=m["worker_id"],
        status=TaskStatus(m["status"]),
        assigned_at=m["assigned_at"],
        created_at=m["created_at"],
        updated_at=m["updated_at"],
    )


def category_lock_key(category: str) -> int:
    """The advisory-lock key (signed 64-bit) serialising assignments within one category."""
    digest = hashlib.sha256(f"loms-task-category:{category}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


_LOCK_CATEGORY = text("SELECT pg_advisory_xact_lock(:key)")


async def lock_categories(conn: AsyncConnection, categories: Iterable[str]) -> None:
    """Hold each category's assignment lock until the transaction ends; taken in one global order
    (by key) so two passes needing the same categories never deadlock."""
    for key in sorted({category_lock_key(c) for c in categories}):
        await conn.execute(_LOCK_CATEGORY, {"key": key})


# --- the sku -> category cache -------------------------------------------------------------------

_CACHED = text("SELECT sku, category FROM sku_categories WHERE sku = ANY(CAST(:skus AS bigint[]))")
_REMEMBER = text("""
    INSERT INTO sku_categories (sku, category, fetched_at)
    SELECT s, c, now() FROM unnest(CAST(:skus AS bigint[]), CAST(:cats AS varchar[])) AS x(s, c)
    ON CONFLICT (sku) DO UPDATE SET category = EXCLUDED.category, fetched_at = EXCLUDED.fetched_at
""")


_STALE = text("""
    SELECT sku FROM sku_categories
    WHERE sku = ANY(CAST(:skus AS bigint[])) AND fetched_at < now() - make_interval(secs => :seconds)
""")


async def stale_categories(conn: AsyncConnection, skus: Sequence[int], older_than: float) -> list[int]:
    """The skus among `skus` whose category was read from the catalogue more than `older_than` s ago."""
    rows = (await conn.execute(_STALE, {"skus": list(skus), "seconds": older_than})).all()
    return [r.sku for r in rows]


async def cached_categories(conn: AsyncConnection, skus: Sequence[int]) -> dict[int, str]:
    rows = (await conn.execute(_CACHED, {"skus": list(skus)})).all()
    return {r.sku: r.category for r in rows}


async def remember_categories(conn: AsyncConnection, categories: Mapping[int, str]) -> None:
    if categories:
        skus = sorted(categories)
        await conn.execute(_REMEMBER, {"skus": skus, "cats": [categories[s] for s in skus]})


# --- the queue of paid orders (filled by a trigger in the payment's transaction) ----------------

_QUEUED = """
    SELECT q.order_id AS id, o.status, (SELECT json_agg(json_build_array(i.sku, i.count) ORDER BY i.sku)
                  FROM order_items i WHERE i.order_id = q.order_id)::text AS items
    FROM task_queue q JOIN orders o ON o.id = q.order_id /*ready*/
    ORDER BY q.order_id LIMIT :limit"""
_PEEK = text(_QUEUED)
# Only orders whose every sku has a known category: those waiting for the catalogue must not take
# the places of the ones behind them. Another pass holding a queued order is making its tasks:
# skip it rather than wait to redo nothing.
_CLAIM = text(
    _QUEUED.replace(
        "/*ready*/",
        """WHERE NOT EXISTS (SELECT 1 FROM order_items i LEFT JOIN sku_categories c ON c.sku = i.sku
                         WHERE i.order_id = q.order_id AND c.sku IS NULL)""",
    )
    + " FOR UPDATE OF q SKIP LOCKED"
)
_DEQUEUE = text("DELETE FROM task_queue WHERE order_id = ANY(CAST(:ids AS bigint[]))")


def _lines(raw: str | None) -> list[tuple[int, int]]:
    return [(int(sku), int(count)) for sku, count in orjson.loads(raw or "[]")]


#: A paid order waiting for its tasks: its id and its lines `(sku, count)`.
QueuedOrder = tuple[int, list[tuple[int, int]]]


async def queued(conn: AsyncConnection, limit: int, *, claim: bool) -> list[QueuedOrder]:
    """Paid orders waiting for their tasks, oldest first, with their lines `(sku, count)`; with
    `claim` only those whose skus all have a known category, their queue rows locked until the
    transaction ends (rows another pass holds are skipped)."""
    rows = (await conn.execute(_CLAIM if claim else _PEEK, {"limit": limit})).all()
    return [(r.id, _lines(r.items)) for r in rows]


async def dequeue(conn: AsyncConnection, order_ids: Sequence[int]) -> None:
    await conn.execute(_DEQUEUE, {"ids": list(order_ids)})


_INSERT = text(f"""
    INSERT INTO tasks AS t (order_id, category, items, status, created_at, updated_at)
    SELECT o, c, CAST(i AS jsonb), {_UNASSIGNED_SQL}, :now, :now
    FROM unnest(CAST(:orders AS bigint[]), CAST(:cats AS varchar[]), CAST(:items AS text[])) AS x(o, c, i)
    ON CONFLICT (order_id, category) DO NOTHING
    RETURNING {TASK_COLUMNS}
""")


async def insert_unassigned(
    conn: AsyncConnection, rows: Sequence[tuple[int, str, Sequence[TaskItem]]], now: datetime
) -> list[Task]:
    """New `unassigned` tasks `(order_id, category, items)`; one that exists already is left alone."""
    if not rows:
        return []
    params = {
        "now": now,
        "orders": [r[0] for r in rows],
        "cats": [r[1] for r in rows],
        "items": [orjson.dumps([i.as_dict() for i in r[2]]).decode() for r in rows],
    }
    return [task_from_row(r) for r in (await conn.execute(_INSERT, params)).all()]


# --- loads and assignment ---------------------------------------------------------------------------

_LOADS = text(f"""
    SELECT w.id,
           (SELECT count(*) FROM tasks t WHERE t.worker_id = w.id AND t.status IN {_OPEN}) AS open_tasks,
           (SELECT max(t.assigned_at) FROM tasks t WHERE t.worker_id = w.id) AS last_assigned_at
    FROM unnest(CAST(:ids AS bigint[])) AS w(id)
""")


async def loads(conn: AsyncConnection, worker_ids: Sequence[int]) -> list[WorkerLoad]:
    rows = (await conn.execute(_LOADS, {"ids": list(worker_ids)})).all()
    return [WorkerLoad(r.id, int(r.open_tasks), r.last_assigned_at) for r in rows]


_UNASSIGNED = text(f"""
    SELECT {TASK_COLUMNS} FROM tasks t WHERE t.status = {_UNASSIGNED_SQL} AND t.category = :category
    ORDER BY t.id LIMIT :limit FOR UPDATE OF t
""")
_HELD_BY_INACTIVE = text(f"""
    SELECT {TASK_COLUMNS} FROM tasks t
    WHERE t.status IN {_OPEN} AND NOT (t.worker_id = ANY(CAST(:active AS bigint[])))
    ORDER BY t.id LIMIT :limit
""")
_LOCK_HELD_BY_INACTIVE = text(f"""
    SELECT {TASK_COLUMNS} FROM tasks t
    WHERE t.id = ANY(CAST(:ids AS bigint[])) AND t.status IN {_OPEN}
      AND NOT (t.worker_id = ANY(CAST(:active AS bigint[])))
    ORDER BY t.id FOR UPDATE OF t
""")


_WAITING = text(f"SELECT DISTINCT category FROM tasks WHERE status = {_UNASSIGNED_SQL} ORDER BY 1")


async def waiting_categories(conn: AsyncConnection) -> list[str]:
    """Categories with tasks waiting for a worker."""
    return [r[0] for r in (await conn.execute(_WAITING)).all()]


async def unassigned(conn: AsyncConnection, category: str, limit: int) -> list[Task]:
    """The category's oldest unassigned tasks, locked (the caller holds the category's lock)."""
    return [task_from_row(r) for r in (await conn.execute(_UNASSIGNED, {"category": category, "limit": limit})).all()]


async def held_by_inactive(conn: AsyncConnection, active: Sequence[int], limit: int) -> list[Task]:
    """Open tasks whose worker is not among `active` (a read; re-checked under locks before moving)."""
    rows = (await conn.execute(_HELD_BY_INACTIVE, {"active": list(active), "limit": limit})).all()
    return [task_from_row(r) for r in rows]


async def lock_held_by_inactive(conn: AsyncConnection, ids: Sequence[int], active: Sequence[int]) -> list[Task]:
    rows = (await conn.execute(_LOCK_HELD_BY_INACTIVE, {"ids": list(ids), "active": list(active)})).all()
    return [task_from_row(r) for r in rows]


_LOCK = text(f"SELECT {TASK_COLUMNS} FROM tasks t WHERE t.id = :id FOR UPDATE OF t")
_GET = text(f"SELECT {TASK_COLUMNS} FROM tasks t WHERE t.id = :id")
_SET = text(f"""
    UPDATE tasks t SET status = :status, worker_id = :worker_id,
           assigned_at = CASE WHEN :assigning THEN CAST(:now AS timestamptz) ELSE t.assigned_at END,
           updated_at = :now
    WHERE t.id = :id
    RETURNING {TASK_COLUMNS}
""")


async def lock(conn: AsyncConnection, task_id: int) -> Task | None:
    row = (await conn.execute(_LOCK, {"id": task_id})).first()
    return task_from_row(row) if row else None


async def get(conn: AsyncConnection, task_id: int) -> Task | None:
    row = (await conn.execute(_GET, {"id": task_id})).first()
    return task_from_row(row) if row else None


async def update(
    conn: AsyncConnection, task_id: int, *, status: TaskStatus, worker_id: int | None, now: datetime, assigning: bool
) -> Task:
    row = (
        await conn.execute(
            _SET, {"id": task_id, "status": str(status), "worker_id": worker_id, "now": now, "assigning": assigning}
        )
    ).one()
    return task_from_row(row)


async def write_events(conn: AsyncConnection, topic: str, events: Sequence[dict[str, Any]]) -> None:
    """`task.status_changed` events into the outbox, keyed by their order id (they stay in order
    with the order's own events), waking the relays at commit."""
    await OUTBOX.add(conn, topic, [OutboxMessage(str(e["order_id"]), e) for e in events])


_NOT_DONE = text(f"SELECT count(*) FROM tasks WHERE order_id = :order_id AND status <> {sql_literal(TaskStatus.DONE)}")


async def not_done(conn: AsyncConnection, order_id: int) -> int:
    return int(await conn.scalar(_NOT_DONE, {"order_id": order_id}) or 0)


# --- reads ------------------------------------------------------------------------------------------

_OF_ORDERS = text(f"SELECT {TASK_COLUMNS} FROM tasks t WHERE t.order_id = ANY(CAST(:ids AS bigint[])) ORDER BY t.id")


async def of_orders(conn: AsyncConnection, order_ids: Sequence[int]) -> dict[int, list[Task]]:
    out: dict[int, list[Task]] = {i: [] for i in order_ids}
    if order_ids:
        for row in (await conn.execute(_OF_ORDERS, {"ids": list(order_ids)})).all():
            task = task_from_row(row)
            out.setdefault(task.order_id, []).append(task)
    return out


async def page(
    conn: AsyncConnection, *, worker_id: int | None, status: TaskStatus | None, before_id: int | None, limit: int
) -> list[Task]:
    """Newest first (ids grow with time), keyset-paged by id."""
    select, equal = f"SELECT {TASK_COLUMNS} FROM tasks t", {"worker_id": worker_id, "status": status}
    return await pages.newest_first(conn, select, "t", task_from_row, equal=equal, before_id=before_id, limit=limit)
