"""Order routes: the caller's orders through LOMS (`usecases.orders`), and orders placed straight
from items (`usecases.purchase`)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Response

from checkout.shopping.deps import IdempotencyKey, ScopedIdempotencyKey, ShoppingDep, own_user_id, user_acting_for
from checkout.shopping.order_status import STATUS_PATTERN, OrderStatus
from checkout.shopping.schemas import CancelIn, CheckoutResult, Order, OrderCreate, OrderPage
from checkout.shopping.usecases import orders, purchase
from shopcommon.access import access
from shopcommon.auth import OrdersReader, OrdersWriter, Scope
from shopcommon.pagination import CursorQuery
from shopcommon.validation import MAX_JSON_INT

router = APIRouter(prefix="/api/v1", tags=["orders"])
READERS = access("customer", "worker", "manager", "service", scope=Scope.ORDERS_READ)
WRITERS = access("customer", "worker", "manager", "service", scope=Scope.ORDERS_WRITE)
OrderPath = Annotated[int, Path(ge=1, le=MAX_JSON_INT)]
#: OpenAPI links from a placed order to the operations on it (its `order_id`).
ORDER_LINKS = {
    name: {"operationId": operation, "parameters": {"order_id": "$response.body#/order_id"}}
    for name, operation in (("GetOrder", "get_order"), ("PayOrder", "pay_order"), ("CancelOrder", "cancel_order"))
}
#: The answers of a route that places an order: 201 once it holds its stock, 202 while it settles.
PLACED_RESPONSES: dict[int | str, dict[str, Any]] = {
    201: {"description": "The order holds its stock: `status` is `awaiting payment`", "links": ORDER_LINKS},
    202: {"description": "The reservation has not settled yet: `status` is `new`", "links": ORDER_LINKS},
}


def placed(result: CheckoutResult, response: Response) -> CheckoutResult:
    """201 for an order that holds its stock; 202 for one still `new` (its reservation unsettled)."""
    if result.status == OrderStatus.NEW:
        response.status_code = 202
    return result


@router.get(
    "/orders",
    response_model=OrderPage,
    summary="My orders, newest first (managers: everyone's, `user_id` filters)",
    **READERS.doc(400, 422, 503),
)
async def list_orders(
    principal: OrdersReader,
    shop: ShoppingDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 20,
    cursor: CursorQuery = None,
    user_id: Annotated[int | None, Query(ge=1, le=MAX_JSON_INT)] = None,
    status: Annotated[str | None, Query(pattern=STATUS_PATTERN)] = None,
) -> OrderPage:
    return await orders.list_orders(shop, principal, limit=limit, cursor=cursor, user_id=user_id, status=status)


@router.get("/orders/{order_id}", response_model=Order, **READERS.doc(404, 422, 503))
async def get_order(order_id: OrderPath, principal: OrdersReader, shop: ShoppingDep) -> Order:
    return await orders.get_order(shop, principal, order_id)


@router.post(
    "/orders",
    response_model=CheckoutResult,
    status_code=201,
    summary="An order straight from items, at today's prices; waits for the reservation",
    **WRITERS.doc(404, 409, 422, 429, 503, answers=PLACED_RESPONSES),
)
async def create_order(
    body: OrderCreate,
    principal: OrdersWriter,
    shop: ShoppingDep,
    response: Response,
    idempotency_key: ScopedIdempotencyKey,
) -> CheckoutResult:
    user_id = own_user_id(principal) if body.user_id is None else user_acting_for(principal, body.user_id)
    items = [item.model_dump() for item in body.items]
    return placed(await purchase.order_items(shop, user_id=user_id, items=items, client_key=idempotency_key), response)


@router.post(
    "/orders/{order_id}/pay",
    response_model=Order,
    summary="Pay: reserved units are written off",
    **WRITERS.doc(404, 409, 422, 503),
)
async def pay_order(
    order_id: OrderPath, principal: OrdersWriter, shop: ShoppingDep, idempotency_key: IdempotencyKey = None
) -> Order:
    return await orders.move_order(shop, principal, order_id, "pay", idempotency_key=idempotency_key)


@router.post(
    "/orders/{order_id}/cancel",
    response_model=Order,
    summary="Cancel: reserved units are released",
    **WRITERS.doc(404, 409, 422, 503),
)
async def cancel_order(
    order_id: OrderPath,
    principal: OrdersWriter,
    shop: ShoppingDep,
    body: CancelIn | None = None,
    idempotency_key: IdempotencyKey = None,
) -> Order:
    return await orders.move_order(shop, principal, order_id, "cancel", idempotency_key=idempotency_key, cancel=body)
