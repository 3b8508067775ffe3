from typing import Annotated, ClassVar

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from loms.domain.limits import MAX_UNPAID_ORDERS, MAX_UNPAID_UNITS_PER_SKU, UnpaidLimits
from shopcommon.devsecrets import dev_secret
from shopcommon.outbox.settings import OutboxSettings
from shopcommon.settings import shared

Seconds = Annotated[float, Field(gt=0)]


class Settings(OutboxSettings):
    model_config = SettingsConfigDict(env_prefix="LOMS_", extra="ignore", populate_by_name=True)

    service_name: str = "loms"
    secret_fields: ClassVar[tuple[str, ...]] = ("client_secret",)
    #: Reads, pay, cancel and the workers; orders are written on `order_writers` connections of their own.
    db_pool_size: int = 20
    db_max_overflow: int = 10
    #: The connections a process writes orders on: batches of placed orders (`order_lanes` of them
    #: at once), and creates without `Prefer: wait` (recorded `new`), each on a connection of its
    #: own; more queue for one, first come first served. Every write on them is a single
    #: statement or one pipelined transaction, so a writer never sits in a transaction holding
    #: row locks while it waits for the event loop.
    order_writers: Annotated[int, Field(ge=1, le=1000)] = 32
    #: Creates with `Prefer: wait` place their orders in batches (`services/order_placer.py`): at
    #: most this many batches at once per process, each on a writer. Concurrent batches nearly
    #: always share skus and wait for each other's locks; one lane gave the steadiest tail
    #: (bench/loms/README.md).
    order_lanes: Annotated[int, Field(ge=1, le=1000)] = 1
    #: The most orders in one batch (one transaction).
    order_batch_max: Annotated[int, Field(ge=1, le=1000)] = 64

    #: Allocations between young-generation garbage collections (CPython's default is 700).
    gc_young_threshold: Annotated[int, Field(ge=100, le=1_000_000)] = 20_000

    #: How long an order may stay `awaiting payment` before the expiry worker cancels it.
    payment_timeout: Seconds = 600.0
    #: What one user may hold unpaid (`new` or `awaiting payment`) at once, whoever creates the
    #: orders for them (`domain/limits.py`); beyond either limit a create is refused with 409.
    max_unpaid_orders: Annotated[int, Field(ge=1, le=1_000_000)] = MAX_UNPAID_ORDERS
    #: Units of one sku across the user's unpaid orders (an order of more is refused whole).
    max_unpaid_units_per_sku: Annotated[int, Field(ge=1, le=1_000_000_000)] = MAX_UNPAID_UNITS_PER_SKU
    #: The longest `Prefer: wait=N` honoured (RFC 7240); larger values are capped.
    max_prefer_wait: Annotated[int, Field(ge=0, le=30)] = 30

    order_events_topic: str = "loms.order-events"
    order_events_partitions: Annotated[int, Field(ge=1, le=64)] = 3

    intake_enabled: bool = True
    expiry_enabled: bool = True

    #: The intake worker (it reserves the orders created without `Prefer: wait`) is woken by each
    #: such order; it also looks this often.
    intake_poll_interval: Seconds = 0.5
    expiry_interval: Seconds = 0.5
    expiry_batch_size: Annotated[int, Field(ge=1, le=10_000)] = 200

    #: A request holding an `Idempotency-Key` this long without finishing is presumed dead.
    idempotency_stale_after: Seconds = 60.0
    idempotency_retention: Seconds = 86_400.0

    # Fulfilment (`services/fulfilment.py`): tasks of paid orders, assigned to checkout's workers.
    fulfilment_enabled: bool = True
    #: A pass runs this often, and at once when an outbox write (a payment) is notified.
    fulfilment_interval: Seconds = 1.0
    #: Orders whose tasks one transaction makes, and tasks one transaction assigns or moves.
    fulfilment_batch_size: Annotated[int, Field(ge=1, le=1_000)] = 50
    #: How long the roster of workers read from checkout is used before it is read again; a
    #: category without a worker (or a manager naming an unknown one) reads it at once, at most
    #: every `workers_min_refresh` seconds.
    workers_ttl: Seconds = 5.0
    workers_min_refresh: Seconds = 1.0
    #: Where the workers (`GET /api/v1/users?role=worker`) and LOMS's `service` token come from.
    checkout_url: str = shared("SHOP_CHECKOUT_URL", "http://127.0.0.1:9000")
    #: Where each sku's category comes from (`GET /api/v1/products?sku=...`).
    product_stub_url: str = shared("SHOP_PRODUCT_STUB_URL", "http://127.0.0.1:9003")
    client_id: str = "loms"
    #: Empty in dev: the dev stack's generated `client-loms` secret (checkout knows it too).
    client_secret: str = ""
    #: Timeout of each call to checkout and product-stub.
    peer_timeout: Seconds = 5.0

    def resolved_client_secret(self) -> str:
        return self.client_secret or (dev_secret("client-loms") if self.is_dev else "")

    @property
    def unpaid_limits(self) -> UnpaidLimits:
        return UnpaidLimits(self.max_unpaid_orders, self.max_unpaid_units_per_sku)

    def relay_topics(self) -> dict[str, int]:
        return {self.order_events_topic: self.order_events_partitions}
