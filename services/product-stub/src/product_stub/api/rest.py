"""Catalogue REST: public reads, manager writes."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Response
from pydantic import Field

from product_stub import catalogue
from product_stub.models import categories, manufacturers
from product_stub.schemas import (
    Category,
    GroupCreate,
    GroupUpdate,
    Manufacturer,
    Product,
    ProductCreate,
    ProductUpdate,
)
from shopcommon.access import PUBLIC, access
from shopcommon.auth import Role, require_roles
from shopcommon.db import RawPoolDep, ReadSessionDep, SessionDep
from shopcommon.pagination import CursorQuery, Page, Position, decode_cursor, encode_cursor
from shopcommon.validation import MAX_UINT32, NO_NUL

router = APIRouter(prefix="/api/v1")
ManagerOnly = require_roles(Role.MANAGER)
MANAGERS = access(Role.MANAGER)
WRITE_ERRORS = (404, 409, 422)

SkuPath = Annotated[int, Path(ge=1, le=MAX_UINT32)]
IdPath = Annotated[int, Path(ge=1, le=2_147_483_647)]
PriceQuery = Annotated[int | None, Query(ge=0, le=MAX_UINT32, description="In the smallest currency unit.")]
GroupQuery = Annotated[str | None, Query(max_length=100, pattern=NO_NUL)]


class AfterSku(Position):
    """Skus ascending: the next page starts after this one (skus are uint32)."""

    after: Annotated[int, Field(strict=True, ge=0, le=MAX_UINT32)]


@router.get(
    "/products",
    response_model=Page[Product],
    tags=["products"],
    summary="The catalogue, filtered, in sku order",
    **PUBLIC.doc(400, 422),
)
async def list_products(
    pool: RawPoolDep,
    limit: Annotated[int, Query(ge=1, le=200)] = 20,
    cursor: CursorQuery = None,
    category: GroupQuery = None,
    manufacturer: GroupQuery = None,
    min_price: PriceQuery = None,
    max_price: PriceQuery = None,
    sku: Annotated[
        list[Annotated[int, Query(ge=1, le=MAX_UINT32)]] | None,
        Query(max_length=200, description="Only these skus (repeat the parameter)."),
    ] = None,
) -> dict[str, Any]:
    position = decode_cursor(cursor, AfterSku)
    after = position.after if position else None
    items, next_after = await catalogue.list_products(
        pool,
        limit=limit,
        after_sku=after,
        category=category,
        manufacturer=manufacturer,
        min_price=min_price,
        max_price=max_price,
        skus=sku,
    )
    return {"items": items, "next_cursor": encode_cursor(AfterSku(after=next_after)) if next_after else None}


@router.get("/products/{sku}", response_model=Product, tags=["products"], **PUBLIC.doc(404, 422))
async def get_product_details(sku: SkuPath, session: ReadSessionDep) -> dict[str, Any]:
    return await catalogue.get_product(session, sku=sku)


@router.post(
    "/products",
    response_model=Product,
    status_code=201,
    tags=["products"],
    dependencies=[ManagerOnly],
    **MANAGERS.doc(*WRITE_ERRORS),
)
async def create_product(body: ProductCreate, session: SessionDep) -> dict[str, Any]:
    return await catalogue.create_product(session, data=body)


@router.patch(
    "/products/{sku}",
    response_model=Product,
    tags=["products"],
    dependencies=[ManagerOnly],
    **MANAGERS.doc(*WRITE_ERRORS),
)
async def update_product(sku: SkuPath, body: ProductUpdate, session: SessionDep) -> dict[str, Any]:
    return await catalogue.update_product(session, sku=sku, data=body)


@router.delete(
    "/products/{sku}", status_code=204, tags=["products"], dependencies=[ManagerOnly], **MANAGERS.doc(*WRITE_ERRORS)
)
async def delete_product(sku: SkuPath, session: SessionDep) -> Response:
    await catalogue.delete_product(session, sku=sku)
    return Response(status_code=204)


def _group_routes(path: str, table: Any, model: type, tag: str) -> None:
    """Categories and manufacturers have the same shape and the same rules."""
    _group_reads(path, table, model, tag)
    _group_writes(path, table, model, tag)


def _group_reads(path: str, table: Any, model: type, tag: str) -> None:
    @router.get(
        f"/{path}",
        response_model=list[model],  # type: ignore[valid-type]
        tags=[tag],
        name=f"list_{path}",
        summary=f"All {path}, each with its instruments",
        **PUBLIC.doc(),
    )
    async def list_all(session: ReadSessionDep) -> list[dict[str, Any]]:
        return await catalogue.list_groups(session, table=table)

    @router.get(f"/{path}/{{group_id}}", response_model=model, tags=[tag], name=f"get_{path}", **PUBLIC.doc(404, 422))
    async def get_one(group_id: IdPath, session: ReadSessionDep) -> dict[str, Any]:
        return await catalogue.get_group(session, table=table, group_id=group_id)


def _group_writes(path: str, table: Any, model: type, tag: str) -> None:
    @router.post(
        f"/{path}",
        response_model=model,
        status_code=201,
        tags=[tag],
        name=f"create_{path}",
        dependencies=[ManagerOnly],
        **MANAGERS.doc(*WRITE_ERRORS),
    )
    async def create(body: GroupCreate, session: SessionDep) -> dict[str, Any]:
        return await catalogue.create_group(session, table=table, data=body)

    @router.patch(
        f"/{path}/{{group_id}}",
        response_model=model,
        tags=[tag],
        name=f"update_{path}",
        dependencies=[ManagerOnly],
        **MANAGERS.doc(*WRITE_ERRORS),
    )
    async def update_one(group_id: IdPath, body: GroupUpdate, session: SessionDep) -> dict[str, Any]:
        return await catalogue.update_group(session, table=table, group_id=group_id, data=body)

    @router.delete(
        f"/{path}/{{group_id}}",
        status_code=204,
        tags=[tag],
        name=f"delete_{path}",
        dependencies=[ManagerOnly],
        **MANAGERS.doc(*WRITE_ERRORS),
    )
    async def delete_one(group_id: IdPath, session: SessionDep) -> Response:
        await catalogue.delete_group(session, table=table, group_id=group_id)
        return Response(status_code=204)


_group_routes("categories", categories, Category, "categories")
_group_routes("manufacturers", manufacturers, Manufacturer, "manufacturers")
