"""What a live page is told of: the events the notifications stream names, read (`parse`), and
for a manager, what their page shows (`Watch`), since a manager's stream carries the whole shop's
events and their relay renders only what the open page shows."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from starlette.datastructures import QueryParams

from checkout.web.forms import whole_number
from shopcommon.statuses import OrderStatus
from shopcommon.validation import MAX_JSON_INT

ORDER_EVENT = "order.status_changed"
TASK_EVENT = "task.status_changed"
BOOKING_EVENT = "booking.status_changed"
STOCK_EVENT = "stock.changed"
TABLE_EVENT = "table.changed"
#: The events a page may show, by the name the notifications stream gives them.
SHOWN = (ORDER_EVENT, TASK_EVENT, BOOKING_EVENT, STOCK_EVENT, TABLE_EVENT)
#: Of those, the ones only a manager's page shows.
DESK_ONLY = (BOOKING_EVENT, STOCK_EVENT, TABLE_EVENT)
#: The order statuses whose coming moves a warehouse's stock: units reserved, taken, released.
STOCK_MOVES = frozenset({OrderStatus.AWAITING_PAYMENT, OrderStatus.PAID, OrderStatus.CANCELLED})
#: The most ids of one kind a page may name (`Watch`): a page's list is shorter.
WATCH_MAX = 200
#: The most new rows one open page's list takes live; then it says there are more (`Watch.admit`).
NEW_ROWS_MAX = 50


def parse(name: str, data: str) -> dict[str, Any] | None:
    """The event's JSON, when it names the order, booking, table or stock row it is of; None for anything else."""
    try:
        event = json.loads(data)
        if name == STOCK_EVENT:
            return event if isinstance(event["warehouse_id"], int) and isinstance(event["sku"], int) else None
        if name == TABLE_EVENT:
            return event if isinstance(event["table_id"], int) else None
        int(event["booking_id"] if name == BOOKING_EVENT else event["order_id"])
        int(event.get("task_id") or 0)
    except (ValueError, KeyError, TypeError, AttributeError):
        return None
    return event if isinstance(event, dict) else None


def _ids(text: str | None) -> set[int]:
    """`1,2,3` as ids (the first WATCH_MAX; anything not an id is left out)."""
    words = [w.strip() for w in (text or "").split(",")[:WATCH_MAX]]
    return {n for n in map(whole_number, words) if n is not None and 0 < n <= MAX_JSON_INT}


def live_url(*, orders: Iterable[int] = (), tasks: Iterable[int] = (), bookings: Iterable[int] = (),
             tables: Iterable[int] = (), new: Iterable[str] = (), stock: int | None = None,
             skus: Iterable[int] = (), mine: bool = False) -> str:  # fmt: skip
    """The `/live` a page follows, naming what it shows (`Watch` reads it back): a manager's page, or
    a customer's first page of orders, which takes their new ones; `stock`: the warehouse whose rows
    of `skus` the page shows; `mine`: a page of the person's own orders (a manager's "My orders"),
    which follows those alone, as a customer sees them."""
    query = {"orders": orders, "tasks": tasks, "bookings": bookings, "tables": tables, "new": new, "skus": skus,
             "stock": [stock] if stock else [], "mine": [1] if mine else []}  # fmt: skip
    wanted = {key: ",".join(str(v) for v in values) for key, values in query.items()}
    return "/live?" + urlencode({key: value for key, value in wanted.items() if value})


@dataclass
class Watch:
    """What a manager's page shows, so their relay renders that and nothing else: a manager's
    stream carries the whole shop's events. `/live?orders=1,2&tasks=3&bookings=4&new=orders,tasks`:
    the ids on the page, and the lists that take new ones (the desk's first page unfiltered, the
    bookings awaiting an answer, the tables). What a new thing's later events change is then
    followed too, by this connection: one that reconnects starts again from the page's address, so a
    row that came in live is followed again once the page is reloaded. `stock=2&skus=5,6`: the stock
    page's warehouse and the skus of its rows."""

    orders: set[int] = field(default_factory=set)
    tasks: set[int] = field(default_factory=set)
    bookings: set[int] = field(default_factory=set)
    tables: set[int] = field(default_factory=set)
    new: frozenset[str] = frozenset()
    stock: int | None = None
    skus: set[int] = field(default_factory=set)
    added: dict[str, int] = field(default_factory=dict)
    mine: bool = False

    @classmethod
    def of(cls, query: QueryParams) -> Watch:
        new = frozenset((query.get("new") or "").split(",")) & {"orders", "tasks", "bookings", "tables"}
        stock = next(iter(_ids(query.get("stock"))), None)
        return cls(_ids(query.get("orders")), _ids(query.get("tasks")), _ids(query.get("bookings")),
                   _ids(query.get("tables")), new, stock, _ids(query.get("skus")) if stock else set(),
                   mine=query.get("mine") == "1")  # fmt: skip

    def stock_hit(self, name: str, event: dict[str, Any]) -> set[int]:
        """The skus of the page's stock rows this event may have changed: a manager changed one
        (`stock.changed`), or an order reserved, took or released units of them."""
        if self.stock is None:
            return set()
        if name == STOCK_EVENT:
            return {event["sku"]} & self.skus if event["warehouse_id"] == self.stock else set()
        if name != ORDER_EVENT or event.get("status") not in STOCK_MOVES:
            return set()
        items = event.get("items")
        if not isinstance(items, list):
            return set()
        return {i["sku"] for i in items if isinstance(i, dict) and isinstance(i.get("sku"), int)} & self.skus

    def admit(self, kind: str, event: dict[str, Any], item_id: int) -> str:
        """Whether this event's new order, task, booking or table goes on the page (a table: any
        not on it, since the page lists every table): `row` (at the top of its list, a table at
        the end, and followed from now on), `more` (the list took NEW_ROWS_MAX already: say once
        that there are more, so a desk left open all day does not grow without end) or "" (the page
        takes no new ones of this kind, the event is not of a new one, or the page was told)."""
        if kind not in self.new or event.get("previous_status") is not None or not item_id:
            return ""
        count = self.added.get(kind, 0)
        self.added[kind] = count + 1
        if count < NEW_ROWS_MAX:
            getattr(self, kind).add(item_id)
            return "row"
        return "more" if count == NEW_ROWS_MAX else ""
