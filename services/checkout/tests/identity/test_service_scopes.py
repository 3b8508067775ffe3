"""Each service client gets the scopes it needs and no more: a leaked notifications secret reads
users, it does not list everyone or move orders."""

from __future__ import annotations

import httpx

from shopcommon.devsecrets import dev_secret

from .conftest import auth_as, bearer


async def service_token(client: httpx.AsyncClient, name: str) -> str:
    body = {"grant_type": "client_credentials", "client_id": name, "client_secret": dev_secret(f"client-{name}")}
    r = await client.post("/api/v1/auth/token", json=body)
    assert r.status_code == 200, r.text
    return str(r.json()["access_token"])


async def test_client_tokens_carry_their_clients_scopes(client: httpx.AsyncClient) -> None:
    for name in ("notifications", "loms"):
        token = await service_token(client, name)
        claims = (await client.post("/api/v1/auth/token/verify", json={"token": token})).json()
        assert claims["scope"] == "users:read", name


async def test_a_users_reader_reads_a_user_but_may_not_act_for_them(client: httpx.AsyncClient) -> None:
    me = (await client.get("/api/v1/users/me", headers=await auth_as(client, "customer"))).json()
    service = bearer(await service_token(client, "notifications"))
    assert (await client.get(f"/api/v1/users/{me['id']}", headers=service)).status_code == 200
    for path, body in [("/listCart", {"user": me["id"]}), ("/purchase", {"user": me["id"]})]:
        r = await client.post(path, json=body, headers=service)
        assert r.status_code == 403 and r.json()["type"].endswith("/insufficient-scope"), path
