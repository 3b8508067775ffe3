"""The guest's cancel page, `/bookings/cancel/{token}`, against the real bookings service: GET shows
the booking and changes nothing; only the CSRF-checked POST cancels, once; every other outcome is
a page in words with a fitting status."""

from __future__ import annotations

import asyncio
import html
import re
from typing import Any

import httpx
import pytest

from .conftest import Bookings, CheckoutFactory

CSRF_FIELD = re.compile(r'<input type="hidden" name="csrf_token" value="([^"]+)">')
CANCEL_BUTTON = '<button type="submit">Cancel</button>'
FORGED = ["A" * 43, "not-a-token", "x" * 300, "%00", "a/b/c", "%2e%2e", "<script>"]


def page_text(r: httpx.Response) -> str:
    """The page's words, tags and entities gone, spaces collapsed."""
    assert r.headers["content-type"].startswith("text/html"), (r.status_code, r.headers, r.text)
    body = re.sub(r"<style.*?</style>", " ", r.text, flags=re.S)
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", body)).split())


def csrf_of(r: httpx.Response) -> str:
    found = CSRF_FIELD.search(r.text)
    assert found, r.text
    return found.group(1)


async def open_link(client: httpx.AsyncClient, token: str) -> tuple[httpx.Response, str]:
    r = await client.get(f"/bookings/cancel/{token}")
    assert r.status_code == 200, r.text
    return r, csrf_of(r)


async def press_cancel(client: httpx.AsyncClient, token: str, csrf: str | None) -> httpx.Response:
    data = {"csrf_token": csrf} if csrf is not None else {}
    return await client.post(f"/bookings/cancel/{token}", data=data)


@pytest.fixture
async def site(checkout: CheckoutFactory, bookings: Bookings) -> httpx.AsyncClient:
    return await checkout(bookings=bookings.transport)


async def test_the_page_shows_the_booking_and_changes_nothing(site: httpx.AsyncClient, bookings: Bookings) -> None:
    booking, token = await bookings.request(name="Anna Guest", price=4550)
    before = await bookings.state(booking["booking_id"])
    for _ in range(3):
        r, csrf = await open_link(site, token)
        text = page_text(r)
        assert "Your table booking" in text
        assert f"Booking {booking['booking_id']}" in text
        assert f"Table {booking['table']['name']} (cabin, 4 seats)" in text
        assert re.search(r"When \w{3} \d{2} \w{3} \d{4}, 19:00 to 21:00 \(UTC\+00:00\)", text), text
        assert "Name Anna Guest" in text and "Price 45.50" in text
        assert "Status Requested: waiting for the restaurant to confirm it" in text
        assert 'data-status="pending"' in r.text
        assert CANCEL_BUTTON in r.text and '<form method="post"' in r.text
        assert r.cookies.get("form_csrf") == csrf
    assert await bookings.state(booking["booking_id"]) == before


async def test_the_form_token_is_double_submitted_in_an_httponly_lax_cookie(
    site: httpx.AsyncClient, bookings: Bookings
) -> None:
    _, token = await bookings.request()
    r, csrf = await open_link(site, token)
    cookie = r.headers["set-cookie"]
    assert cookie.startswith(f"form_csrf={csrf};")
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/" in cookie
    assert "Secure" not in cookie  # dev: plain http
    _, same = await open_link(site, token)  # a second page keeps the browser's token: both forms work
    assert same == csrf


async def test_outside_dev_the_cookie_is_secure_and_host_only(checkout: CheckoutFactory, bookings: Bookings) -> None:
    client = await checkout(bookings=bookings.transport, cookie_secure=True)
    _, token = await bookings.request()
    r = await client.get(f"/bookings/cancel/{token}")
    cookie = r.headers["set-cookie"]
    assert cookie.startswith(f"__Host-form_csrf={csrf_of(r)};")
    assert "Secure" in cookie and "HttpOnly" in cookie and "Path=/" in cookie and "Domain" not in cookie


async def test_the_post_cancels_once(site: httpx.AsyncClient, bookings: Bookings) -> None:
    booking, token = await bookings.request()
    _, csrf = await open_link(site, token)
    r = await press_cancel(site, token, csrf)
    assert r.status_code == 200, r.text
    text = page_text(r)
    assert "Your booking is cancelled" in text and "Status Cancelled by you" in text
    assert CANCEL_BUTTON not in r.text
    stored = await bookings.get(booking["booking_id"])
    assert (stored["status"], stored["cancelled_by"]) == ("cancelled", "customer")

    after = await bookings.state(booking["booking_id"])
    assert after[4] == 2  # received, cancelled
    second = await press_cancel(site, token, csrf)
    assert second.status_code == 404
    assert "already been used" in page_text(second)
    assert await bookings.state(booking["booking_id"]) == after
    reopened = await site.get(f"/bookings/cancel/{token}")
    assert reopened.status_code == 404 and "already been used" in page_text(reopened)


async def test_a_confirmed_booking_is_cancelled_too(site: httpx.AsyncClient, bookings: Bookings) -> None:
    booking, token = await bookings.request()
    async with bookings.client() as client:
        confirmed = await client.post(f"/api/v1/bookings/{booking['booking_id']}/confirm", headers=bookings.manager)
    assert confirmed.status_code == 200, confirmed.text
    r, csrf = await open_link(site, token)
    assert "Status Confirmed" in page_text(r)
    assert (await press_cancel(site, token, csrf)).status_code == 200
    assert (await bookings.get(booking["booking_id"]))["status"] == "cancelled"


@pytest.mark.parametrize("forged", FORGED)
async def test_a_forged_token_is_a_404_page_in_words(site: httpx.AsyncClient, bookings: Bookings, forged: str) -> None:
    booking, token = await bookings.request()
    _, csrf = await open_link(site, token)
    before = await bookings.state(booking["booking_id"])
    for r in (await site.get(f"/bookings/cancel/{forged}"), await press_cancel(site, forged, csrf)):
        assert r.status_code == 404, r.text
        text = page_text(r)
        assert "This link has already been used, or it is not valid" in text
        assert "<script>" not in r.text and "{" not in text
    assert await bookings.state(booking["booking_id"]) == before


async def test_a_booking_that_has_started_says_so(site: httpx.AsyncClient, bookings: Bookings) -> None:
    booking, token = await bookings.request()
    _, csrf = await open_link(site, token)  # opened before it started; pressed after
    await bookings.fetch(
        "UPDATE bookings SET starts_at = now() - interval '1 hour', ends_at = now() + interval '1 hour' WHERE id = $1",
        booking["booking_id"],
    )
    before = await bookings.state(booking["booking_id"])

    shown = await site.get(f"/bookings/cancel/{token}")
    assert shown.status_code == 200
    assert "has started" in page_text(shown) and CANCEL_BUTTON not in shown.text

    r = await press_cancel(site, token, csrf)
    assert r.status_code == 409
    text = page_text(r)
    assert "Your booking has already started" in text and "can no longer be cancelled here" in text
    assert f"Booking {booking['booking_id']}" in text and CANCEL_BUTTON not in r.text
    assert await bookings.state(booking["booking_id"]) == before


async def test_a_declined_booking_cannot_be_cancelled(site: httpx.AsyncClient, bookings: Bookings) -> None:
    booking, token = await bookings.request()
    _, csrf = await open_link(site, token)
    async with bookings.client() as client:
        rejected = await client.post(f"/api/v1/bookings/{booking['booking_id']}/reject", headers=bookings.manager)
    assert rejected.status_code == 200, rejected.text

    shown = await site.get(f"/bookings/cancel/{token}")
    assert "Status Declined by the restaurant" in page_text(shown) and CANCEL_BUTTON not in shown.text
    before = await bookings.state(booking["booking_id"])
    r = await press_cancel(site, token, csrf)
    assert r.status_code == 409
    assert "This booking can no longer be cancelled" in page_text(r)
    assert await bookings.state(booking["booking_id"]) == before


@pytest.mark.parametrize(
    "how",
    ["no field", "no cookie", "another token", "empty field", "two fields", "json body", "non-ascii field"],
)
async def test_a_post_without_the_csrf_token_is_a_403_page(
    checkout: CheckoutFactory, bookings: Bookings, how: str
) -> None:
    site = await checkout(bookings=bookings.transport)
    booking, token = await bookings.request()
    _, csrf = await open_link(site, token)
    url = f"/bookings/cancel/{token}"
    before = await bookings.state(booking["booking_id"])
    if how == "no cookie":
        site.cookies.clear()
    requests: dict[str, Any] = {
        "no field": lambda: site.post(url, data={}),
        "no cookie": lambda: site.post(url, data={"csrf_token": csrf}),
        "another token": lambda: site.post(url, data={"csrf_token": csrf[:-1] + ("A" if csrf[-1] != "A" else "B")}),
        "empty field": lambda: site.post(url, data={"csrf_token": ""}),
        "two fields": lambda: site.post(url, data={"csrf_token": [csrf, csrf]}),
        "json body": lambda: site.post(url, json={"csrf_token": csrf}),
        "non-ascii field": lambda: site.post(url, data={"csrf_token": "é" * 43}),
    }
    r = await requests[how]()
    assert r.status_code == 403
    assert "We could not verify this request" in page_text(r)
    assert await bookings.state(booking["booking_id"]) == before
    _, csrf = await open_link(site, token)
    assert (await press_cancel(site, token, csrf)).status_code == 200  # the link still works


async def test_bookings_down_is_a_503_page(checkout: CheckoutFactory, bookings: Bookings) -> None:
    up = await checkout(bookings=bookings.transport)
    booking, token = await bookings.request()
    _, csrf = await open_link(up, token)
    down = await checkout()  # bookings at a closed port
    before = await bookings.state(booking["booking_id"])
    down.cookies.set("form_csrf", csrf)
    shown = await down.get(f"/bookings/cancel/{token}")
    pressed = await down.post(f"/bookings/cancel/{token}", data={"csrf_token": csrf})
    for r in (shown, pressed):
        assert r.status_code == 503 and r.headers["retry-after"].isdigit()
        assert "Bookings are unavailable right now" in page_text(r) and "try again" in page_text(r)
    assert await bookings.state(booking["booking_id"]) == before


class SlowTransport(httpx.AsyncBaseTransport):
    def __init__(self, inner: httpx.AsyncBaseTransport, delay: float) -> None:
        self.inner, self.delay = inner, delay

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(self.delay)
        return await self.inner.handle_async_request(request)


class FailingTransport(httpx.AsyncBaseTransport):
    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        return httpx.Response(500, json={"title": "boom", "status": 500})


async def test_a_slow_bookings_service_is_a_503_within_the_timeout(
    checkout: CheckoutFactory, bookings: Bookings
) -> None:
    site = await checkout(bookings=SlowTransport(bookings.transport, 5), bookings_timeout=0.3)
    _, token = await bookings.request()
    started = asyncio.get_running_loop().time()
    r = await site.get(f"/bookings/cancel/{token}")
    assert r.status_code == 503 and "Bookings are unavailable right now" in page_text(r)
    assert asyncio.get_running_loop().time() - started < 2


async def test_a_failing_bookings_service_is_a_503_page(checkout: CheckoutFactory, bookings: Bookings) -> None:
    site = await checkout(bookings=FailingTransport())
    r = await site.get(f"/bookings/cancel/{'A' * 43}")
    assert r.status_code == 503 and "Bookings are unavailable right now" in page_text(r)


async def test_pages_carry_protective_headers(site: httpx.AsyncClient, bookings: Bookings) -> None:
    _, token = await bookings.request()
    for r in (await site.get(f"/bookings/cancel/{token}"), await site.get(f"/bookings/cancel/{'A' * 43}")):
        csp = r.headers["content-security-policy"]
        nonce = re.search(r"'nonce-([^']+)'", csp)
        assert nonce and f'<style nonce="{nonce.group(1)}">' in r.text
        assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp and "form-action 'self'" in csp
        assert r.headers["x-frame-options"] == "DENY"
        assert r.headers["referrer-policy"] == "no-referrer"
        assert r.headers["cache-control"] == "no-store"
        assert r.headers["x-content-type-options"] == "nosniff"
        assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in r.text
        assert '<html lang="en">' in r.text and "<h1>" in r.text


async def test_the_pages_are_not_in_the_rest_document(site: httpx.AsyncClient) -> None:
    paths = (await site.get("/openapi.json")).json()["paths"]
    assert not [p for p in paths if p.startswith("/bookings")]
