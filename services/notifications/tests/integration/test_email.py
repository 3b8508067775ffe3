"""E-mail delivery: addresses from the real checkout, SMTP outages, permanent failures, the log."""

import asyncio
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from notifications.config import Settings
from notifications.email.smtp import SmtpMailer
from notifications.testing.events import order_event, produce
from notifications.testing.mail import messages_to, wait_for_messages
from notifications.testing.push_service import LocalPushService
from notifications.testing.sse import sse_frames
from shopcommon.devstack.servers import wait_port
from shopcommon.testing.cursors import forged_cursor
from shopcommon.testing.plugin import Stack
from shopcommon.testing.tokens import TestIssuer

from ..conftest import Checkout, eventually, execute, query, running


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


async def test_an_email_that_cannot_be_rendered_fails_once_and_the_orders_next_email_still_goes(
    shop_stack: Stack, checkout: Checkout, settings_for: Callable[..., Settings], topic: str, notifications_db: str
) -> None:
    """A deadline at the end of the calendar overflowed while the e-mail was written: the error
    escaped the sender, the row was claimed again every lease, never given up, and every later
    e-mail of the order waited behind it."""
    customer = await checkout.register_customer()
    overflowing = order_event(
        20_011, customer.id, "awaiting payment", "new", payment_deadline="9999-12-31T23:30:00-05:00"
    )
    paid = order_event(20_011, customer.id, "paid", "awaiting payment")
    await produce(shop_stack.urls.kafka_bootstrap_servers, topic, [overflowing, paid])
    async with running(settings_for(loms_events_topic=topic)):
        mails = await wait_for_messages(shop_stack.urls.mail_api_url, customer.email, 1, settle=1.0)
    assert [m["Subject"] for m in mails] == ["Order 20011 is paid"]
    rows = await query(
        notifications_db,
        "SELECT status, attempts, last_error FROM notifications WHERE order_id = 20011 AND channel = 'email' ORDER BY id",
    )
    assert [(r.status, r.attempts, r.last_error) for r in rows] == [
        ("failed", 1, "cannot render the message"),
        ("sent", 1, None),
    ]


async def test_a_workers_task_email_does_not_wait_for_the_customers_email_of_the_order(
    shop_stack: Stack, checkout: Checkout, settings_for: Callable[..., Settings], topic: str, notifications_db: str
) -> None:
    """E-mails of one order go out in order per person: a customer's e-mail waiting for a retry
    held up the e-mail telling a worker the order's task is theirs."""
    customer, worker = await checkout.register_customer(), await checkout.register_customer()
    kafka = shop_stack.urls.kafka_bootstrap_servers
    await produce(kafka, topic, [order_event(20_012, customer.id, "paid", "awaiting payment")])
    async with running(settings_for(loms_events_topic=topic, email_sender_enabled=False)):
        await eventually(lambda: query(notifications_db, "SELECT 1 FROM notifications WHERE order_id = 20012"))
    # The customer's mail server answered "try again later": the e-mail waits an hour for its retry.
    await execute(
        notifications_db,
        "UPDATE notifications SET attempts = 1, last_error = 'SMTP server unreachable', "
        "next_attempt_at = now() + interval '1 hour' WHERE order_id = 20012",
    )
    assigned = {
        "event_id": str(uuid.uuid4()),
        "type": "task.status_changed",
        "occurred_at": datetime.now(UTC).isoformat(),
        "task_id": 9012,
        "order_id": 20_012,
        "category": "guitars",
        "worker_id": worker.id,
        "status": "assigned",
        "previous_status": "unassigned",
        "previous_worker_id": None,
    }
    await produce(kafka, topic, [assigned])
    async with running(settings_for(loms_events_topic=topic)):
        mails = await wait_for_messages(shop_stack.urls.mail_api_url, worker.email, 1, settle=0.5)
    assert [m["Subject"] for m in mails] == ["Task 9012 of order 20012 is assigned to you (guitars)"]
    assert await messages_to(shop_stack.urls.mail_api_url, customer.email) == []


async def test_two_replicas_with_a_slow_mail_server_send_each_email_once(
    shop_stack: Stack,
    checkout: Checkout,
    settings_for: Callable[..., Settings],
    topic: str,
    notifications_db: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A claim holds its e-mails for a lease. A sender still working through its claim when the
    lease ran out went on sending what the other replica had claimed meanwhile and sent too."""
    customer = await checkout.register_customer()
    orders = [20_020, 20_021, 20_022]
    await produce(shop_stack.urls.kafka_bootstrap_servers, topic, [order_event(o, customer.id, "paid") for o in orders])
    async with running(settings_for(loms_events_topic=topic, email_sender_enabled=False)):
        await eventually(
            lambda: query(
                notifications_db,
                "SELECT count(*) FROM notifications WHERE order_id IN (20020, 20021, 20022) HAVING count(*) = 3",
            )
        )
    send = SmtpMailer.send

    async def slow_server(smtp: Any, message: Any) -> None:
        await asyncio.sleep(1.5)  # the mail server takes its time over each message
        await send(smtp, message)

    monkeypatch.setattr(SmtpMailer, "send", staticmethod(slow_server))
    replica = settings_for(
        loms_events_topic=topic, consumer_enabled=False, smtp_connections=1, delivery_lease_seconds=2.0
    )
    async with running(replica), running(replica):
        await wait_for_messages(shop_stack.urls.mail_api_url, customer.email, 3, timeout=30)
        await asyncio.sleep(3.0)  # a second copy would come within a lease
    mails = await messages_to(shop_stack.urls.mail_api_url, customer.email)
    assert sorted(m["Subject"] for m in mails) == [f"Order {o} is paid" for o in orders]
    rows = await query(
        notifications_db, "SELECT status, attempts FROM notifications WHERE order_id IN (20020, 20021, 20022)"
    )
    assert [(r.status, r.attempts) for r in rows] == [("sent", 1)] * 3


async def test_a_send_that_would_outlast_its_lease_is_given_up_and_sent_once_later(
    shop_stack: Stack,
    checkout: Checkout,
    settings_for: Callable[..., Settings],
    topic: str,
    notifications_db: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A send begun in time but answered after the lease ran out went on: the other replica had
    claimed the e-mail meanwhile and sent it too."""
    import time

    customer = await checkout.register_customer()
    orders = [20_023, 20_024, 20_025]
    await produce(shop_stack.urls.kafka_bootstrap_servers, topic, [order_event(o, customer.id, "paid") for o in orders])
    async with running(settings_for(loms_events_topic=topic, email_sender_enabled=False)):
        await eventually(
            lambda: query(
                notifications_db,
                "SELECT count(*) FROM notifications WHERE order_id IN (20023, 20024, 20025) HAVING count(*) = 3",
            )
        )
    send = SmtpMailer.send
    slow_until = time.monotonic() + 60.0

    async def slow_for_a_while(smtp: Any, message: Any) -> None:
        if time.monotonic() < slow_until:
            await asyncio.sleep(2.5)  # longer than the lease: the mail server is struggling
        await send(smtp, message)

    monkeypatch.setattr(SmtpMailer, "send", staticmethod(slow_for_a_while))
    replica = settings_for(
        loms_events_topic=topic, consumer_enabled=False, smtp_connections=1, delivery_lease_seconds=2.0
    )
    async with running(replica), running(replica):
        slow_until = time.monotonic() + 2.2  # the first send of the first claim is slow
        await wait_for_messages(shop_stack.urls.mail_api_url, customer.email, 3, timeout=30)
        await asyncio.sleep(3.0)  # a second copy would come within a lease
    mails = await messages_to(shop_stack.urls.mail_api_url, customer.email)
    assert sorted(m["Subject"] for m in mails) == [f"Order {o} is paid" for o in orders]
    rows = await query(notifications_db, "SELECT status FROM notifications WHERE order_id IN (20023, 20024, 20025)")
    assert [r.status for r in rows] == ["sent"] * 3
