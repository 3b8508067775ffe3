from notifications.models import metadata
from shopcommon.migrations import run_env

run_env(metadata, "NOTIFICATIONS_DATABASE_URL")
