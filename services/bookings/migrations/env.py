from bookings.models import metadata
from shopcommon.migrations import run_env

run_env(metadata, "BOOKINGS_DATABASE_URL")
