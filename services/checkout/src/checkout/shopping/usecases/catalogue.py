"""The public catalogue: product-stub's products with `quantity_in_stock` from LOMS.

One request per page to each service, never one per item: a page of products from product-stub,
then one batch stock read from LOMS for the skus on it.

Composed answers are kept in-process (`Shopping.pages`, keyed by the decoded query) for
`listing_max_age` seconds, counted from the moment their refill started, and refilled once however
many requests ask at the same time: a sale or a stock change in LOMS shows in the listing within
`listing_max_age` (0.5 s by default); a name or price change within that plus
`catalogue_cache_ttl`. What is shown is information: LOMS's reservation alone decides whether an
order gets its units. Each answer is kept with its JSON, so the API routes send it as it is.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Generic, TypeVar

import orjson
from pydantic import BaseModel

from checkout.shopping.catalogue_source import cache_key
from checkout.shopping.deps import run_together
from checkout.shopping.lifespan import Shopping
from checkout.shopping.schemas import Product
from shopcommon.pagination import After, Page, decode_cursor, encode_cursor
from shopcommon.problems import NotFound, ProblemError

#: product-stub's largest page.
MAX_FETCH = 200
M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True)
class Composed(Generic[M]):
    """An answer and its JSON, encoded once when it was composed."""

    value: M
    body: bytes

    @classmethod
    def of(cls, value: M) -> Composed[M]:
        return cls(value, orjson.dumps(value.model_dump()))


@dataclass(frozen=True)
class ProductFilters:
    category: str | None = None
    manufacturer: str | None = None
    min_price: int | None = None
    max_price: int | None = None
    in_stock: bool | None = None

    def params(self) -> list[tuple[str, Any]]:
        values = {
            "category": self.category,
            "manufacturer": self.manufacturer,
            "min_price": self.min_price,
            "max_price": self.max_price,
        }
        return [(k, v) for k, v in values.items() if v is not None]


async def list_products(shop: Shopping, *, limit: int, cursor: str | None, filters: ProductFilters) -> Page[Product]:
    return (await composed_listing(shop, limit=limit, cursor=cursor, filters=filters)).value


async def composed_listing(
    shop: Shopping, *, limit: int, cursor: str | None, filters: ProductFilters
) -> Composed[Page[Product]]:
    """The page with its JSON, from the page cache (refilled at most once per `listing_max_age`)."""
    after = _after(cursor)
    query: list[tuple[str, Any]] = [("limit", limit), ("after", after), ("in_stock", filters.in_stock)]
    key = cache_key("products", query + filters.params())

    async def refill() -> Composed[Page[Product]]:
        return Composed.of(await _compose_page(shop, limit=limit, after=after, filters=filters))

    return await shop.pages.get(key, refill)


async def _compose_page(shop: Shopping, *, limit: int, after: int | None, filters: ProductFilters) -> Page[Product]:
    # Filtering on stock can drop products, so ask for more to keep the page full in one round trip.
    fetch = limit if filters.in_stock is None else min(MAX_FETCH, max(limit * 2, limit + 20))
    params: list[tuple[str, Any]] = [("limit", fetch), *filters.params()]
    if after is not None:
        # product-stub's cursors are shopcommon keyset cursors on the sku, as ours are.
        params.append(("cursor", encode_cursor(After(after=after))))
    page = await shop.catalogue.get("/api/v1/products", params)
    fetched: list[dict[str, Any]] = page["items"]
    stock = await shop.loms.available_many(p["sku"] for p in fetched)
    items = [_with_stock(p, stock.get(p["sku"], 0)) for p in fetched]
    if filters.in_stock is not None:
        items = [p for p in items if (p.quantity_in_stock > 0) == filters.in_stock]
    next_after: int | None = None
    if len(items) > limit:
        items = items[:limit]
        next_after = items[-1].sku
    elif page.get("next_cursor") and fetched:
        next_after = fetched[-1]["sku"]
    return Page[Product](items=items, next_cursor=encode_cursor(After(after=next_after)) if next_after else None)


async def get_product(shop: Shopping, *, sku: int, caller: str) -> Product:
    """One product with its stock. An sku ProductService's listing lacks is 404 without asking
    product-stub or LOMS; one the listing cannot vouch for is charged to `caller`'s lookup quota."""
    return (await composed_product(shop, sku=sku, caller=caller)).value


async def product_names(shop: Shopping, skus: list[int], *, caller: str) -> dict[int, str]:
    """The products' names, where the catalogue still has them (an order outlives its products)."""

    async def name(sku: int) -> tuple[int, str | None]:
        try:
            return sku, (await get_product(shop, sku=sku, caller=caller)).name
        except ProblemError:
            return sku, None

    found = await run_together(*(name(sku) for sku in dict.fromkeys(skus[:50])))
    return {sku: text for sku, text in found if text}


async def composed_product(shop: Shopping, *, sku: int, caller: str) -> Composed[Product]:
    """The product with its JSON, from the page cache (refilled at most once per `listing_max_age`)."""
    key = f"sku:{sku}"
    hit: Composed[Product] | None = shop.pages.fresh(key)
    if hit is not None:
        return hit
    path = f"/api/v1/products/{sku}"
    if shop.catalogue.peek(path, []) is None and not await shop.products.vet(sku, caller=caller):
        raise NotFound(f"sku {sku} not found")

    async def refill() -> Composed[Product]:
        product, available = await run_together(shop.catalogue.get(path, []), shop.loms.available(sku))
        return Composed.of(_with_stock(product, available))

    return await shop.pages.get(key, refill)


async def product_description(shop: Shopping, *, sku: int) -> str:
    """What the catalogue says of an instrument, for its page. The API's product answer does not
    carry it (CONTRACT.md fixes its fields); product-stub's own product answer does, and is cached.
    A courtesy: when the catalogue cannot say it now, the page shows the product without it."""
    try:
        product = await shop.catalogue.get(f"/api/v1/products/{sku}", [])
    except ProblemError:
        return ""
    return str(product.get("description") or "")


def _after(cursor: str | None) -> int | None:
    position = decode_cursor(cursor, After)
    return position.after if position else None


def _with_stock(product: dict[str, Any], available: int) -> Product:
    return Product(
        sku=product["sku"],
        name=product["name"],
        price=product["price"],
        quantity_in_stock=available,
        category=product["category"],
        manufacturer=product["manufacturer"],
    )
