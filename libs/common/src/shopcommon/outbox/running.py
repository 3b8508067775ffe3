"""A process's background workers and their LISTEN connection, started together and stopped in
order: the workers last started first, the connection that wakes them last."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

from shopcommon.outbox.listener import Listener
from shopcommon.outbox.worker import Worker


@asynccontextmanager
async def running(workers: Sequence[Worker], listener: Listener) -> AsyncIterator[None]:
    """Run `workers`, and `listener` when any of them subscribed to it, until the block ends."""
    if listener.has_subscribers:
        listener.start()
    for worker in workers:
        worker.start()
    try:
        yield
    finally:
        for worker in reversed(workers):
            await worker.stop()
        await listener.stop()
