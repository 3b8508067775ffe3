"""LOMS's outbox (`shopcommon.outbox`): the `order.status_changed` events, keyed by order id so
each order's events stay in order, written by the statement of the change they describe; and the
`stock.changed` events of the managers' stock administration, keyed `stock:<warehouse>:<sku>`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from shopcommon.outbox import UNNESTED, OutboxMessage, OutboxStore, event_params

#: The table of migration 0001; its channel and the relays' advisory lock key ("LOMSOUTB" in
#: ASCII) are the ones LOMS has always used, so replicas of every version agree on them.
OUTBOX = OutboxStore("outbox", channel="loms_outbox", lock_key=0x4C4F4D534F555442)


def events_cte(rows: str = UNNESTED) -> str:
    """The `events` CTE of a statement: the outbox INSERT of `rows` (see `OutboxStore.insert_sql`),
    by default the events of `params`, in their order."""
    return f"events AS ({OUTBOX.insert_sql(rows)})"


def params(topic: str, request_id: str | None, events: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Bind parameters for `EVENTS_CTE`; each event is keyed by its order id in decimal."""
    return event_params(topic, request_id, [OutboxMessage(str(e["order_id"]), e) for e in events])


async def write_stock_event(conn: AsyncConnection, topic: str, event: dict[str, Any]) -> None:
    """A `stock.changed` event into the outbox, in the caller's transaction; the relays wake at commit."""
    key = f"stock:{event['warehouse_id']}:{event['sku']}"
    await OUTBOX.add(conn, topic, [OutboxMessage(key, event)])
