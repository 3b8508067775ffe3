from shopcommon.services import ServiceSpec

SPEC = ServiceSpec.for_package(
    "notifications",
    port=9002,
    start_order=40,
    description="Order events told by email, web push and a live SSE stream",
    demo=False,
    links={"live stream": "/api/v1/events/stream"},
)
