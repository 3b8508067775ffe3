"""fulfilment: a task per product category of a paid order, and the categories of skus

`tasks` holds one row per (order, category): the items of that category, the worker it is
assigned to and its status (`unassigned`, `assigned`, `in_progress`, `done`). The unique key is
what makes the fulfilment worker's creation idempotent: a pass that crashed wrote nothing, and
a pass that raced another writes each task once.

`task_queue` holds the paid orders whose tasks are still to be made. A trigger on `orders` fills
it in the payment's own transaction, so a payment can never be lost between its commit and the
fulfilment pass; the pass deletes an order's row in the transaction that creates its tasks. A
pass that dies midway rolls back whole, and the next one finds the row still there. The orders
paid before this migration are queued by it.

`sku_categories` caches what product-stub says each sku's category is, so a task pass asks
product-stub only about skus it has never seen.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import JSONB

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "sku_categories",
        sa.Column("sku", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("category", sa.String(100), nullable=False),
        sa.Column("fetched_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    )
    op.create_table(
        "tasks",
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("order_id", sa.BigInteger, sa.ForeignKey("orders.id", ondelete="CASCADE"), nullable=False),
        sa.Column("category", sa.String(100), nullable=False),
        sa.Column("items", JSONB, nullable=False),
        sa.Column("worker_id", sa.BigInteger, nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("assigned_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
        sa.UniqueConstraint("order_id", "category", name="uq_tasks_order_id_category"),
        sa.CheckConstraint("status IN ('unassigned', 'assigned', 'in_progress', 'done')", name="ck_tasks_status_known"),
        sa.CheckConstraint("(status = 'unassigned') = (worker_id IS NULL)", name="ck_tasks_worker_iff_assigned"),
    )
    # A worker's load (open tasks) and their last assignment, read under the category's lock.
    op.create_index(
        "ix_tasks_open_worker",
        "tasks",
        ["worker_id"],
        postgresql_where=sa.text("status IN ('assigned', 'in_progress')"),
    )
    op.create_index("ix_tasks_worker_assigned_at", "tasks", ["worker_id", "assigned_at"])
    # Lists: a worker's own tasks, newest first; everyone's.
    op.create_index("ix_tasks_worker_id_id", "tasks", ["worker_id", "id"])
    op.create_index("ix_tasks_status_id", "tasks", ["status", "id"])
    op.create_index(
        "ix_tasks_unassigned", "tasks", ["category", "id"], postgresql_where=sa.text("status = 'unassigned'")
    )
    op.create_table(
        "task_queue",
        sa.Column("order_id", sa.BigInteger, sa.ForeignKey("orders.id", ondelete="CASCADE"), primary_key=True),
        sa.Column("queued_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()),
    )
    op.execute("""
        CREATE FUNCTION loms_queue_paid_order() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            INSERT INTO task_queue (order_id) VALUES (NEW.id) ON CONFLICT DO NOTHING;
            RETURN NULL;
        END $$
    """)
    op.execute("""
        CREATE TRIGGER orders_paid_queue_tasks AFTER UPDATE OF status ON orders
        FOR EACH ROW WHEN (NEW.status = 'paid' AND OLD.status IS DISTINCT FROM 'paid')
        EXECUTE FUNCTION loms_queue_paid_order()
    """)
    op.execute("""
        INSERT INTO task_queue (order_id)
        SELECT o.id FROM orders o
        WHERE o.status = 'paid' AND NOT EXISTS (SELECT 1 FROM tasks t WHERE t.order_id = o.id)
    """)


def downgrade() -> None:
    op.execute("DROP TRIGGER orders_paid_queue_tasks ON orders")
    op.execute("DROP FUNCTION loms_queue_paid_order()")
    op.drop_table("task_queue")
    op.drop_table("tasks")
    op.drop_table("sku_categories")
