"""What the API reads and writes (apart from the tables' shapes)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    Strict,
    StringConstraints,
    WithJsonSchema,
    model_validator,
)
from pydantic.config import JsonDict
from pydantic_core import PydanticCustomError

from bookings.domain.booking import Booking
from bookings.domain.rules import MAX_PRICE, MAX_SEATS
from bookings.domain.statuses import BookingStatus, CancelledBy, TableKind
from shopcommon.patching import PartialUpdate
from shopcommon.validation import JSON_INTEGER, Id

__all__ = ["Id"]

# Text: what the document says is what the validator checks, in the same regex (ECMA-262, Rust's
# regex and Python's re read these classes alike: no `\s`, no `\d`, whose meanings differ between
# them). Nothing is stripped: surrounding whitespace is refused, so a value the schema accepts is
# stored as sent.
#: Control characters (C0, DEL, C1), which no name or address holds (NUL cannot even be stored).
_CONTROL = r"\x00-\x1f\x7f-\x9f"
#: Control characters, and whitespace by ECMA-262's `\s` or Python's `str.isspace`.
_BLANK = _CONTROL + r"\x20\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"
#: One or more characters, no control characters, neither starting nor ending with whitespace.
NAME_PATTERN = rf"^[^{_BLANK}](?:[^{_CONTROL}]*[^{_BLANK}])?$"
EMAIL_PATTERN = rf"^[^@{_BLANK}]+@[^@{_BLANK}]+\.[^@{_BLANK}]+$"
PHONE_PATTERN = r"^\+?[0-9][0-9 ()-]{3,30}[0-9]$"

#: An RFC 3339 date-time with its offset (`Z` or `+hh:mm`), years 0001-9999, no leap second.
MOMENT_PATTERN = (
    r"^(?:[1-9][0-9]{3}|0[1-9][0-9]{2}|00[1-9][0-9]|000[1-9])-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12][0-9]|3[01])"
    r"[Tt](?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](?:\.[0-9]{1,9})?(?:[Zz]|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])$"
)
_DOCUMENTED_MOMENT = re.compile(MOMENT_PATTERN)
#: The same strings, in parts.
_MOMENT_PARTS = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt]([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]{1,9}))?"
    r"(?:[Zz]|([+-])([0-9]{2}):([0-9]{2}))"
)
_EARLIEST, _LATEST = datetime.min.replace(tzinfo=UTC), datetime.max.replace(tzinfo=UTC)
MOMENT_DOC = "RFC 3339 (ISO 8601) with an offset, e.g. `2030-05-01T19:00:00+03:00`."


def parse_moment(value: Any) -> datetime:
    """An RFC 3339 string (`MOMENT_PATTERN`) as an aware datetime in UTC, and nothing else
    (pydantic's own datetime reads a number, or a string of digits, as a Unix time).

    Digits beyond the microsecond are cut off. A moment near year 1 or 9999 that UTC cannot express
    (`0001-01-01T00:00:00+05:00`) becomes the earliest or latest moment there is: before or after
    anything that can be booked, so a search or a filter with it means the same."""
    parts = _MOMENT_PARTS.fullmatch(value) if isinstance(value, str) and _DOCUMENTED_MOMENT.match(value) else None
    if parts is None:
        raise PydanticCustomError("moment", "must be an RFC 3339 date-time with an offset, e.g. 2030-05-01T19:00:00Z")
    year, month, day, hour, minute, second, fraction, sign, off_hours, off_minutes = parts.groups()
    offset = timedelta(0)
    if sign is not None:
        offset = (1 if sign == "+" else -1) * timedelta(hours=int(off_hours), minutes=int(off_minutes))
    micro = int((fraction or "").ljust(6, "0")[:6])
    try:
        local = datetime(
            int(year), int(month), int(day), int(hour), int(minute), int(second), micro, tzinfo=timezone(offset)
        )
    except ValueError as exc:  # 31 April, 29 February of a common year
        raise PydanticCustomError("moment", "must be a date that exists ({reason})", {"reason": str(exc)}) from exc
    try:
        return local.astimezone(UTC)
    except OverflowError:
        return _EARLIEST if local.year == 1 else _LATEST


#: A date-time (body or query): strict RFC 3339 with an offset, documented as it is read.
Moment = Annotated[
    datetime,
    BeforeValidator(parse_moment),
    WithJsonSchema({"type": "string", "format": "date-time", "pattern": MOMENT_PATTERN}),
]

#: Bodies read integers as JSON Schema counts them (5.0 is 5; true and "5" are not integers).
Seats = Annotated[int, Strict(), Field(ge=1, le=MAX_SEATS, description=f"1..{MAX_SEATS}"), JSON_INTEGER]
Price = Annotated[
    int,
    Strict(),
    Field(ge=0, le=MAX_PRICE, description=f"In the smallest currency unit, 0..{MAX_PRICE}."),
    JSON_INTEGER,
]
#: `true` or `false` only (pydantic's lax bool would also take 0, 1, "yes", "off"...).
Flag = Annotated[bool, Strict()]
Name = Annotated[str, StringConstraints(min_length=1, max_length=100, pattern=NAME_PATTERN)]
Email = Annotated[str, StringConstraints(max_length=254, pattern=EMAIL_PATTERN)]
Phone = Annotated[str, StringConstraints(min_length=5, max_length=32, pattern=PHONE_PATTERN)]


class Closed(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TableOut(BaseModel):
    table_id: int
    name: str
    kind: TableKind
    seats: int
    price: int | None = Field(description="The booking price in force now (null: only future prices set).")
    bookable: bool


class TableList(BaseModel):
    items: list[TableOut]


class TableCreate(Closed):
    name: Name
    kind: TableKind
    seats: Seats
    price: Price = Field(description="The booking price, in force from now.")
    bookable: Flag = True


class TableUpdate(PartialUpdate):
    """Only the fields given change; `null` is refused (a field is left out to keep it)."""

    name: Name | None = None
    kind: TableKind | None = None
    seats: Seats | None = None
    bookable: Flag | None = Field(default=None, description="`false` closes the table for new bookings.")


class PriceOut(BaseModel):
    price: int
    effective_from: datetime


class PriceCreate(Closed):
    price: Price
    effective_from: Moment | None = Field(
        default=None, description="When the price takes effect (not in the past); now when omitted. " + MOMENT_DOC
    )


#: "At least one of email and phone", as JSON Schema says it (a `null` one does not count).
_HAS_CONTACT: JsonDict = {
    "anyOf": [
        {"required": ["email"], "properties": {"email": {"type": "string"}}},
        {"required": ["phone"], "properties": {"phone": {"type": "string"}}},
    ]
}


class BookingCreate(Closed):
    model_config = ConfigDict(extra="forbid", json_schema_extra=_HAS_CONTACT)

    table_id: Id
    starts_at: Moment = Field(description="In the future, within a year. " + MOMENT_DOC)
    ends_at: Moment = Field(description="The end (exclusive), 30 minutes to 8 hours after the start. " + MOMENT_DOC)
    name: Name
    email: Email | None = None
    phone: Phone | None = None
    status: Literal[BookingStatus.PENDING, BookingStatus.CONFIRMED] = Field(
        default=BookingStatus.PENDING, description='`"confirmed"` books the table directly: managers only.'
    )

    @model_validator(mode="after")
    def _has_contact(self) -> BookingCreate:
        if not self.email and not self.phone:
            raise ValueError("give an email address, a phone number, or both")
        return self


class BookingOut(BaseModel):
    booking_id: int
    table_id: int
    starts_at: datetime
    ends_at: datetime
    name: str
    email: str | None
    phone: str | None
    price: int
    status: BookingStatus
    cancelled_by: CancelledBy | None = Field(description="Who cancelled a `cancelled` booking.")
    created_at: datetime

    @classmethod
    def of(cls, booking: Booking) -> BookingOut:
        return cls.model_validate(booking, from_attributes=True)


class BookingPage(BaseModel):
    items: list[BookingOut]
    next_cursor: str | None = None


class CancelLinkOut(BaseModel):
    booking: BookingOut
    cancellable: bool = Field(description="Whether POST .../cancel would cancel it now.")
    reason: str | None = Field(description="Why it cannot be cancelled, for the page; null when it can.")
