"""catalogue: categories, manufacturers, products

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "categories",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("description", sa.Text, nullable=False, server_default=""),
        sa.PrimaryKeyConstraint("id", name="pk_categories"),
        sa.UniqueConstraint("name", name="uq_categories_name"),
    )
    op.create_table(
        "manufacturers",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("description", sa.Text, nullable=False, server_default=""),
        sa.PrimaryKeyConstraint("id", name="pk_manufacturers"),
        sa.UniqueConstraint("name", name="uq_manufacturers_name"),
    )
    op.create_table(
        "products",
        sa.Column("sku", sa.BigInteger, autoincrement=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("price", sa.BigInteger, nullable=False),
        sa.Column("description", sa.Text, nullable=False, server_default=""),
        sa.Column("category_id", sa.Integer, nullable=False),
        sa.Column("manufacturer_id", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("sku", name="pk_products"),
        sa.ForeignKeyConstraint(
            ["category_id"], ["categories.id"], name="fk_products_category_id_categories", ondelete="RESTRICT"
        ),
        sa.ForeignKeyConstraint(
            ["manufacturer_id"],
            ["manufacturers.id"],
            name="fk_products_manufacturer_id_manufacturers",
            ondelete="RESTRICT",
        ),
        sa.CheckConstraint("sku BETWEEN 1 AND 4294967295", name="ck_products_sku_range"),
        sa.CheckConstraint("price BETWEEN 0 AND 4294967295", name="ck_products_price_range"),
    )
    op.create_index("ix_products_category_sku", "products", ["category_id", "sku"])
    op.create_index("ix_products_manufacturer_sku", "products", ["manufacturer_id", "sku"])
    op.create_index("ix_products_price", "products", ["price"])


def downgrade() -> None:
    op.drop_table("products")
    op.drop_table("manufacturers")
    op.drop_table("categories")
