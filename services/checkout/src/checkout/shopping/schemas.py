"""Request and response bodies: route256's field names verbatim for the RPC endpoints, CONTRACT.md's
for the REST API."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from shopcommon.statuses import RequestedCancelReason, TaskStatus
from shopcommon.validation import Count, Id, Sku

#: Body integers read as JSON Schema counts them (5.0 is 5; true and "5" are not integers), ids
#: within what a JSON number carries exactly (2^53-1). Query and path parameters are text: they
#: take plain `int` with the same bounds (`shopcommon.validation`).
UserId = Id


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


# --- route256 RPC ---------------------------------------------------------------------------------
class CartLineRequest(Strict):
    user: UserId
    sku: Sku
    count: Count


class UserRequest(Strict):
    user: UserId


class Empty(BaseModel):
    pass


class RpcCartItem(BaseModel):
    sku: int
    count: int
    name: str
    price: int


class RpcCart(BaseModel):
    items: list[RpcCartItem]
    totalPrice: int  # noqa: N815 - the seed's spelling


class RpcPurchase(BaseModel):
    orderID: int  # noqa: N815 - the seed's spelling
    status: str


# --- REST -----------------------------------------------------------------------------------------
class CartItemIn(Strict):
    sku: Sku
    count: Count


class CartItem(BaseModel):
    sku: int
    count: int
    name: str
    price: int


class Cart(BaseModel):
    items: list[CartItem]
    total_price: int


class CartLine(BaseModel):
    sku: int
    count: int = Field(description="The line's count after the change (0: the line is gone).")


class CheckoutResult(BaseModel):
    order_id: int
    status: str


class Product(BaseModel):
    sku: int
    name: str
    price: int
    quantity_in_stock: int
    category: str
    manufacturer: str


class OrderItemIn(Strict):
    sku: Sku
    count: Count


class OrderCreate(Strict):
    items: Annotated[list[OrderItemIn], Field(min_length=1, max_length=200)]
    user_id: UserId | None = Field(default=None, description="Managers and services: whose order this is.")


class CancelIn(Strict):
    reason: RequestedCancelReason | None = Field(default=None, description="`staff` for staff callers only.")


class OrderItem(BaseModel):
    sku: int
    count: int
    price: int | None = None


class TaskRef(BaseModel):
    """What an order carries of each of its fulfilment tasks."""

    task_id: int
    category: str
    worker_id: int | None
    status: TaskStatus


class Order(BaseModel):
    model_config = ConfigDict(extra="allow")

    order_id: int
    user_id: int
    status: str
    items: list[OrderItem]
    total_price: int | None = None
    created_at: datetime | None = None
    tasks: list[TaskRef] = Field(
        default_factory=list,
        description="Its fulfilment tasks (one per product category), made once it is paid; as LOMS gives them.",
    )


class TaskItem(BaseModel):
    sku: int
    count: int


class Task(BaseModel):
    """A fulfilment task, as LOMS gives it (fields LOMS adds pass through)."""

    model_config = ConfigDict(extra="allow")

    task_id: int
    order_id: int
    category: str = Field(description="The product category of every item of the task.")
    items: list[TaskItem]
    worker_id: int | None = Field(description="The worker it is assigned to; null while `unassigned`.")
    status: TaskStatus
    assigned_at: datetime | None = None
    updated_at: datetime | None = None


class TaskPage(BaseModel):
    items: list[Task]
    next_cursor: str | None = None


class AssignIn(Strict):
    worker_id: UserId = Field(description="An active worker (a user with role `worker`).")


class OrderPage(BaseModel):
    items: list[Order]
    next_cursor: str | None = None
