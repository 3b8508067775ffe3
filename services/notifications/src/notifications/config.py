from datetime import tzinfo
from typing import ClassVar, Self
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AliasChoices, Field, field_validator, model_validator
from pydantic_settings import SettingsConfigDict

from notifications.domain.addresses import parse_networks
from shopcommon.devsecrets import dev_secret
from shopcommon.settings import ServiceSettings, check_public_url, shared

#: Where mail goes in dev mode when `SMTP_URL` is not set: the embedded catcher of `make run`.
DEV_SMTP_URL = "smtp://127.0.0.1:1025"


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="NOTIFICATIONS_", extra="ignore", populate_by_name=True)
    secret_fields: ClassVar[tuple[str, ...]] = ("client_secret", "vapid_private_key")

    service_name: str = "notifications"

    #: Where the events come from; LOMS's own variable names it for both services.
    loms_events_topic: str = Field(
        default="loms.order-events",
        validation_alias=AliasChoices("LOMS_ORDER_EVENTS_TOPIC", "LOMS_EVENTS_TOPIC", "loms_events_topic"),
    )
    #: The bookings service's events; the bookings service's variable names it for both. Empty: not read.
    booking_events_topic: str = Field(
        default="bookings.booking-events",
        validation_alias=AliasChoices("BOOKINGS_BOOKING_EVENTS_TOPIC", "booking_events_topic"),
    )
    #: Partitions to create a topic with when this service finds it missing (a fresh broker).
    events_topic_partitions: int = 3
    consumer_group: str = "notifications"
    consumer_batch_size: int = 200
    #: Events recorded per transaction (a chunk of one partition's batch).
    consumer_transaction_size: int = 50
    #: How long the broker may hold a fetch open when nothing is new (lower = less latency, more polls).
    consumer_fetch_wait_ms: int = 50

    # Each worker can be switched off, e.g. to run consumers and senders as separate processes.
    consumer_enabled: bool = True
    email_sender_enabled: bool = True
    push_sender_enabled: bool = True

    # Identity: e-mail addresses come from checkout's users API, read with a `service` token.
    checkout_url: str = shared("SHOP_CHECKOUT_URL", "http://127.0.0.1:9000")
    client_id: str = "notifications"
    #: Empty in dev: the dev stack's generated `client-notifications` secret.
    client_secret: str = ""
    user_cache_seconds: float = 300.0
    #: Product names for the e-mails, from product-stub's public catalogue.
    product_stub_url: str = shared("SHOP_PRODUCT_STUB_URL", "http://127.0.0.1:9003")
    product_name_cache_seconds: float = 600.0

    #: Required outside dev (startup refuses without it); dev falls back to the embedded catcher.
    smtp_url: str = shared("SMTP_URL", "")
    smtp_timeout_seconds: float = 10.0
    #: SMTP connections a batch of e-mails is spread over.
    smtp_connections: int = 4
    mail_from: str = "Shop <orders@shop.example>"
    #: Links in e-mails point at the storefront.
    public_url: str = shared("SHOP_PUBLIC_URL", "http://127.0.0.1:9000")
    #: The zone booking e-mails show times in, an IANA name (`Europe/Moscow`: the restaurant's);
    #: empty shows them in the offset the event carries (the bookings service sends UTC).
    booking_time_zone: str = ""

    # Deliveries (email and push): a table worked with retries and exponential backoff.
    delivery_batch_size: int = 50
    delivery_poll_seconds: float = 0.5
    delivery_lease_seconds: float = 60.0
    retry_base_seconds: float = 1.0
    retry_max_seconds: float = 300.0
    #: Tries before a notification is given up: with the defaults, e-mail keeps trying for about an
    #: hour (1 s doubling to the 300 s cap), push for about 18 minutes.
    email_max_attempts: int = 20
    push_max_attempts: int = 12

    # Web push. Empty in dev: a key generated into the dev stack's secrets.
    vapid_private_key: str = ""
    vapid_subject: str = "mailto:orders@shop.example"
    push_ttl_seconds: int = 86400
    #: The overall deadline of one send: resolving, connecting, TLS, the request and the answer.
    push_timeout_seconds: float = Field(default=10.0, gt=0)
    #: How much of a push service's answer is read (it is only logged).
    push_max_response_bytes: int = Field(default=4096, ge=0)
    #: How long subscribing waits for the endpoint's host to resolve.
    push_resolve_timeout_seconds: float = Field(default=5.0, gt=0)
    #: Extra trusted CA certificates (PEM file) for push services, besides the public ones.
    push_ca_file: str = ""
    #: Networks treated as public for push endpoints, comma-separated (`127.0.0.1/32`): a push
    #: service on this machine in dev and tests. Refused outside dev.
    push_allowed_networks: str = ""
    max_subscriptions_per_user: int = 20

    #: Events (with their notifications) are forgotten after this long; 0 keeps them for ever.
    retention_days: float = 90.0

    # The live stream.
    sse_heartbeat_seconds: float = 10.0
    sse_history_seconds: int = 600
    sse_history_max: int = 200
    #: Open streams a user may hold across all replicas, and streams one process serves.
    sse_max_streams_per_user: int = Field(default=5, ge=1)
    sse_max_streams: int = Field(default=1000, ge=1)

    @field_validator("booking_time_zone")
    @classmethod
    def _known_time_zone(cls, name: str) -> str:
        if name.strip():
            try:
                ZoneInfo(name.strip())
            except (ZoneInfoNotFoundError, ValueError) as exc:
                raise ValueError(f"not a time zone this system knows: {name!r}") from exc
        return name.strip()

    def booking_zone(self) -> tzinfo | None:
        return ZoneInfo(self.booking_time_zone) if self.booking_time_zone else None

    @model_validator(mode="after")
    def _public_url_outside_dev(self) -> Self:
        if not self.is_dev:
            check_public_url("SHOP_PUBLIC_URL", self.public_url)
        return self

    @model_validator(mode="after")
    def _push_exemptions_only_in_dev(self) -> Self:
        networks = parse_networks(self.push_allowed_networks)  # ValueError names a bad entry
        if networks and not self.is_dev:
            raise ValueError(
                "NOTIFICATIONS_PUSH_ALLOWED_NETWORKS is for dev and tests only: outside dev a push "
                "endpoint must resolve to public addresses"
            )
        return self

    def resolved_client_secret(self) -> str:
        return self.client_secret or (dev_secret("client-notifications") if self.is_dev else "")

    def resolved_vapid_private_key(self) -> str:
        return self.vapid_private_key or (dev_secret("vapid-private-key") if self.is_dev else "")

    def resolved_smtp_url(self) -> str:
        """The SMTP server mail goes to; outside dev there is no default (RuntimeError)."""
        if self.smtp_url.strip():
            return self.smtp_url.strip()
        if not self.is_dev:
            raise RuntimeError(
                "SMTP_URL must name the outgoing mail server outside dev mode "
                "(or set NOTIFICATIONS_EMAIL_SENDER_ENABLED=false on a process that sends no e-mail)"
            )
        return DEV_SMTP_URL
