"""`/live` in a real checkout process (started as every service process is), relaying the real
notifications stream (in-process, over TCP): SIGTERM to checkout, as a container runtime sends it,
ends the relayed stream at once with a retry hint, and the process exits with status 0; a manager's
relay renders what their page shows and the new things its lists take, nothing else."""

from __future__ import annotations

import asyncio
import contextlib
import re
import signal
import time
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta

import httpx
import jwt
import orjson
import pytest
import uvicorn
from redis.asyncio import Redis

from checkout.identity.demo import DEMO_PASSWORD, load_identity_demo
from checkout.web.live_watch import NEW_ROWS_MAX
from notifications.stream import STAFF, StreamEvent, StreamHub
from shopcommon.auth import ACCESS_COOKIE
from shopcommon.devstack.servers import free_port
from shopcommon.services import service_spec
from shopcommon.testing.plugin import ServiceProcess, Stack

from .conftest import notifications_app

CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')
#: uvicorn's graceful-shutdown timeout for every service process (`shopcommon.services.uvicorn_argv`).
UVICORN_GRACE_SECONDS = 5.0

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
async def notifications_url(shop_stack: Stack, module_label: str, checkout_keys: tuple[str, str]) -> AsyncIterator[str]:
    """The notifications service served by uvicorn in this process, so its stream streams."""
    app, _ = notifications_app(shop_stack, f"live_{module_label}", checkout_keys[1])
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=free_port(), log_level="warning"))
    serving = asyncio.create_task(server.serve())
    while not server.started:
        assert not serving.done(), "notifications did not start"
        await asyncio.sleep(0.05)
    yield f"http://127.0.0.1:{server.config.port}"
    server.should_exit = True
    await serving


@pytest.fixture
async def checkout_process(
    shop_stack: Stack,
    checkout_db: str,
    checkout_keys: tuple[str, str],
    notifications_url: str,
    request: pytest.FixtureRequest,
) -> AsyncIterator[ServiceProcess]:
    """Checkout as a process of its own; a test marked `checkout_env(...)` adds to its environment."""
    await load_identity_demo(checkout_db, {"APP_ENV": "dev"})
    marker = request.node.get_closest_marker("checkout_env")
    nowhere = f"http://127.0.0.1:{free_port()}"  # not the default ports: a `make run` may be up
    env = {
        "SHOP_LOMS_URL": nowhere,
        "SHOP_PRODUCT_STUB_URL": nowhere,
        "SHOP_BOOKINGS_URL": nowhere,
        **(marker.kwargs if marker else {}),
        "APP_ENV": "dev",
        "LOG_JSON": "false",
        "CHECKOUT_DATABASE_URL": checkout_db,
        "REDIS_URL": shop_stack.urls.redis_url,
        "JWT_JWKS_FILE": checkout_keys[1],
        "CHECKOUT_JWT_KEYS_DIR": checkout_keys[0],
        "SHOP_NOTIFICATIONS_URL": notifications_url,
        "CHECKOUT_SHOPPING_REDIS_PREFIX": f"t-{uuid.uuid4().hex[:10]}:",
        "CHECKOUT_IDENTITY_REDIS_PREFIX": f"t-{uuid.uuid4().hex[:10]}:",
    }
    proc = ServiceProcess(service_spec("checkout"), env, shop_stack.embedded.log_dir)
    await asyncio.to_thread(proc.start, 60)
    try:
        yield proc
    finally:
        proc.stop()


async def sign_in(client: httpx.AsyncClient, username: str) -> None:
    landing = await client.get("/")
    token = CSRF_FIELD.search(landing.text).group(1)  # type: ignore[union-attr]
    r = await client.post("/login", data={"csrf_token": token, "username": username, "password": DEMO_PASSWORD})
    assert r.status_code == 303


async def test_sigterm_ends_an_open_live_stream_at_once_with_a_retry_hint(checkout_process: ServiceProcess) -> None:
    received: list[str] = []
    opened = asyncio.Event()
    async with httpx.AsyncClient(base_url=checkout_process.url, timeout=30) as client:
        await sign_in(client, "customer")

        async def listen() -> None:
            async with client.stream("GET", "/live") as stream:
                assert stream.status_code == 200 and stream.headers["content-type"].startswith("text/event-stream")
                async for line in stream.aiter_lines():
                    received.append(line)
                    if line.startswith(": connected"):
                        opened.set()

        listening = asyncio.create_task(listen())
        await asyncio.wait_for(opened.wait(), 10)
        popen = checkout_process.proc.proc
        assert popen is not None
        popen.send_signal(signal.SIGTERM)
        sent_at = time.monotonic()
        await asyncio.wait_for(listening, 30)  # the stream ended: checkout closed it
        ended_after = time.monotonic() - sent_at
        status = await asyncio.to_thread(popen.wait, 30)
    hint = received.index(": server stopping; reconnect")
    assert re.fullmatch(r"retry: \d+", received[hint - 1]), received
    # Within the relay's own grace, well before uvicorn would cut the stream off.
    assert ended_after < UVICORN_GRACE_SECONDS - 1, ended_after
    assert status == 0, checkout_process.log()


async def test_a_last_event_id_no_event_has_resumes_nothing_and_streams(checkout_process: ServiceProcess) -> None:
    """Forwarded as it came, a non-ASCII `Last-Event-ID` could not be encoded: a 500."""
    async with httpx.AsyncClient(base_url=checkout_process.url, timeout=30) as client:
        await sign_in(client, "customer")
        async with client.stream("GET", "/live", headers=[(b"Last-Event-ID", b"caf\xe9")]) as stream:
            assert stream.status_code == 200 and stream.headers["content-type"].startswith("text/event-stream")
            async for line in stream.aiter_lines():
                if line.startswith(": connected"):
                    break


@pytest.mark.checkout_env(CHECKOUT_LIVE_STREAMS_MAX="2")
async def test_live_pages_beyond_the_relays_places_are_told_to_come_back_then_get_one(
    checkout_process: ServiceProcess,
) -> None:
    """Each open `/live` holds a connection to notifications: past `CHECKOUT_LIVE_STREAMS_MAX` one
    more waits for a place and is told to retry (503, never a hang), and gets one once a page closes."""
    async with httpx.AsyncClient(base_url=checkout_process.url, timeout=30) as client:
        await sign_in(client, "customer")
        async with contextlib.AsyncExitStack() as open_pages:
            # Each page's line iterator is kept: one dropped would close its stream when collected.
            pages = []
            for _ in range(2):
                stream = await open_pages.enter_async_context(client.stream("GET", "/live"))
                assert stream.status_code == 200
                pages.append(stream.aiter_lines())
                assert (await anext(pages[-1])).startswith(": connected")
            started = time.monotonic()
            refused = await client.get("/live")
            assert refused.status_code == 503, refused.text
            assert refused.headers["retry-after"] == "5"
            assert "unavailable right now" in refused.text
            assert time.monotonic() - started < 15
        # Both pages closed: their places are free again, every time (a place once leaked when
        # the page's cancelled task left the interrupted read's clean-up unfinished).
        for _ in range(3):
            async with contextlib.AsyncExitStack() as open_pages:
                pages = []
                for _ in range(2):
                    stream = await open_pages.enter_async_context(client.stream("GET", "/live"))
                    assert stream.status_code == 200, checkout_process.log()[-2000:]
                    pages.append(stream.aiter_lines())
                    assert (await anext(pages[-1])).startswith(": connected")


async def relayed(
    stack: Stack,
    checkout: ServiceProcess,
    url: str,
    events: list[dict[str, object]],
    until: Callable[[list[tuple[str, str]]], bool],
) -> list[tuple[str, str]]:
    """A manager's `/live` at `url`: the events put on the managers' channel once it is open, and
    the (name, data) of each frame it sends, until `until` them."""
    seen: list[tuple[str, str]] = []
    async with httpx.AsyncClient(base_url=checkout.url, timeout=30) as client:
        await sign_in(client, "admin")
        hub = StreamHub(Redis.from_url(stack.urls.redis_url))
        try:
            async with client.stream("GET", url) as stream:
                lines = stream.aiter_lines()
                async for line in lines:
                    if line.startswith(": connected"):
                        break
                await hub.publish_many([(STAFF, StreamEvent(str(e["event_id"]), str(e["type"]), orjson.dumps(e).decode()))
                                        for e in events])  # fmt: skip
                async with asyncio.timeout(30):
                    async for line in lines:
                        if line.startswith("event: "):
                            seen.append((line.removeprefix("event: "), ""))
                        elif line.startswith("data: "):
                            seen[-1] = (seen[-1][0], seen[-1][1] + line.removeprefix("data: ") + "\n")
                        elif line == "" and seen and until(seen):
                            break
        finally:
            await hub.redis.aclose()
    return seen


def _booking(booking_id: int, status: str, previous: str | None) -> dict[str, object]:
    starts = datetime(2031, 5, 4, 19, tzinfo=UTC)
    return {"event_id": str(uuid.uuid4()), "type": "booking.status_changed", "occurred_at": starts.isoformat(),
            "booking_id": booking_id, "table_id": 3, "status": status, "previous_status": previous,
            "starts_at": starts.isoformat(), "ends_at": (starts + timedelta(hours=2)).isoformat(),
            "name": "Hanna Host", "email": "hanna@guests.test", "price": 4550}  # fmt: skip


def _order(order_id: int, status: str, previous: str | None) -> dict[str, object]:
    return {"event_id": str(uuid.uuid4()), "type": "order.status_changed", "occurred_at": datetime.now(UTC).isoformat(),
            "order_id": order_id, "user_id": 77, "status": status, "previous_status": previous,
            "items": [{"sku": 1, "count": 1, "price": 900}], "total_price": 900}  # fmt: skip


async def test_a_managers_live_renders_what_their_page_shows_and_new_bookings(
    shop_stack: Stack, checkout_process: ServiceProcess
) -> None:
    """The shop's events reach every manager's stream (audience `STAFF`); the relay renders the
    order and booking the page names, and the new bookings its list takes (following them from
    then on) until it has taken its fill, then says once that there are more.
    LOMS and bookings are not running here: the order and booking are shown from their events."""
    task = {"event_id": str(uuid.uuid4()), "type": "task.status_changed", "occurred_at": datetime.now(UTC).isoformat(),
            "task_id": 5, "order_id": 12, "category": "drums", "worker_id": None, "status": "unassigned",
            "previous_status": None}  # fmt: skip
    events = [
        _order(11, "new", None),  # new, but this page takes no new orders
        task,  # of an order the page does not show, and it takes no new tasks
        _booking(22, "confirmed", "pending"),  # a booking the page does not show
        _order(10, "cancelled", "awaiting payment"),  # shown
        _booking(21, "pending", None),  # new: the list takes it
        _booking(21, "confirmed", "pending"),  # then followed
    ]
    # A desk left open on a busy day: its list takes NEW_ROWS_MAX new bookings live, then says there are more.
    events += [_booking(100 + n, "pending", None) for n in range(NEW_ROWS_MAX)]
    seen = await relayed(shop_stack, checkout_process, "/live?orders=10,x,-3&bookings=20&new=bookings,nonsense", events,
                         until=lambda frames: frames[-1][0] == "bookings-more")  # fmt: skip
    names = [name for name, _ in seen]
    assert names == ["order-10", "order-10-detail", "booking-new", "booking-21"] + ["booking-new"] * (
        NEW_ROWS_MAX - 1
    ) + ["bookings-more"]
    frames = dict(seen[:4])
    row, new, confirmed = frames["order-10"], frames["booking-new"], frames["booking-21"]
    assert 'data-status="cancelled"' in row and "Pay</button>" not in row  # a manager's row: no customer buttons
    assert 'data-booking-id="21"' in new and 'data-status="pending"' in new and "Confirm booking 21" in new
    assert 'sse-swap="booking-21"' in confirmed and 'data-status="confirmed"' in confirmed and "Table 3" in confirmed
    assert 'data-booking-id="148"' in seen[-2][1] and 'href="/manage/bookings"' in seen[-1][1]


async def test_a_managers_own_orders_page_follows_their_orders_alone_as_a_customer_sees_them(
    shop_stack: Stack, checkout_process: ServiceProcess
) -> None:
    """A manager's stream carries the whole shop's orders. Their "My orders" page (`mine`) takes
    their own new orders, with the customer's buttons, and no one else's (it took every customer's)."""
    async with httpx.AsyncClient(base_url=checkout_process.url, timeout=30) as client:
        await sign_in(client, "admin")
        admin = int(jwt.decode(client.cookies[ACCESS_COOKIE], options={"verify_signature": False})["sub"])
    events = [
        _order(11, "new", None),  # another customer's new order
        {**_order(12, "awaiting payment", None), "user_id": admin},  # the manager's own, new
        _order(13, "paid", "awaiting payment"),  # another's order moving
        {**_order(10, "cancelled", "awaiting payment"), "user_id": admin},  # on the page
    ]
    seen = await relayed(shop_stack, checkout_process, "/live?orders=10&new=orders&mine=1", events,
                         until=lambda frames: frames[-1][0] == "order-10-detail")  # fmt: skip
    assert [name for name, _ in seen] == ["order-new", "order-10", "order-10-detail"]
    new = seen[0][1]
    assert 'data-order-id="12"' in new and "Pay</button>" in new, new  # the customer's row, not the desk's


def _table(table_id: int, bookable: bool) -> dict[str, object]:
    return {"event_id": str(uuid.uuid4()), "type": "table.changed", "occurred_at": datetime.now(UTC).isoformat(),
            "table_id": table_id, "name": f"Window {table_id}", "kind": "cabin", "seats": 4, "bookable": bookable,
            "price": 4550}  # fmt: skip


async def test_a_managers_tables_follow_other_managers_changes_and_new_tables(
    shop_stack: Stack, checkout_process: ServiceProcess
) -> None:
    """The bookings desk lists every table: a change of one of them is its card again, a table not
    on it is new and added to the list (then followed); a stock change is not this page's."""
    stock = {"event_id": str(uuid.uuid4()), "type": "stock.changed", "occurred_at": datetime.now(UTC).isoformat(),
             "warehouse_id": 1, "sku": 7, "total": 3, "reserved": 0, "previous_total": 2}  # fmt: skip
    events = [stock, _table(3, False), _table(9, True), _table(9, False)]
    seen = await relayed(shop_stack, checkout_process, "/live?tables=3,4&new=tables", events,
                         until=lambda frames: len(frames) == 3)  # fmt: skip
    assert [name for name, _ in seen] == ["table-3", "table-new", "table-9"]
    closed, new, later = (data for _, data in seen)
    assert 'data-table-id="3"' in closed and 'data-status="closed"' in closed and 'value="45.50"' in closed
    assert "Open Window 3" in closed  # its button opens it again
    assert 'sse-swap="table-9"' in new and 'data-status="open"' in new and "Close Window 9" in new
    assert 'data-status="closed"' in later
