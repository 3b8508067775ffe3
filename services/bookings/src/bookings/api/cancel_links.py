"""The cancel link of a guest's email, for checkout's `/bookings/cancel/{token}` page: the GET shows
the booking and whether it can still be cancelled; only the POST cancels. The token is the only
credential: a forged or used one is 404, whatever it looks like."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path

from bookings.api.deps import ConnDep, Now, ReadConnDep, SinkDep
from bookings.api.schemas import BookingOut, CancelLinkOut
from bookings.services import cancel_links
from shopcommon.access import Access

router = APIRouter(prefix="/api/v1/bookings/by-token", tags=["cancel links"])
PUBLIC = Access(("public (the cancel token is the credential)",))
Token = Annotated[str, Path(description="The token of the cancel link (not the booking id).")]


@router.get(
    "/{token}",
    response_model=CancelLinkOut,
    summary="Show the booking of a cancel link",
    description="Changes nothing (mail scanners open links). 404 for a forged or already used token.",
    **PUBLIC.doc(404),
)
async def show_cancel_link(token: Token, conn: ReadConnDep, now: Now) -> CancelLinkOut:
    view = await cancel_links.show(conn, token, now=now)
    return CancelLinkOut(booking=BookingOut.of(view.booking), cancellable=view.cancellable, reason=view.reason)


@router.post(
    "/{token}/cancel",
    response_model=BookingOut,
    summary="Cancel through a cancel link",
    description="Cancels a pending or confirmed booking that has not started (`cancelled_by: customer`) and spends "
    "the token: a second POST is 404 and changes nothing. 409 `booking-started` once it has started, "
    "409 `invalid-transition` when it is rejected or was cancelled by staff.",
    **PUBLIC.doc(404, 409),
)
async def cancel_by_link(token: Token, conn: ConnDep, sink: SinkDep, now: Now) -> BookingOut:
    return BookingOut.of(await cancel_links.cancel(conn, sink, token, now=now))
