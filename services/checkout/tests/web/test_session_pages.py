"""The landing page and the web session: signing in with a password or an emailed code, errors in
words, CSRF on every form, logging out ending the refresh token too; the vendored static files."""

from __future__ import annotations

import asyncio
import hashlib
import html
import re
from collections.abc import AsyncIterator

import asyncpg
import httpx
import pytest

from checkout.identity.demo import DEMO_PASSWORD, load_identity_demo
from checkout.web.static import HTMX, HTMX_SSE, asset_url
from notifications.testing.mail import messages_to, wait_for_messages
from shopcommon.testing.plugin import Stack

from .conftest import CheckoutFactory

CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')
SIX_DIGITS = re.compile(r"(?<!\d)\d{6}(?!\d)")
CUSTOMER_EMAIL = "customer@shop.example"


def words(r: httpx.Response) -> str:
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", r.text)).split())


def form_token(r: httpx.Response) -> str:
    match = CSRF_FIELD.search(r.text)
    assert match, r.text
    return match.group(1)


@pytest.fixture(scope="module")
async def demo_accounts(checkout_db: str) -> str:
    await load_identity_demo(checkout_db, {"APP_ENV": "dev"})
    return checkout_db


@pytest.fixture
async def web(checkout: CheckoutFactory, demo_accounts: str, shop_stack: Stack) -> AsyncIterator[httpx.AsyncClient]:
    yield await checkout(smtp_url=shop_stack.urls.smtp_url)


async def sign_in(web: httpx.AsyncClient, username: str, password: str, **extra: str) -> httpx.Response:
    landing = await web.get("/")
    return await web.post(
        "/login", data={"csrf_token": form_token(landing), "username": username, "password": password, **extra}
    )


async def test_the_landing_page_labels_every_control(web: httpx.AsyncClient) -> None:
    r = await web.get("/")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    for field, label in (("username", "Username"), ("password", "Password"), ("email", "Email")):
        assert f'<label for="{field}">{label}</label>' in r.text and f'id="{field}"' in r.text
    assert '<button type="submit">Log in</button>' in r.text
    assert '<button type="submit">Email me a code</button>' in r.text
    assert "script-src 'self'" in r.headers["content-security-policy"]
    assert "unsafe-inline" not in r.headers["content-security-policy"]


async def test_each_role_lands_on_its_page_after_signing_in(web: httpx.AsyncClient) -> None:
    r = await sign_in(web, "customer", DEMO_PASSWORD)
    assert r.status_code == 303 and r.headers["location"] == "/shop"
    set_cookies = r.headers.get_list("set-cookie")
    assert any(c.startswith("access_token=") and "HttpOnly" in c for c in set_cookies)
    landing = await web.get("/")
    assert "Log out" in landing.text and "Log in</button>" not in landing.text
    web.cookies.clear()
    assert (await sign_in(web, "admin", DEMO_PASSWORD)).headers["location"] == "/manage"
    web.cookies.clear()
    r = await sign_in(web, "customer", DEMO_PASSWORD, next="/orders")
    assert r.headers["location"] == "/orders"
    web.cookies.clear()
    r = await sign_in(web, "customer", DEMO_PASSWORD, next="//evil.example/")
    assert r.headers["location"] == "/shop"
    # A browser signed in already, sent to sign in (a link from an e-mail, say), goes on at once,
    # with the whole address it was going to; never to another site.
    r = await web.get("/?next=/manage/stock%3Fwarehouse%3D2%26sku%3D5")
    assert r.status_code == 303 and r.headers["location"] == "/manage/stock?warehouse=2&sku=5"
    for elsewhere in ("//evil.example/", "https://evil.example/", "/\\evil.example"):
        r = await web.get("/", params={"next": elsewhere})
        assert r.status_code == 200 and "You are signed in" in r.text, elsewhere


async def test_a_wrong_password_is_said_in_words_on_the_page(web: httpx.AsyncClient) -> None:
    r = await sign_in(web, "customer", "not the password")
    assert r.status_code == 401 and r.headers["content-type"].startswith("text/html")
    assert "do not match an account" in words(r)
    assert 'value="customer"' in r.text and "access_token" not in r.headers.get("set-cookie", "")
    assert "Wrong username" not in r.text and "problem" not in r.text


async def test_too_many_wrong_passwords_say_on_the_page_when_to_try_again(web: httpx.AsyncClient) -> None:
    answers = [await sign_in(web, "customer", "not the password") for _ in range(12)]
    assert {r.status_code for r in answers[:10]} == {401}
    limited = answers[-1]
    assert limited.status_code == 429 and limited.headers["content-type"].startswith("text/html")
    assert int(limited.headers["retry-after"]) >= 1 and "Too many" in words(limited), words(limited)


async def test_a_form_without_its_token_changes_nothing(web: httpx.AsyncClient) -> None:
    await web.get("/")
    r = await web.post("/login", data={"username": "customer", "password": DEMO_PASSWORD})
    assert r.status_code == 403 and "could not verify this request" in words(r)
    assert "access_token" not in r.headers.get("set-cookie", "")
    r = await web.post("/login", data={"csrf_token": "x" * 43, "username": "customer", "password": DEMO_PASSWORD})
    assert r.status_code == 403


async def test_logging_out_ends_the_refresh_token_and_clears_the_cookies(web: httpx.AsyncClient) -> None:
    await sign_in(web, "customer", DEMO_PASSWORD)
    refresh = web.cookies.get("refresh_token", path="/")
    assert refresh
    landing = await web.get("/")
    assert (await web.post("/logout", data={})).status_code == 403  # no token: still signed in
    r = await web.post("/logout", data={"csrf_token": form_token(landing)})
    assert r.status_code == 303 and r.headers["location"] == "/"
    assert "access_token" not in web.cookies
    assert "Log in</button>" in (await web.get("/")).text
    again = await web.post("/api/v1/auth/token/refresh", json={"refresh_token": refresh})
    assert again.status_code == 401


async def test_a_session_outlives_its_access_token(web: httpx.AsyncClient) -> None:
    """A page left open past the access token's lifetime: its next request still finds the person
    signed in (the refresh cookie renews the access token before the route runs, and the answer
    carries the new one), however many of the page's requests renew at once."""
    await sign_in(web, "customer", DEMO_PASSWORD)
    first = web.cookies.get("access_token")
    web.cookies.delete("access_token")  # what the browser does once the cookie's max-age passes
    r = await web.get("/")
    assert "Log out" in r.text and "Log in</button>" not in r.text
    renewed = web.cookies.get("access_token")
    assert renewed and renewed != first
    assert any(c.startswith("access_token=") and "HttpOnly" in c for c in r.headers.get_list("set-cookie"))
    web.cookies.set("access_token", "not-a-token", domain="checkout", path="/")
    assert "Log out" in (await web.get("/")).text
    web.cookies.delete("access_token")
    pages = await asyncio.gather(*(web.get("/") for _ in range(6)))
    assert all("Log out" in page.text for page in pages)
    # A fresh access token is left as it is: nothing is renewed, nothing is set.
    assert "access_token" not in (await web.get("/")).headers.get("set-cookie", "")
    # Logging out ends it, with the access cookie gone too (once it had expired, the renewal's
    # fresh one was set after the logout's clearing); a refresh cookie a thief kept renews nothing.
    refresh = web.cookies.get("refresh_token", path="/")
    assert refresh
    csrf_field = form_token(await web.get("/"))
    web.cookies.delete("access_token")
    out = await web.post("/logout", data={"csrf_token": csrf_field})
    assert out.status_code == 303 and "access_token" not in web.cookies
    web.cookies.set("refresh_token", refresh, domain="checkout", path="/")
    r = await web.get("/")
    assert "Log in</button>" in r.text and "access_token" not in r.headers.get("set-cookie", "")


async def test_a_refresh_cookie_someone_else_rotated_ends_the_whole_session(
    web: httpx.AsyncClient, demo_accounts: str
) -> None:
    """A copy of the web session's refresh cookie, rotated through the API by whoever holds it: the
    page that presents the cookie later is signed out, and the copy's new tokens die with it."""
    await sign_in(web, "mike", DEMO_PASSWORD)
    copied = web.cookies.get("refresh_token", path="/")
    assert copied
    rotated = await web.post("/api/v1/auth/token/refresh", json={"refresh_token": copied})
    assert rotated.status_code == 200
    # Within a moment of the rotation the page's request is one sent meanwhile: nothing ends.
    web.cookies.delete("access_token")
    assert "Log in</button>" in (await web.get("/")).text
    theirs = rotated.json()["refresh_token"]
    again = await web.post("/api/v1/auth/token/refresh", json={"refresh_token": theirs})
    assert again.status_code == 200
    theirs = again.json()["refresh_token"]
    conn = await asyncpg.connect(demo_accounts.replace("postgresql+asyncpg://", "postgresql://"))
    try:  # the rotation is a minute old
        await conn.execute("UPDATE refresh_tokens SET used_at = used_at - interval '1 minute' WHERE token_hash = $1",
                           hashlib.sha256(copied.encode()).hexdigest())  # fmt: skip
    finally:
        await conn.close()
    web.cookies.delete("access_token")
    assert "Log in</button>" in (await web.get("/")).text
    assert (await web.post("/api/v1/auth/token/refresh", json={"refresh_token": theirs})).status_code == 401


async def test_signing_in_over_a_session_ends_that_session(web: httpx.AsyncClient) -> None:
    """Its cookie is replaced: its refresh token, held by no one now, stops working too."""
    await sign_in(web, "josh", DEMO_PASSWORD)
    before = web.cookies.get("refresh_token", path="/")
    assert (await sign_in(web, "customer", DEMO_PASSWORD)).status_code == 303
    after = web.cookies.get("refresh_token", path="/")
    assert before and after and before != after
    assert (await web.post("/api/v1/auth/token/refresh", json={"refresh_token": before})).status_code == 401
    assert (await web.post("/api/v1/auth/token/refresh", json={"refresh_token": after})).status_code == 200


async def test_signing_in_with_an_emailed_code(web: httpx.AsyncClient, shop_stack: Stack) -> None:
    before = len(await messages_to(shop_stack.urls.mail_api_url, CUSTOMER_EMAIL))
    landing = await web.get("/")
    r = await web.post("/login/code", data={"csrf_token": form_token(landing), "email": CUSTOMER_EMAIL})
    assert r.status_code == 200, r.text
    assert '<label for="code">Code</label>' in r.text and "Verify</button>" in r.text
    wrong = await web.post(
        "/login/code/verify", data={"csrf_token": form_token(r), "email": CUSTOMER_EMAIL, "code": "000000x"}
    )
    assert wrong.status_code == 401 and "wrong or has expired" in words(wrong)
    # It says to ask for a new code: the page has the button for it.
    assert '<form method="post" action="/login/code" class="inline">' in wrong.text
    assert "Send a new code</button>" in wrong.text and f'name="email" value="{CUSTOMER_EMAIL}"' in wrong.text
    *_, message = await wait_for_messages(shop_stack.urls.mail_api_url, CUSTOMER_EMAIL, before + 1)
    (code,) = set(SIX_DIGITS.findall(message["Text"]))
    ok = await web.post(
        "/login/code/verify",
        data={"csrf_token": form_token(r), "email": CUSTOMER_EMAIL, "code": code},
    )
    assert ok.status_code == 303 and ok.headers["location"] == "/shop", ok.text


async def test_static_files_are_served_for_a_year_by_content_address(web: httpx.AsyncClient) -> None:
    for name in (HTMX, HTMX_SSE, "site.css"):
        r = await web.get(asset_url(name))
        assert r.status_code == 200 and len(r.content) > 500
        assert "immutable" in r.headers["cache-control"] and "max-age=31536000" in r.headers["cache-control"]
    assert (await web.get("/static/nothing.js")).status_code == 404
    assert 'htmx.defineExtension("sse"' in (await web.get(asset_url(HTMX_SSE))).text
