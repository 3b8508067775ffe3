"""One `LISTEN` connection per process. Each notification on the channel sets every subscriber's
event; after a (re)connect all are set too, since notifications sent meanwhile were lost."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

import asyncpg

from shopcommon.db import plain_url

log = logging.getLogger(__name__)


class Listener:
    def __init__(self, database_url: str, channel: str) -> None:
        self.dsn = plain_url(database_url)
        self.channel = channel
        self._subscribers: list[asyncio.Event] = []
        self._task: asyncio.Task[None] | None = None
        self._lost: asyncio.Event = asyncio.Event()

    def subscribe(self) -> asyncio.Event:
        event = asyncio.Event()
        self._subscribers.append(event)
        return event

    @property
    def has_subscribers(self) -> bool:
        return bool(self._subscribers)

    def _wake_all(self, *_: Any) -> None:
        for event in self._subscribers:
            event.set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"listen-{self.channel}")

    async def _run(self) -> None:
        pause = 0.1
        while True:
            conn: asyncpg.Connection | None = None
            try:
                conn = await asyncpg.connect(self.dsn, timeout=5)
                self._lost.clear()
                conn.add_termination_listener(lambda _: self._lost.set())
                await conn.add_listener(self.channel, self._wake_all)
                self._wake_all()
                pause = 0.1
                await self._lost.wait()
            except Exception as exc:
                # Any failure reconnects (asyncpg's InterfaceError for a connection closed between
                # connect and LISTEN, say): were this task to end, the process would be left to its
                # sweep for good, and nothing would say so.
                log.warning("LISTEN %s: %s: %s; reconnecting in %.1fs", self.channel, type(exc).__name__, exc, pause)
            finally:
                if conn is not None and not conn.is_closed():
                    with contextlib.suppress(Exception):
                        await conn.close(timeout=2)
            await asyncio.sleep(pause)
            pause = min(pause * 2, 5.0)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
