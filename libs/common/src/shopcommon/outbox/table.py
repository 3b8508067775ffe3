"""The outbox table's typed picture, the same in every service that publishes events."""

from sqlalchemy import BigInteger, Column, DateTime, Identity, MetaData, String, Table, Text, func
from sqlalchemy.dialects.postgresql import JSONB


def outbox_table(metadata: MetaData, name: str = "outbox") -> Table:
    """Events not yet published; the relay deletes each row once the broker has acknowledged it.

    A queue: each service's migrations set vacuum_truncate = false on it (truncating its emptied
    tail takes a lock every writer would queue behind)."""
    return Table(
        name,
        metadata,
        Column("id", BigInteger, Identity(), primary_key=True),
        Column("topic", String(249), nullable=False),
        Column("key", String(64), nullable=False),
        Column("payload", JSONB, nullable=False),
        Column("request_id", String(128), nullable=True),
        Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        # The W3C trace context of the writing request, sent along by the relay (shopcommon.tracing).
        Column("traceparent", Text, nullable=True),
    )
