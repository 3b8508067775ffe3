from pathlib import Path

from shopcommon.services import ServiceSpec

SPEC = ServiceSpec(
    name="notifications",
    port=9002,
    env_prefix="NOTIFICATIONS_",
    app_factory="notifications.main:create_app",
    database="notifications",
    migrations=Path(__file__).resolve().parents[2] / "migrations",
    start_order=40,
    description="Order events told by email, web push and a live SSE stream",
    links={"live stream": "/api/v1/events/stream"},
)
