"""Request and response bodies, apart from the tables.

Request fields say in the document exactly what the code accepts (`shopcommon.validation`): integers
as JSON Schema counts them (`5.0` is 5; `true`, `"5"` and `5.5` are refused), ranged as the seed types
them (skus uint32 without 0, counts uint16 without 0), ids within what a JSON number carries exactly
(2^53-1), and text by a pattern that is read alike as ECMA-262 (the document) and by the validator."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, Strict

from loms.domain.errors import ItemsNotMergeable
from loms.domain.items import ItemsRejected, OrderItem, merge_items
from loms.domain.statuses import CancelReason, OrderStatus, RequestedCancelReason
from shopcommon.statuses import TaskStatus
from shopcommon.validation import JSON_INTEGER, MAX_UINT32, Count, Id, Price, Sku

MAX_LINES = 200
Total = Annotated[int, Strict(), Field(ge=0, le=MAX_UINT32), JSON_INTEGER]
Delta = Annotated[int, Strict(), Field(ge=-MAX_UINT32, le=MAX_UINT32), JSON_INTEGER]

# Text: no `\s` or `\S` (ECMA-262 and the validator's regex disagree on them, e.g. on U+0085 and
# U+FEFF) and no stripping: a name is stored as sent, so surrounding whitespace is refused.
#: Control characters (C0, DEL, C1): no name holds them, and PostgreSQL cannot store NUL.
_CONTROL = r"\x00-\x1f\x7f-\x9f"
#: Control characters, and whitespace by ECMA-262's `\s` or Python's `str.isspace`.
_BLANK = _CONTROL + r"\x20\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"
#: One or more characters, none of them a control character, neither first nor last a blank.
NAME_PATTERN = rf"^[^{_BLANK}](?:[^{_CONTROL}]*[^{_BLANK}])?$"

ITEMS_RULES = (
    f"1 to {MAX_LINES} lines. A sku listed more than once is merged into one line whose count is the sum "
    f"(it must stay within 65535, and the lines must carry the same price, else 422 `items-not-mergeable`)."
)


class Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


def merged(items: list[OrderItem]) -> list[OrderItem]:
    try:
        return merge_items(items)
    except ItemsRejected as exc:
        raise ItemsNotMergeable(str(exc)) from exc


# --- REST ----------------------------------------------------------------------------------------
class ItemIn(Body):
    sku: Sku
    count: Count
    price: Price | None = Field(default=None, description="Only `service` and `manager` callers may set it.")


class OrderCreate(Body):
    user_id: Id
    items: Annotated[list[ItemIn], Field(min_length=1, max_length=MAX_LINES, description=ITEMS_RULES)]

    def lines(self) -> list[OrderItem]:
        """The item lines, merged; `ItemsNotMergeable` (422) when they cannot be."""
        return merged([OrderItem(i.sku, i.count, i.price) for i in self.items])


class CancelBody(Body):
    reason: RequestedCancelReason | None = Field(
        default=None,
        description="`customer`, or `staff` (staff callers only). `timeout` is not asked for: it is the "
        "expiry's own reason for an unpaid order.",
    )

    def cancel_reason(self) -> CancelReason | None:
        return CancelReason(self.reason) if self.reason is not None else None


class ItemOut(BaseModel):
    sku: int
    count: int
    price: int | None


class Shortage(BaseModel):
    sku: int
    requested: int
    available: int


class TaskRef(BaseModel):
    task_id: int
    category: str
    worker_id: int | None
    status: TaskStatus


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
    tasks: list[TaskRef] = Field(
        default_factory=list,
        description="Its fulfilment tasks, one per product category, made once the order is paid "
        "(`GET /api/v1/tasks/{task_id}` has the rest).",
    )


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
    name: Annotated[
        str,
        Field(
            min_length=1,
            max_length=100,
            pattern=NAME_PATTERN,
            description="Stored as sent: no control characters, no whitespace at either end.",
        ),
    ]


class WarehouseOut(BaseModel):
    id: int
    name: str
    created_at: datetime


class StockTotal(Body):
    total: Total
    #: The total the caller last saw: the change is made only if it is still the total.
    expected_total: Total | None = None


class StockAdjust(Body):
    delta: Delta


class StockRow(BaseModel):
    sku: int
    warehouse_id: int
    total: int
    reserved: int
    available: int


# --- route256 RPC, field names verbatim ---------------------------------------------------------------
class RpcItem(Body):
    sku: Sku
    count: Count


class CreateOrderRequest(Body):
    user: Id
    items: Annotated[list[RpcItem], Field(min_length=1, max_length=MAX_LINES, description=ITEMS_RULES)]

    def lines(self) -> list[OrderItem]:
        """The item lines, merged; `ItemsNotMergeable` (422) when they cannot be."""
        return merged([OrderItem(i.sku, i.count) for i in self.items])


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
