"""Addresses are proven before they get codes or mail: a registration is unconfirmed until the
mailed token and the account's password confirm it (pre-account takeover: someone registers the
victim's address first)."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import pytest
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import create_async_engine

from checkout.identity import queries as users_module
from checkout.identity.tables import users
from shopcommon.db import async_url
from shopcommon.devstack.databases import create_database
from shopcommon.migrations import upgrade
from shopcommon.services import service_spec
from shopcommon.testing.plugin import Stack, in_thread, run_sync

from .conftest import AppFactory, auth_as, bearer, code_in, confirmation_token, mail_to, register

PASSWORD = "correct horse battery"


def fresh_name() -> str:
    return f"v{uuid.uuid4().hex[:10]}"


async def sign_in(client: httpx.AsyncClient, login: str, password: str = PASSWORD) -> httpx.Response:
    return await client.post("/api/v1/auth/token", json={"username": login, "password": password})


async def confirm(client: httpx.AsyncClient, token: str, password: str = PASSWORD) -> httpx.Response:
    return await client.post("/api/v1/users/verify-email", json={"token": token, "password": password})


async def test_a_registration_signs_in_only_once_confirmed(client: httpx.AsyncClient) -> None:
    user = await register(client, confirm=False)
    refused = await sign_in(client, user["username"])
    assert refused.status_code == 403 and refused.json()["type"].endswith("/email-unverified")
    assert (await sign_in(client, user["username"], "wrong password")).status_code == 401  # no hint without it
    token = await confirmation_token(client, user["email"])
    assert len(token) >= 40  # 256 random bits
    assert (await confirm(client, token, "not the password")).status_code == 401
    confirmed = await confirm(client, token)
    assert confirmed.status_code == 200 and confirmed.json() == user
    assert (await sign_in(client, user["username"])).status_code == 200
    assert (await sign_in(client, user["email"])).status_code == 200
    used = await confirm(client, token)  # single use
    assert used.status_code == 400 and used.headers["content-type"] == "application/problem+json"
    assert used.json()["type"].endswith("/invalid-verification-token")


async def test_the_mailbox_alone_cannot_confirm_someone_elses_registration(
    client: httpx.AsyncClient, shop_stack: Stack
) -> None:
    """The attacker registers the victim's address with a password of their own. The victim, who
    gets the mail, cannot confirm that account by following it (no password); the victim can
    still register the address, and confirming it removes the attacker's claim."""
    victim = f"{fresh_name()}@victim.example"
    attacker = await register(client, confirm=False, email=victim, password="attackers own secret")
    token = await confirmation_token(client, victim)
    assert (await confirm(client, token)).status_code == 401  # the victim's click, without the password
    assert (await sign_in(client, attacker["username"], "attackers own secret")).status_code == 403

    owner = await register(client, confirm=False, email=victim)  # not 409: an unproven claim holds nothing
    assert owner["id"] != attacker["id"]
    assert (await confirm(client, await confirmation_token(client, victim))).status_code == 200
    assert (await sign_in(client, attacker["username"], "attackers own secret")).status_code == 401  # gone
    assert (await confirm(client, token, "attackers own secret")).status_code == 400  # its token with it
    again = {"username": fresh_name(), "email": victim, "password": PASSWORD}
    assert (await client.post("/api/v1/users", json=again)).status_code == 409  # now the address is taken
    # Codes for the address now reach the owner's account.
    assert (await client.post("/api/v1/auth/otp", json={"email": victim})).status_code == 202
    [message] = await mail_to(shop_stack.urls.mail_api_url, victim)
    pair = await client.post("/api/v1/auth/otp/verify", json={"email": victim, "code": code_in(message)})
    me = await client.get("/api/v1/users/me", headers=bearer(pair.json()["access_token"]))
    assert me.json()["id"] == owner["id"]


async def test_confirmation_tokens_expire(app_client: AppFactory) -> None:
    async with app_client(email_verification_ttl=1) as c:
        user = await register(c, confirm=False)
        token = await confirmation_token(c, user["email"])
        await asyncio.sleep(1.5)
        assert (await confirm(c, token)).status_code == 400
        assert (await sign_in(c, user["username"])).status_code == 403


async def test_bad_confirmations_are_problems_and_change_nothing(client: httpx.AsyncClient) -> None:
    for body in [{}, {"token": "x"}, {"token": "", "password": "x"}, {"token": "a\x00b", "password": "x"}]:
        r = await client.post("/api/v1/users/verify-email", json=body)
        assert r.status_code == 422 and r.headers["content-type"] == "application/problem+json", body
    r = await confirm(client, "made-up-token-" + "x" * 40)
    assert r.status_code == 400 and r.headers["content-type"] == "application/problem+json"


async def test_asking_again_sends_a_new_token_and_the_same_answer_for_any_address(
    app_client: AppFactory, shop_stack: Stack
) -> None:
    async with app_client() as c:
        user = await register(c, confirm=False)
        first = await confirmation_token(c, user["email"])
        known = await c.post("/api/v1/users/verify-email/resend", json={"email": user["email"].upper()})
        unknown = await c.post("/api/v1/users/verify-email/resend", json={"email": "nobody-resend@example.org"})
        proven = await c.post("/api/v1/users/verify-email/resend", json={"email": "josh@shop.example"})
        assert known.status_code == 202 and known.json() == unknown.json() == proven.json()
        messages = await mail_to(shop_stack.urls.mail_api_url, user["email"], confirmations=True)
        while len(messages) < 2:
            messages = await mail_to(shop_stack.urls.mail_api_url, user["email"], confirmations=True)
        second = await confirmation_token(c, user["email"])
        assert second != first
        assert await mail_to(shop_stack.urls.mail_api_url, "nobody-resend@example.org", timeout=0.3) == []
        assert await mail_to(shop_stack.urls.mail_api_url, "josh@shop.example", timeout=0.3, confirmations=True) == []
        assert (await confirm(c, first)).status_code == 200  # the earlier token still worked


async def test_asking_again_is_limited(app_client: AppFactory, shop_stack: Stack) -> None:
    async with app_client(verification_emails_per_day=2) as c:
        user = await register(c, confirm=False)  # the first of the day's two
        for _ in range(5):
            r = await c.post("/api/v1/users/verify-email/resend", json={"email": user["email"]})
            assert r.status_code == 202
        limited = await c.post("/api/v1/users/verify-email/resend", json={"email": user["email"]})
        assert limited.status_code == 429 and int(limited.headers["Retry-After"]) >= 1
        messages = await mail_to(shop_stack.urls.mail_api_url, user["email"], confirmations=True)
        while len(messages) < 2:
            messages = await mail_to(shop_stack.urls.mail_api_url, user["email"], confirmations=True)
        await asyncio.sleep(0.5)
        assert len(await mail_to(shop_stack.urls.mail_api_url, user["email"], confirmations=True)) == 2


async def test_a_manager_makes_confirmed_accounts(client: httpx.AsyncClient, shop_stack: Stack) -> None:
    admin = await auth_as(client, "admin")
    name = fresh_name()
    body = {"username": name, "email": f"{name}@staff.example", "password": PASSWORD}
    assert (await client.post("/api/v1/users", json=body, headers=admin)).status_code == 201
    assert (await sign_in(client, name)).status_code == 200
    assert await mail_to(shop_stack.urls.mail_api_url, f"{name}@staff.example", timeout=0.3, confirmations=True) == []
    # A customer's token makes no difference, and a bad token is refused rather than ignored.
    other = fresh_name()
    customer = await auth_as(client, "josh")
    body = {"username": other, "email": f"{other}@example.org", "password": PASSWORD}
    assert (await client.post("/api/v1/users", json=body, headers=bearer("not-a-token"))).status_code == 401
    assert (await client.post("/api/v1/users", json=body, headers=customer)).status_code == 201
    assert (await sign_in(client, other)).status_code == 403


async def test_a_changed_address_gets_nothing_until_confirmed(client: httpx.AsyncClient, shop_stack: Stack) -> None:
    user = await register(client)
    headers = await auth_as(client, user["username"], PASSWORD)
    service = bearer(client.app.state.key_store.service_token("notifications"))  # type: ignore[attr-defined]
    url = f"/api/v1/users/{user['id']}"
    assert (await client.get(url, headers=service)).json()["email_verified"] is True
    new = f"{fresh_name()}@moved.example"
    changed = await client.patch(url, headers=headers, json={"email": new, "current_password": PASSWORD})
    assert changed.status_code == 200 and "email_verified" not in changed.json()
    assert (await client.get(url, headers=service)).json()["email_verified"] is False
    # No codes for the unproven address; password sign-in goes on.
    assert (await client.post("/api/v1/auth/otp", json={"email": new})).status_code == 202
    assert await mail_to(shop_stack.urls.mail_api_url, new, timeout=0.5) == []
    headers = await auth_as(client, user["username"], PASSWORD)
    assert (await confirm(client, await confirmation_token(client, new))).status_code == 200
    assert (await client.get(url, headers=service)).json()["email_verified"] is True
    assert (await client.post("/api/v1/auth/otp", json={"email": new})).status_code == 202
    assert len(await mail_to(shop_stack.urls.mail_api_url, new)) == 1


async def test_a_token_sent_to_an_old_address_proves_nothing(client: httpx.AsyncClient) -> None:
    user = await register(client, confirm=False)
    token = await confirmation_token(client, user["email"])
    admin = await auth_as(client, "admin")
    moved = f"{fresh_name()}@moved.example"
    assert (await client.patch(f"/api/v1/users/{user['id']}", headers=admin, json={"email": moved})).status_code == 200
    assert (await confirm(client, token)).status_code == 400
    assert (await confirm(client, await confirmation_token(client, moved))).status_code == 200


async def test_services_see_whether_an_address_is_proven_people_do_not(client: httpx.AsyncClient) -> None:
    pending = await register(client, confirm=False)
    service = bearer(client.app.state.key_store.service_token("notifications"))  # type: ignore[attr-defined]
    assert (await client.get(f"/api/v1/users/{pending['id']}", headers=service)).json()["email_verified"] is False
    page = (await client.get("/api/v1/users", headers=service, params={"limit": 200})).json()["items"]
    assert {u["username"]: u["email_verified"] for u in page}["josh"] is True  # demo accounts are proven
    admin = await auth_as(client, "admin")
    assert "email_verified" not in (await client.get(f"/api/v1/users/{pending['id']}", headers=admin)).json()


async def test_registrations_nobody_confirms_are_deleted(client: httpx.AsyncClient) -> None:
    pending = await register(client, confirm=False)
    confirmed = await register(client)
    sessionmaker = client.app.state.sessionmaker  # type: ignore[attr-defined]
    assert await users_module.delete_unconfirmed(sessionmaker, 3600) == 0
    assert await users_module.delete_unconfirmed(sessionmaker, 0) >= 1
    admin = await auth_as(client, "admin")
    assert (await client.get(f"/api/v1/users/{pending['id']}", headers=admin)).status_code == 404
    assert (await client.get(f"/api/v1/users/{confirmed['id']}", headers=admin)).status_code == 200
    # Its username is free again.
    again = {"username": pending["username"], "email": pending["email"], "password": PASSWORD}
    assert (await client.post("/api/v1/users", json=again)).status_code == 201


def test_accounts_made_before_the_migration_stay_usable(shop_stack: Stack) -> None:
    spec = service_spec("checkout")
    assert spec.migrations is not None
    url = run_sync(create_database(shop_stack.urls.database_url, f"checkout_premig_{uuid.uuid4().hex[:8]}"))
    in_thread(upgrade, spec.migrations, url, "0001")

    async def insert_then_read() -> Any:
        engine = create_async_engine(async_url(url))
        async with engine.begin() as conn:
            await conn.execute(text("INSERT INTO users (username, email) VALUES ('old', 'old@example.org')"))
        await asyncio.to_thread(upgrade, spec.migrations, url, "heads")
        async with engine.connect() as conn:
            row = (await conn.execute(select(users.c.email_verified_at, users.c.confirmed_at))).one()
            await conn.execute(text("INSERT INTO users (username, email) VALUES ('new', 'new@example.org')"))
            fresh = (
                await conn.execute(select(users.c.email_verified_at).where(users.c.username == "new"))
            ).scalar_one()
        await engine.dispose()
        return row, fresh

    row, fresh = run_sync(insert_then_read())
    assert row.email_verified_at is not None and row.confirmed_at is not None
    assert fresh is None


@pytest.mark.parametrize("env", ["prod", "dev"])
async def test_outside_dev_smtp_url_has_no_default(settings_for: Any, tmp_path: Any, env: str) -> None:
    from checkout.identity.keys import KeyStore
    from checkout.main import create_app

    from .test_startup import PROD_SECRETS

    KeyStore.generate_key(tmp_path)
    app = create_app(settings_for(app_env=env, jwt_keys_dir=str(tmp_path), smtp_url="", **PROD_SECRETS))
    if env == "prod":
        with pytest.raises(RuntimeError, match="SMTP_URL"):
            async with app.router.lifespan_context(app):
                pass
    else:
        async with app.router.lifespan_context(app):
            assert app.state.identity.mailer.url == "smtp://127.0.0.1:1025"
