"""The REST routes of the public catalogue: product-stub's products with LOMS's stock."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response

from checkout.identity.web import client_ip
from checkout.shopping.api_cart import SkuPath
from checkout.shopping.deps import ShoppingDep, address_caller
from checkout.shopping.schemas import Product
from checkout.shopping.usecases import catalogue
from shopcommon.auth import roles_doc
from shopcommon.pagination import CursorQuery, Page
from shopcommon.problems import problem_responses
from shopcommon.validation import MAX_UINT32, NO_NUL

router = APIRouter(prefix="/api/v1", tags=["products"])
#: The routes answer the composed JSON as it was encoded once per refill (the documented models are
#: what it holds), rather than validating and encoding the same page again for every request.
PUBLIC = roles_doc()
PriceQuery = Annotated[int | None, Query(ge=0, le=MAX_UINT32, description="In the smallest currency unit.")]


@router.get(
    "/products",
    response_model=Page[Product],
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
) -> Response:
    filters = catalogue.ProductFilters(
        category=category, manufacturer=manufacturer, min_price=min_price, max_price=max_price, in_stock=in_stock
    )
    page = await catalogue.composed_listing(shop, limit=limit, cursor=cursor, filters=filters)
    return Response(page.body, media_type="application/json")


@router.get(
    "/products/{sku}",
    response_model=Product,
    openapi_extra=PUBLIC,
    responses=problem_responses(404, 422, 429, 503),
)
async def get_product(sku: SkuPath, shop: ShoppingDep, address: Annotated[str, Depends(client_ip)]) -> Response:
    product = await catalogue.composed_product(shop, sku=sku, caller=address_caller(address))
    return Response(product.body, media_type="application/json")
