"""The two ways LOMS talks to its database: transactions, and single autocommit statements
(reads, and writes that are one statement) which save the BEGIN/COMMIT round trips."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy.ext.asyncio import AsyncEngine

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


@dataclass(frozen=True)
class Db:
    engine: AsyncEngine
    autocommit: AsyncEngine
    relays: RelayWakeups = field(default_factory=RelayWakeups)
    #: Orders being written (created and reserved) at once; the others queue here, first come
    #: first served, holding no connection and no row lock.
    order_writers: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(DEFAULT_ORDER_WRITERS))

    @classmethod
    def of(cls, engine: AsyncEngine, order_writers: int = DEFAULT_ORDER_WRITERS) -> Db:
        return cls(
            engine,
            engine.execution_options(isolation_level="AUTOCOMMIT"),
            order_writers=asyncio.Semaphore(order_writers),
        )
