"""One push as the client sends it, against push services that misbehave at the socket level
(the push service lives outside the system): where it connects, redirects, slow and endless
answers."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from ipaddress import ip_network
from pathlib import Path

import pytest
from py_vapid import Vapid02

from notifications.domain.delivery import DeliveryError
from notifications.push import PushTarget, WebPushClient
from notifications.push_guard import DestinationGuard, make_push_http_client, push_ssl_context
from notifications.testing.push_service import PushSubscriber, StaticResolver
from notifications.testing.tls import TestCertificate

Answer = Callable[[asyncio.StreamWriter], Awaitable[None]]


@dataclass
class RawPushService:
    """An https server that reads each request and answers with a script of raw bytes."""

    tls: TestCertificate
    answer: Answer
    port: int = 0
    connections: int = 0
    requests: list[dict[str, str]] = field(default_factory=list)

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            headers = {k.strip().lower(): v.strip() for k, _, v in (line.partition(":") for line in lines[1:] if line)}
            await reader.readexactly(int(headers.get("content-length", "0")))
            self.requests.append({"request-line": lines[0], **headers})
            await self.answer(writer)
        except (ConnectionError, asyncio.IncompleteReadError, OSError):
            pass
        finally:
            writer.close()


@asynccontextmanager
async def raw_push_service(tls: TestCertificate, answer: Answer) -> AsyncIterator[RawPushService]:
    service = RawPushService(tls, answer)
    server = await asyncio.start_server(service.handle, "127.0.0.1", 0, ssl=tls.server_context())
    service.port = server.sockets[0].getsockname()[1]
    try:
        yield service
    finally:
        server.close()


def client_for(
    tls: TestCertificate, guard: DestinationGuard, *, deadline: float = 5.0, max_response_bytes: int = 4096
) -> WebPushClient:
    vapid = Vapid02()
    vapid.generate_keys()
    http = make_push_http_client(guard, timeout=deadline, ssl_context=push_ssl_context(str(tls.ca_file)))
    return WebPushClient(
        http,
        vapid,
        "mailto:test@shop.example",
        ttl=60,
        deadline_seconds=deadline,
        max_response_bytes=max_response_bytes,
    )


def target(url: str) -> PushTarget:
    keys = PushSubscriber(url).subscription()["keys"]
    return PushTarget(url, keys["p256dh"], keys["auth"])


def local_guard(resolver: StaticResolver) -> DestinationGuard:
    return DestinationGuard(resolver=resolver, allowed_networks=(ip_network("127.0.0.1/32"),))


async def created(writer: asyncio.StreamWriter) -> None:
    writer.write(b"HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n")
    await writer.drain()


@pytest.fixture(scope="module")
def name_only_tls(tmp_path_factory: pytest.TempPathFactory) -> TestCertificate:
    """A certificate for the name `push.test` only: connecting by IP would fail verification."""
    return TestCertificate.issue(Path(tmp_path_factory.mktemp("tls")), names=("push.test",), addresses=())


async def test_a_host_that_resolves_to_a_private_address_gets_no_connection(name_only_tls: TestCertificate) -> None:
    async with raw_push_service(name_only_tls, created) as service:
        guard = DestinationGuard(resolver=StaticResolver({"push.test": ["127.0.0.1"]}))
        client = client_for(name_only_tls, guard)
        with pytest.raises(DeliveryError) as refused:
            await client.send(target(f"https://push.test:{service.port}/push/a"), b"{}")
        await client.http.aclose()
    assert refused.value.permanent and refused.value.reason == "the push endpoint's address is not allowed"
    assert service.connections == 0


async def test_the_push_goes_to_the_checked_address_under_the_host_name(name_only_tls: TestCertificate) -> None:
    resolver = StaticResolver({"push.test": ["127.0.0.1"]})
    async with raw_push_service(name_only_tls, created) as service:
        client = client_for(name_only_tls, local_guard(resolver))
        await client.send(target(f"https://push.test:{service.port}/push/a"), b"{}")
        await client.http.aclose()
    # TLS verified the certificate for `push.test` (SNI), the Host header names it, DNS asked once.
    assert [r["host"] for r in service.requests] == [f"push.test:{service.port}"]
    assert resolver.calls == ["push.test"]


async def test_a_redirect_is_not_followed(name_only_tls: TestCertificate) -> None:
    async def redirect(writer: asyncio.StreamWriter) -> None:
        location = f"https://push.test:{service.port}/elsewhere"
        writer.write(f"HTTP/1.1 307 Temporary Redirect\r\nLocation: {location}\r\nContent-Length: 0\r\n\r\n".encode())
        await writer.drain()

    async with raw_push_service(name_only_tls, redirect) as service:
        client = client_for(name_only_tls, local_guard(StaticResolver({"push.test": ["127.0.0.1"]})))
        with pytest.raises(DeliveryError) as refused:
            await client.send(target(f"https://push.test:{service.port}/push/a"), b"{}")
        await client.http.aclose()
    assert refused.value.permanent and "redirect" in refused.value.reason
    assert [r["request-line"] for r in service.requests] == ["POST /push/a HTTP/1.1"]


async def test_a_slow_drip_answer_is_cut_by_the_overall_deadline(name_only_tls: TestCertificate) -> None:
    async def drip(writer: asyncio.StreamWriter) -> None:
        writer.write(b"HTTP/1.1 201 Created\r\n")
        for _ in range(600):  # a header byte every 0.05 s: no single read ever waits long
            writer.write(b"X")
            await writer.drain()
            await asyncio.sleep(0.05)

    async with raw_push_service(name_only_tls, drip) as service:
        client = client_for(name_only_tls, local_guard(StaticResolver({"push.test": ["127.0.0.1"]})), deadline=1.0)
        started = time.monotonic()
        with pytest.raises(DeliveryError) as refused:
            await asyncio.wait_for(client.send(target(f"https://push.test:{service.port}/push/a"), b"{}"), 10)
        elapsed = time.monotonic() - started
        await client.http.aclose()
    assert not refused.value.permanent and refused.value.reason == "push service did not answer in time"
    assert elapsed < 2.5


async def test_an_endless_answer_is_read_only_up_to_the_limit(name_only_tls: TestCertificate) -> None:
    written = 0

    async def endless(writer: asyncio.StreamWriter) -> None:
        nonlocal written
        writer.write(b"HTTP/1.1 201 Created\r\nContent-Length: 100000000000\r\n\r\n")
        chunk = b"x" * 65536
        while True:
            writer.write(chunk)
            await writer.drain()
            written += len(chunk)

    async with raw_push_service(name_only_tls, endless) as service:
        client = client_for(
            name_only_tls, local_guard(StaticResolver({"push.test": ["127.0.0.1"]})), max_response_bytes=1000
        )
        started = time.monotonic()
        await client.send(target(f"https://push.test:{service.port}/push/a"), b"{}")  # 201: accepted
        elapsed = time.monotonic() - started
        await client.http.aclose()
    assert elapsed < 3.0  # not read until the 5 s deadline
    assert written < 64 * 1024 * 1024


async def test_an_unreachable_push_service_is_a_neutral_retryable_failure(name_only_tls: TestCertificate) -> None:
    async with raw_push_service(name_only_tls, created) as service:
        port = service.port
    client = client_for(name_only_tls, local_guard(StaticResolver({"push.test": ["127.0.0.1"]})))
    with pytest.raises(DeliveryError) as failed:
        await client.send(target(f"https://push.test:{port}/push/a"), b"{}")
    await client.http.aclose()
    assert not failed.value.permanent and failed.value.reason == "push service unreachable"
    assert failed.value.detail and "push service unreachable" not in failed.value.detail


async def test_a_host_that_does_not_resolve_is_a_retryable_failure(name_only_tls: TestCertificate) -> None:
    client = client_for(name_only_tls, local_guard(StaticResolver({})))
    with pytest.raises(DeliveryError) as failed:
        await client.send(target("https://push.test/push/a"), b"{}")
    await client.http.aclose()
    assert not failed.value.permanent and failed.value.reason == "push service not found"
