"""`/tables`: a guest searches tables and requests a booking, against the real bookings app."""

from __future__ import annotations

import html
import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from checkout.identity.demo import DEMO_PASSWORD, load_identity_demo

from .conftest import Bookings, CheckoutFactory

CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')
KEY_FIELD = re.compile(r'name="key" value="([^"]+)"')


def words(r: httpx.Response) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", r.text)).split())


async def new_table(bookings: Bookings, **fields: Any) -> dict[str, Any]:
    body = {"name": f"Bay {uuid.uuid4().hex[:6]}", "kind": "room", "seats": 9, "price": 12345, **fields}
    async with bookings.client() as client:
        r = await client.post("/api/v1/tables", headers=bookings.manager, json=body)
    assert r.status_code == 201, r.text
    table: dict[str, Any] = r.json()
    return table


def window() -> tuple[str, str]:
    start = datetime.now(UTC).replace(hour=18, minute=0, second=0, microsecond=0) + timedelta(days=5)
    return start.strftime("%Y-%m-%dT%H:%M"), (start + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M")


async def test_a_guest_finds_a_table_and_requests_a_booking(checkout: CheckoutFactory, bookings: Bookings) -> None:
    web = await checkout(bookings=bookings.transport)
    table = await new_table(bookings)
    empty = await web.get("/tables")
    assert empty.status_code == 200
    for label in ("Kind", "Seats", "From", "To", "Min price", "Max price"):
        assert f">{label}</label>" in empty.text
    assert "Search</button>" in empty.text and "found" not in words(empty)

    start, end = window()
    found = await web.get(
        "/tables", params={"kind": "room", "seats": "9", "from": start, "to": end, "min_price": "123.45", "search": "1"}
    )
    assert found.status_code == 200, found.text
    assert f'data-table-id="{table["table_id"]}"' in found.text and "123.45" in found.text
    assert "Book</button>" in found.text
    missing = await web.get("/tables", params={"kind": "room", "seats": "9", "min_price": "123.46", "search": "1"})
    assert f'data-table-id="{table["table_id"]}"' not in missing.text

    form = await web.get(f"/tables/{table['table_id']}/book", params={"from": start, "to": end})
    assert form.status_code == 200
    for label in ("Name", "Email", "Phone"):
        assert f">{label}</label>" in form.text
    token = CSRF_FIELD.search(form.text)
    assert token
    key = re.search(r'name="key" value="([^"]+)"', form.text)
    assert key
    fields = {"csrf_token": token.group(1), "key": key.group(1), "from": start, "to": end, "name": "Gus Guest",
              "email": "gus@example.com", "phone": ""}  # fmt: skip
    booked = await web.post(f"/tables/{table['table_id']}/book", data=fields)
    assert booked.status_code == 201, booked.text
    assert 'data-status="pending"' in booked.text and "gus@example.com" in words(booked)
    booking_id = int(re.search(r'data-booking-id="(\d+)"', booked.text).group(1))  # type: ignore[union-attr]
    assert (await bookings.get(booking_id))["status"] == "pending"
    again = await web.post(f"/tables/{table['table_id']}/book", data=fields)  # the same form sent twice
    assert f'data-booking-id="{booking_id}"' in again.text
    # The form's key is the client's text: one no header can carry (it was sent as one) books too.
    later = (datetime.strptime(end, "%Y-%m-%dT%H:%M") + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M")
    odd = await web.post(f"/tables/{table['table_id']}/book", data={**fields, "key": "clé", "from": end, "to": later})
    assert odd.status_code == 201, odd.text


async def test_a_search_from_a_time_without_an_end_looks_for_a_sitting(
    checkout: CheckoutFactory, bookings: Bookings
) -> None:
    """Not for the table from then on, which its next booking, whenever it is, would rule out."""
    web = await checkout(bookings=bookings.transport)
    table = await new_table(bookings, seats=7)
    start, _ = window()
    later = datetime.strptime(start, "%Y-%m-%dT%H:%M").replace(tzinfo=UTC) + timedelta(hours=3)
    async with bookings.client() as client:
        booked = await client.post("/api/v1/bookings", headers=bookings.manager, json={
            "table_id": table["table_id"], "starts_at": later.isoformat(),
            "ends_at": (later + timedelta(hours=1)).isoformat(), "name": "Later Guest", "phone": "+15550100",
            "status": "confirmed"})  # fmt: skip
    assert booked.status_code == 201, booked.text
    found = await web.get("/tables", params={"seats": "7", "from": start, "search": "1"})
    assert found.status_code == 200 and f'data-table-id="{table["table_id"]}"' in found.text, words(found)
    until = (datetime.strptime(start, "%Y-%m-%dT%H:%M") + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M")
    assert f'value="{until}"' in found.text
    taken = await web.get("/tables", params={"seats": "7", "from": later.strftime("%Y-%m-%dT%H:%M"), "search": "1"})
    assert f'data-table-id="{table["table_id"]}"' not in taken.text


async def test_what_the_guest_gets_wrong_is_said_in_words(checkout: CheckoutFactory, bookings: Bookings) -> None:
    web = await checkout(bookings=bookings.transport)
    table = await new_table(bookings)
    r = await web.get("/tables", params={"min_price": "cheap", "search": "1"})
    assert r.status_code == 422 and "Min price must be an amount like 12.50." in words(r)
    # Each of these was a 500: digits `int` refuses, and moments with no UTC time.
    for query, said in [
        ({"seats": "²"}, "Seats must be a whole number"),
        ({"seats": "9" * 5000}, "Seats must be a whole number"),
        ({"from": "0001-01-01T00:00+05:00"}, "From is out of range."),
        ({"to": "9999-12-31T23:59-05:00"}, "To is out of range."),
        ({"from": "9999-12-31T23:00"}, "From is out of range."),  # no To: From plus a sitting
        ({"from": "2020-01-01T19:00", "to": "2020-01-01T21:00"}, "From is in the past"),
    ]:
        r = await web.get("/tables", params={**query, "search": "1"})
        assert r.status_code == 422 and said in words(r), query
    start, end = window()
    form = await web.get(f"/tables/{table['table_id']}/book", params={"from": start, "to": end})
    token = CSRF_FIELD.search(form.text).group(1)  # type: ignore[union-attr]
    r = await web.post(f"/tables/{table['table_id']}/book",
                       data={"csrf_token": token, "from": start, "to": end, "name": "Gus"})  # fmt: skip
    assert r.status_code == 422 and "email address or a phone number" in words(r)
    r = await web.post(f"/tables/{table['table_id']}/book",
                       data={"csrf_token": token, "from": end, "to": start, "name": "Gus", "email": "g@example.com"})  # fmt: skip
    assert r.status_code == 422 and "{" not in words(r)
    r = await web.post(f"/tables/{table['table_id']}/book", data={"from": start, "to": end, "name": "Gus"})
    assert r.status_code == 403 and "could not verify" in words(r)


async def test_a_time_the_clocks_skip_is_refused_in_words(checkout: CheckoutFactory, bookings: Bookings) -> None:
    """In Berlin 2031-03-30 goes from 01:59 to 03:00: 02:30 was read as 03:30, an hour off, unsaid."""
    web = await checkout(bookings=bookings.transport, booking_time_zone="Europe/Berlin")
    r = await web.get("/tables", params={"from": "2031-03-30T02:30", "search": "1"})
    assert r.status_code == 422 and "there is no 02:30 that day" in words(r), words(r)
    r = await web.get("/tables", params={"from": "2031-03-30T03:30", "to": "2031-03-30T05:00", "search": "1"})
    assert r.status_code == 200 and 'value="2031-03-30T03:30"' in r.text, words(r)


async def test_bookings_down_is_said_in_words(checkout: CheckoutFactory) -> None:
    web = await checkout()
    r = await web.get("/tables", params={"seats": "2", "search": "1"})
    assert r.status_code == 503 and "could not reach the booking system" in words(r)


async def test_a_form_refused_by_the_restaurant_is_corrected_and_sent_again(
    checkout: CheckoutFactory, bookings: Bookings
) -> None:
    """The form shown again after bookings refused it carries a new key: the corrected request is a
    new one (with the old key it was refused as "used before with a different request")."""
    web = await checkout(bookings=bookings.transport)
    table = await new_table(bookings)
    start, end = window()
    too_long = (datetime.strptime(start, "%Y-%m-%dT%H:%M") + timedelta(hours=10)).strftime("%Y-%m-%dT%H:%M")
    form = await web.get(f"/tables/{table['table_id']}/book", params={"from": start, "to": too_long})
    fields = {"csrf_token": CSRF_FIELD.search(form.text).group(1),  # type: ignore[union-attr]
              "key": KEY_FIELD.search(form.text).group(1),  # type: ignore[union-attr]
              "from": start, "to": too_long, "name": "Gus Guest", "email": "gus@example.com"}  # fmt: skip
    refused = await web.post(f"/tables/{table['table_id']}/book", data=fields)
    assert refused.status_code == 422 and "at most 8 hours" in words(refused)
    key = KEY_FIELD.search(refused.text).group(1)  # type: ignore[union-attr]
    assert key != fields["key"]
    booked = await web.post(f"/tables/{table['table_id']}/book", data={**fields, "key": key, "to": end})
    assert booked.status_code == 201, words(booked)


async def test_a_signed_in_customers_booking_is_theirs(
    checkout: CheckoutFactory, bookings: Bookings, checkout_db: str
) -> None:
    await load_identity_demo(checkout_db, {"APP_ENV": "dev"})
    web = await checkout(bookings=bookings.transport)
    landing = await web.get("/")
    token = CSRF_FIELD.search(landing.text).group(1)  # type: ignore[union-attr]
    signed = await web.post("/login", data={"csrf_token": token, "username": "customer", "password": DEMO_PASSWORD})
    assert signed.status_code == 303
    me = (await web.get("/api/v1/users/me")).json()["id"]
    table = await new_table(bookings)
    start, end = window()
    form = await web.get(f"/tables/{table['table_id']}/book", params={"from": start, "to": end})
    fields = {"csrf_token": CSRF_FIELD.search(form.text).group(1),  # type: ignore[union-attr]
              "key": KEY_FIELD.search(form.text).group(1),  # type: ignore[union-attr]
              "from": start, "to": end, "name": "Carla Customer", "email": "customer@shop.example"}  # fmt: skip
    booked = await web.post(f"/tables/{table['table_id']}/book", data=fields)
    assert booked.status_code == 201, words(booked)
    booking_id = int(re.search(r'data-booking-id="(\d+)"', booked.text).group(1))  # type: ignore[union-attr]
    assert [r["user_id"] for r in await bookings.fetch("SELECT user_id FROM bookings WHERE id = $1", booking_id)] == [
        me
    ]


async def test_back_and_the_button_again_books_once(checkout: CheckoutFactory, bookings: Bookings) -> None:
    """The form fetched again (Back reloads it: pages are not cached) and sent with the same details
    is the same request, answered with the first booking; changed details are a new one. It made a
    second pending booking: each form shown had a random key of its own."""
    web = await checkout(bookings=bookings.transport)
    table = await new_table(bookings)
    start, end = window()
    booking_ids = []
    for name in ("Gus Guest", "Gus Guest", "Gus Guest Jr"):
        form = await web.get(f"/tables/{table['table_id']}/book", params={"from": start, "to": end})
        fields = {"csrf_token": CSRF_FIELD.search(form.text).group(1),  # type: ignore[union-attr]
                  "key": KEY_FIELD.search(form.text).group(1),  # type: ignore[union-attr]
                  "from": start, "to": end, "name": name, "email": "gus@example.com"}  # fmt: skip
        booked = await web.post(f"/tables/{table['table_id']}/book", data=fields)
        assert booked.status_code == 201, words(booked)
        booking_ids.append(int(re.search(r'data-booking-id="(\d+)"', booked.text).group(1)))  # type: ignore[union-attr]
    assert booking_ids[0] == booking_ids[1] != booking_ids[2]
    rows = await bookings.fetch("SELECT count(*) FROM bookings WHERE table_id = $1", table["table_id"])
    assert rows[0][0] == 2
