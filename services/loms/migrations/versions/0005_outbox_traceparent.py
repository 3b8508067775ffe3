"""outbox.traceparent: the W3C trace context of the request that wrote the event

The relay sends it as the message's `traceparent` header, so a consumer's work joins the trace of
the request that changed the order. Nullable: rows written outside any trace carry none. Adding a
nullable column without a default rewrites nothing.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("outbox", sa.Column("traceparent", sa.Text(), nullable=True))


def downgrade() -> None:
    op.drop_column("outbox", "traceparent")
