"""Web push (RFC 8030): payloads encrypted as RFC 8291 requires (aes128gcm, via pywebpush) and
signed with VAPID (RFC 8292); the push service's answer decides keep, retry or forget."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from urllib.parse import urlsplit

import httpx
from cryptography.hazmat.primitives import serialization
from py_vapid import Vapid02
from pywebpush import WebPusher, WebPushException

from notifications.domain.delivery import DeliveryError

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


@dataclass(frozen=True)
class PushTarget:
    endpoint: str
    p256dh: str
    auth: str


class GoneSubscription(DeliveryError):
    def __init__(self, status: int) -> None:
        super().__init__(f"push service answered {status}: subscription gone", permanent=True)


class WebPushClient:
    def __init__(self, http: httpx.AsyncClient, vapid: Vapid02, subject: str, *, ttl: int) -> None:
        self.http = http
        self.vapid = vapid
        self.subject = subject
        self.ttl = ttl

    def encrypt(self, target: PushTarget, payload: bytes) -> bytes:
        info = {"endpoint": target.endpoint, "keys": {"p256dh": target.p256dh, "auth": target.auth}}
        try:
            body: bytes = WebPusher(info).encode(payload, "aes128gcm")["body"]
        except (WebPushException, ValueError, binascii.Error) as exc:
            raise DeliveryError(f"cannot encrypt for this subscription: {exc}", permanent=True) from exc
        return body

    def headers(self, endpoint: str, *, urgency: str = "normal") -> dict[str, str]:
        parts = urlsplit(endpoint)
        claims = {"aud": f"{parts.scheme}://{parts.netloc}", "sub": self.subject}
        return {
            **self.vapid.sign(claims),
            "TTL": str(self.ttl),
            "Content-Encoding": "aes128gcm",
            "Content-Type": "application/octet-stream",
            "Urgency": urgency,
        }

    async def send(self, target: PushTarget, payload: bytes) -> None:
        """Raises GoneSubscription on 404/410, DeliveryError otherwise when not accepted."""
        body = self.encrypt(target, payload)
        try:
            resp = await self.http.post(target.endpoint, content=body, headers=self.headers(target.endpoint))
        except httpx.HTTPError as exc:
            raise DeliveryError(f"push service unreachable: {exc}", permanent=False) from exc
        if resp.status_code in GONE_STATUSES:
            raise GoneSubscription(resp.status_code)
        if resp.status_code == 429 or resp.status_code >= 500:
            raise DeliveryError(
                f"push service answered {resp.status_code}",
                permanent=False,
                retry_after=retry_after_seconds(resp.headers.get("Retry-After")),
            )
        if resp.status_code >= 300:
            raise DeliveryError(f"push service refused the message: {resp.status_code}", permanent=True)


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
