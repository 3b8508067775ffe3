"""Tables: the inbox of processed events, the notification log (also the delivery queue) and
the customers' web-push subscriptions."""

import sqlalchemy as sa
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

inbox_events = sa.Table(
    "inbox_events",
    metadata,
    sa.Column("event_id", sa.Uuid, primary_key=True),
    sa.Column("event_type", sa.String(100), nullable=False),
    sa.Column("order_id", sa.BigInteger, nullable=True),
    sa.Column("booking_id", sa.BigInteger, nullable=True),
    sa.Column("received_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    # The retention purge's way to the events past the retention.
    sa.Index("ix_inbox_events_received_at", "received_at"),
)

notifications = sa.Table(
    "notifications",
    metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("event_id", sa.Uuid, sa.ForeignKey("inbox_events.event_id", ondelete="CASCADE"), nullable=False),
    #: The customer the notification belongs to (their log); null for a booking made as a guest.
    sa.Column("user_id", sa.BigInteger, nullable=True),
    #: What it tells of: an order's status, or a booking's (exactly one of the two).
    sa.Column("order_id", sa.BigInteger, nullable=True),
    sa.Column("order_status", sa.String(32), nullable=True),
    sa.Column("booking_id", sa.BigInteger, nullable=True),
    sa.Column("booking_status", sa.String(32), nullable=True),
    sa.Column("channel", sa.String(16), nullable=False),
    #: The push subscription a push goes to; no foreign key: the log outlives a subscription.
    sa.Column("subscription_id", sa.BigInteger, nullable=True),
    #: The e-mail address used, or the push service's origin; known once sent.
    sa.Column("recipient", sa.String(320), nullable=True),
    sa.Column("subject", sa.String(300), nullable=False),
    sa.Column("payload", JSONB, nullable=False),
    sa.Column("status", sa.String(16), nullable=False, server_default=DeliveryStatus.PENDING.value),
    sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
    sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    sa.Column("last_error", sa.Text, nullable=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
    #: The W3C trace context the event's message carried: the sender's span continues it.
    sa.Column("traceparent", sa.Text, nullable=True),
    sa.CheckConstraint(f"channel IN ({sql_list(Channel)})", name="channel"),
    sa.CheckConstraint(f"status IN ({sql_list(DeliveryStatus)})", name="status"),
    sa.CheckConstraint(ABOUT_ONE_THING, name="about"),
    sa.CheckConstraint(f"channel = {sql_literal(Channel.EMAIL)} OR user_id IS NOT NULL", name="push_has_user"),
    sa.Index("ix_notifications_user_id_id", "user_id", "id"),
    sa.Index("ix_notifications_due", "channel", "next_attempt_at", postgresql_where=sa.text(f"status = {PENDING}")),
    sa.Index(
        "ix_notifications_pending_order", "order_id", "channel", "id", postgresql_where=sa.text(f"status = {PENDING}")
    ),
    sa.Index(
        "ix_notifications_pending_booking",
        "booking_id",
        "channel",
        "id",
        postgresql_where=sa.text(f"status = {PENDING}"),
    ),
    sa.Index("ix_notifications_event_id", "event_id"),
)

push_subscriptions = sa.Table(
    "push_subscriptions",
    metadata,
    sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
    sa.Column("user_id", sa.BigInteger, nullable=False),
    sa.Column("endpoint", sa.Text, nullable=False, unique=True),
    sa.Column("p256dh", sa.String(200), nullable=False),
    sa.Column("auth", sa.String(100), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    sa.Index("ix_push_subscriptions_user_id", "user_id"),
)
