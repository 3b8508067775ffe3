"""The service as real processes: a consumer killed in the middle of a batch, and a broker that
comes back empty."""

import asyncio
import re
import uuid
from collections.abc import Awaitable, Callable

import asyncpg
import httpx
from aiokafka import AIOKafkaConsumer, TopicPartition

from notifications.config import Settings
from notifications.testing.events import booking_event, order_event, produce
from notifications.testing.mail import summaries_to
from notifications.testing.push_service import LocalPushService, local_push_env, serve_push_service
from notifications.testing.tls import TestCertificate
from shopcommon.db import plain_url
from shopcommon.services import service_spec
from shopcommon.testing.plugin import ServiceProcess, Stack
from shopcommon.testing.tokens import TestIssuer

from ..conftest import Checkout, eventually, process_env, query, running


async def committed_total(bootstrap: str, topic: str, group: str) -> int:
    """The group's committed offsets summed over the topic's partitions (read without joining the group)."""
    reader = AIOKafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
    await reader.start()
    try:
        partitions = reader.partitions_for_topic(topic) or set()
        offsets = [await reader.committed(TopicPartition(topic, p)) for p in partitions]
    finally:
        await reader.stop()
    return sum(offset or 0 for offset in offsets)


async def start(env: dict[str, str], shop_stack: Stack) -> ServiceProcess:
    proc = ServiceProcess(service_spec("notifications"), env, shop_stack.embedded.log_dir)
    return await asyncio.to_thread(proc.start, 60)


def metric(text: str, name: str) -> float:
    found = re.search(rf"^{re.escape(name)} (\S+)$", text, re.MULTILINE)
    return float(found.group(1)) if found else 0.0


async def test_a_consumer_killed_mid_batch_and_restarted_emails_every_order_exactly_once(
    shop_stack: Stack, checkout: Checkout, test_issuer: TestIssuer, topic: str, notifications_db: str
) -> None:
    customer, orders = await checkout.register_customer(), range(60_000, 60_400)
    kafka, group = shop_stack.urls.kafka_bootstrap_servers, f"notifications-{uuid.uuid4().hex[:8]}"
    await produce(kafka, topic, [order_event(o, customer.id, "paid", "awaiting payment") for o in orders])
    base = process_env(
        shop_stack,
        database_url=notifications_db,
        checkout_url=checkout.url,
        issuer=test_issuer,
        topic=topic,
        group=group,
        push_sender_enabled=False,
    )
    consumer_env = {
        **base,
        "NOTIFICATIONS_EMAIL_SENDER_ENABLED": "false",
        "NOTIFICATIONS_CONSUMER_BATCH_SIZE": "200",
        "NOTIFICATIONS_CONSUMER_TRANSACTION_SIZE": "5",
    }
    sender = await start({**base, "NOTIFICATIONS_CONSUMER_ENABLED": "false"}, shop_stack)
    consumer = await start(consumer_env, shop_stack)
    restarted = None
    watcher = await asyncpg.connect(plain_url(notifications_db))
    try:

        async def handled() -> int:
            return int(await watcher.fetchval("SELECT count(*) FROM inbox_events WHERE order_id >= 60000"))

        async def mailed() -> int:
            return len(await summaries_to(shop_stack.urls.mail_api_url, customer.email))

        # A batch is 200 events, recorded 5 per transaction; its offsets are committed once all are handled.
        await eventually(lambda: _reached(handled(), 30), interval=0.002)
        await asyncio.to_thread(consumer.kill)
        handled_at_kill, committed_at_kill = await handled(), await committed_total(kafka, topic, group)
        restarted = await start(consumer_env, shop_stack)
        await eventually(lambda: _reached(mailed(), len(orders)), timeout=90, interval=0.5)
        await asyncio.sleep(2.0)
        mails = await summaries_to(shop_stack.urls.mail_api_url, customer.email)
        async with httpx.AsyncClient(timeout=10) as client:
            metrics = (await client.get(restarted.url + "/metrics")).text
    finally:
        await watcher.close()
        for proc in (restarted, consumer, sender):
            if proc is not None:
                await asyncio.to_thread(proc.stop)
    assert committed_at_kill < handled_at_kill < len(orders), (committed_at_kill, handled_at_kill)
    assert sorted(m["Subject"] for m in mails) == sorted(f"Order {o} is paid" for o in orders)
    redelivered = metric(metrics, 'notifications_events_total{outcome="duplicate"}')
    assert redelivered == handled_at_kill - committed_at_kill, (handled_at_kill, committed_at_kill)


async def test_the_consumer_resumes_after_the_broker_comes_back_empty(
    shop_stack: Stack,
    settings_for: Callable[..., Settings],
    topic: str,
    booking_topic: str,
    notifications_db: str,
) -> None:
    kafka = shop_stack.urls.kafka_bootstrap_servers
    before, after = order_event(61_001, 77, "new"), order_event(61_001, 77, "awaiting payment", "new")
    booked, confirmed = booking_event(61_002, "pending"), booking_event(61_002, "confirmed", "pending")
    seen = "SELECT 1 FROM inbox_events WHERE event_id = :e"
    settings = settings_for(loms_events_topic=topic, booking_events_topic=booking_topic, email_sender_enabled=False)
    async with running(settings):
        await produce(kafka, topic, [before])
        await produce(kafka, booking_topic, [booked])
        for event in (before, booked):
            await eventually(lambda e=event: query(notifications_db, seen, e=e["event_id"]))
        await asyncio.to_thread(shop_stack.embedded.restart, "tansu")
        await asyncio.sleep(1.0)
        await produce(kafka, topic, [after])
        await produce(kafka, booking_topic, [confirmed])
        for event in (after, confirmed):
            await eventually(lambda e=event: query(notifications_db, seen, e=e["event_id"]), timeout=60)


async def _reached(count: Awaitable[int], target: int) -> bool:
    return await count >= target


async def test_a_process_configured_for_a_local_push_service_pushes_to_it_over_https(
    shop_stack: Stack,
    checkout: Checkout,
    test_issuer: TestIssuer,
    topic: str,
    notifications_db: str,
    push_tls: TestCertificate,
) -> None:
    """As the end-to-end tests run it: settings, not code, let a dev process reach 127.0.0.1."""
    push_service, user = LocalPushService(), 62_000
    env = process_env(
        shop_stack,
        database_url=notifications_db,
        checkout_url=checkout.url,
        issuer=test_issuer,
        topic=topic,
        group=f"notifications-{uuid.uuid4().hex[:8]}",
        email_sender_enabled=False,
    )
    async with serve_push_service(push_service, push_tls, host="127.0.0.1"):
        subscriber = push_service.subscriber()
        proc = await start({**env, **local_push_env(push_tls)}, shop_stack)
        try:
            async with httpx.AsyncClient(base_url=proc.url, timeout=10) as client:
                subscribed = await client.post(
                    "/api/v1/push/subscriptions",
                    json=subscriber.subscription(),
                    headers=test_issuer.auth(user, "customer"),
                )
            await produce(shop_stack.urls.kafka_bootstrap_servers, topic, [order_event(62_001, user, "paid")])
            received = await push_service.wait_for(subscriber, 1, timeout=30)
        finally:
            await asyncio.to_thread(proc.stop)
    assert subscribed.status_code == 201, subscribed.text
    assert subscriber.endpoint.startswith("https://127.0.0.1:")
    assert [r.payload["order_id"] for r in received] == [62_001]
