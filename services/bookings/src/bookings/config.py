from typing import Annotated, Self

from pydantic import Field, model_validator
from pydantic_settings import SettingsConfigDict

from shopcommon.outbox.settings import OutboxSettings
from shopcommon.settings import check_public_url, shared

Seconds = Annotated[float, Field(gt=0)]


class Settings(OutboxSettings):
    model_config = SettingsConfigDict(env_prefix="BOOKINGS_", extra="ignore", populate_by_name=True)

    service_name: str = "bookings"
    #: Where the web pages are (checkout): the cancel link in a guest's email is
    #: `<public_url>/bookings/cancel/<token>`. `make run` points it at the running checkout.
    public_url: str = "http://127.0.0.1:9000"

    booking_events_topic: str = "bookings.booking-events"
    booking_events_partitions: Annotated[int, Field(ge=1, le=64)] = 3

    #: The relay's pace (`OutboxSettings`): bookings publish far less often than orders change.
    relay_linger: Annotated[float, Field(ge=0, le=1)] = 0.005
    relay_batch_size: Annotated[int, Field(ge=1, le=10_000)] = 200
    relay_vacuum_after: Annotated[int, Field(ge=0)] = 2_000

    #: The public booking request makes the system e-mail the address typed into it, so requests
    #: are limited per client address (IPv6: per /64) and per e-mail address, each in a sliding
    #: window (seconds). Beyond a limit: 429 with Retry-After. 0 turns a limit off. Managers are not
    #: limited.
    requests_per_ip: Annotated[int, Field(ge=0)] = 5
    requests_per_ip_window: Annotated[int, Field(ge=1, le=86_400)] = 60
    requests_per_email: Annotated[int, Field(ge=0)] = 10
    requests_per_email_window: Annotated[int, Field(ge=1, le=86_400)] = 86_400
    #: Proxies whose `X-Forwarded-For` names the client (uvicorn's meaning and variable: IPs or CIDRs,
    #: `*` for any). The app applies uvicorn's own rule again, so the client is the same in-process,
    #: under uvicorn, and behind checkout's pages when they forward the guest's address.
    forwarded_allow_ips: str = shared("FORWARDED_ALLOW_IPS", "127.0.0.1,::1")

    #: Stored `Idempotency-Key` answers are kept this long, then purged.
    idempotency_retention: Seconds = 86_400.0
    purge_interval: Seconds = 600.0

    @model_validator(mode="after")
    def _public_url_outside_dev(self) -> Self:
        if not self.is_dev:
            check_public_url("BOOKINGS_PUBLIC_URL", self.public_url)
        return self

    def request_hits_retention(self) -> float:
        """How long a counted request matters: the longest window."""
        return float(max(self.requests_per_ip_window, self.requests_per_email_window))

    def relay_topics(self) -> dict[str, int]:
        return {self.booking_events_topic: self.booking_events_partitions}
