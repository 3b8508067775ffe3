"""outbox.traceparent: the W3C trace context of the request that wrote the event

The relay sends it as the message's `traceparent` header, so a consumer's work joins the trace of
the request that changed the booking. Nullable: rows written outside any trace carry none. Adding a
nullable column without a default rewrites nothing.

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
    op.add_column("outbox", sa.Column("traceparent", sa.Text(), nullable=True))


def downgrade() -> None:
    op.drop_column("outbox", "traceparent")
