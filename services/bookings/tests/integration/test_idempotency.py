"""`Idempotency-Key` on booking requests: replay, refusal of a changed body, concurrent duplicates."""

from __future__ import annotations

import asyncio
import uuid

import httpx

from ..conftest import Auth, Database, at, booking_body


async def test_the_same_key_and_body_replays_the_first_answer(client: httpx.AsyncClient, db: Database) -> None:
    table = await db.table()
    key = {"Idempotency-Key": uuid.uuid4().hex}
    first = await client.post("/api/v1/bookings", json=booking_body(table, at(19)), headers=key)
    again = await client.post("/api/v1/bookings", json=booking_body(table, at(19)), headers=key)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json() and again.headers["Idempotent-Replayed"] == "true"
    assert await db.value("SELECT count(*) FROM bookings WHERE table_id = $1", table) == 1
    assert await db.value("SELECT count(*) FROM outbox WHERE key = $1", str(first.json()["booking_id"])) <= 1


async def test_the_same_key_with_another_body_is_422(client: httpx.AsyncClient, db: Database) -> None:
    table = await db.table()
    key = {"Idempotency-Key": uuid.uuid4().hex}
    await client.post("/api/v1/bookings", json=booking_body(table, at(19)), headers=key)
    before = await db.counts()
    r = await client.post("/api/v1/bookings", json=booking_body(table, at(20)), headers=key)
    assert r.status_code == 422 and r.json()["type"].endswith("/idempotency-key-reused")
    assert await db.counts() == before


async def test_refusals_are_replayed_too(client: httpx.AsyncClient, db: Database, auth: Auth) -> None:
    table = await db.table(bookable=False)
    key = {"Idempotency-Key": uuid.uuid4().hex}
    first = await client.post("/api/v1/bookings", json=booking_body(table, at(19)), headers=key)
    await client.patch(f"/api/v1/tables/{table}", json={"bookable": True}, headers=auth.manager())
    again = await client.post("/api/v1/bookings", json=booking_body(table, at(19)), headers=key)
    assert first.status_code == again.status_code == 409 and again.headers["Idempotent-Replayed"] == "true"


async def test_keys_are_scoped_to_the_caller(client: httpx.AsyncClient, db: Database, auth: Auth) -> None:
    table = await db.table()
    key = {"Idempotency-Key": uuid.uuid4().hex}
    a = await client.post("/api/v1/bookings", json=booking_body(table, at(19)), headers={**key, **auth.customer(701)})
    b = await client.post("/api/v1/bookings", json=booking_body(table, at(19)), headers={**key, **auth.customer(702)})
    guest = await client.post("/api/v1/bookings", json=booking_body(table, at(19)), headers=key)
    assert len({a.json()["booking_id"], b.json()["booking_id"], guest.json()["booking_id"]}) == 3


async def test_two_identical_requests_at_once_make_one_booking(client: httpx.AsyncClient, db: Database) -> None:
    for _ in range(10):
        table = await db.table()
        key = {"Idempotency-Key": uuid.uuid4().hex}
        answers = await asyncio.gather(
            *(client.post("/api/v1/bookings", json=booking_body(table, at(19)), headers=key) for _ in range(2))
        )
        statuses = sorted(a.status_code for a in answers)
        assert statuses in ([201, 201], [201, 409]), [a.text for a in answers]
        if statuses == [201, 201]:
            assert answers[0].json() == answers[1].json()
        else:
            assert next(a for a in answers if a.status_code == 409).json()["type"].endswith("/idempotency-key-in-use")
        assert await db.value("SELECT count(*) FROM bookings WHERE table_id = $1", table) == 1


async def test_a_malformed_key_is_422(client: httpx.AsyncClient, db: Database) -> None:
    table = await db.table()
    before = await db.counts()
    for bad in ("", "with space", "k" * 256):
        r = await client.post("/api/v1/bookings", json=booking_body(table, at(19)), headers={"Idempotency-Key": bad})
        assert r.status_code == 422, (bad, r.text)
    assert await db.counts() == before
