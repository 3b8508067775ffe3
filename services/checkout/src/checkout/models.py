"""All of checkout's tables on one metadata (Alembic diffs it); each domain defines its own."""

from checkout.db_metadata import metadata
from checkout.identity import tables as _identity_tables  # noqa: F401  (registers the tables)
from checkout.shopping import tables as _shopping_tables  # noqa: F401  (registers the tables)

__all__ = ["metadata"]
