"""Booking requests (public), the customer's own bookings, and the staff's work on them."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response
from pydantic import AwareDatetime
from sqlalchemy.ext.asyncio import AsyncConnection

from bookings.api.deps import (
    OPTIONAL_BEARER,
    ConnDep,
    EngineDep,
    IdempotencyKey,
    Manager,
    MaybeCaller,
    Now,
    ReadConnDep,
    SinkDep,
    request_limits,
)
from bookings.api.schemas import MOMENT_DOC, BookingCreate, BookingOut, BookingPage, Moment
from bookings.domain.booking import Action, BookingDetails
from bookings.domain.statuses import ACTIVE_STATUSES, BookingStatus
from bookings.repositories.bookings import BookingFilter
from bookings.services import staff
from bookings.services.idempotency import run_once
from bookings.services.requests import request_booking
from shopcommon.access import TOKEN_REFUSALS, Access, access
from shopcommon.auth import Principal, Role, require_roles
from shopcommon.idempotency import Answer, answer_response, idempotency_request
from shopcommon.pagination import CursorId, CursorQuery, LimitQuery, Position, decode_cursor, encode_cursor
from shopcommon.problems import problem_responses
from shopcommon.validation import MAX_JSON_INT

router = APIRouter(prefix="/api/v1/bookings", tags=["bookings"])
RATE_LIMITED: dict[str, Any] = {
    **problem_responses(429)[429],
    "headers": {
        "Retry-After": {
            "description": "Seconds until a request fits the limit again.",
            "schema": {"type": "integer", "minimum": 1},
        }
    },
}
BookingId = Annotated[int, Path(ge=1, le=MAX_JSON_INT)]
Customer = Annotated[Principal, require_roles(Role.CUSTOMER)]
Reader = Annotated[Principal, require_roles(Role.CUSTOMER, Role.MANAGER)]
MANAGERS = access(Role.MANAGER)
#: Anyone; a token, when sent, must be valid (a bad one is 401, not a guest).
OPEN = Access(
    ("public", "customer (links the booking to them)", "manager (may book directly)"), TOKEN_REFUSALS, OPTIONAL_BEARER
)


class ByStart(Position):
    """Staff lists, in start order: the next page starts after this booking (its start, then its id)."""

    s: AwareDatetime
    i: CursorId


class BeforeBooking(Position):
    """A customer's list, newest first: the next page holds the ids below `b`."""

    b: CursorId


@router.post(
    "",
    status_code=201,
    response_model=BookingOut,
    summary="Request a booking",
    description="A guest's request is `pending` until staff confirm or reject it; it does not take the table off "
    "the search. It needs an email address or a phone number (or both); it starts in the future "
    "(within a year) and lasts 30 minutes to 8 hours; the price in force now is kept on the booking. "
    "The acknowledging email carries a single-use cancel link. A closed table is 409, an unknown one 404.\n\n"
    'A manager\'s `"status": "confirmed"` books the table directly (without a token 401, with another '
    "role's 403): 409 when a confirmed booking of the table overlaps. A customer token links the booking to the customer (`GET /bookings/mine`).\n\n"
    "Requests that make a booking are limited per client address (IPv6: per /64) and per email address "
    "(a `+tag` and letter case do not make another address), each in a sliding window "
    "(`BOOKINGS_REQUESTS_PER_IP` per `BOOKINGS_REQUESTS_PER_IP_WINDOW` seconds, 5 a minute by default; "
    "`BOOKINGS_REQUESTS_PER_EMAIL` per `BOOKINGS_REQUESTS_PER_EMAIL_WINDOW`, 10 a day by default); beyond "
    "a limit, 429 `rate-limited` with `Retry-After`. Refused requests are not counted; managers are not "
    "limited. A 429 does not use up an `Idempotency-Key`.",
    **OPEN.doc(404, 409, 422, answers={429: RATE_LIMITED}),
)
async def create_booking(
    body: BookingCreate,
    request: Request,
    caller: MaybeCaller,
    engine: EngineDep,
    sink: SinkDep,
    now: Now,
    idempotency_key: IdempotencyKey = None,
) -> Response:
    wanted = BookingDetails(**body.model_dump(exclude={"status"}))
    direct = body.status == BookingStatus.CONFIRMED
    limits = request_limits(request, caller, body.email)

    async def operation(conn: AsyncConnection) -> Answer:
        booking = await request_booking(conn, sink, wanted, direct=direct, caller=caller, now=now, limits=limits)
        return Answer.of(201, BookingOut.of(booking).model_dump(mode="json"))

    idem = idempotency_request(caller, request, idempotency_key, body.model_dump(mode="json"))
    return answer_response(await run_once(engine, idem, operation))


@router.get(
    "",
    response_model=BookingPage,
    summary="List bookings (staff)",
    description="In start order. Without `status`, the active ones (pending and confirmed). `from`/`to`: bookings "
    "overlapping `[from, to)`.",
    **MANAGERS.doc(400, 422),
)
async def list_bookings(
    _: Manager,
    conn: ReadConnDep,
    status: BookingStatus | None = None,
    table_id: Annotated[int | None, Query(ge=1, le=MAX_JSON_INT)] = None,
    starts_from: Annotated[Moment | None, Query(alias="from", description="Ending after this. " + MOMENT_DOC)] = None,
    ends_before: Annotated[Moment | None, Query(alias="to", description="Starting before this. " + MOMENT_DOC)] = None,
    cursor: CursorQuery = None,
    limit: LimitQuery = 50,
) -> BookingPage:
    where = BookingFilter((status,) if status else ACTIVE_STATUSES, table_id, starts_from, ends_before)
    position = decode_cursor(cursor, ByStart)
    after = (position.s, position.i) if position else None
    page, following = await staff.list_bookings(conn, where, after=after, limit=limit)
    next_cursor = encode_cursor(ByStart(s=following[0], i=following[1])) if following else None
    return BookingPage(items=[BookingOut.of(b) for b in page], next_cursor=next_cursor)


@router.get(
    "/mine",
    response_model=BookingPage,
    summary="My bookings",
    description="The bookings requested with the caller's customer token, newest first, every status.",
    **access(Role.CUSTOMER).doc(400, 422),
)
async def my_bookings(
    caller: Customer, conn: ReadConnDep, cursor: CursorQuery = None, limit: LimitQuery = 50
) -> BookingPage:
    position = decode_cursor(cursor, BeforeBooking)
    user_id = caller.user_id or 0
    page, before = await staff.list_mine(conn, user_id, before_id=position.b if position else None, limit=limit)
    return BookingPage(
        items=[BookingOut.of(b) for b in page], next_cursor=encode_cursor(BeforeBooking(b=before)) if before else None
    )


@router.get(
    "/{booking_id}",
    response_model=BookingOut,
    **access(Role.MANAGER, "customer (own bookings)").doc(404, 422),
)
async def get_booking(booking_id: BookingId, caller: Reader, conn: ReadConnDep) -> BookingOut:
    return BookingOut.of(await staff.get_booking(conn, booking_id, caller=caller))


def _staff_action(action: Action, verb: str, summary: str, description: str) -> None:
    """The route by which staff move a booking with `action` (`POST /{booking_id}/<verb>`)."""

    async def move_booking(booking_id: BookingId, _: Manager, conn: ConnDep, sink: SinkDep, now: Now) -> BookingOut:
        return BookingOut.of(await staff.move(conn, sink, booking_id, action, now=now))

    router.post(
        f"/{{booking_id}}/{verb}",
        name=f"{verb}_booking",
        summary=summary,
        description=description,
        response_model=BookingOut,
        **MANAGERS.doc(404, 409, 422),
    )(move_booking)


_staff_action(
    Action.CONFIRM,
    "confirm",
    "Confirm a booking",
    "`pending` -> `confirmed`. 409 when a confirmed booking of the same table overlaps (the database "
    "refuses it, whoever confirms first), when the booking is not pending, or when its time is over.",
)
_staff_action(Action.REJECT, "reject", "Reject a booking", "`pending` -> `rejected`; 409 from any other status.")
_staff_action(
    Action.CANCEL,
    "cancel",
    "Cancel a booking (staff)",
    "`pending` or `confirmed` -> `cancelled` with `cancelled_by: staff`, even once it has started; 409 otherwise.",
)
