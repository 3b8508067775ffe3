"""Hostile input: NUL characters (PostgreSQL text cannot hold them) and JSON nested past Python's
recursion limit are client errors, never a 500, and change nothing."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from .conftest import auth_as, register

NEW = {"username": "nulfree", "email": "nulfree@example.org", "password": "correct horse battery"}


def names_field(r: httpx.Response, field: str) -> bool:
    # The token endpoint's fields come prefixed by their grant ("password.username").
    return r.status_code == 422 and any(e["field"].split(".")[-1] == field for e in r.json()["errors"])


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/api/v1/users", {**NEW, "username": "nul\x00user"}, "username"),
        ("/api/v1/users", {**NEW, "email": "nul\x00free@example.org"}, "email"),
        ("/api/v1/users", {**NEW, "first_name": "Nul\x00"}, "first_name"),
        ("/api/v1/users", {**NEW, "last_name": "\x00"}, "last_name"),
        ("/api/v1/users", {**NEW, "password": "correct horse\x00battery"}, "password"),
        ("/api/v1/auth/token", {"username": "jo\x00sh", "password": "1"}, "username"),
        ("/api/v1/auth/token", {"grant_type": "client_credentials", "client_id": "lo\x00ms", "client_secret": "x"},
         "client_id"),
        ("/api/v1/auth/token", {"grant_type": "refresh_token", "refresh_token": "a\x00"}, "refresh_token"),
        ("/api/v1/auth/login", {"username": "josh@shop.example\x00", "password": "1"}, "username"),
        ("/api/v1/auth/token/refresh", {"refresh_token": "a\x00"}, "refresh_token"),
        ("/api/v1/auth/token/verify", {"token": "a\x00"}, "token"),
        ("/api/v1/auth/otp", {"email": "jo\x00sh@shop.example"}, "email"),
        ("/api/v1/auth/otp/verify", {"email": "jo\x00sh@shop.example", "code": "123456"}, "email"),
        ("/api/v1/auth/otp/verify", {"email": "josh@shop.example", "code": "12\x003456"}, "code"),
    ],
)  # fmt: skip
async def test_nul_in_a_text_field_is_422_naming_it(
    client: httpx.AsyncClient, path: str, body: dict[str, Any], field: str
) -> None:
    r = await client.post(path, json=body)
    assert names_field(r, field), r.text
    assert r.headers["content-type"] == "application/problem+json"


async def test_nul_in_a_form_field_is_422(client: httpx.AsyncClient) -> None:
    for path in ("/api/v1/auth/token", "/api/v1/auth/login"):
        r = await client.post(path, data={"username": "jo\x00sh", "password": "1"})
        assert names_field(r, "username"), (path, r.text)


async def test_nul_in_a_changed_field_is_422_and_changes_nothing(client: httpx.AsyncClient) -> None:
    user = await register(client)
    headers = await auth_as(client, user["username"], "correct horse battery")
    url = f"/api/v1/users/{user['id']}"
    assert names_field(await client.patch(url, headers=headers, json={"first_name": "A\x00B"}), "first_name")
    body = {"email": "a\x00@example.org", "current_password": "correct horse battery"}
    assert names_field(await client.patch(url, headers=headers, json=body), "email")
    assert (await client.get(url, headers=headers)).json() == user
    admin = await auth_as(client, "admin")
    body = {"role": "worker", "categories": ["drums\x00"]}
    assert (await client.patch(url, headers=admin, json=body)).status_code == 422
    listing = await client.get("/api/v1/users", params={"category": "drums\x00"}, headers=admin)
    assert listing.status_code == 422


async def test_json_nested_past_the_recursion_limit_is_400(client: httpx.AsyncClient) -> None:
    deep = "[" * 8000 + "]" * 8000
    for path in ("/api/v1/auth/token", "/api/v1/auth/login", "/api/v1/users"):
        r = await client.post(path, content=deep, headers={"content-type": "application/json"})
        assert r.status_code == 400, (path, r.status_code)
        assert r.headers["content-type"] == "application/problem+json"
