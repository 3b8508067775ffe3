"""The OpenAPI document says what identity's validators do (what `make fuzz` checks): text it allows
is accepted as sent and text it refuses is refused, no field offers a `null` the code refuses, the
password floor is in the schema and the policy's other rules have their own problem type, and the
words under /users are not account ids."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest
from jsonschema import Draft202012Validator
from pydantic import ValidationError

from checkout.identity.settings import IdentitySettings
from shopcommon.validation import MAX_JSON_INT

from .conftest import AppFactory, auth_as, register

PROBLEMS = "https://shop.example/problems/"
STRONG = "correct horse battery"


@pytest.fixture(scope="module")
async def document(client: httpx.AsyncClient) -> dict[str, Any]:
    r = await client.get("/openapi.json")
    assert r.status_code == 200
    doc: dict[str, Any] = r.json()
    return doc


def allows(document: dict[str, Any], schema: dict[str, Any], value: Any) -> bool:
    """Whether the document's schema allows `value` (its `$ref`s resolved within the document)."""
    return Draft202012Validator({**schema, "components": document["components"]}).is_valid(value)


def fresh() -> str:
    return uuid.uuid4().hex[:10]


# No sample ends in "\n": Python's `re` (which `jsonschema` uses) lets `$` match before a final
# newline, where ECMA-262 (the document's dialect) and pydantic's regex do not.
NAMES = ["Anna", "Mary Ann", "O'Neil-Smith", "Ünal", "中文", "", " Anna", "Anna ", "\u0085", "Anna\u0085",
         "\u00a0Anna", "Anna\u3000", "\ufeffAnna", "An\tna", "An\x00na", "\r", "   "]  # fmt: skip
EMAILS = ["anna@example.com", "l@x\u0085.io", "an na@example.com", " anna@example.com", "anna@example.com ",
          "anna@example.com\u00a0", "an\x00na@example.com", "a@b", "ä@例え.jp", "a\u2028b@example.com"]  # fmt: skip
USERNAMES = ["anna", "a.b+c_d-e", " anna", "anna ", "an na", "anna\u0085", "an@na", "ann\x00a"]
PASSWORDS = [STRONG, "  spaced  out  ", "\u00a0nbsp-at-start", "tab\tinside ok", "short", "corr\x00ect horse"]


def registration(field: str, value: str) -> dict[str, Any]:
    name = f"doc{fresh()}"
    return {"username": name, "email": f"{name}@example.org", "password": STRONG, field: value}


@pytest.mark.parametrize(
    ("field", "samples"),
    [("first_name", NAMES), ("last_name", NAMES), ("email", EMAILS), ("username", USERNAMES),
     ("password", PASSWORDS)],
)  # fmt: skip
async def test_registration_text_the_document_allows_is_exactly_the_text_accepted_as_sent(
    client: httpx.AsyncClient, document: dict[str, Any], field: str, samples: list[str]
) -> None:
    """No stripping, no `\\s` (whose meaning differs between ECMA-262, Rust's regex and Python)."""
    schema = {"$ref": "#/components/schemas/UserCreate"}
    for value in samples:
        body = registration(field, value)
        if field == "email":
            body["email"] = value.replace("@", f"{fresh()}@", 1) if "@" in value else value
        r = await client.post("/api/v1/users", json=body)
        assert r.status_code in (201, 422), r.text
        assert (r.status_code == 201) == allows(document, schema, body), (value, r.text)
        if r.status_code == 201 and field != "password":
            expected = body[field].lower() if field == "email" else body[field]
            assert r.json()[field] == expected, (value, r.json())
        if r.status_code == 422:
            assert r.json()["type"] == PROBLEMS + "validation-error"
            assert any(e["field"] == field for e in r.json()["errors"]), r.text


async def test_a_category_the_document_allows_is_a_filter_not_a_refusal(
    client: httpx.AsyncClient, document: dict[str, Any]
) -> None:
    admin = await auth_as(client, "admin")
    (schema,) = [
        p["schema"] for p in document["paths"]["/api/v1/users"]["get"]["parameters"] if p["name"] == "category"
    ]
    for value in ["drums", "\u0085", " drums", "drums ", "\u3000", "a" * 100, "a" * 101, "dr\x00ums"]:
        r = await client.get("/api/v1/users", params={"category": value}, headers=admin)
        assert r.status_code in (200, 422), r.text
        assert (r.status_code == 200) == allows(document, schema, value), (value, r.text)
    workers = await client.get("/api/v1/users", params={"category": " drums"}, headers=admin)
    assert workers.json()["items"] == []  # taken as sent: no category is named " drums"


async def test_a_changed_name_is_stored_as_sent_or_refused(client: httpx.AsyncClient) -> None:
    user = await register(client)
    headers = await auth_as(client, user["username"], STRONG)
    url = f"/api/v1/users/{user['id']}"
    r = await client.patch(url, headers=headers, json={"first_name": "Mary Ann", "last_name": "van der Berg"})
    assert r.status_code == 200, r.text
    assert (r.json()["first_name"], r.json()["last_name"]) == ("Mary Ann", "van der Berg")
    refused = await client.patch(url, headers=headers, json={"first_name": " Mary"})
    assert refused.status_code == 422 and refused.json()["errors"][0]["field"] == "first_name"
    assert (await client.get(url, headers=headers)).json()["first_name"] == "Mary Ann"


def nulls_offered(schema: Any) -> list[Any]:
    if isinstance(schema, dict):
        own = [schema] if schema.get("type") == "null" or "null" in (schema.get("type") or []) else []
        return own + [n for value in schema.values() for n in nulls_offered(value)]
    if isinstance(schema, list):
        return [n for value in schema for n in nulls_offered(value)]
    return []


async def test_an_account_change_offers_no_null_and_refuses_one(
    client: httpx.AsyncClient, document: dict[str, Any]
) -> None:
    update = document["components"]["schemas"]["UserUpdate"]
    assert nulls_offered(update) == []
    assert all("default" not in prop for prop in update["properties"].values())
    user = await register(client)
    admin = await auth_as(client, "admin")
    for field in update["properties"]:
        r = await client.patch(f"/api/v1/users/{user['id']}", headers=admin, json={field: None})
        assert r.status_code == 422, (field, r.text)
        assert [e["field"] for e in r.json()["errors"]] == [field]
    assert (await client.get(f"/api/v1/users/{user['id']}", headers=admin)).json() == user


async def test_the_document_states_the_password_floor(document: dict[str, Any]) -> None:
    schemas = document["components"]["schemas"]
    for model in ("UserCreate", "UserUpdate"):
        assert schemas[model]["properties"]["password"]["minLength"] == 8, model
    assert schemas["UserUpdate"]["properties"]["current_password"]["minLength"] == 1


async def test_a_password_of_the_documented_shape_the_policy_refuses_is_weak_password(
    client: httpx.AsyncClient, document: dict[str, Any]
) -> None:
    schema = {"$ref": "#/components/schemas/UserCreate"}
    for password in ["aaaaaaaa", "abababababab", "password1", "Passw0rd", "x{name}x"]:
        body = registration("password", password)
        body["password"] = password.format(name=body["username"])
        assert allows(document, schema, body), password
        r = await client.post("/api/v1/users", json=body)
        assert r.status_code == 422, r.text
        assert r.json()["type"] == PROBLEMS + "weak-password", r.text
        assert r.json()["errors"][0]["field"] == "password"
    short = await client.post("/api/v1/users", json=registration("password", "abc1234"))
    assert short.status_code == 422 and short.json()["type"] == PROBLEMS + "validation-error"


async def test_a_deployment_may_ask_for_longer_passwords_but_never_shorter(app_client: AppFactory) -> None:
    with pytest.raises(ValidationError):
        IdentitySettings(password_min_length=7)
    async with app_client(password_min_length=12) as client:
        r = await client.post("/api/v1/users", json=registration("password", "tenletters!"))
        assert r.status_code == 422 and r.json()["type"] == PROBLEMS + "weak-password", r.text
        assert (await client.post("/api/v1/users", json=registration("password", STRONG))).status_code == 201


@pytest.mark.parametrize(
    ("path", "method", "allowed"),
    [("/api/v1/users/me", "PATCH", {"GET"}), ("/api/v1/users/me", "DELETE", {"GET"}),
     ("/api/v1/users/verify-email", "PATCH", {"POST"}), ("/api/v1/users/verify-email", "GET", {"POST"}),
     ("/api/v1/users/verify-email", "DELETE", {"POST"})],
)  # fmt: skip
async def test_words_under_users_are_not_account_ids(
    client: httpx.AsyncClient, path: str, method: str, allowed: set[str]
) -> None:
    admin = await auth_as(client, "admin")
    r = await client.request(method, path, headers=admin, json={} if method == "PATCH" else None)
    assert r.status_code == 405, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert allowed <= {m.strip() for m in r.headers["allow"].split(",")}


async def test_account_ids_stay_documented_under_one_template_within_json_numbers(
    client: httpx.AsyncClient, document: dict[str, Any]
) -> None:
    paths = document["paths"]
    assert set(paths["/api/v1/users/{user_id}"]) == {"get", "patch", "delete"}
    assert not [p for p in paths if ":" in p]
    for operation in paths["/api/v1/users/{user_id}"].values():
        (param,) = operation["parameters"]
        assert param["schema"]["maximum"] == MAX_JSON_INT
    admin = await auth_as(client, "admin")
    assert (await client.get(f"/api/v1/users/{MAX_JSON_INT}", headers=admin)).status_code == 404
    too_big = await client.get(f"/api/v1/users/{MAX_JSON_INT + 1}", headers=admin)
    assert too_big.status_code == 422 and too_big.json()["errors"][0]["field"] == "user_id"


async def test_a_new_account_links_to_its_operations(document: dict[str, Any]) -> None:
    links = document["paths"]["/api/v1/users"]["post"]["responses"]["201"]["links"]
    assert {link["operationId"] for link in links.values()} == {"read_user", "update_user", "delete_user"}
    assert all(link["parameters"] == {"user_id": "$response.body#/id"} for link in links.values())
