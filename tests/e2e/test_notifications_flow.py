"""Notifications end to end through real processes: LOMS publishes each status change, the
notifications service tells the customer (whose address it reads from checkout) by e-mail, on
the live SSE stream and by web push. The push service lives outside the system, so a local one
that decrypts what it receives plays it."""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from typing import Any

import httpx
import orjson

from notifications.testing.mail import messages_to, wait_for_messages
from notifications.testing.push_service import LocalPushService, serve_push_service
from notifications.testing.sse import SseFrame, sse_frames
from shopcommon.devstack.servers import wait_port

from .conftest import System


async def new_customer(system: System) -> dict[str, Any]:
    """A customer of one's own (the mail catcher is shared), logged in through checkout. A manager
    creates the account, so its address counts as confirmed and no confirmation mail is sent."""
    name = "e2e" + uuid.uuid4().hex[:10]
    async with system.client("checkout") as client:
        admin = await client.post("/api/v1/auth/token", json={"username": "admin", "password": "1"})
        created = await client.post(
            "/api/v1/users",
            headers={"Authorization": f"Bearer {admin.json()['access_token']}"},
            json={
                "username": name,
                "email": f"{name}@customers.test",
                "password": "correct-horse-1",
                "first_name": "Erin",
                "last_name": "Tester",
            },
        )
        assert created.status_code == 201, created.text
        token = await client.post("/api/v1/auth/token", json={"username": name, "password": "correct-horse-1"})
        assert token.status_code == 200, token.text
    return {
        "id": created.json()["id"],
        "email": created.json()["email"],
        "headers": {"Authorization": f"Bearer {token.json()['access_token']}"},
    }


async def sku_in_stock(system: System) -> int:
    async with system.client("checkout") as client:
        page = (await client.get("/api/v1/products", params={"limit": 100, "in_stock": "true"})).json()
    return next(p["sku"] for p in page["items"] if p["quantity_in_stock"] >= 20)


async def place_order(system: System, customer: dict[str, Any]) -> int:
    sku = await sku_in_stock(system)
    async with system.client("checkout") as client:
        r = await client.post("/api/v1/orders", json={"items": [{"sku": sku, "count": 1}]}, headers=customer["headers"])
    assert r.status_code == 201 and r.json()["status"] == "awaiting payment", r.text
    return int(r.json()["order_id"])


async def pay(system: System, customer: dict[str, Any], order_id: int) -> None:
    async with system.client("checkout") as client:
        r = await client.post(f"/api/v1/orders/{order_id}/pay", headers=customer["headers"])
    assert r.status_code == 200 and r.json()["status"] == "paid", r.text


def names(mail: dict[str, Any], order_id: int, status: str) -> bool:
    """The contract: the order id in decimal as a word of its own, and the status's wire spelling."""
    text = mail["Subject"] + "\n" + mail["Text"]
    return bool(re.search(rf"(?<![\w#]){order_id}(?!\w)", text)) and f"Status: {status}" in mail["Text"]


async def next_change(frames: Any, timeout: float = 15.0) -> SseFrame:
    async def first() -> SseFrame:
        async for frame in frames:
            if frame.event == "order.status_changed":
                return frame  # type: ignore[no-any-return]
        raise AssertionError("stream ended")

    return await asyncio.wait_for(first(), timeout)


async def test_paying_an_order_puts_exactly_one_paid_email_in_the_mailbox(system: System) -> None:
    customer = await new_customer(system)
    order_id = await place_order(system, customer)
    await pay(system, customer, order_id)
    await wait_for_messages(system.mail_api, customer["email"], 3, timeout=30)
    await asyncio.sleep(2.0)  # a duplicate would have arrived by now
    mails = await messages_to(system.mail_api, customer["email"])
    paid = [m for m in mails if names(m, order_id, "paid")]
    assert len(paid) == 1, [m["Subject"] for m in mails]
    assert paid[0]["Subject"] == f"Order {order_id} is paid"
    assert len({m["Subject"] for m in mails}) == len(mails)
    assert any(names(m, order_id, "awaiting payment") for m in mails)
    # Items by the instrument's name (from the catalogue), not by sku alone.
    async with system.client("checkout") as client:
        order = (await client.get(f"/api/v1/orders/{order_id}", headers=customer["headers"])).json()
        sku = order["items"][0]["sku"]
        product = (await client.get(f"/api/v1/products/{sku}")).json()
    assert f"{product['name']} (sku {sku}) x 1" in paid[0]["Text"], paid[0]["Text"]


async def test_an_sse_client_sees_the_status_change_within_a_second(system: System) -> None:
    customer = await new_customer(system)
    async with (
        system.client("notifications") as client,
        client.stream("GET", "/api/v1/events/stream", headers=customer["headers"]) as resp,
    ):
        assert resp.status_code == 200
        frames = sse_frames(resp)
        order_id = await place_order(system, customer)
        while orjson.loads((await next_change(frames)).data)["status"] != "awaiting payment":
            pass
        started = time.monotonic()
        await pay(system, customer, order_id)
        frame = await next_change(frames)
        elapsed = time.monotonic() - started
    event = orjson.loads(frame.data)
    assert (event["order_id"], event["status"], event["previous_status"]) == (order_id, "paid", "awaiting payment")
    assert frame.id == event["event_id"] and event["user_id"] == customer["id"]
    assert elapsed < 1.0, elapsed


async def test_a_push_subscriber_receives_a_payload_it_can_decrypt(system: System) -> None:
    customer = await new_customer(system)
    push_service = LocalPushService()
    assert system.push_tls is not None
    async with (
        serve_push_service(push_service, system.push_tls, host="127.0.0.1"),
        system.client("notifications") as client,
    ):
        subscriber = push_service.subscriber()
        key = (await client.get("/api/v1/push/vapid-public-key")).json()["public_key"]
        subscribed = await client.post(
            "/api/v1/push/subscriptions", json=subscriber.subscription(), headers=customer["headers"]
        )
        assert subscribed.status_code == 201, subscribed.text
        order_id = await place_order(system, customer)
        await pay(system, customer, order_id)
        received = await push_service.wait_for(subscriber, 3, timeout=30)
    statuses = [r.payload["status"] for r in received if r.payload["order_id"] == order_id]
    assert statuses == ["new", "awaiting payment", "paid"]
    assert all(r.vapid_valid and r.headers["authorization"].endswith(f"k={key}") for r in received)


async def test_with_smtp_down_the_emails_go_out_once_it_is_back(system: System) -> None:
    customer = await new_customer(system)
    mailcatcher = system.stack.embedded.process("mailcatcher")
    await asyncio.to_thread(mailcatcher.stop)
    try:
        order_id = await place_order(system, customer)
        await pay(system, customer, order_id)
        async with system.client("notifications") as client:
            for _ in range(150):
                log = (await client.get("/api/v1/notifications", headers=customer["headers"])).json()["items"]
                # The order's first e-mail is retrying; the later ones wait behind it, in order.
                if any(n["status"] == "pending" and n["last_error"] for n in log):
                    break
                await asyncio.sleep(0.2)
            else:
                raise AssertionError(f"no failed try recorded: {log}")
    finally:
        await asyncio.to_thread(mailcatcher.start)
        await asyncio.to_thread(wait_port, mailcatcher, system.stack.embedded.ports.smtp, "mail catcher SMTP")
        await asyncio.to_thread(wait_port, mailcatcher, system.stack.embedded.ports.mail_http, "mail catcher")
    mails = await wait_for_messages(system.mail_api, customer["email"], 3, timeout=60, settle=1.0)
    assert sum(names(m, order_id, "paid") for m in mails) == 1
    async with httpx.AsyncClient(base_url=system.url("notifications"), timeout=10) as client:
        log = (await client.get("/api/v1/notifications", headers=customer["headers"])).json()["items"]
    assert {n["status"] for n in log if n["channel"] == "email"} == {"sent"}
