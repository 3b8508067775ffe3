"""A local stand-in for a browser's push service (RFC 8030), and the browser's own keys.

The push service lives outside the system, so tests run this one: it checks each message's
VAPID signature and TTL, decrypts the payload with the subscriber's private key (RFC 8291,
`http_ece`), records it, and answers as scripted (201 by default; 404/410/429/5xx on request).
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections import defaultdict, deque
from dataclasses import dataclass
from typing import Any

import http_ece
import orjson
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi import FastAPI, Request, Response
from py_vapid import Vapid02

from notifications.push import b64url


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
        self.scripted: dict[str, deque[int]] = defaultdict(deque)
        self.app = self._build_app()

    def subscriber(self) -> PushSubscriber:
        token = uuid.uuid4().hex
        sub = PushSubscriber(f"{self.base_url}/push/{token}")
        self.subscribers[token] = sub
        return sub

    def answer_next(self, subscriber: PushSubscriber, *statuses: int) -> None:
        """The next messages to this endpoint get these statuses (then 201 again)."""
        self.scripted[self._token(subscriber)].extend(statuses)

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
                return Response(status_code=self.scripted[token].popleft(), headers={"Retry-After": "0"})
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
