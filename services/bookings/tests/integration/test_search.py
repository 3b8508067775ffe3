"""The public search: filters, the window, and what holds a table in it."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from ..conftest import Auth, Database, at, booking_body


async def found(client: httpx.AsyncClient, **params: Any) -> list[int]:
    r = await client.get(
        "/api/v1/tables", params={k: v.isoformat() if hasattr(v, "isoformat") else v for k, v in params.items()}
    )
    assert r.status_code == 200, r.text
    return [t["table_id"] for t in r.json()["items"]]


@pytest.fixture(scope="module")
async def cabins(db: Database) -> list[int]:
    """Cabins with 7 seats (a count no other module's tables have) at three prices."""
    return [await db.table(kind="cabin", seats=7, price=p) for p in (700, 800, 900)]


async def test_search_filters_by_kind_seats_and_price_range(
    client: httpx.AsyncClient, db: Database, cabins: list[int]
) -> None:
    room = await db.table(kind="room", seats=7, price=800)
    assert set(await found(client, kind="cabin", seats=7, min_price=750, max_price=900)) >= {cabins[1], cabins[2]}
    assert cabins[0] not in await found(client, kind="cabin", seats=7, min_price=750)
    assert room not in await found(client, kind="cabin", seats=7)
    assert not set(cabins) & set(await found(client, kind="cabin", seats=8))
    r = (await client.get("/api/v1/tables", params={"kind": "cabin", "seats": 7})).json()["items"][0]
    assert set(r) == {"table_id", "name", "kind", "seats", "price", "bookable"}


async def test_the_window_excludes_exactly_the_tables_confirmed_bookings_hold(
    client: httpx.AsyncClient, db: Database, auth: Auth, cabins: list[int]
) -> None:
    held, pending_only, touching, free = [await db.table(kind="room", seats=9, price=100) for _ in range(4)]

    async def book(table: int, start: float, hours: float, confirm: bool) -> None:
        r = await client.post("/api/v1/bookings", json=booking_body(table, at(start, days=5), hours))
        if confirm:
            assert (
                await client.post(f"/api/v1/bookings/{r.json()['booking_id']}/confirm", headers=auth.manager())
            ).status_code == 200

    await book(held, 19, 2, confirm=True)  # [19, 21) overlaps the window [20, 22)
    await book(pending_only, 20, 2, confirm=False)  # a request does not hold the table
    await book(touching, 17, 3, confirm=True)  # [17, 20) ends as the window starts
    window = {"kind": "room", "seats": 9, "starts_at": at(20, days=5), "ends_at": at(22, days=5)}
    assert set(await found(client, **window)) == {pending_only, touching, free}
    assert set(await found(client, kind="room", seats=9)) == {held, pending_only, touching, free}


async def test_every_window_the_schema_allows_means_something(
    client: httpx.AsyncClient, db: Database, auth: Auth
) -> None:
    """Half-open windows (no start: from now; no end: for good), empty ones (held by no booking) and
    long ones are answered, not refused; so is a price range whose minimum lies above its maximum."""
    held, free = [await db.table(kind="room", seats=13, price=100) for _ in range(2)]
    r = await client.post("/api/v1/bookings", json=booking_body(held, at(19, days=6), 2))
    confirmed = await client.post(f"/api/v1/bookings/{r.json()['booking_id']}/confirm", headers=auth.manager())
    assert confirmed.status_code == 200  # held: [19, 21) six days from now

    async def tables(**window: Any) -> set[int]:
        return set(await found(client, kind="room", seats=13, **window))

    assert await tables(starts_at=at(20, days=6)) == {free}  # [20, no end)
    assert await tables(starts_at=at(21, days=6)) == {held, free}  # starts as the booking ends
    assert await tables(ends_at=at(20, days=6)) == {free}  # [now, 20)
    assert await tables(ends_at=at(19, days=6)) == {held, free}
    assert await tables(starts_at=at(22, days=6), ends_at=at(20, days=6)) == {held, free}  # empty window
    assert await tables(starts_at=at(0, days=1), ends_at=at(0, days=200)) == {free}  # any length
    assert await tables(starts_at="0001-01-01T00:00:00+23:59", ends_at="9999-12-31T23:59:59-23:59") == {free}
    assert await tables(min_price=500, max_price=100) == set()


async def test_the_answer_is_the_documented_table_shape_and_leaves_out_tables_without_a_price_yet(
    client: httpx.AsyncClient, db: Database
) -> None:
    """PostgreSQL writes the search's JSON (the hot path): the same keys and types as `TableOut`. A
    table whose only price lies in the future cannot be booked yet (`table-not-priced`): not found."""
    cheap, dear, unpriced = [await db.table(kind="cabin", seats=14, price=p) for p in (1234, 2000, 999)]
    await db.fetch("UPDATE table_prices SET effective_from = now() + interval '1 day' WHERE table_id = $1", unpriced)
    r = await client.get("/api/v1/tables", params={"kind": "cabin", "seats": 14})
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    items = [t for t in r.json()["items"] if t["table_id"] in (cheap, dear, unpriced)]
    assert [t["table_id"] for t in items] == [cheap, dear]  # by seats, then price
    assert items[0] == {
        "table_id": cheap, "name": items[0]["name"], "kind": "cabin", "seats": 14, "price": 1234, "bookable": True
    }  # fmt: skip
    assert isinstance(items[0]["name"], str) and items[0]["name"]
    r = await client.get(f"/api/v1/tables/{unpriced}")
    assert r.status_code == 200 and r.json()["price"] is None


async def test_closed_tables_are_left_out_and_only_managers_may_ask_for_them(
    client: httpx.AsyncClient, db: Database, auth: Auth
) -> None:
    closed = await db.table(kind="regular", seats=11, bookable=False)
    assert closed not in await found(client, seats=11, kind="regular")
    r = await client.get("/api/v1/tables", params={"seats": 11, "include_closed": "true"}, headers=auth.manager())
    assert closed in [t["table_id"] for t in r.json()["items"]]
    assert (await client.get("/api/v1/tables", params={"include_closed": "true"})).status_code == 403
    assert (
        await client.get("/api/v1/tables", params={"include_closed": "true"}, headers=auth.customer())
    ).status_code == 403


@pytest.mark.parametrize(
    "params",
    [
        {"kind": "sofa"},
        {"seats": 0},
        {"seats": 100000},
        {"min_price": -1},
        {"max_price": 10**12},
        {"starts_at": "2031-01-01T10:00:00"},  # no offset
        {"starts_at": "yesterday", "ends_at": "today"},
        {"ends_at": "0.5"},  # not a Unix time
        {"starts_at": "1924992000"},
        {"starts_at": "2031-01-01 10:00:00+00:00"},  # "+" unencoded reads as a space
        {"starts_at": "2031-02-30T10:00:00Z"},
    ],
)
async def test_bad_search_parameters_are_422_problems(client: httpx.AsyncClient, params: dict[str, Any]) -> None:
    r = await client.get("/api/v1/tables", params=params)
    assert r.status_code == 422, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["errors"]
