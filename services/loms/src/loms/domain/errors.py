"""Business errors: each carries the HTTP status a client sees (409 for the wrong state, 404 for a
missing or someone else's order), so the API layer never translates them."""

from typing import Any

from shopcommon.problems import Conflict, NotFound, UnprocessableEntity


class OrderNotFound(NotFound):
    slug = "order-not-found"

    def __init__(self, order_id: int) -> None:
        super().__init__(f"Order {order_id} not found", order_id=order_id)


class InvalidTransition(Conflict):
    title, slug = "Order status does not allow this", "invalid-transition"

    def __init__(self, order_id: int, status: str, action: str) -> None:
        status = str(status)  # the wire spelling of an `OrderStatus`, not its repr
        super().__init__(
            f"Order {order_id} is {status!r}; it cannot be {action}", order_id=order_id, current_status=status
        )


class PaymentDeadlinePassed(Conflict):
    title, slug = "Payment deadline passed", "payment-deadline-passed"

    def __init__(self, order_id: int) -> None:
        super().__init__(f"Order {order_id} was not paid in time; it is being cancelled", order_id=order_id)


class UnpaidLimitReached(Conflict):
    """A create beyond what one user may hold unpaid (`new` or `awaiting payment`): the settings
    `max_unpaid_orders` and `max_unpaid_units_per_sku`. `refusal` is what the recording statement
    found: `{limit, value, held}`, with `sku` and `requested` for the units limit."""

    def __init__(self, user_id: int, refusal: dict[str, Any]) -> None:
        limit, value, held = refusal["limit"], refusal["value"], refusal["held"]
        fields: dict[str, Any] = {"user_id": user_id, "limit": limit, "limit_value": value, "held": held}
        if limit == "max_unpaid_orders":
            super().__init__(
                f"User {user_id} already holds {held} orders awaiting payment, the most allowed "
                f"(max_unpaid_orders = {value}); pay or cancel one first.",
                title="Too many orders awaiting payment",
                slug="too-many-unpaid-orders",
                **fields,
            )
            return
        sku, requested = refusal["sku"], refusal["requested"]
        super().__init__(
            f"User {user_id} holds {held} units of sku {sku} in orders awaiting payment and asks for "
            f"{requested} more; at most {value} may be held (max_unpaid_units_per_sku = {value}).",
            title="Too many units of a sku awaiting payment",
            slug="too-many-unpaid-units",
            sku=sku,
            requested=requested,
            **fields,
        )


class ItemsNotMergeable(UnprocessableEntity):
    """Lines naming the same sku are merged into one line; when their counts add up beyond uint16, or
    their prices differ, they cannot be. A rule across lines, which no JSON Schema can state (it can
    ask for unique items, not for unique skus or a bounded sum), so it has a problem type of its own."""

    title, slug = "Order lines cannot be merged", "items-not-mergeable"

    def __init__(self, reason: str) -> None:
        super().__init__(reason, errors=[{"field": "items", "message": reason}])
