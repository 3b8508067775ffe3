"""The REST routes of the public catalogue: product-stub's products with LOMS's stock."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request, Response

from checkout.identity.web import client_ip
from checkout.shopping.api_cart import SkuPath
from checkout.shopping.deps import address_caller
from checkout.shopping.lifespan import Shopping
from checkout.shopping.schemas import Product
from checkout.shopping.usecases import catalogue
from shopcommon.access import access
from shopcommon.pagination import CursorQuery, Page
from shopcommon.validation import MAX_UINT32, NO_NUL

router = APIRouter(prefix="/api/v1", tags=["products"])
#: The routes answer the composed JSON as it was encoded once per refill (the documented models are
#: what it holds), rather than validating and encoding the same page again for every request. They
#: read the container and the client address off the request instead of through `ShoppingDep` and
#: `Depends(client_ip)`: those are plain functions, which FastAPI runs on its thread pool, a thread
#: hand-off per request, a large share of these routes' CPU (py-spy; figures in bench/checkout/README.md).


def _shopping(request: Request) -> Shopping:
    shopping: Shopping = request.app.state.shopping
    return shopping


PUBLIC = access()
PriceQuery = Annotated[int | None, Query(ge=0, le=MAX_UINT32, description="In the smallest currency unit.")]


@router.get(
    "/products",
    response_model=Page[Product],
    summary="The catalogue with stock, filtered, in sku order",
    **PUBLIC.doc(400, 422, 503),
)
async def list_products(
    request: Request,
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
    page = await catalogue.composed_listing(_shopping(request), limit=limit, cursor=cursor, filters=filters)
    return Response(page.body, media_type="application/json")


@router.get("/products/{sku}", response_model=Product, **PUBLIC.doc(404, 422, 429, 503))
async def get_product(sku: SkuPath, request: Request) -> Response:
    caller = address_caller(client_ip(request))
    product = await catalogue.composed_product(_shopping(request), sku=sku, caller=caller)
    return Response(product.body, media_type="application/json")
