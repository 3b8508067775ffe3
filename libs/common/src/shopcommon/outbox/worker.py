"""A background loop inside a service process (the relay is one): started by the lifespan, stopped
cleanly (the step in progress finishes its transaction) on shutdown."""

from __future__ import annotations

import asyncio
import contextlib
import logging

log = logging.getLogger(__name__)


class Worker:
    """Calls `step()` again and again. A step returns how long the loop may rest before the next
    one (0: at once); a wake-up event cuts the rest short; a failing step backs off."""

    name = "worker"

    def __init__(self, *, idle: float, wake: asyncio.Event | None = None, max_backoff: float = 2.0) -> None:
        self.idle = idle
        self.wake = wake or asyncio.Event()
        self.max_backoff = max_backoff
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def step(self) -> float:
        raise NotImplementedError

    def start(self) -> None:
        self._task = asyncio.create_task(self.run(), name=self.name)

    async def run(self) -> None:
        backoff = 0.0
        while not self._stopping.is_set():
            self.wake.clear()
            try:
                rest = await self.step()
                backoff = 0.0
            except Exception as exc:  # a worker outlives any one failure; it logs and retries
                backoff = min(self.max_backoff, max(0.1, backoff * 2))
                log.warning(
                    "%s step failed (%s: %s); retrying in %.1fs",
                    self.name,
                    type(exc).__name__,
                    exc,
                    backoff,
                    exc_info=log.isEnabledFor(logging.DEBUG),
                )
                rest = backoff
            if rest > 0:
                await self._rest(rest, wakeable=backoff == 0)

    async def _rest(self, seconds: float, *, wakeable: bool) -> None:
        waiters = [asyncio.ensure_future(self._stopping.wait())]
        if wakeable:
            waiters.append(asyncio.ensure_future(self.wake.wait()))
        try:
            await asyncio.wait(waiters, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()

    async def stop(self, timeout: float = 5.0) -> None:
        self._stopping.set()
        if self._task is None:
            return
        try:
            await asyncio.wait_for(asyncio.shield(self._task), timeout)
        except TimeoutError:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.close()

    async def close(self) -> None:
        """Release what the worker holds (connections, producers)."""
