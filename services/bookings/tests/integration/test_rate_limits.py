"""The public booking request is limited per client address and per e-mail address (it makes the
system e-mail whatever address it names): 429 problem+json with Retry-After beyond a limit, even
when many requests arrive at once; managers are not limited; refusals and replays are not counted."""

from __future__ import annotations

import asyncio
import itertools
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from bookings.config import Settings
from bookings.domain.limits import Bucket, client_subject
from bookings.workers.purge import KeyPurger
from shopcommon.testing.plugin import Stack
from shopcommon.testing.tokens import TestIssuer

from ..conftest import Auth, Database, at, booking_body, make_settings, running_app

PER_IP, PER_EMAIL = 4, 3
_hosts = itertools.count(1)
Peer = Callable[..., httpx.AsyncClient]


@pytest.fixture(scope="module")
def settings(shop_stack: Stack, bookings_db: str, test_issuer: TestIssuer, topic: str) -> Settings:
    return make_settings(
        shop_stack,
        bookings_db,
        test_issuer,
        topic,
        requests_per_ip=PER_IP,
        requests_per_ip_window=60,
        requests_per_email=PER_EMAIL,
        requests_per_email_window=3600,
        relay_enabled=False,
        forwarded_allow_ips="127.0.0.1,10.0.0.0/8",
    )


@pytest.fixture(scope="module")
async def app(settings: Settings) -> AsyncIterator[FastAPI]:
    async with running_app(settings) as (app, _):
        yield app


@pytest.fixture
async def peer(app: FastAPI) -> AsyncIterator[Peer]:
    """`peer(host)`: a client whose requests come from `host` (a fresh IPv4 address without one)."""
    clients: list[httpx.AsyncClient] = []

    def make(host: str | None = None) -> httpx.AsyncClient:
        host = host or fresh_host()
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False, client=(host, 40000))
        client = httpx.AsyncClient(transport=transport, base_url="http://bookings", timeout=60)
        clients.append(client)
        return client

    yield make
    for c in clients:
        await c.aclose()


def fresh_host() -> str:
    n = next(_hosts)
    return f"198.51.{n // 250}.{n % 250 + 1}"


def ip_bucket(host: str) -> str:
    return Bucket("ip", client_subject(host), PER_IP, 60).key


def mailbox() -> str:
    return f"guest-{uuid.uuid4().hex[:10]}@example.com"


async def request(client: httpx.AsyncClient, table: int, hour: float, **over: Any) -> httpx.Response:
    headers = over.pop("h", {})
    return await client.post("/api/v1/bookings", json=booking_body(table, at(hour), **over), headers=headers)


def assert_limited(r: httpx.Response, window: int) -> None:
    assert r.status_code == 429, r.text
    assert r.headers["content-type"].startswith("application/problem+json")
    assert r.json()["type"].endswith("/rate-limited")
    assert 1 <= int(r.headers["Retry-After"]) <= window
    assert r.json()["retry_after"] == int(r.headers["Retry-After"])


async def test_a_client_address_gets_its_limit_then_429_with_retry_after_and_nothing_stored(
    peer: Peer, db: Database
) -> None:
    table = await db.table()
    client = peer()
    for hour in range(PER_IP):
        assert (await request(client, table, hour, email=mailbox())).status_code == 201
    before = await db.counts()
    refused = await request(client, table, 10, email=mailbox())
    assert_limited(refused, 60)
    # A forwarded-for header the client writes itself does not make it another client.
    spoofed = await client.post(
        "/api/v1/bookings",
        json=booking_body(table, at(11), email=mailbox()),
        headers={"X-Forwarded-For": "203.0.113.9"},
    )
    assert_limited(spoofed, 60)
    assert await db.counts() == before
    # Another address has its own allowance.
    assert (await request(peer(), table, 12, email=mailbox())).status_code == 201


async def test_behind_a_trusted_proxy_the_forwarded_client_is_counted(peer: Peer, db: Database) -> None:
    """Checkout's pages, or a load balancer listed in FORWARDED_ALLOW_IPS, forward the guest's address."""
    table = await db.table()
    proxy, guest, other = peer("10.1.2.3"), fresh_host(), fresh_host()

    async def via_proxy(forwarded: str, hour: float) -> httpx.Response:
        body = booking_body(table, at(hour), email=mailbox())
        return await proxy.post("/api/v1/bookings", json=body, headers={"X-Forwarded-For": forwarded})

    for hour in range(PER_IP):
        # What the guest wrote itself (left of what the proxy appended) is not believed.
        assert (await via_proxy(f"{fresh_host()}, {guest}", hour)).status_code == 201
    assert_limited(await via_proxy(f"{guest}, 127.0.0.1", 8), 60)
    assert (await via_proxy(other, 9)).status_code == 201
    # The proxy itself is not the client: its own allowance was never used.
    assert (await request(proxy, table, 10, email=mailbox())).status_code == 201


async def test_an_ipv6_client_is_counted_per_64(peer: Peer, db: Database) -> None:
    table = await db.table()
    net = f"2001:db8:{next(_hosts):x}:1"
    for n in range(PER_IP):
        assert (await request(peer(f"{net}::{n + 1:x}"), table, n, email=mailbox())).status_code == 201
    assert_limited(await request(peer(f"{net}:ffff:ffff:ffff:ffff"), table, 9, email=mailbox()), 60)
    assert (await request(peer(f"2001:db8:{next(_hosts):x}:2::1"), table, 9, email=mailbox())).status_code == 201


async def test_an_email_address_gets_its_limit_whoever_asks_and_however_it_is_spelled(peer: Peer, db: Database) -> None:
    table = await db.table()
    local = f"victim{uuid.uuid4().hex[:8]}"
    spellings = [f"{local}@example.com", f"{local.upper()}@Example.COM", f"{local}+dinner@example.com"]
    for hour, address in enumerate(spellings[:PER_EMAIL]):
        assert (await request(peer(), table, hour, email=address)).status_code == 201
    before = await db.counts()
    for hour, address in enumerate(spellings, start=5):
        assert_limited(await request(peer(), table, hour, email=address), 3600)
    assert await db.counts() == before
    # A phone-only request mails nobody: only its client address counts.
    assert (await request(peer(), table, 9, email=None, phone="+44 20 7946 0000")).status_code == 201


async def test_the_window_slides(peer: Peer, db: Database) -> None:
    table, host = await db.table(), fresh_host()
    client = peer(host)
    for hour in range(PER_IP):
        assert (await request(client, table, hour, email=mailbox())).status_code == 201
    assert_limited(await request(client, table, 8, email=mailbox()), 60)
    # The oldest request leaves the window: exactly one more fits.
    await db.fetch(
        "UPDATE request_hits SET at = at - interval '61 seconds' WHERE id = "
        "(SELECT min(id) FROM request_hits WHERE bucket = $1)",
        ip_bucket(host),
    )
    assert (await request(client, table, 9, email=mailbox())).status_code == 201
    assert_limited(await request(client, table, 10, email=mailbox()), 60)


async def test_refused_requests_are_not_counted(peer: Peer, db: Database) -> None:
    closed = await db.table(bookable=False)
    table = await db.table()
    client = peer()
    for hour in range(PER_IP * 2):
        assert (await request(client, closed, hour, email=mailbox())).status_code == 409
        assert (await request(client, table, hour, hours=20, email=mailbox())).status_code == 422
    for hour in range(PER_IP):
        assert (await request(client, table, hour, email=mailbox())).status_code == 201


async def test_managers_are_not_limited_and_customers_are(peer: Peer, db: Database, auth: Auth) -> None:
    table = await db.table()
    client, address = peer(), mailbox()
    for hour in range(PER_IP + PER_EMAIL + 2):
        r = await request(client, table, hour, email=address, h=auth.manager())
        assert r.status_code == 201, r.text
    direct = await request(client, table, 20, email=address, status="confirmed", h=auth.manager())
    assert direct.status_code == 201 and direct.json()["status"] == "confirmed"
    customer = auth.customer(9001)
    for hour in range(PER_IP):
        assert (await request(client, table, 30 + hour, email=mailbox(), h=customer)).status_code == 201
    assert_limited(await request(client, table, 40, email=mailbox(), h=customer), 60)


async def test_a_429_does_not_use_up_the_idempotency_key(peer: Peer, db: Database) -> None:
    table, host = await db.table(), fresh_host()
    client = peer(host)
    for hour in range(PER_IP):
        assert (await request(client, table, hour, email=mailbox())).status_code == 201
    key = {"Idempotency-Key": uuid.uuid4().hex}
    body = booking_body(table, at(10), email=mailbox())
    assert_limited(await client.post("/api/v1/bookings", json=body, headers=key), 60)
    await db.fetch("UPDATE request_hits SET at = at - interval '2 minutes' WHERE bucket = $1", ip_bucket(host))
    retried = await client.post("/api/v1/bookings", json=body, headers=key)
    assert retried.status_code == 201 and "Idempotent-Replayed" not in retried.headers
    replayed = await client.post("/api/v1/bookings", json=body, headers=key)
    assert replayed.headers["Idempotent-Replayed"] == "true" and replayed.json() == retried.json()


async def test_many_requests_at_once_from_one_address_never_exceed_the_limit(peer: Peer, db: Database) -> None:
    table = await db.table()
    for _ in range(5):
        client = peer()
        answers = await asyncio.gather(*(request(client, table, n / 4, email=mailbox()) for n in range(16)))
        statuses = sorted(a.status_code for a in answers)
        assert statuses == [201] * PER_IP + [429] * (16 - PER_IP), [a.text for a in answers if a.status_code >= 500]


async def test_many_requests_at_once_for_one_mailbox_never_exceed_the_limit(peer: Peer, db: Database) -> None:
    table = await db.table()
    for _ in range(5):
        address = mailbox()
        answers = await asyncio.gather(*(request(peer(), table, n / 4, email=address) for n in range(12)))
        assert sorted(a.status_code for a in answers) == [201] * PER_EMAIL + [429] * (12 - PER_EMAIL)
        assert await db.value("SELECT count(*) FROM bookings WHERE email = $1", address) == PER_EMAIL


async def test_the_purge_forgets_requests_older_than_the_longest_window(
    app: FastAPI, settings: Settings, db: Database
) -> None:
    await db.fetch("INSERT INTO request_hits (bucket, at) VALUES ('ip:old', now() - interval '3601 seconds')")
    await db.fetch("INSERT INTO request_hits (bucket, at) VALUES ('email:recent', now() - interval '3500 seconds')")
    purger = KeyPurger(
        app.state.engine, retention=86_400, interval=600, hits_retention=settings.request_hits_retention()
    )
    await purger.step()
    assert await db.value("SELECT count(*) FROM request_hits WHERE bucket IN ('ip:old', 'email:recent')") == 1


async def test_the_document_names_the_429_and_its_retry_after(app: FastAPI) -> None:
    operation = app.openapi()["paths"]["/api/v1/bookings"]["post"]
    limited = operation["responses"]["429"]
    assert "application/problem+json" in limited["content"]
    assert limited["headers"]["Retry-After"]["schema"] == {"type": "integer", "minimum": 1}
    assert "BOOKINGS_REQUESTS_PER_IP" in operation["description"]
