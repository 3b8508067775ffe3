from pathlib import Path

from shopcommon.services import ServiceSpec


def _public_url(env: dict[str, str]) -> dict[str, str]:
    """Cancel links point at checkout's web pages, wherever this stack runs them."""
    checkout = env.get("SHOP_CHECKOUT_URL")
    return {"BOOKINGS_PUBLIC_URL": checkout} if checkout else {}


SPEC = ServiceSpec(
    name="bookings",
    port=9004,
    env_prefix="BOOKINGS_",
    app_factory="bookings.main:create_app",
    database="bookings",
    migrations=Path(__file__).resolve().parents[2] / "migrations",
    demo_data="bookings.demo:load_demo_data",
    start_order=30,
    extra_env=_public_url,
    description="Restaurant tables, prices over time, bookings, cancel links, outbox relay",
)
