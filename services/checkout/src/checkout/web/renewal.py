"""A web session outlives its access token: a page request whose access cookie has expired (or
expires within a minute) but that carries the session's refresh cookie gets a new access token
before the route runs, and the cookie with the answer. So a page left open longer than
`CHECKOUT_ACCESS_TOKEN_TTL` keeps working, its next click included, until the session itself
ends (`CHECKOUT_REFRESH_TOKEN_TTL`, logout, deactivation).

The REST API's own session endpoints (`/api/v1/auth/...`) are left alone (they manage the
cookies themselves), and so are the static files."""

from __future__ import annotations

import logging
import time

from fastapi import Response
from starlette.requests import cookie_parser
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from checkout.identity import tokens
from checkout.identity.lifespan import Identity
from checkout.identity.web import REFRESH_COOKIE, set_access_cookie
from shopcommon.auth import ACCESS_COOKIE
from shopcommon.problems import ProblemError

log = logging.getLogger(__name__)
#: An access token with less than this left is renewed too: a live stream opened on it runs on.
RENEW_WITHIN = 60
#: The REST API's session endpoints, and files that need no one signed in.
LEFT_ALONE = ("/api/v1/auth/", "/static/", "/sw.js", "/favicon")
ACCESS_PREFIX = f"{ACCESS_COOKIE}=".encode()


class SessionRenewal:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"].startswith(LEFT_ALONE):
            await self.app(scope, receive, send)
            return
        cookies = _cookies(scope)
        refresh = cookies.get(REFRESH_COOKIE)
        renewed = await self._renewed(scope, cookies.get(ACCESS_COOKIE), refresh) if refresh else None
        if renewed is None:
            await self.app(scope, receive, send)
            return
        cookies[ACCESS_COOKIE] = renewed
        header = "; ".join(f"{name}={value}" for name, value in cookies.items())
        headers = [(k, v) for k, v in scope["headers"] if k != b"cookie"] + [(b"cookie", header.encode("latin-1"))]
        set_cookie = _set_cookie_headers(scope["app"].state.identity, renewed)

        async def send_with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                # An answer that sets or clears the session's cookies itself (signing in or out) wins.
                if not any(k == b"set-cookie" and v.startswith(ACCESS_PREFIX) for k, v in headers):
                    message["headers"] = [*headers, *set_cookie]
            await send(message)

        await self.app({**scope, "headers": headers}, receive, send_with_cookie)

    async def _renewed(self, scope: Scope, access: str | None, refresh: str) -> str | None:
        """A new access token when the one sent is missing, not ours, expired or nearly; else None."""
        state = scope["app"].state
        if access:
            try:
                claims = await state.token_verifier.verify(access)
                if float(claims.get("exp", 0)) - time.time() > RENEW_WITHIN:
                    return None
            except (ProblemError, TypeError, ValueError):
                pass
        identity: Identity = state.identity
        try:
            return await tokens.renew_access(
                state.sessionmaker, identity.keys, refresh, access_ttl=identity.settings.access_token_ttl
            )
        except Exception:  # the database away: the page answers as for a signed-out person
            log.exception("web session not renewed")
            return None


def _cookies(scope: Scope) -> dict[str, str]:
    for key, value in scope["headers"]:
        if key == b"cookie":
            return cookie_parser(value.decode("latin-1"))
    return {}


def _set_cookie_headers(identity: Identity, token: str) -> list[tuple[bytes, bytes]]:
    response = Response()
    set_access_cookie(response, identity, token)
    return [(k, v) for k, v in response.raw_headers if k == b"set-cookie"]


__all__ = ["SessionRenewal"]
