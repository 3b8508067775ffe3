"""What the API reads and writes (apart from the tables' shapes)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints, model_validator

from bookings.domain.booking import Booking
from bookings.domain.rules import MAX_PRICE, MAX_SEATS
from bookings.domain.statuses import BookingStatus, CancelledBy, TableKind

MAX_ID = 9_223_372_036_854_775_807


def _printable(value: str) -> str:
    """Text fields refuse control characters (a NUL cannot even be stored)."""
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise ValueError("must not contain control characters")
    return value


Printable = AfterValidator(_printable)
Id = Annotated[int, Field(ge=1, le=MAX_ID)]
Seats = Annotated[int, Field(ge=1, le=MAX_SEATS, description=f"1..{MAX_SEATS}")]
Price = Annotated[int, Field(ge=0, le=MAX_PRICE, description="In the smallest currency unit.")]
Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100), Printable]
Email = Annotated[
    str,
    StringConstraints(strip_whitespace=True, max_length=254, pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$"),
    Printable,
]
Phone = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=5, max_length=32, pattern=r"^\+?[0-9][0-9 ()-]{3,30}[0-9]$"),
    Printable,
]
Moment = Annotated[AwareDatetime, Field(description="ISO 8601 with an offset, e.g. `2030-05-01T19:00:00+03:00`.")]


class Strict(BaseModel):
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


class TableCreate(Strict):
    name: Name
    kind: TableKind
    seats: Seats
    price: Price = Field(description="The booking price, in force from now.")
    bookable: bool = True


class TableUpdate(Strict):
    name: Name | None = None
    kind: TableKind | None = None
    seats: Seats | None = None
    bookable: bool | None = Field(default=None, description="`false` closes the table for new bookings.")

    @model_validator(mode="after")
    def _no_nulls(self) -> TableUpdate:
        nulls = [name for name in self.model_fields_set if getattr(self, name) is None]
        if nulls:
            raise ValueError(f"fields cannot be null: {', '.join(sorted(nulls))}")
        return self


class PriceOut(BaseModel):
    price: int
    effective_from: datetime


class PriceCreate(Strict):
    price: Price
    effective_from: Moment | None = Field(default=None, description="When the price takes effect; now when omitted.")


class BookingCreate(Strict):
    table_id: Id
    starts_at: Moment
    ends_at: Moment
    name: Name
    email: Email | None = None
    phone: Phone | None = None
    status: Literal["pending", "confirmed"] = Field(
        default="pending", description='`"confirmed"` books the table directly: managers only.'
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
        return cls(
            booking_id=booking.booking_id,
            table_id=booking.table_id,
            starts_at=booking.starts_at,
            ends_at=booking.ends_at,
            name=booking.name,
            email=booking.email,
            phone=booking.phone,
            price=booking.price,
            status=booking.status,
            cancelled_by=booking.cancelled_by,
            created_at=booking.created_at,
        )


class BookingPage(BaseModel):
    items: list[BookingOut]
    next_cursor: str | None = None


class CancelLinkOut(BaseModel):
    booking: BookingOut
    cancellable: bool = Field(description="Whether POST .../cancel would cancel it now.")
    reason: str | None = Field(description="Why it cannot be cancelled, for the page; null when it can.")
