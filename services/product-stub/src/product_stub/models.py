from sqlalchemy import BigInteger, CheckConstraint, Column, ForeignKey, Index, Integer, String, Table, Text

from shopcommon.db import naming_metadata

metadata = naming_metadata()


def _group(name: str) -> Table:
    """A named group of products (a category, a manufacturer): the two are kept alike."""
    return Table(
        name,
        metadata,
        Column("id", Integer, primary_key=True),
        Column("name", String(100), nullable=False, unique=True),
        Column("description", Text, nullable=False, server_default=""),
    )


categories = _group("categories")
manufacturers = _group("manufacturers")

products = Table(
    "products",
    metadata,
    Column("sku", BigInteger, primary_key=True, autoincrement=False),
    Column("name", String(200), nullable=False),
    Column("price", BigInteger, nullable=False),
    Column("description", Text, nullable=False, server_default=""),
    Column("category_id", Integer, ForeignKey("categories.id", ondelete="RESTRICT"), nullable=False),
    Column("manufacturer_id", Integer, ForeignKey("manufacturers.id", ondelete="RESTRICT"), nullable=False),
    CheckConstraint("sku BETWEEN 1 AND 4294967295", name="sku_range"),
    CheckConstraint("price BETWEEN 0 AND 4294967295", name="price_range"),
    Index("ix_products_category_sku", "category_id", "sku"),
    Index("ix_products_manufacturer_sku", "manufacturer_id", "sku"),
    Index("ix_products_price", "price"),
)
