"""Booking events (`bookings.booking-events`) through the real Kafka API, Postgres, Redis and mail
catcher: the guest's e-mail on every status, once, in the order of the booking's events; the
notices of a phone-only booking logged; a booking linked to a customer in their log."""

import asyncio
import random
import re
import uuid
from collections.abc import Callable
from typing import Any

import httpx
import orjson

from notifications.config import Settings
from notifications.domain.delivery import NO_BOOKING_ADDRESS
from notifications.testing.events import booking_event, order_event, produce
from notifications.testing.mail import messages_to, summaries_to, wait_for_messages
from shopcommon.devstack.servers import wait_port
from shopcommon.testing.plugin import Stack
from shopcommon.testing.tokens import TestIssuer

from ..conftest import Checkout, eventually, query, running


def guest_address() -> str:
    return f"g{uuid.uuid4().hex[:12]}@guests.test"


def new_booking_id() -> int:
    return random.randint(10**6, 10**9)


def names_booking(text: str, booking_id: int) -> bool:
    return re.search(rf"(?<![\w#]){booking_id}(?!\w)", text) is not None


async def metric_value(client: httpx.AsyncClient, name: str) -> float:
    text = (await client.get("/metrics")).text
    found = re.search(rf"^{re.escape(name)} (\S+)$", text, re.MULTILINE)
    return float(found.group(1)) if found else 0.0


async def test_each_status_of_a_booking_sends_the_guest_exactly_one_email_that_says_so(
    shop_stack: Stack, settings_for: Callable[..., Settings], booking_topic: str
) -> None:
    kept, refused = new_booking_id(), new_booking_id()
    kept_to, refused_to = guest_address(), guest_address()
    received = booking_event(kept, "pending", email=kept_to)
    events = [
        received,
        booking_event(refused, "pending", email=refused_to),
        booking_event(kept, "confirmed", "pending", email=kept_to),
        booking_event(refused, "rejected", "pending", email=refused_to),
        booking_event(kept, "cancelled", "confirmed", email=kept_to, cancelled_by="staff"),
    ]
    await produce(shop_stack.urls.kafka_bootstrap_servers, booking_topic, events)
    async with running(settings_for(booking_events_topic=booking_topic)):
        await wait_for_messages(shop_stack.urls.mail_api_url, kept_to, 3)
        await wait_for_messages(shop_stack.urls.mail_api_url, refused_to, 2, settle=1.0)
    mails = await messages_to(shop_stack.urls.mail_api_url, kept_to)
    assert [m["Subject"] for m in mails] == [
        f"Booking {kept} received (status: pending)",
        f"Booking {kept} is confirmed",
        f"Booking {kept} is cancelled",
    ]
    pending, confirmed, cancelled = mails
    for mail in mails:
        assert names_booking(mail["Text"], kept), mail["Text"]
        assert "Table: 7" in mail["Text"] and "Price: 1,500.00" in mail["Text"]
        assert "Fri 14 Mar 2031, 16:00 to 18:00 (UTC+00:00)" in mail["Text"]
        assert "Ada Guest" in mail["Text"]
    # Only the acknowledgement carries the cancel link, and says that only the page's button cancels.
    link = received["cancel_url"]
    assert link in pending["Text"] and f'href="{link}"' in pending["HTML"]
    assert "only its Cancel button cancels it" in pending["Text"]
    assert all("/bookings/cancel/" not in m["Text"] + m["HTML"] for m in (confirmed, cancelled))
    assert "is confirmed" in confirmed["Text"] and "<td>confirmed</td>" in confirmed["HTML"]
    assert "The restaurant cancelled it." in cancelled["Text"]
    rejected = await messages_to(shop_stack.urls.mail_api_url, refused_to)
    assert [m["Subject"] for m in rejected] == [
        f"Booking {refused} received (status: pending)",
        f"Booking {refused} is rejected",
    ]
    assert "rejected" in rejected[1]["Text"] and "/bookings/cancel/" not in rejected[1]["Text"]


async def test_a_redelivered_booking_event_sends_nothing_again(
    shop_stack: Stack, settings_for: Callable[..., Settings], booking_topic: str, notifications_db: str
) -> None:
    booking_id, address = new_booking_id(), guest_address()
    event = booking_event(booking_id, "confirmed", "pending", email=address)
    kafka = shop_stack.urls.kafka_bootstrap_servers
    await produce(kafka, booking_topic, [event, event])
    async with running(settings_for(booking_events_topic=booking_topic)) as (_, client):
        await wait_for_messages(shop_stack.urls.mail_api_url, address, 1)
        await produce(kafka, booking_topic, [event])  # again, after its e-mail went out
        duplicates = 'notifications_events_total{outcome="duplicate"}'
        await eventually(lambda: _at_least(metric_value(client, duplicates), 2))
        mails = await wait_for_messages(shop_stack.urls.mail_api_url, address, 2, timeout=1.5)
    assert [m["Subject"] for m in mails] == [f"Booking {booking_id} is confirmed"]
    rows = await query(
        notifications_db,
        "SELECT (SELECT count(*) FROM inbox_events WHERE event_id = :e), "
        "(SELECT count(*) FROM notifications WHERE event_id = :e)",
        e=event["event_id"],
    )
    assert tuple(rows[0]) == (1, 1)


async def test_a_phone_only_booking_is_logged_as_not_emailable_and_sends_nothing(
    shop_stack: Stack,
    settings_for: Callable[..., Settings],
    booking_topic: str,
    notifications_db: str,
    test_issuer: TestIssuer,
) -> None:
    phoned, emailed, user = new_booking_id(), new_booking_id(), random.randint(10**9, 2 * 10**9)
    address = guest_address()
    events = [
        booking_event(phoned, "pending", email=None, phone="+44 20 7946 0000", user_id=user),
        booking_event(phoned, "confirmed", "pending", email=None, phone="+44 20 7946 0000", user_id=user),
        booking_event(emailed, "pending", email=address),
    ]
    await produce(shop_stack.urls.kafka_bootstrap_servers, booking_topic, events)
    async with running(settings_for(booking_events_topic=booking_topic)) as (_, client):
        # The other booking's e-mail, sent by the same worker, is the sign the worker has been round.
        await wait_for_messages(shop_stack.urls.mail_api_url, address, 1, settle=0.5)
        log = (await client.get("/api/v1/notifications", headers=test_issuer.auth(user, "customer"))).json()
    rows = await query(
        notifications_db,
        "SELECT booking_status, channel, status, attempts, recipient, last_error FROM notifications "
        "WHERE booking_id = :b ORDER BY id",
        b=phoned,
    )
    assert [tuple(r) for r in rows] == [
        ("pending", "email", "failed", 0, None, NO_BOOKING_ADDRESS),
        ("confirmed", "email", "failed", 0, None, NO_BOOKING_ADDRESS),
    ]
    assert [(n["booking_id"], n["booking_status"], n["status"], n["last_error"]) for n in log["items"]] == [
        (phoned, "confirmed", "failed", NO_BOOKING_ADDRESS),
        (phoned, "pending", "failed", NO_BOOKING_ADDRESS),
    ]
    async with httpx.AsyncClient(base_url=shop_stack.urls.mail_api_url, timeout=10) as mail:
        listing = (await mail.get("/api/v1/messages", params={"limit": 5000})).json()["messages"]
    assert not [m for m in listing if names_booking(m["Subject"], phoned)]


async def test_a_linked_booking_is_in_its_customers_log_and_a_guests_in_nobodys(
    shop_stack: Stack,
    checkout: Checkout,
    settings_for: Callable[..., Settings],
    booking_topic: str,
    topic: str,
    notifications_db: str,
    test_issuer: TestIssuer,
) -> None:
    customer = await checkout.register_customer()
    linked, guest = new_booking_id(), new_booking_id()
    linked_to, guest_to = guest_address(), guest_address()
    kafka = shop_stack.urls.kafka_bootstrap_servers
    await produce(kafka, topic, [order_event(new_booking_id(), customer.id, "paid", "awaiting payment")])
    await produce(
        kafka,
        booking_topic,
        [
            booking_event(linked, "pending", email=linked_to, user_id=customer.id),
            booking_event(guest, "pending", email=guest_to),
        ],
    )
    async with running(settings_for(loms_events_topic=topic, booking_events_topic=booking_topic)) as (_, client):
        await wait_for_messages(shop_stack.urls.mail_api_url, linked_to, 1)
        await wait_for_messages(shop_stack.urls.mail_api_url, guest_to, 1)
        await wait_for_messages(shop_stack.urls.mail_api_url, customer.email, 1)
        log = (await client.get("/api/v1/notifications", headers=test_issuer.auth(customer.id, "customer"))).json()
    by_kind = {("booking" if n["booking_id"] else "order"): n for n in log["items"]}
    assert sorted(by_kind) == ["booking", "order"]
    booking = by_kind["booking"]
    assert (booking["booking_id"], booking["booking_status"], booking["order_id"], booking["order_status"]) == (
        linked,
        "pending",
        None,
        None,
    )
    assert (booking["status"], booking["recipient"]) == ("sent", linked_to)
    assert by_kind["order"]["booking_id"] is None and by_kind["order"]["order_status"] == "paid"
    owners = await query(notifications_db, "SELECT user_id FROM notifications WHERE booking_id = :b", b=guest)
    assert [r.user_id for r in owners] == [None]


async def test_the_emails_of_two_interleaved_bookings_go_out_in_each_bookings_order(
    shop_stack: Stack, settings_for: Callable[..., Settings], booking_topic: str
) -> None:
    chain = [("pending", None), ("confirmed", "pending"), ("cancelled", "confirmed")]
    bookings = {new_booking_id(): guest_address() for _ in range(4)}
    events = [
        booking_event(booking_id, status, previous, email=address)
        for status, previous in chain
        for booking_id, address in bookings.items()
    ]
    await produce(shop_stack.urls.kafka_bootstrap_servers, booking_topic, events)
    async with running(settings_for(booking_events_topic=booking_topic, smtp_connections=12)):
        for address in bookings.values():
            await wait_for_messages(shop_stack.urls.mail_api_url, address, len(chain))
    for booking_id, address in bookings.items():
        subjects = [m["Subject"] for m in await summaries_to(shop_stack.urls.mail_api_url, address)]
        assert subjects == [
            f"Booking {booking_id} received (status: pending)",
            f"Booking {booking_id} is confirmed",
            f"Booking {booking_id} is cancelled",
        ]


async def test_while_a_bookings_email_is_retrying_its_later_ones_wait_behind_it(
    shop_stack: Stack, settings_for: Callable[..., Settings], booking_topic: str, notifications_db: str
) -> None:
    first, second = new_booking_id(), new_booking_id()
    first_to, second_to = guest_address(), guest_address()
    events = [
        booking_event(first, "pending", email=first_to),
        booking_event(second, "pending", email=second_to),
        booking_event(first, "confirmed", "pending", email=first_to),
        booking_event(second, "rejected", "pending", email=second_to),
        booking_event(first, "cancelled", "confirmed", email=first_to),
    ]
    attempts = (
        "SELECT booking_id, booking_status, attempts FROM notifications "
        "WHERE booking_id IN (:a, :b) AND status = 'pending' ORDER BY id"
    )
    mailcatcher = shop_stack.embedded.process("mailcatcher")
    async with running(settings_for(booking_events_topic=booking_topic, email_max_attempts=100)):
        await asyncio.to_thread(mailcatcher.stop)
        try:
            await produce(shop_stack.urls.kafka_bootstrap_servers, booking_topic, events)
            tried = await eventually(lambda: _tried_twice(query(notifications_db, attempts, a=first, b=second), 2))
        finally:
            await asyncio.to_thread(mailcatcher.start)
            await asyncio.to_thread(wait_port, mailcatcher, shop_stack.embedded.ports.mail_http, "mail catcher")
            await asyncio.to_thread(wait_port, mailcatcher, shop_stack.embedded.ports.smtp, "mail catcher SMTP")
        await wait_for_messages(shop_stack.urls.mail_api_url, first_to, 3, timeout=30)
        await wait_for_messages(shop_stack.urls.mail_api_url, second_to, 2, timeout=30)
    # Each booking's first e-mail is tried and retried; the later ones are not tried before it is sent.
    assert {(b, s) for b, s, n in tried if n > 0} == {(first, "pending"), (second, "pending")}, tried
    for booking_id, address, statuses in [
        (first, first_to, ["received (status: pending)", "is confirmed", "is cancelled"]),
        (second, second_to, ["received (status: pending)", "is rejected"]),
    ]:
        subjects = [m["Subject"] for m in await summaries_to(shop_stack.urls.mail_api_url, address)]
        assert subjects == [f"Booking {booking_id} {words}" for words in statuses]


async def test_unknown_types_malformed_events_and_unknown_statuses_on_the_bookings_topic_are_tolerated(
    shop_stack: Stack, settings_for: Callable[..., Settings], booking_topic: str, notifications_db: str
) -> None:
    booking_id, address = new_booking_id(), guest_address()
    odd_status = booking_event(booking_id, "no_show", "confirmed", email=address)
    raw: list[dict[str, Any] | bytes] = [
        orjson.dumps({**booking_event(booking_id, "confirmed"), "type": "booking.rated"}),
        orjson.dumps({**booking_event(booking_id, "confirmed"), "starts_at": "soon"}),
        odd_status,
        booking_event(booking_id, "confirmed", "pending", email=address, seating="window"),
    ]
    await produce(shop_stack.urls.kafka_bootstrap_servers, booking_topic, raw, key=str(booking_id).encode())
    async with running(settings_for(booking_events_topic=booking_topic)) as (_, client):
        mails = await wait_for_messages(shop_stack.urls.mail_api_url, address, 1, settle=0.5)
        unknown = await metric_value(client, 'notifications_events_skipped_total{reason="unknown_type"}')
        malformed = await metric_value(client, 'notifications_events_skipped_total{reason="malformed"}')
    assert [m["Subject"] for m in mails] == [f"Booking {booking_id} is confirmed"]
    assert (unknown, malformed) == (1.0, 1.0)
    # A status this service does not know is recorded (not retried for ever) but e-mails nobody.
    seen = await query(notifications_db, "SELECT 1 FROM inbox_events WHERE event_id = :e", e=odd_status["event_id"])
    told = await query(notifications_db, "SELECT 1 FROM notifications WHERE event_id = :e", e=odd_status["event_id"])
    assert (len(seen), len(told)) == (1, 0)


async def _tried_twice(rows: Any, bookings: int) -> list[Any] | None:
    """The rows once the first e-mail of each of `bookings` bookings has been tried at least twice."""
    found = list(await rows)
    return found if sum(1 for r in found if r.attempts >= 2) >= bookings else None


async def _at_least(value: Any, target: float) -> bool:
    return float(await value) >= target
