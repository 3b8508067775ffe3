"""Identity tests run checkout in-process (its lifespan, an ASGI transport) against the session's
real Postgres, Redis and mail catcher; each module gets its own database with the demo accounts."""

from __future__ import annotations

import asyncio
import re
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from checkout.config import Settings
from checkout.identity.demo import DEMO_PASSWORD, load_identity_demo
from checkout.main import create_app
from shopcommon.testing.plugin import Stack
from shopcommon.testing.tokens import TestIssuer

SIX_DIGITS = re.compile(r"(?<!\d)\d{6}(?!\d)")
CONFIRMATION = re.compile(r"Confirmation token: (\S+)")
CONFIRMATION_SUBJECT = "Confirm your email address"
AppFactory = Callable[..., AbstractAsyncContextManager[httpx.AsyncClient]]


@pytest.fixture(scope="module")
async def identity_db(shop_stack: Stack, module_label: str) -> str:
    url = shop_stack.fresh_database("checkout", f"id_{module_label}")
    await load_identity_demo(url, {"APP_ENV": "dev"})
    return url


@pytest.fixture(scope="module")
def keys_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("keys")


@pytest.fixture(scope="module")
def settings_for(
    identity_db: str, keys_dir: Path, shop_stack: Stack, test_issuer: TestIssuer
) -> Callable[..., Settings]:
    def build(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "database_url": identity_db,
            "redis_url": shop_stack.urls.redis_url,
            "smtp_url": shop_stack.urls.smtp_url,
            "jwt_keys_dir": str(keys_dir),
            "jwt_jwks_file": str(test_issuer.jwks_path),
            "app_env": "dev",
            "log_json": False,
            # Each app its own rate-limit windows and codes, so tests never spend each other's allowance.
            "identity_redis_prefix": f"t-{uuid.uuid4().hex[:10]}:",
            "shopping_redis_prefix": f"t-{uuid.uuid4().hex[:10]}:",
            # Tests register many accounts from one address; the registration limit has tests of its own.
            "registrations_per_ip": 1000,
            **overrides,
        }
        return Settings(**values)

    return build


@pytest.fixture(scope="module")
def app_client(settings_for: Callable[..., Settings], shop_stack: Stack) -> AppFactory:
    """`async with app_client(ip="203.0.113.9", **settings) as client:` a checkout of its own."""

    @asynccontextmanager
    async def start(*, ip: str = "127.0.0.1", **overrides: Any) -> AsyncIterator[httpx.AsyncClient]:
        app = create_app(settings_for(**overrides))
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app, raise_app_exceptions=False, client=(ip, 40000))
            async with httpx.AsyncClient(transport=transport, base_url="http://checkout") as client:
                client.app = app  # type: ignore[attr-defined]
                client.mail_api = shop_stack.urls.mail_api_url  # type: ignore[attr-defined]
                yield client

    return start


@pytest.fixture(scope="module")
async def client(app_client: AppFactory) -> AsyncIterator[httpx.AsyncClient]:
    async with app_client() as c:
        yield c


async def login(client: httpx.AsyncClient, username: str, password: str = DEMO_PASSWORD) -> dict[str, Any]:
    r = await client.post("/api/v1/auth/token", json={"username": username, "password": password})
    assert r.status_code == 200, r.text
    pair: dict[str, Any] = r.json()
    return pair


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def auth_as(client: httpx.AsyncClient, username: str, password: str = DEMO_PASSWORD) -> dict[str, str]:
    return bearer((await login(client, username, password))["access_token"])


async def register(client: httpx.AsyncClient, *, confirm: bool = True, **fields: Any) -> dict[str, Any]:
    """A new customer account; confirmed with the mailed token (as its owner would) unless told not to."""
    name = fields.pop("username", None) or f"user{uuid.uuid4().hex[:8]}"
    body = {"username": name, "email": f"{name}@example.org", "password": "correct horse battery", **fields}
    r = await client.post("/api/v1/users", json=body)
    assert r.status_code == 201, r.text
    user: dict[str, Any] = r.json()
    if confirm:
        token = await confirmation_token(client, user["email"])
        done = await client.post("/api/v1/users/verify-email", json={"token": token, "password": body["password"]})
        assert done.status_code == 200, done.text
    return user


async def confirmation_token(client: httpx.AsyncClient, address: str, *, timeout: float = 5.0) -> str:
    """The token of the newest confirmation mail to the address."""
    messages = await mail_to(client.mail_api, address, timeout=timeout, confirmations=True)  # type: ignore[attr-defined]
    assert messages, f"no confirmation mail to {address}"
    match = CONFIRMATION.search(messages[0]["Text"])
    assert match, messages[0]["Text"]
    return match.group(1)


async def mail_to(
    mail_api: str, address: str, *, timeout: float = 5.0, confirmations: bool = False
) -> list[dict[str, Any]]:
    """Every message the catcher holds for the address (full bodies), newest first, waiting for at
    least one. Address confirmations are left out unless `confirmations` (then only they)."""
    deadline = asyncio.get_running_loop().time() + timeout
    async with httpx.AsyncClient(base_url=mail_api, timeout=5) as http:
        while True:
            listing = (await http.get("/api/v1/messages", params={"limit": 500})).json()["messages"]
            ids = [
                m["ID"]
                for m in listing
                if any(to["Address"] == address for to in m["To"])
                and m["Subject"].startswith(CONFIRMATION_SUBJECT) == confirmations
            ]
            if ids or asyncio.get_running_loop().time() > deadline:
                return [(await http.get(f"/api/v1/message/{i}")).json() for i in ids]
            await asyncio.sleep(0.05)


def code_in(message: dict[str, Any]) -> str:
    codes = SIX_DIGITS.findall(message["Subject"] + "\n" + message["Text"])
    assert len(set(codes)) == 1, codes
    return str(codes[0])
