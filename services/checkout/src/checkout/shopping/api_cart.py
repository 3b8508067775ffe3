"""The REST routes of the signed-in person's cart (CONTRACT.md "Public REST API")."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response

from checkout.shopping.api_orders import PLACED_RESPONSES, placed
from checkout.shopping.deps import CurrentUserId, ScopedIdempotencyKey, ShoppingDep
from checkout.shopping.schemas import Cart, CartItemIn, CartLine, CheckoutResult
from checkout.shopping.usecases import carts, purchase
from shopcommon.access import access
from shopcommon.db import SessionDep
from shopcommon.validation import MAX_UINT16, MAX_UINT32

router = APIRouter(prefix="/api/v1", tags=["cart"])
PEOPLE = access("customer", "worker", "manager")
SkuPath = Annotated[int, Path(ge=1, le=MAX_UINT32)]
#: Query parameters are text: plain ints with the bounds of the body types.
CountQuery = Annotated[int | None, Query(ge=1, le=MAX_UINT16, description="uint16, 1..65535")]


@router.get("/cart", response_model=Cart, summary="My cart, with live names and prices", **PEOPLE.doc(429, 503))
async def get_cart(user_id: CurrentUserId, request: Request) -> Response:
    # The JSON composed with the listing (documented as `Cart`), not validated and encoded again; the
    # container read off the request, not through the thread pool (see api_products.py).
    cart = await carts.composed_cart(request.app.state.shopping, user_id=user_id)
    return Response(cart.body, media_type="application/json")


@router.post(
    "/cart/items",
    response_model=CartLine,
    summary="Add units of an sku; 409 when LOMS has fewer than the line would hold",
    description="409 `out-of-stock` names what LOMS has (`available`) and the line holds (`in_cart`). "
    "A cart holds at most `max_lines` different skus (200 by default, as many as one order takes): a "
    "new one beyond that is 409 `cart-full`.",
    **PEOPLE.doc(404, 409, 422, 429, 503),
)
async def add_cart_item(body: CartItemIn, user_id: CurrentUserId, shop: ShoppingDep, session: SessionDep) -> CartLine:
    count = await carts.add_item(shop, session, user_id=user_id, sku=body.sku, count=body.count)
    return CartLine(sku=body.sku, count=count)


@router.delete(
    "/cart/items/{sku}",
    response_model=CartLine,
    summary="Remove `count` units, or the whole line without `count`",
    **PEOPLE.doc(404, 422),
)
async def remove_cart_item(
    sku: SkuPath, user_id: CurrentUserId, session: SessionDep, count: CountQuery = None
) -> CartLine:
    return CartLine(sku=sku, count=await carts.remove_item(session, user_id=user_id, sku=sku, count=count))


@router.post(
    "/cart/checkout",
    response_model=CheckoutResult,
    status_code=201,
    summary="Order the cart: waits for the reservation, then empties the cart",
    **PEOPLE.doc(409, 422, 429, 503, answers=PLACED_RESPONSES),
)
async def checkout_cart(
    user_id: CurrentUserId, shop: ShoppingDep, response: Response, idempotency_key: ScopedIdempotencyKey
) -> CheckoutResult:
    return placed(await purchase.checkout_cart(shop, user_id=user_id, client_key=idempotency_key), response)
