from shopcommon.services import ServiceSpec

SPEC = ServiceSpec.for_package(
    "checkout", port=9000, start_order=20, description="Identity, carts, the public REST API"
)
