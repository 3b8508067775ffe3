"""The two ways LOMS talks to its database: transactions, and single autocommit statements
(reads, and writes that are one statement) which save the BEGIN/COMMIT round trips."""

from __future__ import annotations

import asyncio
import logging
import socket
from collections.abc import Callable
from dataclasses import dataclass, field

import asyncpg
from sqlalchemy.ext.asyncio import AsyncEngine

from loms.repositories.order_ids import OrderIds
from shopcommon.db import plain_url

log = logging.getLogger(__name__)

DEFAULT_ORDER_WRITERS = 32


class Wakeups:
    """Workers running in this process (the relays, the intake), to be woken after a commit that
    wrote work for them without a NOTIFY (a notifying commit holds a database-wide lock through
    its WAL flush, so committers that notify queue one behind another)."""

    def __init__(self) -> None:
        self._events: list[asyncio.Event] = []

    def subscribe(self, event: asyncio.Event) -> None:
        self._events.append(event)

    def waker(self) -> Callable[[], None] | None:
        """What to call after such a commit; None when no such worker runs here (NOTIFY then)."""
        return self._wake_all if self._events else None

    def _wake_all(self) -> None:
        for event in self._events:
            event.set()


#: Session settings of the writer connections. Their statements are built to reach every row
#: through a key whatever the values (see `repositories/reservations.py`), so they are planned once
#: per connection. Left to choose, PostgreSQL compares the generic plan with the custom ones it
#: made for actual values, and once statistics make a two-sku array look cheaper than the generic
#: plan's guess it plans the reservation afresh on every call, a large share of PostgreSQL's CPU per
#: order (bench/loms/README.md).
WRITER_SETTINGS = {"plan_cache_mode": "force_generic_plan"}


#: The send buffer of a writer's socket. A batch is sent as one pipeline whose first statement
#: locks the stock of the whole batch; whatever the kernel does not take at once waits for the
#: event loop's next turn, and the locks with it. Left to Linux's autotuning, a TCP socket starts
#: at 16 KB (`tcp_wmem`) and grows only as it sees need, and a batch of 20 orders is ~40 KB: the
#: rest of such batches went out a loop turn (tens of ms under load) later, while every other
#: batch needing those skus queued behind the locks (bench/loms/README.md has the tail latencies with
#: and without it). A size set explicitly turns autotuning off for the socket; the kernel
#: doubles it for its bookkeeping and caps it at `net.core.wmem_max`.
WRITER_SEND_BUFFER = 1 << 20


async def _writer_init(conn: asyncpg.Connection) -> None:
    transport = getattr(conn, "_transport", None)
    sock = transport.get_extra_info("socket") if transport is not None else None
    if sock is None:
        log.warning("cannot size the send buffer of an order writer; batches may hold locks longer")
        return
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, WRITER_SEND_BUFFER)


async def _keep_session(conn: asyncpg.Connection) -> None:
    """A writer connection goes back to its pool as it is: the order statements set nothing, listen
    to nothing and take no session locks, so asyncpg's reset query (a round trip per order) is
    skipped. asyncpg still rolls back a transaction left open, before this runs."""


@dataclass(frozen=True)
class Db:
    engine: AsyncEngine
    autocommit: AsyncEngine
    #: The connections orders are written on, at most `order_writers`: the placer's batches and
    #: the creates without `Prefer: wait`, each a single statement or one pipelined transaction;
    #: beyond that, writes queue for one, first come first served. A plain asyncpg pool:
    #: SQLAlchemy's checkout and release cost more CPU than the statements themselves.
    writers: asyncpg.Pool
    order_ids: OrderIds
    relays: Wakeups = field(default_factory=Wakeups)
    intake: Wakeups = field(default_factory=Wakeups)

    @classmethod
    async def open(cls, engine: AsyncEngine, url: str, order_writers: int = DEFAULT_ORDER_WRITERS) -> Db:
        writers = await asyncpg.create_pool(
            plain_url(url),
            min_size=min(4, order_writers),
            max_size=order_writers,
            reset=_keep_session,
            init=_writer_init,
            server_settings=WRITER_SETTINGS,
        )
        return cls(engine, engine.execution_options(isolation_level="AUTOCOMMIT"), writers, OrderIds(writers))

    async def close(self) -> None:
        await self.writers.close()
