"""Remembering verified access tokens (`shopcommon.token_verifier.VerifiedTokens`) changes no answer
about a deactivated account: its refresh token and every sign-in are refused at once, and whatever its
access token is still told is what a verifier that checks every time tells it."""

from __future__ import annotations

import httpx

from shopcommon.token_verifier import VerifiedTokens

from .conftest import auth_as, bearer, login
from .test_workers import PASSWORD, make_worker


async def _answers(client: httpx.AsyncClient, username: str, pair: dict[str, str]) -> list[tuple[int, object]]:
    access = bearer(pair["access_token"])
    me = await client.get("/api/v1/users/me", headers=access)
    verified = await client.post("/api/v1/auth/token/verify", json={"token": pair["access_token"]})
    refreshed = await client.post("/api/v1/auth/token/refresh", json={"refresh_token": pair["refresh_token"]})
    by_password = await client.post("/api/v1/auth/token", json={"username": username, "password": PASSWORD})
    return [(r.status_code, r.json()) for r in (me, verified, refreshed, by_password)]


async def test_a_deactivated_account_is_refused_as_before_while_its_token_is_remembered(
    client: httpx.AsyncClient,
) -> None:
    verifier = client.app.state.token_verifier  # type: ignore[attr-defined]
    worker = await make_worker(client, ["keyboards"])
    pair = await login(client, worker["username"], PASSWORD)
    assert (await client.get("/api/v1/users/me", headers=bearer(pair["access_token"]))).status_code == 200
    assert verifier.verified.get(pair["access_token"]) is not None  # remembered from here on

    admin = await auth_as(client, "admin")
    off = await client.patch(f"/api/v1/users/{worker['id']}", headers=admin, json={"active": False})
    assert off.status_code == 200

    remembered = await _answers(client, worker["username"], pair)
    assert remembered[2][0] == 401  # its refresh token ended with the deactivation
    assert remembered[3][0] == 403 and str(remembered[3][1]["type"]).endswith("/account-deactivated")  # type: ignore[index]

    verifier.verified = VerifiedTokens(ttl=0)  # a verifier that checks every token every time
    checked = await _answers(client, worker["username"], pair)
    assert [status for status, _ in checked] == [status for status, _ in remembered]
    assert checked[0][1] == remembered[0][1]  # what /users/me says about the account
    assert checked[3][1] == remembered[3][1]
