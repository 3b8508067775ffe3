"""orders: what a customer holds unpaid, counted under a per-user lock

A customer may hold only so many orders awaiting payment, and so many units of a sku across
them (`LOMS_MAX_UNPAID_ORDERS`, `LOMS_MAX_UNPAID_UNITS_PER_SKU`): stock is shared, and one
account must not keep it all reserved for the payment window again and again.

`loms_unpaid_refusal` is called by the statements that record an order (`repositories/orders.py`
for a create answered at once, `repositories/placement.py` for a placed one). It takes a
transaction-scoped advisory lock per user, in one global order, and then counts what the user
holds (`new` and `awaiting payment`), so two orders of one user are admitted one after the
other, while orders of different users never wait for each other. The counting is in a VOLATILE
function on purpose: each of its queries takes a fresh snapshot, one taken after the lock, and
so sees the orders of the transaction that held it. Counted in the calling statement, the count
would come from that statement's snapshot, taken before it waited for the lock, and would miss
them.

The partial index keeps the count to the orders a user holds now (at most the limit), however
many orders the user had before.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

#: The first key of the per-user advisory locks ('LOMS' in ASCII); the second is the user id's
#: hash (two users sharing one merely take turns).
USER_LOCK_SPACE = 0x4C4F4D53

FUNCTION = f"""
CREATE FUNCTION loms_unpaid_refusal(
    lock_users bigint[], owner bigint, skus bigint[], counts bigint[],
    max_orders int, max_units int, counting boolean
) RETURNS jsonb LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    locked text;
    unpaid int;
    refused jsonb;
BEGIN
    -- The locks first, in the order of their keys, whether or not this order is counted: a
    -- batch takes those of all its users in its first statement (see repositories/placement.py).
    -- One lock is taken by an assignment, which PL/pgSQL evaluates without starting a query.
    IF cardinality(lock_users) = 1 THEN
        locked := pg_advisory_xact_lock({USER_LOCK_SPACE}, hashint8(lock_users[1]));
    ELSIF cardinality(lock_users) > 1 THEN
        PERFORM pg_advisory_xact_lock({USER_LOCK_SPACE}, h)
        FROM (SELECT DISTINCT hashint8(u) AS h FROM unnest(lock_users) AS u ORDER BY 1) AS keys;
    END IF;
    IF NOT counting THEN
        RETURN NULL;
    END IF;
    -- Queries of a VOLATILE function see what was committed before they started: after the lock.
    SELECT count(*) INTO unpaid FROM orders o
    WHERE o.user_id = owner AND o.status IN ('new', 'awaiting payment');
    IF unpaid >= max_orders THEN
        RETURN jsonb_build_object('limit', 'max_unpaid_orders', 'value', max_orders, 'held', unpaid);
    END IF;
    IF unpaid = 0 THEN
        -- Nothing held: only this order's own lines can be too many.
        FOR n IN 1 .. coalesce(cardinality(skus), 0) LOOP
            IF counts[n] > max_units THEN
                RETURN jsonb_build_object('limit', 'max_unpaid_units_per_sku', 'value', max_units,
                                          'sku', skus[n], 'held', 0, 'requested', counts[n]);
            END IF;
        END LOOP;
        RETURN NULL;
    END IF;
    SELECT jsonb_build_object(
               'limit', 'max_unpaid_units_per_sku', 'value', max_units,
               'sku', l.sku, 'held', l.held, 'requested', l.count)
    INTO refused
    FROM (
        SELECT r.sku, r.count, coalesce((
            SELECT sum(i.count) FROM orders o JOIN order_items i ON i.order_id = o.id
            WHERE o.user_id = owner AND o.status IN ('new', 'awaiting payment') AND i.sku = r.sku
        ), 0) AS held
        FROM unnest(skus, counts) AS r(sku, count)
    ) AS l
    WHERE l.held + l.count > max_units
    ORDER BY l.sku
    LIMIT 1;
    RETURN refused;
END
$$
"""


def upgrade() -> None:
    op.create_index(
        "ix_orders_unpaid_user_id",
        "orders",
        ["user_id"],
        postgresql_where=sa.text("status IN ('new', 'awaiting payment')"),
    )
    op.execute(FUNCTION)


def downgrade() -> None:
    op.execute("DROP FUNCTION loms_unpaid_refusal(bigint[], bigint, bigint[], bigint[], int, int, boolean)")
    op.drop_index("ix_orders_unpaid_user_id", table_name="orders")
