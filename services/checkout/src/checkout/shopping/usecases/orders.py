"""Order use cases on the caller's behalf, through LOMS with the caller's own token: LOMS applies
its ownership rules (a customer sees only their own orders, another's is 404; managers see all)."""

from __future__ import annotations

from typing import Literal

from checkout.shopping.deps import own_user_id
from checkout.shopping.lifespan import Shopping
from checkout.shopping.schemas import CancelIn, Order, OrderPage
from shopcommon.auth import Principal, Scope
from shopcommon.problems import Forbidden


async def list_orders(
    shop: Shopping, principal: Principal, *, limit: int, cursor: str | None, user_id: int | None, status: str | None
) -> OrderPage:
    """Newest first; people other than staff only their own (naming another user is 403)."""
    if not principal.acts_for_anyone(Scope.ORDERS_READ):
        mine = own_user_id(principal)
        if user_id is not None and user_id != mine:
            raise Forbidden("You may only list your own orders")
        user_id = mine
    params = {"limit": limit, "cursor": cursor, "user_id": user_id, "status": status}
    return OrderPage.model_validate(await shop.loms.list_orders(token=principal.token, params=params))


async def get_order(shop: Shopping, principal: Principal, order_id: int) -> Order:
    return Order.model_validate(await shop.loms.get_order(order_id, token=principal.token))


async def move_order(
    shop: Shopping,
    principal: Principal,
    order_id: int,
    action: Literal["pay", "cancel"],
    *,
    idempotency_key: str | None,
    cancel: CancelIn | None = None,
) -> Order:
    """Pay (reserved units are written off) or cancel (they are released), as LOMS decides."""
    body = cancel.model_dump(mode="json", exclude_none=True) if cancel else {}
    order = await shop.loms.move_order(
        order_id, action, token=principal.token, idempotency_key=idempotency_key, body=body
    )
    return Order.model_validate(order)
