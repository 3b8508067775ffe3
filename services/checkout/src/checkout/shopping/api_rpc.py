"""The route256 checkout endpoints, verbatim: POST, JSON, the seed's field names.

A `service` or `manager` caller may name any `user`; everyone else only themself.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response

from checkout.shopping.deps import ScopedIdempotencyKey, ShoppingDep, user_acting_for
from checkout.shopping.schemas import CartLineRequest, Empty, RpcCart, RpcPurchase, UserRequest
from checkout.shopping.usecases import carts, purchase
from shopcommon.access import access
from shopcommon.auth import OrdersWriter, Scope
from shopcommon.db import SessionDep

router = APIRouter(tags=["route256 checkout"])
ANYONE_FOR_SELF = access("customer", "worker", "manager", "service", scope=Scope.ORDERS_WRITE)


@router.post(
    "/addToCart",
    response_model=Empty,
    summary="Add units of an sku to a user's cart, if LOMS has them in stock",
    description="409 when LOMS has fewer than the line would hold, or when the cart already holds "
    "`max_lines` different skus (`cart-full`; 200 by default, as many as one order takes).",
    **ANYONE_FOR_SELF.doc(404, 409, 422, 429, 503),
)
async def add_to_cart(
    body: CartLineRequest, principal: OrdersWriter, shop: ShoppingDep, session: SessionDep
) -> dict[str, Any]:
    user_id = user_acting_for(principal, body.user)
    await carts.add_item(shop, session, user_id=user_id, sku=body.sku, count=body.count)
    return {}


@router.post(
    "/deleteFromCart",
    response_model=Empty,
    summary="Take units of an sku off a user's cart (the whole line when count covers it)",
    **ANYONE_FOR_SELF.doc(404, 422),
)
async def delete_from_cart(body: CartLineRequest, principal: OrdersWriter, session: SessionDep) -> dict[str, Any]:
    user_id = user_acting_for(principal, body.user)
    await carts.remove_item(session, user_id=user_id, sku=body.sku, count=body.count)
    return {}


@router.post(
    "/listCart",
    response_model=RpcCart,
    summary="A user's cart with names and prices from ProductService, and its total",
    **ANYONE_FOR_SELF.doc(422, 429, 503),
)
async def list_cart(body: UserRequest, principal: OrdersWriter, shop: ShoppingDep) -> Response:
    # The JSON encoded once per cart version (documented as `RpcCart`), not validated and encoded
    # again for every request (as `GET /api/v1/cart`).
    user_id = user_acting_for(principal, body.user)
    cart = await carts.composed_cart(shop, user_id=user_id)
    return Response(cart.rpc_body, media_type="application/json")


@router.post(
    "/purchase",
    response_model=RpcPurchase,
    summary="Order everything in a user's cart through LOMS",
    **ANYONE_FOR_SELF.doc(409, 422, 429, 503),
)
async def purchase_cart(
    body: UserRequest, principal: OrdersWriter, shop: ShoppingDep, idempotency_key: ScopedIdempotencyKey
) -> RpcPurchase:
    user_id = user_acting_for(principal, body.user)
    result = await purchase.checkout_cart(shop, user_id=user_id, client_key=idempotency_key)
    return RpcPurchase(orderID=result.order_id, status=result.status)
