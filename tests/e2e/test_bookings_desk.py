"""The manager's bookings desk, `/manage/bookings`, through real processes: however many bookings
have gone before, it starts with the ones not yet over, pages on in start order with `Later
bookings`, and shows the finished ones when asked (`Past ones too`)."""

from __future__ import annotations

import html
import re
import uuid
from datetime import UTC, datetime, timedelta

import asyncpg
import httpx
import pytest

from .conftest import System, plain_url
from .test_bookings_flow import CSRF_FIELD, manager_headers

pytestmark = pytest.mark.timeout(180)
BOOKING_CARD = re.compile(r'data-booking-id="(\d+)"')
NEXT_PAGE = re.compile(r'<a href="([^"]+)" rel="next">Later bookings</a>')
#: Two more than the desk shows on a page (`manage_bookings.PAGE_SIZE`): one of them is moved into
#: the past, and the rest still fill more than a page.
MORE_THAN_A_PAGE = 102


async def book_a_season(system: System, staff: dict[str, str]) -> list[int]:
    """Confirmed bookings, one a night, on a table of this test's own (so no other test's overlap)."""
    async with system.client("bookings") as api:
        made = await api.post("/api/v1/tables", headers=staff,
                              json={"name": f"Desk {uuid.uuid4().hex[:8]}", "kind": "regular", "seats": 2,
                                    "price": 1500})  # fmt: skip
        assert made.status_code == 201, made.text
        table_id = made.json()["table_id"]
        first = datetime.now(UTC).replace(hour=3, minute=0, second=0, microsecond=0) + timedelta(days=200)
        ids = []
        for night in range(MORE_THAN_A_PAGE):
            starts = first + timedelta(days=night)
            body = {"table_id": table_id, "starts_at": starts.isoformat(),
                    "ends_at": (starts + timedelta(hours=1)).isoformat(), "name": "Desk Guest",
                    "phone": "+15550100", "status": "confirmed"}  # fmt: skip
            r = await api.post("/api/v1/bookings", json=body, headers={**staff, "Idempotency-Key": uuid.uuid4().hex})
            assert r.status_code == 201, r.text
            ids.append(r.json()["booking_id"])
    return ids


async def every_page(web: httpx.AsyncClient, url: str) -> tuple[list[int], int]:
    """The booking ids on the desk from `url` on, following `Later bookings`; and how many pages."""
    shown: list[int] = []
    pages = 0
    next_url: str | None = url
    while next_url:
        r = await web.get(next_url)
        assert r.status_code == 200, r.text[:500]
        shown += [int(i) for i in BOOKING_CARD.findall(r.text)]
        pages += 1
        following = NEXT_PAGE.search(r.text)
        next_url = html.unescape(following.group(1)) if following else None
        assert pages < 50
    return shown, pages


async def test_the_desk_starts_with_what_is_not_over_and_pages_on(system: System) -> None:
    staff = await manager_headers(system)
    season = await book_a_season(system, staff)
    # One of them is over. The API takes no booking in the past, so the database moves it there.
    over = season[0]
    conn = await asyncpg.connect(plain_url(system.env["BOOKINGS_DATABASE_URL"]))
    try:
        await conn.execute("UPDATE bookings SET starts_at = now() - interval '3 hours', "
                           "ends_at = now() - interval '2 hours' WHERE id = $1", over)  # fmt: skip
    finally:
        await conn.close()

    async with system.client("checkout") as web:
        landing = await web.get("/")
        token = CSRF_FIELD.search(landing.text)
        assert token, landing.text[:500]
        signed = await web.post("/login", data={"csrf_token": token.group(1), "username": "admin", "password": "1"})
        assert signed.status_code == 303, signed.text

        first = await web.get("/manage/bookings")
        assert first.status_code == 200
        assert '<option value="upcoming" selected>Now and upcoming</option>' in first.text
        # A page holds at most a hundred; this test's upcoming bookings alone are more: a next page.
        assert len(BOOKING_CARD.findall(first.text)) <= 100 and NEXT_PAGE.search(first.text)
        shown, pages = await every_page(web, "/manage/bookings")
        assert pages >= 2 and len(shown) == len(set(shown))
        assert set(season[1:]) <= set(shown) and over not in shown
        # In start order across the pages: this test's nights come in the order they were booked.
        assert [i for i in shown if i in set(season)] == season[1:]
        # Only the first page takes new requests live (a later one would put them out of order).
        later = await web.get(html.unescape(NEXT_PAGE.search(first.text).group(1)))  # type: ignore[union-attr]
        assert 'sse-swap="booking-new"' in first.text and 'sse-swap="booking-new"' not in later.text

        everything, _ = await every_page(web, "/manage/bookings?when=all")
        assert over in everything and set(season) <= set(everything)
        confirmed, _ = await every_page(web, "/manage/bookings?status=confirmed")
        assert over not in confirmed and set(season[1:]) <= set(confirmed)
