"""What one user may hold unpaid (`domain/limits.py`): at most `max_unpaid_orders` orders `new` or
`awaiting payment`, and `max_unpaid_units_per_sku` units of a sku across them. Beyond either a
create is a 409 naming the limit, on both creation paths (placed with `Prefer: wait`, recorded
as `new` without it) and the route256 RPC, whoever creates the order for the user, and however
many creates arrive at once."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest

from loms.config import Settings
from loms.domain.items import OrderItem
from loms.domain.limits import UnpaidLimits
from loms.domain.outcome import new_order
from loms.repositories import order_ids, orders, placement
from loms.repositories.placement import Placement
from shopcommon.problems import PROBLEM_MEDIA_TYPE
from shopcommon.testing.plugin import Stack
from shopcommon.testing.tokens import TestIssuer

from ..conftest import Auth, Database, eventually, make_settings, new_sku, running_app

UNPUBLISHED = "loms.order-events.unpublished"


@pytest.fixture(scope="module")
async def clients(
    shop_stack: Stack, loms_db: str, test_issuer: TestIssuer, topic: str
) -> AsyncIterator[list[httpx.AsyncClient]]:
    """Two LOMS processes on one database (as deployed), each placing in two lanes at once, with
    the default limits."""
    settings = make_settings(shop_stack, loms_db, test_issuer, topic, order_lanes=2)
    assert (settings.max_unpaid_orders, settings.max_unpaid_units_per_sku) == (10, 100)
    async with running_app(settings) as (_, first), running_app(settings) as (_, second):
        yield [first, second]


@pytest.fixture(scope="module")
async def few_units(
    shop_stack: Stack, loms_db: str, test_issuer: TestIssuer, topic: str
) -> AsyncIterator[list[httpx.AsyncClient]]:
    """Two processes that let a user hold 7 units of a sku, in up to 100 orders."""
    settings = make_settings(
        shop_stack, loms_db, test_issuer, topic, order_lanes=2, max_unpaid_orders=100, max_unpaid_units_per_sku=7
    )
    async with running_app(settings) as (_, first), running_app(settings) as (_, second):
        yield [first, second]


def create(
    client: httpx.AsyncClient,
    headers: dict[str, str],
    user_id: int,
    *lines: tuple[int, int],
    wait: bool = True,
    key: str | None = None,
) -> Any:
    extra = {"Prefer": "wait=5"} if wait else {}
    if key is not None:
        extra["Idempotency-Key"] = key
    return client.post(
        "/api/v1/orders",
        json={"user_id": user_id, "items": [{"sku": sku, "count": count} for sku, count in lines]},
        headers={**headers, **extra},
    )


def assert_limit_problem(r: httpx.Response, slug: str, limit: str, value: int) -> dict[str, Any]:
    assert r.status_code == 409, r.text
    assert r.headers["content-type"].startswith(PROBLEM_MEDIA_TYPE)
    body: dict[str, Any] = r.json()
    assert body["type"].endswith(f"/{slug}")
    assert (body["limit"], body["limit_value"]) == (limit, value)
    assert f"{limit} = {value}" in body["detail"]
    return body


async def unpaid(db: Database, user_id: int) -> int:
    return int(
        await db.value(
            "SELECT count(*) FROM orders WHERE user_id = $1 AND status IN ('new', 'awaiting payment')", user_id
        )
    )


async def settled(db: Database, user_id: int) -> bool:
    return not await db.value("SELECT count(*) FROM orders WHERE user_id = $1 AND status = 'new'", user_id)


# --- orders awaiting payment --------------------------------------------------------------------


@pytest.mark.parametrize("paths", ["placed", "recorded", "both"])
async def test_thirty_creates_at_once_leave_ten_orders_holding_stock(
    clients: list[httpx.AsyncClient], auth: Auth, db: Database, paths: str
) -> None:
    user = {"placed": 7001, "recorded": 7002, "both": 7003}[paths]
    # A sku of its own per order, so that no stock lock orders the creates one after another.
    skus = [new_sku() for _ in range(30)]
    for sku in skus:
        await db.stock(sku, 10)
    waits = {"placed": [True] * 30, "recorded": [False] * 30, "both": [n % 2 == 0 for n in range(30)]}[paths]
    answers = await asyncio.gather(
        *(create(clients[n % 2], auth.service(), user, (skus[n], 2), wait=wait) for n, wait in enumerate(waits))
    )
    assert Counter(r.status_code for r in answers) == {201: 10, 409: 20}, [r.text for r in answers]
    for r in answers:
        if r.status_code == 409:
            assert_limit_problem(r, "too-many-unpaid-orders", "max_unpaid_orders", 10)
    assert await eventually(lambda: settled(db, user))
    assert await unpaid(db, user) == 10
    # Only the ten admitted orders exist, and only they hold stock.
    assert await db.value("SELECT count(*) FROM orders WHERE user_id = $1", user) == 10
    assert sum([(await db.levels(sku))["reserved"] for sku in skus]) == 20


async def test_staff_and_services_creating_for_a_user_count_against_that_user(
    clients: list[httpx.AsyncClient], auth: Auth, db: Database
) -> None:
    user, sku = 7010, new_sku()
    await db.stock(sku, 100)
    made = []
    for n in range(10):
        caller = [auth.manager(), auth.service(), auth.customer(user)][n % 3]
        r = await create(clients[0], caller, user, (sku, 1), wait=n % 2 == 0)
        assert r.status_code == 201, r.text
        made.append(r.json()["order_id"])
    assert await eventually(lambda: settled(db, user))
    before = await db.counts()
    for caller in (auth.customer(user), auth.manager(), auth.service()):
        for wait in (True, False):
            r = await create(clients[1], caller, user, (sku, 1), wait=wait)
            body = assert_limit_problem(r, "too-many-unpaid-orders", "max_unpaid_orders", 10)
            assert (body["user_id"], body["held"]) == (user, 10)
    rpc = await clients[0].post(
        "/createOrder", json={"user": user, "items": [{"sku": sku, "count": 1}]}, headers=auth.service()
    )
    assert_limit_problem(rpc, "too-many-unpaid-orders", "max_unpaid_orders", 10)
    assert await db.counts() == before, "a refused create writes nothing"
    # The manager acting for the user counted against the user, not against the manager (user 1).
    assert (await create(clients[0], auth.manager(), 1, (sku, 1))).status_code == 201
    # Another user is not affected.
    assert (await create(clients[0], auth.customer(user + 1), user + 1, (sku, 1))).status_code == 201


async def test_paying_or_cancelling_an_order_frees_its_place(
    clients: list[httpx.AsyncClient], auth: Auth, db: Database
) -> None:
    user, sku = 7020, new_sku()
    await db.stock(sku, 100)
    ids = [(await create(clients[0], auth.customer(user), user, (sku, 1))).json()["order_id"] for _ in range(10)]
    assert (await create(clients[0], auth.customer(user), user, (sku, 1))).status_code == 409
    paid = await clients[1].post(f"/api/v1/orders/{ids[0]}/pay", headers=auth.customer(user))
    assert paid.status_code == 200, paid.text
    assert (await create(clients[1], auth.customer(user), user, (sku, 1), wait=False)).status_code == 201
    assert (await create(clients[0], auth.customer(user), user, (sku, 1))).status_code == 409
    cancelled = await clients[0].post(f"/api/v1/orders/{ids[1]}/cancel", headers=auth.customer(user))
    assert cancelled.status_code == 200, cancelled.text
    rpc = await clients[0].post(
        "/createOrder",
        json={"user": user, "items": [{"sku": sku, "count": 1}]},
        headers={**auth.customer(user), "Prefer": "wait=5"},
    )
    assert rpc.status_code == 200, rpc.text
    assert await unpaid(db, user) == 10


async def test_a_failed_order_holds_nothing_and_does_not_count(
    clients: list[httpx.AsyncClient], auth: Auth, db: Database
) -> None:
    user, sku, gone = 7030, new_sku(), new_sku()
    await db.stock(sku, 100)
    await db.stock(gone, 0)
    for _ in range(9):
        assert (await create(clients[0], auth.service(), user, (sku, 1))).status_code == 201
    for wait in (True, False):
        failed = await create(clients[0], auth.service(), user, (gone, 1), wait=wait)
        assert failed.status_code == 201, failed.text
    assert await eventually(lambda: settled(db, user))
    assert await unpaid(db, user) == 9
    assert (await create(clients[1], auth.service(), user, (sku, 1))).status_code == 201
    assert (await create(clients[1], auth.service(), user, (sku, 1))).status_code == 409


@pytest.mark.parametrize("wait", [True, False])
async def test_a_repeated_create_is_replayed_even_at_the_limit(
    clients: list[httpx.AsyncClient], auth: Auth, db: Database, wait: bool
) -> None:
    user, sku = 7040 + wait, new_sku()
    await db.stock(sku, 100)
    keys = [f"limit-{user}-{n}" for n in range(11)]
    first = [await create(clients[0], auth.service(), user, (sku, 1), wait=wait, key=keys[n]) for n in range(10)]
    assert [r.status_code for r in first] == [201] * 10
    again = await create(clients[1], auth.service(), user, (sku, 1), wait=wait, key=keys[9])
    assert again.status_code == 201, again.text
    assert again.json()["order_id"] == first[9].json()["order_id"]
    fresh = await create(clients[1], auth.service(), user, (sku, 1), wait=wait, key=keys[10])
    assert_limit_problem(fresh, "too-many-unpaid-orders", "max_unpaid_orders", 10)
    # The refused key was not stored: once a place is free, the same request goes through.
    await clients[0].post(f"/api/v1/orders/{first[0].json()['order_id']}/cancel", headers=auth.service())
    assert await eventually(lambda: settled(db, user))
    later = await create(clients[0], auth.service(), user, (sku, 1), wait=wait, key=keys[10])
    assert later.status_code == 201, later.text


# --- units of a sku ---------------------------------------------------------------------------


@pytest.mark.parametrize("wait", [True, False])
async def test_an_order_of_more_units_than_may_be_held_is_refused_whole(
    clients: list[httpx.AsyncClient], auth: Auth, db: Database, wait: bool
) -> None:
    user, sku, other = 7050 + wait, new_sku(), new_sku()
    await db.stock(sku, 500)
    await db.stock(other, 500)
    before = await db.counts()
    r = await create(clients[0], auth.service(), user, (other, 5), (sku, 101), wait=wait)
    body = assert_limit_problem(r, "too-many-unpaid-units", "max_unpaid_units_per_sku", 100)
    assert (body["sku"], body["held"], body["requested"]) == (sku, 0, 101)
    assert await db.counts() == before
    assert (await create(clients[0], auth.service(), user, (other, 5), (sku, 100), wait=wait)).status_code == 201
    r = await create(clients[1], auth.service(), user, (sku, 1), wait=wait)
    body = assert_limit_problem(r, "too-many-unpaid-units", "max_unpaid_units_per_sku", 100)
    assert (body["sku"], body["held"], body["requested"]) == (sku, 100, 1)
    # Other skus are still open to the user.
    assert (await create(clients[1], auth.service(), user, (other, 95), wait=wait)).status_code == 201


async def test_thirty_creates_of_one_sku_at_once_hold_no_more_units_than_allowed(
    few_units: list[httpx.AsyncClient], auth: Auth, db: Database
) -> None:
    user, sku, other = 7060, new_sku(), new_sku()
    await db.stock(sku, 1000)
    await db.stock(other, 1000)
    answers = await asyncio.gather(
        *(create(few_units[n % 2], auth.service(), user, (other, 1), (sku, 1), wait=n % 3 != 0) for n in range(30))
    )
    assert Counter(r.status_code for r in answers) == {201: 7, 409: 23}, [r.text for r in answers]
    for r in answers:
        if r.status_code == 409:
            assert_limit_problem(r, "too-many-unpaid-units", "max_unpaid_units_per_sku", 7)
    assert await eventually(lambda: settled(db, user))
    assert (await db.levels(sku))["reserved"] == 7
    assert (await db.levels(other))["reserved"] == 7


# --- the statements under concurrency, step by step ---------------------------------------------

NOW = datetime(2026, 1, 1, tzinfo=UTC)


async def record(conn: asyncpg.Connection, user_id: int, sku: int, limits: UnpaidLimits) -> int:
    [order_id] = await order_ids.next_order_ids(conn, 1)
    await orders.record_new(
        conn,
        new_order(order_id, user_id, [OrderItem(sku, 1)], NOW),
        event={"order_id": order_id},
        topic=UNPUBLISHED,
        request_id=None,
        limits=limits,
        notify=False,
    )
    return order_id


def a_placement(order_id: int, user_id: int, sku: int) -> Placement:
    return Placement(
        order_id=order_id,
        user_id=user_id,
        items=(OrderItem(sku, 1),),
        total_price=None,
        now=NOW,
        deadline=NOW + timedelta(days=1),
        topic=UNPUBLISHED,
        request_id=None,
        new_event={"order_id": order_id},
        reserved_event={"order_id": order_id, "status": "awaiting payment"},
        failed_event={"order_id": order_id, "status": "failed"},
    )


@pytest.fixture
async def conns(db: Database) -> AsyncIterator[list[asyncpg.Connection]]:
    opened = [await asyncpg.connect(db.url) for _ in range(3)]
    try:
        yield opened
    finally:
        await db.fetch("DELETE FROM outbox WHERE topic = $1", UNPUBLISHED)
        for conn in opened:
            await conn.close()


async def waiting_for_a_lock(db: Database) -> int:
    return int(
        await db.value(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()"
        )
    )


@pytest.mark.parametrize("second", ["recorded", "placed"])
async def test_a_create_waits_for_an_uncommitted_one_of_the_same_user_and_counts_it(
    conns: list[asyncpg.Connection], db: Database, second: str
) -> None:
    """Two orders of one user, when one more is allowed: the second waits for the first to commit,
    then sees it and is refused. Counted from the second statement's own snapshot (taken before it
    waited), or without the lock, both would be admitted."""
    user = 7100 + (second == "placed")
    sku = new_sku()
    await db.stock(sku, 100)
    limits = UnpaidLimits(orders=2, units_per_sku=100)
    a, b, _ = conns
    await record(a, user, sku, limits)
    async with a.transaction():
        await record(a, user, sku, limits)  # the second of two, not yet committed
        if second == "recorded":
            attempt = asyncio.create_task(record(b, user, sku, limits))
        else:
            [order_id] = await order_ids.next_order_ids(b, 1)
            attempt = asyncio.create_task(
                placement.place_orders(b, [a_placement(order_id, user, sku)], notify=False, limits=limits)
            )
        assert await eventually(lambda: waiting_for_a_lock(db), timeout=5)
        assert not attempt.done()
    if second == "recorded":
        with pytest.raises(orders.Refused) as refused:
            await attempt
        assert refused.value.refusal == {"limit": "max_unpaid_orders", "value": 2, "held": 2}
    else:
        [placed] = await attempt
        assert not placed.placed
        assert placed.refused == {"limit": "max_unpaid_orders", "value": 2, "held": 2}
    assert await unpaid(db, user) == 2


async def test_creates_of_different_users_do_not_wait_for_each_other(
    conns: list[asyncpg.Connection], db: Database
) -> None:
    sku = new_sku()
    await db.stock(sku, 100)
    limits = UnpaidLimits()
    a, b, c = conns
    async with a.transaction():
        await record(a, 7110, sku, limits)
        # Another user's orders go through at once, on both paths, while the first is uncommitted.
        await asyncio.wait_for(record(b, 7111, sku, limits), timeout=5)
        [order_id] = await order_ids.next_order_ids(c, 1)
        [placed] = await asyncio.wait_for(
            placement.place_orders(c, [a_placement(order_id, 7112, sku)], notify=False, limits=limits), timeout=5
        )
        assert placed.placed


async def test_two_batches_with_the_same_users_in_opposite_orders_do_not_deadlock(
    conns: list[asyncpg.Connection], db: Database
) -> None:
    """A batch takes the locks of all its users in its first statement, in one order: had each
    order taken only its own user's lock, A would hold one user's and want the other's, B the
    reverse."""
    first, second, third, fourth = (new_sku() for _ in range(4))
    for sku in (first, second, third, fourth):
        await db.stock(sku, 10)
    a, b, gate = conns
    ids = await order_ids.next_order_ids(a, 4)
    batch_a = [a_placement(ids[0], 7120, first), a_placement(ids[1], 7121, second)]
    batch_b = [a_placement(ids[2], 7121, third), a_placement(ids[3], 7120, fourth)]
    # Both batches start while another transaction holds both users' locks, and get them at once.
    async with gate.transaction():
        await record(gate, 7120, first, UnpaidLimits())
        await record(gate, 7121, first, UnpaidLimits())
        placing = [
            asyncio.create_task(placement.place_orders(a, batch_a, notify=False)),
            asyncio.create_task(placement.place_orders(b, batch_b, notify=False)),
        ]
        await asyncio.sleep(0.2)
    done = await asyncio.gather(*placing, return_exceptions=True)
    # A deadlock would fail one of them (DeadlockDetectedError) a second later.
    assert [[p.placed for p in result] for result in done] == [[True, True], [True, True]], done


def test_the_limits_are_settings_with_defaults() -> None:
    defaults = Settings(database_url="postgresql://x/y")
    assert defaults.unpaid_limits == UnpaidLimits(orders=10, units_per_sku=100)
    assert Settings(
        database_url="postgresql://x/y", max_unpaid_orders=3, max_unpaid_units_per_sku=40
    ).unpaid_limits == UnpaidLimits(3, 40)


async def test_later_orders_of_a_batch_are_counted_in_place_by_the_same_rule(
    conns: list[asyncpg.Connection], db: Database
) -> None:
    """The first statement of a batch counts in the function, the later ones in the statement
    itself (`orders.UNPAID_REFUSAL`): both refuse alike."""
    sku, other = new_sku(), new_sku()
    await db.stock(sku, 1000)
    await db.stock(other, 1000)
    a, _, _ = conns
    limits = UnpaidLimits(orders=2, units_per_sku=100)
    ids = await order_ids.next_order_ids(a, 6)

    def lines(order_id: int, user_id: int, *items: tuple[int, int]) -> Placement:
        return replace(a_placement(order_id, user_id, sku), items=tuple(OrderItem(s, n) for s, n in items))

    batch = [
        lines(ids[0], 7130, (sku, 60)),
        lines(ids[1], 7131, (other, 1)),
        lines(ids[2], 7130, (other, 1), (sku, 50)),  # 110 units of sku: refused
        lines(ids[3], 7130, (other, 100)),
        lines(ids[4], 7130, (other, 1)),  # a third order: refused
        lines(ids[5], 7131, (other, 101)),  # more than 100 at once: refused
    ]
    placed = await placement.place_orders(a, batch, notify=False, limits=limits)
    assert [p.placed for p in placed] == [True, True, False, True, False, False]
    assert [p.refused for p in placed] == [
        None,
        None,
        {"limit": "max_unpaid_units_per_sku", "value": 100, "sku": sku, "held": 60, "requested": 50},
        None,
        {"limit": "max_unpaid_orders", "value": 2, "held": 2},
        {"limit": "max_unpaid_units_per_sku", "value": 100, "sku": other, "held": 1, "requested": 101},
    ]
