"""The expiry worker's housekeeping forgets idempotency keys past their retention: one pass
clears all of them, however many orders arrived since the last (it deletes in batches until a
batch comes back short)."""

from __future__ import annotations

from loms.config import Settings
from loms.repositories.idempotency import PURGE_BATCH
from loms.services.expire import purge_old_records
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
