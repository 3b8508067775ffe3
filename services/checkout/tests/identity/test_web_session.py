"""The web pages' session: tokens in HttpOnly cookies, double-submit CSRF on unsafe requests."""

from __future__ import annotations

import httpx

from .conftest import AppFactory


def set_cookies(response: httpx.Response) -> dict[str, str]:
    """Set-Cookie headers by cookie name, lowercased for attribute checks."""
    return {h.split("=", 1)[0]: h.lower() for h in response.headers.get_list("set-cookie")}


async def test_login_sets_httponly_lax_cookies_and_answers_the_user(app_client: AppFactory) -> None:
    async with app_client() as c:
        r = await c.post("/api/v1/auth/login", data={"username": "josh", "password": "1"})
        assert r.status_code == 200
        body = r.json()
        assert body["user"]["username"] == "josh" and "access_token" not in body
        cookies = set_cookies(r)
        assert "httponly" in cookies["access_token"] and "samesite=lax" in cookies["access_token"]
        refresh = cookies["refresh_token"]
        assert "httponly" in refresh and "path=/;" in refresh and "samesite=lax" in refresh
        assert "httponly" not in cookies["csrf_token"] and body["csrf_token"].lower() in cookies["csrf_token"]
        assert all("secure" not in v for v in cookies.values())  # dev serves plain http
        assert (await c.get("/api/v1/users/me")).json()["username"] == "josh"


async def test_cookies_are_secure_outside_dev_settings(app_client: AppFactory) -> None:
    async with app_client(cookie_secure=True) as c:
        r = await c.post("/api/v1/auth/login", json={"username": "josh", "password": "1"})
        assert all("; secure" in v for v in set_cookies(r).values())


async def test_cookie_request_that_changes_state_needs_the_csrf_header(app_client: AppFactory) -> None:
    async with app_client() as c:
        login = (await c.post("/api/v1/auth/login", json={"username": "mike", "password": "1"})).json()
        url = f"/api/v1/users/{login['user']['id']}"
        assert (await c.patch(url, json={"first_name": "Michael"})).status_code == 403
        wrong = await c.patch(url, json={"first_name": "Michael"}, headers={"X-CSRF-Token": "guess"})
        assert wrong.status_code == 403
        ok = await c.patch(url, json={"first_name": "Michael"}, headers={"X-CSRF-Token": login["csrf_token"]})
        assert ok.status_code == 200 and ok.json()["first_name"] == "Michael"


async def test_wrong_password_sets_no_cookie(app_client: AppFactory) -> None:
    async with app_client() as c:
        r = await c.post("/api/v1/auth/login", data={"username": "josh", "password": "nope"})
        assert r.status_code == 401 and not r.headers.get_list("set-cookie")


async def test_web_refresh_rotates_the_cookies(app_client: AppFactory) -> None:
    async with app_client() as c:
        login = (await c.post("/api/v1/auth/login", json={"username": "josh", "password": "1"})).json()
        old_refresh = c.cookies.get("refresh_token", path="/")
        assert (await c.post("/api/v1/auth/login/refresh")).status_code == 403  # no CSRF header
        # Not ASCII: `compare_digest` on text raised, a 500; it is a wrong token like any other.
        for path in ("/api/v1/auth/login/refresh", "/api/v1/auth/logout"):
            r = await c.post(path, headers=[(b"X-CSRF-Token", b"caf\xe9")])
            assert r.status_code == 403 and r.headers["content-type"] == "application/problem+json", path
        r = await c.post("/api/v1/auth/login/refresh", headers={"X-CSRF-Token": login["csrf_token"]})
        assert r.status_code == 200 and r.json()["user"]["username"] == "josh"
        assert c.cookies.get("refresh_token", path="/") != old_refresh
        reuse = await c.post("/api/v1/auth/token/refresh", json={"refresh_token": old_refresh})
        assert reuse.status_code == 401


async def test_cookie_logout_revokes_and_clears_the_session(app_client: AppFactory) -> None:
    async with app_client() as c:
        login = (await c.post("/api/v1/auth/login", json={"username": "josh", "password": "1"})).json()
        refresh = c.cookies.get("refresh_token", path="/")
        assert (await c.post("/api/v1/auth/logout")).status_code == 403  # cross-site forms cannot log you out
        r = await c.post("/api/v1/auth/logout", headers={"X-CSRF-Token": login["csrf_token"]})
        assert r.status_code == 204
        assert all("max-age=0" in v for v in set_cookies(r).values())
        assert (await c.get("/api/v1/users/me")).status_code == 401
        assert (await c.post("/api/v1/auth/token/refresh", json={"refresh_token": refresh})).status_code == 401


async def test_login_from_a_cross_site_form_is_refused(app_client: AppFactory) -> None:
    """Login CSRF: another site must not sign the browser into an account of the attacker's."""
    form = {"username": "josh", "password": "1"}
    async with app_client() as c:
        for headers in (
            {"Origin": "https://evil.example"},
            {"Origin": "null"},
            {"Origin": "http://["},  # no URL: once a 500
            {"Sec-Fetch-Site": "cross-site"},
        ):
            r = await c.post("/api/v1/auth/login", data=form, headers=headers)
            assert r.status_code == 403, headers
            assert r.headers["content-type"] == "application/problem+json"
            assert not r.headers.get_list("set-cookie")
        assert (await c.get("/api/v1/users/me")).status_code == 401


async def test_login_from_the_same_origin_or_without_browser_headers_works(app_client: AppFactory) -> None:
    form = {"username": "josh", "password": "1"}
    async with app_client() as c:
        for headers in ({"Origin": "http://checkout", "Sec-Fetch-Site": "same-origin"}, {"Sec-Fetch-Site": "none"}, {}):
            r = await c.post("/api/v1/auth/login", data=form, headers=headers)
            assert r.status_code == 200, headers
