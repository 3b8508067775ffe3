import re
from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from notifications.config import Settings
from notifications.domain.delivery import (
    NO_BOOKING_ADDRESS,
    UNUSABLE_BOOKING_ADDRESS,
    booking_address_problem,
    wants_email,
)
from notifications.domain.events import BookingStatus, BookingStatusChanged
from notifications.email.render import EmailRenderer
from notifications.testing.events import booking_event
from shopcommon.time_text import time_window

renderer = EmailRenderer("http://shop.test")


def booking(status: str, previous: str | None = None, **extra: object) -> BookingStatusChanged:
    return BookingStatusChanged.model_validate(booking_event(4321, status, previous, **extra))


@pytest.mark.parametrize("status", [s.value for s in BookingStatus])
def test_every_booking_email_names_the_booking_table_window_price_and_status(status: str) -> None:
    rendered = renderer.render_booking(booking(status))
    for part in (rendered.subject, rendered.text):
        assert re.search(r"(?<![\w#])4321(?!\w)", part), part
    assert f"Status: {status}" in rendered.text and f"<td>{status}</td>" in rendered.html
    assert "Table: 7" in rendered.text and "Price: 1,500.00" in rendered.text
    assert "Fri 14 Mar 2031, 16:00 to 18:00 (UTC+00:00)" in rendered.text


def test_only_the_acknowledgement_carries_the_cancel_link_and_says_only_the_button_cancels() -> None:
    received = booking("pending")
    rendered = renderer.render_booking(received)
    assert received.cancel_url and received.cancel_url in rendered.text
    assert f'href="{received.cancel_url}"' in rendered.html
    assert "Opening the link cancels nothing" in rendered.text and "only its Cancel button cancels it" in rendered.html
    for later in (booking("confirmed", "pending"), booking("rejected", "pending"), booking("cancelled", "pending")):
        other = renderer.render_booking(later)
        assert "/bookings/cancel/" not in other.text + other.html and "Cancel button" not in other.text


def test_a_pending_booking_without_a_link_renders_without_one() -> None:
    rendered = renderer.render_booking(booking("pending", cancel_url=None))
    assert "cancel" not in rendered.text.lower()


@pytest.mark.parametrize(
    ("cancelled_by", "words"),
    [("customer", "You cancelled it."), ("staff", "The restaurant cancelled it."), ("robot", "It was cancelled.")],
)
def test_a_cancelled_booking_says_by_whom(cancelled_by: str, words: str) -> None:
    rendered = renderer.render_booking(booking("cancelled", "confirmed", cancelled_by=cancelled_by))
    assert words in rendered.text and words in rendered.html


def test_the_guests_name_is_escaped_in_html() -> None:
    rendered = renderer.render_booking(booking("confirmed", name="<script>x</script>"))
    assert "<script>" not in rendered.html and "&lt;script&gt;" in rendered.html


def test_an_unknown_booking_status_has_no_email() -> None:
    event = booking("no_show", "confirmed")
    assert not wants_email(event)
    with pytest.raises(LookupError):
        renderer.render_booking(event)


def test_times_are_shown_in_the_restaurants_zone_when_one_is_set() -> None:
    moscow = EmailRenderer("http://shop.test", booking_zone=ZoneInfo("Europe/Moscow"))
    assert "Fri 14 Mar 2031, 19:00 to 21:00 (UTC+03:00)" in moscow.render_booking(booking("confirmed")).text


def test_a_window_across_midnight_or_an_offset_change_names_both_ends() -> None:
    start = datetime(2031, 3, 14, 22, 30, tzinfo=timezone(timedelta(hours=-4, minutes=-30)))
    assert (
        time_window(start, start + timedelta(hours=3)) == "Fri 14 Mar 2031, 22:30 to Sat 15 Mar 2031, 01:30 (UTC-04:30)"
    )
    berlin = ZoneInfo("Europe/Berlin")  # summer time starts at 01:00 UTC on 30 March 2031
    start = datetime(2031, 3, 30, 0, 0, tzinfo=UTC)
    assert time_window(start, start + timedelta(hours=2), berlin) == (
        "Sun 30 Mar 2031, 01:00 (UTC+01:00) to Sun 30 Mar 2031, 04:00 (UTC+02:00)"
    )


@pytest.mark.parametrize(
    ("email", "problem"),
    [
        ("guest@guests.test", None),
        (None, NO_BOOKING_ADDRESS),
        ("  ", NO_BOOKING_ADDRESS),
        ("no-at-sign", UNUSABLE_BOOKING_ADDRESS),
        ("a@b\r\nBcc: x@y", UNUSABLE_BOOKING_ADDRESS),
        ("a b@c.d", UNUSABLE_BOOKING_ADDRESS),
        ("a@", UNUSABLE_BOOKING_ADDRESS),
        ("x" * 320 + "@c.d", UNUSABLE_BOOKING_ADDRESS),
    ],
)
def test_which_booking_addresses_can_be_emailed(email: str | None, problem: str | None) -> None:
    assert booking_address_problem(booking("confirmed", email=email)) == problem


def test_an_unknown_time_zone_is_refused_at_startup() -> None:
    with pytest.raises(ValueError, match="time zone"):
        Settings(booking_time_zone="Mars/Olympus", app_env="dev")  # type: ignore[call-arg]
    assert Settings(booking_time_zone="Europe/Moscow", app_env="dev").booking_zone() == ZoneInfo("Europe/Moscow")  # type: ignore[call-arg]
