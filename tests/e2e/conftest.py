"""The whole system as real processes: every installed service on a free port, each with a fresh
database (migrated, demo data loaded), wired to the others and to the session's embedded stack."""

from __future__ import annotations

import asyncio
import re
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import orjson
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition

from notifications.testing.push_service import local_push_env
from notifications.testing.tls import TestCertificate
from shopcommon.devstack.launcher import service_urls_env
from shopcommon.devstack.servers import free_ports
from shopcommon.kafka import ensure_topics
from shopcommon.services import ServiceSpec, discover_services
from shopcommon.testing.plugin import ServiceProcess, Stack, run_sync


@dataclass
class System:
    stack: Stack
    #: The first process of every service (the only one unless the system runs replicas).
    services: dict[str, ServiceProcess] = field(default_factory=dict)
    #: Every process of every service, the first one first.
    replicas: dict[str, list[ServiceProcess]] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)
    #: The certificate of a local push service the processes trust (push endpoints must be https).
    push_tls: TestCertificate | None = None

    def url(self, name: str, replica: int = 0) -> str:
        return self.replicas[name][replica].url

    def client(self, name: str, replica: int = 0, **kw: object) -> httpx.AsyncClient:
        # Idle connections are dropped well before uvicorn's 5 s keep-alive ends, so a request
        # never goes out on a connection the server is closing at that moment.
        kw.setdefault("limits", httpx.Limits(keepalive_expiry=2.0))
        kw.setdefault("timeout", 30)
        return httpx.AsyncClient(base_url=self.url(name, replica), **kw)  # type: ignore[arg-type]

    @property
    def mail_api(self) -> str:
        return self.stack.urls.mail_api_url

    @property
    def order_events(self) -> str:
        """This system's order events topic."""
        return self.env[TOPIC_ENV[ORDER_EVENTS]]

    @property
    def booking_events(self) -> str:
        """This system's booking events topic."""
        return self.env[TOPIC_ENV[BOOKING_EVENTS]]

    def stop(self) -> None:
        for procs in reversed(list(self.replicas.values())):
            for proc in procs:
                proc.stop()


def process_env(spec: ServiceSpec, env: dict[str, str]) -> dict[str, str]:
    """What `make run` gives the service's process: the shared environment plus the spec's own
    extra variables (which never override what the environment or the test says)."""
    out = dict(env)
    if spec.extra_env is not None:
        for key, value in spec.extra_env(out).items():
            out.setdefault(key, value)
    return out


def start_system(stack: Stack, tmp: Path, extra_env: dict[str, str] | None = None, *, replicas: int = 1) -> System:
    """Every service, `replicas` processes of each on ports of their own, sharing the databases,
    the broker, Valkey and the data directory (so the dev keys). Replica i of a service calls
    replica i of the others, so each replica's calls between services are exercised too."""
    specs: list[ServiceSpec] = discover_services()
    distinct = iter(free_ports(len(specs) * replicas))
    ports = [{spec.name: next(distinct) for spec in specs} for _ in range(replicas)]
    own = uuid.uuid4().hex[:8]
    base = {
        "APP_ENV": "dev",
        "LOG_JSON": "false",
        "SHOP_DATA_DIR": str(tmp),
        **stack.urls.as_env(),
        # Event topics and a consumer group of the system's own: the broker is the session's, and
        # a group that earlier systems' processes left (killed, frozen) must not hold this one's
        # consumer back; nor may their events reach this system's customers (their ids repeat).
        TOPIC_ENV[ORDER_EVENTS]: f"{ORDER_EVENTS}.{own}",
        TOPIC_ENV[BOOKING_EVENTS]: f"{BOOKING_EVENTS}.{own}",
        "NOTIFICATIONS_CONSUMER_GROUP": f"notifications-{own}",
    }
    databases: dict[str, str] = {}
    for spec in specs:
        if spec.database:
            databases[spec.database_env] = stack.fresh_database(spec.name, "e2e")
    envs = [{**base, **service_urls_env(specs, p), **(extra_env or {}), **databases} for p in ports]
    system = System(stack=stack, env=envs[0])
    for spec in specs:
        loader = spec.load_demo_data() if spec.database else None
        if loader is not None:
            run_sync(loader(databases[spec.database_env], process_env(spec, envs[0])))
    try:
        for i, env in enumerate(envs):
            for spec in specs:
                proc = ServiceProcess(spec, process_env(spec, env), stack.embedded.log_dir, port=ports[i][spec.name])
                system.replicas.setdefault(spec.name, []).append(proc)
                if i == 0:
                    system.services[spec.name] = proc
                proc.proc.start()
        for procs in system.replicas.values():
            for proc in procs:
                proc.wait_ready(60)
        consumers_joined(system.replicas.get("notifications", []))
    except BaseException:
        system.stop()
        raise
    return system


#: Joining a consumer group takes Tansu a few seconds, and longer after a member was killed (it
#: must time out first: a restarted process's earlier self).
JOIN_SECONDS = 120.0


def metric(text: str, name: str) -> float:
    """A sample's value in a Prometheus text exposition (0 when absent)."""
    found = re.search(rf"^{re.escape(name)} (\S+)$", text, re.MULTILINE)
    return float(found.group(1)) if found else 0.0


def consumer_partitions(proc: ServiceProcess) -> float:
    """The partitions the notifications process holds in its consumer group (its gauge)."""
    return metric(httpx.get(f"{proc.url}/metrics", timeout=5).text, "notifications_consumer_partitions")


def consumers_joined(procs: list[ServiceProcess], timeout: float = JOIN_SECONDS) -> None:
    """Wait until every notifications process holds partitions of the event topics, so an event
    published now is read at once rather than after the group settles: a test's deadline then
    measures the system, not the broker's rebalance."""
    deadline = time.monotonic() + timeout
    while not all(consumer_partitions(proc) > 0 for proc in procs):
        assert time.monotonic() < deadline, "a notifications consumer joined no group within " + (
            f"{timeout:.0f} s:\n" + "\n".join(proc.log() for proc in procs)
        )
        time.sleep(0.25)


@pytest.fixture(scope="module")
def system(shop_stack: Stack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[System]:
    tls = TestCertificate.issue(tmp_path_factory.mktemp("push-tls"))
    # Open pages over the catalogue ask again every second (10 s by default), so a browser test sees it soon.
    env = {**local_push_env(tls), "CHECKOUT_PAGE_REFRESH_SECONDS": "1"}
    sys_ = start_system(shop_stack, tmp_path_factory.mktemp("system"), extra_env=env)
    sys_.push_tls = tls
    try:
        yield sys_
    finally:
        sys_.stop()


# --- what the replica and fault tests drive and audit ---------------------------------------------
ORDER_EVENTS = "loms.order-events"
BOOKING_EVENTS = "bookings.booking-events"
#: The variables naming each topic (its publisher's and notifications' settings read the same one).
TOPIC_ENV = {ORDER_EVENTS: "LOMS_ORDER_EVENTS_TOPIC", BOOKING_EVENTS: "BOOKINGS_BOOKING_EVENTS_TOPIC"}
SUBJECT = re.compile(r"^(Order|Booking) (\d+)\b")


async def bearer(system: System, username: str, password: str, replica: int = 0) -> dict[str, str]:
    async with system.client("checkout", replica) as client:
        r = await client.post("/api/v1/auth/token", json={"username": username, "password": password})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


async def new_customer(system: System, staff: dict[str, str], replica: int = 0) -> dict[str, Any]:
    """A customer of one's own (the mail catcher is shared), created by a manager (so no
    confirmation mail) through checkout's `replica`, logged in through it."""
    name = "r" + uuid.uuid4().hex[:12]
    async with system.client("checkout", replica) as client:
        created = await client.post(
            "/api/v1/users",
            headers=staff,
            json={
                "username": name,
                "email": f"{name}@customers.test",
                "password": "correct-horse-1",
                "first_name": "Rita",
                "last_name": "Replica",
            },
        )
    assert created.status_code == 201, created.text
    headers = await bearer(system, name, "correct-horse-1", replica)
    return {"id": created.json()["id"], "email": created.json()["email"], "headers": headers}


def plain_url(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://")


async def stock_levels(system: System, skus: list[int]) -> dict[tuple[int, int], tuple[int, int]]:
    """(sku, warehouse) -> (total, reserved), read from LOMS's database."""
    conn = await asyncpg.connect(plain_url(system.env["LOMS_DATABASE_URL"]))
    try:
        rows = await conn.fetch("SELECT sku, warehouse_id, total, reserved FROM stocks WHERE sku = ANY($1)", skus)
    finally:
        await conn.close()
    return {(r["sku"], r["warehouse_id"]): (r["total"], r["reserved"]) for r in rows}


async def stock_problems(
    system: System, before: dict[tuple[int, int], tuple[int, int]], orders: list[int]
) -> list[str]:
    """Per (sku, warehouse): total = before - what paid orders hold there; reserved = before +
    what orders awaiting payment hold there; and every live order holds exactly its items."""
    conn = await asyncpg.connect(plain_url(system.env["LOMS_DATABASE_URL"]))
    try:
        held = await conn.fetch(
            "SELECT r.sku, r.warehouse_id, o.status, sum(r.count) AS n FROM reservations r"
            " JOIN orders o ON o.id = r.order_id WHERE o.id = ANY($1) GROUP BY 1, 2, 3",
            orders,
        )
        per_order = await conn.fetch(
            "SELECT o.id, o.status, (SELECT coalesce(sum(count), 0) FROM order_items i WHERE i.order_id = o.id) AS items,"
            " (SELECT coalesce(sum(count), 0) FROM reservations r WHERE r.order_id = o.id) AS reserved"
            " FROM orders o WHERE o.id = ANY($1)",
            orders,
        )
    finally:
        await conn.close()
    now = await stock_levels(system, sorted({sku for sku, _ in before}))
    sold: Counter[tuple[int, int]] = Counter()
    waiting: Counter[tuple[int, int]] = Counter()
    for r in held:
        if r["status"] == "paid":
            sold[(r["sku"], r["warehouse_id"])] += r["n"]
        elif r["status"] == "awaiting payment":
            waiting[(r["sku"], r["warehouse_id"])] += r["n"]
    problems = [
        f"{place}: now {now.get(place)}, before {level}, sold {sold[place]}, held {waiting[place]}"
        for place, level in before.items()
        if now.get(place) != (level[0] - sold[place], level[1] + waiting[place])
    ]
    problems += [
        f"order {r['id']} ({r['status']}) holds {r['reserved']} of {r['items']} units"
        for r in per_order
        if r["status"] in ("paid", "awaiting payment") and r["reserved"] != r["items"]
    ]
    return problems


async def read_to_the_end(consumer: AIOKafkaConsumer, parts: list[TopicPartition]) -> dict[TopicPartition, int]:
    """Read what the partitions hold now, from their beginning; the offset after each one's last
    record. Tansu's end offsets (ListOffsets `latest`) can lag its last records, so a test that
    took them as its starting point would count an earlier module's events (whose order ids a
    fresh system reuses) as its own."""
    await consumer.seek_to_beginning(*parts)
    after = dict.fromkeys(parts, 0)
    quiet = 0
    while quiet < 2:
        batches = await consumer.getmany(timeout_ms=500)
        quiet = 0 if any(batches.values()) else quiet + 1
        for tp, messages in batches.items():
            after[tp] = max(after[tp], *(m.offset + 1 for m in messages))
    return after


class EventLog:
    """Every record of the event topics from where the test started reading."""

    def __init__(self, system: System) -> None:
        self.bootstrap = system.stack.urls.kafka_bootstrap_servers
        self.topics = (system.order_events, system.booking_events)
        self.consumer = AIOKafkaConsumer(
            bootstrap_servers=self.bootstrap, group_id=None, enable_auto_commit=False, request_timeout_ms=40000
        )
        self.records: list[dict[str, Any]] = []

    async def open(self) -> None:
        await ensure_topics(self.bootstrap, dict.fromkeys(self.topics, 3))
        await self.consumer.start()
        await self.consumer.topics()
        parts = [TopicPartition(t, p) for t in self.topics for p in sorted(self.consumer.partitions_for_topic(t) or ())]
        self.consumer.assign(parts)
        await read_to_the_end(self.consumer, parts)  # what is there is an earlier test's

    async def read(self, timeout_ms: int = 300) -> None:
        batches = await self.consumer.getmany(timeout_ms=timeout_ms)
        for messages in batches.values():
            self.records += [orjson.loads(m.value) for m in messages if m.value]

    async def close(self) -> None:
        await self.consumer.stop()

    def transitions(self, kind: str, id_field: str, ids: set[int]) -> dict[tuple[int, str], set[str]]:
        """(id, status) -> the distinct event ids that announced it."""
        out: dict[tuple[int, str], set[str]] = {}
        for e in self.records:
            if e.get("type") == kind and e.get(id_field) in ids:
                out.setdefault((e[id_field], e["status"]), set()).add(e["event_id"])
        return out


async def mail_subjects(system: System, addresses: set[str]) -> Counter[tuple[str, str]]:
    """(address, subject) -> how many mails with that subject reached that address."""
    async with httpx.AsyncClient(base_url=system.mail_api, timeout=30) as client:
        listing = (await client.get("/api/v1/messages", params={"limit": 100000})).json()
    found: Counter[tuple[str, str]] = Counter()
    for m in listing["messages"]:
        for to in m["To"]:
            if to["Address"] in addresses:
                found[(to["Address"], m["Subject"])] += 1
    return found


async def wait_until(check: Callable[[], Awaitable[bool]], timeout: float, what: str) -> float:
    """Poll `check` until true; the seconds it took (AssertionError after `timeout`)."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    while not await check():
        assert loop.time() - started < timeout, f"not within {timeout:.0f} s: {what}"
        await asyncio.sleep(0.25)
    return loop.time() - started


def statuses_of(final: str) -> list[str]:
    """The statuses an order that ended in `final` went through (the drivers wait for `awaiting
    payment` before they pay or cancel)."""
    if final == "failed":
        return ["new", "failed"]
    if final == "new":
        return ["new"]
    return ["new", "awaiting payment", *([final] if final != "awaiting payment" else [])]


@dataclass
class Audit:
    orders: int = 0
    bookings: int = 0
    transitions: int = 0
    event_records: int = 0
    redelivered: int = 0
    emails: int = 0
    lost_events: list[str] = field(default_factory=list)
    doubled_events: list[str] = field(default_factory=list)
    lost_emails: list[str] = field(default_factory=list)
    doubled_emails: list[str] = field(default_factory=list)
    doubled_tasks: list[str] = field(default_factory=list)
    stock: list[str] = field(default_factory=list)

    @property
    def problems(self) -> list[str]:
        return [
            *self.lost_events,
            *self.doubled_events,
            *self.lost_emails,
            *self.doubled_emails,
            *self.doubled_tasks,
            *self.stock,
        ]

    def figures(self) -> str:
        return (
            f"orders {self.orders}, bookings {self.bookings}, transitions {self.transitions}, "
            f"event records {self.event_records} ({self.redelivered} redelivered), emails {self.emails}; "
            f"lost events {len(self.lost_events)}, doubled events {len(self.doubled_events)}, "
            f"lost emails {len(self.lost_emails)}, doubled emails {len(self.doubled_emails)}, "
            f"doubled tasks {len(self.doubled_tasks)}, stock problems {len(self.stock)}"
        )


async def final_orders(system: System, users: list[int]) -> dict[int, str]:
    """Every order of these users, whoever created it and whatever answer was lost: id -> status."""
    conn = await asyncpg.connect(plain_url(system.env["LOMS_DATABASE_URL"]))
    try:
        rows = await conn.fetch("SELECT id, status FROM orders WHERE user_id = ANY($1)", users)
    finally:
        await conn.close()
    return {r["id"]: r["status"] for r in rows}


async def audit(
    system: System,
    log: EventLog,
    customers: list[dict[str, Any]],
    bookings: dict[int, tuple[str, list[str]]],
    stock_before: dict[tuple[int, int], tuple[int, int]],
) -> Audit:
    """Everything the customers' orders and the guests' bookings should have caused, once each:
    an event per transition on the topic (distinct event ids; a re-delivery of one event id is
    counted, not failed), a mail per transition, a task assigned once, and the stock."""
    orders = await final_orders(system, [c["id"] for c in customers])
    email_of = {c["id"]: c["email"] for c in customers}
    conn = await asyncpg.connect(plain_url(system.env["LOMS_DATABASE_URL"]))
    try:
        owner = dict(await conn.fetch("SELECT id, user_id FROM orders WHERE id = ANY($1)", list(orders)))
    finally:
        await conn.close()
    await log.read(100)
    found = Audit(orders=len(orders), bookings=len(bookings), event_records=len(log.records))
    ids = [e["event_id"] for e in log.records]
    found.redelivered = len(ids) - len(set(ids))
    expected: list[tuple[str, str, int, str, str]] = []  # (kind, id field, id, status, address)
    for order_id, final in orders.items():
        expected += [
            ("order.status_changed", "order_id", order_id, s, email_of[owner[order_id]]) for s in statuses_of(final)
        ]
    for booking_id, (address, statuses) in bookings.items():
        expected += [("booking.status_changed", "booking_id", booking_id, s, address) for s in statuses]
    found.transitions = len(expected)
    announced: dict[tuple[Any, ...], set[str]] = {
        **log.transitions("order.status_changed", "order_id", set(orders)),
        **{("b", *k): v for k, v in log.transitions("booking.status_changed", "booking_id", set(bookings)).items()},
    }
    for kind, _, ident, status, _ in expected:
        key: tuple[Any, ...] = (ident, status) if kind.startswith("order") else ("b", ident, status)
        events = announced.get(key, set())
        if not events:
            found.lost_events.append(f"{kind} {ident} {status}: not on the topic")
        elif len(events) > 1:
            found.doubled_events.append(f"{kind} {ident} {status}: {len(events)} event ids")
    wanted = {(kind, ident, status) for kind, _, ident, status, _ in expected}
    found.doubled_events += [
        f"unexpected {key}" for key in announced if key[0] != "b" and (("order.status_changed", *key) not in wanted)
    ]
    mails = await mail_subjects(system, {address for *_, address in expected})
    found.emails = sum(mails.values())
    per_thing: Counter[tuple[str, str, int]] = Counter()
    for (address, subject), n in mails.items():
        matched = SUBJECT.match(subject)
        if matched:
            per_thing[(address, matched.group(1), int(matched.group(2)))] += 1
            if n > 1:
                found.doubled_emails.append(f"{address}: {subject!r} x{n}")
    want_mails: Counter[tuple[str, str, int]] = Counter(
        (address, "Order" if kind.startswith("order") else "Booking", ident) for kind, _, ident, _, address in expected
    )
    for thing, n in want_mails.items():
        if per_thing[thing] < n:
            found.lost_emails.append(f"{thing}: {per_thing[thing]} of {n} mails")
    task_ids = {int(e["task_id"]) for e in log.records if e.get("task_id") is not None}
    assigned = log.transitions("task.status_changed", "task_id", task_ids)
    found.doubled_tasks = [f"task {t} {s}: {len(v)} event ids" for (t, s), v in assigned.items() if len(v) > 1]
    found.stock = await stock_problems(system, stock_before, list(orders))
    return found
