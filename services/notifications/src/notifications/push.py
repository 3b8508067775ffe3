"""Web push (RFC 8030): payloads encrypted as RFC 8291 requires (aes128gcm, via pywebpush) and
signed with VAPID (RFC 8292); the push service's answer decides keep, retry or forget. Where a
push may go at all is `push_guard`'s business."""

from __future__ import annotations

import asyncio
import base64
import binascii
from dataclasses import KW_ONLY, dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

import httpx
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from py_vapid import Vapid02, VapidException
from pywebpush import WebPusher, WebPushException

from notifications.domain.delivery import DeliveryError
from notifications.push_guard import (
    EndpointRefused,
    ForbiddenDestination,
    PushEndpoint,
    UnresolvableHost,
    parse_push_endpoint,
)

GONE_STATUSES = frozenset({404, 410})


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def load_vapid(private_key: str) -> Vapid02:
    """A PEM private key, or the raw 32-byte P-256 scalar in base64url (what dev generates)."""
    if private_key.lstrip().startswith("-----BEGIN"):
        return Vapid02.from_pem(private_key.strip().encode())
    return Vapid02.from_raw(private_key.strip().encode())


def vapid_public_key(vapid: Vapid02) -> str:
    """The `applicationServerKey` browsers subscribe with: the uncompressed point, base64url."""
    raw = vapid.public_key.public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    return b64url(raw)


def valid_subscription_keys(p256dh: str, auth: str) -> bool:
    try:
        point, secret = b64url_decode(p256dh), b64url_decode(auth)
    except (binascii.Error, ValueError):
        return False
    return len(point) == 65 and point[0] == 4 and len(secret) == 16


def on_p256(p256dh: str) -> bool:
    """Whether the subscription's key (of the right shape) is a point of the curve: one that is not
    would be stored, then fail its first push and be dropped without a word to the subscriber."""
    try:
        ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), b64url_decode(p256dh))
    except ValueError:
        return False
    return True


@dataclass(frozen=True)
class PushTarget:
    endpoint: str
    p256dh: str
    auth: str


class UnusableSubscription(DeliveryError):
    """The subscription can never be delivered to again: it is deleted."""


class GoneSubscription(UnusableSubscription):
    def __init__(self, status: int) -> None:
        super().__init__(f"push service answered {status}: subscription gone", permanent=True)


@dataclass
class WebPushClient:
    """Sends one push per call, bounded: an overall deadline on the whole exchange (resolve,
    connect, TLS, request, answer) and at most `max_response_bytes` of the answer read."""

    http: httpx.AsyncClient
    vapid: Vapid02
    subject: str
    _: KW_ONLY
    ttl: int
    deadline_seconds: float = 10.0
    max_response_bytes: int = 4096

    def encrypt(self, target: PushTarget, payload: bytes) -> bytes:
        info = {"endpoint": target.endpoint, "keys": {"p256dh": target.p256dh, "auth": target.auth}}
        try:
            body: bytes = WebPusher(info).encode(payload, "aes128gcm")["body"]
        except (WebPushException, ValueError, binascii.Error) as exc:
            raise UnusableSubscription(
                "the subscription's keys are not usable", permanent=True, detail=str(exc)
            ) from exc
        return body

    def headers(self, endpoint: PushEndpoint, *, urgency: str = "normal") -> dict[str, str]:
        port = "" if endpoint.port == 443 else f":{endpoint.port}"
        claims = {"aud": f"https://{endpoint.host}{port}", "sub": self.subject}
        try:
            signed = self.vapid.sign(claims)
        except VapidException as exc:
            raise UnusableSubscription("the push endpoint is not usable", permanent=True, detail=str(exc)) from exc
        return {
            **signed,
            "TTL": str(self.ttl),
            "Content-Encoding": "aes128gcm",
            "Content-Type": "application/octet-stream",
            "Urgency": urgency,
        }

    async def send(self, target: PushTarget, payload: bytes) -> None:
        """Raises UnusableSubscription when the subscription is beyond use (404/410, a bad endpoint
        or keys), DeliveryError otherwise when the message was not accepted."""
        try:
            endpoint = parse_push_endpoint(target.endpoint)
        except EndpointRefused as exc:
            raise UnusableSubscription("the push endpoint is not usable", permanent=True, detail=str(exc)) from exc
        body, headers = self.encrypt(target, payload), self.headers(endpoint)
        try:
            async with asyncio.timeout(self.deadline_seconds):
                status, answer_headers, answer = await self._post(endpoint, body, headers)
        except ForbiddenDestination as exc:
            raise DeliveryError(
                "the push endpoint's address is not allowed",
                permanent=True,
                detail=f"{exc.host} resolves to {', '.join(map(str, exc.addresses))}",
            ) from exc
        except UnresolvableHost as exc:
            raise DeliveryError("push service not found", permanent=False, detail=str(exc)) from exc
        except TimeoutError as exc:
            raise DeliveryError(
                "push service did not answer in time", permanent=False, detail=f"{self.deadline_seconds}s deadline"
            ) from exc
        except httpx.HTTPError as exc:
            raise DeliveryError("push service unreachable", permanent=False, detail=repr(exc)) from exc
        self._judge(status, answer_headers, answer)

    async def _post(
        self, endpoint: PushEndpoint, body: bytes, headers: dict[str, str]
    ) -> tuple[int, httpx.Headers, bytes]:
        request = self.http.build_request("POST", endpoint.url, content=body, headers=headers)
        response = await self.http.send(request, stream=True, follow_redirects=False)
        try:
            answer = await read_at_most(response, self.max_response_bytes)
        finally:
            await response.aclose()
        return response.status_code, response.headers, answer

    @staticmethod
    def _judge(status: int, headers: httpx.Headers, answer: bytes) -> None:
        if status in GONE_STATUSES:
            raise GoneSubscription(status)
        detail = " ".join(answer.decode("utf-8", "replace").split())[:500] or None  # one log line
        if status == 429 or status >= 500:
            raise DeliveryError(
                f"push service answered {status}",
                permanent=False,
                retry_after=retry_after_seconds(headers.get("Retry-After")),
                detail=detail,
            )
        if 300 <= status < 400:
            raise DeliveryError(f"push service redirected ({status}); not followed", permanent=True, detail=detail)
        if status >= 300 or status < 200:
            raise DeliveryError(f"push service refused the message ({status})", permanent=True, detail=detail)


async def read_at_most(response: httpx.Response, limit: int) -> bytes:
    """The first `limit` bytes of the answer as sent (not decompressed); the rest is never read."""
    received = bytearray()
    async for chunk in response.aiter_raw():
        received += chunk
        if len(received) >= limit:
            break
    return bytes(received[:limit])


def retry_after_seconds(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, (parsedate_to_datetime(value) - datetime.now(UTC)).total_seconds())
    except (TypeError, ValueError):
        return None
