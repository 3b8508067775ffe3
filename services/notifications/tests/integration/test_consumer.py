"""The consumer against the real Kafka API, Postgres, Redis, SMTP catcher and checkout."""

import re
from collections.abc import Callable

import orjson
from aiokafka import AIOKafkaConsumer
from opentelemetry import context, propagate
from redis.asyncio import Redis

from notifications.config import Settings
from notifications.testing.events import order_event, produce
from notifications.testing.mail import summaries_to, wait_for_messages
from shopcommon.testing.plugin import Stack

from ..conftest import Checkout, eventually, query, running


async def partitions_of(bootstrap: str, *topics: str) -> int:
    """How many partitions the topics have, as the broker says."""
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap)
    await consumer.start()
    try:
        await consumer.topics()  # fetches the metadata of every topic
        return sum(len(consumer.partitions_for_topic(t) or ()) for t in topics)
    finally:
        await consumer.stop()


async def test_a_redelivered_event_is_recorded_once_and_emailed_once(
    shop_stack: Stack, checkout: Checkout, settings_for: Callable[..., Settings], topic: str, notifications_db: str
) -> None:
    customer = await checkout.register_customer()
    event = order_event(10_001, customer.id, "paid", "awaiting payment")
    await produce(shop_stack.urls.kafka_bootstrap_servers, topic, [event, event])
    async with running(settings_for(loms_events_topic=topic)):
        mails = await wait_for_messages(shop_stack.urls.mail_api_url, customer.email, 1, settle=1.5)
    assert [m["Subject"] for m in mails] == ["Order 10001 is paid"]
    rows = await query(notifications_db, "SELECT count(*) FROM inbox_events WHERE event_id = :e", e=event["event_id"])
    assert rows[0][0] == 1


async def test_malformed_unknown_and_unstorable_messages_are_skipped_and_counted(
    shop_stack: Stack, checkout: Checkout, settings_for: Callable[..., Settings], topic: str
) -> None:
    customer = await checkout.register_customer()
    good = order_event(10_002, customer.id, "completed", "paid")
    await produce(
        shop_stack.urls.kafka_bootstrap_servers,
        topic,
        [
            b"{not json",
            orjson.dumps({**order_event(10_002, customer.id, "paid"), "type": "order.rated"}),
            orjson.dumps({"type": "order.status_changed", "order_id": "x"}),
            order_event(2**63, customer.id, "paid"),
            order_event(10_002, customer.id, "paid", note="\u0000"),  # JSON Postgres will not store; same partition
            good,
        ],
    )
    settings = settings_for(loms_events_topic=topic)
    async with running(settings) as (_, client):
        mails = await wait_for_messages(shop_stack.urls.mail_api_url, customer.email, 1)
        metrics = (await client.get("/metrics")).text
    held = await partitions_of(shop_stack.urls.kafka_bootstrap_servers, topic, settings.booking_events_topic)
    assert [m["Subject"] for m in mails] == ["Order 10002 is completed"]
    assert 'notifications_events_skipped_total{reason="malformed"} 3.0' in metrics
    assert 'notifications_events_skipped_total{reason="rejected"} 1.0' in metrics
    assert 'notifications_events_skipped_total{reason="unknown_type"} 1.0' in metrics
    # The only member of its group, it held every partition of both topics.
    assert f"\nnotifications_consumer_partitions {held:.1f}\n" in metrics


async def test_the_emails_of_one_order_go_out_in_the_order_of_its_events(
    shop_stack: Stack, checkout: Checkout, settings_for: Callable[..., Settings], topic: str
) -> None:
    customer = await checkout.register_customer()
    chain = [("new", None), ("awaiting payment", "new"), ("paid", "awaiting payment"), ("completed", "paid")]
    events = [order_event(10_003, customer.id, status, previous) for status, previous in chain]
    await produce(shop_stack.urls.kafka_bootstrap_servers, topic, events)
    async with running(settings_for(loms_events_topic=topic)):
        await wait_for_messages(shop_stack.urls.mail_api_url, customer.email, 4)
    subjects = [m["Subject"] for m in await summaries_to(shop_stack.urls.mail_api_url, customer.email)]
    assert subjects == [
        "Order 10003 received (status: new)",
        "Order 10003 is awaiting payment",
        "Order 10003 is paid",
        "Order 10003 is completed",
    ]


async def test_an_unknown_status_is_streamed_but_not_emailed(
    shop_stack: Stack, checkout: Checkout, settings_for: Callable[..., Settings], topic: str, notifications_db: str
) -> None:
    customer = await checkout.register_customer()
    event = order_event(10_004, customer.id, "shipped", "paid")
    await produce(shop_stack.urls.kafka_bootstrap_servers, topic, [event])
    async with running(settings_for(loms_events_topic=topic)):
        await eventually(
            lambda: query(notifications_db, "SELECT 1 FROM inbox_events WHERE event_id = :e", e=event["event_id"])
        )
    emails = await query(notifications_db, "SELECT count(*) FROM notifications WHERE order_id = 10004")
    assert emails[0][0] == 0


async def test_a_notification_keeps_the_trace_context_its_event_arrived_with(
    shop_stack: Stack, checkout: Checkout, settings_for: Callable[..., Settings], topic: str, notifications_db: str
) -> None:
    """The sender's span continues it (`shopcommon.tracing.continuing`), so the e-mail joins the
    trace of the request that changed the order. Published within the caller's trace, as the relay
    publishes (once this process's Kafka client is instrumented, the header names its send span)."""
    customer = await checkout.register_customer()
    traced = order_event(10_005, customer.id, "paid", "awaiting payment")
    other = order_event(10_006, customer.id, "paid")
    caller_trace = "4bf92f3577b34da6a3ce929d0e0e4736"
    caller = f"00-{caller_trace}-00f067aa0ba902b7-01"
    bootstrap = shop_stack.urls.kafka_bootstrap_servers
    token = context.attach(propagate.extract({"traceparent": caller}))
    try:
        await produce(bootstrap, topic, [traced], headers=[("traceparent", caller.encode())])
    finally:
        context.detach(token)
    await produce(bootstrap, topic, [other])
    async with running(settings_for(loms_events_topic=topic)):
        await wait_for_messages(shop_stack.urls.mail_api_url, customer.email, 2)
    rows = await query(
        notifications_db,
        "SELECT order_id, traceparent, status FROM notifications WHERE order_id IN (10005, 10006) ORDER BY order_id",
    )
    (_, kept, sent), (_, other_kept, other_sent) = rows
    assert (sent, other_sent) == ("sent", "sent")
    assert kept is not None and re.fullmatch(rf"00-{caller_trace}-[0-9a-f]{{16}}-01", kept), kept
    assert other_kept is None or caller_trace not in other_kept


async def test_with_redis_down_every_event_is_still_recorded_and_emailed(
    shop_stack: Stack, checkout: Checkout, settings_for: Callable[..., Settings], topic: str, notifications_db: str
) -> None:
    """Streaming after the commit failed the chunk: with Redis gone, the consumer went back to the
    same chunk for ever and no later event was recorded, so no e-mail went out until Redis returned."""
    customer = await checkout.register_customer()
    chain = [("new", None), ("awaiting payment", "new"), ("paid", "awaiting payment")]
    events = [order_event(10_007, customer.id, status, previous) for status, previous in chain]
    async with running(settings_for(loms_events_topic=topic, consumer_transaction_size=1)) as (app, _):
        redis_gone = Redis.from_url("redis://127.0.0.1:9/0")  # the discard port: refused at once
        app.state.stream_hub.redis = redis_gone  # Redis goes away once the service runs
        try:
            await produce(shop_stack.urls.kafka_bootstrap_servers, topic, events)
            mails = await wait_for_messages(shop_stack.urls.mail_api_url, customer.email, 3)
        finally:
            await redis_gone.aclose()
    assert [m["Subject"] for m in mails] == [
        "Order 10007 received (status: new)",
        "Order 10007 is awaiting payment",
        "Order 10007 is paid",
    ]
    gone = await query(notifications_db, "SELECT count(*) FROM inbox_events WHERE order_id = 10007")
    assert gone[0][0] == 3
