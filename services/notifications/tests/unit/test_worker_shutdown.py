"""On shutdown the senders finish the batch in hand before their loop returns (an e-mail cut off
mid-send would be sent again after its lease), and only what does not finish in time is cancelled."""

from __future__ import annotations

import asyncio

import pytest
from prometheus_client import CollectorRegistry

from notifications import main
from notifications.domain.delivery import Channel, RetryPolicy
from notifications.metrics import NotificationMetrics
from notifications.repositories.deliveries import Claimed
from notifications.workers.delivery import DeliveryOptions, DeliveryWorker


class Batches(DeliveryWorker):
    """A sender whose every batch takes `seconds` (the claim and the sends, as one step)."""

    channel = Channel.EMAIL

    def __init__(self, seconds: float) -> None:
        options = DeliveryOptions(RetryPolicy(1, 10, 3), batch_size=10, poll_seconds=30, lease_seconds=60)
        super().__init__(None, NotificationMetrics(CollectorRegistry()), options)  # type: ignore[arg-type]
        self.seconds = seconds
        self.started = asyncio.Event()
        self.finished = 0

    async def run_once(self) -> int:
        self.started.set()
        await asyncio.sleep(self.seconds)
        self.finished += 1
        return 1

    async def deliver(self, claimed: list[Claimed]) -> None:
        raise AssertionError("not reached")


async def test_a_sender_stopped_mid_batch_finishes_it_and_returns() -> None:
    sender = Batches(0.3)
    task = asyncio.create_task(sender.run())
    await sender.started.wait()
    await main.stop_workers([sender], [task])
    assert sender.finished == 1
    assert task.done() and not task.cancelled()


async def test_a_sender_waiting_for_work_returns_at_once() -> None:
    sender = Batches(0.0)
    sender.run_once = lambda: asyncio.sleep(0, 0)  # type: ignore[method-assign]  # nothing due
    task = asyncio.create_task(sender.run())
    await asyncio.sleep(0.05)  # now waiting its 30 s poll
    await asyncio.wait_for(main.stop_workers([sender], [task]), 1.0)
    assert task.done() and not task.cancelled()


async def test_what_does_not_finish_in_time_is_cancelled(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(main, "WORKERS_STOP_SECONDS", 0.2)
    sender = Batches(30.0)
    other = asyncio.create_task(asyncio.sleep(3600))  # retention's sleep: cancelled, never awaited out
    task = asyncio.create_task(sender.run())
    await sender.started.wait()
    await asyncio.wait_for(main.stop_workers([sender], [task, other]), 2.0)
    assert task.cancelled() and other.cancelled()
    assert sender.finished == 0


async def test_nothing_to_stop() -> None:
    await main.stop_workers([], [])
