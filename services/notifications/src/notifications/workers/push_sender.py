"""Sends the pending web pushes; a subscription the push service no longer knows, or one that
cannot be sent to at all, is deleted."""

from __future__ import annotations

import asyncio
import logging

import orjson
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from notifications.domain.delivery import Channel, DeliveryError
from notifications.domain.events import (
    STAFF_ONLY,
    BookingStatusChanged,
    MalformedEvent,
    OrderStatusChanged,
    TaskStatusChanged,
    UnknownEventType,
    parse_document,
)
from notifications.domain.messages import subject_for
from notifications.metrics import NotificationMetrics
from notifications.push import PushTarget, UnusableSubscription, WebPushClient
from notifications.push_guard import EndpointRefused, parse_push_endpoint
from notifications.repositories import subscriptions
from notifications.repositories.deliveries import Claimed
from notifications.workers.delivery import DeliveryOptions, DeliveryWorker
from shopcommon.db import transaction
from shopcommon.tracing import continuing

log = logging.getLogger(__name__)

MAX_IN_FLIGHT = 10


def push_payload(event: OrderStatusChanged | TaskStatusChanged) -> bytes:
    """Small (push services take about 4 KB): what a notification needs, not the whole order. A
    task's push (to its worker) names the task too."""
    task = {"task_id": event.task_id, "category": event.category} if isinstance(event, TaskStatusChanged) else {}
    return orjson.dumps(
        {
            "type": event.type,
            "event_id": str(event.event_id),
            "order_id": event.order_id,
            **task,
            "status": event.status,
            "previous_status": event.previous_status,
            "title": subject_for(event),
            "occurred_at": event.occurred_at.isoformat(),
        }
    )


def pushed_event(payload: dict[str, object]) -> OrderStatusChanged | TaskStatusChanged:
    """The stored event a push tells of; ValueError for one no push is made of (a booking, a
    manager's stock or table change)."""
    try:
        event = parse_document(payload)
    except (MalformedEvent, UnknownEventType) as exc:
        raise ValueError(str(exc)) from exc
    if isinstance(event, (BookingStatusChanged, *STAFF_ONLY)):
        raise ValueError(f"{event.type} events are not pushed")
    return event


class PushSender(DeliveryWorker):
    channel = Channel.PUSH

    def __init__(
        self,
        sessionmaker: async_sessionmaker[AsyncSession],
        metrics: NotificationMetrics,
        options: DeliveryOptions,
        *,
        client: WebPushClient,
    ) -> None:
        super().__init__(sessionmaker, metrics, options)
        self.client = client
        self._in_flight = asyncio.Semaphore(MAX_IN_FLIGHT)

    async def deliver(self, claimed: list[Claimed]) -> None:
        unsent = await asyncio.gather(*(self._deliver_one(item) for item in claimed))
        await self.release([item for item in unsent if item is not None])

    async def _deliver_one(self, item: Claimed) -> Claimed | None:
        """Push one notification; the item when the lease left no time to begin."""
        # In the trace of the request that caused the event (the row keeps its context).
        async with self._in_flight:
            if not self.in_time():
                return item
            with continuing("send push", item.traceparent):
                try:
                    await self._push(item)
                except Exception as exc:  # a fault of ours: retried, and given up like any other failure
                    log.exception("notification %s: pushing failed unexpectedly", item.id)
                    await self.settle(item, DeliveryError("could not send", permanent=False, detail=repr(exc)))
        return None

    async def _push(self, item: Claimed) -> None:
        """Send one push and settle it."""
        async with self.sessionmaker() as session:
            sub = await subscriptions.get(session, item.subscription_id or 0)
        if sub is None:
            await self.settle(item, DeliveryError("subscription removed", permanent=True))
            return
        if sub.user_id != item.user_id:  # the browser was subscribed again, signed in as someone else
            await self.settle(item, DeliveryError("subscription moved to another account", permanent=True))
            return
        origin = endpoint_host(sub.endpoint)
        try:
            event = pushed_event(item.payload)
            await self.client.send(PushTarget(sub.endpoint, sub.p256dh, sub.auth), push_payload(event))
        except UnusableSubscription as exc:
            async with transaction(self.sessionmaker) as session:
                await subscriptions.delete_by_id(session, sub.id)
            await self.settle(item, exc, recipient=origin)
            return
        except DeliveryError as exc:
            await self.settle(item, exc, recipient=origin)
            return
        except ValueError as exc:
            await self.settle(item, DeliveryError("cannot build the message", permanent=True, detail=str(exc)))
            return
        log.debug("notification %s pushed", item.id)
        await self.settle(item, None, recipient=origin)


def endpoint_host(endpoint: str) -> str | None:
    """What the log names as the recipient: the push service's host, never the (secret) path."""
    try:
        return parse_push_endpoint(endpoint).host
    except EndpointRefused:
        return None
