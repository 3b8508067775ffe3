"""The loop both senders share: claim due notifications, deliver, record each outcome.

`stop()` (the service is shutting down) ends the loop after the batch in hand: every message of
it is sent and recorded as sent before the loop returns, rather than cut off mid-send (an e-mail
the SMTP server accepted but not yet recorded would be sent again after its lease).

A claim holds its rows for a lease; once it runs out another replica may claim them. So a sender
starts no send after half its lease has gone (`in_time`): what it has not begun it hands back
(`release`) for the next claim, rather than race another replica to send it twice. A send that
has begun is given up (and retried later) when it would outlast the lease (`time_left`), and an
outcome recorded after the lease changes nothing (`deliveries.held`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from notifications.domain.delivery import Channel, DeliveryError, RetryPolicy
from notifications.metrics import NotificationMetrics
from notifications.repositories import deliveries
from notifications.repositories.deliveries import Claimed
from shopcommon.db import transaction

log = logging.getLogger(__name__)

#: The longest a remote server's `Retry-After` defers a retry.
MAX_RETRY_AFTER = 24 * 3600.0


@dataclass(frozen=True)
class DeliveryOptions:
    policy: RetryPolicy
    batch_size: int
    poll_seconds: float
    lease_seconds: float


class DeliveryWorker(ABC):
    channel: Channel

    def __init__(
        self, sessionmaker: async_sessionmaker[AsyncSession], metrics: NotificationMetrics, options: DeliveryOptions
    ) -> None:
        self.sessionmaker = sessionmaker
        self.metrics = metrics
        self.policy = options.policy
        self.batch_size = options.batch_size
        self.poll_seconds = options.poll_seconds
        self.lease_seconds = options.lease_seconds
        self._wakeup = asyncio.Event()
        self._stopping = False
        self._send_by = float("inf")  # no lease known yet (set by each claim)
        self._lease_end = float("inf")

    def stop(self) -> None:
        """Finish the batch in hand, then return from `run`."""
        self._stopping = True
        self._wakeup.set()

    def wake(self) -> None:
        """New notifications were committed in this process: look now rather than at the next poll."""
        self._wakeup.set()

    async def run(self) -> None:
        while not self._stopping:
            self._wakeup.clear()
            try:
                worked = await self.run_once()
            except Exception:  # a database outage must not end the worker; try again after a pause
                log.exception("%s sender failed; retrying", self.channel)
                worked = 0
            # After any work, look again at once: a later notification of an order may be due now.
            if worked == 0 and not self._stopping:
                try:
                    await asyncio.wait_for(self._wakeup.wait(), self.poll_seconds)
                except TimeoutError:
                    pass

    async def run_once(self) -> int:
        async with transaction(self.sessionmaker) as session:
            claimed = await deliveries.claim_due(
                session, self.channel, limit=self.batch_size, lease_seconds=self.lease_seconds
            )
        if claimed:
            self._lease_end = time.monotonic() + self.lease_seconds
            self._send_by = self._lease_end - self.lease_seconds / 2
            await self.deliver(claimed)
        return len(claimed)

    def in_time(self) -> bool:
        """Whether a send may still begin under the batch's lease."""
        return time.monotonic() < self._send_by

    def time_left(self) -> float:
        """How long a send begun now may take: until a tenth of the lease before it runs out, so its
        outcome is recorded while the claim still holds."""
        return max(0.0, self._lease_end - self.lease_seconds / 10 - time.monotonic())

    async def release(self, unsent: list[Claimed]) -> None:
        """Hand back claimed rows not tried: due again at once, their claim not counted as a try."""
        if not unsent:
            return
        async with transaction(self.sessionmaker) as session:
            await deliveries.release(session, unsent)
        log.warning("%s sender ran short of its lease; %d handed back", self.channel, len(unsent))

    @abstractmethod
    async def deliver(self, claimed: list[Claimed]) -> None:
        """Try each notification and `settle` it."""

    async def settle(self, item: Claimed, error: DeliveryError | None, *, recipient: str | None = None) -> None:
        async with transaction(self.sessionmaker) as session:
            if error is None:
                await deliveries.mark_many_sent(session, [(item, recipient)])
                outcome = "sent"
            elif error.permanent or self.policy.gives_up_after(item.attempts):
                await deliveries.mark_failed(session, item, error=error.reason, recipient=recipient)
                outcome = "failed"
            else:
                delay = min(max(error.retry_after or 0.0, self.policy.delay_after(item.attempts)), MAX_RETRY_AFTER)
                await deliveries.schedule_retry(session, item, error=error.reason, delay_seconds=delay)
                outcome = "retry"
        self.metrics.deliveries.labels(self.channel.value, outcome).inc()
        if error is None:
            self._observe_lag(item)
        elif outcome == "failed":
            log.warning("%s notification %s failed for good: %s", self.channel, item.id, error.for_log())
        else:
            log.info("%s notification %s will be retried: %s", self.channel, item.id, error.for_log())

    async def settle_sent(self, sent: list[tuple[Claimed, str | None]]) -> None:
        """Record several accepted deliveries at once (one round trip instead of one per item)."""
        if not sent:
            return
        async with transaction(self.sessionmaker) as session:
            await deliveries.mark_many_sent(session, sent)
        self.metrics.deliveries.labels(self.channel.value, "sent").inc(len(sent))
        for item, _ in sent:
            self._observe_lag(item)

    def _observe_lag(self, item: Claimed) -> None:
        try:
            occurred = datetime.fromisoformat(str(item.payload["occurred_at"]).replace("Z", "+00:00"))
        except (KeyError, ValueError):
            return
        if occurred.tzinfo is None:
            occurred = occurred.replace(tzinfo=UTC)
        self.metrics.delivery_lag.labels(self.channel.value).observe((datetime.now(UTC) - occurred).total_seconds())
