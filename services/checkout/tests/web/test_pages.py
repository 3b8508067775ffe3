"""The booking's values in words, as the cancel page shows them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from checkout.config import Settings
from checkout.web.pages import format_amount, status_words, table_words
from shopcommon.time_text import time_window

START = datetime(2031, 3, 14, 16, 0, tzinfo=UTC)


def test_a_window_within_one_day_names_the_date_once() -> None:
    assert time_window(START, START + timedelta(hours=2)) == "Fri 14 Mar 2031, 16:00 to 18:00 (UTC+00:00)"


def test_a_window_is_shown_in_the_restaurants_zone() -> None:
    zone = ZoneInfo("Europe/Moscow")
    assert time_window(START, START + timedelta(hours=2), zone) == "Fri 14 Mar 2031, 19:00 to 21:00 (UTC+03:00)"


def test_a_window_across_midnight_names_both_dates() -> None:
    late = START + timedelta(hours=7)
    assert (
        time_window(late, late + timedelta(hours=3)) == "Fri 14 Mar 2031, 23:00 to Sat 15 Mar 2031, 02:00 (UTC+00:00)"
    )


def test_a_window_across_a_change_of_offset_names_each_offset() -> None:
    zone = ZoneInfo("Europe/Berlin")  # summer time starts at 01:00 UTC on 30 March 2031
    start = datetime(2031, 3, 30, 0, 30, tzinfo=UTC)
    assert time_window(start, start + timedelta(hours=1), zone) == (
        "Sun 30 Mar 2031, 01:30 (UTC+01:00) to Sun 30 Mar 2031, 03:30 (UTC+02:00)"
    )


def test_a_window_keeps_the_offset_it_was_given_without_a_zone() -> None:
    start = START.astimezone(timezone(timedelta(hours=-4, minutes=-30)))
    assert time_window(start, start + timedelta(minutes=30)).endswith("11:30 to 12:00 (UTC-04:30)")


@pytest.mark.parametrize(("minor", "words"), [(0, "0.00"), (5, "0.05"), (4550, "45.50"), (150000, "1,500.00")])
def test_prices_are_in_the_currencys_units(minor: int, words: str) -> None:
    assert format_amount(minor) == words


def test_statuses_and_tables_in_words() -> None:
    assert status_words("cancelled", "customer") == "Cancelled by you"
    assert status_words("cancelled", "staff") == "Cancelled by the restaurant"
    assert status_words("rejected") == "Declined by the restaurant"
    assert status_words("something-new") == "something-new"
    assert table_words(7, "Garden", "room", 1) == "Garden (private room, 1 seat)"
    assert table_words(7) == "Table 7"


def test_the_zone_setting_must_be_a_known_zone() -> None:
    assert Settings(booking_time_zone=" Europe/Moscow ").booking_time_zone == "Europe/Moscow"
    with pytest.raises(ValueError, match="not a time zone"):
        Settings(booking_time_zone="Mars/Olympus")


def test_bookings_are_found_where_the_launcher_says(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SHOP_BOOKINGS_URL", raising=False)
    assert Settings().bookings_url == "http://127.0.0.1:9004"
    monkeypatch.setenv("SHOP_BOOKINGS_URL", "http://bookings.internal:8080")
    assert Settings().bookings_url == "http://bookings.internal:8080"
