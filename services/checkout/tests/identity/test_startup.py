"""Configuration and demo data: secrets refused outside dev, demo accounts only in dev, argon2id."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import create_async_engine

from checkout.config import Settings
from checkout.identity.clients import ServiceClients
from checkout.identity.demo import demo_users, load_identity_demo
from checkout.identity.keys import KeyStore
from checkout.identity.tables import users
from checkout.main import create_app
from shopcommon.db import async_url
from shopcommon.devsecrets import dev_secret
from shopcommon.testing.plugin import Stack
from shopcommon.testing.tokens import TestIssuer

from .conftest import AppFactory

PROD_SECRETS = {"service_clients": "loms:Xk29vLq8ZmPw4rTa,notifications:Bq7Zr2Lm9Wv4Ks8P",
                "otp_secret": "Hn3Td6Yc1Jx5Rg0Fv8Ue", "product_token": "Pz4Ka9Wq2Mx7Lc5N"}  # fmt: skip


async def usernames(database_url: str) -> dict[str, str]:
    engine = create_async_engine(async_url(database_url))
    async with engine.connect() as conn:
        rows = (await conn.execute(select(users.c.username, users.c.password_hash))).all()
    await engine.dispose()
    return {row.username: row.password_hash for row in rows}


def test_dev_clients_get_the_shared_dev_secret() -> None:
    clients = ServiceClients.parse("loms, notifications:given-secret-value", dev=True)
    assert clients.authenticate("loms", dev_secret("client-loms"))
    assert clients.authenticate("notifications", "given-secret-value")
    assert not clients.authenticate("notifications", dev_secret("client-notifications"))
    assert not clients.authenticate("nobody", "")


@pytest.mark.parametrize("spec", ["loms", "loms:", "loms:changeme", "loms:short"])
def test_outside_dev_a_missing_or_placeholder_client_secret_refuses(spec: str) -> None:
    with pytest.raises(RuntimeError, match="loms"):
        ServiceClients.parse(spec, dev=False)


@pytest.fixture
def prod_keys(tmp_path: Path) -> Path:
    """Outside dev nothing generates keys: the operator provides them."""
    KeyStore.generate_key(tmp_path)
    return tmp_path


async def start_prod(settings_for: Any, keys_dir: Path, **overrides: Any) -> None:
    app = create_app(settings_for(app_env="prod", jwt_keys_dir=str(keys_dir), **overrides))
    async with app.router.lifespan_context(app):
        pass


async def test_outside_dev_checkout_refuses_to_start_without_secrets(settings_for: Any, prod_keys: Path) -> None:
    keys_dir = prod_keys
    await start_prod(settings_for, keys_dir, **PROD_SECRETS)
    with pytest.raises(RuntimeError, match="CHECKOUT_SERVICE_CLIENTS"):
        await start_prod(settings_for, keys_dir, **{**PROD_SECRETS, "service_clients": "loms,notifications"})
    with pytest.raises(RuntimeError, match="CHECKOUT_OTP_SECRET"):
        await start_prod(settings_for, keys_dir, **{**PROD_SECRETS, "otp_secret": ""})
    with pytest.raises(RuntimeError, match="CHECKOUT_JWT_KEYS_DIR"):
        app = create_app(settings_for(app_env="prod", jwt_keys_dir="", **PROD_SECRETS))
        async with app.router.lifespan_context(app):
            pass


async def test_outside_dev_cookies_are_secure_by_default(app_client: AppFactory, prod_keys: Path) -> None:
    async with app_client(app_env="prod", jwt_keys_dir=str(prod_keys), **PROD_SECRETS) as c:
        r = await c.post("/api/v1/auth/login", json={"username": "josh", "password": "1"})
        assert r.status_code == 200
        assert all("; secure" in h.lower() for h in r.headers.get_list("set-cookie"))


async def test_outside_dev_the_jwks_file_grants_nothing(
    app_client: AppFactory, prod_keys: Path, test_issuer: TestIssuer
) -> None:
    """JWT_JWKS_FILE is for tests' throwaway issuer; in production it would let whoever can write
    one file mint any role, so checkout trusts only its own keys there."""
    async with app_client(app_env="prod", jwt_keys_dir=str(prod_keys), **PROD_SECRETS) as c:
        own = await c.post("/api/v1/auth/token", json={"username": "josh", "password": "1"})
        me = (await c.get("/api/v1/users/me", headers={"Authorization": f"Bearer {own.json()['access_token']}"})).json()
        assert (await c.get("/api/v1/users/me", headers=test_issuer.auth(me["id"], "customer"))).status_code == 401
        assert (await c.get("/api/v1/users", headers=test_issuer.auth("loms", "service"))).status_code == 401


async def test_demo_accounts_load_once_and_only_in_dev(shop_stack: Stack) -> None:
    url = shop_stack.fresh_database("checkout", "id_demo_modes")
    assert await load_identity_demo(url, {"APP_ENV": "prod"}) == 0
    assert await usernames(url) == {}
    assert await load_identity_demo(url, {"APP_ENV": "dev"}) == len(demo_users())
    assert await load_identity_demo(url, {"APP_ENV": "dev"}) == 0
    stored = await usernames(url)
    assert set(stored) == {u.username for u in demo_users()}
    assert all(h.startswith("$argon2id$") for h in stored.values())


async def test_registered_passwords_are_argon2id(client: httpx.AsyncClient, identity_db: str) -> None:
    body = {"username": "hashme", "email": "hashme@example.org", "password": "yellow submarine"}
    assert (await client.post("/api/v1/users", json=body)).status_code == 201
    stored = (await usernames(identity_db))["hashme"]
    assert stored.startswith("$argon2id$") and "yellow submarine" not in stored


async def test_openapi_states_who_may_call_every_identity_operation(client: httpx.AsyncClient) -> None:
    doc = (await client.get("/openapi.json")).json()
    for path, item in doc["paths"].items():
        for method, op in item.items():
            assert op.get("x-roles"), (method, path)
    token = doc["paths"]["/api/v1/auth/token"]["post"]
    # Documented as the OAuth2 form only, so generated clients cope; a JSON body still works (described).
    assert set(token["requestBody"]["content"]) == {"application/x-www-form-urlencoded"}
    assert "application/json" in token["requestBody"]["description"]
    assert doc["paths"]["/api/v1/users"]["get"]["x-roles"] == ["manager", "service (users:read)"]
    # Why services may list accounts: LOMS assigns fulfilment tasks to the workers of a category.
    assert "LOMS" in doc["paths"]["/api/v1/users"]["get"]["description"]
    settings = Settings(database_url="postgresql://x@127.0.0.1/x")
    assert settings.access_token_ttl == 900 and settings.otp_ttl == 600 and settings.otp_max_attempts == 5
