"""Outgoing HTTP: every call carries the current request id."""

from __future__ import annotations

import httpx

from shopcommon.logging import REQUEST_ID_HEADER, current_request_id


async def _propagate_request_id(request: httpx.Request) -> None:
    rid = current_request_id()
    if rid and REQUEST_ID_HEADER not in request.headers:
        request.headers[REQUEST_ID_HEADER] = rid


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
