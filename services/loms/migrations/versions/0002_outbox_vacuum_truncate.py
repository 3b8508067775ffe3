"""outbox: vacuums never truncate it

A queue table empties and refills all the time. Truncating its empty tail takes an exclusive
lock, which every order writing its event would wait behind; the space is reused anyway.

Revision ID: 0002
Revises: 0001
"""

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE outbox SET (vacuum_truncate = false, toast.vacuum_truncate = false)")


def downgrade() -> None:
    op.execute("ALTER TABLE outbox RESET (vacuum_truncate, toast.vacuum_truncate)")
