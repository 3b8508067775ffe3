"""Who hears each event on the live stream.

Every event goes to every manager (`STAFF`: the desk shows the shop's orders, tasks and bookings
as they change; a manager's change of stock or of a table goes to them alone, for their open stock
and bookings pages). An order's or a booking's event goes to the user it belongs to as well (a guest's
booking to no user). A fulfilment task's event goes to the worker it is assigned to and to the
customer whose order it is (so their open order page shows its tasks and workers move).

A task event does not name the customer. Each order event names them, and an order's task events
follow its order events on the same partition, so the consumer remembers the order's customer in
Redis as its order events pass (`notifications:order-owner:<order id>`, kept 30 days after the
order's last event) and reads it back for the order's task events. An order whose customer is not
known there (its events older than that, or Redis emptied) has its task events streamed to the
worker and the managers only; its status changes still reach the customer.
"""

from __future__ import annotations

from collections.abc import Sequence

from redis.asyncio import Redis

from notifications.domain.events import Consumed, OrderStatusChanged, TaskStatusChanged
from notifications.stream import STAFF

OWNER_PREFIX = "notifications:order-owner:"
OWNER_SECONDS = 30 * 24 * 3600


async def stream_audiences(redis: Redis, events: Sequence[Consumed]) -> list[tuple[int, Consumed]]:
    """(audience, event) pairs, in the events' order: one Redis round trip for the whole chunk
    (the owners of its orders written, those of its tasks' orders read), none without either."""
    owners = {e.order_id: e.user_id for e in events if isinstance(e, OrderStatusChanged)}
    asked = sorted({e.order_id for e in events if isinstance(e, TaskStatusChanged)} - owners.keys())
    if owners or asked:
        async with redis.pipeline(transaction=False) as pipe:
            for order_id, user_id in owners.items():
                pipe.set(OWNER_PREFIX + str(order_id), user_id, ex=OWNER_SECONDS)
            for order_id in asked:
                pipe.get(OWNER_PREFIX + str(order_id))
            found = (await pipe.execute())[len(owners) :]
        owners |= {order_id: int(value) for order_id, value in zip(asked, found, strict=True) if value is not None}
    pairs: list[tuple[int, Consumed]] = []
    for event in events:
        if isinstance(event, TaskStatusChanged):
            # The worker it was taken from too: their open board lets it go.
            audiences = [event.worker_id, event.previous_worker_id, owners.get(event.order_id), STAFF]
        else:
            audiences = [event.user_id, STAFF]
        pairs += [(audience, event) for audience in dict.fromkeys(audiences) if audience is not None]
    return pairs
