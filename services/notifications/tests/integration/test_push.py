"""Web push against a local push service that decrypts what it receives (the real one is outside)."""

from collections.abc import Callable

import httpx

from notifications.config import Settings
from notifications.push import b64url_decode
from notifications.testing.events import order_event, produce
from notifications.testing.push_service import LocalPushService
from shopcommon.testing.plugin import Stack
from shopcommon.testing.tokens import TestIssuer

from ..conftest import eventually, query, running

USER = 4242


def no_email(settings_for: Callable[..., Settings], **kw: object) -> Settings:
    return settings_for(email_sender_enabled=False, **kw)


async def subscribe(
    client: httpx.AsyncClient, body: dict[str, object], user: int, issuer: TestIssuer
) -> httpx.Response:
    return await client.post("/api/v1/push/subscriptions", json=body, headers=issuer.auth(user, "customer"))


async def test_the_vapid_public_key_is_an_uncompressed_p256_point(settings_for: Callable[..., Settings]) -> None:
    async with running(settings_for(consumer_enabled=False)) as (_, client):
        resp = await client.get("/api/v1/push/vapid-public-key")
    key = b64url_decode(resp.json()["public_key"])
    assert resp.status_code == 200 and len(key) == 65 and key[0] == 4


async def test_a_subscriber_receives_a_payload_it_can_decrypt(
    shop_stack: Stack,
    settings_for: Callable[..., Settings],
    topic: str,
    push_service: LocalPushService,
    test_issuer: TestIssuer,
) -> None:
    subscriber = push_service.subscriber()
    async with running(no_email(settings_for, loms_events_topic=topic, push_ttl_seconds=120)) as (_, client):
        assert (await subscribe(client, subscriber.subscription(), USER, test_issuer)).status_code == 201
        event = order_event(30_001, USER, "paid", "awaiting payment")
        await produce(shop_stack.urls.kafka_bootstrap_servers, topic, [event])
        received = await push_service.wait_for(subscriber, 1)
    assert len(received) == 1
    assert received[0].payload["event_id"] == event["event_id"]
    assert received[0].payload["status"] == "paid" and received[0].payload["order_id"] == 30_001
    assert received[0].payload["title"] == "Order 30001 is paid"
    assert received[0].headers["ttl"] == "120" and received[0].vapid_valid


async def test_a_subscription_the_push_service_calls_gone_is_deleted(
    shop_stack: Stack,
    settings_for: Callable[..., Settings],
    topic: str,
    push_service: LocalPushService,
    test_issuer: TestIssuer,
    notifications_db: str,
) -> None:
    subscriber = push_service.subscriber()
    push_service.answer_next(subscriber, 410)
    async with running(no_email(settings_for, loms_events_topic=topic)) as (_, client):
        await subscribe(client, subscriber.subscription(), USER + 1, test_issuer)
        await produce(shop_stack.urls.kafka_bootstrap_servers, topic, [order_event(30_002, USER + 1, "paid")])
        await eventually(
            lambda: query(notifications_db, "SELECT 1 FROM notifications WHERE order_id = 30002 AND status = 'failed'")
        )
    left = await query(
        notifications_db, "SELECT count(*) FROM push_subscriptions WHERE endpoint = :e", e=subscriber.endpoint
    )
    assert left[0][0] == 0
    assert push_service.tries(subscriber) == 1


async def test_a_push_refused_with_429_or_5xx_is_retried_until_accepted(
    shop_stack: Stack,
    settings_for: Callable[..., Settings],
    topic: str,
    push_service: LocalPushService,
    test_issuer: TestIssuer,
    notifications_db: str,
) -> None:
    subscriber = push_service.subscriber()
    push_service.answer_next(subscriber, 429, 503)
    async with running(no_email(settings_for, loms_events_topic=topic)) as (_, client):
        await subscribe(client, subscriber.subscription(), USER + 2, test_issuer)
        await produce(shop_stack.urls.kafka_bootstrap_servers, topic, [order_event(30_003, USER + 2, "paid")])
        received = await push_service.wait_for(subscriber, 1)
    rows = await query(
        notifications_db, "SELECT status, attempts FROM notifications WHERE order_id = 30003 AND channel = 'push'"
    )
    assert len(received) == 1 and push_service.tries(subscriber) == 3
    assert [(r.status, r.attempts) for r in rows] == [("sent", 3)]


async def test_subscribing_again_updates_and_unsubscribing_removes(
    settings_for: Callable[..., Settings], push_service: LocalPushService, test_issuer: TestIssuer
) -> None:
    body = push_service.subscriber().subscription()
    async with running(settings_for(consumer_enabled=False)) as (_, client):
        first = await subscribe(client, body, USER + 3, test_issuer)
        again = await subscribe(client, body, USER + 3, test_issuer)
        auth = test_issuer.auth(USER + 3, "customer")
        removed = await client.request(
            "DELETE", "/api/v1/push/subscriptions", json={"endpoint": body["endpoint"]}, headers=auth
        )
        missing = await client.request(
            "DELETE", "/api/v1/push/subscriptions", json={"endpoint": body["endpoint"]}, headers=auth
        )
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()["id"] == again.json()["id"]
    assert (removed.status_code, missing.status_code) == (204, 404)


async def test_unusable_subscriptions_are_refused_with_422_and_nothing_stored(
    settings_for: Callable[..., Settings],
    push_service: LocalPushService,
    test_issuer: TestIssuer,
    notifications_db: str,
) -> None:
    good = push_service.subscriber().subscription()
    bad_bodies = [
        {**good, "keys": {"p256dh": "AAAA", "auth": good["keys"]["auth"]}},
        {**good, "endpoint": "ftp://push.test/x"},
        {"endpoint": good["endpoint"]},
    ]
    async with running(settings_for(consumer_enabled=False)) as (_, client):
        answers = [await subscribe(client, body, USER + 4, test_issuer) for body in bad_bodies]
        unauthenticated = await client.post("/api/v1/push/subscriptions", json=good)
    assert [a.status_code for a in answers] == [422, 422, 422]
    assert all(a.headers["content-type"] == "application/problem+json" for a in answers)
    assert unauthenticated.status_code == 401
    stored = await query(notifications_db, "SELECT count(*) FROM push_subscriptions WHERE user_id = :u", u=USER + 4)
    assert stored[0][0] == 0


async def test_subscriptions_beyond_the_per_user_limit_are_refused_with_409(
    settings_for: Callable[..., Settings], push_service: LocalPushService, test_issuer: TestIssuer
) -> None:
    first, second = push_service.subscriber().subscription(), push_service.subscriber().subscription()
    async with running(settings_for(consumer_enabled=False, max_subscriptions_per_user=1)) as (_, client):
        accepted = await subscribe(client, first, USER + 5, test_issuer)
        refused = await subscribe(client, second, USER + 5, test_issuer)
        again = await subscribe(client, first, USER + 5, test_issuer)
    assert (accepted.status_code, refused.status_code, again.status_code) == (201, 409, 200)
