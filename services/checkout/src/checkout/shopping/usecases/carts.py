"""Cart use cases: add (checked against LOMS stock), remove, list (live names and prices)."""

from __future__ import annotations

from dataclasses import dataclass

import orjson
from sqlalchemy.ext.asyncio import AsyncSession

from checkout.shopping import queries
from checkout.shopping.deps import user_caller
from checkout.shopping.errors import CartFull, NotInCart, OutOfStock, UnknownSku
from checkout.shopping.lifespan import Shopping
from checkout.shopping.queries import Cart, CartLine
from checkout.shopping.redis_guard import redis_failures_are_503
from checkout.shopping.schemas import Cart as CartView
from checkout.shopping.schemas import CartItem
from checkout.shopping.usecases.catalogue import Composed

#: How long the prices a customer was shown are remembered for checkout, seconds.
SEEN_PRICES_TTL = 3600


async def add_item(shop: Shopping, session: AsyncSession, *, user_id: int, sku: int, count: int) -> int:
    """Add `count` units; the line's new count. The line never passes what can be bought now, and
    a new line never takes the cart past `cart_max_lines` (what one order can hold)."""
    if await shop.products.get_product(sku, caller=user_caller(user_id)) is None:
        raise UnknownSku(f"sku {sku} is not in the catalogue", sku=sku)
    available = await shop.loms.available(sku)
    await queries.touch_cart(session, user_id=user_id)  # the cart's lock: adds of one cart take turns
    if await queries.other_lines(session, user_id=user_id, sku=sku) >= shop.cart_max_lines:
        raise CartFull(
            f"Your cart holds {shop.cart_max_lines} different products, as many as one order takes: "
            "check out or remove one first.",
            sku=sku,
            max_lines=shop.cart_max_lines,
        )
    new_count = await queries.add_to_line(session, user_id=user_id, sku=sku, count=count, limit=available)
    if new_count is None:
        in_cart = await queries.line_count(session, user_id=user_id, sku=sku)
        raise OutOfStock(
            f"sku {sku}: {available} available, {in_cart} already in the cart, {count} more asked for",
            sku=sku,
            available=available,
            in_cart=in_cart,
            requested=count,
        )
    return new_count


async def remove_item(session: AsyncSession, *, user_id: int, sku: int, count: int | None) -> int:
    """Take `count` units off the line (the whole line without a count); what is left of it."""
    await queries.touch_cart(session, user_id=user_id)
    left = await queries.remove_from_line(session, user_id=user_id, sku=sku, count=count)
    if left is None:
        raise NotInCart(f"sku {sku} is not in the cart", sku=sku)
    return left


@dataclass(frozen=True)
class ComposedCart(Composed[CartView]):
    """The cart listing with its JSON twice, encoded once when composed: `body` as REST's `Cart`
    (`total_price`), `rpc_body` as route256's `/listCart` answer (`totalPrice`)."""

    rpc_body: bytes = b""

    @classmethod
    def of_cart(cls, value: CartView) -> ComposedCart:
        items = [item.model_dump() for item in value.items]
        return cls(
            value,
            orjson.dumps({"items": items, "total_price": value.total_price}),
            orjson.dumps({"items": items, "totalPrice": value.total_price}),
        )


async def composed_cart(shop: Shopping, *, user_id: int) -> ComposedCart:
    """The cart listing with its JSON. The cart is read on every call; its names and prices are
    composed once per cart version and `listing_max_age` (with the prices remembered for checkout
    then), however many requests list that version meanwhile."""
    return await _composed(shop, await read_cart(shop, user_id=user_id))


async def cart_and_gone(shop: Shopping, *, user_id: int) -> tuple[CartView, list[CartLine]]:
    """The listing, and the lines it leaves out, of the same version of the cart: skus no longer
    sold, which checkout refuses until they are removed (the web cart offers to)."""
    cart = await read_cart(shop, user_id=user_id)
    listing = (await _composed(shop, cart)).value
    listed = {item.sku for item in listing.items}
    return listing, [line for line in cart.lines if line.sku not in listed]


async def _composed(shop: Shopping, cart: Cart) -> ComposedCart:
    async def compose() -> ComposedCart:
        return ComposedCart.of_cart(await _priced(shop, cart))

    composed: ComposedCart = await shop.cart_views.get(f"{cart.user_id}:{cart.version}", compose)
    return composed


async def _priced(shop: Shopping, cart: Cart) -> CartView:
    products = await shop.products.get_products((line.sku for line in cart.lines), caller=user_caller(cart.user_id))
    items: list[CartItem] = []
    for line in cart.lines:
        product = products[line.sku]
        if product is not None:
            items.append(CartItem(sku=line.sku, count=line.count, name=product.name, price=product.price))
    await remember_prices(shop, cart, {item.sku: item.price for item in items})
    return CartView(items=items, total_price=sum(item.price * item.count for item in items))


async def read_cart(shop: Shopping, *, user_id: int) -> Cart:
    """A short read of its own: no database connection is held while ProductService answers."""
    return await queries.load_cart(shop.pg, user_id=user_id)


def _seen_key(shop: Shopping, cart: Cart) -> str:
    return f"{shop.redis_prefix}cart-prices:{cart.user_id}:{cart.version}"


async def remember_prices(shop: Shopping, cart: Cart, prices: dict[int, int]) -> None:
    """Keep the prices this version of the cart was shown at: checkout orders at those prices."""
    if prices:
        with redis_failures_are_503():
            await shop.redis.set(
                _seen_key(shop, cart), orjson.dumps({str(k): v for k, v in prices.items()}), ex=SEEN_PRICES_TTL
            )


async def seen_prices(shop: Shopping, cart: Cart) -> dict[int, int]:
    with redis_failures_are_503():
        raw = await shop.redis.get(_seen_key(shop, cart))
    if raw is None:
        return {}
    return {int(k): int(v) for k, v in orjson.loads(raw).items()}
