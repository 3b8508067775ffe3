from typing import ClassVar

from pydantic_settings import SettingsConfigDict

from shopcommon.settings import ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="PRODUCT_", extra="ignore", populate_by_name=True)
    secret_fields: ClassVar[tuple[str, ...]] = ("token",)

    service_name: str = "product-stub"
    #: The token the route256 RPC endpoints expect in their body; `testtoken` in dev.
    token: str = "testtoken"
    #: Artificial latency of the RPC endpoints, like the real ProductService (0 = none).
    latency_ms: int = 0
    #: Server-side limit on RPC calls per second (0 = off); excess calls get 429.
    rate_limit_rps: float = 0.0
