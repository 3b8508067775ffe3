from product_stub.models import metadata
from shopcommon.migrations import run_env

run_env(metadata, "PRODUCT_DATABASE_URL")
