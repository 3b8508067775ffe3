"""The one SQLAlchemy metadata of checkout's database: every domain's `tables.py` defines its
tables on it and `models.py` gathers them for Alembic. It imports neither, so no import circles."""

from shopcommon.db import naming_metadata

metadata = naming_metadata()
