"""What a booking request and a search may ask for. Pure: the caller passes the clock."""

from __future__ import annotations

from datetime import datetime, timedelta

from shopcommon.problems import UnprocessableEntity

MIN_DURATION = timedelta(minutes=30)
MAX_DURATION = timedelta(hours=8)
#: How far ahead a table can be booked: a restaurant plans a season, not a decade.
MAX_AHEAD = timedelta(days=366)
#: The longest window a search may ask about.
MAX_SEARCH_WINDOW = timedelta(days=31)
#: A table seats 1..MAX_SEATS (the largest room of a restaurant, not a stadium).
MAX_SEATS = 100
#: Prices are in the smallest currency unit; above this a price is a typo.
MAX_PRICE = 100_000_000


class WindowRefused(UnprocessableEntity):
    title, slug = "Time window not accepted", "invalid-window"

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
        raise WindowRefused(errors)


def check_search_window(starts_at: datetime | None, ends_at: datetime | None) -> None:
    if starts_at is None and ends_at is None:
        return
    if starts_at is None or ends_at is None:
        missing = "starts_at" if starts_at is None else "ends_at"
        raise WindowRefused([{"field": missing, "message": "a window needs both starts_at and ends_at"}])
    if ends_at <= starts_at:
        raise WindowRefused([{"field": "ends_at", "message": "must be after starts_at"}])
    if ends_at - starts_at > MAX_SEARCH_WINDOW:
        raise WindowRefused([{"field": "ends_at", "message": f"a window spans at most {MAX_SEARCH_WINDOW.days} days"}])


def check_price_range(min_price: int | None, max_price: int | None) -> None:
    if min_price is not None and max_price is not None and min_price > max_price:
        raise UnprocessableEntity(
            "min_price is above max_price", errors=[{"field": "max_price", "message": "must be at least min_price"}]
        )
