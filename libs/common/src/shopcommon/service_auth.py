"""Service-to-service calls: a `service` access token from checkout's client-credentials grant,
cached until shortly before it expires and shared by every caller in the process."""

from __future__ import annotations

import asyncio
import time

import httpx

from shopcommon.problems import ServiceUnavailable


class ServiceTokenProvider:
    def __init__(
        self,
        http: httpx.AsyncClient,
        token_url: str,
        client_id: str,
        client_secret: str,
        *,
        refresh_margin: float = 30.0,
    ) -> None:
        self.http = http
        self.token_url = token_url
        self.client_id = client_id
        self.client_secret = client_secret
        self.refresh_margin = refresh_margin
        self._token: str | None = None
        self._expires_at = 0.0
        self._lock = asyncio.Lock()

    async def token(self) -> str:
        if self._token and time.monotonic() < self._expires_at - self.refresh_margin:
            return self._token
        async with self._lock:
            if self._token and time.monotonic() < self._expires_at - self.refresh_margin:
                return self._token
            try:
                resp = await self.http.post(
                    self.token_url,
                    json={
                        "grant_type": "client_credentials",
                        "client_id": self.client_id,
                        "client_secret": self.client_secret,
                    },
                )
            except httpx.HTTPError as exc:
                raise ServiceUnavailable(f"identity service unreachable: {exc}") from exc
            if resp.status_code != 200:
                raise ServiceUnavailable(f"identity service refused client credentials ({resp.status_code})")
            body = resp.json()
            self._token = str(body["access_token"])
            self._expires_at = time.monotonic() + float(body.get("expires_in", 300))
            return self._token

    def invalidate(self) -> None:
        self._token = None

    async def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {await self.token()}"}


async def get_as_service(
    http: httpx.AsyncClient, tokens: ServiceTokenProvider, url: str, params: dict[str, str] | None = None
) -> httpx.Response:
    """GET `url` with the process's `service` token. A 401 (a token the issuer no longer accepts:
    its keys rotated) gets a new token and one more try. Transport errors (`httpx.HTTPError`) and a
    token that cannot be had (`ServiceUnavailable`) propagate."""
    resp = await http.get(url, params=params, headers=await tokens.headers())
    if resp.status_code == 401:
        tokens.invalidate()
        resp = await http.get(url, params=params, headers=await tokens.headers())
    return resp
