"""Tables: the public search and table pages; managers add, change, close and price them."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response

from bookings.api.deps import OPTIONAL_BEARER, ConnDep, Manager, MaybeCaller, Now, ReadConnDep, SinkDep, search_pool
from bookings.api.schemas import (
    MOMENT_DOC,
    Moment,
    PriceCreate,
    PriceOut,
    TableCreate,
    TableList,
    TableOut,
    TableUpdate,
)
from bookings.domain.rules import MAX_PRICE, MAX_SEATS
from bookings.domain.statuses import TableKind
from bookings.repositories.tables import TableRow, TableSearch
from bookings.services import tables
from bookings.services.tables import NewTable
from shopcommon.access import PUBLIC, access
from shopcommon.auth import Role
from shopcommon.problems import Forbidden
from shopcommon.validation import MAX_JSON_INT

router = APIRouter(prefix="/api/v1/tables", tags=["tables"])
MANAGERS = access(Role.MANAGER)
TableId = Annotated[int, Path(ge=1, le=MAX_JSON_INT)]
SEARCH_DOC = (
    "The tables of a kind, with at least `seats` seats, whose price in force now lies in "
    "`[min_price, max_price]` (none when `min_price` is above `max_price`), ordered by seats, then price. "
    "Bookable ones only, unless a manager asks for closed ones too; a table whose first price is still to "
    "come cannot be booked yet and is left out. Every parameter is optional.\n\n"
    "With a time window, only the tables that no confirmed booking holds anywhere in `[starts_at, ends_at)` "
    "(pending requests do not hold a table). Without `ends_at` the window has no end; without `starts_at` "
    "it starts now. An empty window (`ends_at` not after its start) is held by no booking, so it excludes "
    "nothing. A token is optional here; when one is sent it must be valid."
)
MOMENT_QUERY_DOC = MOMENT_DOC + " In a URL, `+` is `%2B`."


def _table_out(row: TableRow) -> TableOut:
    return TableOut(
        table_id=row.table_id, name=row.name, kind=row.kind, seats=row.seats, price=row.price, bookable=row.bookable
    )


@router.get(
    "",
    response_model=TableList,
    **PUBLIC.doc(401, 403, 422, extra=OPTIONAL_BEARER),
    summary="Search tables",
    description=SEARCH_DOC,
)
async def search_tables(
    request: Request,
    caller: MaybeCaller,
    now: Now,
    kind: TableKind | None = None,
    seats: Annotated[int | None, Query(ge=1, le=MAX_SEATS, description="At least this many seats.")] = None,
    min_price: Annotated[int | None, Query(ge=0, le=MAX_PRICE)] = None,
    max_price: Annotated[int | None, Query(ge=0, le=MAX_PRICE)] = None,
    starts_at: Annotated[
        Moment | None, Query(description="The window's start (now when omitted). " + MOMENT_QUERY_DOC)
    ] = None,
    ends_at: Annotated[Moment | None, Query(description="The window's end, exclusive. " + MOMENT_QUERY_DOC)] = None,
    include_closed: Annotated[bool, Query(description="Closed tables too (managers only).")] = False,
) -> Response:
    if include_closed and (caller is None or caller.role != Role.MANAGER):
        raise Forbidden("Only managers see closed tables")
    query = TableSearch(kind, seats, min_price, max_price, starts_at, ends_at, include_closed)
    # The hot path: PostgreSQL writes the JSON; `response_model` documents it (see bench/bookings).
    body = await tables.search_json(search_pool(request), query, now=now)
    return Response(body, media_type="application/json")


@router.get("/{table_id}", response_model=TableOut, **PUBLIC.doc(404, 422))
async def get_table(table_id: TableId, conn: ReadConnDep) -> TableOut:
    return _table_out(await tables.get_table(conn, table_id))


@router.get(
    "/{table_id}/prices",
    response_model=list[PriceOut],
    summary="Price history",
    description="Every price of the table, oldest first, future ones included.",
    **PUBLIC.doc(404, 422),
)
async def table_prices(table_id: TableId, conn: ReadConnDep) -> list[PriceOut]:
    return [
        PriceOut(price=p.price, effective_from=p.effective_from) for p in await tables.price_history(conn, table_id)
    ]


@router.post("", status_code=201, response_model=TableOut, **MANAGERS.doc(409, 422))
async def create_table(body: TableCreate, _: Manager, conn: ConnDep, sink: SinkDep, now: Now) -> TableOut:
    new = NewTable(name=body.name, kind=body.kind, seats=body.seats, price=body.price, bookable=body.bookable)
    return _table_out(await tables.create_table(conn, new, sink=sink, now=now))


@router.patch(
    "/{table_id}",
    response_model=TableOut,
    description="Change a table at once; `bookable: false` closes it to new requests (existing bookings stay). "
    "Publishes `table.changed` (asyncapi/events.yaml), as adding a table and setting a price do.",
    **MANAGERS.doc(404, 409, 422),
)
async def update_table(
    table_id: TableId, body: TableUpdate, _: Manager, conn: ConnDep, sink: SinkDep, now: Now
) -> TableOut:
    changes = body.model_dump(exclude_unset=True)
    return _table_out(await tables.update_table(conn, table_id, changes, sink=sink, now=now))


@router.post(
    "/{table_id}/prices",
    status_code=201,
    response_model=PriceOut,
    summary="Set a price",
    description="From `effective_from` (now when omitted; never in the past). Bookings keep the price they were made at.",
    **MANAGERS.doc(404, 409, 422),
)
async def set_price(
    table_id: TableId, body: PriceCreate, _: Manager, conn: ConnDep, sink: SinkDep, now: Now
) -> PriceOut:
    row = await tables.set_price(
        conn, table_id, price=body.price, effective_from=body.effective_from, now=now, sink=sink
    )
    return PriceOut(price=row.price, effective_from=row.effective_from)
