"""The public catalogue: product-stub's products with `quantity_in_stock` from LOMS.

One request per page to each service, never one per item: a page of products from product-stub,
then one batch stock read from LOMS for the skus on it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from checkout.shopping.deps import run_together
from checkout.shopping.lifespan import Shopping
from checkout.shopping.schemas import Product
from shopcommon.pagination import BadCursor, Page, decode_cursor, encode_cursor
from shopcommon.problems import NotFound

#: product-stub's largest page.
MAX_FETCH = 200


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
    after = _after(cursor)
    # Filtering on stock can drop products, so ask for more to keep the page full in one round trip.
    fetch = limit if filters.in_stock is None else min(MAX_FETCH, max(limit * 2, limit + 20))
    params: list[tuple[str, Any]] = [("limit", fetch), *filters.params()]
    if after is not None:
        # product-stub's cursors are shopcommon keyset cursors on the sku, as ours are.
        params.append(("cursor", encode_cursor({"after": after})))
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
    return Page[Product](items=items, next_cursor=encode_cursor({"after": next_after}) if next_after else None)


async def get_product(shop: Shopping, *, sku: int, caller: str) -> Product:
    """One product with its stock. An sku ProductService's listing lacks is 404 without asking
    product-stub or LOMS; one the listing cannot vouch for is charged to `caller`'s lookup quota."""
    path = f"/api/v1/products/{sku}"
    if shop.catalogue.peek(path, []) is None and not await shop.products.vet(sku, caller=caller):
        raise NotFound(f"sku {sku} not found")
    product, available = await run_together(shop.catalogue.get(path, []), shop.loms.available(sku))
    return _with_stock(product, available)


def _after(cursor: str | None) -> int | None:
    position = decode_cursor(cursor, "after")
    if position is None:
        return None
    after = position["after"]
    if not isinstance(after, int) or isinstance(after, bool) or after < 0:
        raise BadCursor("The cursor is not one this service issued.")
    return after


def _with_stock(product: dict[str, Any], available: int) -> Product:
    return Product(
        sku=product["sku"],
        name=product["name"],
        price=product["price"],
        quantity_in_stock=available,
        category=product["category"],
        manufacturer=product["manufacturer"],
    )
