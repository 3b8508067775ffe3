from pathlib import Path

from shopcommon.services import ServiceSpec

SPEC = ServiceSpec(
    name="checkout",
    port=9000,
    env_prefix="CHECKOUT_",
    app_factory="checkout.main:create_app",
    database="checkout",
    migrations=Path(__file__).resolve().parents[2] / "migrations",
    demo_data="checkout.demo:load_demo_data",
    start_order=20,
    description="Identity, carts, the public REST API",
)
