"""Nobody becomes someone else: forged, expired or foreign tokens are 401 and a customer cannot
make themself a manager (or a worker) through any endpoint."""

from __future__ import annotations

import base64
import json
import time
import uuid

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from checkout.identity.keys import KeyStore
from shopcommon.testing.tokens import TestIssuer

from .conftest import auth_as, bearer, login, register


def b64(data: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


def claims(sub: str, role: str, **over: object) -> dict[str, object]:
    now = int(time.time())
    return {"iss": "shop-checkout", "aud": "shop", "sub": sub, "role": role, "iat": now, "exp": now + 600,
            "jti": uuid.uuid4().hex, **over}  # fmt: skip


def bad_tokens(store: KeyStore, sub: str) -> dict[str, str]:
    """Every way a token can be wrong, each one otherwise a valid manager token."""
    key = store._keys[-1][1]
    kid = store.current_kid
    public_pem = key.public_key().public_bytes_raw()
    signed = dict(key=key, algorithm="EdDSA", headers={"kid": kid})
    return {
        "expired": jwt.encode(
            claims(sub, "manager", iat=int(time.time()) - 7200, exp=int(time.time()) - 3600), **signed
        ),
        "wrong audience": jwt.encode(claims(sub, "manager", aud="elsewhere"), **signed),
        "wrong issuer": jwt.encode(claims(sub, "manager", iss="evil"), **signed),
        "bad signature": jwt.encode(
            claims(sub, "manager"), Ed25519PrivateKey.generate(), algorithm="EdDSA", headers={"kid": kid}
        ),
        "alg none": f"{b64({'alg': 'none', 'typ': 'JWT', 'kid': kid})}.{b64(claims(sub, 'manager'))}.",
        "hmac with the public key": _hmac_token(claims(sub, "manager"), public_pem, kid),
        "unknown role": jwt.encode(claims(sub, "wizard"), **signed),
        "no jti": jwt.encode({k: v for k, v in claims(sub, "manager").items() if k != "jti"}, **signed),
        "garbage": "not.a.token",
    }


def _hmac_token(payload: dict[str, object], secret: bytes, kid: str) -> str:
    import hashlib
    import hmac

    signing_input = f"{b64({'alg': 'HS256', 'typ': 'JWT', 'kid': kid})}.{b64(payload)}"
    signature = hmac.new(secret, signing_input.encode(), hashlib.sha256).digest()
    return signing_input + "." + base64.urlsafe_b64encode(signature).decode().rstrip("=")


async def test_every_kind_of_bad_token_is_401(client: httpx.AsyncClient) -> None:
    me = (await client.get("/api/v1/users/me", headers=await auth_as(client, "josh"))).json()
    store: KeyStore = client.app.state.key_store  # type: ignore[attr-defined]
    for kind, token in bad_tokens(store, str(me["id"])).items():
        for method, url in (
            ("GET", "/api/v1/users/me"),
            ("GET", "/api/v1/users"),
            ("DELETE", f"/api/v1/users/{me['id']}"),
        ):
            r = await client.request(method, url, headers=bearer(token))
            assert r.status_code == 401, (kind, method, url, r.text)
            assert r.headers["www-authenticate"] == "Bearer"
        assert (await client.post("/api/v1/auth/token/verify", json={"token": token})).status_code == 401, kind
    assert (await client.get("/api/v1/users/me", headers={"Authorization": "Basic am9zaDox"})).status_code == 401


async def test_tokens_of_the_test_issuer_verify_too(client: httpx.AsyncClient, test_issuer: TestIssuer) -> None:
    me = (await client.get("/api/v1/users/me", headers=await auth_as(client, "mike"))).json()
    assert (await client.get("/api/v1/users/me", headers=test_issuer.auth(me["id"], "customer"))).json() == me


async def test_customer_cannot_change_own_role_or_categories(client: httpx.AsyncClient) -> None:
    user = await register(client)
    headers = await auth_as(client, user["username"], "correct horse battery")
    url = f"/api/v1/users/{user['id']}"
    for body in ({"role": "manager"}, {"role": "worker", "categories": ["guitars"]}, {"categories": ["drums"]},
                 {"role": "customer", "first_name": "Still"}):  # fmt: skip
        r = await client.patch(url, headers=headers, json=body)
        assert r.status_code == 403, body
    assert (await client.get("/api/v1/users/me", headers=headers)).json() == user


async def test_worker_cannot_promote_themself(client: httpx.AsyncClient) -> None:
    headers = await auth_as(client, "worker-guitars")
    me = (await client.get("/api/v1/users/me", headers=headers)).json()
    r = await client.patch(f"/api/v1/users/{me['id']}", headers=headers, json={"role": "manager"})
    assert r.status_code == 403
    assert (await client.get("/api/v1/users/me", headers=headers)).json()["role"] == "worker"


@pytest.mark.parametrize("field", ["role", "is_staff", "is_superuser", "categories"])
async def test_registration_with_privilege_fields_is_refused(client: httpx.AsyncClient, field: str) -> None:
    body = {"username": f"esc{uuid.uuid4().hex[:6]}", "email": f"{uuid.uuid4().hex[:6]}@example.org",
            "password": "yellow submarine", field: "manager" if field != "categories" else ["guitars"]}  # fmt: skip
    assert (await client.post("/api/v1/users", json=body)).status_code == 422


async def test_no_token_endpoint_mints_a_higher_role(client: httpx.AsyncClient) -> None:
    user = await register(client)
    pair = await login(client, user["username"], "correct horse battery")
    sent = [
        {"username": user["username"], "password": "correct horse battery", "role": "manager"},
        {
            "grant_type": "password",
            "username": user["username"],
            "password": "correct horse battery",
            "scope": "manager",
        },
    ]
    for body in sent:
        r = await client.post("/api/v1/auth/token", json=body)
        assert jwt.decode(r.json()["access_token"], options={"verify_signature": False})["role"] == "customer"
    refreshed = await client.post("/api/v1/auth/token/refresh", json={"refresh_token": pair["refresh_token"]})
    assert jwt.decode(refreshed.json()["access_token"], options={"verify_signature": False})["role"] == "customer"
    client_grant = {
        "grant_type": "client_credentials",
        "client_id": user["username"],
        "client_secret": "correct horse battery",
    }
    assert (await client.post("/api/v1/auth/token", json=client_grant)).status_code == 401


async def test_a_demoted_manager_refreshes_into_the_new_role(client: httpx.AsyncClient) -> None:
    user = await register(client)
    admin = await auth_as(client, "admin")
    await client.patch(f"/api/v1/users/{user['id']}", headers=admin, json={"role": "manager"})
    pair = await login(client, user["username"], "correct horse battery")
    await client.patch(f"/api/v1/users/{user['id']}", headers=admin, json={"role": "customer"})
    # A role change ends the sessions; a new sign-in carries the new role.
    assert (
        await client.post("/api/v1/auth/token/refresh", json={"refresh_token": pair["refresh_token"]})
    ).status_code == 401
    again = await login(client, user["username"], "correct horse battery")
    assert jwt.decode(again["access_token"], options={"verify_signature": False})["role"] == "customer"
