"""The two ways LOMS talks to its database: transactions, and single autocommit statements
(reads, and writes that are one statement) which save the BEGIN/COMMIT round trips."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field

import asyncpg
from sqlalchemy.ext.asyncio import AsyncEngine

from shopcommon.db import plain_url

DEFAULT_ORDER_WRITERS = 8


class RelayWakeups:
    """The relays running in this process, to be woken after a commit that wrote events without
    a NOTIFY (a notifying commit holds a database-wide lock through its WAL flush)."""

    def __init__(self) -> None:
        self._events: list[asyncio.Event] = []

    def subscribe(self, event: asyncio.Event) -> None:
        self._events.append(event)

    def waker(self) -> Callable[[], None] | None:
        """What to call after such a commit; None when no relay runs here (NOTIFY then)."""
        return self._wake_all if self._events else None

    def _wake_all(self) -> None:
        for event in self._events:
            event.set()


async def _keep_session(conn: asyncpg.Connection) -> None:
    """A writer connection goes back to its pool as it is: the order statements set nothing, listen
    to nothing and take no session locks, so asyncpg's reset query (a round trip per order) is
    skipped. asyncpg still rolls back a transaction left open, before this runs."""


@dataclass(frozen=True)
class Db:
    engine: AsyncEngine
    autocommit: AsyncEngine
    #: The connections orders are written on (created, then reserved): `order_writers` of them. A
    #: request holds one for its whole order and the others queue for one, first come first served,
    #: holding no row lock. With every request in the database at once, each transaction waited on
    #: the others' turns of the event loop while holding its row locks, and the slowest answers
    #: took twice the median. A plain asyncpg pool: SQLAlchemy's checkout cost more CPU than the
    #: statements themselves.
    writers: asyncpg.Pool
    relays: RelayWakeups = field(default_factory=RelayWakeups)

    @classmethod
    async def open(cls, engine: AsyncEngine, url: str, order_writers: int = DEFAULT_ORDER_WRITERS) -> Db:
        writers = await asyncpg.create_pool(
            plain_url(url), min_size=order_writers, max_size=order_writers, reset=_keep_session
        )
        return cls(engine, engine.execution_options(isolation_level="AUTOCOMMIT"), writers)

    async def close(self) -> None:
        await self.writers.close()
