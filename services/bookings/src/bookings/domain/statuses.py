"""The words of the booking model. Every SQL literal for a status or a kind is derived from these
enums (`sql_literal`, `sql_list`), so the database and the code cannot disagree on a spelling."""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum


class BookingStatus(StrEnum):
    PENDING = "pending"
    CONFIRMED = "confirmed"
    REJECTED = "rejected"
    CANCELLED = "cancelled"


#: The statuses staff work with by default: the booking may still happen.
ACTIVE_STATUSES: tuple[BookingStatus, ...] = (BookingStatus.PENDING, BookingStatus.CONFIRMED)


class CancelledBy(StrEnum):
    CUSTOMER = "customer"
    STAFF = "staff"


class TableKind(StrEnum):
    REGULAR = "regular"
    CABIN = "cabin"
    ROOM = "room"


def sql_literal(value: StrEnum) -> str:
    """A quoted SQL string literal of an enum value (values are plain lowercase words)."""
    if not value.value.isalpha():
        raise ValueError(f"not a plain word: {value.value!r}")
    return f"'{value.value}'"


def sql_list(values: Iterable[StrEnum]) -> str:
    return ", ".join(sql_literal(v) for v in values)
