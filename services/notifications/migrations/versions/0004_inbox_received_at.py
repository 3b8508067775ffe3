"""inbox_events.received_at indexed: the retention purge finds events past the retention by it

Without the index every purge slice (5,000 rows) read the whole inbox. Built CONCURRENTLY, so a
deployment that upgrades a large inbox keeps recording events meanwhile.

Revision ID: 0004
Revises: 0003
"""

from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.get_context().autocommit_block():
        op.create_index(
            "ix_inbox_events_received_at",
            "inbox_events",
            ["received_at"],
            postgresql_concurrently=True,
            if_not_exists=True,
        )


def downgrade() -> None:
    with op.get_context().autocommit_block():
        op.drop_index("ix_inbox_events_received_at", "inbox_events", postgresql_concurrently=True, if_exists=True)
