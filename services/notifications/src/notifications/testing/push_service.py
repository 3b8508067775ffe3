"""A local stand-in for a browser's push service (RFC 8030), and the browser's own keys.

The push service lives outside the system, so tests run this one: it checks each message's
VAPID signature and TTL, decrypts the payload with the subscriber's private key (RFC 8291,
`http_ece`), records it, and answers as scripted (201 by default; 404/410/429/5xx on request).
It is served over https (`serve_push_service`), under a host name the tests' resolver knows.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections import defaultdict, deque
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from ipaddress import ip_address, ip_network
from typing import Any

import http_ece
import orjson
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi import FastAPI, Request, Response
from py_vapid import Vapid02

from notifications.domain.addresses import IPAddress
from notifications.push import b64url
from notifications.push_guard import DestinationGuard, UnresolvableHost
from notifications.testing.server import serve_app
from notifications.testing.tls import TestCertificate

#: The name the local push service is reached by; `StaticResolver` maps it to this machine.
PUSH_HOST = "push.test"


class PushSubscriber:
    """What a browser holds: an ECDH key pair and an auth secret for one endpoint."""

    def __init__(self, endpoint: str) -> None:
        self.endpoint = endpoint
        self.private_key = ec.generate_private_key(ec.SECP256R1())
        self.auth_secret = os.urandom(16)

    def subscription(self) -> dict[str, Any]:
        public = self.private_key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        return {
            "endpoint": self.endpoint,
            "expirationTime": None,
            "keys": {"p256dh": b64url(public), "auth": b64url(self.auth_secret)},
        }

    def decrypt(self, body: bytes) -> bytes:
        plain: bytes = http_ece.decrypt(
            body, private_key=self.private_key, auth_secret=self.auth_secret, version="aes128gcm"
        )
        return plain


@dataclass
class ReceivedPush:
    token: str
    headers: dict[str, str]
    payload: dict[str, Any]
    vapid_valid: bool


class LocalPushService:
    def __init__(self) -> None:
        self.base_url = ""
        self.subscribers: dict[str, PushSubscriber] = {}
        self.received: dict[str, list[ReceivedPush]] = defaultdict(list)
        self.attempts: dict[str, int] = defaultdict(int)
        self.scripted: dict[str, deque[tuple[int, bytes]]] = defaultdict(deque)
        self.app = self._build_app()

    def subscriber(self) -> PushSubscriber:
        token = uuid.uuid4().hex
        sub = PushSubscriber(f"{self.base_url}/push/{token}")
        self.subscribers[token] = sub
        return sub

    def answer_next(self, subscriber: PushSubscriber, *statuses: int, body: bytes = b"") -> None:
        """The next messages to this endpoint get these statuses, with `body` (then 201 again)."""
        self.scripted[self._token(subscriber)].extend((status, body) for status in statuses)

    def payloads(self, subscriber: PushSubscriber) -> list[dict[str, Any]]:
        return [r.payload for r in self.received[self._token(subscriber)]]

    def tries(self, subscriber: PushSubscriber) -> int:
        return self.attempts[self._token(subscriber)]

    async def wait_for(self, subscriber: PushSubscriber, count: int, timeout: float = 15.0) -> list[ReceivedPush]:
        token = self._token(subscriber)
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            if len(self.received[token]) >= count or asyncio.get_running_loop().time() > deadline:
                return list(self.received[token])
            await asyncio.sleep(0.05)

    @staticmethod
    def _token(subscriber: PushSubscriber) -> str:
        return subscriber.endpoint.rsplit("/", 1)[-1]

    def _build_app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/push/{token}")
        async def receive(token: str, request: Request) -> Response:
            self.attempts[token] += 1
            if self.scripted[token]:
                status, body = self.scripted[token].popleft()
                return Response(body, status_code=status, headers={"Retry-After": "0"})
            sub = self.subscribers.get(token)
            if sub is None:
                return Response(status_code=404)
            if "ttl" not in request.headers or request.headers.get("content-encoding") != "aes128gcm":
                return Response(status_code=400)
            payload = orjson.loads(sub.decrypt(await request.body()))
            vapid_valid = bool(Vapid02.verify(request.headers.get("authorization", "")))
            self.received[token].append(ReceivedPush(token, dict(request.headers), payload, vapid_valid))
            return Response(status_code=201)

        return app


@asynccontextmanager
async def serve_push_service(
    service: LocalPushService, tls: TestCertificate, *, host: str = PUSH_HOST
) -> AsyncIterator[str]:
    """Serve the push service over https; its endpoints are `https://<host>:<port>/push/...`."""
    async with serve_app(service.app, tls=tls) as url:
        service.base_url = f"https://{host}:{url.rsplit(':', 1)[1]}"
        yield service.base_url


class StaticResolver:
    """DNS for tests: fixed answers, and the calls it got."""

    def __init__(self, hosts: Mapping[str, Sequence[str]]) -> None:
        self.hosts = {name: [ip_address(a) for a in addresses] for name, addresses in hosts.items()}
        self.calls: list[str] = []

    async def __call__(self, host: str, port: int) -> list[IPAddress]:
        self.calls.append(host)
        if host not in self.hosts:
            raise UnresolvableHost(f"{host}: unknown to the test resolver")
        return list(self.hosts[host])


def local_push_guard(hosts: Mapping[str, Sequence[str]] | None = None) -> DestinationGuard:
    """The production guard, except that `push.test` (and `hosts`) resolve here and this
    machine's 127.0.0.1 counts as public: where the local push service lives."""
    return DestinationGuard(
        resolver=StaticResolver({PUSH_HOST: ["127.0.0.1"], **(hosts or {})}),
        allowed_networks=(ip_network("127.0.0.1/32"),),
    )


def local_push_env(tls: TestCertificate) -> dict[str, str]:
    """The environment a notifications process (dev mode) needs to push to a local push service
    served with `serve_push_service(service, tls, host="127.0.0.1")`."""
    return {"NOTIFICATIONS_PUSH_ALLOWED_NETWORKS": "127.0.0.1/32", "NOTIFICATIONS_PUSH_CA_FILE": str(tls.ca_file)}
