"""Business errors: each carries the HTTP status a client sees (409 for the wrong state, 404 for a
missing or someone else's order), so the API layer never translates them."""

from shopcommon.problems import Conflict, NotFound


class OrderNotFound(NotFound):
    slug = "order-not-found"

    def __init__(self, order_id: int) -> None:
        super().__init__(f"Order {order_id} not found", order_id=order_id)


class InvalidTransition(Conflict):
    title, slug = "Order status does not allow this", "invalid-transition"

    def __init__(self, order_id: int, status: str, action: str) -> None:
        super().__init__(
            f"Order {order_id} is {status!r}; it cannot be {action}", order_id=order_id, current_status=status
        )


class PaymentDeadlinePassed(Conflict):
    title, slug = "Payment deadline passed", "payment-deadline-passed"

    def __init__(self, order_id: int) -> None:
        super().__init__(f"Order {order_id} was not paid in time; it is being cancelled", order_id=order_id)
