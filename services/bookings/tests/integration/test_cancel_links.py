"""The guest's cancel link: the token comes from the acknowledging event (as the email carries it)."""

from __future__ import annotations

import httpx
import pytest

from bookings.config import Settings
from shopcommon.testing.plugin import Stack
from shopcommon.testing.tokens import TestIssuer

from ..conftest import Auth, Database, at, booking_body, make_settings


@pytest.fixture(scope="module")
def settings(shop_stack: Stack, bookings_db: str, test_issuer: TestIssuer, topic: str) -> Settings:
    """No relay: the events stay in the outbox for the test to read."""
    return make_settings(shop_stack, bookings_db, test_issuer, topic, relay_enabled=False)


async def requested(client: httpx.AsyncClient, db: Database) -> tuple[int, str]:
    """A new pending booking and the token of its cancel link."""
    table = await db.table()
    r = await client.post("/api/v1/bookings", json=booking_body(table, at(19)))
    booking_id = r.json()["booking_id"]
    url = await db.value(
        "SELECT payload->>'cancel_url' FROM outbox WHERE key = $1 AND payload->>'status' = 'pending'", str(booking_id)
    )
    assert url.startswith("http://pages.test/bookings/cancel/")
    token = url.rsplit("/", 1)[1]
    assert str(booking_id) != token and len(token) >= 43
    return booking_id, token


async def test_opening_the_link_shows_the_booking_and_changes_nothing(client: httpx.AsyncClient, db: Database) -> None:
    booking_id, token = await requested(client, db)
    before = await db.counts()
    for _ in range(3):
        r = await client.get(f"/api/v1/bookings/by-token/{token}")
        assert r.status_code == 200
        assert r.json()["booking"]["booking_id"] == booking_id and r.json()["cancellable"] is True
    assert await db.counts() == before


async def test_the_post_cancels_once_and_spends_the_token(client: httpx.AsyncClient, db: Database) -> None:
    booking_id, token = await requested(client, db)
    r = await client.post(f"/api/v1/bookings/by-token/{token}/cancel")
    assert r.status_code == 200, r.text
    assert (r.json()["status"], r.json()["cancelled_by"]) == ("cancelled", "customer")
    before = await db.counts()
    again = await client.post(f"/api/v1/bookings/by-token/{token}/cancel")
    assert again.status_code == 404 and again.json()["type"].endswith("/cancel-link-not-found")
    assert (await client.get(f"/api/v1/bookings/by-token/{token}")).status_code == 404
    assert await db.counts() == before
    events = await db.fetch("SELECT payload FROM outbox WHERE key = $1 ORDER BY id", str(booking_id))
    assert len(events) == 2  # received, cancelled: nothing from the refused second POST


async def test_a_confirmed_booking_can_be_cancelled_through_the_link(
    client: httpx.AsyncClient, db: Database, auth: Auth
) -> None:
    booking_id, token = await requested(client, db)
    await client.post(f"/api/v1/bookings/{booking_id}/confirm", headers=auth.manager())
    assert (await client.post(f"/api/v1/bookings/by-token/{token}/cancel")).json()["status"] == "cancelled"


@pytest.mark.parametrize("forged", ["A" * 43, "not-a-token", "x" * 300, "%00"])
async def test_a_forged_token_is_404(client: httpx.AsyncClient, db: Database, forged: str) -> None:
    await requested(client, db)
    before = await db.counts()
    assert (await client.get(f"/api/v1/bookings/by-token/{forged}")).status_code == 404
    assert (await client.post(f"/api/v1/bookings/by-token/{forged}/cancel")).status_code == 404
    assert (await client.post(f"/api/v1/bookings/by-token/{'B' * 43}/cancel")).status_code == 404
    assert await db.counts() == before


async def test_a_booking_that_has_started_cannot_be_cancelled_through_the_link(
    client: httpx.AsyncClient, db: Database
) -> None:
    booking_id, token = await requested(client, db)
    await db.fetch(
        "UPDATE bookings SET starts_at = now() - interval '1 hour', ends_at = now() + interval '1 hour' WHERE id = $1",
        booking_id,
    )
    shown = (await client.get(f"/api/v1/bookings/by-token/{token}")).json()
    assert shown["cancellable"] is False and "started" in shown["reason"]
    before = await db.counts()
    r = await client.post(f"/api/v1/bookings/by-token/{token}/cancel")
    assert r.status_code == 409 and r.json()["type"].endswith("/booking-started")
    assert await db.counts() == before


async def test_a_booking_that_has_ended_says_so_and_cannot_be_cancelled_through_the_link(
    client: httpx.AsyncClient, db: Database
) -> None:
    booking_id, token = await requested(client, db)
    await db.fetch(
        "UPDATE bookings SET starts_at = now() - interval '3 hours', ends_at = now() - interval '1 hour' WHERE id = $1",
        booking_id,
    )
    before = await db.counts()
    shown = (await client.get(f"/api/v1/bookings/by-token/{token}")).json()
    assert shown["cancellable"] is False and "ended" in shown["reason"]
    r = await client.post(f"/api/v1/bookings/by-token/{token}/cancel")
    assert r.status_code == 409 and r.json()["type"].endswith("/booking-started") and "ended" in r.json()["detail"]
    assert await db.counts() == before


async def test_a_rejected_booking_shows_why_and_refuses_the_cancel(
    client: httpx.AsyncClient, db: Database, auth: Auth
) -> None:
    booking_id, token = await requested(client, db)
    await client.post(f"/api/v1/bookings/{booking_id}/reject", headers=auth.manager())
    shown = (await client.get(f"/api/v1/bookings/by-token/{token}")).json()
    assert shown["cancellable"] is False and shown["booking"]["status"] == "rejected"
    assert (await client.post(f"/api/v1/bookings/by-token/{token}/cancel")).status_code == 409


async def test_only_the_first_event_carries_the_cancel_link(
    client: httpx.AsyncClient, db: Database, auth: Auth
) -> None:
    booking_id, _ = await requested(client, db)
    await client.post(f"/api/v1/bookings/{booking_id}/confirm", headers=auth.manager())
    await client.post(f"/api/v1/bookings/{booking_id}/cancel", headers=auth.manager())
    events = [
        r["payload"]
        for r in await db.fetch(
            "SELECT payload::text AS payload FROM outbox WHERE key = $1 ORDER BY id", str(booking_id)
        )
    ]
    assert ["cancel_url" in e for e in events] == [True, False, False]
