"""Customers' e-mail addresses, read from checkout's users API with a `service` token and cached.

An address the account has not confirmed (`email_verified: false`, which checkout tells `service`
callers) gets nothing: registering proves nothing about an address, and an account that has not
confirmed it may receive only checkout's confirmation mail. The notification fails for good with a
neutral reason; web push and the live stream go to the account, not the address, and carry on. A
user without the field (an older checkout) counts as confirmed.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass

import httpx

from notifications.domain.delivery import DeliveryError
from shopcommon.problems import ServiceUnavailable
from shopcommon.service_auth import ServiceTokenProvider, get_as_service

UNCONFIRMED = "the e-mail address is not confirmed"


@dataclass(frozen=True)
class Recipient:
    user_id: int
    email: str
    name: str


class UserDirectory:
    def __init__(
        self,
        http: httpx.AsyncClient,
        tokens: ServiceTokenProvider,
        base_url: str,
        *,
        cache_seconds: float = 300.0,
        cache_size: int = 10_000,
    ) -> None:
        self.http = http
        self.tokens = tokens
        self.base_url = base_url.rstrip("/")
        self.cache_seconds = cache_seconds
        self.cache_size = cache_size
        self._cache: OrderedDict[int, tuple[float, Recipient]] = OrderedDict()

    async def recipient(self, user_id: int) -> Recipient:
        """Raises DeliveryError: permanent when the user or their address is gone, else transient."""
        cached = self._cache.get(user_id)
        if cached is not None and cached[0] > time.monotonic():
            return cached[1]
        recipient = await self._fetch(user_id)
        self._cache[user_id] = (time.monotonic() + self.cache_seconds, recipient)
        self._cache.move_to_end(user_id)
        while len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)
        return recipient

    async def _fetch(self, user_id: int) -> Recipient:
        """An answer that is not a user (a proxy's error page sent with 200, a body without
        `email`, which checkout always sends) says nothing about the user: retried, like an outage."""
        resp = await self._get(user_id)
        if resp.status_code == 404:
            raise DeliveryError("user not found", permanent=True)
        if resp.status_code != 200:
            raise DeliveryError(
                "user directory unavailable", permanent=False, detail=f"checkout answered {resp.status_code}"
            )
        try:
            body = resp.json()
            email = str(body["email"] or "")
        except (ValueError, LookupError, TypeError) as exc:
            raise DeliveryError(
                "user directory unavailable", permanent=False, detail=f"checkout's answer is not a user: {exc!r}"
            ) from exc
        if "@" not in email:
            raise DeliveryError("no e-mail address on the account", permanent=True)
        if body.get("email_verified", True) is False:
            raise DeliveryError(UNCONFIRMED, permanent=True)
        name = " ".join(str(body.get(k) or "") for k in ("first_name", "last_name")).strip()
        return Recipient(user_id=user_id, email=email, name=name or str(body.get("username") or ""))

    async def _get(self, user_id: int) -> httpx.Response:
        try:
            return await get_as_service(self.http, self.tokens, f"{self.base_url}/api/v1/users/{user_id}")
        except ServiceUnavailable as exc:
            raise DeliveryError("user directory unavailable", permanent=False, detail=str(exc.detail)) from exc
        except httpx.HTTPError as exc:
            raise DeliveryError("user directory unavailable", permanent=False, detail=str(exc)) from exc
