"""Web push against a local push service that decrypts what it receives (the real one is outside)."""

import asyncio
import base64
from collections.abc import Callable

import httpx
import jsonschema_rs
from pydantic import ValidationError

from notifications.api.schemas import PushSubscriptionIn
from notifications.config import Settings
from notifications.push import b64url_decode
from notifications.push_guard import DestinationGuard
from notifications.testing.events import order_event, produce
from notifications.testing.push_service import LocalPushService, local_push_guard
from shopcommon.devstack.servers import free_port
from shopcommon.testing.plugin import Stack
from shopcommon.testing.tokens import TestIssuer

from ..conftest import eventually, execute, query, running

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
    off_curve = base64.urlsafe_b64encode(b"\x04" + b"\x01" * 64).decode().rstrip("=")
    bad_bodies = [
        {**good, "keys": {"p256dh": "AAAA", "auth": good["keys"]["auth"]}},
        {**good, "keys": {"p256dh": off_curve, "auth": good["keys"]["auth"]}},  # the right shape, off the curve
        {**good, "endpoint": "ftp://push.test/x"},
        {"endpoint": good["endpoint"]},
    ]
    async with running(settings_for(consumer_enabled=False)) as (_, client):
        answers = [await subscribe(client, body, USER + 4, test_issuer) for body in bad_bodies]
        unauthenticated = await client.post("/api/v1/push/subscriptions", json=good)
    assert [a.status_code for a in answers] == [422] * 4
    assert answers[1].json()["type"].endswith("/push-key-refused")
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


def _admits(body: dict[str, object]) -> bool:
    try:
        PushSubscriptionIn.model_validate(body)
    except ValidationError:
        return False
    return True


REFUSED_ENDPOINTS = [
    "http://push.example.com/push/abc",
    "https://localhost/push/abc",  # resolves to loopback
    "https://127.0.0.1/push/abc",
    "https://[::1]/push/abc",
    "https://10.1.2.3/push/abc",
    "https://192.168.0.10/push/abc",
    "https://169.254.169.254/latest/meta-data/",
    "https://100.64.0.1/push/abc",
    "https://[fd00::1]/push/abc",
    "https://[fe80::1]/push/abc",
    "https://[::ffff:10.0.0.1]/push/abc",
    "https://[64:ff9b::a00:1]/push/abc",
    "https://2130706433/push/abc",
    "https://[x/",
    "https://h:abc/",
    "https://h:99999/",
    "https:///push/abc",
    "https://user:pw@push.example.com/push/abc",
    "https://no-such-host.invalid/push/abc",
    "https://push.example.com/" + "a" * 3000,
]


async def test_subscribing_a_private_loopback_or_malformed_endpoint_is_a_422(
    settings_for: Callable[..., Settings],
    push_service: LocalPushService,
    test_issuer: TestIssuer,
    notifications_db: str,
) -> None:
    """One of the wrong shape (the body's model refuses it) is a validation error. One of the
    documented shape that the service will not push to (where the host resolves, user info, an
    IPv6 literal, ...: what no schema can say) is `push-endpoint-refused`, whatever the document
    says of it beyond the model (`format: uri`), so a schema-valid request is never a validation error."""
    keys = push_service.subscriber().subscription()["keys"]
    # The production guard: the system's resolver, no exceptions.
    async with running(settings_for(consumer_enabled=False), push_guard=DestinationGuard()) as (app, client):
        answers = [
            await subscribe(client, {"endpoint": endpoint, "keys": keys}, USER + 6, test_issuer)
            for endpoint in REFUSED_ENDPOINTS
        ]
        document = app.openapi()
    assert [a.status_code for a in answers] == [422] * len(REFUSED_ENDPOINTS), [a.text for a in answers]
    assert all(a.headers["content-type"] == "application/problem+json" for a in answers)
    assert all(a.json()["errors"][0]["field"].endswith("endpoint") for a in answers)
    schema = jsonschema_rs.Draft202012Validator(
        {"$ref": "#/components/schemas/PushSubscriptionIn", "components": document["components"]},
        validate_formats=True,
    )
    kinds = [a.json()["type"].rsplit("/", 1)[1] for a in answers]
    for endpoint, kind in zip(REFUSED_ENDPOINTS, kinds, strict=True):
        body = {"endpoint": endpoint, "keys": keys}
        if schema.is_valid(body):
            assert kind == "push-endpoint-refused", endpoint
        else:
            assert kind == ("push-endpoint-refused" if _admits(body) else "validation-error"), endpoint
    assert "push-endpoint-refused" in kinds and "validation-error" in kinds
    stored = await query(notifications_db, "SELECT count(*) FROM push_subscriptions WHERE user_id = :u", u=USER + 6)
    assert stored[0][0] == 0


async def test_a_host_resolving_to_a_private_address_at_send_time_gets_no_push_and_no_retry(
    shop_stack: Stack,
    settings_for: Callable[..., Settings],
    topic: str,
    push_service: LocalPushService,
    test_issuer: TestIssuer,
    notifications_db: str,
) -> None:
    subscriber = push_service.subscriber()
    guard = local_push_guard()
    async with running(no_email(settings_for, loms_events_topic=topic), push_guard=guard) as (_, client):
        assert (await subscribe(client, subscriber.subscription(), USER + 7, test_issuer)).status_code == 201
        guard.allowed_networks = ()  # DNS now says 127.0.0.1, which is not public
        await produce(shop_stack.urls.kafka_bootstrap_servers, topic, [order_event(30_007, USER + 7, "paid")])
        rows = await eventually(
            lambda: query(
                notifications_db,
                "SELECT status, attempts, last_error FROM notifications WHERE order_id = 30007 AND status = 'failed'",
            )
        )
        await asyncio.sleep(0.5)
        log = (await client.get("/api/v1/notifications", headers=test_issuer.auth(USER + 7, "customer"))).json()
    assert [(r.attempts, r.last_error) for r in rows] == [(1, "the push endpoint's address is not allowed")]
    assert push_service.tries(subscriber) == 0
    pushes = [n for n in log["items"] if n["channel"] == "push"]
    assert [n["last_error"] for n in pushes] == ["the push endpoint's address is not allowed"]


async def test_a_stored_endpoint_that_is_not_a_url_fails_once_and_is_removed(
    shop_stack: Stack,
    settings_for: Callable[..., Settings],
    topic: str,
    push_service: LocalPushService,
    notifications_db: str,
) -> None:
    keys = push_service.subscriber().subscription()["keys"]
    await execute(
        notifications_db,
        "INSERT INTO push_subscriptions (user_id, endpoint, p256dh, auth) VALUES (:u, 'https://[x/', :p, :a)",
        u=USER + 8,
        p=keys["p256dh"],
        a=keys["auth"],
    )
    async with running(no_email(settings_for, loms_events_topic=topic)):
        await produce(shop_stack.urls.kafka_bootstrap_servers, topic, [order_event(30_008, USER + 8, "paid")])
        rows = await eventually(
            lambda: query(
                notifications_db,
                "SELECT attempts, last_error FROM notifications WHERE order_id = 30008 AND status = 'failed'",
            )
        )
    assert [(r.attempts, r.last_error) for r in rows] == [(1, "the push endpoint is not usable")]
    left = await query(notifications_db, "SELECT count(*) FROM push_subscriptions WHERE user_id = :u", u=USER + 8)
    assert left[0][0] == 0


async def test_the_notification_log_shows_neutral_reasons_not_remote_or_exception_text(
    shop_stack: Stack,
    settings_for: Callable[..., Settings],
    topic: str,
    push_service: LocalPushService,
    test_issuer: TestIssuer,
) -> None:
    refusing = push_service.subscriber()
    push_service.answer_next(refusing, 400, body=b"Traceback (most recent call last): internal detail 10.0.0.7")
    closed_port = free_port()
    unreachable = {**push_service.subscriber().subscription(), "endpoint": f"https://push.test:{closed_port}/push/x"}
    auth = test_issuer.auth(USER + 9, "customer")
    async with running(no_email(settings_for, loms_events_topic=topic)) as (_, client):
        assert (await subscribe(client, refusing.subscription(), USER + 9, test_issuer)).status_code == 201
        assert (await subscribe(client, unreachable, USER + 9, test_issuer)).status_code == 201
        await produce(shop_stack.urls.kafka_bootstrap_servers, topic, [order_event(30_009, USER + 9, "paid")])

        async def both_tried() -> list[dict[str, object]]:
            items = (await client.get("/api/v1/notifications", headers=auth)).json()["items"]
            items = [n for n in items if n["channel"] == "push"]
            return items if len(items) == 2 and all(n["last_error"] for n in items) else []

        log = await eventually(both_tried)
    assert sorted(n["last_error"] for n in log) == [
        "push service refused the message (400)",
        "push service unreachable",
    ]
    text = str(log)
    assert "Traceback" not in text and "10.0.0.7" not in text and "rrno" not in text and "onnect" not in text


async def test_a_browser_subscribed_again_by_another_account_gets_none_of_the_first_accounts_pushes(
    shop_stack: Stack,
    settings_for: Callable[..., Settings],
    topic: str,
    push_service: LocalPushService,
    test_issuer: TestIssuer,
    notifications_db: str,
) -> None:
    """Subscribing a known endpoint takes the row over and keeps its id: a push of the first
    account waiting for a retry was then sent to the browser of the second (its order, its status)."""
    first, second = USER + 30, USER + 31
    subscriber = push_service.subscriber()
    push_service.answer_next(subscriber, 503)
    settings = no_email(settings_for, loms_events_topic=topic, retry_base_seconds=3.0, retry_max_seconds=5.0)
    async with running(settings) as (_, client):
        assert (await subscribe(client, subscriber.subscription(), first, test_issuer)).status_code == 201
        await produce(shop_stack.urls.kafka_bootstrap_servers, topic, [order_event(30_030, first, "paid")])
        await eventually(
            lambda: query(
                notifications_db,
                "SELECT 1 FROM notifications WHERE order_id = 30030 AND channel = 'push' AND last_error IS NOT NULL",
            )
        )
        # The first account signed out; the second signs in on the same browser and turns pushes on.
        assert (await subscribe(client, subscriber.subscription(), second, test_issuer)).status_code == 200
        failed = await eventually(
            lambda: query(
                notifications_db,
                "SELECT last_error FROM notifications WHERE order_id = 30030 AND channel = 'push' AND status = 'failed'",
            )
        )
    assert failed[0].last_error == "subscription moved to another account"
    assert push_service.tries(subscriber) == 1
    assert push_service.payloads(subscriber) == []
