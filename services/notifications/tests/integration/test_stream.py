"""The live SSE stream, served by uvicorn over real HTTP, fed through Kafka and Redis."""

import asyncio
import contextlib
import random
import time
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import anyio
import httpx
import jsonschema_rs
import orjson
import pytest
from fastapi import FastAPI
from redis.asyncio import Redis
from redis.exceptions import ConnectionError as RedisConnectionError

from notifications.config import Settings
from notifications.stream import CHANNEL_PREFIX, QUEUE_SIZE, RESUME, STAFF, StreamEvent, StreamHub
from notifications.stream_body import OPENING_FRAME, RESUME_FRAME, event_stream
from notifications.stream_limits import KEY_PREFIX
from notifications.testing.events import booking_event, order_event, produce, stock_event, table_event
from notifications.testing.sse import SseFrame, sse_frames
from shopcommon.testing.plugin import Stack
from shopcommon.testing.tokens import TestIssuer

from ..conftest import eventually, query, running

STREAM = "/api/v1/events/stream"


def quiet(settings_for: Callable[..., Settings], **kw: object) -> Settings:
    """Only the consumer and the stream: no e-mail, no push."""
    return settings_for(email_sender_enabled=False, push_sender_enabled=False, **kw)


def new_user() -> int:
    return random.randint(10**9, 2 * 10**9)


async def next_event(frames: AsyncIterator[SseFrame], timeout: float = 15.0) -> SseFrame:
    async def first_event() -> SseFrame:
        async for frame in frames:
            if not frame.is_heartbeat:
                return frame
        raise AssertionError("stream ended")

    return await asyncio.wait_for(first_event(), timeout)


async def test_an_sse_client_sees_each_status_change_within_a_second(
    shop_stack: Stack, settings_for: Callable[..., Settings], topic: str, test_issuer: TestIssuer
) -> None:
    user, kafka = new_user(), shop_stack.urls.kafka_bootstrap_servers
    async with (
        running(quiet(settings_for, loms_events_topic=topic)) as (_, client),
        client.stream("GET", STREAM, headers=test_issuer.auth(user, "customer")) as resp,
    ):
        assert resp.headers["content-type"].startswith("text/event-stream")
        frames = sse_frames(resp)
        await produce(kafka, topic, [order_event(40_001, user, "new")])
        await next_event(frames)  # the consumer has joined its group by now
        event = order_event(40_001, user, "awaiting payment", "new")
        started = time.monotonic()
        await produce(kafka, topic, [event])
        frame = await next_event(frames)
        elapsed = time.monotonic() - started
    assert (frame.id, frame.event) == (event["event_id"], "order.status_changed")
    assert orjson.loads(frame.data) == event
    assert elapsed < 1.0


async def test_a_client_reconnecting_with_last_event_id_gets_what_it_missed(
    shop_stack: Stack, settings_for: Callable[..., Settings], topic: str, test_issuer: TestIssuer, notifications_db: str
) -> None:
    user, kafka = new_user(), shop_stack.urls.kafka_bootstrap_servers
    auth = test_issuer.auth(user, "customer")
    first, *missed = [
        order_event(40_002, user, s, p)
        for s, p in [("new", None), ("awaiting payment", "new"), ("cancelled", "awaiting payment")]
    ]
    async with running(quiet(settings_for, loms_events_topic=topic)) as (_, client):
        async with client.stream("GET", STREAM, headers=auth) as resp:
            await produce(kafka, topic, [first])
            seen = await next_event(sse_frames(resp))
        await produce(kafka, topic, missed)
        await eventually(
            lambda: query(notifications_db, "SELECT 1 FROM inbox_events WHERE event_id = :e", e=missed[-1]["event_id"])
        )
        await asyncio.sleep(0.2)
        async with client.stream("GET", STREAM, headers={**auth, "Last-Event-ID": str(seen.id)}) as resp:
            frames = sse_frames(resp)
            replayed = [await next_event(frames), await next_event(frames)]
    assert seen.id == first["event_id"]
    assert [f.id for f in replayed] == [e["event_id"] for e in missed]


async def test_a_replica_without_the_consumer_streams_what_another_replica_consumed(
    shop_stack: Stack, settings_for: Callable[..., Settings], topic: str, test_issuer: TestIssuer
) -> None:
    user = new_user()
    event = order_event(40_003, user, "paid", "awaiting payment")
    async with (
        running(quiet(settings_for, loms_events_topic=topic)),
        running(quiet(settings_for, consumer_enabled=False)) as (_, other_replica),
        other_replica.stream("GET", STREAM, headers=test_issuer.auth(user, "customer")) as resp,
    ):
        frames = sse_frames(resp)
        await produce(shop_stack.urls.kafka_bootstrap_servers, topic, [event])
        frame = await next_event(frames)
    assert frame.id == event["event_id"]


def documented_event_check(app: FastAPI) -> Callable[[SseFrame], None]:
    """Checks a frame as schemathesis does: the event (`id`, `event`, `data`) against the schema the
    document gives `text/event-stream`, and `data`, parsed as JSON, against the `contentSchema` of
    the branch naming that event, with the same validator (jsonschema-rs, formats asserted)."""
    document = app.openapi()
    response = document["paths"][STREAM]["get"]["responses"]["200"]
    schema = response["content"]["text/event-stream"]["schema"]
    components = {"components": document["components"]}

    def validator(part: dict[str, object]) -> jsonschema_rs.Validator:
        return jsonschema_rs.Draft202012Validator({**part, **components}, validate_formats=True)

    event_check = validator(schema)
    data_schemas = {
        branch.get("properties", {}).get("event", {}).get("const"): branch.get("properties", {}).get("data", {})
        for branch in schema.get("oneOf", [schema])
    }

    def check(frame: SseFrame) -> None:
        event_check.validate({"id": frame.id, "event": frame.event, "data": frame.data})
        data = data_schemas[frame.event]
        assert data.get("contentMediaType") == "application/json" and "contentSchema" in data, data
        validator(data["contentSchema"]).validate(orjson.loads(frame.data))

    return check


async def test_every_streamed_event_matches_the_documented_event_schema(
    shop_stack: Stack, settings_for: Callable[..., Settings], topic: str, test_issuer: TestIssuer
) -> None:
    user = new_user()
    contract = [
        order_event(40_010, user, "new"),
        order_event(40_010, user, "awaiting payment", "new"),
        order_event(40_010, user, "paid", "awaiting payment"),
        order_event(40_010, user, "completed", "paid"),
        order_event(40_011, user, "failed", "new", items=[{"sku": 5, "count": 1}], total_price=None),
        order_event(40_012, user, "cancelled", "awaiting payment", reason="timeout"),
        order_event(40_013, user, "shipped", "paid", warehouse={"id": 3, "note": None}),
    ]
    # What parses but is not spelt as the schema says: a string for a number, a UUID without
    # hyphens, a time without an offset. The stream sends it in the documented spelling.
    lax = {
        **order_event(40_014, user, "paid", "awaiting payment"),
        "event_id": uuid.uuid4().hex,
        "order_id": "40014",
        "occurred_at": "2030-01-02T03:04:05",
    }
    async with (
        running(quiet(settings_for, loms_events_topic=topic)) as (app, client),
        client.stream("GET", STREAM, headers=test_issuer.auth(user, "customer")) as resp,
    ):
        frames = sse_frames(resp)
        await produce(shop_stack.urls.kafka_bootstrap_servers, topic, [*contract, lax])
        seen = [await next_event(frames) for _ in range(len(contract) + 1)]
    check = documented_event_check(app)
    for frame in seen:
        check(frame)
    by_order = {orjson.loads(f.data)["order_id"]: orjson.loads(f.data) for f in seen}
    assert by_order[40_013]["warehouse"] == {"id": 3, "note": None}  # unknown fields pass as received
    assert "payment_deadline" not in by_order[40_013] and by_order[40_012]["reason"] == "timeout"
    assert by_order[40_014]["event_id"] == str(uuid.UUID(lax["event_id"]))
    assert by_order[40_014]["occurred_at"] == "2030-01-02T03:04:05+00:00"


async def test_a_customers_bookings_are_streamed_as_documented_without_the_cancel_link(
    shop_stack: Stack,
    settings_for: Callable[..., Settings],
    topic: str,
    booking_topic: str,
    test_issuer: TestIssuer,
) -> None:
    user, other = new_user(), new_user()
    kafka = shop_stack.urls.kafka_bootstrap_servers
    mine = [
        booking_event(40_020, "pending", user_id=user),
        booking_event(40_020, "cancelled", "pending", user_id=user, cancelled_by="customer"),
        booking_event(40_021, "confirmed", email=None, phone="+1 555 0100", user_id=user, seating="window"),
    ]
    guests = [booking_event(40_022, "pending"), booking_event(40_023, "pending", user_id=other)]
    settings = quiet(settings_for, loms_events_topic=topic, booking_events_topic=booking_topic)
    async with (
        running(settings) as (app, client),
        client.stream("GET", STREAM, headers=test_issuer.auth(user, "customer")) as resp,
    ):
        frames = sse_frames(resp)
        await produce(kafka, booking_topic, [guests[0], mine[0], guests[1], mine[1], mine[2]])
        await produce(kafka, topic, [order_event(40_024, user, "new")])
        seen = [await next_event(frames) for _ in range(len(mine) + 1)]
    check = documented_event_check(app)
    for frame in seen:
        check(frame)
    bookings = [f for f in seen if f.event == "booking.status_changed"]
    # The caller's own bookings only, each booking's in order; the order event too.
    assert sorted(f.id for f in bookings) == sorted(e["event_id"] for e in mine)
    assert [f.id for f in bookings if orjson.loads(f.data)["booking_id"] == 40_020] == [e["event_id"] for e in mine[:2]]
    assert [f.event for f in seen].count("order.status_changed") == 1
    datas = {f.id: orjson.loads(f.data) for f in bookings}
    # The cancel link is the guest's secret: in their mailbox only, never on a stream.
    assert "cancel_url" in mine[0] and not any("/bookings/cancel/" in f.data for f in bookings)
    assert datas[mine[2]["event_id"]] == mine[2]  # unknown fields pass as received


async def test_an_idle_stream_gets_heartbeat_comments(
    settings_for: Callable[..., Settings], test_issuer: TestIssuer
) -> None:
    async with (
        running(quiet(settings_for, consumer_enabled=False, sse_heartbeat_seconds=0.2)) as (_, client),
        client.stream("GET", STREAM, headers=test_issuer.auth(new_user(), "customer")) as resp,
    ):
        frames = sse_frames(resp)
        opening, heartbeat = await anext(frames), await asyncio.wait_for(anext(frames), 2)
    assert opening.comments == ["connected"]
    assert heartbeat.is_heartbeat and heartbeat.comments == ["keepalive"]


async def test_a_stream_carries_only_the_callers_orders(
    shop_stack: Stack, settings_for: Callable[..., Settings], topic: str, test_issuer: TestIssuer
) -> None:
    me, someone_else = new_user(), new_user()
    theirs, mine = order_event(40_004, someone_else, "paid"), order_event(40_005, me, "paid")
    async with (
        running(quiet(settings_for, loms_events_topic=topic)) as (_, client),
        client.stream("GET", STREAM, headers=test_issuer.auth(me, "customer")) as resp,
    ):
        frames = sse_frames(resp)
        await produce(shop_stack.urls.kafka_bootstrap_servers, topic, [theirs, mine])
        frame = await next_event(frames)
    assert frame.id == mine["event_id"]


async def test_a_managers_stream_carries_every_order_and_booking_each_once_their_own_included(
    shop_stack: Stack, settings_for: Callable[..., Settings], topic: str, booking_topic: str, test_issuer: TestIssuer
) -> None:
    manager, customer = new_user(), new_user()
    orders = [order_event(40_030, customer, "paid", "awaiting payment"), order_event(40_031, manager, "new")]
    bookings = [booking_event(40_032, "pending"), booking_event(40_033, "pending", user_id=manager)]
    kafka = shop_stack.urls.kafka_bootstrap_servers
    settings = quiet(settings_for, loms_events_topic=topic, booking_events_topic=booking_topic)
    async with (
        running(settings) as (_, client),
        client.stream("GET", STREAM, headers=test_issuer.auth(manager, "manager")) as managers,
        client.stream("GET", STREAM, headers=test_issuer.auth(customer, "customer")) as customers,
    ):
        desk, own = sse_frames(managers), sse_frames(customers)
        await produce(kafka, topic, orders)
        await produce(kafka, booking_topic, bookings)
        seen = [await next_event(desk) for _ in range(4)]
        customer_saw = await next_event(own)
        with contextlib.suppress(TimeoutError):  # nothing more: the manager's own order and booking came once
            seen.append(await next_event(desk, timeout=1.5))
        with contextlib.suppress(TimeoutError):  # a customer's stream stays their own
            customer_saw = await next_event(own, timeout=0.5)
    assert sorted(f.id for f in seen) == sorted(e["event_id"] for e in orders + bookings)
    assert customer_saw.id == orders[0]["event_id"]


async def test_a_reconnecting_manager_is_replayed_the_shops_events_they_missed_each_once(
    shop_stack: Stack,
    settings_for: Callable[..., Settings],
    topic: str,
    test_issuer: TestIssuer,
    notifications_db: str,
) -> None:
    """Only the manager's own history was replayed: the shop's events published while the desk was
    away were never seen, and an unknown id replayed the manager's own events again."""
    manager, customer = new_user(), new_user()
    auth = test_issuer.auth(manager, "manager")
    first = order_event(40_034, customer, "new")
    missed = [order_event(40_035, customer, "paid", "awaiting payment"), order_event(40_036, manager, "new")]
    kafka = shop_stack.urls.kafka_bootstrap_servers
    async with running(quiet(settings_for, loms_events_topic=topic)) as (_, client):
        async with client.stream("GET", STREAM, headers=auth) as resp:
            await produce(kafka, topic, [first])
            seen = await next_event(sse_frames(resp))
        await produce(kafka, topic, missed)
        await eventually(
            lambda: query(notifications_db, "SELECT 1 FROM inbox_events WHERE event_id = :e", e=missed[-1]["event_id"])
        )
        await asyncio.sleep(0.2)
        async with client.stream("GET", STREAM, headers={**auth, "Last-Event-ID": str(seen.id)}) as resp:
            frames = sse_frames(resp)
            replayed = [await next_event(frames), await next_event(frames)]
            with contextlib.suppress(TimeoutError):  # the manager's own order, on both channels, came once
                replayed.append(await next_event(frames, timeout=1.0))
    assert seen.id == first["event_id"]
    assert sorted(f.id for f in replayed) == sorted(e["event_id"] for e in missed)  # two orders: either first


async def test_the_stream_takes_the_web_cookie_and_refuses_no_token(
    settings_for: Callable[..., Settings], test_issuer: TestIssuer
) -> None:
    async with running(quiet(settings_for, consumer_enabled=False)) as (_, client):
        anonymous = await client.get(STREAM)
        client.cookies.set("access_token", test_issuer.token(new_user(), "customer"))
        async with client.stream("GET", STREAM) as resp:
            status = resp.status_code
            opening = await anext(sse_frames(resp))
    assert anonymous.status_code == 401 and anonymous.headers["content-type"] == "application/problem+json"
    assert status == 200 and opening.comments == ["connected"]


async def test_a_sixth_stream_of_a_user_is_429_until_one_of_the_five_closes(
    settings_for: Callable[..., Settings], test_issuer: TestIssuer
) -> None:
    auth = test_issuer.auth(new_user(), "customer")
    settings = quiet(settings_for, consumer_enabled=False, sse_heartbeat_seconds=0.2)
    async with running(settings) as (_, client), contextlib.AsyncExitStack() as streams:
        opened = [await streams.enter_async_context(client.stream("GET", STREAM, headers=auth)) for _ in range(5)]
        sixth = await asyncio.wait_for(client.get(STREAM, headers=auth), 5)
        await opened[0].aclose()

        async def reopened() -> bool:
            async with client.stream("GET", STREAM, headers=auth) as resp:
                return resp.status_code == 200

        assert await eventually(reopened, timeout=5)
    assert [r.status_code for r in opened] == [200] * 5
    assert sixth.status_code == 429 and sixth.headers["content-type"] == "application/problem+json"
    assert int(sixth.headers["retry-after"]) > 0 and "5" in sixth.json()["detail"]


async def test_the_per_user_limit_holds_for_concurrent_requests_across_replicas(
    settings_for: Callable[..., Settings], test_issuer: TestIssuer
) -> None:
    auth = test_issuer.auth(new_user(), "customer")
    settings = quiet(settings_for, consumer_enabled=False)
    done, hold = [], asyncio.Event()
    async with running(settings) as (_, one), running(settings) as (_, other):

        async def attempt(client: httpx.AsyncClient) -> int:
            async with client.stream("GET", STREAM, headers=auth) as resp:
                done.append(resp.status_code)
                if resp.status_code == 200:
                    await hold.wait()
                return resp.status_code

        tasks = [asyncio.create_task(attempt(one if i % 2 else other)) for i in range(12)]
        await eventually(lambda: holds(lambda: len(done) == 12), timeout=10)
        hold.set()
        statuses = await asyncio.gather(*tasks)
    assert sorted(statuses) == [200] * 5 + [429] * 7


async def test_a_process_serves_at_most_its_stream_limit(
    settings_for: Callable[..., Settings], test_issuer: TestIssuer
) -> None:
    settings = quiet(settings_for, consumer_enabled=False, sse_max_streams=2)
    async with (
        running(settings) as (_, client),
        client.stream("GET", STREAM, headers=test_issuer.auth(new_user(), "customer")) as first,
        client.stream("GET", STREAM, headers=test_issuer.auth(new_user(), "customer")) as second,
    ):
        third = await asyncio.wait_for(client.get(STREAM, headers=test_issuer.auth(new_user(), "customer")), 5)
    assert (first.status_code, second.status_code, third.status_code) == (200, 200, 429)
    assert "retry-after" in third.headers


async def test_a_stream_ends_when_its_token_expires_with_a_hint_to_reconnect(
    settings_for: Callable[..., Settings], test_issuer: TestIssuer
) -> None:
    user = new_user()
    async with running(quiet(settings_for, consumer_enabled=False, sse_heartbeat_seconds=0.5)) as (app, client):
        started = time.monotonic()
        async with client.stream("GET", STREAM, headers=test_issuer.auth(user, "customer", ttl=2)) as resp:
            lines = await asyncio.wait_for(collect_lines(resp), 10)  # returns when the server ends the stream
        elapsed = time.monotonic() - started
        await eventually(lambda: holds(lambda: app.state.stream_limiter.open_streams == 0), timeout=5)
    assert resp.status_code == 200 and lines[:2] == ["retry: 2000", ": connected"]
    assert lines[-3:] == ["retry: 1000", ": token expired; reconnect with a fresh token", ""]
    assert 0.5 < elapsed < 4.0


async def test_a_server_shutting_down_gives_back_the_stream_leases(
    shop_stack: Stack, settings_for: Callable[..., Settings], test_issuer: TestIssuer
) -> None:
    user = new_user()
    async with httpx.AsyncClient(timeout=10) as outside:
        async with running(quiet(settings_for, consumer_enabled=False)) as (_, client):
            request = outside.build_request(
                "GET", f"{client.base_url}{STREAM}", headers=test_issuer.auth(user, "customer")
            )
            resp = await outside.send(request, stream=True)
            held = await leases(shop_stack, user)
        after = await leases(shop_stack, user)
        await resp.aclose()
    assert resp.status_code == 200 and (held, after) == (1, 0)


async def holds(condition: Callable[[], bool]) -> bool:
    return condition()


async def collect_lines(resp: httpx.Response) -> list[str]:
    return [line async for line in resp.aiter_lines()]


async def leases(shop_stack: Stack, user: int) -> int:
    redis = Redis.from_url(shop_stack.urls.redis_url)
    try:
        return int(await redis.zcard(f"{KEY_PREFIX}{user}"))
    finally:
        await redis.aclose()


async def test_a_managers_stock_and_table_changes_reach_managers_only_once_and_nothing_else(
    shop_stack: Stack,
    settings_for: Callable[..., Settings],
    topic: str,
    booking_topic: str,
    test_issuer: TestIssuer,
    notifications_db: str,
) -> None:
    """Another manager's change of stock or of a table is for the managers' open pages: their
    stream carries it as published (fields this service does not know included), once though
    delivered twice; a customer's and a worker's stream do not; nobody is told otherwise (no log,
    no e-mail, no push); a malformed one is skipped and the events after it still arrive."""
    manager, customer, worker = new_user(), new_user(), new_user()
    stock = stock_event(3, 1001, 40, 35, received_by="dock 2")
    table = table_event(7, bookable=False)
    broken = {**stock_event(3, 1002, -1, None), "sku": None}
    kafka = shop_stack.urls.kafka_bootstrap_servers
    settings = quiet(settings_for, loms_events_topic=topic, booking_events_topic=booking_topic)
    async with (
        running(settings) as (_, client),
        client.stream("GET", STREAM, headers=test_issuer.auth(manager, "manager")) as managers,
        client.stream("GET", STREAM, headers=test_issuer.auth(customer, "customer")) as customers,
        client.stream("GET", STREAM, headers=test_issuer.auth(worker, "worker")) as workers,
    ):
        desk, own, board = sse_frames(managers), sse_frames(customers), sse_frames(workers)
        await produce(kafka, topic, [broken, stock, stock, order_event(40_040, customer, "new")])
        await produce(kafka, booking_topic, [table])
        seen = [await next_event(desk) for _ in range(3)]
        customer_saw = await next_event(own)
        with contextlib.suppress(TimeoutError):  # the stock change came once
            seen.append(await next_event(desk, timeout=1.5))
        with contextlib.suppress(TimeoutError):
            customer_saw = await next_event(own, timeout=0.5)
        worker_saw = None
        with contextlib.suppress(TimeoutError):
            worker_saw = await next_event(board, timeout=0.5)
    staff = {f.event: f for f in seen}
    assert sorted(f.event for f in seen) == ["order.status_changed", "stock.changed", "table.changed"]
    assert orjson.loads(staff["stock.changed"].data) == stock  # as published, the unknown field too
    assert staff["stock.changed"].id == stock["event_id"]
    assert orjson.loads(staff["table.changed"].data) == table
    assert customer_saw.event == "order.status_changed" and worker_saw is None
    recorded = await query(notifications_db, "SELECT count(*) FROM inbox_events WHERE event_id IN (:s, :t)",
                           s=uuid.UUID(stock["event_id"]), t=uuid.UUID(table["event_id"]))  # fmt: skip
    told = await query(notifications_db, "SELECT count(*) FROM notifications WHERE event_id IN (:s, :t)",
                       s=uuid.UUID(stock["event_id"]), t=uuid.UUID(table["event_id"]))  # fmt: skip
    assert (recorded[0][0], told[0][0]) == (2, 0)


@pytest.fixture
async def hub(shop_stack: Stack) -> AsyncIterator[StreamHub]:
    """A stream hub of its own on the stack's Redis, started."""
    redis = Redis.from_url(shop_stack.urls.redis_url)
    stream_hub = StreamHub(redis)
    await stream_hub.start()
    try:
        yield stream_hub
    finally:
        await stream_hub.stop()
        await redis.aclose()


async def test_a_stream_cancelled_while_another_joins_leaves_the_hub_and_its_channel(hub: StreamHub) -> None:
    """A stream whose client went away is cancelled, and sse-starlette cancels at every await: when
    another stream of the process held the hub's lock at that moment (subscribing), the leaving
    stream's queue stayed among the listeners for good and its channel stayed subscribed."""
    user = new_user()
    channel = f"{CHANNEL_PREFIX}{user}"
    opened = asyncio.Event()
    scope = anyio.CancelScope()

    async def page() -> None:
        with scope:
            async with hub.listen(user):
                opened.set()
                await anyio.sleep_forever()

    task = asyncio.create_task(page())
    await asyncio.wait_for(opened.wait(), 10)
    assert hub.open_streams == 1
    async with hub._lock:  # another stream of this process, subscribing
        scope.cancel()
        await asyncio.sleep(0.3)  # the page is cancelled, again and again, while it waits
    await asyncio.wait_for(task, 10)
    assert hub.open_streams == 0

    async def unsubscribed() -> bool:
        return dict(await hub.redis.pubsub_numsub(channel)).get(channel.encode()) == 0

    await eventually(unsubscribed)


async def test_a_manager_stream_whose_staff_channel_cannot_be_subscribed_leaves_no_listener(hub: StreamHub) -> None:
    """A manager's stream joins the user's channel, then the staff's: Redis refusing the second
    left the queue a listener of the first for good (fed, never read)."""
    assert hub._pubsub is not None
    subscribe = hub._pubsub.subscribe

    async def refusing_staff(*channels: str) -> None:
        if f"{CHANNEL_PREFIX}{STAFF}" in channels:
            raise RedisConnectionError("Redis went away")  # a blip while the manager connects
        await subscribe(*channels)

    hub._pubsub.subscribe = refusing_staff  # type: ignore[method-assign]
    with contextlib.suppress(RedisConnectionError):
        async with hub.listen(new_user(), STAFF):
            raise AssertionError("the stream must not open")
    assert hub.open_streams == 0


async def test_a_malformed_message_on_a_channel_does_not_silence_the_hub(hub: StreamHub) -> None:
    """Anything that can publish to Redis could send a message the hub cannot read: before, it
    ended the hub's only reader, and every stream of the process went quiet but for heartbeats."""
    user = new_user()
    async with hub.listen(user) as queue:
        channel = f"{CHANNEL_PREFIX}{user}"
        await hub.redis.publish(channel, b"no event here")
        event = StreamEvent("1-0", "order.status_changed", "{}")
        await hub.redis.publish(channel, event.encode())
        assert await asyncio.wait_for(queue.get(), 10) == event


async def test_a_stream_too_slow_to_keep_up_ends_and_resumes_from_the_history_without_a_gap(
    shop_stack: Stack,
) -> None:
    """A full queue dropped the event for that stream and carried on: the page missed it for good,
    and the ids after it hid the gap from `Last-Event-ID`."""
    redis = Redis.from_url(shop_stack.urls.redis_url)
    hub = StreamHub(redis, history_max=QUEUE_SIZE + 100)
    await hub.start()
    user = new_user()
    events = [StreamEvent(str(uuid.uuid4()), "order.status_changed", f'{{"n": {n}}}') for n in range(QUEUE_SIZE + 15)]
    try:
        async with hub.listen(user) as queue:
            await hub.publish_many([(user, e) for e in events[:10]])
            seen = [await asyncio.wait_for(queue.get(), 10) for _ in range(10)]
            assert seen == events[:10]
            await hub.publish_many([(user, e) for e in events[10:]])  # the client reads none of these

            # The queue held QUEUE_SIZE; the next event ended the stream; four more came after it.
            async def ended() -> bool:
                return queue.qsize() == 5

            await eventually(ended)
            assert await queue.get() is RESUME
            assert await hub.history_after([user], seen[-1].event_id) == events[10:]
    finally:
        await hub.stop()
        await redis.aclose()


async def test_streams_end_with_a_hint_to_resume_when_the_hub_loses_redis(hub: StreamHub) -> None:
    """What is published while the hub's pub/sub connection is down never reaches it: its streams
    went on, quiet, and their clients never asked for what they missed."""
    assert hub._pubsub is not None
    get_message = hub._pubsub.get_message
    dropped = asyncio.Event()

    async def dropping(**kwargs: Any) -> Any:
        if not dropped.is_set():
            dropped.set()
            raise RedisConnectionError("Connection closed by server.")
        return await get_message(**kwargs)

    body = event_stream(hub, new_user(), last_event_id=None, wake_seconds=1.0)
    assert await anext(body) == OPENING_FRAME
    hub._pubsub.get_message = dropping  # type: ignore[method-assign]
    frames = [frame async for frame in body]
    assert dropped.is_set()
    assert frames == [RESUME_FRAME]
    assert b"retry: 250" in RESUME_FRAME


async def test_a_managers_replay_keeps_the_order_the_shop_heard_events_in(hub: StreamHub) -> None:
    """Entry ids were compared across the manager's and the staff's histories: events published in
    one millisecond sorted the manager's own one first, and a replay after the one before it left
    it out."""
    manager = new_user()
    e1, e2, mine = (StreamEvent(str(uuid.uuid4()), "order.status_changed", f'{{"n": {n}}}') for n in range(3))
    await hub.publish_many([(STAFF, e1), (STAFF, e2), (STAFF, mine), (manager, mine)])  # one round trip
    assert await hub.history_after([manager, STAFF], e1.event_id) == [e2, mine]
    assert await hub.history_after([manager, STAFF], e2.event_id) == [mine]
