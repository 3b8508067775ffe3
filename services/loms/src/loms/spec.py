from shopcommon.services import ServiceSpec

SPEC = ServiceSpec.for_package(
    "loms", port=9001, start_order=15, description="LOMS: orders, stock, reservations, expiry, outbox relay"
)
