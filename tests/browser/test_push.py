"""Web push reaching a customer's browser while no page of the shop is open.

The push service lives outside the system (a browser vendor's: FCM for Chromium), so a local one
stands in for it (`notifications.testing.push_service`): it takes the notifications service's
message, checks its VAPID signature and decrypts it with the keys a browser would hold. What it
decrypted is then handed to this browser's service worker through the DevTools protocol
(`ServiceWorker.deliverPushMessage`, what DevTools' own "Push" button does): the one hop, push
service to browser, that needs the vendor's servers. The shop's service worker, registered by
the `/notifications` page's own button, shows the notification with every tab of the shop closed.
"""

from __future__ import annotations

import asyncio
import json
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from playwright.sync_api import Page, expect

from notifications.testing.push_service import LocalPushService, PushSubscriber, ReceivedPush, serve_push_service
from tests.e2e.conftest import System

from .conftest import ConsoleErrors, watch
from .test_pages import PASSWORD, log_in

SHOWN = """async () => {
  const registration = await navigator.serviceWorker.getRegistration('/');
  const shown = registration ? await registration.getNotifications() : [];
  return shown.map((n) => ({title: n.title, body: n.body, tag: n.tag, url: n.data && n.data.url}));
}"""


class PushServiceThread:
    """The local push service, served by an event loop of its own in a thread: Playwright's sync
    API holds this one's."""

    def __init__(self, system: System) -> None:
        assert system.push_tls is not None, "the system trusts no local push service"
        self.service = LocalPushService()
        self.loop = asyncio.new_event_loop()
        self._serving = threading.Event()
        self._stop: asyncio.Event | None = None
        self._thread = threading.Thread(target=self.loop.run_until_complete, args=(self._serve(system),), daemon=True)

    async def _serve(self, system: System) -> None:
        assert system.push_tls is not None
        self._stop = asyncio.Event()
        async with serve_push_service(self.service, system.push_tls, host="127.0.0.1"):
            self._serving.set()
            await self._stop.wait()

    def __enter__(self) -> PushServiceThread:
        self._thread.start()
        assert self._serving.wait(15), "the local push service did not start"
        return self

    def __exit__(self, *_: object) -> None:
        assert self._stop is not None
        self.loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(15)

    def wait_for(self, subscriber: PushSubscriber, count: int) -> list[ReceivedPush]:
        return asyncio.run_coroutine_threadsafe(
            self.service.wait_for(subscriber, count, timeout=30), self.loop
        ).result()


@pytest.fixture
def push_service(system: System) -> Iterator[PushServiceThread]:
    with PushServiceThread(system) as served:
        yield served


def new_customer(api: httpx.Client) -> tuple[str, str, dict[str, str]]:
    """A customer of this test's own (made by the demo manager, so confirmed): their username,
    password and bearer header."""
    admin = api.post("/api/v1/auth/token", json={"username": "admin", "password": PASSWORD}).json()["access_token"]
    name = "p" + uuid.uuid4().hex[:12]
    password = "correct-horse-" + uuid.uuid4().hex[:6]
    created = api.post("/api/v1/users", headers={"Authorization": f"Bearer {admin}"},
                       json={"username": name, "email": f"{name}@customers.test", "password": password,
                             "first_name": "Petra", "last_name": "Push"})  # fmt: skip
    assert created.status_code == 201, created.text
    token = api.post("/api/v1/auth/token", json={"username": name, "password": password})
    assert token.status_code == 200, token.text
    return name, password, {"Authorization": f"Bearer {token.json()['access_token']}"}


def registration_id(page: Page, cdp: Any, site: str) -> str:
    """The id DevTools knows the shop's service worker registration (scope `/`) by."""
    found: list[dict[str, Any]] = []
    cdp.on("ServiceWorker.workerRegistrationUpdated", lambda event: found.extend(event["registrations"]))
    cdp.send("ServiceWorker.enable")
    for _ in range(50):
        live = [r for r in found if not r.get("isDeleted") and r["scopeURL"] == site + "/"]
        if live:
            return str(live[-1]["registrationId"])
        page.wait_for_timeout(100)
    raise AssertionError(f"no service worker registration reported: {found}")


def test_a_push_arrives_with_the_shops_tabs_closed(
    page: Page,
    site: str,
    system: System,
    push_service: PushServiceThread,
    console_errors: ConsoleErrors,
) -> None:
    page.context.grant_permissions(["notifications"], origin=site)
    with httpx.Client(base_url=site, timeout=30) as api:
        username, password, customer = new_customer(api)
        log_in(page, site, username, password)
        page.goto(site + "/notifications")
        # The page registers the shop's service worker. This browser cannot subscribe: a Playwright
        # context is an off-the-record profile, where Chromium has no Push API (and this machine no
        # route to FCM); Chromium logs so, and the page says it in words.
        console_errors.allow("does not support the Push API in incognito mode")
        page.get_by_role("button", name="Turn on notifications").click()
        expect(page.locator("#push-status")).to_contain_text("could not subscribe", timeout=30_000)
        cdp = page.context.new_cdp_session(page)
        worker = registration_id(page, cdp, site)

        # What the browser's push service would have handed the page: an endpoint and its keys.
        browser_keys = push_service.service.subscriber()
        with httpx.Client(base_url=system.url("notifications"), timeout=30) as notifications:
            subscribed = notifications.post("/api/v1/push/subscriptions", json=browser_keys.subscription(),
                                            headers=customer)  # fmt: skip
            assert subscribed.status_code == 201, subscribed.text

        # Every tab of the shop closes; a blank one keeps the browser (and DevTools) open.
        blank = page.context.new_page()
        blank.goto("about:blank")
        delivery = page.context.new_cdp_session(blank)
        page.close()

        sku = next(p["sku"] for p in api.get("/api/v1/products", params={"in_stock": "true"}).json()["items"])
        placed = api.post("/api/v1/orders", json={"items": [{"sku": sku, "count": 1}]},
                          headers={**customer, "Prefer": "wait=10"})  # fmt: skip
        assert placed.status_code == 201, placed.text
        order_id = int(placed.json()["order_id"])
        assert api.post(f"/api/v1/orders/{order_id}/pay", headers=customer).status_code == 200

    received = push_service.wait_for(browser_keys, 3)
    paid = [r for r in received if r.payload.get("order_id") == order_id and r.payload.get("status") == "paid"]
    assert len(paid) == 1 and paid[0].vapid_valid, [r.payload for r in received]
    delivery.send("ServiceWorker.enable")
    delivery.send("ServiceWorker.deliverPushMessage",
                  {"origin": site, "registrationId": worker, "data": json.dumps(paid[0].payload)})  # fmt: skip

    # Shown while no page of the shop was open; a page opened later finds it.
    later = blank.context.new_page()
    later_errors = watch(later)
    later.goto(site + "/")
    shown: list[dict[str, Any]] = []
    for _ in range(50):
        shown = later.evaluate(SHOWN)
        if shown:
            break
        later.wait_for_timeout(100)
    assert shown == [{"title": paid[0].payload.get("title") or f"Order {order_id} changed",
                      "body": f"Order {order_id} is now paid.", "tag": f"order-{order_id}",
                      "url": f"/orders/{order_id}"}]  # fmt: skip
    assert later_errors.unexpected() == [], later_errors
