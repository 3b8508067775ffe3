"""The OpenAPI document says what the validators do: a request it allows is not refused for its shape,
and one it refuses is not accepted (what `make fuzz` checks, here for the cases it found)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from jsonschema import Draft202012Validator

from ..conftest import Auth, Database, at, booking_body


@pytest.fixture(scope="module")
async def document(client: httpx.AsyncClient) -> dict[str, Any]:
    r = await client.get("/openapi.json")
    assert r.status_code == 200
    doc: dict[str, Any] = r.json()
    return doc


def allows(document: dict[str, Any], schema: dict[str, Any], value: Any) -> bool:
    """Whether the document's schema allows `value` (its `$ref`s resolved within the document)."""
    return Draft202012Validator({**schema, "components": document["components"]}).is_valid(value)


def parameter(document: dict[str, Any], path: str, name: str) -> dict[str, Any]:
    found = [p["schema"] for p in document["paths"][path]["get"]["parameters"] if p["name"] == name]
    assert found, name
    return found[0]


TEXTS = ["Anna", "A", "Anna Maria", "Ünal", "\u4e2d\u6587", "\r", " Anna", "Anna ", "Anna\u0085", "\u0085",
         "An\tna", "An\x00na", "\u00a0Anna", "Anna\u3000", "A\u2028B", "\ufeffAnna", "   ", ""]  # fmt: skip
EMAILS = ["anna@example.com", "l@x\u0085.io", "an na@example.com", "anna@example.com ", "a@b.c", "a@b",
          "an\x00na@example.com", "ä@例え.jp"]  # fmt: skip


@pytest.mark.parametrize("field", ["name", "email"])
async def test_text_the_document_allows_is_exactly_the_text_accepted(
    client: httpx.AsyncClient, db: Database, document: dict[str, Any], field: str
) -> None:
    """No stripping, no `\\s` (whose meaning differs between ECMA-262, Rust's regex and Python)."""
    schema = {"$ref": "#/components/schemas/BookingCreate"}
    table = await db.table()
    for i, value in enumerate(TEXTS if field == "name" else EMAILS):
        payload = booking_body(table, at(10 + i, days=9), 0.5, **{field: value})
        r = await client.post("/api/v1/bookings", json=payload)
        assert r.status_code in (201, 422), r.text
        assert (r.status_code == 201) == allows(document, schema, payload), (value, r.text)


MOMENTS = ["2030-05-01T19:00:00+03:00", "2030-05-01T19:00:00Z", "2030-05-01t19:00:00.123456789z",
           "0001-01-01T00:00:00+23:59", "9999-12-31T23:59:59-23:59", "2030-05-01T19:00:00", "0.5", "1900000000",
           "2030-05-01 19:00:00Z", "2030-05-01T19:00:60Z", "2030-05-01T19:00:00+0300", "0000-01-01T00:00:00Z",
           "\u0662\u0660\u0663\u0660-05-01T19:00:00Z"]  # fmt: skip


@pytest.mark.parametrize(("path", "name"), [("/api/v1/tables", "starts_at"), ("/api/v1/bookings", "to")])
async def test_moments_the_document_allows_are_exactly_the_moments_accepted(
    client: httpx.AsyncClient, auth: Auth, document: dict[str, Any], path: str, name: str
) -> None:
    schema = parameter(document, path, name)
    assert {"format": "date-time"}.items() <= schema["anyOf"][0].items() and "pattern" in schema["anyOf"][0]
    for value in MOMENTS:
        r = await client.get(path, params={name: value}, headers=auth.manager())
        assert r.status_code in (200, 422), r.text
        assert (r.status_code == 200) == allows(document, schema, value), (value, r.text)


async def test_the_document_asks_for_an_email_or_a_phone(
    client: httpx.AsyncClient, db: Database, document: dict[str, Any]
) -> None:
    schema = {"$ref": "#/components/schemas/BookingCreate"}
    table = await db.table()
    contacts: list[dict[str, Any]] = [
        {},
        {"email": None},
        {"email": None, "phone": None},
        {"phone": "+44 20 7946 0000"},
        {"email": None, "phone": "+44 20 7946 0001"},
        {"email": "anna@example.com", "phone": None},
    ]
    for i, contact in enumerate(contacts):
        payload = {k: v for k, v in booking_body(table, at(i, days=11), 1).items() if k != "email"} | contact
        r = await client.post("/api/v1/bookings", json=payload)
        assert r.status_code in (201, 422), r.text
        assert (r.status_code == 201) == allows(document, schema, payload) == (i >= 3), (payload, r.text)
