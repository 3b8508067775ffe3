"""Shopping's problems, one class per meaning; each carries its HTTP status and slug."""

from __future__ import annotations

from shopcommon.problems import Conflict, NotFound, ServiceUnavailable


class UnknownSku(NotFound):
    """An sku ProductService does not know: `sku` names it (one line) or `skus` (an order's items)."""

    title, slug = "Unknown sku", "unknown-sku"


class OutOfStock(Conflict):
    title, slug = "Not enough stock", "out-of-stock"


class NotInCart(NotFound):
    title, slug = "Not in the cart", "not-in-cart"


class EmptyCart(Conflict):
    title, slug = "The cart is empty", "cart-empty"


class CartFull(Conflict):
    title, slug = "The cart is full", "cart-full"


class ReservationFailed(Conflict):
    title, slug = "Not enough stock", "reservation-failed"


class NoLongerSold(Conflict):
    title, slug = "No longer sold", "no-longer-sold"


class ProductServiceUnavailable(ServiceUnavailable):
    """ProductService (route256's RPC or product-stub's REST catalogue) failing, slow or refusing."""

    title, slug = "ProductService unavailable", "product-service-unavailable"

    def __init__(self, detail: str, retry_after: int = 1) -> None:
        super().__init__(detail, headers={"Retry-After": str(retry_after)})
