"""Workers (CONTRACT.md "Fulfilment"): managers create them with `role` and `categories`, change
their categories and deactivate them; a deactivated account cannot sign in by any means and its
sessions end; LOMS (a `users:read` service) sees `active` in the workers list."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from .conftest import auth_as, bearer, code_in, login, mail_to, register

PASSWORD = "correct horse battery"


async def make_worker(client: httpx.AsyncClient, categories: list[str]) -> dict[str, Any]:
    name = f"w{uuid.uuid4().hex[:8]}"
    body = {"username": name, "email": f"{name}@example.org", "password": PASSWORD, "role": "worker",
            "categories": categories, "first_name": "Wendy"}  # fmt: skip
    r = await client.post("/api/v1/users", json=body, headers=await auth_as(client, "admin"))
    assert r.status_code == 201, r.text
    user: dict[str, Any] = r.json()
    return user


async def test_manager_creates_a_worker_who_signs_in_at_once(client: httpx.AsyncClient) -> None:
    worker = await make_worker(client, ["drums", "wind", "drums"])
    assert worker["role"] == "worker" and worker["categories"] == ["drums", "wind"] and worker["active"] is True
    headers = await auth_as(client, worker["username"], PASSWORD)  # made by staff: confirmed already
    assert (await client.get("/api/v1/users/me", headers=headers)).json() == worker
    moved = await client.patch(
        f"/api/v1/users/{worker['id']}", headers=await auth_as(client, "admin"), json={"categories": ["strings"]}
    )
    assert moved.status_code == 200 and moved.json()["categories"] == ["strings"]


async def test_manager_creates_a_manager_and_categories_belong_to_workers_only(client: httpx.AsyncClient) -> None:
    name = f"m{uuid.uuid4().hex[:8]}"
    body = {"username": name, "email": f"{name}@example.org", "password": PASSWORD, "role": "manager",
            "categories": ["drums"]}  # fmt: skip
    r = await client.post("/api/v1/users", json=body, headers=await auth_as(client, "admin"))
    assert r.status_code == 201 and r.json()["role"] == "manager" and "categories" not in r.json()


async def test_only_managers_hand_out_roles_categories_or_active(client: httpx.AsyncClient) -> None:
    name = f"x{uuid.uuid4().hex[:8]}"
    body = {"username": name, "email": f"{name}@example.org", "password": PASSWORD}
    for extra in ({"role": "worker"}, {"categories": ["drums"]}, {"role": "manager"}):
        anonymous = await client.post("/api/v1/users", json={**body, **extra})
        assert anonymous.status_code == 422, extra
        assert {e["field"] for e in anonymous.json()["errors"]} == set(extra)
        for who in ("josh", "worker-drums"):
            signed_in = await client.post("/api/v1/users", json={**body, **extra}, headers=await auth_as(client, who))
            assert signed_in.status_code == 403, (who, extra)
    assert (await client.post("/api/v1/auth/token", json={"username": name, "password": PASSWORD})).status_code == 401

    worker = await make_worker(client, ["drums"])
    headers = await auth_as(client, worker["username"], PASSWORD)
    for change in ({"active": False}, {"active": True}, {"categories": ["guitars"]}, {"role": "manager"}):
        r = await client.patch(f"/api/v1/users/{worker['id']}", headers=headers, json=change)
        assert r.status_code == 403, change
    assert (await client.get("/api/v1/users/me", headers=headers)).json() == worker
    customer = await register(client)
    own = await auth_as(client, customer["username"], PASSWORD)
    r = await client.patch(f"/api/v1/users/{customer['id']}", headers=own, json={"active": False})
    assert r.status_code == 403


async def test_deactivation_stops_every_sign_in_and_ends_sessions(client: httpx.AsyncClient) -> None:
    worker = await make_worker(client, ["keyboards"])
    url = f"/api/v1/users/{worker['id']}"
    pair = await login(client, worker["username"], PASSWORD)
    admin = await auth_as(client, "admin")

    off = await client.patch(url, headers=admin, json={"active": False})
    assert off.status_code == 200 and off.json()["active"] is False

    refreshed = await client.post("/api/v1/auth/token/refresh", json={"refresh_token": pair["refresh_token"]})
    assert refreshed.status_code == 401
    by_password = await client.post("/api/v1/auth/token", json={"username": worker["username"], "password": PASSWORD})
    assert by_password.status_code == 403 and by_password.json()["type"].endswith("/account-deactivated")
    by_email = await client.post("/api/v1/auth/token", json={"username": worker["email"], "password": PASSWORD})
    assert by_email.status_code == 403
    wrong = await client.post("/api/v1/auth/token", json={"username": worker["username"], "password": "not it at all"})
    assert wrong.status_code == 401  # the state of an account is told only to whoever knows its password
    assert (await client.post("/api/v1/auth/otp", json={"email": worker["email"]})).status_code == 202
    assert await mail_to(client.mail_api, worker["email"], timeout=1.5) == []  # type: ignore[attr-defined]

    service = bearer(client.app.state.key_store.service_token("loms"))  # type: ignore[attr-defined]
    listed = await client.get("/api/v1/users", params={"role": "worker", "category": "keyboards"}, headers=service)
    assert {u["username"]: u["active"] for u in listed.json()["items"]}[worker["username"]] is False
    assert (await client.get(url, headers=service)).json()["active"] is False

    on = await client.patch(url, headers=admin, json={"active": True})
    assert on.status_code == 200 and on.json()["active"] is True
    again = await login(client, worker["username"], PASSWORD)
    assert (await client.get("/api/v1/users/me", headers=bearer(again["access_token"]))).json()["active"] is True
    # The refresh token of before stays dead: reactivation starts new sessions only.
    old = await client.post("/api/v1/auth/token/refresh", json={"refresh_token": pair["refresh_token"]})
    assert old.status_code == 401
    assert (await client.post("/api/v1/auth/otp", json={"email": worker["email"]})).status_code == 202
    code = code_in((await mail_to(client.mail_api, worker["email"]))[0])  # type: ignore[attr-defined]
    by_code = await client.post("/api/v1/auth/otp/verify", json={"email": worker["email"], "code": code})
    assert by_code.status_code == 200


async def test_a_deactivated_customer_shows_it_and_active_ones_do_not(client: httpx.AsyncClient) -> None:
    customer = await register(client)
    assert "active" not in customer
    admin = await auth_as(client, "admin")
    off = await client.patch(f"/api/v1/users/{customer['id']}", headers=admin, json={"active": False})
    assert off.json()["active"] is False and off.json()["role"] == "customer"
    on = await client.patch(f"/api/v1/users/{customer['id']}", headers=admin, json={"active": True})
    assert "active" not in on.json()
    assert (
        await client.patch(f"/api/v1/users/{customer['id']}", headers=admin, json={"active": None})
    ).status_code == 422


async def test_a_manager_deactivated_or_demoted_cannot_undo_it_with_the_token_they_still_hold(
    client: httpx.AsyncClient,
) -> None:
    """The API read the role from the token only: for the rest of the access token's life, a
    manager another had just deactivated or demoted made themself an active manager again."""
    admin = await auth_as(client, "admin")
    for taken_away in ({"active": False}, {"role": "customer"}):
        name = f"m{uuid.uuid4().hex[:8]}"
        body = {"username": name, "email": f"{name}@example.org", "password": PASSWORD, "role": "manager"}
        made = await client.post("/api/v1/users", json=body, headers=admin)
        assert made.status_code == 201, made.text
        manager_id = made.json()["id"]
        held = await auth_as(client, name, PASSWORD)
        assert (await client.patch(f"/api/v1/users/{manager_id}", headers=admin, json=taken_away)).status_code == 200
        restore = await client.patch(
            f"/api/v1/users/{manager_id}", headers=held, json={"active": True, "role": "manager"}
        )
        assert restore.status_code == 403 and restore.json()["type"].endswith("/not-a-manager-now"), taken_away
        others = [
            await client.get("/api/v1/users", headers=held),
            await client.get("/api/v1/users/1", headers=held),
            await client.post(
                "/api/v1/users", headers=held, json={**body, "username": name + "x", "email": "x" + body["email"]}
            ),
        ]
        assert [r.status_code for r in others] == [403, 403, 403], taken_away
        account = (await client.get(f"/api/v1/users/{manager_id}", headers=admin)).json()
        assert {k: account[k] for k in taken_away} == taken_away
