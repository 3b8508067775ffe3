"""Order lines as the seed types them (sku uint32, count uint16) and the price snapshot."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

MAX_COUNT = 65_535
MAX_SKU = 4_294_967_295
MAX_PRICE = 4_294_967_295


@dataclass(frozen=True)
class OrderItem:
    sku: int
    count: int
    price: int | None = None

    def as_dict(self) -> dict[str, int | None]:
        return {"sku": self.sku, "count": self.count, "price": self.price}


class ItemsRejected(ValueError):
    """An item list that cannot become an order; the message names the sku."""


def merge_items(items: Iterable[OrderItem]) -> list[OrderItem]:
    """One line per sku, in sku order: repeated skus are added up when their prices agree.

    A cart may hold the same sku twice; merging keeps such orders valid, while a merged count
    beyond uint16 or two different prices for one sku are refused rather than guessed.
    """
    merged: dict[int, OrderItem] = {}
    for item in items:
        seen = merged.get(item.sku)
        if seen is None:
            merged[item.sku] = item
            continue
        if seen.price != item.price:
            raise ItemsRejected(f"sku {item.sku} appears twice with different prices")
        count = seen.count + item.count
        if count > MAX_COUNT:
            raise ItemsRejected(f"sku {item.sku} adds up to {count} units; at most {MAX_COUNT} per order")
        merged[item.sku] = OrderItem(item.sku, count, item.price)
    return [merged[sku] for sku in sorted(merged)]


def total_price(items: Sequence[OrderItem]) -> int | None:
    """The order's total, or None unless every line carries a price."""
    if not items or any(i.price is None for i in items):
        return None
    return sum(i.count * (i.price or 0) for i in items)
