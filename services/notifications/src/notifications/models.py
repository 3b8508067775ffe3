"""Tables: the inbox of processed events, the notification log (also the delivery queue) and
the customers' web-push subscriptions."""

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    Column,
    DateTime,
    ForeignKey,
    Identity,
    Index,
    Integer,
    String,
    Table,
    Text,
    Uuid,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB

from notifications.domain.delivery import Channel, DeliveryStatus
from shopcommon.db import naming_metadata
from shopcommon.statuses import sql_list, sql_literal

metadata = naming_metadata()
#: `'pending'`, as the queue's SQL spells it (`DeliveryStatus`).
PENDING = sql_literal(DeliveryStatus.PENDING)

#: A notification tells of an order or of a booking, with its status.
ABOUT_ONE_THING = (
    "(order_id IS NOT NULL AND order_status IS NOT NULL AND booking_id IS NULL AND booking_status IS NULL)"
    " OR (order_id IS NULL AND order_status IS NULL AND booking_id IS NOT NULL AND booking_status IS NOT NULL)"
)

inbox_events = Table(
    "inbox_events",
    metadata,
    Column("event_id", Uuid, primary_key=True),
    Column("event_type", String(100), nullable=False),
    Column("order_id", BigInteger, nullable=True),
    Column("booking_id", BigInteger, nullable=True),
    Column("received_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

notifications = Table(
    "notifications",
    metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    Column("event_id", Uuid, ForeignKey("inbox_events.event_id", ondelete="CASCADE"), nullable=False),
    #: The customer the notification belongs to (their log); null for a booking made as a guest.
    Column("user_id", BigInteger, nullable=True),
    #: What it tells of: an order's status, or a booking's (exactly one of the two).
    Column("order_id", BigInteger, nullable=True),
    Column("order_status", String(32), nullable=True),
    Column("booking_id", BigInteger, nullable=True),
    Column("booking_status", String(32), nullable=True),
    Column("channel", String(16), nullable=False),
    #: The push subscription a push goes to; no foreign key: the log outlives a subscription.
    Column("subscription_id", BigInteger, nullable=True),
    #: The e-mail address used, or the push service's origin; known once sent.
    Column("recipient", String(320), nullable=True),
    Column("subject", String(300), nullable=False),
    Column("payload", JSONB, nullable=False),
    Column("status", String(16), nullable=False, server_default=DeliveryStatus.PENDING.value),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("next_attempt_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("last_error", Text, nullable=True),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("sent_at", DateTime(timezone=True), nullable=True),
    #: The W3C trace context the event's message carried: the sender's span continues it.
    Column("traceparent", Text, nullable=True),
    CheckConstraint(f"channel IN ({sql_list(Channel)})", name="channel"),
    CheckConstraint(f"status IN ({sql_list(DeliveryStatus)})", name="status"),
    CheckConstraint(ABOUT_ONE_THING, name="about"),
    CheckConstraint(f"channel = {sql_literal(Channel.EMAIL)} OR user_id IS NOT NULL", name="push_has_user"),
    Index("ix_notifications_user_id_id", "user_id", "id"),
    Index("ix_notifications_due", "channel", "next_attempt_at", postgresql_where=text(f"status = {PENDING}")),
    Index("ix_notifications_pending_order", "order_id", "channel", "id", postgresql_where=text(f"status = {PENDING}")),
    Index(
        "ix_notifications_pending_booking", "booking_id", "channel", "id", postgresql_where=text(f"status = {PENDING}")
    ),
    Index("ix_notifications_event_id", "event_id"),
)

push_subscriptions = Table(
    "push_subscriptions",
    metadata,
    Column("id", BigInteger, Identity(), primary_key=True),
    Column("user_id", BigInteger, nullable=False),
    Column("endpoint", Text, nullable=False, unique=True),
    Column("p256dh", String(200), nullable=False),
    Column("auth", String(100), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Index("ix_push_subscriptions_user_id", "user_id"),
)
