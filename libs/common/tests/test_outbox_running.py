"""`shopcommon.outbox.running`: workers start together and stop in reverse order."""

from __future__ import annotations

import asyncio

from shopcommon.outbox import Listener, Worker, running


class Recording(Worker):
    def __init__(self, name: str, log: list[str]) -> None:
        super().__init__(idle=60.0)
        self.name = name
        self.log = log

    async def step(self) -> float:
        self.log.append(f"step {self.name}")
        return self.idle

    async def close(self) -> None:
        self.log.append(f"closed {self.name}")


async def test_workers_run_inside_the_block_and_stop_last_first() -> None:
    log: list[str] = []
    first, second = Recording("first", log), Recording("second", log)
    # Nobody subscribed: the LISTEN connection is never opened.
    listener = Listener("postgresql://nobody@127.0.0.1:1/none", "unused")
    async with running([first, second], listener):
        await asyncio.sleep(0.05)
        assert sorted(log) == ["step first", "step second"]
    assert log[2:] == ["closed second", "closed first"]
