"""The route256 LOMS endpoints, verbatim: POST, JSON in and out, 200 on success, a bearer token."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Request
from fastapi.responses import Response
from sqlalchemy.ext.asyncio import AsyncConnection

from loms.api.deps import (
    AnsweredOnce,
    DbDep,
    IdempotencyKey,
    Once,
    PreferWait,
    ReadConnDep,
    SettingsDep,
    prefer_applied,
)
from loms.api.schemas import (
    CreateOrderRequest,
    CreateOrderResponse,
    Empty,
    ListOrderResponse,
    OrderRef,
    StocksRequest,
    StocksResponse,
)
from loms.services import queries
from loms.services.cancel import cancel_order
from loms.services.create import CreateRequest, create_order
from loms.services.idempotency import Answer
from loms.services.pay import pay_order
from shopcommon.access import access
from shopcommon.auth import OrdersReader, OrdersWriter, Principal, Role, Scope, require_scope
from shopcommon.idempotency import answer_response, idempotency_request
from shopcommon.logging import current_request_id

router = APIRouter(tags=["route256 LOMS"])
PEOPLE = ("customer (own orders)", "worker (own orders)", "manager")
READERS = access(*PEOPLE, Role.SERVICE, scope=Scope.ORDERS_READ)
WRITERS = access(*PEOPLE, Role.SERVICE, scope=Scope.ORDERS_WRITE)
StockReader = Annotated[Principal, require_scope(Scope.STOCK_READ)]
STOCK_READERS = access("customer", "worker", "manager", Role.SERVICE, scope=Scope.STOCK_READ)
WRITE_ERRORS = (400, 404, 409, 422)
#: A state change on an order, in the request's transaction.
Change = Callable[[AsyncConnection], Awaitable[object]]


def as_rpc_created(answer: Answer) -> Answer:
    """The REST answer of a create, in the seed's shape: `{orderID}` with 200."""
    if answer.status != 201:
        return answer
    order_id = orjson.loads(answer.body)["order_id"]
    return Answer(200, orjson.dumps({"orderID": order_id}), replayed=answer.replayed, headers=answer.headers)


@router.post(
    "/createOrder",
    response_model=CreateOrderResponse,
    summary="Create an order for `user`; stock is reserved right after (see `Prefer`)",
    description="As `POST /api/v1/orders`, with its limits on what a user may hold unpaid (409 beyond them).",
    **WRITERS.doc(*WRITE_ERRORS),
)
async def create_order_rpc(
    body: CreateOrderRequest,
    caller: OrdersWriter,
    request: Request,
    db: DbDep,
    settings: SettingsDep,
    wait: PreferWait,
    key: IdempotencyKey = None,
) -> Response:
    idem = idempotency_request(caller, request, key, body.model_dump())
    order = CreateRequest(
        user_id=body.user, items=body.lines(), wait=wait, idempotency=idem, request_id=current_request_id()
    )
    answer = await create_order(db, request.app.state.placer, settings, caller, order)
    return answer_response(as_rpc_created(answer), prefer_applied(wait))


@router.post(
    "/listOrder",
    response_model=ListOrderResponse,
    summary="Status, user and items of an order",
    **READERS.doc(404, 422),
)
async def list_order(body: OrderRef, caller: OrdersReader, conn: ReadConnDep) -> dict[str, Any]:
    order = await queries.get_order(conn, caller=caller, order_id=body.orderID)
    return {
        "status": order.status,
        "user": order.user_id,
        "items": [{"sku": i.sku, "count": i.count} for i in order.items],
    }


async def answer_empty(once: AnsweredOnce, caller: Principal, body: OrderRef, change: Change) -> Response:
    """The seed's answer to a state change: `{}` once `change` is done (at most once per key)."""

    async def operation(conn: AsyncConnection) -> Answer:
        await change(conn)
        return Answer.of(200, {})

    return await once(caller, body.model_dump(), operation)


@router.post(
    "/orderPayed",
    response_model=Empty,
    summary="Mark paid: reserved units are written off",
    **WRITERS.doc(*WRITE_ERRORS),
)
async def order_payed(body: OrderRef, caller: OrdersWriter, once: Once, settings: SettingsDep) -> Response:
    return await answer_empty(
        once,
        caller,
        body,
        lambda conn: pay_order(
            conn, settings=settings, caller=caller, order_id=body.orderID, request_id=current_request_id()
        ),
    )


@router.post(
    "/cancelOrder",
    response_model=Empty,
    summary="Cancel: every reservation of the order is released",
    **WRITERS.doc(*WRITE_ERRORS),
)
async def cancel_order_rpc(body: OrderRef, caller: OrdersWriter, once: Once, settings: SettingsDep) -> Response:
    return await answer_empty(
        once,
        caller,
        body,
        lambda conn: cancel_order(
            conn, settings=settings, caller=caller, order_id=body.orderID, reason=None, request_id=current_request_id()
        ),
    )


@router.post(
    "/stocks",
    response_model=StocksResponse,
    summary="Units that can still be bought, per warehouse",
    **STOCK_READERS.doc(422),
)
async def stocks_rpc(body: StocksRequest, caller: StockReader, conn: ReadConnDep) -> dict[str, Any]:
    (levels,) = await queries.stock_levels(conn, [body.sku])
    return {"stocks": [{"warehouseID": s["warehouse_id"], "count": s["count"]} for s in levels["stocks"]]}
