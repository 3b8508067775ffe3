"""`/notifications` against the real notifications API in-process: my own notifications, newest
first, in pages (the next one as a block alone for HTMX); this browser's web push subscription
kept and removed through checkout (same-origin, CSRF header); refusals in words; the service
worker served at the root."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import AsyncIterator

import httpx
import pytest

from checkout.identity.demo import load_identity_demo
from notifications.testing.push_service import PUSH_HOST, PushSubscriber
from shopcommon.auth import ACCESS_COOKIE

from .conftest import CheckoutFactory, Notifications
from .test_shop_pages import words
from .test_staff_pages import sign_in


@pytest.fixture
async def web(
    checkout: CheckoutFactory, checkout_db: str, notifications: Notifications
) -> AsyncIterator[httpx.AsyncClient]:
    await load_identity_demo(checkout_db, {"APP_ENV": "dev"})
    yield await checkout(notifications=notifications.transport)


def my_id(web: httpx.AsyncClient) -> int:
    """The signed-in person's id: the `sub` of the session's token."""
    claims = web.cookies[ACCESS_COOKIE].split(".")[1]
    return int(json.loads(base64.urlsafe_b64decode(claims + "=" * (-len(claims) % 4)))["sub"])


async def test_my_notifications_newest_first_in_pages(web: httpx.AsyncClient, notifications: Notifications) -> None:
    await sign_in(web, "customer")
    me = my_id(web)
    for n in range(1, 24):
        await notifications.add(me, 7000 + n, "paid", f"Order {7000 + n} is paid")
    await notifications.add(me + 1000, 6999, "paid", "Order 6999 is someone else's")
    r = await web.get("/notifications")
    assert r.status_code == 200, words(r)
    text = words(r)
    assert text.index("Order 7023 is paid") < text.index("Order 7004 is paid")
    assert "Order 7003 is paid" not in text and "someone else" not in text
    assert 'href="/orders/7023"' in r.text and "E-mail to c@shop.example: sent" in text
    assert "Turn on notifications</button>" in r.text and "Turn off notifications</button>" in r.text
    assert 'data-vapid-key="B' in r.text and "/static/notifications.js" in r.text
    older = r.text.split('rel="next"')[0].rsplit('href="', 1)[1].split('"')[0].replace("&amp;", "&")
    block = await web.get(older, headers={"HX-Request": "true"})
    assert block.status_code == 200 and "<html" not in block.text
    assert block.text.lstrip().startswith('<div id="notifications"')
    assert "Order 7003 is paid" in block.text and "Order 7001 is paid" in block.text
    assert "Order 7004 is paid" not in block.text and "Older notifications" not in block.text


async def test_this_browser_is_subscribed_and_unsubscribed(
    web: httpx.AsyncClient, notifications: Notifications
) -> None:
    token = await sign_in(web, "customer")
    subscription = PushSubscriber(f"https://{PUSH_HOST}/push/web-page-test").subscription()
    stored = "SELECT user_id FROM push_subscriptions WHERE endpoint = $1"
    r = await web.post("/notifications/push", json=subscription, headers={"X-CSRF-Token": token})
    assert r.status_code == 200 and r.text == "Notifications are on for this browser."
    assert [row[0] for row in await notifications.fetch(stored, subscription["endpoint"])] == [my_id(web)]
    r = await web.post("/notifications/push/off", json={"endpoint": subscription["endpoint"]},
                       headers={"X-CSRF-Token": token})  # fmt: skip
    assert r.status_code == 200 and r.text == "Notifications are off for this browser."
    assert await notifications.fetch(stored, subscription["endpoint"]) == []
    # Turning off again is not an error: the browser is off all the same.
    r = await web.post("/notifications/push/off", json={"endpoint": subscription["endpoint"]},
                       headers={"X-CSRF-Token": token})  # fmt: skip
    assert r.status_code == 200


async def test_logging_out_ends_this_browsers_push_subscription(
    web: httpx.AsyncClient, notifications: Notifications
) -> None:
    """Left behind, the subscription showed this account's notifications to whoever signed in next
    on the browser (a shared computer)."""
    token = await sign_in(web, "customer")
    subscription = PushSubscriber(f"https://{PUSH_HOST}/push/logout-test").subscription()
    stored = "SELECT user_id FROM push_subscriptions WHERE endpoint = $1"
    r = await web.post("/notifications/push", json=subscription, headers={"X-CSRF-Token": token})
    assert r.status_code == 200 and await notifications.fetch(stored, subscription["endpoint"])
    r = await web.post("/logout", data={"csrf_token": token})
    assert r.status_code == 303
    for _ in range(50):  # ended after the answer
        if not await notifications.fetch(stored, subscription["endpoint"]):
            break
        await asyncio.sleep(0.1)
    assert await notifications.fetch(stored, subscription["endpoint"]) == []
    assert "push_endpoint" not in web.cookies
    # Signing in and out again without subscribing asks nothing of the notifications service.
    token = await sign_in(web, "customer")
    assert (await web.post("/logout", data={"csrf_token": token})).status_code == 303


async def test_push_calls_without_the_token_or_with_a_bad_subscription_are_refused_in_words(
    web: httpx.AsyncClient, notifications: Notifications
) -> None:
    subscription = PushSubscriber(f"https://{PUSH_HOST}/push/refused-test").subscription()
    r = await web.post("/notifications/push", json=subscription)
    assert r.status_code == 401 and "Sign in again" in r.text
    token = await sign_in(web, "customer")
    for headers in ({}, {"X-CSRF-Token": "forged" + token[6:]}):
        r = await web.post("/notifications/push", json=subscription, headers=headers)
        assert r.status_code == 403 and "could not verify this request" in r.text
    assert (
        await notifications.fetch("SELECT 1 FROM push_subscriptions WHERE endpoint = $1", subscription["endpoint"])
        == []
    )
    bad = {**subscription, "keys": {"p256dh": "AAAA", "auth": subscription["keys"]["auth"]}}
    r = await web.post("/notifications/push", json=bad, headers={"X-CSRF-Token": token})
    assert r.status_code == 422 and r.text.startswith("Notifications could not be turned on: Browser keys")
    assert "{" not in r.text
    r = await web.post("/notifications/push", content=b"not json", headers={"X-CSRF-Token": token})
    assert r.status_code == 422 and "cannot read" in r.text
    r = await web.post("/notifications/push/off", json=subscription, headers={"X-CSRF-Token": "x"})
    assert r.status_code == 403


async def test_the_service_worker_is_served_for_the_whole_site(web: httpx.AsyncClient) -> None:
    r = await web.get("/sw.js")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/javascript")
    assert r.headers["service-worker-allowed"] == "/"
    assert "showNotification" in r.text and "notificationclick" in r.text and "openWindow" in r.text


async def test_signed_out_or_service_down(checkout: CheckoutFactory, checkout_db: str) -> None:
    await load_identity_demo(checkout_db, {"APP_ENV": "dev"})
    web = await checkout()  # the notifications service unreachable
    r = await web.get("/notifications")
    assert r.status_code == 303 and r.headers["location"] == "/?next=/notifications"
    # An HTMX swap is told to go and sign in as a whole page, not given the landing page to swap in.
    r = await web.get("/notifications", params={"cursor": "c"}, headers={"HX-Request": "true"})
    assert r.status_code == 204 and r.headers["hx-redirect"] == "/?next=/notifications%3Fcursor%3Dc"
    await sign_in(web, "customer")
    r = await web.get("/notifications")
    assert r.status_code == 503 and "could not reach the notifications service" in words(r)
    assert "Browser notifications are unavailable right now." in words(r) and '"type"' not in r.text
