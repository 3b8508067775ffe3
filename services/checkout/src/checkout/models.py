"""All of checkout's tables on one metadata (Alembic diffs it); each domain defines its own."""

from shopcommon.db import naming_metadata

metadata = naming_metadata()

# Import the domain modules so their tables register on `metadata`.
from checkout.identity import tables as _identity_tables  # noqa: E402, F401
from checkout.shopping import tables as _shopping_tables  # noqa: E402, F401
