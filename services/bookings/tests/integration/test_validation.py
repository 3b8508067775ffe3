"""Every bad request gets a problem answer and stores nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from ..conftest import Auth, Database, at, booking_body

START = at(19)


def body(**over: Any) -> dict[str, Any]:
    return booking_body(0, START, **over)  # table_id filled in by the test


BAD_BOOKINGS: dict[str, tuple[dict[str, Any], int]] = {
    "no contact": ({"email": None}, 422),
    "empty email": ({"email": ""}, 422),
    "not an email": ({"email": "anna"}, 422),
    "not a phone": ({"email": None, "phone": "call me"}, 422),
    "past start": (
        {
            "starts_at": (datetime.now(UTC) - timedelta(hours=1)).isoformat(),
            "ends_at": (datetime.now(UTC) + timedelta(hours=1)).isoformat(),
        },
        422,
    ),
    "end before start": ({"ends_at": (START - timedelta(hours=1)).isoformat()}, 422),
    "end at start": ({"ends_at": START.isoformat()}, 422),
    "too short": ({"ends_at": (START + timedelta(minutes=29)).isoformat()}, 422),
    "too long": ({"ends_at": (START + timedelta(hours=8, minutes=1)).isoformat()}, 422),
    "years ahead": (
        {
            "starts_at": (START + timedelta(days=3650)).isoformat(),
            "ends_at": (START + timedelta(days=3650, hours=2)).isoformat(),
        },
        422,
    ),
    "naive start": ({"starts_at": START.replace(tzinfo=None).isoformat()}, 422),
    "naive end": ({"ends_at": (START + timedelta(hours=2)).replace(tzinfo=None).isoformat()}, 422),
    "not a time": ({"starts_at": "tonight"}, 422),
    "NUL in name": ({"name": "An\x00na"}, 422),
    "NUL in email": ({"email": "an\x00na@example.com"}, 422),
    "blank name": ({"name": "   "}, 422),
    "huge name": ({"name": "A" * 101}, 422),
    "unknown field": ({"table": 1}, 422),
    "unknown status": ({"status": "cancelled"}, 422),
    "table id zero": ({"table_id": 0}, 422),
    "table id huge": ({"table_id": 2**63}, 422),
    "table id text": ({"table_id": "one"}, 422),
    "unknown table": ({"table_id": 987654321}, 404),
}


@pytest.mark.parametrize("case", list(BAD_BOOKINGS))
async def test_a_bad_booking_request_is_a_problem_and_stores_nothing(
    client: httpx.AsyncClient, db: Database, case: str
) -> None:
    over, status = BAD_BOOKINGS[case]
    table = await db.table()
    payload = {**body(), "table_id": table, **over}
    payload = {k: v for k, v in payload.items() if v is not None}
    before = await db.counts()
    r = await client.post("/api/v1/bookings", json=payload)
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert {"type", "title", "status", "detail"} <= set(r.json())
    if status == 422:
        assert r.json()["errors"]
    assert await db.counts() == before


async def test_malformed_json_is_400_and_stores_nothing(client: httpx.AsyncClient, db: Database) -> None:
    before = await db.counts()
    r = await client.post("/api/v1/bookings", content=b'{"table_id": 1,', headers={"content-type": "application/json"})
    assert r.status_code == 400 and r.headers["content-type"].startswith("application/problem+json")
    assert await db.counts() == before


BAD_TABLES: dict[str, dict[str, Any]] = {
    "wrong kind": {"kind": "sofa"},
    "no seats": {"seats": 0},
    "absurd seats": {"seats": 5000},
    "negative price": {"price": -1},
    "absurd price": {"price": 10**12},
    "NUL in name": {"name": "T\x00"},
    "float seats": {"seats": 2.5},
}


@pytest.mark.parametrize("case", list(BAD_TABLES))
async def test_a_bad_table_is_422_and_stores_nothing(
    client: httpx.AsyncClient, db: Database, auth: Auth, case: str
) -> None:
    payload = {"name": f"Bad {case}", "kind": "regular", "seats": 4, "price": 1000, **BAD_TABLES[case]}
    before = await db.counts()
    r = await client.post("/api/v1/tables", json=payload, headers=auth.manager())
    assert r.status_code == 422, r.text
    assert await db.counts() == before
    table = await db.table()
    before = await db.counts()
    changes = {k: v for k, v in BAD_TABLES[case].items() if k != "price"} or {"bookable": None}
    r = await client.patch(f"/api/v1/tables/{table}", json=changes, headers=auth.manager())
    assert r.status_code == 422, r.text
    r = await client.post(
        f"/api/v1/tables/{table}/prices", json={"price": BAD_TABLES[case].get("price", "x")}, headers=auth.manager()
    )
    assert r.status_code == 422, r.text
    assert await db.counts() == before


async def test_a_price_cannot_start_in_the_past(client: httpx.AsyncClient, db: Database, auth: Auth) -> None:
    table = await db.table()
    before = await db.counts()
    past = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    r = await client.post(
        f"/api/v1/tables/{table}/prices", json={"price": 5, "effective_from": past}, headers=auth.manager()
    )
    assert r.status_code == 422
    assert (
        await client.post("/api/v1/tables/987654321/prices", json={"price": 5}, headers=auth.manager())
    ).status_code == 404
    assert await db.counts() == before
