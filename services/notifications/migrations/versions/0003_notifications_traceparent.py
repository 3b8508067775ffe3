"""notifications.traceparent: the W3C trace context of the event that caused the notification

The consumer keeps the context the event's message carried (the relay sent it from the outbox
row of the request that changed the order or booking); the sender's span continues it, so the
e-mail and the push join that request's trace. Nullable: events published outside any trace
carry none. Adding a nullable column without a default rewrites nothing.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("notifications", sa.Column("traceparent", sa.Text(), nullable=True))


def downgrade() -> None:
    op.drop_column("notifications", "traceparent")
