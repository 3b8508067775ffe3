"""E-mail delivery: addresses from the real checkout, SMTP outages, permanent failures, the log."""

import asyncio
from collections.abc import Callable

from notifications.config import Settings
from notifications.testing.events import order_event, produce
from notifications.testing.mail import messages_to, wait_for_messages
from notifications.testing.push_service import LocalPushService
from notifications.testing.sse import sse_frames
from shopcommon.devstack.servers import wait_port
from shopcommon.testing.cursors import forged_cursor
from shopcommon.testing.plugin import Stack
from shopcommon.testing.tokens import TestIssuer

from ..conftest import Checkout, eventually, query, running


async def test_a_paid_event_puts_exactly_one_paid_email_in_the_mailbox(
    shop_stack: Stack, checkout: Checkout, settings_for: Callable[..., Settings], topic: str
) -> None:
    customer = await checkout.register_customer()
    await produce(
        shop_stack.urls.kafka_bootstrap_servers, topic, [order_event(20_001, customer.id, "paid", "awaiting payment")]
    )
    async with running(settings_for(loms_events_topic=topic)):
        mails = await wait_for_messages(shop_stack.urls.mail_api_url, customer.email, 1, settle=1.0)
    assert len(mails) == 1
    assert mails[0]["Subject"] == "Order 20001 is paid"
    assert "Nora Tester" in mails[0]["Text"] and "Status: paid" in mails[0]["Text"]
    assert "<td>paid</td>" in mails[0]["HTML"]


async def test_emails_wait_while_smtp_is_down_and_go_out_once_it_is_back(
    shop_stack: Stack, checkout: Checkout, settings_for: Callable[..., Settings], topic: str, notifications_db: str
) -> None:
    customer = await checkout.register_customer()
    mailcatcher = shop_stack.embedded.process("mailcatcher")
    async with running(settings_for(loms_events_topic=topic, email_max_attempts=100)):
        await asyncio.to_thread(mailcatcher.stop)
        try:
            await produce(
                shop_stack.urls.kafka_bootstrap_servers,
                topic,
                [order_event(20_002, customer.id, "cancelled", "awaiting payment", reason="timeout")],
            )
            failing = await eventually(
                lambda: query(
                    notifications_db,
                    "SELECT attempts, last_error FROM notifications "
                    "WHERE order_id = 20002 AND status = 'pending' AND attempts >= 2",
                )
            )
            # The reason only; the connection error's text goes to the server's log.
            assert failing[0].last_error == "SMTP server unreachable"
        finally:
            await asyncio.to_thread(mailcatcher.start)
            await asyncio.to_thread(wait_port, mailcatcher, shop_stack.embedded.ports.mail_http, "mail catcher")
            await asyncio.to_thread(wait_port, mailcatcher, shop_stack.embedded.ports.smtp, "mail catcher SMTP")
        mails = await wait_for_messages(shop_stack.urls.mail_api_url, customer.email, 1, timeout=20, settle=0.5)
    assert [m["Subject"] for m in mails] == ["Order 20002 is cancelled"]
    assert "by timeout" in mails[0]["Text"]


async def test_a_user_unknown_to_checkout_fails_for_good_after_one_try(
    shop_stack: Stack, settings_for: Callable[..., Settings], topic: str, notifications_db: str
) -> None:
    await produce(shop_stack.urls.kafka_bootstrap_servers, topic, [order_event(20_003, 2**40, "paid")])
    async with running(settings_for(loms_events_topic=topic)):
        failed = await eventually(
            lambda: query(
                notifications_db,
                "SELECT attempts, last_error FROM notifications WHERE order_id = 20003 AND status = 'failed'",
            )
        )
        await asyncio.sleep(1.0)
    rows = await query(notifications_db, "SELECT attempts FROM notifications WHERE order_id = 20003")
    assert [r.attempts for r in rows] == [1]
    assert failed[0].last_error == "user not found"


async def test_the_log_lists_only_the_callers_notifications_newest_first_in_pages(
    shop_stack: Stack, checkout: Checkout, settings_for: Callable[..., Settings], topic: str, test_issuer: TestIssuer
) -> None:
    alice, bob = await checkout.register_customer(), await checkout.register_customer()
    await produce(
        shop_stack.urls.kafka_bootstrap_servers,
        topic,
        [
            order_event(20_004, alice.id, "new"),
            order_event(20_004, alice.id, "awaiting payment", "new"),
            order_event(20_005, bob.id, "new"),
            order_event(20_004, alice.id, "paid", "awaiting payment"),
        ],
    )
    async with running(settings_for(loms_events_topic=topic)) as (_, client):
        await wait_for_messages(shop_stack.urls.mail_api_url, alice.email, 3)
        headers = test_issuer.auth(alice.id, "customer")
        first = (await client.get("/api/v1/notifications", params={"limit": 2}, headers=headers)).json()
        second = (
            await client.get(
                "/api/v1/notifications", params={"limit": 2, "cursor": first["next_cursor"]}, headers=headers
            )
        ).json()
    statuses = [n["order_status"] for n in first["items"] + second["items"]]
    assert statuses == ["paid", "awaiting payment", "new"]
    assert second["next_cursor"] is None
    assert all(n["order_id"] == 20_004 and n["channel"] == "email" for n in first["items"] + second["items"])
    assert first["items"][0]["status"] == "sent" and first["items"][0]["recipient"] == alice.email


async def test_the_log_needs_a_users_own_token_and_a_valid_cursor(
    settings_for: Callable[..., Settings], test_issuer: TestIssuer
) -> None:
    settings = settings_for(consumer_enabled=False, email_sender_enabled=False, push_sender_enabled=False)
    customer = test_issuer.auth(5, "customer")
    forged = [forged_cursor({"id": 2**63}), forged_cursor({"id": "7"}), forged_cursor({"after": 1}), "%%%"]
    async with running(settings) as (_, client):
        anonymous = await client.get("/api/v1/notifications")
        service = await client.get("/api/v1/notifications", headers=test_issuer.auth("loms", "service"))
        bad = [await client.get("/api/v1/notifications", params={"cursor": c}, headers=customer) for c in forged]
    assert anonymous.status_code == 401 and service.status_code == 403
    assert [r.status_code for r in bad] == [400] * len(forged)
    assert all(r.headers["content-type"] == "application/problem+json" for r in bad)


async def test_an_unconfirmed_address_gets_no_email_while_push_and_the_stream_carry_on(
    shop_stack: Stack,
    checkout: Checkout,
    settings_for: Callable[..., Settings],
    topic: str,
    notifications_db: str,
    push_service: LocalPushService,
    test_issuer: TestIssuer,
) -> None:
    """Registered the public way, the account has not confirmed its address: checkout says
    `email_verified: false`, and nothing but checkout's own confirmation mail may go there."""
    unconfirmed, confirmed = await checkout.register_customer(confirmed=False), await checkout.register_customer()
    subscriber = push_service.subscriber()
    auth = test_issuer.auth(unconfirmed.id, "customer")
    event = order_event(20_006, unconfirmed.id, "paid", "awaiting payment")
    async with running(settings_for(loms_events_topic=topic)) as (_, client):
        subscribed = await client.post("/api/v1/push/subscriptions", json=subscriber.subscription(), headers=auth)
        async with client.stream("GET", "/api/v1/events/stream", headers=auth) as resp:
            frames = sse_frames(resp)
            await produce(
                shop_stack.urls.kafka_bootstrap_servers,
                topic,
                [event, order_event(20_007, confirmed.id, "paid", "awaiting payment")],
            )
            streamed = await asyncio.wait_for(anext(f async for f in frames if not f.is_heartbeat), 15)
        pushed = await push_service.wait_for(subscriber, 1)
        failed = await eventually(
            lambda: query(
                notifications_db,
                "SELECT attempts, last_error, recipient FROM notifications "
                "WHERE order_id = 20006 AND channel = 'email' AND status = 'failed'",
            )
        )
        # The confirmed customer's mail, sent by the same worker, is the sign the worker has been round.
        await wait_for_messages(shop_stack.urls.mail_api_url, confirmed.email, 1)
        log = (await client.get("/api/v1/notifications", headers=auth)).json()
    assert subscribed.status_code == 201
    assert streamed.id == event["event_id"] and pushed[0].payload["event_id"] == event["event_id"]
    assert [(r.attempts, r.last_error, r.recipient) for r in failed] == [
        (1, "the e-mail address is not confirmed", None)
    ]
    assert {(n["channel"], n["status"]) for n in log["items"]} == {("email", "failed"), ("push", "sent")}
    mails = await messages_to(shop_stack.urls.mail_api_url, unconfirmed.email)
    assert [m["Subject"] for m in mails if "20006" in m["Subject"]] == []
