"""An order as the use cases see it: a snapshot read under a lock, plus its wire form."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from loms.domain.events import iso, status_changed
from loms.domain.items import OrderItem
from loms.domain.statuses import CancelReason, OrderStatus


@dataclass(frozen=True)
class Order:
    id: int
    user_id: int
    status: OrderStatus
    items: tuple[OrderItem, ...]
    total_price: int | None
    created_at: datetime
    updated_at: datetime
    payment_deadline: datetime | None = None
    cancel_reason: CancelReason | None = None
    shortages: list[dict[str, int]] | None = field(default=None)
    #: Its fulfilment tasks `{task_id, category, worker_id, status}` (filled by the order reads).
    tasks: tuple[dict[str, Any], ...] = ()

    def change_event(
        self,
        status: OrderStatus,
        occurred_at: datetime,
        *,
        payment_deadline: datetime | None = None,
        reason: CancelReason | None = None,
    ) -> dict[str, Any]:
        """The event of this order moving from its current status to `status`."""
        return status_changed(
            order_id=self.id,
            user_id=self.user_id,
            status=status,
            previous_status=self.status,
            items=self.items,
            total_price=self.total_price,
            occurred_at=occurred_at,
            payment_deadline=payment_deadline,
            reason=reason,
        )

    def as_wire(self) -> dict[str, Any]:
        """The REST shape: CONTRACT's `{order_id, user_id, status, items, total_price, created_at}`
        and what a client needs next (deadline, why cancelled, what was short)."""
        return {
            "order_id": self.id,
            "user_id": self.user_id,
            "status": str(self.status),
            "items": [i.as_dict() for i in self.items],
            "total_price": self.total_price,
            "created_at": iso(self.created_at),
            "updated_at": iso(self.updated_at),
            "payment_deadline": iso(self.payment_deadline) if self.payment_deadline else None,
            "cancel_reason": str(self.cancel_reason) if self.cancel_reason else None,
            "shortages": self.shortages,
            "tasks": list(self.tasks),
        }
