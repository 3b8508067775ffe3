"""booking notifications: a notification tells of an order or a booking; a guest's has no user

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

ABOUT_ONE_THING = (
    "(order_id IS NOT NULL AND order_status IS NOT NULL AND booking_id IS NULL AND booking_status IS NULL)"
    " OR (order_id IS NULL AND order_status IS NULL AND booking_id IS NOT NULL AND booking_status IS NOT NULL)"
)


def upgrade() -> None:
    op.add_column("inbox_events", sa.Column("booking_id", sa.BigInteger, nullable=True))
    op.add_column("notifications", sa.Column("booking_id", sa.BigInteger, nullable=True))
    op.add_column("notifications", sa.Column("booking_status", sa.String(32), nullable=True))
    op.alter_column("notifications", "user_id", existing_type=sa.BigInteger, nullable=True)
    op.alter_column("notifications", "order_id", existing_type=sa.BigInteger, nullable=True)
    op.alter_column("notifications", "order_status", existing_type=sa.String(32), nullable=True)
    op.create_check_constraint("ck_notifications_about", "notifications", ABOUT_ONE_THING)
    op.create_check_constraint(
        "ck_notifications_push_has_user", "notifications", "channel = 'email' OR user_id IS NOT NULL"
    )
    op.create_index(
        "ix_notifications_pending_booking",
        "notifications",
        ["booking_id", "channel", "id"],
        postgresql_where=sa.text("status = 'pending'"),
    )


def downgrade() -> None:
    # Booking notifications have no place in the older schema.
    op.execute("DELETE FROM notifications WHERE booking_id IS NOT NULL OR user_id IS NULL")
    op.execute("DELETE FROM inbox_events WHERE booking_id IS NOT NULL")
    op.drop_index("ix_notifications_pending_booking", table_name="notifications")
    op.drop_constraint("ck_notifications_push_has_user", "notifications", type_="check")
    op.drop_constraint("ck_notifications_about", "notifications", type_="check")
    op.alter_column("notifications", "order_status", existing_type=sa.String(32), nullable=False)
    op.alter_column("notifications", "order_id", existing_type=sa.BigInteger, nullable=False)
    op.alter_column("notifications", "user_id", existing_type=sa.BigInteger, nullable=False)
    op.drop_column("notifications", "booking_status")
    op.drop_column("notifications", "booking_id")
    op.drop_column("inbox_events", "booking_id")
