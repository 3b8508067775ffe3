"""The sliding windows of the public request's rate limits, counted in PostgreSQL.

Each bucket is locked (a transaction-level advisory lock, in one order, so two requests never wait
on each other crosswise) before its window is counted, and the request's hit is written in the
same transaction: however many requests arrive at once, each counts what the ones before it
committed, so no more than the limit get through, on any number of replicas."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from bookings.domain.limits import Bucket

_LOCK = text("SELECT pg_advisory_xact_lock(hashtextextended('request-hits' || chr(10) || :bucket, 0))")
# The limit-th newest hit in the window, if there is one (the bucket is full): the seconds until
# it leaves the window, when the next request fits.
_FULL_FOR = text("""
SELECT extract(epoch FROM at + make_interval(secs => :window) - now()) FROM request_hits
WHERE bucket = :bucket AND at > now() - make_interval(secs => :window)
ORDER BY at DESC OFFSET :limit - 1 LIMIT 1
""")
_RECORD = text("INSERT INTO request_hits (bucket) SELECT unnest(CAST(:buckets AS varchar[]))")
_PURGE = text("""
DELETE FROM request_hits WHERE ctid IN (
    SELECT ctid FROM request_hits WHERE at < now() - make_interval(secs => :age) LIMIT 5000)
""")


async def wait_for(conn: AsyncConnection, buckets: Sequence[Bucket]) -> float:
    """Lock the buckets until the transaction ends; 0 when each has room, else the seconds until
    the fullest frees a slot."""
    for bucket in sorted(buckets, key=lambda b: b.key):
        await conn.execute(_LOCK, {"bucket": bucket.key})
    wait = 0.0
    for bucket in buckets:
        seconds = await conn.scalar(_FULL_FOR, {"bucket": bucket.key, "window": bucket.window, "limit": bucket.limit})
        if seconds is not None:
            wait = max(wait, float(seconds))
    return wait


async def record(conn: AsyncConnection, buckets: Sequence[Bucket]) -> None:
    if buckets:
        await conn.execute(_RECORD, {"buckets": [b.key for b in buckets]})


async def purge(conn: AsyncConnection, *, older_than: float) -> int:
    result = await conn.execute(_PURGE, {"age": older_than})
    return int(result.rowcount or 0)
