"""Outgoing HTTP: every call carries the current request id."""

from __future__ import annotations

import httpx

from shopcommon.logging import REQUEST_ID_HEADER, current_request_id


async def _propagate_request_id(request: httpx.Request) -> None:
    rid = current_request_id()
    if rid and REQUEST_ID_HEADER not in request.headers:
        request.headers[REQUEST_ID_HEADER] = rid


def make_http_client(base_url: str = "", *, timeout: float = 5.0, max_connections: int = 100) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=base_url,
        timeout=httpx.Timeout(timeout, connect=min(timeout, 2.0)),
        limits=httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections),
        event_hooks={"request": [_propagate_request_id]},
    )
