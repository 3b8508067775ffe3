"""Accounts: register, read, change and delete your own; managers manage all; services read any."""

from __future__ import annotations

import asyncio

import httpx

from checkout.identity.demo import SHARED_WORKER, SHARED_WORKER_CATEGORIES, demo_users
from shopcommon.demo_catalogue import CATEGORIES
from shopcommon.testing.cursors import forged_cursor

from .conftest import auth_as, bearer, confirmation_token, login, register


async def test_register_makes_a_customer_and_answers_201(client: httpx.AsyncClient) -> None:
    body = {"username": "ringo", "email": "Ringo@Example.org", "password": "yellow submarine",
            "first_name": "Ringo", "last_name": "Starr"}  # fmt: skip
    r = await client.post("/api/v1/users", json=body)
    assert r.status_code == 201
    user = r.json()
    assert set(user) == {"id", "username", "email", "first_name", "last_name", "role"}
    assert user["role"] == "customer" and user["email"] == "ringo@example.org"
    # Signing in needs the address confirmed first (the mailed token and the password).
    token = await confirmation_token(client, "ringo@example.org")
    confirmed = await client.post("/api/v1/users/verify-email", json={"token": token, "password": "yellow submarine"})
    assert confirmed.json() == user
    me = await client.get("/api/v1/users/me", headers=await auth_as(client, "ringo", "yellow submarine"))
    assert me.json() == user


async def test_register_refuses_a_role_in_the_body(client: httpx.AsyncClient) -> None:
    body = {"username": "sneaky", "email": "sneaky@example.org", "password": "yellow submarine", "role": "manager"}
    r = await client.post("/api/v1/users", json=body)
    assert r.status_code == 422
    assert any(e["field"] == "role" for e in r.json()["errors"])
    wrong = await client.post("/api/v1/auth/token", json={"username": "sneaky", "password": "yellow submarine"})
    assert wrong.status_code == 401  # nothing was created


async def test_register_duplicate_username_or_email_is_409(client: httpx.AsyncClient) -> None:
    user = await register(client)
    again = {"username": user["username"].upper(), "email": "other@example.org", "password": "yellow submarine"}
    assert (await client.post("/api/v1/users", json=again)).status_code == 409
    same_email = {"username": "someoneelse", "email": user["email"].upper(), "password": "yellow submarine"}
    r = await client.post("/api/v1/users", json=same_email)
    assert r.status_code == 409 and r.headers["content-type"] == "application/problem+json"


async def test_register_weak_or_empty_password_is_422(client: httpx.AsyncClient) -> None:
    for password in ["", "1", "short", "password", "aaaaaaaaaaaa", "weakling-weakling"]:
        body = {"username": "weakling", "email": "weak@example.org", "password": password}
        r = await client.post("/api/v1/users", json=body)
        assert r.status_code == 422, password
        assert any(e["field"] == "password" for e in r.json()["errors"])


async def test_register_rejects_malformed_fields(client: httpx.AsyncClient) -> None:
    for body in [
        {"username": "a b", "email": "ab@example.org", "password": "yellow submarine"},
        {"username": "has@sign", "email": "at@example.org", "password": "yellow submarine"},
        {"username": "noemail", "email": "not-an-email", "password": "yellow submarine"},
        {"username": "x" * 151, "email": "long@example.org", "password": "yellow submarine"},
    ]:
        assert (await client.post("/api/v1/users", json=body)).status_code == 422, body
    assert (
        await client.post("/api/v1/users", content=b"{nope", headers={"content-type": "application/json"})
    ).status_code == 400


async def test_demo_accounts_have_their_roles_and_workers_their_category(client: httpx.AsyncClient) -> None:
    admin = await client.get("/api/v1/users/me", headers=await auth_as(client, "admin"))
    assert admin.json()["role"] == "manager" and admin.json()["email"] == "admin@shop.example"
    for name in ["customer", "josh", "mike"]:
        me = (await client.get("/api/v1/users/me", headers=await auth_as(client, name))).json()
        assert me["role"] == "customer" and "categories" not in me
    for category in CATEGORIES:
        me = (await client.get("/api/v1/users/me", headers=await auth_as(client, f"worker-{category}"))).json()
        assert me["role"] == "worker" and me["categories"] == [category] and me["active"] is True
    shared = (await client.get("/api/v1/users/me", headers=await auth_as(client, SHARED_WORKER))).json()
    assert shared["role"] == "worker" and shared["categories"] == sorted(SHARED_WORKER_CATEGORIES)
    assert len(demo_users()) == 4 + len(CATEGORIES) + 1


async def test_customer_reads_own_account_and_another_is_404(client: httpx.AsyncClient) -> None:
    headers = await auth_as(client, "josh")
    me = (await client.get("/api/v1/users/me", headers=headers)).json()
    assert (await client.get(f"/api/v1/users/{me['id']}", headers=headers)).json() == me
    mike = (await client.get("/api/v1/users/me", headers=await auth_as(client, "mike"))).json()
    for method in ("GET", "PATCH", "DELETE"):
        r = await client.request(
            method, f"/api/v1/users/{mike['id']}", headers=headers, json={} if method == "PATCH" else None
        )
        assert r.status_code == 404, method
    assert (await client.get("/api/v1/users/me", headers=await auth_as(client, "mike"))).status_code == 200


async def test_manager_and_service_read_any_account(client: httpx.AsyncClient) -> None:
    mike = (await client.get("/api/v1/users/me", headers=await auth_as(client, "mike"))).json()
    admin = await auth_as(client, "admin")
    assert (await client.get(f"/api/v1/users/{mike['id']}", headers=admin)).json() == mike
    service = bearer(client.app.state.key_store.service_token("notifications"))  # type: ignore[attr-defined]
    assert (await client.get(f"/api/v1/users/{mike['id']}", headers=service)).json()["email"] == "mike@shop.example"
    assert (await client.get("/api/v1/users/999999999", headers=admin)).status_code == 404


async def test_list_users_is_for_managers_and_services_only(client: httpx.AsyncClient) -> None:
    assert (await client.get("/api/v1/users", headers=await auth_as(client, "josh"))).status_code == 403
    assert (await client.get("/api/v1/users", headers=await auth_as(client, "worker-drums"))).status_code == 403
    assert (await client.get("/api/v1/users")).status_code == 401
    service = bearer(client.app.state.key_store.service_token("loms"))  # type: ignore[attr-defined]
    assert (await client.get("/api/v1/users", headers=service)).status_code == 200


async def test_list_users_pages_through_everyone_once(client: httpx.AsyncClient) -> None:
    admin = await auth_as(client, "admin")
    seen: list[int] = []
    cursor = None
    while True:
        params = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        page = (await client.get("/api/v1/users", params=params, headers=admin)).json()
        seen += [u["id"] for u in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == sorted(set(seen)) and len(seen) >= len(demo_users())
    assert (await client.get("/api/v1/users", params={"cursor": "junk!"}, headers=admin)).status_code == 400
    forged = forged_cursor({"after": "1 OR 1=1"})
    assert (await client.get("/api/v1/users", params={"cursor": forged}, headers=admin)).status_code == 400


async def test_list_workers_of_a_category(client: httpx.AsyncClient) -> None:
    service = bearer(client.app.state.key_store.service_token("loms"))  # type: ignore[attr-defined]
    r = await client.get("/api/v1/users", params={"role": "worker", "category": "drums"}, headers=service)
    assert [(u["username"], u["categories"], u["active"]) for u in r.json()["items"]] == [
        ("worker-drums", ["drums"], True)
    ]
    r = await client.get("/api/v1/users", params={"role": "worker", "category": "guitars"}, headers=service)
    assert [u["username"] for u in r.json()["items"]] == ["worker-guitars", SHARED_WORKER]
    r = await client.get("/api/v1/users", params={"role": "wizard"}, headers=service)
    assert r.status_code == 422


async def test_update_own_names_and_email(client: httpx.AsyncClient) -> None:
    user = await register(client)
    headers = await auth_as(client, user["username"], "correct horse battery")
    current = {"current_password": "correct horse battery"}
    r = await client.patch(f"/api/v1/users/{user['id']}", headers=headers,
                           json={"first_name": "Paul", "last_name": "McCartney", "email": "Paul@Example.org", **current})  # fmt: skip
    assert r.status_code == 200
    assert r.json() == {**user, "first_name": "Paul", "last_name": "McCartney", "email": "paul@example.org"}
    taken = await client.patch(
        f"/api/v1/users/{user['id']}", headers=headers, json={"email": "josh@shop.example", **current}
    )
    assert taken.status_code == 409
    nulled = await client.patch(f"/api/v1/users/{user['id']}", headers=headers, json={"email": None})
    assert nulled.status_code == 422


async def test_changing_own_password_needs_the_current_one_and_ends_sessions(client: httpx.AsyncClient) -> None:
    user = await register(client)
    pair = await login(client, user["username"], "correct horse battery")
    url, headers = f"/api/v1/users/{user['id']}", bearer(pair["access_token"])
    assert (await client.patch(url, headers=headers, json={"password": "new secret words"})).status_code == 403
    body = {"password": "new secret words", "current_password": "wrong"}
    assert (await client.patch(url, headers=headers, json=body)).status_code == 403
    body["current_password"] = "correct horse battery"
    assert (await client.patch(url, headers=headers, json={**body, "password": "short"})).status_code == 422
    assert (await client.patch(url, headers=headers, json=body)).status_code == 200
    await login(client, user["username"], "new secret words")
    refreshed = await client.post("/api/v1/auth/token/refresh", json={"refresh_token": pair["refresh_token"]})
    assert refreshed.status_code == 401


async def test_changing_own_email_needs_the_current_password_and_ends_sessions(client: httpx.AsyncClient) -> None:
    """A stolen access token alone must not move the account to the thief's address (and so to
    one-time codes the thief receives)."""
    user = await register(client)
    pair = await login(client, user["username"], "correct horse battery")
    url, headers = f"/api/v1/users/{user['id']}", bearer(pair["access_token"])
    for body in ({"email": "thief@example.org"}, {"email": "thief@example.org", "current_password": "guess"}):
        assert (await client.patch(url, headers=headers, json=body)).status_code == 403
    assert (await client.get(url, headers=headers)).json()["email"] == user["email"]
    # Sending the address it already has is no change and needs nothing.
    assert (await client.patch(url, headers=headers, json={"email": user["email"].upper()})).status_code == 200
    body = {"email": "moved@example.org", "current_password": "correct horse battery"}
    assert (await client.patch(url, headers=headers, json=body)).json()["email"] == "moved@example.org"
    refreshed = await client.post("/api/v1/auth/token/refresh", json={"refresh_token": pair["refresh_token"]})
    assert refreshed.status_code == 401


async def test_manager_changes_an_email_without_a_password(client: httpx.AsyncClient) -> None:
    user = await register(client)
    admin = await auth_as(client, "admin")
    new_email = f"{user['username']}@moved.example"
    r = await client.patch(f"/api/v1/users/{user['id']}", headers=admin, json={"email": new_email})
    assert r.status_code == 200 and r.json()["email"] == new_email


async def test_manager_makes_a_worker_with_categories(client: httpx.AsyncClient) -> None:
    user = await register(client)
    admin = await auth_as(client, "admin")
    body = {"role": "worker", "categories": ["guitars", "basses", "guitars"]}
    r = await client.patch(f"/api/v1/users/{user['id']}", headers=admin, json=body)
    assert r.json()["role"] == "worker" and r.json()["categories"] == ["basses", "guitars"]
    back = await client.patch(f"/api/v1/users/{user['id']}", headers=admin, json={"role": "customer"})
    assert back.json()["role"] == "customer" and "categories" not in back.json()


async def test_delete_own_account(client: httpx.AsyncClient) -> None:
    user = await register(client)
    pair = await login(client, user["username"], "correct horse battery")
    headers = bearer(pair["access_token"])
    assert (await client.delete(f"/api/v1/users/{user['id']}", headers=headers)).status_code == 204
    assert (await client.get("/api/v1/users/me", headers=headers)).status_code == 401
    gone = await client.post("/api/v1/auth/token/refresh", json={"refresh_token": pair["refresh_token"]})
    assert gone.status_code == 401
    assert (await client.get(f"/api/v1/users/{user['id']}", headers=await auth_as(client, "admin"))).status_code == 404


async def test_manager_deletes_any_account_and_services_cannot(client: httpx.AsyncClient) -> None:
    user = await register(client)
    service = bearer(client.app.state.key_store.service_token("loms"))  # type: ignore[attr-defined]
    assert (await client.delete(f"/api/v1/users/{user['id']}", headers=service)).status_code == 403
    assert (await client.patch(f"/api/v1/users/{user['id']}", headers=service, json={})).status_code == 403
    admin = await auth_as(client, "admin")
    assert (await client.delete(f"/api/v1/users/{user['id']}", headers=admin)).status_code == 204
    assert (await client.delete(f"/api/v1/users/{user['id']}", headers=admin)).status_code == 404


async def test_service_has_no_own_account(client: httpx.AsyncClient) -> None:
    service = bearer(client.app.state.key_store.service_token("loms"))  # type: ignore[attr-defined]
    assert (await client.get("/api/v1/users/me", headers=service)).status_code == 403


async def test_racing_registrations_of_one_name_make_one_account(client: httpx.AsyncClient) -> None:
    body = {"username": "twin", "email": "twin@example.org", "password": "yellow submarine"}
    answers = await asyncio.gather(*(client.post("/api/v1/users", json=body) for _ in range(5)))
    assert sorted(r.status_code for r in answers) == [201, 409, 409, 409, 409]
