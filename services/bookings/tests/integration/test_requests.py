"""A guest's request: what it stores, what it answers, and the price it keeps."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import httpx
import pytest

from shopcommon.testing.cursors import forged_cursor

from ..conftest import Auth, Database, at, booking_body


async def test_a_guest_request_is_pending_with_the_price_in_force(client: httpx.AsyncClient, db: Database) -> None:
    table = await db.table(price=2500)
    r = await client.post("/api/v1/bookings", json=booking_body(table, at(19), phone="+7 900 123-45-67"))
    assert r.status_code == 201, r.text
    body = r.json()
    assert body["status"] == "pending" and body["price"] == 2500 and body["table_id"] == table
    assert set(body) >= {"booking_id", "starts_at", "ends_at", "name", "email", "phone", "created_at"}
    row = (await db.fetch("SELECT user_id, cancel_token_hash FROM bookings WHERE id = $1", body["booking_id"]))[0]
    assert row["user_id"] is None and len(row["cancel_token_hash"]) == 32


async def test_each_booking_keeps_the_price_in_force_when_it_was_requested(
    client: httpx.AsyncClient, db: Database, auth: Auth
) -> None:
    table = await db.table(price=1000)
    first = await client.post("/api/v1/bookings", json=booking_body(table, at(12)))
    r = await client.post(f"/api/v1/tables/{table}/prices", json={"price": 1700}, headers=auth.manager())
    assert r.status_code == 201, r.text
    second = await client.post("/api/v1/bookings", json=booking_body(table, at(15)))
    assert (first.json()["price"], second.json()["price"]) == (1000, 1700)
    stored = await db.fetch("SELECT price FROM bookings WHERE table_id = $1 ORDER BY id", table)
    assert [r["price"] for r in stored] == [1000, 1700]


async def searched_price(client: httpx.AsyncClient, table: int) -> int | None:
    """The table's price as the search shows it, and the search's price range agrees (None: not found)."""
    found = [t for t in (await client.get("/api/v1/tables")).json()["items"] if t["table_id"] == table]
    if not found:
        return None
    price: int = found[0]["price"]
    in_range = (await client.get("/api/v1/tables", params={"min_price": price, "max_price": price})).json()["items"]
    assert table in [t["table_id"] for t in in_range]
    return price


async def test_a_future_price_takes_effect_only_when_its_time_comes(
    client: httpx.AsyncClient, db: Database, auth: Auth
) -> None:
    table = await db.table(price=1000)
    later = (at(0, days=0) + timedelta(hours=5)).isoformat()
    r = await client.post(
        f"/api/v1/tables/{table}/prices", json={"price": 3000, "effective_from": later}, headers=auth.manager()
    )
    assert r.status_code == 201
    assert (await client.get(f"/api/v1/tables/{table}")).json()["price"] == 1000
    assert await searched_price(client, table) == 1000
    assert (await client.post("/api/v1/bookings", json=booking_body(table, at(20)))).json()["price"] == 1000
    history = (await client.get(f"/api/v1/tables/{table}/prices")).json()
    assert [p["price"] for p in history] == [1000, 3000]
    # Its time comes: the history says it started an hour ago.
    await db.fetch(
        "UPDATE table_prices SET effective_from = now() - interval '1 hour' WHERE price = 3000 AND table_id = $1", table
    )
    assert (await client.get(f"/api/v1/tables/{table}")).json()["price"] == 3000
    assert await searched_price(client, table) == 3000
    assert (await client.post("/api/v1/bookings", json=booking_body(table, at(22)))).json()["price"] == 3000


async def test_a_customer_token_links_the_booking_and_mine_lists_it(
    client: httpx.AsyncClient, db: Database, auth: Auth
) -> None:
    table = await db.table()
    r = await client.post("/api/v1/bookings", json=booking_body(table, at(10)), headers=auth.customer(601))
    booking_id = r.json()["booking_id"]
    assert await db.value("SELECT user_id FROM bookings WHERE id = $1", booking_id) == 601
    mine = (await client.get("/api/v1/bookings/mine", headers=auth.customer(601))).json()
    assert [b["booking_id"] for b in mine["items"]] == [booking_id]
    assert (await client.get(f"/api/v1/bookings/{booking_id}", headers=auth.customer(601))).status_code == 200
    # Another customer: not found, not forbidden; their own list is empty.
    assert (await client.get(f"/api/v1/bookings/{booking_id}", headers=auth.customer(602))).status_code == 404
    assert (await client.get("/api/v1/bookings/mine", headers=auth.customer(602))).json()["items"] == []
    assert (await client.get(f"/api/v1/bookings/{booking_id}", headers=auth.manager())).status_code == 200


async def test_mine_pages_newest_first(client: httpx.AsyncClient, db: Database, auth: Auth) -> None:
    table = await db.table()
    made = []
    for hour in (8, 11, 14):
        r = await client.post("/api/v1/bookings", json=booking_body(table, at(hour)), headers=auth.customer(603))
        made.append(r.json()["booking_id"])
    first = (await client.get("/api/v1/bookings/mine", params={"limit": 2}, headers=auth.customer(603))).json()
    rest = (
        await client.get(
            "/api/v1/bookings/mine", params={"limit": 2, "cursor": first["next_cursor"]}, headers=auth.customer(603)
        )
    ).json()
    assert [b["booking_id"] for b in first["items"] + rest["items"]] == made[::-1]
    assert rest["next_cursor"] is None


async def test_closing_a_table_refuses_new_requests_at_once(
    client: httpx.AsyncClient, db: Database, auth: Auth
) -> None:
    table = await db.table()
    r = await client.patch(f"/api/v1/tables/{table}", json={"bookable": False}, headers=auth.manager())
    assert r.status_code == 200 and r.json()["bookable"] is False
    before = await db.counts()
    r = await client.post("/api/v1/bookings", json=booking_body(table, at(18)))
    assert r.status_code == 409 and r.json()["type"].endswith("/table-closed")
    assert await db.counts() == before


async def test_a_manager_books_directly_confirmed_and_others_may_not(
    client: httpx.AsyncClient, db: Database, auth: Auth
) -> None:
    table = await db.table()
    body = booking_body(table, at(19), status="confirmed")
    r = await client.post("/api/v1/bookings", json=body, headers=auth.manager())
    assert r.status_code == 201 and r.json()["status"] == "confirmed"
    assert await db.value("SELECT cancel_token_hash FROM bookings WHERE id = $1", r.json()["booking_id"]) is None
    before = await db.counts()
    for headers, status in (({}, 401), (auth.customer(), 403)):  # no credentials, or not a manager's
        r = await client.post("/api/v1/bookings", json=booking_body(table, at(9), status="confirmed"), headers=headers)
        assert r.status_code == status, r.text
    overlapping = await client.post(
        "/api/v1/bookings", json=booking_body(table, at(20), status="confirmed"), headers=auth.manager()
    )
    assert overlapping.status_code == 409 and overlapping.json()["type"].endswith("/table-taken")
    assert await db.counts() == before


async def test_concurrent_requests_for_one_table_are_all_recorded_pending(
    client: httpx.AsyncClient, db: Database
) -> None:
    """Requests do not hold the table: staff choose among them."""
    table = await db.table()
    answers = await asyncio.gather(
        *(client.post("/api/v1/bookings", json=booking_body(table, at(19), name=f"G{i}")) for i in range(5))
    )
    assert [a.status_code for a in answers] == [201] * 5


async def test_two_managers_booking_one_table_directly_at_once_one_wins(
    client: httpx.AsyncClient, db: Database, auth: Auth
) -> None:
    for _ in range(10):
        table = await db.table()
        answers = await asyncio.gather(
            *(
                client.post(
                    "/api/v1/bookings",
                    json=booking_body(table, at(19 + shift), status="confirmed"),
                    headers=auth.manager(user_id),
                )
                for user_id, shift in ((1, 0), (2, 1))
            )
        )
        assert sorted(a.status_code for a in answers) == [201, 409], [a.text for a in answers]
        confirmed = "SELECT count(*) FROM bookings WHERE table_id = $1 AND status = 'confirmed'"
        assert await db.value(confirmed, table) == 1


@pytest.mark.parametrize("path", ["/api/v1/bookings", "/api/v1/bookings/mine"])
@pytest.mark.parametrize(
    "position",
    [{"s": 5, "i": "x"}, {"s": "noon", "i": 1}, {"b": "x"}, {"b": [1]}, {"b": 2**64}, {"s": None, "b": None}, [1]],
)
async def test_a_made_up_cursor_is_a_400_problem(
    client: httpx.AsyncClient, auth: Auth, path: str, position: object
) -> None:
    """Each of these was a 500 while the handlers read the cursor's fields by hand."""
    caller = auth.manager() if path == "/api/v1/bookings" else auth.customer(604)
    r = await client.get(path, params={"cursor": forged_cursor(position)}, headers=caller)
    assert r.status_code == 400 and r.headers["content-type"] == "application/problem+json", r.text
    assert r.json()["type"].endswith("bad-cursor")
