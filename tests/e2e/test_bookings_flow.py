"""A restaurant booking end to end through real processes: a guest searches tables and requests
one with an e-mail address; bookings publishes each status change, notifications e-mails the guest
(the first mail with the cancel link); a manager confirms it; the guest opens the link on
checkout's page and presses Cancel; the booking is cancelled by the customer, once."""

from __future__ import annotations

import html
import re
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from notifications.testing.mail import messages_to, wait_for_messages

from .conftest import System

CANCEL_LINK = re.compile(r"https?://[^\s/]+/bookings/cancel/([A-Za-z0-9_-]+)")
CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')
MAIL_TIMEOUT = 30.0


def words(r: httpx.Response) -> str:
    body = re.sub(r"<style.*?</style>", " ", r.text, flags=re.S)
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", body)).split())


async def manager_headers(system: System) -> dict[str, str]:
    async with system.client("checkout") as client:
        r = await client.post("/api/v1/auth/token", json={"username": "admin", "password": "1"})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


async def request_booking(system: System, email: str) -> dict[str, Any]:
    """Search for a free cabin or table for four in an evening window, and request it as a guest."""
    start = datetime.now(UTC).replace(hour=18, minute=0, second=0, microsecond=0) + timedelta(days=10)
    window = {"starts_at": start.isoformat(), "ends_at": (start + timedelta(hours=2)).isoformat()}
    async with system.client("bookings") as client:
        found = await client.get("/api/v1/tables", params={"seats": 4, **window})
        assert found.status_code == 200, found.text
        tables = [t for t in found.json()["items"] if t["bookable"] and t["seats"] >= 4]
        assert tables, found.text
        table = tables[0]
        r = await client.post(
            "/api/v1/bookings",
            json={"table_id": table["table_id"], **window, "name": "Erin Guest", "email": email},
            headers={"Idempotency-Key": uuid.uuid4().hex},
        )
    assert r.status_code == 201, r.text
    booking: dict[str, Any] = r.json()
    assert booking["status"] == "pending" and booking["price"] == table["price"]
    return booking


async def mail(system: System, email: str, count: int) -> list[dict[str, Any]]:
    found = await wait_for_messages(system.mail_api, email, count, timeout=MAIL_TIMEOUT)
    assert len(found) >= count, [m["Subject"] for m in found]
    return found


async def booking_as_staff(system: System, booking_id: int, headers: dict[str, str]) -> dict[str, Any]:
    async with system.client("bookings") as client:
        r = await client.get(f"/api/v1/bookings/{booking_id}", headers=headers)
    assert r.status_code == 200, r.text
    found: dict[str, Any] = r.json()
    return found


async def test_a_guest_books_is_confirmed_and_cancels_through_the_link(system: System) -> None:
    email = f"guest-{uuid.uuid4().hex[:10]}@guests.test"
    booking = await request_booking(system, email)
    booking_id = booking["booking_id"]

    # The acknowledgement, with the cancel link (the token is not the booking id).
    (received,) = await mail(system, email, 1)
    assert str(booking_id) in received["Subject"] and "received" in received["Subject"]
    link = CANCEL_LINK.search(received["Text"])
    assert link, received["Text"]
    token = link.group(1)
    assert token != str(booking_id) and len(token) >= 43

    # A manager confirms it.
    staff = await manager_headers(system)
    async with system.client("bookings") as client:
        confirmed = await client.post(f"/api/v1/bookings/{booking_id}/confirm", headers=staff)
    assert confirmed.status_code == 200 and confirmed.json()["status"] == "confirmed", confirmed.text
    confirmation = (await mail(system, email, 2))[1]
    assert str(booking_id) in confirmation["Subject"] and "confirmed" in confirmation["Subject"]
    assert not CANCEL_LINK.search(confirmation["Text"])

    # The guest opens the link on checkout's page (wherever the mail says checkout is, this run's
    # checkout serves the path): it shows the booking and changes nothing.
    async with system.client("checkout") as guest:
        for _ in range(2):
            shown = await guest.get(f"/bookings/cancel/{token}")
            assert shown.status_code == 200 and shown.headers["content-type"].startswith("text/html"), shown.text
            assert f"Booking {booking_id}" in words(shown) and "Name Erin Guest" in words(shown)
            assert "Status Confirmed" in words(shown)
        assert (await booking_as_staff(system, booking_id, staff))["status"] == "confirmed"
        assert len(await messages_to(system.mail_api, email)) == 2

        csrf = CSRF_FIELD.search(shown.text)
        assert csrf and "<button" in shown.text
        pressed = await guest.post(f"/bookings/cancel/{token}", data={"csrf_token": csrf.group(1)})
        assert pressed.status_code == 200, pressed.text
        assert "Your booking is cancelled" in words(pressed)

        cancellation = (await mail(system, email, 3))[2]
        assert str(booking_id) in cancellation["Subject"] and "cancelled" in cancellation["Subject"]
        stored = await booking_as_staff(system, booking_id, staff)
        assert (stored["status"], stored["cancelled_by"]) == ("cancelled", "customer")

        # A second press changes nothing: the link is spent.
        again = await guest.post(f"/bookings/cancel/{token}", data={"csrf_token": csrf.group(1)})
        assert again.status_code == 404 and "already been used" in words(again)
    assert await booking_as_staff(system, booking_id, staff) == stored
    settled = await wait_for_messages(system.mail_api, email, 4, timeout=3.0)
    assert [m["Subject"] for m in settled] == [m["Subject"] for m in (received, confirmation, cancellation)]
