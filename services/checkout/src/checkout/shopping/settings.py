from typing import Any

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings

from shopcommon.settings import is_placeholder, shared


class ShoppingSettings(BaseSettings):
    """Cart, ProductService client and LOMS client settings, read with the CHECKOUT_ prefix."""

    product_stub_url: str = shared("SHOP_PRODUCT_STUB_URL", "http://127.0.0.1:9003")
    loms_url: str = shared("SHOP_LOMS_URL", "http://127.0.0.1:9001")

    #: The ProductService token sent in the body of `/get_product` (a secret outside dev).
    product_token: str = "testtoken"
    #: Requests per second to ProductService, shared by every checkout replica through Redis.
    product_rate_limit_rps: float = 10.0
    #: How many requests may go at once after a pause (1 = evenly spaced).
    product_rate_limit_burst: int = 1
    #: Longest wait for a rate-limit slot before answering 503 instead.
    product_rate_limit_max_wait: float = 10.0
    #: ProductService requests in flight for one cart.
    product_concurrency: int = 5
    #: Seconds a product's name and price stay cached in Redis.
    product_cache_ttl: float = 60.0
    #: Seconds after which a cached product that is read is fetched again in the background (one
    #: fetch per sku across replicas), so hot skus never expire under a request. 0 = never.
    product_cache_refresh_after: float = Field(30.0, ge=0)
    #: Seconds an "unknown sku" answer stays cached (a later sku listing naming the sku overrides it).
    product_missing_ttl: float = 300.0
    #: Seconds a listing of ProductService's skus (`/list_skus`, kept in Redis for every replica) may
    #: say a sku it lacks does not exist, without asking. A sku missing from an older listing
    #: refreshes it, at most once per this interval: a new product is known within it. 0 = no listing.
    product_known_skus_max_age: float = Field(10.0, ge=0)
    #: Skus per `/list_skus` request: ProductService's largest page (product-stub's is 10,000); a
    #: shorter page ends the listing, so this must not exceed what ProductService answers.
    product_list_page: int = Field(10_000, ge=1, le=10_000)
    #: Lookups a minute one caller (a user; an anonymous client by its address) may cause of skus
    #: the listing cannot vouch for (no listing to be had); beyond it 429 with Retry-After. 0 = off.
    product_lookup_quota: int = Field(20, ge=0)
    #: Tries per product (the first and the retries) on 420, 429, 5xx and network errors.
    product_tries: int = 3
    #: Timeout of one ProductService request, seconds.
    product_timeout: float = 2.0
    #: First retry delay, seconds; doubles each try, with full jitter.
    product_backoff: float = 0.1
    product_backoff_max: float = 2.0

    #: Seconds a page of product-stub's REST catalogue (names, prices) is reused (0 = off).
    catalogue_cache_ttl: float = Field(0.5, ge=0)
    #: Seconds a composed answer (a catalogue page or a product with LOMS's stock, a cart listing)
    #: is reused, counted from when it was read: a sale or a stock change shows in the listing within
    #: it; a price change within it plus `catalogue_cache_ttl` (defaults: 0.5 s and at most 1 s).
    #: 0 = compose every request (still one refill for requests arriving together).
    listing_max_age: float = Field(0.5, ge=0, le=1.0)

    #: Timeout of one LOMS request (beyond the `Prefer: wait` it is asked for), seconds.
    loms_timeout: float = 5.0
    #: `Prefer: wait=N` on order creation: how long LOMS may take to settle the reservation.
    loms_order_wait: int = 10

    #: Distinct skus one cart may hold: an order takes at most 200 lines (LOMS), so a cart never
    #: holds more than can be checked out in one order.
    cart_max_lines: int = Field(200, ge=1, le=200)

    #: Prefix of checkout's shopping keys in Redis (tests give each run its own).
    shopping_redis_prefix: str = "checkout:"

    @model_validator(mode="after")
    def _refuse_placeholder_product_token(self) -> Any:
        if getattr(self, "is_dev", True):
            return self
        if is_placeholder(self.product_token):
            raise ValueError("CHECKOUT_PRODUCT_TOKEN must be set to the real ProductService token outside dev mode")
        return self
