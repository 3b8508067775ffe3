"""What a booking request and a search may ask for. Pure: the caller passes the clock."""

from __future__ import annotations

from datetime import datetime, timedelta

from shopcommon.problems import UnprocessableEntity

MIN_DURATION = timedelta(minutes=30)
MAX_DURATION = timedelta(hours=8)
#: How far ahead a table can be booked: a restaurant plans a season, not a decade.
MAX_AHEAD = timedelta(days=366)
#: A table seats 1..MAX_SEATS (the largest room of a restaurant, not a stadium).
MAX_SEATS = 100
#: Prices are in the smallest currency unit; above this a price is a typo.
MAX_PRICE = 100_000_000


class TimeRefused(UnprocessableEntity):
    """A time no schema can refuse: it depends on the clock (a booking starts in the future, within
    `MAX_AHEAD`; a price does not start in the past) or compares two fields (a booking's length).
    Its own problem type, which the fuzzer's hook (tools/fuzz/hooks.py) knows for that reason."""

    title, slug = "Time not accepted", "time-refused"

    def __init__(self, errors: list[dict[str, str]]) -> None:
        super().__init__("; ".join(e["message"] for e in errors), errors=errors)


def booking_window_errors(starts_at: datetime, ends_at: datetime, now: datetime) -> list[dict[str, str]]:
    errors = []
    if starts_at <= now:
        errors.append({"field": "starts_at", "message": "must be in the future"})
    elif starts_at - now > MAX_AHEAD:
        errors.append({"field": "starts_at", "message": f"must be within {MAX_AHEAD.days} days from now"})
    length = ends_at - starts_at
    if length <= timedelta(0):
        errors.append({"field": "ends_at", "message": "must be after starts_at"})
    elif length < MIN_DURATION:
        errors.append({"field": "ends_at", "message": "a booking lasts at least 30 minutes"})
    elif length > MAX_DURATION:
        errors.append({"field": "ends_at", "message": "a booking lasts at most 8 hours"})
    return errors


def check_booking_window(starts_at: datetime, ends_at: datetime, now: datetime) -> None:
    errors = booking_window_errors(starts_at, ends_at, now)
    if errors:
        raise TimeRefused(errors)


def search_window(
    starts_at: datetime | None, ends_at: datetime | None, now: datetime
) -> tuple[datetime, datetime | None] | None:
    """The window `[start, end)` a search tests (an end of None: no end), or None to test none.

    Any pair means something: without `starts_at` the window starts now, without `ends_at` it has no
    end, and an empty window (the end not after the start) is held by no booking, so it excludes
    nothing, like no window at all."""
    if starts_at is None and ends_at is None:
        return None
    start = now if starts_at is None else starts_at
    if ends_at is not None and ends_at <= start:
        return None
    return start, ends_at


def check_price_start(effective_from: datetime, now: datetime) -> None:
    """History is not rewritten: bookings already copied the price that was in force then."""
    if effective_from < now:
        raise TimeRefused([{"field": "effective_from", "message": "must not be in the past (omit it for now)"}])
