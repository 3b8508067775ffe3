"""Warehouse and stock administration: managers change, managers and services read."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from fastapi.responses import Response
from sqlalchemy.ext.asyncio import AsyncConnection

from loms.api.deps import ConnDep, Once, ReadConnDep, SettingsDep
from loms.api.schemas import StockAdjust, StockRow, StockTotal, WarehouseCreate, WarehouseOut
from loms.domain.items import MAX_SKU
from loms.services import stock_admin
from loms.services.idempotency import Answer
from shopcommon.access import access
from shopcommon.auth import Principal, Role, Scope, require_roles
from shopcommon.pagination import CursorQuery, Page
from shopcommon.validation import MAX_JSON_INT

router = APIRouter(prefix="/api/v1/warehouses", tags=["warehouses"])
Manager = Annotated[Principal, require_roles(Role.MANAGER)]
Staff = Annotated[Principal, require_roles(Role.MANAGER, Role.SERVICE, scope=Scope.STOCK_READ)]
MANAGERS = access(Role.MANAGER)
STAFF = access(Role.MANAGER, Role.SERVICE, scope=Scope.STOCK_READ)
WarehouseId = Annotated[int, Path(ge=1, le=MAX_JSON_INT)]
SkuPath = Annotated[int, Path(ge=1, le=MAX_SKU)]


@router.get("", response_model=list[WarehouseOut], **STAFF.doc())
async def list_warehouses(_: Staff, conn: ReadConnDep) -> list[dict[str, Any]]:
    return await stock_admin.list_warehouses(conn)


@router.post("", status_code=201, response_model=WarehouseOut, **MANAGERS.doc(409, 422))
async def create_warehouse(body: WarehouseCreate, _: Manager, conn: ConnDep) -> dict[str, Any]:
    return await stock_admin.create_warehouse(conn, name=body.name)


@router.get(
    "/{warehouse_id}/stocks",
    response_model=Page[StockRow],
    summary="Stock rows with total and reserved, in sku order",
    **STAFF.doc(400, 404, 422),
)
async def warehouse_stock(
    warehouse_id: WarehouseId,
    _: Staff,
    conn: ReadConnDep,
    cursor: CursorQuery = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    sku: Annotated[
        list[Annotated[int, Query(ge=1, le=MAX_SKU)]] | None,
        Query(max_length=500, description="Only these skus' rows (repeat `sku`; up to 500)."),
    ] = None,
) -> dict[str, Any]:
    return await stock_admin.warehouse_stock(conn, warehouse_id=warehouse_id, cursor=cursor, limit=limit, skus=sku)


@router.put(
    "/{warehouse_id}/stocks/{sku}",
    response_model=StockRow,
    summary="Set the total of one sku",
    description="Creates the row when missing. A total below what is reserved is 409. With `expected_total` "
    "(the total the caller last saw; 0 for a row not there yet) the change is made only if that is still "
    "the total, else 409 `stock-changed` with the current `total`: a sale or another manager's change "
    "since is not overwritten. A change of the total publishes `stock.changed` (asyncapi/events.yaml).",
    **MANAGERS.doc(404, 409, 422),
)
async def set_total(
    warehouse_id: WarehouseId, sku: SkuPath, body: StockTotal, _: Manager, conn: ConnDep, settings: SettingsDep
) -> dict[str, Any]:
    return await stock_admin.set_total(
        conn,
        warehouse_id=warehouse_id,
        sku=sku,
        total=body.total,
        topic=settings.order_events_topic,
        expected=body.expected_total,
    )


@router.post(
    "/{warehouse_id}/stocks/{sku}/adjust",
    response_model=StockRow,
    summary="Receive or remove units",
    description="Adds `delta` (negative removes) to the total; never below what is reserved (409). Publishes "
    "`stock.changed` (asyncapi/events.yaml).",
    **MANAGERS.doc(404, 409, 422),
)
async def adjust_total(
    warehouse_id: WarehouseId,
    sku: SkuPath,
    body: StockAdjust,
    caller: Manager,
    once: Once,
    settings: SettingsDep,
) -> Response:
    async def operation(conn: AsyncConnection) -> Answer:
        row = await stock_admin.adjust_total(
            conn, warehouse_id=warehouse_id, sku=sku, delta=body.delta, topic=settings.order_events_topic
        )
        return Answer.of(200, row)

    return await once(caller, body.model_dump(), operation)
