"""What one user may hold unpaid at once (`new` or `awaiting payment`), whoever creates the orders
for them: stock is shared, and one account must not keep it reserved for the payment window
again and again. The settings `LOMS_MAX_UNPAID_ORDERS` and `LOMS_MAX_UNPAID_UNITS_PER_SKU`; the
statements that record an order enforce them (migration 0003's `loms_unpaid_refusal`)."""

from __future__ import annotations

from dataclasses import dataclass

#: Orders awaiting payment (or still `new`) per user.
MAX_UNPAID_ORDERS = 10
#: Units of one sku across a user's unpaid orders: beyond what a customer of the shop buys at
#: once, below the stock of most skus (the demo's hold 150 to 900 units, the bench orders 1 to 3).
MAX_UNPAID_UNITS_PER_SKU = 100


@dataclass(frozen=True)
class UnpaidLimits:
    orders: int = MAX_UNPAID_ORDERS
    units_per_sku: int = MAX_UNPAID_UNITS_PER_SKU
