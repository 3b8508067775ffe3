"""bookings: request_hits, the sliding windows of the public request's rate limits

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "request_hits",
        sa.Column("id", sa.BigInteger, sa.Identity(), nullable=False),
        sa.Column("bucket", sa.String(80), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False, server_default=sa.text("now()")),
        sa.PrimaryKeyConstraint("id", name="pk_request_hits"),
    )
    # A bucket's window (count and oldest hit) and the purge of old hits.
    op.create_index("ix_request_hits_bucket_at", "request_hits", ["bucket", "at"])
    op.create_index("ix_request_hits_at", "request_hits", ["at"])
    # Rows come and go by the minute: a queue-like table, as the outbox.
    op.execute("ALTER TABLE request_hits SET (vacuum_truncate = false)")


def downgrade() -> None:
    op.drop_table("request_hits")
