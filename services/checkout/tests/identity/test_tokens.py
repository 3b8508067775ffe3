"""Token pairs: what an access token carries, refresh rotation and reuse, logout, verify,
client credentials, and key rotation that logs nobody out."""

from __future__ import annotations

import asyncio
import hashlib
from datetime import timedelta
from pathlib import Path

import httpx
import jwt
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import create_async_engine

from checkout.identity.keys import KeyStore
from checkout.identity.tables import refresh_tokens
from shopcommon.auth import TokenVerifier
from shopcommon.db import async_url
from shopcommon.devsecrets import dev_secret
from shopcommon.token_verifier import VerifiedTokens

from .conftest import AppFactory, auth_as, bearer, login, register


async def test_password_grant_accepts_json_and_form(client: httpx.AsyncClient) -> None:
    as_json = await client.post("/api/v1/auth/token", json={"username": "josh", "password": "1"})
    form = {"grant_type": "password", "username": "josh", "password": "1"}
    as_form = await client.post("/api/v1/auth/token", data=form)
    for r in (as_json, as_form):
        assert r.status_code == 200
        assert set(r.json()) == {"access_token", "refresh_token", "token_type", "expires_in"}
        assert r.json()["token_type"] == "bearer" and r.json()["expires_in"] == 900


async def test_access_token_is_an_eddsa_jwt_with_every_claim(client: httpx.AsyncClient) -> None:
    pair = await login(client, "admin")
    header = jwt.get_unverified_header(pair["access_token"])
    claims = jwt.decode(pair["access_token"], options={"verify_signature": False})
    assert header["alg"] == "EdDSA" and header["kid"] in {
        k["kid"] for k in (await client.get("/.well-known/jwks.json")).json()["keys"]
    }
    assert set(claims) >= {"iss", "aud", "sub", "role", "exp", "iat", "jti"}
    assert (claims["iss"], claims["aud"], claims["role"]) == ("shop-checkout", "shop", "manager")
    assert claims["exp"] - claims["iat"] == 900
    me = (await client.get("/api/v1/users/me", headers=bearer(pair["access_token"]))).json()
    assert claims["sub"] == str(me["id"])


async def test_wrong_password_unknown_user_and_missing_fields(client: httpx.AsyncClient) -> None:
    for body in ({"username": "josh", "password": "2"}, {"username": "nobody", "password": "1"}):
        r = await client.post("/api/v1/auth/token", json=body)
        assert r.status_code == 401 and r.headers["content-type"] == "application/problem+json"
    assert (await client.post("/api/v1/auth/token", json={"username": "josh"})).status_code == 422
    assert (await client.post("/api/v1/auth/token", json={"grant_type": "magic"})).status_code == 422
    assert (
        await client.post("/api/v1/auth/token", content=b"{", headers={"content-type": "application/json"})
    ).status_code == 400
    assert (
        await client.post("/api/v1/auth/token", content=b"x", headers={"content-type": "text/plain"})
    ).status_code == 415


async def test_login_by_email_works_too(client: httpx.AsyncClient) -> None:
    pair = await login(client, "Mike@Shop.Example")
    assert jwt.decode(pair["access_token"], options={"verify_signature": False})["role"] == "customer"


async def test_verify_answers_the_claims_or_401(client: httpx.AsyncClient) -> None:
    pair = await login(client, "josh")
    ok = await client.post("/api/v1/auth/token/verify", json={"token": pair["access_token"]})
    assert ok.status_code == 200 and ok.json()["role"] == "customer"
    for token in (pair["refresh_token"], pair["access_token"][:-4] + "AAAA", "junk"):
        assert (await client.post("/api/v1/auth/token/verify", json={"token": token})).status_code == 401


async def test_refresh_rotates_and_the_old_token_stops_working(client: httpx.AsyncClient) -> None:
    first = await login(client, "josh")
    r = await client.post("/api/v1/auth/token/refresh", json={"refresh_token": first["refresh_token"]})
    assert r.status_code == 200
    second = r.json()
    assert second["refresh_token"] != first["refresh_token"]
    assert (await client.get("/api/v1/users/me", headers=bearer(second["access_token"]))).status_code == 200
    third = await client.post(
        "/api/v1/auth/token", data={"grant_type": "refresh_token", "refresh_token": second["refresh_token"]}
    )
    assert third.status_code == 200


async def rotated_a_minute_ago(identity_db: str, refresh_token: str) -> None:
    """What a reuse looks like: a token presented again well after its rotation (`REUSE_GRACE`)."""
    engine = create_async_engine(async_url(identity_db))
    async with engine.begin() as conn:
        digest = hashlib.sha256(refresh_token.encode()).hexdigest()
        await conn.execute(
            update(refresh_tokens)
            .where(refresh_tokens.c.token_hash == digest)
            .values(used_at=refresh_tokens.c.used_at - timedelta(minutes=1))
        )
    await engine.dispose()


async def test_reusing_a_refresh_token_revokes_its_whole_family(client: httpx.AsyncClient, identity_db: str) -> None:
    first = await login(client, "mike")
    second = (await client.post("/api/v1/auth/token/refresh", json={"refresh_token": first["refresh_token"]})).json()
    other_session = await login(client, "mike")
    await rotated_a_minute_ago(identity_db, first["refresh_token"])
    reuse = await client.post("/api/v1/auth/token/refresh", json={"refresh_token": first["refresh_token"]})
    assert reuse.status_code == 401
    # The thief's copy and the owner's newest token are both dead now ...
    assert (
        await client.post("/api/v1/auth/token/refresh", json={"refresh_token": second["refresh_token"]})
    ).status_code == 401
    # ... while a separate login of the same user lives on.
    assert (
        await client.post("/api/v1/auth/token/refresh", json={"refresh_token": other_session["refresh_token"]})
    ).status_code == 200


async def test_two_refreshes_with_one_token_at_once_end_no_session(client: httpx.AsyncClient) -> None:
    """An app whose requests refresh at once: one gets the new pair, the others a 401, and the
    session lives on (before, the loser's reuse revoked the family, the winner's new pair too)."""
    first = await login(client, "josh")
    answers = await asyncio.gather(
        *(client.post("/api/v1/auth/token/refresh", json={"refresh_token": first["refresh_token"]}) for _ in range(4))
    )
    assert sorted(r.status_code for r in answers) == [200, 401, 401, 401]
    (winner,) = [r.json() for r in answers if r.status_code == 200]
    again = await client.post("/api/v1/auth/token/refresh", json={"refresh_token": winner["refresh_token"]})
    assert again.status_code == 200


async def test_refresh_tokens_are_stored_hashed(client: httpx.AsyncClient, identity_db: str) -> None:
    pair = await login(client, "customer")
    engine = create_async_engine(async_url(identity_db))
    async with engine.connect() as conn:
        stored = set((await conn.execute(select(refresh_tokens.c.token_hash))).scalars())
    await engine.dispose()
    assert pair["refresh_token"] not in stored
    assert hashlib.sha256(pair["refresh_token"].encode()).hexdigest() in stored


async def test_logout_revokes_the_refresh_token(client: httpx.AsyncClient) -> None:
    pair = await login(client, "customer")
    assert (await client.post("/api/v1/auth/logout", json={"refresh_token": pair["refresh_token"]})).status_code == 204
    r = await client.post("/api/v1/auth/token/refresh", json={"refresh_token": pair["refresh_token"]})
    assert r.status_code == 401
    assert (await client.post("/api/v1/auth/logout", json={"refresh_token": pair["refresh_token"]})).status_code == 204


async def test_unknown_refresh_token_is_401(client: httpx.AsyncClient) -> None:
    r = await client.post("/api/v1/auth/token/refresh", json={"refresh_token": "not-a-token"})
    assert r.status_code == 401 and r.headers["content-type"] == "application/problem+json"
    assert (await client.post("/api/v1/auth/token/refresh", json={})).status_code == 422


async def test_client_credentials_give_a_service_token(client: httpx.AsyncClient) -> None:
    body = {"grant_type": "client_credentials", "client_id": "notifications",
            "client_secret": dev_secret("client-notifications")}  # fmt: skip
    r = await client.post("/api/v1/auth/token", json=body)
    assert r.status_code == 200 and "refresh_token" not in r.json()
    claims = (await client.post("/api/v1/auth/token/verify", json={"token": r.json()["access_token"]})).json()
    assert (claims["role"], claims["sub"]) == ("service", "notifications")
    as_form = await client.post(
        "/api/v1/auth/token", data={**body, "client_id": "loms", "client_secret": dev_secret("client-loms")}
    )
    assert as_form.status_code == 200


async def test_client_credentials_refuse_wrong_secret_or_unknown_client(client: httpx.AsyncClient) -> None:
    for client_id, secret in [
        ("notifications", "wrong"),
        ("stranger", dev_secret("client-notifications")),
        ("loms", ""),
    ]:
        body = {"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret}
        assert (await client.post("/api/v1/auth/token", json=body)).status_code in (401, 422), client_id


async def test_configured_client_secrets_replace_dev_secrets(app_client: AppFactory) -> None:
    async with app_client(service_clients="loms:a-long-configured-secret") as c:
        body = {"grant_type": "client_credentials", "client_id": "loms", "client_secret": "a-long-configured-secret"}
        assert (await c.post("/api/v1/auth/token", json=body)).status_code == 200
        body = {**body, "client_id": "notifications", "client_secret": dev_secret("client-notifications")}
        assert (await c.post("/api/v1/auth/token", json=body)).status_code == 401


async def test_rotating_keys_logs_nobody_out(app_client: AppFactory, tmp_path: Path) -> None:
    async with app_client(jwt_keys_dir=str(tmp_path)) as c:
        old = await login(c, "josh")
        old_kid = jwt.get_unverified_header(old["access_token"])["kid"]
        new_kid = KeyStore.generate_key(tmp_path)
        new = await login(c, "josh")
        assert jwt.get_unverified_header(new["access_token"])["kid"] == new_kid != old_kid
        jwks = (await c.get("/.well-known/jwks.json")).json()
        assert {k["kid"] for k in jwks["keys"]} == {old_kid, new_kid}
        for pair in (old, new):
            assert (await c.get("/api/v1/users/me", headers=bearer(pair["access_token"]))).status_code == 200
        # Another service that cached only the old key learns the new one from the JWKS.
        other = TokenVerifier(issuer="shop-checkout", audience="shop")
        other.load_jwks({"keys": [k for k in jwks["keys"] if k["kid"] == old_kid]})
        other.jwks_file = str(tmp_path / "published.json")
        (tmp_path / "published.json").write_text((await c.get("/.well-known/jwks.json")).text)
        assert (await other.verify(new["access_token"]))["sub"] == (await other.verify(old["access_token"]))["sub"]


async def test_a_key_added_by_another_replica_verifies_here(app_client: AppFactory, tmp_path: Path) -> None:
    async with app_client(jwt_keys_dir=str(tmp_path)) as c:
        kid = KeyStore.generate_key(tmp_path)
        other_replica = KeyStore(tmp_path, issuer="shop-checkout", audience="shop")
        token = other_replica.issue(sub="1", role="manager", ttl=60)[0]
        assert jwt.get_unverified_header(token)["kid"] == kid
        assert (await c.post("/api/v1/auth/token/verify", json={"token": token})).status_code == 200


async def test_a_key_removed_from_the_directory_stops_verifying_without_a_restart(
    app_client: AppFactory, tmp_path: Path
) -> None:
    """The issuer re-read its keys only for a token naming a key it did not know: a token signed
    with a key taken out of the directory (a compromised one) names a known key, and kept working."""
    async with app_client(jwt_keys_dir=str(tmp_path)) as c:
        verifier = c.app.state.token_verifier  # type: ignore[attr-defined]
        old = KeyStore(tmp_path, issuer="shop-checkout", audience="shop")
        token = old.issue(sub="1", role="manager", ttl=600)[0]
        assert (await c.post("/api/v1/auth/token/verify", json={"token": token})).status_code == 200
        KeyStore.generate_key(tmp_path)
        (tmp_path / f"{old.current_kid}.pem").unlink()
        verifier._last_fetch -= verifier.keys_ttl + 1  # as if `keys_ttl` had passed
        verifier.verified = VerifiedTokens(ttl=0)  # and the few seconds it remembers verified tokens
        assert (await c.post("/api/v1/auth/token/verify", json={"token": token})).status_code == 401


async def test_racing_refreshes_of_one_token_rotate_it_once(client: httpx.AsyncClient) -> None:
    pair = await login(client, "josh")
    body = {"refresh_token": pair["refresh_token"]}
    answers = await asyncio.gather(*(client.post("/api/v1/auth/token/refresh", json=body) for _ in range(4)))
    assert sorted(r.status_code for r in answers) == [200, 401, 401, 401]


async def test_refreshes_and_logins_beside_account_changes_are_never_a_500(client: httpx.AsyncClient) -> None:
    """A refresh locked its token, then waited on the account (its new token's foreign key) while a
    password change held the account and waited on the token: a deadlock, 500 after a second. A
    login whose account was deleted while its password was being checked failed on that foreign
    key: 500 too. Now tokens are written with their account locked first."""
    admin = await auth_as(client, "admin")
    for _ in range(3):
        user = await register(client)
        mine = await login(client, user["username"], "correct horse battery")
        changed, refreshed = await asyncio.gather(
            client.patch(f"/api/v1/users/{user['id']}", headers=bearer(mine["access_token"]),
                         json={"password": "another secret phrase", "current_password": "correct horse battery"}),
            client.post("/api/v1/auth/token/refresh", json={"refresh_token": mine["refresh_token"]}),
        )  # fmt: skip
        assert changed.status_code == 200, changed.text
        assert refreshed.status_code in (200, 401), refreshed.text
        logged_in, deleted = await asyncio.gather(
            client.post("/api/v1/auth/token", json={"username": user["username"], "password": "another secret phrase"}),
            client.delete(f"/api/v1/users/{user['id']}", headers=admin),
        )
        assert deleted.status_code == 204, deleted.text
        assert logged_in.status_code in (200, 401), logged_in.text
