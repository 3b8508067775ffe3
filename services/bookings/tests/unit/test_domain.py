"""The booking model without a database: windows, transitions, events, tokens."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest

from bookings.domain.booking import Action, Booking
from bookings.domain.errors import BookingStarted, InvalidTransition
from bookings.domain.events import cancel_url, status_changed
from bookings.domain.rules import TimeRefused, booking_window_errors, check_price_start, search_window
from bookings.domain.statuses import BookingStatus, CancelledBy, sql_list
from bookings.domain.tokens import new_cancel_token, token_digest

NOW = datetime(2030, 5, 1, 12, 0, tzinfo=UTC)
S = BookingStatus


def booking(status: BookingStatus = S.PENDING, starts_in: timedelta = timedelta(days=1)) -> Booking:
    start = NOW + starts_in
    return Booking(
        booking_id=7,
        table_id=3,
        starts_at=start,
        ends_at=start + timedelta(hours=2),
        name="Anna",
        email="a@example.com",
        phone=None,
        price=1500,
        status=status,
        cancelled_by=None,
        user_id=None,
        created_at=NOW,
    )


@pytest.mark.parametrize(
    ("start", "length", "fields"),
    [
        (timedelta(hours=1), timedelta(minutes=30), []),
        (timedelta(hours=1), timedelta(hours=8), []),
        (timedelta(0), timedelta(hours=1), ["starts_at"]),
        (timedelta(hours=1), timedelta(minutes=29), ["ends_at"]),
        (timedelta(hours=1), timedelta(hours=8, seconds=1), ["ends_at"]),
        (timedelta(hours=1), -timedelta(hours=1), ["ends_at"]),
        (timedelta(days=400), timedelta(hours=1), ["starts_at"]),
        (-timedelta(hours=1), timedelta(0), ["starts_at", "ends_at"]),
    ],
)
def test_booking_windows(start: timedelta, length: timedelta, fields: list[str]) -> None:
    errors = booking_window_errors(NOW + start, NOW + start + length, NOW)
    assert [e["field"] for e in errors] == fields


H = timedelta(hours=1)


@pytest.mark.parametrize(
    ("starts_at", "ends_at", "window"),
    [
        (None, None, None),
        (NOW + H, NOW + 3 * H, (NOW + H, NOW + 3 * H)),
        (NOW + H, None, (NOW + H, None)),  # no end
        (None, NOW + 3 * H, (NOW, NOW + 3 * H)),  # from now
        (NOW + H, NOW + H, None),  # empty: held by no booking
        (NOW + 3 * H, NOW + H, None),
        (None, NOW - H, None),  # ends before now: empty
        (NOW, NOW + timedelta(days=400), (NOW, NOW + timedelta(days=400))),  # any length
    ],
)
def test_every_search_window_means_something(
    starts_at: datetime | None, ends_at: datetime | None, window: tuple[datetime, datetime | None] | None
) -> None:
    assert search_window(starts_at, ends_at, NOW) == window


def test_a_price_does_not_start_in_the_past() -> None:
    check_price_start(NOW, NOW)
    with pytest.raises(TimeRefused) as refused:
        check_price_start(NOW - timedelta(microseconds=1), NOW)
    assert refused.value.slug == "time-refused"


@pytest.mark.parametrize(
    ("status", "action", "result"),
    [
        (S.PENDING, Action.CONFIRM, S.CONFIRMED),
        (S.PENDING, Action.REJECT, S.REJECTED),
        (S.PENDING, Action.CANCEL, S.CANCELLED),
        (S.CONFIRMED, Action.CANCEL, S.CANCELLED),
        (S.CONFIRMED, Action.CONFIRM, None),
        (S.CONFIRMED, Action.REJECT, None),
        (S.REJECTED, Action.CANCEL, None),
        (S.CANCELLED, Action.CONFIRM, None),
    ],
)
def test_the_life_cycle(status: BookingStatus, action: Action, result: BookingStatus | None) -> None:
    if result is None:
        with pytest.raises(InvalidTransition):
            booking(status).moved(action, now=NOW)
        return
    moved = booking(status).moved(action, now=NOW)
    assert moved.status == result
    assert (moved.cancelled_by is not None) == (result == S.CANCELLED)


def test_a_guest_cannot_cancel_once_it_started_but_staff_can() -> None:
    started = booking(S.CONFIRMED, starts_in=-timedelta(minutes=1))
    with pytest.raises(BookingStarted):
        started.moved(Action.CANCEL, now=NOW, by=CancelledBy.CUSTOMER)
    assert started.moved(Action.CANCEL, now=NOW, by=CancelledBy.STAFF).cancelled_by == CancelledBy.STAFF


def test_the_first_event_alone_carries_the_cancel_link() -> None:
    link = cancel_url("http://shop.test/", "tok")
    assert link == "http://shop.test/bookings/cancel/tok"
    first = status_changed(booking(), previous_status=None, occurred_at=NOW, cancel_link=link)
    assert first["cancel_url"] == link and first["previous_status"] is None and first["status"] == "pending"
    confirmed = booking().moved(Action.CONFIRM, now=NOW)
    with pytest.raises(ValueError):
        status_changed(confirmed, previous_status=S.PENDING, occurred_at=NOW, cancel_link=link)
    cancelled = confirmed.moved(Action.CANCEL, now=NOW, by=CancelledBy.CUSTOMER)
    event = status_changed(cancelled, previous_status=S.CONFIRMED, occurred_at=NOW)
    assert event["cancelled_by"] == "customer" and "cancel_url" not in event


def test_tokens_are_random_and_stored_as_digests() -> None:
    (a, digest_a), (b, _) = new_cancel_token(), new_cancel_token()
    assert a != b and len(digest_a) == 32 and digest_a == token_digest(a) and a.encode() not in digest_a
    assert re.fullmatch(r"[A-Za-z0-9_-]{43}", a)  # 256 bits, URL-safe


def test_sql_literals_come_from_the_enum() -> None:
    assert sql_list(BookingStatus) == "'pending', 'confirmed', 'rejected', 'cancelled'"
