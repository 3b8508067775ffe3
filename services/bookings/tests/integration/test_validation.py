"""Every bad request gets a problem answer and stores nothing."""

from __future__ import annotations

import uuid
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
    "start as a Unix time": ({"starts_at": START.timestamp()}, 422),
    "start as digits": ({"starts_at": str(int(START.timestamp()))}, 422),
    "no such day": ({"starts_at": "2030-04-31T19:00:00Z"}, 422),
    "year 1, an offset UTC cannot hold": (
        {"starts_at": "0001-01-01T00:00:00+23:59", "ends_at": "0001-01-01T02:00:00+23:59"},
        422,
    ),
    "year 9999, an offset UTC cannot hold": (
        {"starts_at": "9999-12-31T20:00:00-23:59", "ends_at": "9999-12-31T22:00:00-23:59"},
        422,
    ),
    "NUL in name": ({"name": "An\x00na"}, 422),
    "NUL in email": ({"email": "an\x00na@example.com"}, 422),
    "blank name": ({"name": "   "}, 422),
    "name of a carriage return": ({"name": "\r"}, 422),
    "name with a space around": ({"name": " Anna"}, 422),
    "name ending in U+0085": ({"name": "Anna\u0085"}, 422),
    "email with U+0085": ({"email": "l@x\u0085.io"}, 422),
    "email with a space around": ({"email": "anna@example.com "}, 422),
    "null email, no phone": ({"email": None, "phone": None}, 422),
    "huge name": ({"name": "A" * 101}, 422),
    "unknown field": ({"table": 1}, 422),
    "unknown status": ({"status": "cancelled"}, 422),
    "table id zero": ({"table_id": 0}, 422),
    "table id huge": ({"table_id": 2**63}, 422),
    "table id text": ({"table_id": "one"}, 422),
    "table id as text": ({"table_id": "1"}, 422),
    "table id true": ({"table_id": True}, 422),
    "table id 2^53": ({"table_id": 2**53}, 422),
    "unknown table": ({"table_id": 987654321}, 404),
}


@pytest.mark.parametrize("case", list(BAD_BOOKINGS))
async def test_a_bad_booking_request_is_a_problem_and_stores_nothing(
    client: httpx.AsyncClient, db: Database, case: str
) -> None:
    over, status = BAD_BOOKINGS[case]
    table = await db.table()
    payload = {**body(), "table_id": table, **over}
    payload = {k: v for k, v in payload.items() if v is not None or k in over}
    before = await db.counts()
    r = await client.post("/api/v1/bookings", json=payload)
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert {"type", "title", "status", "detail"} <= set(r.json())
    if status == 422:
        assert r.json()["errors"]
    assert await db.counts() == before


TIME_REFUSALS = {
    "past start": {"starts_at": (datetime.now(UTC) - timedelta(hours=1)).isoformat()},
    "years ahead": {"starts_at": "9999-12-31T20:00:00-23:59", "ends_at": "9999-12-31T22:00:00-23:59"},
    "too short": {"ends_at": (START + timedelta(minutes=29)).isoformat()},
    "end before start": {"ends_at": (START - timedelta(hours=1)).isoformat()},
}


@pytest.mark.parametrize("case", list(TIME_REFUSALS))
async def test_a_time_no_schema_can_refuse_has_its_own_problem_type(
    client: httpx.AsyncClient, db: Database, case: str
) -> None:
    """The clock and the length rules: `time-refused`, which the fuzzer's hook knows, so that no other
    422 for a schema-valid request can hide behind it."""
    r = await client.post("/api/v1/bookings", json={**body(), "table_id": await db.table(), **TIME_REFUSALS[case]})
    assert r.status_code == 422, r.text
    assert r.json()["type"].endswith("/time-refused")


GOOD_BOOKINGS: dict[str, dict[str, Any]] = {
    "phone only": {"email": None, "phone": "+7 (495) 123-45-67"},
    "null phone": {"phone": None},
    "inner spaces and letters": {"name": "Anna-Maria Ünal  Jr."},
    "a name of one letter": {"name": "A"},
    "an offset": {"starts_at": START.astimezone().isoformat(), "ends_at": (START + timedelta(hours=2)).isoformat()},
    "lower-case t and z, nanoseconds": {
        "starts_at": START.strftime("%Y-%m-%dt%H:%M:%S.123456789z"),
        "ends_at": (START + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%SZ"),
    },
    "table id as 5.0": {},  # filled in below
}


@pytest.mark.parametrize("case", list(GOOD_BOOKINGS))
async def test_what_the_schema_allows_is_accepted(client: httpx.AsyncClient, db: Database, case: str) -> None:
    table = await db.table()
    payload = {**body(), "table_id": float(table) if case == "table id as 5.0" else table, **GOOD_BOOKINGS[case]}
    r = await client.post("/api/v1/bookings", json=payload)
    assert r.status_code == 201, r.text
    stored = r.json()
    assert stored["table_id"] == table
    assert stored["name"] == payload["name"]  # as sent: nothing is stripped
    assert stored["email"] == payload.get("email")


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
    "seats as text": {"seats": "4"},
    "seats true": {"seats": True},
    "price as text": {"price": "1000"},
    "price true": {"price": True},
    "name of a carriage return": {"name": "\r"},
    "name with a tab around": {"name": "T1\t"},
    "bookable 0": {"bookable": 0},
    "bookable as text": {"bookable": "true"},
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


async def test_integral_floats_are_integers_and_null_is_refused_by_name(
    client: httpx.AsyncClient, db: Database, auth: Auth
) -> None:
    """JSON Schema's integers: 6.0 is 6. A PATCH leaves a field out to keep it; `null` is a 422 that names
    the field, and the document does not offer it."""
    r = await client.post(
        "/api/v1/tables", json={"name": f"Float {uuid.uuid4().hex[:6]}", "kind": "cabin", "seats": 6.0, "price": 1500.0},
        headers=auth.manager(),
    )  # fmt: skip
    assert r.status_code == 201, r.text
    assert (r.json()["seats"], r.json()["price"]) == (6, 1500)
    table = r.json()["table_id"]
    before = await db.counts()
    for field in ("bookable", "name", "kind", "seats"):
        r = await client.patch(f"/api/v1/tables/{table}", json={field: None}, headers=auth.manager())
        assert r.status_code == 422, r.text
        assert [e["field"] for e in r.json()["errors"]] == [field]
    assert await db.counts() == before
    schema = (await client.get("/openapi.json")).json()["components"]["schemas"]["TableUpdate"]
    assert "null" not in str(schema["properties"])
    r = await client.patch(f"/api/v1/tables/{table}", json={"seats": 8.0}, headers=auth.manager())
    assert r.status_code == 200 and r.json()["seats"] == 8


async def test_a_price_cannot_start_in_the_past(client: httpx.AsyncClient, db: Database, auth: Auth) -> None:
    table = await db.table()
    before = await db.counts()
    past = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    r = await client.post(
        f"/api/v1/tables/{table}/prices", json={"price": 5, "effective_from": past}, headers=auth.manager()
    )
    assert r.status_code == 422
    assert r.json()["type"].endswith("/time-refused")
    assert (
        await client.post("/api/v1/tables/987654321/prices", json={"price": 5}, headers=auth.manager())
    ).status_code == 404
    assert await db.counts() == before
