"""inbox_events.received_at indexed: the retention purge finds events past the retention by it

Without the index every purge slice (5,000 rows) read the whole inbox. Built CONCURRENTLY, so a
deployment that upgrades a large inbox keeps recording events meanwhile.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


_INVALID = """
    SELECT 1 FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid
    WHERE c.relname = 'ix_inbox_events_received_at' AND NOT i.indisvalid
"""


def upgrade() -> None:
    with op.get_context().autocommit_block():
        # A concurrent build cut short leaves an invalid index behind: built again, not kept.
        if op.get_bind().execute(sa.text(_INVALID)).first() is not None:
            op.drop_index("ix_inbox_events_received_at", "inbox_events", postgresql_concurrently=True)
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
