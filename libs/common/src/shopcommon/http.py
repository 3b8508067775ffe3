"""Outgoing HTTP: every call carries the current request id; what a caller sent goes on in a
header only when a header can carry it."""

from __future__ import annotations

import re

import httpx

from shopcommon.logging import REQUEST_ID_HEADER, current_request_id


async def _propagate_request_id(request: httpx.Request) -> None:
    rid = current_request_id()
    if rid and REQUEST_ID_HEADER not in request.headers:
        request.headers[REQUEST_ID_HEADER] = rid


#: Visible ASCII: what a value passed on in a header (and written to logs) may hold.
_HEADER_TEXT = re.compile(r"[\x21-\x7e]+")


def header_text(value: str, limit: int) -> str | None:
    """The first `limit` characters of `value` when they can travel on in a header to another
    service: visible ASCII only (no space, control or non-ASCII character); otherwise None."""
    value = value[:limit]
    return value if _HEADER_TEXT.fullmatch(value) else None


def make_http_client(
    base_url: str = "",
    *,
    timeout: float = 5.0,
    read_timeout: float | None = None,
    max_connections: int = 100,
    transport: httpx.AsyncBaseTransport | None = None,
) -> httpx.AsyncClient:
    """A client for calls to the shop's own services. `read_timeout`: a longer wait between bytes
    (a stream with heartbeats); `transport` replaces httpx's pool (then its own limits apply)."""
    return httpx.AsyncClient(
        base_url=base_url,
        timeout=httpx.Timeout(timeout, connect=min(timeout, 2.0), read=read_timeout or timeout),
        limits=httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections),
        event_hooks={"request": [_propagate_request_id]},
        transport=transport,
    )
