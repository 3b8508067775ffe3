"""The expiry worker's housekeeping forgets idempotency keys past their retention: one pass
clears all of them, however many orders arrived since the last (it deletes in batches until a
batch comes back short)."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from loms.config import Settings
from loms.repositories.idempotency import PURGE_BATCH
from loms.services.expire import purge_old_records
from loms.workers import expiry
from shopcommon.db import make_engine

from ..conftest import Database

EXPIRED = 2 * PURGE_BATCH + 123


async def test_one_pass_forgets_every_expired_key_and_keeps_the_rest(settings: Settings, db: Database) -> None:
    retention = settings.idempotency_retention
    await db.fetch(
        "INSERT INTO idempotency_keys (scope, key, request_hash, state, created_at, updated_at) "
        "SELECT 'purge-test', 'old-' || n, '', 'done', now() - make_interval(secs => $1 + 60), now() "
        "FROM generate_series(1, $2) n",
        retention,
        EXPIRED,
    )
    await db.fetch(
        "INSERT INTO idempotency_keys (scope, key, request_hash, state, created_at) "
        "SELECT 'purge-test', 'young-' || n, '', 'done', now() - make_interval(secs => $1 - 600) "
        "FROM generate_series(1, 10) n",
        retention,
    )
    engine = make_engine(settings.database_url, pool_size=1)
    try:
        assert await purge_old_records(engine, settings=settings) == EXPIRED
    finally:
        await engine.dispose()
    left = await db.fetch("SELECT key FROM idempotency_keys WHERE scope = 'purge-test' ORDER BY key")
    assert [r["key"] for r in left] == sorted(f"young-{n}" for n in range(1, 11))


async def test_a_purge_pass_runs_beside_the_expiry_and_does_not_hold_it_up(
    settings: Settings, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """However long a pass takes, unpaid orders are still cancelled on time meanwhile."""
    started, release = asyncio.Event(), asyncio.Event()
    passes = 0

    async def slow_purge(engine: AsyncEngine, *, settings: Settings) -> int:
        nonlocal passes
        passes += 1
        started.set()
        await release.wait()
        return 0

    monkeypatch.setattr(expiry, "purge_old_records", slow_purge)
    monkeypatch.setattr(expiry, "HOUSEKEEPING_EVERY", 0.0)  # a pass is due at every step
    overdue = await db.value(
        "INSERT INTO orders (user_id, status, payment_deadline) VALUES (7200, 'awaiting payment', now() - interval '1 s') "
        "RETURNING id"
    )
    engine = make_engine(settings.database_url, pool_size=2)
    worker = expiry.ExpiryWorker(engine, settings)
    try:
        await asyncio.wait_for(worker.step(), timeout=5)
        await asyncio.wait_for(started.wait(), timeout=5)
        assert worker.expired == 1
        assert await db.value("SELECT status FROM orders WHERE id = $1", overdue) == "cancelled"
        await asyncio.wait_for(worker.step(), timeout=5)
        assert passes == 1, "one pass at a time"
    finally:
        release.set()
        await worker.close()
        await engine.dispose()
