from loms.models import metadata
from shopcommon.migrations import run_env

run_env(metadata, "LOMS_DATABASE_URL")
