"""The public REST API of carts and the catalogue (CONTRACT.md "Public REST API")."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query, Response

from checkout.identity.web import client_ip
from checkout.shopping import carts, catalogue, purchase
from checkout.shopping.deps import CurrentUserId, ScopedIdempotencyKey, ShoppingDep, address_caller
from checkout.shopping.router_orders import ORDER_LINKS
from checkout.shopping.schemas import Cart, CartItemIn, CartLine, CheckoutResult, Product
from shopcommon.auth import roles_doc
from shopcommon.db import SessionDep
from shopcommon.pagination import CursorQuery, Page
from shopcommon.problems import problem_responses
from shopcommon.validation import MAX_UINT16, MAX_UINT32, NO_NUL

router = APIRouter(prefix="/api/v1")
PEOPLE = roles_doc("customer", "worker", "manager")
PUBLIC = roles_doc()
SkuPath = Annotated[int, Path(ge=1, le=MAX_UINT32)]
#: Query parameters are text: plain ints with the bounds of the body types.
CountQuery = Annotated[int | None, Query(ge=1, le=MAX_UINT16, description="uint16, 1..65535")]
PriceQuery = Annotated[int | None, Query(ge=0, le=MAX_UINT32, description="In the smallest currency unit.")]


@router.get(
    "/cart",
    response_model=Cart,
    tags=["cart"],
    openapi_extra=PEOPLE,
    responses=problem_responses(401, 403, 429, 503),
    summary="My cart, with live names and prices",
)
async def get_cart(user_id: CurrentUserId, shop: ShoppingDep) -> dict[str, Any]:
    return await carts.list_cart(shop, user_id=user_id)


@router.post(
    "/cart/items",
    response_model=CartLine,
    tags=["cart"],
    openapi_extra=PEOPLE,
    responses=problem_responses(401, 403, 404, 409, 422, 429, 503),
    summary="Add units of an sku; 409 when LOMS has fewer than the line would hold",
)
async def add_cart_item(
    body: CartItemIn, user_id: CurrentUserId, shop: ShoppingDep, session: SessionDep
) -> dict[str, Any]:
    count = await carts.add_item(shop, session, user_id=user_id, sku=body.sku, count=body.count)
    return {"sku": body.sku, "count": count}


@router.delete(
    "/cart/items/{sku}",
    response_model=CartLine,
    tags=["cart"],
    openapi_extra=PEOPLE,
    responses=problem_responses(401, 403, 404, 422),
    summary="Remove `count` units, or the whole line without `count`",
)
async def remove_cart_item(
    sku: SkuPath, user_id: CurrentUserId, session: SessionDep, count: CountQuery = None
) -> dict[str, Any]:
    left = await carts.remove_item(session, user_id=user_id, sku=sku, count=count)
    return {"sku": sku, "count": left}


@router.post(
    "/cart/checkout",
    response_model=CheckoutResult,
    status_code=201,
    tags=["cart"],
    openapi_extra=PEOPLE,
    responses={
        **problem_responses(401, 403, 409, 422, 429, 503),
        201: {"description": "The order holds its stock: `status` is `awaiting payment`", "links": ORDER_LINKS},
        202: {"description": "The reservation has not settled yet: `status` is `new`", "links": ORDER_LINKS},
    },
    summary="Order the cart: waits for the reservation, then empties the cart",
)
async def checkout_cart(
    user_id: CurrentUserId, shop: ShoppingDep, response: Response, idempotency_key: ScopedIdempotencyKey
) -> dict[str, Any]:
    result = await purchase.checkout_cart(shop, user_id=user_id, client_key=idempotency_key)
    if result["status"] == purchase.NEW:
        response.status_code = 202
    return result


@router.get(
    "/products",
    response_model=Page[Product],
    tags=["products"],
    openapi_extra=PUBLIC,
    responses=problem_responses(400, 422, 503),
    summary="The catalogue with stock, filtered, in sku order",
)
async def list_products(
    shop: ShoppingDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 20,
    cursor: CursorQuery = None,
    category: Annotated[str | None, Query(max_length=100, pattern=NO_NUL)] = None,
    manufacturer: Annotated[str | None, Query(max_length=100, pattern=NO_NUL)] = None,
    min_price: PriceQuery = None,
    max_price: PriceQuery = None,
    in_stock: Annotated[
        bool | None, Query(description="true: only what can be bought now; false: only what cannot")
    ] = None,
) -> dict[str, Any]:
    filters = catalogue.ProductFilters(
        category=category, manufacturer=manufacturer, min_price=min_price, max_price=max_price, in_stock=in_stock
    )
    return await catalogue.list_products(shop, limit=limit, cursor=cursor, filters=filters)


@router.get(
    "/products/{sku}",
    response_model=Product,
    tags=["products"],
    openapi_extra=PUBLIC,
    responses=problem_responses(404, 422, 429, 503),
)
async def get_product(sku: SkuPath, shop: ShoppingDep, address: Annotated[str, Depends(client_ip)]) -> dict[str, Any]:
    return await catalogue.get_product(shop, sku=sku, caller=address_caller(address))
