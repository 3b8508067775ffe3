"""Checkout: turn a cart (or a list of items) into a LOMS order at the prices the customer saw.

A cart's order is created with an `Idempotency-Key` naming the cart's version, whatever key the
client sent: two checkouts of one cart (two tabs, each with a key of its own) send the same key
and LOMS makes one order. The client's key replays its checkout's answer (`client_keys`). Once
the order holds its stock the cart is emptied, or, when it changed meanwhile, loses what was
ordered and keeps what came since; an order still `new` keeps the cart, and checking the same
cart out again replays that order as it stands then. A failed reservation keeps the cart and
moves its version on, so the next attempt is a new order rather than a replay of the failed one;
so does an order of the cart cancelled before the cart became it (the checkout then orders the
cart again).
"""

from __future__ import annotations

import logging
import uuid
from typing import Any

from checkout.shopping import queries
from checkout.shopping.deps import ClientKey, user_caller
from checkout.shopping.errors import EmptyCart, NoLongerSold, ReservationFailed, UnknownSku
from checkout.shopping.lifespan import Shopping
from checkout.shopping.order_status import PLACED, OrderStatus
from checkout.shopping.schemas import CheckoutResult
from checkout.shopping.usecases import client_keys
from checkout.shopping.usecases.carts import read_cart, seen_prices
from shopcommon.polling import poll

log = logging.getLogger(__name__)

#: After LOMS answered `new`, how long to keep looking (it has already waited `Prefer: wait`), seconds.
SETTLE_LOOK_AGAIN = 2.0


async def checkout_cart(
    shop: Shopping, *, user_id: int, client_key: ClientKey | None, wait: float = 0.0
) -> CheckoutResult:
    """The order and its status; a failed reservation raises ReservationFailed (409) and keeps the cart.
    `wait`: how long a second request with the key waits for the first one's answer (else 409)."""
    return await client_keys.once(shop, client_key, user_id, "cart", lambda: _checkout(shop, user_id), wait=wait)


async def _checkout(shop: Shopping, user_id: int) -> CheckoutResult:
    cart, order = await _order_cart(shop, user_id)
    if order["status"] == OrderStatus.CANCELLED:  # this version's order went before the cart became it
        await _advance_cart(shop, cart, empty=False)
        cart, order = await _order_cart(shop, user_id)
    if order["status"] in PLACED:  # one still `new` keeps the cart: checking it out again replays the order
        await _advance_cart(shop, cart, empty=True)
    elif order["status"] == OrderStatus.FAILED:
        await _advance_cart(shop, cart, empty=False)
        await _raise_failed(shop, order, [{"sku": line.sku, "count": line.count} for line in cart.lines])
    return CheckoutResult(order_id=order["order_id"], status=order["status"])


async def _order_cart(shop: Shopping, user_id: int) -> tuple[queries.Cart, dict[str, Any]]:
    cart = await read_cart(shop, user_id=user_id)
    if not cart.lines:
        raise EmptyCart("There is nothing in the cart to check out")
    prices = await _cart_prices(shop, cart)
    items = [{"sku": line.sku, "count": line.count, "price": prices[line.sku]} for line in cart.lines]
    return cart, await _place(shop, user_id=user_id, items=items, key=f"cart:{user_id}:v{cart.version}")


async def _cart_prices(shop: Shopping, cart: queries.Cart) -> dict[int, int]:
    """The prices this version of the cart was listed at; ProductService's for lines never listed.
    A line whose product the catalogue has taken out since (its listing of skus, at most
    `CHECKOUT_PRODUCT_KNOWN_SKUS_MAX_AGE` old, lacks it) is no longer sold, whatever was seen."""
    prices = await seen_prices(shop, cart)
    unseen = [line.sku for line in cart.lines if line.sku not in prices]
    gone = set(await shop.products.no_longer_listed(line.sku for line in cart.lines))
    if unseen:
        products = await shop.products.get_products(unseen, caller=user_caller(cart.user_id))
        gone |= {sku for sku, product in products.items() if product is None}
        prices.update({sku: p.price for sku, p in products.items() if p is not None})
    if gone:
        skus = sorted(gone)
        raise NoLongerSold(f"no longer sold: skus {', '.join(map(str, skus))}", skus=skus)
    return prices


async def order_items(
    shop: Shopping, *, user_id: int, items: list[dict[str, int]], client_key: ClientKey | None
) -> CheckoutResult:
    """An order straight from items (the Opply and Django seeds), at ProductService's prices now."""
    counts: dict[int, int] = {}
    for item in items:
        counts[item["sku"]] = counts.get(item["sku"], 0) + item["count"]
    request = sorted(counts.items())
    return await client_keys.once(
        shop, client_key, user_id, request, lambda: _order_items(shop, user_id, counts, client_key)
    )


async def _order_items(
    shop: Shopping, user_id: int, counts: dict[int, int], client_key: ClientKey | None
) -> CheckoutResult:
    products = await shop.products.get_products(counts, caller=user_caller(user_id))
    unknown = sorted(sku for sku, product in products.items() if product is None)
    if unknown:
        raise UnknownSku(f"not in the catalogue: skus {', '.join(map(str, unknown))}", skus=unknown)
    priced = [
        {"sku": sku, "count": count, "price": products[sku].price}  # type: ignore[union-attr]
        for sku, count in sorted(counts.items())
    ]
    key = client_key.scoped() if client_key else f"items:{user_id}:{uuid.uuid4().hex}"
    order = await _place(shop, user_id=user_id, items=priced, key=key)
    if order["status"] == OrderStatus.FAILED:
        await _raise_failed(shop, order, priced)
    return CheckoutResult(order_id=order["order_id"], status=order["status"])


async def _place(shop: Shopping, *, user_id: int, items: list[dict[str, int]], key: str) -> dict[str, Any]:
    order = await shop.loms.create_order(user_id=user_id, items=items, idempotency_key=key)
    if order.get("status") == OrderStatus.NEW:
        # Not settled within `Prefer: wait`, or a replay of the first answer: look again.
        order_id = int(order["order_id"])
        current = await poll(
            lambda: shop.loms.get_order(order_id),
            until=lambda current: current.get("status") != OrderStatus.NEW,
            timeout=SETTLE_LOOK_AGAIN,
            pause=0.02,
            max_pause=0.25,
        )
        order = {**order, **current, "order_id": order_id}
    return order


async def _advance_cart(shop: Shopping, cart: queries.Cart, *, empty: bool) -> None:
    """A new version of the cart: empty once ordered (`empty`), else as it is. A cart changed while
    its order was made loses the lines ordered (their counts, as far as it still holds them) and
    keeps what came since, once: another checkout of the same order (a second tab), or of a newer
    version, has taken them off already."""
    async with shop.sessionmaker() as session, session.begin():
        if await queries.advance_if_version(session, user_id=cart.user_id, version=cart.version, empty=empty):
            return
        if empty and await queries.claim_ordered(session, user_id=cart.user_id, version=cart.version):
            for line in cart.lines:
                await queries.remove_from_line(session, user_id=cart.user_id, sku=line.sku, count=line.count)


async def _raise_failed(shop: Shopping, order: dict[str, Any], items: list[dict[str, int]]) -> None:
    """Name the skus that were short: LOMS's `shortages` of the order, or failing those, the skus
    with less available now than the order asked for."""
    shortages = order.get("shortages")
    if shortages is None:
        shortages = (await shop.loms.get_order(int(order["order_id"]))).get("shortages")
    if shortages:
        available = {int(s["sku"]): int(s["available"]) for s in shortages}
        skus = sorted(available)
    else:
        available = await shop.loms.available_many(item["sku"] for item in items)
        short = [item["sku"] for item in items if available.get(item["sku"], 0) < item["count"]]
        skus = short or [item["sku"] for item in items]
    raise ReservationFailed(
        f"order {order['order_id']} could not reserve stock for skus {', '.join(map(str, skus))}",
        order_id=order["order_id"],
        skus=skus,
        available={str(sku): available.get(sku, 0) for sku in skus},
    )
