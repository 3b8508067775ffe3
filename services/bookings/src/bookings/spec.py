from shopcommon.services import ServiceSpec


def _public_url(env: dict[str, str]) -> dict[str, str]:
    """Cancel links point at checkout's web pages, wherever this stack runs them."""
    checkout = env.get("SHOP_CHECKOUT_URL")
    return {"BOOKINGS_PUBLIC_URL": checkout} if checkout else {}


SPEC = ServiceSpec.for_package(
    "bookings",
    port=9004,
    start_order=30,
    description="Restaurant tables, prices over time, bookings, cancel links, outbox relay",
    extra_env=_public_url,
)
