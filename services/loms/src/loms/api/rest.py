"""LOMS REST (`/api/v1`): orders and public stock reads."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response
from sqlalchemy.ext.asyncio import AsyncConnection

from loms.api.deps import (
    IDEMPOTENCY_KEY,
    PREFER,
    Once,
    ReadConnDep,
    SettingsDep,
    prefer_applied,
    requested_wait,
)
from loms.api.schemas import CancelBody, OrderCreate, OrderOut, OrderPage, SkuStock, StockBatch
from loms.domain.items import MAX_SKU
from loms.domain.statuses import OrderStatus
from loms.services import queries
from loms.services.cancel import cancel_order
from loms.services.create import CreateRequest, create_order
from loms.services.idempotency import Answer
from loms.services.pay import pay_order
from shopcommon.access import PUBLIC, access
from shopcommon.auth import OrdersReader, OrdersWriter, Role, Scope, principal_of
from shopcommon.idempotency import answer_response, idempotency_request
from shopcommon.logging import current_request_id
from shopcommon.pagination import CursorQuery
from shopcommon.reading import RequestReader, operation_doc
from shopcommon.validation import MAX_JSON_INT

router = APIRouter(prefix="/api/v1/orders", tags=["orders"])
stocks = APIRouter(prefix="/api/v1/stocks", tags=["stocks"])
READERS = access("customer (own orders)", "worker (own orders)", "manager", Role.SERVICE, scope=Scope.ORDERS_READ)
WRITERS = access("customer (own orders)", "worker (own orders)", "manager", Role.SERVICE, scope=Scope.ORDERS_WRITE)
#: Bodies of the routes here that read their request themselves, for the OpenAPI components.
HAND_READ_BODIES = (OrderCreate,)
OrderId = Annotated[int, Path(ge=1, le=MAX_JSON_INT, description="A positive id (at most 2^53-1).")]
SkuPath = Annotated[int, Path(ge=1, le=MAX_SKU, description="uint32, 1..4294967295")]


@router.post(
    "",
    status_code=201,
    response_model=OrderOut,
    summary="Create an order (createOrder)",
    **WRITERS.doc(400, 409, 422, extra=operation_doc(OrderCreate, [IDEMPOTENCY_KEY, PREFER])),
    description="Records the order as `new` and answers at once; stock is reserved right after (all lines or "
    "none, spread over warehouses). With `Prefer: wait=N` the order is recorded together with its "
    "outcome and the answer carries it: `awaiting payment`, or `failed` with `shortages` (the order "
    "stays recorded); its events are `new`, then the outcome, either way. A customer may create "
    "orders only for themself and may not set prices.\n\n"
    "A user holds at most `LOMS_MAX_UNPAID_ORDERS` (10) orders `new` or `awaiting payment`, and "
    "`LOMS_MAX_UNPAID_UNITS_PER_SKU` (100) units of a sku across them, whoever creates them for the "
    "user: beyond either limit the answer is 409 (`too-many-unpaid-orders`, `too-many-unpaid-units`, "
    "with `limit` and `limit_value`) and nothing is recorded.",
)
async def create(request: Request) -> Response:
    # The service's hot path reads its request itself (`shopcommon.reading`): FastAPI's dependency
    # resolution took a fifth of LOMS's CPU per order. The same checks and document; the caller is
    # checked first, so an anonymous request is 401 whatever its body.
    caller = await principal_of(request)
    caller.ensure_scope(Scope.ORDERS_WRITE)
    read = RequestReader(request)
    body = await read.json_body(OrderCreate)
    key = read.header(IDEMPOTENCY_KEY)
    read.done()
    assert body is not None
    wait = requested_wait(request)
    idem = idempotency_request(caller, request, key, body.model_dump())
    order = CreateRequest(
        user_id=body.user_id, items=body.lines(), wait=wait, idempotency=idem, request_id=current_request_id()
    )
    state = request.app.state
    answer = await create_order(state.db, state.placer, state.settings, caller, order)
    return answer_response(answer, prefer_applied(wait))


@router.get(
    "/{order_id}",
    response_model=OrderOut,
    summary="One order (listOrder)",
    **READERS.doc(404, 422),
)
async def get_order(order_id: OrderId, caller: OrdersReader, conn: ReadConnDep) -> dict[str, Any]:
    return (await queries.get_order(conn, caller=caller, order_id=order_id)).as_wire()


@router.get(
    "",
    response_model=OrderPage,
    summary="Orders, newest first",
    description="Customers see their own orders; managers and services everyone's, filtered by "
    "`user_id` and `status` when given.",
    **READERS.doc(400, 422),
)
async def list_orders(
    caller: OrdersReader,
    conn: ReadConnDep,
    user_id: Annotated[int | None, Query(ge=1, le=MAX_JSON_INT)] = None,
    status: OrderStatus | None = None,
    cursor: CursorQuery = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 20,
) -> dict[str, Any]:
    return await queries.list_orders(conn, caller=caller, user_id=user_id, status=status, cursor=cursor, limit=limit)


@router.post(
    "/{order_id}/pay",
    response_model=OrderOut,
    summary="Mark paid (orderPayed)",
    description="Only from `awaiting payment` and before the payment deadline: reserved units are "
    "written off. Anything else is 409.",
    **WRITERS.doc(404, 409, 422),
)
async def pay(
    order_id: OrderId,
    caller: OrdersWriter,
    once: Once,
    settings: SettingsDep,
) -> Response:
    async def operation(conn: AsyncConnection) -> Answer:
        order = await pay_order(
            conn, settings=settings, caller=caller, order_id=order_id, request_id=current_request_id()
        )
        return Answer.of(200, order.as_wire())

    return await once(caller, {"order_id": order_id}, operation)


@router.post(
    "/{order_id}/cancel",
    response_model=OrderOut,
    summary="Cancel (cancelOrder)",
    description="From `new` or `awaiting payment`; reservations are released. A paid order cannot be "
    "cancelled (409). The optional body names the reason for staff callers.",
    **WRITERS.doc(404, 409, 422),
)
async def cancel(
    order_id: OrderId,
    caller: OrdersWriter,
    once: Once,
    settings: SettingsDep,
    body: CancelBody | None = None,
) -> Response:
    reason = body.cancel_reason() if body else None

    async def operation(conn: AsyncConnection) -> Answer:
        order = await cancel_order(
            conn, settings=settings, caller=caller, order_id=order_id, reason=reason, request_id=current_request_id()
        )
        return Answer.of(200, order.as_wire())

    return await once(caller, {"order_id": order_id, "reason": reason}, operation)


@stocks.get(
    "/{sku}",
    response_model=SkuStock,
    summary="What can still be bought, per warehouse (stocks)",
    **PUBLIC.doc(422),
)
async def stock_of(sku: SkuPath, conn: ReadConnDep) -> dict[str, Any]:
    (levels,) = await queries.stock_levels(conn, [sku])
    return levels


@stocks.get(
    "",
    response_model=StockBatch,
    summary="Stock of many skus in one call",
    description="Repeat `sku` (up to 200); answers in the order asked, each sku once.",
    **PUBLIC.doc(422),
)
async def stocks_of(
    conn: ReadConnDep,
    sku: Annotated[list[Annotated[int, Query(ge=1, le=MAX_SKU)]], Query(min_length=1, max_length=200)],
) -> dict[str, Any]:
    return {"items": await queries.stock_levels(conn, sku)}
