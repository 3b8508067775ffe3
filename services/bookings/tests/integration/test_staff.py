"""Staff decisions, and the database refusing two confirmed bookings of one table that overlap."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import timedelta

import httpx

from ..conftest import Auth, Database, at, booking_body


async def request(client: httpx.AsyncClient, table: int, start_hour: float, hours: float = 2) -> int:
    r = await client.post("/api/v1/bookings", json=booking_body(table, at(start_hour), hours))
    assert r.status_code == 201, r.text
    return int(r.json()["booking_id"])


async def test_two_managers_confirming_overlapping_bookings_at_once_one_wins_fifty_times_over(
    client: httpx.AsyncClient, db: Database, auth: Auth
) -> None:
    for round_ in range(50):
        table = await db.table()
        first = await request(client, table, 18)
        second = await request(client, table, 19)  # overlaps [19, 20)
        answers = await asyncio.gather(
            client.post(f"/api/v1/bookings/{first}/confirm", headers=auth.manager(1)),
            client.post(f"/api/v1/bookings/{second}/confirm", headers=auth.manager(2)),
        )
        assert sorted(a.status_code for a in answers) == [200, 409], f"round {round_}: {[a.text for a in answers]}"
        loser = next(a for a in answers if a.status_code == 409)
        assert loser.json()["type"].endswith("/table-taken")
        statuses = Counter(
            r["status"] for r in await db.fetch("SELECT status FROM bookings WHERE table_id = $1", table)
        )
        assert statuses == {"confirmed": 1, "pending": 1}


async def test_touching_bookings_are_both_confirmed(client: httpx.AsyncClient, db: Database, auth: Auth) -> None:
    table = await db.table()
    first = await request(client, table, 18, hours=2)
    second = await request(client, table, 20, hours=2)  # starts when the first ends
    for booking in (first, second):
        r = await client.post(f"/api/v1/bookings/{booking}/confirm", headers=auth.manager())
        assert r.status_code == 200, r.text


async def test_a_confirmed_booking_cancelled_frees_its_time_for_another(
    client: httpx.AsyncClient, db: Database, auth: Auth
) -> None:
    table = await db.table()
    first, second = await request(client, table, 18), await request(client, table, 18)
    assert (await client.post(f"/api/v1/bookings/{first}/confirm", headers=auth.manager())).status_code == 200
    assert (await client.post(f"/api/v1/bookings/{second}/confirm", headers=auth.manager())).status_code == 409
    r = await client.post(f"/api/v1/bookings/{first}/cancel", headers=auth.manager())
    assert r.json()["status"] == "cancelled" and r.json()["cancelled_by"] == "staff"
    assert (await client.post(f"/api/v1/bookings/{second}/confirm", headers=auth.manager())).status_code == 200


async def test_status_changes_outside_the_life_cycle_are_409_and_change_nothing(
    client: httpx.AsyncClient, db: Database, auth: Auth
) -> None:
    table = await db.table()
    rejected = await request(client, table, 10)
    assert (await client.post(f"/api/v1/bookings/{rejected}/reject", headers=auth.manager())).json()[
        "status"
    ] == "rejected"
    before = await db.counts()
    for action in ("confirm", "reject", "cancel"):
        r = await client.post(f"/api/v1/bookings/{rejected}/{action}", headers=auth.manager())
        assert r.status_code == 409 and r.json()["type"].endswith("/invalid-transition"), r.text
    assert (await client.post("/api/v1/bookings/987654321/confirm", headers=auth.manager())).status_code == 404
    assert await db.counts() == before


async def test_a_booking_whose_time_is_over_cannot_be_confirmed(
    client: httpx.AsyncClient, db: Database, auth: Auth
) -> None:
    table = await db.table()
    booking = await request(client, table, 10)
    await db.fetch(
        "UPDATE bookings SET starts_at = now() - interval '3 hours', ends_at = now() - interval '1 hour' WHERE id = $1",
        booking,
    )
    r = await client.post(f"/api/v1/bookings/{booking}/confirm", headers=auth.manager())
    assert r.status_code == 409 and r.json()["type"].endswith("/booking-started")


async def test_staff_list_shows_active_bookings_in_start_order_with_filters(
    client: httpx.AsyncClient, db: Database, auth: Auth
) -> None:
    table = await db.table()
    early, late, rejected = [await request(client, table, h, 1) for h in (30, 40, 35)]
    await client.post(f"/api/v1/bookings/{rejected}/reject", headers=auth.manager())
    page = (await client.get("/api/v1/bookings", params={"table_id": table}, headers=auth.manager())).json()
    assert [b["booking_id"] for b in page["items"]] == [early, late]
    only = (
        await client.get("/api/v1/bookings", params={"table_id": table, "status": "rejected"}, headers=auth.manager())
    ).json()
    assert [b["booking_id"] for b in only["items"]] == [rejected]
    windows: list[tuple[dict[str, str | int], list[int]]] = [
        ({"from": at(39).isoformat(), "to": at(45).isoformat()}, [late]),
        # Overlap of [from, to): a booking that ends when the window starts, or starts when it ends, is out.
        ({"from": at(31).isoformat()}, [late]),
        ({"to": at(30).isoformat()}, []),
        ({"from": at(30.25).isoformat(), "to": at(30.5).isoformat()}, [early]),
    ]
    for window, expected in windows:
        found = await client.get("/api/v1/bookings", params={"table_id": table, **window}, headers=auth.manager())
        assert [b["booking_id"] for b in found.json()["items"]] == expected, window
    first = (
        await client.get("/api/v1/bookings", params={"table_id": table, "limit": 1}, headers=auth.manager())
    ).json()
    rest = (
        await client.get(
            "/api/v1/bookings",
            params={"table_id": table, "limit": 1, "cursor": first["next_cursor"]},
            headers=auth.manager(),
        )
    ).json()
    assert [b["booking_id"] for b in first["items"] + rest["items"]] == [early, late]


async def test_only_managers_list_and_move_bookings(client: httpx.AsyncClient, db: Database, auth: Auth) -> None:
    table = await db.table()
    booking = await request(client, table, 12)
    before = await db.counts()
    for headers in (auth.customer(), auth.worker()):
        assert (await client.get("/api/v1/bookings", headers=headers)).status_code == 403
        for action in ("confirm", "reject", "cancel"):
            assert (await client.post(f"/api/v1/bookings/{booking}/{action}", headers=headers)).status_code == 403
        assert (
            await client.post(
                "/api/v1/tables", json={"name": "x", "kind": "room", "seats": 4, "price": 1}, headers=headers
            )
        ).status_code == 403
    assert (await client.get("/api/v1/bookings")).status_code == 401
    assert (await client.post(f"/api/v1/bookings/{booking}/confirm")).status_code == 401
    assert (await client.get(f"/api/v1/bookings/{booking}", headers=auth.worker())).status_code == 403
    # A guest's booking is linked to no one: a customer token naming no user id is not its owner.
    odd = {"Authorization": f"Bearer {auth.issuer.token('not-a-number', 'customer')}"}
    assert (await client.get(f"/api/v1/bookings/{booking}", headers=odd)).status_code == 404
    assert (await client.get("/api/v1/bookings/mine", headers=auth.manager())).status_code == 403
    # A bad token on a public route is refused, not taken for a guest.
    r = await client.post(
        "/api/v1/bookings", json=booking_body(table, at(20)), headers={"Authorization": "Bearer nope"}
    )
    assert r.status_code == 401
    assert await db.counts() == before


async def test_managers_add_change_and_price_tables(client: httpx.AsyncClient, db: Database, auth: Auth) -> None:
    r = await client.post(
        "/api/v1/tables",
        json={"name": "Terrace 1", "kind": "regular", "seats": 6, "price": 900},
        headers=auth.manager(),
    )
    assert r.status_code == 201, r.text
    table = r.json()
    assert table["bookable"] is True and table["price"] == 900
    dup = await client.post(
        "/api/v1/tables", json={"name": "Terrace 1", "kind": "cabin", "seats": 2, "price": 1}, headers=auth.manager()
    )
    assert dup.status_code == 409
    r = await client.patch(
        f"/api/v1/tables/{table['table_id']}", json={"kind": "cabin", "seats": 8}, headers=auth.manager()
    )
    assert (r.json()["kind"], r.json()["seats"]) == ("cabin", 8)
    when = (at(0, days=10) + timedelta(minutes=1)).isoformat()
    r = await client.post(
        f"/api/v1/tables/{table['table_id']}/prices",
        json={"price": 1200, "effective_from": when},
        headers=auth.manager(),
    )
    assert r.status_code == 201
    again = await client.post(
        f"/api/v1/tables/{table['table_id']}/prices",
        json={"price": 1300, "effective_from": when},
        headers=auth.manager(),
    )
    assert again.status_code == 409
    assert (
        await client.patch("/api/v1/tables/987654321", json={"seats": 3}, headers=auth.manager())
    ).status_code == 404
