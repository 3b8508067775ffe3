from checkout.models import metadata
from shopcommon.migrations import run_env

run_env(metadata, "CHECKOUT_DATABASE_URL")
