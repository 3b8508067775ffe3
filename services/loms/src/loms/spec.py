from pathlib import Path

from shopcommon.services import ServiceSpec

SPEC = ServiceSpec(
    name="loms",
    port=9001,
    env_prefix="LOMS_",
    app_factory="loms.main:create_app",
    database="loms",
    migrations=Path(__file__).resolve().parents[2] / "migrations",
    demo_data="loms.demo:load_demo_data",
    start_order=15,
    description="LOMS: orders, stock, reservations, expiry, outbox relay",
)
