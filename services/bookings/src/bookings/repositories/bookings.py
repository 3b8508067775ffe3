"""Bookings: written, locked for a status change, listed. The database refuses two confirmed
bookings of one table that overlap (the exclusion constraint); that refusal surfaces here as 409."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from bookings.domain.booking import Booking, BookingDetails
from bookings.domain.errors import TableTaken
from bookings.domain.statuses import ACTIVE_STATUSES, BookingStatus, CancelledBy

EXCLUSION_VIOLATION = "23P01"
_COLUMNS = """id AS booking_id, table_id, starts_at, ends_at, name, email, phone, price, status, cancelled_by,
    user_id, created_at"""


@dataclass(frozen=True)
class NewBooking(BookingDetails):
    price: int
    status: BookingStatus
    user_id: int | None
    cancel_token_hash: bytes | None


@dataclass(frozen=True)
class BookingFilter:
    statuses: tuple[BookingStatus, ...] = ACTIVE_STATUSES
    table_id: int | None = None
    #: Bookings overlapping [starts_from, ends_before).
    starts_from: datetime | None = None
    ends_before: datetime | None = None


_INSERT = text(f"""
INSERT INTO bookings (table_id, starts_at, ends_at, name, email, phone, price, status, user_id, cancel_token_hash)
VALUES (:table_id, :starts_at, :ends_at, :name, :email, :phone, :price, :status, :user_id, :cancel_token_hash)
RETURNING {_COLUMNS}
""")
_GET = text(f"SELECT {_COLUMNS} FROM bookings WHERE id = :booking_id")
_LOCK = text(f"SELECT {_COLUMNS} FROM bookings WHERE id = :booking_id FOR UPDATE")
_LOCK_BY_TOKEN = text(f"SELECT {_COLUMNS} FROM bookings WHERE cancel_token_hash = :digest FOR UPDATE")
_GET_BY_TOKEN = text(f"SELECT {_COLUMNS} FROM bookings WHERE cancel_token_hash = :digest")
_SET_STATUS = text("""
UPDATE bookings SET status = :status, cancelled_by = :cancelled_by, updated_at = now(),
       cancel_token_hash = CASE WHEN :spend_token THEN NULL ELSE cancel_token_hash END
WHERE id = :booking_id
""")
_LIST = text(f"""
SELECT {_COLUMNS} FROM bookings
WHERE status = ANY(CAST(:statuses AS varchar[]))
  AND (CAST(:table_id AS bigint) IS NULL OR table_id = :table_id)
  AND (CAST(:starts_from AS timestamptz) IS NULL OR ends_at > :starts_from)
  AND (CAST(:ends_before AS timestamptz) IS NULL OR starts_at < :ends_before)
  AND (CAST(:after_starts AS timestamptz) IS NULL OR (starts_at, id) > (CAST(:after_starts AS timestamptz), CAST(:after_id AS bigint)))
ORDER BY starts_at, id LIMIT :limit
""")
_MINE = text(f"""
SELECT {_COLUMNS} FROM bookings
WHERE user_id = :user_id AND (CAST(:before_id AS bigint) IS NULL OR id < :before_id)
ORDER BY id DESC LIMIT :limit
""")


#: Confirmations of one table take turns. Two overlapping confirmations at once would each wait
#: on the other's row in the exclusion constraint's check, and PostgreSQL would break the
#: deadlock by failing one (40P01); in turn, the second finds the first committed and is a 409.
_CONFIRMING = text("SELECT pg_advisory_xact_lock(hashtextextended('booking-table' || chr(10) || :table_id, 0))")


async def _confirming(conn: AsyncConnection, status: BookingStatus, table_id: int) -> None:
    if status == BookingStatus.CONFIRMED:
        await conn.execute(_CONFIRMING, {"table_id": str(table_id)})


def _booking(row: Any) -> Booking:
    cancelled_by = CancelledBy(row.cancelled_by) if row.cancelled_by is not None else None
    return Booking(**{**row._mapping, "status": BookingStatus(row.status), "cancelled_by": cancelled_by})


def _is_overlap(exc: IntegrityError) -> bool:
    orig = getattr(exc, "orig", None)
    return getattr(orig, "sqlstate", None) == EXCLUSION_VIOLATION or "ex_bookings_confirmed_no_overlap" in str(exc)


async def insert(conn: AsyncConnection, new: NewBooking) -> Booking:
    params = {**asdict(new), "status": str(new.status)}
    await _confirming(conn, new.status, new.table_id)
    try:
        async with conn.begin_nested():
            return _booking((await conn.execute(_INSERT, params)).one())
    except IntegrityError as exc:
        if _is_overlap(exc):
            raise TableTaken(new.table_id) from exc
        raise


async def get(conn: AsyncConnection, booking_id: int) -> Booking | None:
    row = (await conn.execute(_GET, {"booking_id": booking_id})).first()
    return _booking(row) if row is not None else None


async def lock(conn: AsyncConnection, booking_id: int) -> Booking | None:
    row = (await conn.execute(_LOCK, {"booking_id": booking_id})).first()
    return _booking(row) if row is not None else None


async def by_token(conn: AsyncConnection, digest: bytes, *, for_update: bool) -> Booking | None:
    row = (await conn.execute(_LOCK_BY_TOKEN if for_update else _GET_BY_TOKEN, {"digest": digest})).first()
    return _booking(row) if row is not None else None


async def set_status(conn: AsyncConnection, booking: Booking, *, spend_token: bool = False) -> None:
    """Store `booking`'s status; a confirmation that would overlap another confirmed booking of
    the table is refused by the database, whoever committed first."""
    params = {
        "booking_id": booking.booking_id,
        "status": str(booking.status),
        "cancelled_by": str(booking.cancelled_by) if booking.cancelled_by is not None else None,
        "spend_token": spend_token,
    }
    await _confirming(conn, booking.status, booking.table_id)
    try:
        async with conn.begin_nested():
            await conn.execute(_SET_STATUS, params)
    except IntegrityError as exc:
        if _is_overlap(exc):
            raise TableTaken(booking.table_id) from exc
        raise


async def list_for_staff(
    conn: AsyncConnection, where: BookingFilter, *, after: tuple[datetime, int] | None, limit: int
) -> list[Booking]:
    params = {
        "statuses": [str(s) for s in where.statuses],
        "table_id": where.table_id,
        "starts_from": where.starts_from,
        "ends_before": where.ends_before,
        "after_starts": after[0] if after else None,
        "after_id": after[1] if after else None,
        "limit": limit,
    }
    return [_booking(r) for r in await conn.execute(_LIST, params)]


async def list_of_user(conn: AsyncConnection, user_id: int, *, before_id: int | None, limit: int) -> list[Booking]:
    rows = await conn.execute(_MINE, {"user_id": user_id, "before_id": before_id, "limit": limit})
    return [_booking(r) for r in rows]
