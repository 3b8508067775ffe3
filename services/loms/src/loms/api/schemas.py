"""Request and response bodies, apart from the tables. Integers are strict (JSON numbers only, no
"5" or 5.0) and ranged as the seed types them: skus uint32 without 0, counts uint16 without 0."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, Strict, model_validator

from loms.domain.items import MAX_COUNT, MAX_PRICE, MAX_SKU, ItemsRejected, OrderItem, merge_items
from loms.domain.statuses import CancelReason, OrderStatus

MAX_LINES = 200
Sku = Annotated[int, Strict(), Field(ge=1, le=MAX_SKU, description="uint32, 1..4294967295")]
Count = Annotated[int, Strict(), Field(ge=1, le=MAX_COUNT, description="uint16, 1..65535")]
Price = Annotated[int, Strict(), Field(ge=0, le=MAX_PRICE, description="uint32, in the smallest currency unit")]
Id = Annotated[int, Strict(), Field(ge=1, le=9_223_372_036_854_775_807, description="int64, positive")]
Total = Annotated[int, Strict(), Field(ge=0, le=4_294_967_295)]
Delta = Annotated[int, Strict(), Field(ge=-4_294_967_295, le=4_294_967_295)]

ITEMS_RULES = (
    f"1 to {MAX_LINES} lines. A sku listed more than once is merged into one line whose count is the sum "
    f"(it must stay within 65535, and the lines must carry the same price, else 422)."
)


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


def merged(items: list[OrderItem]) -> list[OrderItem]:
    try:
        return merge_items(items)
    except ItemsRejected as exc:
        raise ValueError(str(exc)) from exc


# --- REST ----------------------------------------------------------------------------------------
class ItemIn(Body):
    sku: Sku
    count: Count
    price: Price | None = Field(default=None, description="Only `service` and `manager` callers may set it.")


class OrderCreate(Body):
    user_id: Id
    items: Annotated[list[ItemIn], Field(min_length=1, max_length=MAX_LINES, description=ITEMS_RULES)]
    _lines: list[OrderItem] = PrivateAttr(default_factory=list)

    def lines(self) -> list[OrderItem]:
        """The item lines, merged (once, by the validation; again for a model built without it)."""
        return self._lines or merged([OrderItem(i.sku, i.count, i.price) for i in self.items])

    @model_validator(mode="after")
    def _mergeable(self) -> OrderCreate:
        self._lines = merged([OrderItem(i.sku, i.count, i.price) for i in self.items])
        return self


class CancelBody(Body):
    reason: CancelReason | None = Field(
        default=None, description="`customer` or `staff` (staff callers only); `timeout` is the expiry's own."
    )

    @model_validator(mode="after")
    def _not_timeout(self) -> CancelBody:
        if self.reason == CancelReason.TIMEOUT:
            raise ValueError("`timeout` is reserved for the expiry of unpaid orders")
        return self


class ItemOut(BaseModel):
    sku: int
    count: int
    price: int | None


class Shortage(BaseModel):
    sku: int
    requested: int
    available: int


class OrderOut(BaseModel):
    order_id: int
    user_id: int
    status: OrderStatus
    items: list[ItemOut]
    total_price: int | None = Field(description="Sum of count x price; null unless every line has a price.")
    created_at: datetime
    updated_at: datetime
    payment_deadline: datetime | None = Field(description="Set once the order is `awaiting payment`.")
    cancel_reason: CancelReason | None
    shortages: list[Shortage] | None = Field(description="For a `failed` order: the lines stock could not cover.")


class OrderPage(BaseModel):
    items: list[OrderOut]
    next_cursor: str | None


class WarehouseStock(BaseModel):
    warehouse_id: int
    count: int = Field(description="Units that can still be bought: total minus reserved.")


class SkuStock(BaseModel):
    sku: int
    stocks: list[WarehouseStock]
    total_available: int


class StockBatch(BaseModel):
    items: list[SkuStock]


class WarehouseCreate(Body):
    name: Annotated[str, Field(min_length=1, max_length=100, pattern=r"\S")]


class WarehouseOut(BaseModel):
    id: int
    name: str
    created_at: datetime


class StockTotal(Body):
    total: Total


class StockAdjust(Body):
    delta: Delta


class StockRow(BaseModel):
    sku: int
    warehouse_id: int
    total: int
    reserved: int
    available: int


class StockRowPage(BaseModel):
    items: list[StockRow]
    next_after: int | None = Field(description="Pass as `after` for the next page; null on the last.")


# --- route256 RPC, field names verbatim ---------------------------------------------------------------
class RpcItem(Body):
    sku: Sku
    count: Count


class CreateOrderRequest(Body):
    user: Id
    items: Annotated[list[RpcItem], Field(min_length=1, max_length=MAX_LINES, description=ITEMS_RULES)]

    _lines: list[OrderItem] = PrivateAttr(default_factory=list)

    def lines(self) -> list[OrderItem]:
        """The item lines, merged (once, by the validation; again for a model built without it)."""
        return self._lines or merged([OrderItem(i.sku, i.count) for i in self.items])

    @model_validator(mode="after")
    def _mergeable(self) -> CreateOrderRequest:
        self._lines = merged([OrderItem(i.sku, i.count) for i in self.items])
        return self


class CreateOrderResponse(BaseModel):
    orderID: int  # noqa: N815 - the seed's spelling


class OrderRef(Body):
    orderID: Id  # noqa: N815


class RpcItemOut(BaseModel):
    sku: int
    count: int


class ListOrderResponse(BaseModel):
    status: OrderStatus
    user: int
    items: list[RpcItemOut]


class Empty(BaseModel):
    pass


class StocksRequest(Body):
    sku: Sku


class RpcStock(BaseModel):
    warehouseID: int  # noqa: N815
    count: int


class StocksResponse(BaseModel):
    stocks: list[RpcStock]
