"""The words of the booking model: its statuses and who cancelled it (shared with the services that
read them: `shopcommon.statuses`) and the kinds of table. Every SQL literal for a status or a kind
is derived from these enums (`sql_literal`, `sql_list`), so the database and the code cannot disagree on a spelling."""

from __future__ import annotations

from enum import StrEnum

from shopcommon.statuses import BookingStatus, CancelledBy, sql_list, sql_literal

__all__ = ["ACTIVE_STATUSES", "BookingStatus", "CancelledBy", "TableKind", "sql_list", "sql_literal"]


#: The statuses staff work with by default: the booking may still happen.
ACTIVE_STATUSES: tuple[BookingStatus, ...] = (BookingStatus.PENDING, BookingStatus.CONFIRMED)


class TableKind(StrEnum):
    REGULAR = "regular"
    CABIN = "cabin"
    ROOM = "room"
